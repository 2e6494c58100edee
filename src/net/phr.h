/*
 * phr: prototypes for picohttpparser as exported by Debian's libh2o-evloop.
 *
 * Why this file exists: libh2o-evloop.so exports phr_parse_request, phr_decode_chunked and
 * friends (h2o bundles picohttpparser), but Debian packages no header for them, and we do not copy
 * third-party code. So we declare the ABI of the h2o 2.2.5 era picohttpparser ourselves. The
 * declarations are checked by tests/unit/http_test.c (known requests parsed, chunked bodies
 * decoded); link with -lh2o-evloop.
 *
 * Layout risk: later picohttpparser versions append private fields to struct
 * phr_chunked_decoder. Never allocate that struct bare: embed it in struct http_chunk_decoder
 * (http_int.h), which adds padding after it, so a larger library struct cannot overrun ours.
 *
 * Threads: the functions are pure over caller-owned memory; safe from any thread.
 */
#ifndef HY_PHR_H
#define HY_PHR_H

#include <stddef.h>
#include <sys/types.h>

struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Parse a request head. Returns its length in bytes when complete, -2 when more input is needed,
 * -1 on a malformed head. last_len is the length given on the previous call with the same
 * (possibly moved) buffer, or 0, so an incremental retry only scans the new bytes for the end.
 * *num_headers is the capacity of headers on input and the count on output. */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

struct phr_chunked_decoder {
    size_t bytes_left_in_chunk; /* payload bytes still expected in the current chunk */
    char consume_trailer;       /* 1: also eat the trailer section and its final CRLF */
    char _hex_count;
    char _state;
};

/* Decode chunked data in place. On entry *bufsz raw bytes are at buf; on return the decoded
 * payload is at buf[0..*bufsz). Returns -2 (all input consumed, more needed), -1 (malformed), or
 * the count of bytes after the end of the chunked message, which are moved to buf + *bufsz.
 * The decoder must start zeroed (except consume_trailer). */
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#endif
