/*
 * nabsweep_model: the knob-per-constant copy of src/analytics/dens.c used for the parameter
 * search behind ensemble2 (bench/nabsweep.sh). Not linked into hydrant. Knobs, sweep_p[i]:
 *   0 levels, 1 zclip (sigmas), 2 value horizon, 3 context orders, 4 warm-up, 5 likelihood
 *   horizon, 6 hold-off points, 7 hold-off level, 8 level channel on, 9 difference channel on,
 *   10 window-mean shift channel on, 11 its window, 12 spatial tolerance, 13 difference horizon,
 *   14 likelihood average length, 15 sequence channel on, 16 range decay horizon (0 none),
 *   17 combine (0 max, 1 sum), 18 graded range rule (0 off), 19 shifted quantisers (mean of
 *   their sequence scores), 20 overflow level above +zclip.
 * Defaults reproduce "ensemble"; "9=1 1=5 20=1" reproduces "ensemble2".
 */
#include "analytics/detector.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define DM_TBITS 13
#define DM_TSIZE (1u << DM_TBITS)
#define DM_ORDER 4
#define DM_AVG 64
#define DM_NCH 4
#define DM_WMAX 64

double sweep_p[32] = {10, 4,    3000, 3,  300, 8640, 100, 0.5, 1, 0, 0,
                      12, 0.05, 3000, 10, 1,   0,    0,   0,   1, 0};

struct dm_slot {
    uint32_t key;
    uint32_t count;
};

struct dm_lik {
    double ring[DM_AVG];
    double sum;
    double mean, var;
    uint64_t n;
    double prev;
};

struct dm {
    struct dm_slot t[DM_TSIZE];
    uint32_t used;
    uint8_t hist[4][DM_ORDER];
    uint64_t n;
    double lo, hi;
    double mean, var;
    double prevx, dmean, dvar;
    double wring[DM_WMAX];
    double wsum;
    struct dm_lik lik[DM_NCH];
    double held;
    uint64_t age;
};

static uint32_t dm_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h | 1u;
}

static struct dm_slot *dm_slotp(struct dm *s, uint32_t key)
{
    uint32_t i = key & (DM_TSIZE - 1);
    for (;;) {
        if (s->t[i].key == key)
            return &s->t[i];
        if (s->t[i].key == 0)
            break;
        i = (i + 1) & (DM_TSIZE - 1);
    }
    if (s->used >= DM_TSIZE / 4 * 3) {
        memset(s->t, 0, sizeof s->t);
        s->used = 0;
        i = key & (DM_TSIZE - 1);
    }
    s->t[i].key = key;
    s->used++;
    return &s->t[i];
}

static double dm_q(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}

static double dm_lik_step(struct dm_lik *c, double raw, uint64_t n)
{
    int avgn = (int)sweep_p[14];
    uint64_t warm = (uint64_t)sweep_p[4];
    c->sum += raw - c->ring[n % (uint64_t)avgn];
    c->ring[n % (uint64_t)avgn] = raw;
    double avg = c->sum / (double)(n < (uint64_t)avgn ? n : (uint64_t)avgn);
    double lik = 0.5;
    if (n > warm) {
        double m = c->mean < 0.03 ? 0.03 : c->mean;
        double v = c->var < 0.0003 ? 0.0003 : c->var;
        lik = 1.0 - dm_q((avg - m) / sqrt(v));
    }
    if (n > warm / 2) {
        c->n++;
        double a = 1.0 / ((double)c->n < sweep_p[5] ? (double)c->n : sweep_p[5]);
        double d = avg - c->mean;
        c->mean += a * d;
        c->var = (1 - a) * (c->var + a * d * d);
    }
    double out = lik;
    if (c->prev >= 0.99999 && lik >= 0.99999)
        out = 0.9999;
    c->prev = lik;
    double score = log(1.0000000001 - out) / log(1.0 - 0.9999999999);
    return score < 0 ? 0 : (score > 1 ? 1 : score);
}

static double dm_seq(struct dm *s, int sym, int qi)
{
    uint64_t h = 1469598103934665603ULL + (uint64_t)qi * 0x9e3779b97f4a7c15ULL;
    int unseen = 0, known = 0, order = (int)sweep_p[3];
    for (int o = 1; o <= order && (uint64_t)o <= s->n; o++) {
        h = (h ^ s->hist[qi][o - 1]) * 1099511628211ULL;
        struct dm_slot *c = dm_slotp(s, dm_mix(h * 31 + (uint64_t)o));
        struct dm_slot *t = dm_slotp(s, dm_mix((h ^ ((uint64_t)sym + 1) << 40) * 37 + (uint64_t)o));
        if (c->count > 0) {
            known++;
            if (t->count == 0)
                unseen++;
        }
        c->count++;
        t->count++;
    }
    memmove(s->hist[qi] + 1, s->hist[qi], DM_ORDER - 1);
    s->hist[qi][0] = (uint8_t)sym;
    return known ? (double)unseen / known : 1.0;
}

static void dm_init(void *p)
{
    memset(p, 0, sizeof(struct dm));
}

static void dm_ew(double *mean, double *var, double x, double a)
{
    double d = x - *mean;
    *mean += a * d;
    *var = (1 - a) * (*var + a * d * d);
}

static double dm_step(void *p, double x)
{
    struct dm *s = p;
    double spatial = 0;
    if (s->n == 0) {
        s->lo = s->hi = x;
        s->prevx = x;
    } else {
        double tol = (s->hi - s->lo) * sweep_p[12];
        if (s->hi > s->lo && (x > s->hi + tol || x < s->lo - tol)) {
            double ex = (x > s->hi ? x - s->hi : s->lo - x) / (s->hi - s->lo);
            spatial = sweep_p[18] > 0 ? 0.9 + 0.1 * (ex > sweep_p[18] ? 1 : ex / sweep_p[18]) : 1;
        }
        s->hi = x > s->hi ? x : s->hi;
        s->lo = x < s->lo ? x : s->lo;
        if (sweep_p[16] > 0 && s->n > 2) {
            s->hi -= (s->hi - s->mean) / sweep_p[16];
            s->lo += (s->mean - s->lo) / sweep_p[16];
            if (s->hi < x)
                s->hi = x;
            if (s->lo > x)
                s->lo = x;
        }
    }
    double z = 0, zd = 0, zs = 0;
    double dx = x - s->prevx;
    int w = (int)sweep_p[11];
    double old = s->wring[s->n % (uint64_t)w];
    s->wsum += x - old;
    s->wring[s->n % (uint64_t)w] = x;
    if (s->n > 2) {
        double sd = sqrt(s->var + 1e-12 * (1 + s->mean * s->mean));
        z = (x - s->mean) / sd;
        zd = dx / sqrt(s->dvar + 1e-12 * (1 + s->mean * s->mean));
        if (s->n >= (uint64_t)w)
            zs = (s->wsum / w - s->mean) / sd * sqrt((double)w) / 3;
    }
    double hz = sweep_p[2];
    double a = 1.0 / ((double)s->n + 1 < hz ? (double)s->n + 1 : hz);
    dm_ew(&s->mean, &s->var, x, a);
    double ad = 1.0 / ((double)s->n + 1 < sweep_p[13] ? (double)s->n + 1 : sweep_p[13]);
    if (s->n > 0)
        dm_ew(&s->dmean, &s->dvar, dx, ad);
    s->prevx = x;
    if (!isfinite(s->mean) || !isfinite(s->var)) {
        s->mean = x;
        s->var = 0;
    }
    if (isnan(z))
        z = 0;
    if (isnan(zd))
        zd = 0;
    if (isnan(zs))
        zs = 0;
    double clip = sweep_p[1];
    int levels = (int)sweep_p[0];
    int nq = (int)sweep_p[19];
    double raw_seq = 0;
    for (int qi = 0; qi < nq; qi++) {
        double q = (z + clip) / (2 * clip) + (double)qi / nq / levels;
        int sym = !(q > 0) ? 0 : (q >= 1 ? levels - 1 + (int)sweep_p[20] : (int)(q * levels));
        raw_seq += dm_seq(s, sym, qi);
    }
    raw_seq /= nq;
    s->n++;
    double score = 0;
    double r[DM_NCH] = {raw_seq, 1.0 - 2 * dm_q(fabs(z)), 1.0 - 2 * dm_q(fabs(zd)),
                        1.0 - 2 * dm_q(fabs(zs))};
    double use[DM_NCH] = {sweep_p[15], sweep_p[8], sweep_p[9], sweep_p[10]};
    for (int c = 0; c < DM_NCH; c++) {
        double sc = dm_lik_step(&s->lik[c], r[c], s->n);
        if (use[c] > 0) {
            if (sweep_p[17] == 0 && sc > score)
                score = sc;
            else if (sweep_p[17] == 1)
                score += sc;
        }
    }
    if (score > 1)
        score = 1;
    if (spatial > score)
        score = spatial;
    s->age++;
    if (s->age <= (uint64_t)sweep_p[6] && score <= s->held) {
        score = 0;
    } else if (score >= sweep_p[7]) {
        s->held = score;
        s->age = 0;
    }
    return score;
}

const struct detector_ops sweep_ops = {
    .name = "sweep",
    .summary = "parameter-search copy of the ensembles",
    .state_size = sizeof(struct dm),
    .init = dm_init,
    .step = dm_step,
};
