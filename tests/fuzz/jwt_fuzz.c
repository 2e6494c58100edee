/* libFuzzer target: the JWT parser and lenient segment decoder never read or write out of
 * bounds, and whatever parses has a header and payload object and a bounded signature. */
#include "auth/jwt.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jwt t;
    const char *why = NULL;
    if (jwt_parse((const char *)data, size, &t, &why) == 0) {
        if (!cJSON_IsObject(t.header) || !cJSON_IsObject(t.payload) ||
            t.sig_len > JWT_MAX_SIG_LEN || t.signing_input_len >= size)
            abort();
        int64_t exp;
        (void)jwt_claim_time(t.header, "exp", &exp);
        (void)jwt_claim_time(t.payload, "exp", &exp);
        jwt_fini(&t);
    } else if (!why) {
        abort();
    }
    uint8_t *out = malloc(size / 4 * 3 + 4);
    size_t n = 0;
    if (jwt_b64_decode((const char *)data, size, out, &n) == 0 && n > size / 4 * 3 + 3)
        abort();
    free(out);
    return 0;
}
