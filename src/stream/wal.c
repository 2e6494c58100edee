/*
 * wal.c: frame codec, wal_open/close, the append path, the group-commit committer thread,
 * wal_wait/wake, trim and the counters. Recovery lives in wal_recover.c, readers in
 * wal_reader.c.
 *
 * Durability rule (group commit): the committer swaps the pending batch out, writes it with
 * pwrite at the active segment's durable size, covers it with one fdatasync, and only then
 * publishes the new durable size and durable_next and calls the callbacks. A failed write is
 * cut back to the durable size, so readers (which never look past published sizes) and recovery
 * never see frames whose appends were told they failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/hyassert.h"
#include "base/log.h"
#include "base/mem.h"
#include "stream/wal_int.h"

#define WAL_DEFAULT_SEGMENT_BYTES (64u * 1024 * 1024)
#define WAL_DEFAULT_MAX_PENDING_BYTES (32u * 1024 * 1024)
/* Appends of up to this many records checksum into a stack array. */
#define WAL_APPEND_STACK_RECS 512

/* ---- frame codec ------------------------------------------------------------------------- */

uint32_t wal_frame_crc(uint32_t data_crc, uint64_t seq, int64_t arrival_ms, uint32_t len)
{
    uint8_t tail[20];

    wal_put_u64(tail, seq);
    wal_put_u64(tail + 8, (uint64_t)arrival_ms);
    wal_put_u32(tail + 16, len);
    return crc32c(data_crc, tail, sizeof(tail));
}

void wal_frame_encode(uint8_t *p, uint64_t seq, int64_t arrival_ms, const void *data, uint32_t len,
                      uint32_t data_crc)
{
    wal_put_u32(p, len);
    wal_put_u32(p + 4, wal_frame_crc(data_crc, seq, arrival_ms, len));
    wal_put_u64(p + 8, seq);
    wal_put_u64(p + 16, (uint64_t)arrival_ms);
    if (len > 0)
        memcpy(p + WAL_FRAME_HDR_LEN, data, len);
}

int wal_frame_decode(const uint8_t *p, size_t avail, struct wal_record *rec, size_t *frame_len)
{
    if (avail < WAL_FRAME_HDR_LEN) {
        *frame_len = WAL_FRAME_HDR_LEN;
        return 0;
    }
    uint32_t raw_len = wal_get_u32(p);
    uint32_t len = raw_len & ~WAL_FRAME_SEALED;
    if (len > WAL_FRAME_DATA_MAX_LEN)
        return HY_ECORRUPT;
    *frame_len = WAL_FRAME_HDR_LEN + (size_t)len;
    if (avail < *frame_len)
        return 0;
    uint64_t seq = wal_get_u64(p + 8);
    int64_t arrival_ms = (int64_t)wal_get_u64(p + 16);
    uint32_t crc = wal_frame_crc(crc32c(0, p + WAL_FRAME_HDR_LEN, len), seq, arrival_ms, raw_len);
    if (crc != wal_get_u32(p + 4))
        return HY_ECORRUPT;
    rec->seq = seq;
    rec->arrival_ms = arrival_ms;
    rec->data = p + WAL_FRAME_HDR_LEN;
    rec->len = len;
    rec->sealed = (raw_len & WAL_FRAME_SEALED) != 0;
    return 1;
}

/* ---- segment table ----------------------------------------------------------------------- */

void wal_seg_name(char name[WAL_SEG_NAME_LEN], uint64_t first_seq)
{
    snprintf(name, WAL_SEG_NAME_LEN, "%020" PRIu64 ".seg", first_seq);
}

long wal_seg_find(const struct wal *w, uint64_t seq)
{
    size_t lo = 0, hi = w->nsegs; /* answer is lo - 1 once lo == hi */

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->segs[mid].first_seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

int wal_segs_reserve(struct wal *w)
{
    if (w->nsegs < w->segs_cap)
        return 0;
    size_t cap = w->segs_cap ? w->segs_cap * 2 : 16;
    struct wal_seg *s = hy_realloc(w->segs, cap * sizeof(*s));
    if (!s)
        return HY_ENOMEM;
    w->segs = s;
    w->segs_cap = cap;
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

static void batch_fini(struct wal_batch *b)
{
    hy_free(b->data);
    hy_free(b->waiters);
    memset(b, 0, sizeof(*b));
}

static void batch_reset(struct wal_batch *b)
{
    b->len = 0;
    b->nwaiters = 0;
    b->first_seq = 0;
    b->end_seq = 0;
}

static void batch_swap(struct wal_batch *a, struct wal_batch *b)
{
    struct wal_batch t = *a;
    *a = *b;
    *b = t;
}

/* Room for len more bytes and one more waiter; all or nothing. */
static int batch_reserve(struct wal_batch *b, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *d = hy_realloc(b->data, cap);
        if (!d)
            return HY_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (b->nwaiters == b->waiters_cap) {
        size_t cap = b->waiters_cap ? b->waiters_cap * 2 : 64;
        struct wal_waiter *ws = hy_realloc(b->waiters, cap * sizeof(*ws));
        if (!ws)
            return HY_ENOMEM;
        b->waiters = ws;
        b->waiters_cap = cap;
    }
    return 0;
}

static void batch_call(struct wal_batch *b, int status)
{
    for (size_t i = 0; i < b->nwaiters; i++)
        if (b->waiters[i].done)
            b->waiters[i].done(b->waiters[i].arg, status);
}

/* ---- committer ----------------------------------------------------------------------------- */

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Start a new active segment named first_seq: create it, make its name durable, publish it
 * with size 0 (readers trust none of its bytes until a batch in it is synced). */
static int roll(struct wal *w, uint64_t first_seq)
{
    char name[WAL_SEG_NAME_LEN];
    int rc;

    pthread_mutex_lock(&w->mu);
    rc = wal_segs_reserve(w);
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        return rc;
    wal_seg_name(name, first_seq);
    if (w->act_size == 0) {
        /* Only after a failed cut (force_roll) on an empty segment, which is then named
         * first_seq (== durable_next): drop the file whose tail we could not trust. */
        if (unlinkat(w->dir_fd, name, 0) < 0 && errno != ENOENT)
            return -errno;
    }
    int fd = openat(w->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (fsync(w->dir_fd) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    close(w->act_fd);
    w->act_fd = fd;
    pthread_mutex_lock(&w->mu);
    if (w->act_size > 0) {
        w->segs[w->nsegs].first_seq = first_seq;
        w->segs[w->nsegs].size = 0;
        w->nsegs++;
    }
    pthread_mutex_unlock(&w->mu);
    w->act_size = 0;
    w->force_roll = 0;
    return 0;
}

/* Write and sync one batch into the active segment. On failure the file is cut back to
 * act_size so no frame of the batch survives. */
static int write_batch(struct wal *w, const struct wal_batch *b, int fail_err)
{
    int rc = 0;

    if (w->force_roll || (w->act_size > 0 && w->act_size >= w->cfg.segment_bytes))
        rc = roll(w, b->first_seq);
    if (rc == 0) {
        if (fail_err) {
            /* Test hook: leave a torn half batch behind, as a full disk would. */
            (void)pwrite_all(w->act_fd, b->data, b->len / 2, w->act_size);
            rc = -fail_err;
        } else {
            rc = pwrite_all(w->act_fd, b->data, b->len, w->act_size);
        }
    }
    if (rc == 0) {
        if (fdatasync(w->act_fd) < 0)
            rc = -errno;
        else
            __atomic_add_fetch(&w->sync_count, 1, __ATOMIC_RELAXED);
    }
    if (rc < 0 && !w->force_roll) {
        if (ftruncate(w->act_fd, (off_t)w->act_size) < 0 || fdatasync(w->act_fd) < 0) {
            /* Frames of a failed batch may linger past the durable size: never append after
             * them; the next batch goes to a fresh file, and this one's tail is bounded by
             * its published size (readers) and the next segment's name (recovery). */
            w->force_roll = 1;
            LOG_ERROR("wal", "cannot cut failed write", "dir=%s err=%s", w->dir,
                      hy_errname(-errno));
        }
    }
    return rc;
}

static void *committer_main(void *arg)
{
    struct wal *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->pending.nwaiters == 0 && !w->closing)
            pthread_cond_wait(&w->commit_cv, &w->mu);
        if (w->pending.nwaiters == 0)
            break; /* closing and drained */
        batch_swap(&w->pending, &w->inflight);
        while (w->test_pause) {
            w->test_held = 1;
            pthread_cond_wait(&w->commit_cv, &w->mu);
        }
        w->test_held = 0;
        int fail_err = w->test_fail_err;
        w->test_fail_err = 0;
        HY_ASSERT(w->inflight.first_seq == w->durable_next); /* seqs are dense */
        pthread_mutex_unlock(&w->mu);

        int rc = write_batch(w, &w->inflight, fail_err);

        pthread_mutex_lock(&w->mu);
        if (rc == 0) {
            w->act_size += w->inflight.len;
            w->segs[w->nsegs - 1].size = w->act_size;
            w->retained_bytes += w->inflight.len;
            w->pending_bytes -= w->inflight.len;
            w->durable_next = w->inflight.end_seq;
            pthread_cond_broadcast(&w->durable_cv);
        } else {
            /* Everything queued behind the failed batch was numbered after it: fail it too, so
             * sequence numbers stay dense and the next append reuses durable_next. */
            batch_swap(&w->pending, &w->failed);
            w->next_seq = w->durable_next;
            w->pending_bytes = 0;
        }
        uint64_t last_seq =
            (rc == 0 || w->failed.nwaiters == 0) ? w->inflight.end_seq - 1 : w->failed.end_seq - 1;
        pthread_mutex_unlock(&w->mu);

        if (rc < 0)
            LOG_WARN("wal", "write failed, appends rejected",
                     "dir=%s first_seq=%" PRIu64 " last_seq=%" PRIu64 " err=%s", w->dir,
                     w->inflight.first_seq, last_seq, hy_errname(rc));
        /* Callbacks run outside the mutex: they may append or take their own locks. */
        batch_call(&w->inflight, rc);
        batch_call(&w->failed, rc);
        batch_reset(&w->inflight);
        batch_reset(&w->failed);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- open / close ------------------------------------------------------------------------ */

void wal_config_default(struct wal_config *cfg)
{
    cfg->segment_bytes = WAL_DEFAULT_SEGMENT_BYTES;
    cfg->max_pending_bytes = WAL_DEFAULT_MAX_PENDING_BYTES;
    cfg->quota_bytes = 0;
}

static void wal_free(struct wal *w)
{
    if (w->act_fd >= 0)
        close(w->act_fd);
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    batch_fini(&w->pending);
    batch_fini(&w->inflight);
    batch_fini(&w->failed);
    hy_free(w->segs);
    hy_free(w->dmg_seen);
    hy_free(w->dir);
    hy_free(w);
}

int wal_open(const char *dir, const struct wal_config *cfg, struct wal **out)
{
    struct wal *w;
    pthread_condattr_t ca;
    int rc;

    w = hy_calloc(1, sizeof(*w));
    if (!w)
        return HY_ENOMEM;
    w->dir_fd = -1;
    w->act_fd = -1;
    if (cfg)
        w->cfg = *cfg;
    else
        wal_config_default(&w->cfg);
    if (w->cfg.segment_bytes == 0)
        w->cfg.segment_bytes = WAL_DEFAULT_SEGMENT_BYTES;
    if (w->cfg.max_pending_bytes == 0)
        w->cfg.max_pending_bytes = WAL_DEFAULT_MAX_PENDING_BYTES;
    w->dir = hy_strdup(dir);
    if (!w->dir) {
        rc = HY_ENOMEM;
        goto fail_free;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        rc = -errno;
        goto fail_free;
    }
    w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dir_fd < 0) {
        rc = -errno;
        goto fail_free;
    }
    rc = wal_recover(w);
    if (rc < 0)
        goto fail_free;

    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->commit_cv, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->durable_cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&w->committer, NULL, committer_main, w);
    if (rc != 0) {
        rc = -rc;
        goto fail_sync;
    }
    w->committer_started = 1;
    *out = w;
    return 0;

fail_sync:
    pthread_cond_destroy(&w->durable_cv);
    pthread_cond_destroy(&w->commit_cv);
    pthread_mutex_destroy(&w->mu);
fail_free:
    wal_free(w);
    return rc;
}

void wal_close(struct wal *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = 1;
    w->test_pause = 0;
    pthread_cond_broadcast(&w->commit_cv);
    pthread_cond_broadcast(&w->durable_cv);
    pthread_mutex_unlock(&w->mu);
    if (w->committer_started)
        pthread_join(w->committer, NULL);
    pthread_cond_destroy(&w->durable_cv);
    pthread_cond_destroy(&w->commit_cv);
    pthread_mutex_destroy(&w->mu);
    wal_free(w);
}

/* ---- append ------------------------------------------------------------------------------ */

/* Encode n sealed frames at the end of b (room reserved) and hand out their seqs. Caller holds
 * w->mu. The CRC covers the stored (sealed) bytes, so it is computed here, after sealing. On
 * failure nothing is appended and no seq is used. */
static int append_sealed(struct wal *w, struct wal_batch *b, const struct wal_rec *recs, size_t n,
                         int64_t arrival_ms)
{
    size_t start_len = b->len;
    uint64_t start_seq = w->next_seq;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = b->data + b->len;
        size_t dlen = recs[i].len + SEAL_OVERHEAD;
        int rc = seal_frame(&w->sealer, w->next_seq, arrival_ms, recs[i].data, recs[i].len,
                            p + WAL_FRAME_HDR_LEN);
        if (rc < 0) {
            b->len = start_len;
            w->next_seq = start_seq;
            return rc;
        }
        uint32_t raw_len = (uint32_t)dlen | WAL_FRAME_SEALED;
        uint32_t crc = crc32c(0, p + WAL_FRAME_HDR_LEN, dlen);
        wal_put_u32(p, raw_len);
        wal_put_u32(p + 4, wal_frame_crc(crc, w->next_seq, arrival_ms, raw_len));
        wal_put_u64(p + 8, w->next_seq);
        wal_put_u64(p + 16, (uint64_t)arrival_ms);
        b->len += WAL_FRAME_HDR_LEN + dlen;
        w->next_seq++;
    }
    return 0;
}

int wal_seal(struct wal *w, const struct seal_key *key)
{
    pthread_mutex_lock(&w->mu);
    int rc = seal_sealer_set(&w->sealer, key);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int wal_append(struct wal *w, const struct wal_rec *recs, size_t n, int64_t arrival_ms,
               uint64_t *first_seq, wal_done_fn done, void *arg)
{
    uint32_t crc_stack[WAL_APPEND_STACK_RECS];
    uint32_t *crcs = crc_stack;
    size_t total = 0;
    int rc;

    if (n == 0)
        return HY_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > WAL_RECORD_MAX_LEN)
            return HY_E2BIG;
        total += WAL_FRAME_HDR_LEN + recs[i].len;
    }
    if (n > WAL_APPEND_STACK_RECS) {
        crcs = hy_malloc(n * sizeof(*crcs));
        if (!crcs)
            return HY_ENOMEM;
    }
    /* Checksum the data before taking the lock; only the 20-byte tail needs the seq. */
    for (size_t i = 0; i < n; i++)
        crcs[i] = crc32c(0, recs[i].data, recs[i].len);

    pthread_mutex_lock(&w->mu);
    if (w->closing) {
        rc = HY_ECLOSED;
        goto out;
    }
    /* Sealing is decided under the lock, so wal_seal() splits appends cleanly. */
    int sealed = w->sealer.key != NULL;
    if (sealed)
        total += n * SEAL_OVERHEAD;
    if (w->cfg.quota_bytes && w->retained_bytes + w->pending_bytes + total > w->cfg.quota_bytes) {
        rc = HY_EQUOTA;
        goto out;
    }
    if (w->pending_bytes + total > w->cfg.max_pending_bytes) {
        rc = HY_EBUSY;
        goto out;
    }
    struct wal_batch *b = &w->pending;
    rc = batch_reserve(b, total);
    if (rc < 0)
        goto out;
    int was_empty = b->nwaiters == 0;
    if (was_empty)
        b->first_seq = w->next_seq;
    *first_seq = w->next_seq;
    if (sealed) {
        rc = append_sealed(w, b, recs, n, arrival_ms);
        if (rc < 0)
            goto out;
    } else {
        for (size_t i = 0; i < n; i++) {
            wal_frame_encode(b->data + b->len, w->next_seq, arrival_ms, recs[i].data,
                             (uint32_t)recs[i].len, crcs[i]);
            b->len += WAL_FRAME_HDR_LEN + recs[i].len;
            w->next_seq++;
        }
    }
    b->end_seq = w->next_seq;
    b->waiters[b->nwaiters].done = done;
    b->waiters[b->nwaiters].arg = arg;
    b->nwaiters++;
    w->pending_bytes += total;
    /* A non-empty pending batch means the committer is busy or already signalled. */
    if (was_empty)
        pthread_cond_signal(&w->commit_cv);
    rc = 0;
out:
    pthread_mutex_unlock(&w->mu);
    if (crcs != crc_stack)
        hy_free(crcs);
    return rc;
}

/* ---- waiting, trim, counters ------------------------------------------------------------- */

uint64_t wal_durable_next(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t v = w->durable_next;
    pthread_mutex_unlock(&w->mu);
    return v;
}

int wal_wait(struct wal *w, uint64_t seq, int timeout_ms)
{
    struct timespec deadline;
    int ok;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&w->mu);
    uint64_t gen = w->wake_gen;
    while (w->durable_next <= seq && !w->closing && gen == w->wake_gen && timeout_ms > 0) {
        if (pthread_cond_timedwait(&w->durable_cv, &w->mu, &deadline) == ETIMEDOUT)
            break;
    }
    ok = w->durable_next > seq;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

void wal_wake(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    w->wake_gen++;
    pthread_cond_broadcast(&w->durable_cv);
    pthread_mutex_unlock(&w->mu);
}

int wal_trim(struct wal *w, uint64_t min_seq)
{
    struct wal_seg *gone = NULL;
    size_t k = 0;
    int rc = 0;

    pthread_mutex_lock(&w->mu);
    /* Segment i is fully passed when the next one starts at or below min_seq; the active
     * (last) segment never is. */
    while (k + 1 < w->nsegs && w->segs[k + 1].first_seq <= min_seq)
        k++;
    if (k > 0) {
        gone = hy_malloc(k * sizeof(*gone));
        if (!gone) {
            pthread_mutex_unlock(&w->mu);
            return HY_ENOMEM;
        }
        memcpy(gone, w->segs, k * sizeof(*gone));
        memmove(w->segs, w->segs + k, (w->nsegs - k) * sizeof(*gone));
        w->nsegs -= k;
        for (size_t i = 0; i < k; i++)
            w->retained_bytes -= gone[i].size;
    }
    pthread_mutex_unlock(&w->mu);
    if (k == 0)
        return 0;

    /* Unlink outside the lock: readers can no longer find these segments, and a reader that
     * still has one open keeps reading it through its descriptor. */
    for (size_t i = 0; i < k; i++) {
        char name[WAL_SEG_NAME_LEN];
        wal_seg_name(name, gone[i].first_seq);
        if (unlinkat(w->dir_fd, name, 0) < 0 && errno != ENOENT) {
            rc = -errno;
            LOG_WARN("wal", "cannot delete segment", "dir=%s segment=%s err=%s", w->dir, name,
                     hy_errname(rc));
        }
    }
    if (fsync(w->dir_fd) < 0 && rc == 0)
        rc = -errno;
    LOG_DEBUG("wal", "trimmed", "dir=%s segments=%zu below_seq=%" PRIu64, w->dir, k, min_seq);
    hy_free(gone);
    return rc;
}

uint64_t wal_retained_bytes(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t v = w->retained_bytes;
    pthread_mutex_unlock(&w->mu);
    return v;
}

/* ---- test hooks -------------------------------------------------------------------------- */

void wal_test_fail_writes(struct wal *w, int err)
{
    pthread_mutex_lock(&w->mu);
    w->test_fail_err = err;
    pthread_mutex_unlock(&w->mu);
}

void wal_test_pause(struct wal *w, int on)
{
    pthread_mutex_lock(&w->mu);
    w->test_pause = on;
    pthread_cond_broadcast(&w->commit_cv);
    pthread_mutex_unlock(&w->mu);
}

int wal_test_held(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    int v = w->test_held;
    pthread_mutex_unlock(&w->mu);
    return v;
}

uint64_t wal_test_sync_count(struct wal *w)
{
    return __atomic_load_n(&w->sync_count, __ATOMIC_RELAXED);
}
