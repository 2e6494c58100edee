/*
 * anjq: libjq behind the JQ paths of live analytics (see anjq.h). libjq (Debian's libjq1) is
 * jq itself, so a path means exactly what it means on the jq command line.
 *
 * Fast path: jq's own JSON parser costs most of the time on records with long strings, so a
 * program that is a plain chain of fields (".a", ".m.cpu") is also kept as its field names and,
 * when every program of a caller is such a chain, records are parsed with cJSON and the chain
 * followed there, with jq's meaning (a missing field or a null on the way gives null; a field of
 * a non-object is an error). Not the same as jq in one corner: a duplicated member name finds
 * the first occurrence (jq keeps the last).
 */
#include "analytics/anjq.h"

#include <cjson/cJSON.h>
#include <jq.h>
#include <jv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"

#define PROGRAM_MAX 1024
#define CHAIN_MAX 16

struct anjq {
    jq_state *jq;
    size_t nfields; /* > 0: the program is the chain .fields[0].fields[1]... */
    char *fields[CHAIN_MAX];
};

struct anjq_doc {
    cJSON *c; /* fast path: parsed by cJSON */
    jv v;
};

struct anjq_parser {
    jv_parser *p;
    const char *at, *end; /* fast path */
};

/* Split ".a.b_c.d1" into its fields; 0 (not a plain chain) or the number of fields. */
static size_t chain_of(struct anjq *q, const char *prog)
{
    size_t n = 0;
    const char *p = prog;
    while (*p == '.') {
        const char *s = ++p;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
            break;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
               (*p >= '0' && *p <= '9'))
            p++;
        if (n == CHAIN_MAX || !(q->fields[n] = hy_malloc((size_t)(p - s) + 1)))
            break;
        memcpy(q->fields[n], s, (size_t)(p - s));
        q->fields[n++][p - s] = '\0';
        if (*p == '\0')
            return q->nfields = n;
    }
    for (size_t i = 0; i < n; i++) {
        hy_free(q->fields[i]);
        q->fields[i] = NULL;
    }
    return 0;
}

int anjq_simple(const struct anjq *q)
{
    return q->nfields > 0;
}

struct errbuf {
    char *s;
    size_t cap;
};

static void on_error(void *data, jv msg)
{
    struct errbuf *e = data;
    if (e && e->cap && !e->s[0]) {
        jv m = jv_get_kind(msg) == JV_KIND_STRING ? jv_copy(msg) : jv_dump_string(jv_copy(msg), 0);
        snprintf(e->s, e->cap, "%s", jv_string_value(m));
        jv_free(m);
    }
    jv_free(msg);
}

int anjq_compile(const char *program, struct anjq **out, char *err, size_t cap)
{
    if (cap)
        err[0] = '\0';
    if (strlen(program) > PROGRAM_MAX) {
        if (cap)
            snprintf(err, cap, "longer than %d bytes", PROGRAM_MAX);
        return HY_EINVAL;
    }
    struct anjq *q = hy_calloc(1, sizeof *q);
    if (!q || !(q->jq = jq_init())) {
        hy_free(q);
        return HY_ENOMEM;
    }
    struct errbuf e = {err, cap};
    jq_set_error_cb(q->jq, on_error, &e);
    int ok = jq_compile(q->jq, program);
    /* Run-time errors come back as invalid values; nothing more is printed. */
    jq_set_error_cb(q->jq, on_error, NULL);
    if (!ok) {
        if (cap && !err[0])
            snprintf(err, cap, "not a jq program");
        anjq_free(q);
        return HY_EINVAL;
    }
    chain_of(q, program);
    *out = q;
    return 0;
}

void anjq_free(struct anjq *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nfields; i++)
        hy_free(q->fields[i]);
    if (q->jq)
        jq_teardown(&q->jq);
    hy_free(q);
}

struct anjq_parser *anjq_parser_new(const void *data, size_t len, int fast)
{
    if (len > (size_t)INT32_MAX)
        return NULL;
    struct anjq_parser *p = hy_calloc(1, sizeof *p);
    if (p && fast) {
        p->at = data;
        p->end = p->at + len;
        return p;
    }
    if (!p || !(p->p = jv_parser_new(0))) {
        hy_free(p);
        return NULL;
    }
    jv_parser_set_buf(p->p, data, (int)len, 0);
    return p;
}

static int fast_next(struct anjq_parser *p, struct anjq_doc **doc)
{
    while (p->at < p->end && (*p->at == ' ' || *p->at == '\n' || *p->at == '\r' || *p->at == '\t'))
        p->at++;
    if (p->at == p->end)
        return 0;
    const char *stop = NULL;
    cJSON *c = cJSON_ParseWithLengthOpts(p->at, (size_t)(p->end - p->at), &stop, 0);
    if (!c) {
        p->at = p->end;
        return HY_EBADMSG;
    }
    p->at = stop;
    struct anjq_doc *d = hy_calloc(1, sizeof *d);
    if (!d) {
        cJSON_Delete(c);
        return HY_ENOMEM;
    }
    d->c = c;
    *doc = d;
    return 1;
}

int anjq_parser_next(struct anjq_parser *p, struct anjq_doc **doc)
{
    if (!p->p)
        return fast_next(p, doc);
    jv v = jv_parser_next(p->p);
    if (!jv_is_valid(v)) {
        int bad = jv_invalid_has_msg(jv_copy(v));
        jv_free(v);
        return bad ? HY_EBADMSG : 0;
    }
    struct anjq_doc *d = hy_calloc(1, sizeof *d);
    if (!d) {
        jv_free(v);
        return HY_ENOMEM;
    }
    d->v = v;
    *doc = d;
    return 1;
}

void anjq_parser_free(struct anjq_parser *p)
{
    if (!p)
        return;
    if (p->p)
        jv_parser_free(p->p);
    hy_free(p);
}

void anjq_doc_free(struct anjq_doc *doc)
{
    if (!doc)
        return;
    if (doc->c)
        cJSON_Delete(doc->c);
    else
        jv_free(doc->v);
    hy_free(doc);
}

/* Follow q's chain in a cJSON document: 0 with *out (NULL for jq's null), or HY_EBADMSG where
 * jq raises an error (a field of a non-object) or q is no chain. */
static int chain_get(const struct anjq *q, const cJSON *c, const cJSON **out)
{
    if (!q->nfields)
        return HY_EBADMSG;
    for (size_t i = 0; i < q->nfields && c; i++) {
        if (cJSON_IsNull(c))
            c = NULL;
        else if (!cJSON_IsObject(c))
            return HY_EBADMSG;
        else
            c = cJSON_GetObjectItemCaseSensitive(c, q->fields[i]);
    }
    *out = cJSON_IsNull(c) ? NULL : c;
    return 0;
}

/* The first output of q on doc (invalid when none); the rest are not computed. */
static jv first(struct anjq *q, const struct anjq_doc *doc)
{
    jq_start(q->jq, jv_copy(doc->v), 0);
    return jq_next(q->jq);
}

static int number_of_text(const char *s, double *out)
{
    char *end = NULL;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(d))
        return HY_EBADMSG;
    *out = d;
    return 0;
}

int anjq_number(struct anjq *q, const struct anjq_doc *doc, double *out)
{
    if (doc->c) {
        const cJSON *c = NULL;
        int rc = chain_get(q, doc->c, &c);
        if (rc || !c)
            return HY_EBADMSG;
        if (cJSON_IsNumber(c) && isfinite(c->valuedouble)) {
            *out = c->valuedouble;
            return 0;
        }
        return cJSON_IsString(c) ? number_of_text(c->valuestring, out) : HY_EBADMSG;
    }
    jv v = first(q, doc);
    int rc = HY_EBADMSG;
    double d = 0;
    if (jv_get_kind(v) == JV_KIND_NUMBER) {
        d = jv_number_value(v);
        rc = 0;
    } else if (jv_get_kind(v) == JV_KIND_STRING) {
        const char *s = jv_string_value(v);
        char *end = NULL;
        d = strtod(s, &end);
        if (end != s && *end == '\0')
            rc = 0;
    }
    jv_free(v);
    if (rc == 0 && !isfinite(d))
        rc = HY_EBADMSG;
    if (rc == 0)
        *out = d;
    return rc;
}

int anjq_json(struct anjq *q, const struct anjq_doc *doc, int raw, struct buf *out)
{
    if (doc->c) {
        const cJSON *c = NULL;
        int rc = chain_get(q, doc->c, &c);
        if (rc)
            return rc;
        if (!c)
            return HY_ENOTFOUND;
        if (raw && cJSON_IsString(c))
            return buf_append_str(out, c->valuestring);
        char *t = cJSON_PrintUnformatted(c);
        if (!t)
            return HY_ENOMEM;
        rc = buf_append_str(out, t);
        cJSON_free(t);
        return rc;
    }
    jv v = first(q, doc);
    int rc;
    jv_kind k = jv_get_kind(v);
    if (k == JV_KIND_INVALID) {
        rc = jv_invalid_has_msg(jv_copy(v)) ? HY_EBADMSG : HY_ENOTFOUND;
    } else if (k == JV_KIND_NULL) {
        rc = HY_ENOTFOUND;
    } else if (raw && k == JV_KIND_STRING) {
        rc = buf_append(out, jv_string_value(v), (size_t)jv_string_length_bytes(jv_copy(v)));
    } else {
        jv s = jv_dump_string(jv_copy(v), 0);
        rc = buf_append_str(out, jv_string_value(s));
        jv_free(s);
    }
    jv_free(v);
    return rc;
}
