/* dens: the default streaming detector (placeholder, replaced below). */
#include "analytics/detector.h"

#include <math.h>
#include <string.h>

struct ens {
    double mean, var;
    unsigned long n;
};

static void ens_init(void *p)
{
    memset(p, 0, sizeof(struct ens));
}

static double ens_step(void *p, double x)
{
    struct ens *s = p;
    double z = s->n > 1 ? fabs(x - s->mean) / sqrt(s->var + 1e-12) : 0;
    s->n++;
    double a = 1.0 / (double)(s->n < 1000 ? s->n : 1000);
    double d = x - s->mean;
    s->mean += a * d;
    s->var = (1 - a) * (s->var + a * d * d);
    return 1.0 - 0.5 * erfc(z / sqrt(2.0));
}

const struct detector_ops dens_ops = {
    .name = "ensemble",
    .summary = "default",
    .state_size = sizeof(struct ens),
    .init = ens_init,
    .step = ens_step,
};
