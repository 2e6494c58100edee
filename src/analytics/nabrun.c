/* nabrun: loading a NAB tree and running detectors over it (see nabrun.h). */
#include "analytics/nabrun.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"

#define NABRUN_LABELS_MAX (64u << 20)

static int by_name(const void *a, const void *b)
{
    const struct nabrun_file *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int load_file(const char *dir, const cJSON *item, struct nabrun_file *f, const char **why)
{
    char path[4096];
    int rc;
    f->name = hy_strdup(item->string);
    if (!f->name)
        return HY_ENOMEM;
    if (snprintf(path, sizeof path, "%s/data/%s", dir, item->string) >= (int)sizeof path) {
        *why = "path too long";
        return HY_EBADMSG;
    }
    size_t line = 0;
    rc = series_read(path, &f->s, why, &line);
    if (rc != 0) {
        if (!*why)
            *why = "cannot read a data file";
        return rc;
    }
    if (!cJSON_IsArray(item)) {
        *why = "window list is not an array";
        return HY_EBADMSG;
    }
    size_t nw = (size_t)cJSON_GetArraySize(item);
    f->win = hy_calloc(nw ? 2 * nw : 1, sizeof *f->win);
    f->score = hy_calloc(f->s.n ? f->s.n : 1, sizeof *f->score);
    if (!f->win || !f->score)
        return HY_ENOMEM;
    const cJSON *w;
    cJSON_ArrayForEach(w, item)
    {
        const cJSON *a = cJSON_GetArrayItem(w, 0), *b = cJSON_GetArrayItem(w, 1);
        if (!cJSON_IsString(a) || !cJSON_IsString(b)) {
            *why = "window is not [start, end]";
            return HY_EBADMSG;
        }
        long l = series_find(&f->s, a->valuestring), r = series_find(&f->s, b->valuestring);
        if (l < 0 || r < l) {
            *why = "window edge matches no row";
            return HY_EBADMSG;
        }
        if (f->nwin > 0 && (size_t)l <= f->win[2 * f->nwin - 1]) {
            *why = "windows overlap or are out of order";
            return HY_EBADMSG;
        }
        f->win[2 * f->nwin] = (size_t)l;
        f->win[2 * f->nwin + 1] = (size_t)r;
        f->nwin++;
    }
    return 0;
}

int nabrun_load(const char *dir, struct nabrun *out, const char **why)
{
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (snprintf(path, sizeof path, "%s/labels/combined_windows.json", dir) >= (int)sizeof path) {
        *why = "path too long";
        return HY_EBADMSG;
    }
    rc = fsutil_read_all(path, &text, &len, NABRUN_LABELS_MAX);
    if (rc != 0) {
        *why = "cannot read labels/combined_windows.json";
        goto fail;
    }
    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        *why = "labels/combined_windows.json is not a JSON object";
        rc = HY_EBADMSG;
        goto fail;
    }
    size_t n = (size_t)cJSON_GetArraySize(root);
    out->f = hy_calloc(n ? n : 1, sizeof *out->f);
    if (!out->f) {
        rc = HY_ENOMEM;
        goto fail;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        rc = load_file(dir, item, &out->f[out->n++], why);
        if (rc != 0)
            goto fail;
    }
    qsort(out->f, out->n, sizeof *out->f, by_name);
    cJSON_Delete(root);
    hy_free(text);
    return 0;
fail:
    cJSON_Delete(root);
    hy_free(text);
    nabrun_fini(out);
    return rc;
}

int nabrun_detect(struct nabrun *r, const struct detector_ops *ops)
{
    for (size_t i = 0; i < r->n; i++) {
        int rc = detector_run(ops, r->f[i].s.value, r->f[i].s.n, r->f[i].score);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int nabrun_score(const struct nabrun *r, const struct nabscore_profile *p,
                 struct nabscore_result *out)
{
    struct nabscore_file *nf = hy_calloc(r->n ? r->n : 1, sizeof *nf);
    if (!nf)
        return HY_ENOMEM;
    for (size_t i = 0; i < r->n; i++) {
        nf[i].n = r->f[i].s.n;
        nf[i].score = r->f[i].score;
        nf[i].nwin = r->f[i].nwin;
        nf[i].win = r->f[i].win;
    }
    int rc = nabscore_optimize(nf, r->n, p, out);
    hy_free(nf);
    return rc;
}

void nabrun_fini(struct nabrun *r)
{
    for (size_t i = 0; i < r->n; i++) {
        hy_free(r->f[i].name);
        series_fini(&r->f[i].s);
        hy_free(r->f[i].win);
        hy_free(r->f[i].score);
    }
    hy_free(r->f);
    memset(r, 0, sizeof *r);
}
