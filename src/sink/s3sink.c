/*
 * s3sink: see s3sink.h. HTTP by libcurl (Debian's libcurl4); SigV4 by libcurl's
 * CURLOPT_AWS_SIGV4 with the payload hash and canonical query supplied here.
 */
#include "sink/s3sink.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/mem.h"
#include "sink/fssink.h"

#define URL_MAX 8192
#define RESP_MAX (1u << 20)
#define MAX_PARTS 10000

struct endpoint {
    char *bucket; /* NULL for the default */
    char *url;    /* without a trailing '/' */
};

struct s3sink {
    struct endpoint *ep;
    size_t nep;
    int path_style;
    char *region;
    char *local_root;
    char *userpwd; /* "AK:SK" or NULL (unsigned) */
    char *token;   /* session token or NULL */
    char sigv4[128];
};

struct s3sink_writer {
    struct s3sink *s;
    struct fssink_writer *local; /* bucket without an endpoint */
    CURL *curl;
    struct buf url; /* object URL, no query */
    const char *endpoint_url;
    struct buf part;     /* bytes not yet sent */
    char upload_id[512]; /* "" until a multipart upload exists */
    char (*etags)[80];
    size_t nparts, cap;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- configuration and credentials ---- */

int s3sink_parse_bucket_endpoint(char *arg, struct s3sink_endpoint *e)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return HY_EINVAL;
    *eq = '\0';
    e->bucket = arg;
    e->url = eq + 1;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Read aws_access_key_id / aws_secret_access_key / aws_session_token of [profile] from an
 * INI file. 0 when both keys were found. */
static int read_profile(const char *path, const char *profile, char **ak, char **sk, char **tok)
{
    char *data = NULL;
    size_t len = 0;
    if (fsutil_read_all(path, &data, &len, 1 << 20) < 0)
        return -1;
    int in = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (end)
                *end = '\0';
            char *name = trim(l + 1);
            if (strncmp(name, "profile ", 8) == 0)
                name = trim(name + 8);
            in = strcmp(name, profile) == 0;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || !eq || *l == '#' || *l == ';')
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        char **dst = strcmp(k, "aws_access_key_id") == 0       ? ak
                     : strcmp(k, "aws_secret_access_key") == 0 ? sk
                     : strcmp(k, "aws_session_token") == 0     ? tok
                                                               : NULL;
        if (dst) {
            hy_free(*dst);
            *dst = hy_strdup(v);
        }
    }
    hy_free(data);
    return *ak && *sk ? 0 : -1;
}

static void load_credentials(struct s3sink *s)
{
    char *ak = NULL, *sk = NULL, *tok = NULL;
    const char *eak = getenv("AWS_ACCESS_KEY_ID"), *esk = getenv("AWS_SECRET_ACCESS_KEY");
    if (eak && *eak && esk && *esk) {
        ak = hy_strdup(eak);
        sk = hy_strdup(esk);
        const char *t = getenv("AWS_SESSION_TOKEN");
        if (t && *t)
            tok = hy_strdup(t);
    } else {
        const char *profile = getenv("AWS_PROFILE");
        const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
        char path[4096];
        if (!file || !*file) {
            const char *home = getenv("HOME");
            snprintf(path, sizeof path, "%s/.aws/credentials", home ? home : "");
            file = path;
        }
        read_profile(file, profile && *profile ? profile : "default", &ak, &sk, &tok);
    }
    if (ak && sk) {
        size_t n = strlen(ak) + strlen(sk) + 2;
        s->userpwd = hy_malloc(n);
        if (s->userpwd)
            snprintf(s->userpwd, n, "%s:%s", ak, sk);
        s->token = tok;
        tok = NULL;
    } else {
        LOG_WARN("s3sink", "no AWS credentials found: requests go unsigned", "%s", "");
    }
    hy_free(ak);
    hy_free(sk);
    hy_free(tok);
}

int s3sink_new(const struct s3sink_config *cfg, struct s3sink **out)
{
    pthread_once(&curl_once, curl_init_once);
    struct s3sink *s = hy_calloc(1, sizeof *s);
    if (!s)
        return HY_ENOMEM;
    s->ep = hy_calloc(cfg->nendpoints ? cfg->nendpoints : 1, sizeof *s->ep);
    s->region = hy_strdup(cfg->region ? cfg->region : "us-east-1");
    s->local_root = hy_strdup(cfg->local_root ? cfg->local_root : ".");
    if (!s->ep || !s->region || !s->local_root)
        goto nomem;
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        const char *u = cfg->endpoints[i].url;
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            s3sink_free(s);
            return HY_EINVAL;
        }
        s->ep[i].url = hy_strdup(u);
        s->ep[i].bucket = cfg->endpoints[i].bucket ? hy_strdup(cfg->endpoints[i].bucket) : NULL;
        if (!s->ep[i].url || (cfg->endpoints[i].bucket && !s->ep[i].bucket))
            goto nomem;
        size_t n = strlen(s->ep[i].url);
        while (n > 8 && s->ep[i].url[n - 1] == '/')
            s->ep[i].url[--n] = '\0';
        s->nep = i + 1;
    }
    s->path_style = cfg->path_style;
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", s->region);
    load_credentials(s);
    *out = s;
    return 0;
nomem:
    s3sink_free(s);
    return HY_ENOMEM;
}

void s3sink_free(struct s3sink *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nep; i++) {
        hy_free(s->ep[i].bucket);
        hy_free(s->ep[i].url);
    }
    hy_free(s->ep);
    hy_free(s->region);
    hy_free(s->local_root);
    hy_free(s->userpwd);
    hy_free(s->token);
    hy_free(s);
}

static const char *endpoint_for(const struct s3sink *s, const char *bucket)
{
    const char *dflt = NULL;
    for (size_t i = 0; i < s->nep; i++) {
        if (s->ep[i].bucket && strcmp(s->ep[i].bucket, bucket) == 0)
            return s->ep[i].url;
        if (!s->ep[i].bucket)
            dflt = s->ep[i].url;
    }
    return dflt;
}

/* ---- requests ---- */

struct resp {
    struct buf body;
    char etag[80];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = size * n;
    if (buf_append(&r->body, p, len))
        return len; /* an oversized error body: keep what fits */
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = size * n;
    if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
        const char *v = p + 5;
        size_t vl = len - 5;
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof r->etag) {
            memcpy(r->etag, v, vl);
            r->etag[vl] = '\0';
        }
    }
    return len;
}

struct upload_src {
    const char *p;
    size_t left;
};

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
    struct upload_src *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;
    memcpy(dst, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

static void jitter_sleep(int attempt)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (unsigned)time(NULL);
    long cap_ms = 100L << (attempt < 5 ? attempt : 5);
    if (cap_ms > 2000)
        cap_ms = 2000;
    long ms = (long)((double)r / 4294967296.0 * (double)cap_ms);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int retryable(long status, const struct resp *r)
{
    if (status == 0 || status >= 500 || status == 429)
        return 1;
    const char *b = r->body.data ? r->body.data : "";
    if (strstr(b, "<Code>SlowDown</Code>") || strstr(b, "<Code>RequestTimeout</Code>"))
        return 1;
    return status == 200 && strstr(b, "<Error>") != NULL;
}

/* One S3 request with retries. query is canonical ("partNumber=1&uploadId=x", "uploads=") or
 * "". Returns 0 (2xx without <Error>), HY_EBUSY when retries ran out on retryable failures,
 * or HY_EINVAL for a non-retryable answer. */
static int request(struct s3sink_writer *w, const char *method, const char *query, const char *body,
                   size_t len, struct resp *r)
{
    struct s3sink *s = w->s;
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s%s%s", w->url.data, *query ? "?" : "", query);
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)(body ? body : ""), len, d);
    char hdr[128] = "x-amz-content-sha256: ";
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hdr + 22 + 2 * i, 3, "%02x", d[i]);
    int rc = HY_EBUSY;
    for (int attempt = 0; attempt < S3SINK_ATTEMPTS; attempt++) {
        if (attempt)
            jitter_sleep(attempt);
        buf_reset(&r->body);
        r->etag[0] = '\0';
        CURL *c = w->curl;
        curl_easy_reset(c);
        struct curl_slist *h = curl_slist_append(NULL, hdr);
        h = curl_slist_append(h, "Expect:"); /* no 1 s wait for 100-continue */
        char tok[4096];
        if (s->token) {
            snprintf(tok, sizeof tok, "x-amz-security-token: %s", s->token);
            h = curl_slist_append(h, tok);
        }
        if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
            h = curl_slist_append(h, "Content-Type:");
        struct upload_src src = {body ? body : "", len};
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        if (s->userpwd) {
            curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
            curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd);
        }
        if (strcmp(method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &src);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        } else if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        } else {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        if (cc == CURLE_OK && status >= 200 && status < 300 &&
            !(r->body.len && strstr(r->body.data, "<Error>"))) {
            rc = 0;
            break;
        }
        if (cc == CURLE_OK && !retryable(status, r)) {
            LOG_WARN("s3sink", "request refused", "endpoint=%s method=%s status=%ld",
                     w->endpoint_url, method, status);
            rc = HY_EINVAL;
            break;
        }
        LOG_WARN("s3sink", "request failed; retrying",
                 "endpoint=%s method=%s status=%ld curl=%d attempt=%d", w->endpoint_url, method,
                 status, (int)cc, attempt + 1);
    }
    return rc;
}

/* ---- the writer ---- */

static int append_encoded(struct buf *b, const char *s, int keep_slash)
{
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        unsigned char c = *p;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash))
            rc = buf_append(b, p, 1);
        else
            rc = buf_printf(b, "%%%c%c", hex_upper[c >> 4], hex_upper[c & 15]);
    }
    return rc;
}

static void writer_free(struct s3sink_writer *w)
{
    if (w->curl)
        curl_easy_cleanup(w->curl);
    buf_fini(&w->url);
    buf_fini(&w->part);
    hy_free(w->etags);
    hy_free(w);
}

static int s3_open(void *ctx, const char *bucket, const char *key, void **out)
{
    struct s3sink *s = ctx;
    struct s3sink_writer *w = hy_calloc(1, sizeof *w);
    if (!w)
        return HY_ENOMEM;
    w->s = s;
    buf_init(&w->url, URL_MAX - 1024);
    buf_init(&w->part, S3SINK_PART_LEN);
    const char *ep = endpoint_for(s, bucket);
    int rc;
    if (!ep) {
        rc = fssink_open(s->local_root, bucket, key, &w->local);
        if (rc) {
            writer_free(w);
            return rc;
        }
        *out = w;
        return 0;
    }
    w->endpoint_url = ep;
    w->curl = curl_easy_init();
    if (!w->curl) {
        writer_free(w);
        return HY_ENOMEM;
    }
    if (s->path_style) {
        rc = buf_printf(&w->url, "%s/", ep);
        if (!rc)
            rc = append_encoded(&w->url, bucket, 0);
    } else {
        /* bucket.host: insert after the scheme */
        const char *host = strstr(ep, "://") + 3;
        rc = buf_printf(&w->url, "%.*s%s.%s", (int)(host - ep), ep, bucket, host);
    }
    if (!rc)
        rc = buf_append_str(&w->url, "/");
    if (!rc)
        rc = append_encoded(&w->url, key, 1);
    if (rc) {
        writer_free(w);
        return HY_EINVAL;
    }
    *out = w;
    return 0;
}

static int send_part(struct s3sink_writer *w)
{
    struct resp r;
    buf_init(&r.body, RESP_MAX);
    int rc = 0;
    if (!w->upload_id[0]) {
        rc = request(w, "POST", "uploads=", "", 0, &r);
        const char *a = rc ? NULL : strstr(r.body.data ? r.body.data : "", "<UploadId>");
        const char *b = a ? strstr(a, "</UploadId>") : NULL;
        if (!rc && (!a || !b || (size_t)(b - a - 10) >= sizeof w->upload_id))
            rc = HY_EBADMSG;
        if (!rc) {
            memcpy(w->upload_id, a + 10, (size_t)(b - a - 10));
            w->upload_id[b - a - 10] = '\0';
        }
    }
    if (!rc && w->nparts == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        void *v = cap <= MAX_PARTS ? hy_realloc(w->etags, cap * sizeof *w->etags) : NULL;
        if (!v)
            rc = HY_ENOMEM;
        else {
            w->etags = v;
            w->cap = cap;
        }
    }
    if (!rc) {
        struct buf q;
        buf_init(&q, 2048);
        rc = buf_printf(&q, "partNumber=%zu&uploadId=", w->nparts + 1);
        if (!rc)
            rc = append_encoded(&q, w->upload_id, 0);
        if (!rc)
            rc = request(w, "PUT", q.data, w->part.data, w->part.len, &r);
        buf_fini(&q);
    }
    if (!rc) {
        snprintf(w->etags[w->nparts], sizeof w->etags[0], "%s", r.etag);
        w->nparts++;
        buf_reset(&w->part);
    }
    buf_fini(&r.body);
    return rc;
}

static int s3_write(void *vw, const struct iovec *iov, size_t n)
{
    struct s3sink_writer *w = vw;
    if (w->local)
        return fssink_write(w->local, iov, n);
    for (size_t i = 0; i < n; i++) {
        const char *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) {
            size_t room = S3SINK_PART_LEN - w->part.len;
            size_t k = left < room ? left : room;
            int rc = buf_append(&w->part, p, k);
            if (rc)
                return rc;
            p += k;
            left -= k;
            if (w->part.len == S3SINK_PART_LEN && (rc = send_part(w)))
                return rc;
        }
    }
    return 0;
}

static void abort_upload(struct s3sink_writer *w)
{
    if (!w->upload_id[0])
        return;
    struct resp r;
    buf_init(&r.body, RESP_MAX);
    struct buf q;
    buf_init(&q, 2048);
    if (buf_append_str(&q, "uploadId=") == 0 && append_encoded(&q, w->upload_id, 0) == 0)
        (void)request(w, "DELETE", q.data, NULL, 0, &r); /* best effort: lifecycle rules clean */
    buf_fini(&q);
    buf_fini(&r.body);
}

static int s3_commit(void *vw)
{
    struct s3sink_writer *w = vw;
    int rc;
    if (w->local) {
        rc = fssink_commit(w->local);
        w->local = NULL;
        writer_free(w);
        return rc;
    }
    struct resp r;
    buf_init(&r.body, RESP_MAX);
    if (!w->upload_id[0]) {
        rc = request(w, "PUT", "", w->part.data, w->part.len, &r);
    } else {
        rc = w->part.len ? send_part(w) : 0;
        struct buf x, q;
        buf_init(&x, 128 * (w->nparts + 2));
        buf_init(&q, 2048);
        if (!rc)
            rc = buf_append_str(&x, "<CompleteMultipartUpload>");
        for (size_t i = 0; !rc && i < w->nparts; i++)
            rc = buf_printf(&x, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
                            w->etags[i]);
        if (!rc)
            rc = buf_append_str(&x, "</CompleteMultipartUpload>");
        if (!rc)
            rc = buf_append_str(&q, "uploadId=");
        if (!rc)
            rc = append_encoded(&q, w->upload_id, 0);
        if (!rc)
            rc = request(w, "POST", q.data, x.data, x.len, &r);
        buf_fini(&x);
        buf_fini(&q);
        if (rc)
            abort_upload(w);
    }
    buf_fini(&r.body);
    writer_free(w);
    return rc;
}

static void s3_abort(void *vw)
{
    struct s3sink_writer *w = vw;
    if (!w)
        return;
    if (w->local) {
        fssink_abort(w->local);
        w->local = NULL;
    } else {
        abort_upload(w);
    }
    writer_free(w);
}

static int s3_recover(void *ctx)
{
    struct s3sink *s = ctx;
    return fssink_ops.recover(s->local_root);
}

const struct sink_ops s3sink_ops = {
    .name = "s3",
    .recover = s3_recover,
    .open = s3_open,
    .write = s3_write,
    .commit = s3_commit,
    .abort = s3_abort,
};
