#include "ringbuf.h"

static uint16_t events[EVENT_LOG_SIZE];
static size_t next;
static size_t total;

/* Keeps the last EVENT_LOG_SIZE events. */
void event_log(uint16_t code) {
  events[next] = code;
  next = (next + 1u) % EVENT_LOG_SIZE;
  total++;
}

size_t event_count(void) { return total < EVENT_LOG_SIZE ? total : EVENT_LOG_SIZE; }
