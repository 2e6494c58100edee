/*
 * lstmae: the LSTM autoencoder of the CPU-utilisation study. Windows of LSTMAE_WINDOW standard-
 * scaled values go through one LSTM layer (LSTMAE_HIDDEN units, input size 1); its last hidden
 * state feeds one dense layer with tanh that reconstructs the window. L2 loss, Xavier-uniform
 * weights (biases 0, forget-gate bias 1), plain SGD with learning rate 0.01, batches of 48,
 * 15 epochs, windows shuffled each epoch by a seeded generator: the same inputs and seed give
 * bit-identical results. A row's reconstruction error is the mean squared error over the last
 * LSTMAE_TAIL positions of the window that ends at it (rows before the first full window score 0;
 * one position alone flags single-sample blips, the whole window dilutes a level change); the row
 * is anomalous when its error exceeds the mean + 3 standard deviations of the training rows'
 * errors.
 * Hand-written forward pass and backpropagation through time: Debian has no C LSTM library, and
 * with 16 units BLAS calls would cost more than they save. Not thread-safe; one owner.
 */
#ifndef HY_LSTMAE_H
#define HY_LSTMAE_H

#include <stddef.h>
#include <stdint.h>

#define LSTMAE_WINDOW 30
#define LSTMAE_TAIL 3
#define LSTMAE_HIDDEN 16
#define LSTMAE_EPOCHS 15
#define LSTMAE_BATCH 48
#define LSTMAE_RATE 0.01

struct lstmae {
    /* gates in order input, forget, cell, output; row g*H+j */
    double wx[4 * LSTMAE_HIDDEN];
    double wh[4 * LSTMAE_HIDDEN][LSTMAE_HIDDEN];
    double b[4 * LSTMAE_HIDDEN];
    double wd[LSTMAE_WINDOW][LSTMAE_HIDDEN];
    double bd[LSTMAE_WINDOW];
    double threshold; /* mean + 3 sd of the training errors */
    double err_mean, err_sd;
    double last_loss; /* mean training loss of the last epoch */
};

/* Standard-scale v[n] in place by its own mean and population standard deviation. */
void lstmae_scale(double *v, size_t n);
/* Replace masked rows (mask[i] != 0) by the previous value (the first row keeps its own). */
void lstmae_mask(double *v, const unsigned char *mask, size_t n);
/* Train on already scaled and masked values; sets the threshold. 0, HY_EINVAL (n shorter than
 * one window) or HY_ENOMEM. */
int lstmae_train(struct lstmae *m, const double *v, size_t n, uint64_t seed);
/* Reconstruction error of every row (scaled values) into err[n]; rows before the first full window
 * get 0. */
void lstmae_errors(const struct lstmae *m, const double *v, size_t n, double *err);
/* Map an error to an anomaly score in [0, 1]: >= 0.5 exactly when err > threshold. */
double lstmae_score(const struct lstmae *m, double err);

#endif
