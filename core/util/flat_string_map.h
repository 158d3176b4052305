// A string-keyed hash map in two flat arrays: the entries in insertion
// order, and an open-addressing table (linear probing, at most half full)
// of 8-byte slots that point into them.
//
// Why not std::unordered_map: the stat cache holds one entry per workspace
// file (40,000 for 10,000 stages) and a no-op run looks each up once. A
// node map's lookup walks bucket -> node -> next node, a cache miss each,
// plus a division by a prime: 5-9 % of a no-op's CPU. Here a lookup reads
// one slot (the table is 16 bytes per entry, small enough to stay in cache)
// and the one entry whose 32-bit hash tag matches. Loading a saved cache
// appends to one array instead of allocating a node per entry.
//
// The keys' bytes sit end to end in one buffer, and an entry holds their
// offset and length (8 bytes) instead of a std::string (32 bytes, plus a
// heap block for a path longer than 15 characters): over the stat cache's
// 40,000 paths that was ~1.5 MiB of a 10,000-stage run's peak (issue 17).
//
// Contract: no erase (the maps it serves only grow or are cleared). An
// insertion may move the entries, so a pointer from find() or operator[] is
// valid until the next insertion or clear(), and so is a key's view given to
// for_each(). Iteration is in insertion order. Not thread-safe (ShardedMap
// locks around it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wrt {

template <class V>
class FlatStringMap {
 public:
  V* find(std::string_view key) {
    if (items_.empty()) return nullptr;
    const std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s >> 32) == (h >> 32)) {
        Item& it = items_[static_cast<std::size_t>(s & 0xffffffffu) - 1];
        if (key_of(it) == key) return &it.value;
      }
    }
  }
  const V* find(std::string_view key) const { return const_cast<FlatStringMap*>(this)->find(key); }

  // The value of `key`, inserted default-constructed when absent.
  V& operator[](std::string_view key) {
    if (V* v = find(key)) return *v;
    return insert_new(key, V{});
  }

  // Inserts, or replaces the value of an existing key.
  V& put(std::string_view key, V value) {
    if (V* v = find(key)) return *v = std::move(value);
    return insert_new(key, std::move(value));
  }

  // f(std::string_view key, V& value) for each entry, in insertion order.
  template <class F>
  void for_each(F&& f) {
    for (Item& it : items_) f(key_of(it), it.value);
  }
  template <class F>
  void for_each(F&& f) const {
    for (const Item& it : items_) f(key_of(it), it.value);
  }

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  void clear() {
    items_.clear();
    keys_.clear();
    slots_.clear();
    mask_ = 0;
  }

  // Room for `n` entries whose keys take about `key_bytes` in all, without
  // growing any array. Room never used costs address space, not memory.
  void reserve(std::size_t n, std::size_t key_bytes = 0) {
    items_.reserve(n);
    keys_.reserve(key_bytes);
    if (table_size_for(n) > slots_.size()) rebuild(table_size_for(n));
  }

 private:
  // The low bits pick the first slot, the high 32 bits are the tag kept in
  // it (an occupied slot is never 0: its low half is an index + 1).
  static std::uint64_t hash(std::string_view key) {
    return static_cast<std::uint64_t>(std::hash<std::string_view>{}(key));
  }
  // Power of two, at least twice the entries.
  static std::size_t table_size_for(std::size_t n) {
    std::size_t size = 16;
    while (size < 2 * n) size *= 2;
    return size;
  }

  struct Item {
    std::uint32_t key_offset;  // in keys_
    std::uint32_t key_size;
    V value;
  };
  std::string_view key_of(const Item& it) const { return std::string_view(keys_.data() + it.key_offset, it.key_size); }

  V& insert_new(std::string_view key, V value) {
    // Offsets are 32-bit: 4 GiB of keys is far past any workspace's paths.
    if (keys_.size() + key.size() > 0xffffffffu || key.size() > 0xffffffffu)
      throw std::length_error("FlatStringMap: keys exceed 4 GiB");
    if (table_size_for(items_.size() + 1) > slots_.size()) rebuild(table_size_for(items_.size() + 1));
    const std::uint64_t h = hash(key);
    const auto offset = static_cast<std::uint32_t>(keys_.size());
    keys_.append(key);
    items_.push_back(Item{offset, static_cast<std::uint32_t>(key.size()), std::move(value)});
    place(h, items_.size());
    return items_.back().value;
  }

  void place(std::uint64_t h, std::size_t index_plus_one) {
    std::size_t i = h & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = (h & 0xffffffff00000000ull) | static_cast<std::uint64_t>(index_plus_one);
  }

  void rebuild(std::size_t size) {
    slots_.assign(size, 0);
    mask_ = size - 1;
    for (std::size_t k = 0; k < items_.size(); ++k) place(hash(key_of(items_[k])), k + 1);
  }

  std::vector<Item> items_;
  std::string keys_;  // every key's bytes, in insertion order
  std::vector<std::uint64_t> slots_;  // 0 = empty; else hash tag << 32 | entry index + 1
  std::size_t mask_ = 0;
};

}  // namespace wrt
