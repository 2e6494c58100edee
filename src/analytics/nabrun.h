/*
 * nabrun: a NAB-style tree in memory (data/<category>/<file>.csv plus labels/combined_windows.json)
 * and running a detector over it. Windows are resolved to row indices (first row carrying each
 * edge's timestamp, as NAB does). Not thread-safe; one owner.
 */
#ifndef HY_NABRUN_H
#define HY_NABRUN_H

#include <stddef.h>

#include "analytics/detector.h"
#include "analytics/nabscore.h"
#include "analytics/series.h"

struct nabrun_file {
    char *name; /* relative to data/, e.g. "realTweets/Twitter_volume_AAPL.csv" */
    struct series s;
    size_t nwin;
    size_t *win; /* 2*nwin row indices */
    double *score;
};

struct nabrun {
    size_t n;
    struct nabrun_file *f;
};

/* Load every file named in DIR/labels/combined_windows.json, in name order. 0, -errno,
 * HY_EBADMSG (*why: static text naming the problem) or HY_ENOMEM. Free with nabrun_fini. */
int nabrun_load(const char *dir, struct nabrun *out, const char **why);
/* Score every file with a fresh detector instance per file (f[i].score). 0 or HY_ENOMEM. */
int nabrun_detect(struct nabrun *r, const struct detector_ops *ops);
/* Optimise and score the current scores under profile p. 0 or HY_ENOMEM. */
int nabrun_score(const struct nabrun *r, const struct nabscore_profile *p,
                 struct nabscore_result *out);
void nabrun_fini(struct nabrun *r);

#endif
