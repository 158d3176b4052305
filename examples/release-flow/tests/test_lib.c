/* The library's unit tests: one line per case, "ok NAME" or "not ok NAME". */
#include <stdio.h>
#include <string.h>

#include "ringbuf.h"

static int failures;
#define CHECK(name, cond)                        \
  do {                                           \
    if (cond) {                                  \
      printf("ok %s\n", name);                   \
    } else {                                     \
      printf("not ok %s\n", name);               \
      failures++;                                \
    }                                            \
  } while (0)

int main(void) {
  ringbuf rb;
  ringbuf_init(&rb);
  int pushed = 0;
  while (ringbuf_push(&rb, (uint8_t)pushed) == 0) pushed++;
  CHECK("ringbuf holds its capacity", pushed == (int)RINGBUF_CAPACITY);
  uint8_t b = 0;
  int order = 1;
  for (int i = 0; i < pushed; ++i) order &= ringbuf_pop(&rb, &b) == 0 && b == (uint8_t)i;
  CHECK("ringbuf is first in, first out", order);
  CHECK("ringbuf pop on empty fails", ringbuf_pop(&rb, &b) == -1);
  const char* check = "123456789";
  CHECK("crc8 check value", crc8((const uint8_t*)check, strlen(check)) == 0xF4);
  for (uint16_t i = 0; i < 20; ++i) event_log(i);
  CHECK("event log keeps the last 8", event_count() == EVENT_LOG_SIZE);
  return failures ? 1 : 0;
}
