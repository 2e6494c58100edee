/* Test helper shared by jwt_test.c and oidc_test.c: keys made and tokens signed with OpenSSL in
 * the test, in the load balancer's padded form or plain JWS form. */
#ifndef HY_TEST_JWT_MINT_H
#define HY_TEST_JWT_MINT_H

#include <stdio.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

/* base64url of in; padded keeps '=' like the load balancer. Returns chars written (NUL added). */
__attribute__((unused)) static size_t mint_b64(const unsigned char *in, size_t len, char *out,
                                               int padded)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[n++] = a[(v >> 18) & 63];
        out[n++] = a[(v >> 12) & 63];
        if (i + 1 < len)
            out[n++] = a[(v >> 6) & 63];
        else if (padded)
            out[n++] = '=';
        if (i + 2 < len)
            out[n++] = a[v & 63];
        else if (padded)
            out[n++] = '=';
    }
    out[n] = '\0';
    return n;
}

__attribute__((unused)) static EVP_PKEY *mint_ec_key(void)
{
    return EVP_EC_gen("P-256");
}

__attribute__((unused)) static EVP_PKEY *mint_rsa_key(void)
{
    return EVP_RSA_gen(2048);
}

/* Sign "header.payload" (JSON texts) with key; alg decides the signature form: "ES256" (R||S),
 * "RS256", "HS256" (hmac_secret as the key), "none" (empty signature). Returns a static token. */
__attribute__((unused)) static const char *mint_token(const char *header, const char *payload,
                                                      EVP_PKEY *key, const char *alg, int padded,
                                                      const char *hmac_secret)
{
    static char tok[16384];
    size_t n = mint_b64((const unsigned char *)header, strlen(header), tok, padded);
    tok[n++] = '.';
    n += mint_b64((const unsigned char *)payload, strlen(payload), tok + n, padded);
    unsigned char sig[1024];
    size_t sl = 0;
    if (strcmp(alg, "ES256") == 0 || strcmp(alg, "RS256") == 0) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char der[1024];
        size_t dl = sizeof der;
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key);
        EVP_DigestSign(ctx, der, &dl, (const unsigned char *)tok, n);
        EVP_MD_CTX_free(ctx);
        if (strcmp(alg, "RS256") == 0) {
            memcpy(sig, der, dl);
            sl = dl;
        } else {
            const unsigned char *p = der;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
            BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
            ECDSA_SIG_free(es);
            sl = 64;
        }
    } else if (strcmp(alg, "HS256") == 0 && hmac_secret) {
        unsigned int hl = 0;
        HMAC(EVP_sha256(), hmac_secret, (int)strlen(hmac_secret), (const unsigned char *)tok, n,
             sig, &hl);
        sl = hl;
    }
    tok[n++] = '.';
    if (sl)
        mint_b64(sig, sl, tok + n, padded);
    else
        tok[n] = '\0';
    return tok;
}

#endif
