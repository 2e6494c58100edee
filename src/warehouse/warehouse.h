/*
 * warehouse: the Redshift-style destination as a consumer of the stream log, loading into
 * PostgreSQL. The stored destination document ("Kind":"Redshift", written by the Firehose front
 * from RedshiftDestinationConfiguration) holds ClusterJDBCURL, Username, Password, CopyCommand,
 * RetryOptions and S3Configuration (the intermediate bucket, a normalised S3 destination).
 *
 * Each batch [F, L) of the log (by S3Configuration.BufferingHints) is fixed first: the intent
 * "F L" goes durably into the cursor file, so a restart rebuilds exactly the same batch. Then it
 * is staged as an object in the intermediate bucket (gzip with the GZIP copy option) with a
 * Firehose manifest beside it under <Prefix>manifests/, both under names derived from the
 * stream's identity and F-L, and loaded by pgload (manifest key and rows in one transaction:
 * a replay commits nothing twice). When PostgreSQL stays unavailable beyond
 * RetryOptions.DurationInSeconds the manifest is written under <ErrorOutputPrefix>errors/manifests/
 * and the batch is skipped; only then, or after the commit, does the cursor move past L.
 * Records are staged as they are, with a newline appended to a record not ending in one.
 */
#ifndef HY_WAREHOUSE_H
#define HY_WAREHOUSE_H

struct cJSON;
struct consumer_ops;

extern const struct consumer_ops warehouse_consumer;

/* 1 if the destination document is a Redshift one. */
int warehouse_is_redshift(const struct cJSON *dest);

#endif
