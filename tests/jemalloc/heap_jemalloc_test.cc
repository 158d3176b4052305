// core/util/heap.h against the real jemalloc: this executable links it, as
// the wrt binary does (wrt_tests does not: there every ScratchArena is a
// no-op). Built and run only where wrt itself links jemalloc.
#include "core/util/heap.h"

#include <jemalloc/jemalloc.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using wrt::ScratchArena;

namespace {

unsigned arena_of(const void* p) {
  unsigned a = 0;
  std::size_t sz = sizeof a;
  REQUIRE(mallctl("arenas.lookup", &a, &sz, const_cast<void**>(&p), sizeof p) == 0);
  return a;
}

unsigned thread_arena() {
  unsigned a = 0;
  std::size_t sz = sizeof a;
  REQUIRE(mallctl("thread.arena", &a, &sz, nullptr, 0) == 0);
  return a;
}

bool thread_cache_on() {
  bool on = false;
  std::size_t sz = sizeof on;
  REQUIRE(mallctl("thread.tcache.enabled", &on, &sz, nullptr, 0) == 0);
  return on;
}

std::size_t dirty_pages(unsigned arena) {
  std::uint64_t epoch = 1;
  std::size_t esz = sizeof epoch;
  REQUIRE(mallctl("epoch", &epoch, &esz, &epoch, esz) == 0);
  std::size_t pdirty = 0;
  std::size_t sz = sizeof pdirty;
  std::string name = "stats.arenas." + std::to_string(arena) + ".pdirty";
  REQUIRE(mallctl(name.c_str(), &pdirty, &sz, nullptr, 0) == 0);
  return pdirty;
}

}  // namespace

TEST_CASE("heap: a scratch arena takes the thread's allocations until it is left", "[heap]") {
  const unsigned before = thread_arena();
  REQUIRE(thread_cache_on());
  unsigned scratch = 0;
  {
    ScratchArena heap(ScratchArena::kParse);
    REQUIRE(heap.active());
    scratch = thread_arena();
    CHECK(scratch != before);
    void* inside = std::malloc(100);
    CHECK(arena_of(inside) == scratch);
    heap.leave();
    CHECK(thread_arena() == before);
    CHECK(!thread_cache_on());  // a freed scratch object must not be handed out again
    void* outside = std::malloc(100);
    CHECK(arena_of(outside) == before);
    std::free(inside);
    void* again = std::malloc(100);
    CHECK(arena_of(again) == before);
    std::free(again);
    std::free(outside);
  }
  CHECK(thread_cache_on());
  CHECK(thread_arena() == before);
  // The same slot is the same arena next time.
  ScratchArena heap(ScratchArena::kParse);
  CHECK(thread_arena() == scratch);
}

TEST_CASE("heap: scratch arenas nest, and the cache comes back on with the outer one", "[heap]") {
  const unsigned before = thread_arena();
  {
    ScratchArena build(ScratchArena::kBuild);
    const unsigned b = thread_arena();
    {
      ScratchArena parse(ScratchArena::kParse);
      CHECK(thread_arena() != b);
      parse.leave();
      CHECK(thread_arena() == b);
      CHECK(!thread_cache_on());
    }
    CHECK(thread_cache_on());
    build.leave();
    CHECK(thread_arena() == before);
    CHECK(!thread_cache_on());
  }
  CHECK(thread_cache_on());
}

TEST_CASE("heap: purge hands a left scratch arena's freed pages back to the system", "[heap]") {
  ScratchArena heap(ScratchArena::kBuild);
  std::vector<std::string*> garbage;
  for (int i = 0; i < 40000; ++i) garbage.push_back(new std::string(100, 'x'));  // ~6 MB of small objects
  const unsigned scratch = arena_of(garbage.front());
  heap.leave();
  for (auto* s : garbage) delete s;
  garbage.clear();
  garbage.shrink_to_fit();
  CHECK(dirty_pages(scratch) > 500);
  heap.purge();
  CHECK(dirty_pages(scratch) == 0);
}

TEST_CASE("heap: return_free_pages empties every arena's dirty pages", "[heap]") {
  const unsigned here = thread_arena();
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(std::malloc(64 * 1024));
  for (void* b : blocks) std::free(b);
  wrt::return_free_pages();
  CHECK(dirty_pages(here) == 0);
}
