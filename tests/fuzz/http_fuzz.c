/*
 * libFuzzer target: HTTP/1.1 request head and body state machine (src/net/http_parse.c), fed the
 * way a connection feeds it, and the real server under buffer-budget pressure.
 *
 * First byte with bit 7 clear (parser mode): it picks the limits and how the rest is cut into
 * deliveries; every feed sees an exact-size copy of the unparsed bytes (so ASan flags any read
 * past len, and the buffer "moves" between calls as a growing read buffer does). Pipelined
 * requests are parsed one after another until an error or the end of input.
 *
 * First byte with bit 7 set (server mode): a real http_server with a tiny budget runs on a
 * thread; bits 0-1 give 1 to 4 client connections, bits 2-4 the budget (1 KiB << n), bits 5-6
 * the body limit. The rest is a list of ops, each a byte (connection in bits 0-1, length - 1 in
 * bits 2-7) and that many bytes for that connection's stream, so several requests arrive
 * interleaved. Then every client shuts down its side and reads until EOF. Checked: every
 * connection ends within a bound (no deadlock: queued requests must be admitted, stalled holders
 * evicted), answers are HTTP/1.1 responses, and once the loop stops the budget's counters are
 * back to zero (no charge leaked).
 */
#include "base/err.h"
#include "base/hyassert.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/http_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static bool inside(const char *p, size_t n, const char *lo, size_t len)
{
    return p >= lo && n <= len && (size_t)(p - lo) <= len - n;
}

static void check_views(const struct http_parser *p, const char *buf, size_t len, size_t used)
{
    const struct http_request *req = &p->req;
    HY_ASSERT(inside(req->method, req->method_len, buf, used));
    HY_ASSERT(inside(req->path, req->path_len, buf, used));
    HY_ASSERT(req->num_headers <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        HY_ASSERT(inside(h->name, h->name_len, buf, used));
        HY_ASSERT(inside(h->value, h->value_len, buf, used));
    }
    HY_ASSERT(req->body_len <= p->max_body_bytes);
    HY_ASSERT(inside(req->body, req->body_len, buf, used));
    HY_ASSERT(used <= len);
}

/* ---------------------------------------------------------------------------------------------
 * Server mode
 */

static void fuzz_handler(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    char out[64];
    int n = snprintf(out, sizeof out, "%zu", req->body_len);
    http_respond(ex, 200, NULL, out, n > 0 ? (size_t)n : 0);
}

static void *fuzz_server_main(void *arg)
{
    int rc = http_server_run(arg);
    HY_ASSERT(rc == 0);
    return NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int client_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

enum { FUZZ_CONNS = 4, FUZZ_DEADLINE_MS = 20000 };

static void fuzz_server(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LEVEL_ERROR); /* push-back warnings are expected here, by the thousand */
    unsigned mode = data[0];
    int nconn = 1 + (int)(mode & 3);
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_header_bytes = 512;
    cfg.max_body_bytes = (size_t)256 << (2 * ((mode >> 5) & 3));
    cfg.max_buffered_bytes = (size_t)1024 << ((mode >> 2) & 7);
    cfg.request_timeout_ms = 3000;
    cfg.idle_timeout_ms = 3000;
    struct http_server *srv = http_server_new(&cfg, fuzz_handler, NULL);
    if (!srv)
        return;
    if (http_server_listen(srv, "127.0.0.1:0")) {
        http_server_free(srv);
        return;
    }
    pthread_t th;
    HY_ASSERT(pthread_create(&th, NULL, fuzz_server_main, srv) == 0);

    int fds[FUZZ_CONNS];
    size_t got[FUZZ_CONNS] = {0};
    char first[FUZZ_CONNS][9];
    for (int i = 0; i < nconn; i++)
        fds[i] = client_connect(http_server_port(srv));
    size_t pos = 1;
    while (pos < size) {
        unsigned op = data[pos++];
        int i = (int)(op & 3) % nconn;
        size_t len = (op >> 2) + 1;
        if (len > size - pos)
            len = size - pos;
        /* Small inputs fit in the socket buffers; a refused write only shortens the stream. */
        if (fds[i] >= 0)
            (void)send(fds[i], data + pos, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        pos += len;
    }
    for (int i = 0; i < nconn; i++)
        if (fds[i] >= 0)
            shutdown(fds[i], SHUT_WR);

    /* Every connection must end: answered, rejected, evicted or timed out, never stuck. */
    int64_t deadline = mono_ms() + FUZZ_DEADLINE_MS;
    for (;;) {
        struct pollfd pfd[FUZZ_CONNS];
        int open = 0;
        for (int i = 0; i < nconn; i++) {
            pfd[i].fd = fds[i];
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
            open += fds[i] >= 0;
        }
        if (!open)
            break;
        int64_t left = deadline - mono_ms();
        HY_ASSERT(left > 0); /* a connection the server never finished: a deadlock */
        if (poll(pfd, (nfds_t)nconn, (int)left) <= 0)
            continue;
        for (int i = 0; i < nconn; i++) {
            if (fds[i] < 0 || !pfd[i].revents)
                continue;
            char buf[4096];
            ssize_t n = recv(fds[i], buf, sizeof buf, 0);
            if (n > 0) {
                for (ssize_t k = 0; k < n && got[i] < sizeof first[i]; k++)
                    first[i][got[i]++] = buf[k];
                if (got[i] == sizeof first[i])
                    HY_ASSERT(memcmp(first[i], "HTTP/1.1 ", 9) == 0);
                continue;
            }
            close(fds[i]);
            fds[i] = -1;
        }
    }
    http_server_stop(srv);
    HY_ASSERT(pthread_join(th, NULL) == 0);
    struct http_stats st;
    http_server_stats(srv, &st);
    HY_ASSERT(st.connections == 0 && st.exchanges == 0 && st.blocked == 0);
    HY_ASSERT(st.buffered_bytes == 0 && st.head_bytes == 0 && st.body_reserved_bytes == 0);
    http_server_free(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 0x80) {
        fuzz_server(data, size);
        return 0;
    }
    unsigned seed = data[0];
    data++;
    size--;
    size_t max_header = 64 + (size_t)(seed & 7) * 256;
    size_t max_body = (size_t)16 << ((seed >> 3) & 7);
    unsigned rng = seed * 2654435761u + 1;

    char *conn = hy_malloc(size + 1); /* the connection's read buffer */
    if (!conn)
        return 0;
    struct http_parser p;
    http_parse_init(&p, max_header, max_body);
    size_t start = 0, len = 0, src = 0;
    for (;;) {
        if (len == start && src == size)
            break;
        if (src < size) {
            rng = rng * 1103515245u + 12345u;
            size_t step = 1 + (rng >> 16) % 97;
            if (step > size - src)
                step = size - src;
            memcpy(conn + len, data + src, step);
            len += step;
            src += step;
        }
        size_t avail = len - start;
        char *copy = hy_malloc(avail ? avail : 1);
        if (!copy)
            break;
        memcpy(copy, conn + start, avail);
        size_t after = avail;
        ssize_t r = http_parse_feed(&p, copy, &after);
        HY_ASSERT(after <= avail);
        memcpy(conn + start, copy, after);
        len = start + after;
        if (r > 0) {
            HY_ASSERT((size_t)r <= after);
            check_views(&p, copy, after, (size_t)r);
            start += (size_t)r;
            http_parse_reset(&p);
            (void)http_parse_wants_continue(&p, 0);
        } else if (r == HY_EAGAIN) {
            (void)http_parse_wants_continue(&p, after);
            if (src == size) {
                hy_free(copy);
                break;
            }
        } else {
            HY_ASSERT(p.status >= 400 && p.status <= 501 && p.reason);
            hy_free(copy);
            break;
        }
        hy_free(copy);
    }
    hy_free(conn);
    return 0;
}
