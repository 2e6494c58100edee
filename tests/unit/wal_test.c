/* Unit tests for src/stream/wal*.c: group commit, recovery, segments, trim, readers, faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "stream/wal.h"
#include "stream/wal_int.h"

/* ---- helpers ------------------------------------------------------------------------------ */

struct tally {
    int calls;
    int errors;
    int last_status;
};

static void tally_done(void *arg, int status)
{
    struct tally *t = arg;
    if (status)
        __atomic_add_fetch(&t->errors, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t->last_status, status, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&t->calls, 1, __ATOMIC_SEQ_CST);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Poll (never a blind sleep) until t has seen n callbacks; fails the test after 20 s. */
static void tally_wait(struct tally *t, int n)
{
    for (int i = 0; i < 20000; i++) {
        if (__atomic_load_n(&t->calls, __ATOMIC_SEQ_CST) >= n)
            return;
        sleep_ms(1);
    }
    fail_msg("timed out waiting for %d callbacks (have %d)", n, t->calls);
}

static void wait_held(struct wal *w)
{
    for (int i = 0; i < 20000 && !wal_test_held(w); i++)
        sleep_ms(1);
    assert_true(wal_test_held(w));
}

static char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/waltest-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *s = hy_strdup(d);
    assert_non_null(s);
    return s;
}

static void tmpdir_free(char *d)
{
    assert_int_equal(fsutil_remove_tree(d), 0);
    hy_free(d);
}

/* Deterministic content for record id. */
static void fill(uint8_t *p, size_t len, uint64_t id)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(id * 131 + i * 7 + (i >> 8));
}

static int content_ok(const uint8_t *p, size_t len, uint64_t id)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(id * 131 + i * 7 + (i >> 8)))
            return 0;
    return 1;
}

static struct wal *open_wal(const char *dir, size_t segment_bytes)
{
    struct wal_config cfg;
    struct wal *w = NULL;
    wal_config_default(&cfg);
    if (segment_bytes)
        cfg.segment_bytes = segment_bytes;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    return w;
}

/* Append one record of len bytes with content id, wait until durable; returns its seq. */
static uint64_t append_durable(struct wal *w, size_t len, uint64_t id)
{
    static uint8_t data[4096];
    struct tally t = {0};
    struct wal_rec r = {data, len};
    uint64_t seq = 0;
    assert_true(len <= sizeof(data));
    fill(data, len, id);
    assert_int_equal(wal_append(w, &r, 1, 1000 + (int64_t)id, &seq, tally_done, &t), 0);
    tally_wait(&t, 1);
    assert_int_equal(t.last_status, 0);
    return seq;
}

/* Read every durable record from from_seq, checking seq density and content (id == seq) and
 * that each has length len_of(seq); returns the count. */
static uint64_t read_all(struct wal *w, uint64_t from_seq, size_t (*len_of)(uint64_t))
{
    struct wal_reader *r;
    struct wal_record rec;
    uint64_t n = 0;
    int rc;
    assert_int_equal(wal_reader_open(w, from_seq, &r), 0);
    while ((rc = wal_reader_next(r, &rec)) == 1) {
        assert_int_equal(rec.seq, from_seq + n);
        assert_int_equal(rec.arrival_ms, 1000 + (int64_t)rec.seq);
        if (len_of)
            assert_int_equal(rec.len, len_of(rec.seq));
        assert_true(content_ok(rec.data, rec.len, rec.seq));
        n++;
    }
    assert_int_equal(rc, 0);
    wal_reader_close(r);
    return n;
}

/* Count records readable from from_seq, checking only that seqs are dense. */
static uint64_t count_readable(struct wal *w, uint64_t from_seq)
{
    struct wal_reader *r;
    struct wal_record rec;
    uint64_t n = 0;
    int rc;
    assert_int_equal(wal_reader_open(w, from_seq, &r), 0);
    while ((rc = wal_reader_next(r, &rec)) == 1)
        assert_int_equal(rec.seq, from_seq + n++);
    assert_int_equal(rc, 0);
    wal_reader_close(r);
    return n;
}

static size_t len_small(uint64_t seq)
{
    return (size_t)(seq * 13 % 200);
}

static off_t file_size(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (stat(path, &st) < 0)
        return -1;
    return st.st_size;
}

/* Sorted first seqs of the segment files in dir; returns how many. */
static int list_segs(const char *dir, uint64_t *firsts, int max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l == 24 && strcmp(de->d_name + 20, ".seg") == 0) {
            assert_true(n < max);
            firsts[n++] = strtoull(de->d_name, NULL, 10);
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && firsts[j - 1] > firsts[j]; j--) {
            uint64_t t = firsts[j];
            firsts[j] = firsts[j - 1];
            firsts[j - 1] = t;
        }
    return n;
}

static uint64_t dir_seg_bytes(const char *dir)
{
    uint64_t firsts[4096], sum = 0;
    int n = list_segs(dir, firsts, 4096);
    for (int i = 0; i < n; i++) {
        char name[WAL_SEG_NAME_LEN];
        wal_seg_name(name, firsts[i]);
        sum += (uint64_t)file_size(dir, name);
    }
    return sum;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    char *data;
    assert_int_equal(fsutil_read_all(path, &data, len, 1u << 30), 0);
    return (uint8_t *)data;
}

/* ---- tests -------------------------------------------------------------------------------- */

static size_t len_varied(uint64_t seq)
{
    if (seq == 5000 || seq == 9999)
        return WAL_RECORD_MAX_LEN;
    if (seq % 1000 == 0)
        return 0;
    return (size_t)(seq * 37 % 3000);
}

static void test_wal_round_trips_10000_records_of_varied_sizes(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    uint8_t *pool = hy_malloc(50 * (size_t)WAL_RECORD_MAX_LEN);
    struct wal_rec recs[50];
    struct tally t = {0};
    int appends = 0;
    uint64_t seq = 1;

    assert_non_null(pool);
    assert_int_equal(wal_durable_next(w), 1);
    while (seq <= 10000) {
        size_t n = 1 + (seq * 7) % 50, off = 0;
        if (seq + n > 10001)
            n = 10001 - seq;
        for (size_t i = 0; i < n; i++) {
            size_t len = len_varied(seq + i);
            fill(pool + off, len, seq + i);
            recs[i].data = pool + off;
            recs[i].len = len;
            off += len;
        }
        uint64_t first = 0;
        int rc; /* every record of an append shares the arrival time 1000 + its first seq */
        while ((rc = wal_append(w, recs, n, 1000 + (int64_t)seq, &first, tally_done, &t)) ==
               HY_EBUSY)
            sleep_ms(1);
        assert_int_equal(rc, 0);
        assert_int_equal(first, seq);
        appends++;
        seq += n;
    }
    tally_wait(&t, appends);
    assert_int_equal(t.errors, 0);
    assert_int_equal(wal_durable_next(w), 10001);
    assert_int_equal(wal_retained_bytes(w), dir_seg_bytes(dir));

    struct wal_reader *r;
    struct wal_record rec;
    uint64_t batch_arrival = 0;
    assert_int_equal(wal_reader_open(w, 1, &r), 0);
    for (uint64_t s = 1; s <= 10000; s++) {
        assert_int_equal(wal_reader_next(r, &rec), 1);
        assert_int_equal(rec.seq, s);
        assert_int_equal(rec.len, len_varied(s));
        assert_true(content_ok(rec.data, rec.len, s));
        assert_true(rec.arrival_ms >= (int64_t)batch_arrival);
        batch_arrival = (uint64_t)rec.arrival_ms;
        assert_true(rec.arrival_ms <= 1000 + (int64_t)s);
    }
    assert_int_equal(wal_reader_next(r, &rec), 0);
    /* Seek back into the middle. */
    assert_int_equal(wal_reader_seek(r, 4999), 0);
    assert_int_equal(wal_reader_next(r, &rec), 1);
    assert_int_equal(rec.seq, 4999);
    assert_int_equal(wal_reader_next(r, &rec), 1);
    assert_int_equal(rec.len, WAL_RECORD_MAX_LEN);
    assert_true(content_ok(rec.data, rec.len, 5000));
    wal_reader_close(r);
    wal_close(w);
    hy_free(pool);
    tmpdir_free(dir);
}

static void test_wal_reopen_continues_sequence(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    for (uint64_t i = 1; i <= 20; i++)
        assert_int_equal(append_durable(w, len_small(i), i), i);
    wal_close(w);

    w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 21);
    assert_int_equal(append_durable(w, len_small(21), 21), 21);
    assert_int_equal(read_all(w, 1, len_small), 21);
    assert_int_equal(wal_retained_bytes(w), dir_seg_bytes(dir));
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_reader_returns_only_durable_records_and_sees_new_ones(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    struct wal_reader *r;
    struct wal_record rec;
    struct tally t = {0};
    uint8_t data[8];
    struct wal_rec wr = {data, sizeof(data)};
    uint64_t seq;

    assert_int_equal(wal_reader_open(w, 1, &r), 0);
    assert_int_equal(wal_reader_next(r, &rec), 0);
    fill(data, sizeof(data), 1);
    wal_test_pause(w, 1);
    assert_int_equal(wal_append(w, &wr, 1, 1001, &seq, tally_done, &t), 0);
    wait_held(w);
    /* Appended but not synced: invisible. */
    assert_int_equal(wal_reader_next(r, &rec), 0);
    assert_int_equal(wal_wait(w, 1, 20), 0);
    wal_test_pause(w, 0);
    tally_wait(&t, 1);
    assert_int_equal(wal_wait(w, 1, 0), 1);
    assert_int_equal(wal_reader_next(r, &rec), 1);
    assert_int_equal(rec.seq, 1);
    assert_int_equal(rec.len, sizeof(data));
    assert_true(content_ok(rec.data, rec.len, 1));
    assert_int_equal(wal_reader_next(r, &rec), 0);
    wal_reader_close(r);
    wal_close(w);
    tmpdir_free(dir);
}

/* Everything one pass of a reader from from_seq returns: record seqs (content checked against
 * id == seq) and damaged spans, until it says nothing more is durable. */
#define PASS_MAX 512
struct pass {
    uint64_t seqs[PASS_MAX];
    int n;
    struct wal_damage dmg[8];
    uint8_t dmg_bytes[8][256];
    int nd;
};

static void read_pass(struct wal *w, uint64_t from_seq, struct pass *p)
{
    struct wal_reader *r;
    struct wal_record rec;
    int rc = 0;
    memset(p, 0, sizeof(*p));
    assert_int_equal(wal_reader_open(w, from_seq, &r), 0);
    for (int guard = 0; guard < PASS_MAX; guard++) {
        rc = wal_reader_next(r, &rec);
        if (rc == 0)
            break;
        if (rc == WAL_READ_DAMAGED) {
            const struct wal_damage *d = wal_reader_damage(r);
            assert_true(p->nd < 8);
            assert_true(d->data_len <= d->len);
            p->dmg[p->nd] = *d;
            if (d->data_len)
                memcpy(p->dmg_bytes[p->nd], d->data, d->data_len < 256 ? d->data_len : 256);
            p->nd++;
            continue;
        }
        assert_int_equal(rc, 1);
        assert_true(p->n == 0 || rec.seq > p->seqs[p->n - 1]);
        assert_int_equal(rec.arrival_ms, 1000 + (int64_t)rec.seq);
        assert_true(content_ok(rec.data, rec.len, rec.seq));
        p->seqs[p->n++] = rec.seq;
    }
    assert_int_equal(rc, 0);
    wal_reader_close(r);
}

static struct wal_damage_stats damage_stats(struct wal *w)
{
    struct wal_damage_stats st;
    wal_damage_stats_get(w, &st);
    return st;
}

/* Frames of these lengths make the file cut at every byte below. */
static const size_t torn_lens[] = {0, 5, 300, 1};

static size_t len_torn(uint64_t seq)
{
    return torn_lens[seq - 1];
}

static void test_wal_recovery_cuts_torn_tail_at_every_offset(void **state)
{
    char *src = tmpdir_new();
    struct wal *w = open_wal(src, 0);
    size_t nrec = sizeof(torn_lens) / sizeof(torn_lens[0]);
    size_t bounds[8] = {0};
    for (size_t i = 0; i < nrec; i++) {
        append_durable(w, torn_lens[i], i + 1);
        bounds[i + 1] = bounds[i] + WAL_FRAME_HDR_LEN + torn_lens[i];
    }
    wal_close(w);
    char path[512];
    size_t full_len;
    snprintf(path, sizeof(path), "%s/00000000000000000001.seg", src);
    uint8_t *full = read_file(path, &full_len);
    assert_int_equal(full_len, bounds[nrec]);

    for (size_t cut = 0; cut <= full_len; cut++) {
        char *dir = tmpdir_new();
        snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
        write_file(path, full, cut);
        size_t whole = 0;
        while (whole < nrec && bounds[whole + 1] <= cut)
            whole++;
        size_t torn = cut - bounds[whole];
        /* A torn tail's seqs are never handed out again: the log continues past every frame
         * the torn bytes could have held. */
        uint64_t next = whole + 1 + (torn ? torn / WAL_FRAME_HDR_LEN + 1 : 0);

        w = open_wal(dir, 0);
        assert_int_equal(wal_durable_next(w), next);
        assert_int_equal(file_size(dir, "00000000000000000001.seg"), (off_t)bounds[whole]);
        assert_int_equal(wal_retained_bytes(w), bounds[whole]);
        assert_int_equal(damage_stats(w).cuts, torn ? 1 : 0);
        assert_int_equal(damage_stats(w).cut_bytes, torn);
        assert_int_equal(damage_stats(w).spans, 0);
        if (torn) {
            /* The cut bytes were kept aside first. */
            char kept[600];
            size_t kept_len;
            snprintf(kept, sizeof(kept), "%s/damaged/00000000000000000001-%zu.bin", dir,
                     bounds[whole]);
            uint8_t *k = read_file(kept, &kept_len);
            assert_int_equal(kept_len, torn);
            assert_memory_equal(k, full + bounds[whole], torn);
            hy_free(k);
        }
        /* The reader skips the gap silently. */
        assert_int_equal(read_all(w, 1, len_torn), whole);
        assert_int_equal(append_durable(w, 7, next), next);
        wal_close(w);

        w = open_wal(dir, 0);
        assert_int_equal(wal_durable_next(w), next + 1);
        struct pass p;
        read_pass(w, 1, &p);
        assert_int_equal(p.nd, 0);
        assert_int_equal(p.n, whole + 1);
        for (size_t i = 0; i < whole; i++)
            assert_int_equal(p.seqs[i], i + 1);
        assert_int_equal(p.seqs[whole], next);
        wal_close(w);
        tmpdir_free(dir);
    }
    hy_free(full);
    tmpdir_free(src);
}

static void test_wal_recovery_keeps_intact_frames_after_a_corrupt_one(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    for (uint64_t i = 1; i <= 5; i++)
        append_durable(w, 10, i);
    wal_close(w);

    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
    uint8_t *data = read_file(path, &len);
    assert_int_equal(len, 5 * 34);
    data[2 * 34 + WAL_FRAME_HDR_LEN + 5] ^= 0x40; /* record 3's data */
    write_file(path, data, len);

    w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 6); /* nothing cut, no seq reused */
    assert_int_equal(file_size(dir, "00000000000000000001.seg"), 5 * 34);
    assert_int_equal(damage_stats(w).spans, 1);
    assert_int_equal(damage_stats(w).bytes, 34);
    assert_int_equal(damage_stats(w).cuts, 0);
    struct pass p;
    read_pass(w, 1, &p);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.seqs[0], 1);
    assert_int_equal(p.seqs[1], 2);
    assert_int_equal(p.seqs[2], 4);
    assert_int_equal(p.seqs[3], 5);
    assert_int_equal(p.nd, 1);
    assert_int_equal(p.dmg[0].first_seq, 3);
    assert_int_equal(p.dmg[0].seq_count, 1);
    assert_int_equal(p.dmg[0].segment, 1);
    assert_int_equal(p.dmg[0].offset, 2 * 34);
    assert_int_equal(p.dmg[0].len, 34);
    assert_int_equal(p.dmg[0].data_len, 34);
    assert_memory_equal(p.dmg_bytes[0], data + 2 * 34, 34);
    assert_int_equal(damage_stats(w).spans, 1); /* found at open and by the reader: once */
    assert_int_equal(append_durable(w, 10, 6), 6);
    wal_close(w);
    hy_free(data);

    /* A length field past 16 MiB is corrupt without looking further; the scan resyncs. */
    uint8_t *cur = read_file(path, &len);
    wal_put_u32(cur + 34, 0xFFFFFFFFu);
    write_file(path, cur, len);
    w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 7);
    read_pass(w, 1, &p);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.nd, 1); /* adjacent bad frames make one span */
    assert_int_equal(p.dmg[0].first_seq, 2);
    assert_int_equal(p.dmg[0].seq_count, 2);
    assert_int_equal(p.dmg[0].offset, 34);
    assert_int_equal(p.dmg[0].len, 2 * 34);
    assert_int_equal(p.seqs[3], 6);
    wal_close(w);
    hy_free(cur);
    tmpdir_free(dir);
}

static void test_wal_recovery_treats_frame_with_impossible_seq_as_torn(void **state)
{
    char *dir = tmpdir_new();
    char path[512];
    uint8_t frames[3 * WAL_FRAME_HDR_LEN];
    /* Seqs 1, 2, 4: valid CRCs, but 4 cannot sit 2 headers into a segment starting at 1. */
    wal_frame_encode(frames, 1, 1001, NULL, 0, 0);
    wal_frame_encode(frames + 24, 2, 1002, NULL, 0, 0);
    wal_frame_encode(frames + 48, 4, 1004, NULL, 0, 0);
    snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
    write_file(path, frames, sizeof(frames));
    struct wal *w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 3 + 24 / WAL_FRAME_HDR_LEN + 1);
    assert_int_equal(read_all(w, 1, NULL), 2);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_intact_frame_after_vanished_frames_is_kept_and_gap_reported(void **state)
{
    char *dir = tmpdir_new();
    char path[512];
    uint8_t frames[4 * (WAL_FRAME_HDR_LEN + 30)], d[30];
    size_t off = 0;
    uint64_t seqs[] = {1, 2, 4, 5};
    for (int i = 0; i < 4; i++) {
        fill(d, sizeof(d), seqs[i]);
        wal_frame_encode(frames + off, seqs[i], 1000 + (int64_t)seqs[i], d, 30,
                         crc32c(0, d, sizeof(d)));
        off += WAL_FRAME_HDR_LEN + 30;
    }
    snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
    write_file(path, frames, off);
    struct wal *w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 6);
    struct pass p;
    read_pass(w, 1, &p);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.seqs[2], 4);
    assert_int_equal(p.nd, 1);
    assert_int_equal(p.dmg[0].first_seq, 3);
    assert_int_equal(p.dmg[0].seq_count, 1);
    assert_int_equal(p.dmg[0].offset, 2 * (WAL_FRAME_HDR_LEN + 30));
    assert_int_equal(p.dmg[0].len, 0);
    wal_close(w);
    tmpdir_free(dir);
}

/* Repro: a byte flipped at half the last segment's size lost every later record and the next
 * append reused an acknowledged seq. */
static void test_wal_mid_segment_flip_in_last_segment_loses_nothing_intact(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    for (uint64_t i = 1; i <= 400; i++)
        append_durable(w, 100, i);
    wal_close(w);
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
    uint8_t *data = read_file(path, &len);
    data[len / 2] ^= 0x10;
    write_file(path, data, len);
    hy_free(data);
    size_t frame = WAL_FRAME_HDR_LEN + 100;
    uint64_t hit = len / 2 / frame + 1;

    w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 401);
    assert_int_equal(file_size(dir, "00000000000000000001.seg"), (off_t)len);
    struct pass p;
    read_pass(w, 1, &p);
    assert_int_equal(p.n, 399);
    for (int i = 0; i < p.n; i++)
        assert_int_equal(p.seqs[i], (uint64_t)i + 1 + ((uint64_t)i + 1 >= hit));
    assert_int_equal(p.nd, 1);
    assert_int_equal(p.dmg[0].first_seq, hit);
    assert_int_equal(p.dmg[0].seq_count, 1);
    assert_int_equal(p.dmg[0].offset, (hit - 1) * frame);
    assert_int_equal(p.dmg[0].len, frame);
    /* A reader positioned past the damage does not see it. */
    read_pass(w, hit + 1, &p);
    assert_int_equal(p.nd, 0);
    assert_int_equal(p.n, 400 - hit);
    assert_int_equal(append_durable(w, 100, 401), 401); /* above every seq ever written */
    wal_close(w);
    tmpdir_free(dir);
}

/* Repro: a corrupt frame in an earlier segment made every read fail with HY_ECORRUPT. */
static void test_wal_flip_in_first_of_several_segments_is_reported_then_passed(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 4096);
    uint64_t firsts[64];
    for (uint64_t i = 1; i <= 300; i++)
        append_durable(w, 100, i);
    wal_close(w);
    int nseg = list_segs(dir, firsts, 64);
    assert_true(nseg >= 4);
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
    uint8_t *data = read_file(path, &len);
    data[len / 2] ^= 0x01;
    /* And the last frame of the first segment, whose span then runs to the next segment. */
    data[len - 3] ^= 0x01;
    write_file(path, data, len);
    hy_free(data);
    size_t frame = WAL_FRAME_HDR_LEN + 100;
    uint64_t hit = len / 2 / frame + 1;

    w = open_wal(dir, 4096);
    assert_int_equal(wal_durable_next(w), 301);
    struct pass p;
    read_pass(w, 1, &p);
    assert_int_equal(p.n, 298);
    assert_int_equal(p.nd, 2);
    assert_int_equal(p.dmg[0].first_seq, hit);
    assert_int_equal(p.dmg[0].seq_count, 1);
    assert_int_equal(p.dmg[1].first_seq, firsts[1] - 1);
    assert_int_equal(p.dmg[1].seq_count, 1);
    assert_int_equal(p.dmg[1].offset + p.dmg[1].len, len);
    assert_int_equal(p.seqs[p.n - 1], 300);
    assert_int_equal(damage_stats(w).spans, 2);
    /* A second pass reports the same spans again, but they are counted once. */
    read_pass(w, 1, &p);
    assert_int_equal(p.nd, 2);
    assert_int_equal(damage_stats(w).spans, 2);
    assert_int_equal(damage_stats(w).bytes, 2 * frame);
    /* Consumers trim past the damage normally. */
    assert_int_equal(wal_trim(w, firsts[1]), 0);
    read_pass(w, firsts[1], &p);
    assert_int_equal(p.nd, 0);
    assert_int_equal(p.n, 300 - firsts[1] + 1);
    wal_close(w);
    tmpdir_free(dir);
}

/* Record lengths of the sweep log: segments of 100 bytes make [1..3] [4..6] [7..8]. */
static const size_t sweep_lens[] = {10, 0, 50, 3, 40, 7, 24, 1};
#define SWEEP_N 8

/* Flip a bit in every byte of a small three-segment log in turn: header len, crc, seq,
 * arrival and data of every frame, first/middle/last frames of earlier segments and of the
 * last. After reopen every intact record is read exactly once and the damaged one is reported
 * (or, as the last frame of the last segment, cut and kept aside), and no seq is reused. */
static void test_wal_corruption_sweep_reads_every_intact_record_once(void **state)
{
    char *src = tmpdir_new();
    struct wal *w = open_wal(src, 100);
    for (uint64_t i = 1; i <= SWEEP_N; i++)
        append_durable(w, sweep_lens[i - 1], i);
    wal_close(w);
    uint64_t firsts[8];
    int nseg = list_segs(src, firsts, 8);
    assert_int_equal(nseg, 3);
    assert_int_equal(firsts[1], 4);
    assert_int_equal(firsts[2], 7);
    uint8_t *segs[3];
    size_t seg_len[3];
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%020llu.seg", src, (unsigned long long)firsts[i]);
        segs[i] = read_file(path, &seg_len[i]);
    }

    int cases = 0;
    for (int s = 0; s < 3; s++) {
        for (size_t at = 0; at < seg_len[s]; at++) {
            /* Which frame holds byte at, and where it starts. */
            uint64_t seq = firsts[s];
            size_t fstart = 0;
            while (fstart + WAL_FRAME_HDR_LEN + sweep_lens[seq - 1] <= at) {
                fstart += WAL_FRAME_HDR_LEN + sweep_lens[seq - 1];
                seq++;
            }
            size_t flen = WAL_FRAME_HDR_LEN + sweep_lens[seq - 1];
            uint8_t bit = (uint8_t)(1u << (at % 8));
            int cut = s == 2 && seq == SWEEP_N;

            char *dir = tmpdir_new();
            segs[s][at] ^= bit;
            for (int i = 0; i < 3; i++) {
                char path[512];
                snprintf(path, sizeof(path), "%s/%020llu.seg", dir, (unsigned long long)firsts[i]);
                write_file(path, segs[i], seg_len[i]);
            }
            segs[s][at] ^= bit;
            w = open_wal(dir, 100);
            uint64_t next = cut ? SWEEP_N + flen / WAL_FRAME_HDR_LEN + 1 : SWEEP_N + 1;
            assert_int_equal(wal_durable_next(w), next);
            struct pass p;
            read_pass(w, 1, &p);
            assert_int_equal(p.n, SWEEP_N - 1);
            for (int i = 0; i < p.n; i++)
                assert_int_equal(p.seqs[i], (uint64_t)i + 1 + ((uint64_t)i + 1 >= seq));
            struct wal_damage_stats st = damage_stats(w);
            if (cut) {
                assert_int_equal(p.nd, 0);
                assert_int_equal(st.cuts, 1);
                assert_int_equal(st.cut_bytes, flen);
            } else {
                assert_int_equal(p.nd, 1);
                assert_int_equal(p.dmg[0].first_seq, seq);
                assert_int_equal(p.dmg[0].seq_count, 1);
                assert_int_equal(p.dmg[0].segment, firsts[s]);
                assert_int_equal(p.dmg[0].offset, fstart);
                assert_int_equal(p.dmg[0].len, flen);
                assert_int_equal(p.dmg[0].data_len, flen);
                assert_int_equal(p.dmg_bytes[0][at - fstart], segs[s][at] ^ bit);
                assert_int_equal(st.spans, 1);
                assert_int_equal(st.bytes, flen);
            }
            assert_int_equal(append_durable(w, 5, next), next);
            wal_close(w);
            tmpdir_free(dir);
            cases++;
        }
    }
    assert_int_equal(cases, (int)(seg_len[0] + seg_len[1] + seg_len[2]));
    for (int i = 0; i < 3; i++)
        hy_free(segs[i]);
    tmpdir_free(src);
}

static void test_wal_rolls_segments_and_reader_crosses_them(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 4096);
    uint64_t firsts[256];

    for (uint64_t i = 1; i <= 300; i++)
        assert_int_equal(append_durable(w, len_small(i), i), i);
    int n = list_segs(dir, firsts, 256);
    assert_true(n > 3);
    assert_int_equal(firsts[0], 1);
    for (int i = 0; i + 1 < n; i++) {
        char name[WAL_SEG_NAME_LEN];
        wal_seg_name(name, firsts[i]);
        /* A segment rolls once it holds segment_bytes; each batch here is one small record. */
        assert_true(file_size(dir, name) >= 4096);
        assert_true(file_size(dir, name) < 4096 + WAL_FRAME_HDR_LEN + 200);
    }
    assert_int_equal(read_all(w, 1, len_small), 300);
    assert_int_equal(read_all(w, firsts[2], len_small), 300 - firsts[2] + 1);
    assert_int_equal(read_all(w, firsts[2] + 3, len_small), 300 - firsts[2] - 2);
    assert_int_equal(wal_retained_bytes(w), dir_seg_bytes(dir));

    /* A reader that reached the end of a segment follows the roll. */
    struct wal_reader *r;
    struct wal_record rec;
    assert_int_equal(wal_reader_open(w, 300, &r), 0);
    assert_int_equal(wal_reader_next(r, &rec), 1);
    assert_int_equal(wal_reader_next(r, &rec), 0);
    uint64_t k = 301;
    while (list_segs(dir, firsts, 256) == n) {
        assert_int_equal(append_durable(w, len_small(k), k), k);
        k++;
    }
    for (uint64_t s = 301; s < k; s++) {
        assert_int_equal(wal_reader_next(r, &rec), 1);
        assert_int_equal(rec.seq, s);
        assert_true(content_ok(rec.data, rec.len, s));
    }
    assert_int_equal(wal_reader_next(r, &rec), 0);
    wal_reader_close(r);
    wal_close(w);

    /* Reopen: earlier segments are trusted by name, the sequence continues. */
    w = open_wal(dir, 4096);
    assert_int_equal(wal_durable_next(w), k);
    assert_int_equal(append_durable(w, len_small(k), k), k);
    assert_int_equal(read_all(w, 1, len_small), k);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_trim_deletes_only_fully_passed_segments(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 2048);
    uint64_t firsts[256], after[256];

    for (uint64_t i = 1; i <= 200; i++)
        append_durable(w, len_small(i), i);
    int n = list_segs(dir, firsts, 256);
    assert_true(n >= 6);

    /* A reader positioned in segment 0 keeps its file open across the trim. */
    struct wal_reader *early, *late;
    struct wal_record rec;
    assert_int_equal(wal_reader_open(w, 1, &early), 0);
    assert_int_equal(wal_reader_next(early, &rec), 1);
    assert_int_equal(wal_reader_open(w, firsts[4], &late), 0);
    assert_int_equal(wal_reader_next(late, &rec), 1);

    /* min_seq one past segment 3's start: segments 0..2 are fully passed, 3 is not. */
    assert_int_equal(wal_trim(w, firsts[3] + 1), 0);
    int m = list_segs(dir, after, 256);
    assert_int_equal(m, n - 3);
    assert_int_equal(after[0], firsts[3]);
    assert_int_equal(wal_retained_bytes(w), dir_seg_bytes(dir));

    /* Exactly at a boundary: segment 3 (all below firsts[4]) goes too. */
    assert_int_equal(wal_trim(w, firsts[4]), 0);
    assert_int_equal(list_segs(dir, after, 256), n - 4);

    /* The early reader was left behind min_seq: it finishes the file it holds, then finds the
     * following records gone. */
    for (uint64_t s = 2; s < firsts[1]; s++) {
        assert_int_equal(wal_reader_next(early, &rec), 1);
        assert_int_equal(rec.seq, s);
        assert_true(content_ok(rec.data, rec.len, s));
    }
    assert_int_equal(wal_reader_next(early, &rec), HY_ENOTFOUND);
    for (uint64_t s = firsts[4] + 1; s <= 200; s++) {
        assert_int_equal(wal_reader_next(late, &rec), 1);
        assert_int_equal(rec.seq, s);
    }
    wal_reader_close(early);
    wal_reader_close(late);

    struct wal_reader *r;
    assert_int_equal(wal_reader_open(w, 1, &r), HY_ENOTFOUND);
    assert_int_equal(read_all(w, firsts[4], len_small), 200 - firsts[4] + 1);

    /* The active segment is never deleted. */
    assert_int_equal(wal_trim(w, UINT64_MAX), 0);
    assert_int_equal(list_segs(dir, after, 256), 1);
    assert_int_equal(after[0], firsts[n - 1]);
    assert_int_equal(wal_retained_bytes(w), dir_seg_bytes(dir));
    assert_int_equal(read_all(w, firsts[n - 1], len_small), 200 - firsts[n - 1] + 1);
    wal_close(w);

    w = open_wal(dir, 2048);
    assert_int_equal(wal_durable_next(w), 201);
    assert_int_equal(append_durable(w, len_small(201), 201), 201);
    assert_int_equal(read_all(w, firsts[n - 1], len_small), 201 - firsts[n - 1] + 1);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_trim_of_everything_keeps_empty_active_segment(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 100);
    uint64_t firsts[16];
    for (uint64_t i = 1; i <= 3; i++)
        append_durable(w, 100, i);
    /* Each 124-byte record filled a segment; the 4th batch would open 00..04.seg. */
    assert_int_equal(list_segs(dir, firsts, 16), 3);
    assert_int_equal(wal_trim(w, 4), 0);
    assert_int_equal(list_segs(dir, firsts, 16), 1);
    assert_int_equal(firsts[0], 3);
    wal_close(w);
    w = open_wal(dir, 100);
    assert_int_equal(wal_durable_next(w), 4);
    assert_int_equal(append_durable(w, 10, 4), 4);
    assert_int_equal(wal_trim(w, 5), 0);
    assert_int_equal(list_segs(dir, firsts, 16), 1);
    assert_int_equal(firsts[0], 4);
    wal_close(w);
    /* An empty last segment names where the log continues. */
    char path[512];
    snprintf(path, sizeof(path), "%s/00000000000000000004.seg", dir);
    assert_int_equal(truncate(path, 0), 0);
    w = open_wal(dir, 100);
    assert_int_equal(wal_durable_next(w), 4);
    assert_int_equal(read_all(w, 4, NULL), 0);
    assert_int_equal(append_durable(w, 10, 4), 4);
    assert_int_equal(read_all(w, 4, NULL), 1);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_reader_moves_on_when_its_segment_is_trimmed_after_a_roll(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 100);
    struct wal_reader *r;
    struct wal_record rec;

    append_durable(w, 100, 1);
    assert_int_equal(wal_reader_open(w, 1, &r), 0);
    assert_int_equal(wal_reader_next(r, &rec), 1); /* its snapshot: segment 1 is the last */
    append_durable(w, 100, 2);                     /* rolls to segment 2 */
    append_durable(w, 100, 3);                     /* rolls to segment 3 */
    assert_int_equal(wal_trim(w, 2), 0);           /* deletes segment 1 under the reader */
    for (uint64_t s = 2; s <= 3; s++) {
        assert_int_equal(wal_reader_next(r, &rec), 1);
        assert_int_equal(rec.seq, s);
        assert_true(content_ok(rec.data, rec.len, s));
    }
    assert_int_equal(wal_reader_next(r, &rec), 0);
    wal_reader_close(r);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_append_over_quota_returns_equota(void **state)
{
    char *dir = tmpdir_new();
    struct wal_config cfg;
    struct wal *w;
    uint8_t data[1000];
    struct wal_rec r = {data, sizeof(data)};
    struct tally t = {0};
    uint64_t seq;
    int accepted = 0, rc;

    wal_config_default(&cfg);
    cfg.quota_bytes = 10 * 1024 + 34;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    memset(data, 7, sizeof(data));
    while ((rc = wal_append(w, &r, 1, 0, &seq, tally_done, &t)) == 0)
        accepted++;
    assert_int_equal(rc, HY_EQUOTA);
    assert_int_equal(accepted, 10); /* 10 frames of 1024 bytes fit, the 11th does not */
    tally_wait(&t, accepted);
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), HY_EQUOTA);
    /* All or nothing: a rejected append consumed no sequence number; 34 bytes still fit. */
    r.len = 10;
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), 0);
    assert_int_equal(seq, 11);
    tally_wait(&t, accepted + 1);
    assert_int_equal(t.errors, 0);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_append_rejects_busy_oversized_and_empty(void **state)
{
    char *dir = tmpdir_new();
    struct wal_config cfg;
    struct wal *w;
    static uint8_t data[WAL_RECORD_MAX_LEN + 1];
    struct wal_rec r = {data, 600};
    struct tally t = {0};
    uint64_t seq;

    wal_config_default(&cfg);
    cfg.max_pending_bytes = 1000;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    wal_test_pause(w, 1);
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), 0);
    wait_held(w);
    /* The held batch still counts as pending until synced. */
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), HY_EBUSY);
    wal_test_pause(w, 0);
    tally_wait(&t, 1);
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), 0);
    assert_int_equal(seq, 2);
    tally_wait(&t, 2);

    r.len = WAL_RECORD_MAX_LEN + 1;
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), HY_E2BIG);
    assert_int_equal(wal_append(w, &r, 0, 0, &seq, tally_done, &t), HY_EINVAL);
    wal_close(w);
    assert_int_equal(t.calls, 2);
    tmpdir_free(dir);
}

static void test_wal_group_commit_covers_queued_appends_with_one_sync(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    struct tally t = {0};
    uint8_t data[16] = {0};
    struct wal_rec r = {data, sizeof(data)};
    uint64_t seq;

    uint64_t s0 = wal_test_sync_count(w);
    wal_test_pause(w, 1);
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), 0);
    wait_held(w);
    for (int i = 0; i < 100; i++)
        assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), 0);
    assert_int_equal(t.calls, 0); /* nothing acknowledged before its sync */
    wal_test_pause(w, 0);
    tally_wait(&t, 101);
    assert_int_equal(t.errors, 0);
    assert_int_equal(wal_test_sync_count(w) - s0, 2);
    assert_int_equal(wal_durable_next(w), 102);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_write_failure_fails_batch_and_queue_and_reuses_seqs(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    struct tally ta = {0}, tb = {0};
    uint8_t data[2][100];
    struct wal_rec recs[2] = {{data[0], 100}, {data[1], 100}};
    uint64_t seq;

    for (uint64_t i = 1; i <= 3; i++)
        append_durable(w, len_small(i), i);
    off_t size0 = file_size(dir, "00000000000000000001.seg");
    uint64_t retained0 = wal_retained_bytes(w);

    fill(data[0], 100, 999);
    fill(data[1], 100, 998);
    wal_test_pause(w, 1);
    assert_int_equal(wal_append(w, recs, 2, 0, &seq, tally_done, &ta), 0);
    assert_int_equal(seq, 4);
    wait_held(w);
    assert_int_equal(wal_append(w, recs, 1, 0, &seq, tally_done, &tb), 0);
    assert_int_equal(seq, 6);
    wal_test_fail_writes(w, ENOSPC);
    wal_test_pause(w, 0);
    tally_wait(&ta, 1);
    tally_wait(&tb, 1);
    assert_int_equal(ta.last_status, -ENOSPC);
    assert_int_equal(tb.last_status, -ENOSPC);
    assert_int_equal(wal_durable_next(w), 4);
    assert_int_equal(wal_retained_bytes(w), retained0);
    /* The hook left half a batch on disk; it was cut. */
    assert_int_equal(file_size(dir, "00000000000000000001.seg"), size0);

    /* The disk is back: the next append reuses seq 4. */
    assert_int_equal(append_durable(w, len_small(4), 4), 4);
    assert_int_equal(read_all(w, 1, len_small), 4);
    wal_close(w);
    w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 5);
    assert_int_equal(read_all(w, 1, len_small), 4);
    wal_close(w);
    tmpdir_free(dir);
}

static void test_wal_write_failure_right_after_roll_keeps_log_consistent(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 64);
    struct tally t = {0};
    uint8_t data[100];
    struct wal_rec r = {data, 100};
    uint64_t seq;

    append_durable(w, 100, 1); /* fills segment 1 past 64 bytes */
    wal_test_fail_writes(w, EIO);
    assert_int_equal(wal_append(w, &r, 1, 0, &seq, tally_done, &t), 0);
    tally_wait(&t, 1);
    assert_int_equal(t.last_status, -EIO);
    assert_int_equal(file_size(dir, "00000000000000000002.seg"), 0);
    struct wal_reader *rd;
    struct wal_record rec;
    assert_int_equal(wal_reader_open(w, 1, &rd), 0);
    assert_int_equal(wal_reader_next(rd, &rec), 1);
    assert_int_equal(wal_reader_next(rd, &rec), 0);
    /* The reader follows into the new segment once a write there succeeds. */
    assert_int_equal(append_durable(w, 50, 2), 2);
    assert_int_equal(wal_reader_next(rd, &rec), 1);
    assert_int_equal(rec.seq, 2);
    wal_reader_close(rd);
    wal_close(w);
    w = open_wal(dir, 64);
    assert_int_equal(wal_durable_next(w), 3);
    assert_int_equal(append_durable(w, 50, 3), 3);
    assert_int_equal(read_all(w, 1, NULL), 3);
    wal_close(w);
    tmpdir_free(dir);
}

struct close_ctx {
    struct wal *w;
    int calls;
    int status;
    int append_rc;
};

static void close_done(void *arg, int status)
{
    struct close_ctx *c = arg;
    uint8_t b = 0;
    struct wal_rec r = {&b, 1};
    uint64_t seq;
    c->status = status;
    c->append_rc = wal_append(c->w, &r, 1, 0, &seq, NULL, NULL);
    c->calls++;
}

static void test_wal_close_flushes_pending_and_rejects_later_appends(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    struct close_ctx c = {w, 0, 1, 0};
    uint8_t b = 42;
    struct wal_rec r = {&b, 1};
    uint64_t seq;

    wal_test_pause(w, 1);
    assert_int_equal(wal_append(w, &r, 1, 1001, &seq, close_done, &c), 0);
    wait_held(w);
    wal_close(w); /* releases the pause, writes, calls back, then stops */
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.append_rc, HY_ECLOSED);
    w = open_wal(dir, 0);
    assert_int_equal(wal_durable_next(w), 2);
    wal_close(w);
    tmpdir_free(dir);
}

struct waiter_ctx {
    struct wal *w;
    int rc;
    int64_t elapsed_ms;
};

static void *waiter_main(void *arg)
{
    struct waiter_ctx *c = arg;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    c->rc = wal_wait(c->w, 1, 10000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    c->elapsed_ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    return NULL;
}

static void test_wal_wait_times_out_and_wakes(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 0);
    struct timespec a, b;
    pthread_t th;

    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(wal_wait(w, 1, 50), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    int64_t ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_true(ms >= 45);

    struct waiter_ctx c = {w, -1, 0};
    assert_int_equal(pthread_create(&th, NULL, waiter_main, &c), 0);
    sleep_ms(50);
    wal_wake(w);
    pthread_join(th, NULL);
    assert_int_equal(c.rc, 0);
    assert_true(c.elapsed_ms < 5000);

    c.rc = -1;
    assert_int_equal(pthread_create(&th, NULL, waiter_main, &c), 0);
    append_durable(w, 1, 1);
    pthread_join(th, NULL);
    assert_int_equal(c.rc, 1);
    wal_close(w);
    tmpdir_free(dir);
}

/* ---- concurrency -------------------------------------------------------------------------- */

#define CONC_PER_THREAD 20000

struct writer_ctx {
    struct wal *w;
    uint8_t id;
    int appends;
    struct tally t;
};

static void *writer_main(void *arg)
{
    struct writer_ctx *c = arg;
    uint8_t bufs[20][300];
    struct wal_rec recs[20];
    uint32_t counter = 0;
    unsigned rnd = c->id * 7919u + 1;

    while (counter < CONC_PER_THREAD) {
        rnd = rnd * 1103515245u + 12345u;
        size_t n = 1 + (rnd >> 16) % 20;
        if (n > CONC_PER_THREAD - counter)
            n = CONC_PER_THREAD - counter;
        for (size_t i = 0; i < n; i++) {
            uint32_t k = counter + (uint32_t)i;
            size_t len = 5 + (k * 31u + c->id) % 290;
            bufs[i][0] = c->id;
            wal_put_u32(&bufs[i][1], k);
            fill(&bufs[i][5], len - 5, k);
            recs[i].data = bufs[i];
            recs[i].len = len;
        }
        uint64_t seq;
        int rc;
        while ((rc = wal_append(c->w, recs, n, 0, &seq, tally_done, &c->t)) == HY_EBUSY)
            sleep_ms(1);
        if (rc != 0)
            return (void *)1;
        c->appends++;
        counter += (uint32_t)n;
    }
    return NULL;
}

struct reader_ctx {
    struct wal *w;
    uint64_t count;
    uint32_t next[2];
    int bad;
};

static void *reader_main(void *arg)
{
    struct reader_ctx *c = arg;
    struct wal_reader *r;
    struct wal_record rec;

    if (wal_reader_open(c->w, 1, &r) != 0) {
        c->bad = 1;
        return NULL;
    }
    while (c->count < 2 * CONC_PER_THREAD && !c->bad) {
        int rc = wal_reader_next(r, &rec);
        if (rc == 0) {
            wal_wait(c->w, 1 + c->count, 100);
            continue;
        }
        if (rc < 0 || rec.seq != c->count + 1 || rec.len < 5 || rec.data[0] > 1) {
            c->bad = 2;
            break;
        }
        uint8_t id = rec.data[0];
        uint32_t k = wal_get_u32(rec.data + 1);
        if (k != c->next[id] || rec.len != 5 + (k * 31u + id) % 290 ||
            !content_ok(rec.data + 5, rec.len - 5, k)) {
            c->bad = 3;
            break;
        }
        c->next[id]++;
        c->count++;
    }
    wal_reader_close(r);
    return NULL;
}

static void test_wal_concurrent_appends_with_reader_are_dense_and_grouped(void **state)
{
    char *dir = tmpdir_new();
    struct wal *w = open_wal(dir, 256 * 1024);
    struct writer_ctx wc[2] = {{w, 0, 0, {0}}, {w, 1, 0, {0}}};
    struct reader_ctx rc = {w, 0, {0, 0}, 0};
    pthread_t wt[2], rt;
    void *ret;

    assert_int_equal(pthread_create(&rt, NULL, reader_main, &rc), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &wc[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(wt[i], &ret);
        assert_null(ret);
    }
    pthread_join(rt, NULL);
    assert_int_equal(rc.bad, 0);
    assert_int_equal(rc.count, 2 * CONC_PER_THREAD);
    int appends = wc[0].appends + wc[1].appends;
    for (int i = 0; i < 2; i++) {
        tally_wait(&wc[i].t, wc[i].appends);
        assert_int_equal(wc[i].t.errors, 0);
    }
    uint64_t syncs = wal_test_sync_count(w);
    print_message("concurrent: %d appends, %llu syncs\n", appends, (unsigned long long)syncs);
    assert_true(syncs < (uint64_t)appends);
    assert_int_equal(wal_durable_next(w), 2 * CONC_PER_THREAD + 1);
    wal_close(w);
    tmpdir_free(dir);
}

/* ---- allocation failures -------------------------------------------------------------------- */

static void test_wal_survives_every_allocation_failure(void **state)
{
    for (unsigned long n = 1; n < 40; n++) {
        char *dir = tmpdir_new();
        struct wal_config cfg;
        struct wal *w = NULL;
        struct tally t = {0};
        uint8_t data[3][50];
        struct wal_rec recs[3] = {{data[0], 50}, {data[1], 10}, {data[2], 0}};
        uint64_t seq;

        wal_config_default(&cfg);
        cfg.segment_bytes = 64;
        for (int i = 0; i < 3; i++)
            fill(data[i], 50, (uint64_t)i + 1);
        int accepted = 0;
        hy_mem_fail_at(n);
        if (wal_open(dir, &cfg, &w) == 0) {
            for (int round = 0; round < 3; round++)
                if (wal_append(w, recs, 3, 0, &seq, tally_done, &t) == 0)
                    tally_wait(&t, ++accepted);
            struct wal_reader *r;
            if (wal_reader_open(w, 1, &r) == 0) {
                struct wal_record rec;
                uint64_t expect = 1;
                int rc;
                while ((rc = wal_reader_next(r, &rec)) == 1)
                    assert_int_equal(rec.seq, expect++);
                assert_true(rc == 0 || rc == HY_ENOMEM);
                wal_reader_close(r);
            }
            wal_trim(w, 4);
            wal_close(w);
        }
        hy_mem_fail_at(0);
        /* Whatever failed, the log reopens consistently. */
        uint64_t firsts[64] = {1};
        list_segs(dir, firsts, 64); /* none if the first open failed early */
        w = open_wal(dir, 64);
        assert_int_equal(count_readable(w, firsts[0]), wal_durable_next(w) - firsts[0]);
        assert_true(wal_durable_next(w) - 1 <= (uint64_t)(3 * (t.calls - t.errors)));
        wal_close(w);
        tmpdir_free(dir);
    }
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_round_trips_10000_records_of_varied_sizes),
        cmocka_unit_test(test_wal_reopen_continues_sequence),
        cmocka_unit_test(test_wal_reader_returns_only_durable_records_and_sees_new_ones),
        cmocka_unit_test(test_wal_recovery_cuts_torn_tail_at_every_offset),
        cmocka_unit_test(test_wal_recovery_keeps_intact_frames_after_a_corrupt_one),
        cmocka_unit_test(test_wal_recovery_treats_frame_with_impossible_seq_as_torn),
        cmocka_unit_test(test_wal_intact_frame_after_vanished_frames_is_kept_and_gap_reported),
        cmocka_unit_test(test_wal_mid_segment_flip_in_last_segment_loses_nothing_intact),
        cmocka_unit_test(test_wal_flip_in_first_of_several_segments_is_reported_then_passed),
        cmocka_unit_test(test_wal_corruption_sweep_reads_every_intact_record_once),
        cmocka_unit_test(test_wal_rolls_segments_and_reader_crosses_them),
        cmocka_unit_test(test_wal_trim_deletes_only_fully_passed_segments),
        cmocka_unit_test(test_wal_trim_of_everything_keeps_empty_active_segment),
        cmocka_unit_test(test_wal_reader_moves_on_when_its_segment_is_trimmed_after_a_roll),
        cmocka_unit_test(test_wal_append_over_quota_returns_equota),
        cmocka_unit_test(test_wal_append_rejects_busy_oversized_and_empty),
        cmocka_unit_test(test_wal_group_commit_covers_queued_appends_with_one_sync),
        cmocka_unit_test(test_wal_write_failure_fails_batch_and_queue_and_reuses_seqs),
        cmocka_unit_test(test_wal_write_failure_right_after_roll_keeps_log_consistent),
        cmocka_unit_test(test_wal_close_flushes_pending_and_rejects_later_appends),
        cmocka_unit_test(test_wal_wait_times_out_and_wakes),
        cmocka_unit_test(test_wal_concurrent_appends_with_reader_are_dense_and_grouped),
        cmocka_unit_test(test_wal_survives_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
