/*
 * pqconv: JSON lines to one Parquet file through pqconvert + pqwriter, the path record format
 * conversion takes, timed. Used by bench/parquet.sh (against DuckDB's COPY) and by
 * tests/integration/test_parquet.py (DuckDB's read_json of the same lines as the oracle).
 *
 * Usage: build/pqconv SCHEMA.json IN.jsonl OUT.parquet [UNCOMPRESSED|SNAPPY|GZIP|ZSTD]
 *   SCHEMA.json: [{"Name": "id", "Type": "bigint"}, ...] (Glue's Columns)
 * Prints one JSON line: rows, failed, seconds, rows_per_s, mb_per_s, bytes; records that cannot be
 * converted are listed on stderr as "line N: reason".
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "parquet/pqconvert.h"
#include "parquet/pqwriter.h"

static int to_file(void *ctx, const void *p, size_t len)
{
    return fwrite(p, 1, len, ctx) == len ? 0 : -5;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s SCHEMA.json IN.jsonl OUT.parquet [codec]\n", argv[0]);
        return 2;
    }
    char *st = NULL, *in = NULL;
    size_t sl = 0, il = 0;
    if (fsutil_read_all(argv[1], &st, &sl, 1 << 20) ||
        fsutil_read_all(argv[2], &in, &il, (size_t)4 << 30)) {
        fprintf(stderr, "cannot read input\n");
        return 1;
    }
    cJSON *s = cJSON_Parse(st);
    size_t n = (size_t)cJSON_GetArraySize(s);
    const char **names = calloc(n + 1, sizeof *names), **types = calloc(n + 1, sizeof *types);
    for (size_t i = 0; i < n; i++) {
        cJSON *c = cJSON_GetArrayItem(s, (int)i);
        names[i] = cJSON_GetObjectItem(c, "Name")->valuestring;
        types[i] = cJSON_GetObjectItem(c, "Type")->valuestring;
    }
    char err[256];
    struct pqconvert_opts co = {0};
    struct pqconvert *cv = pqconvert_new(names, types, n, &co, err, sizeof err);
    if (!cv) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    enum pqwriter_codec codec = PQWRITER_SNAPPY;
    if (argc > 4)
        codec = !strcmp(argv[4], "UNCOMPRESSED") ? PQWRITER_UNCOMPRESSED
                : !strcmp(argv[4], "GZIP")       ? PQWRITER_GZIP
                : !strcmp(argv[4], "ZSTD")       ? PQWRITER_ZSTD
                                                 : PQWRITER_SNAPPY;
    FILE *f = fopen(argv[3], "wb");
    size_t nc;
    const struct pqwriter_column *cols = pqconvert_columns(cv, &nc);
    struct pqwriter_opts o = {.codec = codec, .dictionary = true};
    struct pqwriter *w = pqwriter_new(cols, nc, &o, to_file, f);
    if (!f || !w) {
        fprintf(stderr, "cannot open output\n");
        return 1;
    }
    double t0 = now_s();
    unsigned long rows = 0, failed = 0, line = 0;
    for (size_t pos = 0; pos < il;) {
        char *nl = memchr(in + pos, '\n', il - pos);
        size_t end = nl ? (size_t)(nl - in) : il;
        line++;
        if (end > pos) {
            const char *reason = NULL;
            int rc = pqconvert_row(cv, w, in + pos, end - pos, &reason);
            if (rc == 0) {
                rows++;
            } else if (reason) {
                failed++;
                fprintf(stderr, "line %lu: %s\n", line, reason);
            } else {
                fprintf(stderr, "write error %d\n", rc);
                return 1;
            }
        }
        pos = end + 1;
    }
    if (pqwriter_finish(w)) {
        fprintf(stderr, "finish failed\n");
        return 1;
    }
    double t = now_s() - t0;
    unsigned long long bytes = (unsigned long long)pqwriter_offset(w);
    fclose(f);
    printf("{\"rows\":%lu,\"failed\":%lu,\"seconds\":%.3f,\"rows_per_s\":%.0f,\"mb_per_s\":%.1f,"
           "\"bytes\":%llu}\n",
           rows, failed, t, (double)rows / t, (double)il / t / 1e6, bytes);
    pqwriter_free(w);
    pqconvert_free(cv);
    cJSON_Delete(s);
    free(names);
    free(types);
    hy_free(st);
    hy_free(in);
    return 0;
}
