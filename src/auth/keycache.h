/*
 * keycache: public keys by kid for the OIDC gate, fetched over https on demand.
 *
 * Two sources: a URL template with "{kid}" (the load balancer's per-key PEM endpoint; the kid is
 * checked against ^[A-Za-z0-9-]{1,64}$ before it goes into the path, and the scheme and host come
 * only from the configured template, so a token cannot steer a fetch), or one JWKS URL (an OIDC
 * issuer's key set; a miss refetches the set). Fetches use libcurl on a short-lived thread with a
 * bounded timeout, https only and no redirects. Single flight: while a kid is being fetched,
 * further lookups for it wait on that fetch. Failures are cached briefly (negative cache): "not
 * found" (the server answered 4xx, or the JWKS lacks the kid) for not_found_ttl_ms, an outage
 * (timeout, connection, TLS, 5xx, unparsable) for outage_ttl_ms. Keys are immutable per kid, so
 * good entries never expire; the cache holds at most max_keys entries (the oldest goes first).
 *
 * Threads: every call is thread-safe (one mutex). Callbacks run on the fetch thread.
 */
#ifndef HY_KEYCACHE_H
#define HY_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum keycache_source { KEYCACHE_PEM_TEMPLATE = 0, KEYCACHE_JWKS };

struct keycache_config {
    enum keycache_source source;
    const char *url;      /* template ("https://host/{kid}") or JWKS URL; copied */
    const char *ca_file;  /* CA bundle for the fetch (NULL: the system's); copied */
    int timeout_ms;       /* whole fetch, connect included; default 2000 */
    int not_found_ttl_ms; /* default 60000 */
    int outage_ttl_ms;    /* default 5000 */
    size_t max_keys;      /* default 256 */
};

enum keycache_result {
    KEYCACHE_OK = 0,
    KEYCACHE_NOT_FOUND, /* the key server does not know the kid (or the kid is malformed) */
    KEYCACHE_OUTAGE,    /* could not ask the key server */
    KEYCACHE_PENDING,   /* a fetch is running; the callback will be called once */
};

/* Called once with the outcome of a fetch that keycache_get answered KEYCACHE_PENDING; key is
 * borrowed for the call (up-ref it to keep it) and NULL unless result is KEYCACHE_OK. */
typedef void (*keycache_fn)(void *arg, enum keycache_result result, EVP_PKEY *key);

struct keycache_stats {
    uint64_t hits, misses, negative_hits, fetches, fetch_errors;
    uint64_t fetch_us_total, fetch_us_max;
};

/* NULL on allocation failure or a bad config (template without "{kid}", not https). */
struct keycache *keycache_new(const struct keycache_config *cfg);
/* Waits for running fetches (bounded by their timeout), then frees. NULL is a no-op. */
void keycache_free(struct keycache *kc);
/* Look kid up (request_id, may be NULL, names the request that starts a fetch in its log line).
 * KEYCACHE_OK sets *key (caller frees with EVP_PKEY_free); NOT_FOUND / OUTAGE come
 * from the negative cache or a bad kid; PENDING means fn(arg, ...) will be called exactly once
 * from a fetch thread. Never blocks on the network. */
enum keycache_result keycache_get(struct keycache *kc, const char *kid, const char *request_id,
                                  EVP_PKEY **key, keycache_fn fn, void *arg);
/* Insert a key (tests and preloading); takes its own reference. 0 or HY_ENOMEM. */
int keycache_put(struct keycache *kc, const char *kid, EVP_PKEY *key);
void keycache_stats(struct keycache *kc, struct keycache_stats *out);
/* Does s match ^[A-Za-z0-9-]{1,64}$ ? (JWKS kids are free text and skip this check.) */
int keycache_kid_ok(const char *s);

#endif
