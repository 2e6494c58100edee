/*
 * alexa_model: the interaction model for the skill package (spec section 5), printed by
 * `hydrant alexa-model`: the built-in intents, the stream intents with their sample utterances,
 * and the STREAM slot type whose values are the current stream names (spoken with spaces for
 * the separators, the real name as the id, which alexa_answer prefers on a match).
 */
#include "api/alexa/alexa.h"

#include <ctype.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const builtins[] = {"AMAZON.HelpIntent", "AMAZON.StopIntent",
                                       "AMAZON.CancelIntent", "AMAZON.FallbackIntent",
                                       "AMAZON.NavigateHomeIntent"};

static const struct {
    const char *name;
    int span; /* has the AMAZON.DURATION slot "span" */
    const char *samples[8];
} intents[] = {
    {"ListStreamsIntent",
     0,
     {"list my streams", "list streams", "what streams are there", "which streams do I have",
      "what streams do I have"}},
    {"StreamStatusIntent",
     0,
     {"what is the status of {stream}", "how is {stream} doing", "status of {stream}",
      "how is {stream}", "what about {stream}", "and {stream}", "status"}},
    {"IncomingRecordsIntent",
     1,
     {"how many records did {stream} receive", "how many records did {stream} get in {span}",
      "how many records came into {stream} in the last {span}",
      "how many records did {stream} receive in the last {span}", "how many records came in",
      "incoming records for {stream}"}},
    {"FreshnessIntent",
     0,
     {"how fresh is {stream}", "how fresh is the data of {stream}", "is {stream} up to date",
      "how fresh is it", "freshness of {stream}"}},
    {"ProblemsIntent",
     0,
     {"is anything wrong with {stream}", "is something wrong with {stream}",
      "does {stream} have problems", "any failures on {stream}", "is anything wrong",
      "any problems"}},
};

static cJSON *slot(const char *name, const char *type)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "name", name);
    cJSON_AddStringToObject(s, "type", type);
    return s;
}

char *alexa_model_render(const char *invocation, char **names, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *im = cJSON_AddObjectToObject(root, "interactionModel");
    cJSON *lm = cJSON_AddObjectToObject(im, "languageModel");
    cJSON_AddStringToObject(lm, "invocationName", invocation ? invocation : "hydrant streams");
    cJSON *iv = cJSON_AddArrayToObject(lm, "intents");
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", builtins[i]);
        cJSON_AddArrayToObject(o, "samples");
        cJSON_AddItemToArray(iv, o);
    }
    for (size_t i = 0; i < sizeof intents / sizeof intents[0]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", intents[i].name);
        if (i > 0) {
            cJSON *slots = cJSON_AddArrayToObject(o, "slots");
            cJSON_AddItemToArray(slots, slot("stream", "STREAM"));
            if (intents[i].span)
                cJSON_AddItemToArray(slots, slot("span", "AMAZON.DURATION"));
        }
        cJSON *s = cJSON_AddArrayToObject(o, "samples");
        for (size_t k = 0; k < 8 && intents[i].samples[k]; k++)
            cJSON_AddItemToArray(s, cJSON_CreateString(intents[i].samples[k]));
        cJSON_AddItemToArray(iv, o);
    }
    cJSON *types = cJSON_AddArrayToObject(lm, "types");
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", "STREAM");
    cJSON *vals = cJSON_AddArrayToObject(t, "values");
    for (size_t i = 0; i < n; i++) {
        char w[128];
        size_t k = 0;
        for (; names[i][k] && k + 1 < sizeof w; k++)
            w[k] = isalnum((unsigned char)names[i][k]) ? (char)tolower((unsigned char)names[i][k])
                                                       : ' ';
        w[k] = '\0';
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "id", names[i]);
        cJSON *nm = cJSON_AddObjectToObject(v, "name");
        cJSON_AddStringToObject(nm, "value", w);
        cJSON_AddItemToArray(vals, v);
    }
    if (n == 0) {
        /* A custom slot type needs a value; this one names no stream, and the skill says so. */
        cJSON *v = cJSON_CreateObject();
        cJSON_AddItemToObject(cJSON_AddObjectToObject(v, "name"), "value",
                              cJSON_CreateString("example stream"));
        cJSON_AddItemToArray(vals, v);
    }
    cJSON_AddItemToArray(types, t);
    cJSON *dlg = cJSON_AddObjectToObject(im, "dialog");
    cJSON_AddArrayToObject(dlg, "intents");
    cJSON_AddArrayToObject(im, "prompts");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}
