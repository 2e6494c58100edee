/* Unit tests for src/transform/lambdafn*.c: the event, the response contract, the functions file
 * and the warm command worker (restarted after a crash, a timeout or an unusable answer). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "transform/lambdafn.h"

static void test_event_carries_the_firehose_fields(void **state)
{
    struct buf ev;
    char id[LAMBDAFN_ID_LEN + 1];
    buf_init(&ev, 1 << 20);
    assert_int_equal(
        lambdafn_event_begin(&ev, "inv-1", "arn:aws:firehose:r:a:deliverystream/s", "eu-west-1"),
        0);
    assert_int_equal(lambdafn_event_add(&ev, 0, 7, 1495072949453, "Hello World", 11), 0);
    assert_int_equal(lambdafn_event_add(&ev, 1, 7, 1495072949454, "", 0), 0);
    assert_int_equal(lambdafn_event_end(&ev), 0);
    assert_true(ev.len <= 100 + 2 * lambdafn_event_record_len(11));
    cJSON *root = cJSON_ParseWithLength(ev.data, ev.len);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "invocationId")->valuestring, "inv-1");
    assert_string_equal(cJSON_GetObjectItem(root, "region")->valuestring, "eu-west-1");
    cJSON *recs = cJSON_GetObjectItem(root, "records");
    assert_int_equal(cJSON_GetArraySize(recs), 2);
    cJSON *r0 = cJSON_GetArrayItem(recs, 0);
    lambdafn_record_id(7, 0, id);
    assert_string_equal(cJSON_GetObjectItem(r0, "recordId")->valuestring, id);
    assert_string_equal(id, "00000000000000000007000000");
    assert_string_equal(cJSON_GetObjectItem(r0, "data")->valuestring, "SGVsbG8gV29ybGQ=");
    assert_true(cJSON_GetObjectItem(r0, "approximateArrivalTimestamp")->valuedouble ==
                1495072949453.0);
    cJSON_Delete(root);
    buf_fini(&ev);
}

static int parse(const char *text, size_t n, struct lambdafn_response *r, const char **code)
{
    const char *message;
    return lambdafn_response_parse(text, strlen(text), 5, n, r, code, &message);
}

static void test_response_statuses_ids_and_keys(void **state)
{
    struct lambdafn_response r;
    const char *code = NULL;
    lambdafn_response_init(&r);
    const char *ok =
        "{\"records\":["
        "{\"recordId\":\"00000000000000000005000000\",\"result\":\"Ok\","
        "\"data\":\"aGk=\",\"metadata\":{\"partitionKeys\":{\"c\":\"x\"}}},"
        "{\"recordId\":\"00000000000000000005000001\",\"result\":\"Dropped\"},"
        "{\"recordId\":\"00000000000000000005000002\",\"result\":\"ProcessingFailed\"},"
        "{\"recordId\":\"00000000000000000005000003\",\"result\":\"Ok\"},"
        "{\"recordId\":\"00000000000000000005000004\",\"result\":\"Ok\",\"data\":\"\"},"
        "{\"recordId\":\"00000000000000000005000004\",\"result\":\"Ok\",\"data\":\"\"}"
        "]}";
    assert_int_equal(parse(ok, 6, &r, &code), 0);
    assert_int_equal(r.items[0].status, LAMBDAFN_OK);
    assert_memory_equal(r.data.data + r.items[0].data_off, "hi", 2);
    assert_int_equal(r.items[0].n_keys, 1);
    assert_memory_equal(r.keys.data + r.items[0].keys_off, "c\0x\0", 4);
    assert_int_equal(r.items[1].status, LAMBDAFN_DROPPED);
    assert_int_equal(r.items[2].status, LAMBDAFN_FAILED);
    assert_int_equal(r.items[3].status, LAMBDAFN_INVALID); /* Ok without data */
    assert_int_equal(r.items[4].status, LAMBDAFN_DUPLICATE);
    assert_int_equal(r.items[5].status, LAMBDAFN_MISSING);

    /* An id of another invocation (other base) or past n spoils the whole answer. */
    assert_int_equal(parse("{\"records\":[{\"recordId\":\"00000000000000000006000000\","
                           "\"result\":\"Ok\",\"data\":\"\"}]}",
                           1, &r, &code),
                     HY_EBADMSG);
    assert_string_equal(code, "Lambda.InvalidRecordId");
    assert_int_equal(
        parse("{\"records\":[{\"recordId\":\"00000000000000000005000001\"}]}", 1, &r, &code),
        HY_EBADMSG);
    assert_int_equal(parse("not json", 1, &r, &code), HY_EBADMSG);
    assert_string_equal(code, "Lambda.JsonProcessingException");
    assert_int_equal(parse("{\"errorMessage\":\"boom\"}", 1, &r, &code), HY_EBADMSG);
    assert_string_equal(code, "Lambda.FunctionError");
    /* Non-string partition key values are the record's failure, not the answer's. */
    assert_int_equal(parse("{\"records\":[{\"recordId\":\"00000000000000000005000000\","
                           "\"result\":\"Ok\",\"data\":\"\",\"metadata\":{\"partitionKeys\":"
                           "{\"c\":1}}}]}",
                           1, &r, &code),
                     0);
    assert_int_equal(r.items[0].status, LAMBDAFN_INVALID);
    lambdafn_response_fini(&r);
}

static char dir[] = "/tmp/lambdafn-test-XXXXXX";

static struct lambdafn_set *load(const char *json)
{
    char path[256], err[256];
    struct lambdafn_set *s = NULL;
    snprintf(path, sizeof path, "%s/functions.json", dir);
    assert_int_equal(fsutil_write_atomic(path, json, strlen(json)), 0);
    int rc = lambdafn_set_load(path, &s, err, sizeof err);
    if (rc != 0)
        return NULL;
    lambdafn_set_install(s, "us-east-1", "123");
    return s;
}

static void test_functions_file_and_arn_lookup(void **state)
{
    assert_null(load("[]"));
    assert_null(load("{\"f\":{\"url\":\"ftp://x\"}}"));
    assert_null(load("{\"f\":{\"url\":\"http://x\",\"command\":[\"true\"]}}"));
    assert_null(load("{\"f\":{\"command\":[]}}"));
    assert_null(load("{\"f\":{\"command\":[\"true\"],\"timeout_ms\":0}}"));
    struct lambdafn_set *s = load("{\"f\":{\"command\":[\"true\"]},"
                                  "\"arn:aws:lambda:r:1:function:g\":{\"url\":\"http://h/\"}}");
    assert_non_null(s);
    assert_non_null(lambdafn_find("f"));
    assert_non_null(lambdafn_find("arn:aws:lambda:r:1:function:f:$LATEST"));
    assert_non_null(lambdafn_find("arn:aws:lambda:r:1:function:g"));
    assert_non_null(lambdafn_find("arn:aws:lambda:r:1:function:g:7"));
    assert_null(lambdafn_find("arn:aws:lambda:r:1:function:h"));
    assert_null(lambdafn_find("g"));
    assert_string_equal(lambdafn_region(), "us-east-1");
    lambdafn_set_install(NULL, NULL, NULL);
    lambdafn_set_free(s);
}

static void test_command_worker_answers_and_is_restarted(void **state)
{
    struct buf resp;
    const char *code = NULL, *message = NULL;
    buf_init(&resp, LAMBDAFN_RESPONSE_MAX);
    /* Echo answers each line; "hang" never answers; "die" exits. */
    struct lambdafn_set *s =
        load("{\"echo\":{\"command\":[\"sh\",\"-c\",\"while read l; do case $l in "
             "hang) sleep 5;; die) exit 1;; *) echo \\\"$l\\\";; esac; done\"],"
             "\"timeout_ms\":300}}");
    assert_non_null(s);
    struct lambdafn *fn = lambdafn_find("echo");
    assert_int_equal(lambdafn_invoke(fn, "abc", 3, &resp, &code, &message), 0);
    assert_int_equal(resp.len, 3);
    assert_memory_equal(resp.data, "abc", 3);
    assert_int_equal(lambdafn_invoke(fn, "hang", 4, &resp, &code, &message), -EIO);
    assert_string_equal(code, "Lambda.FunctionTimedOut");
    assert_int_equal(lambdafn_invoke(fn, "x", 1, &resp, &code, &message), 0);
    assert_memory_equal(resp.data, "x", 1);
    assert_int_equal(lambdafn_invoke(fn, "die", 3, &resp, &code, &message), -EIO);
    assert_int_equal(lambdafn_invoke(fn, "again", 5, &resp, &code, &message), 0);
    lambdafn_discard(fn);
    assert_int_equal(lambdafn_invoke(fn, "fresh", 5, &resp, &code, &message), 0);
    assert_memory_equal(resp.data, "fresh", 5);
    lambdafn_set_install(NULL, NULL, NULL);
    lambdafn_set_free(s);
    buf_fini(&resp);
}

static void test_missing_command_is_an_invoke_failure(void **state)
{
    struct buf resp;
    const char *code = NULL, *message = NULL;
    buf_init(&resp, 1024);
    struct lambdafn_set *s = load("{\"nope\":{\"command\":[\"/nonexistent/fn\"]}}");
    assert_non_null(s);
    assert_int_equal(lambdafn_invoke(lambdafn_find("nope"), "a", 1, &resp, &code, &message), -EIO);
    assert_string_equal(code, "Lambda.InvokeFailed");
    lambdafn_set_install(NULL, NULL, NULL);
    lambdafn_set_free(s);
    buf_fini(&resp);
}

static int setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char path[256];
    snprintf(path, sizeof path, "%s/functions.json", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_carries_the_firehose_fields),
        cmocka_unit_test(test_response_statuses_ids_and_keys),
        cmocka_unit_test(test_functions_file_and_arn_lookup),
        cmocka_unit_test(test_command_worker_answers_and_is_restarted),
        cmocka_unit_test(test_missing_command_is_an_invoke_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
