/* series: NAB CSV parsing (see series.h). */
#include "analytics/series.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"

#define SERIES_FILE_MAX ((size_t)1 << 31)

static int grow(struct series *s, size_t *cap)
{
    size_t ncap = *cap ? *cap * 2 : 1024;
    char(*ts)[SERIES_TS_MAX] = hy_realloc(s->ts, ncap * sizeof *ts);
    if (!ts)
        return HY_ENOMEM;
    s->ts = ts;
    double *v = hy_realloc(s->value, ncap * sizeof *v);
    if (!v)
        return HY_ENOMEM;
    s->value = v;
    *cap = ncap;
    return 0;
}

int series_parse(const char *text, size_t len, struct series *out, const char **why, size_t *line)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, pos = 0, ln = 0;
    int rc = 0;
    *why = NULL;
    *line = 0;
    while (pos < len) {
        const char *l = text + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - l) : len - pos;
        pos += ll + (nl ? 1 : 0);
        ln++;
        if (ll && l[ll - 1] == '\r')
            ll--;
        if (ln == 1) {
            if (ll < 15 || memcmp(l, "timestamp,value", 15) != 0) {
                *why = "first line is not the header timestamp,value";
                goto bad;
            }
            continue;
        }
        if (ll == 0) {
            if (pos >= len)
                break;
            *why = "empty line";
            goto bad;
        }
        const char *comma = memchr(l, ',', ll);
        if (!comma || comma == l || (size_t)(comma - l) >= SERIES_TS_MAX) {
            *why = "expected timestamp,value";
            goto bad;
        }
        char num[64];
        size_t nl2 = ll - (size_t)(comma + 1 - l);
        if (nl2 == 0 || nl2 >= sizeof num) {
            *why = "bad value";
            goto bad;
        }
        memcpy(num, comma + 1, nl2);
        num[nl2] = 0;
        char *end = NULL;
        errno = 0;
        double v = strtod(num, &end);
        if (end == num || *end != 0 || !isfinite(v)) {
            *why = "bad value";
            goto bad;
        }
        if (out->n == cap && (rc = grow(out, &cap)) != 0)
            goto fail;
        size_t tl = (size_t)(comma - l);
        memcpy(out->ts[out->n], l, tl);
        out->ts[out->n][tl] = 0;
        out->value[out->n] = v;
        out->n++;
    }
    if (ln == 0) {
        *why = "empty file";
        goto bad;
    }
    return 0;
bad:
    *line = ln;
    rc = HY_EBADMSG;
fail:
    series_fini(out);
    return rc;
}

int series_read(const char *path, struct series *out, const char **why, size_t *line)
{
    char *text = NULL;
    size_t len = 0;
    *why = NULL;
    *line = 0;
    memset(out, 0, sizeof *out);
    int rc = fsutil_read_all(path, &text, &len, SERIES_FILE_MAX);
    if (rc != 0)
        return rc;
    rc = series_parse(text, len, out, why, line);
    hy_free(text);
    return rc;
}

long series_find(const struct series *s, const char *ts)
{
    size_t tl = strcspn(ts, ".");
    if (tl >= SERIES_TS_MAX)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        if (strncmp(s->ts[i], ts, tl) == 0 && s->ts[i][tl] == 0)
            return (long)i;
    return -1;
}

void series_fini(struct series *s)
{
    hy_free(s->ts);
    hy_free(s->value);
    memset(s, 0, sizeof *s);
}
