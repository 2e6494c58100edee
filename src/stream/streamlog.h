/*
 * streamlog: the interface every stream log backend implements, and the one place fronts and
 * consumers reach a stream's log through. A log is a durable, append-only sequence of records
 * numbered by increasing sequence numbers (seq, from 1); an append is acknowledged through a
 * callback once it is durable; consumers read durable records from any retained seq and report how
 * far they are, and records below every consumer's cursor are trimmed. The file WAL (stream/wal.h,
 * wal_backend) is the first backend; a clustered one (JetStream) plugs in the same way.
 *
 * What this layer adds over a backend: backpressure before refusal. A backend refuses an append
 * with HY_EBUSY when too many bytes already wait for the disk. Instead of answering "Slow down."
 * at once, streamstreamlog_append parks such an append (FIFO) and admits it as soon as an earlier
 * append completes and frees room, so a burst of large requests waits a few milliseconds instead of
 * failing. A parked append is refused (HY_EBUSY through its callback) only when it waited
 * longer than max_wait_ms, when more than max_parked_bytes are parked, or when it can never fit.
 * Quota (HY_EQUOTA: a consumer is behind by the quota) is refused at once: waiting would not help.
 *
 * Threads: streamlog_append from any thread; done callbacks run on the backend's thread (the WAL's
 * committer) and may append. A reader is used by one thread at a time. Everything else is
 * thread-safe. streamlog_drain/streamlog_close block.
 */
#ifndef HY_STREAMLOG_H
#define HY_STREAMLOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct streamlog_reader;
struct seal_key;
struct seal_ring;

/* A record to append: a borrowed view. */
struct streamlog_rec {
    const void *data;
    size_t len;
};

/* A record read back; data is borrowed until the next call on the same reader. */
struct streamlog_record {
    uint64_t seq;
    int64_t arrival_ms;
    const uint8_t *data;
    size_t len;
};

/* streamlog_reader_next result: the reader passed a damaged span of the log (records that can
 * no longer be read); streamlog_reader_damage() describes it; reading continues after it. */
#define STREAMLOG_DAMAGED 2

/* A damaged span. data is borrowed until the next call on the same reader. */
struct streamlog_damage {
    uint64_t first_seq;  /* the seq the reader expected next */
    uint64_t seq_count;  /* seqs [first_seq, first_seq + seq_count) are lost (may be 0) */
    uint64_t location;   /* backend's place of the span (WAL: the segment's first seq) */
    uint64_t offset;     /* byte offset there */
    uint64_t len;        /* damaged bytes (true length) */
    const uint8_t *data; /* the first data_len of them (capped by the backend, 1 MiB for the WAL) */
    size_t data_len;
};

/* Damage the backend found since open, each span once. */
struct streamlog_damage_stats {
    uint64_t spans;
    uint64_t bytes;
    uint64_t cuts; /* torn tails cut at recovery (kept aside, never acknowledged data) */
    uint64_t cut_bytes;
};

/* Called exactly once per accepted append: status 0 once the records are durable, with
 * first_seq the first record's seq (the others follow densely); or a negative error (HY_EBUSY:
 * no room in time, HY_ECLOSED, -ENOSPC, -EIO...), and then nothing of it is in the log. */
typedef void (*streamlog_done_fn)(void *arg, int status, uint64_t first_seq);

/* One append request, owned by the caller (no allocation per append). recs and their bytes must
 * stay valid until done is called, or until streamlog_append returns 0 with parked == 0 (then
 * they were already copied into the log). The fields after parked are private to the log. */
struct streamlog_append {
    const struct streamlog_rec *recs;
    size_t n;
    int64_t arrival_ms;
    streamlog_done_fn done;
    void *arg;
    int parked; /* out: 1 when the append waits for room (recs still needed); read it after
                 * streamlog_append returns only if done cannot have freed a by then */
    /* private */
    struct streamlog *log;
    struct streamlog_append *next;
    uint64_t first_seq;
    uint64_t bytes;
    int64_t deadline_ns;
    int status;
};

struct streamlog_config {
    uint64_t quota_bytes;     /* retained bytes; past it appends get HY_EQUOTA; 0 = none */
    size_t segment_bytes;     /* backend hint (WAL segment size); 0 = backend default */
    size_t max_pending_bytes; /* bytes waiting for the disk; 0 = backend default (32 MiB) */
    size_t max_parked_bytes;  /* bytes of parked appends; 0 = max_pending_bytes */
    int max_wait_ms;          /* how long an append may stay parked; 0 = 5000 */
    struct seal_ring *ring;   /* keys for sealed records (stream/seal.h); NULL = none */
};

/* A backend. The calls mirror the public ones below; append must set *first_seq before done
 * can run (under its own lock), may call done from its own thread only, and refuses with
 * HY_EBUSY when bytes wait for the disk beyond max_pending_bytes. */
struct streamlog_backend {
    const char *name;
    int (*open)(const char *dir, const struct streamlog_config *cfg, void **impl);
    void (*close)(void *impl);
    int (*append)(void *impl, const struct streamlog_rec *recs, size_t n, int64_t arrival_ms,
                  uint64_t *first_seq, void (*done)(void *arg, int status), void *arg);
    uint64_t (*durable_next)(void *impl);
    int (*wait)(void *impl, uint64_t seq, int timeout_ms);
    void (*wake)(void *impl);
    int (*trim)(void *impl, uint64_t min_seq);
    uint64_t (*retained_bytes)(void *impl);
    void (*damage_stats)(void *impl, struct streamlog_damage_stats *out);
    int (*reader_open)(void *impl, uint64_t from_seq, void **reader);
    int (*reader_next)(void *reader, struct streamlog_record *rec);
    int (*reader_seek)(void *reader, uint64_t from_seq);
    void (*reader_close)(void *reader);
    /* The span of the last STREAMLOG_DAMAGED result. */
    void (*reader_damage)(void *reader, struct streamlog_damage *out);
    /* Seal appends from now on with key (NULL: stop); NULL op: the backend cannot seal. */
    int (*seal)(void *impl, const struct seal_key *key);
};

struct streamlog;

/* Open the log of one stream in dir with backend be. Returns 0 and sets *out (close with
 * streamlog_close), or a negative error. Blocks on recovery. */
int streamlog_open(const struct streamlog_backend *be, const char *dir,
                   const struct streamlog_config *cfg, struct streamlog **out);
/* Refuse new appends (HY_ECLOSED), refuse what is still parked (HY_EBUSY), let the backend
 * write what it accepted (callbacks fire), and free. Readers must be closed first. */
void streamlog_close(struct streamlog *l);

/* Append a->n records (1 or more) with one arrival time. Returns 0 when a->done will be called
 * exactly once (accepted, or parked: then a refusal after the wait, or for a request that can
 * never fit, comes through done as HY_EBUSY), or an error and done is never called: HY_EQUOTA,
 * HY_EBUSY (parking is full), HY_ECLOSED, HY_E2BIG (a record over the backend's limit),
 * HY_EINVAL, HY_ENOMEM. Never blocks on disk. */
int streamlog_append(struct streamlog *l, struct streamlog_append *a);
/* Wait (at most timeout_ms) until nothing is parked and every accepted append completed. Call
 * after the caller stopped appending. 1 when drained, 0 on timeout. */
int streamlog_drain(struct streamlog *l, int timeout_ms);

/* Seq after the last durable record (1 when the log is empty). */
uint64_t streamlog_durable_next(struct streamlog *l);
/* Block until streamlog_durable_next(l) > seq, streamlog_wake, or timeout_ms. 1 if the condition
 * holds. */
int streamlog_wait(struct streamlog *l, uint64_t seq, int timeout_ms);
void streamlog_wake(struct streamlog *l);
/* Drop retained records below min_seq (every consumer has passed them). */
int streamlog_trim(struct streamlog *l, uint64_t min_seq);
/* Bytes the log retains (what the quota counts). */
uint64_t streamlog_retained_bytes(struct streamlog *l);
/* Damage found in the log since it opened. */
void streamlog_damage_stats(struct streamlog *l, struct streamlog_damage_stats *out);
/* Encryption at rest: records appended after this returns are sealed with key (borrowed; it
 * must outlive l), or stored plain again (NULL). Records already in the log stay as they were
 * and stay readable while the ring has their keys. 0, HY_EINVAL (the backend cannot seal), or
 * -EIO. */
int streamlog_seal(struct streamlog *l, const struct seal_key *key);
/* Appends currently parked (waiting for room). */
size_t streamlog_parked(struct streamlog *l);

/* Open a reader at from_seq (>= first retained). 0 and *out, or a negative error. */
int streamlog_reader_open(struct streamlog *l, uint64_t from_seq, struct streamlog_reader **out);
/* 1 with *rec filled, 0 when no durable record follows yet, STREAMLOG_DAMAGED when a damaged
 * span was passed (*rec untouched; see streamlog_reader_damage), or a negative error. Seqs
 * returned only grow, and may skip: past damage, and past seqs never acknowledged (a cut). */
int streamlog_reader_next(struct streamlog_reader *r, struct streamlog_record *rec);
/* The span of the last STREAMLOG_DAMAGED; borrowed until the next call on r. */
const struct streamlog_damage *streamlog_reader_damage(struct streamlog_reader *r);
int streamlog_reader_seek(struct streamlog_reader *r, uint64_t from_seq);
void streamlog_reader_close(struct streamlog_reader *r);

#endif
