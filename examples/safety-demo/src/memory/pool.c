#include "pool.h"

#include <stdint.h>

static unsigned char storage[POOL_BLOCKS * POOL_BLOCK_SIZE];
static unsigned char used[POOL_BLOCKS];

void pool_init(void) {
  for (unsigned i = 0; i < POOL_BLOCKS; ++i) used[i] = 0;
}

void* pool_alloc(void) {
  for (unsigned i = 0; i < POOL_BLOCKS; ++i)
    if (!used[i]) {
      used[i] = 1;
      return &storage[i * POOL_BLOCK_SIZE];
    }
  return NULL;
}

int pool_free(void* block) {
  uintptr_t base = (uintptr_t)storage, p = (uintptr_t)block;
  if (p < base || p >= base + sizeof storage || (p - base) % POOL_BLOCK_SIZE != 0) return -1;
  unsigned i = (unsigned)((p - base) / POOL_BLOCK_SIZE);
  if (!used[i]) return -1;
  used[i] = 0;
  return 0;
}
