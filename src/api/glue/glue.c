/*
 * glue: the catalog front and its store (see glue.h). Errors use Glue's types and wording:
 * EntityNotFoundException ("Database x not found." / "Table x not found."),
 * AlreadyExistsException ("Database already exists." / "Table already exists."),
 * InvalidInputException for members the model forbids or requires.
 */
#include "api/glue/glue.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/awsjson/awsjson.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "base/mem.h"
#include "net/http.h"

#define GLUE_FILE_MAX (64u << 20)
#define GLUE_NAME_MAX 255

struct glue {
    pthread_mutex_t mu;
    char *dir;
    char account[32];
    cJSON *dbs; /* object: name -> {"Database": {...}, "Tables": {name -> table}} */
};

/* ---------------------------------------------------------------- store */

static int db_path(const struct glue *g, const char *name, char *out, size_t len)
{
    size_t n = strlen(g->dir), nl = strlen(name);
    if (n + 1 + 2 * nl + 6 >= len)
        return HY_E2BIG;
    memcpy(out, g->dir, n);
    out[n++] = '/';
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nl; i++) {
        out[n++] = hex[(unsigned char)name[i] >> 4];
        out[n++] = hex[(unsigned char)name[i] & 15];
    }
    memcpy(out + n, ".json", 6);
    return 0;
}

static int db_save(struct glue *g, const char *name)
{
    char path[4096];
    int rc = db_path(g, name, path, sizeof path);
    if (rc)
        return rc;
    cJSON *d = cJSON_GetObjectItemCaseSensitive(g->dbs, name);
    if (!d) {
        if (unlink(path) && errno != ENOENT)
            return -errno;
        return fsutil_fsync_dir(g->dir);
    }
    char *text = cJSON_PrintUnformatted(d);
    if (!text)
        return HY_ENOMEM;
    rc = fsutil_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    return rc;
}

int glue_open(const char *data_dir, const char *account_id, struct glue **out)
{
    int rc = HY_ENOMEM;
    struct glue *g = hy_calloc(1, sizeof *g);
    if (!g)
        return HY_ENOMEM;
    pthread_mutex_init(&g->mu, NULL);
    snprintf(g->account, sizeof g->account, "%s", account_id ? account_id : "000000000000");
    size_t n = strlen(data_dir) + 8;
    g->dir = hy_malloc(n);
    g->dbs = cJSON_CreateObject();
    if (!g->dir || !g->dbs)
        goto fail;
    snprintf(g->dir, n, "%s/glue", data_dir);
    if ((rc = fsutil_mkdirs(g->dir, 0755)))
        goto fail;
    DIR *dir = opendir(g->dir);
    if (!dir) {
        rc = -errno;
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
            continue; /* temp files of an interrupted write are left to the next write */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", g->dir, de->d_name);
        char *text = NULL;
        size_t tl = 0;
        if ((rc = fsutil_read_all(path, &text, &tl, GLUE_FILE_MAX))) {
            closedir(dir);
            goto fail;
        }
        cJSON *d = cJSON_ParseWithLength(text, tl);
        hy_free(text);
        const cJSON *db = cJSON_GetObjectItemCaseSensitive(d, "Database");
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(db, "Name");
        if (!cJSON_IsString(nm) || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, "Tables"))) {
            cJSON_Delete(d);
            closedir(dir);
            rc = HY_EBADMSG;
            goto fail;
        }
        cJSON_AddItemToObject(g->dbs, nm->valuestring, d);
    }
    closedir(dir);
    *out = g;
    return 0;
fail:
    glue_free(g);
    return rc;
}

void glue_free(struct glue *g)
{
    if (!g)
        return;
    cJSON_Delete(g->dbs);
    hy_free(g->dir);
    pthread_mutex_destroy(&g->mu);
    hy_free(g);
}

int glue_table_get(struct glue *g, const char *db, const char *table, cJSON **out)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&g->mu);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(g->dbs, db);
    const cJSON *t =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "Tables"), table);
    if (t) {
        *out = cJSON_Duplicate(t, 1);
        rc = *out ? 0 : HY_ENOMEM;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* ---------------------------------------------------------------- helpers */

/* InvalidInputException "<member> <problem>". */
static void bad_input(struct http_exchange *ex, const char *member, const char *problem)
{
    awsjson_reply_errorf(ex, 400, "InvalidInputException", "%s %s", member, problem);
}

static void not_found(struct http_exchange *ex, const char *what, const char *name)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s %.255s not found.", what, name);
    awsjson_reply_errorf(ex, 400, "EntityNotFoundException", "%s", msg);
}

/* A name member: a string of 1..255 characters, returned lower-cased (Glue stores names so). */
static int get_name(struct http_exchange *ex, const cJSON *obj, const char *member, char *out)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, member);
    if (!cJSON_IsString(n)) {
        bad_input(ex, member, "is required.");
        return -1;
    }
    size_t l = strlen(n->valuestring);
    if (l < 1 || awsjson_utf16_len(n->valuestring, l) > GLUE_NAME_MAX) {
        awsjson_reply_errorf(ex, 400, "InvalidInputException",
                             "1 validation error detected: Value '%.300s' at '%s' failed to "
                             "satisfy constraint: Member must have length between 1 and 255",
                             n->valuestring, member);
        return -1;
    }
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)n->valuestring[i];
        if (c < 0x20 && c != '\t') {
            bad_input(ex, member, "contains a control character.");
            return -1;
        }
        out[i] = (char)tolower(c);
    }
    out[l] = 0;
    return 0;
}

static double now_s(void)
{
    return (double)(hytime_now_ms() / 1000);
}

/* ---------------------------------------------------------------- databases */

static void op_create_database(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char name[4 * GLUE_NAME_MAX + 1];
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "DatabaseInput");
    if (!cJSON_IsObject(in)) {
        bad_input(ex, "DatabaseInput", "is required.");
        return;
    }
    if (get_name(ex, in, "Name", name))
        return;
    if (cJSON_GetObjectItemCaseSensitive(g->dbs, name)) {
        awsjson_reply_errorf(ex, 400, "AlreadyExistsException", "Database already exists.");
        return;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON *db = cJSON_Duplicate(in, 1);
    if (!d || !db) {
        cJSON_Delete(d);
        cJSON_Delete(db);
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "out of memory");
        return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(db, "Name", cJSON_CreateString(name));
    cJSON_AddNumberToObject(db, "CreateTime", now_s());
    cJSON_AddStringToObject(db, "CatalogId", g->account);
    cJSON_AddItemToObject(d, "Database", db);
    cJSON_AddItemToObject(d, "Tables", cJSON_CreateObject());
    cJSON_AddItemToObject(g->dbs, name, d);
    int rc = db_save(g, name);
    if (rc) {
        cJSON_DeleteItemFromObjectCaseSensitive(g->dbs, name);
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "could not store: %s",
                             hy_strerror(rc));
        return;
    }
    awsjson_reply_cjson(ex, cJSON_CreateObject());
}

static cJSON *find_db(struct glue *g, struct http_exchange *ex, const cJSON *root,
                      const char *member, char *name)
{
    if (get_name(ex, root, member, name))
        return NULL;
    cJSON *d = cJSON_GetObjectItemCaseSensitive(g->dbs, name);
    if (!d)
        not_found(ex, "Database", name);
    return d;
}

static void op_get_database(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char name[4 * GLUE_NAME_MAX + 1];
    cJSON *d = find_db(g, ex, root, "Name", name);
    if (!d)
        return;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "Database",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(d, "Database"), 1));
    awsjson_reply_cjson(ex, r);
}

static void op_get_databases(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(r, "DatabaseList");
    const cJSON *d;
    cJSON_ArrayForEach(d, g->dbs)
    {
        cJSON_AddItemToArray(list,
                             cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(d, "Database"), 1));
    }
    awsjson_reply_cjson(ex, r);
}

static void op_delete_database(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char name[4 * GLUE_NAME_MAX + 1];
    cJSON *d = find_db(g, ex, root, "Name", name);
    if (!d)
        return;
    cJSON *held = cJSON_DetachItemViaPointer(g->dbs, d);
    int rc = db_save(g, name);
    if (rc) {
        cJSON_AddItemToObject(g->dbs, name, held);
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "could not store: %s",
                             hy_strerror(rc));
        return;
    }
    cJSON_Delete(held);
    awsjson_reply_cjson(ex, cJSON_CreateObject());
}

/* ---------------------------------------------------------------- tables */

/* The stored form of a TableInput: the input's members, the lower-cased name, and the members
 * Glue adds. */
static cJSON *table_doc(const cJSON *in, const char *db, const char *name, const char *account,
                        double create_time, int version)
{
    cJSON *t = cJSON_Duplicate(in, 1);
    if (!t)
        return NULL;
    cJSON_ReplaceItemInObjectCaseSensitive(t, "Name", cJSON_CreateString(name));
    cJSON_DeleteItemFromObjectCaseSensitive(t, "DatabaseName");
    cJSON_AddStringToObject(t, "DatabaseName", db);
    cJSON_AddNumberToObject(t, "CreateTime", create_time);
    cJSON_AddNumberToObject(t, "UpdateTime", now_s());
    cJSON_AddBoolToObject(t, "IsRegisteredWithLakeFormation", 0);
    cJSON_AddStringToObject(t, "CatalogId", account);
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    cJSON_AddStringToObject(t, "VersionId", v);
    return t;
}

static int table_input(struct http_exchange *ex, const cJSON *root, const cJSON **in, char *name)
{
    *in = cJSON_GetObjectItemCaseSensitive(root, "TableInput");
    if (!cJSON_IsObject(*in)) {
        bad_input(ex, "TableInput", "is required.");
        return -1;
    }
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(*in, "StorageDescriptor");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(sd, "Columns"), *c;
    if (sd && !cJSON_IsObject(sd)) {
        bad_input(ex, "StorageDescriptor", "must be an object.");
        return -1;
    }
    cJSON_ArrayForEach(c, cols)
    {
        char cn[4 * GLUE_NAME_MAX + 1];
        if (get_name(ex, c, "Name", cn))
            return -1;
    }
    return get_name(ex, *in, "Name", name);
}

static void op_create_table(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char db[4 * GLUE_NAME_MAX + 1], name[4 * GLUE_NAME_MAX + 1];
    const cJSON *in;
    cJSON *d = find_db(g, ex, root, "DatabaseName", db);
    if (!d || table_input(ex, root, &in, name))
        return;
    cJSON *tables = cJSON_GetObjectItemCaseSensitive(d, "Tables");
    if (cJSON_GetObjectItemCaseSensitive(tables, name)) {
        awsjson_reply_errorf(ex, 400, "AlreadyExistsException", "Table already exists.");
        return;
    }
    cJSON *t = table_doc(in, db, name, g->account, now_s(), 0);
    if (!t) {
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "out of memory");
        return;
    }
    cJSON_AddItemToObject(tables, name, t);
    int rc = db_save(g, db);
    if (rc) {
        cJSON_DeleteItemFromObjectCaseSensitive(tables, name);
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "could not store: %s",
                             hy_strerror(rc));
        return;
    }
    awsjson_reply_cjson(ex, cJSON_CreateObject());
}

static void op_update_table(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char db[4 * GLUE_NAME_MAX + 1], name[4 * GLUE_NAME_MAX + 1];
    const cJSON *in;
    cJSON *d = find_db(g, ex, root, "DatabaseName", db);
    if (!d || table_input(ex, root, &in, name))
        return;
    cJSON *tables = cJSON_GetObjectItemCaseSensitive(d, "Tables");
    cJSON *old = cJSON_GetObjectItemCaseSensitive(tables, name);
    if (!old) {
        not_found(ex, "Table", name);
        return;
    }
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(old, "CreateTime");
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(old, "VersionId");
    int version = cJSON_IsString(ov) ? (int)strtol(ov->valuestring, NULL, 10) + 1 : 1;
    cJSON *t = table_doc(in, db, name, g->account, cJSON_IsNumber(ct) ? ct->valuedouble : now_s(),
                         version);
    if (!t) {
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "out of memory");
        return;
    }
    cJSON *prev = cJSON_DetachItemViaPointer(tables, old);
    cJSON_AddItemToObject(tables, name, t);
    int rc = db_save(g, db);
    if (rc) {
        cJSON_DeleteItemFromObjectCaseSensitive(tables, name);
        cJSON_AddItemToObject(tables, name, prev);
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "could not store: %s",
                             hy_strerror(rc));
        return;
    }
    cJSON_Delete(prev);
    awsjson_reply_cjson(ex, cJSON_CreateObject());
}

static void op_get_table(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char db[4 * GLUE_NAME_MAX + 1], name[4 * GLUE_NAME_MAX + 1];
    cJSON *d = find_db(g, ex, root, "DatabaseName", db);
    if (!d || get_name(ex, root, "Name", name))
        return;
    const cJSON *t =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "Tables"), name);
    if (!t) {
        not_found(ex, "Table", name);
        return;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "Table", cJSON_Duplicate(t, 1));
    awsjson_reply_cjson(ex, r);
}

static void op_get_tables(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char db[4 * GLUE_NAME_MAX + 1];
    cJSON *d = find_db(g, ex, root, "DatabaseName", db);
    if (!d)
        return;
    cJSON *r = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(r, "TableList");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "Tables"))
    {
        cJSON_AddItemToArray(list, cJSON_Duplicate(t, 1));
    }
    awsjson_reply_cjson(ex, r);
}

static void op_delete_table(struct glue *g, struct http_exchange *ex, const cJSON *root)
{
    char db[4 * GLUE_NAME_MAX + 1], name[4 * GLUE_NAME_MAX + 1];
    cJSON *d = find_db(g, ex, root, "DatabaseName", db);
    if (!d || get_name(ex, root, "Name", name))
        return;
    cJSON *tables = cJSON_GetObjectItemCaseSensitive(d, "Tables");
    cJSON *t = cJSON_GetObjectItemCaseSensitive(tables, name);
    if (!t) {
        not_found(ex, "Table", name);
        return;
    }
    cJSON *held = cJSON_DetachItemViaPointer(tables, t);
    int rc = db_save(g, db);
    if (rc) {
        cJSON_AddItemToObject(tables, name, held);
        awsjson_reply_errorf(ex, 500, "InternalServiceException", "could not store: %s",
                             hy_strerror(rc));
        return;
    }
    cJSON_Delete(held);
    awsjson_reply_cjson(ex, cJSON_CreateObject());
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
    const char *name;
    void (*fn)(struct glue *, struct http_exchange *, const cJSON *);
} ops[] = {
    {"CreateDatabase", op_create_database}, {"GetDatabase", op_get_database},
    {"GetDatabases", op_get_databases},     {"DeleteDatabase", op_delete_database},
    {"CreateTable", op_create_table},       {"GetTable", op_get_table},
    {"GetTables", op_get_tables},           {"UpdateTable", op_update_table},
    {"DeleteTable", op_delete_table},
};

void glue_handle(struct http_exchange *ex, const struct http_request *req, void *ud)
{
    struct glue *g = ud;
    const struct http_header *t = http_request_header(req, "X-Amz-Target");
    static const char pre[] = "AWSGlue.";
    if (req->method_len != 4 || memcmp(req->method, "POST", 4) || !t ||
        t->value_len < sizeof pre - 1 || memcmp(t->value, pre, sizeof pre - 1)) {
        awsjson_reply_errorf(ex, 400, "UnknownOperationException", "%s", "");
        return;
    }
    const char *op = t->value + sizeof pre - 1;
    size_t ol = t->value_len - (sizeof pre - 1);
    size_t i;
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == ol && !memcmp(ops[i].name, op, ol))
            break;
    if (i == sizeof ops / sizeof ops[0]) {
        awsjson_reply_errorf(ex, 400, "UnknownOperationException", "%s", "");
        return;
    }
    const char *reason = NULL;
    cJSON *root = NULL;
    if (awsjson_text_check(req->body, req->body_len, NULL, &reason) ||
        !(root = cJSON_ParseWithLength(req->body, req->body_len)) || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        awsjson_reply_errorf(ex, 400, "SerializationException", "%s",
                             reason ? reason
                                    : "Start of structure or map found where not expected.");
        return;
    }
    pthread_mutex_lock(&g->mu);
    ops[i].fn(g, ex, root);
    pthread_mutex_unlock(&g->mu);
    cJSON_Delete(root);
}
