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
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/err.h"
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
        pthread_mutex_lock(&w->mu);
        reader_refresh(r);
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    return HY_ENOTFOUND;
}

/* Make buf[pos..) hold at least need bytes. The frame at pos is durable, so its bytes must
 * lie below lim_off: anything else means the file is damaged. Returns 0, 1 at a clean end of a
 * trimmed segment (the next record is in a later one), or a negative error. */
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
            return HY_ECORRUPT;
        ssize_t n = pread(r->fd, r->buf + r->len, (size_t)(end - at), (off_t)at);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return r->trimmed && r->len == 0 ? 1 : HY_ECORRUPT;
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
        if (rc < 0)
            return rc;
        if (rc == 0) {
            rc = reader_fill(r, flen);
            if (rc < 0)
                return rc;
            if (rc == 1)
                reader_unposition(r);
            continue;
        }
        r->pos += flen;
        if (rec->seq < r->next_seq)
            continue; /* skipping forward to the position asked for */
        if (rec->seq != r->next_seq)
            return HY_ECORRUPT;
        r->next_seq++;
        return 1;
    }
}

void wal_reader_close(struct wal_reader *r)
{
    if (!r)
        return;
    reader_unposition(r);
    hy_free(r->buf);
    hy_free(r);
}
