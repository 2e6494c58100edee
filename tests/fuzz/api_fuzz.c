/*
 * api_fuzz: Firehose request bodies through every operation's parse + validate path and the
 * pure business rules behind it (destinations, update merge, tags, put decoding). No sockets,
 * no disk. The first input byte picks the operation; the rest is the body.
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/api_fuzz.c <src objs> -lcjson
 */
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "base/mem.h"
#include "stream/catalog.h"

static const char existing_dest[] =
    "{\"Kind\":\"ExtendedS3\",\"RoleARN\":\"arn:aws:iam::123456789012:role/r\","
    "\"BucketARN\":\"arn:aws:s3:::b\",\"BufferingHints\":{\"SizeInMBs\":5,"
    "\"IntervalInSeconds\":300},\"CompressionFormat\":\"UNCOMPRESSED\"}";
static const char existing_tags[] =
    "[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"m\",\"Value\":\"\"}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        catalog_json_init();
        init = 1;
    }
    if (size < 1)
        return 0;
    enum api_op op = (enum api_op)(data[0] % API_OP_COUNT);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    /* Error paths get fuzzed too: an occasional allocation fails. */
    hy_mem_fail_random(data[0] >= 0xf0 ? 64 : 0);
    struct api_err e;
    api_err_init(&e);
    cJSON *root = NULL;
    if (api_valid_request(op, body, len, &root, &e) == 0) {
        cJSON *d = NULL, *cur = NULL, *tags = NULL, *page = NULL;
        struct api_put_recs r;
        switch (op) {
        case API_OP_PUT_RECORD:
        case API_OP_PUT_RECORD_BATCH:
            if (api_put_decode(root, op == API_OP_PUT_RECORD_BATCH, &r, &e) == 0)
                api_put_recs_fini(&r);
            break;
        case API_OP_CREATE:
            if (api_dest_from_create(root, &d, &e) == 0) {
                cJSON *dests = cJSON_CreateArray();
                if (dests)
                    api_dest_describe(d, dests);
                cJSON_Delete(dests);
            }
            break;
        case API_OP_UPDATE:
            cur = cJSON_Parse(existing_dest);
            if (cur)
                api_dest_update(cur, root, &d, &e);
            break;
        case API_OP_TAG:
        case API_OP_UNTAG:
        case API_OP_LIST_TAGS:
            tags = cJSON_Parse(existing_tags);
            if (!tags)
                break;
            if (op == API_OP_TAG)
                api_tags_add(tags, cJSON_GetObjectItemCaseSensitive(root, "Tags"), &e);
            else if (op == API_OP_UNTAG)
                api_tags_remove(tags, cJSON_GetObjectItemCaseSensitive(root, "TagKeys"), &e);
            else {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "ExclusiveStartTagKey");
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "Limit");
                page = api_tags_page(tags, cJSON_IsString(k) ? k->valuestring : NULL,
                                     cJSON_IsNumber(l) ? l->valueint : API_MAX_TAGS);
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
    api_err_fini(&e);
    return 0;
}
