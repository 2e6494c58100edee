/*
 * statsd: Prometheus text in, statsd lines out, one UDP socket.
 */
#include "net/statsd.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"

#define MAX_SOURCES 8
#define MAX_SERIES 512
#define DGRAM_MAX 1400

struct series {
    char name[200];
    double last;
};

struct statsd {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char prefix[64];
    int interval_ms;
    statsd_source_fn fn[MAX_SOURCES];
    void *ud[MAX_SOURCES];
    int nsources;
    struct series *seen; /* MAX_SERIES */
    int nseen;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

struct statsd *statsd_new(const char *addr, const char *prefix, int interval_ms)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1])
        return NULL;
    char host[256];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host)
        return NULL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return NULL;
    struct statsd *s = hy_calloc(1, sizeof *s);
    if (s)
        s->seen = hy_calloc(MAX_SERIES, sizeof *s->seen);
    if (!s || !s->seen) {
        if (s)
            hy_free(s->seen);
        hy_free(s);
        freeaddrinfo(res);
        return NULL;
    }
    s->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    if (s->fd < 0) {
        hy_free(s->seen);
        hy_free(s);
        return NULL;
    }
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "hydrant.");
    s->interval_ms = interval_ms > 0 ? interval_ms : 10000;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    return s;
}

int statsd_add_source(struct statsd *s, statsd_source_fn fn, void *ud)
{
    if (s->nsources == MAX_SOURCES)
        return HY_E2BIG;
    s->fn[s->nsources] = fn;
    s->ud[s->nsources++] = ud;
    return 0;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && memcmp(s + n - k, suf, k) == 0;
}

/* "name{a=\"x\",b=\"y\"} 12.5" -> "name.x.y" and 12.5. 0, or -1 for a line to skip. */
static int parse_line(const char *line, size_t len, char *name, size_t size, size_t *base_len,
                      double *value)
{
    if (!len || line[0] == '#')
        return -1;
    size_t o = 0, i = 0;
    for (; i < len && line[i] != '{' && line[i] != ' '; i++)
        if (o + 1 < size)
            name[o++] = line[i];
    *base_len = o;
    if (i < len && line[i] == '{') {
        for (i++; i < len && line[i] != '}'; i++) {
            if (line[i] != '"')
                continue;
            if (o + 1 < size)
                name[o++] = '.';
            for (i++; i < len && line[i] != '"'; i++) {
                char c = line[i];
                /* statsd names: keep [A-Za-z0-9_-]; the rest becomes '_' */
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                    c = '_';
                if (o + 1 < size)
                    name[o++] = c;
            }
        }
        i++;
    }
    name[o] = '\0';
    while (i < len && line[i] == ' ')
        i++;
    if (i >= len)
        return -1;
    char num[64];
    size_t nl = len - i < sizeof num - 1 ? len - i : sizeof num - 1;
    memcpy(num, line + i, nl);
    num[nl] = '\0';
    char *end = NULL;
    *value = strtod(num, &end);
    return end && end != num ? 0 : -1;
}

static void flush_dgram(struct statsd *s, struct buf *d)
{
    if (d->len && s->fd >= 0)
        (void)sendto(s->fd, d->data, d->len, MSG_DONTWAIT, (struct sockaddr *)&s->addr,
                     s->addr_len);
    buf_reset(d);
}

/* Append one statsd line for a series; counters only when they moved. */
static int emit(struct statsd *s, struct buf *out, const char *name, size_t base_len, double v)
{
    int counter = ends_with(name, base_len, "_total") || ends_with(name, base_len, "_sum") ||
                  ends_with(name, base_len, "_count");
    struct series *e = NULL;
    for (int k = 0; k < s->nseen; k++)
        if (strcmp(s->seen[k].name, name) == 0)
            e = &s->seen[k];
    double prev = 0;
    if (e) {
        prev = e->last;
    } else if (s->nseen < MAX_SERIES) {
        e = &s->seen[s->nseen++];
        snprintf(e->name, sizeof e->name, "%s", name);
    }
    if (e)
        e->last = v;
    /* The prefix already says hydrant: "hydrant_auth_x" is pushed as "<prefix>auth_x". */
    const char *shown = strncmp(name, "hydrant_", 8) == 0 ? name + 8 : name;
    if (counter) {
        double delta = v - prev;
        if (delta <= 0)
            return 0;
        return buf_printf(out, "%s%s:%.6g|c\n", s->prefix, shown, delta);
    }
    return buf_printf(out, "%s%s:%.6g|g\n", s->prefix, shown, v);
}

int statsd_render(struct statsd *s, struct buf *out)
{
    struct buf text;
    int rc = 0;
    for (int k = 0; k < s->nsources && !rc; k++) {
        buf_init(&text, 1 << 20);
        rc = s->fn[k](s->ud[k], &text);
        const char *p = text.data, *end = text.data + text.len;
        while (!rc && p && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            char name[200];
            size_t base_len;
            double v;
            if (parse_line(p, len, name, sizeof name, &base_len, &v) == 0)
                rc = emit(s, out, name, base_len, v);
            p = nl ? nl + 1 : end;
        }
        buf_fini(&text);
    }
    return rc;
}

/* Render and send, split into datagrams at line boundaries. */
static void push(struct statsd *s)
{
    struct buf all, d;
    buf_init(&all, 4 << 20);
    buf_init(&d, DGRAM_MAX + 256);
    if (statsd_render(s, &all) == 0) {
        const char *p = all.data, *end = all.data + all.len;
        while (p && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            if (d.len + len > DGRAM_MAX)
                flush_dgram(s, &d);
            if (buf_append(&d, p, len) != 0)
                break;
            p += len;
        }
        flush_dgram(s, &d);
    }
    buf_fini(&d);
    buf_fini(&all);
}

static void *run(void *arg)
{
    struct statsd *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->interval_ms / 1000;
        until.tv_nsec += (long)(s->interval_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&s->mu);
        push(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int statsd_start(struct statsd *s)
{
    int rc = pthread_create(&s->thread, NULL, run, s);
    if (rc)
        return -rc;
    s->started = 1;
    return 0;
}

void statsd_free(struct statsd *s)
{
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL); /* the loop pushes once more on its way out */
    }
    close(s->fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    hy_free(s->seen);
    hy_free(s);
}
