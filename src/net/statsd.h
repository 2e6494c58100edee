/*
 * statsd: pushes counters to a statsd server over UDP (--statsd HOST:PORT). Sources are the
 * Prometheus-text renderers modules already have for /_hydrant/metrics; once per interval a
 * thread renders each, and sends every series as a statsd metric named
 *   <prefix><metric name without "hydrant_">.<label value>.<label value>...
 * counters (names ending in _total, _sum or _count) as the increase since the last push ("|c"),
 * everything else as a gauge ("|g"). Datagrams stay under 1,400 bytes; send errors are counted and
 * ignored (statsd is fire-and-forget). Thread: one, started by statsd_start, joined by
 * statsd_free.
 */
#ifndef HY_STATSD_H
#define HY_STATSD_H

struct buf;
struct statsd;

typedef int (*statsd_source_fn)(void *ud, struct buf *out);

/* Resolve "host:port" (numeric or a name), keep up to 8 sources. NULL on a bad address or no
 * memory. interval_ms 0 means 10000. prefix is copied ("hydrant." when NULL). */
struct statsd *statsd_new(const char *addr, const char *prefix, int interval_ms);
/* Add a source before statsd_start. 0 or HY_E2BIG. */
int statsd_add_source(struct statsd *s, statsd_source_fn fn, void *ud);
/* Start pushing. 0 or a negative errno. */
int statsd_start(struct statsd *s);
/* Push once more (the last increments), stop the thread and free. NULL is a no-op. */
void statsd_free(struct statsd *s);
/* Render the datagram text for one push into out (tests); updates the remembered values. */
int statsd_render(struct statsd *s, struct buf *out);

#endif
