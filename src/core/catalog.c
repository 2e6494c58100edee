/*
 * catalog: stream persistence and lookup (see catalog.h for the on-disk layout).
 * Streams are kept in an array sorted by name: the count is small (Firehose's default quota is
 * 50 per region), lookups are a binary search and listing is already alphabetical.
 */
#include "core/catalog.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hyassert.h"
#include "base/log.h"
#include "base/mem.h"

#define CATALOG_FORMAT 1
#define CATALOG_JSON_MAX (4u << 20)

struct catalog {
    pthread_mutex_t lock;
    char *data_dir;
    struct catalog_stream **v; /* sorted by name */
    size_t n;
    size_t cap;
    uint64_t remove_seq; /* makes ".deleted-*" names unique */
};

/* ---------------------------------------------------------------- cJSON hooks */

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void json_hooks_install(void)
{
    cJSON_Hooks hooks = {.malloc_fn = hy_malloc, .free_fn = hy_free};
    cJSON_InitHooks(&hooks);
}

void catalog_json_init(void)
{
    pthread_once(&json_once, json_hooks_install);
}

/* ---------------------------------------------------------------- stream objects */

const char *catalog_status_name(enum catalog_status st)
{
    switch (st) {
    case CATALOG_STATUS_CREATING:
        return "CREATING";
    case CATALOG_STATUS_ACTIVE:
        return "ACTIVE";
    case CATALOG_STATUS_DELETING:
        return "DELETING";
    }
    return "ACTIVE";
}

struct catalog_stream *catalog_stream_new(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > CATALOG_NAME_MAX)
        return NULL;
    struct catalog_stream *s = hy_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->tags = cJSON_CreateArray();
    if (!s->tags) {
        hy_free(s);
        return NULL;
    }
    memcpy(s->name, name, len + 1);
    s->version = 1;
    s->status = CATALOG_STATUS_CREATING;
    atomic_init(&s->refs, 1);
    return s;
}

void catalog_stream_ref(struct catalog_stream *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void catalog_stream_unref(struct catalog_stream *s)
{
    if (!s)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* The service stops the runtime (log, consumers) before dropping the last reference. */
    if (s->runtime_free)
        s->runtime_free(s->runtime);
    cJSON_Delete(s->dest);
    cJSON_Delete(s->tags);
    cJSON_Delete(s->settings);
    hy_free(s->failure);
    hy_free(s);
}

/* ---------------------------------------------------------------- JSON form */

static int add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) ? 0 : HY_ENOMEM;
}

int catalog_stream_to_json(const struct catalog_stream *s, struct buf *out)
{
    char tmp[32];
    int rc = HY_ENOMEM;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return HY_ENOMEM;
    if (!cJSON_AddNumberToObject(o, "Format", CATALOG_FORMAT))
        goto fail;
    if (add_str(o, "DeliveryStreamName", s->name) || add_str(o, "DeliveryStreamType", "DirectPut"))
        goto fail;
    snprintf(tmp, sizeof tmp, "%" PRIu64, s->version);
    if (add_str(o, "VersionId", tmp))
        goto fail;
    /* Milliseconds fit a double exactly (< 2^53). */
    if (!cJSON_AddNumberToObject(o, "CreateTimestampMs", (double)s->create_ms) ||
        !cJSON_AddNumberToObject(o, "LastUpdateTimestampMs", (double)s->update_ms))
        goto fail;
    if (add_str(o, "DeliveryStreamStatus", catalog_status_name(s->status)))
        goto fail;
    snprintf(tmp, sizeof tmp, "%016" PRIx64, s->stream_id);
    if (add_str(o, "StreamId", tmp) || add_str(o, "DestinationId", CATALOG_DESTINATION_ID))
        goto fail;
    cJSON *enc = cJSON_AddObjectToObject(o, "DeliveryStreamEncryptionConfiguration");
    if (!enc || add_str(enc, "Status", s->enc_on ? "ENABLED" : "DISABLED"))
        goto fail;
    if (s->enc_on &&
        (add_str(enc, "KeyType", s->enc_customer ? "CUSTOMER_MANAGED_CMK" : "AWS_OWNED_CMK") ||
         (s->enc_customer && add_str(enc, "KeyARN", s->enc_key_arn))))
        goto fail;
    cJSON *t = cJSON_Duplicate(s->tags, 1);
    if (!t)
        goto fail;
    if (!cJSON_AddItemToObject(o, "Tags", t)) {
        cJSON_Delete(t);
        goto fail;
    }
    if (s->dest) {
        cJSON *d = cJSON_Duplicate(s->dest, 1);
        if (!d)
            goto fail;
        if (!cJSON_AddItemToObject(o, "Destination", d)) {
            cJSON_Delete(d);
            goto fail;
        }
    }
    if (s->settings) {
        cJSON *hs = cJSON_Duplicate(s->settings, 1);
        if (!hs)
            goto fail;
        if (!cJSON_AddItemToObject(o, "HydrantSettings", hs)) {
            cJSON_Delete(hs);
            goto fail;
        }
    }
    if (s->failure) {
        cJSON *fd = cJSON_AddObjectToObject(o, "FailureDescription");
        if (!fd || add_str(fd, "Type", CATALOG_FAILURE_TYPE) || add_str(fd, "Details", s->failure))
            goto fail;
    }
    char *text = cJSON_PrintUnformatted(o);
    if (!text)
        goto fail;
    rc = buf_append_str(out, text);
    if (!rc)
        rc = buf_append(out, "\n", 1);
    cJSON_free(text);
fail:
    cJSON_Delete(o);
    return rc;
}

static int parse_u64(const char *s, int base, uint64_t *out)
{
    if (!s || !*s)
        return HY_EBADMSG;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end || s[0] == '-')
        return HY_EBADMSG;
    *out = v;
    return 0;
}

int catalog_stream_from_json(const char *text, size_t len, struct catalog_stream **out)
{
    catalog_json_init();
    int rc = HY_EBADMSG;
    struct catalog_stream *s = NULL;
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!o || !cJSON_IsObject(o))
        goto fail;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "Format");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "DeliveryStreamName");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "VersionId");
    const cJSON *cms = cJSON_GetObjectItemCaseSensitive(o, "CreateTimestampMs");
    const cJSON *ums = cJSON_GetObjectItemCaseSensitive(o, "LastUpdateTimestampMs");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "DeliveryStreamStatus");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "StreamId");
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "Tags");
    cJSON *dest = cJSON_GetObjectItemCaseSensitive(o, "Destination");
    const cJSON *fdesc = cJSON_GetObjectItemCaseSensitive(o, "FailureDescription");
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(fdesc, "Details");
    cJSON *hset = cJSON_GetObjectItemCaseSensitive(o, "HydrantSettings");
    if (fdesc && (!cJSON_IsObject(fdesc) || !cJSON_IsString(details)))
        goto fail;
    if (hset && !cJSON_IsObject(hset))
        goto fail;
    if (!cJSON_IsNumber(fmt) || fmt->valuedouble != CATALOG_FORMAT || !cJSON_IsString(name) ||
        !cJSON_IsString(ver) || !cJSON_IsNumber(cms) || !cJSON_IsNumber(ums) ||
        !cJSON_IsString(st) || !cJSON_IsString(id) || !cJSON_IsArray(tags) || !cJSON_IsObject(dest))
        goto fail;
    size_t nlen = strlen(name->valuestring);
    if (nlen == 0 || nlen > CATALOG_NAME_MAX)
        goto fail;
    s = catalog_stream_new(name->valuestring);
    if (!s) {
        rc = HY_ENOMEM;
        goto fail;
    }
    if (parse_u64(ver->valuestring, 10, &s->version) || s->version == 0 ||
        parse_u64(id->valuestring, 16, &s->stream_id))
        goto fail;
    s->create_ms = (int64_t)cms->valuedouble;
    s->update_ms = (int64_t)ums->valuedouble;
    if (strcmp(st->valuestring, "DELETING") == 0)
        s->status = CATALOG_STATUS_DELETING;
    else if (strcmp(st->valuestring, "ACTIVE") == 0)
        s->status = CATALOG_STATUS_ACTIVE;
    else if (strcmp(st->valuestring, "CREATING") == 0)
        s->status = CATALOG_STATUS_CREATING;
    else
        goto fail;
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "Key");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "Value");
        if (!cJSON_IsString(k) || (v && !cJSON_IsString(v)))
            goto fail;
    }
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(o, "DeliveryStreamEncryptionConfiguration");
    const cJSON *enc_st = cJSON_GetObjectItemCaseSensitive(enc, "Status");
    if (cJSON_IsString(enc_st) && strcmp(enc_st->valuestring, "ENABLED") == 0) {
        const cJSON *kt = cJSON_GetObjectItemCaseSensitive(enc, "KeyType");
        const cJSON *arn = cJSON_GetObjectItemCaseSensitive(enc, "KeyARN");
        if (!cJSON_IsString(kt))
            goto fail;
        s->enc_on = 1;
        s->enc_customer = strcmp(kt->valuestring, "CUSTOMER_MANAGED_CMK") == 0;
        if (s->enc_customer &&
            (!cJSON_IsString(arn) || strlen(arn->valuestring) > CATALOG_KEY_ARN_MAX))
            goto fail;
        if (s->enc_customer)
            memcpy(s->enc_key_arn, arn->valuestring, strlen(arn->valuestring) + 1);
    }
    if (details && !(s->failure = hy_strdup(details->valuestring))) {
        rc = HY_ENOMEM;
        goto fail;
    }
    /* Move the subtrees instead of copying them. */
    cJSON_DetachItemViaPointer(o, tags);
    cJSON_DetachItemViaPointer(o, dest);
    if (hset)
        s->settings = cJSON_DetachItemViaPointer(o, hset);
    cJSON_Delete(s->tags);
    s->tags = tags;
    s->dest = dest;
    cJSON_Delete(o);
    *out = s;
    return 0;
fail:
    catalog_stream_unref(s);
    cJSON_Delete(o);
    return rc;
}

/* ---------------------------------------------------------------- paths and persistence */

/* Stream names match [a-zA-Z0-9_.-]+, so a name is its own directory name, except that "." and
 * ".." are no directories of their own and names starting with '.' would be hidden entries,
 * which the catalog keeps for itself (".deleted-*" during removal). Such names get the prefix
 * CATALOG_DIR_ESCAPE, a character no name contains: the mapping stays injective, and every
 * stream directory written before (a name not starting with '.') keeps its name. */
#define CATALOG_DIR_ESCAPE "@"

int catalog_stream_path(const struct catalog *c, const char *name, const char *leaf,
                        struct buf *out)
{
    const char *esc = name[0] == '.' ? CATALOG_DIR_ESCAPE : "";
    if (leaf)
        return buf_printf(out, "%s/streams/%s%s/%s", c->data_dir, esc, name, leaf);
    return buf_printf(out, "%s/streams/%s%s", c->data_dir, esc, name);
}

/* The stream name an entry of <data_dir>/streams holds (the inverse of catalog_stream_path's
 * mapping; borrowed from dir), or NULL for entries that are no stream. */
static const char *dir_stream_name(const char *dir)
{
    if (dir[0] == '.')
        return NULL; /* the catalog's own entries */
    if (dir[0] == CATALOG_DIR_ESCAPE[0])
        return dir[1] == '.' ? dir + 1 : NULL; /* only names starting with '.' are escaped */
    return dir;
}

int catalog_save(struct catalog *c, struct catalog_stream *s)
{
    struct buf path, text;
    buf_init(&path, 8192);
    buf_init(&text, CATALOG_JSON_MAX);
    int rc = catalog_stream_path(c, s->name, "stream.json", &path);
    if (!rc)
        rc = catalog_stream_to_json(s, &text);
    if (!rc)
        rc = fsutil_write_atomic(path.data, text.data, text.len);
    buf_fini(&text);
    buf_fini(&path);
    return rc;
}

/* Binary search; returns the index of name or where it would go, *found set accordingly. */
static size_t find_slot(const struct catalog *c, const char *name, size_t len, int *found)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = c->v[mid]->name;
        size_t mlen = strlen(m);
        int cmp = memcmp(m, name, mlen < len ? mlen : len);
        if (cmp == 0)
            cmp = mlen < len ? -1 : (mlen > len ? 1 : 0);
        if (cmp == 0) {
            *found = 1;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* Insert s at slot i (catalog lock held); takes over the caller's reference. */
static int index_insert(struct catalog *c, size_t i, struct catalog_stream *s)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct catalog_stream **v = hy_realloc(c->v, cap * sizeof *v);
        if (!v)
            return HY_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    memmove(c->v + i + 1, c->v + i, (c->n - i) * sizeof *c->v);
    c->v[i] = s;
    c->n++;
    return 0;
}

int catalog_insert(struct catalog *c, struct catalog_stream *s, size_t max_streams)
{
    struct buf dir;
    buf_init(&dir, 8192);
    int found, rc;
    pthread_mutex_lock(&c->lock);
    size_t i = find_slot(c, s->name, strlen(s->name), &found);
    if (found) {
        rc = HY_EEXIST;
        goto out;
    }
    if (c->n >= max_streams) {
        rc = HY_E2BIG;
        goto out;
    }
    rc = catalog_stream_path(c, s->name, NULL, &dir);
    if (rc)
        goto out;
    /* A directory without a loadable stream.json (it was skipped at start) still holds data:
     * refuse to reuse the name rather than mix a new stream into an old log. */
    struct stat sb;
    if (stat(dir.data, &sb) == 0) {
        LOG_WARN("catalog", "stream directory exists but is not in the catalog", "stream=%s",
                 s->name);
        rc = HY_EEXIST;
        goto out;
    }
    rc = fsutil_mkdirs(dir.data, 0755);
    if (rc)
        goto out;
    rc = catalog_save(c, s);
    if (rc) {
        fsutil_remove_tree(dir.data);
        goto out;
    }
    catalog_stream_ref(s);
    rc = index_insert(c, i, s);
    if (rc) {
        catalog_stream_unref(s);
        fsutil_remove_tree(dir.data);
    }
out:
    pthread_mutex_unlock(&c->lock);
    buf_fini(&dir);
    return rc;
}

struct catalog_stream *catalog_get(struct catalog *c, const char *name, size_t name_len)
{
    struct catalog_stream *s = NULL;
    int found;
    pthread_mutex_lock(&c->lock);
    size_t i = find_slot(c, name, name_len, &found);
    if (found) {
        s = c->v[i];
        catalog_stream_ref(s);
    }
    pthread_mutex_unlock(&c->lock);
    return s;
}

int catalog_remove(struct catalog *c, struct catalog_stream *s)
{
    struct buf dir, gone;
    buf_init(&dir, 8192);
    buf_init(&gone, 8192);
    int found, rc = 0;
    pthread_mutex_lock(&c->lock);
    size_t i = find_slot(c, s->name, strlen(s->name), &found);
    if (!found || c->v[i] != s) {
        pthread_mutex_unlock(&c->lock);
        rc = HY_ENOTFOUND;
        goto out;
    }
    memmove(c->v + i, c->v + i + 1, (c->n - i - 1) * sizeof *c->v);
    c->n--;
    uint64_t seq = ++c->remove_seq;
    /* Rename first (atomic): a crash during the recursive delete must not leave a directory
     * that looks like a stream. Done under the lock so a create of the same name cannot see
     * the old directory. */
    rc = catalog_stream_path(c, s->name, NULL, &dir);
    if (!rc)
        rc = buf_printf(&gone, "%s/streams/.deleted-%s-%" PRIx64 "-%" PRIu64, c->data_dir, s->name,
                        s->stream_id, seq);
    if (!rc && rename(dir.data, gone.data) != 0)
        rc = -errno;
    if (!rc) {
        struct buf parent;
        buf_init(&parent, 8192);
        if (!buf_printf(&parent, "%s/streams", c->data_dir))
            fsutil_fsync_dir(parent.data);
        buf_fini(&parent);
    }
    pthread_mutex_unlock(&c->lock);
    if (!rc)
        rc = fsutil_remove_tree(gone.data);
    if (rc)
        LOG_ERROR("catalog", "stream directory removal failed", "stream=%s err=%s", s->name,
                  hy_errname(rc));
    catalog_stream_unref(s);
out:
    buf_fini(&gone);
    buf_fini(&dir);
    return rc;
}

int catalog_snapshot(struct catalog *c, struct catalog_stream ***out, size_t *n)
{
    pthread_mutex_lock(&c->lock);
    struct catalog_stream **v = hy_malloc((c->n ? c->n : 1) * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&c->lock);
        return HY_ENOMEM;
    }
    for (size_t i = 0; i < c->n; i++) {
        v[i] = c->v[i];
        catalog_stream_ref(v[i]);
    }
    *n = c->n;
    pthread_mutex_unlock(&c->lock);
    *out = v;
    return 0;
}

void catalog_snapshot_free(struct catalog_stream **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        catalog_stream_unref(v[i]);
    hy_free(v);
}

void catalog_lock(struct catalog *c)
{
    pthread_mutex_lock(&c->lock);
}

void catalog_unlock(struct catalog *c)
{
    pthread_mutex_unlock(&c->lock);
}

/* ---------------------------------------------------------------- open / free */

static void load_one(struct catalog *c, const char *name)
{
    struct buf path;
    buf_init(&path, 8192);
    char *text = NULL;
    size_t len = 0;
    struct catalog_stream *s = NULL;
    int rc = catalog_stream_path(c, name, "stream.json", &path);
    if (!rc)
        rc = fsutil_read_all(path.data, &text, &len, CATALOG_JSON_MAX);
    if (!rc)
        rc = catalog_stream_from_json(text, len, &s);
    if (!rc && strcmp(s->name, name) != 0)
        rc = HY_EBADMSG;
    if (rc) {
        LOG_ERROR("catalog", "stream entry skipped", "dir=%s err=%s", name, hy_errname(rc));
        goto out;
    }
    int found;
    size_t i = find_slot(c, s->name, strlen(s->name), &found);
    HY_ASSERT(!found); /* directory names are unique */
    if (index_insert(c, i, s) == 0)
        s = NULL;
out:
    catalog_stream_unref(s);
    hy_free(text);
    buf_fini(&path);
}

int catalog_open(const char *data_dir, struct catalog **out)
{
    catalog_json_init();
    struct buf dir;
    buf_init(&dir, 8192);
    int rc = HY_ENOMEM;
    struct catalog *c = hy_calloc(1, sizeof *c);
    if (!c)
        goto fail;
    pthread_mutex_init(&c->lock, NULL);
    c->data_dir = hy_strdup(data_dir);
    if (!c->data_dir)
        goto fail;
    rc = buf_printf(&dir, "%s/streams", data_dir);
    if (rc)
        goto fail;
    rc = fsutil_mkdirs(dir.data, 0755);
    if (rc)
        goto fail;
    DIR *d = opendir(dir.data);
    if (!d) {
        rc = -errno;
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            /* A removal interrupted by a crash: finish it. */
            if (strncmp(e->d_name, ".deleted-", 9) == 0) {
                struct buf gone;
                buf_init(&gone, 8192);
                if (!buf_printf(&gone, "%s/%s", dir.data, e->d_name))
                    fsutil_remove_tree(gone.data);
                buf_fini(&gone);
            }
            continue;
        }
        const char *name = dir_stream_name(e->d_name);
        if (name)
            load_one(c, name);
    }
    closedir(d);
    buf_fini(&dir);
    *out = c;
    return 0;
fail:
    if (c) {
        hy_free(c->data_dir);
        pthread_mutex_destroy(&c->lock);
        hy_free(c);
    }
    buf_fini(&dir);
    return rc;
}

void catalog_free(struct catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        catalog_stream_unref(c->v[i]);
    hy_free(c->v);
    hy_free(c->data_dir);
    pthread_mutex_destroy(&c->lock);
    hy_free(c);
}
