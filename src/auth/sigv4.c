/*
 * sigv4: parsing, canonical request, string to sign, signature (spec section 3, steps 1-9).
 */
#include "auth/sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"

#define ALGO "AWS4-HMAC-SHA256"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CANON_MAX_BYTES (256u << 10)

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t md[32];
    SHA256(p, n, md);
    hex(md, 32, out);
}

static void hmac(const uint8_t *key, size_t key_len, const void *msg, size_t n, uint8_t out[32])
{
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, (int)key_len, msg, n, out, &ol);
}

void sigv4_signing_key(const char *secret, const char *date, size_t date_len, const char *region,
                       size_t region_len, const char *service, size_t service_len, uint8_t out[32])
{
    char k0[256];
    int n = snprintf(k0, sizeof k0, "AWS4%s", secret);
    size_t kl = n < 0 ? 0 : (size_t)n >= sizeof k0 ? sizeof k0 - 1 : (size_t)n;
    uint8_t a[32], b[32];
    hmac((const uint8_t *)k0, kl, date, date_len, a);
    hmac(a, 32, region, region_len, b);
    hmac(b, 32, service, service_len, a);
    hmac(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k0, sizeof k0);
}

/* ---------------------------------------------------------------- parsing */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %-decode in[0..n) into out (NUL-terminated, at most size-1 bytes). 0 or HY_E2BIG. A '%' not
 * followed by two hex digits stays literal. */
static int pct_decode(const char *in, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%' && i + 2 < n && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
            c = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
            i += 2;
        }
        if (o + 1 >= size)
            return HY_E2BIG;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static int copy_str(const char *p, size_t n, char *out, size_t size)
{
    if (n >= size)
        return HY_E2BIG;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* "AKID/YYYYMMDD/region/service/aws4_request" (already decoded). */
static int parse_credential(const char *s, size_t n, struct sigv4_auth *out)
{
    const char *part[5];
    size_t plen[5];
    size_t k = 0;
    const char *p = s, *end = s + n;
    while (k < 5) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *e = slash ? slash : end;
        part[k] = p;
        plen[k] = (size_t)(e - p);
        k++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (k != 5 || part[4] + plen[4] != end || plen[4] != 12 ||
        memcmp(part[4], "aws4_request", 12) != 0)
        return HY_EBADMSG;
    if (!plen[0] || plen[1] != 8 || !plen[2] || !plen[3])
        return HY_EBADMSG;
    for (size_t i = 0; i < 8; i++)
        if (part[1][i] < '0' || part[1][i] > '9')
            return HY_EBADMSG;
    if (copy_str(part[0], plen[0], out->akid, sizeof out->akid) ||
        copy_str(part[1], plen[1], out->date, sizeof out->date) ||
        copy_str(part[2], plen[2], out->region, sizeof out->region) ||
        copy_str(part[3], plen[3], out->service, sizeof out->service))
        return HY_EBADMSG;
    return 0;
}

static int signature_ok(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int signed_headers_ok(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == ';' ||
              *p == '_' || *p == '.'))
            return 0;
    return 1;
}

int sigv4_parse_header(const char *value, size_t len, struct sigv4_auth *out, const char **why)
{
    memset(out, 0, sizeof *out);
    size_t al = sizeof ALGO - 1;
    if (len < al || memcmp(value, ALGO, al) != 0 || (len > al && value[al] != ' ')) {
        *why = "Unsupported Authorization Type";
        return HY_EBADMSG;
    }
    int have_cred = 0, have_sh = 0, have_sig = 0;
    const char *p = value + al, *end = value + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (p >= end)
            break;
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ve = e;
        while (ve > p && ve[-1] == ' ')
            ve--;
        if (!eq) {
            *why = "Authorization header requires each component to be of the form name=value";
            return HY_EBADMSG;
        }
        size_t nl = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vl = ve > v ? (size_t)(ve - v) : 0;
        if (nl == 10 && memcmp(p, "Credential", 10) == 0) {
            if (parse_credential(v, vl, out)) {
                *why = "Credential must have exactly 5 slash-delimited elements, e.g. "
                       "keyid/date/region/service/term";
                return HY_EBADMSG;
            }
            have_cred = 1;
        } else if (nl == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
            if (copy_str(v, vl, out->signed_headers, sizeof out->signed_headers) ||
                !signed_headers_ok(out->signed_headers)) {
                *why = "SignedHeaders must be lower-case header names separated by ';'";
                return HY_EBADMSG;
            }
            have_sh = 1;
        } else if (nl == 9 && memcmp(p, "Signature", 9) == 0) {
            if (!signature_ok(v, vl)) {
                *why = "Signature must be 64 lower-case hexadecimal characters";
                return HY_EBADMSG;
            }
            memcpy(out->signature, v, 64);
            out->signature[64] = '\0';
            have_sig = 1;
        }
        p = e;
    }
    if (!have_cred)
        *why = "Authorization header requires 'Credential' parameter.";
    else if (!have_sh)
        *why = "Authorization header requires 'SignedHeaders' parameter.";
    else if (!have_sig)
        *why = "Authorization header requires 'Signature' parameter.";
    return have_cred && have_sh && have_sig ? 0 : HY_EBADMSG;
}

static int amz_date_ok(const char *s)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

int sigv4_parse_query(const char *query, size_t len, struct sigv4_auth *out, const char **why)
{
    memset(out, 0, sizeof *out);
    int have_alg = 0, have_cred = 0, have_date = 0, have_exp = 0, have_sh = 0, have_sig = 0;
    const char *p = query, *end = query + len;
    char val[2048];
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        size_t nl = eq ? (size_t)(eq - p) : (size_t)(e - p);
        const char *v = eq ? eq + 1 : e;
        size_t vl = (size_t)(e - v);
        if (nl > 6 && memcmp(p, "X-Amz-", 6) == 0) {
            if (pct_decode(v, vl, val, sizeof val)) {
                *why = "a presigned parameter is too long";
                return HY_EBADMSG;
            }
            size_t dl = strlen(val);
            const char *name = p + 6;
            size_t k = nl - 6;
            if (k == 9 && memcmp(name, "Algorithm", 9) == 0) {
                if (strcmp(val, ALGO) != 0) {
                    *why = "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"";
                    return HY_EBADMSG;
                }
                have_alg = 1;
            } else if (k == 10 && memcmp(name, "Credential", 10) == 0) {
                if (parse_credential(val, dl, out)) {
                    *why = "Error parsing the X-Amz-Credential parameter; the Credential is "
                           "mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/"
                           "aws4_request\".";
                    return HY_EBADMSG;
                }
                have_cred = 1;
            } else if (k == 4 && memcmp(name, "Date", 4) == 0) {
                if (copy_str(val, dl, out->amz_date, sizeof out->amz_date) ||
                    !amz_date_ok(out->amz_date)) {
                    *why = "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"";
                    return HY_EBADMSG;
                }
                have_date = 1;
            } else if (k == 7 && memcmp(name, "Expires", 7) == 0) {
                char *ee = NULL;
                long x = strtol(val, &ee, 10);
                if (!dl || !ee || *ee || x < 1 || x > 604800) {
                    *why = "X-Amz-Expires must be a number of seconds from 1 to 604800";
                    return HY_EBADMSG;
                }
                out->expires_s = x;
                have_exp = 1;
            } else if (k == 13 && memcmp(name, "SignedHeaders", 13) == 0) {
                if (copy_str(val, dl, out->signed_headers, sizeof out->signed_headers) ||
                    !signed_headers_ok(out->signed_headers)) {
                    *why = "X-Amz-SignedHeaders must be lower-case header names separated by ';'";
                    return HY_EBADMSG;
                }
                have_sh = 1;
            } else if (k == 9 && memcmp(name, "Signature", 9) == 0) {
                if (!signature_ok(val, dl)) {
                    *why = "X-Amz-Signature must be 64 lower-case hexadecimal characters";
                    return HY_EBADMSG;
                }
                memcpy(out->signature, val, 65);
                have_sig = 1;
            } else if (k == 14 && memcmp(name, "Security-Token", 14) == 0) {
                if (copy_str(val, dl, out->token, sizeof out->token)) {
                    *why = "X-Amz-Security-Token is too long";
                    return HY_EBADMSG;
                }
            }
        }
        p = amp ? amp + 1 : end;
    }
    if (!have_alg)
        return HY_ENOTFOUND;
    if (!have_cred)
        *why = "Query-string authentication requires the X-Amz-Credential parameter";
    else if (!have_date)
        *why = "Query-string authentication requires the X-Amz-Date parameter";
    else if (!have_exp)
        *why = "Query-string authentication requires the X-Amz-Expires parameter";
    else if (!have_sh)
        *why = "Query-string authentication requires the X-Amz-SignedHeaders parameter";
    else if (!have_sig)
        *why = "Query-string authentication requires the X-Amz-Signature parameter";
    return have_cred && have_date && have_exp && have_sh && have_sig ? 0 : HY_EBADMSG;
}

/* ---------------------------------------------------------------- canonical request */

/* RFC 3986 encoding (spec step 6.2): unreserved bytes as they are, the rest %XX upper case. */
static int uri_encode(struct buf *b, const char *s, size_t n, int keep_slash)
{
    static const char d[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            rc = buf_append(b, &s[i], 1);
        } else {
            char e[3] = {'%', d[c >> 4], d[c & 15]};
            rc = buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Non-S3 services: remove "." and ".." segments and empty ones, then encode each raw segment
 * (the SDKs encode the already-encoded path a second time). */
static int canonical_uri_normalised(struct buf *b, const char *path, size_t n)
{
    const char *seg[256];
    size_t sl[256], k = 0;
    const char *p = path, *end = path + n;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *e = slash ? slash : end;
        size_t l = (size_t)(e - p);
        if (l == 0 || (l == 1 && p[0] == '.')) {
            /* skip */
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            if (k)
                k--;
        } else {
            if (k == 256)
                return HY_E2BIG;
            seg[k] = p;
            sl[k] = l;
            k++;
        }
        p = slash ? slash + 1 : end;
    }
    int rc = 0;
    for (size_t i = 0; i < k && !rc; i++) {
        rc = buf_append(b, "/", 1);
        if (!rc)
            rc = uri_encode(b, seg[i], sl[i], 0);
    }
    if (!rc && (k == 0 || (n > 1 && path[n - 1] == '/')))
        rc = buf_append(b, "/", 1);
    return rc;
}

/* S3: the path decoded once and encoded once, '/' kept, nothing normalised. */
static int canonical_uri_s3(struct buf *b, const char *path, size_t n)
{
    if (n == 0)
        return buf_append(b, "/", 1);
    char *dec = hy_malloc(n + 1);
    if (!dec)
        return HY_ENOMEM;
    int rc = pct_decode(path, n, dec, n + 1);
    if (!rc)
        rc = uri_encode(b, dec, strlen(dec), 1);
    hy_free(dec);
    return rc;
}

struct qpair {
    char *name, *value; /* encoded, NUL-terminated (heap) */
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* One query component decoded and re-encoded, as a heap string. */
static char *reencode(const char *s, size_t n)
{
    char *dec = hy_malloc(n + 1);
    if (!dec)
        return NULL;
    struct buf b;
    buf_init(&b, 3 * n + 1);
    char *out = NULL;
    if (pct_decode(s, n, dec, n + 1) == 0 && uri_encode(&b, dec, strlen(dec), 0) == 0 &&
        buf_append(&b, "", 1) == 0) {
        out = b.data;
        b.data = NULL;
    }
    buf_fini(&b);
    hy_free(dec);
    return out;
}

static int canonical_query(struct buf *b, const char *q, size_t n, int skip_signature)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += q[i] == '&';
    struct qpair *v = hy_calloc(cap, sizeof *v);
    if (!v)
        return HY_ENOMEM;
    size_t k = 0;
    int rc = 0;
    const char *p = q, *end = q + n;
    while (p < end && !rc) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e > p) {
            const char *eq = memchr(p, '=', (size_t)(e - p));
            size_t nl = eq ? (size_t)(eq - p) : (size_t)(e - p);
            if (!(skip_signature && nl == 15 && memcmp(p, "X-Amz-Signature", 15) == 0)) {
                v[k].name = reencode(p, nl);
                v[k].value = eq ? reencode(eq + 1, (size_t)(e - eq - 1)) : hy_strdup("");
                if (!v[k].name || !v[k].value)
                    rc = HY_ENOMEM;
                k++;
            }
        }
        p = amp ? amp + 1 : end;
    }
    if (!rc)
        qsort(v, k, sizeof *v, qpair_cmp);
    for (size_t i = 0; i < k && !rc; i++)
        rc = buf_printf(b, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
    for (size_t i = 0; i < k; i++) {
        hy_free(v[i].name);
        hy_free(v[i].value);
    }
    hy_free(v);
    return rc;
}

/* Append one header value trimmed, runs of spaces collapsed to one. */
static int append_trimmed(struct buf *b, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if ((v[i] == ' ' || v[i] == '\t') && i > 0 && (v[i - 1] == ' ' || v[i - 1] == '\t'))
            continue;
        rc = buf_append(b, v[i] == '\t' ? " " : &v[i], 1);
    }
    return rc;
}

/* "name:v1,v2\n" for each signed header. HY_ENOTFOUND (*missing set) when one is absent. */
static int canonical_headers(struct buf *b, const struct http_request *req, const char *signed_h,
                             const char **missing)
{
    const char *p = signed_h;
    int rc = 0;
    while (*p && !rc) {
        const char *semi = strchr(p, ';');
        size_t nl = semi ? (size_t)(semi - p) : strlen(p);
        int found = 0;
        rc = buf_append(b, p, nl);
        if (!rc)
            rc = buf_append(b, ":", 1);
        for (size_t i = 0; i < req->num_headers && !rc; i++) {
            const struct http_header *h = &req->headers[i];
            if (h->name_len != nl || strncasecmp(h->name, p, nl) != 0)
                continue;
            if (found)
                rc = buf_append(b, ",", 1);
            if (!rc)
                rc = append_trimmed(b, h->value, h->value_len);
            found = 1;
        }
        if (!rc && !found) {
            *missing = p;
            return HY_ENOTFOUND;
        }
        if (!rc)
            rc = buf_append(b, "\n", 1);
        p = semi ? semi + 1 : p + nl;
    }
    return rc;
}

static const struct http_header *header(const struct http_request *req, const char *name)
{
    return http_request_header(req, name);
}

static int header_eq(const struct http_header *h, const char *s)
{
    size_t n = strlen(s);
    return h && h->value_len == n && memcmp(h->value, s, n) == 0;
}

static int64_t amz_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    return (int64_t)timegm(&tm);
}

static void fmt_amz(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static enum sigv4_status fail(struct sigv4_result *res, enum sigv4_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum sigv4_status fail(struct sigv4_result *res, enum sigv4_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    res->status = st;
    return st;
}

#define MSG_BAD_SIG                                                                                \
    "The request signature we calculated does not match the signature you provided. Check your "   \
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
#define MSG_BAD_KEY "The security token included in the request is invalid."

enum sigv4_status sigv4_verify(const struct sigv4_config *cfg, const struct http_request *req,
                               int64_t now, struct sigv4_result *res)
{
    memset(res, 0, sizeof *res);
    struct sigv4_auth a;
    const char *why = "";
    const char *qm = memchr(req->path, '?', req->path_len);
    size_t path_len = qm ? (size_t)(qm - req->path) : req->path_len;
    const char *query = qm ? qm + 1 : "";
    size_t query_len = qm ? req->path_len - path_len - 1 : 0;
    const struct http_header *auth = header(req, "Authorization");
    int presigned = 0;
    if (auth) {
        if (sigv4_parse_header(auth->value, auth->value_len, &a, &why))
            return fail(res, SIGV4_INCOMPLETE, "%s", why);
        const struct http_header *d = header(req, "X-Amz-Date");
        if (!d || copy_str(d->value, d->value_len, a.amz_date, sizeof a.amz_date) ||
            !amz_date_ok(a.amz_date))
            return fail(res, SIGV4_INCOMPLETE,
                        "Authorization header requires existence of either a 'X-Amz-Date' or a "
                        "'Date' header.");
    } else {
        int rc = sigv4_parse_query(query, query_len, &a, &why);
        if (rc == HY_ENOTFOUND)
            return fail(res, SIGV4_MISSING, "Missing Authentication Token");
        res->presigned = 1;
        if (rc)
            return fail(res, SIGV4_INCOMPLETE, "%s", why);
        presigned = 1;
    }
    /* Step 5: host is always signed; a header-auth request signs its x-amz-date too. */
    char sh[1026];
    snprintf(sh, sizeof sh, ";%s;", a.signed_headers);
    if (!strstr(sh, ";host;") || (!presigned && !strstr(sh, ";x-amz-date;")))
        return fail(res, SIGV4_BAD_SIGNATURE, "%s", MSG_BAD_SIG);

    /* Steps 2-3: time and scope. */
    if (memcmp(a.amz_date, a.date, 8) != 0)
        return fail(res, SIGV4_BAD_SCOPE,
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                    "date from HTTP: '%s' != '%.8s', from '%s'.",
                    a.date, a.amz_date, presigned ? "X-Amz-Date" : "X-Amz-Date");
    int skew = cfg->skew_s > 0 ? cfg->skew_s : SIGV4_DEFAULT_SKEW_S;
    int64_t t = amz_time(a.amz_date);
    char lim[17], nowt[17];
    fmt_amz(now, nowt);
    if (t > now + skew) {
        fmt_amz(now + skew, lim);
        return fail(res, SIGV4_EXPIRED,
                    "Signature not yet current: %s is still later than %s (%s + %d min.)",
                    a.amz_date, lim, nowt, skew / 60);
    }
    if (presigned && t + a.expires_s < now)
        return fail(res, SIGV4_PRESIGN_EXPIRED, "Request has expired");
    if (!presigned && t < now - skew) {
        fmt_amz(now - skew, lim);
        return fail(res, SIGV4_EXPIRED,
                    "Signature expired: %s is now earlier than %s (%s - %d min.)", a.amz_date, lim,
                    nowt, skew / 60);
    }
    if (cfg->region && strcmp(a.region, cfg->region) != 0)
        return fail(res, SIGV4_BAD_SCOPE, "Credential should be scoped to a valid region.");
    if (strcmp(a.service, cfg->service) != 0)
        return fail(res, SIGV4_BAD_SCOPE, "Credential should be scoped to correct service: '%s'.",
                    cfg->service);

    /* Step 4: key and session token. */
    const struct creds_entry *e = creds_find(cfg->creds, a.akid, strlen(a.akid));
    if (!e)
        return fail(res, SIGV4_UNKNOWN_KEY, "%s", MSG_BAD_KEY);
    res->cred = e;
    const struct http_header *tokh = header(req, "X-Amz-Security-Token");
    const char *tok = presigned ? a.token : NULL;
    size_t tok_len = presigned ? strlen(a.token) : 0;
    if (tokh) {
        tok = tokh->value;
        tok_len = tokh->value_len;
    }
    if (e->session_token) {
        size_t want = strlen(e->session_token);
        if (!tok || tok_len != want || CRYPTO_memcmp(tok, e->session_token, want) != 0)
            return fail(res, SIGV4_BAD_TOKEN, "%s", MSG_BAD_KEY);
    } else if (tok && tok_len) {
        return fail(res, SIGV4_BAD_TOKEN, "%s", MSG_BAD_KEY);
    }

    /* Step 6.6: the payload hash. */
    char payload[65];
    const struct http_header *ch = header(req, "X-Amz-Content-SHA256");
    if (cfg->s3 && header_eq(ch, "UNSIGNED-PAYLOAD")) {
        res->unsigned_payload = 1;
    } else if (cfg->s3 && header_eq(ch, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")) {
        res->streaming = 1;
    } else if (cfg->s3 && header_eq(ch, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")) {
        res->unsigned_trailer = 1;
    } else if (cfg->s3 && presigned && !ch) {
        res->unsigned_payload = 1; /* presigned URLs sign no payload */
    } else if (cfg->s3 && cfg->body_later && ch && ch->value_len == 64) {
        memcpy(payload, ch->value, 64);
        payload[64] = '\0';
        if (strspn(payload, "0123456789abcdef") != 64)
            return fail(res, SIGV4_BAD_CONTENT_SHA256,
                        "The provided 'x-amz-content-sha256' header is not a valid hash.");
        memcpy(res->content_sha256, payload, sizeof payload);
    } else {
        sha256_hex(req->body ? req->body : "", req->body_len, payload);
        if (ch && (ch->value_len != 64 || memcmp(ch->value, payload, 64) != 0))
            return fail(res, SIGV4_BAD_CONTENT_SHA256,
                        "The provided 'x-amz-content-sha256' header does not match what was "
                        "computed.");
    }
    const char *payload_hash = res->unsigned_payload   ? "UNSIGNED-PAYLOAD"
                               : res->streaming        ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
                               : res->unsigned_trailer ? "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
                                                       : payload;

    /* Step 6: the canonical request. */
    struct buf c;
    buf_init(&c, CANON_MAX_BYTES);
    const char *missing = NULL;
    int rc = buf_append(&c, req->method, req->method_len);
    if (!rc)
        rc = buf_append(&c, "\n", 1);
    if (!rc)
        rc = cfg->s3 ? canonical_uri_s3(&c, req->path, path_len)
                     : canonical_uri_normalised(&c, req->path, path_len);
    if (!rc)
        rc = buf_append(&c, "\n", 1);
    if (!rc)
        rc = canonical_query(&c, query, query_len, presigned);
    if (!rc)
        rc = buf_append(&c, "\n", 1);
    if (!rc)
        rc = canonical_headers(&c, req, a.signed_headers, &missing);
    if (!rc)
        rc = buf_printf(&c, "\n%s\n%s", a.signed_headers, payload_hash);
    if (rc) {
        buf_fini(&c);
        if (rc == HY_ENOTFOUND)
            return fail(res, SIGV4_BAD_SIGNATURE, "%s", MSG_BAD_SIG);
        return fail(res, rc == HY_ENOMEM ? SIGV4_NOMEM : SIGV4_INCOMPLETE,
                    "The request is too large to sign.");
    }
    char creq_hash[65];
    sha256_hex(c.data, c.len, creq_hash);
    buf_fini(&c);

    /* Steps 7-9. */
    snprintf(res->scope, sizeof res->scope, "%s/%s/%s/aws4_request", a.date, a.region, a.service);
    char sts[512];
    int sn = snprintf(sts, sizeof sts, ALGO "\n%s\n%s\n%s", a.amz_date, res->scope, creq_hash);
    sigv4_signing_key(e->secret, a.date, 8, a.region, strlen(a.region), a.service,
                      strlen(a.service), res->signing_key);
    uint8_t sig[32];
    hmac(res->signing_key, 32, sts, (size_t)sn, sig);
    char sig_hex[65];
    hex(sig, 32, sig_hex);
    if (CRYPTO_memcmp(sig_hex, a.signature, 64) != 0)
        return fail(res, SIGV4_BAD_SIGNATURE, "%s", MSG_BAD_SIG);
    memcpy(res->seed_signature, sig_hex, 65);
    memcpy(res->amz_date, a.amz_date, 17);
    res->status = SIGV4_OK;
    return SIGV4_OK;
}

/* ---------------------------------------------------------------- aws-chunked */

int sigv4_chunk_init(struct sigv4_chunk *c, const struct sigv4_result *res)
{
    memset(c, 0, sizeof *c);
    memcpy(c->key, res->signing_key, 32);
    memcpy(c->prev, res->seed_signature, 65);
    memcpy(c->amz_date, res->amz_date, 17);
    memcpy(c->scope, res->scope, sizeof c->scope);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(m);
        return HY_ENOMEM;
    }
    c->sha = m;
    return 0;
}

void sigv4_chunk_fini(struct sigv4_chunk *c)
{
    EVP_MD_CTX_free(c->sha);
    c->sha = NULL;
    OPENSSL_cleanse(c->key, sizeof c->key);
}

void sigv4_chunk_update(struct sigv4_chunk *c, const void *data, size_t len)
{
    EVP_DigestUpdate(c->sha, data, len);
}

int sigv4_chunk_finish(struct sigv4_chunk *c, const char *sig_hex, size_t sig_len)
{
    uint8_t md[32];
    unsigned int ml = 32;
    EVP_DigestFinal_ex(c->sha, md, &ml);
    EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL);
    char data_hash[65];
    hex(md, 32, data_hash);
    char sts[512];
    int n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" EMPTY_SHA256 "\n%s",
                     c->amz_date, c->scope, c->prev, data_hash);
    uint8_t sig[32];
    hmac(c->key, 32, sts, (size_t)n, sig);
    char want[65];
    hex(sig, 32, want);
    if (sig_len != 64 || CRYPTO_memcmp(want, sig_hex, 64) != 0)
        return HY_EBADMSG;
    memcpy(c->prev, want, 65);
    return 0;
}
