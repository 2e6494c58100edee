/* anmodels: keyed detector instances and their checkpoint image (see anmodels.h). */
#include "analytics/anmodels.h"

#include <stdint.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/mem.h"

#define ANMODELS_MAGIC "HYAM"
#define ANMODELS_VERSION 1u

struct anmodel {
    char *key;
    size_t key_len;
    void *state;
};

struct anmodels {
    const struct detector_ops *ops;
    size_t max_keys;
    struct anmodel *v; /* in creation order: the image keeps it */
    size_t n, cap;
    size_t *index; /* open addressing over v: slot holds i + 1, 0 empty */
    size_t index_cap;
};

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    return h;
}

struct anmodels *anmodels_new(const struct detector_ops *ops, size_t max_keys)
{
    struct anmodels *m = hy_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ops = ops;
    m->max_keys = max_keys;
    return m;
}

void anmodels_free(struct anmodels *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        hy_free(m->v[i].key);
        hy_free(m->v[i].state);
    }
    hy_free(m->v);
    hy_free(m->index);
    hy_free(m);
}

size_t anmodels_count(const struct anmodels *m)
{
    return m->n;
}

static long find(const struct anmodels *m, const char *key, size_t len)
{
    if (!m->index_cap)
        return -1;
    for (size_t s = key_hash(key, len) & (m->index_cap - 1);; s = (s + 1) & (m->index_cap - 1)) {
        size_t i = m->index[s];
        if (i == 0)
            return -1;
        const struct anmodel *e = &m->v[i - 1];
        if (e->key_len == len && memcmp(e->key, key, len) == 0)
            return (long)(i - 1);
    }
}

static void index_put(size_t *index, size_t cap, const struct anmodel *e, size_t i)
{
    size_t s = key_hash(e->key, e->key_len) & (cap - 1);
    while (index[s])
        s = (s + 1) & (cap - 1);
    index[s] = i + 1;
}

/* Room for one more model: v and an index kept at most half full. */
static int grow(struct anmodels *m)
{
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 8;
        struct anmodel *v = hy_realloc(m->v, ncap * sizeof *v);
        if (!v)
            return HY_ENOMEM;
        m->v = v;
        m->cap = ncap;
    }
    if ((m->n + 1) * 2 > m->index_cap) {
        size_t ncap = m->index_cap ? m->index_cap * 2 : 16;
        size_t *idx = hy_calloc(ncap, sizeof *idx);
        if (!idx)
            return HY_ENOMEM;
        for (size_t i = 0; i < m->n; i++)
            index_put(idx, ncap, &m->v[i], i);
        hy_free(m->index);
        m->index = idx;
        m->index_cap = ncap;
    }
    return 0;
}

/* Append a model for key; state copied from init_state or freshly initialised when NULL. */
static int add(struct anmodels *m, const char *key, size_t len, const void *init_state)
{
    int rc = grow(m);
    if (rc != 0)
        return rc;
    char *k = hy_malloc(len ? len : 1);
    void *st = hy_malloc(m->ops->state_size);
    if (!k || !st) {
        hy_free(k);
        hy_free(st);
        return HY_ENOMEM;
    }
    memcpy(k, key, len);
    if (init_state)
        memcpy(st, init_state, m->ops->state_size);
    else
        m->ops->init(st);
    struct anmodel *e = &m->v[m->n];
    e->key = k;
    e->key_len = len;
    e->state = st;
    index_put(m->index, m->index_cap, e, m->n);
    m->n++;
    return 0;
}

int anmodels_step(struct anmodels *m, const char *key, size_t key_len, double value, double *score)
{
    if (key_len > ANMODELS_KEY_MAX)
        return HY_E2BIG;
    long i = find(m, key, key_len);
    if (i < 0) {
        if (m->n >= m->max_keys)
            return HY_EQUOTA;
        int rc = add(m, key, key_len, NULL);
        if (rc != 0)
            return rc;
        i = (long)m->n - 1;
    }
    *score = detector_step(m->ops, m->v[i].state, value);
    return 0;
}

int anmodels_save(const struct anmodels *m, struct buf *out)
{
    size_t start = out->len;
    uint32_t version = ANMODELS_VERSION, ss = (uint32_t)m->ops->state_size, nk = (uint32_t)m->n;
    uint16_t nl = (uint16_t)strlen(m->ops->name);
    int rc = buf_append(out, ANMODELS_MAGIC, 4);
    rc = rc ? rc : buf_append(out, &version, sizeof version);
    rc = rc ? rc : buf_append(out, &nl, sizeof nl);
    rc = rc ? rc : buf_append(out, m->ops->name, nl);
    rc = rc ? rc : buf_append(out, &ss, sizeof ss);
    rc = rc ? rc : buf_append(out, &nk, sizeof nk);
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        uint16_t kl = (uint16_t)m->v[i].key_len;
        rc = buf_append(out, &kl, sizeof kl);
        rc = rc ? rc : buf_append(out, m->v[i].key, kl);
        rc = rc ? rc : buf_append(out, m->v[i].state, m->ops->state_size);
    }
    if (rc == 0) {
        uint32_t crc = crc32c(0, out->data + start, out->len - start);
        rc = buf_append(out, &crc, sizeof crc);
    }
    if (rc != 0)
        buf_truncate(out, start);
    return rc;
}

/* Bounded reader over the image. */
struct rd {
    const unsigned char *p;
    size_t left;
};

static int take(struct rd *r, void *dst, size_t n)
{
    if (r->left < n)
        return HY_ECORRUPT;
    if (dst)
        memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

int anmodels_load(const struct detector_ops *ops, size_t max_keys, const void *img, size_t len,
                  struct anmodels **out)
{
    *out = NULL;
    if (len < 4 + 4 + 2 + 4 + 4 + 4)
        return HY_ECORRUPT;
    uint32_t crc;
    memcpy(&crc, (const char *)img + len - 4, 4);
    if (crc32c(0, img, len - 4) != crc)
        return HY_ECORRUPT;
    struct rd r = {img, len - 4};
    char magic[4];
    uint32_t version, ss, nk;
    uint16_t nl;
    char name[256];
    if (take(&r, magic, 4) || memcmp(magic, ANMODELS_MAGIC, 4) != 0 ||
        take(&r, &version, sizeof version) || take(&r, &nl, sizeof nl) || nl >= sizeof name ||
        take(&r, name, nl) || take(&r, &ss, sizeof ss) || take(&r, &nk, sizeof nk))
        return HY_ECORRUPT;
    if (version != ANMODELS_VERSION || ss != ops->state_size || nl != strlen(ops->name) ||
        memcmp(name, ops->name, nl) != 0)
        return HY_EVERSION;
    if (nk > max_keys)
        return HY_EQUOTA;
    struct anmodels *m = anmodels_new(ops, max_keys);
    if (!m)
        return HY_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < nk; i++) {
        uint16_t kl;
        const char *key;
        const void *state;
        rc = take(&r, &kl, sizeof kl);
        if (rc == 0 && kl > ANMODELS_KEY_MAX)
            rc = HY_ECORRUPT;
        key = (const char *)r.p;
        rc = rc ? rc : take(&r, NULL, kl);
        state = r.p;
        rc = rc ? rc : take(&r, NULL, ss);
        if (rc == 0 && find(m, key, kl) >= 0)
            rc = HY_ECORRUPT;
        rc = rc ? rc : add(m, key, kl, state);
    }
    if (rc == 0 && r.left != 0)
        rc = HY_ECORRUPT;
    if (rc != 0) {
        anmodels_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
