/* Unit tests for src/api/s3/: query and target parsing, the operation table, XML writing and
 * request bodies, aws-chunked decoding and checksums, name rules, metadata blobs, listing order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/s3/s3_int.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "sink/fssink.h"

static void test_query_parse(void **state)
{
    (void)state;
    struct s3_query q;
    const char *s = "uploads&prefix=a%2Fb+c&x-id=PutObject&empty=&list-type=2";
    assert_int_equal(s3_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.n, 5);
    const struct s3_param *p = s3_query_get(&q, "uploads");
    assert_non_null(p);
    assert_int_equal(p->has_value, 0);
    p = s3_query_get(&q, "prefix");
    assert_string_equal(p->value, "a/b c");
    assert_int_equal(p->value_len, 5);
    p = s3_query_get(&q, "empty");
    assert_int_equal(p->has_value, 1);
    assert_int_equal(p->value_len, 0);
    assert_null(s3_query_get(&q, "nope"));
    s3_query_fini(&q);
    assert_int_equal(s3_query_parse("a=%zz", 5, &q), HY_EBADMSG);
    s3_query_fini(&q);
    assert_int_equal(s3_query_parse("a=%4", 4, &q), HY_EBADMSG);
    s3_query_fini(&q);
    assert_int_equal(s3_query_parse("", 0, &q), 0);
    assert_int_equal(q.n, 0);
    s3_query_fini(&q);
    char many[1024] = "";
    for (int i = 0; i < 70; i++)
        strcat(many, "a&");
    assert_int_equal(s3_query_parse(many, strlen(many), &q), HY_E2BIG);
    s3_query_fini(&q);
}

static void test_encode_decode(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(s3_query_encode("foo+1/quux ab/~x", 16, 1, &b), 0);
    assert_string_equal(b.data, "foo%2B1/quux%20ab/~x");
    buf_reset(&b);
    assert_int_equal(s3_query_encode("a/b", 3, 0, &b), 0);
    assert_string_equal(b.data, "a%2Fb");
    buf_reset(&b);
    /* In a path, '+' is a plus. */
    assert_int_equal(s3_query_decode("a+b%20c", 7, 0, &b), 0);
    assert_string_equal(b.data, "a+b c");
    buf_fini(&b);
}

static void test_target(void **state)
{
    (void)state;
    struct s3_target t;
    s3_target_init(&t);
    assert_int_equal(s3_target_parse("/bkt/a/../b//c", 14, "127.0.0.1:9000", 14, "localhost", &t),
                     0);
    assert_string_equal(t.bucket.data, "bkt");
    assert_string_equal(t.key.data, "a/../b//c"); /* never normalised */
    assert_int_equal(t.vhost, 0);
    assert_int_equal(s3_target_parse("/k%20ey", 7, "my-bkt.localhost:9000", 21, "localhost", &t),
                     0);
    assert_string_equal(t.bucket.data, "my-bkt");
    assert_string_equal(t.key.data, "k ey");
    assert_int_equal(t.vhost, 1);
    assert_int_equal(s3_target_parse("/", 1, "localhost:1", 11, "localhost", &t), 0);
    assert_int_equal(t.bucket.len, 0);
    assert_int_equal(s3_target_parse("x", 1, NULL, 0, "localhost", &t), HY_EBADMSG);
    assert_int_equal(s3_target_parse("/b/%G0", 6, NULL, 0, "localhost", &t), HY_EBADMSG);
    s3_target_fini(&t);
}

static enum s3_op op(const char *method, int b, int k, const char *qs, int copy)
{
    struct s3_query q;
    assert_int_equal(s3_query_parse(qs, strlen(qs), &q), 0);
    enum s3_op o = s3_query_op(method, strlen(method), b, k, &q, copy);
    s3_query_fini(&q);
    return o;
}

static void test_op_table(void **state)
{
    (void)state;
    assert_int_equal(op("GET", 0, 0, "", 0), S3_OP_LIST_BUCKETS);
    assert_int_equal(op("PUT", 1, 0, "", 0), S3_OP_CREATE_BUCKET);
    assert_int_equal(op("DELETE", 1, 0, "", 0), S3_OP_DELETE_BUCKET);
    assert_int_equal(op("GET", 1, 0, "location", 0), S3_OP_GET_BUCKET_LOCATION);
    assert_int_equal(op("GET", 1, 0, "list-type=2&prefix=x", 0), S3_OP_LIST_OBJECTS_V2);
    assert_int_equal(op("GET", 1, 0, "uploads=", 0), S3_OP_LIST_UPLOADS);
    assert_int_equal(op("GET", 1, 0, "", 0), S3_OP_LIST_OBJECTS);
    assert_int_equal(op("POST", 1, 0, "delete&x-id=DeleteObjects", 0), S3_OP_DELETE_OBJECTS);
    assert_int_equal(op("PUT", 1, 1, "partNumber=1&uploadId=x", 0), S3_OP_UPLOAD_PART);
    assert_int_equal(op("PUT", 1, 1, "partNumber=1&uploadId=x", 1), S3_OP_UPLOAD_PART_COPY);
    assert_int_equal(op("PUT", 1, 1, "", 1), S3_OP_COPY_OBJECT);
    assert_int_equal(op("PUT", 1, 1, "x-id=PutObject", 0), S3_OP_PUT_OBJECT);
    assert_int_equal(op("POST", 1, 1, "uploads", 0), S3_OP_CREATE_UPLOAD);
    assert_int_equal(op("POST", 1, 1, "uploadId=u", 0), S3_OP_COMPLETE_UPLOAD);
    assert_int_equal(op("GET", 1, 1, "uploadId=u", 0), S3_OP_LIST_PARTS);
    assert_int_equal(op("DELETE", 1, 1, "uploadId=u", 0), S3_OP_ABORT_UPLOAD);
    assert_int_equal(op("GET", 1, 1, "partNumber=1&response-content-type=x", 0), S3_OP_GET_OBJECT);
    assert_int_equal(op("HEAD", 1, 1, "", 0), S3_OP_HEAD_OBJECT);
    assert_int_equal(op("DELETE", 1, 1, "", 0), S3_OP_DELETE_OBJECT);
    assert_int_equal(op("GET", 1, 0, "acl", 0), S3_OP_NOT_IMPLEMENTED);
    assert_int_equal(op("GET", 1, 1, "tagging", 0), S3_OP_GET_TAGGING);
    assert_int_equal(op("PATCH", 1, 1, "", 0), S3_OP_NONE);
    assert_int_equal(op("PUT", 0, 0, "", 0), S3_OP_NONE);
}

static void test_xml_escape_and_time(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(s3_xml_elem(&b, "Key", "a<&>\"'\x01\xc3\xa9", 9), 0);
    assert_string_equal(b.data, "<Key>a&lt;&amp;&gt;&quot;&apos;&#x1;\xc3\xa9</Key>");
    buf_reset(&b);
    assert_int_equal(s3_xml_escape(&b, "\xff", 1), 0);
    assert_string_equal(b.data, "&#xFFFD;");
    buf_fini(&b);
    char t[40];
    s3_xml_time(1138985109, t, sizeof t);
    assert_string_equal(t, "2006-02-03T16:45:09.000Z");
    s3_xml_http_date(784111777, t, sizeof t);
    assert_string_equal(t, "Sun, 06 Nov 1994 08:49:37 GMT");
    int64_t v = 0;
    assert_int_equal(s3_xml_parse_http_date(t, strlen(t), &v), 0);
    assert_int_equal(v, 784111777);
    assert_int_equal(s3_xml_parse_http_date("yesterday", 9, &v), HY_EBADMSG);
}

static void test_xml_bodies(void **state)
{
    (void)state;
    struct s3_xml_req r;
    const char *d = "<?xml version=\"1.0\"?><Delete xmlns=\"" S3_XMLNS "\"><Quiet>true</Quiet>"
                    "<Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object>"
                    "<Object><Key>c</Key></Object></Delete>";
    assert_int_equal(s3_xml_parse_delete(d, strlen(d), &r), 0);
    assert_int_equal(r.quiet, 1);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.items[0].text, "a&b");
    assert_string_equal(r.items[1].text, "c");
    s3_xml_req_fini(&r);
    const char *bad[] = {
        "<Delete><Object></Object></Delete>",
        "<Other/>",
        "<Delete><Object><Key>a</Key></Object>",
        "<!DOCTYPE x [<!ENTITY e \"boom\">]><Delete><Object><Key>&e;</Key></Object></Delete>",
        "<Delete><Object><Key>a<b/></Key></Object></Delete>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s3_xml_parse_delete(bad[i], strlen(bad[i]), &r), HY_EBADMSG);
        assert_int_equal(r.n, 0);
    }
    const char *c = "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag>"
                    "<ChecksumCRC32>x</ChecksumCRC32></Part><Part><ETag>e3</ETag>"
                    "<PartNumber>x7</PartNumber></Part></CompleteMultipartUpload>";
    assert_int_equal(s3_xml_parse_complete(c, strlen(c), &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.items[0].num, 2);
    assert_string_equal(r.items[0].text, "\"e2\"");
    assert_int_equal(r.items[1].num, -1);
    s3_xml_req_fini(&r);
}

static void test_chunked(void **state)
{
    (void)state;
    struct buf out;
    buf_init(&out, 1 << 20);
    struct s3_chunked_trailer tr;
    const char *why;
    const char signed_body[] =
        "5;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\n"
        "hello\r\n"
        "6;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\n"
        " world\r\n"
        "0;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\n"
        "\r\n";
    assert_int_equal(s3_chunked_decode(signed_body, sizeof signed_body - 1, &out, &tr, NULL, &why),
                     0);
    assert_string_equal(out.data, "hello world");
    assert_string_equal(tr.name, "");
    buf_reset(&out);
    const char unsigned_body[] = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    assert_int_equal(
        s3_chunked_decode(unsigned_body, sizeof unsigned_body - 1, &out, &tr, NULL, &why), 0);
    assert_string_equal(out.data, "hello world");
    assert_string_equal(tr.name, "x-amz-checksum-crc32");
    assert_string_equal(tr.value, "DUoRhQ==");
    const char *bad[] = {"zz\r\nabc", "5\r\nabc\r\n",         "3\r\nabcXY0\r\n\r\n",
                         "3",         "0\r\nnocolon\r\n\r\n", "ffffffffffffffffff\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_reset(&out);
        assert_int_equal(s3_chunked_decode(bad[i], strlen(bad[i]), &out, &tr, NULL, &why),
                         HY_EBADMSG);
    }
    buf_fini(&out);
}

static void test_checksums(void **state)
{
    (void)state;
    char b[64];
    s3_chunked_sum_b64(S3_SUM_CRC32, "hello world", 11, b);
    assert_string_equal(b, "DUoRhQ==");
    s3_chunked_sum_b64(S3_SUM_CRC32C, "hello world", 11, b);
    assert_string_equal(b, "yZRlqg==");
    s3_chunked_sum_b64(S3_SUM_SHA256, "hello world", 11, b);
    assert_string_equal(b, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
    assert_true(s3_chunked_crc64nvme(0, "123456789", 9) == 0xae8b14860a799888ULL);
    assert_int_equal(s3_chunked_sum_alg("X-Amz-Checksum-CRC64NVME", 24), S3_SUM_CRC64NVME);
    assert_int_equal(s3_chunked_sum_alg("x-amz-checksum-mode", 19), S3_SUM_NONE);
    unsigned char d[16];
    char hex[33];
    s3_store_md5("hello world", 11, d);
    s3_store_hex(d, 16, hex);
    assert_string_equal(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
}

static void test_names(void **state)
{
    (void)state;
    const char *good[] = {"abc", "my.bucket-1", "a23", "1.2.3"};
    const char *bad[] = {"ab",  "Abc",         "a_b",     "a..b",        ".ab",
                         "ab-", "192.168.0.1", "xn--abc", "abc-s3alias", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(s3_store_bucket_ok(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(s3_store_bucket_ok(bad[i], strlen(bad[i])));
    char long_key[1026];
    memset(long_key, 'k', sizeof long_key);
    assert_true(s3_store_key_ok(long_key, 1024));
    assert_false(s3_store_key_ok(long_key, 1025));
    assert_false(s3_store_key_ok("", 0));
    assert_false(s3_store_key_ok("a\0b", 3));
    assert_false(s3_store_key_ok("\xc0\xaf", 2));     /* overlong */
    assert_false(s3_store_key_ok("\xed\xa0\x80", 3)); /* surrogate */
    assert_true(s3_store_key_ok("../\xe4\xb8\xad\xf0\x9f\x98\x80", 10));
}

static void test_meta_blob(void **state)
{
    (void)state;
    struct s3_meta m, back;
    s3_meta_init(&m);
    s3_meta_init(&back);
    strcpy(m.etag, "0123456789abcdef0123456789abcdef-3");
    buf_append_str(&m.headers, "Content-Type: text/plain\r\nx-amz-meta-a: b\r\n");
    struct buf blob;
    buf_init(&blob, 8192);
    assert_int_equal(s3_meta_encode(&m, &blob), 0);
    assert_int_equal(s3_meta_decode(blob.data, blob.len, &back), 0);
    assert_string_equal(back.etag, m.etag);
    assert_string_equal(back.headers.data, m.headers.data);
    assert_int_equal(s3_meta_decode("no newline", 10, &back), HY_EBADMSG);
    buf_fini(&blob);
    s3_meta_fini(&m);
    s3_meta_fini(&back);
}

static void put(const char *root, const char *key)
{
    struct fssink_writer *w = NULL;
    assert_int_equal(fssink_open(root, "bkt", key, &w), 0);
    struct iovec v = {(void *)"x", 1};
    assert_int_equal(fssink_write(w, &v, 1), 0);
    assert_int_equal(fssink_commit(w), 0);
}

static void test_list_order(void **state)
{
    (void)state;
    char root[64] = "/tmp/s3_test.XXXXXX";
    assert_non_null(mkdtemp(root));
    const char *keys[] = {"a/b", "a-b", "obj+", "obj/", "../up", "x//y", "%esc", "a/c/d"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put(root, keys[i]);
    struct s3 s = {.root = root, .region = "us-east-1", .domain = "localhost"};
    struct s3_keys k;
    assert_int_equal(s3_store_list(&s, "bkt", "", 0, &k), 0);
    const char *want[] = {"%esc", "../up", "a-b", "a/b", "a/c/d", "obj+", "obj/", "x//y"};
    assert_int_equal(k.n, 8);
    for (size_t i = 0; i < k.n; i++)
        assert_string_equal(k.v[i].key, want[i]);
    s3_keys_fini(&k);
    assert_int_equal(s3_store_list(&s, "bkt", "a/", 2, &k), 0);
    assert_int_equal(k.n, 2);
    assert_string_equal(k.v[0].key, "a/b");
    s3_keys_fini(&k);
    assert_int_equal(s3_store_list(&s, "bkt", "zz/", 3, &k), 0);
    assert_int_equal(k.n, 0);
    s3_keys_fini(&k);
    assert_int_equal(s3_store_list(&s, "nobkt", "", 0, &k), -ENOENT);
    fsutil_remove_tree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_xml_escape_and_time),
        cmocka_unit_test(test_xml_bodies),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_meta_blob),
        cmocka_unit_test(test_list_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
