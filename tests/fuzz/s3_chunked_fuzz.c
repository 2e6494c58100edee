/*
 * s3_chunked_fuzz: aws-chunked body decoding (signed and unsigned framing, trailers). The
 * decoded payload can never be longer than the input, and a found trailer is NUL-terminated.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api/s3/s3_int.h"
#include "base/buf.h"
#include "base/hyassert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf out;
    buf_init(&out, size + 1);
    struct s3_chunked_trailer tr;
    const char *why = NULL;
    int rc = s3_chunked_decode((const char *)data, size, &out, &tr, NULL, &why);
    HY_ASSERT(out.len <= size);
    HY_ASSERT(why != NULL);
    if (rc == 0 && tr.name[0]) {
        HY_ASSERT(strlen(tr.name) < sizeof tr.name && strlen(tr.value) < sizeof tr.value);
        char sum[64];
        (void)s3_chunked_sum_b64(s3_chunked_sum_alg(tr.name, strlen(tr.name)),
                                 out.data ? out.data : "", out.len, sum);
    }
    buf_fini(&out);
    return 0;
}
