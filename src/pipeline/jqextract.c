/*
 * jqextract: MetadataExtraction with libjq (jqextract.h). The query is compiled once per
 * configuration; each record is parsed with jv_parse_sized and run through jq_start/jq_next.
 */
#include "pipeline/jqextract.h"

#include <jq.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"

struct jqextract {
    jq_state *jq;
};

#define R_COMPILE "MetadataExtractionQuery is not a valid JQ-1.6 expression"
#define R_NOT_JSON "Record is not valid JSON"
#define R_QUERY "MetadataExtractionQuery failed on the record"
#define R_NO_OUTPUT "MetadataExtractionQuery produced no output for the record"
#define R_NOT_OBJECT "MetadataExtractionQuery must produce a JSON object"
#define R_NOT_STRING "Partition key values must be strings"

/* libjq reports compile errors through this callback; the default prints to stderr. */
static void on_error(void *arg, jv msg)
{
    int *errors = arg;
    (*errors)++;
    jv_free(msg);
}

int jqextract_new(const char *query, struct jqextract **out, const char **reason)
{
    int errors = 0;
    if (!query || strlen(query) > JQEXTRACT_QUERY_MAX) {
        *reason = R_COMPILE;
        return HY_EINVAL;
    }
    struct jqextract *jx = hy_calloc(1, sizeof *jx);
    if (!jx)
        return HY_ENOMEM;
    jx->jq = jq_init();
    if (!jx->jq) {
        hy_free(jx);
        return HY_ENOMEM;
    }
    jq_set_error_cb(jx->jq, on_error, &errors);
    if (!jq_compile(jx->jq, query) || errors) {
        jq_teardown(&jx->jq);
        hy_free(jx);
        *reason = R_COMPILE;
        return HY_EINVAL;
    }
    jq_set_error_cb(jx->jq, NULL, NULL);
    *out = jx;
    return 0;
}

void jqextract_free(struct jqextract *jx)
{
    if (!jx)
        return;
    jq_teardown(&jx->jq);
    hy_free(jx);
}

int jqextract_run(struct jqextract *jx, const void *data, size_t len, struct buf *keys,
                  size_t *n_keys, const char **reason)
{
    int rc = HY_EBADMSG;
    size_t start = keys->len;
    *n_keys = 0;
    if (len > 0x7fffffff) {
        *reason = R_NOT_JSON;
        return HY_EBADMSG;
    }
    jv in = jv_parse_sized(data, (int)len);
    if (!jv_is_valid(in)) {
        jv_free(in);
        *reason = R_NOT_JSON;
        return HY_EBADMSG;
    }
    jq_start(jx->jq, in, 0); /* takes in */
    jv res = jq_next(jx->jq);
    if (!jv_is_valid(res)) {
        *reason = jv_invalid_has_msg(jv_copy(res)) ? R_QUERY : R_NO_OUTPUT;
        jv_free(res);
        return HY_EBADMSG;
    }
    if (jv_get_kind(res) != JV_KIND_OBJECT) {
        *reason = R_NOT_OBJECT;
        goto out;
    }
    rc = 0;
    int it = jv_object_iter(res);
    while (rc == 0 && jv_object_iter_valid(res, it)) {
        jv k = jv_object_iter_key(res, it);
        jv v = jv_object_iter_value(res, it);
        if (jv_get_kind(v) != JV_KIND_STRING) {
            *reason = R_NOT_STRING;
            rc = HY_EBADMSG;
        } else {
            const char *ks = jv_string_value(k), *vs = jv_string_value(v);
            /* A NUL inside either would cut the pair short: refuse it. */
            if ((size_t)jv_string_length_bytes(jv_copy(k)) != strlen(ks) ||
                (size_t)jv_string_length_bytes(jv_copy(v)) != strlen(vs)) {
                *reason = R_NOT_STRING;
                rc = HY_EBADMSG;
            }
            if (rc == 0)
                rc = buf_append(keys, ks, strlen(ks) + 1);
            if (rc == 0)
                rc = buf_append(keys, vs, strlen(vs) + 1);
            if (rc == 0)
                (*n_keys)++;
        }
        jv_free(k);
        jv_free(v);
        it = jv_object_iter_next(res, it);
    }
out:
    jv_free(res);
    if (rc < 0) {
        buf_truncate(keys, start);
        *n_keys = 0;
    }
    return rc;
}

const char *jqextract_key(const char *keys, size_t n, const char *name, size_t name_len)
{
    const char *p = keys;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(p);
        const char *v = p + kl + 1;
        if (kl == name_len && memcmp(p, name, name_len) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}
