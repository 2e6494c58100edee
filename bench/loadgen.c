/*
 * loadgen: a load generator for the Firehose PutRecord/PutRecordBatch API (bench/README.md).
 *
 * A few event-loop threads (--threads, default 1), each driving a slice of the connections with
 * non-blocking sockets and epoll: HTTP/1.1 keep-alive, one request in flight per connection. So
 * that the generator leaves the CPU to the server on a small machine, request bodies (random
 * payloads, base64-encoded) are built once before the run, and the per-request cost is a copy of
 * a cached header (SigV4-signed, cached per body and second), one sendmsg and one recv. Latency is
 * measured per request, from send to the last byte of the response (in --rate mode from the
 * request's scheduled start, so a slow server cannot hide queueing). Every sample is kept and
 * sorted at the end: at most a few million 4-byte samples.
 *
 * Self-contained on purpose (own SHA-256, HMAC and base64): the benchmark must not depend on the
 * code it measures, and it builds even while the server is half-written.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for SigV4 request signing.                */

struct sha256 {
    uint32_t h[8];
    uint64_t total_len;
    uint8_t block[64];
    size_t block_len;
};

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr32(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + S1 + ch + sha_k[i] + w[i];
        uint32_t S0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof(iv));
    s->total_len = 0;
    s->block_len = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total_len += len;
    if (s->block_len) {
        size_t take = 64 - s->block_len < len ? 64 - s->block_len : len;
        memcpy(s->block + s->block_len, p, take);
        s->block_len += take;
        p += take;
        len -= take;
        if (s->block_len < 64)
            return;
        sha256_block(s, s->block);
        s->block_len = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        sha256_block(s, p);
    memcpy(s->block, p, len);
    s->block_len = len;
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->total_len * 8;
    uint8_t pad = 0x80;
    sha256_update(s, &pad, 1);
    pad = 0;
    while (s->block_len != 56)
        sha256_update(s, &pad, 1);
    uint8_t lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, lenbuf, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    struct sha256 s;
    if (key_len > 64) {
        sha256_init(&s);
        sha256_update(&s, key, key_len);
        sha256_final(&s, k);
    } else {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, msg, msg_len);
    sha256_final(&s, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, inner, 32);
    sha256_final(&s, out);
}

static void hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* Options and shared state.                                                                  */

enum op { OP_BATCH, OP_SINGLE };

static struct {
    char host[300];
    char port[16];
    char host_header[300];
    char stream[65];
    char label[64];
    enum op op;
    int connections;
    int records_per_batch;
    size_t record_size;
    double duration_s;
    long requests;
    double rate_mbps;
    bool create;
    int size_mb;
    int interval_s;
    char bucket[128];
    pid_t server_pid;
    bool wait_delivered;
    double wait_timeout_s;
    bool header;
    bool header_only;
    int bodies;
    const char *access_key;
    const char *secret_key;
    const char *region;
    double io_timeout_s;
    bool quiet;
    int threads;
    bool gen_cpu;
    bool json; /* records are JSON {"v":number,"pad":"..."} (live analytics rows) */
} opt;

struct body {
    char *data;
    size_t len;
    size_t payload_len; /* decoded record bytes in this request */
    int records;
    char payload_hash[65];
};

static struct body *bodies;
static int body_count;
static struct addrinfo *server_addr;

static uint64_t start_ns, deadline_ns, interval_ns;
static atomic_long next_slot;

struct conn;

/* Signed request header of one body, valid for one wall-clock second. */
struct sig_entry {
    time_t sec;
    int len;
    char hdr[1024];
};

/* One event-loop thread and the slice of connections it drives. */
struct worker {
    pthread_t tid;
    int id;
    uint64_t ok, throttled, errors, failed_records, acked_records, acked_bytes;
    uint32_t *lat_us;
    size_t lat_len, lat_cap;
    uint64_t rng;
    char first_error[160];
    struct conn *c; /* this thread's connections, opened by main before the clock starts */
    int nconn;
    int epfd;
    struct sig_entry *sig; /* one per body */
    time_t date_sec;
    char date[17];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s\n", what);
    exit(2);
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP client. Control calls use a blocking connection; the load runs on non-blocking ones. */

enum conn_state {
    CS_IDLE,       /* open or closed, no request; on the free queue or done */
    CS_CONNECTING, /* non-blocking connect in progress */
    CS_SENDING,    /* request partly written */
    CS_RECEIVING,  /* request written, response not complete */
    CS_WAITING,    /* on a timer queue: an open-loop start time, or error backoff */
};

struct conn {
    int fd;
    char *buf;
    size_t len, cap;
    /* Filled by http_parse: status and a view of the (de-chunked) body, NUL-terminated. */
    int status;
    char *body;
    size_t body_len;
    bool close_after;
    bool eof;
    /* Event-loop state. */
    enum conn_state state;
    uint32_t events;      /* epoll mask currently registered (0: not registered) */
    uint64_t sched;       /* latency origin of the current request */
    uint64_t io_deadline; /* no progress by then: the request fails with ETIMEDOUT */
    uint64_t wake;        /* CS_WAITING: when to go on */
    bool backoff;         /* CS_WAITING for the error backoff, not for a scheduled start */
    int body_idx;
    int failures_in_row;
    struct iovec iov[2];
    int iov_at, iov_cnt;
    char hdr[1024];
};

/* Open c->fd. Blocking (with SO_RCVTIMEO/SO_SNDTIMEO) unless nonblock; a non-blocking connect
 * that is still in progress returns 1. Otherwise 0 or a negative errno. */
static int conn_open(struct conn *c, bool nonblock)
{
    c->fd = socket(server_addr->ai_family,
                   SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (c->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {
        .tv_sec = (time_t)opt.io_timeout_s,
        .tv_usec = (suseconds_t)((opt.io_timeout_s - (double)(time_t)opt.io_timeout_s) * 1e6)};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->len = 0;
    c->eof = false;
    c->events = 0;
    if (connect(c->fd, server_addr->ai_addr, server_addr->ai_addrlen) < 0) {
        int e = errno;
        if (nonblock && e == EINPROGRESS)
            return 1;
        close(c->fd);
        c->fd = -1;
        return -e;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also drops it from the epoll set */
    c->fd = -1;
    c->len = 0;
    c->eof = false;
    c->events = 0;
}

/* One recv into c->buf. Returns the bytes read, 0 at end of stream (sets c->eof), or a negative
 * errno (-EAGAIN on a non-blocking socket with nothing to read). */
static long conn_fill(struct conn *c)
{
    if (c->cap - c->len < 4096) {
        size_t ncap = c->cap ? c->cap * 2 : 16384;
        if (ncap > (64u << 20))
            return -E2BIG;
        char *n = realloc(c->buf, ncap + 1);
        if (!n)
            return -ENOMEM;
        c->buf = n;
        c->cap = ncap;
    }
    ssize_t r;
    do
        r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        c->eof = true;
    c->len += (size_t)r;
    return r;
}

/* Write what is left of c->iov[iov_at..iov_cnt). Returns 0 when all is sent, -EAGAIN when the
 * socket is full, or another negative errno. */
static int conn_send(struct conn *c)
{
    while (c->iov_at < c->iov_cnt) {
        struct msghdr mh = {.msg_iov = c->iov + c->iov_at,
                            .msg_iovlen = (size_t)(c->iov_cnt - c->iov_at)};
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        size_t done = (size_t)w;
        while (c->iov_at < c->iov_cnt && done >= c->iov[c->iov_at].iov_len) {
            done -= c->iov[c->iov_at].iov_len;
            c->iov_at++;
        }
        if (c->iov_at < c->iov_cnt) {
            c->iov[c->iov_at].iov_base = (char *)c->iov[c->iov_at].iov_base + done;
            c->iov[c->iov_at].iov_len -= done;
        }
    }
    return 0;
}

static bool header_is(const char *line, size_t line_len, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (line_len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return false;
    const char *v = line + n + 1;
    while (v < line + line_len && (*v == ' ' || *v == '\t'))
        v++;
    *value = v;
    return true;
}

/* Decode a chunked body starting at buf+off. With apply false, only checks that the whole body
 * is buffered; with apply true, also compacts the data in place (so a retry after an incomplete
 * check still sees the original bytes). Returns bytes consumed from off, 0 if incomplete, -1 if
 * malformed; the decoded data is at buf+off with length *out_len. */
static long dechunk(char *buf, size_t len, size_t off, bool apply, size_t *out_len)
{
    size_t r = off, w = off;
    for (;;) {
        char *eol = memmem(buf + r, len - r, "\r\n", 2);
        if (!eol)
            return 0;
        char *end;
        unsigned long sz = strtoul(buf + r, &end, 16);
        if (end == buf + r)
            return -1;
        size_t line_end = (size_t)(eol - buf) + 2;
        if (sz == 0) {
            /* Skip trailers up to the empty line. */
            size_t p = line_end;
            for (;;) {
                char *e2 = memmem(buf + p, len - p, "\r\n", 2);
                if (!e2)
                    return 0;
                if (e2 == buf + p) {
                    *out_len = w - off;
                    return (long)(p + 2 - off);
                }
                p = (size_t)(e2 - buf) + 2;
            }
        }
        if (len - line_end < sz + 2)
            return 0;
        /* w never passes line_end, so the copy only overwrites bytes already parsed. */
        if (apply)
            memmove(buf + w, buf + line_end, sz);
        w += sz;
        r = line_end + sz + 2;
    }
}

/* Parse the response buffered in c->buf. Returns 1 when it is complete (status, body, body_len
 * and close_after are set and the buffer is emptied), 0 when more bytes are needed, -EPROTO when
 * it is malformed. A body without framing runs to end of stream (c->eof). */
static int http_parse(struct conn *c)
{
    char *hdr_end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (!hdr_end)
        return 0;
    size_t hdr_len = (size_t)(hdr_end - c->buf) + 4;
    if (c->len < 12 || strncmp(c->buf, "HTTP/1.", 7) != 0)
        return -EPROTO;
    c->status = (int)strtol(c->buf + 9, NULL, 10);
    bool chunked = false, have_cl = false;
    c->close_after = c->buf[7] == '0';
    size_t content_len = 0;
    char *line = (char *)memchr(c->buf, '\n', hdr_len) + 1;
    while (line < c->buf + hdr_len - 2) {
        char *eol = memchr(line, '\n', (size_t)(c->buf + hdr_len - line));
        size_t ll = (size_t)(eol - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        const char *val;
        if (header_is(line, ll, "content-length", &val)) {
            content_len = strtoull(val, NULL, 10);
            have_cl = true;
        } else if (header_is(line, ll, "transfer-encoding", &val)) {
            chunked = strncasecmp(val, "chunked", 7) == 0;
        } else if (header_is(line, ll, "connection", &val)) {
            if (strncasecmp(val, "close", 5) == 0)
                c->close_after = true;
            else if (strncasecmp(val, "keep-alive", 10) == 0)
                c->close_after = false;
        }
        line = eol + 1;
    }
    size_t consumed;
    if (chunked) {
        size_t out_len;
        long r = dechunk(c->buf, c->len, hdr_len, false, &out_len);
        if (r < 0)
            return -EPROTO;
        if (r == 0)
            return 0;
        dechunk(c->buf, c->len, hdr_len, true, &out_len);
        c->body_len = out_len;
        consumed = hdr_len + (size_t)r;
    } else if (have_cl) {
        if (c->len < hdr_len + content_len)
            return 0;
        c->body_len = content_len;
        consumed = hdr_len + content_len;
    } else {
        if (!c->eof)
            return 0;
        c->body_len = c->len - hdr_len;
        consumed = c->len;
        c->close_after = true;
    }
    c->body = c->buf + hdr_len;
    /* Extra bytes after a response we asked nothing more of: protocol confusion, so do not
     * reuse the connection. The NUL lets callers strstr the body (buf has cap + 1 bytes). */
    if (consumed < c->len || c->eof)
        c->close_after = true;
    c->buf[hdr_len + c->body_len] = '\0';
    c->len = 0;
    return 1;
}

/* Blocking: send iov and read one full response. Returns 0 or a negative errno; on error the
 * caller closes the connection. */
static int conn_roundtrip(struct conn *c, struct iovec *iov, int iovcnt)
{
    if (c->fd < 0) {
        int rc = conn_open(c, false);
        if (rc < 0)
            return rc;
    }
    memcpy(c->iov, iov, sizeof(*iov) * (size_t)iovcnt);
    c->iov_at = 0;
    c->iov_cnt = iovcnt;
    int rc = conn_send(c);
    if (rc < 0)
        return rc == -EAGAIN ? -ETIMEDOUT : rc;
    for (;;) {
        rc = http_parse(c);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        if (c->eof)
            return -ECONNRESET;
        long r = conn_fill(c);
        if (r < 0)
            return r == -EAGAIN ? -ETIMEDOUT : (int)r;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* SigV4 signing of POST / with the four signed headers the AWS SDKs send for JSON services.  */

struct signer {
    char date8[9];
    uint8_t key[32];
};

static void amz_date(char out[17])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void sign_request(struct signer *sg, const char *target, const char *date,
                         const char *payload_hash, char sig_out[65])
{
    if (memcmp(sg->date8, date, 8) != 0) {
        uint8_t k[32];
        char kk[256];
        int kl = snprintf(kk, sizeof(kk), "AWS4%s", opt.secret_key);
        hmac_sha256(kk, (size_t)kl, date, 8, k);
        hmac_sha256(k, 32, opt.region, strlen(opt.region), k);
        hmac_sha256(k, 32, "firehose", 8, k);
        hmac_sha256(k, 32, "aws4_request", 12, sg->key);
        memcpy(sg->date8, date, 8);
        sg->date8[8] = '\0';
    }
    char creq[1024];
    int cl = snprintf(creq, sizeof(creq),
                      "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:%s\n"
                      "x-amz-date:%s\nx-amz-target:Firehose_20150804.%s\n\n"
                      "content-type;host;x-amz-date;x-amz-target\n%s",
                      opt.host_header, date, target, payload_hash);
    uint8_t h[32];
    char hh[65];
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, creq, (size_t)cl);
    sha256_final(&s, h);
    hex_encode(h, 32, hh);
    char sts[512];
    int sl = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%.8s/%s/firehose/aws4_request\n%s",
                      date, date, opt.region, hh);
    hmac_sha256(sg->key, 32, sts, (size_t)sl, h);
    hex_encode(h, 32, sig_out);
}

static int build_header(struct signer *sg, const char *target, const struct body *b,
                        const char *date, char *out, size_t out_size)
{
    char sig[65];
    sign_request(sg, target, date, b->payload_hash, sig);
    return snprintf(out, out_size,
                    "POST / HTTP/1.1\r\nHost: %s\r\n"
                    "Content-Type: application/x-amz-json-1.1\r\n"
                    "X-Amz-Target: Firehose_20150804.%s\r\nX-Amz-Date: %s\r\n"
                    "Authorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/firehose/aws4_request, "
                    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    opt.host_header, target, date, opt.access_key, date, opt.region, sig, b->len);
}

static void body_set(struct body *b, char *data, size_t len)
{
    uint8_t h[32];
    struct sha256 s;
    b->data = data;
    b->len = len;
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, h);
    hex_encode(h, 32, b->payload_hash);
}

/* One control request (create, describe) on a fresh connection. Body copied into *resp
 * (caller frees). Returns the HTTP status or a negative errno. */
static int control_call(const char *target, const char *json, char **resp)
{
    struct conn c = {.fd = -1};
    struct signer sg = {.date8 = ""};
    struct body b;
    char hdr[2048];
    body_set(&b, (char *)json, strlen(json));
    char date[17];
    amz_date(date);
    int hl = build_header(&sg, target, &b, date, hdr, sizeof(hdr));
    struct iovec iov[2] = {{hdr, (size_t)hl}, {b.data, b.len}};
    int rc = conn_roundtrip(&c, iov, 2);
    if (rc == 0) {
        rc = c.status;
        if (resp)
            *resp = strndup(c.body, c.body_len);
    }
    conn_close(&c);
    free(c.buf);
    return rc;
}

/* GET a path; body copied into *resp. Returns HTTP status or negative errno. */
static int http_get(const char *path, char **resp)
{
    struct conn c = {.fd = -1};
    char hdr[512];
    int hl = snprintf(hdr, sizeof(hdr), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                      path, opt.host_header);
    struct iovec iov[1] = {{hdr, (size_t)hl}};
    int rc = conn_roundtrip(&c, iov, 1);
    if (rc == 0) {
        rc = c.status;
        *resp = strndup(c.body, c.body_len);
    }
    conn_close(&c);
    free(c.buf);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Workload.                                                                                  */

static void build_bodies(void)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    uint8_t *raw = malloc(opt.record_size + 8);
    size_t b64_len = ((opt.record_size + 2) / 3) * 4;
    if (!raw)
        die("out of memory");
    body_count = opt.bodies;
    bodies = calloc((size_t)body_count, sizeof(*bodies));
    if (!bodies)
        die("out of memory");
    int per = opt.op == OP_BATCH ? opt.records_per_batch : 1;
    for (int i = 0; i < body_count; i++) {
        size_t cap = 128 + strlen(opt.stream) + (size_t)per * (b64_len + 16);
        char *d = malloc(cap);
        if (!d)
            die("out of memory");
        size_t o = (size_t)snprintf(d, cap, "{\"DeliveryStreamName\":\"%s\",%s", opt.stream,
                                    opt.op == OP_BATCH ? "\"Records\":[" : "\"Record\":");
        for (int r = 0; r < per; r++) {
            for (size_t k = 0; k < opt.record_size; k += 8) {
                uint64_t x = xorshift(&rng);
                memcpy(raw + k, &x, 8);
            }
            if (opt.json) {
                /* A value that wanders around 50 (and an outlier now and then), padded with
                 * letters to record_size bytes. */
                uint64_t x = xorshift(&rng);
                double v = 50 + (double)(x % 1000) / 100.0 + (x % 997 == 0 ? 500 : 0);
                int n = snprintf((char *)raw, opt.record_size + 8, "{\"v\":%.2f,\"pad\":\"", v);
                size_t k = (size_t)n;
                for (; k + 3 < opt.record_size; k++)
                    raw[k] = 'a' + (uint8_t)(k % 26);
                memcpy(raw + k, "\"}\n", 3);
            }
            if (r)
                d[o++] = ',';
            memcpy(d + o, "{\"Data\":\"", 9);
            o += 9;
            o += b64_encode(raw, opt.record_size, d + o);
            memcpy(d + o, "\"}", 2);
            o += 2;
        }
        if (opt.op == OP_BATCH)
            d[o++] = ']';
        d[o++] = '}';
        body_set(&bodies[i], d, o);
        bodies[i].records = per;
        bodies[i].payload_len = (size_t)per * opt.record_size;
    }
    free(raw);
}

static void lat_push(struct worker *w, uint64_t ns)
{
    if (w->lat_len == w->lat_cap) {
        size_t ncap = w->lat_cap ? w->lat_cap * 2 : 16384;
        uint32_t *n = realloc(w->lat_us, ncap * sizeof(*n));
        if (!n)
            return; /* drop the sample rather than the run */
        w->lat_us = n;
        w->lat_cap = ncap;
    }
    uint64_t us = ns / 1000;
    w->lat_us[w->lat_len++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void note_error(struct worker *w, const char *fmt_what, int code, const char *body)
{
    w->errors++;
    if (!w->first_error[0])
        snprintf(w->first_error, sizeof(w->first_error), "%s %d %.100s", fmt_what, code,
                 body ? body : "");
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull),
                          .tv_nsec = (long)(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* FIFO of connection indices. A connection is on at most one queue at a time, so a queue never
 * holds more than the thread's connection count. Keys pushed onto each timer queue only grow
 * (scheduled starts come from one increasing counter; backoffs are now + a constant), so the
 * head is always the earliest. */
struct queue {
    int *v;
    int head, len, cap;
};

static void q_push(struct queue *q, int i)
{
    q->v[(q->head + q->len++) % q->cap] = i;
}

static int q_pop(struct queue *q)
{
    int i = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return i;
}

static int q_peek(const struct queue *q)
{
    return q->v[q->head];
}

struct loop {
    struct worker *w;
    struct queue ready;   /* idle connections that may start a request now */
    struct queue sched;   /* waiting for an open-loop start time */
    struct queue backoff; /* waiting after repeated errors */
    int active;           /* connections not finished for good */
    bool no_more;         /* the run is over: start nothing new */
    const char *target;
    struct signer sg;
};

#define BACKOFF_NS 10000000ull

static void conn_watch(struct loop *l, struct conn *c, uint32_t events)
{
    if (c->fd < 0 || c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->w->epfd, op, c->fd, &ev) == 0)
        c->events = events;
}

/* Signed header for body i at wall-clock second t, cached per body and second. */
static const struct sig_entry *signed_header(struct worker *w, struct signer *sg,
                                             const char *target, int i)
{
    time_t t = time(NULL);
    struct sig_entry *e = &w->sig[i];
    if (e->sec == t && e->len > 0)
        return e;
    if (w->date_sec != t) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(w->date, sizeof(w->date), "%Y%m%dT%H%M%SZ", &tm);
        w->date_sec = t;
    }
    e->len = build_header(sg, target, &bodies[i], w->date, e->hdr, sizeof(e->hdr));
    e->sec = t;
    return e;
}

static void conn_done(struct loop *l, struct conn *c)
{
    c->state = CS_IDLE;
    l->active--;
}

static void request_failed(struct loop *l, struct conn *c, int rc);
static void start_request(struct loop *l, struct conn *c, uint64_t sched);

/* Write the request; on a full socket, wait for EPOLLOUT. */
static void send_request(struct loop *l, struct conn *c)
{
    int rc = conn_send(c);
    if (rc == -EAGAIN) {
        c->state = CS_SENDING;
        conn_watch(l, c, EPOLLIN | EPOLLOUT);
        return;
    }
    if (rc < 0) {
        request_failed(l, c, rc);
        return;
    }
    c->state = CS_RECEIVING;
    conn_watch(l, c, EPOLLIN);
}

static void start_request(struct loop *l, struct conn *c, uint64_t sched)
{
    struct worker *w = l->w;
    c->sched = sched;
    c->io_deadline = now_ns() + (uint64_t)(opt.io_timeout_s * 1e9);
    c->body_idx = (int)(xorshift(&w->rng) % (uint64_t)body_count);
    if (c->fd < 0) {
        int rc = conn_open(c, true);
        if (rc < 0) {
            request_failed(l, c, rc);
            return;
        }
        if (rc > 0) {
            c->state = CS_CONNECTING;
            conn_watch(l, c, EPOLLOUT);
            return;
        }
    }
    const struct sig_entry *e = signed_header(w, &l->sg, l->target, c->body_idx);
    memcpy(c->hdr, e->hdr, (size_t)e->len);
    const struct body *b = &bodies[c->body_idx];
    c->iov[0] = (struct iovec){c->hdr, (size_t)e->len};
    c->iov[1] = (struct iovec){b->data, b->len};
    c->iov_at = 0;
    c->iov_cnt = 2;
    send_request(l, c);
}

/* An idle connection may start its next request: claim a slot (--requests, --rate), then start
 * at once or at the slot's scheduled time. */
static void conn_next(struct loop *l, struct conn *c, uint64_t now)
{
    if (l->no_more) {
        conn_done(l, c);
        return;
    }
    uint64_t sched = 0;
    if (opt.requests > 0 || interval_ns) {
        long slot = atomic_fetch_add(&next_slot, 1);
        if (opt.requests > 0 && slot >= opt.requests) {
            l->no_more = true;
            conn_done(l, c);
            return;
        }
        if (interval_ns) {
            sched = start_ns + (uint64_t)slot * interval_ns;
            if (deadline_ns && sched >= deadline_ns) {
                l->no_more = true;
                conn_done(l, c);
                return;
            }
        }
    }
    if (deadline_ns && now >= deadline_ns) {
        l->no_more = true;
        conn_done(l, c);
        return;
    }
    if (sched > now) {
        c->state = CS_WAITING;
        c->backoff = false;
        c->wake = sched;
        q_push(&l->sched, (int)(c - l->w->c));
        return;
    }
    start_request(l, c, sched ? sched : now);
}

static void request_failed(struct loop *l, struct conn *c, int rc)
{
    note_error(l->w, "io", rc, strerror(-rc));
    conn_close(c);
    c->state = CS_IDLE;
    /* Back off a little so a dead server does not turn into a busy loop. */
    if (++c->failures_in_row > 1) {
        c->state = CS_WAITING;
        c->backoff = true;
        c->wake = now_ns() + BACKOFF_NS;
        q_push(&l->backoff, (int)(c - l->w->c));
        return;
    }
    q_push(&l->ready, (int)(c - l->w->c));
}

/* A full response arrived: check it, record the latency, and go on. */
static void request_done(struct loop *l, struct conn *c)
{
    struct worker *w = l->w;
    uint64_t t1 = now_ns();
    const struct body *b = &bodies[c->body_idx];
    c->failures_in_row = 0;
    if (c->status == 200) {
        long failed = 0;
        const char *f = strstr(c->body, "\"FailedPutCount\"");
        if (f) {
            f = strchr(f, ':');
            failed = f ? strtol(f + 1, NULL, 10) : 0;
        }
        if (failed == 0) {
            w->ok++;
            w->acked_records += (uint64_t)b->records;
            w->acked_bytes += b->payload_len;
            lat_push(w, t1 - c->sched);
        } else {
            /* Partial failure: count the acked share, call the request throttled when the
             * failures are ServiceUnavailable, else an error. */
            uint64_t okrec = failed < b->records ? (uint64_t)(b->records - failed) : 0;
            w->failed_records += (uint64_t)failed;
            w->acked_records += okrec;
            w->acked_bytes += okrec * opt.record_size;
            if (strstr(c->body, "ServiceUnavailable"))
                w->throttled++;
            else
                note_error(w, "partial", (int)failed, c->body);
        }
    } else if (c->status == 503 || strstr(c->body, "ServiceUnavailable") ||
               strstr(c->body, "Throttling") || strstr(c->body, "SlowDown")) {
        w->throttled++;
    } else {
        note_error(w, "http", c->status, c->body);
    }
    if (c->close_after || c->state == CS_SENDING)
        conn_close(c);
    c->state = CS_IDLE;
    conn_next(l, c, t1);
}

static void conn_event(struct loop *l, struct conn *c, uint32_t ev)
{
    if (c->state == CS_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err) {
            request_failed(l, c, -err);
            return;
        }
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        conn_watch(l, c, EPOLLIN);
        start_request(l, c, c->sched);
        return;
    }
    if (c->state == CS_SENDING && (ev & EPOLLOUT)) {
        c->io_deadline = now_ns() + (uint64_t)(opt.io_timeout_s * 1e9);
        send_request(l, c);
        if (c->state != CS_RECEIVING)
            return;
    }
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (c->state != CS_SENDING && c->state != CS_RECEIVING) {
        /* Data or a close on a connection with no request: drop it; the next request
         * reconnects. */
        conn_close(c);
        return;
    }
    long r = conn_fill(c);
    if (r == -EAGAIN)
        return;
    if (r < 0) {
        request_failed(l, c, (int)r);
        return;
    }
    c->io_deadline = now_ns() + (uint64_t)(opt.io_timeout_s * 1e9);
    /* A response may come before the request is fully sent (an early error answer). */
    int rc = http_parse(c);
    if (rc < 0)
        request_failed(l, c, rc);
    else if (rc > 0)
        request_done(l, c);
    else if (c->eof)
        request_failed(l, c, -ECONNRESET);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct loop l = {.w = w, .target = opt.op == OP_BATCH ? "PutRecordBatch" : "PutRecord"};
    int *qmem = calloc((size_t)w->nconn * 3, sizeof(int));
    struct epoll_event *evs = calloc((size_t)w->nconn, sizeof(*evs));
    if (!qmem || !evs)
        die("out of memory");
    l.ready = (struct queue){.v = qmem, .cap = w->nconn};
    l.sched = (struct queue){.v = qmem + w->nconn, .cap = w->nconn};
    l.backoff = (struct queue){.v = qmem + 2 * w->nconn, .cap = w->nconn};
    for (int i = 0; i < w->nconn; i++) {
        struct conn *c = &w->c[i];
        c->state = CS_IDLE;
        c->events = 0;
        conn_watch(&l, c, EPOLLIN);
        q_push(&l.ready, i);
    }
    l.active = w->nconn;
    uint64_t next_scan = 0;

    sleep_until(start_ns);
    while (l.active > 0) {
        uint64_t now = now_ns();
        while (l.ready.len)
            conn_next(&l, &w->c[q_pop(&l.ready)], now);
        while (l.sched.len && w->c[q_peek(&l.sched)].wake <= now) {
            struct conn *c = &w->c[q_pop(&l.sched)];
            start_request(&l, c, c->wake);
        }
        while (l.backoff.len && w->c[q_peek(&l.backoff)].wake <= now) {
            struct conn *c = &w->c[q_pop(&l.backoff)];
            c->state = CS_IDLE;
            q_push(&l.ready, (int)(c - w->c));
        }
        if (l.ready.len)
            continue;
        if (now >= next_scan) {
            /* Requests that made no progress within --timeout fail. */
            for (int i = 0; i < w->nconn; i++) {
                struct conn *c = &w->c[i];
                if ((c->state == CS_CONNECTING || c->state == CS_SENDING ||
                     c->state == CS_RECEIVING) &&
                    c->io_deadline <= now)
                    request_failed(&l, c, -ETIMEDOUT);
            }
            next_scan = now + 100000000ull;
            if (l.ready.len || l.active == 0)
                continue;
        }
        uint64_t until = next_scan;
        if (l.sched.len && w->c[q_peek(&l.sched)].wake < until)
            until = w->c[q_peek(&l.sched)].wake;
        if (l.backoff.len && w->c[q_peek(&l.backoff)].wake < until)
            until = w->c[q_peek(&l.backoff)].wake;
        /* Nanosecond timeout, so that open-loop requests start on time. */
        uint64_t wait = until > now ? until - now : 0;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
                              .tv_nsec = (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(w->epfd, evs, w->nconn, &ts, NULL);
        if (n < 0 && errno == ENOSYS) {
            /* Kernels before 5.11: millisecond epoll_wait, the rest slept precisely. */
            n = epoll_wait(w->epfd, evs, w->nconn, (int)(wait / 1000000ull));
            if (n == 0 && wait < 1000000ull)
                sleep_until(until);
        }
        for (int i = 0; i < n; i++)
            conn_event(&l, evs[i].data.ptr, evs[i].events);
    }
    for (int i = 0; i < w->nconn; i++)
        conn_close(&w->c[i]);
    free(qmem);
    free(evs);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Server-side sampling: /proc CPU time and peak RSS, and Prometheus metrics.                 */

static bool proc_cpu_ticks(pid_t pid, uint64_t *ticks)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the parenthesised comm (which may contain spaces): state is field 3,
     * utime field 14, stime field 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    p += 2;
    unsigned long long ut = 0, st = 0;
    for (int field = 3; field <= 15 && *p; field++) {
        if (field == 14)
            ut = strtoull(p, NULL, 10);
        if (field == 15)
            st = strtoull(p, NULL, 10);
        p = strchr(p, ' ');
        if (!p)
            break;
        p++;
    }
    *ticks = ut + st;
    return true;
}

static long proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void proc_reset_hwm(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        /* "5" resets the peak RSS (VmHWM) to the current RSS (proc(5)). */
        if (write(fd, "5", 1) < 0)
            fprintf(stderr, "loadgen: note: cannot reset VmHWM: %s\n", strerror(errno));
        close(fd);
    }
}

/* Value of metric{stream="NAME"} or -1 if absent. */
static double metric_value(const char *text, const char *name)
{
    char label[128];
    snprintf(label, sizeof(label), "stream=\"%s\"", opt.stream);
    size_t nl = strlen(name);
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && strncmp(p, name, nl) == 0 && p[nl] == '{') {
            const char *close = memchr(p, '}', ll);
            char *lab = strndup(p, ll);
            bool match = lab && strstr(lab, label) != NULL;
            free(lab);
            if (match && close)
                return strtod(close + 1, NULL);
        }
        p = eol ? eol + 1 : NULL;
    }
    return -1;
}

static bool read_delivery(double *incoming, double *delivered)
{
    char *text = NULL;
    int st = http_get("/_hydrant/metrics", &text);
    bool ok = false;
    if (st == 200 && text) {
        *incoming = metric_value(text, "hydrant_incoming_bytes_total");
        *delivered = metric_value(text, "hydrant_delivery_to_s3_bytes_total");
        ok = *incoming >= 0 && *delivered >= 0;
    }
    free(text);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n)
        i = n - 1;
    return v[i] / 1000.0;
}

static void create_stream(void)
{
    char json[1024], *resp = NULL;
    snprintf(json, sizeof(json),
             "{\"DeliveryStreamName\":\"%s\",\"DeliveryStreamType\":\"DirectPut\","
             "\"ExtendedS3DestinationConfiguration\":{\"BucketARN\":\"arn:aws:s3:::%s\","
             "\"RoleARN\":\"arn:aws:iam::000000000000:role/x\","
             "\"BufferingHints\":{\"SizeInMBs\":%d,\"IntervalInSeconds\":%d}}}",
             opt.stream, opt.bucket, opt.size_mb, opt.interval_s);
    int st = control_call("CreateDeliveryStream", json, &resp);
    if (st != 200 && !(resp && strstr(resp, "ResourceInUse"))) {
        fprintf(stderr, "loadgen: CreateDeliveryStream: %d %s\n", st, resp ? resp : "");
        exit(2);
    }
    free(resp);
    snprintf(json, sizeof(json), "{\"DeliveryStreamName\":\"%s\"}", opt.stream);
    uint64_t until = now_ns() + 30000000000ull;
    while (now_ns() < until) {
        resp = NULL;
        st = control_call("DescribeDeliveryStream", json, &resp);
        bool active = st == 200 && resp && strstr(resp, "\"ACTIVE\"");
        free(resp);
        if (active)
            return;
        usleep(100000);
    }
    die("stream did not become ACTIVE within 30 s");
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: loadgen [options]\n"
        "  --url http://HOST:PORT      server (default http://127.0.0.1:4566)\n"
        "  --stream NAME               delivery stream (default bench)\n"
        "  --op batch|single           PutRecordBatch or PutRecord (default batch)\n"
        "  --connections N             keep-alive connections, one request in flight each (16)\n"
        "  --threads N                 event-loop threads sharing the connections (1)\n"
        "  --records-per-batch N       records per PutRecordBatch (500)\n"
        "  --record-size BYTES         decoded bytes per record (1024)\n"
        "  --duration S | --requests N run length (default 10 s)\n"
        "  --rate MBPS                 open loop at this payload rate (MB/s, 1e6 bytes)\n"
        "  --create                    create the stream first (--size-mb 64, --interval-s 0,\n"
        "                              --bucket NAME, default the stream name)\n"
        "  --server-pid PID            report server CPU%% and peak RSS from /proc\n"
        "  --wait-delivered            poll /_hydrant/metrics until everything is delivered\n"
        "  --wait-timeout S            give up waiting after S seconds (120)\n"
        "  --bodies N                  distinct pre-built request bodies (8 batch, 256 single)\n"
        "  --label TEXT                first column of the result row\n"
        "  --header                    print the markdown table header before the row\n"
        "  --header-only               print only the header and exit\n"
        "  --access-key K --secret-key S --region R   SigV4 (test/test/us-east-1)\n"
        "  --timeout S                 per-request socket timeout (30)\n"
        "  --quiet                     no human summary on stderr\n"
        "  --json                      JSON records {\"v\":N,\"pad\":...} (--record-size >= 64)\n"
        "  --gen-cpu                   add a column with loadgen's own CPU %% (getrusage)\n");
    exit(2);
}

static void print_header(void)
{
    printf("| run | op | conns | req/s | rec/s | MB/s | p50 ms | p99 ms | p99.9 ms | max ms "
           "| throttled | errors | srv CPU %% | srv peak RSS MB | delivered MB/s |%s\n",
           opt.gen_cpu ? " gen CPU % |" : "");
    printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|%s\n",
           opt.gen_cpu ? "--:|" : "");
}

static void parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        die("only http:// URLs are supported");
    size_t hl = strcspn(p, "/");
    char hostport[300];
    if (hl >= sizeof(hostport))
        die("URL too long");
    memcpy(hostport, p, hl);
    hostport[hl] = '\0';
    snprintf(opt.host_header, sizeof(opt.host_header), "%s", hostport);
    char *colon = strrchr(hostport, ':');
    if (colon && !strchr(hostport, ']')) {
        *colon = '\0';
        snprintf(opt.port, sizeof(opt.port), "%s", colon + 1);
    } else {
        snprintf(opt.port, sizeof(opt.port), "80");
    }
    char *h = hostport;
    if (h[0] == '[') {
        h++;
        h[strcspn(h, "]")] = '\0';
    }
    snprintf(opt.host, sizeof(opt.host), "%s", h);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"stream", required_argument, NULL, 's'},
        {"op", required_argument, NULL, 'o'},
        {"connections", required_argument, NULL, 'c'},
        {"records-per-batch", required_argument, NULL, 'b'},
        {"record-size", required_argument, NULL, 'z'},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"create", no_argument, NULL, 'C'},
        {"size-mb", required_argument, NULL, 'M'},
        {"interval-s", required_argument, NULL, 'I'},
        {"bucket", required_argument, NULL, 'B'},
        {"server-pid", required_argument, NULL, 'p'},
        {"wait-delivered", no_argument, NULL, 'W'},
        {"wait-timeout", required_argument, NULL, 'T'},
        {"bodies", required_argument, NULL, 'N'},
        {"label", required_argument, NULL, 'l'},
        {"header", no_argument, NULL, 'H'},
        {"header-only", no_argument, NULL, 'O'},
        {"access-key", required_argument, NULL, 'A'},
        {"secret-key", required_argument, NULL, 'S'},
        {"region", required_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"threads", required_argument, NULL, 'j'},
        {"gen-cpu", no_argument, NULL, 'G'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = "http://127.0.0.1:4566";
    snprintf(opt.stream, sizeof(opt.stream), "bench");
    opt.op = OP_BATCH;
    opt.connections = 16;
    opt.records_per_batch = 500;
    opt.record_size = 1024;
    opt.size_mb = 64;
    opt.wait_timeout_s = 120;
    opt.access_key = getenv("AWS_ACCESS_KEY_ID") ? getenv("AWS_ACCESS_KEY_ID") : "test";
    opt.secret_key = getenv("AWS_SECRET_ACCESS_KEY") ? getenv("AWS_SECRET_ACCESS_KEY") : "test";
    opt.region = getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") : "us-east-1";
    opt.io_timeout_s = 30;
    opt.threads = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case 's':
            snprintf(opt.stream, sizeof(opt.stream), "%s", optarg);
            break;
        case 'o':
            if (strcmp(optarg, "batch") == 0)
                opt.op = OP_BATCH;
            else if (strcmp(optarg, "single") == 0)
                opt.op = OP_SINGLE;
            else
                usage();
            break;
        case 'c':
            opt.connections = (int)strtol(optarg, NULL, 10);
            break;
        case 'b':
            opt.records_per_batch = (int)strtol(optarg, NULL, 10);
            break;
        case 'z':
            opt.record_size = strtoul(optarg, NULL, 10);
            break;
        case 'd':
            opt.duration_s = atof(optarg);
            break;
        case 'n':
            opt.requests = strtol(optarg, NULL, 10);
            break;
        case 'r':
            opt.rate_mbps = atof(optarg);
            break;
        case 'C':
            opt.create = true;
            break;
        case 'M':
            opt.size_mb = (int)strtol(optarg, NULL, 10);
            break;
        case 'I':
            opt.interval_s = (int)strtol(optarg, NULL, 10);
            break;
        case 'B':
            snprintf(opt.bucket, sizeof(opt.bucket), "%s", optarg);
            break;
        case 'p':
            opt.server_pid = (pid_t)(int)strtol(optarg, NULL, 10);
            break;
        case 'W':
            opt.wait_delivered = true;
            break;
        case 'T':
            opt.wait_timeout_s = atof(optarg);
            break;
        case 'N':
            opt.bodies = (int)strtol(optarg, NULL, 10);
            break;
        case 'l':
            snprintf(opt.label, sizeof(opt.label), "%s", optarg);
            break;
        case 'H':
            opt.header = true;
            break;
        case 'O':
            opt.header_only = true;
            break;
        case 'A':
            opt.access_key = optarg;
            break;
        case 'S':
            opt.secret_key = optarg;
            break;
        case 'R':
            opt.region = optarg;
            break;
        case 't':
            opt.io_timeout_s = atof(optarg);
            break;
        case 'q':
            opt.quiet = true;
            break;
        case 'j':
            opt.threads = (int)strtol(optarg, NULL, 10);
            break;
        case 'G':
            opt.gen_cpu = true;
            break;
        case 'J':
            opt.json = true;
            break;
        default:
            usage();
        }
    }
    if (opt.header_only) {
        print_header();
        return 0;
    }
    if (opt.connections < 1 || opt.connections > 4096 || opt.records_per_batch < 1 ||
        opt.records_per_batch > 500 || opt.record_size < (opt.json ? 64u : 1u) ||
        opt.record_size > 1024000 || opt.threads < 1 || opt.threads > 64)
        die("option out of range (connections 1..4096, records-per-batch 1..500, "
            "record-size 1..1024000, threads 1..64)");
    if (opt.duration_s <= 0 && opt.requests <= 0)
        opt.duration_s = 10;
    if (opt.io_timeout_s <= 0)
        opt.io_timeout_s = 30;
    if (!opt.bodies)
        opt.bodies = opt.op == OP_BATCH ? 8 : 256;
    if (!opt.bucket[0])
        snprintf(opt.bucket, sizeof(opt.bucket), "%s", opt.stream);
    if (!opt.label[0])
        snprintf(opt.label, sizeof(opt.label), "%s", opt.op == OP_BATCH ? "batch" : "single");
    parse_url(url);
    signal(SIGPIPE, SIG_IGN);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(opt.host, opt.port, &hints, &server_addr);
    if (gai != 0) {
        fprintf(stderr, "loadgen: %s:%s: %s\n", opt.host, opt.port, gai_strerror(gai));
        return 2;
    }
    if (opt.create)
        create_stream();
    build_bodies();

    double base_in = -1, base_out = -1;
    bool have_metrics = opt.wait_delivered && read_delivery(&base_in, &base_out);
    if (opt.wait_delivered && !have_metrics && !opt.quiet)
        fprintf(stderr, "loadgen: no /_hydrant/metrics for stream %s; skipping delivery wait\n",
                opt.stream);

    if (opt.threads > opt.connections)
        opt.threads = opt.connections;
    struct worker *ws = calloc((size_t)opt.threads, sizeof(*ws));
    if (!ws)
        die("out of memory");
    /* Connect one by one before the clock starts: a burst of connects can overflow a small
     * accept queue, and connect time is not what the rows measure. */
    struct conn *conns = calloc((size_t)opt.connections, sizeof(*conns));
    if (!conns)
        die("out of memory");
    for (int i = 0; i < opt.connections; i++) {
        conns[i].fd = -1;
        int rc = conn_open(&conns[i], false);
        if (rc < 0 && !opt.quiet)
            fprintf(stderr, "loadgen: connect: %s (will retry)\n", strerror(-rc));
        if (rc == 0)
            fcntl(conns[i].fd, F_SETFL, fcntl(conns[i].fd, F_GETFL) | O_NONBLOCK);
    }
    /* Each event-loop thread drives a contiguous slice of the connections. */
    for (int t = 0; t < opt.threads; t++) {
        int lo = (int)((long)opt.connections * t / opt.threads);
        int hi = (int)((long)opt.connections * (t + 1) / opt.threads);
        ws[t].c = &conns[lo];
        ws[t].nconn = hi - lo;
        ws[t].epfd = epoll_create1(EPOLL_CLOEXEC);
        ws[t].sig = calloc((size_t)body_count, sizeof(*ws[t].sig));
        if (ws[t].epfd < 0 || !ws[t].sig)
            die("epoll_create1 or out of memory");
    }
    uint64_t cpu0 = 0, cpu1 = 0;
    bool have_cpu = false;
    if (opt.server_pid > 0) {
        proc_reset_hwm(opt.server_pid);
        have_cpu = proc_cpu_ticks(opt.server_pid, &cpu0);
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);

    size_t per_req = bodies[0].payload_len;
    if (opt.rate_mbps > 0)
        interval_ns = (uint64_t)((double)per_req / (opt.rate_mbps * 1e6) * 1e9);
    if (opt.rate_mbps > 0 && interval_ns == 0)
        interval_ns = 1;
    start_ns = now_ns() + 20000000ull; /* let every thread start before the first slot */
    deadline_ns = opt.duration_s > 0 ? start_ns + (uint64_t)(opt.duration_s * 1e9) : 0;
    for (int i = 0; i < opt.threads; i++) {
        ws[i].id = i;
        ws[i].rng = 0x2545f4914f6cdd1dull * (uint64_t)(i + 1);
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            die("pthread_create failed");
    }
    for (int i = 0; i < opt.threads; i++)
        pthread_join(ws[i].tid, NULL);
    uint64_t end_ns = now_ns();
    double elapsed = (double)(end_ns - start_ns) / 1e9;
    getrusage(RUSAGE_SELF, &ru1);

    double srv_cpu = -1;
    long hwm_kb = -1;
    if (opt.server_pid > 0) {
        if (have_cpu && proc_cpu_ticks(opt.server_pid, &cpu1))
            srv_cpu = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) / elapsed * 100.0;
        hwm_kb = proc_status_kb(opt.server_pid, "VmHWM");
    }
    double gen_cpu = ((double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                      (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                      (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                      (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6) /
                     elapsed * 100.0;

    uint64_t ok = 0, thr = 0, err = 0, recs = 0, bytes = 0, failed = 0;
    size_t nlat = 0;
    for (int i = 0; i < opt.threads; i++) {
        ok += ws[i].ok;
        thr += ws[i].throttled;
        err += ws[i].errors;
        recs += ws[i].acked_records;
        bytes += ws[i].acked_bytes;
        failed += ws[i].failed_records;
        nlat += ws[i].lat_len;
    }
    uint32_t *lat = malloc((nlat ? nlat : 1) * sizeof(*lat));
    if (!lat)
        die("out of memory");
    size_t k = 0;
    for (int i = 0; i < opt.threads; i++) {
        memcpy(lat + k, ws[i].lat_us, ws[i].lat_len * sizeof(*lat));
        k += ws[i].lat_len;
    }
    qsort(lat, nlat, sizeof(*lat), cmp_u32);

    /* Delivery: wait until the server's delivered byte count catches up with its incoming
     * count (both cumulative), then rate = acked payload / (last delivery - start). */
    double delivered_mbps = -1, drain_s = -1;
    if (have_metrics && bytes > 0) {
        uint64_t until = now_ns() + (uint64_t)(opt.wait_timeout_s * 1e9);
        double in = 0, out = 0;
        for (;;) {
            uint64_t t = now_ns();
            if (read_delivery(&in, &out) && out >= in && in > base_in) {
                delivered_mbps = (double)bytes / 1e6 / ((double)(t - start_ns) / 1e9);
                drain_s = (double)(t - end_ns) / 1e9;
                break;
            }
            if (t > until) {
                fprintf(stderr, "loadgen: delivery wait timed out: incoming %.0f delivered %.0f\n",
                        in, out);
                break;
            }
            usleep(50000);
        }
    }

    if (!opt.quiet) {
        fprintf(stderr,
                "loadgen: %s %s x%d (%d threads), %.1f s: %" PRIu64 " ok, %" PRIu64
                " throttled, %" PRIu64 " errors, %" PRIu64
                " failed records; %.1f MB/s payload; loadgen CPU %.0f%%",
                opt.label, opt.op == OP_BATCH ? "PutRecordBatch" : "PutRecord", opt.connections,
                opt.threads, elapsed, ok, thr, err, failed, (double)bytes / 1e6 / elapsed, gen_cpu);
        if (drain_s >= 0)
            fprintf(stderr, "; drained %.2f s after load", drain_s);
        fprintf(stderr, "\n");
        for (int i = 0; i < opt.threads; i++)
            if (ws[i].first_error[0]) {
                fprintf(stderr, "loadgen: first error: %s\n", ws[i].first_error);
                break;
            }
    }

    if (opt.header)
        print_header();
    char cpu_s[32] = "n/a", rss_s[32] = "n/a", del_s[32] = "n/a";
    if (srv_cpu >= 0)
        snprintf(cpu_s, sizeof(cpu_s), "%.0f", srv_cpu);
    if (hwm_kb >= 0)
        snprintf(rss_s, sizeof(rss_s), "%.1f", hwm_kb / 1024.0);
    if (delivered_mbps >= 0)
        snprintf(del_s, sizeof(del_s), "%.1f", delivered_mbps);
    char op_s[48];
    if (opt.op == OP_BATCH)
        snprintf(op_s, sizeof(op_s), "batch %dx%zu", opt.records_per_batch, opt.record_size);
    else
        snprintf(op_s, sizeof(op_s), "single %zu", opt.record_size);
    printf("| %s | %s | %d | %.0f | %.0f | %.1f | %.2f | %.2f | %.2f | %.2f | %" PRIu64
           " | %" PRIu64 " | %s | %s | %s |",
           opt.label, op_s, opt.connections, (double)ok / elapsed, (double)recs / elapsed,
           (double)bytes / 1e6 / elapsed, pct_ms(lat, nlat, 50), pct_ms(lat, nlat, 99),
           pct_ms(lat, nlat, 99.9), nlat ? lat[nlat - 1] / 1000.0 : 0.0, thr, err, cpu_s, rss_s,
           del_s);
    if (opt.gen_cpu)
        printf(" %.0f |", gen_cpu);
    printf("\n");
    fflush(stdout);

    for (int i = 0; i < opt.threads; i++) {
        free(ws[i].lat_us);
        free(ws[i].sig);
        close(ws[i].epfd);
    }
    for (int i = 0; i < opt.connections; i++)
        free(conns[i].buf);
    free(conns);
    free(ws);
    free(lat);
    for (int i = 0; i < body_count; i++)
        free(bodies[i].data);
    free(bodies);
    freeaddrinfo(server_addr);
    return err > 0 && ok == 0 ? 1 : 0;
}
