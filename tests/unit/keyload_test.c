/* Unit tests for src/auth/keyload.c: PEM public keys and JWKS documents built here from keys
 * OpenSSL generates, checked by verifying a token signed with the matching private key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "auth/keyload.h"
#include "base/err.h"
#include "jwt_mint.h"

static char *pem_of(EVP_PKEY *k)
{
    static char out[4096];
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    int n = BIO_read(b, out, sizeof out - 1);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(b);
    return out;
}

static void b64_bn(EVP_PKEY *k, const char *param, size_t pad_to, char *out)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(k, param, &bn);
    unsigned char buf[1024];
    int n = pad_to ? BN_bn2binpad(bn, buf, (int)pad_to) : BN_bn2bin(bn, buf);
    mint_b64(buf, (size_t)n, out, 0);
    BN_free(bn);
}

static int verifies(EVP_PKEY *pub, EVP_PKEY *priv, const char *alg)
{
    char hdr[64];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\"}", alg);
    const char *tok = mint_token(hdr, "{\"sub\":\"x\"}", priv, alg, 0, NULL);
    struct jwt t;
    const char *why;
    assert_int_equal(jwt_parse(tok, strlen(tok), &t, &why), 0);
    int rc = jwt_verify(&t, pub);
    jwt_fini(&t);
    return rc == 0;
}

static void test_keyload_pem_takes_p256_and_rsa_and_refuses_the_rest(void **state)
{
    EVP_PKEY *ec = mint_ec_key(), *rsa = mint_rsa_key(), *got = NULL;
    const char *pem = pem_of(ec);
    assert_int_equal(keyload_pem(pem, strlen(pem), &got), 0);
    assert_true(verifies(got, ec, "ES256"));
    EVP_PKEY_free(got);
    pem = pem_of(rsa);
    assert_int_equal(keyload_pem(pem, strlen(pem), &got), 0);
    assert_true(verifies(got, rsa, "RS256"));
    EVP_PKEY_free(got);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    pem = pem_of(p384);
    assert_int_equal(keyload_pem(pem, strlen(pem), &got), HY_EBADMSG);
    assert_int_equal(keyload_pem("garbage", 7, &got), HY_EBADMSG);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
}

struct found {
    char kids[8][32];
    EVP_PKEY *keys[8];
    int n;
};

static void on_key(void *arg, const char *kid, EVP_PKEY *key)
{
    struct found *f = arg;
    snprintf(f->kids[f->n], 32, "%s", kid);
    EVP_PKEY_up_ref(key);
    f->keys[f->n++] = key;
}

static void test_keyload_jwks_rsa_and_ec_keys_verify_and_odd_members_are_skipped(void **state)
{
    EVP_PKEY *ec = mint_ec_key(), *rsa = mint_rsa_key();
    char n[1024], e[16], x[64], y[64], doc[4096];
    b64_bn(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n);
    b64_bn(rsa, OSSL_PKEY_PARAM_RSA_E, 0, e);
    b64_bn(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, x);
    b64_bn(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y);
    snprintf(
        doc, sizeof doc,
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},"
        "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
        "{\"kty\":\"EC\",\"kid\":\"bad-point\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
        "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"},"
        "{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"},"
        "{\"kty\":\"EC\",\"kid\":\"p384\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"},"
        "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}]}",
        n, e, x, y, x, x, n, e, x, y, n, e);
    struct found f = {.n = 0};
    assert_int_equal(keyload_jwks(doc, strlen(doc), on_key, &f), 2);
    assert_string_equal(f.kids[0], "r1");
    assert_string_equal(f.kids[1], "e1");
    assert_true(verifies(f.keys[0], rsa, "RS256"));
    assert_true(verifies(f.keys[1], ec, "ES256"));
    for (int i = 0; i < f.n; i++)
        EVP_PKEY_free(f.keys[i]);
    assert_int_equal(keyload_jwks("{\"keys\":{}}", 11, on_key, &f), HY_EBADMSG);
    assert_int_equal(keyload_jwks("[]", 2, on_key, &f), HY_EBADMSG);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyload_pem_takes_p256_and_rsa_and_refuses_the_rest),
        cmocka_unit_test(test_keyload_jwks_rsa_and_ec_keys_verify_and_odd_members_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
