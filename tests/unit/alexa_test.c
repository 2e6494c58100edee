/*
 * alexa_test: the skill's request verification (spec section 6) with a test CA, an intermediate
 * and signing certificates made by the openssl command in a temporary directory: every URL rule
 * of the spec, the chain (trusted, untrusted, wrong name, expired, garbage), the signature
 * (SHA-256, legacy SHA-1, tampered body, bad base64) and the timestamp window; plus the
 * envelopes of LaunchRequest and SessionEndedRequest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include "api/alexa/alexa_int.h"
#include "base/base64.h"
#include "base/hytime.h"

static char dir[64];

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[2300];
    snprintf(full, sizeof full, "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
    assert_int_equal(system(full), 0);
}

static char *slurp(const char *name, size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char data[8][65536];
    static int k;
    char *d = data[k++ % 8];
    *len = fread(d, 1, 65535, f);
    d[*len] = '\0';
    fclose(f);
    return d;
}

/* A root CA, an intermediate, and leaves: good (SAN echo-api.amazon.com, via the intermediate),
 * wrongsan, and selfish (signed by an unrelated CA). */
static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/alexa_test.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    const char *ext =
        "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=keyCertSign,cRLSign\\n' "
        "> ca.ext";
    sh("%s && printf 'subjectAltName=DNS:echo-api.amazon.com\\n' > good.ext && "
       "printf 'subjectAltName=DNS:wrong.example.com\\n' > wrong.ext",
       ext);
    for (int i = 0; i < 2; i++) {
        const char *ca = i ? "other" : "root";
        sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s.key -out %s.pem -days 2 "
           "-subj /CN=%s -addext basicConstraints=critical,CA:TRUE "
           "-addext keyUsage=keyCertSign,cRLSign",
           ca, ca, ca);
    }
    sh("openssl req -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr -subj /CN=inter && "
       "openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 "
       "-extfile ca.ext -out inter.pem");
    const char *leaves[][3] = {{"good", "inter", "good.ext"},
                               {"wrongsan", "inter", "wrong.ext"},
                               {"selfish", "other", "good.ext"}};
    for (int i = 0; i < 3; i++)
        sh("openssl req -newkey rsa:2048 -nodes -keyout %s.key -out %s.csr -subj /CN=%s && "
           "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 1 "
           "-extfile %s -out %s.crt && cat %s.crt inter.pem > %s.chain",
           leaves[i][0], leaves[i][0], leaves[i][0], leaves[i][0], leaves[i][1], leaves[i][1],
           leaves[i][2], leaves[i][0], leaves[i][0], leaves[i][0]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int url_ok(const char *u)
{
    char norm[512];
    return alexa_verify_cert_url(u, strlen(u), NULL, norm, sizeof norm);
}

static void test_cert_url_rules(void **state)
{
    (void)state;
    /* Spec 6.1: accepted. */
    assert_int_equal(url_ok("https://s3.amazonaws.com/echo.api/echo-api-cert.pem"), 0);
    assert_int_equal(url_ok("https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem"), 0);
    assert_int_equal(url_ok("https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem"), 0);
    assert_int_equal(url_ok("HTTPS://S3.AmazonAWS.com/echo.api/./echo-api-cert.pem"), 0);
    /* Spec 6.1: rejected. */
    assert_int_not_equal(url_ok("http://s3.amazonaws.com/echo.api/echo-api-cert.pem"), 0);
    assert_int_not_equal(url_ok("https://notamazon.com/echo.api/echo-api-cert.pem"), 0);
    assert_int_not_equal(url_ok("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem"), 0);
    assert_int_not_equal(url_ok("https://s3.amazonaws.com/invalid.path/echo-api-cert.pem"), 0);
    assert_int_not_equal(url_ok("https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem"), 0);
    /* Dot segments cannot climb out of the prefix; look-alike hosts and userinfo fail. */
    assert_int_not_equal(url_ok("https://s3.amazonaws.com/echo.api/../evil/cert.pem"), 0);
    assert_int_not_equal(url_ok("https://s3.amazonaws.com.evil.com/echo.api/c.pem"), 0);
    assert_int_not_equal(url_ok("https://s3.amazonaws.com@evil.com/echo.api/c.pem"), 0);
    assert_int_not_equal(url_ok("https://s3.amazonaws.com:/echo.api/c.pem"), 0);
    assert_int_not_equal(url_ok("s3.amazonaws.com/echo.api/c.pem"), 0);
    assert_int_not_equal(url_ok(""), 0);
    /* The normalised URL is what gets fetched. */
    char norm[512];
    const char *u = "https://S3.amazonaws.com:443/echo.api/x/../cert.pem";
    assert_int_equal(alexa_verify_cert_url(u, strlen(u), NULL, norm, sizeof norm), 0);
    assert_string_equal(norm, "https://s3.amazonaws.com/echo.api/cert.pem");
    /* A test prefix replaces the rule, and nothing else passes. */
    const char *t = "http://127.0.0.1:9/echo.api/c.pem";
    assert_int_equal(
        alexa_verify_cert_url(t, strlen(t), "http://127.0.0.1:9/echo.api/", norm, sizeof norm), 0);
    assert_int_not_equal(url_ok(t), 0);
    const char *a = "https://s3.amazonaws.com/echo.api/c.pem";
    assert_int_not_equal(
        alexa_verify_cert_url(a, strlen(a), "http://127.0.0.1:9/echo.api/", norm, sizeof norm), 0);
}

static int chain(const char *file, const char *ca, int64_t now_s, EVP_PKEY **key)
{
    size_t len;
    char *pem = slurp(file, &len);
    char cafile[128];
    snprintf(cafile, sizeof cafile, "%s/%s", dir, ca);
    int64_t na = 0;
    const char *reason = NULL;
    int rc = alexa_verify_chain(pem, len, cafile, now_s, key, &na, &reason);
    if (rc == 0) {
        assert_true(na > now_s);
        assert_null(reason);
    } else {
        assert_non_null(reason);
        assert_null(*key);
    }
    return rc;
}

static void test_chain(void **state)
{
    (void)state;
    int64_t now = hytime_now_ms() / 1000;
    EVP_PKEY *key = NULL;
    assert_int_equal(chain("good.chain", "root.pem", now, &key), 0);
    EVP_PKEY_free(key);
    key = NULL;
    /* Wrong SAN, a leaf from an untrusted CA, the leaf without its intermediate. */
    assert_int_not_equal(chain("wrongsan.chain", "root.pem", now, &key), 0);
    assert_int_not_equal(chain("selfish.chain", "root.pem", now, &key), 0);
    assert_int_not_equal(chain("good.crt", "root.pem", now, &key), 0);
    /* Trusting another root only. */
    assert_int_not_equal(chain("good.chain", "other.pem", now, &key), 0);
    /* Expired (3 days on) and not yet valid (a day ago). */
    assert_int_not_equal(chain("good.chain", "root.pem", now + 3 * 86400, &key), 0);
    assert_int_not_equal(chain("good.chain", "root.pem", now - 86400, &key), 0);
    /* Garbage and an empty document. */
    const char *reason = NULL;
    int64_t na;
    assert_int_not_equal(alexa_verify_chain("nope", 4, NULL, now, &key, &na, &reason), 0);
    assert_int_not_equal(alexa_verify_chain("", 0, NULL, now, &key, &na, &reason), 0);
}

static size_t sign(const char *keyfile, const EVP_MD *md, const char *body, char *out)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, keyfile);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t sig[512];
    size_t n = sizeof sig;
    assert_int_equal(EVP_DigestSignInit(c, NULL, md, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(c, sig, &n, (const uint8_t *)body, strlen(body)), 1);
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return base64_encode(sig, n, out);
}

static void test_signature(void **state)
{
    (void)state;
    EVP_PKEY *key = NULL;
    assert_int_equal(chain("good.chain", "root.pem", hytime_now_ms() / 1000, &key), 0);
    const char *body = "{\"version\":\"1.0\",\"request\":{}}";
    char s256[1024], s1[1024], other[1024];
    size_t n256 = sign("good.key", EVP_sha256(), body, s256);
    size_t n1 = sign("good.key", EVP_sha1(), body, s1);
    size_t no = sign("selfish.key", EVP_sha256(), body, other);
    assert_int_equal(alexa_verify_signature(key, s256, n256, 1, body, strlen(body)), 0);
    assert_int_equal(alexa_verify_signature(key, s1, n1, 0, body, strlen(body)), 0);
    /* The wrong hash, a changed byte, another key's signature, bad base64, nothing. */
    assert_int_not_equal(alexa_verify_signature(key, s1, n1, 1, body, strlen(body)), 0);
    assert_int_not_equal(alexa_verify_signature(key, s256, n256, 0, body, strlen(body)), 0);
    const char *tampered = "{\"version\":\"1.1\",\"request\":{}}";
    assert_int_not_equal(alexa_verify_signature(key, s256, n256, 1, tampered, strlen(tampered)), 0);
    assert_int_not_equal(alexa_verify_signature(key, other, no, 1, body, strlen(body)), 0);
    assert_int_not_equal(alexa_verify_signature(key, "!!!!", 4, 1, body, strlen(body)), 0);
    assert_int_not_equal(alexa_verify_signature(key, "", 0, 1, body, strlen(body)), 0);
    EVP_PKEY_free(key);
}

static void test_timestamp(void **state)
{
    (void)state;
    int64_t t = 1714564800000; /* 2024-05-01T12:00:00Z */
    assert_int_equal(alexa_verify_timestamp("2024-05-01T12:00:00Z", t, 150), 0);
    assert_int_equal(alexa_verify_timestamp("2024-05-01T12:02:30Z", t, 150), 0);
    assert_int_equal(alexa_verify_timestamp("2024-05-01T11:57:30.999Z", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp("2024-05-01T12:02:31Z", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp("2024-05-01T11:57:29Z", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp("2024-05-01T12:00:00", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp("2024-05-01 12:00:00Z", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp("2024-05-01T12:00:00.Z", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp("2024-13-01T12:00:00Z", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp("", t, 150), 0);
    assert_int_not_equal(alexa_verify_timestamp(NULL, t, 150), 0);
}

static void test_envelopes(void **state)
{
    (void)state;
    struct alexa_config cfg = {.skill_id = "amzn1.ask.skill.test"};
    struct alexa *ax = alexa_new(&cfg);
    assert_non_null(ax);
    cJSON *launch = cJSON_Parse("{\"version\":\"1.0\",\"request\":{\"type\":\"LaunchRequest\"}}");
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(alexa_answer(ax, launch, &out, &n), 0);
    cJSON *r = cJSON_Parse(out);
    assert_non_null(r);
    const cJSON *resp = cJSON_GetObjectItem(r, "response");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(resp, "shouldEndSession")));
    const char *ssml =
        cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "outputSpeech"), "ssml")->valuestring;
    assert_int_equal(strncmp(ssml, "<speak>", 7), 0);
    assert_non_null(cJSON_GetObjectItem(resp, "reprompt"));
    cJSON_Delete(r);
    cJSON_free(out);
    cJSON_Delete(launch);
    cJSON *ended = cJSON_Parse(
        "{\"request\":{\"type\":\"SessionEndedRequest\",\"reason\":\"USER_INITIATED\"}}");
    assert_int_equal(alexa_answer(ax, ended, &out, &n), 0);
    assert_string_equal(out, "{\"version\":\"1.0\",\"response\":{}}");
    cJSON_free(out);
    cJSON_Delete(ended);
    cJSON *bad = cJSON_Parse("{\"request\":{}}");
    assert_int_not_equal(alexa_answer(ax, bad, &out, &n), 0);
    cJSON_Delete(bad);
    alexa_free(ax);
    /* Production defaults cannot be widened past the spec's hour. */
    struct alexa_config wide = {.skill_id = "x", .tolerance_s = 3601};
    assert_null(alexa_new(&wide));
    struct alexa_config none = {0};
    assert_null(alexa_new(&none));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cert_url_rules), cmocka_unit_test(test_chain),
        cmocka_unit_test(test_signature),      cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_envelopes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
