/* libFuzzer target: the prefix-expression parser. Any text is validated without crashing;
 * whatever validates (as Prefix with dynamic partitioning on, or as ErrorOutputPrefix) also
 * evaluates, within the key buffer's bounds, with partition keys that may or may not hold the
 * referenced names. */
#include "base/buf.h"
#include "base/err.h"
#include "deliver/keyname.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    const char *reason = NULL;
    static const char keys[] = "customer\0c1\0dt\0"
                               "2026-11-30\0";
    struct keyname_batch r = {
        .stream_name = "s",
        .version = 3,
        .stream_id = 42,
        .first_seq = size,
        .first_arrival_ms = (int64_t)size * 7919 * 1000,
        .part_keys = keys,
        .n_part_keys = 2,
    };
    struct buf out;
    buf_init(&out, 4096);
    if (keyname_prefixes_validate_dp(text, "e/!{firehose:error-output-type}/", 1, &reason) == 0) {
        int rc = keyname_object_key(text, &r, &out);
        if (rc != 0 && rc != HY_ENOTFOUND && rc != HY_E2BIG && rc != HY_ENOMEM)
            abort();
    } else if (!reason) {
        abort();
    }
    buf_reset(&out);
    if (keyname_prefixes_validate("p/", text, &reason) == 0) {
        r.part_keys = NULL;
        int rc = keyname_error_key("p/", text, "processing-failed", &r, &out);
        if (rc != 0 && rc != HY_E2BIG && rc != HY_ENOMEM)
            abort();
    }
    buf_fini(&out);
    free(text);
    return 0;
}
