/*
 * s3_chunked: aws-chunked request bodies (spec s3-rest-server.md section 4) and the flexible
 * checksums S3 clients send (section 3). The framing is AWS's own, so it is decoded by hand;
 * CRC-32 comes from zlib, SHA-1/SHA-256 from libcrypto, CRC-32C from base/crc32c; CRC-64/NVME
 * (aws-cli v2's default) has no Debian 12 library and is a small table here.
 */
#include <ctype.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "api/s3/s3_int.h"
#include "base/base64.h"
#include "base/crc32c.h"
#include "base/err.h"

enum s3_sum s3_chunked_sum_alg(const char *name, size_t len)
{
    static const struct {
        const char *name;
        enum s3_sum alg;
    } algs[] = {
        {"x-amz-checksum-crc32", S3_SUM_CRC32},         {"x-amz-checksum-crc32c", S3_SUM_CRC32C},
        {"x-amz-checksum-crc64nvme", S3_SUM_CRC64NVME}, {"x-amz-checksum-sha1", S3_SUM_SHA1},
        {"x-amz-checksum-sha256", S3_SUM_SHA256},
    };
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (strlen(algs[i].name) == len && strncasecmp(algs[i].name, name, len) == 0)
            return algs[i].alg;
    return S3_SUM_NONE;
}

/* Reflected CRC-64 with polynomial 0x9a6c9329ac4bc9b5 (0xad93d23594c93659 reversed). */
static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x9a6c9329ac4bc9b5ULL : c >> 1;
        crc64_table[i] = c;
    }
}

uint64_t s3_chunked_crc64nvme(uint64_t crc, const void *p, size_t len)
{
    pthread_once(&crc64_once, crc64_init);
    const unsigned char *s = p;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc64_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

size_t s3_chunked_sum_b64(enum s3_sum alg, const void *data, size_t len, char *out)
{
    uint8_t d[32];
    size_t n = 0;
    switch (alg) {
    case S3_SUM_CRC32: {
        uLong c = crc32(0L, Z_NULL, 0);
        const unsigned char *s = data;
        size_t left = len;
        while (left) {
            uInt k = left > (1u << 30) ? (1u << 30) : (uInt)left;
            c = crc32(c, s, k);
            s += k;
            left -= k;
        }
        for (int i = 0; i < 4; i++)
            d[i] = (uint8_t)(c >> (24 - 8 * i));
        n = 4;
        break;
    }
    case S3_SUM_CRC32C: {
        uint32_t c = crc32c(0, data, len);
        for (int i = 0; i < 4; i++)
            d[i] = (uint8_t)(c >> (24 - 8 * i));
        n = 4;
        break;
    }
    case S3_SUM_CRC64NVME: {
        uint64_t c = s3_chunked_crc64nvme(0, data, len);
        for (int i = 0; i < 8; i++)
            d[i] = (uint8_t)(c >> (56 - 8 * i));
        n = 8;
        break;
    }
    case S3_SUM_SHA1:
        SHA1(data, len, d);
        n = 20;
        break;
    case S3_SUM_SHA256:
        SHA256(data, len, d);
        n = 32;
        break;
    case S3_SUM_NONE:
        break;
    }
    size_t k = base64_encode(d, n, out);
    out[k] = '\0';
    return k;
}

/* One line of in[*pos..len) ending in CRLF: its bounds, and *pos moved past the CRLF. */
static int line(const char *in, size_t len, size_t *pos, const char **s, size_t *n)
{
    const char *start = in + *pos;
    size_t left = len - *pos;
    const char *lf = memchr(start, '\n', left);
    if (!lf || lf == start || lf[-1] != '\r')
        return HY_EBADMSG;
    *s = start;
    *n = (size_t)(lf - 1 - start);
    *pos += (size_t)(lf + 1 - start);
    return 0;
}

/* The 64 hex digits after ";chunk-signature=" in a chunk header's extensions, or NULL. */
static const char *chunk_signature(const char *ext, size_t n)
{
    static const char name[] = ";chunk-signature=";
    const size_t nl = sizeof name - 1;
    if (n != nl + 64 || strncasecmp(ext, name, nl) != 0)
        return NULL;
    return ext + nl;
}

int s3_chunked_decode(const char *in, size_t len, struct buf *out, struct s3_chunked_trailer *tr,
                      struct sigv4_chunk *sig, const char **why)
{
    size_t pos = 0;
    memset(tr, 0, sizeof *tr);
    *why = "";
    for (;;) {
        const char *l;
        size_t ln;
        if (line(in, len, &pos, &l, &ln)) {
            *why = "chunk header without CRLF";
            return HY_EBADMSG;
        }
        /* "<hex size>" then nothing, or ";chunk-signature=..." (or another extension). */
        size_t i = 0;
        uint64_t size = 0;
        while (i < ln && isxdigit((unsigned char)l[i])) {
            if (i >= 15) {
                *why = "chunk size too large";
                return HY_EBADMSG;
            }
            int c = (unsigned char)l[i];
            size = size * 16 + (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            i++;
        }
        if (i == 0 || (i < ln && l[i] != ';')) {
            *why = "bad chunk size";
            return HY_EBADMSG;
        }
        const char *chunk_sig = sig ? chunk_signature(l + i, ln - i) : NULL;
        if (sig && !chunk_sig) {
            *why = "chunk without a chunk-signature";
            return HY_EBADMSG;
        }
        if (size == 0) {
            if (sig && sigv4_chunk_finish(sig, chunk_sig, 64)) {
                *why = "chunk signature mismatch";
                return HY_ECORRUPT;
            }
            break;
        }
        if (size > len - pos || len - pos - size < 2) {
            *why = "chunk longer than the body";
            return HY_EBADMSG;
        }
        if (in[pos + size] != '\r' || in[pos + size + 1] != '\n') {
            *why = "chunk data not followed by CRLF";
            return HY_EBADMSG;
        }
        if (sig) {
            sigv4_chunk_update(sig, in + pos, (size_t)size);
            if (sigv4_chunk_finish(sig, chunk_sig, 64)) {
                *why = "chunk signature mismatch";
                return HY_ECORRUPT;
            }
        }
        int rc = buf_append(out, in + pos, (size_t)size);
        if (rc) {
            *why = "body too large";
            return rc;
        }
        pos += size + 2;
    }
    /* Trailers, then an empty line. Some clients end the body right after the last trailer. */
    while (pos < len) {
        const char *l;
        size_t ln;
        if (line(in, len, &pos, &l, &ln)) {
            if (len - pos == 2 && in[pos] == '\r' && in[pos + 1] == '\n')
                return 0;
            *why = "trailer without CRLF";
            return HY_EBADMSG;
        }
        if (ln == 0)
            return 0; /* the final empty line */
        const char *colon = memchr(l, ':', ln);
        if (!colon) {
            *why = "trailer without a colon";
            return HY_EBADMSG;
        }
        size_t nl = (size_t)(colon - l);
        if (tr->name[0] == '\0' && nl > 15 && nl < sizeof tr->name &&
            strncasecmp(l, "x-amz-checksum-", 15) == 0) {
            for (size_t k = 0; k < nl; k++)
                tr->name[k] = (char)tolower((unsigned char)l[k]);
            tr->name[nl] = '\0';
            const char *v = colon + 1;
            size_t vn = ln - nl - 1;
            while (vn && (*v == ' ' || *v == '\t')) {
                v++;
                vn--;
            }
            while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            if (vn >= sizeof tr->value) {
                *why = "checksum trailer too long";
                return HY_EBADMSG;
            }
            memcpy(tr->value, v, vn);
            tr->value[vn] = '\0';
        }
    }
    return 0; /* no trailer section at all: "0\r\n" ended the body */
}
