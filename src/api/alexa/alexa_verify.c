/*
 * alexa_verify: the checks an HTTPS-hosted Alexa skill must make before trusting a request
 * (../shared/specs/alexa-skill.md section 6): the certificate-chain URL rule, the chain to a
 * trusted root with the echo-api SAN, the RSA signature over the raw body, the timestamp window.
 * OpenSSL does the X.509 and RSA work; the URL rule is Amazon's own (no library implements it),
 * hence the small hand-written normaliser here.
 */
#include "api/alexa/alexa_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "base/base64.h"
#include "base/err.h"
#include "base/mem.h"

/* Remove "." and ".." segments (RFC 3986 5.2.4) from path[0..len) into out (cap bytes). */
static int path_normalise(const char *path, size_t len, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    if (len == 0 || path[0] != '/')
        return HY_EBADMSG;
    while (i < len) {
        /* path[i] is '/': take the segment after it. */
        size_t s = i + 1, e = s;
        while (e < len && path[e] != '/')
            e++;
        size_t sl = e - s;
        int last = e >= len;
        if (sl == 1 && path[s] == '.') {
            if (last) {
                if (o + 1 >= cap)
                    return HY_E2BIG;
                out[o++] = '/';
            }
        } else if (sl == 2 && path[s] == '.' && path[s + 1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* drop the slash before the removed segment */
            if (last) {
                if (o + 1 >= cap)
                    return HY_E2BIG;
                out[o++] = '/';
            }
        } else {
            if (o + 1 + sl >= cap)
                return HY_E2BIG;
            out[o++] = '/';
            memcpy(out + o, path + s, sl);
            o += sl;
        }
        i = e;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return (int)o;
}

int alexa_verify_cert_url(const char *url, size_t len, const char *test_prefix, char *norm,
                          size_t cap)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < len; i++)
        if (url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/') {
            sep = url + i;
            break;
        }
    if (!sep || memchr(url, '?', len) || memchr(url, '#', len) || memchr(url, '@', len) ||
        memchr(url, '\0', len) || cap < 16)
        return HY_EBADMSG;
    size_t scheme_len = (size_t)(sep - url);
    const char *auth = sep + 3;
    const char *end = url + len;
    const char *path = memchr(auth, '/', (size_t)(end - auth));
    if (!path)
        return HY_EBADMSG;
    const char *colon = memchr(auth, ':', (size_t)(path - auth));
    size_t host_len = (size_t)((colon ? colon : path) - auth);
    long port = -1;
    if (colon) {
        port = 0;
        if (colon + 1 == path || path - colon > 6)
            return HY_EBADMSG;
        for (const char *p = colon + 1; p < path; p++) {
            if (!isdigit((unsigned char)*p))
                return HY_EBADMSG;
            port = port * 10 + (*p - '0');
        }
    }
    if (scheme_len == 0 || scheme_len > 8 || host_len == 0 || host_len > 253)
        return HY_EBADMSG;
    char npath[1024];
    int pl = path_normalise(path, (size_t)(end - path), npath, sizeof npath);
    if (pl < 0)
        return HY_EBADMSG;
    char portbuf[24] = "";
    if (port >= 0 && !(port == 443 && !test_prefix))
        snprintf(portbuf, sizeof portbuf, ":%ld", port);
    int n = snprintf(norm, cap, "%.*s://%.*s%s%s", (int)scheme_len, url, (int)host_len, auth,
                     portbuf, npath);
    if (n < 0 || (size_t)n >= cap)
        return HY_EBADMSG;
    /* Case-fold scheme and host only: the path stays case sensitive. */
    for (size_t i = 0; i < scheme_len + 3 + host_len; i++)
        norm[i] = (char)tolower((unsigned char)norm[i]);
    if (test_prefix)
        return strncmp(norm, test_prefix, strlen(test_prefix)) == 0 ? 0 : HY_EBADMSG;
    if (scheme_len != 5 || strncmp(norm, "https", 5) != 0)
        return HY_EBADMSG;
    if (host_len != strlen(ALEXA_CERT_HOST) || memcmp(norm + 8, ALEXA_CERT_HOST, host_len) != 0)
        return HY_EBADMSG;
    if (port >= 0 && port != 443)
        return HY_EBADMSG;
    if (strncmp(npath, ALEXA_CERT_PATH, strlen(ALEXA_CERT_PATH)) != 0)
        return HY_EBADMSG;
    return 0;
}

static int64_t asn1_time_s(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

int alexa_verify_chain(const char *pem, size_t len, const char *ca_file, int64_t now_s,
                       EVP_PKEY **key, int64_t *not_after_s, const char **reason)
{
    int rc = HY_EBADMSG;
    X509 *leaf = NULL;
    STACK_OF(X509) *rest = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    *key = NULL;
    *reason = "the certificate chain does not parse";
    if (len == 0 || len > ALEXA_CHAIN_MAX_BYTES)
        goto fail;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        goto fail;
    leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    rest = sk_X509_new_null();
    X509 *x;
    while (rest && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(rest, x))
            X509_free(x);
    ERR_clear_error(); /* the loop ends on a "no start line" error */
    BIO_free(bio);
    if (!leaf || !rest)
        goto fail;
    *reason = "the signing certificate lacks the echo-api.amazon.com name";
    if (X509_check_host(leaf, ALEXA_CERT_SAN, strlen(ALEXA_CERT_SAN),
                        X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS,
                        NULL) != 1)
        goto fail;
    *reason = "the trust store cannot be loaded";
    store = X509_STORE_new();
    if (!store)
        goto fail;
    if (ca_file ? X509_STORE_load_file(store, ca_file) != 1
                : X509_STORE_set_default_paths(store) != 1)
        goto fail;
    ctx = X509_STORE_CTX_new();
    if (!ctx || X509_STORE_CTX_init(ctx, store, leaf, rest) != 1)
        goto fail;
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)now_s);
    *reason = "the certificate chain does not verify (untrusted, expired or not yet valid)";
    if (X509_verify_cert(ctx) != 1)
        goto fail;
    *key = X509_get_pubkey(leaf);
    *reason = "the signing certificate has no usable key";
    if (!*key || EVP_PKEY_base_id(*key) != EVP_PKEY_RSA)
        goto fail;
    *not_after_s = asn1_time_s(X509_get0_notAfter(leaf));
    *reason = NULL;
    rc = 0;
fail:
    if (rc) {
        EVP_PKEY_free(*key);
        *key = NULL;
    }
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(rest, X509_free);
    X509_free(leaf);
    return rc;
}

int alexa_verify_signature(EVP_PKEY *key, const char *sig_b64, size_t sig_len, int sha256,
                           const char *body, size_t body_len)
{
    uint8_t sig[1024];
    size_t n = 0;
    while (sig_len > 0 && (sig_b64[sig_len - 1] == ' ' || sig_b64[sig_len - 1] == '\t'))
        sig_len--;
    if (sig_len == 0 || BASE64_DECODED_MAX(sig_len) > sizeof sig ||
        base64_decode(sig_b64, sig_len, sig, &n) != 0)
        return HY_EBADMSG;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return HY_ENOMEM;
    int ok = EVP_DigestVerifyInit(md, NULL, sha256 ? EVP_sha256() : EVP_sha1(), NULL, key) == 1 &&
             EVP_DigestVerify(md, sig, n, (const unsigned char *)body, body_len) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok ? 0 : HY_EBADMSG;
}

static int digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

int alexa_verify_timestamp(const char *ts, int64_t now_ms, int tolerance_s)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff...]Z */
    int y, mo, d, h, mi, s;
    size_t len = ts ? strlen(ts) : 0;
    if (len < 20 || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' || ts[13] != ':' ||
        ts[16] != ':' || digits(ts, 4, &y) || digits(ts + 5, 2, &mo) || digits(ts + 8, 2, &d) ||
        digits(ts + 11, 2, &h) || digits(ts + 14, 2, &mi) || digits(ts + 17, 2, &s))
        return HY_EBADMSG;
    size_t i = 19;
    if (ts[i] == '.') {
        i++;
        size_t f = i;
        while (i < len && isdigit((unsigned char)ts[i]))
            i++;
        if (i == f)
            return HY_EBADMSG;
    }
    if (i + 1 != len || ts[i] != 'Z' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        s > 60)
        return HY_EBADMSG;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    int64_t t = (int64_t)timegm(&tm);
    int64_t diff = now_ms / 1000 - t;
    if (diff < 0)
        diff = -diff;
    return diff <= tolerance_s ? 0 : HY_EBADMSG;
}
