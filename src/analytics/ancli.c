/* ancli: `hydrant detect` and `hydrant nab` (see ancli.h). */
#include "analytics/ancli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "analytics/detector.h"
#include "analytics/lstmae.h"
#include "analytics/nabrun.h"
#include "analytics/nabscore.h"
#include "analytics/series.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"

static void list_detectors(FILE *out)
{
    fputs("detectors:\n", out);
    for (size_t i = 0; i < detector_count; i++)
        fprintf(out, "  %-18s %s%s\n", detector_list[i]->name, detector_list[i]->summary,
                i == 0 ? " (default)" : "");
}

static void detect_usage(FILE *out)
{
    fputs("usage: hydrant detect [--detector NAME] --input FILE.csv [--train FILE.csv] "
          "--output OUT.csv\n"
          "Reads a NAB-format series (timestamp,value) and writes timestamp,value,anomaly_score\n"
          "row for row (score in [0,1]). --output - writes to stdout.\n"
          "  --detector lstm --train T.csv [--labels combined_labels.json] [--seed N]\n"
          "      the LSTM autoencoder, trained on T.csv (its labelled anomalies masked when\n"
          "      --labels names them under T's last two path components); score >= 0.5 exactly\n"
          "      when the reconstruction error exceeds mean + 3 sd of the training errors\n",
          out);
    list_detectors(out);
}

/* Shortest of %.15g/%.17g that reads back as the same double. */
static void put_double(FILE *out, double v)
{
    char b[40];
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v)
        snprintf(b, sizeof b, "%.17g", v);
    fputs(b, out);
}

/* Rows of t named in the labels file under t_path's last two components. */
static int mask_from_labels(const char *labels, const char *t_path, const struct series *t,
                            unsigned char *mask)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fsutil_read_all(labels, &text, &len, 64u << 20);
    if (rc != 0) {
        fprintf(stderr, "hydrant detect: cannot read %s\n", labels);
        return rc;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    hy_free(text);
    /* key: "<category>/<file>.csv", the last two components of the path */
    const char *key = t_path + strlen(t_path);
    int slashes = 0;
    while (key > t_path && slashes < 2) {
        key--;
        if (*key == '/' && ++slashes == 2)
            key++;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "hydrant detect: %s has no labels for %s; nothing masked\n", labels, key);
    } else {
        const cJSON *it;
        cJSON_ArrayForEach(it, list)
        {
            long i = cJSON_IsString(it) ? series_find(t, it->valuestring) : -1;
            if (i < 0) {
                fprintf(stderr, "hydrant detect: a label of %s matches no row\n", key);
                rc = HY_EBADMSG;
                break;
            }
            mask[i] = 1;
        }
    }
    cJSON_Delete(root);
    return rc;
}

/* Train the LSTM autoencoder on train_path and score v[n] (raw values, scaled here). */
static int run_lstm(const char *train_path, const char *labels, unsigned long long seed, double *v,
                    size_t n, double *score)
{
    struct series t;
    const char *why = NULL;
    size_t line = 0;
    int rc = series_read(train_path, &t, &why, &line);
    if (rc != 0) {
        if (why)
            fprintf(stderr, "hydrant detect: %s line %zu: %s\n", train_path, line, why);
        else
            fprintf(stderr, "hydrant detect: %s: %s\n", train_path, hy_strerror(rc));
        return rc;
    }
    unsigned char *mask = hy_calloc(t.n ? t.n : 1, 1);
    struct lstmae *m = hy_malloc(sizeof *m);
    double *err = hy_malloc((n ? n : 1) * sizeof *err);
    rc = HY_ENOMEM;
    if (!mask || !m || !err)
        goto out;
    if (labels && (rc = mask_from_labels(labels, train_path, &t, mask)) != 0)
        goto out;
    lstmae_scale(t.value, t.n);
    lstmae_mask(t.value, mask, t.n);
    rc = lstmae_train(m, t.value, t.n, seed);
    if (rc == HY_EINVAL)
        fprintf(stderr, "hydrant detect: %s is shorter than one window (%d rows)\n", train_path,
                LSTMAE_WINDOW);
    if (rc != 0)
        goto out;
    lstmae_scale(v, n);
    lstmae_errors(m, v, n, err);
    for (size_t i = 0; i < n; i++)
        score[i] = lstmae_score(m, err[i]);
out:
    hy_free(mask);
    hy_free(m);
    hy_free(err);
    series_fini(&t);
    return rc;
}

int ancli_detect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"detector", required_argument, NULL, 'd'}, {"input", required_argument, NULL, 'i'},
        {"train", required_argument, NULL, 't'},    {"output", required_argument, NULL, 'o'},
        {"labels", required_argument, NULL, 'l'},   {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *in = NULL, *train = NULL, *outp = NULL, *labels = NULL;
    unsigned long long seed = 42;
    int c;
    char *end = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            name = optarg;
            break;
        case 'i':
            in = optarg;
            break;
        case 't':
            train = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'l':
            labels = optarg;
            break;
        case 's':
            seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end) {
                fprintf(stderr, "hydrant detect: bad --seed '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            detect_usage(stdout);
            return 0;
        default:
            detect_usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !in || !outp) {
        detect_usage(stderr);
        return 2;
    }
    int lstm = name && strcmp(name, "lstm") == 0;
    const struct detector_ops *ops = lstm ? NULL : detector_find(name);
    if (lstm && !train) {
        fputs("hydrant detect: --detector lstm needs --train FILE.csv\n", stderr);
        return 2;
    }
    if (!lstm && !ops) {
        fprintf(stderr, "hydrant detect: unknown detector '%s'\n", name);
        list_detectors(stderr);
        return 2;
    }
    if (!lstm && train) {
        fprintf(stderr, "hydrant detect: detector '%s' is streaming and takes no --train\n",
                ops->name);
        return 2;
    }
    struct series s;
    const char *why = NULL;
    size_t line = 0;
    int rc = series_read(in, &s, &why, &line);
    if (rc != 0) {
        if (why)
            fprintf(stderr, "hydrant detect: %s line %zu: %s\n", in, line, why);
        else
            fprintf(stderr, "hydrant detect: %s: %s\n", in, hy_strerror(rc));
        return 1;
    }
    double *score = hy_calloc(s.n ? s.n : 1, sizeof *score);
    double *value = hy_malloc((s.n ? s.n : 1) * sizeof *value);
    if (value)
        memcpy(value, s.value, s.n * sizeof *value);
    rc = !score || !value ? HY_ENOMEM
         : lstm           ? run_lstm(train, labels, seed, value, s.n, score)
                          : detector_run(ops, s.value, s.n, score);
    hy_free(value);
    if (rc != 0) {
        if (rc == HY_ENOMEM)
            fputs("hydrant detect: out of memory\n", stderr);
        hy_free(score);
        series_fini(&s);
        return 1;
    }
    FILE *out = strcmp(outp, "-") == 0 ? stdout : fopen(outp, "w");
    int code = 0;
    if (!out) {
        fprintf(stderr, "hydrant detect: cannot write %s\n", outp);
        code = 1;
    } else {
        fputs("timestamp,value,anomaly_score\n", out);
        for (size_t i = 0; i < s.n; i++) {
            fputs(s.ts[i], out);
            fputc(',', out);
            put_double(out, s.value[i]);
            fputc(',', out);
            put_double(out, score[i]);
            fputc('\n', out);
        }
        if (ferror(out))
            code = 1;
        int closed = out == stdout ? fflush(out) : fclose(out);
        if (closed != 0)
            code = 1;
        if (code)
            fprintf(stderr, "hydrant detect: write to %s failed\n", outp);
    }
    hy_free(score);
    series_fini(&s);
    return code;
}

static void nab_usage(FILE *out)
{
    fputs("usage: hydrant nab --data DIR [--detector NAME|all]\n"
          "Runs detectors over a NAB tree (DIR/data, DIR/labels/combined_windows.json) and\n"
          "prints NAB scores (standard, reward_low_FP_rate, reward_low_FN_rate), the threshold\n"
          "being optimised per profile over all files.\n",
          out);
    list_detectors(out);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int nab_one(struct nabrun *r, const struct detector_ops *ops)
{
    size_t points = 0;
    for (size_t i = 0; i < r->n; i++)
        points += r->f[i].s.n;
    double t0 = now_s();
    if (nabrun_detect(r, ops) != 0)
        return HY_ENOMEM;
    double dt = now_s() - t0;
    struct nabscore_result res[NABSCORE_NPROFILES];
    for (size_t p = 0; p < NABSCORE_NPROFILES; p++)
        if (nabrun_score(r, &nabscore_profiles[p], &res[p]) != 0)
            return HY_ENOMEM;
    printf("| %-18s | %8.2f | %8.2f | %8.2f | %10.4g | %3zu/%3zu | %4zu | %10.0f |\n", ops->name,
           res[0].score, res[1].score, res[2].score, res[0].threshold, res[0].tp, res[0].windows,
           res[0].fp, dt > 0 ? (double)points / dt : 0.0);
    return 0;
}

int ancli_nab(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'D'},
        {"detector", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *name = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'D':
            dir = optarg;
            break;
        case 'd':
            name = optarg;
            break;
        case 'h':
            nab_usage(stdout);
            return 0;
        default:
            nab_usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !dir) {
        nab_usage(stderr);
        return 2;
    }
    int all = name && strcmp(name, "all") == 0;
    const struct detector_ops *ops = all ? NULL : detector_find(name);
    if (!all && !ops) {
        fprintf(stderr, "hydrant nab: unknown detector '%s'\n", name);
        list_detectors(stderr);
        return 2;
    }
    struct nabrun r;
    const char *why = NULL;
    int rc = nabrun_load(dir, &r, &why);
    if (rc != 0) {
        fprintf(stderr, "hydrant nab: %s: %s\n", dir, why ? why : hy_strerror(rc));
        return 1;
    }
    size_t points = 0, windows = 0;
    for (size_t i = 0; i < r.n; i++) {
        points += r.f[i].s.n;
        windows += r.f[i].nwin;
    }
    printf("NAB scores: %zu files, %zu rows, %zu windows; threshold optimised per profile\n\n", r.n,
           points, windows);
    printf("| %-18s | %8s | %8s | %8s | %10s | %7s | %4s | %10s |\n", "detector", "standard",
           "low_FP", "low_FN", "threshold", "TP/win", "FP", "points/s");
    printf("|--------------------|----------|----------|----------|------------|---------|------|"
           "------------|\n");
    rc = 0;
    for (size_t i = 0; i < detector_count && rc == 0; i++)
        if (all ? 1 : detector_list[i] == ops)
            rc = nab_one(&r, detector_list[i]);
    nabrun_fini(&r);
    if (rc != 0) {
        fputs("hydrant nab: out of memory\n", stderr);
        return 1;
    }
    puts("\n(threshold, TP/win and FP are for the standard profile)");
    return 0;
}
