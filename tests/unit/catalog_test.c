/*
 * catalog_test: stream catalog persistence in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "core/catalog.h"

static int setup(void **state)
{
    char *dir = strdup("/tmp/catalog_test.XXXXXX");
    if (!dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    fsutil_remove_tree(*state);
    free(*state);
    return 0;
}

static struct catalog_stream *make(const char *name, uint64_t version)
{
    struct catalog_stream *s = catalog_stream_new(name);
    assert_non_null(s);
    s->version = version;
    s->create_ms = 1700000000123;
    s->update_ms = 1700000005000;
    s->stream_id = 0xfeedface12345678ull;
    s->status = CATALOG_STATUS_ACTIVE;
    s->dest = cJSON_Parse("{\"Kind\":\"ExtendedS3\",\"BucketARN\":\"arn:aws:s3:::b\","
                          "\"Prefix\":\"p/\"}");
    cJSON_Delete(s->tags);
    s->tags = cJSON_Parse("[{\"Key\":\"k\",\"Value\":\"v\"}]");
    return s;
}

/* Streams in the catalog, through its public snapshot. */
static size_t count(struct catalog *c)
{
    struct catalog_stream **v;
    size_t n;
    assert_int_equal(catalog_snapshot(c, &v, &n), 0);
    catalog_snapshot_free(v, n);
    return n;
}

static void test_streams_survive_a_reopen_with_every_field(void **state)
{
    struct catalog *c;
    assert_int_equal(catalog_open(*state, &c), 0);
    struct catalog_stream *s = make("beta", 3);
    assert_int_equal(catalog_insert(c, s, 50), 0);
    catalog_stream_unref(s);
    s = make("alpha", 1);
    s->status = CATALOG_STATUS_DELETING;
    assert_int_equal(catalog_insert(c, s, 50), 0);
    catalog_stream_unref(s);
    catalog_free(c);

    assert_int_equal(catalog_open(*state, &c), 0);
    assert_int_equal(count(c), 2);
    struct catalog_stream **v;
    size_t n;
    assert_int_equal(catalog_snapshot(c, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->name, "alpha");
    assert_int_equal(v[0]->status, CATALOG_STATUS_DELETING);
    assert_string_equal(v[1]->name, "beta");
    assert_int_equal(v[1]->version, 3);
    assert_int_equal(v[1]->create_ms, 1700000000123);
    assert_int_equal(v[1]->update_ms, 1700000005000);
    assert_int_equal(v[1]->stream_id, 0xfeedface12345678ull);
    assert_int_equal(v[1]->status, CATALOG_STATUS_ACTIVE);
    assert_string_equal(cJSON_GetObjectItem(v[1]->dest, "Prefix")->valuestring, "p/");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(v[1]->tags, 0), "Value")->valuestring, "v");
    catalog_snapshot_free(v, n);
    catalog_free(c);
}

static void test_failure_description_survives_a_reopen_until_cleared(void **state)
{
    struct catalog *c;
    assert_int_equal(catalog_open(*state, &c), 0);
    struct catalog_stream *s = make("gamma", 1);
    s->failure = hy_strdup("log damaged at 1/4096 \"quoted\"");
    assert_int_equal(catalog_insert(c, s, 50), 0);
    catalog_stream_unref(s);
    catalog_free(c);

    assert_int_equal(catalog_open(*state, &c), 0);
    s = catalog_get(c, "gamma", 5);
    assert_non_null(s);
    assert_non_null(s->failure);
    assert_string_equal(s->failure, "log damaged at 1/4096 \"quoted\"");
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(catalog_stream_to_json(s, &b), 0);
    assert_non_null(strstr(b.data, "\"FailureDescription\":{\"Type\":\"UNKNOWN_ERROR\","));
    buf_fini(&b);
    /* Cleared (acknowledged): the entry no longer carries one. */
    catalog_lock(c);
    hy_free(s->failure);
    s->failure = NULL;
    assert_int_equal(catalog_save(c, s), 0);
    catalog_unlock(c);
    catalog_stream_unref(s);
    catalog_free(c);

    assert_int_equal(catalog_open(*state, &c), 0);
    s = catalog_get(c, "gamma", 5);
    assert_non_null(s);
    assert_null(s->failure);
    catalog_stream_unref(s);
    catalog_free(c);

    /* A FailureDescription without Details is malformed. */
    const char *bad = "{\"Format\":1,\"DeliveryStreamName\":\"x\",\"VersionId\":\"1\","
                      "\"CreateTimestampMs\":1,\"LastUpdateTimestampMs\":1,"
                      "\"DeliveryStreamStatus\":\"ACTIVE\",\"StreamId\":\"00\",\"Tags\":[],"
                      "\"Destination\":{},\"FailureDescription\":{\"Type\":\"UNKNOWN_ERROR\"}}";
    assert_int_equal(catalog_stream_from_json(bad, strlen(bad), &s), HY_EBADMSG);
}

static void test_duplicate_name_and_stream_limit_are_refused(void **state)
{
    struct catalog *c;
    assert_int_equal(catalog_open(*state, &c), 0);
    struct catalog_stream *a = make("a", 1), *a2 = make("a", 1), *b = make("b", 1);
    assert_int_equal(catalog_insert(c, a, 1), 0);
    assert_int_equal(catalog_insert(c, a2, 5), HY_EEXIST);
    assert_int_equal(catalog_insert(c, b, 1), HY_E2BIG);
    catalog_stream_unref(a);
    catalog_stream_unref(a2);
    catalog_stream_unref(b);
    catalog_free(c);
}

static void test_remove_frees_the_name_and_the_directory(void **state)
{
    struct catalog *c;
    assert_int_equal(catalog_open(*state, &c), 0);
    struct catalog_stream *s = make("gone", 1);
    assert_int_equal(catalog_insert(c, s, 50), 0);
    catalog_stream_unref(s);
    s = catalog_get(c, "gone", 4);
    assert_non_null(s);
    assert_int_equal(catalog_remove(c, s), 0);
    assert_null(catalog_get(c, "gone", 4));
    catalog_stream_unref(s);
    char path[512];
    snprintf(path, sizeof path, "%s/streams/gone", (char *)*state);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    s = make("gone", 1);
    assert_int_equal(catalog_insert(c, s, 50), 0);
    catalog_stream_unref(s);
    catalog_free(c);
}

static void test_lookup_matches_whole_names_only(void **state)
{
    struct catalog *c;
    assert_int_equal(catalog_open(*state, &c), 0);
    const char *names[] = {"ab", "a", "abc", "b"};
    for (int i = 0; i < 4; i++) {
        struct catalog_stream *s = make(names[i], 1);
        assert_int_equal(catalog_insert(c, s, 50), 0);
        catalog_stream_unref(s);
    }
    struct catalog_stream *s = catalog_get(c, "abcd", 2);
    assert_non_null(s);
    assert_string_equal(s->name, "ab");
    catalog_stream_unref(s);
    assert_null(catalog_get(c, "abd", 3));
    assert_null(catalog_get(c, "", 0));
    catalog_free(c);
}

static void test_corrupt_entry_is_skipped_and_its_name_stays_taken(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/streams/bad", (char *)*state);
    assert_int_equal(fsutil_mkdirs(path, 0755), 0);
    snprintf(path, sizeof path, "%s/streams/bad/stream.json", (char *)*state);
    assert_int_equal(fsutil_write_atomic(path, "{\"Format\":1,", 12), 0);
    struct catalog *c;
    assert_int_equal(catalog_open(*state, &c), 0);
    assert_int_equal(count(c), 0);
    struct catalog_stream *s = make("bad", 1);
    assert_int_equal(catalog_insert(c, s, 50), HY_EEXIST);
    catalog_stream_unref(s);
    catalog_free(c);
}

static void test_json_form_rejects_missing_fields(void **state)
{
    struct catalog_stream *s = make("x", 9);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(catalog_stream_to_json(s, &b), 0);
    struct catalog_stream *back = NULL;
    assert_int_equal(catalog_stream_from_json(b.data, b.len, &back), 0);
    assert_int_equal(back->version, 9);
    catalog_stream_unref(back);
    const char *bad = "{\"Format\":1,\"DeliveryStreamName\":\"x\"}";
    assert_int_equal(catalog_stream_from_json(bad, strlen(bad), &back), HY_EBADMSG);
    buf_fini(&b);
    catalog_stream_unref(s);
}

static void test_unusable_data_dir_gives_a_clear_error(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/file", (char *)*state);
    assert_int_equal(fsutil_write_atomic(path, "x", 1), 0);
    struct catalog *c = NULL;
    int rc = catalog_open(path, &c);
    assert_true(rc < 0);
    assert_null(c);
}

static void test_dot_names_get_escaped_directories_and_survive_a_reopen(void **state)
{
    static const char *const names[] = {".", "..", ".deleted-x", ".a", "plain", "a.b"};
    static const char *const dirs[] = {"@.", "@..", "@.deleted-x", "@.a", "plain", "a.b"};
    const size_t n_names = sizeof names / sizeof names[0];
    struct catalog *c;
    assert_int_equal(catalog_open(*state, &c), 0);
    for (size_t i = 0; i < n_names; i++) {
        struct catalog_stream *s = make(names[i], 1);
        assert_int_equal(catalog_insert(c, s, 50), 0);
        catalog_stream_unref(s);
        struct buf p;
        buf_init(&p, 4096);
        assert_int_equal(catalog_stream_path(c, names[i], "log", &p), 0);
        char want[512];
        snprintf(want, sizeof want, "%s/streams/%s/log", (char *)*state, dirs[i]);
        assert_string_equal(p.data, want);
        buf_fini(&p);
        snprintf(want, sizeof want, "%s/streams/%s/stream.json", (char *)*state, dirs[i]);
        struct stat st;
        assert_int_equal(stat(want, &st), 0);
    }
    catalog_free(c);
    /* A directory with the escape but no dot after it is no stream of ours. */
    char junk[512];
    snprintf(junk, sizeof junk, "%s/streams/@x", (char *)*state);
    assert_int_equal(mkdir(junk, 0755), 0);
    assert_int_equal(catalog_open(*state, &c), 0);
    assert_int_equal(count(c), n_names);
    for (size_t i = 0; i < n_names; i++) {
        struct catalog_stream *s = catalog_get(c, names[i], strlen(names[i]));
        assert_non_null(s);
        assert_int_equal(catalog_remove(c, s), 0);
        catalog_stream_unref(s);
    }
    assert_int_equal(count(c), 0);
    catalog_free(c);
    assert_int_equal(catalog_open(*state, &c), 0);
    assert_int_equal(count(c), 0);
    catalog_free(c);
}

int main(void)
{
    catalog_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dot_names_get_escaped_directories_and_survive_a_reopen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_survive_a_reopen_with_every_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failure_description_survives_a_reopen_until_cleared,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_name_and_stream_limit_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_frees_the_name_and_the_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lookup_matches_whole_names_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_entry_is_skipped_and_its_name_stays_taken,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_form_rejects_missing_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_data_dir_gives_a_clear_error, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
