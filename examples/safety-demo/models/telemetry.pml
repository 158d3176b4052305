/* Ring buffer index (QM): head wraps inside the buffer. */
#define SIZE 4
byte head = 0;

active proctype writer() {
  byte n = 0;
  do
  :: n < 10 -> head = (head + 1) % SIZE; assert(head < SIZE); n++
  :: else -> break
  od
}
