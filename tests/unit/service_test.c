/* Unit tests for src/core/service*.c: the real WAL backend, the real delivery consumer and the
 * local bucket store, plus a second consumer defined here (it counts records and keeps its own
 * cursor), to prove that consumers are independent and the log is trimmed below the slowest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "base/mem.h"
#include "base/slotfile.h"
#include "core/consumer.h"
#include "core/service.h"
#include "core/stats.h"
#include "deliver/delivery.h"
#include "sink/fssink.h"
#include "stream/streamlog.h"
#include "stream/wal.h"

#define POLL_MS 10000
#define REC_LEN 1000

/* ---------------------------------------------------------------- the counting consumer */

static _Atomic int count_hold;      /* 1: read but do not advance the cursor */
static _Atomic uint64_t count_seen; /* records read since the process started */

struct counter {
    struct streamlog *log;
    void (*advanced)(void *rt, uint64_t cursor);
    void *rt;
    struct slotfile state;
    _Atomic uint64_t cursor;
    _Atomic int stop;
    _Atomic int flush;
    pthread_t thread;
};

static int count_store(struct counter *c, uint64_t next)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%llu", (unsigned long long)next);
    return slotfile_write(&c->state, text, (size_t)n);
}

static void *count_main(void *arg)
{
    struct counter *c = arg;
    struct streamlog_reader *r = NULL;
    uint64_t next = atomic_load(&c->cursor);
    if (streamlog_reader_open(c->log, next, &r))
        return NULL;
    for (;;) {
        if (atomic_load(&count_hold)) {
            if (atomic_load(&c->stop))
                break;
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        struct streamlog_record rec;
        int rc = streamlog_reader_next(r, &rec);
        if (rc == 1) {
            atomic_fetch_add(&count_seen, 1);
            next = rec.seq + 1;
            /* Persist in steps (each store is an fdatasync), and whenever it goes idle. */
            if (next % 256 == 0 && count_store(c, next) == 0) {
                atomic_store(&c->cursor, next);
                c->advanced(c->rt, next);
            }
            continue;
        }
        if (next != atomic_load(&c->cursor) && count_store(c, next) == 0) {
            atomic_store(&c->cursor, next);
            c->advanced(c->rt, next);
        }
        if (atomic_load(&c->stop) &&
            (!atomic_load(&c->flush) || next >= streamlog_durable_next(c->log)))
            break;
        streamlog_wait(c->log, next, 20);
    }
    streamlog_reader_close(r);
    return NULL;
}

static int count_start(const struct consumer_env *env, void **state)
{
    struct counter *c = hy_calloc(1, sizeof *c);
    if (!c)
        return HY_ENOMEM;
    c->log = env->log;
    c->advanced = env->advanced;
    c->rt = env->rt;
    int rc = slotfile_open(&c->state, env->state_path);
    char text[32] = {0};
    size_t len = 0;
    if (rc == 0 && slotfile_read(&c->state, text, sizeof text - 1, &len) == 0 && len > 0)
        atomic_store(&c->cursor, strtoull(text, NULL, 10));
    else
        atomic_store(&c->cursor, 1);
    if (rc == 0 && pthread_create(&c->thread, NULL, count_main, c) != 0)
        rc = HY_ENOMEM;
    if (rc) {
        slotfile_close(&c->state);
        hy_free(c);
        return rc;
    }
    *state = c;
    return 0;
}

static uint64_t count_cursor(void *state)
{
    struct counter *c = state;
    return atomic_load(&c->cursor);
}

static uint64_t count_stop(void *state, int flush)
{
    struct counter *c = state;
    atomic_store(&c->flush, flush);
    atomic_store(&c->stop, 1);
    streamlog_wake(c->log);
    pthread_join(c->thread, NULL);
    uint64_t cur = atomic_load(&c->cursor);
    slotfile_close(&c->state);
    hy_free(c);
    return cur;
}

static const struct consumer_ops counting_consumer = {
    .name = "count",
    .start = count_start,
    .cursor = count_cursor,
    .stop = count_stop,
};

/* ---------------------------------------------------------------- fixture */

struct fixture {
    char root[64];
    char s3_root[96];
    struct service *svc;
    size_t max_streams;
    uint64_t quota_bytes;
    const struct consumer_ops *const *consumers; /* NULL: delivery and the counter */
    size_t nconsumers;
};

static const struct consumer_ops *const consumers[] = {&delivery_consumer, &counting_consumer};

static int open_svc(struct fixture *f)
{
    struct service_config cfg = {
        .data_dir = f->root,
        .quota_bytes = f->quota_bytes,
        .max_streams = f->max_streams,
        .log_backend = &wal_backend,
        .consumers = f->consumers ? f->consumers : consumers,
        .nconsumers = f->consumers ? f->nconsumers : 2,
        .sink = &fssink_ops,
        .sink_ctx = f->s3_root,
    };
    return service_open(&cfg, &f->svc);
}

static void close_svc(struct fixture *f)
{
    service_close(f->svc);
    f->svc = NULL;
}

static int setup(void **state)
{
    struct fixture *f = hy_calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/service_test.XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->s3_root, sizeof f->s3_root, "%s/s3", f->root);
    atomic_store(&count_hold, 0);
    atomic_store(&count_seen, 0);
    f->quota_bytes = 64u << 20;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    atomic_store(&count_hold, 0);
    close_svc(f);
    fsutil_remove_tree(f->root);
    hy_free(f);
    return 0;
}

static cJSON *dest_doc(void)
{
    return cJSON_Parse("{\"Kind\":\"ExtendedS3\",\"BucketARN\":\"arn:aws:s3:::b\","
                       "\"BufferingHints\":{\"SizeInMBs\":1,\"IntervalInSeconds\":0}}");
}

static struct service_stream *get(struct fixture *f, const char *name)
{
    struct service_stream *st = NULL;
    assert_int_equal(service_stream_get(f->svc, name, strlen(name), &st), 0);
    return st;
}

struct done {
    _Atomic int fired;
    _Atomic int status;
};

static void on_done(void *arg, int status, uint64_t first_seq)
{
    struct done *d = arg;
    atomic_store(&d->status, status);
    atomic_store(&d->fired, 1);
}

static int poll_until(int (*cond)(void *), void *arg)
{
    int64_t end = hytime_mono_ms() + POLL_MS;
    while (!cond(arg) && hytime_mono_ms() < end) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return cond(arg);
}

static int fired(void *arg)
{
    return atomic_load(&((struct done *)arg)->fired);
}

/* Append n records of REC_LEN bytes, one request each of up to 100; 0 or the first error. */
static int append_n(struct service_stream *st, int n)
{
    static char payload[REC_LEN];
    struct streamlog_rec recs[100];
    memset(payload, 'r', sizeof payload);
    for (int i = 0; i < 100; i++)
        recs[i] = (struct streamlog_rec){payload, REC_LEN};
    while (n > 0) {
        int k = n < 100 ? n : 100;
        struct done d = {0};
        struct streamlog_append a = {.recs = recs,
                                     .n = (size_t)k,
                                     .arrival_ms = hytime_now_ms(),
                                     .done = on_done,
                                     .arg = &d};
        int rc = service_append(st, &a);
        if (rc)
            return rc;
        assert_true(poll_until(fired, &d));
        if (atomic_load(&d.status))
            return atomic_load(&d.status);
        n -= k;
    }
    return 0;
}

static uint64_t want_seen;
static int seen_enough(void *arg)
{
    return atomic_load(&count_seen) >= want_seen;
}

static int delivered_all(void *arg)
{
    struct service_stream *st = arg;
    struct stream_stats *s = service_stream_stats(st);
    return atomic_load(&s->delivery_records) >= want_seen;
}

static int file_exists(const char *root, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return access(p, F_OK) == 0;
}

/* ---------------------------------------------------------------- tests */

static void test_two_consumers_each_read_every_record_with_their_own_cursor(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_svc(f), 0);
    assert_int_equal(service_stream_create(f->svc, "s1", dest_doc(), NULL), 0);
    struct service_stream *st = get(f, "s1");
    assert_int_equal(append_n(st, 250), 0);
    want_seen = 250;
    assert_true(poll_until(seen_enough, NULL));
    assert_true(poll_until(delivered_all, st));
    service_stream_unref(st);
    assert_true(file_exists(f->root, "streams/s1/consumers/delivery.state"));
    assert_true(file_exists(f->root, "streams/s1/consumers/count.state"));
    /* After a restart each consumer resumes at its own cursor: nothing is read twice. */
    close_svc(f);
    assert_int_equal(open_svc(f), 0);
    st = get(f, "s1");
    assert_int_equal(append_n(st, 10), 0);
    want_seen = 260;
    assert_true(poll_until(seen_enough, NULL));
    service_stream_unref(st);
    close_svc(f);
    assert_int_equal(atomic_load(&count_seen), 260);
}

static int trimmed(void *arg)
{
    return service_stream_log_bytes(arg) < (2u << 20);
}

static void test_log_is_trimmed_below_the_slowest_consumer_which_holds_the_quota(void **state)
{
    struct fixture *f = *state;
    f->quota_bytes = 8u << 20; /* segments of 1 MiB */
    assert_int_equal(open_svc(f), 0);
    assert_int_equal(service_stream_create(f->svc, "s1", dest_doc(), NULL), 0);
    struct service_stream *st = get(f, "s1");
    atomic_store(&count_hold, 1);
    assert_int_equal(append_n(st, 4000), 0);
    want_seen = 4000;
    assert_true(poll_until(delivered_all, st));
    /* Delivery is done with everything, but the counting consumer holds the log. */
    assert_true(service_stream_log_bytes(st) > (3u << 20));
    /* Held back by the quota: a producer gets "Slow down." rather than losing records. */
    assert_int_equal(append_n(st, 6000), HY_EQUOTA);
    atomic_store(&count_hold, 0);
    assert_true(poll_until(trimmed, st));
    assert_int_equal(append_n(st, 100), 0);
    service_stream_unref(st);
}

static void test_legacy_delivery_cursor_moves_into_consumers(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_svc(f), 0);
    assert_int_equal(service_stream_create(f->svc, "s1", dest_doc(), NULL), 0);
    struct service_stream *st = get(f, "s1");
    assert_int_equal(append_n(st, 5), 0);
    want_seen = 5;
    assert_true(poll_until(delivered_all, st));
    service_stream_unref(st);
    close_svc(f);
    /* Lay the stream out as the foundation release did: delivery.state beside stream.json. */
    char from[256], to[256], dir[256];
    snprintf(from, sizeof from, "%s/streams/s1/consumers/delivery.state", f->root);
    snprintf(to, sizeof to, "%s/streams/s1/delivery.state", f->root);
    snprintf(dir, sizeof dir, "%s/streams/s1/consumers/count.state", f->root);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(unlink(dir), 0);
    snprintf(dir, sizeof dir, "%s/streams/s1/consumers", f->root);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(open_svc(f), 0);
    assert_true(file_exists(f->root, "streams/s1/consumers/delivery.state"));
    assert_false(file_exists(f->root, "streams/s1/delivery.state"));
    /* The moved cursor is the one delivery uses: the five records are not delivered again. */
    st = get(f, "s1");
    struct stream_stats *s = service_stream_stats(st);
    assert_int_equal(append_n(st, 1), 0);
    want_seen = 1;
    assert_true(poll_until(delivered_all, st));
    assert_int_equal(atomic_load(&s->delivery_records), 1);
    service_stream_unref(st);
}

static void test_destinations_are_checked_by_the_consumers_that_run_them(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_svc(f), 0);
    const char *reason = NULL;
    cJSON *ok = dest_doc();
    assert_int_equal(service_dest_check(f->svc, ok, &reason), 0);
    /* Delivery evaluates prefix expressions; Firehose requires an error prefix with them. */
    cJSON_AddStringToObject(ok, "Prefix", "y=!{timestamp:yyyy}/");
    assert_int_equal(service_dest_check(f->svc, ok, &reason), HY_EINVAL);
    assert_non_null(reason);
    cJSON_AddStringToObject(ok, "ErrorOutputPrefix", "err/!{firehose:error-output-type}/");
    assert_int_equal(service_dest_check(f->svc, ok, &reason), 0);
    cJSON_Delete(ok);
}

static void test_stream_limit_and_duplicates_are_refused(void **state)
{
    struct fixture *f = *state;
    f->max_streams = 1;
    assert_int_equal(open_svc(f), 0);
    assert_int_equal(service_stream_create(f->svc, "a", dest_doc(), NULL), 0);
    assert_int_equal(service_stream_create(f->svc, "a", dest_doc(), NULL), HY_EEXIST);
    assert_int_equal(service_stream_create(f->svc, "b", dest_doc(), NULL), HY_E2BIG);
    struct service_stream *st = NULL;
    assert_int_equal(service_stream_get(f->svc, "b", 1, &st), HY_ENOTFOUND);
    /* Whole names only: a prefix or an extension is another name. */
    assert_int_equal(service_stream_get(f->svc, "ab", 2, &st), HY_ENOTFOUND);
}

static int gone(void *arg)
{
    struct fixture *f = arg;
    struct service_stream *st = NULL;
    if (service_stream_get(f->svc, "s1", 2, &st) == 0) {
        service_stream_unref(st);
        return 0;
    }
    return 1;
}

static void test_delete_delivers_everything_then_frees_the_name(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_svc(f), 0);
    cJSON *slow = cJSON_Parse("{\"Kind\":\"ExtendedS3\",\"BucketARN\":\"arn:aws:s3:::b\","
                              "\"BufferingHints\":{\"SizeInMBs\":128,\"IntervalInSeconds\":900}}");
    assert_int_equal(service_stream_create(f->svc, "s1", slow, NULL), 0);
    struct service_stream *st = get(f, "s1");
    assert_int_equal(append_n(st, 30), 0);
    struct stream_stats *s = service_stream_stats(st);
    assert_int_equal(atomic_load(&s->delivery_records), 0); /* buffered for 900 s */
    assert_int_equal(service_stream_delete(f->svc, st), 0);
    struct done d = {0};
    struct streamlog_rec rec = {"x", 1};
    struct streamlog_append a = {.recs = &rec, .n = 1, .done = on_done, .arg = &d};
    assert_int_equal(service_append(st, &a), HY_ECLOSED);
    assert_true(poll_until(gone, f));
    /* The buffered records were delivered before the stream went away. */
    assert_int_equal(atomic_load(&s->delivery_records), 30);
    service_stream_unref(st);
    assert_false(file_exists(f->root, "streams/s1"));
}

static int edit_prefix(const cJSON *cur, cJSON **next, void *arg)
{
    *next = cJSON_Duplicate(cur, 1);
    cJSON_AddStringToObject(*next, "Prefix", arg);
    return 0;
}

static int edit_refuse(const cJSON *cur, cJSON **next, void *arg)
{
    return HY_EINVAL;
}

static void test_update_checks_the_version_and_persists(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_svc(f), 0);
    assert_int_equal(service_stream_create(f->svc, "s1", dest_doc(), NULL), 0);
    struct service_stream *st = get(f, "s1");
    assert_int_equal(service_stream_update_dest(f->svc, st, 2, edit_prefix, "p/"), HY_EVERSION);
    assert_int_equal(service_stream_update_dest(f->svc, st, 1, edit_refuse, NULL), HY_EINVAL);
    assert_int_equal(service_stream_update_dest(f->svc, st, 1, edit_prefix, "p/"), 0);
    service_stream_unref(st);
    close_svc(f);
    assert_int_equal(open_svc(f), 0);
    st = get(f, "s1");
    struct service_stream_info info;
    assert_int_equal(service_stream_describe(f->svc, st, &info), 0);
    assert_int_equal(info.version, 2);
    assert_string_equal(cJSON_GetObjectItem(info.dest, "Prefix")->valuestring, "p/");
    service_stream_info_fini(&info);
    service_stream_unref(st);
}

/* ---------------------------------------------------------------- damage sweep */

#define SWEEP_RECS 5
#define SWEEP_LEN 100
#define SWEEP_FRAME (24 + SWEEP_LEN) /* WAL frame: 24-byte header, then the data */

static const struct consumer_ops *const delivery_only[] = {&delivery_consumer};

static void sweep_record(int i, char out[SWEEP_LEN])
{
    memset(out, 'a' + i, SWEEP_LEN);
    snprintf(out, SWEEP_LEN, "record-%d:", i);
    out[strlen(out)] = 'a' + i;
}

static size_t count_in(const char *hay, size_t len, const char *needle, size_t nlen)
{
    size_t n = 0;
    for (const char *p = hay; (p = memmem(p, len - (size_t)(p - hay), needle, nlen)); p++)
        n++;
    return n;
}

struct sweep_objects {
    struct buf data;       /* every data object, concatenated */
    struct buf quarantine; /* every corrupted-log object, concatenated */
    int nquarantine;
};

static void sweep_collect(const char *root, const char *rel, struct sweep_objects *o)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    DIR *dir = opendir(path);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[512], full[1024];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat sb;
        if (stat(full, &sb) < 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            sweep_collect(root, sub, o);
            continue;
        }
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(fsutil_read_all(full, &text, &len, 1 << 20), 0);
        int q = strncmp(sub, "corrupted-log/", 14) == 0;
        assert_int_equal(buf_append(q ? &o->quarantine : &o->data, text, len), 0);
        o->nquarantine += q;
        hy_free(text);
    }
    closedir(dir);
}

static int delivered_or_quarantined(void *arg)
{
    struct service_stream *st = arg;
    struct stream_stats *s = service_stream_stats(st);
    return atomic_load(&s->delivery_records) >= want_seen &&
           atomic_load(&s->quarantined_spans) >= 1;
}

/* One flip: a fresh data dir, 5 acknowledged records in the log (no consumer ran yet: what a
 * kill -9 before delivery leaves), one byte flipped at off of the first segment, then the
 * service with delivery. Every intact record is delivered exactly once, the damaged one is in
 * a corrupted-log object (or, in the last frame, cut as a torn tail and kept aside). */
static void sweep_one(struct fixture *f, size_t off)
{
    char rec[SWEEP_LEN], seg[512];
    int victim = (int)(off / SWEEP_FRAME);
    fsutil_remove_tree(f->root);
    assert_int_equal(fsutil_mkdirs(f->root, 0755), 0);
    f->consumers = delivery_only;
    f->nconsumers = 0; /* first run: nothing reads the log */
    assert_int_equal(open_svc(f), 0);
    assert_int_equal(service_stream_create(f->svc, "s", dest_doc(), NULL), 0);
    struct service_stream *st = get(f, "s");
    struct streamlog_rec recs[SWEEP_RECS];
    static char payload[SWEEP_RECS][SWEEP_LEN];
    for (int i = 0; i < SWEEP_RECS; i++) {
        sweep_record(i, payload[i]);
        recs[i] = (struct streamlog_rec){payload[i], SWEEP_LEN};
    }
    struct done d = {0};
    struct streamlog_append a = {
        .recs = recs, .n = SWEEP_RECS, .arrival_ms = hytime_now_ms(), .done = on_done, .arg = &d};
    assert_int_equal(service_append(st, &a), 0);
    assert_true(poll_until(fired, &d));
    assert_int_equal(atomic_load(&d.status), 0);
    service_stream_unref(st);
    close_svc(f);

    snprintf(seg, sizeof seg, "%s/streams/s/log/%020d.seg", f->root, 1);
    FILE *fp = fopen(seg, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseeko(fp, (off_t)off, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_equal(fseeko(fp, (off_t)off, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ 0xff, fp), c ^ 0xff);
    assert_int_equal(fclose(fp), 0);

    f->nconsumers = 1;
    assert_int_equal(open_svc(f), 0);
    st = get(f, "s");
    want_seen = SWEEP_RECS - 1;
    struct streamlog_damage_stats ds;
    service_stream_damage(st, &ds);
    int cut = ds.cuts > 0;
    if (cut) {
        /* Damage running to the end of the file is a torn tail: only the last frame. */
        assert_int_equal(victim, SWEEP_RECS - 1);
        assert_true(poll_until(delivered_all, st));
    } else {
        assert_true(poll_until(delivered_or_quarantined, st));
    }
    struct service_stream_info info;
    assert_int_equal(service_stream_describe(f->svc, st, &info), 0);
    if (cut) {
        assert_null(info.failure);
    } else {
        assert_non_null(info.failure);
        assert_non_null(strstr(info.failure, "corrupted-log/"));
    }
    service_stream_info_fini(&info);
    service_stream_unref(st);
    close_svc(f);

    struct sweep_objects o = {.nquarantine = 0};
    char bucket[256];
    buf_init(&o.data, 1 << 20);
    buf_init(&o.quarantine, 1 << 20);
    snprintf(bucket, sizeof bucket, "%s/b", f->s3_root);
    sweep_collect(bucket, "", &o);
    for (int i = 0; i < SWEEP_RECS; i++) {
        sweep_record(i, rec);
        size_t n = count_in(o.data.data, o.data.len, rec, SWEEP_LEN);
        if (n != (size_t)(i != victim))
            fail_msg("flip at %zu: record %d delivered %zu times", off, i, n);
    }
    if (cut) {
        assert_int_equal(o.nquarantine, 0);
        char aside[512];
        snprintf(aside, sizeof aside, "%s/streams/s/log/damaged", f->root);
        DIR *dir = opendir(aside);
        assert_non_null(dir);
        int files = 0;
        for (struct dirent *e; (e = readdir(dir));)
            files += e->d_name[0] != '.';
        closedir(dir);
        assert_int_equal(files, 1);
    } else {
        char want[64];
        if (o.nquarantine != 1)
            fail_msg("flip at %zu: %d quarantine objects", off, o.nquarantine);
        snprintf(want, sizeof want, "\"firstSequenceNumber\":%d,\"sequenceCount\":1,", victim + 1);
        if (!memmem(o.quarantine.data, o.quarantine.len, want, strlen(want)))
            fail_msg("flip at %zu: quarantine does not name seq %d: %.*s", off, victim + 1,
                     (int)o.quarantine.len, o.quarantine.data);
    }
    buf_fini(&o.data);
    buf_fini(&o.quarantine);
}

static void test_a_flipped_byte_anywhere_in_a_frame_loses_only_that_record(void **state)
{
    /* Every region of every frame in turn: length, CRC, seq, arrival time, first, middle and
     * last data byte. */
    static const size_t regions[] = {0, 4, 8, 16, 24, 24 + SWEEP_LEN / 2, 24 + SWEEP_LEN - 1};
    struct fixture *f = *state;
    for (int k = 0; k < SWEEP_RECS; k++)
        for (size_t r = 0; r < sizeof regions / sizeof regions[0]; r++)
            sweep_one(f, (size_t)k * SWEEP_FRAME + regions[r]);
}

static void test_failure_description_persists_until_acknowledged(void **state)
{
    struct fixture *f = *state;
    sweep_one(f, SWEEP_FRAME + 30); /* leaves a reported failure behind */
    f->nconsumers = 1;
    assert_int_equal(open_svc(f), 0);
    struct service_stream *st = get(f, "s");
    struct service_stream_info info;
    assert_int_equal(service_stream_describe(f->svc, st, &info), 0);
    assert_non_null(info.failure); /* survived the restart */
    assert_non_null(strstr(info.failure, "sequence numbers 2 to 2"));
    service_stream_info_fini(&info);
    assert_int_equal(service_stream_ack_failure(f->svc, st), 1);
    assert_int_equal(service_stream_ack_failure(f->svc, st), 0);
    service_stream_unref(st);
    close_svc(f);
    assert_int_equal(open_svc(f), 0);
    st = get(f, "s");
    assert_int_equal(service_stream_describe(f->svc, st, &info), 0);
    assert_null(info.failure);
    service_stream_info_fini(&info);
    service_stream_unref(st);
}

int main(void)
{
    catalog_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_two_consumers_each_read_every_record_with_their_own_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_log_is_trimmed_below_the_slowest_consumer_which_holds_the_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_delivery_cursor_moves_into_consumers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_destinations_are_checked_by_the_consumers_that_run_them, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_limit_and_duplicates_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_delivers_everything_then_frees_the_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_update_checks_the_version_and_persists, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_flipped_byte_anywhere_in_a_frame_loses_only_that_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_description_persists_until_acknowledged, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
