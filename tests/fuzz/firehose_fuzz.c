/*
 * firehose_fuzz: Firehose request bodies through every operation's parse + validate path and the
 * pure business rules behind it (destinations, update merge, tags, put decoding). No sockets,
 * no disk. The first input byte picks the operation; the rest is the body.
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/firehose_fuzz.c <src objs>
 * -lcjson
 */
#include <stddef.h>
#include <stdint.h>

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
    /* Error paths get fuzzed too: an occasional allocation fails. */
    hy_mem_fail_random(data[0] >= 0xf0 ? 64 : 0);
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    if (firehose_valid_request(op, body, len, &root, &e) == 0) {
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
    return 0;
}
