/*
 * keyload: PEM through OpenSSL's decoder; JWK members through OSSL_PARAM builders.
 */
#include "auth/keyload.h"

#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "base/err.h"
#include "base/mem.h"

static int key_usable(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "RSA"))
        return EVP_PKEY_get_bits(key) >= 2048;
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[32];
        size_t glen = 0;
        return EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                              &glen) == 1 &&
               strcmp(group, "prime256v1") == 0;
    }
    return 0;
}

int keyload_pem(const char *pem, size_t len, EVP_PKEY **out)
{
    if (len > KEYLOAD_MAX_BYTES)
        return HY_E2BIG;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return HY_ENOMEM;
    EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!key || !key_usable(key)) {
        EVP_PKEY_free(key);
        return HY_EBADMSG;
    }
    *out = key;
    return 0;
}

/* A base64url member decoded into a heap buffer of at most max bytes; NULL if absent or bad. */
static uint8_t *member_bytes(const cJSON *jwk, const char *name, size_t max, size_t *len)
{
    const char *s = jwt_claim_str(jwk, name);
    if (!s)
        return NULL;
    size_t sl = strlen(s);
    if (sl / 4 * 3 + 3 > max + 3)
        return NULL;
    uint8_t *b = hy_malloc(sl / 4 * 3 + 3);
    if (!b)
        return NULL;
    if (jwt_b64_decode(s, sl, b, len) != 0 || *len == 0 || *len > max) {
        hy_free(b);
        return NULL;
    }
    return b;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *key = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return key;
}

static EVP_PKEY *jwk_rsa(const cJSON *jwk)
{
    size_t nl = 0, el = 0;
    uint8_t *n = member_bytes(jwk, "n", 1024, &nl);
    uint8_t *e = member_bytes(jwk, "e", 16, &el);
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nl, NULL) : NULL;
    BIGNUM *be = e ? BN_bin2bn(e, (int)el, NULL) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *key = NULL;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        key = fromdata("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    hy_free(n);
    hy_free(e);
    return key;
}

static EVP_PKEY *jwk_ec(const cJSON *jwk)
{
    const char *crv = jwt_claim_str(jwk, "crv");
    if (!crv || strcmp(crv, "P-256") != 0)
        return NULL;
    size_t xl = 0, yl = 0;
    uint8_t *x = member_bytes(jwk, "x", 32, &xl);
    uint8_t *y = member_bytes(jwk, "y", 32, &yl);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *key = NULL;
    if (x && y && xl == 32 && yl == 32 && bld) {
        uint8_t point[65];
        point[0] = 0x04; /* uncompressed SEC1 point */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
            key = fromdata("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    hy_free(x);
    hy_free(y);
    return key;
}

int keyload_jwks(const char *json, size_t len, keyload_jwk_fn fn, void *arg)
{
    if (len > KEYLOAD_MAX_BYTES)
        return HY_E2BIG;
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *keys = doc ? cJSON_GetObjectItemCaseSensitive(doc, "keys") : NULL;
    if (!cJSON_IsArray(keys)) {
        cJSON_Delete(doc);
        return HY_EBADMSG;
    }
    int count = 0;
    const cJSON *jwk;
    cJSON_ArrayForEach(jwk, keys)
    {
        const char *kid = jwt_claim_str(jwk, "kid");
        const char *kty = jwt_claim_str(jwk, "kty");
        const char *use = jwt_claim_str(jwk, "use");
        if (!kid || !kty || (use && strcmp(use, "sig") != 0))
            continue;
        EVP_PKEY *key = NULL;
        if (strcmp(kty, "RSA") == 0)
            key = jwk_rsa(jwk);
        else if (strcmp(kty, "EC") == 0)
            key = jwk_ec(jwk);
        if (!key)
            continue;
        if (key_usable(key)) {
            fn(arg, kid, key);
            count++;
        }
        EVP_PKEY_free(key);
    }
    cJSON_Delete(doc);
    return count;
}
