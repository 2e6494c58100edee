/* Unit tests for src/auth/oidc.c: the gate's decisions over tokens signed by OpenSSL here, with
 * keys preloaded into its caches; the fetch path against a closed port (outage, single flight,
 * negative cache). The https fetch of real keys is covered by tests/integration/test_auth.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/oidc.h"
#include "base/buf.h"
#include "base/err.h"
#include "jwt_mint.h"

#define SIGNER                                                                                     \
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb/50dc6c495c0c9188"
#define KID "12345678-1234-1234-1234-123456789012"
#define NOW 1800000000LL
#define ISSUER "https://idp.example.com"

static EVP_PKEY *ec_key, *rsa_key;

static int group_setup(void **state)
{
    ec_key = mint_ec_key();
    rsa_key = mint_rsa_key();
    return ec_key && rsa_key ? 0 : -1;
}

static int group_teardown(void **state)
{
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(rsa_key);
    return 0;
}

static struct oidc *gate(int required, const char *domain, const char *key_url)
{
    static const char *const signers[] = {SIGNER};
    const char *domains[] = {domain};
    struct oidc_config c = {
        .signers = signers,
        .nsigners = 1,
        .key_url = key_url ? key_url : "https://keys.example.com/{region}/{kid}",
        .region = "us-east-1",
        .issuer = ISSUER,
        .jwks_url = "https://idp.example.com/jwks",
        .audience = "client-1",
        .auth_required = required,
        .valid_domains = domains,
        .ndomains = domain ? 1 : 0,
        .fetch_timeout_ms = 1000,
    };
    struct oidc *og = oidc_new(&c);
    assert_non_null(og);
    assert_int_equal(oidc_key_put(og, 1, KID, ec_key), 0);
    assert_int_equal(oidc_key_put(og, 0, "rsa-1", rsa_key), 0);
    assert_int_equal(oidc_key_put(og, 0, "ec-1", ec_key), 0);
    return og;
}

static char header_buf[1024];

static const char *alb_header(const char *alg, const char *signer, const char *kid, long long exp)
{
    snprintf(header_buf, sizeof header_buf,
             "{\"typ\":\"JWT\",\"kid\":\"%s\",\"alg\":\"%s\",\"iss\":\"%s\",\"client\":\"c\","
             "\"signer\":\"%s\",\"exp\":\"%lld\"}",
             kid, alg, ISSUER, signer, exp);
    return header_buf;
}

#define CLAIMS                                                                                     \
    "{\"sub\":\"1234567890\",\"email\":\"jo@example.com\",\"name\":\"Jo Doe\","                    \
    "\"given_name\":\"Jo\",\"family_name\":\"Doe\",\"picture\":\"https://p.example/jo.png\","      \
    "\"exp\":1800000100,\"iss\":\"https://idp.example.com\"}"

static struct oidc_verdict check_alb(struct oidc *og, const char *tok, const char *identity)
{
    struct oidc_verdict v;
    struct oidc_input in = {.alb_token = tok, .alb_token_len = strlen(tok)};
    if (identity) {
        in.identity = identity;
        in.identity_len = strlen(identity);
    }
    assert_int_equal(oidc_check(og, &in, NOW, &v, NULL, NULL), 0);
    return v;
}

static void test_oidc_valid_alb_token_gives_identity_headers(void **state)
{
    struct oidc *og = gate(1, NULL, NULL);
    const char *tok =
        mint_token(alb_header("ES256", SIGNER, KID, NOW + 60), CLAIMS, ec_key, "ES256", 1, NULL);
    struct oidc_verdict v = check_alb(og, tok, "1234567890");
    assert_int_equal(v.status, 200);
    assert_int_equal(v.reason, OIDC_OK);
    assert_non_null(strstr(v.headers, "X-Auth-Email: jo@example.com\r\n"));
    assert_non_null(strstr(v.headers, "X-Auth-Given-Name: Jo\r\n"));
    assert_non_null(strstr(v.headers, "X-Auth-Family-Name: Doe\r\n"));
    assert_non_null(strstr(v.headers, "X-Auth-Picture: https://p.example/jo.png\r\n"));
    assert_non_null(strstr(v.headers, "X-Auth-Sub: 1234567890\r\n"));
    /* Unpadded segments are accepted too. */
    tok = mint_token(alb_header("ES256", SIGNER, KID, NOW + 60), CLAIMS, ec_key, "ES256", 0, NULL);
    assert_int_equal(check_alb(og, tok, NULL).status, 200);
    oidc_free(og);
}

static void test_oidc_refuses_each_bad_token_with_its_reason(void **state)
{
    struct oidc *og = gate(1, NULL, NULL);
    EVP_PKEY *other = mint_ec_key();
    struct {
        const char *tok;
        enum oidc_reason want;
    } cases[6];
    char toks[6][4096];
    snprintf(
        toks[0], 4096, "%s",
        mint_token(alb_header("ES256", SIGNER, KID, NOW - 61), CLAIMS, ec_key, "ES256", 1, NULL));
    cases[0].want = OIDC_EXPIRED;
    snprintf(toks[1], 4096, "%s",
             mint_token(
                 alb_header("ES256", "arn:aws:elasticloadbalancing:us-east-1:999:x", KID, NOW + 60),
                 CLAIMS, ec_key, "ES256", 1, NULL));
    cases[1].want = OIDC_BAD_SIGNER;
    snprintf(toks[2], 4096, "%s",
             mint_token(alb_header("none", SIGNER, KID, NOW + 60), CLAIMS, NULL, "none", 1, NULL));
    cases[2].want = OIDC_MALFORMED; /* alg none: no signature segment at all */
    snprintf(toks[3], 4096, "%s",
             mint_token(alb_header("HS256", SIGNER, KID, NOW + 60), CLAIMS, NULL, "HS256", 1,
                        "-----BEGIN PUBLIC KEY-----"));
    cases[3].want = OIDC_BAD_ALG;
    snprintf(
        toks[4], 4096, "%s",
        mint_token(alb_header("ES256", SIGNER, KID, NOW + 60), CLAIMS, other, "ES256", 1, NULL));
    cases[4].want = OIDC_BAD_SIGNATURE;
    snprintf(toks[5], 4096, "%s",
             mint_token(alb_header("ES256", SIGNER, "../../etc/passwd", NOW + 60), CLAIMS, ec_key,
                        "ES256", 1, NULL));
    cases[5].want = OIDC_UNKNOWN_KID;
    for (int i = 0; i < 6; i++) {
        struct oidc_verdict v = check_alb(og, toks[i], NULL);
        assert_int_equal(v.reason, cases[i].want);
        assert_int_equal(v.status, 401);
        assert_string_equal(v.headers, "");
    }
    /* Within the leeway still passes. */
    const char *tok =
        mint_token(alb_header("ES256", SIGNER, KID, NOW - 30), CLAIMS, ec_key, "ES256", 1, NULL);
    assert_int_equal(check_alb(og, tok, NULL).status, 200);
    /* The identity header, when sent, must be the token's sub. */
    tok = mint_token(alb_header("ES256", SIGNER, KID, NOW + 60), CLAIMS, ec_key, "ES256", 1, NULL);
    assert_int_equal(check_alb(og, tok, "someone-else").reason, OIDC_IDENTITY_MISMATCH);
    struct oidc_verdict v;
    struct oidc_input none = {0};
    assert_int_equal(oidc_check(og, &none, NOW, &v, NULL, NULL), 0);
    assert_int_equal(v.status, 401);
    assert_int_equal(v.reason, OIDC_MISSING);
    EVP_PKEY_free(other);
    oidc_free(og);
}

static void test_oidc_verified_tokens_are_remembered_until_their_exp(void **state)
{
    struct oidc *og = gate(1, NULL, NULL);
    const char *tok =
        mint_token(alb_header("ES256", SIGNER, KID, NOW + 60), CLAIMS, ec_key, "ES256", 1, NULL);
    struct oidc_verdict v;
    struct oidc_input in = {.alb_token = tok, .alb_token_len = strlen(tok)};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(oidc_check(og, &in, NOW, &v, NULL, NULL), 0);
        assert_int_equal(v.status, 200);
        assert_non_null(strstr(v.headers, "X-Auth-Sub: 1234567890\r\n"));
    }
    /* Past exp + leeway the cached answer is not used: the token is expired. */
    assert_int_equal(oidc_check(og, &in, NOW + 121, &v, NULL, NULL), 0);
    assert_int_equal(v.reason, OIDC_EXPIRED);
    /* Another identity header is another cache key (and here a mismatch). */
    in.identity = "other";
    in.identity_len = 5;
    assert_int_equal(oidc_check(og, &in, NOW, &v, NULL, NULL), 0);
    assert_int_equal(v.reason, OIDC_IDENTITY_MISMATCH);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(oidc_metrics_render(og, &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_non_null(strstr(b.data, "hydrant_auth_verified_token_cache_hits_total 2\n"));
    buf_fini(&b);
    oidc_free(og);
}

static void test_oidc_valid_domains_and_auth_not_required(void **state)
{
    struct oidc *og = gate(1, "example.org", NULL);
    const char *tok =
        mint_token(alb_header("ES256", SIGNER, KID, NOW + 60), CLAIMS, ec_key, "ES256", 1, NULL);
    struct oidc_verdict v = check_alb(og, tok, NULL);
    assert_int_equal(v.status, 401);
    assert_int_equal(v.reason, OIDC_BAD_DOMAIN);
    assert_string_equal(v.user, "jo@example.com");
    oidc_free(og);

    og = gate(0, "EXAMPLE.com", NULL);
    assert_int_equal(check_alb(og, tok, NULL).status, 200);
    assert_non_null(strstr(check_alb(og, tok, NULL).headers, "X-Auth-Sub"));
    /* Not required: an invalid token passes anonymously, without identity headers. */
    tok =
        mint_token(alb_header("ES256", SIGNER, KID, NOW - 3600), CLAIMS, ec_key, "ES256", 1, NULL);
    v = check_alb(og, tok, NULL);
    assert_int_equal(v.status, 200);
    assert_int_equal(v.reason, OIDC_EXPIRED);
    assert_string_equal(v.headers, "");
    oidc_free(og);
}

static struct oidc_verdict check_bearer(struct oidc *og, const char *tok)
{
    struct oidc_verdict v;
    struct oidc_input in = {.bearer = tok, .bearer_len = strlen(tok)};
    assert_int_equal(oidc_check(og, &in, NOW, &v, NULL, NULL), 0);
    return v;
}

static void test_oidc_bearer_id_tokens_rs256_and_es256(void **state)
{
    struct oidc *og = gate(1, NULL, NULL);
    const char *pay = "{\"iss\":\"" ISSUER "\",\"aud\":[\"x\",\"client-1\"],\"sub\":\"u1\","
                      "\"email\":\"u1@example.com\",\"exp\":1800000100}";
    const char *tok =
        mint_token("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", pay, rsa_key, "RS256", 0, NULL);
    struct oidc_verdict v = check_bearer(og, tok);
    assert_int_equal(v.status, 200);
    assert_non_null(strstr(v.headers, "X-Auth-Sub: u1\r\n"));
    tok = mint_token("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", pay, ec_key, "ES256", 0, NULL);
    assert_int_equal(check_bearer(og, tok).status, 200);
    /* RS256 header over an EC key: the key does not fit the pinned algorithm. */
    tok = mint_token("{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", pay, rsa_key, "RS256", 0, NULL);
    assert_int_equal(check_bearer(og, tok).reason, OIDC_BAD_SIGNATURE);
    tok = mint_token("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
                     "{\"iss\":\"https://evil.example\",\"aud\":\"client-1\",\"sub\":\"u\","
                     "\"exp\":1800000100}",
                     rsa_key, "RS256", 0, NULL);
    assert_int_equal(check_bearer(og, tok).reason, OIDC_BAD_ISSUER);
    tok =
        mint_token("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
                   "{\"iss\":\"" ISSUER "\",\"aud\":\"client-2\",\"sub\":\"u\",\"exp\":1800000100}",
                   rsa_key, "RS256", 0, NULL);
    assert_int_equal(check_bearer(og, tok).reason, OIDC_BAD_AUDIENCE);
    tok = mint_token("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
                     "{\"iss\":\"" ISSUER "\",\"aud\":\"client-1\",\"sub\":\"u\"}", rsa_key,
                     "RS256", 0, NULL);
    assert_int_equal(check_bearer(og, tok).reason, OIDC_EXPIRED);
    oidc_free(og);
}

/* ---- the fetch path: a key URL on a closed port is an outage, asked once */

struct waitbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    struct oidc_verdict last;
};

static void on_done(void *arg, const struct oidc_verdict *v)
{
    struct waitbox *w = arg;
    pthread_mutex_lock(&w->mu);
    w->n++;
    w->last = *v;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_oidc_key_outage_is_503_fetched_once_and_cached_briefly(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/{kid}", closed_port());
    struct oidc *og = gate(1, NULL, url);
    const char *tok = mint_token(alb_header("ES256", SIGNER, "feedface-0000", NOW + 60), CLAIMS,
                                 ec_key, "ES256", 1, NULL);
    struct waitbox w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
    struct oidc_input in = {.alb_token = tok, .alb_token_len = strlen(tok)};
    struct oidc_verdict v;
    pthread_mutex_lock(&w.mu); /* hold the callbacks until both checks are queued */
    assert_int_equal(oidc_check(og, &in, NOW, &v, on_done, &w), 1);
    assert_int_equal(oidc_check(og, &in, NOW, &v, on_done, &w), 1);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (w.n < 2)
        assert_int_equal(pthread_cond_timedwait(&w.cv, &w.mu, &until), 0);
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(w.last.status, 503);
    assert_int_equal(w.last.reason, OIDC_KEY_OUTAGE);
    /* The failure is remembered: answered at once, no new fetch. */
    assert_int_equal(oidc_check(og, &in, NOW, &v, on_done, &w), 0);
    assert_int_equal(v.status, 503);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(oidc_metrics_render(og, &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_non_null(strstr(b.data, "hydrant_auth_key_fetches_total{cache=\"alb\"} 1\n"));
    assert_non_null(
        strstr(b.data, "hydrant_auth_key_cache_negative_hits_total{cache=\"alb\"} 1\n"));
    assert_non_null(strstr(
        b.data, "hydrant_auth_validations_total{result=\"denied\",reason=\"key_outage\"} 3\n"));
    buf_fini(&b);
    oidc_free(og);
}

static void test_oidc_config_refuses_plain_http_and_kid_outside_the_path(void **state)
{
    static const char *const signers[] = {SIGNER};
    struct oidc_config c = {.signers = signers, .nsigners = 1, .key_url = "http://k/{kid}"};
    assert_null(oidc_new(&c));
    c.key_url = "https://{kid}.example.com/x";
    assert_null(oidc_new(&c));
    c.key_url = "https://keys.example.com/nokid";
    assert_null(oidc_new(&c));
    struct oidc_config none = {0};
    assert_null(oidc_new(&none));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oidc_valid_alb_token_gives_identity_headers),
        cmocka_unit_test(test_oidc_refuses_each_bad_token_with_its_reason),
        cmocka_unit_test(test_oidc_verified_tokens_are_remembered_until_their_exp),
        cmocka_unit_test(test_oidc_valid_domains_and_auth_not_required),
        cmocka_unit_test(test_oidc_bearer_id_tokens_rs256_and_es256),
        cmocka_unit_test(test_oidc_key_outage_is_503_fetched_once_and_cached_briefly),
        cmocka_unit_test(test_oidc_config_refuses_plain_http_and_kid_outside_the_path),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
