/* A fixed-size byte ring buffer (ASIL D), a CRC-8 checksum (ASIL C) and a
 * bounded event log (ASIL A): the library the release-flow example ships. */
#ifndef RINGBUF_H
#define RINGBUF_H

#include <stddef.h>
#include <stdint.h>

#define RINGBUF_CAPACITY 64u

typedef struct {
  uint8_t data[RINGBUF_CAPACITY];
  uint32_t head; /* next write, always < RINGBUF_CAPACITY */
  uint32_t tail; /* next read, always < RINGBUF_CAPACITY */
  uint32_t count;
} ringbuf;

void ringbuf_init(ringbuf* rb);
int ringbuf_push(ringbuf* rb, uint8_t byte); /* 0, or -1 when full */
int ringbuf_pop(ringbuf* rb, uint8_t* out);  /* 0, or -1 when empty */

uint8_t crc8(const uint8_t* data, size_t len);

#define EVENT_LOG_SIZE 8u
void event_log(uint16_t code);
size_t event_count(void);

#endif
