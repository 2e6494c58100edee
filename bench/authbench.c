/*
 * authbench: the OIDC gate in-process (bench/auth.sh), single thread. Three rows:
 *   openssl raw   EVP_DigestVerify of one ES256 token (the floor a gate cannot beat cold)
 *   gate cold     oidc_check over distinct tokens (key cached, token never seen: full verify)
 *   gate warm     oidc_check of the same token again (verified-token cache)
 * Tokens are signed here with OpenSSL (tests/unit/jwt_mint.h). Prints markdown rows:
 * checks/s, p50/p99 in microseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/unit/jwt_mint.h"
#include "auth/jwt.h"
#include "auth/oidc.h"

#define SIGNER "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/1"
#define KID "0c7ac5e4-9b1d-4c8e-a9c1-1f0e1d2c3b4a"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void row(const char *label, double *lat, size_t n, double secs)
{
    qsort(lat, n, sizeof *lat, cmp_d);
    printf("| %s | %.0f | %.1f | %.1f |\n", label, n / secs, lat[n / 2] * 1e6,
           lat[(size_t)(n * 0.99)] * 1e6);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000;
    EVP_PKEY *key = mint_ec_key();
    long long exp = (long long)time(NULL) + 3600;
    char header[512], payload[512];
    snprintf(header, sizeof header,
             "{\"typ\":\"JWT\",\"kid\":\"%s\",\"alg\":\"ES256\",\"iss\":\"https://idp\","
             "\"client\":\"c\",\"signer\":\"%s\",\"exp\":\"%lld\"}",
             KID, SIGNER, exp);
    char **toks = calloc(n, sizeof *toks);
    for (size_t i = 0; i < n; i++) {
        snprintf(payload, sizeof payload,
                 "{\"sub\":\"user-%zu\",\"email\":\"u%zu@example.com\",\"given_name\":\"U\","
                 "\"family_name\":\"Ser\",\"exp\":%lld,\"iss\":\"https://idp\"}",
                 i, i, exp);
        toks[i] = strdup(mint_token(header, payload, key, "ES256", 1, NULL));
    }
    double *lat = calloc(n, sizeof *lat);
    printf("| row | checks/s | p50 us | p99 us |\n|---|---|---|---|\n");

    /* openssl raw: verify token 0's signature n times. */
    struct jwt t;
    const char *why;
    jwt_parse(toks[0], strlen(toks[0]), &t, &why);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        double a = now_s();
        if (jwt_verify(&t, key) != 0)
            return 1;
        lat[i] = now_s() - a;
    }
    row("openssl raw P-256 verify (jwt_verify)", lat, n, now_s() - t0);
    jwt_fini(&t);

    static const char *const signers[] = {SIGNER};
    struct oidc_config c = {.signers = signers,
                            .nsigners = 1,
                            .key_url = "https://127.0.0.1:1/{kid}",
                            .auth_required = 1};
    struct oidc *og = oidc_new(&c);
    oidc_key_put(og, 1, KID, key);
    struct oidc_verdict v;
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        struct oidc_input in = {.alb_token = toks[i], .alb_token_len = strlen(toks[i])};
        double a = now_s();
        if (oidc_check(og, &in, (int64_t)time(NULL), &v, NULL, NULL) != 0 || v.status != 200)
            return 1;
        lat[i] = now_s() - a;
    }
    row("gate, cold (distinct tokens, key cached)", lat, n, now_s() - t0);
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        struct oidc_input in = {.alb_token = toks[0], .alb_token_len = strlen(toks[0])};
        double a = now_s();
        if (oidc_check(og, &in, (int64_t)time(NULL), &v, NULL, NULL) != 0 || v.status != 200)
            return 1;
        lat[i] = now_s() - a;
    }
    row("gate, warm (same token again)", lat, n, now_s() - t0);
    oidc_free(og);
    EVP_PKEY_free(key);
    for (size_t i = 0; i < n; i++)
        free(toks[i]);
    free(toks);
    free(lat);
    return 0;
}
