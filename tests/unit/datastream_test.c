/* Unit tests for src/core/datastream.c over the real WAL: create, persist, route, read through
 * the reader cache, retention by time (a shortened hour), delete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "base/mem.h"
#include "core/datastream.h"
#include "stream/streamlog.h"
#include "stream/wal.h"

struct fixture {
    char root[64];
    struct datastream_reg *reg;
    int64_t hour_ms;
    uint64_t records_per_s;
};

static int reg_open(struct fixture *f)
{
    struct datastream_config cfg = {
        .data_dir = f->root,
        .log_backend = &wal_backend,
        .max_shards = 16,
        .hour_ms = f->hour_ms,
        .segment_size = 64 * 1024,
        .shard_records_per_s = f->records_per_s,
    };
    return datastream_open(&cfg, &f->reg);
}

static int setup(void **state)
{
    struct fixture *f = hy_calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/datastream_test.XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    datastream_close(f->reg);
    fsutil_remove_tree(f->root);
    hy_free(f);
    return 0;
}

struct done {
    _Atomic int fired;
    _Atomic int status;
    _Atomic uint64_t first_seq;
};

static void on_done(void *arg, int status, uint64_t first_seq)
{
    struct done *d = arg;
    atomic_store(&d->status, status);
    atomic_store(&d->first_seq, first_seq);
    atomic_store(&d->fired, 1);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Append n records of len bytes to shard i and wait until durable; returns the first seq. */
static uint64_t append_wait(struct datastream *ds, size_t i, size_t n, size_t len)
{
    static char data[4096];
    memset(data, 'd', sizeof data);
    struct streamlog_rec *recs = hy_calloc(n, sizeof *recs);
    for (size_t k = 0; k < n; k++)
        recs[k] = (struct streamlog_rec){data, len};
    struct done d = {0};
    struct streamlog_append a = {
        .recs = recs, .n = n, .arrival_ms = hytime_now_ms(), .done = on_done, .arg = &d};
    assert_int_equal(datastream_append(ds, i, &a, n * len), 0);
    for (int t = 0; t < 5000 && !atomic_load(&d.fired); t++)
        nap_ms(1);
    assert_true(atomic_load(&d.fired));
    assert_int_equal(atomic_load(&d.status), 0);
    hy_free(recs);
    return atomic_load(&d.first_seq);
}

static size_t read_count(struct datastream *ds, size_t i)
{
    uint64_t seq = 1;
    struct streamlog_reader *r = NULL;
    assert_int_equal(datastream_reader_take(ds, i, &seq, &r), 0);
    int64_t expired = datastream_expired_ms(ds);
    size_t n = 0;
    struct streamlog_record rec;
    int rc;
    while ((rc = streamlog_reader_next(r, &rec)) == 1)
        if (rec.arrival_ms >= expired) {
            n++;
            seq = rec.seq + 1;
        }
    datastream_reader_give(ds, i, r, seq, rc < 0);
    return n;
}

static void test_u128_text_round_trips_and_bounds(void **state)
{
    char out[41];
    unsigned __int128 max = ~(unsigned __int128)0, v;
    assert_int_equal(datastream_u128_format(max, out), 39);
    assert_string_equal(out, "340282366920938463463374607431768211455");
    assert_int_equal(datastream_u128_parse(out, 39, &v), 0);
    assert_true(v == max);
    assert_int_equal(datastream_u128_parse("340282366920938463463374607431768211456", 39, &v),
                     HY_EBADMSG);
    assert_int_equal(datastream_u128_parse("", 0, &v), HY_EBADMSG);
    assert_int_equal(datastream_u128_parse("12a", 3, &v), HY_EBADMSG);
    datastream_u128_format(0, out);
    assert_string_equal(out, "0");
}

static void test_shards_cover_the_hash_space_and_route(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(reg_open(f), 0);
    for (size_t n = 1; n <= 7; n += 3) {
        char name[16];
        snprintf(name, sizeof name, "cover%zu", n);
        assert_int_equal(datastream_create(f->reg, name, n, DATASTREAM_PROVISIONED, NULL), 0);
        struct datastream *ds = NULL;
        assert_int_equal(datastream_get(f->reg, name, strlen(name), &ds), 0);
        assert_int_equal(datastream_nshards(ds), n);
        unsigned __int128 next = 0;
        for (size_t i = 0; i < n; i++) {
            struct datastream_shard_info s;
            assert_int_equal(datastream_shard(ds, i, &s), 0);
            assert_true(s.hash_start == next);
            assert_int_equal(datastream_route(ds, s.hash_start), i);
            assert_int_equal(datastream_route(ds, s.hash_end), i);
            next = s.hash_end + 1;
        }
        assert_true(next == 0); /* the last range ended at 2^128 - 1 */
        datastream_unref(ds);
    }
    assert_int_equal(datastream_create(f->reg, "cover1", 1, DATASTREAM_PROVISIONED, NULL),
                     HY_EEXIST);
    /* 1 + 4 + 7 = 12 of 16 shards are open. */
    assert_int_equal(datastream_create(f->reg, "toomany", 5, DATASTREAM_PROVISIONED, NULL),
                     HY_E2BIG);
}

static void test_streams_and_records_survive_reopen(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(reg_open(f), 0);
    cJSON *tags = cJSON_Parse("[{\"Key\":\"k\",\"Value\":\"v\"}]");
    assert_int_equal(datastream_create(f->reg, ".dot", 2, DATASTREAM_ON_DEMAND, tags), 0);
    struct datastream *ds = NULL;
    assert_int_equal(datastream_get(f->reg, ".dot", 4, &ds), 0);
    assert_int_equal(append_wait(ds, 0, 10, 100), 1);
    assert_int_equal(append_wait(ds, 1, 3, 100), 1);
    assert_int_equal(datastream_set_retention(f->reg, ds, 72), 0);
    uint64_t id = datastream_id(ds);
    datastream_unref(ds);
    datastream_close(f->reg);
    f->reg = NULL;

    assert_int_equal(reg_open(f), 0);
    assert_int_equal(datastream_get(f->reg, ".dot", 4, &ds), 0);
    struct datastream_info info;
    assert_int_equal(datastream_describe(ds, &info), 0);
    assert_int_equal(info.stream_id, id);
    assert_int_equal(info.retention_hours, 72);
    assert_int_equal(info.mode, DATASTREAM_ON_DEMAND);
    assert_int_equal(info.nshards, 2);
    assert_int_equal(cJSON_GetArraySize(info.tags), 1);
    datastream_info_fini(&info);
    assert_int_equal(read_count(ds, 0), 10);
    assert_int_equal(read_count(ds, 1), 3);
    /* Seqs continue after the reopen. */
    assert_int_equal(append_wait(ds, 0, 1, 100), 11);
    datastream_unref(ds);
}

static void test_reader_cache_hands_back_a_positioned_reader(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(reg_open(f), 0);
    assert_int_equal(datastream_create(f->reg, "cache", 1, DATASTREAM_PROVISIONED, NULL), 0);
    struct datastream *ds = NULL;
    assert_int_equal(datastream_get(f->reg, "cache", 5, &ds), 0);
    append_wait(ds, 0, 5, 10);
    uint64_t seq = 1;
    struct streamlog_reader *r = NULL, *r2 = NULL;
    assert_int_equal(datastream_reader_take(ds, 0, &seq, &r), 0);
    struct streamlog_record rec;
    assert_int_equal(streamlog_reader_next(r, &rec), 1);
    assert_int_equal(streamlog_reader_next(r, &rec), 1);
    datastream_reader_give(ds, 0, r, 3, 0);
    seq = 3;
    assert_int_equal(datastream_reader_take(ds, 0, &seq, &r2), 0);
    assert_ptr_equal(r2, r); /* the cached one */
    assert_int_equal(streamlog_reader_next(r2, &rec), 1);
    assert_int_equal(rec.seq, 3);
    datastream_reader_give(ds, 0, r2, 4, 1);
    datastream_unref(ds);
}

static void test_retention_expires_records_and_trims_segments(void **state)
{
    struct fixture *f = *state;
    f->hour_ms = 5; /* 24 "hours" = 120 ms */
    assert_int_equal(reg_open(f), 0);
    assert_int_equal(datastream_create(f->reg, "ret", 1, DATASTREAM_PROVISIONED, NULL), 0);
    struct datastream *ds = NULL;
    assert_int_equal(datastream_get(f->reg, "ret", 3, &ds), 0);
    for (int i = 0; i < 10; i++)
        append_wait(ds, 0, 50, 4000); /* 200 KB a batch, 64 KiB segments */
    uint64_t before = streamlog_retained_bytes(datastream_log(ds, 0));
    assert_true(before > 1000000);
    int64_t end = hytime_mono_ms() + 10000;
    while (datastream_horizon(ds, 0) < 501 && hytime_mono_ms() < end)
        nap_ms(10);
    assert_int_equal(datastream_horizon(ds, 0), 501);
    assert_true(streamlog_retained_bytes(datastream_log(ds, 0)) < before / 4);
    assert_int_equal(read_count(ds, 0), 0);
    append_wait(ds, 0, 1, 10);
    assert_int_equal(read_count(ds, 0), 1);
    datastream_unref(ds);
}

static void test_delete_removes_the_stream_after_the_last_reference(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(reg_open(f), 0);
    assert_int_equal(datastream_create(f->reg, "del", 2, DATASTREAM_PROVISIONED, NULL), 0);
    struct datastream *ds = NULL;
    assert_int_equal(datastream_get(f->reg, "del", 3, &ds), 0);
    append_wait(ds, 0, 2, 10);
    assert_int_equal(datastream_delete(f->reg, ds), 0);
    struct datastream *again = NULL;
    assert_int_equal(datastream_get(f->reg, "del", 3, &again), HY_ENOTFOUND);
    struct streamlog_rec rec = {"x", 1};
    struct streamlog_append a = {.recs = &rec, .n = 1, .done = on_done};
    assert_int_equal(datastream_append(ds, 0, &a, 1), HY_ECLOSED);
    assert_int_equal(read_count(ds, 0), 2); /* readers in flight still read */
    datastream_unref(ds);
    char path[128];
    snprintf(path, sizeof path, "%s/datastreams/del", f->root);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    /* The name is free again, for a new, empty stream. */
    assert_int_equal(datastream_create(f->reg, "del", 1, DATASTREAM_PROVISIONED, NULL), 0);
    assert_int_equal(datastream_get(f->reg, "del", 3, &ds), 0);
    assert_int_equal(read_count(ds, 0), 0);
    datastream_unref(ds);
}

static void test_provisioned_shards_refuse_writes_over_their_rate(void **state)
{
    struct fixture *f = *state;
    f->records_per_s = 5;
    assert_int_equal(reg_open(f), 0);
    assert_int_equal(datastream_create(f->reg, "slow", 1, DATASTREAM_PROVISIONED, NULL), 0);
    assert_int_equal(datastream_create(f->reg, "od", 1, DATASTREAM_ON_DEMAND, NULL), 0);
    struct datastream *ds = NULL, *od = NULL;
    assert_int_equal(datastream_get(f->reg, "slow", 4, &ds), 0);
    assert_int_equal(datastream_get(f->reg, "od", 2, &od), 0);
    append_wait(ds, 0, 5, 10);
    struct streamlog_rec rec = {"x", 1};
    struct streamlog_append a = {.recs = &rec, .n = 1, .done = on_done};
    assert_int_equal(datastream_append(ds, 0, &a, 1), HY_EBUSY);
    append_wait(od, 0, 50, 10); /* ON_DEMAND: not limited */
    /* The bucket refills at 5 records a second. */
    nap_ms(450);
    append_wait(ds, 0, 2, 10);
    datastream_unref(ds);
    datastream_unref(od);
}

static void test_split_and_merge_keep_lineage_and_order_across_reopen(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(reg_open(f), 0);
    assert_int_equal(datastream_create(f->reg, "rs", 1, DATASTREAM_PROVISIONED, NULL), 0);
    struct datastream *ds = NULL;
    assert_int_equal(datastream_get(f->reg, "rs", 2, &ds), 0);
    append_wait(ds, 0, 7, 10);
    unsigned __int128 half = (~(unsigned __int128)0) / 2 + 1;
    assert_int_equal(datastream_split(f->reg, ds, 0, 0), HY_EINVAL);
    assert_int_equal(datastream_split(f->reg, ds, 0, half), 0);
    assert_int_equal(datastream_split(f->reg, ds, 0, half), HY_ECLOSED);
    assert_int_equal(datastream_nshards(ds), 3);
    assert_int_equal(datastream_open_shards(ds), 2);
    uint64_t end = 0;
    assert_int_equal(datastream_shard_closed(ds, 0, &end), 1);
    assert_int_equal(end, 8);
    struct datastream_shard_info lo, hi;
    assert_int_equal(datastream_shard(ds, 1, &lo), 0);
    assert_int_equal(datastream_shard(ds, 2, &hi), 0);
    assert_int_equal(lo.index, 1);
    assert_int_equal(lo.parent, 0);
    assert_int_equal(lo.adjacent_parent, -1);
    assert_true(lo.hash_start == 0 && lo.hash_end == half - 1 && hi.hash_start == half);
    assert_int_equal(lo.seq_base, 8); /* the parent showed 1..7: children start at 9 */
    assert_int_equal(datastream_route(ds, 5), 1);
    assert_int_equal(datastream_route(ds, half + 5), 2);
    struct streamlog_rec rec = {"x", 1};
    struct streamlog_append a = {.recs = &rec, .n = 1, .done = on_done};
    assert_int_equal(datastream_append(ds, 0, &a, 1), HY_ECLOSED);
    append_wait(ds, 1, 2, 10);
    append_wait(ds, 2, 3, 10);
    assert_int_equal(datastream_merge(f->reg, ds, 0, 1), HY_ECLOSED);
    assert_int_equal(datastream_merge(f->reg, ds, 2, 1), 0);
    assert_int_equal(datastream_shard(ds, 3, &lo), 0);
    assert_int_equal(lo.parent, 2);
    assert_int_equal(lo.adjacent_parent, 1);
    assert_true(lo.hash_start == 0 && lo.hash_end == ~(unsigned __int128)0);
    assert_int_equal(lo.seq_base, 12); /* max(8 + 3, 8 + 4): the parents ends */
    datastream_unref(ds);
    datastream_close(f->reg);
    f->reg = NULL;
    assert_int_equal(reg_open(f), 0);
    assert_int_equal(datastream_get(f->reg, "rs", 2, &ds), 0);
    assert_int_equal(datastream_nshards(ds), 4);
    assert_int_equal(datastream_open_shards(ds), 1);
    assert_int_equal(datastream_shard_closed(ds, 2, &end), 1);
    assert_int_equal(end, 4);
    assert_int_equal(read_count(ds, 0), 7);
    assert_int_equal(datastream_append(ds, 1, &a, 1), HY_ECLOSED);
    /* Scale 1 -> 2 -> 4 -> 2: uniform ranges. */
    assert_int_equal(datastream_scale(f->reg, ds, 2), 0);
    assert_int_equal(datastream_scale(f->reg, ds, 4), 0);
    assert_int_equal(datastream_open_shards(ds), 4);
    unsigned __int128 quarter = (~(unsigned __int128)0) / 4;
    for (size_t i = 0; i < datastream_nshards(ds); i++) {
        struct datastream_shard_info s;
        datastream_shard(ds, i, &s);
        if (!datastream_shard_closed(ds, i, NULL))
            assert_true(s.hash_end - s.hash_start == quarter);
    }
    assert_int_equal(datastream_scale(f->reg, ds, 2), 0);
    assert_int_equal(datastream_open_shards(ds), 2);
    datastream_unref(ds);
}

/* Ids of the listed shards, as a bitmask over indexes. */
static unsigned listed(struct datastream *ds)
{
    struct datastream_info info;
    assert_int_equal(datastream_describe(ds, &info), 0);
    unsigned m = 0;
    for (size_t i = 0; i < info.nshards; i++)
        m |= 1u << info.shards[i].index;
    datastream_info_fini(&info);
    return m;
}

static void test_empty_closed_shards_leave_listings_only_after_their_parents(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(reg_open(f), 0);
    unsigned __int128 half = (~(unsigned __int128)0) / 2 + 1;
    struct datastream *ds = NULL;
    /* A parent with records keeps its empty child listed (else the grandchildren would look
     * free to read before the records of the grandparent). */
    assert_int_equal(datastream_create(f->reg, "full", 1, DATASTREAM_PROVISIONED, NULL), 0);
    assert_int_equal(datastream_get(f->reg, "full", 4, &ds), 0);
    append_wait(ds, 0, 3, 10);
    assert_int_equal(datastream_split(f->reg, ds, 0, half), 0);     /* 1, 2 */
    assert_int_equal(datastream_split(f->reg, ds, 1, half / 2), 0); /* 3, 4 */
    assert_int_equal(listed(ds), 0x1fu);
    datastream_unref(ds);
    /* With no records anywhere upstream, closed shards go. */
    assert_int_equal(datastream_create(f->reg, "empty", 1, DATASTREAM_PROVISIONED, NULL), 0);
    assert_int_equal(datastream_get(f->reg, "empty", 5, &ds), 0);
    assert_int_equal(datastream_split(f->reg, ds, 0, half), 0);
    assert_int_equal(datastream_split(f->reg, ds, 1, half / 2), 0);
    assert_int_equal(listed(ds), (1u << 2) | (1u << 3) | (1u << 4));
    datastream_unref(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u128_text_round_trips_and_bounds),
        cmocka_unit_test_setup_teardown(test_shards_cover_the_hash_space_and_route, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_streams_and_records_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_cache_hands_back_a_positioned_reader, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retention_expires_records_and_trims_segments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_the_stream_after_the_last_reference,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_provisioned_shards_refuse_writes_over_their_rate,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_and_merge_keep_lineage_and_order_across_reopen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_empty_closed_shards_leave_listings_only_after_their_parents, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
