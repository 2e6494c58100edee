/*
 * http_int: private to src/net (and its unit test and fuzz target). The request-parsing state
 * machine of the HTTP/1.1 server, kept free of sockets so it can be tested at every split point
 * and fuzzed.
 *
 * A parser works on one request at a time over a caller-owned buffer that starts at the first
 * byte of the request and holds `len` bytes. The caller appends bytes as they arrive (the buffer
 * may move between calls; the parser keeps offsets only) and calls http_parse_feed() again. A
 * chunked body is decoded in place, so the buffer shrinks: the payload becomes contiguous right
 * after the head and any bytes past the end of the request (pipelining) follow it.
 *
 * Invariant between calls: while a chunked body is being read, buf[0..len) is exactly
 * head + decoded payload so far (every raw byte fed has been consumed by the decoder).
 * Not thread-safe; one owner.
 */
#ifndef HY_HTTP_INT_H
#define HY_HTTP_INT_H

#include "net/http.h"
#include "net/phr.h"

#include <stdbool.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 64

enum http_parse_stage {
    HTTP_PARSE_HEAD = 0,
    HTTP_PARSE_BODY_LENGTH,
    HTTP_PARSE_BODY_CHUNKED,
    HTTP_PARSE_DONE,
};

/* The library's decoder plus slack: newer picohttpparser versions append fields (see phr.h). */
struct http_chunk_decoder {
    struct phr_chunked_decoder d;
    char pad[64];
};

struct http_parser {
    size_t max_header_bytes;
    size_t max_body_bytes;
    size_t max_stream_bytes; /* Content-Length bodies up to this may be streamed (0: none) */
    enum http_parse_stage stage;
    size_t last_len;       /* bytes seen by the previous incomplete head parse */
    size_t head_len;       /* head bytes including the blank line, once parsed */
    size_t content_length; /* declared body size (HTTP_PARSE_BODY_LENGTH) */
    size_t body_len;       /* payload bytes decoded so far (chunked) or in total when done */
    bool keep_alive;       /* from version and Connection header */
    bool expect_continue;  /* "Expect: 100-continue" was sent */
    bool body_seen;        /* some raw chunked body bytes have been fed */
    bool big;              /* Content-Length over max_body_bytes but within max_stream_bytes:
                              feed stops after the head; the server streams or refuses it */
    int status;            /* on error: the HTTP status to answer with */
    const char *reason;    /* on error: static text saying why */
    struct http_chunk_decoder dec;
    struct http_request req; /* filled when a request is complete; views into the buffer */
    struct http_header headers[HTTP_MAX_HEADERS];
};

/*
 * The read-buffer budget of one loop (http_budget.c), socket-free so it can be unit-tested and
 * fuzzed. max_buffered_bytes is split in two pools:
 *
 *   head pool (a quarter): every buffer of a request not admitted to the body pool: heads being
 *     read, small requests (the whole request fits in a head-sized buffer, so the hot path of
 *     small keep-alive requests never waits for big bodies), idle keep-alive buffers. A
 *     connection's first buffer may use the whole head pool; growing past it only the lower half,
 *     so heads that grow (slowly or not) cannot take the memory new connections need.
 *   body pool (the rest): reservations of admitted large requests. A request whose
 *     Content-Length is known reserves its whole size at admission; a chunked one reserves the
 *     largest request allowed. Admission is FIFO, so an admitted body can always complete and a
 *     large request is never starved by smaller ones behind it.
 *
 * Progress: whatever the sizes, the request at the front is admitted when nobody else holds
 * memory of that pool (an overshoot bounded by one request), so tiny budgets cannot deadlock.
 * Holders that stall while others wait are evicted by the server (http.c), not here.
 */
struct http_budget {
    size_t head_limit; /* head pool; first buffers may fill it */
    size_t grow_limit; /* head pool growth past a first buffer stops here */
    size_t body_limit; /* body pool: reservations of admitted requests */
    size_t head_bytes; /* charged to the head pool (buffer capacities) */
    size_t body_bytes; /* charged to the body pool (reservations, each capped at body_limit) */
};

/* Split max_buffered_bytes into the pools; counters start at zero. */
void http_budget_init(struct http_budget *b, size_t max_buffered_bytes);
/* May a connection holding `held` head bytes take `delta` more? first: its first buffer. */
bool http_budget_head_fits(const struct http_budget *b, size_t held, size_t delta, bool first);
/* Bytes a parsed head must reserve before its body is read: 0 when the whole request fits in
 * head_cap bytes (it stays in the head pool), else head plus declared body, or `room` (the
 * largest request) for a chunked body. Only for a parser past HTTP_PARSE_HEAD. */
size_t http_budget_need(const struct http_parser *p, size_t head_cap, size_t room);
/* May a reservation of `need` bytes be admitted now? (FIFO order is the caller's part.) */
bool http_budget_body_fits(const struct http_budget *b, size_t need);
/* Take a reservation; returns the charge to give back with http_budget_body_put. */
size_t http_budget_body_take(struct http_budget *b, size_t need);
void http_budget_body_put(struct http_budget *b, size_t charge);

/* Prepare a parser with limits; no allocation. */
void http_parse_init(struct http_parser *p, size_t max_header_bytes, size_t max_body_bytes);
/* Forget the current request and get ready for the next one (limits kept, max_stream_bytes
 * included: set it directly after init). */
void http_parse_reset(struct http_parser *p);
/* Advance over buf[0..*len). Returns the request's size in bytes (the next request starts there)
 * when complete, with p->req filled (views into buf); HY_EAGAIN when more input is needed;
 * HY_EBADMSG or HY_E2BIG with p->status (400, 413, 431, 501) and p->reason on bad input. May
 * shrink *len (in-place chunked decoding). Never reads past buf + *len. */
ssize_t http_parse_feed(struct http_parser *p, char *buf, size_t *len);
/* True when the head asked for 100-continue and no body byte has arrived yet (len as in feed). */
bool http_parse_wants_continue(const struct http_parser *p, size_t len);

#endif
