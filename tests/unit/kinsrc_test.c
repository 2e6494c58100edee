/* Unit tests for src/deliver/kinsrc.c: the checkpoint (text form, torn files, resolving an
 * append in flight at a crash) and the stream ARN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "deliver/kinsrc.h"

static void fill(struct kinsrc_ckpt *c)
{
    memset(c, 0, sizeof *c);
    /* Out of order on purpose: the checkpoint keeps shards sorted by index. */
    assert_non_null(kinsrc_ckpt_shard(c, 2, 7, 0));
    assert_non_null(kinsrc_ckpt_shard(c, 0, 41, 1));
    assert_non_null(kinsrc_ckpt_shard(c, 1, 1, 0));
    /* Adding an index twice gives the entry already there. */
    assert_int_equal(kinsrc_ckpt_shard(c, 2, 99, 1)->next, 7);
}

static void test_round_trip_with_pending(void **s)
{
    (void)s;
    struct kinsrc_ckpt c, d;
    fill(&c);
    c.pending = 1;
    c.p_shard = 2;
    c.p_from = 7;
    c.p_count = 500;
    c.p_log_first = 12345;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(kinsrc_ckpt_format(&c, &b), 0);
    assert_int_equal(kinsrc_ckpt_parse(b.data, b.len, &d), 0);
    assert_int_equal(d.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(d.shards[i].index, i);
        assert_int_equal(d.shards[i].next, c.shards[i].next);
        assert_int_equal(d.shards[i].done, c.shards[i].done);
    }
    assert_int_equal(d.pending, 1);
    assert_int_equal(d.p_shard, 2);
    assert_int_equal(d.p_from, 7);
    assert_int_equal(d.p_count, 500);
    assert_int_equal(d.p_log_first, 12345);
    buf_fini(&b);
    kinsrc_ckpt_fini(&c);
    kinsrc_ckpt_fini(&d);
}

static void test_torn_and_bad_files_are_refused(void **s)
{
    (void)s;
    static const char *const bad[] = {
        "",
        "kinsrc 1\nshard 0 5 0\n",                       /* torn: no end line */
        "kinsrc 2\nend\n",                               /* unknown version */
        "kinsrc 1\nshard 0 5 0\nshard 0 6 0\nend\n",     /* the same shard twice */
        "kinsrc 1\nshard 0 0 0\nend\n",                  /* seqs start at 1 */
        "kinsrc 1\nshard 0 5 2\nend\n",                  /* done is 0 or 1 */
        "kinsrc 1\nshard 0 5 0\npending 3 1 1 1\nend\n", /* pending on an unknown shard */
        "kinsrc 1\nshard 0 5 0\npending 0 5 0 1\nend\n", /* an empty append */
        "kinsrc 1\nshard 0 5 0 x\nend\n",                /* trailing bytes */
        "kinsrc 1\nend\nshard 0 5 0\n",                  /* after the end */
        "kinsrc 1\nshard -1 5 0\nend\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kinsrc_ckpt c;
        int rc = kinsrc_ckpt_parse(bad[i], strlen(bad[i]), &c);
        if (rc != HY_EBADMSG)
            fail_msg("case %zu accepted: %s", i, bad[i]);
        assert_int_equal(c.n, 0);
    }
    struct kinsrc_ckpt c;
    const char *ok = "kinsrc 1\nend\n";
    assert_int_equal(kinsrc_ckpt_parse(ok, strlen(ok), &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.pending, 0);
    kinsrc_ckpt_fini(&c);
}

/* The append in flight at a crash resumes its shard right after what reached the log. */
static void test_resolve_counts_what_landed(void **s)
{
    (void)s;
    static const uint64_t landed[] = {0, 1, 250, 500, 501, 100000};
    static const uint64_t want_next[] = {7, 8, 257, 507, 507, 507};
    for (size_t i = 0; i < sizeof landed / sizeof landed[0]; i++) {
        struct kinsrc_ckpt c;
        fill(&c);
        c.pending = 1;
        c.p_shard = 2;
        c.p_from = 7;
        c.p_count = 500;
        c.p_log_first = 90;
        uint64_t used = kinsrc_ckpt_resolve(&c, landed[i]);
        assert_int_equal(used, landed[i] > 500 ? 500 : landed[i]);
        assert_int_equal(kinsrc_ckpt_find(&c, 2)->next, want_next[i]);
        assert_int_equal(c.pending, 0);
        /* Other shards are untouched; resolving twice does nothing. */
        assert_int_equal(kinsrc_ckpt_find(&c, 0)->next, 41);
        assert_int_equal(kinsrc_ckpt_find(&c, 1)->next, 1);
        assert_int_equal(kinsrc_ckpt_resolve(&c, 3), 0);
        assert_int_equal(kinsrc_ckpt_find(&c, 2)->next, want_next[i]);
        kinsrc_ckpt_fini(&c);
    }
}

static void test_stream_arn(void **s)
{
    (void)s;
    const char *name;
    size_t len;
    assert_int_equal(
        kinsrc_arn_name("arn:aws:kinesis:us-east-1:000000000000:stream/src-1", &name, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(name, "src-1", 5);
    assert_int_equal(kinsrc_arn_name("arn:aws:kinesis:us-east-1:000000000000:stream/", &name, &len),
                     HY_EINVAL);
    assert_int_equal(kinsrc_arn_name("arn:aws:s3:::stream/x", &name, &len), HY_EINVAL);
    assert_int_equal(
        kinsrc_arn_name("arn:aws:kinesis:us-east-1:000000000000:stream/a/b", &name, &len),
        HY_EINVAL);
    assert_int_equal(kinsrc_arn_name(NULL, &name, &len), HY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_with_pending),
        cmocka_unit_test(test_torn_and_bad_files_are_refused),
        cmocka_unit_test(test_resolve_counts_what_landed),
        cmocka_unit_test(test_stream_arn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
