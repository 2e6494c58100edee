/*
 * detector: the registry of streaming anomaly detectors. A detector is a const ops struct; an
 * instance is a flat, fixed-size state blob of ops->state_size bytes (no pointers inside), so
 * memory per series is bounded and a checkpoint is a copy of the bytes. step() sees one value at
 * a time, in order, and returns a score in [0, 1] using only the values seen so far (causal).
 * Deterministic: the same values give the same scores on every run. Instances are not shared
 * between threads; the registry is read-only.
 */
#ifndef HY_DETECTOR_H
#define HY_DETECTOR_H

#include <stddef.h>

struct detector_ops {
    const char *name;
    const char *summary;
    size_t state_size;
    void (*init)(void *state);                 /* state is state_size bytes, any content */
    double (*step)(void *state, double value); /* score of this value in [0, 1] */
};

/* Detectors in display order; the first is the default. */
extern const struct detector_ops *const detector_list[];
extern const size_t detector_count;

/* Look a detector up by name (NULL: the default). NULL when unknown. */
const struct detector_ops *detector_find(const char *name);
/* One step with the contract enforced: a NaN score (overflowing input) reads 0, the rest is
 * clamped to [0, 1]. */
double detector_step(const struct detector_ops *ops, void *state, double value);
/* Score n values with a fresh instance into out[n]. 0 or HY_ENOMEM. */
int detector_run(const struct detector_ops *ops, const double *value, size_t n, double *out);

extern const struct detector_ops dwgauss_ops; /* NAB's windowedGaussian baseline */
extern const struct detector_ops dnull_ops;   /* NAB's null detector (constant 0.5) */
extern const struct detector_ops dens_ops;    /* the first ensemble */
extern const struct detector_ops dens2_ops;   /* ensemble + difference channel (default) */

#endif
