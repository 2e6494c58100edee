/* Unit tests for src/sink/fssink.c: the embedded local bucket store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "sink/fssink.h"

struct fixture {
    char root[64];
};

static int setup(void **state)
{
    struct fixture *f = hy_calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/fssink_test.XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    fsutil_remove_tree(f->root);
    hy_free(f);
    return 0;
}

static char *read_object(const struct fixture *f, const char *bucket, const char *key, size_t *len)
{
    char path[512];
    char *data = NULL;
    snprintf(path, sizeof(path), "%s/%s/%s", f->root, bucket, key);
    if (fsutil_read_all(path, &data, len, 1 << 20) < 0)
        return NULL;
    return data;
}

/* Count directory entries whose name contains ".tmp." anywhere under dir. */
static int count_temps(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (strstr(e->d_name, ".tmp."))
            n++;
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_temps(sub);
    }
    closedir(d);
    return n;
}

static int put3(const struct fixture *f, const char *bucket, const char *key, const char *a,
                const char *b, const char *c)
{
    struct iovec iov[3] = {
        {(void *)a, strlen(a)},
        {(void *)b, strlen(b)},
        {(void *)c, strlen(c)},
    };
    struct sink_object obj = {
        .bucket = bucket,
        .key = key,
        .iov = iov,
        .iovcnt = 3,
        .len = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len,
    };
    return fssink_put(f->root, &obj);
}

static void test_put_writes_concatenated_iovecs_under_bucket_and_key(void **state)
{
    struct fixture *f = *state;
    size_t len;
    assert_int_equal(put3(f, "b1", "2026/11/24/18/s-1-x", "hello ", "", "world"), 0);
    char *data = read_object(f, "b1", "2026/11/24/18/s-1-x", &len);
    assert_non_null(data);
    assert_int_equal(len, 11);
    assert_memory_equal(data, "hello world", 11);
    hy_free(data);
    assert_int_equal(count_temps(f->root), 0);
}

static void test_put_through_ops_uses_ctx_as_root(void **state)
{
    struct fixture *f = *state;
    struct iovec iov = {(void *)"abc", 3};
    struct sink_object obj = {.bucket = "b", .key = "k", .iov = &iov, .iovcnt = 1, .len = 3};
    size_t len;
    assert_string_equal(fssink_ops.name, "fs");
    assert_int_equal(fssink_ops.put(f->root, &obj), 0);
    char *data = read_object(f, "b", "k", &len);
    assert_non_null(data);
    assert_int_equal(len, 3);
    hy_free(data);
}

static void test_overwriting_a_key_replaces_the_object(void **state)
{
    struct fixture *f = *state;
    size_t len;
    assert_int_equal(put3(f, "b", "a/k", "first version", " is longer", ""), 0);
    assert_int_equal(put3(f, "b", "a/k", "v2", "", ""), 0);
    assert_int_equal(put3(f, "b", "a/k", "v2", "", ""), 0);
    char *data = read_object(f, "b", "a/k", &len);
    assert_non_null(data);
    assert_int_equal(len, 2);
    assert_memory_equal(data, "v2", 2);
    hy_free(data);
    assert_int_equal(count_temps(f->root), 0);
}

static void test_many_iovecs_and_empty_object_are_written_exactly(void **state)
{
    struct fixture *f = *state;
    enum { N = 300 };
    struct iovec iov[N];
    char bytes[N];
    for (int i = 0; i < N; i++) {
        bytes[i] = (char)('a' + i % 26);
        iov[i].iov_base = &bytes[i];
        iov[i].iov_len = 1;
    }
    struct sink_object obj = {.bucket = "b", .key = "many", .iov = iov, .iovcnt = N, .len = N};
    size_t len;
    assert_int_equal(fssink_put(f->root, &obj), 0);
    char *data = read_object(f, "b", "many", &len);
    assert_non_null(data);
    assert_int_equal(len, N);
    assert_memory_equal(data, bytes, N);
    hy_free(data);

    struct sink_object empty = {.bucket = "b", .key = "empty", .iov = NULL, .iovcnt = 0};
    assert_int_equal(fssink_put(f->root, &empty), 0);
    data = read_object(f, "b", "empty", &len);
    assert_non_null(data);
    assert_int_equal(len, 0);
    hy_free(data);
}

static void test_unsafe_bucket_or_key_is_rejected_without_touching_disk(void **state)
{
    struct fixture *f = *state;
    const char *bad_keys[] = {"", "/abs", "a/../b", "..", "a/..", "./a", "a//b", "a/", "a/./b"};
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        if (put3(f, "b", bad_keys[i], "x", "", "") != HY_EINVAL)
            fail_msg("key \"%s\" was accepted", bad_keys[i]);
    }
    assert_int_equal(put3(f, "", "k", "x", "", ""), HY_EINVAL);
    assert_int_equal(put3(f, "..", "k", "x", "", ""), HY_EINVAL);
    assert_int_equal(put3(f, "a/b", "k", "x", "", ""), HY_EINVAL);
    /* Nothing was created under the root. */
    DIR *d = opendir(f->root);
    assert_non_null(d);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    assert_int_equal(entries, 0);
    /* Dots inside a segment are fine. */
    assert_int_equal(put3(f, "b.c", "a..b/.hidden/x.y", "x", "", ""), 0);
}

static void test_failed_put_leaves_no_temp_file_and_keeps_old_state(void **state)
{
    struct fixture *f = *state;
    char path[512];
    /* A directory where the object should go makes the final rename fail (EISDIR). */
    snprintf(path, sizeof(path), "%s/b/dir/obj", f->root);
    assert_int_equal(fsutil_mkdirs(path, 0755), 0);
    int rc = put3(f, "b", "dir/obj", "data", "", "");
    assert_true(rc < 0);
    assert_int_equal(count_temps(f->root), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* A file where a parent directory should go fails before any temp file exists. */
    assert_int_equal(put3(f, "b", "file", "x", "", ""), 0);
    assert_true(put3(f, "b", "file/child", "x", "", "") < 0);
    assert_int_equal(count_temps(f->root), 0);
}

static void test_failed_put_in_unwritable_dir_leaves_no_temp_file(void **state)
{
    struct fixture *f = *state;
    char dir[512];
    if (geteuid() == 0)
        skip(); /* root ignores permissions */
    snprintf(dir, sizeof(dir), "%s/ro", f->root);
    assert_int_equal(fsutil_mkdirs(dir, 0755), 0);
    chmod(dir, 0555);
    assert_true(put3(f, "ro", "k", "x", "", "") < 0);
    chmod(dir, 0755);
    assert_int_equal(count_temps(f->root), 0);
}

static void test_name_segments_beyond_name_max_are_refused_and_long_names_fit(void **state)
{
    /* A segment longer than NAME_MAX can never be a file: refusing it up front lets delivery
     * fall back to the default prefix instead of retrying ENAMETOOLONG forever. */
    struct fixture *f = *state;
    char seg[300], key[320];
    memset(seg, 'x', sizeof(seg));
    seg[256] = '\0';
    assert_int_equal(fssink_check_name("b", seg), HY_EINVAL);
    snprintf(key, sizeof(key), "%s/k", seg);
    assert_int_equal(fssink_check_name("b", key), HY_EINVAL);
    assert_int_equal(put3(f, "b", key, "x", "", ""), HY_EINVAL);

    /* A basename of exactly NAME_MAX bytes is a valid file name; its temp file must fit too. */
    seg[255] = '\0';
    assert_int_equal(fssink_check_name("b", seg), 0);
    assert_int_equal(put3(f, "b", seg, "full", "", ""), 0);
    size_t len;
    char *data = read_object(f, "b", seg, &len);
    assert_non_null(data);
    assert_int_equal(len, 4);
    hy_free(data);
    assert_int_equal(count_temps(f->root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_writes_concatenated_iovecs_under_bucket_and_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_through_ops_uses_ctx_as_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwriting_a_key_replaces_the_object, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_iovecs_and_empty_object_are_written_exactly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_bucket_or_key_is_rejected_without_touching_disk,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_put_leaves_no_temp_file_and_keeps_old_state,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_put_in_unwritable_dir_leaves_no_temp_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_name_segments_beyond_name_max_are_refused_and_long_names_fit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
