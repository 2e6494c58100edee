/* ancons: the analytics consumer over real WAL logs (source and target): events equal the models'
 * own scores, parse failures are counted, a stop and start from the checkpoint (what a kill -9
 * leaves: the checkpoint is written before the cursor is reported) gives the events of an
 * uninterrupted run, a missing checkpoint starts at the log's end, a corrupt one is reported.
 * Also anset validation and anjq paths. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "analytics/detector.h"
#include "analytics/ancons.h"
#include "analytics/anjq.h"
#include "analytics/anmodels.h"
#include "analytics/anset.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "core/stats.h"
#include "stream/streamlog.h"
#include "stream/wal.h"

#define N 1500
static const char *keys[] = {"web-1", "web-2", "db-1"};

struct fixture {
    char root[64], src_dir[96], dst_dir[96], state[96];
    struct streamlog *src, *dst;
    struct stream_stats stats;
    cJSON *settings;
    _Atomic uint64_t cursor;
    atomic_int failures;
    atomic_int closed; /* the target answers HY_ECLOSED */
};

static double value_at(size_t i)
{
    double v = 40 + 5 * sin((double)i / 30.0 + (double)(i % 3)) + (double)((i * 7919) % 11) / 11.0;
    if (i == 901 || i == 1203 || i == 1204)
        v += 300;
    return v;
}

static void advanced(void *rt, uint64_t c)
{
    struct fixture *f = rt;
    atomic_store(&f->cursor, c);
}

static void report_failure(void *rt, const char *details)
{
    (void)details;
    struct fixture *f = rt;
    atomic_fetch_add(&f->failures, 1);
}

static int append_to(void *rt, const char *stream, struct streamlog_append *a)
{
    struct fixture *f = rt;
    if (strcmp(stream, "alerts") != 0)
        return HY_ENOTFOUND;
    if (atomic_load(&f->closed))
        return HY_ECLOSED;
    return streamlog_append(f->dst, a);
}

static int setup(void **state)
{
    struct fixture *f = hy_calloc(1, sizeof *f);
    struct streamlog_config cfg = {.segment_bytes = 4096};
    snprintf(f->root, sizeof f->root, "/tmp/ancons_test.XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->src_dir, sizeof f->src_dir, "%s/src", f->root);
    snprintf(f->dst_dir, sizeof f->dst_dir, "%s/dst", f->root);
    snprintf(f->state, sizeof f->state, "%s/analytics.state", f->root);
    if (streamlog_open(&wal_backend, f->src_dir, &cfg, &f->src) ||
        streamlog_open(&wal_backend, f->dst_dir, &cfg, &f->dst))
        return -1;
    f->settings = cJSON_Parse("{\"analytics\":{\"value\":\".v\",\"key\":\".k\",\"max_keys\":3,"
                              "\"timestamp\":\".t\",\"threshold\":0.5,\"target_stream\":"
                              "\"alerts\"}}");
    *state = f;
    return f->settings ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    streamlog_close(f->src);
    streamlog_close(f->dst);
    fsutil_remove_tree(f->root);
    cJSON_Delete(f->settings);
    hy_free(f);
    return 0;
}

static struct consumer_env env_of(struct fixture *f)
{
    struct consumer_env e = {.stream_name = "metrics",
                             .settings = f->settings,
                             .log = f->src,
                             .stats = &f->stats,
                             .state_path = f->state,
                             .advanced = advanced,
                             .report_failure = report_failure,
                             .append_to = append_to,
                             .rt = f};
    return e;
}

struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired, status;
};

static void on_done(void *arg, int status, uint64_t first)
{
    (void)first;
    struct done *d = arg;
    pthread_mutex_lock(&d->mu);
    d->fired = 1;
    d->status = status;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void append_sync(struct streamlog *l, struct streamlog_rec *recs, size_t n)
{
    struct done d = {.fired = 0};
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    struct streamlog_append a = {.recs = recs, .n = n, .arrival_ms = 1, .done = on_done, .arg = &d};
    assert_int_equal(streamlog_append(l, &a), 0);
    pthread_mutex_lock(&d.mu);
    while (!d.fired)
        pthread_cond_wait(&d.cv, &d.mu);
    pthread_mutex_unlock(&d.mu);
    assert_int_equal(d.status, 0);
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cv);
}

/* Points [from, to) as records, two points in one record (NDJSON) for every odd i. */
static void push(struct fixture *f, size_t from, size_t to)
{
    static char text[64][320];
    struct streamlog_rec recs[64];
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        int len = snprintf(text[n], sizeof text[n], "{\"k\":\"%s\",\"v\":%.17g,\"t\":%zu}\n",
                           keys[i % 3], value_at(i), i);
        if (i % 2 == 1 && i + 1 < to) {
            i++;
            snprintf(text[n] + len, sizeof text[n] - (size_t)len,
                     "{\"k\":\"%s\",\"v\":%.17g,\"t\":%zu}", keys[i % 3], value_at(i), i);
        }
        recs[n].data = text[n];
        recs[n].len = strlen(text[n]);
        if (++n == 64) {
            append_sync(f->src, recs, n);
            n = 0;
        }
    }
    if (n)
        append_sync(f->src, recs, n);
}

static void wait_cursor(struct fixture *f)
{
    uint64_t end = streamlog_durable_next(f->src);
    for (int i = 0; i < 3000 && atomic_load(&f->cursor) < end; i++) {
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(atomic_load(&f->cursor) >= end);
}

/* Events in the target log, keyed by the point's t (deduplicated by seq and t). */
static size_t read_events(struct fixture *f, double *score, int *seen)
{
    struct streamlog_reader *r = NULL;
    struct streamlog_record rec;
    size_t n = 0;
    assert_int_equal(streamlog_reader_open(f->dst, 1, &r), 0);
    while (streamlog_reader_next(r, &rec) == 1) {
        cJSON *e = cJSON_ParseWithLength((const char *)rec.data, rec.len);
        assert_non_null(e);
        const cJSON *t = cJSON_GetObjectItem(e, "timestamp");
        const cJSON *k = cJSON_GetObjectItem(e, "key");
        assert_true(cJSON_IsNumber(t));
        size_t i = (size_t)t->valuedouble;
        assert_true(i < N);
        assert_string_equal(k->valuestring, keys[i % 3]);
        assert_string_equal(cJSON_GetObjectItem(e, "stream")->valuestring, "metrics");
        assert_string_equal(cJSON_GetObjectItem(e, "detector")->valuestring,
                            detector_find(NULL)->name);
        assert_true(cJSON_GetObjectItem(e, "value")->valuedouble == value_at(i));
        double s = cJSON_GetObjectItem(e, "score")->valuedouble;
        if (seen[i])
            assert_true(score[i] == s);
        else
            n++;
        seen[i] = 1;
        score[i] = s;
        cJSON_Delete(e);
    }
    streamlog_reader_close(r);
    return n;
}

/* What the models say, point by point. */
static size_t expected(double *score, int *flag)
{
    struct anmodels *m = anmodels_new(detector_find(NULL), 3);
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(anmodels_step(m, keys[i % 3], strlen(keys[i % 3]), value_at(i), &score[i]),
                         0);
        flag[i] = score[i] >= 0.5;
        n += (size_t)flag[i];
    }
    anmodels_free(m);
    return n;
}

static void check_events(struct fixture *f)
{
    static double want[N], got[N];
    static int wflag[N], gflag[N];
    memset(gflag, 0, sizeof gflag);
    size_t nw = expected(want, wflag);
    assert_true(nw >= 3);
    size_t ng = read_events(f, got, gflag);
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(gflag[i], wflag[i]);
        if (wflag[i])
            assert_true(got[i] == want[i]);
    }
}

static void test_ancons_scores_like_the_models(void **state)
{
    struct fixture *f = *state;
    /* a program that is no plain chain: records go through jq's own parser */
    cJSON *an = cJSON_GetObjectItem(f->settings, "analytics");
    cJSON_ReplaceItemInObject(an, "value", cJSON_CreateString(".v + 0"));
    struct consumer_env env = env_of(f);
    void *c = NULL;
    assert_true(analytics_consumer.wants(NULL, f->settings));
    assert_false(analytics_consumer.wants(NULL, NULL));
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    push(f, 0, N);
    /* a record that is not JSON and one whose value is no number: two parse failures */
    struct streamlog_rec bad[2] = {{"not json", 8}, {"{\"k\":\"web-1\",\"v\":\"x\"}", 21}};
    append_sync(f->src, bad, 2);
    wait_cursor(f);
    analytics_consumer.stop(c, 1);
    check_events(f);
    assert_int_equal(atomic_load(&f->stats.analytics_points), N);
    assert_int_equal(atomic_load(&f->stats.analytics_parse_failures), 2);
    assert_int_equal(atomic_load(&f->failures), 0);
}

static void test_ancons_restart_resumes_the_models(void **state)
{
    struct fixture *f = *state;
    struct consumer_env env = env_of(f);
    void *c = NULL;
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    push(f, 0, 1000);
    wait_cursor(f);
    uint64_t at = analytics_consumer.stop(c, 0);
    assert_true(at == streamlog_durable_next(f->src));
    /* records arriving while it is down are scored after the restart */
    push(f, 1000, 1100);
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    assert_true(analytics_consumer.cursor(c) == at);
    push(f, 1100, N);
    wait_cursor(f);
    analytics_consumer.stop(c, 1);
    check_events(f);
}

static void test_ancons_without_checkpoint_starts_at_the_end(void **state)
{
    struct fixture *f = *state;
    struct consumer_env env = env_of(f);
    void *c = NULL;
    push(f, 0, 100);
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    assert_true(analytics_consumer.cursor(c) == streamlog_durable_next(f->src));
    analytics_consumer.stop(c, 1);
    assert_int_equal(atomic_load(&f->stats.analytics_points), 0);
    /* a damaged checkpoint is reported and scoring restarts at the end */
    FILE *fp = fopen(f->state, "r+b");
    assert_non_null(fp);
    fseek(fp, 10, SEEK_SET);
    fputc('x', fp);
    fclose(fp);
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    analytics_consumer.stop(c, 1);
    assert_int_equal(atomic_load(&f->failures), 1);
}

static void test_ancons_missing_target_drops_and_reports(void **state)
{
    struct fixture *f = *state;
    cJSON *an = cJSON_GetObjectItem(f->settings, "analytics");
    cJSON_ReplaceItemInObject(an, "target_stream", cJSON_CreateString("gone"));
    struct consumer_env env = env_of(f);
    void *c = NULL;
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    push(f, 0, N);
    wait_cursor(f);
    analytics_consumer.stop(c, 1);
    assert_true(atomic_load(&f->stats.analytics_dropped_events) >= 3);
    assert_true(atomic_load(&f->failures) >= 1);
}

/* A closed target (start-up order, shutdown) is waited for; stopping then keeps the batch
 * unscored, and the next start scores it again: no event lost, none dropped. */
static void test_ancons_closed_target_is_waited_for(void **state)
{
    struct fixture *f = *state;
    struct consumer_env env = env_of(f);
    void *c = NULL;
    atomic_store(&f->closed, 1);
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    uint64_t first = analytics_consumer.cursor(c);
    push(f, 0, N);
    for (int i = 0; i < 3000 && atomic_load(&f->stats.analytics_anomalies) == 0; i++) {
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(atomic_load(&f->stats.analytics_anomalies) > 0);
    assert_true(analytics_consumer.stop(c, 1) == first);
    assert_true(streamlog_durable_next(f->dst) == 1);
    atomic_store(&f->closed, 0);
    assert_int_equal(analytics_consumer.start(&env, &c), 0);
    wait_cursor(f);
    analytics_consumer.stop(c, 1);
    check_events(f);
    assert_int_equal(atomic_load(&f->stats.analytics_dropped_events), 0);
    assert_int_equal(atomic_load(&f->failures), 0);
}

/* ---------------------------------------------------------------- anset, anjq */

static int parse_err(const char *json, const char *stream, const char *want)
{
    cJSON *in = cJSON_Parse(json);
    struct anset s;
    char err[512];
    int rc = anset_parse(in, stream, &s, NULL, err, sizeof err);
    cJSON_Delete(in);
    if (rc == 0) {
        anset_fini(&s);
        return 0;
    }
    if (!strstr(err, want))
        fprintf(stderr, "message '%s' lacks '%s'\n", err, want);
    return rc == HY_EINVAL && strstr(err, want) != NULL;
}

static void test_anset_validation(void **state)
{
    (void)state;
    assert_true(parse_err("[]", "s", "JSON object"));
    assert_true(parse_err("{\"target_stream\":\"t\"}", "s", "value is required"));
    assert_true(parse_err("{\"value\":1,\"target_stream\":\"t\"}", "s", "non-empty string"));
    assert_true(parse_err("{\"value\":\".a | (\",\"target_stream\":\"t\"}", "s", "jq program"));
    assert_true(parse_err("{\"value\":\".a\",\"key\":\"}\",\"target_stream\":\"t\"}", "s",
                          "key is not a valid"));
    assert_true(parse_err("{\"value\":\".a\",\"target_stream\":\"t\",\"detector\":\"x\"}", "s",
                          "unknown detector 'x'"));
    assert_true(parse_err("{\"value\":\".a\",\"target_stream\":\"t\",\"threshold\":-0.1}", "s",
                          "threshold"));
    assert_true(parse_err("{\"value\":\".a\",\"target_stream\":\"t\",\"threshold\":\"1\"}", "s",
                          "threshold"));
    assert_true(parse_err("{\"value\":\".a\",\"key\":\".h\",\"target_stream\":\"t\","
                          "\"max_keys\":0}",
                          "s", "max_keys"));
    assert_true(parse_err("{\"value\":\".a\",\"key\":\".h\",\"target_stream\":\"t\","
                          "\"max_keys\":1.5}",
                          "s", "max_keys"));
    assert_true(
        parse_err("{\"value\":\".a\",\"target_stream\":\"t\",\"max_keys\":2}", "s", "needs key"));
    assert_true(parse_err("{\"value\":\".a\"}", "s", "target_stream is required"));
    assert_true(parse_err("{\"value\":\".a\",\"target_stream\":\"bad name\"}", "s",
                          "target_stream is required"));
    assert_true(parse_err("{\"value\":\".a\",\"target_stream\":\"s\"}", "s", "another stream"));
    assert_true(parse_err("{\"value\":\".a\",\"target_stream\":\"t\",\"webhook\":\"ftp://h\"}", "s",
                          "webhook"));
    assert_true(parse_err("{\"value\":\".a\",\"target_stream\":\"t\",\"Value\":1}", "s",
                          "unknown field 'Value'"));

    cJSON *in = cJSON_Parse("{\"value\":\".a\",\"target_stream\":\"t\"}");
    struct anset s;
    cJSON *norm = NULL;
    char err[256];
    assert_int_equal(anset_parse(in, "s", &s, &norm, err, sizeof err), 0);
    assert_int_equal(s.max_keys, 1);
    assert_true(s.threshold == 0.5);
    assert_string_equal(s.ops->name, detector_find(NULL)->name);
    char *text = cJSON_PrintUnformatted(norm);
    assert_string_equal(text, "{\"value\":\".a\",\"detector\":\"ensemble2\",\"threshold\":0.5,"
                              "\"target_stream\":\"t\"}");
    cJSON_free(text);
    cJSON_Delete(norm);
    cJSON_Delete(in);
    anset_fini(&s);
}

static void anjq_paths(int fast)
{
    struct anjq *v = NULL, *k = NULL;
    char err[128];
    assert_int_equal(anjq_compile(".m.cpu", &v, err, sizeof err), 0);
    assert_int_equal(anjq_compile(".host", &k, err, sizeof err), 0);
    const char *rec = "{\"m\":{\"cpu\":1.5},\"host\":\"a\\\"b\"} {\"m\":{\"cpu\":\"2e3\"},"
                      "\"host\":7}\n{\"m\":{}}\n[1,";
    assert_true(anjq_simple(v) && anjq_simple(k));
    struct anjq_parser *p = anjq_parser_new(rec, strlen(rec), fast);
    struct anjq_doc *d = NULL;
    double x;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(anjq_parser_next(p, &d), 1);
    assert_int_equal(anjq_number(v, d, &x), 0);
    assert_true(x == 1.5);
    assert_int_equal(anjq_json(k, d, 1, &b), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\"b", 3);
    anjq_doc_free(d);
    assert_int_equal(anjq_parser_next(p, &d), 1);
    assert_int_equal(anjq_number(v, d, &x), 0);
    assert_true(x == 2000);
    buf_reset(&b);
    assert_int_equal(anjq_json(k, d, 1, &b), 0);
    assert_memory_equal(b.data, "7", 1);
    anjq_doc_free(d);
    assert_int_equal(anjq_parser_next(p, &d), 1);
    assert_int_equal(anjq_number(v, d, &x), HY_EBADMSG);
    assert_int_equal(anjq_json(k, d, 1, &b), HY_ENOTFOUND);
    anjq_doc_free(d);
    assert_int_equal(anjq_parser_next(p, &d), HY_EBADMSG);
    anjq_parser_free(p);
    buf_fini(&b);
    anjq_free(v);
    anjq_free(k);
    assert_int_equal(anjq_compile("{", &v, err, sizeof err), HY_EINVAL);
    assert_true(err[0] != '\0');
    assert_int_equal(anjq_compile(".a + 0", &v, err, sizeof err), 0);
    assert_false(anjq_simple(v));
    anjq_free(v);
}

/* The same answers from jq's parser and from the fast path (cJSON). */
static void test_anjq_paths(void **state)
{
    (void)state;
    anjq_paths(0);
    anjq_paths(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ancons_scores_like_the_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ancons_restart_resumes_the_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ancons_without_checkpoint_starts_at_the_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ancons_missing_target_drops_and_reports, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ancons_closed_target_is_waited_for, setup, teardown),
        cmocka_unit_test(test_anset_validation),
        cmocka_unit_test(test_anjq_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
