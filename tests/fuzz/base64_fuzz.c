/* libFuzzer target: the strict base64 decoder never reads or writes out of bounds, and whatever
 * it accepts re-encodes to the same text (canonical inputs) or at least decodes stably. */
#include "base/base64.h"
#include "base/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = malloc(BASE64_DECODED_MAX(size) + 1);
    size_t n = 0;
    if (base64_decode((const char *)data, size, out, &n) == 0) {
        if (n > BASE64_DECODED_MAX(size))
            abort();
        char *enc = malloc(BASE64_ENCODED_LEN(n) + 1);
        size_t e = base64_encode(out, n, enc);
        uint8_t *again = malloc(BASE64_DECODED_MAX(e) + 1);
        size_t m = 0;
        if (base64_decode(enc, e, again, &m) != 0 || m != n || memcmp(again, out, n) != 0)
            abort();
        free(again);
        free(enc);
    }
    free(out);
    return 0;
}
