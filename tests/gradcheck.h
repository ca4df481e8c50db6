/* Gradient checking: compares the gradients that a session (graph mode) and the
 * eager tape compute with central finite differences evaluated in double. */
#ifndef PX_GRADCHECK_H
#define PX_GRADCHECK_H

#include "plexus/plexus.h"

/* Builds the op(s) under test from variables holding the inputs. */
typedef px_node *(*px_gc_builder)(px_node *const *vars, void *ctx);

/* Differentiates L = sum(y * R) for a fixed random R, where y = build(vars).
 * Returns the number of gradient entries whose analytic value (graph or eager)
 * differs from the finite difference by more than atol + rtol * |fd|, printing
 * each. Inputs whose `skip` entry is true get no check (e.g. integer labels,
 * pass NULL to check all). */
int px_gradcheck(const char *label, px_gc_builder build, void *ctx, px_tensor *const *inputs,
                 int n_inputs, const bool *skip, double eps, double rtol, double atol);

/* Runs y = build(vars) and the gradients of sum(y * R) for a fixed random R on
 * one thread and on two, and returns how many of y and the inputs' gradients
 * differ by more than 1e-5 (relative and absolute), printing each: an op that
 * splits a batch between threads must give the one-thread result. */
int px_gc_threads_agree(const char *label, px_gc_builder build, void *ctx, px_tensor *const *inputs, int n_inputs);

/* A random tensor with values in [lo, hi) from a seeded generator. */
px_tensor *px_gc_random(px_shape shape, float lo, float hi, uint64_t seed);

#endif
