/* anset: validation and defaults of a stream's analytics settings (see anset.h). */
#include "analytics/anset.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics/anjq.h"
#include "analytics/detector.h"
#include "base/err.h"
#include "base/mem.h"

#define NAME_MAX_LEN 64

static const char *const fields[] = {"value",    "key",       "max_keys",      "timestamp",
                                     "detector", "threshold", "target_stream", "webhook"};

static int is_field(const char *k)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i], k) == 0)
            return 1;
    return 0;
}

/* A jq path field: absent (NULL, 0), or a string jq compiles. */
static int jq_field(const cJSON *in, const char *k, int required, char **out, char *err, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, k);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(err, cap, "%s is required (a jq path such as \".cpu\")", k);
            return HY_EINVAL;
        }
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        snprintf(err, cap, "%s must be a non-empty string (a jq path)", k);
        return HY_EINVAL;
    }
    char why[200];
    struct anjq *q = NULL;
    int rc = anjq_compile(v->valuestring, &q, why, sizeof why);
    anjq_free(q);
    if (rc == HY_EINVAL) {
        snprintf(err, cap, "%s is not a valid jq program: %s", k, why);
        return rc;
    }
    if (rc)
        return rc;
    *out = hy_strdup(v->valuestring);
    return *out ? 0 : HY_ENOMEM;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int parse(const cJSON *in, const char *stream, struct anset *s, char *err, size_t cap)
{
    if (!cJSON_IsObject(in)) {
        snprintf(err, cap, "analytics settings must be a JSON object");
        return HY_EINVAL;
    }
    for (const cJSON *it = in->child; it; it = it->next)
        if (!it->string || !is_field(it->string)) {
            snprintf(err, cap,
                     "unknown field '%.64s' (known: value, key, max_keys, timestamp, "
                     "detector, threshold, target_stream, webhook)",
                     it->string ? it->string : "");
            return HY_EINVAL;
        }
    int rc;
    if ((rc = jq_field(in, "value", 1, &s->value, err, cap)) ||
        (rc = jq_field(in, "key", 0, &s->key, err, cap)) ||
        (rc = jq_field(in, "timestamp", 0, &s->timestamp, err, cap)))
        return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, "detector");
    if (v && !cJSON_IsString(v)) {
        snprintf(err, cap, "detector must be a string");
        return HY_EINVAL;
    }
    s->ops = detector_find(v ? v->valuestring : NULL);
    if (!s->ops) {
        char names[256] = "";
        size_t n = 0;
        for (size_t i = 0; i < detector_count && n < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "",
                                  detector_list[i]->name);
        snprintf(err, cap, "unknown detector '%.64s' (streaming detectors: %s)", v->valuestring,
                 names);
        return HY_EINVAL;
    }
    s->threshold = 0.5;
    v = cJSON_GetObjectItemCaseSensitive(in, "threshold");
    if (v) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1)) {
            snprintf(err, cap, "threshold must be a number from 0 to 1");
            return HY_EINVAL;
        }
        s->threshold = v->valuedouble;
    }
    s->max_keys = ANSET_MAX_KEYS_DEFAULT;
    v = cJSON_GetObjectItemCaseSensitive(in, "max_keys");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
            v->valuedouble > ANSET_MAX_KEYS_LIMIT) {
            snprintf(err, cap, "max_keys must be an integer from 1 to %d", ANSET_MAX_KEYS_LIMIT);
            return HY_EINVAL;
        }
        if (!s->key) {
            snprintf(err, cap, "max_keys needs key (a jq path to the series key)");
            return HY_EINVAL;
        }
        s->max_keys = (size_t)v->valuedouble;
    }
    if (!s->key)
        s->max_keys = 1;
    v = cJSON_GetObjectItemCaseSensitive(in, "target_stream");
    if (!cJSON_IsString(v) || !valid_name(v->valuestring)) {
        snprintf(err, cap,
                 "target_stream is required: a stream name ([a-zA-Z0-9_.-], 1 to 64 "
                 "characters)");
        return HY_EINVAL;
    }
    if (stream && strcmp(stream, v->valuestring) == 0) {
        snprintf(err, cap, "target_stream must be another stream (its events would be scored)");
        return HY_EINVAL;
    }
    if (!(s->target = hy_strdup(v->valuestring)))
        return HY_ENOMEM;
    v = cJSON_GetObjectItemCaseSensitive(in, "webhook");
    if (v && !cJSON_IsNull(v)) {
        const char *u = cJSON_IsString(v) ? v->valuestring : "";
        size_t n = strlen(u);
        int scheme = strncmp(u, "http://", 7) == 0 ? 7 : strncmp(u, "https://", 8) == 0 ? 8 : 0;
        if (!scheme || n <= (size_t)scheme || n > ANSET_URL_MAX || strpbrk(u, " \t\r\n")) {
            snprintf(err, cap, "webhook must be an http:// or https:// URL of at most %d bytes",
                     ANSET_URL_MAX);
            return HY_EINVAL;
        }
        if (!(s->webhook = hy_strdup(u)))
            return HY_ENOMEM;
    }
    return 0;
}

static cJSON *normalise(const struct anset *s)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "value", s->value);
    if (ok && s->key)
        ok = cJSON_AddStringToObject(o, "key", s->key) &&
             cJSON_AddNumberToObject(o, "max_keys", (double)s->max_keys);
    if (ok && s->timestamp)
        ok = cJSON_AddStringToObject(o, "timestamp", s->timestamp) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "detector", s->ops->name) &&
         cJSON_AddNumberToObject(o, "threshold", s->threshold) &&
         cJSON_AddStringToObject(o, "target_stream", s->target);
    if (ok && s->webhook)
        ok = cJSON_AddStringToObject(o, "webhook", s->webhook) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int anset_parse(const cJSON *in, const char *stream, struct anset *out, cJSON **norm, char *err,
                size_t cap)
{
    memset(out, 0, sizeof *out);
    if (cap)
        err[0] = '\0';
    int rc = parse(in, stream, out, err, cap);
    if (!rc && norm && !(*norm = normalise(out)))
        rc = HY_ENOMEM;
    if (rc)
        anset_fini(out);
    return rc;
}

void anset_fini(struct anset *s)
{
    hy_free(s->value);
    hy_free(s->key);
    hy_free(s->timestamp);
    hy_free(s->target);
    hy_free(s->webhook);
    memset(s, 0, sizeof *s);
}
