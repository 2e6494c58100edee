/* detector: registry and the batch runner (see detector.h). */
#include "analytics/detector.h"

#include <string.h>

#include "base/err.h"
#include "base/mem.h"

const struct detector_ops *const detector_list[] = {&dens2_ops, &dens_ops, &dwgauss_ops,
                                                    &dnull_ops};
const size_t detector_count = sizeof detector_list / sizeof detector_list[0];

const struct detector_ops *detector_find(const char *name)
{
    if (!name)
        return detector_list[0];
    for (size_t i = 0; i < detector_count; i++)
        if (strcmp(detector_list[i]->name, name) == 0)
            return detector_list[i];
    return NULL;
}

double detector_step(const struct detector_ops *ops, void *state, double value)
{
    double s = ops->step(state, value);
    if (!(s > 0)) /* also NaN */
        return 0;
    return s < 1 ? s : 1;
}

int detector_run(const struct detector_ops *ops, const double *value, size_t n, double *out)
{
    void *st = hy_malloc(ops->state_size);
    if (!st)
        return HY_ENOMEM;
    ops->init(st);
    for (size_t i = 0; i < n; i++)
        out[i] = detector_step(ops, st, value[i]);
    hy_free(st);
    return 0;
}
