/*
 * anset: the analytics settings of a stream (hydrant-only, stored in the stream's
 * "HydrantSettings" under "analytics"; see README "Live analytics"):
 *
 *   {"value": ".cpu", "key": ".host", "max_keys": 1000, "timestamp": ".ts",
 *    "detector": "ensemble", "threshold": 0.5, "target_stream": "anomalies",
 *    "webhook": "http://127.0.0.1:9000/hook"}
 *
 * value and target_stream are required; the rest optional (defaults: one series, 1000 keys,
 * the arrival time, the default detector, 0.5, no webhook). Unknown fields are refused.
 */
#ifndef HY_ANSET_H
#define HY_ANSET_H

#include <stddef.h>

struct cJSON;
struct detector_ops;

#define ANSET_MAX_KEYS_DEFAULT 1000
#define ANSET_MAX_KEYS_LIMIT 100000
#define ANSET_URL_MAX 2048

struct anset {
    char *value;     /* jq path */
    char *key;       /* jq path or NULL */
    char *timestamp; /* jq path or NULL */
    const struct detector_ops *ops;
    double threshold;
    size_t max_keys;
    char *target;
    char *webhook; /* NULL when none */
};

/* Validate settings for the stream named stream (the target must differ from it) and fill *out
 * (free with anset_fini) and, when norm is not NULL, *norm: the settings with every default
 * written out (what is stored and shown). 0; HY_EINVAL with a message for the user in err
 * (cap bytes); HY_ENOMEM. The jq paths are compiled to check them. */
int anset_parse(const struct cJSON *in, const char *stream, struct anset *out, struct cJSON **norm,
                char *err, size_t cap);
void anset_fini(struct anset *s);

#endif
