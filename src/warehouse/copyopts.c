/*
 * copyopts: ClusterJDBCURL and CopyOptions parsing (copyopts.h).
 */
#include "warehouse/copyopts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int copyopts_jdbc(const char *url, struct jdbc_url *out, const char **reason)
{
    static const struct {
        const char *scheme;
        int port;
    } schemes[] = {{"jdbc:redshift://", 5439}, {"jdbc:postgresql://", 5432}};
    const char *p = NULL;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; url && i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncasecmp(url, schemes[i].scheme, strlen(schemes[i].scheme)) == 0) {
            p = url + strlen(schemes[i].scheme);
            out->port = schemes[i].port;
        }
    *reason = "ClusterJDBCURL must look like jdbc:redshift://host:port/db or "
              "jdbc:postgresql://host[:port]/db";
    if (!p)
        return -1;
    size_t hl = strcspn(p, ":/?");
    if (hl == 0 || hl >= sizeof out->host)
        return -1;
    memcpy(out->host, p, hl);
    p += hl;
    if (*p == ':') {
        char *end = NULL;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || !isdigit((unsigned char)p[1]))
            return -1;
        out->port = (int)port;
        p = end;
    }
    if (*p != '/')
        return -1;
    p++;
    size_t dl = strcspn(p, "?;");
    if (dl == 0 || dl >= sizeof out->db)
        return -1;
    memcpy(out->db, p, dl);
    for (size_t i = 0; i < hl; i++)
        if (!isalnum((unsigned char)out->host[i]) && !strchr(".-_", out->host[i]))
            return -1;
    *reason = NULL;
    return 0;
}

/* A token: a word, or a quoted string (its contents, '' escapes a quote). */
struct tok {
    char text[COPYOPTS_NULL_MAX * 2];
    int quoted;
};

static const char *next_tok(const char *p, struct tok *t, int *ok)
{
    size_t n = 0;
    *ok = 1;
    while (isspace((unsigned char)*p))
        p++;
    t->quoted = 0;
    t->text[0] = 0;
    if (!*p)
        return NULL;
    if (*p == '\'') {
        t->quoted = 1;
        for (p++;; p++) {
            if (!*p) {
                *ok = 0;
                return NULL;
            }
            if (*p == '\'') {
                if (p[1] != '\'')
                    break;
                p++;
            }
            if (n + 1 >= sizeof t->text) {
                *ok = 0;
                return NULL;
            }
            t->text[n++] = *p;
        }
        t->text[n] = 0;
        return p + 1;
    }
    while (*p && !isspace((unsigned char)*p) && *p != '\'') {
        if (n + 1 >= sizeof t->text) {
            *ok = 0;
            return NULL;
        }
        t->text[n++] = *p++;
    }
    t->text[n] = 0;
    return p;
}

static int is_kw(const struct tok *t, const char *kw)
{
    return !t->quoted && strcasecmp(t->text, kw) == 0;
}

/* The value after an option, skipping an optional AS. */
static const char *value(const char *p, struct tok *t, int *ok)
{
    p = next_tok(p, t, ok);
    if (p && is_kw(t, "AS"))
        p = next_tok(p, t, ok);
    if (!p)
        *ok = 0;
    return p;
}

int copyopts_parse(const char *s, struct copyopts *o, char *reason, size_t n)
{
    struct tok t;
    int ok = 1;
    memset(o, 0, sizeof *o);
    const char *p = s ? s : "";
    while ((p = next_tok(p, &t, &ok)) != NULL) {
        if (is_kw(&t, "CSV")) {
            o->csv = 1;
        } else if (is_kw(&t, "GZIP")) {
            o->gzip = 1;
        } else if (is_kw(&t, "DELIMITER") || is_kw(&t, "QUOTE")) {
            int delim = is_kw(&t, "DELIMITER");
            p = value(p, &t, &ok);
            if (!ok || !t.quoted || strlen(t.text) != 1 || t.text[0] == '\n' || t.text[0] == '\r') {
                snprintf(reason, n, "CopyOptions %s needs one quoted character",
                         delim ? "DELIMITER" : "QUOTE");
                return -1;
            }
            if (delim)
                o->delim = t.text[0];
            else
                o->quote = t.text[0];
        } else if (is_kw(&t, "NULL")) {
            p = value(p, &t, &ok);
            if (!ok || !t.quoted || strlen(t.text) >= sizeof o->null_as ||
                strpbrk(t.text, "\r\n")) {
                snprintf(reason, n, "CopyOptions NULL AS needs a quoted string (at most %d bytes)",
                         COPYOPTS_NULL_MAX - 1);
                return -1;
            }
            o->has_null = 1;
            memcpy(o->null_as, t.text, strlen(t.text) + 1);
        } else if (is_kw(&t, "IGNOREHEADER")) {
            p = value(p, &t, &ok);
            char *end = NULL;
            long v = ok && !t.quoted ? strtol(t.text, &end, 10) : -1;
            if (!ok || t.quoted || !end || *end || t.text[0] == 0 || v < 0 || v > 1000000) {
                snprintf(reason, n, "CopyOptions IGNOREHEADER needs a line count");
                return -1;
            }
            o->ignore_header = v;
        } else if (is_kw(&t, "JSON")) {
            p = value(p, &t, &ok);
            if (!ok || !t.quoted || strcasecmp(t.text, "auto") != 0) {
                snprintf(reason, n, "hydrant supports CopyOptions JSON 'auto' only");
                return -1;
            }
            o->json = 1;
        } else if (!ok) {
            break;
        } else {
            snprintf(reason, n, "hydrant does not support CopyOptions option %.64s", t.text);
            return -1;
        }
        if (!p)
            break;
    }
    if (!ok) {
        snprintf(reason, n, "CopyOptions has an unterminated or too long quoted string");
        return -1;
    }
    if (o->csv && o->json) {
        snprintf(reason, n, "CopyOptions CSV and JSON cannot be used together");
        return -1;
    }
    if (o->quote && !o->csv) {
        snprintf(reason, n, "CopyOptions QUOTE requires CSV");
        return -1;
    }
    if (o->json && (o->delim || o->has_null)) {
        snprintf(reason, n, "CopyOptions DELIMITER and NULL AS cannot be used with JSON");
        return -1;
    }
    if (o->delim && o->quote && o->delim == o->quote) {
        snprintf(reason, n, "CopyOptions DELIMITER and QUOTE must differ");
        return -1;
    }
    return 0;
}
