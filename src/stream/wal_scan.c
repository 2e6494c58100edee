/*
 * wal_scan.c: the slow path shared by recovery and readers: a window of file bytes, frame
 * decoding at an arbitrary offset, resynchronisation after a bad frame, and the damage counters.
 *
 * Resynchronisation looks, byte by byte, for the next offset holding an intact frame (length
 * bound, CRC) whose seq could be there: not below the seq expected at the damage, below the
 * caller's limit, and at most (offset / WAL_FRAME_HDR_LEN) past the segment's first seq, since
 * seqs are dense from the name and every frame takes at least a header. The seq test rejects
 * almost every candidate before the CRC is computed, so a damaged megabyte costs about a
 * megabyte of reads and compares.
 */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "stream/wal_int.h"

/* Damage spans remembered to count each one once, whoever finds it (recovery, any reader). */
#define WAL_DAMAGE_SEEN_MAX 1024

void wal_win_fini(struct wal_win *win)
{
    hy_free(win->buf);
    memset(win, 0, sizeof(*win));
}

/* Make file bytes [at, at + need) available in the window, reading ahead up to end.
 * 0, 1 if the file ends first, or a negative error. Caller ensures at + need <= end. */
static int win_load(struct wal_win *win, int fd, uint64_t at, size_t need, uint64_t end)
{
    if (at >= win->off && at + need <= win->off + win->len)
        return 0;
    size_t want = win->cap > need ? win->cap : need;
    if (want < WAL_READ_CHUNK_LEN)
        want = WAL_READ_CHUNK_LEN;
    if (want > win->cap) {
        uint8_t *nb = hy_realloc(win->buf, want);
        if (!nb)
            return HY_ENOMEM;
        win->buf = nb;
        win->cap = want;
    }
    if (end - at < want)
        want = (size_t)(end - at);
    win->off = at;
    win->len = 0;
    while (win->len < want) {
        ssize_t n = pread(fd, win->buf + win->len, want - win->len, (off_t)(at + win->len));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int rc = -errno;
            win->len = 0;
            return rc;
        }
        if (n == 0)
            break;
        win->len += (size_t)n;
    }
    return win->len >= need ? 0 : 1;
}

int wal_win_frame(struct wal_win *win, int fd, uint64_t at, uint64_t end, struct wal_record *rec,
                  size_t *frame_len)
{
    if (at > end || end - at < WAL_FRAME_HDR_LEN)
        return 0;
    int rc = win_load(win, fd, at, WAL_FRAME_HDR_LEN, end);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    uint32_t len = wal_get_u32(win->buf + (at - win->off)) & ~WAL_FRAME_SEALED;
    if (len > WAL_FRAME_DATA_MAX_LEN)
        return HY_ECORRUPT;
    if (end - at < WAL_FRAME_HDR_LEN + (uint64_t)len)
        return 0;
    rc = win_load(win, fd, at, WAL_FRAME_HDR_LEN + (size_t)len, end);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    return wal_frame_decode(win->buf + (at - win->off), win->len - (size_t)(at - win->off), rec,
                            frame_len);
}

int wal_win_view(struct wal_win *win, int fd, uint64_t at, size_t len, uint64_t end,
                 const uint8_t **data, size_t *data_len)
{
    *data = NULL;
    *data_len = 0;
    if (len == 0)
        return 0;
    int rc = win_load(win, fd, at, len, end);
    if (rc < 0)
        return rc;
    if (at >= win->off && at < win->off + win->len) {
        size_t have = win->len - (size_t)(at - win->off);
        *data = win->buf + (at - win->off);
        *data_len = have < len ? have : len;
    }
    return 0;
}

int wal_resync(struct wal_win *win, int fd, uint64_t seg_first, uint64_t from, uint64_t end,
               uint64_t min_seq, uint64_t max_seq, uint64_t *found_off, uint64_t *found_seq)
{
    for (uint64_t off = from; off < end && end - off >= WAL_FRAME_HDR_LEN; off++) {
        int rc = win_load(win, fd, off, WAL_FRAME_HDR_LEN, end);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0; /* the file is shorter than end: nothing further to find */
        const uint8_t *p = win->buf + (off - win->off);
        uint32_t len = wal_get_u32(p) & ~WAL_FRAME_SEALED;
        uint64_t seq = wal_get_u64(p + 8);
        if (len > WAL_FRAME_DATA_MAX_LEN || seq < min_seq || seq >= max_seq ||
            !wal_seq_plausible(seg_first, off, seq) || end - off - WAL_FRAME_HDR_LEN < len)
            continue;
        struct wal_record rec;
        size_t flen;
        rc = wal_win_frame(win, fd, off, end, &rec, &flen);
        if (rc < 0 && rc != HY_ECORRUPT)
            return rc;
        if (rc == 1) {
            *found_off = off;
            *found_seq = seq;
            return 1;
        }
    }
    return 0;
}

int wal_damage_note(struct wal *w, uint64_t seg_first, uint64_t off, uint64_t len,
                    uint64_t first_seq, uint64_t end_seq)
{
    for (size_t i = 0; i < w->dmg_seen_n; i++)
        if (w->dmg_seen[i].seg_first == seg_first && w->dmg_seen[i].off == off)
            return 0;
    if (w->dmg_seen_n == w->dmg_seen_cap && w->dmg_seen_cap < WAL_DAMAGE_SEEN_MAX) {
        size_t cap = w->dmg_seen_cap ? w->dmg_seen_cap * 2 : 8;
        struct wal_damage_seen *s = hy_realloc(w->dmg_seen, cap * sizeof(*s));
        if (s) {
            w->dmg_seen = s;
            w->dmg_seen_cap = cap;
        }
    }
    /* Past the table's bound (or without memory) a span may be counted again: an over-count is
     * better than hiding damage. */
    if (w->dmg_seen_n < w->dmg_seen_cap) {
        w->dmg_seen[w->dmg_seen_n].seg_first = seg_first;
        w->dmg_seen[w->dmg_seen_n].off = off;
        w->dmg_seen_n++;
    }
    w->dmg_stats.spans++;
    w->dmg_stats.bytes += len;
    char name[WAL_SEG_NAME_LEN];
    wal_seg_name(name, seg_first);
    LOG_ERROR("wal", "corruption detected",
              "dir=%s segment=%s offset=%" PRIu64 " damaged_bytes=%" PRIu64 " first_seq=%" PRIu64
              " seq_count=%" PRIu64,
              w->dir, name, off, len, first_seq, end_seq - first_seq);
    return 1;
}

void wal_damage_stats_get(struct wal *w, struct wal_damage_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->dmg_stats;
    pthread_mutex_unlock(&w->mu);
}
