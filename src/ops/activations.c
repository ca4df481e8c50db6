/* Activation functions (placeholder file replaced below). */
#include "ops/unary.h"

PX_UNARY_OP(relu, PX_OPF_SAVE_OUTPUT, x > 0 ? x : 0.0f, y > 0 ? g : 0.0f)
px_node *px_relu(px_node *x) { return PX_UNARY_NODE(relu, x, 0); }
