#include "base/base64.h"

#include "base/err.h"

static const char enc_table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, 0xff for everything else (including '='). */
static const uint8_t dec_table[256] = {
#define X 0xff
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63, /* 0x20 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30 */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,  /* 0x50 */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X,
#undef X
};

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
        uint32_t a = dec_table[s[i]], b = dec_table[s[i + 1]];
        uint32_t c = dec_table[s[i + 2]], d = dec_table[s[i + 3]];
        /* One test for all four: any 0xff sets bits above 63. */
        if ((a | b | c | d) & 0xc0)
            return HY_EBADMSG;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    if (pad) {
        const uint8_t *q = s + full;
        uint32_t a = dec_table[q[0]], b = dec_table[q[1]];
        if ((a | b) & 0xc0)
            return HY_EBADMSG;
        if (pad == 1) {
            uint32_t c = dec_table[q[2]];
            if (c & 0xc0)
                return HY_EBADMSG;
            uint32_t v = a << 18 | b << 12 | c << 6;
            o[0] = (uint8_t)(v >> 16);
            o[1] = (uint8_t)(v >> 8);
            o += 2;
        } else {
            uint32_t v = a << 18 | b << 12;
            o[0] = (uint8_t)(v >> 16);
            o += 1;
        }
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
