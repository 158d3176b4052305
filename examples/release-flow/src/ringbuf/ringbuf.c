#include "ringbuf.h"

void ringbuf_init(ringbuf* rb) { rb->head = rb->tail = rb->count = 0; }

int ringbuf_push(ringbuf* rb, uint8_t byte) {
  if (rb->count == RINGBUF_CAPACITY) return -1;
  rb->data[rb->head] = byte;
  rb->head = (rb->head + 1u) % RINGBUF_CAPACITY; /* proofs/ringbuf/index_in_bounds.smt2 */
  rb->count++;
  return 0;
}

int ringbuf_pop(ringbuf* rb, uint8_t* out) {
  if (rb->count == 0) return -1;
  *out = rb->data[rb->tail];
  rb->tail = (rb->tail + 1u) % RINGBUF_CAPACITY;
  rb->count--;
  return 0;
}
