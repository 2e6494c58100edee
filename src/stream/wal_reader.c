/*
 * wal_reader.c: sequential readers over the segment files, one per consumer thread.
 *
 * A reader keeps a snapshot of the wal taken under its mutex: durable_next, the durable size
 * of its segment and the first seq of the following segment. It only parses frames below
 * durable_next and only reads bytes below the durable size, so it never sees a frame that a
 * failed write is about to cut. Between snapshots it takes no lock, and it reads in chunks of
 * WAL_READ_CHUNK_LEN with pread, so the per-record cost is a decode and a CRC.
 *
 * Segment boundaries come from the table (a segment ends where the next one's first seq
 * begins), not from end of file; a segment trimmed while the reader has it open stays readable
 * through its descriptor.
 *
 * Damage is the slow path and may take the lock and make extra reads. The reader tracks the seq
 * the frame at its position must carry (scan_seq). A frame that is bad, or intact but carrying
 * another seq, starts a damaged span; the reader resynchronises (wal_scan.c) to the next
 * intact frame in the segment, else to the segment's durable end: the following segment's
 * first seq for a finished segment, durable_next for the active one. A finished segment that
 * ends cleanly at a frame boundary before the next segment's first seq is a recovery gap, not
 * damage, and is skipped silently.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "stream/wal_int.h"

/* Refresh the snapshot; caller holds r->w->mu and r->fd is open on segment seg_first. */
static void reader_refresh(struct wal_reader *r)
{
    struct wal *w = r->w;
    long i = wal_seg_find(w, r->seg_first);

    r->lim_seq = w->durable_next;
    if (i >= 0 && w->segs[i].first_seq == r->seg_first) {
        r->lim_off = w->segs[i].size;
        r->seg_end_seq = (size_t)i + 1 < w->nsegs ? w->segs[i + 1].first_seq : UINT64_MAX;
    } else {
        /* Trimmed while open: the file is final. Its end seq is the one seen before, if any;
         * the table can no longer tell (later segments may be gone too), so otherwise a clean
         * end of file marks it (see reader_fill). */
        r->lim_off = UINT64_MAX;
        r->trimmed = 1;
    }
}

static void reader_unposition(struct wal_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->pos = r->len = 0;
    r->file_off = 0;
    r->dropped_off = 0;
    r->trimmed = 0;
    r->seg_end_seq = UINT64_MAX;
}

/* Open the segment holding next_seq and take a snapshot. */
static int reader_position(struct wal_reader *r)
{
    struct wal *w = r->w;
    char name[WAL_SEG_NAME_LEN];

    reader_unposition(r);
    /* Two tries: a trim may unlink the segment between the lookup and the open. */
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&w->mu);
        long i = wal_seg_find(w, r->next_seq);
        uint64_t first = i >= 0 ? w->segs[i].first_seq : 0;
        pthread_mutex_unlock(&w->mu);
        if (i < 0)
            return HY_ENOTFOUND;
        wal_seg_name(name, first);
        int fd = openat(w->dir_fd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return -errno;
        }
        r->fd = fd;
        r->seg_first = first;
        r->scan_seq = first;
        pthread_mutex_lock(&w->mu);
        reader_refresh(r);
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    return HY_ENOTFOUND;
}

/* Make buf[pos..) hold at least need bytes. Returns 0, 1 if the readable bytes (below lim_off,
 * and the file's end) end first, or a negative error. */
static int reader_fill(struct wal_reader *r, size_t need)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->file_off += r->pos;
        r->len -= r->pos;
        r->pos = 0;
        /* Pages behind the reader are durable and will not be read again by this consumer:
         * drop them from the page cache. Streaming through the cache otherwise keeps
         * allocating fresh pages, which measured 3-6x more CPU per written byte (bench/). */
        uint64_t drop = r->file_off & ~(uint64_t)(WAL_DROP_STEP - 1);
        if (drop > r->dropped_off) {
            posix_fadvise(r->fd, 0, (off_t)drop, POSIX_FADV_DONTNEED);
            r->dropped_off = drop;
        }
    }
    if (need > r->cap) {
        uint8_t *nb = hy_realloc(r->buf, need);
        if (!nb)
            return HY_ENOMEM;
        r->buf = nb;
        r->cap = need;
    }
    while (r->len < need) {
        uint64_t at = r->file_off + r->len;
        uint64_t end = r->file_off + r->cap;
        if (end > r->lim_off)
            end = r->lim_off;
        if (at >= end)
            return 1;
        ssize_t n = pread(r->fd, r->buf + r->len, (size_t)(end - at), (off_t)at);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 1;
        r->len += (size_t)n;
    }
    return 0;
}

int wal_reader_open(struct wal *w, uint64_t from_seq, struct wal_reader **out)
{
    struct wal_reader *r = hy_calloc(1, sizeof(*r));
    int rc;

    if (!r)
        return HY_ENOMEM;
    r->w = w;
    r->fd = -1;
    r->cap = WAL_READ_CHUNK_LEN;
    r->buf = hy_malloc(r->cap);
    if (!r->buf) {
        rc = HY_ENOMEM;
        goto fail;
    }
    rc = wal_reader_seek(r, from_seq);
    if (rc < 0)
        goto fail;
    *out = r;
    return 0;

fail:
    hy_free(r->buf);
    hy_free(r);
    return rc;
}

int wal_reader_seek(struct wal_reader *r, uint64_t from_seq)
{
    struct wal *w = r->w;
    int rc = 0;

    reader_unposition(r);
    r->next_seq = from_seq;
    r->lim_seq = 0;
    pthread_mutex_lock(&w->mu);
    if (from_seq < w->segs[0].first_seq)
        rc = HY_ENOTFOUND;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Report the damaged span of the current segment at bytes [bad_off, end_off), seqs
 * [scan_seq, end_seq), and move past it: to end_off in this file (resume_here) or to the next
 * segment. Returns WAL_READ_DAMAGED, 0 if the span lies wholly behind the seq asked for (a seek
 * past it), or a negative error with the reader unchanged. */
static int reader_report(struct wal_reader *r, uint64_t bad_off, uint64_t end_off, uint64_t end_seq,
                         int resume_here)
{
    uint64_t len = end_off - bad_off;
    size_t view_len = len < WAL_DAMAGE_VIEW_MAX_LEN ? (size_t)len : WAL_DAMAGE_VIEW_MAX_LEN;
    const uint8_t *data;
    size_t data_len;
    int rc = wal_win_view(&r->aux, r->fd, bad_off, view_len, end_off, &data, &data_len);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&r->w->mu);
    wal_damage_note(r->w, r->seg_first, bad_off, len, r->scan_seq, end_seq);
    pthread_mutex_unlock(&r->w->mu);

    int report = r->scan_seq == r->next_seq || end_seq > r->next_seq;
    r->dmg.first_seq = r->next_seq;
    r->dmg.seq_count = end_seq > r->next_seq ? end_seq - r->next_seq : 0;
    r->dmg.segment = r->seg_first;
    r->dmg.offset = bad_off;
    r->dmg.len = len;
    r->dmg.data = data;
    r->dmg.data_len = data_len;
    if (end_seq > r->next_seq)
        r->next_seq = end_seq;
    r->scan_seq = end_seq;
    if (resume_here) {
        r->file_off = end_off;
        r->pos = r->len = 0;
    } else {
        reader_unposition(r);
    }
    return report ? WAL_READ_DAMAGED : 0;
}

/* The frame at file offset bad_off of the current segment is bad: resynchronise. */
static int reader_damaged(struct wal_reader *r, uint64_t bad_off)
{
    struct wal *w = r->w;
    uint64_t found_off, found_seq, first_retained, end;
    struct stat st;

    pthread_mutex_lock(&w->mu);
    reader_refresh(r);
    first_retained = w->segs[0].first_seq;
    pthread_mutex_unlock(&w->mu);
    end = r->lim_off;
    if (r->trimmed) {
        if (fstat(r->fd, &st) < 0)
            return -errno;
        end = (uint64_t)st.st_size;
    }
    if (bad_off > end)
        bad_off = end; /* a trimmed file shorter than where the reader was: nothing to show */
    uint64_t max_seq = r->seg_end_seq < r->lim_seq ? r->seg_end_seq : r->lim_seq;
    int rc = wal_resync(&r->aux, r->fd, r->seg_first, bad_off + 1, end, r->scan_seq, max_seq,
                        &found_off, &found_seq);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return reader_report(r, bad_off, found_off, found_seq, 1);
    if (r->seg_end_seq != UINT64_MAX)
        return reader_report(r, bad_off, end, r->seg_end_seq, 0);
    if (!r->trimmed) /* the active segment: the next frame after its durable end is lim_seq */
        return reader_report(r, bad_off, end, r->lim_seq, 1);
    /* Trimmed before its successor was known: the span runs to the first retained seq. */
    return reader_report(r, bad_off, end,
                         first_retained > r->scan_seq ? first_retained : r->scan_seq, 0);
}

/* Open a sealed frame into r->plain and point rec at it. 0, or HY_ENOKEY / HY_ECORRUPT (logged:
 * the caller retries, and each retry logs again, so it is loud while it lasts) / HY_ENOMEM. */
static int reader_open_sealed(struct wal_reader *r, struct wal_record *rec)
{
    if (rec->len < SEAL_OVERHEAD)
        return HY_ECORRUPT;
    size_t need = rec->len - SEAL_OVERHEAD;
    if (need > r->plain_cap || !r->plain) {
        size_t cap = need > 4096 ? need : 4096;
        uint8_t *p = hy_realloc(r->plain, cap);
        if (!p)
            return HY_ENOMEM;
        r->plain = p;
        r->plain_cap = cap;
    }
    char id[2 * SEAL_ID_LEN + 1];
    int rc =
        seal_open(r->w->cfg.ring, rec->seq, rec->arrival_ms, rec->data, rec->len, r->plain, id);
    if (rc == HY_ENOKEY)
        LOG_ERROR("wal", "a sealed record's key is not available",
                  "dir=%s seq=%" PRIu64 " key_id=%s", r->w->dir, rec->seq, id);
    else if (rc < 0)
        LOG_ERROR("wal", "a sealed record does not verify with its key", "dir=%s seq=%" PRIu64,
                  r->w->dir, rec->seq);
    if (rc < 0)
        return rc;
    rec->data = r->plain;
    rec->len = need;
    rec->sealed = 0;
    return 0;
}

int wal_reader_next(struct wal_reader *r, struct wal_record *rec)
{
    int rc;

    for (;;) {
        if (r->fd < 0) {
            rc = reader_position(r);
            if (rc < 0)
                return rc;
        }
        if (r->next_seq >= r->lim_seq || r->next_seq >= r->seg_end_seq) {
            pthread_mutex_lock(&r->w->mu);
            reader_refresh(r);
            pthread_mutex_unlock(&r->w->mu);
            if (r->next_seq >= r->lim_seq)
                return 0;
            if (r->next_seq >= r->seg_end_seq) {
                reader_unposition(r); /* the record is in a later segment */
                continue;
            }
        }
        size_t flen;
        rc = wal_frame_decode(r->buf + r->pos, r->len - r->pos, rec, &flen);
        if (rc == 1 && rec->seq == r->scan_seq) {
            if (rec->seq >= r->next_seq && rec->sealed && (rc = reader_open_sealed(r, rec)) < 0)
                return rc; /* stays before the frame: a retry meets it again */
            r->pos += flen;
            r->scan_seq++;
            if (rec->seq < r->next_seq)
                continue; /* skipping forward to the position asked for */
            r->next_seq++;
            return 1;
        }
        /* Slow path: more bytes, the segment's end, or damage. */
        uint64_t at = r->file_off + r->pos;
        if (rc == 0) {
            rc = reader_fill(r, flen);
            if (rc <= 0) {
                if (rc < 0)
                    return rc;
                continue;
            }
            at = r->file_off + r->pos;
            if (r->pos == r->len && r->seg_end_seq != UINT64_MAX) {
                /* A finished segment ends cleanly before the next one starts: the gap a
                 * recovery cut left. Those seqs were never handed out again. */
                r->next_seq = r->seg_end_seq;
                reader_unposition(r);
                continue;
            }
            if (r->pos == r->len && r->trimmed) {
                reader_unposition(r); /* the next record is in a later segment */
                continue;
            }
            rc = reader_damaged(r, at);
        } else if (rc == 1 && rec->seq > r->scan_seq && rec->seq < r->lim_seq &&
                   rec->seq < r->seg_end_seq && wal_seq_plausible(r->seg_first, at, rec->seq)) {
            rc = reader_report(r, at, at, rec->seq, 1); /* intact, after vanished frames */
        } else {
            rc = reader_damaged(r, at);
        }
        if (rc != 0)
            return rc;
    }
}

const struct wal_damage *wal_reader_damage(const struct wal_reader *r)
{
    return &r->dmg;
}

void wal_reader_close(struct wal_reader *r)
{
    if (!r)
        return;
    reader_unposition(r);
    wal_win_fini(&r->aux);
    hy_free(r->plain);
    hy_free(r->buf);
    hy_free(r);
}
