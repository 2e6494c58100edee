/*
 * http: the HTTP/1.1 server. One event-loop thread (epoll) owns every connection; requests are
 * parsed with picohttpparser (exported by Debian's libh2o-evloop, which ships no header: see
 * phr.h), bodies arrive by Content-Length or chunked, `Expect: 100-continue` is answered, and
 * keep-alive and pipelining are served in order (one exchange at a time per connection).
 *
 * Limits: header bytes, body bytes, idle and slow-request timeouts, a per-connection memory
 * bound, and a global bound on buffered request bytes (past it the loop stops reading sockets
 * until memory is released, so a flood becomes TCP backpressure). Malformed requests get a 4xx and
 * the connection is closed.
 *
 * Threads: http_server_run() runs the loop on the calling thread. The handler is called on the
 * loop thread. http_server_post() and http_server_stop() are the only calls safe from other
 * threads. A handler may answer at once or later: it keeps the exchange and calls
 * http_respond() from the loop thread (typically from a function passed to http_server_post()).
 * Every exchange must be answered exactly once, even if the client went away meanwhile
 * (http_respond then just releases it).
 */
#ifndef HY_HTTP_H
#define HY_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct http_server;
struct http_exchange;

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
};

struct http_config {
    size_t max_header_bytes;   /* default 64 KiB */
    size_t max_body_bytes;     /* default 8 MiB */
    size_t max_buffered_bytes; /* all connections together; default 512 MiB */
    int max_connections;       /* default 4096 */
    int idle_timeout_ms;       /* keep-alive idle; default 60 s */
    int request_timeout_ms;    /* from first byte of a request to its last; default 60 s */
};

/* Called on the loop thread for each complete request. */
typedef void (*http_handler_fn)(struct http_exchange *ex, const struct http_request *req, void *ud);

/* Fill cfg with defaults. */
void http_config_default(struct http_config *cfg);
/* Create a server; NULL on failure (allocation). Caller frees with http_server_free. */
struct http_server *http_server_new(const struct http_config *cfg, http_handler_fn handler,
                                    void *ud);
/* Bind and listen on "host:port". Returns 0, -EADDRINUSE, -EACCES, HY_EINVAL (bad address)... */
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
/* Release the server after http_server_run() returned (or if it never ran). Posted functions
 * still queued are run here, on the calling thread. NULL is a no-op. */
void http_server_free(struct http_server *srv);

struct http_stats {
    int connections;       /* open client sockets */
    int exchanges;         /* requests with the handler, orphans (client gone) included */
    int blocked;           /* connections waiting for the buffered-bytes budget */
    size_t buffered_bytes; /* read-buffer memory held by all connections */
};
/* Snapshot of the loop's counters (loop thread only, e.g. from a posted function). */
void http_server_stats(const struct http_server *srv, struct http_stats *out);

/* Answer an exchange (loop thread only). headers is extra header lines, each ending in "\r\n"
 * (may be NULL); Content-Length, Date and Connection are added here. The body is copied. */
void http_respond(struct http_exchange *ex, int status, const char *headers, const char *body,
                  size_t body_len);
/* The server an exchange belongs to. */
struct http_server *http_exchange_server(struct http_exchange *ex);
/* Find a request header by case-insensitive name; NULL if absent. */
const struct http_header *http_request_header(const struct http_request *req, const char *name);

#endif
