/*
 * pgload: loading one batch into PostgreSQL through libpq (pgload.h). libpq is PostgreSQL's own
 * client library (Debian libpq5); only the batch discipline around it is hydrant's.
 */
#include "warehouse/pgload.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"

#define LOAD_BUF_MAX ((size_t)1 << 31)
#define COPY_CHUNK ((size_t)1 << 18)

struct pgload {
    PGconn *conn;
    int tables_ok; /* hydrant's tables exist (checked on this connection) */
};

/* One line of the staged object. */
struct line {
    const char *raw;
    size_t raw_len;
    uint64_t lineno; /* 1-based in the staged object */
    size_t off, len; /* its COPY input in the input buffer */
    int bad_json;
};

struct pgload *pgload_new(void)
{
    return hy_calloc(1, sizeof(struct pgload));
}

static void drop_conn(struct pgload *p)
{
    if (p->conn)
        PQfinish(p->conn);
    p->conn = NULL;
    p->tables_ok = 0;
}

void pgload_free(struct pgload *p)
{
    if (!p)
        return;
    drop_conn(p);
    hy_free(p);
}

static void set_err(char *err, size_t n, const char *what, const PGresult *r, PGconn *c)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m)
        m = c ? PQerrorMessage(c) : "";
    snprintf(err, n, "%s: %s", what, m);
    size_t l = strlen(err);
    while (l > 0 && (err[l - 1] == '\n' || err[l - 1] == ' '))
        err[--l] = 0;
}

/* Run a command; 0 if it returned PGRES_COMMAND_OK. */
static int exec_ok(struct pgload *p, const char *sql, char *err, size_t n)
{
    PGresult *r = PQexec(p->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        set_err(err, n, sql, r, p->conn);
    PQclear(r);
    return ok ? 0 : -1;
}

static int connect_db(struct pgload *p, const struct pgload_target *t, char *err, size_t n)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    drop_conn(p);
    char port[16];
    snprintf(port, sizeof port, "%d", t->url.port);
    const char *keys[] = {
        "host", "port", "dbname", "user", "password", "connect_timeout", "application_name", NULL};
    const char *vals[] = {t->url.host,
                          port,
                          t->url.db,
                          t->user && t->user[0] ? t->user : NULL,
                          t->password && t->password[0] ? t->password : NULL,
                          "5",
                          "hydrant",
                          NULL};
    /* libpq stops at the first NULL key: put the optional ones last by compacting. */
    const char *k2[8], *v2[8];
    size_t m = 0;
    for (size_t i = 0; keys[i]; i++)
        if (vals[i]) {
            k2[m] = keys[i];
            v2[m++] = vals[i];
        }
    k2[m] = v2[m] = NULL;
    p->conn = PQconnectdbParams(k2, v2, 0);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        set_err(err, n, "connect", NULL, p->conn);
        drop_conn(p);
        return -1;
    }
    if (!p->tables_ok) {
        if (exec_ok(p,
                    "CREATE TABLE IF NOT EXISTS hydrant_loads (manifest text PRIMARY KEY, "
                    "file text NOT NULL, rows bigint NOT NULL DEFAULT 0, errors bigint NOT NULL "
                    "DEFAULT 0, loaded_at timestamptz NOT NULL DEFAULT now())",
                    err, n) ||
            exec_ok(p,
                    "CREATE TABLE IF NOT EXISTS hydrant_load_errors (file text NOT NULL, line "
                    "bigint NOT NULL, colname text, raw_line text, err text NOT NULL, "
                    "at timestamptz NOT NULL DEFAULT now())",
                    err, n)) {
            drop_conn(p);
            return -1;
        }
        p->tables_ok = 1;
    }
    return 0;
}

/* Append a quoted identifier (schema.table split at dots). */
static int put_ident(PGconn *c, struct buf *b, const char *s, size_t len)
{
    char *q = PQescapeIdentifier(c, s, len);
    if (!q)
        return -1;
    int rc = buf_append_str(b, q);
    PQfreemem(q);
    return rc;
}

static int put_literal(PGconn *c, struct buf *b, const char *s)
{
    char *q = PQescapeLiteral(c, s, strlen(s));
    if (!q)
        return -1;
    int rc = buf_append_str(b, q);
    PQfreemem(q);
    return rc;
}

/* The next trimmed column name of a comma-separated list; NULL at the end. */
static const char *next_col(const char *p, size_t *len, const char **rest)
{
    while (p && (*p == ' ' || *p == '\t' || *p == ','))
        p++;
    if (!p || !*p)
        return NULL;
    size_t l = strcspn(p, ",");
    *rest = p + l;
    while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
        l--;
    *len = l;
    return p;
}

static int copy_sql(PGconn *c, const struct pgload_target *t, struct buf *b)
{
    const struct copyopts *o = &t->opts;
    int rc = buf_append_str(b, "COPY ");
    for (const char *s = t->table; rc == 0 && s;) {
        const char *dot = strchr(s, '.');
        rc = put_ident(c, b, s, dot ? (size_t)(dot - s) : strlen(s));
        if (rc == 0 && dot)
            rc = buf_append_str(b, ".");
        s = dot ? dot + 1 : NULL;
    }
    if (rc == 0 && t->columns && t->columns[0]) {
        const char *rest = t->columns, *col;
        size_t len, i = 0;
        rc = buf_append_str(b, " (");
        while (rc == 0 && (col = next_col(rest, &len, &rest)) != NULL)
            rc = (i++ ? buf_append_str(b, ", ") : 0) || put_ident(c, b, col, len);
        rc = rc || buf_append_str(b, ")");
    }
    char d[2] = {o->delim ? o->delim : (o->csv || o->json ? ',' : '|'), 0};
    rc = rc || buf_append_str(b, o->csv || o->json ? " FROM STDIN WITH (FORMAT csv, DELIMITER "
                                                   : " FROM STDIN WITH (FORMAT text, DELIMITER ");
    rc = rc || put_literal(c, b, d);
    if (o->csv && o->quote) {
        char q[2] = {o->quote, 0};
        rc = rc || buf_append_str(b, ", QUOTE ") || put_literal(c, b, q);
    }
    if (o->has_null)
        rc = rc || buf_append_str(b, ", NULL ") || put_literal(c, b, o->null_as);
    return rc || buf_append_str(b, ")");
}

static int csv_quoted(struct buf *b, const char *s)
{
    int rc = buf_append_str(b, "\"");
    for (const char *q; rc == 0 && (q = strchr(s, '"')) != NULL; s = q + 1)
        rc = buf_append(b, s, (size_t)(q - s)) || buf_append_str(b, "\"\"");
    return rc || buf_append_str(b, s) || buf_append_str(b, "\"");
}

int pgload_json_line(const char *line, size_t len, const char *columns, struct buf *out)
{
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -1;
    }
    const char *rest = columns, *col;
    size_t cl, i = 0;
    int rc = 0;
    while (rc == 0 && (col = next_col(rest, &cl, &rest)) != NULL) {
        const cJSON *v = NULL, *it;
        /* Redshift's 'auto' matches keys to column names case-insensitively. */
        cJSON_ArrayForEach(it, j)
        {
            if (it->string && strlen(it->string) == cl && strncasecmp(it->string, col, cl) == 0) {
                v = it;
                break;
            }
        }
        if (i++)
            rc = buf_append_str(out, ",");
        if (rc || !v || cJSON_IsNull(v))
            continue;
        if (cJSON_IsString(v)) {
            rc = csv_quoted(out, v->valuestring);
        } else if (cJSON_IsBool(v)) {
            rc = buf_append_str(out, cJSON_IsTrue(v) ? "true" : "false");
        } else {
            char *s = cJSON_PrintUnformatted(v);
            rc = !s || (cJSON_IsNumber(v) ? buf_append_str(out, s) : csv_quoted(out, s));
            cJSON_free(s);
        }
    }
    cJSON_Delete(j);
    return rc ? -1 : 0;
}

/* COPY the input lines [from, to) (one round trip). 0, or -1 with *state the SQLSTATE (static
 * "" if none) and err set; *res_out keeps the error result for the caller (PQclear it). */
static int copy_lines(struct pgload *p, const char *sql, const struct buf *in,
                      const struct line *lines, size_t from, size_t to, PGresult **res_out,
                      char *err, size_t n)
{
    PGresult *r = PQexec(p->conn, sql);
    *res_out = NULL;
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        set_err(err, n, "COPY", r, p->conn);
        *res_out = r;
        return -1;
    }
    PQclear(r);
    /* The COPY input of lines [from, to) is contiguous (lines that are not JSON objects have
     * none), so it goes in large chunks. */
    int ok = 1;
    size_t pos = from < to ? lines[from].off : 0;
    size_t end = from < to ? lines[to - 1].off + lines[to - 1].len + !lines[to - 1].bad_json : 0;
    while (ok && pos < end) {
        size_t chunk = end - pos < COPY_CHUNK ? end - pos : COPY_CHUNK;
        ok = PQputCopyData(p->conn, in->data + pos, (int)chunk) == 1;
        pos += chunk;
    }
    if (PQputCopyEnd(p->conn, ok ? NULL : "hydrant: sending failed") != 1)
        ok = 0;
    int failed = 0;
    while ((r = PQgetResult(p->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !failed) {
            failed = 1;
            set_err(err, n, "COPY", r, p->conn);
            *res_out = r;
            continue;
        }
        PQclear(r);
    }
    return failed || !ok ? -1 : 0;
}

static int row_level(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return st && (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0);
}

/* The column a COPY error names: PG_DIAG_COLUMN_NAME, else "column X:" in the context. */
static void err_column(const PGresult *r, char *col, size_t n)
{
    const char *c = r ? PQresultErrorField(r, PG_DIAG_COLUMN_NAME) : NULL;
    col[0] = 0;
    if (c) {
        snprintf(col, n, "%s", c);
        return;
    }
    const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
    const char *at = ctx ? strstr(ctx, ", column ") : NULL;
    if (at) {
        at += 9;
        size_t l = strcspn(at, ":");
        snprintf(col, n, "%.*s", (int)(l < n ? l : n - 1), at);
    }
}

static int record_error(struct pgload *p, const char *file, const struct line *l, const char *col,
                        const char *msg, char *err, size_t n)
{
    char lineno[24];
    snprintf(lineno, sizeof lineno, "%llu", (unsigned long long)l->lineno);
    char *raw = hy_strndup(l->raw, l->raw_len);
    const char *vals[] = {file, lineno, col[0] ? col : NULL, raw, msg};
    PGresult *r = PQexecParams(p->conn,
                               "INSERT INTO hydrant_load_errors (file, line, colname, raw_line, "
                               "err) VALUES ($1, $2, $3, $4, $5)",
                               5, NULL, vals, NULL, NULL, 0);
    hy_free(raw);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        set_err(err, n, "recording a load error", r, p->conn);
    PQclear(r);
    return ok ? 0 : -1;
}

/* Split data into lines and build their COPY input. */
static int prepare(const struct pgload_target *t, const char *data, size_t len, struct line **out,
                   size_t *nout, struct buf *in)
{
    size_t cap = 0, nl = 0;
    struct line *lines = NULL;
    uint64_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *s = data + pos;
        const char *e = memchr(s, '\n', len - pos);
        size_t l = e ? (size_t)(e - s) : len - pos;
        pos += l + 1;
        lineno++;
        if (lineno <= (uint64_t)t->opts.ignore_header || l == 0 || (l == 1 && s[0] == '\r'))
            continue;
        if (nl == cap) {
            cap = cap ? cap * 2 : 256;
            struct line *nlines = hy_realloc(lines, cap * sizeof *lines);
            if (!nlines) {
                hy_free(lines);
                return -1;
            }
            lines = nlines;
        }
        struct line *ln = &lines[nl++];
        memset(ln, 0, sizeof *ln);
        ln->raw = s;
        ln->raw_len = l;
        ln->lineno = lineno;
        ln->off = in->len;
        int rc;
        if (t->opts.json) {
            rc = pgload_json_line(s, l, t->columns, in);
            if (rc < 0) {
                buf_truncate(in, ln->off);
                ln->bad_json = 1;
                rc = 0;
            }
        } else {
            rc = buf_append(in, s, l);
        }
        ln->len = in->len - ln->off;
        if (rc || (!ln->bad_json && buf_append_str(in, "\n"))) {
            hy_free(lines);
            return -1;
        }
    }
    *out = lines;
    *nout = nl;
    return 0;
}

static int load_tx(struct pgload *p, const struct pgload_target *t, const char *manifest,
                   const char *file_url, const struct buf *sql, const struct buf *in,
                   const struct line *lines, size_t nl, struct pgload_result *res, char *err,
                   size_t n)
{
    if (exec_ok(p, "BEGIN", err, n))
        return -1;
    const char *v[] = {manifest, file_url};
    PGresult *r = PQexecParams(p->conn,
                               "INSERT INTO hydrant_loads (manifest, file) VALUES ($1, $2) "
                               "ON CONFLICT DO NOTHING",
                               2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        set_err(err, n, "recording the manifest", r, p->conn);
        PQclear(r);
        return -1;
    }
    int already = strcmp(PQcmdTuples(r), "0") == 0;
    PQclear(r);
    if (already) {
        res->already = 1;
        return exec_ok(p, "ROLLBACK", err, n);
    }
    if (exec_ok(p, "SAVEPOINT hy_batch", err, n))
        return -1;
    PGresult *er = NULL;
    int bad_json = 0;
    for (size_t i = 0; i < nl; i++)
        bad_json |= lines[i].bad_json;
    if (copy_lines(p, sql->data, in, lines, 0, nl, &er, err, n) == 0) {
        res->rows = nl;
    } else {
        int isolate = row_level(er);
        PQclear(er);
        if (!isolate || exec_ok(p, "ROLLBACK TO SAVEPOINT hy_batch", err, n))
            return -1;
        /* Row by row, each in its own savepoint: rejected lines go to hydrant_load_errors. */
        for (size_t i = 0; i < nl; i++) {
            if (lines[i].bad_json)
                continue;
            if (exec_ok(p, "SAVEPOINT hy_row", err, n))
                return -1;
            if (copy_lines(p, sql->data, in, lines, i, i + 1, &er, err, n) == 0) {
                res->rows++;
                if (exec_ok(p, "RELEASE SAVEPOINT hy_row", err, n))
                    return -1;
                continue;
            }
            char col[128], msg[512];
            if (!row_level(er)) {
                PQclear(er);
                return -1;
            }
            err_column(er, col, sizeof col);
            snprintf(msg, sizeof msg, "%s",
                     PQresultErrorField(er, PG_DIAG_MESSAGE_PRIMARY)
                         ? PQresultErrorField(er, PG_DIAG_MESSAGE_PRIMARY)
                         : "rejected");
            PQclear(er);
            if (exec_ok(p, "ROLLBACK TO SAVEPOINT hy_row", err, n) ||
                record_error(p, file_url, &lines[i], col, msg, err, n))
                return -1;
            res->errors++;
        }
    }
    if (bad_json)
        for (size_t i = 0; i < nl; i++)
            if (lines[i].bad_json) {
                if (record_error(p, file_url, &lines[i], "", "not a JSON object", err, n))
                    return -1;
                res->errors++;
            }
    char rows[24], errs[24];
    snprintf(rows, sizeof rows, "%llu", (unsigned long long)res->rows);
    snprintf(errs, sizeof errs, "%llu", (unsigned long long)res->errors);
    const char *u[] = {manifest, rows, errs};
    r = PQexecParams(p->conn, "UPDATE hydrant_loads SET rows = $2, errors = $3 WHERE manifest = $1",
                     3, NULL, u, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        set_err(err, n, "recording the manifest", r, p->conn);
    PQclear(r);
    return ok ? exec_ok(p, "COMMIT", err, n) : -1;
}

int pgload_batch(struct pgload *p, const struct pgload_target *t, const char *manifest,
                 const char *file_url, const char *data, size_t len, struct pgload_result *res,
                 char *err, size_t n)
{
    memset(res, 0, sizeof *res);
    if (connect_db(p, t, err, n))
        return -1;
    struct buf sql, in;
    struct line *lines = NULL;
    size_t nl = 0;
    buf_init(&sql, 1 << 16);
    buf_init(&in, LOAD_BUF_MAX);
    int rc = -1;
    if (copy_sql(p->conn, t, &sql) || buf_append(&sql, "", 1) ||
        prepare(t, data, len, &lines, &nl, &in)) {
        snprintf(err, n, "out of memory preparing the batch");
        goto out;
    }
    rc = load_tx(p, t, manifest, file_url, &sql, &in, lines, nl, res, err, n);
    if (rc) {
        memset(res, 0, sizeof *res);
        if (PQstatus(p->conn) != CONNECTION_OK || PQtransactionStatus(p->conn) == PQTRANS_UNKNOWN)
            drop_conn(p);
        else if (PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
            char ign[64];
            if (exec_ok(p, "ROLLBACK", ign, sizeof ign))
                drop_conn(p);
        }
    }
out:
    hy_free(lines);
    buf_fini(&sql);
    buf_fini(&in);
    return rc;
}
