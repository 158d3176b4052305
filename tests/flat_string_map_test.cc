#include "core/util/flat_string_map.h"

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>

using namespace wrt;

TEST_CASE("flat string map: behaves as a map through growth, replacement and clearing", "[flat-map]") {
  FlatStringMap<int> m;
  std::map<std::string, int> model;
  std::mt19937 rng(7);
  CHECK(m.find("x") == nullptr);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5000; ++i) {
      // Many replacements (keys repeat) and keys that share long prefixes.
      const std::string key = "out/dir" + std::to_string(rng() % 7) + "/file" + std::to_string(rng() % 3000) + ".o";
      const int value = static_cast<int>(rng() % 1000);
      m.put(key, value);
      model[key] = value;
    }
    CHECK(m.size() == model.size());
    for (const auto& [k, v] : model) {
      const int* got = m.find(k);
      REQUIRE(got != nullptr);
      CHECK(*got == v);
    }
    CHECK(m.find("out/dir1/file99999.o") == nullptr);
    CHECK(m.find("") == nullptr);
    std::size_t seen = 0;
    m.for_each([&](std::string_view key, int value) {
      ++seen;
      CHECK(model.at(std::string(key)) == value);
    });
    CHECK(seen == model.size());
    if (round == 1) {
      m.clear();
      model.clear();
      CHECK(m.size() == 0);
      CHECK(m.find("out/dir1/file1.o") == nullptr);
    }
  }
}

TEST_CASE("flat string map: operator[] inserts a default once, reserve keeps entries, order is insertion order",
          "[flat-map]") {
  FlatStringMap<std::string> m;
  m["b"] += "1";
  m["a"] += "2";
  m["b"] += "3";
  CHECK(m.size() == 2);
  CHECK(*m.find("b") == "13");
  m.reserve(10000);  // rebuilds the table around the two entries
  CHECK(*m.find("a") == "2");
  std::string order;
  m.for_each([&](std::string_view key, const std::string&) { order += key; });
  CHECK(order == "ba");
  // An empty key is a key like any other.
  m[""] = "empty";
  CHECK(*m.find("") == "empty");
  CHECK(m.size() == 3);
}
