/* lstmae: LSTM autoencoder training and scoring (see lstmae.h). */
#include "analytics/lstmae.h"

#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"

#define H LSTMAE_HIDDEN
#define W LSTMAE_WINDOW
#define G (4 * H)

/* splitmix64: small, seeded, identical on every platform. */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rnd_uniform(uint64_t *s, double lim)
{
    return ((double)(rnd_next(s) >> 11) / 9007199254740992.0 * 2.0 - 1.0) * lim;
}

static double sigm(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

void lstmae_scale(double *v, size_t n)
{
    if (n == 0)
        return;
    double mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        mean += v[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    double sd = sqrt(ss / (double)n);
    if (sd == 0)
        sd = 1;
    for (size_t i = 0; i < n; i++)
        v[i] = (v[i] - mean) / sd;
}

void lstmae_mask(double *v, const unsigned char *mask, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (mask[i])
            v[i] = v[i - 1];
}

/* Activations kept for backpropagation through one window. */
struct trace {
    double gate[W][G]; /* after the nonlinearity */
    double c[W + 1][H];
    double h[W + 1][H];
    double y[W];
};

static void forward(const struct lstmae *m, const double *x, struct trace *t)
{
    memset(t->c[0], 0, sizeof t->c[0]);
    memset(t->h[0], 0, sizeof t->h[0]);
    for (int s = 0; s < W; s++) {
        for (int k = 0; k < G; k++) {
            double a = m->b[k] + m->wx[k] * x[s];
            for (int j = 0; j < H; j++)
                a += m->wh[k][j] * t->h[s][j];
            t->gate[s][k] = (k >= 2 * H && k < 3 * H) ? tanh(a) : sigm(a);
        }
        for (int j = 0; j < H; j++) {
            double i = t->gate[s][j], f = t->gate[s][H + j], g = t->gate[s][2 * H + j],
                   o = t->gate[s][3 * H + j];
            t->c[s + 1][j] = f * t->c[s][j] + i * g;
            t->h[s + 1][j] = o * tanh(t->c[s + 1][j]);
        }
    }
    for (int w = 0; w < W; w++) {
        double a = m->bd[w];
        for (int j = 0; j < H; j++)
            a += m->wd[w][j] * t->h[W][j];
        t->y[w] = tanh(a);
    }
}

static double window_loss(const struct trace *t, const double *x)
{
    double l = 0;
    for (int w = 0; w < W; w++)
        l += (t->y[w] - x[w]) * (t->y[w] - x[w]);
    return l / W;
}

/* Accumulate the gradient of the window's loss (scaled by 1/batch) into g. */
static void backward(const struct lstmae *m, const double *x, const struct trace *t,
                     struct lstmae *g, double scale)
{
    double dh[H] = {0}, dc[H] = {0};
    for (int w = 0; w < W; w++) {
        double dy = 2.0 * (t->y[w] - x[w]) / W * scale;
        double da = dy * (1 - t->y[w] * t->y[w]);
        g->bd[w] += da;
        for (int j = 0; j < H; j++) {
            g->wd[w][j] += da * t->h[W][j];
            dh[j] += da * m->wd[w][j];
        }
    }
    for (int s = W - 1; s >= 0; s--) {
        double dgate[G];
        for (int j = 0; j < H; j++) {
            double i = t->gate[s][j], f = t->gate[s][H + j], gg = t->gate[s][2 * H + j],
                   o = t->gate[s][3 * H + j];
            double tc = tanh(t->c[s + 1][j]);
            double dcj = dc[j] + dh[j] * o * (1 - tc * tc);
            dgate[3 * H + j] = dh[j] * tc * o * (1 - o);
            dgate[j] = dcj * gg * i * (1 - i);
            dgate[H + j] = dcj * t->c[s][j] * f * (1 - f);
            dgate[2 * H + j] = dcj * i * (1 - gg * gg);
            dc[j] = dcj * f;
        }
        double dhp[H] = {0};
        for (int k = 0; k < G; k++) {
            double d = dgate[k];
            g->b[k] += d;
            g->wx[k] += d * x[s];
            for (int j = 0; j < H; j++) {
                g->wh[k][j] += d * t->h[s][j];
                dhp[j] += d * m->wh[k][j];
            }
        }
        memcpy(dh, dhp, sizeof dh);
    }
}

static void init_weights(struct lstmae *m, uint64_t *rs)
{
    memset(m, 0, sizeof *m);
    double lx = sqrt(6.0 / (1.0 + G)), lh = sqrt(6.0 / (H + G)), ld = sqrt(6.0 / (H + W));
    for (int k = 0; k < G; k++) {
        m->wx[k] = rnd_uniform(rs, lx);
        for (int j = 0; j < H; j++)
            m->wh[k][j] = rnd_uniform(rs, lh);
    }
    for (int j = 0; j < H; j++)
        m->b[H + j] = 1.0; /* forget gate starts open */
    for (int w = 0; w < W; w++)
        for (int j = 0; j < H; j++)
            m->wd[w][j] = rnd_uniform(rs, ld);
}

static void step_down(double *w, const double *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] -= LSTMAE_RATE * g[i];
}

static void apply(struct lstmae *m, const struct lstmae *g)
{
    step_down(m->wx, g->wx, G);
    step_down(&m->wh[0][0], &g->wh[0][0], (size_t)G * H);
    step_down(m->b, g->b, G);
    step_down(&m->wd[0][0], &g->wd[0][0], (size_t)W * H);
    step_down(m->bd, g->bd, W);
}

int lstmae_train(struct lstmae *m, const double *v, size_t n, uint64_t seed)
{
    if (n < W)
        return HY_EINVAL;
    size_t nw = n - W + 1;
    size_t *order = hy_malloc(nw * sizeof *order);
    struct trace *t = hy_malloc(sizeof *t);
    struct lstmae *g = hy_malloc(sizeof *g);
    double *err = hy_malloc(n * sizeof *err);
    int rc = HY_ENOMEM;
    if (!order || !t || !g || !err)
        goto out;
    uint64_t rs = seed;
    init_weights(m, &rs);
    for (size_t i = 0; i < nw; i++)
        order[i] = i;
    for (int e = 0; e < LSTMAE_EPOCHS; e++) {
        for (size_t i = nw - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)(rnd_next(&rs) % (i + 1));
            size_t tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        double total = 0;
        for (size_t b0 = 0; b0 < nw; b0 += LSTMAE_BATCH) {
            size_t bn = nw - b0 < LSTMAE_BATCH ? nw - b0 : LSTMAE_BATCH;
            memset(g, 0, sizeof *g);
            for (size_t k = 0; k < bn; k++) {
                const double *x = v + order[b0 + k];
                forward(m, x, t);
                total += window_loss(t, x);
                backward(m, x, t, g, 1.0 / (double)bn);
            }
            apply(m, g);
        }
        m->last_loss = total / (double)nw;
    }
    double mean = 0, ss = 0;
    lstmae_errors(m, v, n, err);
    for (size_t i = 0; i < n; i++)
        mean += err[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (err[i] - mean) * (err[i] - mean);
    m->err_mean = mean;
    m->err_sd = sqrt(ss / (double)n);
    m->threshold = mean + 3.0 * m->err_sd;
    rc = 0;
out:
    hy_free(order);
    hy_free(t);
    hy_free(g);
    hy_free(err);
    return rc;
}

void lstmae_errors(const struct lstmae *m, const double *v, size_t n, double *err)
{
    struct trace t;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < W) {
            err[i] = 0;
            continue;
        }
        const double *x = v + i + 1 - W;
        forward(m, x, &t);
        double e = 0;
        for (int j = W - LSTMAE_TAIL; j < W; j++)
            e += (t.y[j] - x[j]) * (t.y[j] - x[j]);
        err[i] = e / LSTMAE_TAIL;
    }
}

double lstmae_score(const struct lstmae *m, double err)
{
    double thr = m->threshold > 0 ? m->threshold : 1e-300;
    if (err > thr) {
        double s = 0.5 + 0.5 * (err - thr) / thr;
        return s > 1.0 ? 1.0 : s;
    }
    /* strictly below 0.5 at or under the threshold */
    double s = 0.4999999 * err / thr;
    return s < 0 ? 0 : s;
}
