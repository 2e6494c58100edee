/* Unit tests for src/auth/sigv4.c: the spec's worked vectors (AWS test suite get-vanilla and the
 * Firehose-shaped request), AWS's documented S3 vectors (presigned URL, aws-chunked upload), and
 * tampering with each part of a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/creds.h"
#include "auth/sigv4.h"
#include "base/err.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* 2015-08-30T12:36:00Z */
#define T_2015 1440938160LL
/* 2013-05-24T00:00:00Z */
#define T_2013 1369353600LL

static struct creds *test_creds(void)
{
    const char *doc =
        "[{\"AccessKeyId\":\"AKIDEXAMPLE\",\"SecretAccessKey\":\"" SECRET "\"},"
        "{\"AccessKeyId\":\"AKIAIOSFODNN7EXAMPLE\","
        "\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"},"
        "{\"AccessKeyId\":\"ASIATEMP\",\"SecretAccessKey\":\"" SECRET "\","
        "\"SessionToken\":\"tok123\",\"Streams\":[\"logs-*\"],\"Operations\":[\"PutRecord\"]}]";
    struct creds *c = NULL;
    char err[256];
    assert_int_equal(creds_parse(doc, strlen(doc), &c, err, sizeof err), 0);
    return c;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof n - 1, v, sizeof v - 1                                                           \
    }

static struct http_request make_req(const char *method, const char *path,
                                    const struct http_header *h, size_t nh, const char *body)
{
    struct http_request r = {
        .method = method,
        .method_len = strlen(method),
        .path = path,
        .path_len = strlen(path),
        .minor_version = 1,
        .headers = h,
        .num_headers = nh,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    return r;
}

static void test_sigv4_signing_keys_match_the_spec(void **state)
{
    uint8_t k[32];
    sigv4_signing_key(SECRET, "20150830", 8, "us-east-1", 9, "service", 7, k);
    char h[65];
    for (int i = 0; i < 32; i++)
        snprintf(h + 2 * i, 3, "%02x", k[i]);
    assert_string_equal(h, "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
    sigv4_signing_key(SECRET, "20150830", 8, "us-east-1", 9, "firehose", 8, k);
    for (int i = 0; i < 32; i++)
        snprintf(h + 2 * i, 3, "%02x", k[i]);
    assert_string_equal(h, "ac5f86e687900d77c2dac5aa69e4c9a98d1a1168fa3d9758dd85a3476bcd096b");
}

static void test_sigv4_get_vanilla_verifies(void **state)
{
    struct creds *c = test_creds();
    const struct http_header h[] = {
        H("Host", "example.amazonaws.com"),
        H("X-Amz-Date", "20150830T123600Z"),
        H("Authorization",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
          "SignedHeaders=host;x-amz-date, "
          "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    };
    struct http_request r = make_req("GET", "/", h, 3, NULL);
    struct sigv4_config cfg = {.creds = c, .region = "us-east-1", .service = "service"};
    struct sigv4_result res;
    assert_int_equal(sigv4_verify(&cfg, &r, T_2015, &res), SIGV4_OK);
    assert_string_equal(res.cred->access_key_id, "AKIDEXAMPLE");
    creds_free(c);
}

/* The spec's Firehose-shaped vector, then one tampering per part of the request. */
#define FH_AUTH                                                                                    \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/firehose/aws4_request, "           \
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "                                    \
    "Signature=d78f0b69d5d42bc79b6f6ce9e4b4e7010b3c22774fc79095b9f1f758bea6f5f1"

static enum sigv4_status firehose_variant(const char *path, const char *host, const char *date,
                                          const char *target, const char *auth, const char *body,
                                          int64_t now, const char *region, struct sigv4_result *res)
{
    struct creds *c = test_creds();
    struct http_header h[] = {
        H("Content-Type", "application/x-amz-json-1.1"),
        {"Host", 4, host, strlen(host)},
        {"X-Amz-Date", 10, date, strlen(date)},
        {"X-Amz-Target", 12, target, strlen(target)},
        {"Authorization", 13, auth, strlen(auth)},
    };
    struct http_request r = make_req("POST", path, h, 5, body);
    struct sigv4_config cfg = {.creds = c, .region = region, .service = "firehose"};
    enum sigv4_status st = sigv4_verify(&cfg, &r, now, res);
    creds_free(c);
    return st;
}

#define TGT "Firehose_20150804.ListDeliveryStreams"

static void test_sigv4_firehose_vector_verifies_and_every_tamper_fails(void **state)
{
    struct sigv4_result res;
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH, "{}",
                                      T_2015, "us-east-1", &res),
                     SIGV4_OK);
    /* Within the skew window either way; any region when none is configured. */
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH, "{}",
                                      T_2015 + 899, NULL, &res),
                     SIGV4_OK);
    /* body, header, path, query, host, date (re-scoped: same day) */
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH,
                                      "{ }", T_2015, "us-east-1", &res),
                     SIGV4_BAD_SIGNATURE);
    assert_string_equal(res.message,
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method. Consult "
                        "the service documentation for details.");
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z",
                                      "Firehose_20150804.DeleteDeliveryStream", FH_AUTH, "{}",
                                      T_2015, "us-east-1", &res),
                     SIGV4_BAD_SIGNATURE);
    assert_int_equal(firehose_variant("/x", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH,
                                      "{}", T_2015, "us-east-1", &res),
                     SIGV4_BAD_SIGNATURE);
    assert_int_equal(firehose_variant("/?a=b", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH,
                                      "{}", T_2015, "us-east-1", &res),
                     SIGV4_BAD_SIGNATURE);
    assert_int_equal(firehose_variant("/", "localhost:4574", "20150830T123600Z", TGT, FH_AUTH, "{}",
                                      T_2015, "us-east-1", &res),
                     SIGV4_BAD_SIGNATURE);
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123601Z", TGT, FH_AUTH, "{}",
                                      T_2015, "us-east-1", &res),
                     SIGV4_BAD_SIGNATURE);
    /* date outside the window, other day than the scope, region, service, key */
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH, "{}",
                                      T_2015 + 901, "us-east-1", &res),
                     SIGV4_EXPIRED);
    assert_string_equal(res.message, "Signature expired: 20150830T123600Z is now earlier than "
                                     "20150830T123601Z (20150830T125101Z - 15 min.)");
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH, "{}",
                                      T_2015 - 901, "us-east-1", &res),
                     SIGV4_EXPIRED);
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150831T123600Z", TGT, FH_AUTH, "{}",
                                      T_2015 + 86400, "us-east-1", &res),
                     SIGV4_BAD_SCOPE);
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, FH_AUTH, "{}",
                                      T_2015, "eu-west-1", &res),
                     SIGV4_BAD_SCOPE);
    const char *svc = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "
                      "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                      "Signature=d78f0b69d5d42bc79b6f6ce9e4b4e7010b3c22774fc79095b9f1f758bea6f5f1";
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, svc, "{}",
                                      T_2015, "us-east-1", &res),
                     SIGV4_BAD_SCOPE);
    const char *key = "AWS4-HMAC-SHA256 Credential=AKIDOTHER/20150830/us-east-1/firehose/"
                      "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                      "Signature=d78f0b69d5d42bc79b6f6ce9e4b4e7010b3c22774fc79095b9f1f758bea6f5f1";
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, key, "{}",
                                      T_2015, "us-east-1", &res),
                     SIGV4_UNKNOWN_KEY);
    assert_string_equal(res.message, "The security token included in the request is invalid.");
    /* A signed-header list without host is refused even if the signature were right. */
    const char *nohost =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/firehose/"
        "aws4_request, SignedHeaders=content-type;x-amz-date;x-amz-target, "
        "Signature=d78f0b69d5d42bc79b6f6ce9e4b4e7010b3c22774fc79095b9f1f758bea6f5f1";
    assert_int_equal(firehose_variant("/", "localhost:4573", "20150830T123600Z", TGT, nohost, "{}",
                                      T_2015, "us-east-1", &res),
                     SIGV4_BAD_SIGNATURE);
}

static void test_sigv4_authorization_header_parser_names_what_is_missing(void **state)
{
    static const struct {
        const char *v, *want;
    } cases[] = {
        {"AWS4-HMAC-SHA1 Credential=a/20150830/r/s/aws4_request", "Unsupported Authorization Type"},
        {"Bearer x", "Unsupported Authorization Type"},
        {"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" /* no credential */
         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
         "Authorization header requires 'Credential' parameter."},
        {"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, Signature="
         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
         "Authorization header requires 'SignedHeaders' parameter."},
        {"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host",
         "Authorization header requires 'Signature' parameter."},
        {"AWS4-HMAC-SHA256 Credential=A/20150830/r/s, SignedHeaders=host, Signature=x",
         "Credential must have exactly 5 slash-delimited elements, e.g. "
         "keyid/date/region/service/term"},
        {"AWS4-HMAC-SHA256 Credential=A/2015083/r/s/aws4_request, SignedHeaders=host",
         "Credential must have exactly 5 slash-delimited elements, e.g. "
         "keyid/date/region/service/term"},
        {"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=Host, Signature=",
         "SignedHeaders must be lower-case header names separated by ';'"},
        {"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, "
         "Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
         "Signature must be 64 lower-case hexadecimal characters"},
        {"AWS4-HMAC-SHA256 garbage", "Authorization header requires each component to be of the "
                                     "form name=value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sigv4_auth a;
        const char *why = NULL;
        assert_int_equal(sigv4_parse_header(cases[i].v, strlen(cases[i].v), &a, &why), HY_EBADMSG);
        assert_string_equal(why, cases[i].want);
    }
    /* Every prefix of a good header is refused, never read past. */
    const char *good = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                       "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    for (size_t n = 0; n < strlen(good); n++) {
        char buf[512];
        memcpy(buf, good, n);
        struct sigv4_auth a;
        const char *why = NULL;
        assert_int_equal(sigv4_parse_header(buf, n, &a, &why), HY_EBADMSG);
    }
}

static void test_sigv4_missing_and_session_tokens(void **state)
{
    struct creds *c = test_creds();
    struct sigv4_config cfg = {.creds = c, .region = "us-east-1", .service = "firehose"};
    const struct http_header h[] = {H("Host", "localhost")};
    struct http_request r = make_req("POST", "/", h, 1, "{}");
    struct sigv4_result res;
    assert_int_equal(sigv4_verify(&cfg, &r, T_2015, &res), SIGV4_MISSING);
    assert_string_equal(res.message, "Missing Authentication Token");
    /* The temporary key requires its token (checked before the signature). */
    const struct http_header t[] = {
        H("Host", "localhost"),
        H("X-Amz-Date", "20150830T123600Z"),
        H("Authorization", "AWS4-HMAC-SHA256 Credential=ASIATEMP/20150830/us-east-1/firehose/"
                           "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                           "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        H("X-Amz-Security-Token", "wrong"),
    };
    r = make_req("POST", "/", t, 3, "{}");
    assert_int_equal(sigv4_verify(&cfg, &r, T_2015, &res), SIGV4_BAD_TOKEN);
    r = make_req("POST", "/", t, 4, "{}");
    assert_int_equal(sigv4_verify(&cfg, &r, T_2015, &res), SIGV4_BAD_TOKEN);
    assert_true(creds_allows_stream(res.cred, "logs-app", 8));
    assert_false(creds_allows_stream(res.cred, "orders", 6));
    assert_true(creds_allows_operation(res.cred, "PutRecord", 9));
    assert_false(creds_allows_operation(res.cred, "PutRecordBatch", 14));
    creds_free(c);
}

/* AWS S3 docs, "Authenticating Requests: Using Query Parameters": the presigned GET example. */
static void test_sigv4_s3_presigned_url_vector_and_expiry(void **state)
{
    struct creds *c = test_creds();
    struct sigv4_config cfg = {.creds = c, .region = "us-east-1", .service = "s3", .s3 = 1};
    const char *path =
        "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%"
        "2F20130524"
        "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
        "X-Amz-SignedHeaders=host&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    const struct http_header h[] = {H("Host", "examplebucket.s3.amazonaws.com")};
    struct http_request r = make_req("GET", path, h, 1, NULL);
    struct sigv4_result res;
    assert_int_equal(sigv4_verify(&cfg, &r, T_2013 + 3600, &res), SIGV4_OK);
    assert_true(res.unsigned_payload);
    assert_true(res.presigned);
    assert_int_equal(sigv4_verify(&cfg, &r, T_2013 + 86401, &res), SIGV4_PRESIGN_EXPIRED);
    assert_string_equal(res.message, "Request has expired");
    /* A changed key, an added parameter, another host: the signature no longer matches. */
    const char *other =
        "/test2.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
        "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date="
        "20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
        "X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    r = make_req("GET", other, h, 1, NULL);
    assert_int_equal(sigv4_verify(&cfg, &r, T_2013 + 3600, &res), SIGV4_BAD_SIGNATURE);
    char extra[1024];
    snprintf(extra, sizeof extra, "%s&versionId=1", path);
    r = make_req("GET", extra, h, 1, NULL);
    assert_int_equal(sigv4_verify(&cfg, &r, T_2013 + 3600, &res), SIGV4_BAD_SIGNATURE);
    const struct http_header h2[] = {H("Host", "otherbucket.s3.amazonaws.com")};
    r = make_req("GET", path, h2, 1, NULL);
    assert_int_equal(sigv4_verify(&cfg, &r, T_2013 + 3600, &res), SIGV4_BAD_SIGNATURE);
    /* Query parser refusals. */
    struct sigv4_auth a;
    const char *why = NULL;
    assert_int_equal(sigv4_parse_query("a=b", 3, &a, &why), HY_ENOTFOUND);
    const char *q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=0";
    assert_int_equal(sigv4_parse_query(q, strlen(q), &a, &why), HY_EBADMSG);
    creds_free(c);
}

/* AWS S3 docs, "Signature Calculations for the Authorization Header: Transferring Payload in
 * Multiple Chunks": 65536 + 1024 bytes of 'a' uploaded as aws-chunked. */
static void test_sigv4_s3_aws_chunked_vector_chunk_by_chunk(void **state)
{
    struct creds *c = test_creds();
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
    struct http_request r = make_req("PUT", "/examplebucket/chunkObject.txt", h, 8, NULL);
    struct sigv4_result res;
    assert_int_equal(sigv4_verify(&cfg, &r, T_2013, &res), SIGV4_OK);
    assert_true(res.streaming);
    struct sigv4_chunk ck;
    assert_int_equal(sigv4_chunk_init(&ck, &res), 0);
    static char a[65536];
    memset(a, 'a', sizeof a);
    /* Fed in uneven pieces, as bytes arrive. */
    sigv4_chunk_update(&ck, a, 1000);
    sigv4_chunk_update(&ck, a + 1000, sizeof a - 1000);
    assert_int_equal(
        sigv4_chunk_finish(&ck, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                           64),
        0);
    sigv4_chunk_update(&ck, a, 1024);
    assert_int_equal(
        sigv4_chunk_finish(&ck, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                           64),
        0);
    assert_int_equal(
        sigv4_chunk_finish(&ck, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
                           64),
        0);
    sigv4_chunk_fini(&ck);
    /* A tampered chunk fails, and so does replaying the chunks out of order. */
    assert_int_equal(sigv4_chunk_init(&ck, &res), 0);
    a[5] = 'b';
    sigv4_chunk_update(&ck, a, sizeof a);
    assert_int_equal(
        sigv4_chunk_finish(&ck, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                           64),
        HY_EBADMSG);
    sigv4_chunk_fini(&ck);
    a[5] = 'a';
    assert_int_equal(sigv4_chunk_init(&ck, &res), 0);
    sigv4_chunk_update(&ck, a, 1024);
    assert_int_equal(
        sigv4_chunk_finish(&ck, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                           64),
        HY_EBADMSG);
    sigv4_chunk_fini(&ck);
    creds_free(c);
}

static void test_sigv4_creds_file_errors_are_explained(void **state)
{
    static const char *const bad[] = {
        "{}",
        "[1]",
        "[{\"AccessKeyId\":\"A\"}]",
        "[{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Streams\":\"x\"}]",
        ("[{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"},{\"AccessKeyId\":\"A\","
         "\"SecretAccessKey\":\"t\"}]"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct creds *c = NULL;
        char err[256] = "";
        assert_int_equal(creds_parse(bad[i], strlen(bad[i]), &c, err, sizeof err), HY_EBADMSG);
        assert_true(strlen(err) > 10);
        assert_null(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_signing_keys_match_the_spec),
        cmocka_unit_test(test_sigv4_get_vanilla_verifies),
        cmocka_unit_test(test_sigv4_firehose_vector_verifies_and_every_tamper_fails),
        cmocka_unit_test(test_sigv4_authorization_header_parser_names_what_is_missing),
        cmocka_unit_test(test_sigv4_missing_and_session_tokens),
        cmocka_unit_test(test_sigv4_s3_presigned_url_vector_and_expiry),
        cmocka_unit_test(test_sigv4_s3_aws_chunked_vector_chunk_by_chunk),
        cmocka_unit_test(test_sigv4_creds_file_errors_are_explained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
