/*
 * awsjson: what every AWS JSON-protocol front (Firehose today; Glue and Kinesis next) shares:
 * error answers in Coral's shape ({"__type","message"} plus x-amzn-ErrorType), validation errors
 * accumulated in Coral's wording, and 200 answers with x-amzn-RequestId.
 * Wire format: ../shared/specs/aws-json-sigv4.md sections 1-2. Loop threads only (replies);
 * the error builder is pure.
 */
#ifndef HY_AWSJSON_H
#define HY_AWSJSON_H

#include <stdarg.h>
#include <stddef.h>

#include "base/buf.h"

struct cJSON;
struct http_exchange;

#define AWSJSON_CT "application/x-amz-json-1.1"

/* ---------------------------------------------------------------- errors (firehose_err.c) */

/* An AWS error answer being built. Validation errors accumulate (Coral reports them all); any
 * other error is final and the first one set wins. */
struct awsjson_err {
    int status;       /* HTTP status; 0 while no error */
    const char *type; /* __type, static string; NULL while no error */
    struct buf msg;
    struct buf items; /* validation errors, "; "-joined */
    int nvalid;
};

void awsjson_err_init(struct awsjson_err *e);
void awsjson_err_fini(struct awsjson_err *e);
/* Set a final error unless one is set already. */
void awsjson_err_set(struct awsjson_err *e, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Add one Coral validation error: "Value <v> at '<path>' failed to satisfy constraint: <c>".
 * value is the already-rendered value ("'abc'" or "null"). */
void awsjson_err_validation(struct awsjson_err *e, const char *value, size_t value_len,
                            const char *path, const char *constraint);
/* Turn accumulated validation errors into a ValidationException (if nothing final is set).
 * Returns 1 if e holds an error, else 0. */
int awsjson_err_done(struct awsjson_err *e);
#define AWSJSON_BAD_REQUEST 400
#define AWSJSON_SERVER 500
#define AWSJSON_UNAVAILABLE 503

/* A fresh x-amzn-RequestId (UUID v4 text, NUL-terminated). Any thread. */
void awsjson_request_id(char out[37]);
/* Answer 200 with a JSON body (AWS headers added). Loop thread. */
void awsjson_reply_json(struct http_exchange *ex, const char *body, size_t len);
/* Answer 200 with cJSON item printed (and deleted); 500 if printing fails. */
void awsjson_reply_cjson(struct http_exchange *ex, struct cJSON *item);
/* Answer an error. */
void awsjson_reply_err(struct http_exchange *ex, struct awsjson_err *e);
void awsjson_reply_errorf(struct http_exchange *ex, int status, const char *type, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));
/* ---------------------------------------------------------------- request text */

/* One string of a JSON text whose decoded value holds a NUL (U+0000, from a \u0000 escape).
 * ordinal counts every string token (member names and values) in document order from 0;
 * decoded_len is the value's length in bytes as UTF-8, NULs included. */
struct awsjson_nul_str {
    size_t ordinal;
    size_t decoded_len;
};

/* Check the text of a request body the way AWS's JSON deserialiser does before any tree is
 * built (cJSON checks neither, and a decoded NUL ends its C strings): every byte sequence must
 * be well-formed UTF-8 (RFC 3629: no overlong forms, no encoded surrogates, nothing past
 * U+10FFFF), every string escape must be one JSON defines, and a \u escape of a surrogate
 * must be a high one followed by a low one. Strings holding a NUL are appended to nuls (array of
 * struct awsjson_nul_str; NULL: not wanted). Returns 0 (the text may still be bad JSON in other
 * ways: the parser judges that), HY_EBADMSG with *reason set (static text), or HY_E2BIG/HY_ENOMEM
 * from nuls. Pure; never reads past len. */
int awsjson_text_check(const char *text, size_t len, struct buf *nuls, const char **reason);

/* UTF-16 code units in well-formed UTF-8 text: what Java's String.length() counts, and so what
 * the length constraints of AWS models (checked by Coral in Java) count. */
size_t awsjson_utf16_len(const char *s, size_t n);

#endif
