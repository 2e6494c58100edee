/*
 * Unit tests for src/net: the picohttpparser ABI we declare (phr.h), the request state machine
 * (http_parse.c) at every split point and against a guard page, and the server (http.c) with a
 * real loop thread and real sockets on 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/mem.h"
#include "net/http.h"
#include "net/http_int.h"
#include "net/phr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ============================================================================================
 * picohttpparser ABI
 */

static void test_phr_parse_request_abi_matches_library(void **state)
{
    const char req[] = "POST /x?y=1 HTTP/1.1\r\nHost: a\r\nX-Long-Name: v v\r\n\r\nBODY";
    struct phr_header h[8];
    size_t nh = 8;
    const char *m, *p;
    size_t ml, pl;
    int minor = -1;
    int r = phr_parse_request(req, sizeof req - 1, &m, &ml, &p, &pl, &minor, h, &nh, 0);
    assert_int_equal(r, (int)(sizeof req - 1 - 4));
    assert_int_equal(ml, 4);
    assert_memory_equal(m, "POST", 4);
    assert_int_equal(pl, 6);
    assert_memory_equal(p, "/x?y=1", 6);
    assert_int_equal(minor, 1);
    assert_int_equal(nh, 2);
    assert_int_equal(h[1].name_len, 11);
    assert_memory_equal(h[1].name, "X-Long-Name", 11);
    assert_int_equal(h[1].value_len, 3);
    assert_memory_equal(h[1].value, "v v", 3);

    nh = 8;
    assert_int_equal(phr_parse_request(req, 20, &m, &ml, &p, &pl, &minor, h, &nh, 0), -2);
    nh = 8;
    assert_int_equal(
        phr_parse_request("GET\x01 / HTTP/1.1\r\n\r\n", 20, &m, &ml, &p, &pl, &minor, h, &nh, 0),
        -1);
}

static void test_phr_decode_chunked_abi_decodes_in_place_and_reports_rest(void **state)
{
    char buf[] = "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\nNEXT";
    struct http_chunk_decoder dec;
    memset(&dec, 0, sizeof dec);
    dec.d.consume_trailer = 1;
    size_t n = sizeof buf - 1;
    ssize_t r = phr_decode_chunked(&dec.d, buf, &n);
    assert_int_equal(r, 4);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "abcde", 5);
    assert_memory_equal(buf + n, "NEXT", 4);

    char bad[] = "zz\r\n";
    memset(&dec, 0, sizeof dec);
    n = sizeof bad - 1;
    assert_int_equal(phr_decode_chunked(&dec.d, bad, &n), -1);

    char part[] = "a\r\n01234";
    memset(&dec, 0, sizeof dec);
    n = sizeof part - 1;
    assert_int_equal(phr_decode_chunked(&dec.d, part, &n), -2);
    assert_int_equal(n, 5);
    assert_int_equal(dec.d.bytes_left_in_chunk, 5);
}

/* ============================================================================================
 * Parser state machine
 */

struct expect {
    const char *method;
    const char *path;
    int minor;
    size_t num_headers;
    const char *body;
    size_t body_len;
    bool keep_alive;
    size_t consumed; /* bytes of the request after decoding */
};

#define BIG_LIMIT (1u << 20)

static void check_request(const struct http_parser *p, const struct expect *e)
{
    const struct http_request *req = &p->req;
    assert_int_equal(req->method_len, strlen(e->method));
    assert_memory_equal(req->method, e->method, req->method_len);
    assert_int_equal(req->path_len, strlen(e->path));
    assert_memory_equal(req->path, e->path, req->path_len);
    assert_int_equal(req->minor_version, e->minor);
    assert_int_equal(req->num_headers, e->num_headers);
    assert_int_equal(req->body_len, e->body_len);
    if (e->body_len)
        assert_memory_equal(req->body, e->body, e->body_len);
    assert_int_equal(p->keep_alive, e->keep_alive);
}

/* Deliver input to a growing buffer in two pieces split at `cut`, feeding after each piece, the
 * way a connection does. The first piece must give HY_EAGAIN; the whole must give the answer. */
static void feed_split(const char *in, size_t len, size_t cut, const struct expect *e)
{
    struct http_parser p;
    http_parse_init(&p, BIG_LIMIT, BIG_LIMIT);
    char *buf = hy_malloc(len + 1);
    assert_non_null(buf);
    size_t blen = 0;
    memcpy(buf, in, cut);
    blen = cut;
    ssize_t r = http_parse_feed(&p, buf, &blen);
    assert_int_equal(r, HY_EAGAIN);
    memcpy(buf + blen, in + cut, len - cut);
    blen += len - cut;
    r = http_parse_feed(&p, buf, &blen);
    assert_int_equal(r, (ssize_t)e->consumed);
    assert_int_equal(blen, e->consumed);
    check_request(&p, e);
    hy_free(buf);
}

/* One byte at a time: every prefix must be HY_EAGAIN until the last byte. */
static void feed_bytewise(const char *in, size_t len, const struct expect *e)
{
    struct http_parser p;
    http_parse_init(&p, BIG_LIMIT, BIG_LIMIT);
    char *buf = hy_malloc(len + 1);
    assert_non_null(buf);
    size_t blen = 0;
    for (size_t i = 0; i < len; i++) {
        buf[blen++] = in[i];
        ssize_t r = http_parse_feed(&p, buf, &blen);
        if (i + 1 < len) {
            assert_int_equal(r, HY_EAGAIN);
        } else {
            assert_int_equal(r, (ssize_t)e->consumed);
            check_request(&p, e);
        }
    }
    hy_free(buf);
}

/* Each prefix placed so it ends exactly at a PROT_NONE page: a read past len faults. */
static void feed_guarded(const char *in, size_t len, const struct expect *e)
{
    long page = sysconf(_SC_PAGESIZE);
    assert_true((size_t)page >= len);
    char *map =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    for (size_t k = 0; k <= len; k++) {
        struct http_parser p;
        http_parse_init(&p, BIG_LIMIT, BIG_LIMIT);
        char *buf = map + page - k;
        memcpy(buf, in, k);
        size_t blen = k;
        ssize_t r = http_parse_feed(&p, buf, &blen);
        if (k < len)
            assert_int_equal(r, HY_EAGAIN);
        else
            assert_int_equal(r, (ssize_t)e->consumed);
    }
    munmap(map, (size_t)page * 2);
}

static void check_every_split(const char *in, const struct expect *e)
{
    size_t len = strlen(in);
    for (size_t cut = 0; cut < len; cut++)
        feed_split(in, len, cut, e);
    feed_bytewise(in, len, e);
    feed_guarded(in, len, e);
}

static const char GET_REQ[] = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
static const char POST_REQ[] =
    "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
static const char CHUNKED_REQ[] =
    "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n"
    "0\r\nX-Trailer: yes\r\n\r\n";

static void test_parse_get_at_every_split_point(void **state)
{
    struct expect e = {"GET", "/a?b=1", 1, 2, NULL, 0, true, sizeof GET_REQ - 1};
    check_every_split(GET_REQ, &e);
}

static void test_parse_post_with_content_length_at_every_split_point(void **state)
{
    struct expect e = {"POST", "/p", 1, 2, "hello world", 11, true, sizeof POST_REQ - 1};
    check_every_split(POST_REQ, &e);
}

static void test_parse_chunked_with_extensions_and_trailers_at_every_split_point(void **state)
{
    size_t head = strstr(CHUNKED_REQ, "\r\n\r\n") + 4 - CHUNKED_REQ;
    struct expect e = {"POST", "/c", 1, 2, "hello 0123456789", 16, true, head + 16};
    check_every_split(CHUNKED_REQ, &e);
}

static void test_parse_pipelined_requests_leave_the_next_request_intact(void **state)
{
    char in[1024];
    int n = snprintf(in, sizeof in, "%s%s%s", CHUNKED_REQ, GET_REQ, POST_REQ);
    assert_true(n > 0 && (size_t)n < sizeof in);
    size_t len = (size_t)n;
    struct http_parser p;
    http_parse_init(&p, BIG_LIMIT, BIG_LIMIT);

    ssize_t r = http_parse_feed(&p, in, &len);
    assert_true(r > 0);
    assert_int_equal(p.req.body_len, 16);
    size_t off = (size_t)r;
    assert_int_equal(len - off, strlen(GET_REQ) + strlen(POST_REQ));
    assert_memory_equal(in + off, GET_REQ, strlen(GET_REQ));

    http_parse_reset(&p);
    size_t rest = len - off;
    r = http_parse_feed(&p, in + off, &rest);
    assert_int_equal(r, (ssize_t)strlen(GET_REQ));
    assert_int_equal(p.req.path_len, 6);
    off += (size_t)r;

    http_parse_reset(&p);
    rest = len - off;
    r = http_parse_feed(&p, in + off, &rest);
    assert_int_equal(r, (ssize_t)strlen(POST_REQ));
    assert_int_equal(p.req.body_len, 11);
}

static void test_parse_views_survive_buffer_move_between_head_and_body(void **state)
{
    struct http_parser p;
    http_parse_init(&p, BIG_LIMIT, BIG_LIMIT);
    size_t len = strlen(POST_REQ);
    size_t cut = len - 3;
    char *a = hy_malloc(len);
    memcpy(a, POST_REQ, cut);
    size_t blen = cut;
    assert_int_equal(http_parse_feed(&p, a, &blen), HY_EAGAIN);
    char *b = hy_malloc(len);
    memcpy(b, a, cut);
    memset(a, 'Z', cut); /* stale views would now read Z */
    memcpy(b + cut, POST_REQ + cut, 3);
    blen = len;
    assert_int_equal(http_parse_feed(&p, b, &blen), (ssize_t)len);
    assert_ptr_equal(p.req.method, b);
    assert_memory_equal(p.req.headers[0].name, "Host", 4);
    assert_memory_equal(p.req.body, "hello world", 11);
    hy_free(a);
    hy_free(b);
}

static void test_parse_connection_semantics_follow_version_and_header(void **state)
{
    static const struct {
        const char *req;
        bool keep;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[256];
        size_t len = strlen(cases[i].req);
        memcpy(buf, cases[i].req, len);
        struct http_parser p;
        http_parse_init(&p, BIG_LIMIT, BIG_LIMIT);
        assert_int_equal(http_parse_feed(&p, buf, &len), (ssize_t)strlen(cases[i].req));
        assert_int_equal(p.keep_alive, cases[i].keep);
    }
}

static void parse_expect_error(const char *req, size_t max_header, size_t max_body, int status)
{
    char buf[8192];
    size_t len = strlen(req);
    assert_true(len <= sizeof buf);
    memcpy(buf, req, len);
    struct http_parser p;
    http_parse_init(&p, max_header, max_body);
    ssize_t r = http_parse_feed(&p, buf, &len);
    assert_true(r < 0 && r != HY_EAGAIN);
    assert_int_equal(p.status, status);
    assert_non_null(p.reason);
}

static void test_parse_rejects_bad_input_with_the_right_status(void **state)
{
    char big[2048];
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %0500d\r\n\r\n", 0);
    assert_true(n > 0);
    parse_expect_error(big, 256, 1024, 431);
    /* An unfinished head past the limit is refused without waiting for its end. */
    n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %0500d", 0);
    parse_expect_error(big, 256, 1024, 431);
    parse_expect_error("POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 256, 1024, 413);
    parse_expect_error("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 256,
                       1024, 413);
    parse_expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "a\r\n0123456789\r\na\r\n0123456789\r\n",
                       256, 16, 413);
    parse_expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\nab", 256, 16,
                       413);
    parse_expect_error("GARBAGE\r\n\r\n", 256, 1024, 400);
    /* More header fields than HTTP_MAX_HEADERS: 431 (RFC 6585 section 5), not 400. */
    char many[4096];
    size_t off = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "X-%d: v\r\n", i);
    snprintf(many + off, sizeof many - off, "\r\n");
    parse_expect_error(many, 4096, 1024, 431);
    parse_expect_error("GET / HTTP/1.1\r\nBad Header\r\n\r\n", 256, 1024, 400);
    parse_expect_error("GET / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 256, 1024, 400);
    parse_expect_error("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 256, 1024, 400);
    parse_expect_error("GET / HTTP/1.1\r\nContent-Length: \r\n\r\n", 256, 1024, 400);
    parse_expect_error("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 256,
                       1024, 400);
    parse_expect_error("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n",
                       256, 1024, 400);
    parse_expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 256, 1024, 501);
    parse_expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 256, 1024,
                       501);
    parse_expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 256, 1024,
                       400);
}

static void test_parse_content_length_cannot_wrap_with_an_unbounded_body_limit(void **state)
{
    /* 2^64 and 2^64 + 5 wrap to 0 and 5 in a size_t: a request smuggling vector if accepted. */
    parse_expect_error("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", 256,
                       SIZE_MAX, 413);
    parse_expect_error("POST / HTTP/1.1\r\nContent-Length: 18446744073709551621\r\n\r\nhello", 256,
                       SIZE_MAX, 413);
    parse_expect_error("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 256,
                       SIZE_MAX - 1, 413);
}

static void test_parse_refuses_transfer_encoding_in_http10(void **state)
{
    /* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing (an HTTP/1.0
     * intermediary would not have decoded it the same way). */
    parse_expect_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 256, 1024,
                       400);
}

static void test_parse_accepts_repeated_equal_content_length(void **state)
{
    char buf[] = "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok";
    size_t len = sizeof buf - 1;
    struct http_parser p;
    http_parse_init(&p, 1024, 1024);
    assert_int_equal(http_parse_feed(&p, buf, &len), (ssize_t)(sizeof buf - 1));
    assert_int_equal(p.req.body_len, 2);
}

static void test_parse_wants_continue_only_before_body_bytes(void **state)
{
    char buf[] = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc";
    size_t full = sizeof buf - 1;
    struct http_parser p;
    http_parse_init(&p, 1024, 1024);
    size_t len = full - 3;
    assert_int_equal(http_parse_feed(&p, buf, &len), HY_EAGAIN);
    assert_true(http_parse_wants_continue(&p, len));
    len = full - 1;
    assert_int_equal(http_parse_feed(&p, buf, &len), HY_EAGAIN);
    assert_false(http_parse_wants_continue(&p, len));
    len = full;
    assert_int_equal(http_parse_feed(&p, buf, &len), (ssize_t)full);

    char ch[] = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n3";
    http_parse_init(&p, 1024, 1024);
    len = sizeof ch - 2;
    assert_int_equal(http_parse_feed(&p, ch, &len), HY_EAGAIN);
    assert_true(http_parse_wants_continue(&p, len));
    len = sizeof ch - 1; /* a chunk-size digit is body: the client did not wait */
    assert_int_equal(http_parse_feed(&p, ch, &len), HY_EAGAIN);
    assert_false(http_parse_wants_continue(&p, len));

    char c10[] = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    http_parse_init(&p, 1024, 1024);
    len = sizeof c10 - 1;
    assert_int_equal(http_parse_feed(&p, c10, &len), HY_EAGAIN);
    assert_false(http_parse_wants_continue(&p, len));
}

/* ============================================================================================
 * Server with real sockets
 */

struct fixture {
    struct http_server *srv;
    struct http_config cfg;
    pthread_t thread;
    int port;
    atomic_int run_done;
    int run_rc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_exchange *held;
    bool async_started;
    pthread_t async_thread;
    atomic_int handled;
};

static bool path_is(const struct http_request *req, const char *path)
{
    size_t n = strlen(path);
    return req->path_len == n && memcmp(req->path, path, n) == 0;
}

static void answer_async(void *arg)
{
    struct http_exchange *ex = arg;
    http_respond(ex, 200, "X-Async: 1\r\n", "async", 5);
}

static void *async_main(void *arg)
{
    struct fixture *f = arg;
    pthread_mutex_lock(&f->mu);
    struct http_exchange *ex = f->held;
    f->held = NULL;
    pthread_mutex_unlock(&f->mu);
    /* Another thread hands the answer to the loop, as the WAL committer will. */
    assert_int_equal(http_server_post(f->srv, answer_async, ex), 0);
    return NULL;
}

/* A body stream for the streaming tests: checks the byte pattern i % 251 as it arrives. */
struct tstream {
    struct http_body_stream base;
    uint64_t got;
    bool bad;
};
static atomic_int streams_open, streams_aborted;

static int tstream_write(struct http_body_stream *b, const char *p, size_t n)
{
    struct tstream *t = (struct tstream *)b;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] != (unsigned char)((t->got + i) % 251))
            t->bad = true;
    t->got += n;
    return 0;
}

static void tstream_abort(struct http_body_stream *b)
{
    atomic_fetch_add(&streams_aborted, 1);
    atomic_fetch_sub(&streams_open, 1);
    hy_free(b);
}

static struct http_body_stream *tstreamer(const struct http_request *head, uint64_t len, void *ud)
{
    (void)len;
    (void)ud;
    if (path_is(head, "/refuse"))
        return NULL;
    struct tstream *t = hy_calloc(1, sizeof *t);
    t->base.write = tstream_write;
    t->base.abort = tstream_abort;
    atomic_fetch_add(&streams_open, 1);
    return &t->base;
}

static void test_handler(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct fixture *f = ud;
    atomic_fetch_add(&f->handled, 1);
    if (req->stream) {
        struct tstream *t = (struct tstream *)req->stream;
        char out[64];
        int n = snprintf(out, sizeof out, "streamed %llu %s", (unsigned long long)t->got,
                         t->bad ? "bad" : "ok");
        atomic_fetch_sub(&streams_open, 1);
        hy_free(t);
        http_respond(ex, 200, NULL, out, (size_t)n);
        return;
    }
    if (path_is(req, "/hold") || path_is(req, "/async")) {
        pthread_mutex_lock(&f->mu);
        f->held = ex;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (path_is(req, "/async")) {
            f->async_started = true;
            pthread_create(&f->async_thread, NULL, async_main, f);
        }
        return;
    }
    if (path_is(req, "/big")) {
        size_t n = 8u << 20;
        char *body = hy_malloc(n);
        memset(body, 'x', n);
        body[n - 1] = 'y';
        http_respond(ex, 200, NULL, body, n);
        hy_free(body);
        return;
    }
    if (path_is(req, "/empty")) {
        http_respond(ex, 204, NULL, NULL, 0);
        return;
    }
    char out[512];
    size_t show = req->body_len < 200 ? req->body_len : 200;
    int n = snprintf(out, sizeof out, "%.*s %.*s %zu %.*s", (int)req->method_len, req->method,
                     (int)req->path_len, req->path, req->body_len, (int)show,
                     req->body ? req->body : "");
    http_respond(ex, 200, "Content-Type: text/plain\r\n", out, (size_t)n);
}

static void *server_main(void *arg)
{
    struct fixture *f = arg;
    f->run_rc = http_server_run(f->srv);
    atomic_store(&f->run_done, 1);
    return NULL;
}

static bool fixture_streams;

static struct fixture *fixture_start(const struct http_config *cfg)
{
    struct fixture *f = hy_calloc(1, sizeof *f);
    assert_non_null(f);
    if (cfg) {
        f->cfg = *cfg;
    } else {
        http_config_default(&f->cfg);
        f->cfg.max_header_bytes = 4096;
        f->cfg.max_body_bytes = 1u << 20;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->srv = http_server_new(&f->cfg, test_handler, f);
    assert_non_null(f->srv);
    assert_int_equal(http_server_listen(f->srv, "127.0.0.1:0"), 0);
    f->port = http_server_port(f->srv);
    assert_true(f->port > 0);
    if (fixture_streams)
        http_server_set_streamer(f->srv, tstreamer, f, 64u << 20);
    assert_int_equal(pthread_create(&f->thread, NULL, server_main, f), 0);
    return f;
}

static void fixture_stop(struct fixture *f)
{
    http_server_stop(f->srv);
    pthread_join(f->thread, NULL);
    assert_int_equal(f->run_rc, 0);
    if (f->async_started)
        pthread_join(f->async_thread, NULL);
    http_server_free(f->srv);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    hy_free(f);
}

static struct http_exchange *wait_held(struct fixture *f)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&f->mu);
    while (!f->held) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) != 0)
            break;
    }
    struct http_exchange *ex = f->held;
    f->held = NULL;
    pthread_mutex_unlock(&f->mu);
    assert_non_null(ex);
    return ex;
}

/* Stats are loop-thread data: read them from a posted function. */
struct stats_req {
    struct http_server *srv;
    struct http_stats st;
    atomic_int done;
};

static void read_stats(void *arg)
{
    struct stats_req *r = arg;
    http_server_stats(r->srv, &r->st);
    atomic_store(&r->done, 1);
}

static struct http_stats get_stats(struct fixture *f)
{
    struct stats_req r = {.srv = f->srv};
    atomic_init(&r.done, 0);
    assert_int_equal(http_server_post(f->srv, read_stats, &r), 0);
    while (!atomic_load(&r.done))
        usleep(1000);
    return r.st;
}

struct client {
    int fd;
    size_t len;
    char buf[1u << 16];
};

struct resp {
    int status;
    long content_length;
    bool conn_close;
    char head[2048];
    char *body;
    size_t body_len;
};

static struct client *client_open(int port)
{
    struct client *c = hy_calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return c;
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    hy_free(c);
}

static void client_send(struct client *c, const char *s, size_t len)
{
    while (len) {
        ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        s += n;
        len -= (size_t)n;
    }
}

static void client_sends(struct client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

static int client_fill(struct client *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

static void client_consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Read one response; returns 0 or -1 on EOF/timeout before a whole response. */
static int client_response(struct client *c, struct resp *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (client_fill(c))
            return -1;
    size_t hl = (size_t)(end + 4 - c->buf);
    if (hl >= sizeof r->head)
        return -1;
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    client_consume(c, hl);
    if (strncmp(r->head, "HTTP/1.1 ", 9) != 0)
        return -1;
    r->status = (int)strtol(r->head + 9, NULL, 10);
    r->content_length = -1;
    const char *cl = strcasestr(r->head, "\r\nContent-Length: ");
    if (cl)
        r->content_length = strtol(cl + 18, NULL, 10);
    r->conn_close = strcasestr(r->head, "\r\nConnection: close\r\n") != NULL;
    size_t want = head_request || r->content_length < 0 ? 0 : (size_t)r->content_length;
    r->body = hy_malloc(want + 1);
    assert_non_null(r->body);
    while (r->body_len < want) {
        if (!c->len && client_fill(c)) {
            hy_free(r->body);
            r->body = NULL;
            return -1;
        }
        size_t take = c->len < want - r->body_len ? c->len : want - r->body_len;
        memcpy(r->body + r->body_len, c->buf, take);
        r->body_len += take;
        client_consume(c, take);
    }
    r->body[r->body_len] = '\0';
    return 0;
}

static void resp_fini(struct resp *r)
{
    hy_free(r->body);
    r->body = NULL;
}

/* True when the server closed the connection (EOF or reset) with nothing more to read. */
static bool client_sees_close(struct client *c)
{
    if (c->len)
        return false;
    char b[64];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Nothing arrives within ms milliseconds. */
static bool client_silent_for(struct client *c, int ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    return c->len == 0 && poll(&pfd, 1, ms) == 0;
}

static void expect_simple(struct client *c, int status, const char *body)
{
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, status);
    if (body)
        assert_string_equal(r.body, body);
    resp_fini(&r);
}

static void test_server_answers_get_and_post_with_content_length(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    client_sends(c, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "GET /hello?x=1 0 ");
    assert_non_null(strstr(r.head, "\r\nDate: "));
    assert_non_null(strstr(r.head, "\r\nContent-Type: text/plain\r\n"));
    assert_false(r.conn_close);
    resp_fini(&r);
    client_sends(c, POST_REQ);
    expect_simple(c, 200, "POST /p 11 hello world");
    client_close(c);
    fixture_stop(f);
}

static void test_server_with_unbounded_body_limit_still_reads_requests(void **state)
{
    /* max_header + max_body + slack must not wrap into a tiny read room (413 for everything). */
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_body_bytes = SIZE_MAX;
    struct fixture *f = fixture_start(&cfg);
    struct client *c = client_open(f->port);
    enum { BODY = 200000 };
    char head[128], want[300];
    char *body = hy_malloc(BODY);
    assert_non_null(body);
    memset(body, 'a', BODY);
    int n = snprintf(head, sizeof head, "POST /p HTTP/1.1\r\nContent-Length: %d\r\n\r\n", BODY);
    client_send(c, head, (size_t)n);
    client_send(c, body, BODY);
    snprintf(want, sizeof want, "POST /p %d %.200s", BODY, body);
    expect_simple(c, 200, want);
    hy_free(body);
    client_close(c);
    fixture_stop(f);
}

static void test_server_decodes_chunked_body_sent_byte_by_byte(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    for (size_t i = 0; CHUNKED_REQ[i]; i++)
        client_send(c, CHUNKED_REQ + i, 1);
    expect_simple(c, 200, "POST /c 16 hello 0123456789");
    client_close(c);
    fixture_stop(f);
}

static void test_server_answers_pipelined_requests_in_order(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    char all[16384];
    size_t len = 0;
    for (int i = 0; i < 50; i++) {
        int n = snprintf(all + len, sizeof all - len, "GET /r%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        len += (size_t)n;
        if (i == 10) {
            memcpy(all + len, CHUNKED_REQ, strlen(CHUNKED_REQ));
            len += strlen(CHUNKED_REQ);
        }
    }
    client_send(c, all, len);
    for (int i = 0; i < 50; i++) {
        char want[64];
        snprintf(want, sizeof want, "GET /r%d 0 ", i);
        expect_simple(c, 200, want);
        if (i == 10)
            expect_simple(c, 200, "POST /c 16 hello 0123456789");
    }
    client_close(c);
    fixture_stop(f);
}

static void test_server_reuses_keep_alive_connection_and_honours_close(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    for (int i = 0; i < 3; i++) {
        client_sends(c, "GET /k HTTP/1.1\r\n\r\n");
        expect_simple(c, 200, "GET /k 0 ");
    }
    client_sends(c, "GET /last HTTP/1.1\r\nConnection: close\r\n\r\n");
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_true(r.conn_close);
    resp_fini(&r);
    assert_true(client_sees_close(c));
    client_close(c);

    /* HTTP/1.0 closes unless asked to keep alive. */
    c = client_open(f->port);
    client_sends(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(client_response(c, &r, false), 0);
    assert_false(r.conn_close);
    assert_non_null(strcasestr(r.head, "Connection: keep-alive"));
    resp_fini(&r);
    client_sends(c, "GET /b HTTP/1.0\r\n\r\n");
    assert_int_equal(client_response(c, &r, false), 0);
    assert_true(r.conn_close);
    resp_fini(&r);
    assert_true(client_sees_close(c));
    client_close(c);
    fixture_stop(f);
}

static void test_server_sends_100_continue_before_reading_the_body(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    client_sends(c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    while (c->len < sizeof cont - 1)
        assert_int_equal(client_fill(c), 0);
    assert_memory_equal(c->buf, cont, sizeof cont - 1);
    client_consume(c, sizeof cont - 1);
    client_sends(c, "abcde");
    expect_simple(c, 200, "POST /e 5 abcde");

    /* Body sent along with the head: no 100, straight to the answer. */
    client_sends(c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nxy");
    expect_simple(c, 200, "POST /e 2 xy");
    client_close(c);
    fixture_stop(f);
}

static void expect_rejected(struct fixture *f, const char *req, size_t extra_zeros, int status)
{
    struct client *c = client_open(f->port);
    client_sends(c, req);
    if (extra_zeros) {
        char *z = hy_calloc(1, extra_zeros);
        client_send(c, z, extra_zeros);
        hy_free(z);
    }
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, status);
    assert_true(r.conn_close);
    resp_fini(&r);
    assert_true(client_sees_close(c));
    client_close(c);
}

static void test_server_rejects_oversize_and_malformed_requests_and_closes(void **state)
{
    struct fixture *f = fixture_start(NULL);
    char head[8192];
    int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nX-Big: %05000d\r\n\r\n", 0);
    assert_true(n > 0 && (size_t)n < sizeof head);
    expect_rejected(f, head, 0, 431);
    expect_rejected(f, "POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 0, 413);
    /* The client keeps sending after being refused; the answer must still arrive intact. */
    expect_rejected(f, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 1500000,
                    413);
    expect_rejected(f, "HELLO\r\n\r\n", 0, 400);
    expect_rejected(f, "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                    0, 400);
    expect_rejected(f, "POST / HTTP/1.1\r\nTransfer-Encoding: br\r\n\r\n", 0, 501);
    fixture_stop(f);
}

static void test_server_writes_large_response_across_partial_writes(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    client_sends(c, "GET /big HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    usleep(100 * 1000); /* let the server fill the socket and wait for EPOLLOUT */
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 8u << 20);
    assert_int_equal(r.body[r.body_len - 1], 'y');
    resp_fini(&r);
    expect_simple(c, 200, "GET /after 0 ");
    client_close(c);
    fixture_stop(f);
}

static void test_server_head_and_204_answers_carry_no_body(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    client_sends(c, "HEAD /h HTTP/1.1\r\n\r\nGET /empty HTTP/1.1\r\n\r\nGET /z HTTP/1.1\r\n\r\n");
    struct resp r;
    assert_int_equal(client_response(c, &r, true), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, strlen("HEAD /h 0 "));
    resp_fini(&r);
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.content_length, -1);
    resp_fini(&r);
    expect_simple(c, 200, "GET /z 0 ");
    client_close(c);
    fixture_stop(f);
}

static void test_server_delivers_async_answer_posted_from_another_thread(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *c = client_open(f->port);
    client_sends(c, "POST /async HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /n HTTP/1.1\r\n\r\n");
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "async");
    assert_non_null(strstr(r.head, "X-Async: 1"));
    resp_fini(&r);
    /* The pipelined request waited for the async answer and comes second. */
    expect_simple(c, 200, "GET /n 0 ");
    client_close(c);
    fixture_stop(f);
}

static void wait_connections(struct fixture *f, int want)
{
    for (int i = 0; i < 5000; i++) {
        struct http_stats st = get_stats(f);
        if (st.connections == want)
            return;
        usleep(1000);
    }
    fail_msg("connections never reached %d", want);
}

static void test_server_survives_client_leaving_before_async_answer(void **state)
{
    struct fixture *f = fixture_start(NULL);
    /* A reset (linger 0) makes the server see the socket die while the exchange is out. */
    struct client *c = client_open(f->port);
    client_sends(c, "POST /hold HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
    struct http_exchange *ex = wait_held(f);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close(c);
    wait_connections(f, 0);
    struct http_stats st = get_stats(f);
    assert_int_equal(st.exchanges, 1);
    assert_int_equal(http_server_post(f->srv, answer_async, ex), 0);
    for (int i = 0; i < 5000 && get_stats(f).exchanges; i++)
        usleep(1000);
    assert_int_equal(get_stats(f).exchanges, 0);

    /* A plain close (FIN) while the exchange is out. */
    c = client_open(f->port);
    client_sends(c, "GET /hold HTTP/1.1\r\n\r\n");
    ex = wait_held(f);
    client_close(c);
    assert_int_equal(http_server_post(f->srv, answer_async, ex), 0);
    wait_connections(f, 0);

    c = client_open(f->port);
    client_sends(c, "GET /alive HTTP/1.1\r\n\r\n");
    expect_simple(c, 200, "GET /alive 0 ");
    client_close(c);
    fixture_stop(f);
}

static void test_server_stop_drains_outstanding_exchanges(void **state)
{
    struct fixture *f = fixture_start(NULL);
    struct client *idle = client_open(f->port);
    client_sends(idle, "GET /i HTTP/1.1\r\n\r\n");
    expect_simple(idle, 200, "GET /i 0 ");
    struct client *c = client_open(f->port);
    client_sends(c, "GET /hold HTTP/1.1\r\n\r\n");
    struct http_exchange *ex = wait_held(f);

    http_server_stop(f->srv);
    assert_true(client_sees_close(idle)); /* idle connections go at once */
    assert_false(atomic_load(&f->run_done));
    /* The listener is closed: new connections are refused. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_not_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);

    assert_int_equal(http_server_post(f->srv, answer_async, ex), 0);
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_string_equal(r.body, "async");
    assert_true(r.conn_close);
    resp_fini(&r);
    assert_true(client_sees_close(c));
    client_close(c);
    client_close(idle);
    pthread_join(f->thread, NULL);
    assert_int_equal(f->run_rc, 0);
    http_server_free(f->srv);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    hy_free(f);
}

static void test_server_times_out_slow_requests_and_idle_connections(void **state)
{
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.request_timeout_ms = 300;
    cfg.idle_timeout_ms = 300;
    struct fixture *f = fixture_start(&cfg);

    struct client *slow = client_open(f->port);
    client_sends(slow, "GET /slow HTTP/1.1\r\nHost:");
    struct client *idle = client_open(f->port);
    client_sends(idle, "GET /i HTTP/1.1\r\n\r\n");
    expect_simple(idle, 200, "GET /i 0 ");

    struct resp r;
    assert_int_equal(client_response(slow, &r, false), 0);
    assert_int_equal(r.status, 408);
    assert_true(r.conn_close);
    resp_fini(&r);
    assert_true(client_sees_close(slow));
    assert_true(client_sees_close(idle)); /* silently */
    client_close(slow);
    client_close(idle);
    fixture_stop(f);
}

static void test_server_refuses_connections_past_the_limit(void **state)
{
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_connections = 2;
    struct fixture *f = fixture_start(&cfg);
    struct client *a = client_open(f->port), *b = client_open(f->port);
    client_sends(a, "GET /a HTTP/1.1\r\n\r\n");
    expect_simple(a, 200, "GET /a 0 ");
    client_sends(b, "GET /b HTTP/1.1\r\n\r\n");
    expect_simple(b, 200, "GET /b 0 ");
    struct client *c = client_open(f->port);
    assert_true(client_sees_close(c));
    client_close(c);
    client_close(b);
    wait_connections(f, 1);
    c = client_open(f->port);
    client_sends(c, "GET /c HTTP/1.1\r\n\r\n");
    expect_simple(c, 200, "GET /c 0 ");
    client_close(c);
    client_close(a);
    fixture_stop(f);
}

/* Budget of the server tests below: head pool 64 KiB (first buffers), growth to 32 KiB, body
 * pool 192 KiB; heads up to 4 KiB, so a request over 12 KiB needs a body reservation. */
static struct fixture *budget_fixture(void)
{
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_header_bytes = 4096;
    cfg.max_body_bytes = 1u << 20;
    cfg.max_buffered_bytes = 256 * 1024;
    return fixture_start(&cfg);
}

static void wait_stats(struct fixture *f, int blocked, int waiting_body)
{
    struct http_stats st = get_stats(f);
    for (int i = 0; i < 5000 && (st.blocked != blocked || st.waiting_body != waiting_body); i++) {
        usleep(1000);
        st = get_stats(f);
    }
    assert_int_equal(st.blocked, blocked);
    assert_int_equal(st.waiting_body, waiting_body);
}

static void send_zeros(struct client *c, size_t n)
{
    static char zeros[65536];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        client_send(c, zeros, k);
        n -= k;
    }
}

static void test_server_answers_small_requests_while_large_bodies_hold_the_budget(void **state)
{
    struct fixture *f = budget_fixture();
    /* a reserves 150,000 bytes of the 192 KiB body pool and sends half. */
    struct client *a = client_open(f->port);
    client_sends(a, "POST /a HTTP/1.1\r\nContent-Length: 150000\r\n\r\n");
    send_zeros(a, 75000);
    for (int i = 0; i < 5000 && get_stats(f).body_reserved_bytes < 150000; i++)
        usleep(1000);
    assert_true(get_stats(f).body_reserved_bytes >= 150000);
    /* c does not fit beside it: it waits in line without reading its body. */
    struct client *c = client_open(f->port);
    client_sends(c, "POST /c HTTP/1.1\r\nContent-Length: 150000\r\n\r\n");
    wait_stats(f, 1, 1);
    /* Small requests do not queue behind large bodies: they come from the head pool. */
    struct client *b = client_open(f->port);
    client_sends(b, "GET /b HTTP/1.1\r\n\r\n");
    expect_simple(b, 200, "GET /b 0 ");
    client_sends(b, "POST /b2 HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    send_zeros(b, 5000);
    struct resp r;
    assert_int_equal(client_response(b, &r, false), 0);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    assert_true(client_silent_for(c, 100));
    /* a completes; its reservation goes to c, which then completes too. */
    send_zeros(a, 75000);
    assert_int_equal(client_response(a, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body, "POST /a 150000 ", 15) == 0);
    resp_fini(&r);
    wait_stats(f, 0, 0);
    send_zeros(c, 150000);
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body, "POST /c 150000 ", 15) == 0);
    resp_fini(&r);
    struct http_stats st = get_stats(f);
    assert_int_equal(st.body_reserved_bytes, 0);
    assert_int_equal(st.blocked, 0);
    client_close(a);
    client_close(b);
    client_close(c);
    fixture_stop(f);
}

/* Every client sends its chunked body in 8,000-byte chunks, round-robin with the others, so all
 * bodies are in flight at once and together need far more than the budget. The old loop grew
 * every buffer halfway and then deadlocked: each needed to grow, none could. */
static void test_server_completes_concurrent_chunked_bodies_over_the_budget(void **state)
{
    enum { N = 6, CHUNKS = 40, CHUNK = 8000 };
    struct fixture *f = budget_fixture();
    struct client *cl[N];
    char *chunk = hy_malloc(CHUNK + 16);
    assert_non_null(chunk);
    int hl = snprintf(chunk, 16, "%x\r\n", CHUNK);
    memset(chunk + hl, 'c', CHUNK);
    memcpy(chunk + hl + CHUNK, "\r\n", 2);
    for (int i = 0; i < N; i++) {
        cl[i] = client_open(f->port);
        /* Non-blocking sends: a client whose body is not admitted yet is not read. */
        client_sends(cl[i], "POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    }
    size_t sent[N] = {0};
    size_t total = (size_t)CHUNKS * (size_t)(hl + CHUNK + 2) + 5;
    char *stream = hy_malloc(total);
    assert_non_null(stream);
    for (int k = 0; k < CHUNKS; k++)
        memcpy(stream + (size_t)k * (size_t)(hl + CHUNK + 2), chunk, (size_t)(hl + CHUNK + 2));
    memcpy(stream + total - 5, "0\r\n\r\n", 5);
    for (int round = 0; round < 20000; round++) {
        bool all = true;
        for (int i = 0; i < N; i++) {
            if (sent[i] == total)
                continue;
            all = false;
            size_t step = total - sent[i] < CHUNK ? total - sent[i] : CHUNK;
            ssize_t n = send(cl[i]->fd, stream + sent[i], step, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent[i] += (size_t)n;
        }
        if (all)
            break;
        usleep(200);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(sent[i], total);
        struct resp r;
        assert_int_equal(client_response(cl[i], &r, false), 0);
        assert_int_equal(r.status, 200);
        assert_true(strncmp(r.body, "POST /chunked 320000 ", 21) == 0);
        resp_fini(&r);
        client_close(cl[i]);
    }
    hy_free(stream);
    hy_free(chunk);
    fixture_stop(f);
}

static void test_server_evicts_a_stalled_body_while_another_waits(void **state)
{
    struct fixture *f = budget_fixture();
    struct client *a = client_open(f->port);
    client_sends(a, "POST /a HTTP/1.1\r\nContent-Length: 150000\r\n\r\nx");
    for (int i = 0; i < 5000 && get_stats(f).body_reserved_bytes < 150000; i++)
        usleep(1000);
    struct client *c = client_open(f->port);
    client_sends(c, "POST /c HTTP/1.1\r\nContent-Length: 150000\r\n\r\n");
    wait_stats(f, 1, 1);
    /* a sends nothing more: after BODY_STALL_MS it loses its reservation with a 408. */
    struct timeval tv = {.tv_sec = 8};
    setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct resp r;
    assert_int_equal(client_response(a, &r, false), 0);
    assert_int_equal(r.status, 408);
    assert_true(r.conn_close);
    resp_fini(&r);
    send_zeros(c, 150000);
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    client_close(a);
    client_close(c);
    fixture_stop(f);
}

static void test_server_evicts_slow_heads_so_new_connections_get_memory(void **state)
{
    enum { N = 16 };
    struct fixture *f = budget_fixture();
    struct client *slow[N];
    char part[3000];
    memcpy(part, "GET /slow HTTP/1.1\r\nX: ", 23);
    memset(part + 23, 'h', sizeof part - 23);
    /* 16 partial heads of 3,000 bytes: their 8 KiB first buffers need twice the 64 KiB head
     * pool, so later connections wait (first buffers are FIFO: b waits behind 8 of them, one
     * eviction round each time the holders have stalled for HEAD_STALL_MS). */
    for (int i = 0; i < N; i++) {
        slow[i] = client_open(f->port);
        client_send(slow[i], part, sizeof part);
    }
    for (int i = 0; i < 5000 && get_stats(f).blocked == 0; i++)
        usleep(1000);
    assert_true(get_stats(f).blocked > 0);
    /* A fresh client is answered once the stalled heads are evicted (HEAD_STALL_MS). */
    struct client *b = client_open(f->port);
    struct timeval btv = {.tv_sec = 8};
    setsockopt(b->fd, SOL_SOCKET, SO_RCVTIMEO, &btv, sizeof btv);
    client_sends(b, "GET /b HTTP/1.1\r\n\r\n");
    expect_simple(b, 200, "GET /b 0 ");
    int evicted = 0;
    for (int i = 0; i < N; i++) {
        struct resp r;
        struct timeval tv = {.tv_sec = 8};
        setsockopt(slow[i]->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (client_response(slow[i], &r, false) == 0) {
            assert_int_equal(r.status, 408);
            evicted++;
            resp_fini(&r);
        }
        client_close(slow[i]);
    }
    assert_true(evicted > 0);
    client_close(b);
    fixture_stop(f);
}

static void test_budget_keeps_head_growth_off_the_new_connection_reserve(void **state)
{
    struct http_budget b;
    http_budget_init(&b, 32u << 20);
    assert_int_equal(b.head_limit, 8u << 20);
    assert_int_equal(b.grow_limit, 4u << 20);
    assert_int_equal(b.body_limit, 24u << 20);
    /* Alone, anything fits (progress whatever the limits). */
    assert_true(http_budget_head_fits(&b, 0, 64u << 20, true));
    b.head_bytes = (4u << 20) - 8192;
    assert_true(http_budget_head_fits(&b, 8192, 8192, false));
    assert_false(http_budget_head_fits(&b, 8192, 8193, false));
    b.head_bytes = 6u << 20;
    assert_false(http_budget_head_fits(&b, 8192, 8192, false)); /* growth: past its half */
    assert_true(http_budget_head_fits(&b, 0, 8192, true));      /* first buffers: reserve */
    b.head_bytes = (8u << 20) - 8191;
    assert_false(http_budget_head_fits(&b, 0, 8192, true));
    b.head_bytes = 16u << 20; /* overshoot by admissions ending: nothing new fits */
    assert_false(http_budget_head_fits(&b, 0, 1, true));
    assert_false(http_budget_head_fits(&b, 4096, 1, false));
}

static void test_budget_admits_bodies_whole_and_the_front_one_alone(void **state)
{
    struct http_budget b;
    http_budget_init(&b, 32u << 20);
    size_t c1 = http_budget_body_take(&b, 8u << 20);
    size_t c2 = http_budget_body_take(&b, 8u << 20);
    assert_true(http_budget_body_fits(&b, 8u << 20));
    size_t c3 = http_budget_body_take(&b, 8u << 20);
    assert_int_equal(b.body_bytes, 24u << 20);
    assert_false(http_budget_body_fits(&b, 1));
    http_budget_body_put(&b, c2);
    assert_true(http_budget_body_fits(&b, 8u << 20));
    assert_false(http_budget_body_fits(&b, (8u << 20) + 1));
    http_budget_body_put(&b, c1);
    http_budget_body_put(&b, c3);
    assert_int_equal(b.body_bytes, 0);
    /* Larger than the pool: admitted only alone, charged the whole pool, so nothing joins it. */
    assert_true(http_budget_body_fits(&b, SIZE_MAX));
    size_t big = http_budget_body_take(&b, SIZE_MAX);
    assert_int_equal(big, b.body_limit);
    assert_false(http_budget_body_fits(&b, 1));
    http_budget_body_put(&b, big);
    /* A tiny budget still admits one request at a time. */
    http_budget_init(&b, 3);
    assert_true(http_budget_body_fits(&b, 1u << 20));
    size_t t = http_budget_body_take(&b, 1u << 20);
    assert_false(http_budget_body_fits(&b, 1));
    http_budget_body_put(&b, t);
    assert_int_equal(b.body_bytes, 0);
}

static void test_budget_need_reserves_known_bodies_and_the_largest_for_chunked(void **state)
{
    char buf[256];
    struct http_parser p;
    const char *req = "POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n";
    size_t len = strlen(req);
    memcpy(buf, req, len);
    http_parse_init(&p, 4096, 1u << 20);
    assert_int_equal(http_parse_feed(&p, buf, &len), HY_EAGAIN);
    assert_int_equal(http_budget_need(&p, 12288, 999999), p.head_len + 100000);
    /* A request that fits in a head-sized buffer is small: no reservation. */
    assert_int_equal(http_budget_need(&p, p.head_len + 100000, 999999), 0);
    req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    len = strlen(req);
    memcpy(buf, req, len);
    http_parse_init(&p, 4096, 1u << 20);
    assert_int_equal(http_parse_feed(&p, buf, &len), HY_EAGAIN);
    assert_int_equal(http_budget_need(&p, 12288, 999999), 999999);
}

static void send_pattern(struct client *c, size_t n)
{
    char chunk[65536];
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < sizeof chunk ? n - off : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = (char)((off + i) % 251);
        client_send(c, chunk, k);
        off += k;
    }
}

static void test_server_streams_bodies_over_the_limit_to_the_streamer(void **state)
{
    (void)state;
    fixture_streams = true;
    struct fixture *f = budget_fixture(); /* 1 MiB bodies, 256 KiB of buffers per loop */
    fixture_streams = false;
    struct client *c = client_open(f->port);
    size_t n = 5u << 20; /* five times the body limit, twenty times the loop's buffers */
    char head[128];
    snprintf(head, sizeof head, "PUT /obj HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    client_sends(c, head);
    send_pattern(c, n);
    /* A pipelined request right behind the body is served after it, on the same connection. */
    client_sends(c, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    char want[64];
    snprintf(want, sizeof want, "streamed %zu ok", n);
    expect_simple(c, 200, want);
    expect_simple(c, 200, "GET /after 0 ");
    struct http_stats st = get_stats(f);
    assert_true(st.body_reserved_bytes == 0);
    /* Expect: 100-continue is answered for a streamed body too. */
    snprintf(head, sizeof head,
             "PUT /obj HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
             (size_t)(2u << 20));
    client_sends(c, head);
    struct resp r;
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 100);
    resp_fini(&r);
    send_pattern(c, 2u << 20);
    snprintf(want, sizeof want, "streamed %zu ok", (size_t)(2u << 20));
    expect_simple(c, 200, want);
    client_close(c);
    /* Refused by the streamer: 413 as without one. */
    c = client_open(f->port);
    client_sends(c, "PUT /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n");
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 413);
    resp_fini(&r);
    client_close(c);
    /* Over the stream limit, or chunked: 413. */
    c = client_open(f->port);
    client_sends(c, "PUT /obj HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n");
    assert_int_equal(client_response(c, &r, false), 0);
    assert_int_equal(r.status, 413);
    resp_fini(&r);
    client_close(c);
    /* A client leaving mid-body: the stream is aborted, nothing reaches the handler. */
    int aborted = atomic_load(&streams_aborted);
    c = client_open(f->port);
    client_sends(c, "PUT /obj HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n");
    send_pattern(c, 1u << 20);
    client_close(c);
    for (int i = 0; i < 5000 && atomic_load(&streams_aborted) == aborted; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&streams_aborted), aborted + 1);
    assert_int_equal(atomic_load(&streams_open), 0);
    fixture_stop(f);
}

static void test_server_listen_reports_bad_address_and_port_in_use(void **state)
{
    struct http_server *a = http_server_new(NULL, test_handler, NULL);
    assert_non_null(a);
    assert_int_equal(http_server_listen(a, "nonsense"), HY_EINVAL);
    assert_int_equal(http_server_listen(a, "[::1"), HY_EINVAL);
    assert_int_equal(http_server_listen(a, "127.0.0.1:0"), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", http_server_port(a));
    struct http_server *b = http_server_new(NULL, test_handler, NULL);
    assert_int_equal(http_server_listen(b, addr), -EADDRINUSE);
    http_server_free(b);
    http_server_free(a);
}

static void test_server_serves_ipv6_loopback(void **state)
{
    struct http_server *srv = http_server_new(NULL, test_handler, NULL);
    int rc = http_server_listen(srv, "[::1]:0");
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        http_server_free(srv);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_true(http_server_port(srv) > 0);
    http_server_free(srv);
}

/* ============================================================================================
 * Several loops: a listening primary and siblings that adopt handed-over connections
 */

#define ML_LOOPS 2
#define ML_CLIENTS 8
#define ML_ROUNDS 4

struct ml_job {
    struct http_exchange *ex;
    int loop;
    struct ml_job *next;
};

struct multi {
    struct http_server *srv[ML_LOOPS]; /* [0] listens, [1] is the sibling */
    pthread_t thread[ML_LOOPS];
    pthread_t loop_tid[ML_LOOPS]; /* written by each loop thread before it runs */
    int run_rc[ML_LOOPS];
    atomic_int run_done[ML_LOOPS];
    atomic_int handled[ML_LOOPS];
    atomic_int async_answered[ML_LOOPS];
    atomic_int wrong_thread; /* handler or posted answer ran off its connection's loop */
    int port;
    /* The replier thread plays the api layer: it answers from outside any loop, posting to
     * http_exchange_server(ex). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ml_job *jobs;
    bool replier_quit;
    pthread_t replier;
    struct http_exchange *held;
};

struct ml_start {
    struct multi *m;
    int i;
};

static int ml_loop_of(struct multi *m, struct http_server *srv)
{
    for (int i = 0; i < ML_LOOPS; i++)
        if (m->srv[i] == srv)
            return i;
    return -1;
}

static void ml_answer(void *arg)
{
    struct ml_job *job = arg;
    char out[64];
    int n = snprintf(out, sizeof out, "async loop=%d", job->loop);
    http_respond(job->ex, 200, NULL, out, (size_t)n);
    hy_free(job);
}

struct ml_answer_ctx {
    struct multi *m;
    struct ml_job *job;
};

static void ml_answer_checked(void *arg)
{
    struct ml_answer_ctx *ctx = arg;
    struct multi *m = ctx->m;
    int loop = ctx->job->loop;
    if (!pthread_equal(pthread_self(), m->loop_tid[loop]))
        atomic_fetch_add(&m->wrong_thread, 1);
    atomic_fetch_add(&m->async_answered[loop], 1);
    ml_answer(ctx->job);
    hy_free(ctx);
}

static void *ml_replier_main(void *arg)
{
    struct multi *m = arg;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!m->jobs && !m->replier_quit)
            pthread_cond_wait(&m->cv, &m->mu);
        if (!m->jobs)
            break;
        struct ml_job *job = m->jobs;
        m->jobs = job->next;
        pthread_mutex_unlock(&m->mu);
        struct ml_answer_ctx *ctx = hy_malloc(sizeof *ctx);
        assert_non_null(ctx);
        ctx->m = m;
        ctx->job = job;
        assert_int_equal(http_server_post(http_exchange_server(job->ex), ml_answer_checked, ctx),
                         0);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void ml_handler(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct multi *m = ud;
    int loop = ml_loop_of(m, http_exchange_server(ex));
    if (loop < 0 || !pthread_equal(pthread_self(), m->loop_tid[loop])) {
        atomic_fetch_add(&m->wrong_thread, 1);
        http_respond(ex, 500, NULL, NULL, 0);
        return;
    }
    atomic_fetch_add(&m->handled[loop], 1);
    if (path_is(req, "/hold")) {
        pthread_mutex_lock(&m->mu);
        m->held = ex;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (path_is(req, "/async")) {
        struct ml_job *job = hy_malloc(sizeof *job);
        if (!job) {
            http_respond(ex, 503, NULL, NULL, 0);
            return;
        }
        job->ex = ex;
        job->loop = loop;
        pthread_mutex_lock(&m->mu);
        job->next = m->jobs;
        m->jobs = job;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        return;
    }
    char out[64];
    int n = snprintf(out, sizeof out, "sync loop=%d", loop);
    http_respond(ex, 200, NULL, out, (size_t)n);
}

static void *ml_loop_main(void *arg)
{
    struct ml_start *st = arg;
    struct multi *m = st->m;
    int i = st->i;
    hy_free(st);
    m->loop_tid[i] = pthread_self();
    m->run_rc[i] = http_server_run(m->srv[i]);
    atomic_store(&m->run_done[i], 1);
    return NULL;
}

/* Create the primary and its sibling; run_loops says how many loop threads to start (the
 * sibling's may be left unstarted). */
static struct multi *ml_start(int run_loops)
{
    struct multi *m = hy_calloc(1, sizeof *m);
    assert_non_null(m);
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_header_bytes = 4096;
    cfg.max_body_bytes = 1u << 20;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    for (int i = 0; i < ML_LOOPS; i++) {
        m->srv[i] = http_server_new(&cfg, ml_handler, m);
        assert_non_null(m->srv[i]);
        atomic_init(&m->run_done[i], 0);
        atomic_init(&m->handled[i], 0);
        atomic_init(&m->async_answered[i], 0);
    }
    atomic_init(&m->wrong_thread, 0);
    assert_int_equal(http_server_listen(m->srv[0], "127.0.0.1:0"), 0);
    m->port = http_server_port(m->srv[0]);
    assert_int_equal(http_server_add_loops(m->srv[0], m->srv + 1, ML_LOOPS - 1), 0);
    assert_int_equal(http_server_add_loops(m->srv[0], m->srv + 1, ML_LOOPS - 1), HY_EINVAL);
    assert_int_equal(http_server_listen(m->srv[1], "127.0.0.1:0"), HY_EINVAL);
    for (int i = 0; i < run_loops; i++) {
        struct ml_start *st = hy_malloc(sizeof *st);
        assert_non_null(st);
        st->m = m;
        st->i = i;
        assert_int_equal(pthread_create(&m->thread[i], NULL, ml_loop_main, st), 0);
    }
    assert_int_equal(pthread_create(&m->replier, NULL, ml_replier_main, m), 0);
    return m;
}

static void ml_free(struct multi *m)
{
    pthread_mutex_lock(&m->mu);
    m->replier_quit = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->replier, NULL);
    for (int i = 0; i < ML_LOOPS; i++)
        http_server_free(m->srv[i]);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    hy_free(m);
}

static int ml_body_loop(const struct resp *r)
{
    const char *p = strstr(r->body, "loop=");
    return p ? (int)strtol(p + 5, NULL, 10) : -1;
}

static void test_server_spreads_connections_over_sibling_loops(void **state)
{
    struct multi *m = ml_start(ML_LOOPS);
    struct client *c[ML_CLIENTS];
    int owner[ML_CLIENTS];
    for (int k = 0; k < ML_CLIENTS; k++)
        c[k] = client_open(m->port);
    /* Interleave the clients so both loops have exchanges out at the same time. */
    for (int round = 0; round < ML_ROUNDS; round++) {
        bool async = round % 2 == 1;
        for (int k = 0; k < ML_CLIENTS; k++)
            client_sends(c[k], async ? "POST /async HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                                     : "GET /sync HTTP/1.1\r\n\r\n");
        for (int k = 0; k < ML_CLIENTS; k++) {
            struct resp r;
            assert_int_equal(client_response(c[k], &r, false), 0);
            assert_int_equal(r.status, 200);
            assert_false(r.conn_close);
            assert_memory_equal(r.body, async ? "async" : "sync", async ? 5 : 4);
            int loop = ml_body_loop(&r);
            assert_true(loop >= 0 && loop < ML_LOOPS);
            /* A connection stays on the loop that adopted it. */
            if (round == 0)
                owner[k] = loop;
            else
                assert_int_equal(loop, owner[k]);
            resp_fini(&r);
        }
    }
    /* Round-robin over 8 connections in accept order: 4 each. */
    int per_loop[ML_LOOPS] = {0};
    for (int k = 0; k < ML_CLIENTS; k++)
        per_loop[owner[k]]++;
    for (int i = 0; i < ML_LOOPS; i++) {
        assert_int_equal(per_loop[i], ML_CLIENTS / ML_LOOPS);
        assert_int_equal(atomic_load(&m->handled[i]), per_loop[i] * ML_ROUNDS);
        assert_int_equal(atomic_load(&m->async_answered[i]), per_loop[i] * ML_ROUNDS / 2);
    }
    assert_int_equal(atomic_load(&m->wrong_thread), 0);

    /* Stop drains both: an idle connection on the primary closes at once, while an exchange
     * held on the sibling keeps that loop running until it is answered. */
    int on_sibling = -1, on_primary = -1;
    for (int k = 0; k < ML_CLIENTS; k++) {
        if (owner[k] == 1 && on_sibling < 0)
            on_sibling = k;
        if (owner[k] == 0 && on_primary < 0)
            on_primary = k;
    }
    client_sends(c[on_sibling], "GET /hold HTTP/1.1\r\n\r\n");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&m->mu);
    while (!m->held && pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0)
        ;
    struct http_exchange *ex = m->held;
    m->held = NULL;
    pthread_mutex_unlock(&m->mu);
    assert_non_null(ex);
    assert_ptr_equal(http_exchange_server(ex), m->srv[1]);

    for (int i = 0; i < ML_LOOPS; i++)
        http_server_stop(m->srv[i]);
    assert_true(client_sees_close(c[on_primary]));
    pthread_join(m->thread[0], NULL);
    assert_int_equal(m->run_rc[0], 0);
    usleep(50000);
    assert_false(atomic_load(&m->run_done[1]));

    struct ml_job *job = hy_malloc(sizeof *job);
    assert_non_null(job);
    job->ex = ex;
    job->loop = 1;
    assert_int_equal(http_server_post(http_exchange_server(ex), ml_answer, job), 0);
    struct resp r;
    assert_int_equal(client_response(c[on_sibling], &r, false), 0);
    assert_string_equal(r.body, "async loop=1");
    assert_true(r.conn_close);
    resp_fini(&r);
    assert_true(client_sees_close(c[on_sibling]));
    pthread_join(m->thread[1], NULL);
    assert_int_equal(m->run_rc[1], 0);
    for (int k = 0; k < ML_CLIENTS; k++)
        client_close(c[k]);
    ml_free(m);
}

static void test_server_closes_sockets_handed_to_a_loop_that_never_runs_them(void **state)
{
    /* Only the primary runs: every second connection is queued for the idle sibling. */
    struct multi *m = ml_start(1);
    struct client *a = client_open(m->port);
    client_sends(a, "GET /a HTTP/1.1\r\n\r\n");
    expect_simple(a, 200, "sync loop=0");
    struct client *b = client_open(m->port);
    client_sends(b, "GET /b HTTP/1.1\r\n\r\n");
    assert_true(client_silent_for(b, 100));
    http_server_stop(m->srv[0]);
    pthread_join(m->thread[0], NULL);
    assert_int_equal(m->run_rc[0], 0);
    /* Freeing the sibling closes the socket it was handed instead of leaking it. */
    http_server_free(m->srv[1]);
    m->srv[1] = NULL;
    assert_true(client_sees_close(b));
    client_close(a);
    client_close(b);
    ml_free(m);
}

static void test_server_skips_a_stopping_sibling(void **state)
{
    struct multi *m = ml_start(ML_LOOPS);
    http_server_stop(m->srv[1]);
    pthread_join(m->thread[1], NULL);
    assert_int_equal(m->run_rc[1], 0);
    for (int k = 0; k < 4; k++) {
        struct client *c = client_open(m->port);
        client_sends(c, "GET /x HTTP/1.1\r\n\r\n");
        expect_simple(c, 200, "sync loop=0");
        client_close(c);
    }
    http_server_stop(m->srv[0]);
    pthread_join(m->thread[0], NULL);
    assert_int_equal(m->run_rc[0], 0);
    ml_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phr_parse_request_abi_matches_library),
        cmocka_unit_test(test_phr_decode_chunked_abi_decodes_in_place_and_reports_rest),
        cmocka_unit_test(test_parse_get_at_every_split_point),
        cmocka_unit_test(test_parse_post_with_content_length_at_every_split_point),
        cmocka_unit_test(test_parse_chunked_with_extensions_and_trailers_at_every_split_point),
        cmocka_unit_test(test_parse_pipelined_requests_leave_the_next_request_intact),
        cmocka_unit_test(test_parse_views_survive_buffer_move_between_head_and_body),
        cmocka_unit_test(test_parse_connection_semantics_follow_version_and_header),
        cmocka_unit_test(test_parse_rejects_bad_input_with_the_right_status),
        cmocka_unit_test(test_parse_accepts_repeated_equal_content_length),
        cmocka_unit_test(test_parse_content_length_cannot_wrap_with_an_unbounded_body_limit),
        cmocka_unit_test(test_parse_refuses_transfer_encoding_in_http10),
        cmocka_unit_test(test_parse_wants_continue_only_before_body_bytes),
        cmocka_unit_test(test_server_answers_get_and_post_with_content_length),
        cmocka_unit_test(test_server_with_unbounded_body_limit_still_reads_requests),
        cmocka_unit_test(test_server_decodes_chunked_body_sent_byte_by_byte),
        cmocka_unit_test(test_server_answers_pipelined_requests_in_order),
        cmocka_unit_test(test_server_reuses_keep_alive_connection_and_honours_close),
        cmocka_unit_test(test_server_sends_100_continue_before_reading_the_body),
        cmocka_unit_test(test_server_rejects_oversize_and_malformed_requests_and_closes),
        cmocka_unit_test(test_server_writes_large_response_across_partial_writes),
        cmocka_unit_test(test_server_head_and_204_answers_carry_no_body),
        cmocka_unit_test(test_server_delivers_async_answer_posted_from_another_thread),
        cmocka_unit_test(test_server_survives_client_leaving_before_async_answer),
        cmocka_unit_test(test_server_stop_drains_outstanding_exchanges),
        cmocka_unit_test(test_server_times_out_slow_requests_and_idle_connections),
        cmocka_unit_test(test_server_refuses_connections_past_the_limit),
        cmocka_unit_test(test_budget_keeps_head_growth_off_the_new_connection_reserve),
        cmocka_unit_test(test_budget_admits_bodies_whole_and_the_front_one_alone),
        cmocka_unit_test(test_budget_need_reserves_known_bodies_and_the_largest_for_chunked),
        cmocka_unit_test(test_server_answers_small_requests_while_large_bodies_hold_the_budget),
        cmocka_unit_test(test_server_completes_concurrent_chunked_bodies_over_the_budget),
        cmocka_unit_test(test_server_evicts_a_stalled_body_while_another_waits),
        cmocka_unit_test(test_server_evicts_slow_heads_so_new_connections_get_memory),
        cmocka_unit_test(test_server_streams_bodies_over_the_limit_to_the_streamer),
        cmocka_unit_test(test_server_listen_reports_bad_address_and_port_in_use),
        cmocka_unit_test(test_server_serves_ipv6_loopback),
        cmocka_unit_test(test_server_spreads_connections_over_sibling_loops),
        cmocka_unit_test(test_server_closes_sockets_handed_to_a_loop_that_never_runs_them),
        cmocka_unit_test(test_server_skips_a_stopping_sibling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
