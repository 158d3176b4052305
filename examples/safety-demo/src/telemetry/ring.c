/* Telemetry ring buffer (QM): overwrites the oldest record when full. */
#include <stdint.h>

#define RING_SIZE 32u

static uint32_t ring[RING_SIZE];
static uint32_t head;

void ring_push(uint32_t value) {
  ring[head % RING_SIZE] = value;
  head = head + 1u;
}

uint32_t ring_last(void) { return ring[(head + RING_SIZE - 1u) % RING_SIZE]; }
