/*
 * kinesis_fuzz: Kinesis request bodies through the front's parser and the member checks every
 * operation runs (stream name or ARN, strings with patterns, integers, sequence numbers, hash
 * keys), as the handlers call them. No sockets, no disk. The first input byte picks the
 * operation's member set; the rest is the body. Whatever is accepted must hold the invariants
 * the handlers rely on (a 1-128 character name matching the pattern, in-range integers).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/kinesis/kinesis_int.h"
#include "core/catalog.h"
#include "core/datastream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *n, size_t len)
{
    if (len < 1 || len > DATASTREAM_NAME_MAX)
        abort();
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    catalog_json_init();
    int op = data[0] % 4;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    if (kinesis_codec_parse(body, len, &root, &e) == 0) {
        if (!cJSON_IsObject(root))
            abort();
        const char *name = NULL;
        size_t nl = 0;
        if (kinesis_codec_stream_name(root, &name, &nl, &e) == 0)
            check_name(name, nl);
        struct awsjson_err e2;
        awsjson_err_init(&e2);
        const cJSON *lim = kinesis_codec_int(root, "Limit", "limit", 1, 10000, 0, &e2);
        const cJSON *pk =
            kinesis_codec_str(root, "PartitionKey", "partitionKey", 1, 256, NULL, op == 0, &e2);
        const cJSON *eh = kinesis_codec_str(root, "ExplicitHashKey", "explicitHashKey", 0, 4096,
                                            "0|([1-9]\\d{0,38})", 0, &e2);
        const cJSON *sq =
            kinesis_codec_str(root, "StartingSequenceNumber", "startingSequenceNumber", 0, 4096,
                              "0|([1-9]\\d{0,128})", 0, &e2);
        if (!awsjson_err_done(&e2)) {
            if (lim && (lim->valuedouble < 1 || lim->valuedouble > 10000))
                abort();
            if (pk) {
                size_t n = strlen(pk->valuestring);
                if (n < 1 || kinesis_codec_hash(pk->valuestring, n) == 0xdead)
                    (void)0;
            }
            if (eh) {
                unsigned __int128 v;
                /* The pattern allows up to 39 digits; the range check is the parser's. */
                (void)datastream_u128_parse(eh->valuestring, strlen(eh->valuestring), &v);
            }
            if (sq) {
                uint64_t v;
                uint32_t idx;
                (void)kinesis_codec_seq_parse(sq->valuestring, strlen(sq->valuestring),
                                              (uint64_t)op, &v, &idx);
            }
        }
        awsjson_err_fini(&e2);
    } else if (!e.type) {
        abort(); /* a refusal always says why */
    }
    cJSON_Delete(root);
    awsjson_err_fini(&e);
    return 0;
}
