/* libFuzzer target: the Lambda response parser. The first byte picks how many records the
 * invocation had; the rest is the function's answer. The parser never reads past the answer,
 * either refuses it as a whole (with an error code) or gives every record a status, and Ok
 * records' data and partition keys lie inside its buffers ("name\0value\0" pairs). */
#include "base/err.h"
#include "transform/lambdafn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = data[0] % 8;
    char *text = malloc(size - 1 ? size - 1 : 1); /* exact size: ASan catches a read past it */
    memcpy(text, data + 1, size - 1);
    struct lambdafn_response r;
    const char *code = NULL, *message = NULL;
    lambdafn_response_init(&r);
    int rc = lambdafn_response_parse(text, size - 1, 42, n, &r, &code, &message);
    if (rc == HY_EBADMSG && (!code || !message))
        abort();
    if (rc != 0 && rc != HY_EBADMSG && rc != HY_ENOMEM)
        abort();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct lambdafn_item *it = &r.items[i];
        if (it->status > LAMBDAFN_INVALID)
            abort();
        if (it->status != LAMBDAFN_OK)
            continue;
        if (it->data_off + it->data_len > r.data.len || it->keys_off + it->keys_len > r.keys.len)
            abort();
        const char *k = r.keys.data + it->keys_off, *end = k + it->keys_len;
        for (size_t j = 0; j < 2 * it->n_keys; j++) {
            const char *z = memchr(k, '\0', (size_t)(end - k));
            if (!z)
                abort();
            k = z + 1;
        }
        if (k != end)
            abort();
    }
    lambdafn_response_fini(&r);
    free(text);
    return 0;
}
