/* Checks shared by the C-export tests (tests/saving/test_export_c*.c). */
#ifndef PX_TEST_EXPORT_CHECK_H
#define PX_TEST_EXPORT_CHECK_H

#include "plexus/export_c.h"

/* Weights that start constant (biases, BatchNormalization's gamma, beta and
 * statistics) get uniform(-0.5, 0.5) added (variances: made 0.5 to 1.5). */
void export_randomize(px_model *m, uint64_t seed);
/* Exports m (with extra's options, name "net"), builds the code with gcc and
 * clang (only: 0 both, 1 gcc, 2 clang) at -std=c99 -Wall -Wextra -Werror
 * -pedantic, runs it on 1,000 inputs (ids > 0: whole numbers below ids) and
 * CHECKs the outputs against px_model_predict's within 1e-5 (relative above 1). */
void export_check_model(px_model *m, const char *tag, int ids, const px_export_c_options *extra, int only);

/* Exports m with opts (name "net"), builds the code with gcc -O2 and runs it on
 * the n examples of `in` (n * in_n floats) into `out` (n * out_n floats); false
 * (after a failed CHECK) when anything fails. */
bool export_run(px_model *m, const px_export_c_options *opts, const float *in, int64_t n, int64_t in_n, float *out,
                int64_t out_n);

/* The course's models (examples/fashion_mnist.c, convnet.c, lstm_fashion.c), unbuilt but for the LSTM. */
px_model *export_course_mlp(void);
px_model *export_course_convnet(void);
px_model *export_course_lstm(void);

#endif
