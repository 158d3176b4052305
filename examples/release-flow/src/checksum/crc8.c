#include "ringbuf.h"

/* CRC-8/SMBUS (polynomial 0x07, init 0): crc8("123456789") == 0xF4. */
uint8_t crc8(const uint8_t* data, size_t len) {
  uint8_t crc = 0;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (uint8_t)((crc & 0x80u) ? (uint8_t)(crc << 1) ^ 0x07u : (uint8_t)(crc << 1));
  }
  return crc;
}
