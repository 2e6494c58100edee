#include "core/stats.h"

const uint64_t stats_lat_bounds_us[STATS_LAT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

void stats_latency_observe(struct stats_latency *l, uint64_t us)
{
    int i = 0;
    while (i < STATS_LAT_BUCKETS && us > stats_lat_bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&l->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->sum_us, us, memory_order_relaxed);
}
