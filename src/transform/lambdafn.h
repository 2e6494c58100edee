/*
 * lambdafn: Firehose's Lambda processor run against local functions
 * (../shared/specs/firehose-http-endpoint-and-transform.md section B, firehose-reference.md 1.6).
 *
 * A function ARN never carries hydrant's settings: `--functions FILE` maps an ARN (or a bare
 * function name) to a local function, either
 *
 *     {"url": "http://127.0.0.1:9000/2015-03-31/functions/function/invocations",
 *      "timeout_ms": 60000}
 *         POST the event as JSON, the body is the function's return value (the Lambda invoke
 *         convention the Runtime Interface Emulator serves; X-Amz-Function-Error = an error);
 *     {"command": ["python3", "fn.py"], "timeout_ms": 60000}
 *         a warm worker: one event per line on its stdin, one response per line on its stdout;
 *         started on first use, killed and started again when it dies, times out or answers
 *         something that is not one line of JSON.
 *
 * The set is loaded once at start (lambdafn_set_install) and read-only afterwards; each function
 * serialises its invocations with its own mutex (one warm worker per function), so any delivery
 * thread may invoke any function.
 *
 * Event and response (lambdafn_parse.c): records carry recordId, approximateArrivalTimestamp and
 * data (base64); recordIds are "<20-digit base><6-digit index>", so a response's ids map back to
 * the invocation's records without a table and an id from elsewhere is recognised.
 */
#ifndef HY_LAMBDAFN_H
#define HY_LAMBDAFN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Lambda: a synchronous invocation's payload (and response) is at most 6 MB. */
#define LAMBDAFN_PAYLOAD_MAX (6u * 1024 * 1024)
#define LAMBDAFN_RESPONSE_MAX (LAMBDAFN_PAYLOAD_MAX + 4096)
#define LAMBDAFN_DEFAULT_TIMEOUT_MS 60000
#define LAMBDAFN_ID_LEN 26

struct lambdafn;
struct lambdafn_set;

/* Load a --functions file. 0 and *out (free with lambdafn_set_free), HY_EINVAL with a message in
 * err (a JSON or shape problem), or a file error. */
int lambdafn_set_load(const char *path, struct lambdafn_set **out, char *err, size_t err_len);
/* Stops the workers (SIGKILL and reap) and frees. NULL is a no-op. */
void lambdafn_set_free(struct lambdafn_set *s);
/* Make s the set delivery resolves ARNs in (borrowed until replaced; NULL = none). Call before
 * any stream starts. region and account name the streams in events (copied). */
void lambdafn_set_install(struct lambdafn_set *s, const char *region, const char *account_id);
/* The installed function for an ARN: an exact key, the ARN without its :qualifier, or the bare
 * function name (the part after ":function:"). NULL if none. Borrowed until the set is freed. */
struct lambdafn *lambdafn_find(const char *arn);
/* The installed region and account ("us-east-1", "000000000000" when none installed). */
const char *lambdafn_region(void);
const char *lambdafn_account(void);

/* One invocation attempt: send event, the function's return value into resp (reset first).
 * Blocks up to the function's timeout. 0, or -EIO with *code / *message (static strings,
 * Firehose's error codes such as "Lambda.FunctionTimedOut") describing the failure. */
int lambdafn_invoke(struct lambdafn *fn, const char *event, size_t len, struct buf *resp,
                    const char **code, const char **message);

/* The last answer of fn could not be used (not a response for its event): a command worker is
 * stopped, so the next call starts a fresh one rather than read a desynchronised stream. */
void lambdafn_discard(struct lambdafn *fn);

/* ------------------------------------------------------------------ event and response */

enum lambdafn_status {
    LAMBDAFN_MISSING = 0, /* not in the response */
    LAMBDAFN_OK,
    LAMBDAFN_DROPPED,
    LAMBDAFN_FAILED,    /* result ProcessingFailed */
    LAMBDAFN_DUPLICATE, /* its id came back more than once */
    LAMBDAFN_INVALID,   /* Ok without usable data, bad base64 or partition keys */
};

struct lambdafn_item {
    enum lambdafn_status status;
    size_t data_off, data_len; /* Ok: the decoded data in the response's data buffer */
    size_t keys_off, keys_len; /* metadata.partitionKeys as "name\0value\0" pairs in keys */
    size_t n_keys;
};

/* A parsed response for n records. Init with lambdafn_response_init, reuse, fini. */
struct lambdafn_response {
    struct lambdafn_item *items;
    size_t n, cap;
    struct buf data;
    struct buf keys;
};

void lambdafn_response_init(struct lambdafn_response *r);
void lambdafn_response_fini(struct lambdafn_response *r);

/* The recordId of record index of an invocation whose ids start with base (written with NUL). */
void lambdafn_record_id(uint64_t base, size_t index, char out[LAMBDAFN_ID_LEN + 1]);

/* Parse a function's return value for an invocation of n records with id base. 0: r->items[i]
 * tells record i's fate. HY_EBADMSG with *code / *message (static) when the response as a whole
 * is unusable (not JSON, no records array, an id not of this invocation, a function error
 * object): the invocation failed and may be retried. HY_ENOMEM. Never reads past len. */
int lambdafn_response_parse(const char *text, size_t len, uint64_t base, size_t n,
                            struct lambdafn_response *r, const char **code, const char **message);

/* Event building: begin, add each record, end. Appends to ev (its max bounds the payload). */
int lambdafn_event_begin(struct buf *ev, const char *invocation_id, const char *stream_arn,
                         const char *region);
int lambdafn_event_add(struct buf *ev, size_t index, uint64_t base, int64_t arrival_ms,
                       const void *data, size_t len);
int lambdafn_event_end(struct buf *ev);
/* Upper bound of the bytes lambdafn_event_add appends for a record of len bytes. */
size_t lambdafn_event_record_len(size_t len);

#endif
