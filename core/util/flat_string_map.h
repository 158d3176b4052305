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
// Contract: no erase (the maps it serves only grow or are cleared). An
// insertion may move the entries, so a pointer from find() or operator[] is
// valid until the next insertion or clear(). Iteration is in insertion
// order. Not thread-safe (ShardedMap locks around it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wrt {

template <class V>
class FlatStringMap {
 public:
  struct Item {
    std::string key;
    V value;
  };

  V* find(std::string_view key) {
    if (items_.empty()) return nullptr;
    const std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s >> 32) == (h >> 32)) {
        Item& it = items_[static_cast<std::size_t>(s & 0xffffffffu) - 1];
        if (it.key == key) return &it.value;
      }
    }
  }
  const V* find(std::string_view key) const { return const_cast<FlatStringMap*>(this)->find(key); }

  // The value of `key`, inserted default-constructed when absent.
  V& operator[](std::string_view key) {
    if (V* v = find(key)) return *v;
    return insert_new(std::string(key), V{});
  }

  // Inserts, or replaces the value of an existing key.
  V& put(std::string key, V value) {
    if (V* v = find(key)) return *v = std::move(value);
    return insert_new(std::move(key), std::move(value));
  }

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  void clear() {
    items_.clear();
    slots_.clear();
    mask_ = 0;
  }

  // Room for `n` entries without growing either array.
  void reserve(std::size_t n) {
    items_.reserve(n);
    if (table_size_for(n) > slots_.size()) rebuild(table_size_for(n));
  }

  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

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

  V& insert_new(std::string key, V value) {
    if (table_size_for(items_.size() + 1) > slots_.size()) rebuild(table_size_for(items_.size() + 1));
    const std::uint64_t h = hash(key);
    items_.push_back(Item{std::move(key), std::move(value)});
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
    for (std::size_t k = 0; k < items_.size(); ++k) place(hash(items_[k].key), k + 1);
  }

  std::vector<Item> items_;
  std::vector<std::uint64_t> slots_;  // 0 = empty; else hash tag << 32 | entry index + 1
  std::size_t mask_ = 0;
};

}  // namespace wrt
