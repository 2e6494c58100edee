/*
 * nabsweep: score settings of the ensemble detectors on a NAB tree, and estimate how the choice
 * of setting carries to unseen series by leave-one-category-out: for each category, the setting
 * and the threshold are chosen on the other categories (standard profile) and the held-out
 * category is scored at that threshold; the held-out raw scores are summed and normalised.
 * Usage: nabsweep NAB_DIR < settings (one per line, "knob=value ...", knobs in nabsweep_model.c).
 * Prints one line per setting (standard, low_FP, low_FN, TP, FP, threshold) then the estimate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analytics/nabrun.h"
extern double sweep_p[32];
extern const struct detector_ops sweep_ops;
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
    double def[32];
    memcpy(def, sweep_p, sizeof def);
    char buf[256];
    int g = 0;
    struct nabscore_file *nf = calloc(r.n, sizeof *nf), *sub = calloc(r.n, sizeof *sub);
    while (g < MAXG && fgets(buf, sizeof buf, stdin)) {
        buf[strcspn(buf, "\n")] = 0;
        snprintf(lines[g], sizeof lines[g], "%s", buf);
        memcpy(sweep_p, def, sizeof def);
        char *save, *tok = strtok_r(buf, " ", &save);
        for (; tok; tok = strtok_r(NULL, " ", &save)) {
            int i;
            double v;
            if (sscanf(tok, "%d=%lf", &i, &v) == 2)
                sweep_p[i] = v;
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
