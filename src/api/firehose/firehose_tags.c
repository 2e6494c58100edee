/*
 * firehose_tags: TagDeliveryStream, UntagDeliveryStream, ListTagsForDeliveryStream, and the two
 * encryption operations (which only tell the truth: nothing is encrypted at rest).
 * Tags live in the catalog as an array of {"Key","Value"} sorted by key (byte order), so
 * listing and paging by ExclusiveStartTagKey are a walk.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "api/firehose/firehose_int.h"
#include "base/err.h"
#include "base/hyassert.h"
#include "base/log.h"
#include "core/catalog.h"

static const char *key_of(const cJSON *tag)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(tag, "Key");
    return cJSON_IsString(k) ? k->valuestring : "";
}

/* Index of key in the sorted array, or -(insertion point) - 1. */
static int find_key(const cJSON *tags, const char *key)
{
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        int c = strcmp(key_of(t), key);
        if (c == 0)
            return i;
        if (c > 0)
            break;
        i++;
    }
    return -i - 1;
}

static int cmp_tag(const void *x, const void *y)
{
    return strcmp(key_of(*(cJSON *const *)x), key_of(*(cJSON *const *)y));
}

/* Re-sort the array by key, relinking its items. (cJSON_InsertItemInArray of Debian's cJSON
 * 1.7.15 fails on parsed arrays, so inserting in place is not an option.) */
static void sort_tags(cJSON *tags)
{
    cJSON *v[FIREHOSE_MAX_TAGS + FIREHOSE_MAX_TAGS];
    size_t n = 0;
    for (cJSON *t = tags->child; t; t = t->next) {
        /* Cannot overflow: firehose_tags_add checked the total against FIREHOSE_MAX_TAGS. */
        HY_ASSERT(n < sizeof v / sizeof v[0]);
        v[n++] = t;
    }
    if (n < 2)
        return;
    qsort(v, n, sizeof v[0], cmp_tag);
    for (size_t i = 0; i < n; i++) {
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
        v[i]->prev = i ? v[i - 1] : v[n - 1]; /* cJSON: the head's prev is the tail */
    }
    tags->child = v[0];
}

/* Firehose: tag keys starting with "aws:" are reserved. */
static int reserved_key(const char *k, struct awsjson_err *e)
{
    if (strncmp(k, "aws:", 4) != 0)
        return 0;
    awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                    "Tag key '%s' is invalid: keys starting with 'aws:' are reserved", k);
    return 1;
}

int firehose_tags_add(cJSON *tags, const cJSON *list, struct awsjson_err *e)
{
    const cJSON *t;
    int added = 0;
    cJSON_ArrayForEach(t, list)
    {
        const char *k = key_of(t);
        if (reserved_key(k, e))
            return -1;
        /* Count keys new to the stream once, even if repeated in the request. */
        int dup = 0;
        for (const cJSON *u = list->child; u != t; u = u->next)
            if (strcmp(key_of(u), k) == 0)
                dup = 1;
        if (!dup && find_key(tags, k) < 0)
            added++;
    }
    if (cJSON_GetArraySize(tags) + added > FIREHOSE_MAX_TAGS) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "LimitExceededException",
                        "A delivery stream can have at most %d tags", FIREHOSE_MAX_TAGS);
        return -1;
    }
    cJSON_ArrayForEach(t, list)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "Value");
        cJSON *n = cJSON_CreateObject();
        if (!n || !cJSON_AddStringToObject(n, "Key", key_of(t)) ||
            !cJSON_AddStringToObject(n, "Value", cJSON_IsString(v) ? v->valuestring : "")) {
            cJSON_Delete(n);
            awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "out of memory");
            return -1;
        }
        int i = find_key(tags, key_of(t));
        if (i >= 0)
            cJSON_ReplaceItemInArray(tags, i, n);
        else
            cJSON_AddItemToArray(tags, n);
    }
    sort_tags(tags);
    return 0;
}

int firehose_tags_remove(cJSON *tags, const cJSON *keys, struct awsjson_err *e)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) if (reserved_key(k->valuestring, e)) return -1;
    cJSON_ArrayForEach(k, keys)
    {
        int i = find_key(tags, k->valuestring);
        if (i >= 0)
            cJSON_DeleteItemFromArray(tags, i);
    }
    return 0;
}

cJSON *firehose_tags_page(const cJSON *tags, const char *exclusive_start, int limit)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "Tags");
    if (!out || !list)
        goto fail;
    int n = 0, more = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        if (exclusive_start && strcmp(key_of(t), exclusive_start) <= 0)
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON *c = cJSON_Duplicate(t, 1);
        if (!c)
            goto fail;
        cJSON_AddItemToArray(list, c);
        n++;
    }
    if (!cJSON_AddBoolToObject(out, "HasMoreTags", more))
        goto fail;
    return out;
fail:
    cJSON_Delete(out);
    return NULL;
}
