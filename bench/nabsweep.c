/*
 * nabsweep: score settings of the ensemble detectors on a NAB tree, and estimate how the choice
 * of setting carries to unseen series by leave-one-category-out: for each category, the setting
 * and the threshold are chosen on the other categories (standard profile) and the held-out
 * category is scored at that threshold; the held-out raw scores are summed and normalised.
 * Usage: nabsweep NAB_DIR < settings (one per line, "knob=value ...", knobs below).
 * Prints one line per setting (standard, low_FP, low_FN, TP, FP, threshold) then the estimate.
 * The detector is the real one (src/analytics/dens.c) driven through struct dens_cfg; knob
 * numbers are those of the search's original copy of the detector, so bench/nabsweep.grid and
 * the README's recorded settings still read the same. Unset knobs are "ensemble"'s values:
 *   0 levels, 1 zclip, 2 value horizon, 4 warm-up, 5 likelihood horizon, 6 hold-off points,
 *   7 hold-off level, 9 difference channel on, 12 spatial tolerance, 20 overflow level.
 * The copy's other knobs (3 orders, 13 difference horizon, 14 likelihood average length, 19
 * shifted quantisers, and 8, 10, 11, 15-18) are not constants of dens.c that can move without a
 * state change, or channels that were tried and rejected: a setting using one is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analytics/dens.h"
#include "analytics/nabrun.h"
static struct dens_cfg sweep_cfg;
static double sweep_step(void *p, double x)
{
    return dens_run(p, x, &sweep_cfg);
}
static struct detector_ops sweep_ops = {
    .name = "sweep",
    .summary = "the ensembles with the knobs of a setting",
};
/* Apply knob i = v to sweep_cfg; -1 for a knob the detector does not have. */
static int set_knob(int i, double v)
{
    switch (i) {
    case 0:
        sweep_cfg.levels = (int)v;
        return v >= 1 && v <= 254 ? 0 : -1;
    case 1:
        sweep_cfg.zclip = v;
        return 0;
    case 2:
        sweep_cfg.zhorizon = v;
        return 0;
    case 4:
        sweep_cfg.warm = (int)v;
        return 0;
    case 5:
        sweep_cfg.lhorizon = v;
        return 0;
    case 6:
        sweep_cfg.hold = (int)v;
        return 0;
    case 7:
        sweep_cfg.hold_level = v;
        return 0;
    case 9:
        sweep_cfg.diff = v != 0;
        return 0;
    case 12:
        sweep_cfg.spatial_tol = v;
        return 0;
    case 20:
        sweep_cfg.overflow = v != 0;
        return 0;
    default:
        return -1;
    }
}
#define MAXG 400
#define NC 5
static const char *cats[NC] = {"artificialNoAnomaly", "artificialWithAnomaly", "realAdExchange",
                               "realAWSCloudwatch", "realTweets"};
static double tr_score[MAXG][NC], ho_raw[MAXG][NC], ho_null[NC], ho_perf[NC];
static char lines[MAXG][256];
static int catof(const char *n)
{
    for (int c = 0; c < NC; c++)
        if (!strncmp(n, cats[c], strlen(cats[c])) && n[strlen(cats[c])] == '/')
            return c;
    return -1;
}
int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: nabsweep NAB_DIR < settings\n", stderr);
        return 2;
    }
    struct nabrun r;
    const char *why;
    if (nabrun_load(argv[1], &r, &why)) {
        fprintf(stderr, "load %s\n", why);
        return 1;
    }
    sweep_ops.state_size = dens_state_size;
    sweep_ops.init = dens_init;
    sweep_ops.step = sweep_step;
    char buf[256];
    int g = 0;
    struct nabscore_file *nf = calloc(r.n, sizeof *nf), *sub = calloc(r.n, sizeof *sub);
    while (g < MAXG && fgets(buf, sizeof buf, stdin)) {
        buf[strcspn(buf, "\n")] = 0;
        snprintf(lines[g], sizeof lines[g], "%s", buf);
        sweep_cfg = dens_cfg_v1;
        char *save, *tok = strtok_r(buf, " ", &save);
        for (; tok; tok = strtok_r(NULL, " ", &save)) {
            int i;
            double v;
            if (sscanf(tok, "%d=%lf", &i, &v) != 2 || set_knob(i, v)) {
                fprintf(stderr, "nabsweep: knob '%s' is not one of the detector's\n", tok);
                return 2;
            }
        }
        nabrun_detect(&r, &sweep_ops);
        for (size_t i = 0; i < r.n; i++) {
            nf[i].n = r.f[i].s.n;
            nf[i].score = r.f[i].score;
            nf[i].nwin = r.f[i].nwin;
            nf[i].win = r.f[i].win;
        }
        struct nabscore_result res[3];
        for (int p = 0; p < 3; p++)
            nabscore_optimize(nf, r.n, &nabscore_profiles[p], &res[p]);
        for (int c = 0; c < NC; c++) {
            size_t k = 0, h = 0;
            struct nabscore_file *ho = calloc(r.n, sizeof *ho);
            for (size_t i = 0; i < r.n; i++) {
                if (catof(r.f[i].name) != c)
                    sub[k++] = nf[i];
                else
                    ho[h++] = nf[i];
            }
            struct nabscore_result tr, hr;
            nabscore_optimize(sub, k, &nabscore_profiles[0], &tr);
            nabscore_at(ho, h, &nabscore_profiles[0], tr.threshold, &hr);
            tr_score[g][c] = tr.score;
            ho_raw[g][c] = hr.raw;
            ho_null[c] = hr.raw_null;
            ho_perf[c] = hr.raw_perfect;
            free(ho);
        }
        printf("%6.2f %6.2f %6.2f  tp %zu fp %zu thr %.4f | %s\n", res[0].score, res[1].score,
               res[2].score, res[0].tp, res[0].fp, res[0].threshold, lines[g]);
        fflush(stdout);
        g++;
    }
    if (g >= 1) {
        double raw = 0, nul = 0, perf = 0;
        for (int c = 0; c < NC; c++) {
            int best = 0;
            for (int j = 1; j < g; j++)
                if (tr_score[j][c] > tr_score[best][c])
                    best = j;
            raw += ho_raw[best][c];
            nul += ho_null[c];
            perf += ho_perf[c];
            printf("LOCO %-22s pick [%s] held-out raw %.2f (null %.0f)\n", cats[c], lines[best],
                   ho_raw[best][c], ho_null[c]);
        }
        printf("LOCO standard estimate: %.2f\n", 100 * (raw - nul) / (perf - nul));
    }
    return 0;
}
