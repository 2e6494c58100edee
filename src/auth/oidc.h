/*
 * oidc: the identity gate served at /_hydrant/auth, for nginx `auth_request` (or any proxy that
 * asks a subrequest). Spec: ../shared/specs/alb-oidc-jwt.md.
 *
 * It checks, in the spec's order (section 6), the load balancer's `x-amzn-oidc-data` token: ES256
 * over the segments as sent (padding tolerated), `alg` pinned, `signer` one of the configured ARNs,
 * `exp` with a small leeway, the key chosen by `kid` and fetched from the configured URL template
 * (keycache.h). Without that header it accepts `Authorization: Bearer` OIDC ID tokens (RS256 or
 * ES256) from one configured issuer, keys from its JWKS URL, `aud` matched when configured.
 *
 * Answers: 200 with X-Auth-Email / -Given-Name / -Family-Name / -Picture / -Sub (headers only for
 * claims that are present and printable) when valid; 401 (with WWW-Authenticate) when missing or
 * invalid and auth_required, or when the email's domain is not a valid_domain; 200 with no identity
 * headers when not auth_required; 503 when the key server cannot be asked (an outage is not the
 * user's fault). Every denial and every key fetch is logged as a JSON line with the request id
 * (the X-Request-Id header when the proxy sends one, else a generated one).
 *
 * Threads: oidc_handle runs on loop threads; a key fetch answers later through
 * http_server_post to the exchange's loop. Counters are atomics.
 */
#ifndef HY_OIDC_H
#define HY_OIDC_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct http_exchange;
struct http_request;

struct oidc_config {
    /* Load-balancer tokens: enabled when nsigners > 0. */
    const char *const *signers; /* exact ARNs */
    size_t nsigners;
    const char *key_url; /* template with "{kid}" and optionally "{region}"; https only */
    const char *region;  /* fills "{region}" */
    /* ID tokens: enabled when issuer and jwks_url are set. */
    const char *issuer;
    const char *jwks_url;
    const char *audience; /* NULL: aud not checked */
    /* Both. */
    const char *ca_file; /* NULL: system CAs */
    int auth_required;
    const char *const *valid_domains; /* NULL/0: any */
    size_t ndomains;
    int leeway_s;         /* exp tolerance; 0 means the default 60, negative means none */
    int fetch_timeout_ms; /* 0: 2000 */
};

/* Why a request was refused (or passed anonymously): the label of the denial counter and log. */
#define OIDC_REASONS(X)                                                                            \
    X(OIDC_OK, "ok")                                                                               \
    X(OIDC_MISSING, "missing")                                                                     \
    X(OIDC_MALFORMED, "malformed")                                                                 \
    X(OIDC_BAD_ALG, "bad_alg")                                                                     \
    X(OIDC_BAD_SIGNER, "bad_signer")                                                               \
    X(OIDC_BAD_ISSUER, "bad_issuer")                                                               \
    X(OIDC_BAD_AUDIENCE, "bad_audience")                                                           \
    X(OIDC_EXPIRED, "expired")                                                                     \
    X(OIDC_UNKNOWN_KID, "unknown_kid")                                                             \
    X(OIDC_BAD_SIGNATURE, "bad_signature")                                                         \
    X(OIDC_IDENTITY_MISMATCH, "identity_mismatch")                                                 \
    X(OIDC_BAD_DOMAIN, "bad_domain")                                                               \
    X(OIDC_KEY_OUTAGE, "key_outage")                                                               \
    X(OIDC_INTERNAL, "internal")

enum oidc_reason {
#define OIDC_REASON_ENUM(name, label) name,
    OIDC_REASONS(OIDC_REASON_ENUM)
#undef OIDC_REASON_ENUM
        OIDC_NREASONS
};

/* The outcome of one check. */
struct oidc_verdict {
    int status; /* 200, 401 or 503 */
    enum oidc_reason reason;
    char headers[2048]; /* "X-Auth-...: v\r\n" lines for a 200 with identity; "" otherwise */
    char user[256];     /* email or sub, for logs ("" if not known) */
};

/* The identity a request presents (views; empty when absent). */
struct oidc_input {
    const char *alb_token; /* x-amzn-oidc-data */
    size_t alb_token_len;
    const char *identity; /* x-amzn-oidc-identity */
    size_t identity_len;
    const char *bearer; /* the token after "Bearer " */
    size_t bearer_len;
    const char *request_id; /* for the key-fetch log line; may be NULL */
};

typedef void (*oidc_done_fn)(void *arg, const struct oidc_verdict *v);

/* NULL on allocation failure or a bad config (nothing enabled, bad URL). */
struct oidc *oidc_new(const struct oidc_config *cfg);
/* Waits for key fetches still running. NULL is a no-op. */
void oidc_free(struct oidc *og);
/* Check in at time now (Unix seconds). Returns 0 with *v filled, or 1 when a key fetch is needed:
 * done(arg, v) is then called exactly once from the fetch thread (v borrowed for the call). The
 * input views are not used after this returns. */
int oidc_check(struct oidc *og, const struct oidc_input *in, int64_t now, struct oidc_verdict *v,
               oidc_done_fn done, void *arg);
/* The http_handler_fn for /_hydrant/auth; ud is the struct oidc *. */
void oidc_handle(struct http_exchange *ex, const struct http_request *req, void *ud);
/* Prometheus text for the gate's counters, appended to out. 0 or HY_E2BIG/HY_ENOMEM. */
int oidc_metrics_render(struct oidc *og, struct buf *out);
/* Preload a key (tests). alb: 1 for the load balancer's cache, 0 for the issuer's. 0 or error. */
int oidc_key_put(struct oidc *og, int alb, const char *kid, void *evp_pkey);

#endif
