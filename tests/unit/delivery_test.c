/* Unit tests for src/deliver/delivery.c with the real log (WAL backend) and the local bucket store.
 */
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
#include <malloc.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/slotfile.h"
#include "base/hytime.h"
#include "base/mem.h"
#include "deliver/delivery.h"
#include "sink/fssink.h"
#include "deliver/keyname.h"
#include "core/stats.h"
#include "core/consumer.h"
#include "stream/streamlog.h"
#include "stream/wal.h"

/* 2026-11-24T18:05:09.123Z */
#define T_NOV 1795543509123LL
#define CREATE_MS 1700000000000LL
#define POLL_MS 5000

/* What the service does with a reported failure: here, remember the last one. */
static _Atomic int failures_reported;
static char failure_details[4096];

struct fixture {
    char root[64];
    char log_dir[128];
    char state_dir[128];
    char s3_root[128];
    char cursor_path[160];
    struct streamlog *w;
    struct stream_stats stats;
    struct delivery *d;
};

/* ---------------------------------------------------------------------------------------------
 * Helpers.
 */

static int setup(void **state)
{
    struct fixture *f = hy_calloc(1, sizeof(*f));
    struct streamlog_config cfg = {.segment_bytes = 512}; /* many segments: trims are visible */
    snprintf(f->root, sizeof(f->root), "/tmp/delivery_test.XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->log_dir, sizeof(f->log_dir), "%s/log", f->root);
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/cursors", f->root);
    snprintf(f->s3_root, sizeof(f->s3_root), "%s/s3", f->root);
    snprintf(f->cursor_path, sizeof(f->cursor_path), "%s/delivery.state", f->state_dir);
    atomic_store(&failures_reported, 0);
    failure_details[0] = '\0';
    if (streamlog_open(&wal_backend, f->log_dir, &cfg, &f->w) < 0 ||
        fsutil_mkdirs(f->state_dir, 0755) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->d)
        delivery_stop(f->d, 0);
    streamlog_close(f->w);
    fsutil_remove_tree(f->root);
    hy_free(f);
    return 0;
}

static struct delivery_target target(const char *prefix, uint64_t size_bytes, int interval_s)
{
    struct delivery_target t = {
        .stream_name = "s1",
        .version = 1,
        .bucket = "b",
        .prefix = prefix,
        .size_bytes = size_bytes,
        .interval_s = interval_s,
        .create_ms = CREATE_MS,
    };
    return t;
}

/* What the service does with a consumer's progress: trim below it (one consumer here). */
static void advanced(void *rt, uint64_t cursor)
{
    streamlog_trim(rt, cursor);
}

/* What the service does with a reported failure: here, remember the last one. */
static void report_failure(void *rt, const char *details)
{
    snprintf(failure_details, sizeof(failure_details), "%s", details);
    atomic_fetch_add(&failures_reported, 1);
}

static int start_with(struct fixture *f, const struct delivery_target *t)
{
    struct consumer_env env = {
        .stream_name = t->stream_name,
        .version = t->version,
        .create_ms = t->create_ms,
        .log = f->w,
        .stats = &f->stats,
        .state_path = f->cursor_path,
        .sink = &fssink_ops,
        .sink_ctx = f->s3_root,
        .advanced = advanced,
        .report_failure = report_failure,
        .rt = f->w,
    };
    return delivery_start(&env, t, &f->d);
}

static void start(struct fixture *f, const char *prefix, uint64_t size_bytes, int interval_s)
{
    struct delivery_target t = target(prefix, size_bytes, interval_s);
    assert_int_equal(start_with(f, &t), 0);
}

static void stop(struct fixture *f, int flush)
{
    delivery_stop(f->d, flush);
    f->d = NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired;
    int status;
};

static void on_done(void *arg, int status, uint64_t first_seq)
{
    struct done *dn = arg;
    pthread_mutex_lock(&dn->mu);
    dn->fired = 1;
    dn->status = status;
    pthread_cond_broadcast(&dn->cv);
    pthread_mutex_unlock(&dn->mu);
}

/* Append records "r<i>." for i in [from, to) as one durable batch. */
static void append_range(struct fixture *f, int from, int to, int64_t arrival_ms)
{
    char text[64][16];
    struct streamlog_rec recs[64];
    struct done dn = {.fired = 0};
    assert_true(to - from <= 64);
    for (int i = from; i < to; i++) {
        int n = snprintf(text[i - from], sizeof(text[0]), "r%d.", i);
        recs[i - from].data = text[i - from];
        recs[i - from].len = (size_t)n;
    }
    pthread_mutex_init(&dn.mu, NULL);
    pthread_cond_init(&dn.cv, NULL);
    struct streamlog_append a = {.recs = recs,
                                 .n = (size_t)(to - from),
                                 .arrival_ms = arrival_ms,
                                 .done = on_done,
                                 .arg = &dn};
    assert_int_equal(streamlog_append(f->w, &a), 0);
    pthread_mutex_lock(&dn.mu);
    while (!dn.fired)
        pthread_cond_wait(&dn.cv, &dn.mu);
    pthread_mutex_unlock(&dn.mu);
    assert_int_equal(dn.status, 0);
    pthread_mutex_destroy(&dn.mu);
    pthread_cond_destroy(&dn.cv);
}

/* The expected concatenation of records [from, to). */
static void expect_text(struct buf *b, int from, int to)
{
    buf_init(b, 1 << 20);
    for (int i = from; i < to; i++)
        assert_int_equal(buf_printf(b, "r%d.", i), 0);
}

struct object {
    char key[1024];
    char *data;
    size_t len;
    int first; /* index of its first record, parsed from the data */
};

struct objects {
    struct object v[256];
    int n;
};

static void list_dir(const char *root, const char *rel, struct objects *out)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    DIR *dir = opendir(path);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue; /* also skips temp files */
        char sub[1024], full[1200];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        struct stat st;
        if (stat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            list_dir(root, sub, out);
        } else if (out->n < 256) {
            struct object *o = &out->v[out->n++];
            snprintf(o->key, sizeof(o->key), "%s", sub);
            assert_int_equal(fsutil_read_all(full, &o->data, &o->len, 1 << 20), 0);
            o->first = o->len > 1 ? (int)strtol(o->data + 1, NULL, 10) : -1;
        }
    }
    closedir(dir);
}

static int by_first(const void *a, const void *b)
{
    const struct object *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* Every object of bucket b, sorted by the first record each holds. */
static void objects_load(struct fixture *f, struct objects *out)
{
    char root[256];
    out->n = 0;
    snprintf(root, sizeof(root), "%s/b", f->s3_root);
    list_dir(root, "", out);
    qsort(out->v, (size_t)out->n, sizeof(out->v[0]), by_first);
}

static void objects_free(struct objects *o)
{
    for (int i = 0; i < o->n; i++)
        hy_free(o->v[i].data);
    o->n = 0;
}

/* Concatenate every object in record order. */
static void objects_concat(struct fixture *f, struct buf *b)
{
    static struct objects o;
    objects_load(f, &o);
    buf_init(b, 1 << 20);
    for (int i = 0; i < o.n; i++)
        assert_int_equal(buf_append(b, o.v[i].data, o.v[i].len), 0);
    objects_free(&o);
}

/* Poll until the delivery cursor reaches want (bounded). */
static void wait_cursor(struct fixture *f, uint64_t want)
{
    int64_t deadline = hytime_mono_ms() + POLL_MS;
    while (delivery_cursor(f->d) < want && hytime_mono_ms() < deadline)
        sleep_ms(2);
    assert_int_equal(delivery_cursor(f->d), want);
}

static void assert_buf_equal(const struct buf *got, const struct buf *want)
{
    if (got->len != want->len || memcmp(got->data, want->data, got->len) != 0)
        fail_msg("got \"%.*s\"\nwant \"%.*s\"", (int)got->len, got->data, (int)want->len,
                 want->data);
}

static char *read_cursor_file(struct fixture *f)
{
    struct slotfile sf;
    size_t len = 0;
    char *text = hy_malloc(SLOTFILE_MAX_PAYLOAD + 1);
    if (!text || slotfile_open(&sf, f->cursor_path) < 0) {
        hy_free(text);
        return NULL;
    }
    if (slotfile_read(&sf, text, SLOTFILE_MAX_PAYLOAD, &len) < 0) {
        hy_free(text);
        text = NULL;
    } else {
        text[len] = '\0';
    }
    slotfile_close(&sf);
    return text;
}

/* Store a cursor state by hand, as a previous run would have left it. */
static int write_cursor_file(struct fixture *f, const char *text)
{
    struct slotfile sf;
    int rc = slotfile_open(&sf, f->cursor_path);
    if (rc == 0)
        rc = slotfile_write(&sf, text, strlen(text));
    slotfile_close(&sf);
    return rc;
}

/* The key delivery gives the batch starting at first_seq with the default prefix. */
static void default_key(uint64_t first_seq, int64_t arrival_ms, char *out, size_t cap)
{
    struct keyname_batch r = {
        .stream_name = "s1",
        .version = 1,
        .stream_id = keyname_stream_id("s1", CREATE_MS),
        .first_seq = first_seq,
        .first_arrival_ms = arrival_ms,
    };
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(keyname_object_key(NULL, &r, &b), 0);
    assert_true(b.len < cap);
    memcpy(out, b.data, b.len + 1);
    buf_fini(&b);
}

/* Put an object into bucket b by hand, as an earlier run would have left it. */
static void object_put(struct fixture *f, const char *key, const char *data)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/b/%s", f->s3_root, key);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(fsutil_mkdirs(path, 0755), 0);
    *slash = '/';
    assert_int_equal(fsutil_write_atomic(path, data, strlen(data)), 0);
}

/* Count temp files (".<name>.tmp.<...>") anywhere under dir. */
static int count_temps(const char *dir, off_t *largest)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[1200];
        struct stat st;
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        if (lstat(sub, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += count_temps(sub, largest);
        } else if (strstr(dir, "/" FSSINK_TMP_DIR)) {
            n++;
            if (largest && st.st_size > *largest)
                *largest = st.st_size;
        }
    }
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Tests.
 */

static void test_interval_zero_delivers_durable_records_into_one_exact_object(void **state)
{
    struct fixture *f = *state;
    static struct objects o;
    append_range(f, 1, 4, T_NOV);
    start(f, NULL, 1 << 20, 0);
    wait_cursor(f, 4);

    objects_load(f, &o);
    assert_int_equal(o.n, 1);
    /* Key: default prefix and suffix from the first arrival, id from the first seq. */
    char want_key[256];
    default_key(1, T_NOV, want_key, sizeof(want_key));
    assert_string_equal(o.v[0].key, want_key);
    assert_int_equal(o.v[0].len, strlen("r1.r2.r3."));
    assert_memory_equal(o.v[0].data, "r1.r2.r3.", o.v[0].len);
    objects_free(&o);

    assert_int_equal(f->stats.delivery_records, 3);
    assert_int_equal(f->stats.delivery_bytes, 9);
    assert_int_equal(f->stats.delivery_objects, 1);
    assert_int_equal(f->stats.delivery_success, 1);
    assert_int_equal(f->stats.delivery_failures, 0);
    assert_int_equal(f->stats.oldest_undelivered_ms, 0);
    char *cursor = read_cursor_file(f);
    assert_non_null(cursor);
    assert_non_null(strstr(cursor, "\"next_seq\":4"));
    assert_null(strstr(cursor, "intent"));
    hy_free(cursor);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_records_appended_while_running_reach_an_object_promptly(void **state)
{
    /* Firehose with IntervalInSeconds 0: a record is in its object within 200 ms of its ack
     * (p99). The consumer must wake on the wal's durable point, not on a poll timer, so even
     * the median here stays far below the idle wait cap. */
    struct fixture *f = *state;
    struct buf got, want;
    enum { ROUNDS = 9 };
    int64_t took[ROUNDS];
    start(f, "logs/", 1 << 20, 0);
    for (int i = 0; i < ROUNDS; i++) {
        sleep_ms(20); /* let the consumer go idle in wal_wait */
        int64_t t0 = hytime_mono_ms();
        append_range(f, i + 1, i + 2, hytime_now_ms());
        wait_cursor(f, (uint64_t)i + 2);
        took[i] = hytime_mono_ms() - t0;
    }
    qsort(took, ROUNDS, sizeof(took[0]), cmp_i64);
    if (took[ROUNDS / 2] > 100 || took[ROUNDS - 1] > 1000)
        fail_msg("delivery latency median %lld ms, max %lld ms", (long long)took[ROUNDS / 2],
                 (long long)took[ROUNDS - 1]);
    objects_concat(f, &got);
    expect_text(&want, 1, ROUNDS + 1);
    assert_buf_equal(&got, &want);
    buf_fini(&got);
    buf_fini(&want);
}

static void test_size_hint_cuts_objects_covering_every_record_once_in_order(void **state)
{
    struct fixture *f = *state;
    static struct objects o;
    struct buf got, want;
    append_range(f, 10, 50, T_NOV); /* "r10." .. "r49.": 4 bytes each */
    append_range(f, 50, 90, T_NOV + 1);
    start(f, "", 30, 0);
    wait_cursor(f, 81);

    objects_load(f, &o);
    assert_true(o.n >= 80 * 4 / 30);
    for (int i = 0; i < o.n; i++) {
        if (o.v[i].len > 30)
            fail_msg("object %s has %zu bytes, over the 30-byte hint", o.v[i].key, o.v[i].len);
    }
    assert_int_equal(f->stats.delivery_objects, (uint64_t)o.n);
    objects_free(&o);
    objects_concat(f, &got);
    expect_text(&want, 10, 90);
    assert_buf_equal(&got, &want);
    assert_int_equal(f->stats.delivery_records, 80);
    buf_fini(&got);
    buf_fini(&want);
}

static void
test_intent_replay_uses_exactly_the_stored_bucket_and_key_after_target_change(void **state)
{
    /* The previous run opened a batch at seq 3 for bucket b under "replayed/obj"; the stream's
     * target has since moved to another bucket, prefix and version. The replayed batch must
     * still go to b/replayed/obj; only later batches follow the new target. */
    struct fixture *f = *state;
    static struct objects o;
    struct buf want;
    const char *cursor = "{\"next_seq\":3,\"intent\":{\"first_seq\":3,"
                         "\"bucket\":\"b\",\"key\":\"replayed/obj\"}}";
    append_range(f, 1, 11, T_NOV); /* seqs 1..10 hold r1..r10 */
    assert_int_equal(fsutil_mkdirs(f->state_dir, 0755), 0);
    assert_int_equal(write_cursor_file(f, cursor), 0);
    struct delivery_target t = target("new/", 1 << 20, 0);
    t.bucket = "b2";
    t.version = 5;
    assert_int_equal(start_with(f, &t), 0);
    wait_cursor(f, 11);

    objects_load(f, &o);
    assert_int_equal(o.n, 1);
    /* Records 1 and 2 were below the cursor: delivered before, never again. */
    assert_string_equal(o.v[0].key, "replayed/obj");
    expect_text(&want, 3, 11);
    assert_int_equal(o.v[0].len, want.len);
    assert_memory_equal(o.v[0].data, want.data, want.len);
    buf_fini(&want);
    objects_free(&o);

    /* The next batch is named from the new target. */
    append_range(f, 11, 13, T_NOV);
    wait_cursor(f, 13);
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/b2/new/2026/11/24/18", f->s3_root);
    assert_int_equal(stat(path, &st), 0);
    char *state_text = read_cursor_file(f);
    assert_non_null(state_text);
    assert_null(strstr(state_text, "intent"));
    hy_free(state_text);
}

static void test_intent_written_before_streaming_with_last_seq_still_loads(void **state)
{
    struct fixture *f = *state;
    static struct objects o;
    const char *cursor = "{\"next_seq\":2,\"intent\":{\"first_seq\":2,\"last_seq\":4,"
                         "\"bucket\":\"b\",\"key\":\"old/obj\"}}";
    append_range(f, 1, 6, T_NOV);
    assert_int_equal(fsutil_mkdirs(f->state_dir, 0755), 0);
    assert_int_equal(write_cursor_file(f, cursor), 0);
    start(f, NULL, 1 << 20, 0);
    wait_cursor(f, 6);
    objects_load(f, &o);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].key, "old/obj");
    assert_int_equal(o.v[0].len, strlen("r2.r3.r4.r5."));
    assert_memory_equal(o.v[0].data, "r2.r3.r4.r5.", o.v[0].len);
    objects_free(&o);
}

static void test_crash_after_commit_before_cursor_store_leaves_each_record_once(void **state)
{
    /* The previous run committed records 1..15 to the intent's key and died before storing
     * the cursor. This run cuts smaller objects (30-byte hint): the replay must replace that
     * object with its own first cut, and the records it no longer holds go to later objects,
     * so every record is visible exactly once. */
    struct fixture *f = *state;
    static struct objects o;
    struct buf got, want, old;
    const char *cursor = "{\"next_seq\":1,\"intent\":{\"first_seq\":1,"
                         "\"bucket\":\"b\",\"key\":\"crash/obj\"}}";
    append_range(f, 1, 21, T_NOV);
    expect_text(&old, 1, 16);
    object_put(f, "crash/obj", old.data);
    buf_fini(&old);
    assert_int_equal(fsutil_mkdirs(f->state_dir, 0755), 0);
    assert_int_equal(write_cursor_file(f, cursor), 0);
    start(f, NULL, 30, 0);
    wait_cursor(f, 21);

    objects_load(f, &o);
    assert_true(o.n >= 3);
    assert_string_equal(o.v[0].key, "crash/obj");
    /* "r1." .. "r9." are 27 bytes; "r10." would pass the hint. */
    assert_int_equal(o.v[0].len, strlen("r1.r2.r3.r4.r5.r6.r7.r8.r9."));
    assert_memory_equal(o.v[0].data, "r1.r2.r3.r4.r5.r6.r7.r8.r9.", o.v[0].len);
    for (int i = 1; i < o.n; i++)
        assert_string_not_equal(o.v[i].key, "crash/obj");
    objects_free(&o);
    objects_concat(f, &got);
    expect_text(&want, 1, 21);
    assert_buf_equal(&got, &want);
    buf_fini(&got);
    buf_fini(&want);
    assert_int_equal(count_temps(f->s3_root, NULL), 0);
}

static void test_replay_longer_than_the_crashed_object_replaces_it(void **state)
{
    /* The other direction: the crashed run had cut at 3 records, this one takes all 8. */
    struct fixture *f = *state;
    static struct objects o;
    const char *cursor = "{\"next_seq\":1,\"intent\":{\"first_seq\":1,"
                         "\"bucket\":\"b\",\"key\":\"crash/obj\"}}";
    append_range(f, 1, 9, T_NOV);
    object_put(f, "crash/obj", "r1.r2.r3.");
    assert_int_equal(fsutil_mkdirs(f->state_dir, 0755), 0);
    assert_int_equal(write_cursor_file(f, cursor), 0);
    start(f, NULL, 1 << 20, 0);
    wait_cursor(f, 9);
    objects_load(f, &o);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].key, "crash/obj");
    assert_int_equal(o.v[0].len, strlen("r1.r2.r3.r4.r5.r6.r7.r8."));
    assert_memory_equal(o.v[0].data, "r1.r2.r3.r4.r5.r6.r7.r8.", o.v[0].len);
    objects_free(&o);
}

static void test_stop_with_flush_delivers_everything_despite_long_interval(void **state)
{
    struct fixture *f = *state;
    struct buf got, want;
    append_range(f, 1, 21, T_NOV);
    start(f, NULL, 1 << 20, 900);
    stop(f, 1);
    objects_concat(f, &got);
    expect_text(&want, 1, 21);
    assert_buf_equal(&got, &want);
    char *cursor = read_cursor_file(f);
    assert_non_null(cursor);
    assert_non_null(strstr(cursor, "\"next_seq\":21"));
    hy_free(cursor);
    buf_fini(&got);
    buf_fini(&want);
}

static void test_stop_without_flush_keeps_batch_for_restart_without_duplicates(void **state)
{
    struct fixture *f = *state;
    struct buf got, want;
    append_range(f, 1, 6, T_NOV);
    start(f, NULL, 1 << 20, 900);
    /* Wait until the consumer holds the records in an open batch. */
    int64_t deadline = hytime_mono_ms() + POLL_MS;
    while (f->stats.oldest_undelivered_ms == 0 && hytime_mono_ms() < deadline)
        sleep_ms(2);
    assert_int_equal(f->stats.oldest_undelivered_ms, T_NOV);
    stop(f, 0);
    objects_concat(f, &got);
    assert_int_equal(got.len, 0);
    buf_fini(&got);

    /* Restart delivers them once; a further restart resumes past them. */
    start(f, NULL, 1 << 20, 0);
    wait_cursor(f, 6);
    stop(f, 0);
    append_range(f, 6, 12, T_NOV + 1000);
    start(f, NULL, 1 << 20, 0);
    wait_cursor(f, 12);
    stop(f, 1);
    objects_concat(f, &got);
    expect_text(&want, 1, 12);
    assert_buf_equal(&got, &want);
    buf_fini(&got);
    buf_fini(&want);
}

static void test_interval_hint_holds_records_until_it_elapses(void **state)
{
    struct fixture *f = *state;
    start(f, NULL, 1 << 20, 1);
    int64_t t0 = hytime_mono_ms();
    append_range(f, 1, 3, hytime_now_ms());
    wait_cursor(f, 3);
    int64_t took = hytime_mono_ms() - t0;
    if (took < 900 || took > 3000)
        fail_msg("1 s interval delivered after %lld ms", (long long)took);
    assert_int_equal(f->stats.delivery_objects, 1);
}

static void test_update_applies_new_prefix_and_version_from_next_batch(void **state)
{
    struct fixture *f = *state;
    static struct objects o;
    append_range(f, 1, 3, T_NOV);
    start(f, "a/", 1 << 20, 0);
    wait_cursor(f, 3);
    struct delivery_target t = target("b/", 1 << 20, 0);
    t.version = 2;
    assert_int_equal(delivery_update(f->d, &t), 0);
    append_range(f, 3, 5, T_NOV);
    wait_cursor(f, 5);
    objects_load(f, &o);
    assert_int_equal(o.n, 2);
    assert_memory_equal(o.v[0].key, "a/2026/11/24/18/s1-1-", 21);
    assert_memory_equal(o.v[1].key, "b/2026/11/24/18/s1-2-", 21);
    objects_free(&o);
}

static void test_sink_failure_retries_the_same_key_until_it_succeeds(void **state)
{
    struct fixture *f = *state;
    static struct objects o;
    char bucket_path[256];
    /* A file where the bucket directory should be makes every put fail. */
    assert_int_equal(fsutil_mkdirs(f->s3_root, 0755), 0);
    snprintf(bucket_path, sizeof(bucket_path), "%s/b", f->s3_root);
    assert_int_equal(fsutil_write_atomic(bucket_path, "x", 1), 0);
    append_range(f, 1, 4, T_NOV);
    start(f, NULL, 1 << 20, 0);

    int64_t deadline = hytime_mono_ms() + POLL_MS;
    while (f->stats.delivery_failures < 2 && hytime_mono_ms() < deadline)
        sleep_ms(5);
    assert_true(f->stats.delivery_failures >= 2);
    assert_int_equal(delivery_cursor(f->d), 1);
    assert_int_equal(f->stats.oldest_undelivered_ms, T_NOV);
    /* The intent is durable while the put is retried. */
    char *cursor = read_cursor_file(f), want[512], key[256];
    assert_non_null(cursor);
    default_key(1, T_NOV, key, sizeof(key));
    snprintf(want, sizeof(want), "\"intent\":{\"first_seq\":1,\"bucket\":\"b\",\"key\":\"%s\"}",
             key);
    assert_non_null(strstr(cursor, want));
    hy_free(cursor);

    assert_int_equal(unlink(bucket_path), 0);
    wait_cursor(f, 4);
    objects_load(f, &o);
    assert_int_equal(o.n, 1);
    assert_memory_equal(o.v[0].data, "r1.r2.r3.", 9);
    objects_free(&o);
    assert_int_equal(f->stats.delivery_success, 1);
}

static void test_commit_failure_rereads_the_batch_under_the_same_key_and_survives_stop(void **state)
{
    /* A directory where the object should go lets every write succeed and every commit fail
     * (rename: EISDIR). Each attempt must be dropped without a trace and the batch read again
     * from its first record under the same key; a stop gives up, keeps the intent, and the
     * next start delivers under that key. */
    struct fixture *f = *state;
    static struct objects o;
    char key[256], path[512];
    default_key(1, T_NOV, key, sizeof(key));
    snprintf(path, sizeof(path), "%s/b/%s", f->s3_root, key);
    assert_int_equal(fsutil_mkdirs(path, 0755), 0);
    append_range(f, 1, 6, T_NOV);
    start(f, NULL, 1 << 20, 0);
    int64_t deadline = hytime_mono_ms() + POLL_MS;
    while (f->stats.delivery_failures < 2 && hytime_mono_ms() < deadline)
        sleep_ms(5);
    assert_true(f->stats.delivery_failures >= 2);
    append_range(f, 6, 8, T_NOV + 1); /* the retry may take these too */
    assert_int_equal(delivery_stop(f->d, 1), 1);
    f->d = NULL;
    assert_int_equal(count_temps(f->s3_root, NULL), 0);
    char *cursor = read_cursor_file(f);
    assert_non_null(cursor);
    assert_non_null(strstr(cursor, key));
    hy_free(cursor);

    assert_int_equal(rmdir(path), 0);
    start(f, "ignored/", 1 << 20, 0);
    wait_cursor(f, 8);
    objects_load(f, &o);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].key, key);
    assert_int_equal(o.v[0].len, strlen("r1.r2.r3.r4.r5.r6.r7."));
    assert_memory_equal(o.v[0].data, "r1.r2.r3.r4.r5.r6.r7.", o.v[0].len);
    objects_free(&o);
    assert_int_equal(count_temps(f->s3_root, NULL), 0);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void test_large_size_hint_streams_to_disk_without_a_batch_sized_buffer(void **state)
{
    /* A 64 MiB hint must not mean 64 MiB of memory: records go to the object's temp file as
     * they are read, through a staging buffer of about 1 MiB. 24 records of ~1 MB stay in one
     * open batch; while it is open the temp file holds nearly all of them and the heap has not
     * grown by anything like their size. (Under sanitizers mallinfo2 may report zeros; the
     * temp file check still holds.) */
    enum { RECS = 24, REC_LEN = 1000000 };
    struct fixture *f = *state;
    static char rec[REC_LEN];
    static struct objects o;
    for (int i = 0; i < RECS; i++) {
        struct streamlog_rec wr = {.data = rec, .len = REC_LEN};
        struct done dn = {.fired = 0};
        struct streamlog_append a = {
            .recs = &wr, .n = 1, .arrival_ms = T_NOV, .done = on_done, .arg = &dn};
        memset(rec, 'a' + i, REC_LEN);
        pthread_mutex_init(&dn.mu, NULL);
        pthread_cond_init(&dn.cv, NULL);
        assert_int_equal(streamlog_append(f->w, &a), 0);
        pthread_mutex_lock(&dn.mu);
        while (!dn.fired)
            pthread_cond_wait(&dn.cv, &dn.mu);
        pthread_mutex_unlock(&dn.mu);
        assert_int_equal(dn.status, 0);
        pthread_mutex_destroy(&dn.mu);
        pthread_cond_destroy(&dn.cv);
    }
    size_t before = heap_in_use();
    start(f, NULL, 64u << 20, 900);
    off_t largest = 0;
    int64_t deadline = hytime_mono_ms() + 4 * POLL_MS;
    while (largest < (off_t)(RECS - 2) * REC_LEN && hytime_mono_ms() < deadline) {
        sleep_ms(5);
        count_temps(f->s3_root, &largest);
    }
    if (largest < (off_t)(RECS - 2) * REC_LEN)
        fail_msg("open batch's temp file has %lld bytes", (long long)largest);
    size_t after = heap_in_use();
    if (after > before && after - before > (8u << 20))
        fail_msg("heap grew by %zu bytes while streaming a batch", after - before);
    assert_int_equal(delivery_cursor(f->d), 1);
    objects_load(f, &o);
    assert_int_equal(o.n, 0);

    stop(f, 1);
    char path[1200], key[256], *data = NULL;
    size_t len;
    default_key(1, T_NOV, key, sizeof(key));
    snprintf(path, sizeof(path), "%s/b/%s", f->s3_root, key);
    assert_int_equal(fsutil_read_all(path, &data, &len, 64u << 20), 0);
    assert_int_equal(len, (size_t)RECS * REC_LEN);
    for (int i = 0; i < RECS; i++) {
        assert_int_equal(data[(size_t)i * REC_LEN], 'a' + i);
        assert_int_equal(data[(size_t)(i + 1) * REC_LEN - 1], 'a' + i);
    }
    hy_free(data);
    assert_int_equal(f->stats.delivery_bytes, (uint64_t)RECS * REC_LEN);
}

static void test_compressed_batch_streams_with_bounded_memory(void **state)
{
    /* The same with GZIP: the codec's state is fixed, so 24 incompressible ~1 MB records under
     * a 64 MiB hint reach the temp file while the batch is open, without heap growth. */
    enum { RECS = 24, REC_LEN = 1000000 };
    struct fixture *f = *state;
    static char rec[REC_LEN];
    uint32_t x = 2463534242u;
    for (int i = 0; i < RECS; i++) {
        struct streamlog_rec wr = {.data = rec, .len = REC_LEN};
        struct done dn = {.fired = 0};
        struct streamlog_append a = {
            .recs = &wr, .n = 1, .arrival_ms = T_NOV, .done = on_done, .arg = &dn};
        for (int j = 0; j < REC_LEN; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            rec[j] = (char)x;
        }
        pthread_mutex_init(&dn.mu, NULL);
        pthread_cond_init(&dn.cv, NULL);
        assert_int_equal(streamlog_append(f->w, &a), 0);
        pthread_mutex_lock(&dn.mu);
        while (!dn.fired)
            pthread_cond_wait(&dn.cv, &dn.mu);
        pthread_mutex_unlock(&dn.mu);
        pthread_mutex_destroy(&dn.mu);
        pthread_cond_destroy(&dn.cv);
    }
    size_t before = heap_in_use();
    struct delivery_target t = target(NULL, 64u << 20, 900);
    t.compression = "GZIP";
    assert_int_equal(start_with(f, &t), 0);
    off_t largest = 0;
    int64_t deadline = hytime_mono_ms() + 8 * POLL_MS;
    while (largest < (off_t)(RECS - 2) * REC_LEN && hytime_mono_ms() < deadline) {
        sleep_ms(5);
        count_temps(f->s3_root, &largest);
    }
    if (largest < (off_t)(RECS - 2) * REC_LEN)
        fail_msg("open batch's temp file has %lld bytes", (long long)largest);
    size_t after = heap_in_use();
    if (after > before && after - before > (8u << 20))
        fail_msg("heap grew by %zu bytes while compressing a batch", after - before);
    stop(f, 1);
    assert_int_equal(f->stats.delivery_bytes, (uint64_t)RECS * REC_LEN);
    assert_int_equal(f->stats.delivery_objects, 1);
}

static void test_delivered_log_segments_are_trimmed(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 4; i++)
        append_range(f, 1 + 20 * i, 21 + 20 * i, T_NOV);
    uint64_t before = streamlog_retained_bytes(f->w);
    start(f, NULL, 1 << 20, 0);
    wait_cursor(f, 81);
    stop(f, 0);
    assert_true(streamlog_retained_bytes(f->w) < before);
}

static void test_corrupt_cursor_file_fails_start(void **state)
{
    struct fixture *f = *state;
    struct delivery_target t = target(NULL, 1 << 20, 0);
    assert_int_equal(fsutil_mkdirs(f->state_dir, 0755), 0);
    assert_int_equal(write_cursor_file(f, "{\"next"), 0);
    assert_int_equal(start_with(f, &t), HY_ECORRUPT);
    f->d = NULL;
}

static void test_start_fails_cleanly_when_any_allocation_fails(void **state)
{
    struct fixture *f = *state;
    struct delivery_target t = target("p/", 1 << 20, 0);
    int failed = 0;
    append_range(f, 1, 3, T_NOV);
    for (unsigned long n = 1; n <= 40; n++) {
        hy_mem_fail_at(n);
        int rc = start_with(f, &t);
        hy_mem_fail_at(0);
        if (rc == 0) {
            stop(f, 0); /* a failure inside the thread is retried, never fatal */
        } else {
            assert_int_equal(rc, HY_ENOMEM);
            f->d = NULL;
            failed++;
        }
    }
    assert_true(failed > 0);
    start(f, "p/", 1 << 20, 0);
    wait_cursor(f, 3);
}

static void test_prefix_with_a_segment_too_long_for_a_file_name_does_not_stall(void **state)
{
    /* The api accepts any prefix up to 1024 bytes; a segment over NAME_MAX is stored in chunks
     * (fssink.h), so the object keeps the prefix it was given. */
    struct fixture *f = *state;
    static struct objects o;
    char prefix[300], want[300];
    memset(prefix, 'p', 260);
    prefix[260] = '\0';
    append_range(f, 1, 3, T_NOV);
    start(f, prefix, 1 << 20, 0);
    wait_cursor(f, 3);
    objects_load(f, &o);
    assert_int_equal(o.n, 1);
    /* The path below the bucket: "%+" and 253 bytes, then the other 7 bytes. */
    snprintf(want, sizeof want, "%%+%.253s/%.7s2026/11/24/18/s1-1-", prefix, prefix);
    assert_memory_equal(o.v[0].key, want, strlen(want));
    assert_memory_equal(o.v[0].data, "r1.r2.", 6);
    objects_free(&o);
}

/* ---------------------------------------------------------------------------------------------
 * Damaged spans.
 */

/* Flip every bit of one byte of the first segment (its first seq is 1) at off. */
static void flip_first_segment_byte(struct fixture *f, off_t off, uint8_t *was)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%020d.seg", f->log_dir, 1);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseeko(fp, off, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_true(c >= 0);
    if (was)
        *was = (uint8_t)c;
    assert_int_equal(fseeko(fp, off, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ 0xff, fp), c ^ 0xff);
    assert_int_equal(fclose(fp), 0);
}

/* Records r1..r5 are frames of 27 bytes: r2's frame is bytes [27, 54) of the first segment. */
#define R2_OFF 27
#define FRAME_LEN 27

static int is_quarantine(const struct object *o)
{
    return strstr(o->key, "corrupted-log/") != NULL;
}

static void test_damaged_span_is_quarantined_and_every_intact_record_delivered(void **state)
{
    struct fixture *f = *state;
    static struct objects o;
    append_range(f, 1, 6, T_NOV);
    flip_first_segment_byte(f, R2_OFF + 24, NULL); /* r2's data */
    /* The bytes as they are now are what the quarantine must hold. */
    char path[256], *seg = NULL, b64[BASE64_ENCODED_LEN(FRAME_LEN) + 1];
    size_t seg_len = 0;
    snprintf(path, sizeof(path), "%s/%020d.seg", f->log_dir, 1);
    assert_int_equal(fsutil_read_all(path, &seg, &seg_len, 1 << 20), 0);
    b64[base64_encode((const uint8_t *)seg + R2_OFF, FRAME_LEN, b64)] = '\0';
    hy_free(seg);

    start(f, NULL, 1 << 20, 900); /* a long interval: the damage itself cuts the batch */
    int64_t deadline = hytime_mono_ms() + POLL_MS;
    while (f->stats.quarantined_spans < 1 && hytime_mono_ms() < deadline)
        sleep_ms(2);
    assert_int_equal(f->stats.delivery_records, 1); /* r1, cut before the span */
    stop(f, 1);
    objects_load(f, &o);
    assert_int_equal(o.n, 3);
    assert_true(is_quarantine(&o.v[0])); /* first = 0: its text is JSON */
    assert_memory_equal(o.v[0].key, "corrupted-log/", 14);
    assert_int_equal(o.v[1].len, 3);
    assert_memory_equal(o.v[1].data, "r1.", 3);
    assert_int_equal(o.v[2].len, 9);
    assert_memory_equal(o.v[2].data, "r3.r4.r5.", 9);
    char *q = hy_malloc(o.v[0].len + 1);
    memcpy(q, o.v[0].data, o.v[0].len);
    q[o.v[0].len] = '\0';
    assert_non_null(strstr(q, "\"firstSequenceNumber\":2,\"sequenceCount\":1,\"location\":1,"
                              "\"offset\":27,\"length\":27,\"rawDataLength\":27,"
                              "\"truncated\":false,\"rawData\":\""));
    assert_non_null(strstr(q, b64));
    assert_non_null(strstr(q, "\"errorCode\":\"CorruptedLog\""));
    cJSON *j = cJSON_Parse(q);
    assert_non_null(j);
    cJSON_Delete(j);
    hy_free(q);

    assert_int_equal(f->stats.quarantined_spans, 1);
    assert_int_equal(f->stats.quarantined_bytes, 27);
    assert_int_equal(f->stats.delivery_records, 4);
    assert_int_equal(atomic_load(&failures_reported), 1);
    assert_non_null(strstr(failure_details, o.v[0].key));
    assert_non_null(strstr(failure_details, "sequence numbers 2 to 2"));
    char *cursor = read_cursor_file(f);
    assert_non_null(cursor);
    assert_non_null(strstr(cursor, "\"next_seq\":6"));
    assert_non_null(strstr(cursor, "\"quarantine\":{\"location\":1,\"offset\":27,"));
    hy_free(cursor);
    objects_free(&o);

    /* Past the span for good: a restart neither quarantines nor reports it again. */
    start(f, NULL, 1 << 20, 0);
    append_range(f, 6, 7, T_NOV);
    wait_cursor(f, 7);
    stop(f, 1);
    objects_load(f, &o);
    assert_int_equal(o.n, 4);
    assert_int_equal(f->stats.quarantined_spans, 1);
    assert_int_equal(atomic_load(&failures_reported), 1);
    objects_free(&o);
}

static void test_replayed_span_is_rewritten_under_the_key_named_in_the_state(void **state)
{
    /* A crash after the quarantine object was written and before the cursor passed the span:
     * the state names the span's key, and the replay must overwrite exactly that object. */
    struct fixture *f = *state;
    static struct objects o;
    append_range(f, 1, 6, T_NOV);
    flip_first_segment_byte(f, R2_OFF + 24, NULL);
    assert_int_equal(write_cursor_file(f, "{\"next_seq\":2,\"quarantine\":{\"location\":1,"
                                          "\"offset\":27,\"bucket\":\"b\",\"key\":"
                                          "\"corrupted-log/fixed\"}}\n"),
                     0);
    object_put(f, "corrupted-log/fixed", "old");
    start(f, NULL, 1 << 20, 0);
    wait_cursor(f, 6);
    stop(f, 1);
    objects_load(f, &o);
    int nq = 0;
    for (int i = 0; i < o.n; i++) {
        if (!is_quarantine(&o.v[i]))
            continue;
        nq++;
        assert_string_equal(o.v[i].key, "corrupted-log/fixed");
        assert_memory_equal(o.v[i].data, "{\"deliveryStreamName\":\"s1\"", 26);
    }
    assert_int_equal(nq, 1);
    assert_int_equal(o.n, 2);
    objects_free(&o);
}

static void test_quarantine_sink_failure_is_retried_never_skipped(void **state)
{
    /* A directory where the quarantine object goes makes its commit fail: delivery must retry
     * with backoff and hold the cursor before the span until the object is written. */
    struct fixture *f = *state;
    static struct objects o;
    char path[512];
    append_range(f, 1, 6, T_NOV);
    flip_first_segment_byte(f, R2_OFF + 24, NULL);
    assert_int_equal(write_cursor_file(f, "{\"next_seq\":1,\"quarantine\":{\"location\":1,"
                                          "\"offset\":27,\"bucket\":\"b\",\"key\":"
                                          "\"corrupted-log/fixed\"}}\n"),
                     0);
    snprintf(path, sizeof(path), "%s/b/corrupted-log/fixed", f->s3_root);
    assert_int_equal(fsutil_mkdirs(path, 0755), 0);
    start(f, NULL, 1 << 20, 0);
    int64_t deadline = hytime_mono_ms() + POLL_MS;
    while (f->stats.delivery_failures < 2 && hytime_mono_ms() < deadline)
        sleep_ms(5);
    assert_true(f->stats.delivery_failures >= 2);
    assert_int_equal(delivery_cursor(f->d), 2); /* r1 delivered, the span not passed */
    assert_int_equal(f->stats.quarantined_spans, 0);
    assert_int_equal(atomic_load(&failures_reported), 0);
    assert_int_equal(rmdir(path), 0);
    wait_cursor(f, 6);
    stop(f, 1);
    objects_load(f, &o);
    assert_int_equal(o.n, 3);
    assert_string_equal(o.v[0].key, "corrupted-log/fixed");
    objects_free(&o);
    assert_int_equal(f->stats.quarantined_spans, 1);
    assert_int_equal(count_temps(f->s3_root, NULL), 0);
}

/* Append JSON records {"k":"<a|b>","i":<i>} for i in [from, to), k alternating. */
static void append_json(struct fixture *f, int from, int to, int64_t arrival_ms)
{
    char text[64][40];
    struct streamlog_rec recs[64];
    struct done dn = {.fired = 0};
    assert_true(to - from <= 64);
    for (int i = from; i < to; i++) {
        int n = snprintf(text[i - from], sizeof(text[0]), "{\"k\":\"%c\",\"i\":%d}",
                         i % 2 ? 'a' : 'b', i);
        recs[i - from].data = text[i - from];
        recs[i - from].len = (size_t)n;
    }
    pthread_mutex_init(&dn.mu, NULL);
    pthread_cond_init(&dn.cv, NULL);
    struct streamlog_append a = {.recs = recs,
                                 .n = (size_t)(to - from),
                                 .arrival_ms = arrival_ms,
                                 .done = on_done,
                                 .arg = &dn};
    assert_int_equal(streamlog_append(f->w, &a), 0);
    pthread_mutex_lock(&dn.mu);
    while (!dn.fired)
        pthread_cond_wait(&dn.cv, &dn.mu);
    pthread_mutex_unlock(&dn.mu);
    pthread_mutex_destroy(&dn.mu);
    pthread_cond_destroy(&dn.cv);
}

static void test_partition_commit_failure_replays_exactly_the_sealed_range(void **state)
{
    /* Partition a commits, partition b cannot (a file stands where its folder goes). The
     * batch's cut must be durable before a commits, so every retry, and the restart after a
     * stop, reads exactly the same range again: a's object is replaced, never joined by a
     * second object holding some of its records, and records appended meanwhile go to the
     * next batch. */
    struct fixture *f = *state;
    static struct objects o;
    /* Partition b's key, named as delivery names it: a directory there makes its commit fail
     * (rename: EISDIR) while its writes succeed. */
    struct buf key;
    char path[1024];
    buf_init(&key, 1024);
    struct keyname_batch r = {
        .stream_name = "s1",
        .version = 1,
        .stream_id = keyname_derive_id(keyname_stream_id("s1", CREATE_MS), "k\0b\0", 4),
        .first_seq = 1,
        .first_arrival_ms = T_NOV,
    };
    assert_int_equal(keyname_object_key("p=b/", &r, &key), 0);
    snprintf(path, sizeof(path), "%s/b/%s", f->s3_root, key.data);
    buf_fini(&key);
    assert_int_equal(fsutil_mkdirs(path, 0755), 0);
    append_json(f, 1, 7, T_NOV);
    struct delivery_target t = target("p=!{partitionKeyFromQuery:k}/", 1 << 20, 0);
    t.error_prefix = "err/!{firehose:error-output-type}/";
    t.partitioned = 1;
    t.jq_query = "{k: .k}";
    t.append_delimiter = 1;
    assert_int_equal(start_with(f, &t), 0);
    int64_t deadline = hytime_mono_ms() + POLL_MS;
    while (f->stats.delivery_failures < 2 && hytime_mono_ms() < deadline)
        sleep_ms(5);
    assert_true(f->stats.delivery_failures >= 2);
    append_json(f, 7, 11, T_NOV + 1);
    sleep_ms(50);
    char *cursor = read_cursor_file(f);
    assert_non_null(cursor);
    assert_non_null(strstr(cursor, "\"sealed_last\":6"));
    hy_free(cursor);
    assert_int_equal(delivery_stop(f->d, 1), 1);
    f->d = NULL;

    assert_int_equal(rmdir(path), 0);
    assert_int_equal(start_with(f, &t), 0);
    wait_cursor(f, 11);
    assert_int_equal(delivery_stop(f->d, 1), 11);
    f->d = NULL;
    objects_load(f, &o);
    /* Batch [1, 6]: one object per partition; batch [7, 10]: one more per partition. */
    assert_int_equal(o.n, 4);
    int a_lines = 0, b_lines = 0;
    for (int i = 0; i < o.n; i++) {
        for (size_t j = 0; j < o.v[i].len; j++)
            if (o.v[i].data[j] == '\n')
                *(strncmp(o.v[i].key, "p=a/", 4) == 0 ? &a_lines : &b_lines) += 1;
    }
    assert_int_equal(a_lines, 5);
    assert_int_equal(b_lines, 5);
    objects_free(&o);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_interval_zero_delivers_durable_records_into_one_exact_object),
        T(test_partition_commit_failure_replays_exactly_the_sealed_range),
        T(test_compressed_batch_streams_with_bounded_memory),
        T(test_records_appended_while_running_reach_an_object_promptly),
        T(test_size_hint_cuts_objects_covering_every_record_once_in_order),
        T(test_intent_replay_uses_exactly_the_stored_bucket_and_key_after_target_change),
        T(test_intent_written_before_streaming_with_last_seq_still_loads),
        T(test_crash_after_commit_before_cursor_store_leaves_each_record_once),
        T(test_replay_longer_than_the_crashed_object_replaces_it),
        T(test_stop_with_flush_delivers_everything_despite_long_interval),
        T(test_stop_without_flush_keeps_batch_for_restart_without_duplicates),
        T(test_interval_hint_holds_records_until_it_elapses),
        T(test_update_applies_new_prefix_and_version_from_next_batch),
        T(test_sink_failure_retries_the_same_key_until_it_succeeds),
        T(test_commit_failure_rereads_the_batch_under_the_same_key_and_survives_stop),
        T(test_large_size_hint_streams_to_disk_without_a_batch_sized_buffer),
        T(test_delivered_log_segments_are_trimmed),
        T(test_corrupt_cursor_file_fails_start),
        T(test_start_fails_cleanly_when_any_allocation_fails),
        T(test_prefix_with_a_segment_too_long_for_a_file_name_does_not_stall),
        T(test_damaged_span_is_quarantined_and_every_intact_record_delivered),
        T(test_replayed_span_is_rewritten_under_the_key_named_in_the_state),
        T(test_quarantine_sink_failure_is_retried_never_skipped),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
