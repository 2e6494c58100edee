/*
 * anmodels: the detector instances of one analytics target, one per series key (e.g. per host),
 * with a cap on the number of keys, and their checkpoint: every state blob and key in one
 * CRC-protected image, so a consumer that saves it with its cursor resumes after kill -9 with
 * scores equal to an uninterrupted run (detector states are flat bytes, see detector.h).
 * Building block for live detection (issue 11 item 4); the log consumer itself is not built.
 *
 * Image (native byte order and layout: the same build reads it back):
 *   "HYAM" u32 version(1) | u16 name_len name | u32 state_size | u32 nkeys |
 *   nkeys x (u16 key_len key state) | u32 crc32c of everything before it
 * Not thread-safe; one owner.
 */
#ifndef HY_ANMODELS_H
#define HY_ANMODELS_H

#include <stddef.h>

#include "analytics/detector.h"
#include "base/buf.h"

#define ANMODELS_KEY_MAX 256

struct anmodels;

/* An empty set for detector ops holding at most max_keys series. NULL on allocation failure. */
struct anmodels *anmodels_new(const struct detector_ops *ops, size_t max_keys);
void anmodels_free(struct anmodels *m);
/* Score value in the series named by key (any bytes, at most ANMODELS_KEY_MAX), creating its
 * model on first use. 0; HY_EQUOTA when a new key would pass the cap; HY_E2BIG for a long key;
 * HY_ENOMEM. On error no state changes. */
int anmodels_step(struct anmodels *m, const char *key, size_t key_len, double value, double *score);
size_t anmodels_count(const struct anmodels *m);
/* Append the checkpoint image to out. 0, HY_E2BIG (out's max) or HY_ENOMEM; out unchanged on
 * error. */
int anmodels_save(const struct anmodels *m, struct buf *out);
/* Rebuild a set from an image. 0; HY_ECORRUPT (bad CRC or framing), HY_EVERSION (another
 * version, detector or state size), HY_EQUOTA (more keys than max_keys) or HY_ENOMEM. */
int anmodels_load(const struct detector_ops *ops, size_t max_keys, const void *img, size_t len,
                  struct anmodels **out);

#endif
