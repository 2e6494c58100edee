/*
 * base64: standard alphabet (RFC 4648 section 4) with '=' padding, as AWS JSON blobs use.
 * Hand-written: OpenSSL's EVP_DecodeBlock tolerates whitespace and does not report the decoded
 * length exactly; this decoder is strict (padding required, no whitespace) and fast on the
 * PutRecordBatch hot path. Pure functions, thread-safe.
 */
#ifndef HY_BASE64_H
#define HY_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound of the decoded size of n input characters. */
#define BASE64_DECODED_MAX(n) (((n) / 4) * 3 + 3)
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Decode in[0..in_len) into out (room for BASE64_DECODED_MAX(in_len)); sets *out_len.
 * Returns 0, or HY_EBADMSG for a bad character, bad length or bad padding. */
int base64_decode(const char *in, size_t in_len, uint8_t *out, size_t *out_len);
/* Encode; out needs BASE64_ENCODED_LEN(len) bytes (no NUL written). Returns chars written. */
size_t base64_encode(const uint8_t *in, size_t len, char *out);

#endif
