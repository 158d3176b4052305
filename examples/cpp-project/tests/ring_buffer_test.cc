#include "textkit/ring_buffer.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace {

TEST(RingBuffer, StartsEmpty) {
  textkit::RingBuffer ring(3);
  EXPECT_TRUE(ring.empty());
  EXPECT_FALSE(ring.full());
  EXPECT_EQ(ring.size(), 0U);
  EXPECT_EQ(ring.capacity(), 3U);
  EXPECT_EQ(ring.pop(), std::nullopt);
  EXPECT_EQ(ring.at(0), std::nullopt);
}

TEST(RingBuffer, RejectsZeroCapacity) { EXPECT_THROW(textkit::RingBuffer(0), std::invalid_argument); }

TEST(RingBuffer, PopsInPushOrder) {
  textkit::RingBuffer ring(3);
  EXPECT_FALSE(ring.push(1));
  EXPECT_FALSE(ring.push(2));
  EXPECT_EQ(ring.pop(), 1);
  EXPECT_EQ(ring.pop(), 2);
  EXPECT_TRUE(ring.empty());
}

TEST(RingBuffer, OverwritesOldestWhenFull) {
  textkit::RingBuffer ring(3);
  for (int v : {1, 2, 3}) EXPECT_FALSE(ring.push(v));
  EXPECT_TRUE(ring.full());
  EXPECT_TRUE(ring.push(4));
  EXPECT_EQ(ring.to_vector(), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(ring.at(0), 2);
  EXPECT_EQ(ring.at(2), 4);
  EXPECT_EQ(ring.at(3), std::nullopt);
}

TEST(RingBuffer, WrapsAroundRepeatedly) {
  textkit::RingBuffer ring(2);
  for (int v = 0; v < 7; ++v) ring.push(v);
  EXPECT_EQ(ring.pop(), 5);
  ring.push(7);
  EXPECT_EQ(ring.to_vector(), (std::vector<int>{6, 7}));
}

}  // namespace
