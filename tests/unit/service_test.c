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
};

static const struct consumer_ops *const consumers[] = {&delivery_consumer, &counting_consumer};

static int open_svc(struct fixture *f)
{
    struct service_config cfg = {
        .data_dir = f->root,
        .quota_bytes = f->quota_bytes,
        .max_streams = f->max_streams,
        .log_backend = &wal_backend,
        .consumers = consumers,
        .nconsumers = 2,
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
