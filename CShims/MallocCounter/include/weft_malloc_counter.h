// Counts malloc-family calls in this process. Linked into weft-bench only:
// the definitions below interpose libc's for the whole executable, so every
// allocation (Swift runtime included) is seen. Counting is off until enabled.
#ifndef WEFT_MALLOC_COUNTER_H
#define WEFT_MALLOC_COUNTER_H
#include <stdint.h>
void weft_malloc_counting(int on);
uint64_t weft_malloc_calls(void);   // malloc + calloc + realloc + aligned allocations
uint64_t weft_free_calls(void);
#endif
