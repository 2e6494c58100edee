/*
 * firehose_fuzz: Firehose request bodies through every operation's parse + validate path and the
 * pure business rules behind it (destinations, update merge, tags, put decoding). No sockets,
 * no disk. The first input byte picks the operation; the rest is the body.
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/firehose_fuzz.c <src objs>
 * -lcjson
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/firehose/firehose_int.h"
#include "base/mem.h"
#include "core/catalog.h"

static const char existing_dest[] =
    "{\"Kind\":\"ExtendedS3\",\"RoleARN\":\"arn:aws:iam::123456789012:role/r\","
    "\"BucketARN\":\"arn:aws:s3:::b\",\"BufferingHints\":{\"SizeInMBs\":5,"
    "\"IntervalInSeconds\":300},\"CompressionFormat\":\"UNCOMPRESSED\"}";
static const char existing_tags[] =
    "[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"m\",\"Value\":\"\"}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 if a string value in the tree holds a NUL (the validator's valueint mark). */
static int holds_nul(const cJSON *n)
{
    if (cJSON_IsString(n) && n->valueint > 0)
        return 1;
    for (const cJSON *c = n->child; c; c = c->next)
        if (holds_nul(c))
            return 1;
    return 0;
}

/* A copy of body where, after every quote, the next input byte picks a hostile insertion: a
 * \u0000 escape, raw 0xff/0xfe bytes, a lone high or low surrogate escape, an overlong or
 * truncated UTF-8 sequence, a valid pair, or nothing. So every string member (names and values,
 * of every operation) meets NUL and invalid UTF-8 in any position the corpus reaches. */
static char *mutate(const char *body, size_t len, size_t *out_len)
{
    static const char *const inject[] = {
        "\\u0000",      "\xff\xfe",       "\\ud800",  "\\udc00x", "\xc0\xaf", "\xe2\x82",
        "\xed\xa0\x80", "\\ud83d\\ude00", "\xc3\xa9", "",         "",         ""};
    const size_t k = sizeof inject / sizeof inject[0];
    char *o = hy_malloc(len * 14 + 1);
    if (!o)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        o[n++] = body[i];
        if (body[i] == '"' && i + 1 < len) {
            const char *x = inject[(unsigned char)body[i + 1] % k];
            size_t xl = strlen(x);
            memcpy(o + n, x, xl);
            n += xl;
        }
    }
    *out_len = n;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        catalog_json_init();
        init = 1;
    }
    if (size < 1)
        return 0;
    enum firehose_op op = (enum firehose_op)(data[0] % FIREHOSE_OP_COUNT);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    /* Bit 4 of the first byte: inject hostile text into the string values (mutate). */
    char *mutated = NULL;
    if (data[0] & 0x10) {
        mutated = mutate(body, len, &len);
        if (!mutated)
            return 0;
        body = mutated;
    }
    /* Error paths get fuzzed too: an occasional allocation fails. */
    hy_mem_fail_random(data[0] >= 0xf0 ? 64 : 0);
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    if (firehose_valid_request(op, body, len, &root, &e) == 0) {
        /* Invariants of an accepted body: well-formed UTF-8 with paired surrogates, and no
         * string that a NUL would cut short once validation has nothing pending. */
        const char *why = NULL;
        if (awsjson_text_check(body, len, NULL, &why) != 0)
            abort();
        if (!e.nvalid && holds_nul(root))
            abort();
        cJSON *d = NULL, *cur = NULL, *tags = NULL, *page = NULL;
        struct firehose_put_recs r;
        switch (op) {
        case FIREHOSE_OP_PUT_RECORD:
        case FIREHOSE_OP_PUT_RECORD_BATCH:
            if (firehose_put_decode(root, op == FIREHOSE_OP_PUT_RECORD_BATCH, &r, &e) == 0)
                firehose_put_recs_fini(&r);
            break;
        case FIREHOSE_OP_CREATE:
            if (firehose_dest_from_create(root, &d, &e) == 0) {
                cJSON *dests = cJSON_CreateArray();
                if (dests)
                    firehose_dest_describe(d, dests);
                cJSON_Delete(dests);
            }
            break;
        case FIREHOSE_OP_UPDATE:
            cur = cJSON_Parse(existing_dest);
            if (cur)
                firehose_dest_update(cur, root, &d, &e);
            break;
        case FIREHOSE_OP_TAG:
        case FIREHOSE_OP_UNTAG:
        case FIREHOSE_OP_LIST_TAGS:
            tags = cJSON_Parse(existing_tags);
            if (!tags)
                break;
            if (op == FIREHOSE_OP_TAG)
                firehose_tags_add(tags, cJSON_GetObjectItemCaseSensitive(root, "Tags"), &e);
            else if (op == FIREHOSE_OP_UNTAG)
                firehose_tags_remove(tags, cJSON_GetObjectItemCaseSensitive(root, "TagKeys"), &e);
            else {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "ExclusiveStartTagKey");
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "Limit");
                page = firehose_tags_page(tags, cJSON_IsString(k) ? k->valuestring : NULL,
                                          cJSON_IsNumber(l) ? l->valueint : FIREHOSE_MAX_TAGS);
            }
            break;
        default:
            break;
        }
        cJSON_Delete(page);
        cJSON_Delete(tags);
        cJSON_Delete(cur);
        cJSON_Delete(d);
        cJSON_Delete(root);
    }
    hy_mem_fail_random(0);
    awsjson_err_fini(&e);
    hy_free(mutated);
    return 0;
}
