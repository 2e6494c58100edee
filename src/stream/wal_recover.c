/*
 * wal_recover.c: bring a log directory to a consistent state at open.
 *
 * Only the last segment can hold a torn tail: a segment stops growing when the next one is
 * created, and the committer creates the next one only after every batch in the old one was
 * synced. So earlier segments are not scanned (readers report any damage in them), and the last
 * one is scanned frame by frame: length bound, CRC, and seq continuity from the name's first
 * seq. At a bad frame the scan resynchronises (wal_scan.c); a damaged span followed by an
 * intact frame is corruption and stays in place. Only a bad region running to the end of the
 * file is cut, after copying it to damaged/ and after creating the next segment, whose name
 * skips every seq the cut bytes could have held (see wal.h). The old segment is kept even when
 * the cut empties it: its name still says where the retained log begins, so a consumer whose
 * cursor is in the gap can still open a reader there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "stream/wal_int.h"

static int seg_cmp(const void *a, const void *b)
{
    const struct wal_seg *x = a, *y = b;
    return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* Parse "<20 digits>.seg"; 0 (not a segment name) or the first seq. */
static uint64_t seg_name_parse(const char *name)
{
    uint64_t v = 0;

    if (strlen(name) != WAL_SEG_NAME_LEN - 1 || strcmp(name + 20, ".seg") != 0)
        return 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

static int list_segments(struct wal *w)
{
    int fd = dup(w->dir_fd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    rewinddir(d);
    int rc = 0;
    struct dirent *de;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno)
                rc = -errno;
            break;
        }
        uint64_t first = seg_name_parse(de->d_name);
        if (first == 0)
            continue;
        struct stat st;
        if (fstatat(w->dir_fd, de->d_name, &st, 0) < 0) {
            rc = -errno;
            break;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        rc = wal_segs_reserve(w);
        if (rc < 0)
            break;
        w->segs[w->nsegs].first_seq = first;
        w->segs[w->nsegs].size = (uint64_t)st.st_size;
        w->nsegs++;
    }
    closedir(d);
    if (rc == 0 && w->nsegs > 1)
        qsort(w->segs, w->nsegs, sizeof(w->segs[0]), seg_cmp);
    return rc;
}

/* Scan fd (the last segment, first seq first_seq, file_size bytes). Damaged spans followed by
 * an intact frame are counted and logged and the scan goes on after them; *valid_len is where
 * the frames end (the start of a torn tail, or file_size), *next_seq the seq after the last
 * intact frame. 0 or a negative error. */
static int scan_segment(struct wal *w, int fd, uint64_t first_seq, uint64_t file_size,
                        uint64_t *valid_len, uint64_t *next_seq)
{
    struct wal_win win = {0};
    uint64_t pos = 0, expect = first_seq;
    int rc = 0;

    while (pos < file_size) {
        struct wal_record rec;
        size_t flen;
        int r = wal_win_frame(&win, fd, pos, file_size, &rec, &flen);
        if (r < 0 && r != HY_ECORRUPT) {
            rc = r;
            goto out;
        }
        if (r == 1 && rec.seq == expect) {
            pos += flen;
            expect++;
            continue;
        }
        if (r == 1 && rec.seq > expect && wal_seq_plausible(first_seq, pos, rec.seq)) {
            /* Intact but past a gap: frames vanished without a trace. */
            wal_damage_note(w, first_seq, pos, 0, expect, rec.seq);
            expect = rec.seq;
            continue;
        }
        uint64_t found_off, found_seq;
        r = wal_resync(&win, fd, first_seq, pos + 1, file_size, expect, UINT64_MAX, &found_off,
                       &found_seq);
        if (r < 0) {
            rc = r;
            goto out;
        }
        if (r == 0)
            break; /* bad to the end: a torn tail */
        /* An intact frame follows: corruption, not a tail; keep everything intact. */
        wal_damage_note(w, first_seq, pos, found_off - pos, expect, found_seq);
        pos = found_off;
        expect = found_seq;
    }
    *valid_len = pos;
    *next_seq = expect;
out:
    wal_win_fini(&win);
    return rc;
}

/* Copy bytes [off, off + len) of fd to <dir>/damaged/<segment>-<off>.bin and make the copy
 * durable. 0 or a negative error (a partial copy may remain; it is only a copy). */
static int keep_aside(struct wal *w, int fd, uint64_t seg_first, uint64_t off, uint64_t len)
{
    char name[64];
    uint8_t *buf = NULL;
    int dfd = -1, out = -1, rc = 0;

    if (mkdirat(w->dir_fd, "damaged", 0755) < 0 && errno != EEXIST)
        return -errno;
    dfd = openat(w->dir_fd, "damaged", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    snprintf(name, sizeof(name), "%020" PRIu64 "-%" PRIu64 ".bin", seg_first, off);
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = -errno;
        goto fail;
    }
    buf = hy_malloc(WAL_READ_CHUNK_LEN);
    if (!buf) {
        rc = HY_ENOMEM;
        goto fail;
    }
    for (uint64_t done = 0; done < len;) {
        size_t want = len - done < WAL_READ_CHUNK_LEN ? (size_t)(len - done) : WAL_READ_CHUNK_LEN;
        ssize_t n = pread(fd, buf, want, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : HY_ECORRUPT; /* shorter than fstat said */
            goto fail;
        }
        for (ssize_t put = 0; put < n;) {
            ssize_t m = write(out, buf + put, (size_t)(n - put));
            if (m < 0 && errno == EINTR)
                continue;
            if (m < 0) {
                rc = -errno;
                goto fail;
            }
            put += m;
        }
        done += (uint64_t)n;
    }
    if (fsync(out) < 0 || fsync(dfd) < 0 || fsync(w->dir_fd) < 0)
        rc = -errno;
fail:
    hy_free(buf);
    if (out >= 0)
        close(out);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

static int create_first_segment(struct wal *w)
{
    char name[WAL_SEG_NAME_LEN];
    int rc = wal_segs_reserve(w);

    if (rc < 0)
        return rc;
    wal_seg_name(name, 1);
    w->act_fd = openat(w->dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->act_fd < 0)
        return -errno;
    if (fsync(w->dir_fd) < 0)
        return -errno;
    w->segs[0].first_seq = 1;
    w->segs[0].size = 0;
    w->nsegs = 1;
    w->act_size = 0;
    w->next_seq = w->durable_next = 1;
    w->retained_bytes = 0;
    return 0;
}

int wal_recover(struct wal *w)
{
    char name[WAL_SEG_NAME_LEN];
    uint64_t valid_len = 0, next_seq = 0;
    struct stat st;
    int rc;

    rc = list_segments(w);
    if (rc < 0)
        return rc;
    if (w->nsegs == 0)
        return create_first_segment(w);

    struct wal_seg *last = &w->segs[w->nsegs - 1];
    wal_seg_name(name, last->first_seq);
    w->act_fd = openat(w->dir_fd, name, O_RDWR | O_CLOEXEC);
    if (w->act_fd < 0)
        return -errno;
    if (fstat(w->act_fd, &st) < 0)
        return -errno;
    uint64_t file_size = (uint64_t)st.st_size;
    rc = scan_segment(w, w->act_fd, last->first_seq, file_size, &valid_len, &next_seq);
    if (rc < 0)
        return rc;
    last->size = valid_len;
    w->act_size = valid_len;
    if (valid_len < file_size) {
        uint64_t cut_len = file_size - valid_len;
        /* The cut bytes could have held this many frames, any of them acknowledged (a flipped
         * byte in the last frames looks like a torn write): never hand their seqs out again. */
        uint64_t skip_to = next_seq + cut_len / WAL_FRAME_HDR_LEN + 1;
        int kept = keep_aside(w, w->act_fd, last->first_seq, valid_len, cut_len);
        if (kept < 0) {
            /* Keep the bytes where they are rather than destroy them: the old segment keeps
             * its full size and readers report the span. */
            LOG_ERROR("wal", "cannot copy torn tail aside, left in place",
                      "dir=%s segment=%s offset=%" PRIu64 " bytes=%" PRIu64 " err=%s", w->dir, name,
                      valid_len, cut_len, hy_errname(kept));
            last->size = file_size;
        }
        /* The new segment's name makes the skip durable before anything is cut. */
        rc = wal_segs_reserve(w);
        if (rc < 0)
            return rc;
        last = &w->segs[w->nsegs - 1];
        char next_name[WAL_SEG_NAME_LEN];
        wal_seg_name(next_name, skip_to);
        int fd = openat(w->dir_fd, next_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        if (fsync(w->dir_fd) < 0) {
            rc = -errno;
            close(fd);
            return rc;
        }
        if (kept == 0 && (ftruncate(w->act_fd, (off_t)valid_len) < 0 || fsync(w->act_fd) < 0)) {
            /* The skip is durable already; an uncut tail only means readers report it. */
            LOG_ERROR("wal", "cannot cut torn tail", "dir=%s segment=%s err=%s", w->dir, name,
                      hy_errname(-errno));
            last->size = file_size;
        }
        close(w->act_fd);
        w->act_fd = fd;
        w->act_size = 0;
        w->segs[w->nsegs].first_seq = skip_to;
        w->segs[w->nsegs].size = 0;
        w->nsegs++;
        w->dmg_stats.cuts++;
        w->dmg_stats.cut_bytes += cut_len;
        LOG_WARN("wal", "torn tail cut",
                 "dir=%s segment=%s offset=%" PRIu64 " cut_bytes=%" PRIu64
                 " kept=%s first_seq=%" PRIu64 " skipped_to=%" PRIu64,
                 w->dir, name, valid_len, cut_len, kept == 0 ? "damaged/" : "in_place", next_seq,
                 skip_to);
        next_seq = skip_to;
    }
    w->next_seq = w->durable_next = next_seq;
    w->retained_bytes = 0;
    for (size_t i = 0; i < w->nsegs; i++)
        w->retained_bytes += w->segs[i].size;
    LOG_DEBUG("wal", "recovered", "dir=%s segments=%zu first_seq=%" PRIu64 " next_seq=%" PRIu64,
              w->dir, w->nsegs, w->segs[0].first_seq, next_seq);
    return 0;
}
