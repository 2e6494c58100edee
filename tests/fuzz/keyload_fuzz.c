/* libFuzzer target: the PEM and JWKS key loaders on arbitrary documents (what a key server might
 * answer) never crash or leak, and only hand out usable keys. */
#include "auth/keyload.h"

#include <stdint.h>
#include <stdlib.h>

static void on_key(void *arg, const char *kid, EVP_PKEY *key)
{
    if (!kid || !key)
        abort();
    ++*(int *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    EVP_PKEY *k = NULL;
    if (keyload_pem((const char *)data, size, &k) == 0) {
        if (!k)
            abort();
        EVP_PKEY_free(k);
    }
    int n = 0;
    int rc = keyload_jwks((const char *)data, size, on_key, &n);
    if (rc >= 0 && rc != n)
        abort();
    return 0;
}
