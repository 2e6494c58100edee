/*
 * alexa: an Alexa custom skill served at POST /_hydrant/alexa (../shared/specs/alexa-skill.md):
 * verifies each request (signature-certificate URL rule, chain to a trusted root, RSA signature
 * over the raw body, timestamp window, application id; any failure is a bare 400), then answers
 * LaunchRequest, IntentRequest and SessionEndedRequest with the response envelope. Intents ask
 * the service about streams: list them, one stream's status, incoming records, freshness and
 * failures, plus the built-ins (help, stop, cancel, fallback). The session attribute
 * "stream" remembers the stream named last, so a follow-up without a name refers to it.
 *
 * Signing certificates are fetched with libcurl (https only, no redirects, 2 s bound) on the
 * loop thread the first time a URL is seen and cached by URL (at most ALEXA_CACHE_MAX; expiry is
 * re-checked on every use). Amazon publishes one URL for months, so a fetch is rare; it does
 * block that loop for its duration.
 *
 * Threads: alexa_handle runs on loop threads; the cache has its own mutex.
 */
#ifndef HY_ALEXA_H
#define HY_ALEXA_H

#include <stddef.h>

struct alexa;
struct http_exchange;
struct http_request;
struct service;

struct alexa_config {
    struct service *svc;         /* borrowed for the front's life */
    const char *skill_id;        /* required: the applicationId requests must carry */
    const char *ca_file;         /* trust store for the signing chain; NULL: the system's */
    const char *cert_url_prefix; /* tests only: accept certificate URLs under this prefix
                                    instead of Amazon's rule (NULL in production) */
    int insecure;                /* skip the certificate and signature checks (logs a WARN) */
    int allow_sha1;              /* accept the legacy Signature header without Signature-256 */
    int tolerance_s;             /* timestamp window; 0 = 150, at most 3600 */
};

/* A front; NULL on allocation failure or a bad config (no skill id, tolerance over 3600). */
struct alexa *alexa_new(const struct alexa_config *cfg);
void alexa_free(struct alexa *ax);
/* The http_handler_fn; ud is the struct alexa *. */
void alexa_handle(struct http_exchange *ex, const struct http_request *req, void *ud);

/* The interaction model ({"interactionModel":...}) for the skill package, with the given stream
 * names as the values of the STREAM slot type (invocation NULL: "hydrant streams"). Caller frees
 * with cJSON_free; NULL when out of memory. */
char *alexa_model_render(const char *invocation, char **names, size_t n);

#endif
