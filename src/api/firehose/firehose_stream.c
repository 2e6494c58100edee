/*
 * firehose_stream: the control-plane operations (CreateDeliveryStream, DeleteDeliveryStream,
 * DescribeDeliveryStream, ListDeliveryStreams, UpdateDestination, the tag operations and the
 * encryption operations), translated to the service (core/service.h) and its results back into
 * Firehose's answers and errors. Lifecycle rules live in the service; this file only speaks
 * Firehose.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/firehose/firehose_int.h"
#include "base/err.h"
#include "base/log.h"
#include "core/datastream.h"
#include "core/service.h"
#include "deliver/kinsrc.h"

/* ---------------------------------------------------------------- helpers */

static const char *name_of(const cJSON *root)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamName");
    return cJSON_IsString(n) ? n->valuestring : "";
}

static int add_arn(struct firehose *a, cJSON *o, const char *name)
{
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:firehose:%s:%s:deliverystream/%s", a->region, a->account_id,
             name);
    return cJSON_AddStringToObject(o, "DeliveryStreamARN", arn) ? 0 : -1;
}

static void reply_internal(struct http_exchange *ex, const char *what, int rc)
{
    awsjson_reply_errorf(ex, AWSJSON_SERVER, "InternalFailure", "%s: %s", what, hy_strerror(rc));
}

/* What the stream's consumers must accept of a destination (prefix expressions...): 0, or -1
 * with InvalidArgumentException set. */
static int check_dest(struct firehose *a, const cJSON *dest, struct awsjson_err *e)
{
    const char *reason = NULL;
    if (service_dest_check(a->svc, dest, &reason) == 0)
        return 0;
    awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException", "%s",
                    reason ? reason : "Invalid destination");
    return -1;
}

/* KinesisStreamAsSource: the source must be one of hydrant's data streams. */
static int check_source(struct firehose *a, const cJSON *dest, struct awsjson_err *e)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(dest, "Source");
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(src, "KinesisStreamARN");
    if (!cJSON_IsString(arn))
        return 0;
    const char *name;
    size_t len;
    struct datastream *ds = NULL;
    if (kinsrc_arn_name(arn->valuestring, &name, &len) == 0 && a->dreg &&
        datastream_get(a->dreg, name, len, &ds) == 0) {
        datastream_unref(ds);
        return 0;
    }
    /* Firehose checks the stream when it creates the delivery stream. */
    awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                    "Kinesis stream %s does not exist or is not accessible.", arn->valuestring);
    return -1;
}

/* A copy of the named stream's fields, or -1 when an error was answered already. */
static int describe_named(struct firehose *a, struct http_exchange *ex, const cJSON *root,
                          struct service_stream_info *info)
{
    struct service_stream *st = firehose_stream_lookup(a, ex, root);
    if (!st)
        return -1;
    int rc = service_stream_describe(a->svc, st, info);
    service_stream_unref(st);
    if (rc) {
        reply_internal(ex, "could not read the stream", rc);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- encryption input */

/* DeliveryStreamEncryptionConfigurationInput (shape already validated) into *out; out->key_arn
 * borrows from in. 0, or -1 with e set. */
int firehose_enc_from_input(const cJSON *in, struct service_enc *out, struct awsjson_err *e)
{
    const cJSON *kt = cJSON_GetObjectItemCaseSensitive(in, "KeyType");
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(in, "KeyARN");
    memset(out, 0, sizeof *out);
    out->customer = cJSON_IsString(kt) && strcmp(kt->valuestring, "CUSTOMER_MANAGED_CMK") == 0;
    if (out->customer && !cJSON_IsString(arn)) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.");
        return -1;
    }
    if (!out->customer && arn) {
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "KeyARN must not be specified when KeyType is AWS_OWNED_CMK.");
        return -1;
    }
    out->key_arn = out->customer ? arn->valuestring : NULL;
    return 0;
}

static void enc_key_error(struct awsjson_err *e, const struct service_enc *enc, int rc)
{
    if (rc == HY_ENOKEY)
        awsjson_err_set(e, AWSJSON_BAD_REQUEST, "InvalidKMSResourceException",
                        "Key %s was not found: hydrant knows customer keys from its --kms-keys "
                        "file only.",
                        enc->key_arn ? enc->key_arn : "(master)");
    else
        awsjson_err_set(e, AWSJSON_SERVER, "InternalFailure", "could not set up the key: %s",
                        hy_strerror(rc));
}

/* DeliveryStreamEncryptionConfiguration of a description. A key that went missing shows as
 * ENABLING_FAILED with the reason (Firehose: KMS_KEY_NOT_FOUND). 0 or HY_ENOMEM. */
static int add_enc(cJSON *enc, const struct service_stream_info *info)
{
    const char *status = !info->enc_on       ? "DISABLED"
                         : info->enc_failure ? "ENABLING_FAILED"
                                             : "ENABLED";
    if (!cJSON_AddStringToObject(enc, "Status", status))
        return HY_ENOMEM;
    if (!info->enc_on)
        return 0;
    if (!cJSON_AddStringToObject(enc, "KeyType",
                                 info->enc_customer ? "CUSTOMER_MANAGED_CMK" : "AWS_OWNED_CMK") ||
        (info->enc_customer && !cJSON_AddStringToObject(enc, "KeyARN", info->enc_key_arn)))
        return HY_ENOMEM;
    if (info->enc_failure) {
        cJSON *fd = cJSON_AddObjectToObject(enc, "FailureDescription");
        if (!fd || !cJSON_AddStringToObject(fd, "Type", "KMS_KEY_NOT_FOUND") ||
            !cJSON_AddStringToObject(fd, "Details", info->enc_failure))
            return HY_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- CreateDeliveryStream */

void firehose_op_create(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *dest = NULL, *tags = NULL;
    const char *name = name_of(root);
    if (firehose_dest_from_create(root, &dest, &e) || check_dest(a, dest, &e) ||
        check_source(a, dest, &e))
        goto reply;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "Tags");
    tags = cJSON_CreateArray();
    if (!tags) {
        awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "out of memory");
        goto reply;
    }
    if (cJSON_IsArray(list) && firehose_tags_add(tags, list, &e))
        goto reply;
    const cJSON *enc_in =
        cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamEncryptionConfigurationInput");
    struct service_enc enc;
    if (enc_in && firehose_enc_from_input(enc_in, &enc, &e))
        goto reply;
    int rc = service_stream_create_enc(a->svc, name, dest, tags, enc_in ? &enc : NULL);
    dest = tags = NULL; /* the service took them */
    if (rc == HY_ENOKEY)
        enc_key_error(&e, &enc, rc);
    else if (rc == HY_EEXIST)
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                        "Firehose %s under accountId %s already exists", name, a->account_id);
    else if (rc == HY_E2BIG)
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "LimitExceededException",
                        "You have already reached the limit of %zu Firehose streams in account "
                        "%s.",
                        service_max_streams(a->svc), a->account_id);
    else if (rc)
        awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "could not create the stream: %s",
                        hy_strerror(rc));
reply:
    if (e.type) {
        awsjson_reply_err(ex, &e);
    } else {
        cJSON *o = cJSON_CreateObject();
        if (o && add_arn(a, o, name)) {
            cJSON_Delete(o);
            o = NULL;
        }
        awsjson_reply_cjson(ex, o);
    }
    cJSON_Delete(dest);
    cJSON_Delete(tags);
    awsjson_err_fini(&e);
}

/* ---------------------------------------------------------------- DeleteDeliveryStream */

void firehose_op_delete(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct service_stream *st = firehose_stream_lookup(a, ex, root);
    if (!st)
        return;
    int rc = service_stream_delete(a->svc, st);
    service_stream_unref(st);
    if (rc == HY_EBUSY)
        /* Firehose: a stream in CREATING cannot be deleted. */
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                             "Firehose %s is being created; try again later.", name_of(root));
    else if (rc)
        reply_internal(ex, "could not delete the stream", rc);
    else
        awsjson_reply_json(ex, "{}", 2);
}

/* ---------------------------------------------------------------- DescribeDeliveryStream */

/* Firehose: FailureDescription {Type, Details}, present only while a failure is reported (the
 * service keeps it until an operator acknowledges it). 0 or HY_ENOMEM. */
static int add_failure(cJSON *d, const char *details)
{
    if (!details)
        return 0;
    cJSON *fd = cJSON_AddObjectToObject(d, "FailureDescription");
    if (!fd || !cJSON_AddStringToObject(fd, "Type", CATALOG_FAILURE_TYPE) ||
        !cJSON_AddStringToObject(fd, "Details", details))
        return HY_ENOMEM;
    return 0;
}

/* DeliveryStreamType, and Source for a KinesisStreamAsSource stream. 0 or HY_ENOMEM. */
static int add_source(cJSON *d, const cJSON *dest)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(dest, "Source");
    if (!src)
        return cJSON_AddStringToObject(d, "DeliveryStreamType", "DirectPut") ? 0 : HY_ENOMEM;
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(src, "KinesisStreamARN");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(src, "RoleARN");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(src, "DeliveryStartMs");
    cJSON *s = NULL, *k = NULL;
    int ok = cJSON_AddStringToObject(d, "DeliveryStreamType", "KinesisStreamAsSource") &&
             (s = cJSON_AddObjectToObject(d, "Source")) &&
             (k = cJSON_AddObjectToObject(s, "KinesisStreamSourceDescription")) &&
             cJSON_AddStringToObject(k, "KinesisStreamARN",
                                     cJSON_IsString(arn) ? arn->valuestring : "") &&
             cJSON_AddStringToObject(k, "RoleARN", cJSON_IsString(role) ? role->valuestring : "") &&
             cJSON_AddNumberToObject(k, "DeliveryStartTimestamp",
                                     cJSON_IsNumber(ms) ? ms->valuedouble / 1000.0 : 0.0);
    return ok ? 0 : HY_ENOMEM;
}

void firehose_op_describe(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct service_stream_info info;
    if (describe_named(a, ex, root, &info))
        return;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "ExclusiveStartDestinationId");
    char ver[32];
    snprintf(ver, sizeof ver, "%" PRIu64, info.version);
    cJSON *out = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(out, "DeliveryStreamDescription");
    cJSON *enc = NULL, *dests = NULL;
    int ok = d && !!cJSON_AddStringToObject(d, "DeliveryStreamName", info.name) &&
             !add_arn(a, d, info.name) &&
             cJSON_AddStringToObject(d, "DeliveryStreamStatus", catalog_status_name(info.status)) &&
             !add_failure(d, info.failure) &&
             (enc = cJSON_AddObjectToObject(d, "DeliveryStreamEncryptionConfiguration")) &&
             !add_enc(enc, &info) && !add_source(d, info.dest) &&
             cJSON_AddStringToObject(d, "VersionId", ver) &&
             cJSON_AddNumberToObject(d, "CreateTimestamp", (double)info.create_ms / 1000.0) &&
             cJSON_AddNumberToObject(d, "LastUpdateTimestamp", (double)info.update_ms / 1000.0) &&
             (dests = cJSON_AddArrayToObject(d, "Destinations"));
    /* One destination; paging past it (ExclusiveStartDestinationId = its id) gives none. */
    if (ok && !(cJSON_IsString(start) && strcmp(start->valuestring, CATALOG_DESTINATION_ID) == 0))
        ok = firehose_dest_describe(info.dest, dests) == 0;
    if (ok)
        ok = !!cJSON_AddFalseToObject(d, "HasMoreDestinations");
    service_stream_info_fini(&info);
    if (!ok) {
        cJSON_Delete(out);
        out = NULL;
    }
    awsjson_reply_cjson(ex, out);
}

/* ---------------------------------------------------------------- ListDeliveryStreams */

void firehose_op_list(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "Limit");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamType");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "ExclusiveStartDeliveryStreamName");
    /* Firehose: Limit defaults to 10. */
    int limit = cJSON_IsNumber(lim) ? lim->valueint : 10;
    /* Every hydrant stream is DirectPut. */
    int none = cJSON_IsString(type) && strcmp(type->valuestring, "DirectPut") != 0;
    char **v = NULL;
    size_t n = 0;
    if (service_stream_names(a->svc, &v, &n)) {
        awsjson_reply_cjson(ex, NULL);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(out, "DeliveryStreamNames");
    int ok = names != NULL, count = 0, more = 0;
    for (size_t i = 0; ok && !none && i < n; i++) {
        if (cJSON_IsString(start) && strcmp(v[i], start->valuestring) <= 0)
            continue;
        if (count == limit) {
            more = 1;
            break;
        }
        cJSON *x = cJSON_CreateString(v[i]);
        ok = x != NULL;
        if (ok)
            cJSON_AddItemToArray(names, x);
        count++;
    }
    service_names_free(v, n);
    if (ok)
        ok = !!cJSON_AddBoolToObject(out, "HasMoreDeliveryStreams", more);
    if (!ok) {
        cJSON_Delete(out);
        out = NULL;
    }
    awsjson_reply_cjson(ex, out);
}

/* ---------------------------------------------------------------- UpdateDestination */

struct update_ctx {
    struct firehose *a;
    const cJSON *root;
    const char *name;
    const char *dest_id;
    struct awsjson_err *e;
};

/* Runs after the service checked status and version, which AWS checks first too. */
static int update_edit(const cJSON *cur, cJSON **next, void *arg)
{
    struct update_ctx *u = arg;
    if (strcmp(u->dest_id, CATALOG_DESTINATION_ID) != 0) {
        awsjson_err_set(u->e, AWSJSON_BAD_REQUEST, "InvalidArgumentException",
                        "Destination %s not found in Firehose %s; its destination is %s.",
                        u->dest_id, u->name, CATALOG_DESTINATION_ID);
        return HY_EINVAL;
    }
    if (firehose_dest_update(cur, u->root, next, u->e))
        return HY_EINVAL;
    if (check_dest(u->a, *next, u->e)) {
        cJSON_Delete(*next);
        *next = NULL;
        return HY_EINVAL;
    }
    return 0;
}

/* A VersionId as AWS compares it: the text given. Only canonical decimal text can equal a
 * version hydrant printed; anything else (leading zeros, signs) gets 0, which no stream has. */
static uint64_t version_of(const char *s)
{
    uint64_t v = 0;
    if (!s[0] || (s[0] == '0' && s[1]))
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}

void firehose_op_update(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct service_stream *st = firehose_stream_lookup(a, ex, root);
    if (!st)
        return;
    struct awsjson_err e;
    awsjson_err_init(&e);
    /* Validated as required strings. */
    const char *want =
        cJSON_GetObjectItemCaseSensitive(root, "CurrentDeliveryStreamVersionId")->valuestring;
    const char *dest_id = cJSON_GetObjectItemCaseSensitive(root, "DestinationId")->valuestring;
    struct service_stream_info info;
    int have = service_stream_describe(a->svc, st, &info) == 0;
    int rc = HY_ENOMEM;
    struct update_ctx u = {.a = a, .root = root, .name = info.name, .dest_id = dest_id, .e = &e};
    if (have)
        rc = service_stream_update_dest(a->svc, st, version_of(want), update_edit, &u);
    if (rc == HY_ECLOSED)
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                        "Firehose %s is not ACTIVE (status %s).", info.name,
                        catalog_status_name(info.status));
    else if (rc == HY_EVERSION)
        /* Firehose: optimistic concurrency on VersionId. */
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ConcurrentModificationException",
                        "Cannot update Firehose %s: the current version id is %" PRIu64
                        " but the request specified %s.",
                        info.name, info.version, want);
    else if (rc && rc != HY_EINVAL)
        awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "could not persist the update: %s",
                        hy_strerror(rc));
    if (have)
        service_stream_info_fini(&info);
    service_stream_unref(st);
    if (e.type)
        awsjson_reply_err(ex, &e);
    else if (rc)
        reply_internal(ex, "could not update the stream", rc);
    else
        awsjson_reply_json(ex, "{}", 2);
    awsjson_err_fini(&e);
}

/* ---------------------------------------------------------------- tags */

struct tags_ctx {
    const cJSON *root;
    int add;
    struct awsjson_err *e;
};

static int tags_edit(const cJSON *cur, cJSON **next, void *arg)
{
    struct tags_ctx *t = arg;
    cJSON *copy = cJSON_Duplicate(cur, 1);
    if (!copy)
        return HY_ENOMEM;
    int rc = t->add
                 ? firehose_tags_add(copy, cJSON_GetObjectItemCaseSensitive(t->root, "Tags"), t->e)
                 : firehose_tags_remove(copy, cJSON_GetObjectItemCaseSensitive(t->root, "TagKeys"),
                                        t->e);
    if (rc) {
        cJSON_Delete(copy);
        return HY_EINVAL;
    }
    *next = copy;
    return 0;
}

static void change_tags(struct firehose *a, struct http_exchange *ex, const cJSON *root, int add)
{
    struct service_stream *st = firehose_stream_lookup(a, ex, root);
    if (!st)
        return;
    struct awsjson_err e;
    awsjson_err_init(&e);
    struct tags_ctx t = {.root = root, .add = add, .e = &e};
    int rc = service_stream_edit_tags(a->svc, st, tags_edit, &t);
    service_stream_unref(st);
    if (rc == HY_ECLOSED)
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                        "Firehose %s is being deleted", name_of(root));
    else if (rc && rc != HY_EINVAL)
        awsjson_err_set(&e, AWSJSON_SERVER, "InternalFailure", "could not persist the tags: %s",
                        hy_strerror(rc));
    if (e.type)
        awsjson_reply_err(ex, &e);
    else
        awsjson_reply_json(ex, "{}", 2);
    awsjson_err_fini(&e);
}

void firehose_op_tag(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    change_tags(a, ex, root, 1);
}

void firehose_op_untag(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    change_tags(a, ex, root, 0);
}

void firehose_op_list_tags(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct service_stream_info info;
    if (describe_named(a, ex, root, &info))
        return;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "ExclusiveStartTagKey");
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(root, "Limit");
    cJSON *out = firehose_tags_page(info.tags, cJSON_IsString(start) ? start->valuestring : NULL,
                                    cJSON_IsNumber(limit) ? limit->valueint : FIREHOSE_MAX_TAGS);
    service_stream_info_fini(&info);
    awsjson_reply_cjson(ex, out);
}

/* ---------------------------------------------------------------- encryption */

/* Start, or switch keys. The switch is immediate, so the reply comes
 * once Describe shows ENABLED/DISABLED: no caller ever sees ENABLING/DISABLING. */
static void set_encryption(struct firehose *a, struct http_exchange *ex, const cJSON *root,
                           const cJSON *enc_in)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    struct service_enc enc = {0};
    /* Firehose: AWS_OWNED_CMK is the default when the input is left out. */
    if (enc_in && firehose_enc_from_input(enc_in, &enc, &e)) {
        awsjson_reply_err(ex, &e);
        awsjson_err_fini(&e);
        return;
    }
    struct service_stream *st = firehose_stream_lookup(a, ex, root);
    if (!st) {
        awsjson_err_fini(&e);
        return;
    }
    int rc = service_enc_start(a->svc, st, &enc);
    service_stream_unref(st);
    if (rc == HY_ECLOSED)
        awsjson_err_set(&e, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                        "Firehose %s is not ACTIVE.", name_of(root));
    else if (rc)
        enc_key_error(&e, &enc, rc);
    if (e.type)
        awsjson_reply_err(ex, &e);
    else
        awsjson_reply_json(ex, "{}", 2);
    awsjson_err_fini(&e);
}

void firehose_op_start_encryption(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    set_encryption(
        a, ex, root,
        cJSON_GetObjectItemCaseSensitive(root, "DeliveryStreamEncryptionConfigurationInput"));
}

void firehose_op_stop_encryption(struct firehose *a, struct http_exchange *ex, const cJSON *root)
{
    struct service_stream *st = firehose_stream_lookup(a, ex, root);
    if (!st)
        return;
    int rc = service_enc_stop(a->svc, st);
    service_stream_unref(st);
    if (rc == HY_ECLOSED)
        awsjson_reply_errorf(ex, AWSJSON_BAD_REQUEST, "ResourceInUseException",
                             "Firehose %s is not ACTIVE.", name_of(root));
    else if (rc)
        reply_internal(ex, "could not stop encryption", rc);
    else
        awsjson_reply_json(ex, "{}", 2);
}
