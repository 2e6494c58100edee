/* libFuzzer target: the RecordDeAggregation splitters. The JSON splitter never reads past the
 * record, returns values in order that lie inside it and start with '{' or '['; the whole
 * processor (JSON, then DELIMITED with a delimiter taken from the input) either emits
 * sub-records that lie inside the record or refuses it without emitting. */
#include "base/err.h"
#include "pipeline/process.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct seen {
    const char *base;
    size_t len;
    size_t total;
    int n;
};

static int emit(void *arg, const void *d, size_t n)
{
    struct seen *s = arg;
    const char *p = d;
    /* DELIMITED sub-records are views into the record; JSON ones too. */
    if (p < s->base || p + n > s->base + s->len)
        abort();
    s->total += n;
    s->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *rec = malloc(size ? size : 1); /* exact size: ASan catches a read past the end */
    memcpy(rec, data, size);
    size_t at = 0, s, e, last = 0;
    int rc;
    while ((rc = process_json_next(rec, size, &at, &s, &e)) == 1) {
        if (s < last || e > size || s >= e || (rec[s] != '{' && rec[s] != '['))
            abort();
        last = e;
    }
    if (rc != 0 && rc != HY_EBADMSG)
        abort();
    for (int mode = 0; mode < 2; mode++) {
        struct process_opts o = {.deagg = mode ? PROCESS_DEAGG_DELIMITED : PROCESS_DEAGG_JSON};
        if (mode && size >= 3) {
            o.delimiter = rec;
            o.delimiter_len = 1 + size % 3;
        } else if (mode) {
            o.delimiter = "#";
            o.delimiter_len = 1;
        }
        struct process *p = process_new(&o);
        if (!p)
            continue;
        struct process_error err = {0};
        struct seen sn = {.base = rec, .len = size};
        rc = process_run(p, rec, size, emit, &sn, &err);
        if (rc == HY_EBADMSG && (sn.n != 0 || !err.type))
            abort();
        if (rc == 0 && sn.total > size)
            abort();
        process_free(p);
    }
    free(rec);
    return 0;
}
