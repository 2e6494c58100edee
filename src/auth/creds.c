/*
 * creds: cJSON over the file; globs with fnmatch(3).
 */
#include "auth/creds.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"

#define CREDS_MAX_BYTES (4u << 20)

static void entry_fini(struct creds_entry *e)
{
    hy_free(e->access_key_id);
    hy_free(e->secret);
    hy_free(e->session_token);
    char **lists[] = {e->streams, e->buckets, e->operations};
    size_t ns[] = {e->nstreams, e->nbuckets, e->noperations};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; lists[k] && i < ns[k]; i++)
            hy_free(lists[k][i]);
        hy_free(lists[k]);
    }
}

void creds_free(struct creds *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_fini(&c->v[i]);
    hy_free(c->v);
    hy_free(c);
}

/* A string list member: absent -> *out NULL (any); else every item must be a non-empty string. */
static int str_list(const cJSON *obj, const char *name, char ***out, size_t *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    *n = 0;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a))
        return HY_EBADMSG;
    size_t cnt = (size_t)cJSON_GetArraySize(a);
    char **v = hy_calloc(cnt ? cnt : 1, sizeof *v);
    if (!v)
        return HY_ENOMEM;
    *out = v;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return HY_EBADMSG;
        v[*n] = hy_strdup(it->valuestring);
        if (!v[*n])
            return HY_ENOMEM;
        (*n)++;
    }
    return 0;
}

static int str_member(const cJSON *obj, const char *name, int required, char **out)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!s)
        return required ? HY_EBADMSG : 0;
    if (!cJSON_IsString(s) || !s->valuestring[0])
        return HY_EBADMSG;
    *out = hy_strdup(s->valuestring);
    return *out ? 0 : HY_ENOMEM;
}

int creds_parse(const char *text, size_t len, struct creds **out, char *err, size_t err_size)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    struct creds *c = NULL;
    int rc = HY_EBADMSG;
    if (!cJSON_IsArray(doc)) {
        snprintf(err, err_size, "the credentials file must be a JSON array of objects");
        goto fail;
    }
    rc = HY_ENOMEM;
    c = hy_calloc(1, sizeof *c);
    size_t cnt = (size_t)cJSON_GetArraySize(doc);
    if (!c || !(c->v = hy_calloc(cnt ? cnt : 1, sizeof *c->v)))
        goto fail;
    const cJSON *o;
    cJSON_ArrayForEach(o, doc)
    {
        struct creds_entry *e = &c->v[c->n++];
        size_t idx = c->n;
        if (!cJSON_IsObject(o)) {
            snprintf(err, err_size, "credentials entry %zu is not an object", idx);
            rc = HY_EBADMSG;
            goto fail;
        }
        if ((rc = str_member(o, "AccessKeyId", 1, &e->access_key_id)) ||
            (rc = str_member(o, "SecretAccessKey", 1, &e->secret)) ||
            (rc = str_member(o, "SessionToken", 0, &e->session_token)) ||
            (rc = str_list(o, "Streams", &e->streams, &e->nstreams)) ||
            (rc = str_list(o, "Buckets", &e->buckets, &e->nbuckets)) ||
            (rc = str_list(o, "Operations", &e->operations, &e->noperations))) {
            if (rc == HY_EBADMSG)
                snprintf(err, err_size,
                         "credentials entry %zu: AccessKeyId and SecretAccessKey must be "
                         "non-empty strings; SessionToken a string; Streams, Buckets and "
                         "Operations arrays of non-empty strings",
                         idx);
            goto fail;
        }
        for (size_t i = 0; i + 1 < c->n; i++)
            if (strcmp(c->v[i].access_key_id, e->access_key_id) == 0) {
                snprintf(err, err_size, "credentials entry %zu repeats AccessKeyId %s", idx,
                         e->access_key_id);
                rc = HY_EBADMSG;
                goto fail;
            }
    }
    cJSON_Delete(doc);
    *out = c;
    return 0;
fail:
    if (rc == HY_ENOMEM)
        snprintf(err, err_size, "out of memory");
    cJSON_Delete(doc);
    creds_free(c);
    return rc;
}

int creds_load(const char *path, struct creds **out, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open the credentials file");
        return HY_EINVAL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        LOG_WARN("creds", "the credentials file is readable by group or others: chmod 600 it",
                 "file=%s", path);
    struct buf b;
    buf_init(&b, CREDS_MAX_BYTES);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&b, chunk, n);
    fclose(f);
    if (rc) {
        snprintf(err, err_size, "the credentials file is larger than 4 MiB");
        buf_fini(&b);
        return HY_E2BIG;
    }
    rc = creds_parse(b.data ? b.data : "", b.len, out, err, err_size);
    buf_fini(&b);
    return rc;
}

const struct creds_entry *creds_find(const struct creds *c, const char *akid, size_t len)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (strlen(c->v[i].access_key_id) == len && memcmp(c->v[i].access_key_id, akid, len) == 0)
            return &c->v[i];
    return NULL;
}

static int match_any(char *const *pats, size_t n, const char *name, size_t len)
{
    if (!pats)
        return 1;
    char tmp[1024];
    if (len >= sizeof tmp)
        return 0;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], tmp, 0) == 0)
            return 1;
    return 0;
}

int creds_allows_stream(const struct creds_entry *e, const char *name, size_t len)
{
    return match_any(e->streams, e->nstreams, name, len);
}

int creds_allows_bucket(const struct creds_entry *e, const char *name, size_t len)
{
    return match_any(e->buckets, e->nbuckets, name, len);
}

int creds_allows_operation(const struct creds_entry *e, const char *op, size_t len)
{
    return match_any(e->operations, e->noperations, op, len);
}
