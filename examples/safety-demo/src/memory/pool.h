/* Fixed-size block pool (ASIL D): no heap, no overlap, O(1) alloc/free. */
#ifndef DEMO_POOL_H
#define DEMO_POOL_H
#include <stddef.h>

#define POOL_BLOCKS 16u
#define POOL_BLOCK_SIZE 64u

void pool_init(void);
void* pool_alloc(void);
int pool_free(void* block); /* 0 ok, -1 not a block of this pool or already free */
#endif
