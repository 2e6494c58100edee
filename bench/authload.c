/*
 * authload: a small closed-loop HTTP/1.1 GET load generator for the OIDC gate benchmark
 * (bench/auth.sh): N keep-alive connections on one epoll thread, one request in flight each, the
 * same request bytes every time (a token header file is read once). Prints one markdown row:
 * label, req/s, p50/p99/max latency in microseconds, and the status classes seen.
 *
 *   authload HOST PORT PATH HEADER_FILE CONNECTIONS SECONDS LABEL
 *
 * HEADER_FILE holds extra header lines ("Name: value\r\n" each). Self-contained (no hydrant code):
 * the benchmark must not depend on what it measures.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t sent;
    char in[16384];
    size_t got;
    double t0;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_u32(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static char req[65536];
static size_t req_len;

static int open_conn(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* A complete response in c->in? Returns its length, 0 if not yet. */
static size_t complete(struct conn *c, int *status)
{
    c->in[c->got < sizeof c->in ? c->got : sizeof c->in - 1] = '\0';
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end)
        return 0;
    size_t head = (size_t)(end + 4 - c->in);
    size_t cl = 0;
    for (char *p = c->in; p < end; p++)
        if ((*p == 'C' || *p == 'c') && strncasecmp(p, "Content-Length:", 15) == 0)
            cl = strtoul(p + 15, NULL, 10);
    if (c->got < head + cl)
        return 0;
    *status = atoi(c->in + 9);
    return head + cl;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: authload HOST PORT PATH HEADER_FILE CONNECTIONS SECONDS LABEL\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    char hdrs[60000] = "";
    FILE *f = fopen(argv[4], "rb");
    size_t hl = f ? fread(hdrs, 1, sizeof hdrs - 1, f) : 0;
    if (f)
        fclose(f);
    hdrs[hl] = '\0';
    req_len = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", argv[3],
                               host, port, hdrs);
    int n = atoi(argv[5]);
    double secs = atof(argv[6]);
    struct conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(0);
    size_t cap = 1 << 22, ns = 0;
    unsigned *lat = malloc(cap * sizeof *lat);
    long st2 = 0, st4 = 0, st5 = 0, other = 0, reconnects = 0;
    double start = now_s(), stop = start + secs;
    for (int i = 0; i < n; i++) {
        cs[i].fd = open_conn(host, port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        cs[i].t0 = now_s();
        if (write(cs[i].fd, req, req_len) != (ssize_t)req_len) {
            perror("write");
            return 1;
        }
    }
    struct epoll_event evs[256];
    while (now_s() < stop) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->in + c->got, sizeof c->in - 1 - c->got);
            if (r <= 0) {
                /* The server closed (gunicorn's sync workers close every connection; nginx after
                 * keepalive_requests): reconnect and send the request again. The reconnect counts
                 * in that request's latency, as it does for a real client. */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = open_conn(host, port);
                c->got = 0;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                reconnects++;
                if (write(c->fd, req, req_len) != (ssize_t)req_len) {
                    perror("write");
                    return 1;
                }
                continue;
            }
            c->got += (size_t)r;
            int status = 0;
            size_t used = complete(c, &status);
            if (!used)
                continue;
            double t = now_s();
            if (ns < cap)
                lat[ns++] = (unsigned)((t - c->t0) * 1e6);
            if (status / 100 == 2)
                st2++;
            else if (status / 100 == 4)
                st4++;
            else if (status / 100 == 5)
                st5++;
            else
                other++;
            memmove(c->in, c->in + used, c->got - used);
            c->got -= used;
            c->t0 = t;
            if (write(c->fd, req, req_len) != (ssize_t)req_len) {
                perror("write");
                return 1;
            }
        }
    }
    double el = now_s() - start;
    qsort(lat, ns, sizeof *lat, cmp_u32);
    unsigned p50 = ns ? lat[ns / 2] : 0, p99 = ns ? lat[(size_t)(ns * 0.99)] : 0;
    unsigned mx = ns ? lat[ns - 1] : 0;
    printf("| %s | %.0f | %u | %u | %u | %ld/%ld/%ld/%ld | %ld |\n", argv[7], ns / el, p50, p99, mx,
           st2, st4, st5, other, reconnects);
    return 0;
}
