/*
 * hytime: clocks and UTC calendar helpers. Thread-safe.
 */
#ifndef HY_HYTIME_H
#define HY_HYTIME_H

#include <stdint.h>
#include <time.h>

/* Wall clock, milliseconds since the epoch (arrival times, object names). */
int64_t hytime_now_ms(void);
/* Monotonic clock in milliseconds (timeouts, intervals, latency). */
int64_t hytime_mono_ms(void);
int64_t hytime_mono_ns(void);
/* Break epoch milliseconds into UTC fields (gmtime_r). */
void hytime_utc(int64_t epoch_ms, struct tm *out);

#endif
