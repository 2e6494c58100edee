/*
 * dens: the "ensemble" and "ensemble2" detectors (dens.c has the recipe). hydrant uses them only
 * through dens_ops and dens2_ops (detector.h). The configuration below is exposed for one other
 * user, the parameter search bench/nabsweep.c, which drives the real detector with the knobs
 * changed instead of keeping a copy of it: it wraps dens_init and dens_run(..., &its_cfg) in its
 * own detector_ops. Nothing here is read from a file or a flag.
 */
#ifndef HY_DENS_H
#define HY_DENS_H

#include <stddef.h>

struct dens_cfg {
    int levels;         /* quantiser levels of the sequence channel (1..254) */
    double zclip;       /* quantiser range in sigmas */
    int overflow;       /* 1: values above +zclip get a level of their own */
    int diff;           /* 1: difference channel on */
    double zhorizon;    /* EW horizon of the value and step moments, points */
    int warm;           /* points before the likelihood scores (it learns from warm/2) */
    double lhorizon;    /* horizon of the likelihood's normal, points */
    double spatial_tol; /* range rule: beyond the range by this fraction of it scores 1 */
    int hold;           /* points after an alarm during which lower scores are zeroed */
    double hold_level;  /* a score from which the hold-off starts */
};

extern const struct dens_cfg dens_cfg_v1; /* "ensemble" */
extern const struct dens_cfg dens_cfg_v2; /* "ensemble2" (default) */

/* State: dens_state_size bytes, zeroed by dens_init; one per series. */
extern const size_t dens_state_size;
void dens_init(void *state);
/* Score the next value x of the series (0..1) and learn it, with configuration cfg (the same
 * one for the whole series). */
double dens_run(void *state, double x, const struct dens_cfg *cfg);

#endif
