/*
 * datastream: data streams, the second kind of stream the service keeps beside delivery streams.
 * A data stream is a set of shards; each shard is one stream log (stream/streamlog.h) that keeps
 * its records for the stream's retention period, whatever its readers do (no cursor trimming),
 * and that readers replay from any retained position. Nothing here knows a request format: the
 * Kinesis front (api/kinesis/) maps these calls onto the Kinesis Data Streams API.
 *
 * Layout on disk (a separate namespace from delivery streams, as in AWS):
 *
 *     <data-dir>/datastreams/iterator.key         32 random bytes: fronts sign positions with it
 *     <data-dir>/datastreams/<name>/stream.json   definition (below), written atomically
 *     <data-dir>/datastreams/<name>/shards/<index, 12 digits>/   that shard's log
 *
 *     stream.json: {"Format":1,"StreamName":..,"StreamId":"<16 hex>","CreateMs":..,
 *       "Mode":"PROVISIONED"|"ON_DEMAND","RetentionHours":24,"Tags":[{"Key","Value"}],
 *       "NextShardIndex":N,"Shards":[{"Index":0,"Parent":-1,"AdjacentParent":-1,
 *         "HashStart":"<decimal>","HashEnd":"<decimal>","SeqBase":"<decimal>",
 *         "EndSeq":"<decimal, 0 while open>"}, ...]}
 *
 * Names matching [a-zA-Z0-9_.-]+ are their own directory names, except names starting with '.'
 * (".", ".." and hidden entries), which get the prefix '@' (no name contains it).
 *
 * Shards and positions: a record's place is (shard index, log seq). A shard's log numbers its
 * records from 1; SeqBase is added when a position is shown, so that a child shard (resharding)
 * can start above every parent. Hash keys are unsigned 128-bit integers; the open shards cover
 * [0, 2^128-1] without gaps.
 *
 * Retention: a background thread advances each shard's horizon (the first record younger than
 * the retention period) and trims the log below it; readers never see a record older than the
 * retention either (datastream_expired_ms). "An hour" is configurable (tests shorten it).
 *
 * Resharding closes shards and adds children (datastream_split/merge/scale); the shard set
 * only grows while the stream lives, so a position once valid stays valid.
 *
 * Lifecycle: create persists stream.json, opens every shard's log and answers once ACTIVE.
 * Delete forgets the stream at once (lookups fail) and renames its directory away; the logs are
 * closed and the files removed when the last reference goes, so appends and reads in flight
 * finish first. A restart removes what a crashed delete or create left.
 *
 * Threads: every call is thread-safe. A reader taken with datastream_reader_take is used by one
 * thread until it is given back.
 */
#ifndef HY_DATASTREAM_H
#define HY_DATASTREAM_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct datastream;
struct datastream_reg;
struct streamlog;
struct streamlog_append;
struct streamlog_backend;
struct streamlog_reader;

#define DATASTREAM_NAME_MAX 128
#define DATASTREAM_RETENTION_MIN_H 24
#define DATASTREAM_RETENTION_MAX_H 8760
/* Shards an ON_DEMAND stream starts with (4 MiB/s of writes at 1 MiB/s per shard). */
#define DATASTREAM_ON_DEMAND_SHARDS 4
#define DATASTREAM_DEFAULT_MAX_SHARDS 256
#define DATASTREAM_KEY_LEN 32

enum datastream_mode {
    DATASTREAM_PROVISIONED = 0,
    DATASTREAM_ON_DEMAND,
};

enum datastream_status {
    DATASTREAM_ACTIVE = 0,
    DATASTREAM_DELETING,
};

struct datastream_config {
    const char *data_dir;                        /* required */
    const struct streamlog_backend *log_backend; /* required */
    uint64_t stream_cap_bytes; /* log bytes a stream may keep on disk, split evenly over its
                                  shards (each at least two segments); 0 = none */
    int append_wait_ms;        /* see streamlog_config.max_wait_ms; 0 = 5000 */
    size_t max_shards;   /* open shards over all data streams; 0 = DATASTREAM_DEFAULT_MAX_SHARDS */
    int64_t hour_ms;     /* length of a retention hour; 0 = 3,600,000 (tests shorten it) */
    size_t segment_size; /* log segment bytes (trimming granularity); 0 = 8 MiB */
    /* Write rate of each shard of a PROVISIONED stream (Kinesis: 1 MiB/s or 1,000 records/s);
     * 0 = unlimited. Each is a token bucket holding one second's worth. */
    uint64_t shard_bytes_per_s;
    uint64_t shard_records_per_s;
};

struct datastream_shard_info {
    uint32_t index;
    int64_t parent;          /* index, or -1 */
    int64_t adjacent_parent; /* index, or -1 */
    unsigned __int128 hash_start;
    unsigned __int128 hash_end; /* inclusive */
    uint64_t seq_base;          /* added to log seqs when shown */
    uint64_t end_seq;           /* 0 while open; else the log seq after the last record */
};

/* A consistent copy of a stream's definition. Free with datastream_info_fini. */
struct datastream_info {
    char name[DATASTREAM_NAME_MAX + 1];
    uint64_t stream_id;
    int64_t create_ms;
    enum datastream_mode mode;
    enum datastream_status status;
    uint32_t retention_hours;
    struct cJSON *tags;                   /* owned copy: array of {"Key","Value"}, sorted by key */
    struct datastream_shard_info *shards; /* expired closed shards left out */
    size_t nshards;
};

/* Load every data stream under <data_dir>/datastreams (created if missing), open their shard
 * logs, create the iterator key on first use, start the retention thread. Blocks on disk.
 * 0 and *out, or a negative error. */
int datastream_open(const struct datastream_config *cfg, struct datastream_reg **out);
/* Stop the retention thread, close every log, free. Fronts must have stopped calling. */
void datastream_close(struct datastream_reg *reg);
/* The per-data-dir secret fronts sign positions with (DATASTREAM_KEY_LEN bytes, borrowed). */
const uint8_t *datastream_key(const struct datastream_reg *reg);

/* Create a stream of nshards shards with equal hash ranges (name already validated). Takes
 * ownership of tags (an array of {"Key","Value"}, may be NULL). 0 once every shard log is open;
 * HY_EEXIST, HY_E2BIG (over max_shards), HY_ENOMEM or a disk error. */
int datastream_create(struct datastream_reg *reg, const char *name, size_t nshards,
                      enum datastream_mode mode, struct cJSON *tags);
/* A stream by name (len bytes). 0 and a new reference, or HY_ENOTFOUND. */
int datastream_get(struct datastream_reg *reg, const char *name, size_t len,
                   struct datastream **out);
void datastream_unref(struct datastream *ds);
/* Delete (see the lifecycle above). 0, or HY_ENOTFOUND when already gone. Blocks on disk. */
int datastream_delete(struct datastream_reg *reg, struct datastream *ds);
/* Every stream's name, sorted. Free with datastream_names_free. */
int datastream_names(struct datastream_reg *reg, char ***names, size_t *n);
void datastream_names_free(char **names, size_t n);

int datastream_describe(struct datastream *ds, struct datastream_info *out);
void datastream_info_fini(struct datastream_info *info);
/* Number of shards (open and closed) and the stream identity; stable for the reference. */
size_t datastream_nshards(struct datastream *ds);
const char *datastream_name(struct datastream *ds);
uint64_t datastream_id(struct datastream *ds);
/* One shard's definition by position (0..nshards-1); 0 or HY_ENOTFOUND. */
int datastream_shard(struct datastream *ds, size_t i, struct datastream_shard_info *out);
/* The open shard whose hash range holds key (its position). */
size_t datastream_route(struct datastream *ds, unsigned __int128 key);

/* Persist a new retention period (hours, already checked against the bounds). 0 or an error. */
int datastream_set_retention(struct datastream_reg *reg, struct datastream *ds, uint32_t hours);
/* Tags edit: build *next from cur (a new array) or return an error; runs under the stream's
 * lock (no blocking). The result is persisted. 0, edit's error, or a disk error. */
typedef int (*datastream_edit_fn)(const struct cJSON *cur, struct cJSON **next, void *arg);
int datastream_edit_tags(struct datastream_reg *reg, struct datastream *ds, datastream_edit_fn edit,
                         void *arg);

/* Append to shard i (position) of ds: streamlog_append semantics (a->done once durable),
 * charging a->n records and rate_bytes bytes (what the protocol counts, framing aside) against
 * the shard's write rate. 0, or an error and done is never called: HY_ECLOSED (deleting, or the
 * shard is closed), HY_EBUSY (over the shard's write rate, or its log's write queue is full),
 * HY_EQUOTA (the stream's byte cap), HY_E2BIG, HY_ENOMEM. */
int datastream_append(struct datastream *ds, size_t i, struct streamlog_append *a,
                      uint64_t rate_bytes);
/* Shard i's log (borrowed while the reference is held). */
struct streamlog *datastream_log(struct datastream *ds, size_t i);
/* First log seq of shard i that retention keeps. */
uint64_t datastream_horizon(struct datastream *ds, size_t i);
/* Records that arrived before this time (epoch ms) have expired. */
int64_t datastream_expired_ms(struct datastream *ds);
/* A reader of shard i positioned at *seq, first raised to the horizon (and to what the log
 * still holds): a cached one left at exactly there, or a new one. 0 with *seq updated and *out
 * (give back with datastream_reader_give), or an error. */
int datastream_reader_take(struct datastream *ds, size_t i, uint64_t *seq,
                           struct streamlog_reader **out);
/* Return a reader whose next record is next_seq (it may be cached for the next call), or
 * close it when bad is set. */
void datastream_reader_give(struct datastream *ds, size_t i, struct streamlog_reader *r,
                            uint64_t next_seq, int bad);

/* Resharding (Kinesis's rules). A closed shard accepts no appends and keeps its records for the
 * retention period; its children get the next shard indexes, its (or their) index as parent,
 * and a SeqBase above every position the parents showed. All block on the parents' last
 * group commit and on the fsync of stream.json.
 * Split shard pos at key (the upper child starts there): 0, HY_ENOTFOUND, HY_ECLOSED (pos is
 * closed), HY_EINVAL (key not inside the range, both children need a key), HY_E2BIG (over
 * max_shards, or a stream's shard cap). */
int datastream_split(struct datastream_reg *reg, struct datastream *ds, size_t pos,
                     unsigned __int128 key);
/* Merge two adjacent open shards (either order) into one child (parent a, adjacent parent b):
 * 0, HY_ENOTFOUND, HY_ECLOSED, HY_EINVAL (not adjacent), HY_E2BIG. */
int datastream_merge(struct datastream_reg *reg, struct datastream *ds, size_t a, size_t b);
/* Reach target open shards by splitting the widest or merging the narrowest adjacent pair,
 * one at a time (uniform from N to 2N or N/2). 0 or the first step's error. */
int datastream_scale(struct datastream_reg *reg, struct datastream *ds, size_t target);
size_t datastream_open_shards(struct datastream *ds);
/* 1 when shard i is closed and its end is known (*end_seq: the log seq after its last record),
 * else 0. */
int datastream_shard_closed(struct datastream *ds, size_t i, uint64_t *end_seq);

/* Hash keys as decimal text (no leading zeros): writes to out (at least 40 bytes), returns
 * the length. Parse: 0, or HY_EBADMSG for anything but 1-39 digits within 2^128-1. Pure. */
size_t datastream_u128_format(unsigned __int128 v, char *out);
int datastream_u128_parse(const char *s, size_t n, unsigned __int128 *out);

#endif
