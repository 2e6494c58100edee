/* libFuzzer target: the SigV4 Authorization-header and presigned-query parsers, and the whole
 * verifier over a request built from the input (path+query, Authorization), never read past their
 * input, and what they accept is well formed. */
#include "auth/creds.h"
#include "auth/sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigv4_auth a;
    const char *why = NULL;
    if (sigv4_parse_header((const char *)data, size, &a, &why) == 0 &&
        (strlen(a.signature) != 64 || strlen(a.date) != 8 || !a.akid[0]))
        abort();
    if (sigv4_parse_query((const char *)data, size, &a, &why) == 0 &&
        (strlen(a.signature) != 64 || a.expires_s < 1))
        abort();

    /* The input split at its first newline: request target, then Authorization value. */
    static struct creds *c;
    if (!c) {
        const char *doc = "[{\"AccessKeyId\":\"AKIDEXAMPLE\",\"SecretAccessKey\":\"s\"}]";
        char err[128];
        if (creds_parse(doc, strlen(doc), &c, err, sizeof err))
            abort();
    }
    const char *nl = memchr(data, '\n', size);
    size_t tl = nl ? (size_t)(nl - (const char *)data) : size;
    const char *auth = nl ? nl + 1 : "";
    size_t al = nl ? size - tl - 1 : 0;
    struct http_header h[3] = {
        {"Host", 4, "localhost", 9},
        {"X-Amz-Date", 10, "20150830T123600Z", 16},
        {"Authorization", 13, auth, al},
    };
    struct http_request r = {.method = "POST",
                             .method_len = 4,
                             .path = tl ? (const char *)data : "/",
                             .path_len = tl ? tl : 1,
                             .headers = h,
                             .num_headers = al ? 3 : 2,
                             .body = "{}",
                             .body_len = 2};
    struct sigv4_config cfg = {.creds = c, .service = "firehose", .s3 = size & 1};
    struct sigv4_result res;
    (void)sigv4_verify(&cfg, &r, 1440938160LL, &res);
    return 0;
}
