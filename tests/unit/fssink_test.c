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

#include "base/buf.h"
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
    char path[4096];
    char *data = NULL;
    snprintf(path, sizeof(path), "%s/%s/%s", f->root, bucket, key);
    if (fsutil_read_all(path, &data, len, 1 << 20) < 0)
        return NULL;
    return data;
}

/* Count temp files (files in the sink's temp directory) anywhere under dir. */
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
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_temps(sub);
        else if (strstr(dir, "/" FSSINK_TMP_DIR))
            n++;
    }
    closedir(d);
    return n;
}

/* Write one object whole: open, one write of all iovecs, commit. */
static int put_iov(const struct fixture *f, const char *bucket, const char *key,
                   const struct iovec *iov, size_t n)
{
    struct fssink_writer *w;
    int rc = fssink_open(f->root, bucket, key, &w);
    if (rc < 0)
        return rc;
    if ((rc = fssink_write(w, iov, n)) < 0) {
        fssink_abort(w);
        return rc;
    }
    return fssink_commit(w);
}

static int put3(const struct fixture *f, const char *bucket, const char *key, const char *a,
                const char *b, const char *c)
{
    struct iovec iov[3] = {
        {(void *)a, strlen(a)},
        {(void *)b, strlen(b)},
        {(void *)c, strlen(c)},
    };
    return put_iov(f, bucket, key, iov, 3);
}

static int object_exists(const struct fixture *f, const char *bucket, const char *key)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s/%s", f->root, bucket, key);
    return stat(path, &st) == 0;
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

static void test_streamed_writes_are_invisible_until_commit(void **state)
{
    struct fixture *f = *state;
    struct fssink_writer *w;
    struct iovec a = {(void *)"part one,", 9}, b = {(void *)" part two", 9};
    size_t len;
    assert_int_equal(fssink_open(f->root, "b", "dir/k", &w), 0);
    assert_int_equal(fssink_write(w, &a, 1), 0);
    assert_false(object_exists(f, "b", "dir/k"));
    assert_int_equal(count_temps(f->root), 1);
    assert_int_equal(fssink_write(w, &b, 1), 0);
    assert_int_equal(fssink_write(w, NULL, 0), 0);
    assert_false(object_exists(f, "b", "dir/k"));
    assert_int_equal(fssink_commit(w), 0);
    char *data = read_object(f, "b", "dir/k", &len);
    assert_non_null(data);
    assert_int_equal(len, 18);
    assert_memory_equal(data, "part one, part two", 18);
    hy_free(data);
    assert_int_equal(count_temps(f->root), 0);
}

/* A crash leaves the open writer's temp file: the sweep at the next start removes it and
 * touches no object. */
static void test_sweep_removes_temp_files_left_by_a_crash_and_keeps_objects(void **state)
{
    struct fixture *f = *state;
    struct iovec iov = {(void *)"kept", 4};
    assert_int_equal(put_iov(f, "b", "k/obj", &iov, 1), 0);
    struct fssink_writer *w;
    assert_int_equal(fssink_open(f->root, "b", "k/half", &w), 0);
    struct iovec half = {(void *)"partial", 7};
    assert_int_equal(fssink_write(w, &half, 1), 0);
    assert_int_equal(count_temps(f->root), 1);
    /* The process "dies" here with the writer open; at the next start the sweep runs before
     * any writer exists. (Abort after it only frees the test's writer.) */
    assert_int_equal(fssink_sweep(f->root), 0);
    assert_int_equal(count_temps(f->root), 0);
    fssink_abort(w); /* its temp file is already gone; abort must cope */
    size_t len;
    char *got = read_object(f, "b", "k/obj", &len);
    assert_non_null(got);
    assert_int_equal(len, 4);
    hy_free(got);
    assert_null(read_object(f, "b", "k/half", &len));
    assert_int_equal(fssink_sweep(f->root), 0); /* nothing to do is fine */
}

static void test_abort_leaves_no_temp_file_and_keeps_the_previous_object(void **state)
{
    struct fixture *f = *state;
    struct fssink_writer *w;
    struct iovec iov = {(void *)"new", 3};
    size_t len;
    /* No previous object: nothing at all remains. */
    assert_int_equal(fssink_open(f->root, "b", "k", &w), 0);
    assert_int_equal(fssink_write(w, &iov, 1), 0);
    fssink_abort(w);
    assert_false(object_exists(f, "b", "k"));
    assert_int_equal(count_temps(f->root), 0);
    /* With one: it is untouched. */
    assert_int_equal(put3(f, "b", "k", "old", "", ""), 0);
    assert_int_equal(fssink_open(f->root, "b", "k", &w), 0);
    assert_int_equal(fssink_write(w, &iov, 1), 0);
    fssink_abort(w);
    char *data = read_object(f, "b", "k", &len);
    assert_non_null(data);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "old", 3);
    hy_free(data);
    assert_int_equal(count_temps(f->root), 0);
    fssink_abort(NULL);
}

static void test_writers_open_together_on_one_key_do_not_share_a_temp_file(void **state)
{
    /* One thread may hold two writers; the last commit wins and neither corrupts the other. */
    struct fixture *f = *state;
    struct fssink_writer *w1, *w2;
    struct iovec a = {(void *)"first", 5}, b = {(void *)"second!", 7};
    size_t len;
    assert_int_equal(fssink_open(f->root, "b", "k", &w1), 0);
    assert_int_equal(fssink_open(f->root, "b", "k", &w2), 0);
    assert_int_equal(count_temps(f->root), 2);
    assert_int_equal(fssink_write(w1, &a, 1), 0);
    assert_int_equal(fssink_write(w2, &b, 1), 0);
    assert_int_equal(fssink_commit(w1), 0);
    assert_int_equal(fssink_commit(w2), 0);
    char *data = read_object(f, "b", "k", &len);
    assert_non_null(data);
    assert_int_equal(len, 7);
    assert_memory_equal(data, "second!", 7);
    hy_free(data);
    assert_int_equal(count_temps(f->root), 0);
}

static void test_object_larger_than_writeback_steps_is_written_exactly(void **state)
{
    /* Crosses several FSSINK_WRITEBACK_LEN steps with unaligned writes. */
    struct fixture *f = *state;
    enum { CHUNK = 777777, CHUNKS = 30 };
    static char chunk[CHUNK];
    struct fssink_writer *w;
    for (int i = 0; i < CHUNK; i++)
        chunk[i] = (char)(i * 31 + 7);
    assert_int_equal(fssink_open(f->root, "b", "big", &w), 0);
    for (int i = 0; i < CHUNKS; i++) {
        struct iovec iov = {chunk, CHUNK};
        assert_int_equal(fssink_write(w, &iov, 1), 0);
    }
    assert_int_equal(fssink_commit(w), 0);
    char path[512], *data = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/b/big", f->root);
    assert_int_equal(fsutil_read_all(path, &data, &len, 64u << 20), 0);
    assert_int_equal(len, (size_t)CHUNK * CHUNKS);
    for (int i = 0; i < CHUNKS; i++)
        assert_memory_equal(data + (size_t)i * CHUNK, chunk, CHUNK);
    hy_free(data);
}

static void test_put_through_ops_uses_ctx_as_root(void **state)
{
    struct fixture *f = *state;
    struct iovec iov = {(void *)"abc", 3};
    void *w = NULL;
    size_t len;
    assert_string_equal(fssink_ops.name, "fs");
    assert_int_equal(fssink_ops.open(f->root, "b", "k", &w), 0);
    assert_int_equal(fssink_ops.write(w, &iov, 1), 0);
    assert_int_equal(fssink_ops.commit(w), 0);
    char *data = read_object(f, "b", "k", &len);
    assert_non_null(data);
    assert_int_equal(len, 3);
    hy_free(data);
    assert_int_equal(fssink_ops.open(f->root, "b", "k2", &w), 0);
    fssink_ops.abort(w);
    assert_false(object_exists(f, "b", "k2"));
    /* "../x" is a key like any other: it stays inside the bucket, escaped. */
    assert_int_equal(fssink_ops.open(f->root, "b", "../x", &w), 0);
    assert_int_equal(fssink_ops.write(w, &iov, 1), 0);
    assert_int_equal(fssink_ops.commit(w), 0);
    assert_true(object_exists(f, "b", "%../x"));
    assert_int_equal(fssink_ops.open(f->root, ".tmp", "k", &w), HY_EINVAL);
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
    size_t len;
    assert_int_equal(put_iov(f, "b", "many", iov, N), 0);
    char *data = read_object(f, "b", "many", &len);
    assert_non_null(data);
    assert_int_equal(len, N);
    assert_memory_equal(data, bytes, N);
    hy_free(data);

    assert_int_equal(put_iov(f, "b", "empty", NULL, 0), 0);
    data = read_object(f, "b", "empty", &len);
    assert_non_null(data);
    assert_int_equal(len, 0);
    hy_free(data);
}

/* The path of key below its bucket, by the documented encoding; checks it decodes back. */
static void key_path(const char *key, char *out, size_t cap)
{
    struct buf p, k;
    buf_init(&p, 8192);
    buf_init(&k, 8192);
    assert_int_equal(fssink_key_path(key, strlen(key), &p), 0);
    assert_int_equal(fssink_path_key(p.data ? p.data : "", p.len, &k), 0);
    if (k.len != strlen(key) || (k.len && memcmp(k.data, key, k.len) != 0))
        fail_msg("key \"%s\" -> \"%s\" -> \"%.*s\"", key, p.data, (int)k.len, k.data);
    assert_true(p.len < cap);
    memcpy(out, p.data ? p.data : "", p.len + 1);
    buf_fini(&p);
    buf_fini(&k);
}

static void test_every_key_is_stored_inside_its_bucket_under_a_reversible_path(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *key, *path;
    } cases[] = {
        {"", "%"},           {"/abs", "%/abs"},    {"a/../b", "a/%../b"},      {"..", "%.."},
        {"a/..", "a/%.."},   {"./a", "%./a"},      {"a//b", "a/%/b"},          {"a/", "a/%"},
        {"a/./b", "a/%./b"}, {"%x", "%%x"},        {"a%/b", "a%/b"},           {"../", "%../%"},
        {"//", "%/%/%"},     {".../.a", ".../.a"}, {"plain/key", "plain/key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], bucket[32], content[32];
        key_path(cases[i].key, path, sizeof path);
        if (strcmp(path, cases[i].path) != 0)
            fail_msg("key \"%s\": path \"%s\", want \"%s\"", cases[i].key, path, cases[i].path);
        /* One bucket per key: "a" and "a/b" cannot be files at once (fssink.h). */
        snprintf(bucket, sizeof bucket, "b%zu", i);
        snprintf(content, sizeof content, "object %zu", i);
        assert_int_equal(put3(f, bucket, cases[i].key, content, "", ""), 0);
        size_t len;
        char *data = read_object(f, bucket, path, &len);
        assert_non_null(data);
        assert_int_equal(len, strlen(content));
        assert_memory_equal(data, content, len);
        hy_free(data);
    }
    /* Nothing outside the buckets (only b0.., and .tmp). */
    DIR *d = opendir(f->root);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        assert_true(e->d_name[0] == '.' || e->d_name[0] == 'b');
    closedir(d);
    /* Keys that differ only in escapes have different paths in one bucket. */
    assert_int_equal(put3(f, "m", "x/%", "1", "", ""), 0);
    assert_int_equal(put3(f, "m", "x/", "2", "", ""), 0);
    assert_int_equal(put3(f, "m", "x/%%", "3", "", ""), 0);
    size_t len;
    char *data = read_object(f, "m", "x/%%", &len); /* key "x/%" */
    assert_non_null(data);
    assert_memory_equal(data, "1", 1);
    hy_free(data);
    data = read_object(f, "m", "x/%", &len); /* key "x/" */
    assert_non_null(data);
    assert_memory_equal(data, "2", 1);
    hy_free(data);
    data = read_object(f, "m", "x/%%%", &len); /* key "x/%%" */
    assert_non_null(data);
    assert_memory_equal(data, "3", 1);
    hy_free(data);
}

static void test_unsafe_bucket_is_rejected_without_touching_disk(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"", ".", "..", "a/b", ".tmp", ".hidden"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (put3(f, bad[i], "k", "x", "", "") != HY_EINVAL)
            fail_msg("bucket \"%s\" was accepted", bad[i]);
    /* A NUL cannot be in a file name: fssink_key_path refuses the key. */
    struct buf p;
    buf_init(&p, 64);
    assert_int_equal(fssink_key_path("a\0b", 3, &p), HY_EINVAL);
    assert_int_equal(p.len, 0);
    buf_fini(&p);
    DIR *d = opendir(f->root);
    assert_non_null(d);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    assert_int_equal(entries, 0);
}

static void test_paths_that_no_key_maps_to_do_not_decode(void **state)
{
    (void)state;
    const char *bad[] = {"", "a//b", ".", "a/..", "%a", "%+x", "%+x/y", "a/", "%%/%.x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct buf k;
        buf_init(&k, 4096);
        if (fssink_path_key(bad[i], strlen(bad[i]), &k) != HY_EINVAL)
            fail_msg("path \"%s\" decoded to \"%.*s\"", bad[i], (int)k.len, k.data);
        assert_int_equal(k.len, 0);
        buf_fini(&k);
    }
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

static void test_segments_beyond_name_max_are_stored_in_chunks(void **state)
{
    struct fixture *f = *state;
    char seg[1100], key[1200], path[1400], want[1400];
    for (size_t n = 250; n <= 1024; n += (n < 260 ? 1 : 97)) {
        memset(seg, 'x', n);
        seg[n] = '\0';
        seg[0] = n % 2 ? '%' : 'x'; /* the rest may need an escape too */
        snprintf(key, sizeof key, "%s/k", seg);
        key_path(key, path, sizeof path);
        /* Every component is a usable file name. */
        for (char *c = path, *sl; c; c = sl ? sl + 1 : NULL) {
            sl = strchr(c, '/');
            size_t len = sl ? (size_t)(sl - c) : strlen(c);
            assert_true(len >= 1 && len <= 255);
        }
        char bucket[32];
        snprintf(bucket, sizeof bucket, "long%zu", n);
        assert_int_equal(put3(f, bucket, key, "full", "", ""), 0);
        size_t len;
        char *data = read_object(f, bucket, path, &len);
        assert_non_null(data);
        assert_int_equal(len, 4);
        hy_free(data);
    }
    /* A basename of exactly 253 bytes is itself; 254 is chunked. */
    memset(seg, 'y', 254);
    seg[253] = '\0';
    key_path(seg, path, sizeof path);
    assert_string_equal(path, seg);
    seg[253] = 'y';
    seg[254] = '\0';
    key_path(seg, path, sizeof path);
    snprintf(want, sizeof want, "%%+%.253s/y", seg);
    assert_string_equal(path, want);
    assert_int_equal(count_temps(f->root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_writes_concatenated_iovecs_under_bucket_and_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sweep_removes_temp_files_left_by_a_crash_and_keeps_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_writes_are_invisible_until_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_abort_leaves_no_temp_file_and_keeps_the_previous_object, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_writers_open_together_on_one_key_do_not_share_a_temp_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_larger_than_writeback_steps_is_written_exactly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_through_ops_uses_ctx_as_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwriting_a_key_replaces_the_object, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_iovecs_and_empty_object_are_written_exactly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_every_key_is_stored_inside_its_bucket_under_a_reversible_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_that_no_key_maps_to_do_not_decode, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_bucket_is_rejected_without_touching_disk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_put_leaves_no_temp_file_and_keeps_old_state,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_put_in_unwritable_dir_leaves_no_temp_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_beyond_name_max_are_stored_in_chunks, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
