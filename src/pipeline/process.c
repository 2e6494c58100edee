/*
 * process: the built-in record processors (process.h). Decompression uses zlib; CloudWatch Logs
 * payloads are parsed with cJSON; the JSON deaggregation splitter is written here because it
 * must find value boundaries in a byte stream without building a tree (no Debian library
 * offers a streaming boundary scanner with cJSON's dependency footprint).
 */
#include "pipeline/process.h"

#include <cjson/cJSON.h>
#include <string.h>
#include <zlib.h>

#include "base/err.h"
#include "base/mem.h"

struct process {
    struct process_opts o;
    char *delimiter;
    unsigned char *out; /* decompressed record, PROCESS_MAX_DECOMPRESSED + 1 */
};

#define T_DECOMP "decompression-failed"
#define T_PROC "processing-failed"

struct process *process_new(const struct process_opts *o)
{
    struct process *p = hy_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->o = *o;
    p->o.delimiter = NULL;
    if (o->delimiter_len) {
        if (!(p->delimiter = hy_malloc(o->delimiter_len)))
            goto fail;
        memcpy(p->delimiter, o->delimiter, o->delimiter_len);
    }
    if (o->decompress && !(p->out = hy_malloc(PROCESS_MAX_DECOMPRESSED + 1)))
        goto fail;
    return p;
fail:
    process_free(p);
    return NULL;
}

void process_free(struct process *p)
{
    if (!p)
        return;
    hy_free(p->delimiter);
    hy_free(p->out);
    hy_free(p);
}

int process_active(const struct process *p)
{
    return p && (p->o.decompress || p->o.cwl_extract || p->o.deagg != PROCESS_DEAGG_NONE);
}

static voidpf zalloc_hy(voidpf opaque, uInt items, uInt size)
{
    return hy_calloc(items, size);
}

static void zfree_hy(voidpf opaque, voidpf q)
{
    hy_free(q);
}

/* gunzip data into p->out (concatenated members too, as gzip -d reads them). */
static int gunzip(struct process *p, const void *data, size_t len, size_t *out_len,
                  struct process_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = zalloc_hy;
    zs.zfree = zfree_hy;
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return HY_ENOMEM;
    zs.next_in = (unsigned char *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = p->out;
    zs.avail_out = PROCESS_MAX_DECOMPRESSED + 1;
    int zrc;
    for (;;) {
        zrc = inflate(&zs, Z_NO_FLUSH);
        if (zrc == Z_STREAM_END && zs.avail_in > 0) {
            inflateReset(&zs); /* another member follows */
            continue;
        }
        break;
    }
    size_t n = PROCESS_MAX_DECOMPRESSED + 1 - zs.avail_out;
    inflateEnd(&zs);
    if (zrc == Z_MEM_ERROR)
        return HY_ENOMEM;
    if (zrc != Z_STREAM_END || len == 0) {
        err->type = T_DECOMP;
        err->code = "Decompression.InvalidGzip";
        err->message = n > PROCESS_MAX_DECOMPRESSED
                           ? "The decompressed record is larger than hydrant's 16 MiB limit"
                           : "The record is not valid GZIP data";
        return HY_EBADMSG;
    }
    *out_len = n;
    return 0;
}

/* ------------------------------------------------------------------ JSON deaggregation */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int process_json_next(const char *p, size_t len, size_t *at, size_t *start, size_t *end)
{
    size_t i = *at;
    while (i < len && is_ws(p[i]))
        i++;
    if (i == len) {
        *at = i;
        return 0;
    }
    if (p[i] != '{' && p[i] != '[')
        return HY_EBADMSG;
    /* Brackets must match in kind; a small fixed stack bounds the depth (cJSON's own limit). */
    char stack[1000];
    size_t depth = 0, s = i;
    int in_str = 0;
    for (; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++; /* the escaped character is skipped (past len: the loop ends) */
            else if (c == '"')
                in_str = 0;
            else if ((unsigned char)c < 0x20)
                return HY_EBADMSG;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (depth == sizeof stack)
                return HY_EBADMSG;
            stack[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c)
                return HY_EBADMSG;
            if (--depth == 0) {
                *start = s;
                *end = i + 1;
                *at = i + 1;
                return 1;
            }
        }
    }
    return HY_EBADMSG; /* unterminated */
}

/* Validate a value found by the splitter (the splitter checks brackets, not grammar). */
static int json_valid(const char *p, size_t len)
{
    cJSON *v = cJSON_ParseWithLength(p, len);
    int ok = v != NULL;
    cJSON_Delete(v);
    return ok;
}

/* Whether data splits into valid JSON values; fills err when not. */
static int deagg_json_check(const char *data, size_t len, struct process_error *err)
{
    size_t at = 0, s, e;
    int rc;
    while ((rc = process_json_next(data, len, &at, &s, &e)) == 1)
        if (!json_valid(data + s, e - s)) {
            rc = HY_EBADMSG;
            break;
        }
    if (rc < 0) {
        err->type = T_PROC;
        err->code = "RecordDeAggregation.InvalidJson";
        err->message = "The record is not a sequence of JSON objects";
        return HY_EBADMSG;
    }
    return 0;
}

static int deagg_json(const char *data, size_t len, process_emit_fn emit, void *arg,
                      struct process_error *err)
{
    size_t at = 0, s, e;
    /* First pass: the whole record must split, so a failure emits nothing. */
    int rc = deagg_json_check(data, len, err);
    if (rc < 0)
        return rc;
    while ((rc = process_json_next(data, len, &at, &s, &e)) == 1)
        if ((rc = emit(arg, data + s, e - s)) < 0)
            return rc;
    return 0;
}

static int deagg_delimited(const struct process *p, const char *data, size_t len,
                           process_emit_fn emit, void *arg)
{
    const char *d = p->delimiter;
    size_t dl = p->o.delimiter_len, start = 0;
    int rc;
    if (dl == 0)
        return emit(arg, data, len);
    for (size_t i = 0; i + dl <= len;) {
        if (memcmp(data + i, d, dl) == 0) {
            if (i > start && (rc = emit(arg, data + start, i - start)) < 0)
                return rc;
            i += dl;
            start = i;
        } else {
            i++;
        }
    }
    /* Empty sub-records (between adjacent delimiters, or after a trailing one) are dropped. */
    return len > start ? emit(arg, data + start, len - start) : 0;
}

static int deagg(struct process *p, const char *data, size_t len, process_emit_fn emit, void *arg,
                 struct process_error *err)
{
    switch (p->o.deagg) {
    case PROCESS_DEAGG_JSON:
        return deagg_json(data, len, emit, arg, err);
    case PROCESS_DEAGG_DELIMITED:
        return deagg_delimited(p, data, len, emit, arg);
    case PROCESS_DEAGG_NONE:
        break;
    }
    return emit(arg, data, len);
}

/* ------------------------------------------------------------------ CloudWatch Logs */

/* A subscription payload: {"messageType": "DATA_MESSAGE" | "CONTROL_MESSAGE", "logEvents":
 * [{"id", "timestamp", "message"}...], ...}. Each data message's events become records (their
 * message text, deaggregated further if configured); control messages yield nothing. */
static int cwl(struct process *p, const char *data, size_t len, process_emit_fn emit, void *arg,
               struct process_error *err)
{
    cJSON *root = cJSON_ParseWithLength(data, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "messageType");
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(root, "logEvents");
    const cJSON *ev;
    int rc = 0;
    if (!root) {
        err->message = "The record is not a CloudWatch Logs subscription payload (not JSON)";
        goto bad;
    }
    if (!cJSON_IsString(type)) {
        err->message = "The CloudWatch Logs payload has no messageType";
        goto bad;
    }
    if (strcmp(type->valuestring, "CONTROL_MESSAGE") == 0)
        goto out;
    if (strcmp(type->valuestring, "DATA_MESSAGE") != 0 || !cJSON_IsArray(events)) {
        err->message = "The CloudWatch Logs payload is not a DATA_MESSAGE with logEvents";
        goto bad;
    }
    cJSON_ArrayForEach(ev, events)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "message");
        if (!cJSON_IsString(m)) {
            err->message = "A CloudWatch Logs event has no message";
            goto bad;
        }
    }
    /* A deaggregation failure in one message must not emit the others: check them all. */
    if (p->o.deagg == PROCESS_DEAGG_JSON) {
        cJSON_ArrayForEach(ev, events)
        {
            const char *m = cJSON_GetObjectItemCaseSensitive(ev, "message")->valuestring;
            if ((rc = deagg_json_check(m, strlen(m), err)) < 0)
                goto out;
        }
    }
    cJSON_ArrayForEach(ev, events)
    {
        const char *m = cJSON_GetObjectItemCaseSensitive(ev, "message")->valuestring;
        if ((rc = deagg(p, m, strlen(m), emit, arg, err)) < 0)
            goto out;
    }
out:
    cJSON_Delete(root);
    return rc;
bad:
    cJSON_Delete(root);
    err->type = T_PROC;
    err->code = "CloudWatchLogProcessing.InvalidPayload";
    return HY_EBADMSG;
}

int process_run(struct process *p, const void *data, size_t len, process_emit_fn emit, void *arg,
                struct process_error *err)
{
    const char *d = data;
    size_t n = len;
    int rc;
    if (p->o.decompress) {
        if ((rc = gunzip(p, data, len, &n, err)) < 0)
            return rc;
        d = (const char *)p->out;
    }
    if (p->o.cwl_extract)
        return cwl(p, d, n, emit, arg, err);
    return deagg(p, d, n, emit, arg, err);
}
