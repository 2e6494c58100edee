/*
 * dwgauss: NAB's windowedGaussian baseline, kept to validate the scorer against its published
 * score. The mean and population standard deviation of the last 6,400 values (refreshed every 100
 * values once the window is full) give score = 1 - Q(|z|), Q the normal tail, as NAB's
 * windowedGaussian_detector.py does. Also the null detector (always 0.5).
 */
#include "analytics/detector.h"

#include <math.h>
#include <string.h>

#define WG_WINDOW 6400
#define WG_STEP 100

struct wg {
    double win[WG_WINDOW]; /* ring: oldest at head once full */
    double stepbuf[WG_STEP];
    size_t n, head, nstep;
    double mean, sd;
};

static void wg_init(void *p)
{
    struct wg *s = p;
    memset(s, 0, sizeof *s);
    s->sd = 1.0;
}

static void wg_refresh(struct wg *s)
{
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->win[i];
    double mean = sum / (double)s->n, ss = 0;
    for (size_t i = 0; i < s->n; i++)
        ss += (s->win[i] - mean) * (s->win[i] - mean);
    s->mean = mean;
    s->sd = sqrt(ss / (double)s->n);
    if (s->sd == 0.0)
        s->sd = 0.000001;
}

static double wg_step(void *p, double x)
{
    struct wg *s = p;
    double score = 0.0;
    if (s->n > 0) {
        double z = fabs(x - s->mean) / s->sd;
        /* NAB's stored results keep 12 decimals; scoring the rounded values is what reproduces
         * the published baseline exactly (unrounded, fewer rows tie at 1.0). */
        score = round((1.0 - 0.5 * erfc(z / sqrt(2.0))) * 1e12) / 1e12;
    }
    if (s->n < WG_WINDOW) {
        s->win[s->n++] = x;
        wg_refresh(s);
    } else {
        s->stepbuf[s->nstep++] = x;
        if (s->nstep == WG_STEP) {
            for (size_t i = 0; i < WG_STEP; i++) {
                s->win[s->head] = s->stepbuf[i];
                s->head = (s->head + 1) % WG_WINDOW;
            }
            s->nstep = 0;
            wg_refresh(s);
        }
    }
    return score;
}

const struct detector_ops dwgauss_ops = {
    .name = "windowedGaussian",
    .summary = "NAB baseline: normal tail of the value over the last 6400 values",
    .state_size = sizeof(struct wg),
    .init = wg_init,
    .step = wg_step,
};

static void null_init(void *p)
{
    (void)p;
}

static double null_step(void *p, double x)
{
    (void)p;
    (void)x;
    return 0.5;
}

const struct detector_ops dnull_ops = {
    .name = "null",
    .summary = "NAB null detector: always 0.5 (never detects at the optimal threshold)",
    .state_size = 1,
    .init = null_init,
    .step = null_step,
};
