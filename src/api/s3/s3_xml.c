/*
 * s3_xml: XML for the S3 front. Replies are written by hand (a handful of fixed shapes, escaped
 * text); the two request bodies S3 clients send (DeleteObjects, CompleteMultipartUpload) are
 * parsed with expat (Debian's libexpat), with DOCTYPEs refused so no entity can expand.
 */
#include <expat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/s3/s3_int.h"
#include "base/err.h"
#include "base/mem.h"

/* Decode one UTF-8 sequence at s[0..n); its length, or 0 if invalid. *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || len > n || s[0] > 0xF4)
        return 0;
    unsigned v = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

int s3_xml_escape(struct buf *b, const char *s, size_t n)
{
    int rc = 0;
    size_t i = 0;
    while (!rc && i < n) {
        size_t run = i;
        /* Copy the longest run that needs no escape in one go. */
        while (run < n) {
            unsigned char c = (unsigned char)s[run];
            if (c == '&' || c == '<' || c == '>' || c == '"' || c == '\'' ||
                (c < 0x20 && c != '\t' && c != '\n') || c == '\r' || c >= 0x80)
                break;
            run++;
        }
        if (run > i)
            rc = buf_append(b, s + i, run - i);
        i = run;
        if (rc || i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        unsigned cp = 0;
        size_t len = 1;
        switch (c) {
        case '&':
            rc = buf_append_str(b, "&amp;");
            break;
        case '<':
            rc = buf_append_str(b, "&lt;");
            break;
        case '>':
            rc = buf_append_str(b, "&gt;");
            break;
        case '"':
            rc = buf_append_str(b, "&quot;");
            break;
        case '\'':
            rc = buf_append_str(b, "&apos;");
            break;
        default:
            if (c >= 0x80) {
                len = utf8_seq((const unsigned char *)s + i, n - i, &cp);
                if (len)
                    rc = buf_append(b, s + i, len);
                else {
                    len = 1; /* not UTF-8 (keys are checked, so only from odd input) */
                    rc = buf_append_str(b, "&#xFFFD;");
                }
            } else {
                /* XML 1.0 cannot carry most control characters; a character reference is the
                 * closest (clients wanting exact keys use encoding-type=url). */
                rc = buf_printf(b, "&#x%X;", c);
            }
        }
        i += len;
    }
    return rc;
}

int s3_xml_elem(struct buf *b, const char *name, const char *s, size_t n)
{
    int rc = buf_printf(b, "<%s>", name);
    if (!rc)
        rc = s3_xml_escape(b, s, n);
    if (!rc)
        rc = buf_printf(b, "</%s>", name);
    return rc;
}

void s3_xml_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void s3_xml_http_date(int64_t t, char *out, size_t cap)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    /* Fixed English names: strftime's %a/%b follow the locale. */
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int s3_xml_parse_http_date(const char *s, size_t n, int64_t *t)
{
    char tmp[64];
    if (n >= sizeof tmp)
        return HY_EBADMSG;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    static const char *const fmts[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                       "%a %b %e %H:%M:%S %Y"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(tmp, fmts[i], &tm);
        if (end && *end == '\0') {
            *t = (int64_t)timegm(&tm);
            return 0;
        }
    }
    return HY_EBADMSG;
}

/* ---- request bodies ---- */

enum which { DELETE_BODY, COMPLETE_BODY };

struct parse {
    XML_Parser p;
    enum which which;
    struct s3_xml_req *out;
    int depth;
    int bad;
    int in_item;     /* inside Object / Part */
    int field;       /* 1 Key/ETag, 2 PartNumber, 3 Quiet */
    struct buf text; /* text of the current field */
    struct buf key;  /* Key / ETag of the current item */
    int have_key;
    long num;
};

static void stop(struct parse *ps)
{
    ps->bad = 1;
    XML_StopParser(ps->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct parse *ps = ud;
    ps->depth++;
    const char *root = ps->which == DELETE_BODY ? "Delete" : "CompleteMultipartUpload";
    const char *item = ps->which == DELETE_BODY ? "Object" : "Part";
    const char *kname = ps->which == DELETE_BODY ? "Key" : "ETag";
    if (ps->depth == 1) {
        if (strcmp(name, root) != 0)
            stop(ps);
    } else if (ps->depth == 2) {
        if (strcmp(name, item) == 0) {
            ps->in_item = 1;
            ps->have_key = 0;
            ps->num = -1;
            buf_reset(&ps->key);
        } else if (ps->which == DELETE_BODY && strcmp(name, "Quiet") == 0) {
            ps->field = 3;
            buf_reset(&ps->text);
        }
    } else if (ps->depth == 3 && ps->in_item) {
        if (strcmp(name, kname) == 0)
            ps->field = 1;
        else if (ps->which == COMPLETE_BODY && strcmp(name, "PartNumber") == 0)
            ps->field = 2;
        else
            ps->field = 0;
        buf_reset(&ps->text);
    } else if (ps->field) {
        stop(ps); /* markup inside a text field */
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parse *ps = ud;
    if (ps->field && buf_append(&ps->text, s, (size_t)len))
        stop(ps);
}

static int push_item(struct parse *ps)
{
    struct s3_xml_req *r = ps->out;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct s3_xml_item *v = hy_realloc(r->items, cap * sizeof *v);
        if (!v)
            return HY_ENOMEM;
        r->items = v;
        r->cap = cap;
    }
    char *t = hy_malloc(ps->key.len + 1);
    if (!t)
        return HY_ENOMEM;
    memcpy(t, ps->key.data ? ps->key.data : "", ps->key.len);
    t[ps->key.len] = '\0';
    r->items[r->n].text = t;
    r->items[r->n].len = ps->key.len;
    r->items[r->n].num = ps->num;
    r->n++;
    return 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct parse *ps = ud;
    if (ps->depth == 3 && ps->in_item) {
        if (ps->field == 1) {
            buf_reset(&ps->key);
            if (buf_append(&ps->key, ps->text.data ? ps->text.data : "", ps->text.len))
                stop(ps);
            ps->have_key = 1;
        } else if (ps->field == 2) {
            long v = 0;
            int ok = ps->text.len > 0 && ps->text.len <= 6;
            for (size_t i = 0; ok && i < ps->text.len; i++) {
                char c = ps->text.data[i];
                ok = c >= '0' && c <= '9';
                v = v * 10 + (c - '0');
            }
            ps->num = ok ? v : -1;
        }
        ps->field = 0;
    } else if (ps->depth == 2) {
        if (ps->in_item) {
            if (!ps->have_key || push_item(ps))
                stop(ps);
            ps->in_item = 0;
        } else if (ps->field == 3) {
            ps->out->quiet = ps->text.len == 4 && memcmp(ps->text.data, "true", 4) == 0;
            ps->field = 0;
        }
    }
    ps->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    stop(ud); /* no DTDs: nothing to expand, nothing to fetch */
}

static int parse_body(const char *body, size_t len, enum which which, struct s3_xml_req *out)
{
    memset(out, 0, sizeof *out);
    if (len > (size_t)1 << 30)
        return HY_EBADMSG;
    struct parse ps;
    memset(&ps, 0, sizeof ps);
    ps.which = which;
    ps.out = out;
    buf_init(&ps.text, 4 * S3_KEY_MAX);
    buf_init(&ps.key, 4 * S3_KEY_MAX);
    ps.p = XML_ParserCreate("UTF-8");
    if (!ps.p)
        return HY_ENOMEM;
    XML_SetUserData(ps.p, &ps);
    XML_SetElementHandler(ps.p, on_start, on_end);
    XML_SetCharacterDataHandler(ps.p, on_text);
    XML_SetStartDoctypeDeclHandler(ps.p, on_doctype);
    int ok = XML_Parse(ps.p, body ? body : "", (int)len, XML_TRUE) == XML_STATUS_OK;
    XML_ParserFree(ps.p);
    buf_fini(&ps.text);
    buf_fini(&ps.key);
    if (!ok || ps.bad) {
        s3_xml_req_fini(out);
        return HY_EBADMSG;
    }
    return 0;
}

int s3_xml_parse_delete(const char *body, size_t len, struct s3_xml_req *out)
{
    return parse_body(body, len, DELETE_BODY, out);
}

int s3_xml_parse_complete(const char *body, size_t len, struct s3_xml_req *out)
{
    return parse_body(body, len, COMPLETE_BODY, out);
}

void s3_xml_req_fini(struct s3_xml_req *r)
{
    for (size_t i = 0; i < r->n; i++)
        hy_free(r->items[i].text);
    hy_free(r->items);
    memset(r, 0, sizeof *r);
}
