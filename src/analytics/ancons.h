/*
 * ancons: live anomaly detection as a consumer of a stream's log (core/consumer.h), named
 * "analytics". It runs for streams whose hydrant-only settings hold "analytics" (anset.h), reads
 * the log from its own cursor, scores each JSON value's number (jq path) with one detector per
 * series key (anmodels.h), appends every score >= threshold as a JSON event to the target stream,
 * optionally POSTs the events to a webhook, and checkpoints the cursor and the models in one
 * atomically replaced file, so a restart (kill -9 too) resumes with the scores of an
 * uninterrupted run.
 *
 * Events are at-least-once: they are appended (and durable) before the checkpoint that moves
 * past their records, so a crash between the two appends them again on replay; each carries
 * "seq" (the source record's sequence number), with "stream" and "key" a unique id to dedupe.
 * A missing target drops events (counted, reported); a closed one is waited for, and a stop
 * meanwhile leaves that batch to the next start.
 */
#ifndef HY_ANCONS_H
#define HY_ANCONS_H

#include "core/consumer.h"

extern const struct consumer_ops analytics_consumer;

#endif
