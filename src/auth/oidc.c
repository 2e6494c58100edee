/*
 * oidc: the gate's checks (spec section 6), its HTTP handler and its counters.
 */
#include "auth/oidc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/evp.h>

#include "auth/jwt.h"
#include "auth/keycache.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/http.h"

#define DEFAULT_LEEWAY_S 60
#define CLAIM_MAX_LEN 512

enum mode { MODE_ALB = 0, MODE_BEARER };

struct oidc {
    char **signers;
    size_t nsigners;
    char **domains;
    size_t ndomains;
    char *issuer;
    char *audience;
    int auth_required;
    int leeway_s;
    struct keycache *alb_keys; /* NULL when load-balancer tokens are off */
    struct keycache *idp_keys; /* NULL when ID tokens are off */
    atomic_uint_least64_t by_reason[OIDC_NREASONS];
    atomic_uint_least64_t check_us_total;
    atomic_uint_least64_t checks;
    atomic_uint_least64_t result_hits;
    /* Tokens already verified, by SHA-256 of (mode, token, identity): a repeat skips the ECDSA
     * verify until the token's exp (at most RESULT_TTL_S). Keys never change per kid and the
     * policy is fixed at start, so a cached "ok" stays right until then. */
    pthread_mutex_t results_mu;
    struct ok_entry *results; /* RESULT_SLOTS, direct-mapped */
};

#define RESULT_SLOTS 512
#define RESULT_TTL_S 300

struct ok_entry {
    uint8_t digest[32];
    int64_t until; /* 0: empty */
    char headers[sizeof((struct oidc_verdict *)0)->headers];
    char user[sizeof((struct oidc_verdict *)0)->user];
};

static const char *const reason_labels[] = {
#define OIDC_REASON_LABEL(name, label) label,
    OIDC_REASONS(OIDC_REASON_LABEL)
#undef OIDC_REASON_LABEL
};

/* ---------------------------------------------------------------- setup */

static char **list_dup(const char *const *v, size_t n)
{
    char **out = hy_calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = hy_strdup(v[i]);
        if (!out[i]) {
            for (size_t j = 0; j < i; j++)
                hy_free(out[j]);
            hy_free(out);
            return NULL;
        }
    }
    return out;
}

static void list_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        hy_free(v[i]);
    hy_free(v);
}

/* The key URL template with "{region}" filled in; caller frees. */
static char *fill_region(const char *tmpl, const char *region)
{
    const char *r = strstr(tmpl, "{region}");
    if (!r)
        return hy_strdup(tmpl);
    struct buf b;
    buf_init(&b, 4096);
    if (buf_append(&b, tmpl, (size_t)(r - tmpl)) || buf_append_str(&b, region ? region : "") ||
        buf_append_str(&b, r + 8) || buf_append(&b, "", 1)) {
        buf_fini(&b);
        return NULL;
    }
    return b.data; /* buf memory comes from hy_malloc: the caller's hy_free releases it */
}

void oidc_free(struct oidc *og)
{
    if (!og)
        return;
    keycache_free(og->alb_keys);
    keycache_free(og->idp_keys);
    list_free(og->signers, og->nsigners);
    list_free(og->domains, og->ndomains);
    hy_free(og->issuer);
    hy_free(og->audience);
    if (og->results)
        pthread_mutex_destroy(&og->results_mu);
    hy_free(og->results);
    hy_free(og);
}

struct oidc *oidc_new(const struct oidc_config *cfg)
{
    int alb = cfg->nsigners > 0;
    int idp = cfg->issuer && cfg->jwks_url;
    if (!alb && !idp)
        return NULL;
    struct oidc *og = hy_calloc(1, sizeof *og);
    if (!og)
        return NULL;
    og->auth_required = cfg->auth_required;
    og->leeway_s = cfg->leeway_s == 0 ? DEFAULT_LEEWAY_S : cfg->leeway_s < 0 ? 0 : cfg->leeway_s;
    og->nsigners = cfg->nsigners;
    og->ndomains = cfg->ndomains;
    og->signers = list_dup(cfg->signers, cfg->nsigners);
    og->domains = list_dup(cfg->valid_domains, cfg->ndomains);
    og->results = hy_calloc(RESULT_SLOTS, sizeof *og->results);
    if (og->results)
        pthread_mutex_init(&og->results_mu, NULL);
    if (!og->signers || !og->domains || !og->results)
        goto fail;
    if (alb) {
        char *url =
            fill_region(cfg->key_url ? cfg->key_url
                                     : "https://public-keys.auth.elb.{region}.amazonaws.com/"
                                       "{kid}",
                        cfg->region);
        struct keycache_config kcfg = {.source = KEYCACHE_PEM_TEMPLATE,
                                       .url = url,
                                       .ca_file = cfg->ca_file,
                                       .timeout_ms = cfg->fetch_timeout_ms};
        og->alb_keys = url ? keycache_new(&kcfg) : NULL;
        hy_free(url);
        if (!og->alb_keys)
            goto fail;
    }
    if (idp) {
        og->issuer = hy_strdup(cfg->issuer);
        og->audience = cfg->audience ? hy_strdup(cfg->audience) : NULL;
        struct keycache_config kcfg = {.source = KEYCACHE_JWKS,
                                       .url = cfg->jwks_url,
                                       .ca_file = cfg->ca_file,
                                       .timeout_ms = cfg->fetch_timeout_ms};
        og->idp_keys = keycache_new(&kcfg);
        if (!og->issuer || (cfg->audience && !og->audience) || !og->idp_keys)
            goto fail;
    }
    return og;
fail:
    oidc_free(og);
    return NULL;
}

int oidc_key_put(struct oidc *og, int alb, const char *kid, void *evp_pkey)
{
    struct keycache *kc = alb ? og->alb_keys : og->idp_keys;
    return kc ? keycache_put(kc, kid, evp_pkey) : HY_EINVAL;
}

/* ---------------------------------------------------------------- checks */

static int in_list(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* aud is a string or an array of strings (OIDC Core 2). */
static int aud_has(const cJSON *payload, const char *want)
{
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(payload, "aud");
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, want) == 0;
    const cJSON *a;
    if (cJSON_IsArray(aud))
        cJSON_ArrayForEach(a, aud) if (cJSON_IsString(a) &&
                                       strcmp(a->valuestring, want) == 0) return 1;
    return 0;
}

/* Checks that need no key (section 6 steps 2-6 and 9). exp is checked before the key fetch so an
 * expired token never costs a fetch. */
static enum oidc_reason precheck(struct oidc *og, enum mode m, const struct jwt *t, int64_t now)
{
    if (m == MODE_ALB) {
        if (t->alg != JWT_ALG_ES256)
            return OIDC_BAD_ALG;
        const char *signer = jwt_claim_str(t->header, "signer");
        if (!signer || !in_list(og->signers, og->nsigners, signer))
            return OIDC_BAD_SIGNER;
    } else {
        if (t->alg != JWT_ALG_ES256 && t->alg != JWT_ALG_RS256)
            return OIDC_BAD_ALG;
        const char *iss = jwt_claim_str(t->payload, "iss");
        if (!iss || strcmp(iss, og->issuer) != 0)
            return OIDC_BAD_ISSUER;
        if (og->audience && !aud_has(t->payload, og->audience))
            return OIDC_BAD_AUDIENCE;
    }
    /* The load balancer puts exp in the header; ID tokens in the payload. The one where it is
     * required must have it; the other is checked when present. */
    int64_t exp = 0;
    const cJSON *req_obj = m == MODE_ALB ? t->header : t->payload;
    const cJSON *opt_obj = m == MODE_ALB ? t->payload : t->header;
    if (jwt_claim_time(req_obj, "exp", &exp) != 0 || exp + og->leeway_s <= now)
        return OIDC_EXPIRED;
    int rc = jwt_claim_time(opt_obj, "exp", &exp);
    if (rc == HY_EBADMSG || (rc == 0 && exp + og->leeway_s <= now))
        return OIDC_EXPIRED;
    if (!t->kid)
        return OIDC_UNKNOWN_KID;
    return OIDC_OK;
}

/* A claim fit for a header line: present, short, no control characters. */
static const char *header_claim(const cJSON *payload, const char *name)
{
    const char *s = jwt_claim_str(payload, name);
    if (!s || !*s || strlen(s) > CLAIM_MAX_LEN)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return NULL;
    return s;
}

static int domain_ok(struct oidc *og, const char *email)
{
    if (og->ndomains == 0)
        return 1;
    const char *at = email ? strrchr(email, '@') : NULL;
    if (!at)
        return 0;
    for (size_t i = 0; i < og->ndomains; i++)
        if (strcasecmp(at + 1, og->domains[i]) == 0)
            return 1;
    return 0;
}

static void set_user(struct oidc_verdict *v, const cJSON *payload)
{
    const char *u = header_claim(payload, "email");
    if (!u)
        u = header_claim(payload, "sub");
    /* Logs take no spaces in field values: keep only the printable, non-space bytes. */
    size_t n = 0;
    for (; u && *u && n + 1 < sizeof v->user; u++)
        if ((unsigned char)*u > 0x20 && *u != '"' && *u != '\\')
            v->user[n++] = *u;
    v->user[n] = '\0';
}

/* Steps 8, 10, 11 with the key in hand: signature, identity, domain, then the headers. */
static enum oidc_reason check_with_key(struct oidc *og, const struct jwt *t, EVP_PKEY *key,
                                       const char *identity, size_t identity_len,
                                       struct oidc_verdict *v)
{
    int rc = jwt_verify(t, key);
    if (rc == HY_ENOMEM)
        return OIDC_INTERNAL;
    if (rc)
        return OIDC_BAD_SIGNATURE;
    set_user(v, t->payload);
    const char *sub = jwt_claim_str(t->payload, "sub");
    if (!sub)
        return OIDC_MALFORMED;
    if (identity_len && (strlen(sub) != identity_len || memcmp(sub, identity, identity_len) != 0))
        return OIDC_IDENTITY_MISMATCH;
    const char *email = header_claim(t->payload, "email");
    if (!domain_ok(og, email))
        return OIDC_BAD_DOMAIN;
    static const struct {
        const char *claim, *header;
    } map[] = {
        {"email", "X-Auth-Email"},
        {"given_name", "X-Auth-Given-Name"},
        {"family_name", "X-Auth-Family-Name"},
        {"picture", "X-Auth-Picture"},
        {"sub", "X-Auth-Sub"},
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *val = header_claim(t->payload, map[i].claim);
        if (!val)
            continue;
        int n =
            snprintf(v->headers + off, sizeof v->headers - off, "%s: %s\r\n", map[i].header, val);
        if (n < 0 || (size_t)n >= sizeof v->headers - off) {
            v->headers[off] = '\0';
            break;
        }
        off += (size_t)n;
    }
    return OIDC_OK;
}

/* Map a reason to the answer under the policy, and count it. */
static void finish(struct oidc *og, enum oidc_reason r, struct oidc_verdict *v)
{
    v->reason = r;
    if (r == OIDC_OK) {
        v->status = 200;
    } else {
        v->headers[0] = '\0';
        if (r == OIDC_BAD_DOMAIN)
            v->status = 401; /* a real user of the wrong domain: refused whatever the policy */
        else if (!og->auth_required)
            v->status = 200; /* anonymous: no identity headers */
        else if (r == OIDC_KEY_OUTAGE || r == OIDC_INTERNAL)
            v->status = 503;
        else
            v->status = 401;
    }
    atomic_fetch_add(&og->by_reason[r], 1);
}

/* ---------------------------------------------------------------- verified-token cache */

static void result_digest(enum mode m, const char *tok, size_t len, const char *identity,
                          size_t identity_len, uint8_t out[32])
{
    unsigned char mb = (unsigned char)m, zero = 0;
    unsigned int ol = 32;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, &mb, 1) != 1 ||
        EVP_DigestUpdate(c, tok, len) != 1 || EVP_DigestUpdate(c, &zero, 1) != 1 ||
        EVP_DigestUpdate(c, identity ? identity : "", identity_len) != 1 ||
        EVP_DigestFinal_ex(c, out, &ol) != 1)
        memset(out, 0, 32); /* an all-zero digest never matches a stored entry's tokens */
    EVP_MD_CTX_free(c);
}

static struct ok_entry *slot_of(struct oidc *og, const uint8_t d[32])
{
    return &og->results[((size_t)d[0] << 8 | d[1]) % RESULT_SLOTS];
}

static int result_get(struct oidc *og, const uint8_t d[32], int64_t now, struct oidc_verdict *v)
{
    int hit = 0;
    pthread_mutex_lock(&og->results_mu);
    struct ok_entry *e = slot_of(og, d);
    if (e->until > now && memcmp(e->digest, d, 32) == 0) {
        memcpy(v->headers, e->headers, sizeof v->headers);
        memcpy(v->user, e->user, sizeof v->user);
        hit = 1;
    }
    pthread_mutex_unlock(&og->results_mu);
    if (hit)
        atomic_fetch_add(&og->result_hits, 1);
    return hit;
}

/* Remember a verified token until its earliest exp (plus leeway), at most RESULT_TTL_S. */
static void result_put(struct oidc *og, const uint8_t d[32], const struct jwt *t, int64_t now,
                       const struct oidc_verdict *v)
{
    int64_t until = now + RESULT_TTL_S, exp;
    if (jwt_claim_time(t->header, "exp", &exp) == 0 && exp + og->leeway_s < until)
        until = exp + og->leeway_s;
    if (jwt_claim_time(t->payload, "exp", &exp) == 0 && exp + og->leeway_s < until)
        until = exp + og->leeway_s;
    pthread_mutex_lock(&og->results_mu);
    struct ok_entry *e = slot_of(og, d);
    memcpy(e->digest, d, 32);
    e->until = until;
    memcpy(e->headers, v->headers, sizeof e->headers);
    memcpy(e->user, v->user, sizeof e->user);
    pthread_mutex_unlock(&og->results_mu);
}

struct pending {
    struct oidc *og;
    enum mode mode;
    char *token;
    size_t token_len;
    char *identity;
    size_t identity_len;
    oidc_done_fn done;
    void *arg;
};

static void pending_free(struct pending *p)
{
    hy_free(p->token);
    hy_free(p->identity);
    hy_free(p);
}

/* Fetch thread: the key (or the lack of one) arrived. */
static void on_key(void *arg, enum keycache_result res, EVP_PKEY *key)
{
    struct pending *p = arg;
    struct oidc_verdict v;
    memset(&v, 0, sizeof v);
    enum oidc_reason r = OIDC_INTERNAL;
    struct jwt t;
    const char *why = "";
    if (res == KEYCACHE_NOT_FOUND)
        r = OIDC_UNKNOWN_KID;
    else if (res == KEYCACHE_OUTAGE)
        r = OIDC_KEY_OUTAGE;
    else if (jwt_parse(p->token, p->token_len, &t, &why) == 0) {
        r = check_with_key(p->og, &t, key, p->identity, p->identity_len, &v);
        if (r == OIDC_OK) {
            uint8_t d[32];
            result_digest(p->mode, p->token, p->token_len, p->identity, p->identity_len, d);
            result_put(p->og, d, &t, (int64_t)time(NULL), &v);
        }
        jwt_fini(&t);
    }
    finish(p->og, r, &v);
    p->done(p->arg, &v);
    pending_free(p);
}

int oidc_check(struct oidc *og, const struct oidc_input *in, int64_t now, struct oidc_verdict *v,
               oidc_done_fn done, void *arg)
{
    memset(v, 0, sizeof *v);
    enum mode m;
    const char *tok;
    size_t len;
    if (in->alb_token_len && og->alb_keys) {
        m = MODE_ALB;
        tok = in->alb_token;
        len = in->alb_token_len;
    } else if (in->bearer_len && og->idp_keys) {
        m = MODE_BEARER;
        tok = in->bearer;
        len = in->bearer_len;
    } else {
        finish(og, OIDC_MISSING, v);
        return 0;
    }
    uint8_t digest[32];
    result_digest(m, tok, len, in->identity, in->identity_len, digest);
    if (result_get(og, digest, now, v)) {
        finish(og, OIDC_OK, v);
        return 0;
    }
    struct jwt t;
    const char *why = "";
    if (jwt_parse(tok, len, &t, &why) != 0) {
        finish(og, OIDC_MALFORMED, v);
        return 0;
    }
    enum oidc_reason r = precheck(og, m, &t, now);
    if (r != OIDC_OK)
        goto done;
    struct keycache *kc = m == MODE_ALB ? og->alb_keys : og->idp_keys;
    struct pending *p = hy_calloc(1, sizeof *p);
    if (p) {
        p->og = og;
        p->mode = m;
        p->done = done;
        p->arg = arg;
        p->token = hy_strndup(tok, len);
        p->token_len = len;
        p->identity = hy_strndup(in->identity ? in->identity : "", in->identity_len);
        p->identity_len = in->identity_len;
    }
    if (!p || !p->token || !p->identity) {
        if (p)
            pending_free(p);
        r = OIDC_INTERNAL;
        goto done;
    }
    EVP_PKEY *key = NULL;
    enum keycache_result kr = keycache_get(kc, t.kid, in->request_id, &key, on_key, p);
    if (kr == KEYCACHE_PENDING) {
        jwt_fini(&t);
        return 1;
    }
    pending_free(p);
    if (kr == KEYCACHE_OK) {
        r = check_with_key(og, &t, key, in->identity, in->identity_len, v);
        EVP_PKEY_free(key);
        if (r == OIDC_OK)
            result_put(og, digest, &t, now, v);
    } else {
        r = kr == KEYCACHE_NOT_FOUND ? OIDC_UNKNOWN_KID : OIDC_KEY_OUTAGE;
    }
done:
    jwt_fini(&t);
    finish(og, r, v);
    return 0;
}

/* ---------------------------------------------------------------- HTTP */

struct answer {
    struct oidc *og;
    struct http_exchange *ex;
    struct oidc_verdict v;
    struct timespec t0;
    char reqid[65];
};

static int64_t since_us(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)(t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

static void respond(struct answer *a)
{
    struct oidc *og = a->og;
    const struct oidc_verdict *v = &a->v;
    int64_t us = since_us(&a->t0);
    atomic_fetch_add(&og->check_us_total, (uint64_t)(us > 0 ? us : 0));
    atomic_fetch_add(&og->checks, 1);
    const char *label = reason_labels[v->reason];
    if (v->reason == OIDC_BAD_DOMAIN)
        LOG_WARN("oidc", "denied: the user's email domain is not a valid domain",
                 "request_id=%s reason=%s user=%s status=%d", a->reqid, label, v->user, v->status);
    else if (v->reason == OIDC_KEY_OUTAGE || v->reason == OIDC_INTERNAL)
        LOG_WARN("oidc", "cannot check the token: key server unavailable",
                 "request_id=%s reason=%s status=%d", a->reqid, label, v->status);
    else if (v->reason != OIDC_OK)
        LOG_INFO("oidc", "denied", "request_id=%s reason=%s user=%s status=%d us=%lld", a->reqid,
                 label, v->user[0] ? v->user : "-", v->status, (long long)us);
    else
        LOG_DEBUG("oidc", "allowed", "request_id=%s user=%s us=%lld", a->reqid, v->user,
                  (long long)us);
    char hdr[2560];
    int n = snprintf(hdr, sizeof hdr,
                     "Content-Type: text/plain\r\nCache-Control: no-store\r\n"
                     "X-Request-Id: %s\r\nX-Auth-Reason: %s\r\n%s%s",
                     a->reqid, label, v->status == 200 ? v->headers : "",
                     v->status == 401 ? "WWW-Authenticate: Bearer realm=\"hydrant\"\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof hdr)
        hdr[0] = '\0';
    const char *body = v->status == 200   ? "ok\n"
                       : v->status == 401 ? "unauthorized\n"
                                          : "key server unavailable\n";
    http_respond(a->ex, v->status, hdr, body, strlen(body));
    hy_free(a);
}

static void post_respond(void *arg)
{
    respond(arg);
}

/* Fetch thread: hand the verdict to the exchange's loop. */
static void on_done(void *arg, const struct oidc_verdict *v)
{
    struct answer *a = arg;
    a->v = *v;
    /* The exchange must be answered exactly once and only on its loop: retry a failed post
     * (it fails only without memory) rather than leak the exchange. */
    while (http_server_post(http_exchange_server(a->ex), post_respond, a) != 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void request_id(const struct http_request *req, char out[65])
{
    const struct http_header *h = http_request_header(req, "X-Request-Id");
    if (h && h->value_len > 0 && h->value_len <= 64) {
        size_t i = 0;
        for (; i < h->value_len; i++) {
            char c = h->value[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.'))
                break;
        }
        if (i == h->value_len) {
            memcpy(out, h->value, i);
            out[i] = '\0';
            return;
        }
    }
    static _Thread_local uint64_t state;
    if (!state && (getrandom(&state, sizeof state, 0) != sizeof state || !state))
        state = (uint64_t)time(NULL) | 1;
    uint64_t r[2];
    for (int k = 0; k < 2; k++) { /* xorshift64*: ids need to be unique, not secret */
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        r[k] = state * 0x2545F4914F6CDD1DULL;
    }
    snprintf(out, 65, "%016llx%016llx", (unsigned long long)r[0], (unsigned long long)r[1]);
}

#define AUTH_PATH "/_hydrant/auth"

void oidc_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct oidc *og = ud;
    size_t n = req->path_len;
    const char *q = memchr(req->path, '?', n);
    if (q)
        n = (size_t)(q - req->path);
    if (n != sizeof AUTH_PATH - 1 || memcmp(req->path, AUTH_PATH, n) != 0) {
        http_respond(ex, 404, "Content-Type: text/plain\r\n", "not found\n", 10);
        return;
    }
    struct answer *a = hy_calloc(1, sizeof *a);
    if (!a) {
        http_respond(ex, 503, "Content-Type: text/plain\r\n", "out of memory\n", 14);
        return;
    }
    a->og = og;
    a->ex = ex;
    clock_gettime(CLOCK_MONOTONIC, &a->t0);
    request_id(req, a->reqid);
    struct oidc_input in = {.request_id = a->reqid};
    const struct http_header *h = http_request_header(req, "x-amzn-oidc-data");
    if (h) {
        in.alb_token = h->value;
        in.alb_token_len = h->value_len;
    }
    h = http_request_header(req, "x-amzn-oidc-identity");
    if (h) {
        in.identity = h->value;
        in.identity_len = h->value_len;
    }
    h = http_request_header(req, "Authorization");
    if (h && h->value_len > 7 && strncasecmp(h->value, "Bearer ", 7) == 0) {
        in.bearer = h->value + 7;
        in.bearer_len = h->value_len - 7;
        while (in.bearer_len && *in.bearer == ' ') {
            in.bearer++;
            in.bearer_len--;
        }
    }
    if (oidc_check(og, &in, (int64_t)time(NULL), &a->v, on_done, a) == 0)
        respond(a);
}

/* ---------------------------------------------------------------- metrics */

static int render_cache(struct buf *out, const char *name, struct keycache *kc)
{
    if (!kc)
        return 0;
    struct keycache_stats s;
    keycache_stats(kc, &s);
    return buf_printf(out,
                      "hydrant_auth_key_cache_hits_total{cache=\"%s\"} %llu\n"
                      "hydrant_auth_key_cache_misses_total{cache=\"%s\"} %llu\n"
                      "hydrant_auth_key_cache_negative_hits_total{cache=\"%s\"} %llu\n"
                      "hydrant_auth_key_fetches_total{cache=\"%s\"} %llu\n"
                      "hydrant_auth_key_fetch_errors_total{cache=\"%s\"} %llu\n"
                      "hydrant_auth_key_fetch_seconds_sum{cache=\"%s\"} %.6f\n"
                      "hydrant_auth_key_fetch_seconds_max{cache=\"%s\"} %.6f\n",
                      name, (unsigned long long)s.hits, name, (unsigned long long)s.misses, name,
                      (unsigned long long)s.negative_hits, name, (unsigned long long)s.fetches,
                      name, (unsigned long long)s.fetch_errors, name, s.fetch_us_total / 1e6, name,
                      s.fetch_us_max / 1e6);
}

int oidc_metrics_render(struct oidc *og, struct buf *out)
{
    int rc = buf_append_str(out, "# TYPE hydrant_auth_validations_total counter\n");
    for (int r = 0; r < OIDC_NREASONS && !rc; r++)
        rc = buf_printf(out, "hydrant_auth_validations_total{result=\"%s\",reason=\"%s\"} %llu\n",
                        r == OIDC_OK ? "ok" : "denied", reason_labels[r],
                        (unsigned long long)atomic_load(&og->by_reason[r]));
    if (!rc)
        rc = buf_printf(
            out, "hydrant_auth_check_seconds_sum %.6f\nhydrant_auth_check_seconds_count %llu\n",
            atomic_load(&og->check_us_total) / 1e6, (unsigned long long)atomic_load(&og->checks));
    if (!rc)
        rc = buf_printf(out, "hydrant_auth_verified_token_cache_hits_total %llu\n",
                        (unsigned long long)atomic_load(&og->result_hits));
    if (!rc)
        rc = render_cache(out, "alb", og->alb_keys);
    if (!rc)
        rc = render_cache(out, "idp", og->idp_keys);
    return rc;
}
