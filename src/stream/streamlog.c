/*
 * streamlog: dispatch to the backend, plus parking (backpressure before refusal).
 *
 * Parking protocol. The fast path takes no lock: with nothing parked, an append goes straight to
 * the backend. An append the backend refuses with HY_EBUSY is queued (FIFO) under park_mu, and
 * later appends queue behind it while anything is parked, so big requests are not overtaken
 * for ever by small ones. The queue is served by admit(), which runs after every completed
 * append (the completion freed room) and once right after an append parks (the completion that
 * freed room may have run between the backend's refusal and the parking: without this second
 * look the parked append could wait for a completion that never comes). admit() refuses the head
 * when it waited past its deadline, or when the backend still refuses it although nothing is
 * outstanding (it can never fit).
 */
#include "stream/streamlog.h"

#include <errno.h>
#include <time.h>

#include "base/err.h"
#include "base/hytime.h"
#include "base/mem.h"

#define DEFAULT_MAX_WAIT_MS 5000
#define DEFAULT_MAX_PENDING_BYTES (32u << 20)

struct streamlog {
    const struct streamlog_backend *be;
    void *impl;
    int64_t max_wait_ns;
    uint64_t max_parked_bytes;

    pthread_mutex_t park_mu;
    pthread_cond_t drain_cv;
    struct streamlog_append *head; /* [park_mu] parked, oldest first */
    struct streamlog_append *tail; /* [park_mu] */
    uint64_t parked_bytes;         /* [park_mu] */
    _Atomic size_t nparked;        /* written under park_mu; read without it on the fast path */
    _Atomic size_t outstanding;    /* accepted by the backend, done not yet called */
    _Atomic int closed;
};

static uint64_t bytes_of(const struct streamlog_append *a)
{
    uint64_t b = 0;
    for (size_t i = 0; i < a->n; i++)
        b += a->recs[i].len;
    return b;
}

static void admit(struct streamlog *l);

/* Backend completion: report, then let parked appends use the room this one freed. */
static void on_done(void *arg, int status)
{
    struct streamlog_append *a = arg;
    struct streamlog *l = a->log;
    /* first_seq was stored by the backend under its lock before this could run. */
    a->done(a->arg, status, a->first_seq);
    atomic_fetch_sub(&l->outstanding, 1);
    if (atomic_load(&l->nparked))
        admit(l);
    else if (atomic_load(&l->outstanding) == 0) {
        pthread_mutex_lock(&l->park_mu);
        pthread_cond_broadcast(&l->drain_cv);
        pthread_mutex_unlock(&l->park_mu);
    }
}

/* Hand a to the backend. The outstanding count goes up first: a completion may run before the
 * backend returns. */
static int submit(struct streamlog *l, struct streamlog_append *a)
{
    atomic_fetch_add(&l->outstanding, 1);
    int rc = l->be->append(l->impl, a->recs, a->n, a->arrival_ms, &a->first_seq, on_done, a);
    if (rc)
        atomic_fetch_sub(&l->outstanding, 1);
    return rc;
}

static void admit(struct streamlog *l)
{
    struct streamlog_append *refused = NULL, **rtail = &refused;
    int64_t now = hytime_mono_ns();
    pthread_mutex_lock(&l->park_mu);
    while (l->head) {
        struct streamlog_append *a = l->head;
        int rc;
        if (atomic_load(&l->closed))
            rc = HY_EBUSY;
        else if (now > a->deadline_ns)
            rc = HY_EBUSY;
        else
            rc = submit(l, a);
        if (rc == HY_EBUSY && !atomic_load(&l->closed) && now <= a->deadline_ns &&
            atomic_load(&l->outstanding) > 0)
            break; /* still no room: the next completion comes back here */
        l->head = a->next;
        if (!l->head)
            l->tail = NULL;
        l->parked_bytes -= a->bytes;
        atomic_fetch_sub(&l->nparked, 1);
        if (rc) {
            a->status = rc;
            a->next = NULL;
            *rtail = a;
            rtail = &a->next;
        }
    }
    if (!l->head && atomic_load(&l->outstanding) == 0)
        pthread_cond_broadcast(&l->drain_cv);
    pthread_mutex_unlock(&l->park_mu);
    /* Refusals are reported outside the lock: the callback may append again. */
    while (refused) {
        struct streamlog_append *a = refused;
        refused = a->next;
        a->done(a->arg, a->status, 0);
    }
}

int streamlog_append(struct streamlog *l, struct streamlog_append *a)
{
    if (!a->n)
        return HY_EINVAL;
    if (atomic_load(&l->closed))
        return HY_ECLOSED;
    a->log = l;
    a->next = NULL;
    a->parked = 0;
    if (atomic_load(&l->nparked) == 0) {
        int rc = submit(l, a);
        if (rc != HY_EBUSY)
            return rc;
    }
    a->bytes = bytes_of(a);
    a->deadline_ns = hytime_mono_ns() + l->max_wait_ns;
    pthread_mutex_lock(&l->park_mu);
    if (l->parked_bytes + a->bytes > l->max_parked_bytes) {
        pthread_mutex_unlock(&l->park_mu);
        return HY_EBUSY;
    }
    if (l->tail)
        l->tail->next = a;
    else
        l->head = a;
    l->tail = a;
    l->parked_bytes += a->bytes;
    /* Set while a is still the caller's alone: once admit() runs, done may be called. */
    a->parked = 1;
    atomic_fetch_add(&l->nparked, 1);
    pthread_mutex_unlock(&l->park_mu);
    admit(l);
    return 0;
}

int streamlog_drain(struct streamlog *l, int timeout_ms)
{
    int64_t deadline = hytime_mono_ns() + (int64_t)timeout_ms * 1000000;
    int ok = 1;
    pthread_mutex_lock(&l->park_mu);
    while (l->head || atomic_load(&l->outstanding) > 0) {
        int64_t left = deadline - hytime_mono_ns();
        if (left <= 0) {
            ok = 0;
            break;
        }
        /* Parked appends also expire by time, which no completion may announce: look again
         * at least every 100 ms. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t step = left < 100000000 ? left : 100000000;
        ts.tv_sec += (time_t)(step / 1000000000);
        ts.tv_nsec += (long)(step % 1000000000);
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->drain_cv, &l->park_mu, &ts);
        if (l->head) {
            pthread_mutex_unlock(&l->park_mu);
            admit(l);
            pthread_mutex_lock(&l->park_mu);
        }
    }
    pthread_mutex_unlock(&l->park_mu);
    return ok;
}

int streamlog_open(const struct streamlog_backend *be, const char *dir,
                   const struct streamlog_config *cfg, struct streamlog **out)
{
    struct streamlog *l = hy_calloc(1, sizeof *l);
    if (!l)
        return HY_ENOMEM;
    l->be = be;
    int wait_ms = cfg->max_wait_ms > 0 ? cfg->max_wait_ms : DEFAULT_MAX_WAIT_MS;
    l->max_wait_ns = (int64_t)wait_ms * 1000000;
    l->max_parked_bytes = cfg->max_parked_bytes    ? cfg->max_parked_bytes
                          : cfg->max_pending_bytes ? cfg->max_pending_bytes
                                                   : DEFAULT_MAX_PENDING_BYTES;
    pthread_mutex_init(&l->park_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->drain_cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = be->open(dir, cfg, &l->impl);
    if (rc) {
        pthread_cond_destroy(&l->drain_cv);
        pthread_mutex_destroy(&l->park_mu);
        hy_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void streamlog_close(struct streamlog *l)
{
    if (!l)
        return;
    atomic_store(&l->closed, 1);
    admit(l); /* refuses whatever is still parked */
    l->be->close(l->impl);
    pthread_cond_destroy(&l->drain_cv);
    pthread_mutex_destroy(&l->park_mu);
    hy_free(l);
}

uint64_t streamlog_durable_next(struct streamlog *l)
{
    return l->be->durable_next(l->impl);
}

int streamlog_wait(struct streamlog *l, uint64_t seq, int timeout_ms)
{
    return l->be->wait(l->impl, seq, timeout_ms);
}

void streamlog_wake(struct streamlog *l)
{
    l->be->wake(l->impl);
}

int streamlog_trim(struct streamlog *l, uint64_t min_seq)
{
    return l->be->trim(l->impl, min_seq);
}

uint64_t streamlog_retained_bytes(struct streamlog *l)
{
    return l->be->retained_bytes(l->impl);
}

int streamlog_seal(struct streamlog *l, const struct seal_key *key)
{
    return l->be->seal ? l->be->seal(l->impl, key) : HY_EINVAL;
}

size_t streamlog_parked(struct streamlog *l)
{
    return atomic_load(&l->nparked);
}

struct streamlog_reader {
    const struct streamlog_backend *be;
    void *impl;
    struct streamlog_damage damage; /* of the last STREAMLOG_DAMAGED */
};

int streamlog_reader_open(struct streamlog *l, uint64_t from_seq, struct streamlog_reader **out)
{
    struct streamlog_reader *r = hy_calloc(1, sizeof *r);
    if (!r)
        return HY_ENOMEM;
    r->be = l->be;
    int rc = l->be->reader_open(l->impl, from_seq, &r->impl);
    if (rc) {
        hy_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int streamlog_reader_next(struct streamlog_reader *r, struct streamlog_record *rec)
{
    int rc = r->be->reader_next(r->impl, rec);
    if (rc == STREAMLOG_DAMAGED)
        r->be->reader_damage(r->impl, &r->damage);
    return rc;
}

const struct streamlog_damage *streamlog_reader_damage(struct streamlog_reader *r)
{
    return &r->damage;
}

void streamlog_damage_stats(struct streamlog *l, struct streamlog_damage_stats *out)
{
    l->be->damage_stats(l->impl, out);
}

int streamlog_reader_seek(struct streamlog_reader *r, uint64_t from_seq)
{
    return r->be->reader_seek(r->impl, from_seq);
}

void streamlog_reader_close(struct streamlog_reader *r)
{
    if (!r)
        return;
    r->be->reader_close(r->impl);
    hy_free(r);
}
