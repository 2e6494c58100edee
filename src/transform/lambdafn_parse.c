/*
 * lambdafn_parse: the Lambda transformation event and response (lambdafn.h). The response is
 * parsed with cJSON (Debian's libcjson, as every JSON document in hydrant); what is written here
 * is Firehose's contract on top of it: every input recordId back exactly once, results Ok /
 * Dropped / ProcessingFailed, base64 data, metadata.partitionKeys of strings.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "base/err.h"
#include "base/mem.h"
#include "transform/lambdafn.h"

#define KEYS_MAX (64u * 1024)

void lambdafn_response_init(struct lambdafn_response *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->data, LAMBDAFN_RESPONSE_MAX);
    buf_init(&r->keys, KEYS_MAX);
}

void lambdafn_response_fini(struct lambdafn_response *r)
{
    hy_free(r->items);
    buf_fini(&r->data);
    buf_fini(&r->keys);
    memset(r, 0, sizeof *r);
}

void lambdafn_record_id(uint64_t base, size_t index, char out[LAMBDAFN_ID_LEN + 1])
{
    snprintf(out, LAMBDAFN_ID_LEN + 1, "%020" PRIu64 "%06u", base, (unsigned)(index % 1000000));
}

/* The index of an id of this invocation, or -1. */
static long id_index(const char *id, uint64_t base, size_t n)
{
    char want[LAMBDAFN_ID_LEN + 1];
    if (strlen(id) != LAMBDAFN_ID_LEN)
        return -1;
    long idx = 0;
    for (size_t i = 20; i < LAMBDAFN_ID_LEN; i++) {
        if (id[i] < '0' || id[i] > '9')
            return -1;
        idx = idx * 10 + (id[i] - '0');
    }
    if ((size_t)idx >= n)
        return -1;
    lambdafn_record_id(base, (size_t)idx, want);
    return memcmp(id, want, LAMBDAFN_ID_LEN) == 0 ? idx : -1;
}

/* Ok data and partition keys of one answered record into r; item status set on failure. */
static int item_fill(const cJSON *rec, struct lambdafn_response *r, struct lambdafn_item *it)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(rec, "data");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec, "metadata");
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(meta, "partitionKeys");
    const cJSON *k;
    int rc;
    if (!cJSON_IsString(data)) {
        it->status = LAMBDAFN_INVALID;
        return 0;
    }
    size_t in_len = strlen(data->valuestring), out_len = 0;
    if ((rc = buf_reserve(&r->data, BASE64_DECODED_MAX(in_len) + 1)) < 0)
        return rc == HY_E2BIG ? (it->status = LAMBDAFN_INVALID, 0) : rc;
    if (base64_decode(data->valuestring, in_len, (uint8_t *)r->data.data + r->data.len, &out_len) <
        0) {
        it->status = LAMBDAFN_INVALID;
        return 0;
    }
    it->data_off = r->data.len;
    it->data_len = out_len;
    r->data.len += out_len;
    it->keys_off = r->keys.len;
    if (pk && !cJSON_IsObject(pk)) {
        it->status = LAMBDAFN_INVALID;
        return 0;
    }
    cJSON_ArrayForEach(k, pk)
    {
        if (!cJSON_IsString(k) || !k->string || !k->string[0]) {
            it->status = LAMBDAFN_INVALID;
            return 0;
        }
        if ((rc = buf_append(&r->keys, k->string, strlen(k->string) + 1)) < 0 ||
            (rc = buf_append(&r->keys, k->valuestring, strlen(k->valuestring) + 1)) < 0)
            return rc == HY_E2BIG ? (it->status = LAMBDAFN_INVALID, 0) : rc;
        it->n_keys++;
    }
    it->keys_len = r->keys.len - it->keys_off;
    return 0;
}

int lambdafn_response_parse(const char *text, size_t len, uint64_t base, size_t n,
                            struct lambdafn_response *r, const char **code, const char **message)
{
    int rc = HY_EBADMSG;
    cJSON *root = NULL;
    const cJSON *recs, *rec;
    buf_reset(&r->data);
    buf_reset(&r->keys);
    if (n > r->cap) {
        struct lambdafn_item *items = hy_realloc(r->items, n * sizeof *items);
        if (!items)
            return HY_ENOMEM;
        r->items = items;
        r->cap = n;
    }
    r->n = n;
    if (n)
        memset(r->items, 0, n * sizeof *r->items);
    *code = "Lambda.JsonProcessingException";
    *message = "The Lambda function's response is not valid JSON";
    if (!(root = cJSON_ParseWithLength(text, len)))
        goto out;
    recs = cJSON_GetObjectItemCaseSensitive(root, "records");
    if (!cJSON_IsArray(recs)) {
        if (cJSON_GetObjectItemCaseSensitive(root, "errorMessage")) {
            *code = "Lambda.FunctionError";
            *message =
                "The Lambda function was successfully invoked but it returned an error result.";
        } else {
            *message = "The Lambda function's response has no records array";
        }
        goto out;
    }
    cJSON_ArrayForEach(rec, recs)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "recordId");
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(rec, "result");
        long idx = cJSON_IsString(id) ? id_index(id->valuestring, base, n) : -1;
        if (idx < 0) {
            *code = "Lambda.InvalidRecordId";
            *message = "The Lambda function returned a recordId that was not in its input";
            goto out;
        }
        struct lambdafn_item *it = &r->items[idx];
        if (it->status != LAMBDAFN_MISSING) {
            it->status = LAMBDAFN_DUPLICATE;
            continue;
        }
        if (!cJSON_IsString(res)) {
            it->status = LAMBDAFN_INVALID;
        } else if (strcmp(res->valuestring, "Ok") == 0) {
            it->status = LAMBDAFN_OK;
            if ((rc = item_fill(rec, r, it)) < 0)
                goto out;
            rc = HY_EBADMSG;
        } else if (strcmp(res->valuestring, "Dropped") == 0) {
            it->status = LAMBDAFN_DROPPED;
        } else if (strcmp(res->valuestring, "ProcessingFailed") == 0) {
            it->status = LAMBDAFN_FAILED;
        } else {
            it->status = LAMBDAFN_INVALID;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

size_t lambdafn_event_record_len(size_t len)
{
    return 96 + LAMBDAFN_ID_LEN + BASE64_ENCODED_LEN(len);
}

int lambdafn_event_begin(struct buf *ev, const char *invocation_id, const char *stream_arn,
                         const char *region)
{
    int rc = buf_append_str(ev, "{\"invocationId\":");
    if (rc == 0)
        rc = buf_append_json_str(ev, invocation_id, strlen(invocation_id));
    if (rc == 0)
        rc = buf_append_str(ev, ",\"deliveryStreamArn\":");
    if (rc == 0)
        rc = buf_append_json_str(ev, stream_arn, strlen(stream_arn));
    if (rc == 0)
        rc = buf_append_str(ev, ",\"region\":");
    if (rc == 0)
        rc = buf_append_json_str(ev, region, strlen(region));
    if (rc == 0)
        rc = buf_append_str(ev, ",\"records\":[");
    return rc;
}

int lambdafn_event_add(struct buf *ev, size_t index, uint64_t base, int64_t arrival_ms,
                       const void *data, size_t len)
{
    char id[LAMBDAFN_ID_LEN + 1];
    lambdafn_record_id(base, index, id);
    int rc = buf_reserve(ev, lambdafn_event_record_len(len));
    if (rc < 0)
        return rc;
    rc = buf_printf(
        ev, "%s{\"recordId\":\"%s\",\"approximateArrivalTimestamp\":%" PRId64 ",\"data\":\"",
        index ? "," : "", id, arrival_ms);
    if (rc == 0) {
        ev->len += base64_encode(data, len, ev->data + ev->len);
        rc = buf_append_str(ev, "\"}");
    }
    return rc;
}

int lambdafn_event_end(struct buf *ev)
{
    return buf_append_str(ev, "]}");
}
