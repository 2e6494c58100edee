/* Unit tests for src/stream/streamlog.c over the real WAL backend: backpressure before refusal.
 * The WAL's test hook parks its committer, so "no room" is a real state of the real log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "base/mem.h"
#include "stream/streamlog.h"
#include "stream/wal.h"
#include "stream/wal_int.h"

#define REC_LEN 1000
#define POLL_MS 5000

/* The real WAL backend, with its handle kept so the test can park the committer. */
static struct wal *the_wal;

static int spy_open(const char *dir, const struct streamlog_config *cfg, void **impl)
{
    int rc = wal_backend.open(dir, cfg, impl);
    if (rc == 0)
        the_wal = *impl;
    return rc;
}

static struct streamlog_backend spy;

struct fixture {
    char root[64];
    struct streamlog *log;
};

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

static int poll_fired(struct done *d)
{
    int64_t end = hytime_mono_ms() + POLL_MS;
    while (!atomic_load(&d->fired) && hytime_mono_ms() < end) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&d->fired);
}

static int open_log(struct fixture *f, size_t max_pending, size_t max_parked, int wait_ms)
{
    spy = wal_backend;
    spy.open = spy_open;
    struct streamlog_config cfg = {
        .max_pending_bytes = max_pending,
        .max_parked_bytes = max_parked,
        .max_wait_ms = wait_ms,
    };
    char dir[128];
    snprintf(dir, sizeof dir, "%s/log", f->root);
    return streamlog_open(&spy, dir, &cfg, &f->log);
}

static int setup(void **state)
{
    struct fixture *f = hy_calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/streamlog_test.XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->log) {
        wal_test_pause(the_wal, 0);
        streamlog_close(f->log);
    }
    fsutil_remove_tree(f->root);
    hy_free(f);
    return 0;
}

static char payload[REC_LEN];

/* Wait until the parked committer holds a batch: from then on pending bytes stay put. */
static void wait_held(void)
{
    int64_t end = hytime_mono_ms() + POLL_MS;
    while (!wal_test_held(the_wal) && hytime_mono_ms() < end) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_true(wal_test_held(the_wal));
}

static void test_append_without_room_waits_then_lands(void **state)
{
    struct fixture *f = *state;
    /* Room for two records waiting for the disk. */
    assert_int_equal(open_log(f, 2 * (REC_LEN + 24), 0, 5000), 0);
    struct streamlog_rec rec = {payload, REC_LEN};
    struct done d[4] = {0};
    struct streamlog_append a[4];
    wal_test_pause(the_wal, 1);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct streamlog_append){
            .recs = &rec, .n = 1, .arrival_ms = 1, .done = on_done, .arg = &d[i]};
        assert_int_equal(streamlog_append(f->log, &a[i]), 0);
        if (i == 0)
            wait_held();
    }
    /* The first batch is held by the committer, one more fits, the rest wait. */
    assert_true(streamlog_parked(f->log) >= 1);
    assert_int_equal(a[0].parked, 0); /* copied at once: its records may be freed */
    assert_int_equal(a[3].parked, 1); /* still needs them */
    for (int i = 0; i < 4; i++)
        assert_false(atomic_load(&d[i].fired));
    wal_test_pause(the_wal, 0);
    uint64_t seen = 0;
    for (int i = 0; i < 4; i++) {
        assert_true(poll_fired(&d[i]));
        assert_int_equal(atomic_load(&d[i].status), 0);
        seen |= 1ull << atomic_load(&d[i].first_seq);
    }
    /* Every append got its own sequence number: 1..4. */
    assert_int_equal(seen, 0x1eull);
    assert_int_equal(streamlog_parked(f->log), 0);
    assert_int_equal(streamlog_durable_next(f->log), 5);
}

static void test_parked_append_is_refused_after_its_wait(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_log(f, 2 * (REC_LEN + 24), 0, 50), 0);
    struct streamlog_rec rec = {payload, REC_LEN};
    struct done d1 = {0}, d2 = {0}, d3 = {0};
    struct streamlog_append a1 = {.recs = &rec, .n = 1, .done = on_done, .arg = &d1};
    struct streamlog_append a2 = {.recs = &rec, .n = 1, .done = on_done, .arg = &d2};
    struct streamlog_append a3 = {.recs = &rec, .n = 1, .done = on_done, .arg = &d3};
    wal_test_pause(the_wal, 1);
    assert_int_equal(streamlog_append(f->log, &a1), 0);
    wait_held();
    assert_int_equal(streamlog_append(f->log, &a2), 0); /* fits behind the held batch */
    assert_int_equal(streamlog_append(f->log, &a3), 0); /* no room: parked */
    assert_int_equal(streamlog_parked(f->log), 1);
    /* Let the wait run out while the disk is "stuck", then unstick it. */
    struct timespec ts = {0, 120 * 1000000L};
    nanosleep(&ts, NULL);
    wal_test_pause(the_wal, 0);
    assert_true(poll_fired(&d1) && poll_fired(&d2) && poll_fired(&d3));
    assert_int_equal(atomic_load(&d1.status), 0);
    assert_int_equal(atomic_load(&d2.status), 0);
    assert_int_equal(atomic_load(&d3.status), HY_EBUSY);
    /* The refused append left no trace: the next one continues the sequence. */
    struct done d4 = {0};
    struct streamlog_append a4 = {.recs = &rec, .n = 1, .done = on_done, .arg = &d4};
    assert_int_equal(streamlog_append(f->log, &a4), 0);
    assert_true(poll_fired(&d4));
    assert_int_equal(atomic_load(&d4.first_seq), 3);
}

static void test_append_that_can_never_fit_is_refused_at_once(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_log(f, REC_LEN, 0, 5000), 0);
    struct streamlog_rec rec = {payload, REC_LEN}; /* + frame header > max pending */
    struct done d = {0};
    struct streamlog_append a = {.recs = &rec, .n = 1, .done = on_done, .arg = &d};
    assert_int_equal(streamlog_append(f->log, &a), 0);
    assert_true(poll_fired(&d));
    assert_int_equal(atomic_load(&d.status), HY_EBUSY);
    assert_int_equal(streamlog_parked(f->log), 0);
}

static void test_parking_is_bounded(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_log(f, 2 * (REC_LEN + 24), REC_LEN, 5000), 0);
    struct streamlog_rec rec = {payload, REC_LEN};
    struct done d[4] = {0};
    struct streamlog_append a[4];
    for (int i = 0; i < 4; i++)
        a[i] = (struct streamlog_append){.recs = &rec, .n = 1, .done = on_done, .arg = &d[i]};
    wal_test_pause(the_wal, 1);
    assert_int_equal(streamlog_append(f->log, &a[0]), 0);
    wait_held();
    assert_int_equal(streamlog_append(f->log, &a[1]), 0);        /* pending */
    assert_int_equal(streamlog_append(f->log, &a[2]), 0);        /* parked: REC_LEN bytes */
    assert_int_equal(streamlog_append(f->log, &a[3]), HY_EBUSY); /* parking full */
    assert_false(atomic_load(&d[3].fired));
    wal_test_pause(the_wal, 0);
    for (int i = 0; i < 3; i++) {
        assert_true(poll_fired(&d[i]));
        assert_int_equal(atomic_load(&d[i].status), 0);
    }
}

static void test_drain_waits_for_parked_appends_and_close_refuses_them(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_log(f, 2 * (REC_LEN + 24), 0, 60000), 0);
    struct streamlog_rec rec = {payload, REC_LEN};
    struct done d[3] = {0};
    struct streamlog_append a[3];
    for (int i = 0; i < 3; i++)
        a[i] = (struct streamlog_append){.recs = &rec, .n = 1, .done = on_done, .arg = &d[i]};
    wal_test_pause(the_wal, 1);
    assert_int_equal(streamlog_append(f->log, &a[0]), 0);
    wait_held();
    assert_int_equal(streamlog_append(f->log, &a[1]), 0);
    assert_int_equal(streamlog_append(f->log, &a[2]), 0);
    /* Still stuck: a short drain gives up. */
    assert_int_equal(streamlog_drain(f->log, 30), 0);
    wal_test_pause(the_wal, 0);
    assert_int_equal(streamlog_drain(f->log, POLL_MS), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&d[i].status), 0);
    /* A parked append at close is refused, never lost silently. */
    struct done e[3] = {0};
    for (int i = 0; i < 3; i++)
        a[i] = (struct streamlog_append){.recs = &rec, .n = 1, .done = on_done, .arg = &e[i]};
    wal_test_pause(the_wal, 1);
    assert_int_equal(streamlog_append(f->log, &a[0]), 0);
    wait_held();
    assert_int_equal(streamlog_append(f->log, &a[1]), 0);
    assert_int_equal(streamlog_append(f->log, &a[2]), 0);
    assert_int_equal(streamlog_parked(f->log), 1);
    wal_test_pause(the_wal, 0);
    streamlog_close(f->log);
    f->log = NULL;
    for (int i = 0; i < 3; i++)
        assert_true(atomic_load(&e[i].fired));
    /* Written (0) or refused (HY_EBUSY): each one said which. */
    for (int i = 0; i < 3; i++)
        assert_true(atomic_load(&e[i].status) == 0 || atomic_load(&e[i].status) == HY_EBUSY);
}

int main(void)
{
    memset(payload, 'x', sizeof payload);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_without_room_waits_then_lands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parked_append_is_refused_after_its_wait, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_append_that_can_never_fit_is_refused_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parking_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_waits_for_parked_appends_and_close_refuses_them,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
