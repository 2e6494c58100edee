/*
 * kinesis_codec: the Kinesis front's pure parts (kinesis_int.h): sequence numbers, signed shard
 * iterators, partition-key hashing (MD5 and HMAC-SHA256 from OpenSSL's libcrypto), request
 * parsing and the model's member checks in Coral's wording. Model patterns are matched by hand:
 * there are four, and POSIX regex does not know \d or \S.
 */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "api/kinesis/kinesis_int.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/datastream.h"

/* ---------------------------------------------------------------- sequence numbers */

void kinesis_codec_seq_format(uint64_t value, uint32_t shard_index, uint64_t stream_id,
                              char out[KINESIS_SEQ_DIGITS + 1])
{
    snprintf(out, KINESIS_SEQ_DIGITS + 1, "49%020llu%010u%04u", (unsigned long long)value,
             (unsigned)shard_index, (unsigned)(stream_id % 10000));
}

static int digits(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HY_EBADMSG;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return HY_EBADMSG;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int kinesis_codec_seq_parse(const char *s, size_t n, uint64_t stream_id, uint64_t *value,
                            uint32_t *shard_index)
{
    uint64_t v, idx, chk;
    if (n != KINESIS_SEQ_DIGITS || s[0] != '4' || s[1] != '9' || digits(s + 2, 20, &v) ||
        digits(s + 22, 10, &idx) || digits(s + 32, 4, &chk) || idx > UINT32_MAX)
        return HY_EBADMSG;
    if (chk != stream_id % 10000)
        return HY_EINVAL;
    *value = v;
    *shard_index = (uint32_t)idx;
    return 0;
}

/* ---------------------------------------------------------------- shard iterators */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void iter_mac(const uint8_t *raw, size_t len, const uint8_t *key, uint8_t out[16])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), key, DATASTREAM_KEY_LEN, raw, len, md, &mdlen);
    memcpy(out, md, KINESIS_ITER_MAC);
}

void kinesis_codec_iter_encode(const struct kinesis_iter *it, const uint8_t *key,
                               char out[KINESIS_ITER_MAX + 1])
{
    uint8_t raw[KINESIS_ITER_RAW_MAX];
    size_t nl = strnlen(it->name, DATASTREAM_NAME_MAX);
    raw[0] = 1;
    put_le(raw + 1, it->stream_id, 8);
    put_le(raw + 9, it->shard_index, 4);
    put_le(raw + 13, it->seq, 8);
    put_le(raw + 21, (uint64_t)it->issued_ms, 8);
    raw[29] = (uint8_t)nl;
    memcpy(raw + KINESIS_ITER_HEAD, it->name, nl);
    iter_mac(raw, KINESIS_ITER_HEAD + nl, key, raw + KINESIS_ITER_HEAD + nl);
    size_t n = base64_encode(raw, KINESIS_ITER_HEAD + nl + KINESIS_ITER_MAC, out);
    out[n] = '\0';
}

int kinesis_codec_iter_decode(const char *s, size_t n, const uint8_t *key, struct kinesis_iter *it)
{
    uint8_t raw[BASE64_DECODED_MAX(KINESIS_ITER_MAX)];
    size_t len = 0;
    if (n > KINESIS_ITER_MAX || base64_decode(s, n, raw, &len) ||
        len < KINESIS_ITER_HEAD + 1 + KINESIS_ITER_MAC || raw[0] != 1)
        return HY_EBADMSG;
    size_t nl = raw[29];
    if (nl < 1 || nl > DATASTREAM_NAME_MAX || len != KINESIS_ITER_HEAD + nl + KINESIS_ITER_MAC)
        return HY_EBADMSG;
    /* Only the canonical text: base64 leaves spare bits in its last character, and a string
     * that differs from the one handed out is refused even if it decodes to the same bytes. */
    char canon[KINESIS_ITER_MAX + 4];
    if (base64_encode(raw, len, canon) != n || memcmp(canon, s, n) != 0)
        return HY_EBADMSG;
    uint8_t mac[KINESIS_ITER_MAC];
    iter_mac(raw, KINESIS_ITER_HEAD + nl, key, mac);
    /* Constant time: the comparison must not tell a forger how many bytes were right. */
    if (CRYPTO_memcmp(mac, raw + KINESIS_ITER_HEAD + nl, sizeof mac) != 0)
        return HY_EBADMSG;
    it->stream_id = get_le(raw + 1, 8);
    it->shard_index = (uint32_t)get_le(raw + 9, 4);
    it->seq = get_le(raw + 13, 8);
    it->issued_ms = (int64_t)get_le(raw + 21, 8);
    memcpy(it->name, raw + KINESIS_ITER_HEAD, nl);
    it->name[nl] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- hashing */

unsigned __int128 kinesis_codec_hash(const char *key, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned __int128 v = 0;
    if (!EVP_Digest(key, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
        return 0; /* libcrypto without MD5 (FIPS): everything to the first shard */
    for (int i = 0; i < 16; i++)
        v = (v << 8) | md[i];
    return v;
}

/* ---------------------------------------------------------------- requests */

int kinesis_codec_parse(const char *body, size_t len, cJSON **root, struct awsjson_err *e)
{
    *root = NULL;
    struct buf nuls;
    const char *why = NULL;
    buf_init(&nuls, (len / 2 + 1) * sizeof(struct awsjson_nul_str));
    int rc = awsjson_text_check(body, len, &nuls, &why);
    size_t nnul = nuls.len;
    buf_fini(&nuls);
    if (rc == HY_EBADMSG) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException", "%s", why);
        return -1;
    }
    if (rc) {
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        return -1;
    }
    if (nnul) {
        /* cJSON would cut such strings short: refuse rather than act on a different value. */
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Strings holding U+0000 are not accepted by this server.");
        return -1;
    }
    cJSON *o = len ? cJSON_ParseWithLength(body, len) : cJSON_CreateObject();
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Start of structure or map found where not expected.");
        return -1;
    }
    *root = o;
    return 0;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static int match_decimal(const char *s, size_t n, size_t max_tail)
{
    if (n == 1 && s[0] == '0')
        return 1;
    if (n == 0 || n > max_tail + 1 || s[0] < '1' || s[0] > '9')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* arn:aws.*:kinesis:.*:\d{12}:stream/\S+ */
static int match_arn(const char *s, size_t n)
{
    if (n < 8 || memcmp(s, "arn:aws", 7) != 0)
        return 0;
    const char *k = memmem(s, n, ":kinesis:", 9);
    const char *st = memmem(s, n, ":stream/", 8);
    if (!k || !st || st < k)
        return 0;
    if (st - s < 13)
        return 0;
    for (int i = 1; i <= 12; i++)
        if (st[-i] < '0' || st[-i] > '9')
            return 0;
    if (st[-13] != ':')
        return 0;
    const char *name = st + 8;
    size_t nl = n - (size_t)(name - s);
    if (!nl)
        return 0;
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] <= ' ')
            return 0;
    return 1;
}

static int pattern_ok(const char *pattern, const char *s, size_t n)
{
    if (!pattern)
        return 1;
    if (strcmp(pattern, "[a-zA-Z0-9_.-]+") == 0) {
        if (!n)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!is_name_char(s[i]))
                return 0;
        return 1;
    }
    if (strcmp(pattern, "0|([1-9]\\d{0,38})") == 0)
        return match_decimal(s, n, 38);
    if (strcmp(pattern, "0|([1-9]\\d{0,128})") == 0)
        return match_decimal(s, n, 128);
    if (strcmp(pattern, "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+") == 0)
        return match_arn(s, n);
    return 1;
}

static void render(const char *s, size_t n, struct buf *out)
{
    buf_append(out, "'", 1);
    buf_append(out, s, n);
    buf_append(out, "'", 1);
}

const cJSON *kinesis_codec_str(const cJSON *o, const char *member, const char *path, size_t min,
                               size_t max, const char *pattern, int required, struct awsjson_err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, member);
    if (!x || cJSON_IsNull(x)) {
        if (required)
            awsjson_err_validation(e, "null", 4, path, "Member must not be null");
        return NULL;
    }
    if (!cJSON_IsString(x)) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Unexpected value type in payload");
        return NULL;
    }
    const char *s = x->valuestring;
    size_t n = strlen(s);
    size_t u16 = awsjson_utf16_len(s, n);
    struct buf v, c;
    buf_init(&v, 4096);
    buf_init(&c, 1024);
    render(s, n < 256 ? n : 256, &v);
    /* The buffers may be empty (NULL data) after an allocation failure. */
    const char *vv = v.data ? v.data : "''";
    size_t vl = v.data ? v.len : 2;
    if (u16 < min) {
        buf_printf(&c, "Member must have length greater than or equal to %zu", min);
        awsjson_err_validation(e, vv, vl, path, c.data ? c.data : "");
    } else if (u16 > max) {
        buf_printf(&c, "Member must have length less than or equal to %zu", max);
        awsjson_err_validation(e, vv, vl, path, c.data ? c.data : "");
    } else if (!pattern_ok(pattern, s, n)) {
        buf_printf(&c, "Member must satisfy regular expression pattern: %s", pattern);
        awsjson_err_validation(e, vv, vl, path, c.data ? c.data : "");
    }
    buf_fini(&v);
    buf_fini(&c);
    return x;
}

const cJSON *kinesis_codec_int(const cJSON *o, const char *member, const char *path, double min,
                               double max, int required, struct awsjson_err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, member);
    if (!x || cJSON_IsNull(x)) {
        if (required)
            awsjson_err_validation(e, "null", 4, path, "Member must not be null");
        return NULL;
    }
    if (!cJSON_IsNumber(x) || x->valuedouble != (double)(long long)x->valuedouble) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "SerializationException",
                        "Unexpected value type in payload");
        return NULL;
    }
    char v[64];
    int vn = snprintf(v, sizeof v, "'%lld'", (long long)x->valuedouble);
    char c[128];
    if (x->valuedouble < min) {
        snprintf(c, sizeof c, "Member must have value greater than or equal to %.0f", min);
        awsjson_err_validation(e, v, (size_t)vn, path, c);
    } else if (x->valuedouble > max) {
        snprintf(c, sizeof c, "Member must have value less than or equal to %.0f", max);
        awsjson_err_validation(e, v, (size_t)vn, path, c);
    }
    return x;
}

int kinesis_codec_stream_name(const cJSON *root, const char **name, size_t *len,
                              struct awsjson_err *e)
{
    const cJSON *n = kinesis_codec_str(root, "StreamName", "streamName", 1, DATASTREAM_NAME_MAX,
                                       "[a-zA-Z0-9_.-]+", 0, e);
    const cJSON *a = kinesis_codec_str(root, "StreamARN", "streamARN", 1, 2048,
                                       "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", 0, e);
    if (awsjson_err_done(e))
        return -1;
    if (!n && !a) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Stream arn and stream name can't be empty at the same time");
        return -1;
    }
    const char *an = NULL;
    size_t al = 0;
    if (a) {
        const char *st = strstr(a->valuestring, ":stream/");
        an = st + 8; /* the pattern matched, so ":stream/" is there */
        al = strlen(an);
        if (al > DATASTREAM_NAME_MAX || !pattern_ok("[a-zA-Z0-9_.-]+", an, al)) {
            awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                            "Invalid StreamARN %s", a->valuestring);
            return -1;
        }
    }
    if (n && a && (strlen(n->valuestring) != al || memcmp(n->valuestring, an, al) != 0)) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "StreamARN %s and StreamName %s do not refer to the same stream",
                        a->valuestring, n->valuestring);
        return -1;
    }
    *name = n ? n->valuestring : an;
    *len = n ? strlen(n->valuestring) : al;
    return 0;
}
