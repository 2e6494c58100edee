#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/slotfile.h"

struct fixture {
    char dir[64];
    char path[96];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hy-slotfile-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/state", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    fsutil_remove_tree(f->dir);
    free(f);
    return 0;
}

static void expect_state(const char *path, const char *want)
{
    struct slotfile sf;
    char buf[SLOTFILE_MAX_PAYLOAD];
    size_t len = 99;
    assert_int_equal(slotfile_open(&sf, path), 0);
    assert_int_equal(slotfile_read(&sf, buf, sizeof buf, &len), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);
    slotfile_close(&sf);
}

static void test_slotfile_new_file_holds_no_state(void **state)
{
    struct fixture *f = *state;
    expect_state(f->path, "");
}

static void test_slotfile_reopen_returns_the_last_write(void **state)
{
    struct fixture *f = *state;
    struct slotfile sf;
    assert_int_equal(slotfile_open(&sf, f->path), 0);
    char msg[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(msg, sizeof msg, "state %d", i);
        assert_int_equal(slotfile_write(&sf, msg, strlen(msg)), 0);
    }
    slotfile_close(&sf);
    expect_state(f->path, "state 5");
    /* A reopened file continues the generations: the next write wins over both slots. */
    assert_int_equal(slotfile_open(&sf, f->path), 0);
    assert_int_equal(slotfile_write(&sf, "six", 3), 0);
    slotfile_close(&sf);
    expect_state(f->path, "six");
}

static void test_slotfile_torn_newest_slot_falls_back_to_previous_state(void **state)
{
    struct fixture *f = *state;
    struct slotfile sf;
    assert_int_equal(slotfile_open(&sf, f->path), 0);
    assert_int_equal(slotfile_write(&sf, "old", 3), 0);     /* gen 1: slot 1 */
    assert_int_equal(slotfile_write(&sf, "new-one", 7), 0); /* gen 2: slot 0 */
    slotfile_close(&sf);
    /* Tear every byte position of the newest slot's header and payload in turn. */
    for (off_t at = 0; at < (off_t)(SLOTFILE_HDR_LEN + 7); at++) {
        int fd = open(f->path, O_RDWR);
        assert_true(fd >= 0);
        unsigned char c;
        assert_int_equal(pread(fd, &c, 1, at), 1);
        unsigned char bad = (unsigned char)(c ^ 0x5a);
        assert_int_equal(pwrite(fd, &bad, 1, at), 1);
        close(fd);
        expect_state(f->path, "old");
        fd = open(f->path, O_RDWR);
        assert_int_equal(pwrite(fd, &c, 1, at), 1);
        close(fd);
        expect_state(f->path, "new-one");
    }
}

static void test_slotfile_rejects_oversized_payload_and_keeps_state(void **state)
{
    struct fixture *f = *state;
    struct slotfile sf;
    static char big[SLOTFILE_MAX_PAYLOAD + 1];
    assert_int_equal(slotfile_open(&sf, f->path), 0);
    assert_int_equal(slotfile_write(&sf, "keep", 4), 0);
    assert_int_equal(slotfile_write(&sf, big, sizeof big), HY_E2BIG);
    assert_int_equal(slotfile_write(&sf, big, SLOTFILE_MAX_PAYLOAD), 0);
    char small[8];
    size_t len;
    assert_int_equal(slotfile_read(&sf, small, sizeof small, &len), HY_E2BIG);
    slotfile_close(&sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slotfile_new_file_holds_no_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slotfile_reopen_returns_the_last_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slotfile_torn_newest_slot_falls_back_to_previous_state,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_slotfile_rejects_oversized_payload_and_keeps_state,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
