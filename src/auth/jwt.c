/*
 * jwt: lenient segment decoding, JSON parsing and ES256/RS256 checks over the raw signing input.
 */
#include "auth/jwt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>

#include "base/err.h"
#include "base/mem.h"

/* 0-63 for a digit of either alphabet, -1 otherwise. */
static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

int jwt_b64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
    /* Spec section 3: 0-2 '=' only at the end; with padding the length must be whole quads. */
    size_t pad = 0;
    while (len > 0 && in[len - 1] == '=' && pad < 3) {
        len--;
        pad++;
    }
    if (pad > 2 || len % 4 == 1 || (pad && (len + pad) % 4 != 0))
        return HY_EBADMSG;
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_val((unsigned char)in[i]);
        if (v < 0)
            return HY_EBADMSG;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = n;
    return 0;
}

/* Decode one segment into a NUL-terminated heap copy and parse it as a JSON object. */
static cJSON *segment_json(const char *seg, size_t len)
{
    uint8_t *raw = hy_malloc(len / 4 * 3 + 4);
    if (!raw)
        return NULL;
    size_t n = 0;
    cJSON *j = NULL;
    if (jwt_b64_decode(seg, len, raw, &n) == 0) {
        j = cJSON_ParseWithLength((const char *)raw, n);
        if (j && !cJSON_IsObject(j)) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    hy_free(raw);
    return j;
}

int jwt_parse(const char *tok, size_t len, struct jwt *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (len > JWT_MAX_TOKEN_LEN) {
        *why = "too_long";
        return HY_E2BIG;
    }
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok))) {
        *why = "not_three_segments";
        return HY_EBADMSG;
    }
    size_t l1 = (size_t)(d1 - tok), l2 = (size_t)(d2 - d1 - 1), l3 = len - (size_t)(d2 + 1 - tok);
    if (!l1 || !l2 || !l3) {
        *why = "empty_segment";
        return HY_EBADMSG;
    }
    if (l3 / 4 * 3 + 3 > JWT_MAX_SIG_LEN ||
        jwt_b64_decode(d2 + 1, l3, out->sig, &out->sig_len) != 0) {
        *why = "bad_signature_encoding";
        return HY_EBADMSG;
    }
    out->header = segment_json(tok, l1);
    if (!out->header) {
        *why = "bad_header";
        return HY_EBADMSG;
    }
    out->payload = segment_json(d1 + 1, l2);
    if (!out->payload) {
        cJSON_Delete(out->header);
        out->header = NULL;
        *why = "bad_payload";
        return HY_EBADMSG;
    }
    out->signing_input = tok;
    out->signing_input_len = (size_t)(d2 - tok);
    out->alg_text = jwt_claim_str(out->header, "alg");
    out->kid = jwt_claim_str(out->header, "kid");
    /* Pinned: exact, case-sensitive names; "none", HS* and the rest stay JWT_ALG_NONE_OR_OTHER. */
    if (out->alg_text && strcmp(out->alg_text, "ES256") == 0)
        out->alg = JWT_ALG_ES256;
    else if (out->alg_text && strcmp(out->alg_text, "RS256") == 0)
        out->alg = JWT_ALG_RS256;
    return 0;
}

void jwt_fini(struct jwt *t)
{
    cJSON_Delete(t->header);
    cJSON_Delete(t->payload);
    t->header = t->payload = NULL;
}

/* RFC 7518 section 3.4: R||S, 32 bytes each, into the DER OpenSSL verifies. */
static int es256_der(const uint8_t *sig, uint8_t **der, int *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL);
    BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);
    int rc = HY_ENOMEM;
    if (!es || !r || !s)
        goto fail;
    if (!ECDSA_SIG_set0(es, r, s))
        goto fail;
    r = s = NULL; /* owned by es now */
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(es, der);
    rc = *der_len > 0 ? 0 : HY_ENOMEM;
fail:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

static int key_fits(EVP_PKEY *key, enum jwt_alg alg)
{
    if (alg == JWT_ALG_ES256) {
        char group[32];
        size_t glen = 0;
        return EVP_PKEY_is_a(key, "EC") &&
               EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                              &glen) == 1 &&
               strcmp(group, "prime256v1") == 0;
    }
    if (alg == JWT_ALG_RS256)
        return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    return 0;
}

int jwt_verify(const struct jwt *t, EVP_PKEY *key)
{
    if (!key || !key_fits(key, t->alg))
        return HY_EINVAL;
    const uint8_t *sig = t->sig;
    size_t sig_len = t->sig_len;
    uint8_t *der = NULL;
    if (t->alg == JWT_ALG_ES256) {
        if (t->sig_len != 64)
            return HY_EBADMSG;
        int dl = 0;
        int rc = es256_der(t->sig, &der, &dl);
        if (rc)
            return rc;
        sig = der;
        sig_len = (size_t)dl;
    }
    int rc = HY_ENOMEM;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        goto out;
    if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1)
        goto out;
    rc = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)t->signing_input,
                          t->signing_input_len) == 1
             ? 0
             : HY_EBADMSG;
out:
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return rc;
}

int jwt_claim_time(const cJSON *obj, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return HY_ENOTFOUND;
    double d;
    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else if (cJSON_IsString(v) && v->valuestring[0]) {
        char *end = NULL;
        d = strtod(v->valuestring, &end);
        if (!end || *end)
            return HY_EBADMSG;
    } else {
        return HY_EBADMSG;
    }
    if (!(d > -1e15 && d < 1e15)) /* also rejects NaN */
        return HY_EBADMSG;
    *out = (int64_t)d;
    return 0;
}

const char *jwt_claim_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
