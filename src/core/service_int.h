/*
 * service_int: private to src/core/service*.c. The service object and a stream's runtime.
 */
#ifndef HY_SERVICE_INT_H
#define HY_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/hyassert.h"
#include "core/catalog.h"
#include "core/service.h"
#include "core/stats.h"

struct service {
    struct service_config cfg; /* pointers borrowed from the caller of service_open */
    uint64_t quota_bytes;
    size_t max_streams;
    struct catalog *cat;
    atomic_int ready;
    /* Deletes run on detached threads; shutdown waits for them. */
    pthread_mutex_t del_lock;
    pthread_cond_t del_cond;
    int deleting;
};

/* One running consumer of a stream. */
struct service_consumer {
    struct service_stream *st;
    const struct consumer_ops *ops;
    void *state;
    _Atomic uint64_t cursor; /* last reported: every record below is done with */
};

/* A stream's runtime, owned by its catalog entry (cs->runtime), freed with it. */
struct service_stream {
    struct service *svc;
    struct catalog_stream *cs; /* not a reference: cs owns this */
    struct stream_stats stats;
    pthread_rwlock_t put_lock;
    struct streamlog *log; /* [put_lock] NULL while not open */
    int closing;           /* [put_lock] stopping: appends are refused */
    char *enc_failure;     /* [put_lock] the encryption key is missing: appends are refused */
    struct service_consumer *cons; /* control threads only, under cons_lock */
    pthread_mutex_t cons_lock;     /* starting and stopping consumers */
    _Atomic size_t ncons;          /* read by consumer threads (trim) while later ones start */
    int no_puts;                   /* the destination has a "Source" (fixed at create) */
};

/* service_stream.c */
struct service_stream *service_stream_rt_new(struct service *svc, struct catalog_stream *cs);
/* Open the log and start the consumers. 0 or an error (then nothing runs). */
int service_stream_rt_start(struct service_stream *st);
/* Refuse appends, drain them, flush and stop the consumers, close the log. 0, or HY_EBUSY when
 * acknowledged records stayed unconsumed (a failing sink): they stay in the log. */
int service_stream_rt_stop(struct service_stream *st);
/* Stop the consumer named name if it runs, and start it if it wants the stream's current
 * destination and settings. Caller holds no lock. */
void service_stream_rt_restart(struct service_stream *st, const char *name);
/* Tell the consumers that the destination or version changed. Caller holds the catalog lock. */
void service_stream_rt_update(struct service_stream *st);
struct seal_key;
/* service_enc.c: the key enc names (borrowed for the ring's life): 0, HY_ENOKEY, or a disk error
 * creating the master key. */
int service_enc_key(struct service *svc, const struct service_enc *enc,
                    const struct seal_key **out);
/* service_enc.c: seal st's freshly opened log as cs says (caller holds the put lock, or owns st
 * alone). A missing key is not an error here: it sets st->enc_failure and is logged. */
void service_enc_apply(struct service_stream *st);
/* Set the status under the put lock (callers hold the catalog lock too). */
void service_stream_set_status(struct service_stream *st, enum catalog_status status);

#endif
