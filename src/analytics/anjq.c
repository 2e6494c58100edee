/*
 * anjq: libjq behind the JQ paths of live analytics (see anjq.h). libjq (Debian's libjq1) is
 * jq itself, so a path means exactly what it means on the jq command line.
 */
#include "analytics/anjq.h"

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

struct anjq {
    jq_state *jq;
};

struct anjq_doc {
    jv v;
};

struct anjq_parser {
    jv_parser *p;
};

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
    *out = q;
    return 0;
}

void anjq_free(struct anjq *q)
{
    if (!q)
        return;
    if (q->jq)
        jq_teardown(&q->jq);
    hy_free(q);
}

struct anjq_parser *anjq_parser_new(const void *data, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return NULL;
    struct anjq_parser *p = hy_calloc(1, sizeof *p);
    if (!p || !(p->p = jv_parser_new(0))) {
        hy_free(p);
        return NULL;
    }
    jv_parser_set_buf(p->p, data, (int)len, 0);
    return p;
}

int anjq_parser_next(struct anjq_parser *p, struct anjq_doc **doc)
{
    jv v = jv_parser_next(p->p);
    if (!jv_is_valid(v)) {
        int bad = jv_invalid_has_msg(jv_copy(v));
        jv_free(v);
        return bad ? HY_EBADMSG : 0;
    }
    struct anjq_doc *d = hy_malloc(sizeof *d);
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
    jv_parser_free(p->p);
    hy_free(p);
}

void anjq_doc_free(struct anjq_doc *doc)
{
    if (!doc)
        return;
    jv_free(doc->v);
    hy_free(doc);
}

/* The first output of q on doc (invalid when none); the rest are not computed. */
static jv first(struct anjq *q, const struct anjq_doc *doc)
{
    jq_start(q->jq, jv_copy(doc->v), 0);
    return jq_next(q->jq);
}

int anjq_number(struct anjq *q, const struct anjq_doc *doc, double *out)
{
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
