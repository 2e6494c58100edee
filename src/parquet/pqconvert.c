/*
 * pqconvert: JSON records to Parquet rows (see pqconvert.h). Three parts: the Hive type parser,
 * a JSON scanner producing views into the record, and the value converter that builds the
 * writer's value tree from them.
 */
#include "parquet/pqconvert.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"

#define MAX_DEPTH 64

struct jnode {
    char kind; /* 'o' object, 'a' array, 's' string, 'n' number, 't' true, 'f' false, 'z' null */
    bool escaped;
    const char *p; /* strings: the content between the quotes; others: the whole text */
    size_t len;
    int first, next; /* first child, next sibling (-1 none); object children alternate key, value */
    size_t nkids;
};

struct pqconvert {
    struct pqwriter_column *cols;
    size_t ncols;
    void **owned; /* every allocation of the column tree */
    size_t nowned, owned_cap;
    char **json_keys; /* per top-level column: the JSON key to read (mapped or the name) */
    struct pqconvert_opts o;
    struct jnode *nodes;
    size_t nnodes, nodes_cap;
    struct pqwriter_value *vals;
    size_t nvals, vals_cap;
    size_t max_fields;
    struct buf text; /* decoded strings of the current record */
};

/* ---------------------------------------------------------------- Hive types */

static void *own(struct pqconvert *c, void *p)
{
    if (!p)
        return NULL;
    if (c->nowned == c->owned_cap) {
        size_t nc = c->owned_cap ? c->owned_cap * 2 : 32;
        void **n = hy_realloc(c->owned, nc * sizeof *n);
        if (!n) {
            hy_free(p);
            return NULL;
        }
        c->owned = n;
        c->owned_cap = nc;
    }
    c->owned[c->nowned++] = p;
    return p;
}

static void skip_ws(const char **s)
{
    while (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r')
        (*s)++;
}

static bool word(const char **s, const char *w)
{
    size_t n = strlen(w);
    if (strncasecmp(*s, w, n) || isalnum((unsigned char)(*s)[n]) || (*s)[n] == '_')
        return false;
    *s += n;
    return true;
}

static bool int_arg(const char **s, int *out)
{
    skip_ws(s);
    if (!isdigit((unsigned char)**s))
        return false;
    long v = 0;
    while (isdigit((unsigned char)**s) && v < 100000)
        v = v * 10 + (*(*s)++ - '0');
    *out = (int)v;
    skip_ws(s);
    return true;
}

static int parse_type(struct pqconvert *c, const char **s, struct pqwriter_column *col, int depth);

static int parse_children(struct pqconvert *c, const char **s, struct pqwriter_column *col,
                          int depth, size_t want)
{
    struct pqwriter_column tmp[128];
    size_t n = 0;
    skip_ws(s);
    if (*(*s)++ != '<')
        return HY_EINVAL;
    for (;;) {
        if (n == 128)
            return HY_EINVAL;
        memset(&tmp[n], 0, sizeof tmp[n]);
        skip_ws(s);
        if (col->type == PQWRITER_STRUCT) {
            const char *b = *s;
            while (**s && **s != ':' && **s != '>' && **s != ',' && **s != '<')
                (*s)++;
            const char *e = *s;
            while (e > b && isspace((unsigned char)e[-1]))
                e--;
            if (**s != ':' || e == b)
                return HY_EINVAL;
            (*s)++;
            char *name = own(c, hy_strndup(b, (size_t)(e - b)));
            if (!name)
                return HY_ENOMEM;
            for (char *q = name; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            tmp[n].name = name;
        } else {
            tmp[n].name = n ? "value" : (col->type == PQWRITER_MAP ? "key" : "element");
        }
        int rc = parse_type(c, s, &tmp[n], depth + 1);
        if (rc)
            return rc;
        n++;
        skip_ws(s);
        if (**s == ',') {
            (*s)++;
            continue;
        }
        if (**s == '>') {
            (*s)++;
            break;
        }
        return HY_EINVAL;
    }
    if (want && n != want)
        return HY_EINVAL;
    struct pqwriter_column *kids = own(c, hy_calloc(n, sizeof *kids));
    if (!kids)
        return HY_ENOMEM;
    memcpy(kids, tmp, n * sizeof *kids);
    col->children = kids;
    col->nchildren = n;
    if (n > c->max_fields)
        c->max_fields = n;
    return 0;
}

static int parse_type(struct pqconvert *c, const char **s, struct pqwriter_column *col, int depth)
{
    if (depth > 16)
        return HY_EINVAL;
    skip_ws(s);
    static const struct {
        const char *w;
        enum pqwriter_type t;
    } simple[] = {
        {"boolean", PQWRITER_BOOLEAN},   {"tinyint", PQWRITER_TINYINT},
        {"smallint", PQWRITER_SMALLINT}, {"integer", PQWRITER_INT},
        {"int", PQWRITER_INT},           {"bigint", PQWRITER_BIGINT},
        {"float", PQWRITER_FLOAT},       {"double", PQWRITER_DOUBLE},
        {"string", PQWRITER_STRING},     {"binary", PQWRITER_BINARY},
        {"date", PQWRITER_DATE},         {"timestamp", PQWRITER_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (word(s, simple[i].w)) {
            col->type = simple[i].t;
            return 0;
        }
    if (word(s, "char") || word(s, "varchar")) {
        int n;
        skip_ws(s);
        if (*(*s)++ != '(' || !int_arg(s, &n) || n < 1 || *(*s)++ != ')')
            return HY_EINVAL;
        col->type = PQWRITER_STRING;
        col->precision = n; /* the length limit, in characters */
        return 0;
    }
    if (word(s, "decimal")) {
        col->type = PQWRITER_DECIMAL;
        col->precision = 10; /* Hive's default decimal is decimal(10,0) */
        col->scale = 0;
        skip_ws(s);
        if (**s == '(') {
            (*s)++;
            if (!int_arg(s, &col->precision))
                return HY_EINVAL;
            if (**s == ',') {
                (*s)++;
                if (!int_arg(s, &col->scale))
                    return HY_EINVAL;
            }
            if (*(*s)++ != ')')
                return HY_EINVAL;
        }
        if (col->precision < 1 || col->precision > 38 || col->scale > col->precision)
            return HY_EINVAL;
        return 0;
    }
    if (word(s, "array")) {
        col->type = PQWRITER_LIST;
        return parse_children(c, s, col, depth, 1);
    }
    if (word(s, "map")) {
        col->type = PQWRITER_MAP;
        int rc = parse_children(c, s, col, depth, 2);
        if (!rc &&
            (col->children[0].type == PQWRITER_LIST || col->children[0].type == PQWRITER_MAP ||
             col->children[0].type == PQWRITER_STRUCT))
            return HY_EINVAL; /* map keys are primitive */
        return rc;
    }
    if (word(s, "struct")) {
        col->type = PQWRITER_STRUCT;
        return parse_children(c, s, col, depth, 0);
    }
    return HY_EINVAL;
}

void pqconvert_free(struct pqconvert *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nowned; i++)
        hy_free(c->owned[i]);
    hy_free(c->owned);
    hy_free(c->nodes);
    hy_free(c->vals);
    buf_fini(&c->text);
    hy_free(c);
}

struct pqconvert *pqconvert_new(const char *const *names, const char *const *types, size_t n,
                                const struct pqconvert_opts *opts, char *err, size_t err_len)
{
    struct pqconvert *c = hy_calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    c->o = *opts;
    c->o.map_columns = NULL; /* not kept: resolved into json_keys below */
    c->o.map_keys = NULL;
    buf_init(&c->text, (size_t)1 << 32);
    c->cols = own(c, hy_calloc(n ? n : 1, sizeof *c->cols));
    c->json_keys = own(c, hy_calloc(n ? n : 1, sizeof *c->json_keys));
    if (!c->cols || !c->json_keys)
        goto oom;
    c->ncols = n;
    for (size_t i = 0; i < n; i++) {
        char *name = own(c, hy_strdup(names[i]));
        if (!name)
            goto oom;
        for (char *q = name; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        c->cols[i].name = name;
        c->json_keys[i] = name;
        for (size_t m = 0; m < opts->nmap; m++)
            if (!strcasecmp(opts->map_columns[m], names[i])) {
                c->json_keys[i] = own(c, hy_strdup(opts->map_keys[m]));
                if (!c->json_keys[i])
                    goto oom;
            }
        const char *s = types[i];
        int rc = parse_type(c, &s, &c->cols[i], 0);
        if (!rc) {
            skip_ws(&s);
            if (*s)
                rc = HY_EINVAL;
        }
        if (rc == HY_ENOMEM)
            goto oom;
        if (rc) {
            snprintf(err, err_len, "column %.100s: unsupported or malformed type '%.200s'",
                     names[i], types[i]);
            pqconvert_free(c);
            return NULL;
        }
    }
    if (c->max_fields < 2)
        c->max_fields = 2;
    return c;
oom:
    snprintf(err, err_len, "out of memory");
    pqconvert_free(c);
    return NULL;
}

const struct pqwriter_column *pqconvert_columns(const struct pqconvert *c, size_t *n)
{
    *n = c->ncols;
    return c->cols;
}

/* ---------------------------------------------------------------- JSON scanner */

struct scan {
    struct pqconvert *c;
    const char *p, *end;
    const char *reason;
};

static int node_new(struct scan *s)
{
    struct pqconvert *c = s->c;
    if (c->nnodes == c->nodes_cap) {
        size_t nc = c->nodes_cap ? c->nodes_cap * 2 : 256;
        struct jnode *n = hy_realloc(c->nodes, nc * sizeof *n);
        if (!n)
            return -1;
        c->nodes = n;
        c->nodes_cap = nc;
    }
    struct jnode *j = &c->nodes[c->nnodes];
    memset(j, 0, sizeof *j);
    j->first = j->next = -1;
    return (int)c->nnodes++;
}

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int scan_value(struct scan *s, int depth);

static int scan_string(struct scan *s)
{
    int id = node_new(s);
    if (id < 0)
        return -1;
    s->p++; /* opening quote */
    const char *b = s->p;
    bool esc = false;
    while (s->p < s->end && *s->p != '"') {
        if ((unsigned char)*s->p < 0x20) {
            s->reason = "control character in a JSON string";
            return -1;
        }
        if (*s->p == '\\') {
            esc = true;
            s->p++;
            if (s->p >= s->end)
                break;
        }
        s->p++;
    }
    if (s->p >= s->end) {
        s->reason = "unterminated JSON string";
        return -1;
    }
    struct jnode *j = &s->c->nodes[id];
    j->kind = 's';
    j->p = b;
    j->len = (size_t)(s->p - b);
    j->escaped = esc;
    s->p++;
    return id;
}

static int scan_container(struct scan *s, int depth, char close)
{
    int id = node_new(s);
    if (id < 0)
        return -1;
    const char *b = s->p++;
    int last = -1;
    size_t n = 0;
    ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
    } else {
        for (;;) {
            int k;
            if (close == '}') {
                ws(s);
                if (s->p >= s->end || *s->p != '"') {
                    s->reason = "expected a key in a JSON object";
                    return -1;
                }
                if ((k = scan_string(s)) < 0)
                    return -1;
                if (last >= 0)
                    s->c->nodes[last].next = k;
                else
                    s->c->nodes[id].first = k;
                last = k;
                ws(s);
                if (s->p >= s->end || *s->p++ != ':') {
                    s->reason = "expected ':' in a JSON object";
                    return -1;
                }
            }
            if ((k = scan_value(s, depth + 1)) < 0)
                return -1;
            if (last >= 0)
                s->c->nodes[last].next = k;
            else
                s->c->nodes[id].first = k;
            last = k;
            n++;
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                break;
            }
            s->reason = "expected ',' or a closing bracket in JSON";
            return -1;
        }
    }
    struct jnode *j = &s->c->nodes[id];
    j->kind = close == '}' ? 'o' : 'a';
    j->p = b;
    j->len = (size_t)(s->p - b);
    j->nkids = n;
    return id;
}

static int scan_value(struct scan *s, int depth)
{
    if (depth > MAX_DEPTH) {
        s->reason = "JSON nested too deeply";
        return -1;
    }
    ws(s);
    if (s->p >= s->end) {
        s->reason = "unexpected end of JSON";
        return -1;
    }
    char ch = *s->p;
    if (ch == '"')
        return scan_string(s);
    if (ch == '{')
        return scan_container(s, depth, '}');
    if (ch == '[')
        return scan_container(s, depth, ']');
    int id = node_new(s);
    if (id < 0)
        return -1;
    const char *b = s->p;
    static const struct {
        const char *w;
        char k;
    } lits[] = {{"true", 't'}, {"false", 'f'}, {"null", 'z'}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i].w);
        if ((size_t)(s->end - s->p) >= n && !memcmp(s->p, lits[i].w, n)) {
            s->p += n;
            s->c->nodes[id].kind = lits[i].k;
            s->c->nodes[id].p = b;
            s->c->nodes[id].len = n;
            return id;
        }
    }
    /* A JSON number: -? digits (. digits)? ([eE] [+-]? digits)? */
    const char *q = s->p;
    if (q < s->end && *q == '-')
        q++;
    const char *d = q;
    while (q < s->end && isdigit((unsigned char)*q))
        q++;
    bool ok = q > d && !(*d == '0' && q - d > 1);
    if (ok && q < s->end && *q == '.') {
        const char *f = ++q;
        while (q < s->end && isdigit((unsigned char)*q))
            q++;
        ok = q > f;
    }
    if (ok && q < s->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < s->end && (*q == '+' || *q == '-'))
            q++;
        const char *f = q;
        while (q < s->end && isdigit((unsigned char)*q))
            q++;
        ok = q > f;
    }
    if (!ok) {
        s->reason = "malformed JSON value";
        return -1;
    }
    s->p = q;
    s->c->nodes[id].kind = 'n';
    s->c->nodes[id].p = b;
    s->c->nodes[id].len = (size_t)(q - b);
    return id;
}

/* ---------------------------------------------------------------- values */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static void put_utf8(char **o, uint32_t cp)
{
    char *q = *o;
    if (cp < 0x80) {
        *q++ = (char)cp;
    } else if (cp < 0x800) {
        *q++ = (char)(0xc0 | (cp >> 6));
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *q++ = (char)(0xe0 | (cp >> 12));
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *q++ = (char)(0xf0 | (cp >> 18));
        *q++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    }
    *o = q;
}

static int read_u4(const char *p, const char *end, uint32_t *out)
{
    if (end - p < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* The decoded bytes of a string node, in c->text (reserved for the whole record up front, so
 * views stay valid until the row ends). */
static int str_value(struct pqconvert *c, const struct jnode *j, const char **p, size_t *len,
                     const char **reason)
{
    if (!j->escaped) {
        *p = j->p;
        *len = j->len;
        return 0;
    }
    char *out = c->text.data + c->text.len, *o = out;
    const char *s = j->p, *end = j->p + j->len;
    while (s < end) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        s++;
        char e = *s++;
        uint32_t cp, lo;
        switch (e) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u':
            if (read_u4(s, end, &cp))
                goto bad;
            s += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || read_u4(s + 2, end, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff)
                    goto bad;
                s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                goto bad;
            }
            put_utf8(&o, cp);
            break;
        default:
            goto bad;
        }
    }
    /* Escapes never decode longer than they are written: 6 bytes give at most 3, 12 give 4. */
    c->text.len += (size_t)(o - out);
    *p = out;
    *len = (size_t)(o - out);
    return 0;
bad:
    *reason = "invalid escape in a JSON string";
    return HY_EBADMSG;
}

/* Text of a scalar node for numeric parsing: numbers as written, strings decoded. */
static int scalar_text(struct pqconvert *c, const struct jnode *j, const char **p, size_t *len,
                       const char **reason)
{
    if (j->kind == 'n') {
        *p = j->p;
        *len = j->len;
        return 0;
    }
    if (j->kind == 's')
        return str_value(c, j, p, len, reason);
    *reason = "a number was expected";
    return HY_EBADMSG;
}

static int parse_i64(const char *p, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    if (i == n)
        return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Decimal text (sign, digits, optional fraction and exponent) to an unscaled value at scale,
 * rounding half up; -1 when malformed or past 38 digits. */
static int parse_dec(const char *p, size_t n, int scale, __int128 *out)
{
    char digits[80];
    size_t nd = 0, i = 0;
    int point = -1;
    bool neg = false;
    long exp10 = 0;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    while (n > i && isspace((unsigned char)p[n - 1]))
        n--;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    bool any = false;
    for (; i < n; i++) {
        if (isdigit((unsigned char)p[i])) {
            any = true;
            if (nd == 0 && p[i] == '0' && point < 0)
                continue; /* leading zeros */
            if (nd >= sizeof digits)
                return -1;
            digits[nd++] = p[i];
        } else if (p[i] == '.' && point < 0) {
            point = (int)nd;
        } else if (p[i] == 'e' || p[i] == 'E') {
            int64_t e;
            if (parse_i64(p + i + 1, n - i - 1, &e) || e > 100 || e < -100)
                return -1;
            exp10 = (long)e;
            break;
        } else {
            return -1;
        }
    }
    if (!any)
        return -1;
    if (point < 0)
        point = (int)nd;
    /* value = 0.digits * 10^(point + exp10); unscaled = digits shifted to scale places. */
    long int_digits = point + exp10;
    long keep = int_digits + scale; /* digits of the unscaled value */
    __int128 v = 0;
    for (long k = 0; k < keep; k++) {
        int d = k < (long)nd && k >= 0 ? digits[k] - '0' : 0;
        if (v > ((__int128)1 << 120))
            return -1;
        v = v * 10 + d;
    }
    if (keep >= 0 && keep < (long)nd && digits[keep] >= '5')
        v += 1;
    *out = neg ? -v : v;
    return 0;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int num_field(const char **p, const char *end, int digits, int *out)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (*p >= end || !isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (*(*p)++ - '0');
    }
    *out = v;
    return 0;
}

static int parse_date(const char **p, const char *end, int64_t *days)
{
    int y, m, d;
    if (num_field(p, end, 4, &y) || *p >= end || *(*p)++ != '-' || num_field(p, end, 2, &m) ||
        *p >= end || *(*p)++ != '-' || num_field(p, end, 2, &d) || m < 1 || m > 12 || d < 1 ||
        d > 31)
        return -1;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* "yyyy-MM-dd[( |T)HH:mm[:ss[.f{1,9}]]][Z|(+|-)hh[:]mm]" to microseconds since the epoch. */
static int parse_ts(const char *p, size_t n, int64_t *out)
{
    const char *end = p + n;
    int64_t days;
    int hh = 0, mi = 0, ss = 0;
    int64_t frac = 0;
    if (parse_date(&p, end, &days))
        return -1;
    if (p < end && (*p == ' ' || *p == 'T')) {
        p++;
        if (num_field(&p, end, 2, &hh) || p >= end || *p++ != ':' || num_field(&p, end, 2, &mi))
            return -1;
        if (p < end && *p == ':') {
            p++;
            if (num_field(&p, end, 2, &ss))
                return -1;
            if (p < end && *p == '.') {
                p++;
                int k = 0;
                while (p < end && isdigit((unsigned char)*p)) {
                    if (k < 6)
                        frac = frac * 10 + (*p - '0');
                    k++;
                    p++;
                }
                if (!k || k > 9)
                    return -1;
                for (; k < 6; k++)
                    frac *= 10;
            }
        }
    }
    int off = 0;
    if (p < end && *p == 'Z') {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (num_field(&p, end, 2, &oh))
            return -1;
        if (p < end && *p == ':')
            p++;
        if (p < end && num_field(&p, end, 2, &om))
            return -1;
        off = sign * (oh * 60 + om);
    }
    if (p != end || hh > 23 || mi > 59 || ss > 60)
        return -1;
    *out = ((days * 86400 + hh * 3600 + mi * 60 + ss) - (int64_t)off * 60) * 1000000 + frac;
    return 0;
}

static size_t utf8_prefix(const char *p, size_t len, size_t chars)
{
    size_t i = 0, c = 0;
    while (i < len && c < chars) {
        i++;
        while (i < len && ((unsigned char)p[i] & 0xc0) == 0x80)
            i++;
        c++;
    }
    return i;
}

static bool key_matches(const struct pqconvert *c, const char *key, size_t klen, const char *name)
{
    size_t n = strlen(name);
    if (klen != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = key[i], b = name[i];
        if (c->o.dots_to_underscores && a == '.')
            a = '_';
        if (!c->o.case_sensitive) {
            a = (char)tolower((unsigned char)a);
            b = (char)tolower((unsigned char)b);
        }
        if (a != b)
            return false;
    }
    return true;
}

static int find_key(struct pqconvert *c, const struct jnode *obj, const char *name,
                    const char **reason)
{
    for (int k = obj->first; k >= 0; k = c->nodes[c->nodes[k].next].next) {
        const struct jnode *kn = &c->nodes[k];
        const char *kp;
        size_t kl;
        size_t mark = c->text.len;
        if (str_value(c, kn, &kp, &kl, reason))
            return -2;
        bool hit = key_matches(c, kp, kl, name);
        c->text.len = mark;
        if (hit)
            return kn->next;
    }
    return -1;
}

static int convert(struct pqconvert *c, const struct pqwriter_column *col, int jid,
                   struct pqwriter_value *v, const char **reason);

static struct pqwriter_value *vals_take(struct pqconvert *c, size_t n)
{
    if (c->nvals + n > c->vals_cap)
        return NULL; /* cannot happen: reserved for the record's worst case up front */
    struct pqwriter_value *v = &c->vals[c->nvals];
    c->nvals += n;
    return v;
}

static int convert(struct pqconvert *c, const struct pqwriter_column *col, int jid,
                   struct pqwriter_value *v, const char **reason)
{
    memset(v, 0, sizeof *v);
    if (jid < 0 || c->nodes[jid].kind == 'z')
        return 0; /* null */
    const struct jnode *j = &c->nodes[jid];
    const char *p;
    size_t n;
    int rc;
    switch (col->type) {
    case PQWRITER_LIST:
    case PQWRITER_MAP:
    case PQWRITER_STRUCT: {
        if (col->type == PQWRITER_LIST ? j->kind != 'a' : j->kind != 'o') {
            *reason = col->type == PQWRITER_LIST ? "a JSON array was expected"
                                                 : "a JSON object was expected";
            return HY_EBADMSG;
        }
        size_t count = col->type == PQWRITER_LIST  ? j->nkids
                       : col->type == PQWRITER_MAP ? 2 * j->nkids
                                                   : col->nchildren;
        struct pqwriter_value *items = vals_take(c, count);
        if (!items) {
            *reason = "record too complex";
            return HY_EBADMSG;
        }
        if (col->type == PQWRITER_LIST) {
            size_t i = 0;
            for (int k = j->first; k >= 0; k = c->nodes[k].next)
                if ((rc = convert(c, &col->children[0], k, &items[i++], reason)))
                    return rc;
        } else if (col->type == PQWRITER_MAP) {
            size_t i = 0;
            for (int k = j->first; k >= 0; k = c->nodes[c->nodes[k].next].next) {
                /* The key is converted from its text as the key column's type. */
                if ((rc = convert(c, &col->children[0], k, &items[i++], reason)) ||
                    (rc = convert(c, &col->children[1], c->nodes[k].next, &items[i++], reason)))
                    return rc;
            }
        } else {
            for (size_t f = 0; f < col->nchildren; f++) {
                int vid = find_key(c, j, col->children[f].name, reason);
                if (vid == -2)
                    return HY_EBADMSG;
                if ((rc = convert(c, &col->children[f], vid, &items[f], reason)))
                    return rc;
            }
        }
        v->kind = PQWRITER_V_ITEMS;
        v->items = items;
        v->len = count;
        return 0;
    }
    case PQWRITER_STRING:
    case PQWRITER_BINARY:
        if (j->kind == 's') {
            if ((rc = str_value(c, j, &p, &n, reason)))
                return rc;
        } else {
            p = j->p; /* numbers, booleans, objects and arrays as their JSON text */
            n = j->len;
        }
        if (col->type == PQWRITER_STRING && col->precision > 0)
            n = utf8_prefix(p, n, (size_t)col->precision);
        v->kind = PQWRITER_V_BYTES;
        v->p = p;
        v->len = n;
        return 0;
    case PQWRITER_BOOLEAN:
        if (j->kind == 't' || j->kind == 'f') {
            v->b = j->kind == 't';
        } else if (j->kind == 's' && !str_value(c, j, &p, &n, reason) &&
                   ((n == 4 && !strncasecmp(p, "true", 4)) ||
                    (n == 5 && !strncasecmp(p, "false", 5)))) {
            v->b = n == 4;
        } else {
            *reason = "a boolean was expected";
            return HY_EBADMSG;
        }
        v->kind = PQWRITER_V_BOOL;
        return 0;
    case PQWRITER_TINYINT:
    case PQWRITER_SMALLINT:
    case PQWRITER_INT:
    case PQWRITER_BIGINT: {
        if ((rc = scalar_text(c, j, &p, &n, reason)))
            return rc;
        int64_t x;
        int64_t lim = col->type == PQWRITER_TINYINT    ? INT8_MAX
                      : col->type == PQWRITER_SMALLINT ? INT16_MAX
                      : col->type == PQWRITER_INT      ? INT32_MAX
                                                       : INT64_MAX;
        if (parse_i64(p, n, &x) || x > lim || x < -lim - 1) {
            *reason = "an integer in the column type's range was expected";
            return HY_EBADMSG;
        }
        v->kind = PQWRITER_V_INT;
        v->i = x;
        return 0;
    }
    case PQWRITER_FLOAT:
    case PQWRITER_DOUBLE: {
        if ((rc = scalar_text(c, j, &p, &n, reason)))
            return rc;
        char tmp[128];
        if (n == 0 || n >= sizeof tmp) {
            *reason = "a number was expected";
            return HY_EBADMSG;
        }
        memcpy(tmp, p, n);
        tmp[n] = 0;
        char *e;
        double d = strtod(tmp, &e);
        if (*e || (j->kind == 's' && isxdigit((unsigned char)tmp[n - 1]) && strchr(tmp, 'x'))) {
            *reason = "a number was expected";
            return HY_EBADMSG;
        }
        v->kind = PQWRITER_V_DOUBLE;
        v->d = d;
        return 0;
    }
    case PQWRITER_DECIMAL: {
        if ((rc = scalar_text(c, j, &p, &n, reason)))
            return rc;
        __int128 x, lim = 1;
        for (int k = 0; k < col->precision; k++)
            lim *= 10;
        if (parse_dec(p, n, col->scale, &x) || x >= lim || x <= -lim) {
            *reason = "a decimal within the column's precision was expected";
            return HY_EBADMSG;
        }
        v->kind = PQWRITER_V_DECIMAL;
        v->dec = x;
        return 0;
    }
    case PQWRITER_DATE: {
        int64_t days;
        if (j->kind == 's' && !str_value(c, j, &p, &n, reason)) {
            const char *q = p;
            if (!parse_date(&q, p + n, &days) && q == p + n) {
                v->kind = PQWRITER_V_INT;
                v->i = days;
                if (days >= INT32_MIN && days <= INT32_MAX)
                    return 0;
            }
        }
        *reason = "a date yyyy-MM-dd was expected";
        return HY_EBADMSG;
    }
    case PQWRITER_TIMESTAMP: {
        int64_t t;
        if (j->kind == 'n') {
            if (parse_i64(j->p, j->len, &t) || t > INT64_MAX / 1000000 || t < INT64_MIN / 1000000) {
                *reason = "a timestamp was expected";
                return HY_EBADMSG;
            }
            v->i = c->o.millis ? t * 1000 : t * 1000000;
        } else if (j->kind != 's' || str_value(c, j, &p, &n, reason) || parse_ts(p, n, &t)) {
            *reason = "a timestamp was expected";
            return HY_EBADMSG;
        } else {
            v->i = t;
        }
        v->kind = PQWRITER_V_INT;
        return 0;
    }
    }
    *reason = "unsupported column type";
    return HY_EBADMSG;
}

int pqconvert_row(struct pqconvert *c, struct pqwriter *w, const char *json, size_t len,
                  const char **reason)
{
    int rc;
    struct scan s = {c, json, json + len, NULL};
    c->nnodes = 0;
    c->nvals = 0;
    buf_reset(&c->text);
    if ((rc = buf_reserve(&c->text, len + 1)))
        return rc;
    int root = scan_value(&s, 0);
    if (root >= 0) {
        ws(&s);
        if (s.p != s.end) {
            root = -1;
            s.reason = "trailing data after the JSON value";
        }
    }
    if (root < 0) {
        *reason = s.reason ? s.reason : "out of memory";
        return s.reason ? HY_EBADMSG : HY_ENOMEM;
    }
    if (c->nodes[root].kind != 'o') {
        *reason = "the record is not a JSON object";
        return HY_EBADMSG;
    }
    /* Worst case of value slots: every node, plus every struct's fields for each node. */
    size_t need = (c->nnodes + c->ncols) * (c->max_fields + 1);
    if (need > c->vals_cap) {
        struct pqwriter_value *nv = hy_realloc(c->vals, need * sizeof *nv);
        if (!nv)
            return HY_ENOMEM;
        c->vals = nv;
        c->vals_cap = need;
    }
    struct pqwriter_value *top = vals_take(c, c->ncols);
    for (size_t i = 0; i < c->ncols; i++) {
        int vid = find_key(c, &c->nodes[root], c->json_keys[i], reason);
        if (vid == -2 || (rc = convert(c, &c->cols[i], vid, &top[i], reason))) {
            pqwriter_row_abort(w);
            return HY_EBADMSG;
        }
        if ((rc = pqwriter_set_value(w, i, &top[i]))) {
            pqwriter_row_abort(w);
            *reason = "a value does not fit the column type";
            return HY_EBADMSG;
        }
    }
    return pqwriter_row_end(w);
}
