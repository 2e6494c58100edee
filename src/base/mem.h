/*
 * mem: every allocation in hydrant goes through here, so tests can count allocations and inject
 * failures. hy_free(NULL) is a no-op. The fault hook is process-global and meant for tests and
 * fuzzing only: hy_mem_fail_at(n) makes the n-th allocation from now fail (1 = the next one),
 * 0 disables. Thread-safe (atomic counters).
 */
#ifndef HY_MEM_H
#define HY_MEM_H

#include <stddef.h>

void *hy_malloc(size_t size);
void *hy_calloc(size_t n, size_t size);
void *hy_realloc(void *p, size_t size);
void hy_free(void *p);
/* Copies of strings; caller frees with hy_free. NULL on allocation failure. */
char *hy_strdup(const char *s);
char *hy_strndup(const char *s, size_t len);

/* Test hooks. */
void hy_mem_fail_at(unsigned long n);
/* Fail each allocation with probability 1/n (n = 0 disables); for fuzzing. */
void hy_mem_fail_random(unsigned n);

#endif
