/*
 * tzone: TZif reader (tzone.h). Only the version 2+ 64-bit data block is used: transition times,
 * their type indexes, and each type's UT offset.
 */
#include "pipeline/tzone.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"

#define ZONEINFO "/usr/share/zoneinfo/"
#define TZIF_MAX (1u << 20)

struct tzone {
    size_t n;        /* transitions */
    int64_t *at;     /* transition times, ascending */
    int32_t *offset; /* offset from each transition on */
    int32_t before;  /* offset before the first transition */
};

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int name_ok(const char *name)
{
    if (!name[0] || name[0] == '/' || strstr(name, "..") || strlen(name) > 64)
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '/' || *c == '_' || *c == '-' || *c == '+'))
            return 0;
    return 1;
}

/* Counts of a TZif header at p (44 bytes): isut, isstd, leap, time, type, char. */
static void counts(const unsigned char *p, uint32_t c[6])
{
    for (int i = 0; i < 6; i++)
        c[i] = be32(p + 20 + 4 * i);
}

static int parse(const unsigned char *p, size_t len, struct tzone *z)
{
    uint32_t c[6];
    if (len < 44 || memcmp(p, "TZif", 4) != 0 || p[4] < '2')
        return HY_EBADMSG;
    counts(p, c);
    /* Skip the version 1 (32-bit) block. */
    uint64_t v1 =
        44 + (uint64_t)c[3] * 5 + (uint64_t)c[4] * 6 + c[5] + (uint64_t)c[2] * 8 + c[1] + c[0];
    if (v1 + 44 > len)
        return HY_EBADMSG;
    p += v1;
    len -= (size_t)v1;
    if (memcmp(p, "TZif", 4) != 0)
        return HY_EBADMSG;
    counts(p, c);
    uint32_t timecnt = c[3], typecnt = c[4];
    uint64_t need = 44 + (uint64_t)timecnt * 9 + (uint64_t)typecnt * 6;
    if (typecnt == 0 || need > len)
        return HY_EBADMSG;
    const unsigned char *times = p + 44, *idx = times + (size_t)timecnt * 8, *types = idx + timecnt;
    z->n = timecnt;
    z->at = hy_calloc(timecnt ? timecnt : 1, sizeof *z->at);
    z->offset = hy_calloc(timecnt ? timecnt : 1, sizeof *z->offset);
    if (!z->at || !z->offset)
        return HY_ENOMEM;
    for (uint32_t i = 0; i < timecnt; i++) {
        z->at[i] = (int64_t)(((uint64_t)be32(times + 8 * i) << 32) | be32(times + 8 * i + 4));
        if (idx[i] >= typecnt || (i > 0 && z->at[i] <= z->at[i - 1]))
            return HY_EBADMSG;
        z->offset[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    /* RFC 8536: before the first transition, the first type (type 0) applies. */
    z->before = (int32_t)be32(types);
    return 0;
}

int tzone_open(const char *name, struct tzone **out)
{
    char path[128];
    char *text = NULL;
    size_t len = 0;
    if (!name || !name_ok(name))
        return HY_EINVAL;
    snprintf(path, sizeof path, ZONEINFO "%s", name);
    int rc = fsutil_read_all(path, &text, &len, TZIF_MAX);
    if (rc < 0)
        return rc == -ENOENT || rc == -ENOTDIR || rc == -EISDIR ? HY_ENOTFOUND : rc;
    struct tzone *z = hy_calloc(1, sizeof *z);
    rc = z ? parse((const unsigned char *)text, len, z) : HY_ENOMEM;
    hy_free(text);
    if (rc < 0) {
        tzone_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

void tzone_free(struct tzone *z)
{
    if (!z)
        return;
    hy_free(z->at);
    hy_free(z->offset);
    hy_free(z);
}

int32_t tzone_offset(const struct tzone *z, int64_t epoch_s)
{
    if (!z)
        return 0;
    if (z->n == 0 || epoch_s < z->at[0])
        return z->before;
    size_t lo = 0, hi = z->n; /* the last transition at or before epoch_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= epoch_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->offset[lo];
}
