/*
 * s3_int.h: what the S3 front's files share (query and target parsing, XML, aws-chunked bodies
 * and checksums, the on-disk store, multipart). Private to src/api/s3/.
 */
#ifndef HY_S3_INT_H
#define HY_S3_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth/sigv4.h"
#include "base/buf.h"

struct http_exchange;
struct http_request;

struct s3 {
    char *root;
    char *region;
    char *domain;
    struct sigv4_config sigv4; /* sigv4.creds NULL: open, nothing verified */
};

/* ---- s3_query.c: query strings, percent coding, addressing, the operation table ---- */

#define S3_QUERY_MAX 64
#define S3_KEY_MAX 1024

struct s3_param {
    char *name; /* decoded, NUL-terminated (into s3_query.mem) */
    char *value;
    size_t value_len;
    int has_value; /* "?a=" and "?a" both count as present; this tells them apart */
};

struct s3_query {
    struct s3_param p[S3_QUERY_MAX];
    size_t n;
    char *mem;
};

/* Parse q[0..len) ("a=b&c", no leading '?'): names and values percent-decoded, '+' as space.
 * 0, HY_EBADMSG (bad escape), HY_E2BIG (over S3_QUERY_MAX parameters) or HY_ENOMEM; on error
 * out is empty (s3_query_fini is still safe). */
int s3_query_parse(const char *q, size_t len, struct s3_query *out);
void s3_query_fini(struct s3_query *q);
/* The parameter called name, or NULL. */
const struct s3_param *s3_query_get(const struct s3_query *q, const char *name);
/* Percent-decode in[0..len) into out ('+' stays '+' unless plus_space). 0 or HY_EBADMSG /
 * HY_E2BIG / HY_ENOMEM (out then unchanged). */
int s3_query_decode(const char *in, size_t len, int plus_space, struct buf *out);
/* Percent-encode everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash): space is %20,
 * '+' is %2B, as S3's encoding-type=url does. */
int s3_query_encode(const char *in, size_t len, int keep_slash, struct buf *out);

/* Where a request points: bucket (may be empty: the service) and key (may be empty). */
struct s3_target {
    struct buf bucket;
    struct buf key;
    int vhost;
};
void s3_target_init(struct s3_target *t);
void s3_target_fini(struct s3_target *t);
/* Split the request target path[0..len) (query excluded) and the Host header into bucket and
 * key: virtual-host when host (port stripped) is "<bucket>.<domain>", else path-style. The key
 * is percent-decoded once, never normalised. 0, HY_EBADMSG (bad escape, path not starting with
 * '/') or HY_E2BIG (a path over 3 x S3_KEY_MAX bytes). */
int s3_target_parse(const char *path, size_t len, const char *host, size_t host_len,
                    const char *domain, struct s3_target *t);

enum s3_op {
    S3_OP_NONE = 0, /* 405 / 501 */
    S3_OP_NOT_IMPLEMENTED,
    S3_OP_LIST_BUCKETS,
    S3_OP_CREATE_BUCKET,
    S3_OP_HEAD_BUCKET,
    S3_OP_DELETE_BUCKET,
    S3_OP_GET_BUCKET_LOCATION,
    S3_OP_LIST_OBJECTS_V2,
    S3_OP_LIST_OBJECTS,
    S3_OP_LIST_UPLOADS,
    S3_OP_DELETE_OBJECTS,
    S3_OP_GET_TAGGING, /* bucket or object: an empty tag set */
    S3_OP_PUT_TAGGING, /* accepted and dropped */
    S3_OP_UPLOAD_PART,
    S3_OP_UPLOAD_PART_COPY,
    S3_OP_COPY_OBJECT,
    S3_OP_PUT_OBJECT,
    S3_OP_CREATE_UPLOAD,
    S3_OP_COMPLETE_UPLOAD,
    S3_OP_LIST_PARTS,
    S3_OP_ABORT_UPLOAD,
    S3_OP_GET_OBJECT,
    S3_OP_HEAD_OBJECT,
    S3_OP_DELETE_OBJECT,
};
/* The operation for a method on a target (spec section 1.3). */
enum s3_op s3_query_op(const char *method, size_t method_len, int has_bucket, int has_key,
                       const struct s3_query *q, int has_copy_source);
const char *s3_query_op_name(enum s3_op op);

/* ---- s3_xml.c: XML replies, errors and the two request bodies ---- */

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
/* Append s[0..n) escaped as XML text (&<>"' and characters XML 1.0 cannot hold as &#xN;). */
int s3_xml_escape(struct buf *b, const char *s, size_t n);
/* Append <name>escaped text</name>. */
int s3_xml_elem(struct buf *b, const char *name, const char *s, size_t n);
/* Format t (epoch seconds) as 2006-02-03T16:45:09.000Z / IMF-fixdate into out (>= 32 bytes). */
void s3_xml_time(int64_t t, char *out, size_t cap);
void s3_xml_http_date(int64_t t, char *out, size_t cap);
/* Parse an IMF-fixdate (also RFC 850 and asctime); 0 and *t, or HY_EBADMSG. */
int s3_xml_parse_http_date(const char *s, size_t n, int64_t *t);

struct s3_xml_item {
    char *text; /* Key or ETag (NUL-terminated, owned) */
    size_t len;
    long num; /* PartNumber (-1 when absent or invalid) */
};
struct s3_xml_req {
    int quiet;
    size_t n, cap;
    struct s3_xml_item *items;
};
/* DeleteObjects body: <Delete><Quiet>true</Quiet><Object><Key>k</Key></Object>...</Delete>.
 * 0, HY_EBADMSG (not well-formed, wrong root, an Object without Key, a DOCTYPE) or HY_ENOMEM. */
int s3_xml_parse_delete(const char *body, size_t len, struct s3_xml_req *out);
/* CompleteMultipartUpload body: Part{PartNumber, ETag} in document order. Same returns. */
int s3_xml_parse_complete(const char *body, size_t len, struct s3_xml_req *out);
void s3_xml_req_fini(struct s3_xml_req *r);

/* ---- s3_chunked.c: aws-chunked bodies and flexible checksums ---- */

enum s3_sum {
    S3_SUM_NONE = 0,
    S3_SUM_CRC32,
    S3_SUM_CRC32C,
    S3_SUM_CRC64NVME,
    S3_SUM_SHA1,
    S3_SUM_SHA256
};
/* The algorithm of a header name "x-amz-checksum-<alg>" (case-insensitive); S3_SUM_NONE if it
 * is not one we verify. */
enum s3_sum s3_chunked_sum_alg(const char *name, size_t len);
/* base64 of the digest of data under alg into out (NUL-terminated, >= 48 bytes); its length. */
size_t s3_chunked_sum_b64(enum s3_sum alg, const void *data, size_t len, char *out);
/* CRC-64/NVME: extend crc (0 to start) over p[0..len). */
uint64_t s3_chunked_crc64nvme(uint64_t crc, const void *p, size_t len);

struct s3_chunked_trailer {
    char name[64]; /* lower-cased; empty if none */
    char value[128];
};
/* Decode an aws-chunked body (signed "<hex>;chunk-signature=<sig>" or unsigned "<hex>" framing,
 * optional trailers after the 0-size chunk) into out. With sig (a verified request's chained
 * state), every chunk must carry a chunk-signature and each, the final empty one included, is
 * checked as it is reached: HY_ECORRUPT on a mismatch. The first trailer named x-amz-checksum-*
 * goes into tr. 0, HY_EBADMSG or HY_ECORRUPT (reason in *why). */
int s3_chunked_decode(const char *in, size_t len, struct buf *out, struct s3_chunked_trailer *tr,
                      struct sigv4_chunk *sig, const char **why);

/* ---- s3_store.c: buckets, object files and their metadata, listing ---- */

#define S3_META_XATTR "user.hydrant.s3"
#define S3_META_MAX 2048 /* S3's user-metadata bound, for the stored header lines */
#define S3_MPU_DIR ".mpu"

/* 1 if name[0..n) is a valid S3 bucket name (spec section 9). */
int s3_store_bucket_ok(const char *name, size_t n);
/* 1 if key[0..n) is storable: 1..1024 bytes of valid UTF-8 without NUL. */
int s3_store_key_ok(const char *key, size_t n);
/* <root>/<bucket> and <root>/<bucket>/<key path> into out. 0 or HY_E2BIG/HY_ENOMEM/HY_EINVAL. */
int s3_store_bucket_path(const struct s3 *s, const char *bucket, struct buf *out);
int s3_store_object_path(const struct s3 *s, const char *bucket, const char *key, size_t klen,
                         struct buf *out);
/* 1 if the bucket directory exists. */
int s3_store_bucket_exists(const struct s3 *s, const char *bucket);

/* An object's stored metadata: ETag (hex, quotes excluded) and header lines, each "Name:
 * value\r\n", replayed on GET/HEAD. */
struct s3_meta {
    char etag[48];
    struct buf headers;
};
void s3_meta_init(struct s3_meta *m);
void s3_meta_fini(struct s3_meta *m);
/* Serialise / parse the attribute blob: "<etag>\n<header lines>". */
int s3_meta_encode(const struct s3_meta *m, struct buf *out);
int s3_meta_decode(const char *blob, size_t len, struct s3_meta *m);
/* Load the metadata of the open object fd; an object without (delivered by a stream) gets its
 * MD5 computed now and cached on the inode. 0 or -errno / HY_E*. Blocks on disk. */
int s3_store_meta_load(int fd, struct s3_meta *m);
/* MD5 of the whole file fd (from offset 0) as 32 hex chars + NUL. */
int s3_store_md5_fd(int fd, char hex[33]);
/* MD5 of p[0..n) (raw), and a raw digest as lowercase hex (33 bytes with the NUL). */
void s3_store_md5(const void *p, size_t n, unsigned char out[16]);
void s3_store_hex(const unsigned char *d, size_t n, char *out);
/* Remove the now-empty parent directories of path below the bucket dir (best effort). */
void s3_store_prune(const char *path, size_t bucket_dir_len);

struct s3_key {
    char *key; /* NUL-terminated */
    size_t len;
};
struct s3_keys {
    struct s3_key *v;
    size_t n, cap;
};
/* Every key of the bucket starting with prefix, sorted by unsigned bytes. Only the directory
 * of the prefix's whole segments is walked. 0, -ENOENT for a missing bucket, or an error. */
int s3_store_list(const struct s3 *s, const char *bucket, const char *prefix, size_t plen,
                  struct s3_keys *out);
void s3_keys_fini(struct s3_keys *k);

/* ---- s3.c: shared reply helpers ---- */

/* The answer being built for one request. */
struct s3_reply {
    struct http_exchange *ex;
    const struct http_request *req;
    const char *resource; /* for <Resource> */
    char request_id[17];
    int head;                        /* HEAD: errors carry no body */
    struct http_body_stream *stream; /* a streamed body not yet consumed (dropped at the end) */
    const struct sigv4_result *auth; /* the verified signature (NULL in open mode) */
};
/* An S3 XML error answer (bodiless for HEAD). */
void s3_error(struct s3_reply *r, int status, const char *code, const char *message);
/* A 200 with an XML body (b holds the document without the XML declaration). */
void s3_reply_xml(struct s3_reply *r, int status, struct buf *b);
/* Answer an error code for a -errno / HY_E* from the store. */
void s3_error_errno(struct s3_reply *r, int rc);
/* Header value as a NUL-terminated copy into out (cap bytes); 1 if present. */
int s3_header(const struct http_request *req, const char *name, char *out, size_t cap);

/* The request body after aws-chunked decoding and checksum checks. */
struct s3_body {
    const char *data;
    size_t len;
    struct buf decoded;
};
/* Decode and verify the body; on failure it answers the error itself and returns nonzero. */
int s3_body_get(struct s3_reply *r, struct s3_body *b);
void s3_body_fini(struct s3_body *b);
/* The metadata headers of a Put/CreateMultipartUpload request into m->headers. 0, or it answered
 * an error and returns nonzero. */
int s3_meta_from_request(struct s3_reply *r, struct s3_meta *m);

/* Write-side preconditions (If-None-Match / If-Match on PutObject and Complete). 0 to go on;
 * otherwise the error was answered. */
int s3_write_conditions(struct s3 *s, struct s3_reply *r, const char *bucket, const char *key,
                        size_t klen);
/* Store an object with metadata m (etag set): data[0..len), or len bytes of src_fd from
 * src_off when src_fd >= 0. Temp file, attribute, rename. 0 or a negative error. */
int s3_object_write(struct s3 *s, const char *bucket, const char *key, const char *data, size_t len,
                    int src_fd, uint64_t src_off, const struct s3_meta *m);
/* Answer an empty-bodied reply with extra header lines (may be NULL). */
void s3_reply_empty(struct s3_reply *r, int status, const char *extra);

/* ---- s3_stream.c: streamed bodies (the struct is the stream's) ---- */
/* Check the digests of a streamed body (Content-MD5, x-amz-checksum-*) and give its MD5 hex.
 * 0, or it answered the error and returns nonzero. */
int s3_stream_finish(struct s3_reply *r, struct http_body_stream *s, char etag[33]);
/* Commit the object with metadata m; ends s. 0 or a negative error. */
int s3_stream_commit_object(struct http_body_stream *s, const struct s3_meta *m);
/* Make the part file durable under dst with its etag; ends s. */
int s3_stream_commit_part(struct http_body_stream *s, const char *dst, const char *etag);
void s3_stream_drop(struct http_body_stream *s);

/* ---- s3_auth.c: SigV4 and per-key permissions (only when credentials are configured) ---- */
/* Verify r's request and authorise op on bucket (and the copy source's bucket). 0 and r->auth =
 * res; otherwise the S3 error was answered and it returns nonzero. A streamed request (r->stream)
 * has its hex x-amz-content-sha256 left in res->content_sha256 for s3_stream_finish. */
int s3_auth_check(const struct s3 *s, struct s3_reply *r, enum s3_op op, const char *bucket,
                  struct sigv4_result *res);
/* The same without answering (s3_stream_open, before the body): 0 if allowed. */
int s3_auth_verify(const struct s3 *s, const struct http_request *req, int body_later,
                   enum s3_op op, const char *bucket, struct sigv4_result *res);
/* NULL if the key e may run op on bucket (and the x-amz-copy-source bucket), else the reason. */
const char *s3_auth_authorize(const struct creds_entry *e, const struct http_request *req,
                              enum s3_op op, const char *bucket);
/* Answer S3's error for a failed verification (res->status != SIGV4_OK). */
void s3_auth_refuse(struct s3_reply *r, const struct sigv4_result *res);

/* ---- s3_multipart.c ---- */
void s3_multipart_create(struct s3 *s, struct s3_reply *r, const char *bucket, const char *key,
                         size_t klen);
void s3_multipart_upload_part(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                              const char *bucket, const char *key, size_t klen, int copy);
void s3_multipart_complete(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                           const char *bucket, const char *key, size_t klen);
void s3_multipart_list_parts(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                             const char *bucket, const char *key, size_t klen);
void s3_multipart_abort(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                        const char *bucket, const char *key, size_t klen);
void s3_multipart_list(struct s3 *s, struct s3_reply *r, const struct s3_query *q,
                       const char *bucket);

/* The source object of a CopyObject / UploadPartCopy (header x-amz-copy-source). */
struct s3_src {
    int fd;
    uint64_t size;
    int64_t mtime;
    struct s3_meta meta;
    struct buf bucket;
    struct buf key;
};
/* Open the source named by x-amz-copy-source and check x-amz-copy-source-if-*; on failure it
 * answers the error itself and returns nonzero (src is then closed). */
int s3_src_open(struct s3 *s, struct s3_reply *r, struct s3_src *src);
void s3_src_close(struct s3_src *src);

#endif
