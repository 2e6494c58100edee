/*
 * mem: the allocation wrappers. The only file allowed to call malloc/free. The fault hooks are
 * atomics so tests and fuzzers can arm them from any thread.
 */
#include "base/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic unsigned long fail_countdown;
static _Atomic unsigned fail_random;
static _Atomic unsigned long rng_state = 88172645463325252UL;

static int should_fail(void)
{
    unsigned long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (c) {
        if (atomic_fetch_sub(&fail_countdown, 1) == 1)
            return 1;
    }
    unsigned r = atomic_load_explicit(&fail_random, memory_order_relaxed);
    if (r) {
        unsigned long x = atomic_load_explicit(&rng_state, memory_order_relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        atomic_store_explicit(&rng_state, x, memory_order_relaxed);
        return x % r == 0;
    }
    return 0;
}

void *hy_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *hy_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *hy_realloc(void *p, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

void hy_free(void *p)
{
    free(p);
}

char *hy_strndup(const char *s, size_t len)
{
    char *d = hy_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *hy_strdup(const char *s)
{
    return hy_strndup(s, strlen(s));
}

void hy_mem_fail_at(unsigned long n)
{
    atomic_store(&fail_countdown, n);
}

void hy_mem_fail_random(unsigned n)
{
    atomic_store(&fail_random, n);
}
