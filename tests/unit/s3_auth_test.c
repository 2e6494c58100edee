/* Unit tests for src/api/s3/s3_auth.c and the signed side of s3_chunked.c: AWS's documented
 * aws-chunked upload decoded with every chunk signature checked (and tampered), and the per-key
 * bucket / operation rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/s3/s3_int.h"
#include "auth/creds.h"
#include "auth/sigv4.h"
#include "base/buf.h"
#include "base/err.h"
#include "net/http.h"

/* 2013-05-24T00:00:00Z */
#define T_2013 1369353600LL

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof n - 1, v, sizeof v - 1                                                           \
    }

static struct creds *test_creds(void)
{
    const char *doc = "[{\"AccessKeyId\":\"AKIAIOSFODNN7EXAMPLE\","
                      "\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"},"
                      "{\"AccessKeyId\":\"RO\",\"SecretAccessKey\":\"x\","
                      "\"Buckets\":[\"lake\",\"logs-*\"],"
                      "\"Operations\":[\"s3:GetObject\",\"s3:List*\",\"s3:CopyObject\"]}]";
    struct creds *c = NULL;
    char err[256];
    assert_int_equal(creds_parse(doc, strlen(doc), &c, err, sizeof err), 0);
    return c;
}

static const char sig1[] = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
static const char sig2[] = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
static const char sig3[] = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

/* The aws-chunked body of AWS's example: 65536 and 1024 bytes of 'a', then the final chunk. */
static void make_body(struct buf *b, const char *s1, const char *s2, const char *s3)
{
    static char a[65536];
    memset(a, 'a', sizeof a);
    buf_printf(b, "10000;chunk-signature=%s\r\n", s1);
    buf_append(b, a, sizeof a);
    buf_printf(b, "\r\n400;chunk-signature=%s\r\n", s2);
    buf_append(b, a, 1024);
    buf_printf(b, "\r\n0;chunk-signature=%s\r\n\r\n", s3);
}

static void verified_request(const struct creds *c, struct sigv4_result *res)
{
    struct sigv4_config cfg = {.creds = c, .region = "us-east-1", .service = "s3", .s3 = 1};
    const struct http_header h[] = {
        H("Host", "s3.amazonaws.com"),
        H("x-amz-date", "20130524T000000Z"),
        H("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        H("Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
          "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
          "x-amz-decoded-content-length;x-amz-storage-class,"
          "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        H("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        H("Content-Encoding", "aws-chunked"),
        H("x-amz-decoded-content-length", "66560"),
        H("Content-Length", "66824"),
    };
    struct http_request r = {.method = "PUT",
                             .method_len = 3,
                             .path = "/examplebucket/chunkObject.txt",
                             .path_len = 30,
                             .minor_version = 1,
                             .headers = h,
                             .num_headers = 8};
    assert_int_equal(sigv4_verify(&cfg, &r, T_2013, res), SIGV4_OK);
    assert_true(res->streaming);
}

static int decode(const struct sigv4_result *res, struct buf *body, struct buf *out)
{
    struct sigv4_chunk ck;
    assert_int_equal(sigv4_chunk_init(&ck, res), 0);
    struct s3_chunked_trailer tr;
    const char *why;
    buf_reset(out);
    int rc = s3_chunked_decode(body->data, body->len, out, &tr, &ck, &why);
    sigv4_chunk_fini(&ck);
    return rc;
}

static void test_chunked_signatures_verified(void **state)
{
    (void)state;
    struct creds *c = test_creds();
    struct sigv4_result res;
    verified_request(c, &res);
    struct buf body, out;
    buf_init(&body, 1 << 20);
    buf_init(&out, 1 << 20);
    make_body(&body, sig1, sig2, sig3);
    assert_int_equal(body.len, 66824); /* the example's Content-Length */
    assert_int_equal(decode(&res, &body, &out), 0);
    assert_int_equal(out.len, 66560);
    /* One byte of data changed: the first chunk's signature fails. */
    body.data[100] = 'b';
    assert_int_equal(decode(&res, &body, &out), HY_ECORRUPT);
    body.data[100] = 'a';
    /* Chunks swapped signatures, a wrong final signature, a missing signature. */
    buf_reset(&body);
    make_body(&body, sig2, sig1, sig3);
    assert_int_equal(decode(&res, &body, &out), HY_ECORRUPT);
    buf_reset(&body);
    make_body(&body, sig1, sig2, sig1);
    assert_int_equal(decode(&res, &body, &out), HY_ECORRUPT);
    buf_reset(&body);
    buf_append_str(&body, "3\r\nabc\r\n0\r\n\r\n");
    assert_int_equal(decode(&res, &body, &out), HY_EBADMSG);
    /* Without a chunk state (open mode) the signatures are not looked at. */
    buf_reset(&body);
    make_body(&body, sig2, sig1, sig3);
    struct s3_chunked_trailer tr;
    const char *why;
    buf_reset(&out);
    assert_int_equal(s3_chunked_decode(body.data, body.len, &out, &tr, NULL, &why), 0);
    buf_fini(&body);
    buf_fini(&out);
    creds_free(c);
}

static void test_authorize_buckets_and_operations(void **state)
{
    (void)state;
    struct creds *c = test_creds();
    const struct creds_entry *any = creds_find(c, "AKIAIOSFODNN7EXAMPLE", 20);
    const struct creds_entry *ro = creds_find(c, "RO", 2);
    struct http_request r = {.method = "GET", .method_len = 3, .path = "/", .path_len = 1};
    assert_null(s3_auth_authorize(any, &r, S3_OP_PUT_OBJECT, "whatever"));
    assert_null(s3_auth_authorize(ro, &r, S3_OP_GET_OBJECT, "lake"));
    assert_null(s3_auth_authorize(ro, &r, S3_OP_LIST_OBJECTS_V2, "logs-2026"));
    assert_null(s3_auth_authorize(ro, &r, S3_OP_LIST_BUCKETS, ""));
    assert_string_equal(s3_auth_authorize(ro, &r, S3_OP_PUT_OBJECT, "lake"),
                        "operation_not_allowed");
    assert_string_equal(s3_auth_authorize(ro, &r, S3_OP_GET_OBJECT, "other"), "bucket_not_allowed");
    /* CopyObject also needs the source bucket. */
    const struct http_header ok[] = {H("x-amz-copy-source", "/logs-1/a%20b.txt")};
    const struct http_header bad[] = {H("x-amz-copy-source", "secret/k")};
    r.headers = ok;
    r.num_headers = 1;
    assert_null(s3_auth_authorize(ro, &r, S3_OP_COPY_OBJECT, "lake"));
    r.headers = bad;
    assert_string_equal(s3_auth_authorize(ro, &r, S3_OP_COPY_OBJECT, "lake"), "bucket_not_allowed");
    creds_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_signatures_verified),
        cmocka_unit_test(test_authorize_buckets_and_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
