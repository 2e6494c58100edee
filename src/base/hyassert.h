/*
 * hyassert: HY_ASSERT stays on in release builds for cheap invariants and aborts with file:line;
 * HY_DEBUG_ASSERT is compiled only with -DHY_DEBUG. Never used on input from outside.
 */
#ifndef HY_HYASSERT_H
#define HY_HYASSERT_H

void hy_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#define HY_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c))                                                                                  \
            hy_assert_fail(#c, __FILE__, __LINE__);                                                \
    } while (0)
#ifdef HY_DEBUG
#define HY_DEBUG_ASSERT(c) HY_ASSERT(c)
#else
#define HY_DEBUG_ASSERT(c) ((void)0)
#endif

#endif
