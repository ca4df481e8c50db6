/* Internal: the general recurrent op (rnn_general.c) beside the fused one
 * (rnn.c), which share the input checks and the result layout. */
#ifndef PX_OPS_RNN_GENERAL_H
#define PX_OPS_RNN_GENERAL_H

#include "graph/node.h"

/* The fused op's shape and dtype checks (rnn.c), for either op. */
px_status px_rnn_infer_common(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt);
/* A general recurrent node: inputs x, kernel, recurrent kernel, [bias], [mask];
 * attr and fattr as documented in rnn_general.c. */
px_node *px_rnn_general_make(px_node *const *ins, int n_ins, const int64_t *attr, const float *fattr);
bool px_rnn_is_general(const px_node *n);
/* Whether an activation can run inside a cell (elementwise ones). */
bool px_rnn_activation_ok(int activation);

#endif
