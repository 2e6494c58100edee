/* libFuzzer target: the ZIP writer and both Snappy framings (and the others) round-trip any
 * input fed in any split, as read back by independent readers over zlib and libsnappy
 * (tests/fuzz/codec_check.h); the first byte picks the codec and the split pattern. */
#include "codec_check.h"
#include "base/err.h"
#include "pipeline/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int collect(void *arg, const void *d, size_t n)
{
    return cc_put(arg, d, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum codec_kind kinds[] = {CODEC_ZIP, CODEC_SNAPPY, CODEC_HADOOP_SNAPPY,
                                            CODEC_GZIP, CODEC_ZSTD};
    if (size < 1)
        return 0;
    enum codec_kind kind = kinds[data[0] % 5];
    size_t step = (size_t)(data[0] >> 3) * 977 + 1;
    data++;
    size--;
    struct codec *c = codec_new(kind);
    if (!c)
        return 0; /* fuzz builds fail allocations on purpose */
    struct cc_out obj = {0}, back = {0};
    int rc = codec_begin(c, "entry", 1764475200000, collect, &obj);
    for (size_t at = 0; rc == 0 && at < size; at += step)
        rc = codec_write(c, data + at, size - at < step ? size - at : step);
    if (rc == 0)
        rc = codec_finish(c);
    if (rc == 0) {
        if (codec_check_decode(kind, obj.data, obj.len, &back) != 0 || back.len != size ||
            (size && memcmp(back.data, data, size) != 0))
            abort();
    } else if (rc != HY_ENOMEM) {
        abort();
    }
    free(obj.data);
    free(back.data);
    codec_free(c);
    return 0;
}
