#define _GNU_SOURCE
#include "weft_malloc_counter.h"
#include <stddef.h>
#include <errno.h>

// glibc exports its allocator under these names too, so forwarding needs no dlsym.
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static volatile int counting;
static uint64_t mallocs, frees;

void weft_malloc_counting(int on) { __atomic_store_n(&counting, on, __ATOMIC_SEQ_CST); }
uint64_t weft_malloc_calls(void) { return __atomic_load_n(&mallocs, __ATOMIC_RELAXED); }
uint64_t weft_free_calls(void) { return __atomic_load_n(&frees, __ATOMIC_RELAXED); }

#define COUNT(c) do { if (counting) __atomic_fetch_add(&(c), 1, __ATOMIC_RELAXED); } while (0)

void *malloc(size_t n) { COUNT(mallocs); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { COUNT(mallocs); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { COUNT(mallocs); return __libc_realloc(p, n); }
void free(void *p) { if (p) COUNT(frees); __libc_free(p); }
void *memalign(size_t a, size_t n) { COUNT(mallocs); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { COUNT(mallocs); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    COUNT(mallocs);
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
