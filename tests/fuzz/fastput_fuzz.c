/*
 * fastput_fuzz: differential test of the single-pass PutRecord(Batch) scanner (firehose_fastput.c)
 * against the general path (firehose_put_parse: cJSON, model validation, decode). The scanner may
 * decline anything, but whatever it accepts the general path must accept too, with the same
 * stream name and byte-identical records; any difference aborts. The first input byte picks
 * PutRecord (even) or PutRecordBatch (odd); the rest is the body. Seeds with invalid UTF-8,
 * \u0000 and lone surrogates (corpus/fastput/utf8_*) keep the scanner's decline of them covered.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/firehose/firehose_int.h"
#include "core/catalog.h"
#include "stream/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        catalog_json_init();
        init = 1;
    }
    if (size < 1)
        return 0;
    int batch = data[0] & 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct firehose_put_recs f;
    const char *fname = NULL;
    size_t fname_len = 0;
    if (firehose_fastput_parse(batch, body, len, &fname, &fname_len, &f) != 0)
        return 0;
    /* Whatever the scanner accepts is well-formed UTF-8 (the general path answers
     * SerializationException otherwise), and its name holds no NUL. */
    const char *why = NULL;
    if (awsjson_text_check(body, len, NULL, &why) != 0 || memchr(fname, '\0', fname_len))
        abort();
    struct firehose_put_recs g;
    const char *gname = NULL;
    size_t gname_len = 0;
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    if (firehose_put_parse(batch, body, len, &root, &gname, &gname_len, &g, &e) != 0)
        abort(); /* accepted by the fast path only */
    if (fname_len != gname_len || memcmp(fname, gname, fname_len) != 0)
        abort();
    if (f.n != g.n || f.total_len != g.total_len)
        abort();
    for (size_t i = 0; i < f.n; i++)
        if (f.recs[i].len != g.recs[i].len ||
            memcmp(f.recs[i].data, g.recs[i].data, f.recs[i].len) != 0)
            abort();
    firehose_put_recs_fini(&f);
    firehose_put_recs_fini(&g);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
    return 0;
}
