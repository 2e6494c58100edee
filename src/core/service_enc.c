/*
 * service_enc: encryption at rest for a stream (DeliveryStreamEncryptionConfiguration). Picks
 * the key from the ring (stream/seal.h), tells the stream's log to seal new records with it,
 * and keeps the persisted choice (catalog) and the runtime failure (key missing at start) in
 * step. The switch is immediate: records acknowledged after start/stop returns are sealed/plain,
 * so Firehose's transitional ENABLING/DISABLING states are never observable here.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/service_int.h"
#include "stream/seal.h"
#include "stream/streamlog.h"

int service_enc_key(struct service *svc, const struct service_enc *enc, const struct seal_key **out)
{
    if (!svc->cfg.ring)
        return HY_ENOKEY;
    if (!enc->customer) {
        int rc = seal_ring_master(svc->cfg.ring, out);
        if (rc)
            LOG_ERROR("service", "cannot create or load the master key", "err=%s", hy_errname(rc));
        return rc;
    }
    if (!enc->key_arn || seal_ring_customer(svc->cfg.ring, enc->key_arn, out) != 0)
        return HY_ENOKEY;
    return 0;
}

void service_enc_apply(struct service_stream *st)
{
    struct catalog_stream *cs = st->cs;
    hy_free(st->enc_failure);
    st->enc_failure = NULL;
    if (!cs->enc_on)
        return;
    struct service_enc enc = {.customer = cs->enc_customer, .key_arn = cs->enc_key_arn};
    const struct seal_key *key = NULL;
    int rc = service_enc_key(st->svc, &enc, &key);
    if (rc == 0)
        rc = streamlog_seal(st->log, key);
    if (rc == 0)
        return;
    struct buf b;
    buf_init(&b, CATALOG_FAILURE_MAX);
    if (buf_printf(&b,
                   "the stream's encryption key %s is not available (%s): puts are refused "
                   "and records sealed with it are not delivered until hydrant restarts "
                   "with it",
                   cs->enc_customer ? cs->enc_key_arn : "(hydrant master key)",
                   hy_strerror(rc)) == 0)
        st->enc_failure = hy_strdup((const char *)b.data);
    buf_fini(&b);
    if (!st->enc_failure)
        st->enc_failure = hy_strdup("the stream's encryption key is not available");
    LOG_ERROR("service", "encryption key not available: puts refused", "stream=%s err=%s", cs->name,
              hy_errname(rc));
}

/* Switch the log and the persisted choice together under both locks, so no append sees one
 * without the other; a failed save switches the log back. */
static int enc_set(struct service *svc, struct service_stream *st, const struct service_enc *enc,
                   const struct seal_key *key)
{
    struct catalog_stream *cs = st->cs;
    int rc = 0;
    /* Lock order as everywhere: the catalog lock, then the put lock. */
    catalog_lock(svc->cat);
    pthread_rwlock_wrlock(&st->put_lock);
    if (cs->status != CATALOG_STATUS_ACTIVE || !st->log || st->closing) {
        rc = HY_ECLOSED;
        goto out;
    }
    int old_on = cs->enc_on, old_customer = cs->enc_customer;
    char old_arn[sizeof cs->enc_key_arn];
    memcpy(old_arn, cs->enc_key_arn, sizeof old_arn);
    rc = streamlog_seal(st->log, key);
    if (rc)
        goto out;
    cs->enc_on = enc != NULL;
    cs->enc_customer = enc ? enc->customer : 0;
    memset(cs->enc_key_arn, 0, sizeof cs->enc_key_arn);
    if (enc && enc->customer)
        snprintf(cs->enc_key_arn, sizeof cs->enc_key_arn, "%s", enc->key_arn);
    rc = catalog_save(svc->cat, cs);
    if (rc) {
        cs->enc_on = old_on;
        cs->enc_customer = old_customer;
        memcpy(cs->enc_key_arn, old_arn, sizeof old_arn);
        service_enc_apply(st);
        goto out;
    }
    hy_free(st->enc_failure);
    st->enc_failure = NULL;
out:
    pthread_rwlock_unlock(&st->put_lock);
    catalog_unlock(svc->cat);
    return rc;
}

int service_enc_start(struct service *svc, struct service_stream *st, const struct service_enc *enc)
{
    const struct seal_key *key = NULL;
    int rc = service_enc_key(svc, enc, &key);
    if (rc == 0)
        rc = enc_set(svc, st, enc, key);
    if (rc == 0)
        LOG_INFO("service", "encryption started", "stream=%s key_type=%s", st->cs->name,
                 enc->customer ? "CUSTOMER_MANAGED_CMK" : "AWS_OWNED_CMK");
    return rc;
}

int service_enc_stop(struct service *svc, struct service_stream *st)
{
    int rc = enc_set(svc, st, NULL, NULL);
    if (rc == 0)
        LOG_INFO("service", "encryption stopped", "stream=%s", st->cs->name);
    return rc;
}
