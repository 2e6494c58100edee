/*
 * wal_recover.c: bring a log directory to a consistent state at open.
 *
 * Only the last segment can hold a torn or corrupt tail: a segment stops growing when the next
 * one is created, and the committer creates the next one only after every batch in the old one
 * was synced. So earlier segments are trusted by name (their record count is first seq of the
 * next minus their own), and the last one is scanned frame by frame: length bound, CRC, and
 * seq continuity from the name's first seq. Everything from the first bad frame on is cut and
 * the cut made durable before any new append can land behind it. An empty last segment is kept:
 * its name still says where the sequence continues (records before it may have been trimmed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

/* Scan fd (a segment starting at first_seq, file_size bytes) and set *valid_len to the end of
 * the last good frame, *next_seq to the seq after it and *why to the reason the scan stopped
 * early (NULL at a clean end). 0 or a negative error from reading. */
static int scan_segment(int fd, uint64_t first_seq, uint64_t file_size, uint64_t *valid_len,
                        uint64_t *next_seq, const char **why)
{
    size_t cap = WAL_READ_CHUNK_LEN, pos = 0, len = 0;
    uint64_t off = 0, expect = first_seq;
    uint8_t *buf = hy_malloc(cap);
    int rc = 0;

    if (!buf)
        return HY_ENOMEM;
    *why = NULL;
    for (;;) {
        struct wal_record rec;
        size_t flen;
        int r = wal_frame_decode(buf + pos, len - pos, &rec, &flen);
        if (r == 1) {
            if (rec.seq != expect) {
                *why = "seq_gap";
                break;
            }
            pos += flen;
            expect++;
            continue;
        }
        if (r < 0) {
            *why = "bad_frame";
            break;
        }
        if (off + len >= file_size) {
            if (pos < len)
                *why = "torn_frame";
            break;
        }
        memmove(buf, buf + pos, len - pos);
        off += pos;
        len -= pos;
        pos = 0;
        if (flen > cap) {
            uint8_t *nb = hy_realloc(buf, flen);
            if (!nb) {
                rc = HY_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = flen;
        }
        ssize_t n = pread(fd, buf + len, cap - len, (off_t)(off + len));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        if (n == 0) {
            *why = "torn_frame"; /* shorter than fstat said: treat the rest as torn */
            break;
        }
        len += (size_t)n;
    }
    *valid_len = off + pos;
    *next_seq = expect;
out:
    hy_free(buf);
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
    const char *why = NULL;
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
    rc =
        scan_segment(w->act_fd, last->first_seq, (uint64_t)st.st_size, &valid_len, &next_seq, &why);
    if (rc < 0)
        return rc;
    if (valid_len < (uint64_t)st.st_size) {
        /* Cut durably before anything is appended behind the cut. */
        if (ftruncate(w->act_fd, (off_t)valid_len) < 0 || fsync(w->act_fd) < 0)
            return -errno;
        LOG_WARN("wal", "torn tail cut",
                 "dir=%s segment=%s offset=%" PRIu64 " cut_bytes=%" PRIu64
                 " reason=%s next_seq=%" PRIu64,
                 w->dir, name, valid_len, (uint64_t)st.st_size - valid_len,
                 why ? why : "short_file", next_seq);
    }
    last->size = valid_len;
    w->act_size = valid_len;
    w->next_seq = w->durable_next = next_seq;
    w->retained_bytes = 0;
    for (size_t i = 0; i < w->nsegs; i++)
        w->retained_bytes += w->segs[i].size;
    LOG_DEBUG("wal", "recovered", "dir=%s segments=%zu first_seq=%" PRIu64 " next_seq=%" PRIu64,
              w->dir, w->nsegs, w->segs[0].first_seq, next_seq);
    return 0;
}
