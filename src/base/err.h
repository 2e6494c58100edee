/*
 * err: hydrant's one error space.
 *
 * Functions that can fail return int: 0 on success, a negative code on failure. System errors are
 * the negated errno (-ENOSPC); hydrant's own codes live below HY_ERR_BASE and are generated from
 * the X-macro table below, which also yields hy_errname() and hy_strerror(). Codes are never
 * renumbered or reused: append new ones at the end. Thread-safe, no state.
 */
#ifndef HY_ERR_H
#define HY_ERR_H

#define HY_ERR_BASE 10000

/* X(name, offset, message) */
#define HY_ERRORS(X)                                                                               \
    X(HY_EAGAIN, 1, "more input needed")                                                           \
    X(HY_EBADMSG, 2, "malformed input")                                                            \
    X(HY_E2BIG, 3, "limit exceeded")                                                               \
    X(HY_ENOMEM, 4, "out of memory")                                                               \
    X(HY_ENOTFOUND, 5, "not found")                                                                \
    X(HY_EEXIST, 6, "already exists")                                                              \
    X(HY_EQUOTA, 7, "quota exceeded")                                                              \
    X(HY_ECLOSED, 8, "closed")                                                                     \
    X(HY_EINVAL, 9, "invalid argument")                                                            \
    X(HY_ECORRUPT, 10, "corrupt data")                                                             \
    X(HY_EVERSION, 11, "version mismatch")                                                         \
    X(HY_EBUSY, 12, "busy")                                                                        \
    X(HY_ENOKEY, 13, "encryption key not available")

enum hy_err {
#define HY_ERR_ENUM(name, off, msg) name = -(HY_ERR_BASE + (off)),
    HY_ERRORS(HY_ERR_ENUM)
#undef HY_ERR_ENUM
};

/* Symbolic name of a code ("HY_EAGAIN", "ENOSPC", "OK"); static storage. */
const char *hy_errname(int code);
/* Human message of a code (own table or strerror); static storage, thread-safe. */
const char *hy_strerror(int code);

#endif
