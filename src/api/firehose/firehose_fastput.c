/*
 * firehose_fastput: a single-pass scanner for the PutRecord(Batch) bodies that nearly every client
 * sends: {"DeliveryStreamName": "...", "Records": [{"Data": "..."}, ...]} (or "Record": {...}),
 * members in any order, any JSON whitespace. Each Data string is base64-decoded straight from the
 * body into the request's record buffer; no tree, no copies.
 *
 * Hand-written because a general JSON parser is the wrong tool here: under PutRecordBatch load
 * cJSON was about a fifth of the server's CPU, most of it allocating one node per record and
 * copying ~1 KiB strings that are decoded once and dropped.
 *
 * The scanner only ever accepts. Anything outside the shape above (escapes, unknown or duplicate
 * members, other JSON types, trailing bytes, bad base64, any Firehose limit exceeded) is
 * declined, and the caller runs the general path (firehose_put_parse), which produces AWS's exact
 * answer. So the accepted language is a subset of what firehose_put_parse accepts, with the same
 * result; tests/fuzz/fastput_fuzz.c checks that differentially.
 */
#include <string.h>

#include "api/firehose/firehose_int.h"
#include "base/base64.h"
#include "base/err.h"
#include "base/mem.h"
#include "stream/streamlog.h"

/* Firehose: DeliveryStreamName is 1-64 characters. */
#define NAME_MAX_LEN 64
/* Slack past the decoded bytes: base64_decode may use up to BASE64_DECODED_MAX(n) of room. */
#define DATA_SLACK 8

struct scan {
    const char *p;
    const char *end;
};

/* JSON whitespace only; cJSON skips every byte <= 0x20, a superset. */
static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Skip whitespace, then consume c if it is next. */
static int eat(struct scan *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* Consume the member name "<key>" followed by ':'. key must not need escaping. On failure
 * nothing is consumed, so the caller can try the next member name at the same place (a name
 * without its ':' must not let the next branch start after it). */
static int eat_key(struct scan *s, const char *key, size_t key_len)
{
    const char *start = s->p;
    if ((size_t)(s->end - s->p) < key_len + 2 || s->p[0] != '"' || s->p[key_len + 1] != '"' ||
        memcmp(s->p + 1, key, key_len) != 0)
        return 0;
    s->p += key_len + 2;
    if (eat(s, ':'))
        return 1;
    s->p = start;
    return 0;
}

/* A string value's raw text between its quotes (s->p at the opening quote). Escapes are not
 * interpreted: the callers accept only characters that never appear in one, so a backslash in
 * the text (even before a quote that this search took for the closing one) makes them decline. */
static int raw_string(struct scan *s, const char **v, size_t *n)
{
    if (s->p >= s->end || *s->p != '"')
        return 0;
    const char *q = memchr(s->p + 1, '"', (size_t)(s->end - s->p - 1));
    if (!q)
        return 0;
    *v = s->p + 1;
    *n = (size_t)(q - *v);
    s->p = q + 1;
    return 1;
}

struct out {
    struct firehose_put_recs *r;
    size_t max_recs;
    size_t cap; /* bytes of r->data */
};

/* One record object {"Data": "<base64>"}, decoded onto the end of o's buffer. */
static int record(struct scan *s, struct out *o)
{
    const char *v;
    size_t n;
    if (!eat(s, '{'))
        return 0;
    skip_ws(s);
    if (!eat_key(s, "Data", 4))
        return 0;
    skip_ws(s);
    if (!raw_string(s, &v, &n) || !eat(s, '}'))
        return 0;
    /* The decoded size follows from the length, so every limit is checked before decoding. */
    if (n % 4 || o->r->n >= o->max_recs)
        return 0;
    size_t dec = n / 4 * 3;
    if (n && v[n - 1] == '=')
        dec -= v[n - 2] == '=' ? 2 : 1;
    size_t off = o->r->total_len;
    /* Firehose: a record is at most 1,000 KiB; a batch at most 4 MiB. */
    if (dec > FIREHOSE_MAX_RECORD_BYTES || dec > FIREHOSE_MAX_BATCH_BYTES - off ||
        BASE64_DECODED_MAX(n) > o->cap - off)
        return 0;
    size_t got = 0;
    if (base64_decode(v, n, o->r->data + off, &got) || got != dec)
        return 0;
    struct streamlog_rec *w = &o->r->recs[o->r->n++];
    w->data = o->r->data + off;
    w->len = got;
    o->r->total_len = off + got;
    return 1;
}

/* "Records": [record, ...] with 1 to 500 elements. */
static int record_list(struct scan *s, struct out *o)
{
    if (!eat(s, '['))
        return 0;
    do {
        if (!record(s, o))
            return 0;
    } while (eat(s, ','));
    return eat(s, ']');
}

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* "DeliveryStreamName": 1-64 characters of [a-zA-Z0-9_.-]. */
static int stream_name(struct scan *s, const char **name, size_t *name_len)
{
    const char *v;
    size_t n;
    if (!raw_string(s, &v, &n) || n < 1 || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)v[i]))
            return 0;
    *name = v;
    *name_len = n;
    return 1;
}

static int scan_body(struct scan *s, int batch, const char **name, size_t *name_len, struct out *o)
{
    int have_name = 0, have_recs = 0;
    if (!eat(s, '{'))
        return 0;
    do {
        skip_ws(s);
        if (!have_name && eat_key(s, "DeliveryStreamName", 18)) {
            skip_ws(s);
            if (!stream_name(s, name, name_len))
                return 0;
            have_name = 1;
        } else if (!have_recs && batch && eat_key(s, "Records", 7)) {
            if (!record_list(s, o))
                return 0;
            have_recs = 1;
        } else if (!have_recs && !batch && eat_key(s, "Record", 6)) {
            if (!record(s, o))
                return 0;
            have_recs = 1;
        } else {
            return 0; /* unknown or repeated member, or not a member at all */
        }
    } while (eat(s, ','));
    if (!eat(s, '}') || !have_name || !have_recs)
        return 0;
    skip_ws(s);
    return s->p == s->end;
}

int firehose_fastput_parse(int batch, const char *body, size_t len, const char **name,
                           size_t *name_len, struct firehose_put_recs *out)
{
    memset(out, 0, sizeof *out);
    /* Sizes from the body alone: every decoded byte needs 4/3 body bytes, and every record at
     * least the 12 of `{"Data":""},`. */
    size_t room = BASE64_DECODED_MAX(len);
    struct out o = {
        .r = out,
        .max_recs =
            batch ? (len / 12 + 1 < FIREHOSE_MAX_RECORDS ? len / 12 + 1 : FIREHOSE_MAX_RECORDS) : 1,
        .cap = (room < FIREHOSE_MAX_BATCH_BYTES ? room : FIREHOSE_MAX_BATCH_BYTES) + DATA_SLACK,
    };
    out->recs = hy_malloc(o.max_recs * sizeof *out->recs);
    out->data = hy_malloc(o.cap);
    if (!out->recs || !out->data) {
        firehose_put_recs_fini(out);
        return HY_ENOMEM;
    }
    struct scan s = {body, body + len};
    if (!scan_body(&s, batch, name, name_len, &o)) {
        firehose_put_recs_fini(out);
        return HY_EBADMSG;
    }
    return 0;
}
