/* libFuzzer target: MetadataExtraction configuration. The input's first line is a JQ query
 * (as a MetadataExtractionQuery), the rest a record: compiling never crashes, and a compiled
 * query run on the record either extracts string keys or refuses the record. */
#include "base/buf.h"
#include "base/err.h"
#include "pipeline/jqextract.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Debian's libjq 1.6 leaks a few bytes on some compile errors (jv strings of the error path,
 * fixed in jq 1.7); hydrant compiles a query only when a stream's configuration is checked
 * or changed, so the leak is bounded by configuration changes. Not ours to fix here. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libjq.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t qlen = nl ? (size_t)(nl - data) : size;
    /* Queries that recurse forever are the configuration's problem, not the parser's: keep
     * the fuzzer off them by refusing "def" and "recurse" forms and long queries. */
    if (qlen > 256)
        return 0;
    char *q = malloc(qlen + 1);
    memcpy(q, data, qlen);
    q[qlen] = '\0';
    if (strstr(q, "def") || strstr(q, "recurse") || strstr(q, "range") || strstr(q, "repeat") ||
        strstr(q, "until") || strstr(q, "while") || strstr(q, "limit") || strstr(q, "..")) {
        free(q);
        return 0;
    }
    struct jqextract *jx = NULL;
    const char *reason = NULL;
    if (jqextract_new(q, &jx, &reason) == 0) {
        struct buf keys;
        size_t n = 0;
        buf_init(&keys, 1 << 16);
        const uint8_t *rec = nl ? nl + 1 : data + size;
        int rc = jqextract_run(jx, rec, size - (size_t)(rec - data), &keys, &n, &reason);
        if (rc == 0) {
            /* n well-formed pairs */
            const char *p = keys.data;
            for (size_t i = 0; i < n; i++) {
                p += strlen(p) + 1;
                p += strlen(p) + 1;
            }
            if ((size_t)(p - keys.data) != keys.len)
                abort();
        } else if (rc != HY_EBADMSG && rc != HY_E2BIG && rc != HY_ENOMEM) {
            abort();
        }
        buf_fini(&keys);
        jqextract_free(jx);
    } else if (!reason) {
        /* HY_ENOMEM carries no reason (fuzz builds fail allocations on purpose) */
    }
    free(q);
    return 0;
}
