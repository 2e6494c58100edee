#include "base/base64.h"

#include <string.h>

#include "base/err.h"

static const char enc_table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decoding tables, one per position in a quad: the character's 6 bits already shifted to where
 * they land in the three output bytes, read as a little-endian word (out[0] in bits 0-7), so a
 * quad decodes with four loads and three ORs. Non-alphabet characters (and '=') map to BAD, whose
 * high byte survives the ORs, so one test checks all four. Built by the preprocessor from
 * VAL, so there is no start-up code and no hand-typed 1,024-entry table. */
#define VAL(c)                                                                                     \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                        \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                   \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                   \
     : (c) == '+'               ? 62                                                               \
     : (c) == '/'               ? 63                                                               \
                                : -1)
#define BAD 0xff000000u
#define Q0(v) ((uint32_t)(v) << 2)
#define Q1(v) ((uint32_t)(v) >> 4 | ((uint32_t)(v)&15) << 12)
#define Q2(v) (((uint32_t)(v) >> 2) << 8 | ((uint32_t)(v)&3) << 22)
#define Q3(v) ((uint32_t)(v) << 16)
#define E0(c) (VAL(c) < 0 ? BAD : Q0(VAL(c))),
#define E1(c) (VAL(c) < 0 ? BAD : Q1(VAL(c))),
#define E2(c) (VAL(c) < 0 ? BAD : Q2(VAL(c))),
#define E3(c) (VAL(c) < 0 ? BAD : Q3(VAL(c))),
#define R4(E, c) E(c) E(c + 1) E(c + 2) E(c + 3)
#define R16(E, c) R4(E, c) R4(E, c + 4) R4(E, c + 8) R4(E, c + 12)
#define R64(E, c) R16(E, c) R16(E, c + 16) R16(E, c + 32) R16(E, c + 48)
#define R256(E) R64(E, 0) R64(E, 64) R64(E, 128) R64(E, 192)
static const uint32_t dq0[256] = {R256(E0)};
static const uint32_t dq1[256] = {R256(E1)};
static const uint32_t dq2[256] = {R256(E2)};
static const uint32_t dq3[256] = {R256(E3)};

/* Write the three bytes of a decoded quad. On little-endian hosts one 4-byte store: the
 * contract's room of BASE64_DECODED_MAX(in_len) leaves at least three bytes past the output. */
static inline void put3(uint8_t *o, uint32_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(o, &w, 4);
#else
    o[0] = (uint8_t)w;
    o[1] = (uint8_t)(w >> 8);
    o[2] = (uint8_t)(w >> 16);
#endif
}

int base64_decode(const char *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    const uint8_t *s = (const uint8_t *)in;
    if (in_len % 4)
        return HY_EBADMSG;
    if (in_len == 0) {
        *out_len = 0;
        return 0;
    }
    size_t pad = 0;
    if (s[in_len - 1] == '=')
        pad = s[in_len - 2] == '=' ? 2 : 1;
    size_t full = in_len - (pad ? 4 : 0); /* quads without padding */
    uint8_t *o = out;
    for (size_t i = 0; i < full; i += 4) {
        uint32_t w = dq0[s[i]] | dq1[s[i + 1]] | dq2[s[i + 2]] | dq3[s[i + 3]];
        if (w & BAD)
            return HY_EBADMSG;
        put3(o, w);
        o += 3;
    }
    if (pad) {
        /* '=' counts as 'A' (zero bits) here; only the bytes it does not pad are kept. */
        const uint8_t *q = s + full;
        uint32_t w = dq0[q[0]] | dq1[q[1]] | (pad == 1 ? dq2[q[2]] : 0);
        if (w & BAD)
            return HY_EBADMSG;
        put3(o, w);
        o += 3 - pad;
    }
    *out_len = (size_t)(o - out);
    return 0;
}

size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = enc_table[v >> 18];
        o[1] = enc_table[(v >> 12) & 63];
        o[2] = enc_table[(v >> 6) & 63];
        o[3] = enc_table[v & 63];
        o += 4;
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        o[0] = enc_table[v >> 18];
        o[1] = enc_table[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        o[0] = enc_table[v >> 18];
        o[1] = enc_table[(v >> 12) & 63];
        o[2] = enc_table[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}
