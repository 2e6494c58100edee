/*
 * kinsrc: a Kinesis data stream as the source of a delivery stream (KinesisStreamAsSource). A
 * consumer of the delivery stream (core/consumer.h) that produces rather than reads: a pump
 * thread reads every shard of the data stream named by the destination document's
 * "Source":{"KinesisStreamARN","RoleARN","DeliveryStartMs"} (parents before children, as the
 * Kinesis resharding rules say) and appends the records, one for one, to the delivery stream's
 * own log, so the delivery consumer, the pipeline and the exactly-once object keys apply
 * unchanged. Puts from producers are refused on such a stream (the Firehose front), so the pump
 * is the only writer of that log.
 *
 * Exactly once across a crash: the checkpoint (per shard: the next log seq to read, and whether
 * a closed shard is finished) lives in <consumer state file>, rewritten atomically. Before each
 * append the pump writes an intent {shard, first source seq, count, first delivery-log seq};
 * after the append is durable it writes the advanced checkpoint. On start an intent left by a
 * crash is resolved against the delivery log: the records readable from its first seq on are
 * the prefix of the batch that landed (a torn tail is cut and skipped by the WAL, never
 * half-kept), so the shard resumes right after them: nothing twice, nothing lost.
 *
 * Records that retention removed before the pump read them are counted (stats
 * kinesis_source_expired_records) and logged as a WARN, never skipped silently.
 */
#ifndef HY_KINSRC_H
#define HY_KINSRC_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct cJSON;
struct datastream_reg;
struct consumer_ops;

extern const struct consumer_ops kinsrc_consumer;

/* The data streams the pumps read (main sets it once they are open, and clears it before
 * closing them: the clear waits for every pump to let go). */
void kinsrc_attach(struct datastream_reg *reg);
void kinsrc_detach(void);

/* The data stream name of a Kinesis stream ARN (arn:<partition>:kinesis:<region>:<account>:
 * stream/<name>): 0 with *name and *len pointing into arn, or HY_EINVAL. Pure. */
int kinsrc_arn_name(const char *arn, const char **name, size_t *len);

/* ---- checkpoint (pure; exposed for the unit tests) */
struct kinsrc_shard {
    uint32_t index;
    uint64_t next; /* next shard log seq to read */
    int done;      /* closed and read to its end */
};
struct kinsrc_ckpt {
    struct kinsrc_shard *shards; /* sorted by index */
    size_t n, cap;
    int pending; /* an append whose outcome the log decides */
    uint32_t p_shard;
    uint64_t p_from;      /* its first shard seq */
    uint64_t p_count;     /* its records */
    uint64_t p_log_first; /* the delivery-log seq its first record gets */
};
void kinsrc_ckpt_fini(struct kinsrc_ckpt *c);
/* The entry for index, added (next, done) when missing. NULL on HY_ENOMEM. */
struct kinsrc_shard *kinsrc_ckpt_shard(struct kinsrc_ckpt *c, uint32_t index, uint64_t next,
                                       int done);
struct kinsrc_shard *kinsrc_ckpt_find(struct kinsrc_ckpt *c, uint32_t index);
int kinsrc_ckpt_format(const struct kinsrc_ckpt *c, struct buf *out);
/* 0, HY_EBADMSG, or HY_ENOMEM. */
int kinsrc_ckpt_parse(const char *text, size_t len, struct kinsrc_ckpt *c);
/* Settle a pending append: landed records (0..p_count) of it reached the log; the shard
 * resumes after them. Returns the landed count used. */
uint64_t kinsrc_ckpt_resolve(struct kinsrc_ckpt *c, uint64_t landed);

#endif
