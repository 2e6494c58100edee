/*
 * nabscore: a scorer compatible with the Numenta Anomaly Benchmark (NAB v1.1; rules in
 * ../shared/nab/README.md). Per file: probationary period min(floor(0.15 n), 750) rows ignored;
 * inside a window only the best (earliest) detection counts, worth A_TP * sigma(y) / sigma(-1)
 * with sigma(y) = 2/(1+exp(5y)) - 1 and y = -(right - i + 1)/width; an undetected window costs
 * A_FN; every detection outside windows costs A_FP * |sigma(y)| with y the distance past the
 * previous window's right edge in its widths (full cost before the first window). One threshold
 * for all files, chosen over every distinct score, is optimised per profile; the raw score is
 * normalised to 100 * (raw - null) / (perfect - null).
 * Hand-written: NAB's scorer is Python; no C implementation exists in Debian. Pure functions.
 */
#ifndef HY_NABSCORE_H
#define HY_NABSCORE_H

#include <stddef.h>

struct nabscore_profile {
    const char *name;
    double tp, fp, fn; /* weight sizes as in NAB's profiles.json (signs added by the scorer) */
};

#define NABSCORE_NPROFILES 3
/* standard, reward_low_FP_rate, reward_low_FN_rate. */
extern const struct nabscore_profile nabscore_profiles[NABSCORE_NPROFILES];

struct nabscore_file {
    size_t n;            /* rows */
    const double *score; /* n anomaly scores */
    size_t nwin;         /* windows, in time order, not overlapping */
    const size_t *win;   /* 2*nwin row indices: first and last row of each window (inclusive) */
};

struct nabscore_result {
    double threshold;   /* rows with score >= threshold are detections */
    double raw;         /* raw score at that threshold */
    double raw_null;    /* -A_FN * windows */
    double raw_perfect; /* A_TP * windows */
    double score;       /* normalised: null 0, perfect 100 */
    size_t windows;     /* windows with at least one row after the probationary period */
    size_t tp, fp, fn;  /* detected windows, false-positive rows, missed windows */
};

/* Rows in the probationary period of an n-row file. */
size_t nabscore_probation(size_t n);
/* Choose the best threshold for the profile over all files and score there. 0 or HY_ENOMEM. */
int nabscore_optimize(const struct nabscore_file *f, size_t nf, const struct nabscore_profile *p,
                      struct nabscore_result *out);
/* Score at a fixed threshold. 0 or HY_ENOMEM. */
int nabscore_at(const struct nabscore_file *f, size_t nf, const struct nabscore_profile *p,
                double threshold, struct nabscore_result *out);

#endif
