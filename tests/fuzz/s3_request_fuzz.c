/*
 * s3_request_fuzz: the S3 front's request parsing without sockets or disk: the first byte picks
 * a parser, the rest is its input. 0: query string + operation table; 1: request target with a
 * Host header (split at the first newline); 2: DeleteObjects XML; 3: CompleteMultipartUpload
 * XML; 4: XML escaping and url-encoding of a key. Checks the parsers' own invariants.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/s3/s3_int.h"
#include "base/buf.h"
#include "base/hyassert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 5) {
    case 0: {
        struct s3_query q;
        if (s3_query_parse(in, len, &q) == 0) {
            HY_ASSERT(q.n <= S3_QUERY_MAX);
            static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "HEAD"};
            for (int m = 0; m < 5; m++)
                for (int k = 0; k < 8; k++)
                    (void)s3_query_op(methods[m], strlen(methods[m]), k & 1, (k >> 1) & 1, &q,
                                      (k >> 2) & 1);
            for (size_t i = 0; i < q.n; i++)
                HY_ASSERT(strlen(q.p[i].value) <= q.p[i].value_len);
        }
        s3_query_fini(&q);
        break;
    }
    case 1: {
        const char *nl = memchr(in, '\n', len);
        size_t pl = nl ? (size_t)(nl - in) : len;
        const char *host = nl ? nl + 1 : NULL;
        size_t hl = nl ? len - pl - 1 : 0;
        struct s3_target t;
        s3_target_init(&t);
        if (s3_target_parse(in, pl, host, hl, "localhost", &t) == 0 && t.vhost)
            HY_ASSERT(s3_store_bucket_ok(t.bucket.data, t.bucket.len));
        s3_target_fini(&t);
        break;
    }
    case 2:
    case 3: {
        struct s3_xml_req r;
        int rc = data[0] % 5 == 2 ? s3_xml_parse_delete(in, len, &r)
                                  : s3_xml_parse_complete(in, len, &r);
        if (rc == 0)
            for (size_t i = 0; i < r.n; i++)
                HY_ASSERT(r.items[i].text && strlen(r.items[i].text) <= r.items[i].len);
        else
            HY_ASSERT(r.n == 0);
        s3_xml_req_fini(&r);
        break;
    }
    default: {
        struct buf b, e, d;
        buf_init(&b, 64 * len + 64);
        buf_init(&e, 4 * len + 64);
        buf_init(&d, 4 * len + 64);
        HY_ASSERT(s3_xml_escape(&b, in, len) == 0);
        HY_ASSERT(!b.len || !memchr(b.data, '<', b.len));
        /* url-encoding round-trips exactly (keys with '+' and spaces included) */
        HY_ASSERT(s3_query_encode(in, len, 1, &e) == 0);
        HY_ASSERT(s3_query_decode(e.data ? e.data : "", e.len, 0, &d) == 0);
        HY_ASSERT(d.len == len && (len == 0 || memcmp(d.data, in, len) == 0));
        (void)s3_store_key_ok(in, len);
        (void)s3_store_bucket_ok(in, len);
        buf_fini(&b);
        buf_fini(&e);
        buf_fini(&d);
    }
    }
    return 0;
}
