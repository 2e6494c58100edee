/*
 * hex: base-16 digits for the whole tree (digests in lower case, percent-escapes in upper case,
 * key files, ETags). Hand-written: a digit table and two loops; OpenSSL's OPENSSL_buf2hexstr
 * inserts ':' separators and allocates, which none of the callers want. Pure, thread-safe.
 */
#ifndef HY_HEX_H
#define HY_HEX_H

#include <stddef.h>
#include <stdint.h>

/* "0123456789abcdef" and "0123456789ABCDEF" (for %XX escapes, which AWS wants upper case). */
extern const char hex_lower[17];
extern const char hex_upper[17];

/* The value 0..15 of one hex digit (either case), or -1 for any other character. */
int hex_digit(int c);
/* Lower-case hex of in[0..n) into out[0..2n), NUL-terminated: out needs 2n+1 bytes. */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly 2n hex digits (either case) from in into out[0..n).
 * Returns 0, or HY_EBADMSG on a non-hex character (out is then partly written). */
int hex_decode(const char *in, size_t n, uint8_t *out);

#endif
