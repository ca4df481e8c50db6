/* Runs the PyTorch fixtures of tests/data/conv_family_fixtures.h: an op built
 * from variables holding the fixture's inputs must give its output and, for
 * L = sum(y * r), its input gradients within 1e-4 (relative, floor 1e-5). */
#ifndef PX_FIXTURE_CHECK_H
#define PX_FIXTURE_CHECK_H

#include <stdint.h>

#include "gradcheck.h"

/* One named array: inputs (x, k, b, ...), r (the loss weights), y, d<input>
 * and new_<input> (a variable's value after the run). */
typedef struct px_fix_array {
    const char *name;
    int rank;
    int64_t shape[6];
    const float *v;
} px_fix_array;

/* p[] holds the op's integer parameters (see the builders in the script). */
typedef struct px_fixture {
    const char *name, *op;
    int p[12];
    int n_arrays;
    const px_fix_array *arrays;
} px_fixture;

/* The fixtures, by index in [0, PX_FIXTURE_COUNT). */
extern const int PX_FIXTURE_COUNT;
const px_fixture *px_fixture_at(int i);

/* The array of that name, or NULL; a new tensor holding an array's values. */
const px_fix_array *px_fix_get(const px_fixture *f, const char *name);
px_tensor *px_fix_tensor(const px_fix_array *a);

/* y = build(vars, (void *)f), vars[i] a variable holding input inputs[i] (NULL
 * where the fixture has no such array: an optional bias). Checks y, every
 * d<input> and, where the fixture has new_<input>, that input's value after
 * the run (batch normalization's moving statistics). The session runs in
 * training mode when `training`. Returns the number of arrays that differ,
 * printing each. */
int px_fix_check(const px_fixture *f, const char *const *inputs, int n_inputs, px_gc_builder build, bool training);

/* Runs px_fix_check on every fixture whose op is `op`; returns how many there were. */
int px_fix_check_all(const char *op, const char *const *inputs, int n_inputs, px_gc_builder build, bool training);

#endif
