/*
 * keycache: a small list of entries under one mutex; fetches on detached threads counted by
 * `running` so keycache_free can wait for them.
 */
#include "auth/keycache.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "auth/keyload.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"

enum entry_state { ENTRY_FETCHING = 0, ENTRY_OK, ENTRY_NOT_FOUND, ENTRY_OUTAGE };

struct waiter {
    keycache_fn fn;
    void *arg;
    enum entry_state outcome; /* set when settled */
    EVP_PKEY *key;            /* a reference when outcome is ENTRY_OK */
    struct waiter *next;
};

struct entry {
    char *kid;
    enum entry_state state;
    EVP_PKEY *key;    /* ENTRY_OK */
    int64_t until_ms; /* negative entries: usable until then (monotonic) */
    uint64_t seq;     /* insertion order, for eviction */
    struct waiter *waiters;
    struct entry *next;
};

struct keycache {
    enum keycache_source source;
    char *url;
    char *ca_file;
    int timeout_ms, not_found_ttl_ms, outage_ttl_ms;
    size_t max_keys;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int running; /* fetch threads alive */
    struct entry *list;
    size_t n;
    uint64_t seq;
    struct keycache_stats st;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int keycache_kid_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-') ||
            n >= 64)
            return 0;
    }
    return n > 0;
}

/* JWKS kids never reach a URL; bound them and keep them printable for logs. */
static int jwks_kid_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e || n >= 256)
            return 0;
    return n > 0;
}

struct keycache *keycache_new(const struct keycache_config *cfg)
{
    if (!cfg->url || strncmp(cfg->url, "https://", 8) != 0)
        return NULL;
    if (cfg->source == KEYCACHE_PEM_TEMPLATE) {
        const char *k = strstr(cfg->url, "{kid}");
        /* The kid may only land in the path: after the first '/' following the host. */
        const char *path = strchr(cfg->url + 8, '/');
        if (!k || !path || k < path)
            return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    struct keycache *kc = hy_calloc(1, sizeof *kc);
    if (!kc)
        return NULL;
    kc->source = cfg->source;
    kc->url = hy_strdup(cfg->url);
    kc->ca_file = cfg->ca_file ? hy_strdup(cfg->ca_file) : NULL;
    if (!kc->url || (cfg->ca_file && !kc->ca_file)) {
        hy_free(kc->url);
        hy_free(kc->ca_file);
        hy_free(kc);
        return NULL;
    }
    kc->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    kc->not_found_ttl_ms = cfg->not_found_ttl_ms > 0 ? cfg->not_found_ttl_ms : 60000;
    kc->outage_ttl_ms = cfg->outage_ttl_ms > 0 ? cfg->outage_ttl_ms : 5000;
    kc->max_keys = cfg->max_keys ? cfg->max_keys : 256;
    pthread_mutex_init(&kc->mu, NULL);
    pthread_cond_init(&kc->idle, NULL);
    return kc;
}

static void entry_free(struct entry *e)
{
    EVP_PKEY_free(e->key);
    hy_free(e->kid);
    hy_free(e);
}

void keycache_free(struct keycache *kc)
{
    if (!kc)
        return;
    pthread_mutex_lock(&kc->mu);
    while (kc->running > 0)
        pthread_cond_wait(&kc->idle, &kc->mu);
    pthread_mutex_unlock(&kc->mu);
    for (struct entry *e = kc->list, *nx; e; e = nx) {
        nx = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&kc->mu);
    pthread_cond_destroy(&kc->idle);
    hy_free(kc->url);
    hy_free(kc->ca_file);
    hy_free(kc);
}

static struct entry *find(struct keycache *kc, const char *kid)
{
    for (struct entry *e = kc->list; e; e = e->next)
        if (strcmp(e->kid, kid) == 0)
            return e;
    return NULL;
}

/* Make room for one entry: drop the oldest that no fetch is filling. Lock held. */
static void evict(struct keycache *kc)
{
    while (kc->n >= kc->max_keys) {
        struct entry **victim = NULL;
        for (struct entry **pp = &kc->list; *pp; pp = &(*pp)->next)
            if ((*pp)->state != ENTRY_FETCHING && (!victim || (*pp)->seq < (*victim)->seq))
                victim = pp;
        if (!victim)
            return; /* all fetching: the bound is exceeded briefly */
        struct entry *e = *victim;
        *victim = e->next;
        entry_free(e);
        kc->n--;
    }
}

/* New entry at the head of the list. Lock held. NULL on allocation failure. */
static struct entry *add(struct keycache *kc, const char *kid, enum entry_state state)
{
    evict(kc);
    struct entry *e = hy_calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->kid = hy_strdup(kid);
    if (!e->kid) {
        hy_free(e);
        return NULL;
    }
    e->state = state;
    e->seq = ++kc->seq;
    e->next = kc->list;
    kc->list = e;
    kc->n++;
    return e;
}

int keycache_put(struct keycache *kc, const char *kid, EVP_PKEY *key)
{
    int rc = 0;
    pthread_mutex_lock(&kc->mu);
    struct entry *e = find(kc, kid);
    if (!e)
        e = add(kc, kid, ENTRY_OK);
    if (!e) {
        rc = HY_ENOMEM;
    } else if (e->state != ENTRY_FETCHING) {
        EVP_PKEY_free(e->key);
        EVP_PKEY_up_ref(key);
        e->key = key;
        e->state = ENTRY_OK;
    }
    pthread_mutex_unlock(&kc->mu);
    return rc;
}

/* ---- fetching ---- */

struct fetch {
    struct keycache *kc;
    char *kid;
    char request_id[65];
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, p, n) == 0 ? n : 0; /* past the cap: curl aborts the transfer */
}

/* GET url into body; returns the HTTP status, or 0 when no answer came (logged by the caller
 * through *err). */
static long http_get(struct keycache *kc, const char *url, struct buf *body, char *err,
                     size_t err_size)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, err_size, "curl_init");
        return 0;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)kc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)kc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    if (kc->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, kc->ca_file);
    long status = 0;
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, err_size, "curl_%d", (int)cc); /* log values take no spaces */
    curl_easy_cleanup(c);
    return status;
}

/* Key URL for kid from the template (kid already checked). Caller frees. */
static char *template_url(const char *tmpl, const char *kid)
{
    const char *k = strstr(tmpl, "{kid}");
    size_t pre = (size_t)(k - tmpl), kl = strlen(kid), post = strlen(k + 5);
    char *u = hy_malloc(pre + kl + post + 1);
    if (!u)
        return NULL;
    memcpy(u, tmpl, pre);
    memcpy(u + pre, kid, kl);
    memcpy(u + pre + kl, k + 5, post + 1);
    return u;
}

struct found {
    char *kid;
    EVP_PKEY *key;
};

struct jwks_acc {
    struct found v[64];
    size_t n;
};

static void on_jwk(void *arg, const char *kid, EVP_PKEY *key)
{
    struct jwks_acc *a = arg;
    if (a->n >= sizeof a->v / sizeof a->v[0] || !jwks_kid_ok(kid))
        return;
    char *k = hy_strdup(kid);
    if (!k)
        return;
    EVP_PKEY_up_ref(key);
    a->v[a->n].kid = k;
    a->v[a->n].key = key;
    a->n++;
}

/* Settle one entry and move its waiters onto *calls. Lock held. */
static void settle(struct keycache *kc, struct entry *e, enum entry_state st, EVP_PKEY *key,
                   struct waiter **calls)
{
    e->state = st;
    if (st == ENTRY_OK) {
        EVP_PKEY_free(e->key);
        EVP_PKEY_up_ref(key);
        e->key = key;
    } else {
        e->until_ms = now_ms() + (st == ENTRY_NOT_FOUND ? kc->not_found_ttl_ms : kc->outage_ttl_ms);
    }
    struct waiter *w = e->waiters;
    e->waiters = NULL;
    while (w) {
        struct waiter *nx = w->next;
        w->outcome = st;
        if (st == ENTRY_OK) {
            EVP_PKEY_up_ref(key);
            w->key = key;
        }
        w->next = *calls;
        *calls = w;
        w = nx;
    }
}

static enum keycache_result result_of(enum entry_state st)
{
    return st == ENTRY_OK          ? KEYCACHE_OK
           : st == ENTRY_NOT_FOUND ? KEYCACHE_NOT_FOUND
                                   : KEYCACHE_OUTAGE;
}

static void *fetch_main(void *arg)
{
    struct fetch *f = arg;
    struct keycache *kc = f->kc;
    struct buf body;
    buf_init(&body, KEYLOAD_MAX_BYTES);
    char err[32] = "";
    enum entry_state st = ENTRY_OUTAGE;
    EVP_PKEY *key = NULL;
    struct jwks_acc acc = {.n = 0};
    int64_t t0 = now_ms();
    char *url = kc->source == KEYCACHE_PEM_TEMPLATE ? template_url(kc->url, f->kid) : kc->url;
    long status = url ? http_get(kc, url, &body, err, sizeof err) : 0;
    if (status == 200 && kc->source == KEYCACHE_PEM_TEMPLATE) {
        if (keyload_pem(body.data ? body.data : "", body.len, &key) == 0)
            st = ENTRY_OK;
        else
            snprintf(err, sizeof err, "not_a_usable_pem");
    } else if (status == 200) {
        int k = keyload_jwks(body.data ? body.data : "", body.len, on_jwk, &acc);
        if (k < 0) {
            snprintf(err, sizeof err, "not_a_jwks");
        } else {
            st = ENTRY_NOT_FOUND;
            for (size_t i = 0; i < acc.n; i++)
                if (strcmp(acc.v[i].kid, f->kid) == 0) {
                    key = acc.v[i].key;
                    EVP_PKEY_up_ref(key);
                    st = ENTRY_OK;
                }
        }
    } else if (status >= 400 && status < 500) {
        st = ENTRY_NOT_FOUND; /* the server answered: it has no such key */
    } else if (status) {
        snprintf(err, sizeof err, "server_error");
    }
    int64_t took_ms = now_ms() - t0;

    struct waiter *calls = NULL;
    pthread_mutex_lock(&kc->mu);
    for (size_t i = 0; i < acc.n; i++) {
        struct entry *o = find(kc, acc.v[i].kid);
        if (!o)
            o = add(kc, acc.v[i].kid, ENTRY_OK);
        if (o && o->state != ENTRY_OK)
            settle(kc, o, ENTRY_OK, acc.v[i].key, &calls);
        else if (o && !o->key) {
            EVP_PKEY_up_ref(acc.v[i].key);
            o->key = acc.v[i].key;
        }
    }
    struct entry *e = find(kc, f->kid);
    /* Cannot be missing: a fetching entry is never evicted. */
    if (e && e->state == ENTRY_FETCHING)
        settle(kc, e, st, key, &calls);
    kc->st.fetches++;
    if (st == ENTRY_OUTAGE)
        kc->st.fetch_errors++;
    kc->st.fetch_us_total += (uint64_t)took_ms * 1000;
    if ((uint64_t)took_ms * 1000 > kc->st.fetch_us_max)
        kc->st.fetch_us_max = (uint64_t)took_ms * 1000;
    pthread_mutex_unlock(&kc->mu);

    if (st == ENTRY_OK)
        LOG_INFO("keycache", "key fetched", "request_id=%s kid=%s status=%ld ms=%lld",
                 f->request_id, f->kid, status, (long long)took_ms);
    else
        LOG_WARN("keycache", "key fetch failed",
                 "request_id=%s kid=%s status=%ld ms=%lld outcome=%s error=%s", f->request_id,
                 f->kid, status, (long long)took_ms, st == ENTRY_NOT_FOUND ? "not_found" : "outage",
                 err);
    while (calls) {
        struct waiter *w = calls;
        calls = w->next;
        w->fn(w->arg, result_of(w->outcome), w->key);
        EVP_PKEY_free(w->key);
        hy_free(w);
    }
    for (size_t i = 0; i < acc.n; i++) {
        hy_free(acc.v[i].kid);
        EVP_PKEY_free(acc.v[i].key);
    }
    EVP_PKEY_free(key);
    if (url != kc->url)
        hy_free(url);
    buf_fini(&body);
    hy_free(f->kid);
    hy_free(f);
    pthread_mutex_lock(&kc->mu);
    if (--kc->running == 0)
        pthread_cond_broadcast(&kc->idle);
    pthread_mutex_unlock(&kc->mu);
    return NULL;
}

enum keycache_result keycache_get(struct keycache *kc, const char *kid, const char *request_id,
                                  EVP_PKEY **key, keycache_fn fn, void *arg)
{
    if (!(kc->source == KEYCACHE_PEM_TEMPLATE ? keycache_kid_ok(kid) : jwks_kid_ok(kid)))
        return KEYCACHE_NOT_FOUND;
    enum keycache_result res = KEYCACHE_OUTAGE;
    struct fetch *f = NULL;
    struct waiter *w = NULL;
    pthread_mutex_lock(&kc->mu);
    struct entry *e = find(kc, kid);
    if (e && e->state == ENTRY_OK) {
        kc->st.hits++;
        EVP_PKEY_up_ref(e->key);
        *key = e->key;
        pthread_mutex_unlock(&kc->mu);
        return KEYCACHE_OK;
    }
    if (e && e->state != ENTRY_FETCHING && now_ms() < e->until_ms) {
        kc->st.negative_hits++;
        res = result_of(e->state);
        pthread_mutex_unlock(&kc->mu);
        return res;
    }
    kc->st.misses++;
    w = hy_calloc(1, sizeof *w);
    if (!w)
        goto fail;
    w->fn = fn;
    w->arg = arg;
    if (e && e->state == ENTRY_FETCHING) { /* single flight: ride the running fetch */
        w->next = e->waiters;
        e->waiters = w;
        pthread_mutex_unlock(&kc->mu);
        return KEYCACHE_PENDING;
    }
    f = hy_calloc(1, sizeof *f);
    if (!f)
        goto fail;
    f->kc = kc;
    snprintf(f->request_id, sizeof f->request_id, "%s", request_id ? request_id : "-");
    f->kid = hy_strdup(kid);
    if (!f->kid)
        goto fail;
    if (!e)
        e = add(kc, kid, ENTRY_FETCHING);
    if (!e)
        goto fail;
    e->state = ENTRY_FETCHING;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    kc->running++;
    if (pthread_create(&th, &attr, fetch_main, f) != 0) {
        kc->running--;
        e->state = ENTRY_OUTAGE;
        e->until_ms = 0;
        pthread_attr_destroy(&attr);
        goto fail;
    }
    pthread_attr_destroy(&attr);
    w->next = e->waiters;
    e->waiters = w;
    pthread_mutex_unlock(&kc->mu);
    return KEYCACHE_PENDING;
fail:
    pthread_mutex_unlock(&kc->mu);
    if (f)
        hy_free(f->kid);
    hy_free(f);
    hy_free(w);
    return KEYCACHE_OUTAGE;
}

void keycache_stats(struct keycache *kc, struct keycache_stats *out)
{
    pthread_mutex_lock(&kc->mu);
    *out = kc->st;
    pthread_mutex_unlock(&kc->mu);
}
