/*
 * log: JSON-lines logger. Each line is built in a stack buffer and written with one write(2) so
 * lines from different threads never interleave. Extra fields come from a "k=v k=v" format; every
 * value is emitted as a JSON string. Lines longer than the buffer are truncated, never split.
 */
#include "base/log.h"

#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_level_current = LOG_LEVEL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s, int *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return HY_EINVAL;
}

void log_set_level(int level)
{
    log_level_current = level;
}

struct line {
    char buf[4096];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 2 - l->len; /* keep room for "}\n" */
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_json_str(struct line *l, const char *s, size_t n)
{
    put(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c == '\n') {
            put(l, "\\n", 2);
        } else if (c < 0x20) {
            int k = snprintf(esc, sizeof esc, "\\u%04x", c);
            put(l, esc, (size_t)k);
        } else {
            put(l, (const char *)&s[i], 1);
        }
    }
    put(l, "\"", 1);
}

void log_write(int level, const char *mod, const char *msg, const char *kv_fmt, ...)
{
    struct line l;
    l.len = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    size_t tn = strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
    tn += (size_t)snprintf(tbuf + tn, sizeof tbuf - tn, ".%03ldZ", ts.tv_nsec / 1000000);
    put(&l, "{\"ts\":\"", 7);
    put(&l, tbuf, tn);
    put(&l, "\",\"level\":\"", 11);
    const char *ln = level_names[level < 0 ? 0 : level > 3 ? 3 : level];
    put(&l, ln, strlen(ln));
    put(&l, "\",\"mod\":", 8);
    put_json_str(&l, mod, strlen(mod));
    put(&l, ",\"msg\":", 7);
    put_json_str(&l, msg, strlen(msg));

    char kv[2048];
    va_list ap;
    va_start(ap, kv_fmt);
    int n = vsnprintf(kv, sizeof kv, kv_fmt, ap);
    va_end(ap);
    if (n > 0) {
        size_t kvlen = (size_t)n < sizeof kv ? (size_t)n : sizeof kv - 1;
        size_t i = 0;
        while (i < kvlen) {
            while (i < kvlen && kv[i] == ' ')
                i++;
            size_t ks = i;
            while (i < kvlen && kv[i] != '=' && kv[i] != ' ')
                i++;
            if (i >= kvlen || kv[i] != '=') {
                continue; /* a word without '=' is ignored */
            }
            size_t ke = i++;
            size_t vs = i;
            while (i < kvlen && kv[i] != ' ')
                i++;
            if (ke == ks)
                continue;
            put(&l, ",", 1);
            put_json_str(&l, kv + ks, ke - ks);
            put(&l, ":", 1);
            put_json_str(&l, kv + vs, i - vs);
        }
    }
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
}
