/* Checks shared by the C-export tests (tests/saving/test_export_c*.c). */
#ifndef PX_TEST_EXPORT_CHECK_H
#define PX_TEST_EXPORT_CHECK_H

#include "plexus/export_c.h"

/* Weights that start constant (biases, BatchNormalization's gamma, beta and
 * statistics) get uniform(-0.5, 0.5) added (variances: made 0.5 to 1.5). */
void export_randomize(px_model *m, uint64_t seed);
/* Exports m (with extra's options, name "net"), builds the code with gcc and
 * clang at -std=c99 -Wall -Wextra -Werror -pedantic, runs it on 1,000 inputs
 * (ids > 0: whole numbers below ids) and CHECKs the outputs against
 * px_model_predict's within 1e-5 (relative above 1). */
void export_check_model(px_model *m, const char *tag, int ids, const px_export_c_options *extra);

#endif
