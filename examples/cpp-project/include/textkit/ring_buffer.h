// A fixed-capacity FIFO of ints that overwrites its oldest element when
// full: the shape of a sensor history or a log tail, where the newest
// values matter and memory must not grow.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace textkit {

class RingBuffer {
 public:
  // capacity must be at least 1 (std::invalid_argument otherwise).
  explicit RingBuffer(std::size_t capacity);

  // Appends value; when full, drops the oldest element and returns true.
  bool push(int value);
  // Removes and returns the oldest element, or nullopt when empty.
  std::optional<int> pop();
  // The element `index` places after the oldest (0 = oldest); nullopt past the end.
  std::optional<int> at(std::size_t index) const;

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == slots_.size(); }
  // Oldest first.
  std::vector<int> to_vector() const;

 private:
  std::vector<int> slots_;
  std::size_t head_ = 0;  // slot of the oldest element
  std::size_t size_ = 0;
};

}  // namespace textkit
