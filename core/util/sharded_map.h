// A string-keyed hash map (FlatStringMap) split into shards, each behind its
// own mutex.
//
// Why: the stat cache and the run index are asked by every stage, on every
// thread, several times per stage (a no-op run over 10,000 stages makes
// ~60,000 lookups in ~150 ms). Behind one mutex the threads queued on it,
// and the futex sleeps and wake-ups were a tenth of the no-op's CPU. With
// 32 shards two threads rarely want the same one, so a lookup costs an
// uncontended lock.
//
// Contract: a key always lives in the shard its bytes hash to. `shard(key)`
// locks that shard for as long as the returned guard lives; `all()` locks
// every shard, in index order (the only order two guards may be taken in),
// for whole-map work: load, save, clear. Never hold a shard guard while
// taking `all()`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "core/util/flat_string_map.h"

namespace wrt {

template <class V, std::size_t N = 32>
class ShardedMap {
 public:
  using Map = FlatStringMap<V>;

  // One shard, locked.
  class Shard {
   public:
    Map* operator->() const { return map_; }
    Map& operator*() const { return *map_; }

   private:
    friend class ShardedMap;
    Shard(std::mutex& mu, Map& map) : lock_(mu), map_(&map) {}
    std::unique_lock<std::mutex> lock_;
    Map* map_;
  };

  // Every shard, locked.
  class All {
   public:
    All(const All&) = delete;
    All& operator=(const All&) = delete;
    ~All() {
      for (auto& s : owner_->shards_) s.mu.unlock();
    }
    // f(std::string_view key, V& value) for each entry, shard by shard.
    template <class F>
    void for_each(F&& f) const {
      for (auto& s : owner_->shards_) s.map.for_each(f);
    }
    std::size_t size() const {
      std::size_t n = 0;
      for (const auto& s : owner_->shards_) n += s.map.size();
      return n;
    }
    void clear() const {
      for (auto& s : owner_->shards_) s.map.clear();
    }
    // Inserts or replaces.
    void put(std::string_view key, V value) const {
      owner_->shards_[index(key)].map.put(key, std::move(value));
    }
    // Room for about `n` entries in all, whose keys take about `key_bytes`,
    // spread over the shards.
    void reserve(std::size_t n, std::size_t key_bytes = 0) const {
      for (auto& s : owner_->shards_)
        s.map.reserve(n / N + n / (4 * N) + 1, key_bytes / N + key_bytes / (4 * N) + 1);
    }

   private:
    friend class ShardedMap;
    explicit All(const ShardedMap* owner) : owner_(owner) {
      for (auto& s : owner_->shards_) s.mu.lock();
    }
    const ShardedMap* owner_;
  };

  Shard shard(std::string_view key) const {
    Slot& s = shards_[index(key)];
    return Shard(s.mu, s.map);
  }
  All all() const { return All(this); }

  // FNV-1a: cheap on the short paths and stage names used as keys, and a
  // different function from the map's own hash, so one shard's keys still
  // spread over its buckets.
  static std::size_t index(std::string_view key) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ull;
    return static_cast<std::size_t>((h ^ (h >> 32)) % N);
  }

 private:
  // A cache line each, so two threads on neighbouring shards do not share one.
  struct alignas(64) Slot {
    std::mutex mu;
    Map map;
  };
  mutable std::array<Slot, N> shards_;
};

}  // namespace wrt
