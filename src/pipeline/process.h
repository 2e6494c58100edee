/*
 * process: Firehose's built-in record processors that turn one stored record into zero or more
 * output records (firehose-reference.md section 1.7), run in Firehose's order:
 *
 *   Decompression (GZIP)  ->  CloudWatchLogProcessing (DataMessageExtraction)
 *                         ->  RecordDeAggregation (JSON | DELIMITED)
 *
 * (MetadataExtraction and AppendDelimiterToRecord follow in delivery.) Each stage is
 * deterministic, so a replayed log range yields the same output records. A record a stage
 * cannot process yields no output at all: process_run reports the error type for
 * !{firehose:error-output-type}, an error code and a message, and the caller writes the
 * original record to the error output.
 *
 * Bounded memory: a decompressed record is at most PROCESS_MAX_DECOMPRESSED bytes (past it the
 * record fails). One struct process per delivery thread.
 */
#ifndef HY_PROCESS_H
#define HY_PROCESS_H

#include <stddef.h>

#define PROCESS_MAX_DECOMPRESSED (16u << 20)

enum process_deagg {
    PROCESS_DEAGG_NONE = 0,
    PROCESS_DEAGG_JSON,
    PROCESS_DEAGG_DELIMITED,
};

struct process_opts {
    int decompress;           /* Decompression (GZIP) */
    int cwl_extract;          /* CloudWatchLogProcessing with DataMessageExtraction true */
    enum process_deagg deagg; /* RecordDeAggregation SubRecordType */
    const char *delimiter;    /* DELIMITED: the decoded Delimiter (copied) */
    size_t delimiter_len;
};

/* What a failed record tells the error output (static strings). */
struct process_error {
    const char *type;    /* !{firehose:error-output-type}: "decompression-failed", ... */
    const char *code;    /* errorCode */
    const char *message; /* errorMessage */
};

/* An output record; 0 or a negative error (then process_run stops and returns it). */
typedef int (*process_emit_fn)(void *arg, const void *data, size_t len);

struct process;

/* NULL on allocation failure. Caller frees with process_free. */
struct process *process_new(const struct process_opts *o);
void process_free(struct process *p);
/* Whether any stage is configured (else records pass through unchanged). */
int process_active(const struct process *p);

/* Run the stages on one record. 0: emit was called once per output record, in order (possibly
 * never: a CloudWatch Logs control message). HY_EBADMSG: the record failed, *err says why, emit
 * was never called. Otherwise emit's error or HY_ENOMEM. */
int process_run(struct process *p, const void *data, size_t len, process_emit_fn emit, void *arg,
                struct process_error *err);

/* RecordDeAggregation JSON: the next JSON value of p[0..len) at or after *at, skipping
 * whitespace. 1 and [*start, *end) for a value (objects and arrays only, as Firehose's
 * aggregated JSON holds), 0 at the end, HY_EBADMSG for anything else. Never reads past len. */
int process_json_next(const char *p, size_t len, size_t *at, size_t *start, size_t *end);

#endif
