/*
 * wal_backend: the file WAL as a streamlog backend (stream/streamlog.h). A thin adapter: the
 * WAL's own calls already have the interface's semantics (group-committed appends with a
 * callback, HY_EBUSY past max_pending_bytes, HY_EQUOTA past the quota).
 */
#include <stddef.h>

#include "base/err.h"
#include "stream/streamlog.h"
#include "stream/wal.h"

/* The record views are laid out alike, so an array of one is an array of the other. */
_Static_assert(sizeof(struct streamlog_rec) == sizeof(struct wal_rec) &&
                   offsetof(struct streamlog_rec, data) == offsetof(struct wal_rec, data) &&
                   offsetof(struct streamlog_rec, len) == offsetof(struct wal_rec, len),
               "streamlog_rec and wal_rec must share their layout");

static int be_open(const char *dir, const struct streamlog_config *cfg, void **impl)
{
    struct wal_config wc;
    wal_config_default(&wc);
    wc.quota_bytes = cfg->quota_bytes;
    wc.ring = cfg->ring;
    if (cfg->segment_bytes)
        wc.segment_bytes = cfg->segment_bytes;
    if (cfg->max_pending_bytes)
        wc.max_pending_bytes = cfg->max_pending_bytes;
    struct wal *w = NULL;
    int rc = wal_open(dir, &wc, &w);
    if (rc == 0)
        *impl = w;
    return rc;
}

static void be_close(void *impl)
{
    wal_close(impl);
}

static int be_append(void *impl, const struct streamlog_rec *recs, size_t n, int64_t arrival_ms,
                     uint64_t *first_seq, void (*done)(void *arg, int status), void *arg)
{
    return wal_append(impl, (const struct wal_rec *)recs, n, arrival_ms, first_seq, done, arg);
}

static uint64_t be_durable_next(void *impl)
{
    return wal_durable_next(impl);
}

static int be_wait(void *impl, uint64_t seq, int timeout_ms)
{
    return wal_wait(impl, seq, timeout_ms);
}

static void be_wake(void *impl)
{
    wal_wake(impl);
}

static int be_trim(void *impl, uint64_t min_seq)
{
    return wal_trim(impl, min_seq);
}

static uint64_t be_retained_bytes(void *impl)
{
    return wal_retained_bytes(impl);
}

static int be_reader_open(void *impl, uint64_t from_seq, void **reader)
{
    struct wal_reader *r = NULL;
    int rc = wal_reader_open(impl, from_seq, &r);
    if (rc == 0)
        *reader = r;
    return rc;
}

static int be_reader_next(void *reader, struct streamlog_record *rec)
{
    struct wal_record wr;
    int rc = wal_reader_next(reader, &wr);
    _Static_assert(WAL_READ_DAMAGED == STREAMLOG_DAMAGED, "same damaged-span result");
    if (rc == 1) {
        rec->seq = wr.seq;
        rec->arrival_ms = wr.arrival_ms;
        rec->data = wr.data;
        rec->len = wr.len;
    }
    return rc;
}

static void be_reader_damage(void *reader, struct streamlog_damage *out)
{
    const struct wal_damage *d = wal_reader_damage(reader);
    out->first_seq = d->first_seq;
    out->seq_count = d->seq_count;
    out->location = d->segment;
    out->offset = d->offset;
    out->len = d->len;
    out->data = d->data;
    out->data_len = d->data_len;
}

static void be_damage_stats(void *impl, struct streamlog_damage_stats *out)
{
    struct wal_damage_stats st;
    wal_damage_stats_get(impl, &st);
    out->spans = st.spans;
    out->bytes = st.bytes;
    out->cuts = st.cuts;
    out->cut_bytes = st.cut_bytes;
}

static int be_reader_seek(void *reader, uint64_t from_seq)
{
    return wal_reader_seek(reader, from_seq);
}

static int be_seal(void *impl, const struct seal_key *key)
{
    return wal_seal(impl, key);
}

static void be_reader_close(void *reader)
{
    wal_reader_close(reader);
}

const struct streamlog_backend wal_backend = {
    .name = "wal",
    .open = be_open,
    .close = be_close,
    .append = be_append,
    .durable_next = be_durable_next,
    .wait = be_wait,
    .wake = be_wake,
    .trim = be_trim,
    .retained_bytes = be_retained_bytes,
    .reader_open = be_reader_open,
    .reader_next = be_reader_next,
    .reader_seek = be_reader_seek,
    .reader_close = be_reader_close,
    .reader_damage = be_reader_damage,
    .damage_stats = be_damage_stats,
    .seal = be_seal,
};
