/*
 * dens: the streaming detectors "ensemble2" (the default) and "ensemble", after the recipe of
 * Numenta's NAB detector (Ahmad et al., Neurocomputing 2017) with HTM's sequence memory replaced
 * by a bounded variable-order Markov model:
 *   1. sequence channel: the value, standardised by an exponentially weighted mean and variance
 *      (horizon 3,000 points) and clipped to +-zclip sigma, is quantised into 10 levels (ensemble2:
 *      values above +zclip get an 11th level); a hash table of counts over contexts of orders 1..3
 *      gives the raw score "fraction of orders whose context had been seen but never followed by
 *      this level" (HTM's "unpredicted" score);
 *   2. level channel: raw = 1 - 2 Q(|z|) of the same standardised value;
 *   3. difference channel (ensemble2 only): raw = 1 - 2 Q(|zd|), zd the step x(t) - x(t-1)
 *      standardised by the EW variance of the steps (same horizon): sudden jumps that stay inside
 *      the usual range;
 *   4. each raw score goes through Numenta's anomaly likelihood: its 10-point average against a
 *      normal fitted to the history of that average (horizon 8,640, mean and variance floors
 *      0.03/0.0003), a likelihood of 0.99999 after one of 0.99999 is lowered to 0.9999, and the
 *      result is the log score log(1 - L) / log(1e-10);
 *   5. Numenta's spatial rule: a value beyond the range seen so far by more than 5% of that range
 *      scores 1;
 *   6. the output is the largest channel score; for 100 points after a score of 0.5 or more,
 *      scores not above it are zeroed (one alarm per burst).
 * ensemble: zclip 4, no 11th level, no difference channel. ensemble2: zclip 5, 11th level,
 * difference channel.
 * Everything is O(1) per point (the table is fixed at 8,192 slots, 64 KiB, and cleared when 3/4
 * full), the state is one flat struct, and nothing reads ahead. The constants are Numenta's where
 * the recipe has them; levels, clip, orders, horizons, the channels and the hold-off were chosen by
 * measurement on the shared NAB files, with a leave-one-category-out estimate of how that choice
 * carries to unseen series (README, "Stream analytics").
 * Hand-written: no Debian library offers streaming anomaly detection. */
#include "analytics/dens.h"

#include "analytics/detector.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define DENS_TBITS 13
#define DENS_TSIZE (1u << DENS_TBITS)
#define DENS_ORDER 3
#define DENS_AVG 10
#define DENS_RED 0.99999
#define DENS_YELLOW 0.9999

struct dens_slot {
    uint32_t key; /* 0: empty */
    uint32_t count;
};

/* Numenta's anomaly likelihood over one raw score. */
struct dens_lik {
    double ring[DENS_AVG];
    double sum;
    double mean, var;
    uint64_t n;
    double prev;
};

struct dens {
    struct dens_slot t[DENS_TSIZE];
    uint32_t used;
    uint8_t hist[DENS_ORDER];
    uint64_t n;
    double lo, hi;            /* range seen so far */
    double mean, var;         /* EW moments of the value */
    double prev, dmean, dvar; /* previous value, EW moments of the difference */
    struct dens_lik lik[3];
    double held;  /* last alarm score */
    uint64_t age; /* points since it */
};

static uint32_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h | 1u; /* never 0, the empty key */
}

/* The count slot for key, inserted if missing. A full table is forgotten at once: bounded memory
 * and deterministic, at the price of relearning. */
static struct dens_slot *slot(struct dens *s, uint32_t key)
{
    uint32_t i = key & (DENS_TSIZE - 1);
    for (;;) {
        if (s->t[i].key == key)
            return &s->t[i];
        if (s->t[i].key == 0)
            break;
        i = (i + 1) & (DENS_TSIZE - 1);
    }
    if (s->used >= DENS_TSIZE / 4 * 3) {
        memset(s->t, 0, sizeof s->t);
        s->used = 0;
        i = key & (DENS_TSIZE - 1);
    }
    s->t[i].key = key;
    s->used++;
    return &s->t[i];
}

static double qtail(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}

static double lik_step(struct dens_lik *c, double raw, uint64_t n, const struct dens_cfg *cfg)
{
    uint64_t warm = (uint64_t)cfg->warm;
    c->sum += raw - c->ring[n % DENS_AVG];
    c->ring[n % DENS_AVG] = raw;
    double avg = c->sum / (double)(n < DENS_AVG ? n : DENS_AVG);
    double lik = 0.5;
    if (n > warm) {
        double m = c->mean < 0.03 ? 0.03 : c->mean;
        double v = c->var < 0.0003 ? 0.0003 : c->var;
        lik = 1.0 - qtail((avg - m) / sqrt(v));
    }
    if (n > warm / 2) {
        c->n++;
        double a = 1.0 / ((double)c->n < cfg->lhorizon ? (double)c->n : cfg->lhorizon);
        double d = avg - c->mean;
        c->mean += a * d;
        c->var = (1 - a) * (c->var + a * d * d);
    }
    double out = lik;
    if (c->prev >= DENS_RED && lik >= DENS_RED)
        out = DENS_YELLOW;
    c->prev = lik;
    double score = log(1.0000000001 - out) / log(1.0 - 0.9999999999);
    return score < 0 ? 0 : (score > 1 ? 1 : score);
}

/* Raw sequence score of level sym after the recent levels; learns the transition. */
static double seq_step(struct dens *s, int sym)
{
    uint64_t h = 1469598103934665603ULL;
    int unseen = 0, known = 0;
    for (int o = 1; o <= DENS_ORDER && (uint64_t)o <= s->n; o++) {
        h = (h ^ s->hist[o - 1]) * 1099511628211ULL;
        struct dens_slot *c = slot(s, mix(h * 31 + (uint64_t)o));
        struct dens_slot *t = slot(s, mix((h ^ ((uint64_t)sym + 1) << 40) * 37 + (uint64_t)o));
        /* A clear inside slot() may have emptied c; it then reads as a fresh context. */
        if (c->count > 0) {
            known++;
            if (t->count == 0)
                unseen++;
        }
        c->count++;
        t->count++;
    }
    memmove(s->hist + 1, s->hist, DENS_ORDER - 1);
    s->hist[0] = (uint8_t)sym;
    return known ? (double)unseen / known : 1.0;
}

/* What tells the two variants apart; the other fields are the constants of the recipe above. */
const struct dens_cfg dens_cfg_v1 = {
    .levels = 10,
    .zclip = 4.0,
    .overflow = 0,
    .diff = 0,
    .zhorizon = 3000.0,
    .warm = 300,
    .lhorizon = 8640.0,
    .spatial_tol = 0.05,
    .hold = 100,
    .hold_level = 0.5,
};
const struct dens_cfg dens_cfg_v2 = {
    .levels = 10,
    .zclip = 5.0,
    .overflow = 1,
    .diff = 1,
    .zhorizon = 3000.0,
    .warm = 300,
    .lhorizon = 8640.0,
    .spatial_tol = 0.05,
    .hold = 100,
    .hold_level = 0.5,
};

const size_t dens_state_size = sizeof(struct dens);

void dens_init(void *p)
{
    memset(p, 0, sizeof(struct dens));
}

static void dens_ew(double *mean, double *var, double x, double a)
{
    double d = x - *mean;
    *mean += a * d;
    *var = (1 - a) * (*var + a * d * d);
}

double dens_run(void *state, double x, const struct dens_cfg *cfg)
{
    struct dens *s = state;
    int spatial = 0;
    if (s->n == 0) {
        s->lo = s->hi = x;
        s->prev = x;
    } else {
        double tol = (s->hi - s->lo) * cfg->spatial_tol;
        if (s->hi > s->lo && (x > s->hi + tol || x < s->lo - tol))
            spatial = 1;
        s->hi = x > s->hi ? x : s->hi;
        s->lo = x < s->lo ? x : s->lo;
    }
    double z = 0, zd = 0, dx = x - s->prev;
    if (s->n > 2) {
        double floor = 1e-12 * (1 + s->mean * s->mean);
        z = (x - s->mean) / sqrt(s->var + floor);
        zd = dx / sqrt(s->dvar + floor);
    }
    double a = 1.0 / ((double)s->n + 1 < cfg->zhorizon ? (double)s->n + 1 : cfg->zhorizon);
    dens_ew(&s->mean, &s->var, x, a);
    if (s->n > 0)
        dens_ew(&s->dmean, &s->dvar, dx, a);
    s->prev = x;
    if (!isfinite(s->mean) || !isfinite(s->var) || !isfinite(s->dmean) || !isfinite(s->dvar)) {
        /* Values near DBL_MAX overflow the moments: start them again from this value. */
        s->mean = x;
        s->var = s->dmean = s->dvar = 0;
    }

    if (isnan(z)) /* inf - inf from values near DBL_MAX */
        z = 0;
    if (isnan(zd))
        zd = 0;
    double q = (z + cfg->zclip) / (2 * cfg->zclip);
    int sym = !(q > 0) ? 0 : (q >= 1 ? cfg->levels - 1 + cfg->overflow : (int)(q * cfg->levels));
    double raw_seq = seq_step(s, sym);
    double raw_lvl = 1.0 - 2 * qtail(fabs(z));
    s->n++;
    double score = lik_step(&s->lik[0], raw_seq, s->n, cfg);
    double s2 = lik_step(&s->lik[1], raw_lvl, s->n, cfg);
    if (s2 > score)
        score = s2;
    if (cfg->diff) {
        double s3 = lik_step(&s->lik[2], 1.0 - 2 * qtail(fabs(zd)), s->n, cfg);
        if (s3 > score)
            score = s3;
    }
    if (spatial)
        score = 1.0;
    s->age++;
    if (s->age <= (uint64_t)cfg->hold && score <= s->held) {
        score = 0;
    } else if (score >= cfg->hold_level) {
        s->held = score;
        s->age = 0;
    }
    return score;
}

static double dens_step(void *p, double x)
{
    return dens_run(p, x, &dens_cfg_v1);
}

static double dens_step2(void *p, double x)
{
    return dens_run(p, x, &dens_cfg_v2);
}

const struct detector_ops dens2_ops = {
    .name = "ensemble2",
    .summary = "ensemble + difference channel, 5-sigma quantiser (default)",
    .state_size = sizeof(struct dens),
    .init = dens_init,
    .step = dens_step2,
};

const struct detector_ops dens_ops = {
    .name = "ensemble",
    .summary = "sequence + level likelihood and range rule, Numenta-style",
    .state_size = sizeof(struct dens),
    .init = dens_init,
    .step = dens_step,
};
