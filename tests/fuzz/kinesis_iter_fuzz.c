/*
 * kinesis_iter_fuzz: the shard-iterator decoder. Arbitrary text is never accepted unless it is
 * a canonical iterator signed with the key (the fuzzer cannot forge one), and never read past
 * its length. The input also seeds an iterator that is encoded, decoded back identically, and
 * then changed at one input-chosen character, which must be refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinesis/kinesis_int.h"
#include "core/datastream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[DATASTREAM_KEY_LEN] = "fuzz-key-fuzz-key-fuzz-key-fuzz!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kinesis_iter it;
    char *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (kinesis_codec_iter_decode(copy, size, key, &it) == 0) {
        /* Only possible for a real iterator: it must re-encode to exactly the input. */
        char again[KINESIS_ITER_MAX + 1];
        kinesis_codec_iter_encode(&it, key, again);
        if (strlen(again) != size || memcmp(again, data, size) != 0)
            abort();
    }
    free(copy);
    if (size < 31)
        return 0;
    struct kinesis_iter src = {0};
    memcpy(&src.stream_id, data, 8);
    memcpy(&src.shard_index, data + 8, 4);
    memcpy(&src.seq, data + 12, 8);
    memcpy(&src.issued_ms, data + 20, 8);
    size_t nl = 1 + data[28] % DATASTREAM_NAME_MAX;
    for (size_t i = 0; i < nl; i++)
        src.name[i] = (char)('a' + (data[(29 + i) % size] % 26));
    char text[KINESIS_ITER_MAX + 1];
    kinesis_codec_iter_encode(&src, key, text);
    size_t n = strlen(text);
    struct kinesis_iter back;
    if (kinesis_codec_iter_decode(text, n, key, &back) != 0 || back.stream_id != src.stream_id ||
        back.shard_index != src.shard_index || back.seq != src.seq ||
        back.issued_ms != src.issued_ms || strcmp(back.name, src.name) != 0)
        abort();
    size_t at = data[29] % n;
    char c = (char)data[30];
    if (c != text[at]) {
        text[at] = c;
        if (kinesis_codec_iter_decode(text, n, key, &back) == 0)
            abort();
    }
    return 0;
}
