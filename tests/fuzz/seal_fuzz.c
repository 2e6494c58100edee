/* libFuzzer target: the --kms-keys parser (every accepted entry has a non-empty KeyARN and either
 * 64 hex digits or a non-empty command) and seal_open on arbitrary frame bytes (never reads out
 * of bounds, never accepts bytes it did not seal). The first input byte picks the target. */
#include "base/err.h"
#include "stream/seal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int check_entry(void *arg, const char *arn, const char *hex, const char *const *argv)
{
    (void)arg;
    uint8_t key[SEAL_KEY_LEN];
    if (!arn || !arn[0] || (hex == NULL) == (argv == NULL))
        abort();
    if (hex && seal_hex_key(hex, strlen(hex), key) != 0)
        abort();
    if (argv && (!argv[0] || !argv[0][0]))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        const char *reason = NULL;
        int rc = seal_keys_parse((const char *)data + 1, size - 1, check_entry, NULL, &reason);
        if (rc == HY_EBADMSG && !reason)
            abort();
        return 0;
    }
    static struct seal_ring *ring;
    static struct seal_key key;
    if (!ring) {
        memset(key.key, 0x42, sizeof key.key);
        seal_key_id(&key);
        if (seal_ring_test_new(&key, 1, &ring))
            abort();
    }
    /* Make the id match so the cipher path runs, not just the lookup. */
    uint8_t *in = malloc(size);
    memcpy(in, data, size);
    if (size > SEAL_ID_LEN && (data[0] & 2))
        memcpy(in, key.id, SEAL_ID_LEN);
    uint8_t *out = malloc(size > SEAL_OVERHEAD ? size - SEAL_OVERHEAD : 1);
    char id[2 * SEAL_ID_LEN + 1];
    if (seal_open(ring, 1, 2, in, size, out, id) == 0)
        abort(); /* a forgery: random bytes never carry a valid tag */
    free(out);
    free(in);
    return 0;
}
