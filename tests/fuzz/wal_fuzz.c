/*
 * libFuzzer target for the stream log's recovery and reader (src/stream/wal*.c). The input
 * becomes the segment files of a log: inputs of 4 bytes or more start with a layout header
 * (byte 0: 1-3 segments; bytes 1-2: where the rest is split; byte 3: gaps between the segments'
 * names), shorter ones are the only segment. wal_open must recover it (resynchronising past
 * damage, cutting only a torn tail), a reader must get through it without getting stuck, and
 * the log must accept an append after it. Checked: every record and damaged span is reported in
 * increasing seq order below durable_next, every span lies inside its segment file, the reader
 * ends within a bounded number of calls, and nothing crashes, leaks or reads out of bounds.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/log.h"
#include "base/mem.h"
#include "stream/wal.h"

static void done_noop(void *arg, int status)
{
    *(int *)arg = status;
}

static int write_seg(const char *dir, uint64_t first, const uint8_t *data, size_t len)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%020llu.seg", dir, (unsigned long long)first);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int ok = len == 0 || write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok ? 0 : -1;
}

static uint64_t seg_size(const char *dir, uint64_t first)
{
    char path[160];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%020llu.seg", dir, (unsigned long long)first);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Read everything from from_seq; check the invariants above. Returns the reader's last rc. */
static int read_through(struct wal *w, const char *dir, uint64_t from_seq, size_t budget)
{
    struct wal_reader *r = NULL;
    struct wal_record rec;
    uint64_t next = wal_durable_next(w), expect = from_seq;
    int rc = wal_reader_open(w, from_seq, &r);

    if (rc < 0)
        return rc;
    for (size_t calls = 0;; calls++) {
        HY_ASSERT(calls <= budget); /* the reader must not get stuck */
        rc = wal_reader_next(r, &rec);
        if (rc == 1) {
            HY_ASSERT(rec.seq >= expect && rec.seq < next);
            expect = rec.seq + 1;
        } else if (rc == WAL_READ_DAMAGED) {
            const struct wal_damage *d = wal_reader_damage(r);
            HY_ASSERT(d->first_seq >= expect); /* recovery gaps are skipped silently */
            HY_ASSERT(d->first_seq + d->seq_count <= next);
            HY_ASSERT(d->seq_count > 0 || d->len > 0);
            HY_ASSERT(d->offset + d->len <= seg_size(dir, d->segment));
            HY_ASSERT(d->data_len <= d->len && d->data_len <= WAL_DAMAGE_VIEW_MAX_LEN);
            HY_ASSERT(d->data_len == 0 || d->data != NULL);
            expect = d->first_seq + d->seq_count;
        } else {
            break;
        }
    }
    HY_ASSERT(rc != HY_ECORRUPT);
    wal_reader_close(r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[64];
    struct wal *w = NULL;
    struct wal_config cfg;
    uint64_t firsts[3] = {1, 0, 0};
    size_t nseg = 1, cuts[4] = {0, size, size, size};
    const uint8_t *body = data;
    size_t body_len = size;

    log_set_level(LOG_LEVEL_ERROR);
    snprintf(dir, sizeof(dir), "/tmp/walfuzz-%d", (int)getpid());
    fsutil_remove_tree(dir);
    if (mkdir(dir, 0755) < 0)
        return 0;
    if (size >= 4) {
        nseg = 1 + data[0] % 3;
        body = data + 4;
        body_len = size - 4;
        size_t a = body_len * data[1] / 256, b = body_len * data[2] / 256;
        if (a > b) {
            size_t t = a;
            a = b;
            b = t;
        }
        cuts[0] = 0;
        cuts[1] = a;
        cuts[2] = b;
        for (size_t i = 1; i < nseg; i++)
            firsts[i] = firsts[i - 1] + 1 + ((data[3] >> (4 * (i - 1))) & 15);
    }
    for (size_t i = 0; i < nseg; i++) {
        size_t from = cuts[i], to = i + 1 == nseg ? body_len : cuts[i + 1];
        if (write_seg(dir, firsts[i], body + from, to - from) < 0)
            goto out;
    }

    wal_config_default(&cfg);
    cfg.segment_bytes = 256; /* let the append roll when the recovered prefix is long */
    hy_mem_fail_random(64);  /* fuzz the allocation-failure paths too */
    if (wal_open(dir, &cfg, &w) < 0)
        goto out;
    uint64_t next = wal_durable_next(w);
    HY_ASSERT(next >= firsts[nseg - 1]);
    /* Each call passes a record, a span or a segment: bounded by bytes plus segments. */
    size_t budget = size + 3 * 4 + 16;
    (void)read_through(w, dir, 1, budget);
    int status = 1;
    uint64_t seq = 0;
    struct wal_rec one = {data, size < 64 ? size : 64};
    if (wal_append(w, &one, 1, 1, &seq, done_noop, &status) == 0) {
        HY_ASSERT(seq == next); /* recovery never hands out a seq it already saw */
        if (wal_wait(w, seq, 10000) && status == 0)
            (void)read_through(w, dir, seq, 4);
    }
    wal_close(w);
out:
    hy_mem_fail_random(0);
    fsutil_remove_tree(dir);
    return 0;
}
