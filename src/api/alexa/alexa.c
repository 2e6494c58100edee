/*
 * alexa: the /_hydrant/alexa handler: request verification in the order of the spec (section 6),
 * the signing-certificate cache and its fetch, then alexa_answer for the envelope.
 */
#include "api/alexa/alexa.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "api/alexa/alexa_int.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/catalog.h"
#include "net/http.h"

#define ALEXA_PATH "/_hydrant/alexa"
#define ALEXA_CACHE_MAX 8
#define ALEXA_URL_MAX 512
#define ALEXA_FETCH_TIMEOUT_MS 2000
/* Alexa requests are a few KB; the response envelope limit is 24 KB (spec 3). */
#define ALEXA_BODY_MAX (128u << 10)

struct cert_entry {
    char url[ALEXA_URL_MAX];
    EVP_PKEY *key;
    int64_t not_after_s;
};

struct alexa {
    struct alexa_config cfg;
    char *skill_id, *ca_file, *prefix;
    pthread_mutex_t mu;
    struct cert_entry cache[ALEXA_CACHE_MAX];
    size_t next; /* round-robin eviction */
};

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = hy_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* libcurl's global set-up is not thread-safe: done once, before the loops run. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct alexa *alexa_new(const struct alexa_config *cfg)
{
    if (!cfg->skill_id || !*cfg->skill_id || cfg->tolerance_s < 0 ||
        cfg->tolerance_s > ALEXA_MAX_TOLERANCE_S)
        return NULL;
    struct alexa *ax = hy_malloc(sizeof *ax);
    if (!ax)
        return NULL;
    memset(ax, 0, sizeof *ax);
    ax->cfg = *cfg;
    if (!ax->cfg.tolerance_s)
        ax->cfg.tolerance_s = ALEXA_DEFAULT_TOLERANCE_S;
    ax->skill_id = dup_or_null(cfg->skill_id);
    ax->ca_file = dup_or_null(cfg->ca_file);
    ax->prefix = dup_or_null(cfg->cert_url_prefix);
    pthread_mutex_init(&ax->mu, NULL);
    if (!ax->skill_id || (cfg->ca_file && !ax->ca_file) || (cfg->cert_url_prefix && !ax->prefix)) {
        alexa_free(ax);
        return NULL;
    }
    ax->cfg.skill_id = ax->skill_id;
    ax->cfg.ca_file = ax->ca_file;
    ax->cfg.cert_url_prefix = ax->prefix;
    catalog_json_init();
    pthread_once(&curl_once, curl_init_once);
    if (ax->cfg.insecure)
        LOG_WARN("alexa",
                 "--alexa-insecure: requests are not checked for Amazon's signature; anyone who "
                 "can reach /_hydrant/alexa can ask about streams",
                 "%s", "");
    return ax;
}

void alexa_free(struct alexa *ax)
{
    if (!ax)
        return;
    for (size_t i = 0; i < ALEXA_CACHE_MAX; i++)
        EVP_PKEY_free(ax->cache[i].key);
    pthread_mutex_destroy(&ax->mu);
    hy_free(ax->skill_id);
    hy_free(ax->ca_file);
    hy_free(ax->prefix);
    hy_free(ax);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, p, n) == 0 ? n : 0;
}

/* Fetch url's PEM chain and verify it: 0 and *key, or an error with *reason. Blocks up to
 * ALEXA_FETCH_TIMEOUT_MS. */
static int fetch_chain(struct alexa *ax, const char *url, int64_t now_s, EVP_PKEY **key,
                       int64_t *not_after_s, const char **reason)
{
    struct buf b;
    buf_init(&b, ALEXA_CHAIN_MAX_BYTES);
    *reason = "the certificate chain cannot be fetched";
    int rc = HY_EBADMSG;
    CURL *c = curl_easy_init();
    if (!c)
        goto fail;
    curl_easy_setopt(c, CURLOPT_URL, url);
    /* http only when a test prefix asked for it; production is https. */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
                     ax->prefix && strncmp(ax->prefix, "http://", 7) == 0 ? "http" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ALEXA_FETCH_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
        goto fail;
    rc = alexa_verify_chain(b.data, b.len, ax->ca_file, now_s, key, not_after_s, reason);
fail:
    curl_easy_cleanup(c);
    buf_fini(&b);
    return rc;
}

/* The signing key for url (cached), checked against now. 0 and *key (a new reference), or
 * HY_EBADMSG with *reason. */
static int signing_key(struct alexa *ax, const char *url, EVP_PKEY **key, const char **reason)
{
    int64_t now_s = hytime_now_ms() / 1000;
    pthread_mutex_lock(&ax->mu);
    for (size_t i = 0; i < ALEXA_CACHE_MAX; i++) {
        struct cert_entry *e = &ax->cache[i];
        if (e->key && strcmp(e->url, url) == 0) {
            if (now_s > e->not_after_s) {
                /* Expired since it was cached: forget it and fetch again (Amazon rotates). */
                EVP_PKEY_free(e->key);
                e->key = NULL;
                break;
            }
            EVP_PKEY_up_ref(e->key);
            *key = e->key;
            pthread_mutex_unlock(&ax->mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&ax->mu);
    int64_t not_after = 0;
    int rc = fetch_chain(ax, url, now_s, key, &not_after, reason);
    if (rc)
        return rc;
    pthread_mutex_lock(&ax->mu);
    struct cert_entry *e = &ax->cache[ax->next++ % ALEXA_CACHE_MAX];
    EVP_PKEY_free(e->key);
    snprintf(e->url, sizeof e->url, "%s", url);
    EVP_PKEY_up_ref(*key);
    e->key = *key;
    e->not_after_s = not_after;
    pthread_mutex_unlock(&ax->mu);
    return 0;
}

static void reject(struct http_exchange *ex, const char *why)
{
    LOG_WARN("alexa", why, "%s", "");
    http_respond(ex, 400, "Content-Type: application/json\r\n", "{\"message\":\"bad request\"}",
                 25);
}

/* Spec 6.1-6.3 on the raw body. NULL if it passes, else the reason. */
static const char *check_signature(struct alexa *ax, const struct http_request *req)
{
    const struct http_header *url = http_request_header(req, "SignatureCertChainUrl");
    const struct http_header *sig = http_request_header(req, "Signature-256");
    int sha256 = 1;
    if (!sig && ax->cfg.allow_sha1) {
        sig = http_request_header(req, "Signature");
        sha256 = 0;
    }
    if (!url || !sig)
        return "alexa request without its signature headers";
    char norm[ALEXA_URL_MAX];
    if (alexa_verify_cert_url(url->value, url->value_len, ax->prefix, norm, sizeof norm))
        return "alexa signature certificate URL breaks Amazon's rule";
    EVP_PKEY *key = NULL;
    const char *reason = NULL;
    if (signing_key(ax, norm, &key, &reason))
        return reason ? reason : "alexa signing certificate rejected";
    int rc =
        alexa_verify_signature(key, sig->value, sig->value_len, sha256, req->body, req->body_len);
    EVP_PKEY_free(key);
    return rc ? "alexa request signature does not verify" : NULL;
}

static const char *app_id(const cJSON *root)
{
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(root, "context");
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(ctx, "System");
    const cJSON *app = cJSON_GetObjectItemCaseSensitive(sys, "application");
    if (!app) {
        const cJSON *sess = cJSON_GetObjectItemCaseSensitive(root, "session");
        app = cJSON_GetObjectItemCaseSensitive(sess, "application");
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(app, "applicationId");
    return cJSON_IsString(id) ? id->valuestring : NULL;
}

void alexa_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct alexa *ax = ud;
    if (req->stream) {
        req->stream->abort(req->stream);
        reject(ex, "alexa request body too large");
        return;
    }
    /* The router matched the prefix; only the path itself (a query is ignored) is the skill. */
    size_t n = req->path_len;
    const char *q = memchr(req->path, '?', n);
    if (q)
        n = (size_t)(q - req->path);
    if (n != sizeof ALEXA_PATH - 1 || memcmp(req->path, ALEXA_PATH, n) != 0) {
        http_respond(ex, 404, "Content-Type: text/plain\r\n", "not found\n", 10);
        return;
    }
    if (req->method_len != 4 || memcmp(req->method, "POST", 4) != 0) {
        http_respond(ex, 405, "Allow: POST\r\nContent-Type: text/plain\r\n", "method not allowed\n",
                     19);
        return;
    }
    if (req->body_len == 0 || req->body_len > ALEXA_BODY_MAX) {
        reject(ex, "alexa request without a body or too large");
        return;
    }
    if (!ax->cfg.insecure) {
        const char *why = check_signature(ax, req);
        if (why) {
            reject(ex, why);
            return;
        }
    }
    cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(root, "request");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(rq, "timestamp");
    const char *id = app_id(root);
    char *out = NULL;
    size_t out_len = 0;
    if (!cJSON_IsObject(root) || !cJSON_IsString(ts))
        reject(ex, "alexa request is not an envelope");
    else if (alexa_verify_timestamp(ts->valuestring, hytime_now_ms(), ax->cfg.tolerance_s))
        reject(ex, "alexa request timestamp outside the window");
    else if (!id || strcmp(id, ax->skill_id) != 0)
        reject(ex, "alexa request for another skill id");
    else if (alexa_answer(ax, root, &out, &out_len))
        reject(ex, "alexa request cannot be answered");
    else
        http_respond(ex, 200, "Content-Type: application/json;charset=UTF-8\r\n", out, out_len);
    cJSON_free(out);
    cJSON_Delete(root);
}

struct service *alexa_service(struct alexa *ax)
{
    return ax->cfg.svc;
}
