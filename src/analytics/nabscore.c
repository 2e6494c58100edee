/* nabscore: NAB-compatible scoring (see nabscore.h for the rules). */
#include "analytics/nabscore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"

const struct nabscore_profile nabscore_profiles[NABSCORE_NPROFILES] = {
    {"standard", 1.0, 0.11, 1.0},
    {"reward_low_FP_rate", 1.0, 0.22, 1.0},
    {"reward_low_FN_rate", 1.0, 0.11, 2.0},
};

/* One scorable row: its anomaly score, what detecting it is worth, its window (-1: none). */
struct row {
    double score;
    double worth;
    long win;
};

static double scaled_sigmoid(double y)
{
    /* NAB: positions three widths or more past a window cost the full A_FP. */
    if (y >= 3.0)
        return -1.0;
    return 2.0 / (1.0 + exp(5.0 * y)) - 1.0;
}

size_t nabscore_probation(size_t n)
{
    size_t p = (size_t)floor(0.15 * (double)n);
    return p < 750 ? p : 750;
}

/* Rows after the probationary period of every file, with their worth; windows numbered across
 * files. *nwin gets the number of windows that own at least one row. */
static struct row *sweep(const struct nabscore_file *f, size_t nf, const struct nabscore_profile *p,
                         size_t *nrows, long *nwin_total, unsigned char **counted)
{
    size_t total = 0, wtotal = 0;
    for (size_t k = 0; k < nf; k++) {
        total += f[k].n;
        wtotal += f[k].nwin;
    }
    struct row *rows = hy_malloc((total ? total : 1) * sizeof *rows);
    unsigned char *seen = hy_calloc(wtotal ? wtotal : 1, 1);
    if (!rows || !seen) {
        hy_free(rows);
        hy_free(seen);
        return NULL;
    }
    const double max_tp = scaled_sigmoid(-1.0);
    size_t m = 0;
    long wbase = 0;
    for (size_t k = 0; k < nf; k++) {
        const struct nabscore_file *fk = &f[k];
        size_t prob = nabscore_probation(fk->n);
        size_t w = 0;  /* next window */
        long cur = -1; /* window we are in */
        long prev_right = -1, prev_width = 0;
        for (size_t i = 0; i < fk->n; i++) {
            if (cur < 0 && w < fk->nwin && i == fk->win[2 * w])
                cur = (long)w++;
            double worth;
            if (cur >= 0) {
                size_t right = fk->win[2 * cur + 1];
                double width = (double)(right - fk->win[2 * cur] + 1);
                double y = -((double)right - (double)i + 1.0) / width;
                worth = scaled_sigmoid(y) * p->tp / max_tp;
            } else {
                double y = 3.0;
                if (prev_right >= 0)
                    y = fabs((double)prev_right - (double)i) / (double)(prev_width - 1);
                worth = scaled_sigmoid(y) * p->fp;
            }
            if (i >= prob) {
                rows[m].score = fk->score[i];
                rows[m].worth = worth;
                rows[m].win = cur >= 0 ? wbase + cur : -1;
                if (cur >= 0)
                    seen[wbase + cur] = 1;
                m++;
            }
            if (cur >= 0 && i == fk->win[2 * cur + 1]) {
                prev_right = (long)i;
                prev_width = (long)(fk->win[2 * cur + 1] - fk->win[2 * cur] + 1);
                cur = -1;
            }
        }
        wbase += (long)fk->nwin;
    }
    *nrows = m;
    *nwin_total = wbase;
    *counted = seen;
    return rows;
}

static int by_score_desc(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->score > y->score)
        return -1;
    if (x->score < y->score)
        return 1;
    return 0;
}

static void finish(struct nabscore_result *r, const struct nabscore_profile *p, size_t windows)
{
    r->windows = windows;
    r->raw_null = -p->fn * (double)windows;
    r->raw_perfect = p->tp * (double)windows;
    double span = r->raw_perfect - r->raw_null;
    r->score = span > 0 ? 100.0 * (r->raw - r->raw_null) / span : 0.0;
}

int nabscore_at(const struct nabscore_file *f, size_t nf, const struct nabscore_profile *p,
                double threshold, struct nabscore_result *out)
{
    size_t m = 0;
    long nw = 0;
    unsigned char *counted = NULL;
    struct row *rows = sweep(f, nf, p, &m, &nw, &counted);
    double *best = hy_malloc((nw ? (size_t)nw : 1) * sizeof *best);
    if (!rows || !best) {
        hy_free(rows);
        hy_free(counted);
        hy_free(best);
        return HY_ENOMEM;
    }
    memset(out, 0, sizeof *out);
    size_t windows = 0;
    for (long w = 0; w < nw; w++) {
        best[w] = -p->fn;
        windows += counted[w];
    }
    double fp_sum = 0;
    for (size_t i = 0; i < m; i++) {
        if (!(rows[i].score >= threshold))
            continue;
        if (rows[i].win < 0) {
            fp_sum += rows[i].worth;
            out->fp++;
        } else if (rows[i].worth > best[rows[i].win]) {
            best[rows[i].win] = rows[i].worth;
        }
    }
    double raw = fp_sum;
    for (long w = 0; w < nw; w++) {
        if (!counted[w])
            continue;
        raw += best[w];
        if (best[w] > -p->fn)
            out->tp++;
    }
    /* A detection at a window's right edge can be worth less than a miss; NAB then keeps the
     * miss's value (max), and counts the window as missed here too. */
    out->fn = windows - out->tp;
    out->threshold = threshold;
    out->raw = raw;
    finish(out, p, windows);
    hy_free(rows);
    hy_free(counted);
    hy_free(best);
    return 0;
}

int nabscore_optimize(const struct nabscore_file *f, size_t nf, const struct nabscore_profile *p,
                      struct nabscore_result *out)
{
    size_t m = 0;
    long nw = 0;
    unsigned char *counted = NULL;
    struct row *rows = sweep(f, nf, p, &m, &nw, &counted);
    double *best = hy_malloc((nw ? (size_t)nw : 1) * sizeof *best);
    if (!rows || !best) {
        hy_free(rows);
        hy_free(counted);
        hy_free(best);
        return HY_ENOMEM;
    }
    qsort(rows, m, sizeof *rows, by_score_desc);
    size_t windows = 0;
    for (long w = 0; w < nw; w++) {
        best[w] = -p->fn;
        windows += counted[w];
    }
    /* NAB: start above every score (no detections), lower the threshold through each distinct
     * score; the first (highest) threshold reaching the best raw score wins. */
    double total = -p->fn * (double)windows;
    double cur_thr = 1.1, best_thr = 1.1, best_raw = total;
    for (size_t i = 0; i < m; i++) {
        if (rows[i].score != cur_thr) {
            if (total > best_raw) {
                best_raw = total;
                best_thr = cur_thr;
            }
            cur_thr = rows[i].score;
        }
        if (rows[i].win < 0) {
            total += rows[i].worth;
        } else if (rows[i].worth > best[rows[i].win]) {
            total += rows[i].worth - best[rows[i].win];
            best[rows[i].win] = rows[i].worth;
        }
    }
    if (total > best_raw) {
        best_raw = total;
        best_thr = cur_thr;
    }
    hy_free(rows);
    hy_free(counted);
    hy_free(best);
    /* Rescore at the chosen threshold: exact sums and the counts. */
    return nabscore_at(f, nf, p, best_thr, out);
}
