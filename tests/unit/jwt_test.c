/* Unit tests for src/auth/jwt.c: the lenient decoder, the parser and ES256/RS256 checks over
 * tokens signed by OpenSSL here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/jwt.h"
#include "base/err.h"
#include "jwt_mint.h"

#define HDR "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}"
#define PAY "{\"sub\":\"1234567890\",\"email\":\"jo@example.com\",\"exp\":\"1700000120\"}"

static void test_jwt_decoder_takes_padded_unpadded_and_plain_alphabets(void **state)
{
    uint8_t out[16];
    size_t n = 0;
    assert_int_equal(jwt_b64_decode("Zg==", 4, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(jwt_b64_decode("Zg", 2, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(jwt_b64_decode("-_+/", 4, out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    assert_int_equal(jwt_b64_decode("", 0, out, &n), 0);
    assert_int_equal(n, 0);
}

static void test_jwt_decoder_rejects_bad_padding_and_characters(void **state)
{
    static const char *const bad[] = {"Z",      "Zg=",   "Zg===", "Z=g=", "Zm 9v",
                                      "Zm9v\n", "Zm9v!", "=Zm9",  "Zm9vY"};
    uint8_t out[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(jwt_b64_decode(bad[i], strlen(bad[i]), out, &n), HY_EBADMSG);
}

static void test_jwt_parse_rejects_wrong_shapes(void **state)
{
    static const char *const bad[] = {
        "a.b",
        "a.b.c.d",
        ".e30.AAAA",
        "e30..AAAA",
        "e30.e30.",
        "W10.e30.AAAA",    /* [] */
        "e30.bnVsbA.AAAA", /* null */
        "e30.e30.A",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jwt t;
        const char *why = NULL;
        assert_int_equal(jwt_parse(bad[i], strlen(bad[i]), &t, &why), HY_EBADMSG);
        assert_non_null(why);
    }
    static char big[JWT_MAX_TOKEN_LEN + 2];
    memset(big, 'A', sizeof big - 1);
    struct jwt t;
    const char *why = NULL;
    assert_int_equal(jwt_parse(big, strlen(big), &t, &why), HY_E2BIG);
}

static void check_verifies(const char *tok, EVP_PKEY *key, int want)
{
    struct jwt t;
    const char *why = NULL;
    assert_int_equal(jwt_parse(tok, strlen(tok), &t, &why), 0);
    assert_int_equal(jwt_verify(&t, key), want);
    jwt_fini(&t);
}

static void test_jwt_es256_verifies_over_the_padded_segments_as_sent(void **state)
{
    EVP_PKEY *key = mint_ec_key();
    const char *tok = mint_token(HDR, PAY, key, "ES256", 1, NULL);
    assert_non_null(strstr(tok, "="));
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", tok);
    check_verifies(copy, key, 0);

    struct jwt t;
    const char *why = NULL;
    assert_int_equal(jwt_parse(copy, strlen(copy), &t, &why), 0);
    assert_int_equal(t.alg, JWT_ALG_ES256);
    assert_string_equal(t.kid, "k1");
    int64_t exp = 0;
    assert_int_equal(jwt_claim_time(t.payload, "exp", &exp), 0);
    assert_int_equal(exp, 1700000120);
    assert_string_equal(jwt_claim_str(t.payload, "email"), "jo@example.com");
    jwt_fini(&t);

    /* Stripping the padding changes the signing input: the signature no longer matches. */
    char stripped[4096];
    size_t n = 0;
    for (const char *p = copy; *p; p++) {
        if (*p == '=' && strchr(p, '.'))
            continue;
        stripped[n++] = *p;
    }
    stripped[n] = '\0';
    check_verifies(stripped, key, HY_EBADMSG);
    EVP_PKEY_free(key);
}

static void test_jwt_es256_unpadded_token_verifies(void **state)
{
    EVP_PKEY *key = mint_ec_key();
    const char *tok = mint_token(HDR, PAY, key, "ES256", 0, NULL);
    assert_null(strchr(tok, '='));
    check_verifies(tok, key, 0);
    EVP_PKEY_free(key);
}

static void test_jwt_tampering_and_wrong_keys_fail(void **state)
{
    EVP_PKEY *key = mint_ec_key(), *other = mint_ec_key(), *rsa = mint_rsa_key();
    char tok[4096];
    snprintf(tok, sizeof tok, "%s", mint_token(HDR, PAY, key, "ES256", 1, NULL));
    check_verifies(tok, other, HY_EBADMSG);
    check_verifies(tok, rsa, HY_EINVAL);

    /* Another payload spliced between the original header and signature. */
    char spliced[4096], pay[512];
    mint_b64((const unsigned char *)"{\"sub\":\"1234567891\"}", 21, pay, 1);
    const char *d1 = strchr(tok, '.');
    snprintf(spliced, sizeof spliced, "%.*s.%s%s", (int)(d1 - tok), tok, pay, strrchr(tok, '.'));
    check_verifies(spliced, key, HY_EBADMSG);
    char *d2 = strrchr(tok, '.');
    d2[5] = d2[5] == 'A' ? 'B' : 'A'; /* signature byte */
    check_verifies(tok, key, HY_EBADMSG);

    /* A short signature is not an ES256 signature. */
    snprintf(tok, sizeof tok, "%s", mint_token(HDR, PAY, key, "ES256", 1, NULL));
    d2 = strrchr(tok, '.');
    snprintf(d2 + 1, 8, "AAAAAAA");
    check_verifies(tok, key, HY_EBADMSG);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    EVP_PKEY_free(rsa);
}

static void test_jwt_rs256_verifies_and_alg_text_is_pinned(void **state)
{
    EVP_PKEY *rsa = mint_rsa_key();
    const char *tok = mint_token("{\"alg\":\"RS256\",\"kid\":\"r\"}", "{\"sub\":\"x\",\"exp\":1}",
                                 rsa, "RS256", 0, NULL);
    check_verifies(tok, rsa, 0);
    static const char *const algs[] = {"none", "HS256", "es256", "ES384", "PS256"};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char hdr[64];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\"}", algs[i]);
        tok = mint_token(hdr, "{}", NULL, "HS256", 0, "secret");
        struct jwt t;
        const char *why = NULL;
        assert_int_equal(jwt_parse(tok, strlen(tok), &t, &why), 0);
        assert_int_equal(t.alg, JWT_ALG_NONE_OR_OTHER);
        assert_int_equal(jwt_verify(&t, rsa), HY_EINVAL);
        jwt_fini(&t);
    }
    EVP_PKEY_free(rsa);
}

static void test_jwt_claim_time_takes_numbers_and_numeric_strings(void **state)
{
    cJSON *o = cJSON_Parse("{\"a\":12,\"b\":\"13\",\"c\":\"x\",\"d\":true,\"e\":\"\"}");
    int64_t v = 0;
    assert_int_equal(jwt_claim_time(o, "a", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(jwt_claim_time(o, "b", &v), 0);
    assert_int_equal(v, 13);
    assert_int_equal(jwt_claim_time(o, "c", &v), HY_EBADMSG);
    assert_int_equal(jwt_claim_time(o, "d", &v), HY_EBADMSG);
    assert_int_equal(jwt_claim_time(o, "e", &v), HY_EBADMSG);
    assert_int_equal(jwt_claim_time(o, "z", &v), HY_ENOTFOUND);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_decoder_takes_padded_unpadded_and_plain_alphabets),
        cmocka_unit_test(test_jwt_decoder_rejects_bad_padding_and_characters),
        cmocka_unit_test(test_jwt_parse_rejects_wrong_shapes),
        cmocka_unit_test(test_jwt_es256_verifies_over_the_padded_segments_as_sent),
        cmocka_unit_test(test_jwt_es256_unpadded_token_verifies),
        cmocka_unit_test(test_jwt_tampering_and_wrong_keys_fail),
        cmocka_unit_test(test_jwt_rs256_verifies_and_alg_text_is_pinned),
        cmocka_unit_test(test_jwt_claim_time_takes_numbers_and_numeric_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
