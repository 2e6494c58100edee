/*
 * http: the HTTP/1.1 server. One event-loop thread (epoll) owns every connection; requests are
 * parsed with picohttpparser (exported by Debian's libh2o-evloop, which ships no header: see
 * phr.h), bodies arrive by Content-Length or chunked, `Expect: 100-continue` is answered, and
 * keep-alive and pipelining are served in order (one exchange at a time per connection).
 *
 * Limits: header bytes (and at most 64 fields: 431), body bytes, idle and slow-request timeouts,
 * a per-connection memory bound, and a bound on buffered request bytes per loop, split into pools
 * (http_int.h, struct http_budget): heads and small requests in one, whole-body reservations of
 * large requests, admitted in arrival order, in the other. A connection waiting for memory is
 * not read (TCP backpressure). While a pool has waiters, holders that do not use their memory
 * (a head still arriving after 1 s, a body silent for 2 s or under 16 KB/s) are answered 408 and
 * closed; a rate-limited WARN reports push-back. Malformed requests get a 4xx and the connection
 * is closed.
 *
 * Threads: http_server_run() runs the loop on the calling thread. The handler is called on the
 * loop thread that owns the connection. http_server_post() and http_server_stop() are the only
 * calls safe from other threads. A handler may answer at once or later: it keeps the exchange and
 * calls http_respond() from the loop thread (typically from a function passed to
 * http_server_post()).
 * Every exchange must be answered exactly once, even if the client went away meanwhile
 * (http_respond then just releases it).
 *
 * Several loops (http_server_add_loops): one listening "primary" server deals accepted
 * connections round-robin over itself and sibling servers, each run by its own thread. A
 * connection stays on its loop for life; its handler calls, http_respond() and posts for it
 * belong to that loop (http_exchange_server() names it). Limits in http_config apply per loop:
 * max_connections and max_buffered_bytes each bound one loop, so the process-wide buffered-bytes
 * bound is (1 + siblings) x max_buffered_bytes (divide it when configuring to keep a total).
 */
#ifndef HY_HTTP_H
#define HY_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct http_server;
struct http_exchange;
struct http_body_stream;

struct http_header {
    const char *name; /* view into the request; not NUL-terminated */
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* A parsed request. Every pointer is a view valid until http_respond() on its exchange. */
struct http_request {
    const char *method;
    size_t method_len;
    const char *path; /* raw target, query included */
    size_t path_len;
    int minor_version;
    const struct http_header *headers;
    size_t num_headers;
    const char *body; /* contiguous, chunked encoding removed; may be NULL when body_len is 0 */
    size_t body_len;
    /* Set when the body was streamed (see http_server_set_streamer): body is then NULL and
     * body_len 0; the handler owns the stream and must end it (its own finish, or ->abort). */
    struct http_body_stream *stream;
};

/*
 * Streamed request bodies. A request whose Content-Length is over max_body_bytes (and at most
 * the streamer's max_stream_bytes) is not buffered: once its head is parsed the loop asks the
 * streamer, which returns a stream (the body's bytes go to ->write as they arrive, on the loop
 * thread, while only a head-sized buffer is held; TCP backpressure does the rest) or NULL (413
 * as before). When the last byte was written the handler is called with req->stream set. If the
 * connection ends first, ->abort is called instead. A failing ->write does not stop the read:
 * the stream remembers its error and the handler answers it. Chunked bodies are never streamed.
 */
struct http_body_stream {
    int (*write)(struct http_body_stream *s, const char *p, size_t n);
    void (*abort)(struct http_body_stream *s);
};
/* head: the parsed request (views valid during the call; body NULL); NULL to refuse. */
typedef struct http_body_stream *(*http_stream_fn)(const struct http_request *head,
                                                   uint64_t content_length, void *ud);

struct http_config {
    size_t max_header_bytes;   /* default 64 KiB */
    size_t max_body_bytes;     /* default 8 MiB */
    size_t max_buffered_bytes; /* all connections of one loop together; default 32 MiB */
    int max_connections;       /* default 4096 */
    int idle_timeout_ms;       /* keep-alive idle; default 60 s */
    int request_timeout_ms;    /* from first byte of a request to its last (time waiting for
                                  memory included); default 60 s */
};

/* Called on the loop thread for each complete request. */
typedef void (*http_handler_fn)(struct http_exchange *ex, const struct http_request *req, void *ud);

/* Fill cfg with defaults. */
void http_config_default(struct http_config *cfg);
/* Create a server; NULL on failure (allocation). Caller frees with http_server_free. */
struct http_server *http_server_new(const struct http_config *cfg, http_handler_fn handler,
                                    void *ud);
/* Bind and listen on "host:port". Returns 0, -EADDRINUSE, -EACCES, HY_EINVAL (bad address,
 * already listening, or a sibling loop)... */
int http_server_listen(struct http_server *srv, const char *addr);
/* Port actually bound (useful with port 0). */
int http_server_port(const struct http_server *srv);
/* Run the loop until http_server_stop(); returns 0 or a negative error (epoll failure). On stop
 * it closes the listener and idle connections, lets requests being received and exchanges in
 * flight finish (their answers say Connection: close), keeps running posted functions, and
 * returns once no connection and no unanswered exchange is left. */
int http_server_run(struct http_server *srv);
/* Ask the loop to stop accepting and return once in-flight exchanges are answered. Thread- and
 * async-signal-safe (writes an eventfd). */
void http_server_stop(struct http_server *srv);
/* Run fn(arg) on the loop thread soon. Thread-safe; returns 0 or HY_ENOMEM. If it returns 0 fn
 * is called exactly once (also during shutdown). */
int http_server_post(struct http_server *srv, void (*fn)(void *arg), void *arg);
/* Make primary (the server that listens) share accepted connections round-robin with itself and
 * the n siblings in loops[] (servers from http_server_new with the same handler and config, never
 * listening). Call once, before http_server_run(primary); the array is copied. The caller runs
 * http_server_run() for each sibling on its own thread and stops each one with
 * http_server_stop() (stopping the primary only stops accepting). Siblings must outlive the
 * primary's http_server_run(): free them after it returned. A socket whose hand-off fails (no
 * memory) or that reaches a stopping or full sibling is closed. Returns 0, HY_EINVAL (called
 * twice, a NULL, listening or dealing sibling, or primary in loops) or HY_ENOMEM. */
int http_server_add_loops(struct http_server *primary, struct http_server *const *loops, size_t n);
/* Let large Content-Length bodies (over max_body_bytes, up to max_stream_bytes) be streamed
 * through fn (see struct http_body_stream). Call before http_server_run; each loop of a
 * multi-loop server needs its own call. */
void http_server_set_streamer(struct http_server *srv, http_stream_fn fn, void *ud,
                              uint64_t max_stream_bytes);
/* Release the server after http_server_run() returned (or if it never ran). Posted functions
 * still queued are run here, on the calling thread, and sockets handed over to it are closed.
 * NULL is a no-op. */
void http_server_free(struct http_server *srv);

struct http_stats {
    int connections;            /* open client sockets */
    int exchanges;              /* requests with the handler, orphans (client gone) included */
    int blocked;                /* connections waiting for the buffered-bytes budget */
    int waiting_body;           /* of those, parsed heads waiting for a body reservation */
    size_t buffered_bytes;      /* read-buffer memory held by all connections */
    size_t head_bytes;          /* charged to the head pool (buffers of unadmitted requests) */
    size_t body_reserved_bytes; /* charged to the body pool (admitted requests' reservations) */
};
/* Snapshot of the loop's counters (loop thread only, e.g. from a posted function). */
void http_server_stats(const struct http_server *srv, struct http_stats *out);

/* Answer an exchange (loop thread only). headers is extra header lines, each ending in "\r\n"
 * (may be NULL); Content-Length, Date and Connection are added here. The body is copied. */
void http_respond(struct http_exchange *ex, int status, const char *headers, const char *body,
                  size_t body_len);
/* The loop an exchange belongs to (a sibling when its connection was handed over): post its
 * answer there. */
struct http_server *http_exchange_server(struct http_exchange *ex);
/* Find a request header by case-insensitive name; NULL if absent. */
const struct http_header *http_request_header(const struct http_request *req, const char *name);

#endif
