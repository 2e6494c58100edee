/* libFuzzer target: the JSON->row converter. The first byte picks a schema (Hive type strings,
 * flat and nested), the second the SerDe options; the rest is split at newlines into records.
 * Every record either converts or is refused with a reason; the writer stays usable and the file
 * it finishes is framed ("PAR1" at both ends). Type strings from the input are parsed too. */
#include "base/buf.h"
#include "base/mem.h"
#include "parquet/pqconvert.h"
#include "parquet/pqwriter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int to_buf(void *ctx, const void *p, size_t len)
{
    return buf_append(ctx, p, len);
}

static const char *schemas[][4] = {
    {"bigint", "string", "decimal(38,10)", "timestamp"},
    {"array<struct<a:int,b:array<string>>>", "map<string,double>", "date", "boolean"},
    {"tinyint", "varchar(3)", "map<int,array<bigint>>", "struct<x:struct<y:float>>"},
    {"decimal(5,5)", "char(1)", "binary", "array<array<array<smallint>>>"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *names[] = {"a", "B", "c.d", "e_f"};
    const char *types[4];
    char own_type[64];
    for (int i = 0; i < 4; i++)
        types[i] = schemas[data[0] % 4][i];
    if (data[0] & 0x80) {
        /* A type string from the input for the first column. */
        size_t n = size - 2 < sizeof own_type - 1 ? size - 2 : sizeof own_type - 1;
        memcpy(own_type, data + 2, n);
        own_type[n] = 0;
        types[0] = own_type;
    }
    const char *mc[] = {"a"}, *mk[] = {"A.x"};
    struct pqconvert_opts o = {.case_sensitive = data[1] & 1,
                               .dots_to_underscores = data[1] & 2,
                               .millis = data[1] & 4,
                               .map_columns = mc,
                               .map_keys = mk,
                               .nmap = (data[1] & 8) ? 1 : 0};
    char err[256];
    if (data[1] & 16)
        hy_mem_fail_random(64);
    struct pqconvert *c = pqconvert_new(names, types, 4, &o, err, sizeof err);
    struct buf b;
    buf_init(&b, 1 << 24);
    struct pqwriter *w = NULL;
    if (c) {
        size_t nc;
        const struct pqwriter_column *cols = pqconvert_columns(c, &nc);
        struct pqwriter_opts wo = {.page_size = 64, .block_size = 512, .dictionary = data[1] & 32};
        w = pqwriter_new(cols, nc, &wo, to_buf, &b);
    }
    int rc = w ? 0 : -1;
    const char *p = (const char *)data + 2, *end = (const char *)data + size;
    while (!rc && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *reason = NULL;
        rc = pqconvert_row(c, w, p, (size_t)(e - p), &reason);
        if (rc && reason)
            rc = 0; /* refused with a reason: the writer goes on */
        p = e + 1;
    }
    if (!rc)
        rc = pqwriter_finish(w);
    hy_mem_fail_random(0);
    if (!rc && (b.len < 12 || memcmp(b.data, "PAR1", 4) || memcmp(b.data + b.len - 4, "PAR1", 4)))
        abort();
    pqwriter_free(w);
    pqconvert_free(c);
    buf_fini(&b);
    return 0;
}
