#include "textkit/ring_buffer.h"

#include <stdexcept>

namespace textkit {

RingBuffer::RingBuffer(std::size_t capacity) {
  if (capacity == 0) throw std::invalid_argument("RingBuffer capacity must be at least 1");
  slots_.resize(capacity);
}

bool RingBuffer::push(int value) {
  const std::size_t tail = (head_ + size_) % slots_.size();
  slots_[tail] = value;
  if (full()) {
    head_ = (head_ + 1) % slots_.size();
    return true;
  }
  ++size_;
  return false;
}

std::optional<int> RingBuffer::pop() {
  if (empty()) return std::nullopt;
  const int value = slots_[head_];
  head_ = (head_ + 1) % slots_.size();
  --size_;
  return value;
}

std::optional<int> RingBuffer::at(std::size_t index) const {
  if (index >= size_) return std::nullopt;
  return slots_[(head_ + index) % slots_.size()];
}

std::vector<int> RingBuffer::to_vector() const {
  std::vector<int> out;
  out.reserve(size_);
  for (std::size_t i = 0; i < size_; ++i) out.push_back(slots_[(head_ + i) % slots_.size()]);
  return out;
}

}  // namespace textkit
