/*
 * alexa_answer: the skill's conversation. Turns a verified request envelope into the response
 * envelope (spec sections 2-4): intents about streams answered from the service's catalog and
 * counters, SSML that reads numbers as numbers, a Simple card, reprompts while the session stays
 * open, and the session attribute "stream" for follow-ups that name no stream.
 */
#include "api/alexa/alexa_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "base/hytime.h"
#include "core/service.h"
#include "core/stats.h"

#define SPEECH_MAX 1024
#define HELP_TEXT                                                                                  \
    "You can ask: list my streams, what is the status of a stream, how many records did a "        \
    "stream receive, how fresh is a stream, or is anything wrong with a stream."
#define REPROMPT "What would you like to know about your streams?"

struct reply {
    char ssml[SPEECH_MAX]; /* inside <speak> */
    char card[SPEECH_MAX]; /* plain text */
    const char *reprompt;  /* NULL: none */
    int end;
    char stream[CATALOG_NAME_MAX + 1]; /* session attribute to keep; "" none */
};

static void say(struct reply *r, const char *ssml, const char *text)
{
    snprintf(r->ssml, sizeof r->ssml, "%s", ssml);
    snprintf(r->card, sizeof r->card, "%s", text);
}

/* A stream name as words: "click-stream_v2" -> "click stream v2" (names are [A-Za-z0-9_.-]). */
static void spoken(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; name[i] && o + 1 < cap; i++)
        out[o++] = isalnum((unsigned char)name[i]) ? name[i] : ' ';
    out[o] = '\0';
}

/* Equal when the letters and digits agree, case ignored: a spoken "click stream" is
 * "click-stream". */
static int same_name(const char *a, const char *b)
{
    for (;;) {
        while (*a && !isalnum((unsigned char)*a))
            a++;
        while (*b && !isalnum((unsigned char)*b))
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
        a++, b++;
    }
}

/* The stream slot's value: the entity-resolution match first (spec 2), else the spoken value. */
static const char *slot_value(const cJSON *intent, const char *slot)
{
    const cJSON *s =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(intent, "slots"), slot);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(s, "resolutions"), "resolutionsPerAuthority");
    const cJSON *auth;
    cJSON_ArrayForEach(auth, res)
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(auth, "status"), "code");
        if (!cJSON_IsString(code) || strcmp(code->valuestring, "ER_SUCCESS_MATCH") != 0)
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(auth, "values"), 0), "value");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
        if (cJSON_IsString(id) && *id->valuestring)
            return id->valuestring;
        if (cJSON_IsString(name) && *name->valuestring)
            return name->valuestring;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "value");
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* Find the stream the user means: the slot, else the session's last stream, else the only
 * stream. 0 and *st (a reference), or the reply is filled with a question and 1 is returned. */
static int pick_stream(struct service *svc, const cJSON *intent, const char *last,
                       struct service_stream **st, struct reply *r)
{
    const char *want = slot_value(intent, "stream");
    char **names = NULL;
    size_t n = 0;
    if (service_stream_names(svc, &names, &n)) {
        say(r, "Sorry, I cannot read the streams right now.",
            "Sorry, I cannot read the streams right now.");
        r->end = 1;
        return 1;
    }
    const char *found = NULL;
    if (!want && last && *last)
        want = last;
    if (!want && n == 1)
        found = names[0];
    for (size_t i = 0; want && !found && i < n; i++)
        if (same_name(want, names[i]))
            found = names[i];
    int rc = 1;
    if (found && service_stream_get(svc, found, strlen(found), st) == 0) {
        snprintf(r->stream, sizeof r->stream, "%s", found);
        rc = 0;
    } else if (n == 0) {
        say(r, "There are no streams yet.", "There are no streams yet.");
        r->reprompt = REPROMPT;
    } else {
        char text[SPEECH_MAX];
        if (want)
            snprintf(text, sizeof text, "I do not know a stream called %.100s. Which stream?",
                     want);
        else
            snprintf(text, sizeof text, "Which stream do you mean?");
        /* The spoken name came from the user: keep it out of the SSML. */
        say(r, want ? "I do not know that stream. Which stream?" : "Which stream do you mean?",
            text);
        r->reprompt = "Which stream? You can say: list my streams.";
    }
    service_names_free(names, n);
    return rc;
}

static void list_streams(struct service *svc, struct reply *r)
{
    char **names = NULL;
    size_t n = 0;
    if (service_stream_names(svc, &names, &n)) {
        say(r, "Sorry, I cannot read the streams right now.",
            "Sorry, I cannot read the streams right now.");
        r->end = 1;
        return;
    }
    char ssml[SPEECH_MAX], card[SPEECH_MAX], w[CATALOG_NAME_MAX + 1];
    int o = snprintf(ssml, sizeof ssml,
                     "You have <say-as interpret-as=\"cardinal\">%zu</say-as> "
                     "stream%s%s",
                     n, n == 1 ? "" : "s", n ? ": " : ".");
    int c = snprintf(card, sizeof card, "%zu stream%s%s", n, n == 1 ? "" : "s", n ? ":" : ".");
    for (size_t i = 0; i < n && o > 0 && (size_t)o < sizeof ssml - 100; i++) {
        if (i == 10) {
            o += snprintf(ssml + o, sizeof ssml - (size_t)o, ", and %zu more", n - 10);
            break;
        }
        spoken(names[i], w, sizeof w);
        o += snprintf(ssml + o, sizeof ssml - (size_t)o, "%s%s%s",
                      i == 0 ? "" : (i + 1 == n ? ", and " : ", "), w, i + 1 == n ? "." : "");
    }
    for (size_t i = 0; i < n && c > 0 && (size_t)c < sizeof card - 80; i++)
        c += snprintf(card + c, sizeof card - (size_t)c, "\n%s", names[i]);
    say(r, ssml, card);
    r->reprompt = REPROMPT;
    service_names_free(names, n);
}

static const char *status_word(enum catalog_status s)
{
    switch (s) {
    case CATALOG_STATUS_CREATING:
        return "being created";
    case CATALOG_STATUS_DELETING:
        return "being deleted";
    default:
        return "active";
    }
}

static void stream_status(struct service *svc, struct service_stream *st, struct reply *r)
{
    struct service_stream_info info;
    char w[CATALOG_NAME_MAX + 1], ssml[SPEECH_MAX], card[SPEECH_MAX];
    if (service_stream_describe(svc, st, &info)) {
        say(r, "Sorry, I cannot read that stream right now.",
            "Sorry, I cannot read that stream right now.");
        return;
    }
    spoken(info.name, w, sizeof w);
    struct stream_stats *s = service_stream_stats(st);
    uint64_t in = atomic_load_explicit(&s->incoming_records, memory_order_relaxed);
    uint64_t out = atomic_load_explicit(&s->delivery_records, memory_order_relaxed);
    snprintf(ssml, sizeof ssml,
             "Stream %s is %s. It received <say-as interpret-as=\"cardinal\">%" PRIu64
             "</say-as> record%s and delivered <say-as interpret-as=\"cardinal\">%" PRIu64
             "</say-as>.%s",
             w, status_word(info.status), in, in == 1 ? "" : "s", out,
             info.failure ? " It reports a delivery failure." : "");
    snprintf(card, sizeof card, "%s: %s. Received %" PRIu64 " records, delivered %" PRIu64 ".%s%s",
             info.name, status_word(info.status), in, out, info.failure ? " Failure: " : "",
             info.failure ? info.failure : "");
    say(r, ssml, card);
    r->reprompt = REPROMPT;
    service_stream_info_fini(&info);
}

static void incoming(struct service_stream *st, const char *span, struct reply *r)
{
    char w[CATALOG_NAME_MAX + 1], ssml[SPEECH_MAX], card[SPEECH_MAX];
    spoken(r->stream, w, sizeof w);
    struct stream_stats *s = service_stream_stats(st);
    uint64_t recs = atomic_load_explicit(&s->incoming_records, memory_order_relaxed);
    uint64_t bytes = atomic_load_explicit(&s->incoming_bytes, memory_order_relaxed);
    /* No per-minute history yet: counts are since hydrant started, and the answer says so. */
    snprintf(
        ssml, sizeof ssml,
        "%sSince hydrant started, stream %s received <say-as interpret-as=\"cardinal\">%" PRIu64
        "</say-as> record%s, <say-as interpret-as=\"cardinal\">%" PRIu64 "</say-as> bytes.",
        span ? "I only count since hydrant started, not by time span. " : "", w, recs,
        recs == 1 ? "" : "s", bytes);
    snprintf(card, sizeof card, "%s: %" PRIu64 " records, %" PRIu64 " bytes since start.",
             r->stream, recs, bytes);
    say(r, ssml, card);
    r->reprompt = REPROMPT;
}

static void freshness(struct service_stream *st, struct reply *r)
{
    char w[CATALOG_NAME_MAX + 1], ssml[SPEECH_MAX], card[SPEECH_MAX];
    spoken(r->stream, w, sizeof w);
    struct stream_stats *s = service_stream_stats(st);
    int64_t oldest = atomic_load_explicit(&s->oldest_undelivered_ms, memory_order_relaxed);
    if (oldest == 0) {
        snprintf(ssml, sizeof ssml, "Stream %s is fresh: everything it received is delivered.", w);
        snprintf(card, sizeof card, "%s: everything received is delivered.", r->stream);
    } else {
        int64_t age = (hytime_now_ms() - oldest) / 1000;
        if (age < 0)
            age = 0;
        snprintf(ssml, sizeof ssml,
                 "The oldest record of stream %s not yet delivered arrived <say-as "
                 "interpret-as=\"cardinal\">%" PRId64 "</say-as> seconds ago.",
                 w, age);
        snprintf(card, sizeof card, "%s: data freshness %" PRId64 " s.", r->stream, age);
    }
    say(r, ssml, card);
    r->reprompt = REPROMPT;
}

static void problems(struct service *svc, struct service_stream *st, struct reply *r)
{
    char w[CATALOG_NAME_MAX + 1], ssml[SPEECH_MAX], card[SPEECH_MAX];
    spoken(r->stream, w, sizeof w);
    struct stream_stats *s = service_stream_stats(st);
    uint64_t fail = atomic_load_explicit(&s->delivery_failures, memory_order_relaxed);
    uint64_t thr = atomic_load_explicit(&s->throttled_records, memory_order_relaxed);
    uint64_t err = atomic_load_explicit(&s->error_output_records, memory_order_relaxed);
    struct service_stream_info info;
    int have = service_stream_describe(svc, st, &info) == 0;
    int failing = have && info.failure;
    if (!fail && !thr && !err && !failing)
        snprintf(ssml, sizeof ssml,
                 "Nothing looks wrong with stream %s: no failed deliveries, no throttling, no "
                 "error records. No anomaly detector is configured.",
                 w);
    else
        snprintf(ssml, sizeof ssml,
                 "Stream %s had <say-as interpret-as=\"cardinal\">%" PRIu64
                 "</say-as> failed deliveries, <say-as interpret-as=\"cardinal\">%" PRIu64
                 "</say-as> throttled records and <say-as interpret-as=\"cardinal\">%" PRIu64
                 "</say-as> error records.%s No anomaly detector is configured.",
                 w, fail, thr, err, failing ? " A delivery failure is reported now." : "");
    snprintf(card, sizeof card,
             "%s: %" PRIu64 " failed deliveries, %" PRIu64 " throttled, %" PRIu64
             " error records.%s%s\nAnomalies: no detector configured.",
             r->stream, fail, thr, err, failing ? " Failure: " : "", failing ? info.failure : "");
    if (have)
        service_stream_info_fini(&info);
    say(r, ssml, card);
    r->reprompt = REPROMPT;
}

static void intent(struct alexa *ax, const cJSON *in, const char *last, struct reply *r)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
    const char *n = cJSON_IsString(name) ? name->valuestring : "";
    struct service *svc = alexa_service(ax);
    if (!svc) {
        /* Only the fuzz target and unit tests run without a service. */
        say(r, "Sorry, I cannot read the streams right now.",
            "Sorry, I cannot read the streams right now.");
        r->end = 1;
        return;
    }
    if (last)
        snprintf(r->stream, sizeof r->stream, "%s", last);
    if (!strcmp(n, "AMAZON.StopIntent") || !strcmp(n, "AMAZON.CancelIntent")) {
        say(r, "Goodbye.", "Goodbye.");
        r->end = 1;
    } else if (!strcmp(n, "AMAZON.HelpIntent") || !strcmp(n, "AMAZON.NavigateHomeIntent")) {
        say(r, HELP_TEXT, HELP_TEXT);
        r->reprompt = REPROMPT;
    } else if (!strcmp(n, "ListStreamsIntent")) {
        list_streams(svc, r);
    } else if (!strcmp(n, "StreamStatusIntent") || !strcmp(n, "IncomingRecordsIntent") ||
               !strcmp(n, "FreshnessIntent") || !strcmp(n, "ProblemsIntent")) {
        struct service_stream *st = NULL;
        if (pick_stream(svc, in, last, &st, r))
            return;
        if (!strcmp(n, "StreamStatusIntent"))
            stream_status(svc, st, r);
        else if (!strcmp(n, "IncomingRecordsIntent"))
            incoming(st, slot_value(in, "span"), r);
        else if (!strcmp(n, "FreshnessIntent"))
            freshness(st, r);
        else
            problems(svc, st, r);
        service_stream_unref(st);
    } else {
        /* AMAZON.FallbackIntent and anything the model does not have. */
        say(r, "I can answer questions about your streams. Try: list my streams.",
            "Try: list my streams.");
        r->reprompt = REPROMPT;
    }
}

static cJSON *speech(const char *ssml)
{
    cJSON *o = cJSON_CreateObject();
    char buf[SPEECH_MAX + 32];
    snprintf(buf, sizeof buf, "<speak>%s</speak>", ssml);
    if (o) {
        cJSON_AddStringToObject(o, "type", "SSML");
        cJSON_AddStringToObject(o, "ssml", buf);
    }
    return o;
}

static int envelope(const struct reply *r, char **out, size_t *out_len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *resp = cJSON_CreateObject();
    if (!root || !resp) {
        cJSON_Delete(root);
        cJSON_Delete(resp);
        return HY_ENOMEM;
    }
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON *attrs = cJSON_AddObjectToObject(root, "sessionAttributes");
    if (attrs && r->stream[0])
        cJSON_AddStringToObject(attrs, "stream", r->stream);
    cJSON_AddItemToObject(root, "response", resp);
    cJSON_AddItemToObject(resp, "outputSpeech", speech(r->ssml));
    cJSON *card = cJSON_AddObjectToObject(resp, "card");
    if (card) {
        cJSON_AddStringToObject(card, "type", "Simple");
        cJSON_AddStringToObject(card, "title", "hydrant");
        cJSON_AddStringToObject(card, "content", r->card);
    }
    if (r->reprompt && !r->end) {
        cJSON *rp = cJSON_AddObjectToObject(resp, "reprompt");
        if (rp)
            cJSON_AddItemToObject(rp, "outputSpeech", speech(r->reprompt));
    }
    cJSON_AddBoolToObject(resp, "shouldEndSession", r->end ? 1 : 0);
    *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!*out)
        return HY_ENOMEM;
    *out_len = strlen(*out);
    return 0;
}

int alexa_answer(struct alexa *ax, const cJSON *root, char **out, size_t *out_len)
{
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(root, "request");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rq, "type");
    if (!cJSON_IsString(type))
        return HY_EBADMSG;
    const char *t = type->valuestring;
    if (!strcmp(t, "SessionEndedRequest") ||
        (strcmp(t, "LaunchRequest") != 0 && strcmp(t, "IntentRequest") != 0)) {
        /* Spec 3: Alexa ignores speech here; unknown types get the same minimal 200. */
        const char *s = "{\"version\":\"1.0\",\"response\":{}}";
        *out_len = strlen(s);
        *out = cJSON_malloc(*out_len + 1);
        if (!*out)
            return HY_ENOMEM;
        memcpy(*out, s, *out_len + 1);
        return 0;
    }
    const cJSON *sess = cJSON_GetObjectItemCaseSensitive(root, "session");
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(sess, "attributes"), "stream");
    const char *lastv = cJSON_IsString(last) && strlen(last->valuestring) <= CATALOG_NAME_MAX
                            ? last->valuestring
                            : NULL;
    struct reply r;
    memset(&r, 0, sizeof r);
    if (!strcmp(t, "LaunchRequest")) {
        say(&r, "Welcome to hydrant. " HELP_TEXT, "Welcome to hydrant. " HELP_TEXT);
        r.reprompt = REPROMPT;
    } else {
        intent(ax, cJSON_GetObjectItemCaseSensitive(rq, "intent"), lastv, &r);
    }
    return envelope(&r, out, out_len);
}
