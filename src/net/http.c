/*
 * http: the epoll loop, connections, exchanges and responses (contract in http.h; the request
 * state machine is in http_parse.c).
 *
 * Connection life:
 *   accept -> [read -> parse -> dispatch -> (handler answers, now or later) -> write]* -> close
 * Sockets are registered once, edge-triggered, for IN|OUT|RDHUP; can_read/can_write remember
 * readiness, so no epoll_ctl happens per request. Work on a connection is done in conn_process(),
 * which is only ever entered from the loop (never from inside a handler), so handlers may answer
 * synchronously without re-entering the state machine. Connections to work on are queued on the
 * pending list; closed ones go to a graveyard freed at the end of each loop iteration, so a pointer
 * held while walking a list never dangles.
 *
 * While an exchange is outstanding the connection does not read: request views stay valid (the
 * read buffer cannot move) and pipelined bytes wait in the kernel, which is the backpressure.
 *
 * Several loops: only the primary listens. It deals accepted sockets round-robin over itself and
 * its siblings; a socket for a sibling travels through the sibling's post queue as an "adopt"
 * item (fn == NULL), so the sibling's own thread registers it and from then on the connection,
 * its exchanges and its memory belong to that loop alone. No connection state is shared.
 */
#include "net/http.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/hyassert.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/http_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_MIN 4096          /* free space wanted before a read */
#define READ_SLACK 16384       /* raw chunk framing that may sit next to a full body */
#define RBUF_KEEP 16384        /* idle read buffers larger than this are released */
#define WBUF_KEEP 65536        /* idle write buffers larger than this are released */
#define WBUF_HIGH 65536        /* unsent bytes past which pipelined requests wait */
#define WBUF_MAX (256u << 20)  /* largest response we build */
#define SWEEP_MS 250           /* timer granularity for timeouts */
#define LINGER_MS 2000         /* how long to drain input after a closing response */
#define LINGER_READ_MAX 262144 /* bytes discarded per linger turn, so one peer cannot hog */
#define MAX_EVENTS 256
#define HEAD_STALL_MS 1000  /* a partial head this old is evicted while heads wait for memory */
#define BODY_STALL_MS 2000  /* an admitted body silent this long is evicted while bodies wait */
#define BODY_MIN_RATE 16    /* bytes/ms (16 KB/s): slower admitted bodies count as stalled */
#define WARN_EVERY_MS 10000 /* at most one budget warning per loop per 10 s */

/* Connections waiting for memory, oldest first (intrusive, so joining never allocates). */
struct conn_list {
    struct http_conn *head, *tail;
    int n;
};

struct http_exchange {
    struct http_conn *conn;
};

struct http_conn {
    struct http_server *srv;
    int fd;                          /* -1 once the socket is closed */
    struct http_conn *prev, *next;   /* srv->conns: live and orphaned connections */
    struct http_conn *pending_next;  /* srv pending list */
    struct http_conn *grave_next;    /* srv graveyard */
    bool pending;                    /* on the pending list */
    bool closed;                     /* in the graveyard; never touched again */
    bool can_read, can_write;        /* edge-triggered readiness not yet used up */
    bool rdhup;                      /* peer shut down its side: read until EOF */
    bool hup;                        /* socket error or full hangup */
    bool peer_eof;                   /* read returned 0 */
    bool ex_active;                  /* a request is with the handler */
    bool in_handler;                 /* inside the handler call (answers must not recurse) */
    bool keep_alive;                 /* the current exchange may reuse the connection */
    bool head_req;                   /* current request is HEAD: no body in the answer */
    bool close_after;                /* close once the output is flushed */
    bool lingering;                  /* output shut down; discarding input until EOF */
    bool continue_sent;              /* 100 Continue already written for this request */
    bool sized;                      /* the current request's admission is decided */
    bool admitted;                   /* the current request holds a body-pool reservation */
    struct http_body_stream *stream; /* the current request's body goes here (not buffered) */
    uint64_t stream_left;            /* body bytes still to pass to stream */
    char *rdata;                     /* read buffer; the current request starts at rstart */
    size_t rlen, rcap, rstart;
    size_t req_len;          /* bytes of the current request (after chunked decoding) */
    size_t resv;             /* admitted: capacity the reservation covers (rcap <= resv) */
    size_t charge;           /* admitted: bytes charged to the body pool */
    size_t want;             /* waiting in wait_first/wait_grow: bytes asked for */
    size_t admit_used;       /* admitted: request bytes buffered at admission */
    int64_t admit_ms;        /* admitted: when */
    struct conn_list *wlist; /* the wait list this connection is on, or NULL */
    struct http_conn *wprev, *wnext;
    struct buf wbuf; /* output not yet written, from wpos */
    size_t wpos;
    int64_t active_ms;  /* last progress, for idle and write-stall timeouts */
    int64_t started_ms; /* first byte of the current request, 0 if none */
    int64_t linger_until_ms;
    struct http_parser parser;
    struct http_exchange ex;
};

/* A posted call, or with fn == NULL a socket handed over by the primary (fd) to adopt. */
struct post_item {
    void (*fn)(void *arg);
    void *arg;
    int fd;
    struct post_item *next;
};

struct http_server {
    struct http_config cfg;
    http_handler_fn handler;
    void *ud;
    http_stream_fn streamer;
    void *stream_ud;
    uint64_t max_stream_bytes;
    int epfd;
    int listen_fd;
    int event_fd;
    int port;
    char listen_tag, event_tag; /* addresses used as epoll tags */
    struct http_conn *conns;    /* live and orphaned */
    struct http_conn *pending_head, *pending_tail;
    struct http_conn *graveyard;
    int num_live;          /* connections with an open socket */
    int num_exchanges;     /* exchanges not yet answered (orphans included) */
    size_t buffered_bytes; /* sum of read-buffer capacities */
    struct http_budget budget;
    struct conn_list wait_first; /* first buffers (new requests) waiting for the head pool */
    struct conn_list wait_grow;  /* heads and small requests waiting to grow their buffer */
    struct conn_list wait_body;  /* parsed heads waiting for a body reservation (FIFO) */
    int64_t warn_ms;             /* last budget warning */
    unsigned long pushbacks;     /* since the last warning */
    unsigned long evictions;     /* since the last warning */
    bool stopping;
    bool accept_paused;
    int64_t accept_resume_ms;
    int64_t now_ms;
    int64_t next_sweep_ms;
    int64_t date_sec;
    char date[48]; /* "Date: ...\r\n" for date_sec */
    size_t date_len;
    atomic_int stop_requested;
    pthread_mutex_t post_lock;
    struct post_item *post_head, *post_tail;
    struct http_server **loops; /* primary only: siblings that get accepted sockets */
    size_t num_loops;
    size_t next_loop; /* round-robin position; 0 is the primary itself */
    bool sibling;     /* gets sockets from a primary, so must not listen */
};

/* ---------------------------------------------------------------------------------------------
 * Configuration and small helpers
 */

void http_config_default(struct http_config *cfg)
{
    cfg->max_header_bytes = 64 * 1024;
    cfg->max_body_bytes = 8 * 1024 * 1024;
    cfg->max_buffered_bytes = (size_t)32 * 1024 * 1024;
    cfg->max_connections = 4096;
    cfg->idle_timeout_ms = 60000;
    cfg->request_timeout_ms = 60000;
}

static const struct {
    int status;
    const char *reason;
} status_reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

static const char *status_reason(int status)
{
    for (size_t i = 0; i < sizeof status_reasons / sizeof status_reasons[0]; i++)
        if (status_reasons[i].status == status)
            return status_reasons[i].reason;
    return "Unknown";
}

/* The Date header is formatted at most once per second; names are fixed English (RFC 9110
 * IMF-fixdate), so no locale is involved. */
static void refresh_date(struct http_server *srv)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t now_ms = hytime_now_ms();
    int64_t sec = now_ms / 1000;
    if (sec == srv->date_sec && srv->date_len)
        return;
    struct tm tm;
    hytime_utc(now_ms, &tm);
    int n = snprintf(srv->date, sizeof srv->date, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    srv->date_len = n > 0 && (size_t)n < sizeof srv->date ? (size_t)n : 0;
    srv->date_sec = sec;
}

static void wake_loop(struct http_server *srv)
{
    uint64_t one = 1;
    /* A full counter (EAGAIN) already means "wake up", so the result does not matter. */
    ssize_t n = write(srv->event_fd, &one, sizeof one);
    (void)n;
}

/* ---------------------------------------------------------------------------------------------
 * Connection bookkeeping
 */

static void conn_mark_pending(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    if (c->pending || c->closed)
        return;
    c->pending = true;
    c->pending_next = NULL;
    if (srv->pending_tail)
        srv->pending_tail->pending_next = c;
    else
        srv->pending_head = c;
    srv->pending_tail = c;
}

/* ---------------------------------------------------------------------------------------------
 * The buffer budget (pools in http_int.h): wait lists, admission, wake-ups and the warning
 */

static void wait_join(struct http_conn *c, struct conn_list *q)
{
    if (c->wlist == q)
        return; /* keeps its place in line */
    HY_ASSERT(!c->wlist);
    c->wlist = q;
    c->wnext = NULL;
    c->wprev = q->tail;
    if (q->tail)
        q->tail->wnext = c;
    else
        q->head = c;
    q->tail = c;
    q->n++;
}

static void wait_leave(struct http_conn *c)
{
    struct conn_list *q = c->wlist;
    if (!q)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        q->head = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    else
        q->tail = c->wprev;
    q->n--;
    c->wlist = NULL;
    c->wprev = c->wnext = NULL;
}

/* Largest buffer a request not admitted to the body pool may have: a full head plus one read.
 * Requests that fit in it are "small" and never wait for the body pool. */
static size_t head_cap(const struct http_server *srv)
{
    size_t cap = srv->cfg.max_header_bytes;
    return cap > SIZE_MAX - 2 * READ_MIN ? SIZE_MAX : cap + 2 * READ_MIN;
}

/* Largest buffer any request may need (saturating: limits may be SIZE_MAX, "unbounded"). */
static size_t request_room(const struct http_server *srv)
{
    size_t room = srv->cfg.max_header_bytes;
    room = room > SIZE_MAX - srv->cfg.max_body_bytes ? SIZE_MAX : room + srv->cfg.max_body_bytes;
    return room > SIZE_MAX - READ_SLACK ? SIZE_MAX : room + READ_SLACK;
}

/* Rate-limited: one line per WARN_EVERY_MS with the pools' numbers, so an operator sees why
 * clients wait (or were evicted) without a line per connection. */
static void budget_warn(struct http_server *srv)
{
    if (srv->now_ms - srv->warn_ms < WARN_EVERY_MS)
        return;
    srv->warn_ms = srv->now_ms;
    const struct http_budget *b = &srv->budget;
    LOG_WARN("http", "buffer budget pushing back",
             "head_bytes=%zu head_limit=%zu body_reserved=%zu body_limit=%zu buffered_bytes=%zu "
             "waiting_head=%d waiting_body=%d pushbacks=%lu evicted=%lu connections=%d",
             b->head_bytes, b->head_limit, b->body_bytes, b->body_limit, srv->buffered_bytes,
             srv->wait_first.n + srv->wait_grow.n, srv->wait_body.n, srv->pushbacks, srv->evictions,
             srv->num_live);
    srv->pushbacks = 0;
    srv->evictions = 0;
}

static void budget_pushback(struct http_server *srv)
{
    srv->pushbacks++;
    budget_warn(srv);
}

/* Head memory was released: let waiters retry, oldest first, as far as the room goes. They stay
 * on their list (keeping their place) until their allocation succeeds. */
static void wake_list(struct http_server *srv, struct conn_list *q, size_t limit)
{
    const struct http_budget *b = &srv->budget;
    size_t used = b->head_bytes;
    for (struct http_conn *c = q->head; c; c = c->wnext) {
        bool alone = used == b->head_bytes && b->head_bytes == c->rcap;
        if (!alone && (used > limit || c->want > limit - used))
            break;
        used += c->want;
        conn_mark_pending(c);
    }
}

static void wake_head(struct http_server *srv)
{
    if (srv->wait_first.head)
        wake_list(srv, &srv->wait_first, srv->budget.head_limit);
    if (srv->wait_grow.head)
        wake_list(srv, &srv->wait_grow, srv->budget.grow_limit);
}

static void head_charge_sub(struct http_server *srv, size_t n)
{
    HY_ASSERT(n <= srv->budget.head_bytes);
    srv->budget.head_bytes -= n;
    wake_head(srv);
}

/* Take a body reservation for c's parsed head: its buffer moves from the head pool into it. */
static void admit_take(struct http_conn *c, size_t need)
{
    struct http_server *srv = c->srv;
    wait_leave(c);
    c->charge = http_budget_body_take(&srv->budget, need);
    c->resv = need > c->rcap ? need : c->rcap;
    c->admitted = true;
    c->sized = true;
    c->admit_ms = srv->now_ms;
    c->active_ms = srv->now_ms; /* time spent in line is not the sender's silence */
    c->admit_used = c->rlen - c->rstart;
    head_charge_sub(srv, c->rcap);
}

/* Admit waiting heads in strict FIFO order while the body pool has room. */
static void admit_pump(struct http_server *srv)
{
    size_t hcap = head_cap(srv), room = request_room(srv);
    while (srv->wait_body.head) {
        struct http_conn *c = srv->wait_body.head;
        size_t need = http_budget_need(&c->parser, hcap, room);
        if (!http_budget_body_fits(&srv->budget, need))
            break;
        admit_take(c, need);
        conn_mark_pending(c);
    }
}

/* Decide how the current request's body is buffered. Returns false when it must wait for the
 * body pool (c is queued and woken by admit_pump). */
static bool conn_admit(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    size_t need = http_budget_need(&c->parser, head_cap(srv), request_room(srv));
    if (need == 0) {
        c->sized = true; /* small: stays in the head pool */
        return true;
    }
    /* FIFO: nobody overtakes a waiting request, or a stream of small ones could starve it. */
    if (srv->wait_body.head || !http_budget_body_fits(&srv->budget, need)) {
        bool fresh = !c->wlist;
        wait_join(c, &srv->wait_body);
        if (fresh)
            budget_pushback(srv);
        admit_pump(srv);
        return c->admitted;
    }
    admit_take(c, need);
    return true;
}

/* The current request no longer needs its reservation (answered, rejected or closed): the
 * buffer returns to the head pool and waiting heads may be admitted. */
static void admit_end(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    c->sized = false;
    if (!c->admitted)
        return;
    c->admitted = false;
    srv->budget.head_bytes += c->rcap;
    http_budget_body_put(&srv->budget, c->charge);
    c->charge = c->resv = 0;
    admit_pump(srv);
}

static void rbuf_release(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    HY_ASSERT(!c->admitted);
    hy_free(c->rdata);
    srv->buffered_bytes -= c->rcap;
    size_t cap = c->rcap;
    c->rdata = NULL;
    c->rcap = c->rlen = c->rstart = 0;
    head_charge_sub(srv, cap);
}

/* After a large request: give back a big buffer, keeping pipelined bytes that already arrived. */
static void rbuf_shrink(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    size_t used = c->rlen - c->rstart;
    if (used == 0) {
        rbuf_release(c);
        return;
    }
    memmove(c->rdata, c->rdata + c->rstart, used);
    c->rlen = used;
    c->rstart = 0;
    size_t cap = used < 2 * READ_MIN ? 2 * READ_MIN : used;
    if (cap >= c->rcap)
        return;
    char *p = hy_realloc(c->rdata, cap);
    if (!p)
        return; /* keeping the larger buffer is harmless */
    srv->buffered_bytes -= c->rcap - cap;
    size_t freed = c->rcap - cap;
    c->rdata = p;
    c->rcap = cap;
    head_charge_sub(srv, freed);
}

/* Close the socket and retire the connection; memory is freed at the end of the loop turn. */
/* A stream whose request never reached the handler is aborted. */
static void stream_end(struct http_conn *c)
{
    if (c->stream) {
        c->stream->abort(c->stream);
        c->stream = NULL;
    }
    c->stream_left = 0;
}

static void conn_close(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    if (c->closed)
        return;
    HY_ASSERT(!c->ex_active);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        srv->num_live--;
    }
    wait_leave(c);
    admit_end(c);
    stream_end(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->closed = true;
    c->grave_next = srv->graveyard;
    srv->graveyard = c;
    rbuf_release(c);
}

/* The socket is unusable. Without an exchange the connection goes; with one it becomes an
 * orphan: the request memory stays (the handler may hold views) until http_respond frees it. */
static void conn_drop(struct http_conn *c)
{
    if (!c->ex_active) {
        conn_close(c);
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        c->srv->num_live--;
    }
}

static void conn_free(struct http_conn *c)
{
    hy_free(c->rdata);
    buf_fini(&c->wbuf);
    hy_free(c);
}

static void free_graveyard(struct http_server *srv)
{
    while (srv->graveyard) {
        struct http_conn *c = srv->graveyard;
        srv->graveyard = c->grave_next;
        conn_free(c);
    }
}

static void conn_new(struct http_server *srv, int fd)
{
    struct http_conn *c = hy_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->ex.conn = c;
    c->can_write = true;
    c->active_ms = srv->now_ms;
    buf_init(&c->wbuf, WBUF_MAX);
    http_parse_init(&c->parser, srv->cfg.max_header_bytes, srv->cfg.max_body_bytes);
    c->parser.max_stream_bytes = srv->streamer ? (size_t)srv->max_stream_bytes : 0;

    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        conn_free(c);
        return;
    }
    /* Responses are written whole; Nagle would only delay a final answer after a 100. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->num_live++;
}

/* ---------------------------------------------------------------------------------------------
 * Reading and writing
 */

/* Read what the socket has. Returns bytes read (> 0), 0 at EOF, HY_EAGAIN when drained,
 * HY_EBUSY when the head pool forbids growing the buffer (c is queued), HY_E2BIG, HY_ENOMEM or
 * -errno. An admitted request grows within its reservation without asking anyone. */
static ssize_t conn_read(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    size_t room = c->admitted ? c->resv : head_cap(srv);
    size_t used = c->rlen - c->rstart;
    if (used >= room)
        return HY_E2BIG; /* the parser rejects before this; kept as a defence */

    size_t want = READ_MIN;
    if (c->parser.stage == HTTP_PARSE_BODY_LENGTH && !c->stream) {
        size_t total = c->parser.head_len + c->parser.content_length;
        if (total > used && total - used > want)
            want = total - used; /* one allocation for a declared body */
    }
    if (want > room - used)
        want = room - used;
    if (c->rcap - c->rlen < want && c->rstart > 0) {
        memmove(c->rdata, c->rdata + c->rstart, used);
        c->rlen = used;
        c->rstart = 0;
    }
    if (c->rcap - c->rlen < want) {
        size_t cap = c->rcap ? c->rcap * 2 : 2 * READ_MIN;
        if (cap < c->rlen + want)
            cap = c->rlen + want;
        if (cap > room)
            cap = room;
        if (!c->admitted) {
            bool first = c->rcap == 0;
            struct conn_list *q = first ? &srv->wait_first : &srv->wait_grow;
            /* FIFO: a newcomer queues behind waiters instead of taking memory they wait for. */
            if ((q->head && c->wlist != q) ||
                !http_budget_head_fits(&srv->budget, c->rcap, cap - c->rcap, first)) {
                bool fresh = !c->wlist;
                c->want = cap - c->rcap;
                wait_join(c, q);
                if (fresh)
                    budget_pushback(srv);
                return HY_EBUSY;
            }
        }
        char *p = hy_realloc(c->rdata, cap);
        if (!p)
            return HY_ENOMEM;
        wait_leave(c);
        srv->buffered_bytes += cap - c->rcap;
        if (!c->admitted)
            srv->budget.head_bytes += cap - c->rcap;
        c->rdata = p;
        c->rcap = cap;
    }
    size_t ask = c->rcap - c->rlen;
    if (ask > room - used)
        ask = room - used;
    ssize_t n;
    do {
        n = read(c->fd, c->rdata + c->rlen, ask);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? HY_EAGAIN : -errno;
    if (n == 0)
        return 0;
    c->rlen += (size_t)n;
    /* A short read drained the socket; the next arrival raises a new edge. Not so once the
     * peer has shut down: that edge may already be spent, so read on until EOF. */
    if ((size_t)n < ask && !c->rdhup && !c->hup)
        c->can_read = false;
    return n;
}

/* Write pending output. Returns 0 (all written or the socket is full) or -errno. */
static int conn_flush(struct http_conn *c)
{
    while (c->wpos < c->wbuf.len) {
        ssize_t n = send(c->fd, c->wbuf.data + c->wpos, c->wbuf.len - c->wpos, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->can_write = false;
                return 0;
            }
            return -errno;
        }
        c->wpos += (size_t)n;
        c->active_ms = c->srv->now_ms;
    }
    c->wpos = 0;
    if (c->wbuf.cap > WBUF_KEEP)
        buf_fini(&c->wbuf);
    else
        buf_reset(&c->wbuf);
    return 0;
}

static size_t put_str(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return n;
}

static size_t put_uint(char *o, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        o[i] = tmp[n - 1 - i];
    return n;
}

/* Append a whole response to wbuf, or nothing (returns HY_E2BIG / HY_ENOMEM). */
static int append_response(struct http_conn *c, int status, const char *headers, const char *body,
                           size_t body_len, bool keep_alive, bool http10)
{
    struct http_server *srv = c->srv;
    size_t hdr_len = headers ? strlen(headers) : 0;
    if (status < 100 || status > 999)
        status = 500;
    /* RFC 9110 6.4.1: 1xx, 204 and 304 have no content; HEAD gets the length but no bytes. */
    bool no_content = (status >= 100 && status < 200) || status == 204 || status == 304;
    bool send_length = !(status >= 100 && status < 200) && status != 204;
    bool send_body = !no_content && !c->head_req;
    const char *reason = status_reason(status);
    size_t reason_len = strlen(reason);

    refresh_date(srv);
    size_t total =
        13 + reason_len + 2 + srv->date_len + 40 + hdr_len + 32 + 2 + (send_body ? body_len : 0);
    int rc = buf_reserve(&c->wbuf, total);
    if (rc)
        return rc;
    char *start = c->wbuf.data + c->wbuf.len;
    char *o = start;
    o += put_str(o, "HTTP/1.1 ", 9);
    o += put_uint(o, (size_t)status);
    *o++ = ' ';
    o += put_str(o, reason, reason_len);
    o += put_str(o, "\r\n", 2);
    o += put_str(o, srv->date, srv->date_len);
    if (send_length) {
        o += put_str(o, "Content-Length: ", 16);
        o += put_uint(o, body_len);
        o += put_str(o, "\r\n", 2);
    }
    if (hdr_len)
        o += put_str(o, headers, hdr_len);
    if (!keep_alive)
        o += put_str(o, "Connection: close\r\n", 19);
    else if (http10)
        o += put_str(o, "Connection: keep-alive\r\n", 24);
    o += put_str(o, "\r\n", 2);
    if (send_body && body_len)
        o += put_str(o, body, body_len);
    HY_ASSERT((size_t)(o - start) <= total);
    c->wbuf.len += (size_t)(o - start);
    c->wbuf.data[c->wbuf.len] = '\0';
    return 0;
}

/* Answer a request the server itself rejects, then close. Input is discarded. */
static void conn_error(struct http_conn *c, int status, const char *reason)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%s\n", reason ? reason : status_reason(status));
    size_t len = n > 0 && (size_t)n < sizeof body ? (size_t)n : 0;
    LOG_DEBUG("http", "request rejected", "status=%d", status);
    c->head_req = false;
    if (append_response(c, status, "Content-Type: text/plain\r\n", body, len, false, false))
        c->wpos = c->wbuf.len; /* nothing could be queued; just close */
    c->close_after = true;
    c->rlen = c->rstart = 0;
    wait_leave(c);
    admit_end(c);
    stream_end(c);
    http_parse_reset(&c->parser);
}

/* After a closing answer: stop sending and drain what the client still sends, so the kernel
 * does not answer unread input with a reset that could destroy our response in flight. */
static void conn_linger(struct http_conn *c)
{
    char scratch[16384];
    size_t total = 0;
    while (c->can_read && total < LINGER_READ_MAX) {
        ssize_t n = read(c->fd, scratch, sizeof scratch);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_read = false;
            return;
        }
        conn_close(c); /* EOF or error: done */
        return;
    }
}

static void conn_start_linger(struct http_conn *c)
{
    if (shutdown(c->fd, SHUT_WR) < 0) {
        conn_close(c);
        return;
    }
    c->lingering = true;
    c->linger_until_ms = c->srv->now_ms + LINGER_MS;
    c->can_read = true; /* read at least once: input may be waiting with its edge spent */
    wait_leave(c);
    admit_end(c); /* a request abandoned at EOF still held its reservation */
    rbuf_release(c);
    conn_linger(c);
}

/* ---------------------------------------------------------------------------------------------
 * The per-connection state machine
 */

static void conn_dispatch(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    const struct http_request *req = &c->parser.req;
    c->ex_active = true;
    srv->num_exchanges++;
    c->head_req = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
    c->keep_alive = c->parser.keep_alive && !c->peer_eof;
    c->in_handler = true;
    srv->handler(&c->ex, req, srv->ud);
    c->in_handler = false;
}

/* A big body (parser.big): open the stream once the head is parsed, then pass the body bytes
 * buffered after the head to it and drop them, keeping bytes past the body (pipelining). *avail
 * is the bytes buffered from rstart. Returns 1 when the whole body went through (the request is
 * then ready for the handler, c->req_len set), 0 for more input, -1 when refused. */
static int stream_step(struct http_conn *c, size_t *avail)
{
    struct http_server *srv = c->srv;
    struct http_parser *p = &c->parser;
    if (!c->sized) {
        p->req.body = NULL;
        p->req.body_len = 0;
        c->stream =
            srv->streamer ? srv->streamer(&p->req, p->content_length, srv->stream_ud) : NULL;
        if (!c->stream)
            return -1;
        c->stream_left = p->content_length;
        c->sized = true; /* no reservation: only a head-sized buffer is held */
    }
    char *body = c->rdata + c->rstart + p->head_len;
    size_t have = *avail - p->head_len;
    size_t n = have < c->stream_left ? have : (size_t)c->stream_left;
    if (n) {
        if (!c->continue_sent)
            c->continue_sent = true; /* the body is already coming */
        (void)c->stream->write(c->stream, body, n);
        c->stream_left -= n;
        memmove(body, body + n, have - n);
        c->rlen -= n;
        *avail -= n;
    }
    if (c->stream_left)
        return 0;
    /* Rebuild the head's views (the buffer may have moved since it was parsed). */
    p->last_len = 0;
    p->stage = HTTP_PARSE_HEAD;
    struct http_body_stream *s = c->stream;
    size_t hl = p->head_len;
    ssize_t r = http_parse_feed(p, c->rdata + c->rstart, &hl);
    HY_ASSERT(r == HY_EAGAIN && p->big); /* the same valid head parses again */
    p->stage = HTTP_PARSE_DONE;
    p->req.body = NULL;
    p->req.body_len = 0;
    p->req.stream = s;
    c->stream = NULL; /* the handler owns it now */
    c->req_len = p->head_len;
    return 1;
}

static void conn_process(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    if (c->closed || c->fd < 0)
        return;
    if (c->hup && c->ex_active) {
        conn_drop(c);
        return;
    }
    for (;;) {
        if (c->wpos < c->wbuf.len && c->can_write) {
            if (conn_flush(c) < 0) {
                conn_drop(c);
                return;
            }
        }
        bool wpending = c->wpos < c->wbuf.len;
        if (c->ex_active)
            return;
        if (c->lingering) {
            conn_linger(c);
            return;
        }
        if (c->close_after) {
            if (!wpending)
                conn_start_linger(c);
            return;
        }
        if (wpending && c->wbuf.len - c->wpos > WBUF_HIGH)
            return;

        if (c->rlen > c->rstart) {
            size_t avail = c->rlen - c->rstart;
            ssize_t r = http_parse_feed(&c->parser, c->rdata + c->rstart, &avail);
            c->rlen = c->rstart + avail;
            if (r > 0) {
                c->req_len = (size_t)r;
                conn_dispatch(c);
                continue;
            }
            if (r != HY_EAGAIN) {
                conn_error(c, c->parser.status, c->parser.reason);
                continue;
            }
            if (c->parser.big) {
                int sr = stream_step(c, &avail);
                if (sr > 0) {
                    conn_dispatch(c);
                    continue;
                }
                if (sr < 0) {
                    conn_error(c, 413, "request body too large");
                    continue;
                }
            }
            /* Head complete, body to come: reserve before reading it (or wait in line). */
            else if (!c->sized && c->parser.stage != HTTP_PARSE_HEAD && !conn_admit(c))
                return;
            if (!c->continue_sent && http_parse_wants_continue(&c->parser, avail)) {
                c->continue_sent = true;
                if (buf_append(&c->wbuf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0)
                    continue;
            }
        }
        if (c->peer_eof) {
            /* Nothing more can complete; a partial request is abandoned without an answer. */
            c->close_after = true;
            continue;
        }
        if (srv->stopping && c->rlen == c->rstart && !wpending) {
            conn_close(c);
            return;
        }
        if (!c->can_read)
            return;
        ssize_t n = conn_read(c);
        if (n > 0) {
            c->active_ms = srv->now_ms;
            if (!c->started_ms)
                c->started_ms = srv->now_ms;
            continue;
        }
        if (n == 0) {
            c->peer_eof = true;
            continue;
        }
        if (n == HY_EAGAIN) {
            c->can_read = false;
            continue;
        }
        if (n == HY_EBUSY)
            return; /* queued; woken by wake_head() when head memory is released */
        if (n == HY_E2BIG || n == HY_ENOMEM) {
            conn_error(c, n == HY_ENOMEM ? 503 : 413, NULL);
            continue;
        }
        conn_drop(c);
        return;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Exchanges
 */

void http_respond(struct http_exchange *ex, int status, const char *headers, const char *body,
                  size_t body_len)
{
    struct http_conn *c = ex->conn;
    struct http_server *srv = c->srv;
    HY_ASSERT(c->ex_active);
    c->ex_active = false;
    srv->num_exchanges--;
    if (c->fd < 0) {
        conn_close(c); /* orphan: the client left; only memory to release */
        return;
    }
    bool keep = c->keep_alive && !srv->stopping;
    int rc =
        append_response(c, status, headers, body, body_len, keep, c->parser.req.minor_version == 0);
    if (rc) {
        LOG_WARN("http", "response dropped", "status=%d err=%s bytes=%zu", status, hy_errname(rc),
                 body_len);
        keep = false;
    }
    c->rstart += c->req_len;
    if (c->rstart >= c->rlen)
        c->rstart = c->rlen = 0;
    c->req_len = 0;
    bool was_admitted = c->admitted;
    admit_end(c);
    http_parse_reset(&c->parser);
    c->continue_sent = false;
    c->head_req = false;
    c->active_ms = srv->now_ms;
    c->started_ms = c->rlen > c->rstart ? srv->now_ms : 0;
    if (!keep)
        c->close_after = true;
    /* An idle buffer is given back when it is big or others wait for head memory; a big one
     * holding pipelined bytes shrinks to them. */
    if (c->rlen == 0 && (c->rcap > RBUF_KEEP || srv->wait_first.head || srv->wait_grow.head))
        rbuf_release(c);
    else if (was_admitted && c->rcap > RBUF_KEEP)
        rbuf_shrink(c);
    if (!c->in_handler)
        conn_mark_pending(c);
}

struct http_server *http_exchange_server(struct http_exchange *ex)
{
    return ex->conn->srv;
}

const struct http_header *http_request_header(const struct http_request *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name && h->name_len == len && strncasecmp(h->name, name, len) == 0)
            return h;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Server
 */

struct http_server *http_server_new(const struct http_config *cfg, http_handler_fn handler,
                                    void *ud)
{
    struct http_server *srv = hy_calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    if (cfg)
        srv->cfg = *cfg;
    else
        http_config_default(&srv->cfg);
    srv->handler = handler;
    srv->ud = ud;
    http_budget_init(&srv->budget, srv->cfg.max_buffered_bytes);
    srv->warn_ms = INT64_MIN / 2;
    srv->listen_fd = -1;
    srv->event_fd = -1;
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->epfd < 0)
        goto fail;
    srv->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->event_fd < 0)
        goto fail_epoll;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->event_tag};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->event_fd, &ev) < 0)
        goto fail_event;
    if (pthread_mutex_init(&srv->post_lock, NULL) != 0)
        goto fail_event;
    atomic_init(&srv->stop_requested, 0);
    return srv;

fail_event:
    close(srv->event_fd);
fail_epoll:
    close(srv->epfd);
fail:
    hy_free(srv);
    return NULL;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            LOG_WARN("http", "cannot raise open-file limit", "err=%d", errno);
    }
}

/* Split "host:port" or "[v6]:port" into host (empty = any) and port. */
static int split_addr(const char *addr, char *host, size_t host_size, const char **port)
{
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':')
            return HY_EINVAL;
        h = addr + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return HY_EINVAL;
        hlen = (size_t)(colon - addr);
    }
    if (hlen >= host_size || colon[1] == '\0')
        return HY_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return 0;
}

int http_server_listen(struct http_server *srv, const char *addr)
{
    char host[256];
    const char *port;
    if (srv->sibling || srv->listen_fd >= 0)
        return HY_EINVAL;
    int rc = split_addr(addr, host, sizeof host, &port);
    if (rc)
        return rc;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
        return HY_EINVAL;

    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto fail_addr;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        rc = -errno;
        goto fail_sock;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        rc = -errno;
        goto fail_sock;
    }
    srv->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->listen_tag};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        rc = -errno;
        goto fail_sock;
    }
    freeaddrinfo(res);
    srv->listen_fd = fd;
    raise_nofile();
    return 0;

fail_sock:
    close(fd);
fail_addr:
    freeaddrinfo(res);
    return rc;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

void http_server_stats(const struct http_server *srv, struct http_stats *out)
{
    out->connections = srv->num_live;
    out->exchanges = srv->num_exchanges;
    out->blocked = srv->wait_first.n + srv->wait_grow.n + srv->wait_body.n;
    out->waiting_body = srv->wait_body.n;
    out->buffered_bytes = srv->buffered_bytes;
    out->head_bytes = srv->budget.head_bytes;
    out->body_reserved_bytes = srv->budget.body_bytes;
}

/* Queue an item and wake the loop. The loop reads the eventfd before taking the list, so one
 * wake per empty->non-empty transition is enough. */
static void post_push(struct http_server *srv, struct post_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&srv->post_lock);
    bool was_empty = !srv->post_head;
    if (srv->post_tail)
        srv->post_tail->next = it;
    else
        srv->post_head = it;
    srv->post_tail = it;
    pthread_mutex_unlock(&srv->post_lock);
    if (was_empty)
        wake_loop(srv);
}

/* Next loop for an accepted socket. Siblings already told to stop are skipped so new clients do
 * not land on a loop that would close them at once; the primary is never stopping here (it
 * closes its listener first). */
static struct http_server *pick_loop(struct http_server *srv)
{
    size_t total = srv->num_loops + 1;
    for (size_t tries = 0; tries < total; tries++) {
        size_t i = srv->next_loop;
        srv->next_loop = (i + 1) % total;
        if (i == 0)
            return srv;
        struct http_server *loop = srv->loops[i - 1];
        if (!atomic_load(&loop->stop_requested))
            return loop;
    }
    return srv;
}

/* Give an accepted socket to a sibling loop; on allocation failure the client is dropped. */
static void hand_off(struct http_server *loop, int fd)
{
    struct post_item *it = hy_malloc(sizeof *it);
    if (!it) {
        close(fd);
        return;
    }
    it->fn = NULL;
    it->arg = NULL;
    it->fd = fd;
    post_push(loop, it);
}

/* Sibling side of hand_off(), on the sibling's thread (or in http_server_free, when stopping is
 * set, so a socket handed over during shutdown is closed rather than leaked). */
static void adopt_fd(struct http_server *srv, int fd)
{
    if (srv->stopping || srv->num_live >= srv->cfg.max_connections) {
        close(fd);
        return;
    }
    conn_new(srv, fd);
}

static void accept_all(struct http_server *srv)
{
    for (;;) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered listener would spin: step back until the next sweep. */
                LOG_WARN("http", "accept paused", "err=%d", errno);
                epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listen_fd, NULL);
                srv->accept_paused = true;
                srv->accept_resume_ms = srv->now_ms + SWEEP_MS;
            }
            return;
        }
        struct http_server *loop = srv->num_loops ? pick_loop(srv) : srv;
        if (loop != srv) {
            hand_off(loop, fd); /* the sibling checks its own connection limit */
            continue;
        }
        if (srv->num_live >= srv->cfg.max_connections) {
            close(fd); /* at the limit: refuse quickly instead of queueing unboundedly */
            continue;
        }
        conn_new(srv, fd);
    }
}

static bool posts_empty(struct http_server *srv)
{
    pthread_mutex_lock(&srv->post_lock);
    bool empty = !srv->post_head;
    pthread_mutex_unlock(&srv->post_lock);
    return empty;
}

static void run_posted(struct http_server *srv)
{
    pthread_mutex_lock(&srv->post_lock);
    struct post_item *it = srv->post_head;
    srv->post_head = srv->post_tail = NULL;
    pthread_mutex_unlock(&srv->post_lock);
    while (it) {
        struct post_item *next = it->next;
        if (it->fn)
            it->fn(it->arg);
        else
            adopt_fd(srv, it->fd);
        hy_free(it);
        it = next;
    }
}

int http_server_post(struct http_server *srv, void (*fn)(void *arg), void *arg)
{
    struct post_item *it = hy_malloc(sizeof *it);
    if (!it)
        return HY_ENOMEM;
    it->fn = fn;
    it->arg = arg;
    it->fd = -1;
    post_push(srv, it);
    return 0;
}

int http_server_add_loops(struct http_server *primary, struct http_server *const *loops, size_t n)
{
    if (primary->loops || (n && !loops))
        return HY_EINVAL;
    for (size_t i = 0; i < n; i++) {
        struct http_server *l = loops[i];
        /* A sibling that listens or deals sockets itself would make two owners of the choice. */
        if (!l || l == primary || l->listen_fd >= 0 || l->num_loops)
            return HY_EINVAL;
    }
    if (n == 0)
        return 0;
    struct http_server **copy = hy_malloc(n * sizeof *copy);
    if (!copy)
        return HY_ENOMEM;
    memcpy(copy, loops, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i]->sibling = true;
    primary->loops = copy;
    primary->num_loops = n;
    primary->next_loop = 0;
    return 0;
}

void http_server_stop(struct http_server *srv)
{
    atomic_store(&srv->stop_requested, 1);
    wake_loop(srv);
}

static void begin_stop(struct http_server *srv)
{
    srv->stopping = true;
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    for (struct http_conn *c = srv->conns; c; c = c->next)
        conn_mark_pending(c);
}

/* Evict a request holding memory others wait for: 408 and close (the answer says why). */
static void conn_evict(struct http_conn *c, const char *reason)
{
    struct http_server *srv = c->srv;
    LOG_DEBUG("http", "evicting a request that holds memory others wait for",
              "admitted=%d idle_ms=%lld age_ms=%lld buffered=%zu", (int)c->admitted,
              (long long)(srv->now_ms - c->active_ms),
              (long long)(srv->now_ms - (c->admitted ? c->admit_ms : c->started_ms)),
              c->rlen - c->rstart);
    srv->evictions++;
    conn_error(c, 408, reason);
    conn_mark_pending(c);
}

/* While others wait for a pool, its holders that do not use what they hold lose it: heads (and
 * small requests) still arriving after HEAD_STALL_MS, admitted bodies silent for BODY_STALL_MS
 * or slower than BODY_MIN_RATE on average. Without waiters nobody is evicted; the request
 * timeout alone applies. Idle keep-alive buffers are simply released. */
static void sweep_budget(struct http_server *srv, struct http_conn *c, int64_t now)
{
    bool head_wait = srv->wait_first.head || srv->wait_grow.head;
    if (c->admitted) {
        if (!srv->wait_body.head)
            return;
        int64_t age = now - c->admit_ms;
        size_t used = c->rlen - c->rstart;
        size_t got = used > c->admit_used ? used - c->admit_used : 0;
        if (now - c->active_ms >= BODY_STALL_MS)
            conn_evict(c, "request body stalled while others wait for memory");
        else if (age >= BODY_STALL_MS && got / (size_t)age < BODY_MIN_RATE)
            conn_evict(c, "request body too slow while others wait for memory");
        return;
    }
    if (!head_wait || c->wlist == &srv->wait_body)
        return;
    if (c->rlen == c->rstart) {
        if (c->rcap)
            rbuf_release(c); /* idle keep-alive connection: its next request starts afresh */
    } else if (c->started_ms && now - c->started_ms >= HEAD_STALL_MS) {
        conn_evict(c, "request head too slow while others wait for memory");
    }
}

static void sweep(struct http_server *srv)
{
    int64_t now = srv->now_ms;
    if (srv->accept_paused && now >= srv->accept_resume_ms && srv->listen_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->listen_tag};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->listen_fd, &ev) == 0)
            srv->accept_paused = false;
        else
            srv->accept_resume_ms = now + SWEEP_MS;
    }
    struct http_conn *next;
    for (struct http_conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->fd < 0 || c->ex_active)
            continue; /* the handler owns the pace of an open exchange */
        if (c->lingering) {
            if (now >= c->linger_until_ms)
                conn_close(c);
        } else if (c->wpos < c->wbuf.len) {
            if (now - c->active_ms > srv->cfg.idle_timeout_ms)
                conn_close(c); /* the client stopped reading */
        } else if (c->close_after) {
            continue;
        } else if (c->started_ms && now - c->started_ms > srv->cfg.request_timeout_ms) {
            conn_error(c, 408, "request not complete in time");
            conn_mark_pending(c);
        } else {
            if (srv->wait_first.head || srv->wait_grow.head || srv->wait_body.head)
                sweep_budget(srv, c, now);
            if (!c->started_ms && !c->close_after && now - c->active_ms > srv->cfg.idle_timeout_ms)
                conn_close(c);
        }
    }
}

int http_server_run(struct http_server *srv)
{
    struct epoll_event evs[MAX_EVENTS];
    srv->now_ms = hytime_mono_ms();
    srv->next_sweep_ms = srv->now_ms + SWEEP_MS;
    for (;;) {
        int timeout = 0;
        if (!srv->pending_head) {
            int64_t left = srv->next_sweep_ms - hytime_mono_ms();
            timeout = left < 0 ? 0 : (int)left;
        }
        int n = epoll_wait(srv->epfd, evs, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno != EINTR)
                return -errno;
            n = 0;
        }
        srv->now_ms = hytime_mono_ms();
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (tag == &srv->listen_tag) {
                if (srv->listen_fd >= 0)
                    accept_all(srv);
            } else if (tag == &srv->event_tag) {
                uint64_t v;
                ssize_t r = read(srv->event_fd, &v, sizeof v);
                (void)r;
                run_posted(srv);
            } else {
                struct http_conn *c = tag;
                if (e & (EPOLLIN | EPOLLRDHUP))
                    c->can_read = true;
                if (e & EPOLLOUT)
                    c->can_write = true;
                if (e & EPOLLRDHUP)
                    c->rdhup = true;
                if (e & (EPOLLERR | EPOLLHUP)) {
                    c->hup = true;
                    c->can_read = c->can_write = true;
                }
                conn_mark_pending(c);
            }
        }
        if (atomic_load(&srv->stop_requested) && !srv->stopping)
            begin_stop(srv);
        if (srv->now_ms >= srv->next_sweep_ms) {
            sweep(srv);
            srv->next_sweep_ms = srv->now_ms + SWEEP_MS;
        }
        while (srv->pending_head) {
            struct http_conn *c = srv->pending_head;
            srv->pending_head = c->pending_next;
            if (!srv->pending_head)
                srv->pending_tail = NULL;
            c->pending = false;
            conn_process(c);
        }
        free_graveyard(srv);
        if (srv->stopping && srv->num_live == 0 && srv->num_exchanges == 0 && posts_empty(srv))
            break;
    }
    return 0;
}

void http_server_set_streamer(struct http_server *srv, http_stream_fn fn, void *ud,
                              uint64_t max_stream_bytes)
{
    srv->streamer = fn;
    srv->stream_ud = ud;
    srv->max_stream_bytes = max_stream_bytes;
}

void http_server_free(struct http_server *srv)
{
    if (!srv)
        return;
    /* Posts accepted after the loop ended still get their one call; sockets handed over after
     * this loop finished are closed by adopt_fd(). */
    srv->stopping = true;
    while (!posts_empty(srv))
        run_posted(srv);
    while (srv->conns) {
        struct http_conn *c = srv->conns;
        srv->conns = c->next;
        if (c->fd >= 0)
            close(c->fd);
        conn_free(c);
    }
    free_graveyard(srv);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    close(srv->event_fd);
    close(srv->epfd);
    pthread_mutex_destroy(&srv->post_lock);
    hy_free(srv->loops);
    hy_free(srv);
}
