/* Unit tests for src/sink/s3sink.c: endpoint flags, the local fallback, and the request sequence
 * (PutObject, multipart, retries, abort) against an in-process HTTP server that records what it
 * is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "net/http.h"
#include "sink/s3sink.h"

static void test_parse_bucket_endpoint(void **state)
{
    (void)state;
    struct s3sink_endpoint e;
    char a[] = "logs=http://127.0.0.1:9000", b[] = "=http://x", c[] = "logs=", d[] = "logs";
    assert_int_equal(s3sink_parse_bucket_endpoint(a, &e), 0);
    assert_string_equal(e.bucket, "logs");
    assert_string_equal(e.url, "http://127.0.0.1:9000");
    assert_int_equal(s3sink_parse_bucket_endpoint(b, &e), HY_EINVAL);
    assert_int_equal(s3sink_parse_bucket_endpoint(c, &e), HY_EINVAL);
    assert_int_equal(s3sink_parse_bucket_endpoint(d, &e), HY_EINVAL);
    struct s3sink *s = NULL;
    struct s3sink_endpoint bad = {NULL, "ftp://x"};
    struct s3sink_config cfg = {.endpoints = &bad, .nendpoints = 1};
    assert_int_equal(s3sink_new(&cfg, &s), HY_EINVAL);
}

/* The fake S3 server: records "METHOD path" lines; fails the first `fail_next` requests with
 * 503. */
struct fake {
    struct http_server *srv;
    pthread_t thread;
    int port;
    char log[8192];
    size_t log_len;
    atomic_int fail_next;
    size_t bytes;       /* body bytes of PUTs */
    pthread_mutex_t mu; /* log and bytes: written by the loop, read by the test */
};

static void fake_reset(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->log_len = 0;
    f->log[0] = '\0';
    f->bytes = 0;
    pthread_mutex_unlock(&f->mu);
}

/* A copy of the log (the test thread's view). */
static void fake_log(struct fake *f, char *out, size_t cap, size_t *bytes)
{
    pthread_mutex_lock(&f->mu);
    snprintf(out, cap, "%s", f->log);
    if (bytes)
        *bytes = f->bytes;
    pthread_mutex_unlock(&f->mu);
}

static void fake_handler(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct fake *f = ud;
    pthread_mutex_lock(&f->mu);
    int n = snprintf(f->log + f->log_len, sizeof f->log - f->log_len, "%.*s %.*s\n",
                     (int)req->method_len, req->method, (int)req->path_len, req->path);
    if (n > 0 && (size_t)n < sizeof f->log - f->log_len)
        f->log_len += (size_t)n;
    if (req->method[0] == 'P' && req->method[1] == 'U')
        f->bytes += req->body_len;
    pthread_mutex_unlock(&f->mu);
    if (atomic_load(&f->fail_next) > 0) {
        atomic_fetch_sub(&f->fail_next, 1);
        http_respond(ex, 503, NULL, "<Error><Code>SlowDown</Code></Error>", 36);
        return;
    }
    if (memmem(req->path, req->path_len, "?uploads=", 9)) {
        const char *x = "<InitiateMultipartUploadResult><UploadId>up+1/x</UploadId>"
                        "</InitiateMultipartUploadResult>";
        http_respond(ex, 200, NULL, x, strlen(x));
    } else if (memmem(req->path, req->path_len, "partNumber=", 11)) {
        http_respond(ex, 200, "ETag: \"e\"\r\n", NULL, 0);
    } else {
        http_respond(ex, req->method[0] == 'D' ? 204 : 200, "ETag: \"o\"\r\n", NULL, 0);
    }
}

static void *fake_main(void *arg)
{
    http_server_run(((struct fake *)arg)->srv);
    return NULL;
}

static struct fake *fake_start(void)
{
    struct fake *f = hy_calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_body_bytes = 16u << 20;
    cfg.max_buffered_bytes = 128u << 20;
    f->srv = http_server_new(&cfg, fake_handler, f);
    assert_int_equal(http_server_listen(f->srv, "127.0.0.1:0"), 0);
    f->port = http_server_port(f->srv);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return f;
}

static void fake_stop(struct fake *f)
{
    http_server_stop(f->srv);
    pthread_join(f->thread, NULL);
    http_server_free(f->srv);
    pthread_mutex_destroy(&f->mu);
    hy_free(f);
}

static struct s3sink *sink_for(struct fake *f, const char *root, char *url, size_t cap)
{
    snprintf(url, cap, "http://127.0.0.1:%d", f->port);
    struct s3sink_endpoint ep = {"remote", url};
    struct s3sink_config cfg = {
        .endpoints = &ep, .nendpoints = 1, .path_style = 1, .local_root = root};
    struct s3sink *s = NULL;
    assert_int_equal(s3sink_new(&cfg, &s), 0);
    return s;
}

static void test_put_multipart_retry_abort_and_local(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    char root[64] = "/tmp/s3sink_test.XXXXXX";
    assert_non_null(mkdtemp(root));
    struct fake *f = fake_start();
    char url[64];
    struct s3sink *s = sink_for(f, root, url, sizeof url);
    /* small: one PutObject, after one 503 */
    atomic_store(&f->fail_next, 1);
    void *w = NULL;
    assert_int_equal(s3sink_ops.open(s, "remote", "a b/c+d", &w), 0);
    struct iovec v = {(void *)"hello", 5};
    assert_int_equal(s3sink_ops.write(w, &v, 1), 0);
    assert_int_equal(s3sink_ops.commit(w), 0);
    char log[8192];
    size_t bytes = 0;
    fake_log(f, log, sizeof log, NULL);
    assert_non_null(strstr(log, "PUT /remote/a%20b/c%2Bd\nPUT /remote/a%20b/c%2Bd\n"));
    /* 20 MiB: create, two full parts during the writes, the rest and Complete at commit */
    fake_reset(f);
    char *chunk = hy_malloc(1 << 20);
    memset(chunk, 'z', 1 << 20);
    assert_int_equal(s3sink_ops.open(s, "remote", "big", &w), 0);
    for (int i = 0; i < 20; i++) {
        struct iovec c = {chunk, 1 << 20};
        assert_int_equal(s3sink_ops.write(w, &c, 1), 0);
    }
    assert_int_equal(s3sink_ops.commit(w), 0);
    fake_log(f, log, sizeof log, &bytes);
    assert_string_equal(log, "POST /remote/big?uploads=\n"
                             "PUT /remote/big?partNumber=1&uploadId=up%2B1%2Fx\n"
                             "PUT /remote/big?partNumber=2&uploadId=up%2B1%2Fx\n"
                             "PUT /remote/big?partNumber=3&uploadId=up%2B1%2Fx\n"
                             "POST /remote/big?uploadId=up%2B1%2Fx\n");
    assert_int_equal(bytes, 20u << 20);
    /* abort of a started upload sends AbortMultipartUpload */
    fake_reset(f);
    assert_int_equal(s3sink_ops.open(s, "remote", "gone", &w), 0);
    for (int i = 0; i < 9; i++) {
        struct iovec c = {chunk, 1 << 20};
        assert_int_equal(s3sink_ops.write(w, &c, 1), 0);
    }
    s3sink_ops.abort(w);
    fake_log(f, log, sizeof log, NULL);
    assert_non_null(strstr(log, "DELETE /remote/gone?uploadId=up%2B1%2Fx\n"));
    hy_free(chunk);
    /* retries run out: the commit fails */
    atomic_store(&f->fail_next, S3SINK_ATTEMPTS);
    assert_int_equal(s3sink_ops.open(s, "remote", "x", &w), 0);
    assert_int_equal(s3sink_ops.write(w, &v, 1), 0);
    assert_true(s3sink_ops.commit(w) < 0);
    /* a bucket without an endpoint stays local */
    assert_int_equal(s3sink_ops.open(s, "localb", "k/1", &w), 0);
    assert_int_equal(s3sink_ops.write(w, &v, 1), 0);
    assert_int_equal(s3sink_ops.commit(w), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/localb/k/1", root);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 5);
    s3sink_free(s);
    fake_stop(f);
    fsutil_remove_tree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bucket_endpoint),
        cmocka_unit_test(test_put_multipart_retry_abort_and_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
