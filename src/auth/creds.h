/*
 * creds: the --credentials file: which access keys hydrant accepts and what each may do.
 *
 *   [{"AccessKeyId": "AKID...", "SecretAccessKey": "...",
 *     "SessionToken": "...",                     optional: then requests must carry it
 *     "Streams": ["orders", "logs-*"],           optional: delivery streams (fnmatch globs)
 *     "Buckets": ["lake"],                       optional: S3 buckets (globs)
 *     "Operations": ["PutRecord", "PutRecordBatch", "s3:GetObject"]}]   optional
 *
 * An absent list means "any". Loaded once at start; read-only afterwards, so any thread may
 * look up. The file should be 0600: it holds secrets (a WARN says so otherwise).
 */
#ifndef HY_CREDS_H
#define HY_CREDS_H

#include <stddef.h>

struct creds_entry {
    char *access_key_id;
    char *secret;
    char *session_token; /* NULL: none required */
    char **streams;      /* NULL: any */
    size_t nstreams;
    char **buckets;
    size_t nbuckets;
    char **operations;
    size_t noperations;
};

struct creds {
    struct creds_entry *v;
    size_t n;
};

/* Parse a credentials document (JSON text, not NUL-terminated). 0 and *out (caller frees with
 * creds_free), HY_EBADMSG with a message in err, or HY_ENOMEM. */
int creds_parse(const char *text, size_t len, struct creds **out, char *err, size_t err_size);
/* Read and parse a file (also warns when group or others may read it). */
int creds_load(const char *path, struct creds **out, char *err, size_t err_size);
void creds_free(struct creds *c);
/* The entry for an access key id, or NULL. Borrowed; valid until creds_free. */
const struct creds_entry *creds_find(const struct creds *c, const char *akid, size_t len);
/* May e act on this stream / bucket / operation? (Absent list: yes.) */
int creds_allows_stream(const struct creds_entry *e, const char *name, size_t len);
int creds_allows_bucket(const struct creds_entry *e, const char *name, size_t len);
int creds_allows_operation(const struct creds_entry *e, const char *op, size_t len);

#endif
