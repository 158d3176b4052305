#include "core/util/sharded_map.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace wrt;

TEST_CASE("sharded map: a key is found in its shard, and the whole map is every shard's entries", "[sharded-map]") {
  ShardedMap<int, 8> m;
  std::set<std::size_t> used;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "src/s" + std::to_string(i) + "_0.txt";
    m.shard(key)->put(key, i);
    used.insert(ShardedMap<int, 8>::index(key));
  }
  // Paths that differ only in a digit or two still spread over the shards.
  CHECK(used.size() == 8);
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "src/s" + std::to_string(i) + "_0.txt";
    const int* v = m.shard(key)->find(key);
    REQUIRE(v != nullptr);
    CHECK(*v == i);
  }
  CHECK(m.shard("absent")->find("absent") == nullptr);

  auto all = m.all();
  CHECK(all.size() == 1000);
  long sum = 0;
  all.for_each([&](std::string_view, int& v) { sum += v; });
  CHECK(sum == 999L * 1000 / 2);
  all.put("src/s5_0.txt", -5);  // replaces, in the key's own shard
  CHECK(all.size() == 1000);
  all.clear();
  CHECK(all.size() == 0);
}

TEST_CASE("sharded map: threads updating their own keys and a whole-map reader see every update", "[sharded-map]") {
  ShardedMap<int> m;
  static constexpr int kThreads = 4, kKeys = 200, kRounds = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&m, t] {
      for (int r = 0; r < kRounds; ++r)
        for (int k = 0; k < kKeys; ++k) {
          const std::string key = "t" + std::to_string(t) + "/k" + std::to_string(k);
          ++(*m.shard(key))[key];
        }
    });
  // A reader taking every shard at once while the writers run: its sums
  // never exceed the final count and it never deadlocks with them.
  std::thread reader([&m] {
    for (int i = 0; i < 20; ++i) {
      auto all = m.all();
      long n = 0;
      all.for_each([&](std::string_view, int& v) { n += v; });
      CHECK(n <= long{kThreads} * kKeys * kRounds);
    }
  });
  for (auto& th : threads) th.join();
  reader.join();
  auto all = m.all();
  CHECK(all.size() == std::size_t{kThreads} * kKeys);
  all.for_each([](std::string_view key, int& v) {
    INFO(key);
    CHECK(v == kRounds);
  });
}
