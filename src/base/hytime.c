#include "base/hytime.h"

int64_t hytime_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hytime_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t hytime_mono_ms(void)
{
    return hytime_mono_ns() / 1000000;
}

void hytime_utc(int64_t epoch_ms, struct tm *out)
{
    time_t t = (time_t)(epoch_ms / 1000);
    gmtime_r(&t, out);
}
