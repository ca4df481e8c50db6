/* Elementwise activation functions (Keras's set); the formulas, each forward
 * beside its derivative, are in backend/kernels/unary.h. Softmax, log-softmax
 * and maxout live in softmax.c. */
#include "ops/unary.h"

PX_UNARY_OP(sigmoid, PX_K_SIGMOID, PX_OPF_SAVE_OUTPUT)
PX_UNARY_OP(tanh, PX_K_TANH, PX_OPF_SAVE_OUTPUT)
PX_UNARY_OP(relu, PX_K_RELU, PX_OPF_SAVE_OUTPUT)
/* the input, not the output, decides the branch: alpha may be 0 or negative */
PX_UNARY_OP(leaky_relu, PX_K_LEAKY_RELU, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(elu, PX_K_ELU, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(selu, PX_K_SELU, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(swish, PX_K_SWISH, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(softplus, PX_K_SOFTPLUS, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(gelu, PX_K_GELU, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(linear, PX_K_LINEAR, 0)
/* Piecewise constant: flagged NO_GRAD so no gradient buffer or backward step is
 * planned for them; the zero derivatives are only formal. */
PX_UNARY_OP(step, PX_K_STEP, PX_OPF_NO_GRAD)
PX_UNARY_OP(sign, PX_K_SIGN, PX_OPF_NO_GRAD)

px_node *px_sigmoid(px_node *x) { return PX_UNARY_NODE(sigmoid, x, 0); }
px_node *px_tanh(px_node *x) { return PX_UNARY_NODE(tanh, x, 0); }
px_node *px_relu(px_node *x) { return PX_UNARY_NODE(relu, x, 0); }
px_node *px_leaky_relu(px_node *x, float alpha) { return PX_UNARY_NODE(leaky_relu, x, alpha); }
px_node *px_elu(px_node *x, float alpha) { return PX_UNARY_NODE(elu, x, alpha); }
px_node *px_selu(px_node *x) { return PX_UNARY_NODE(selu, x, 0); }
px_node *px_swish(px_node *x) { return PX_UNARY_NODE(swish, x, 0); }
px_node *px_softplus(px_node *x) { return PX_UNARY_NODE(softplus, x, 0); }
px_node *px_gelu(px_node *x) { return PX_UNARY_NODE(gelu, x, 0); }
px_node *px_linear(px_node *x) { return PX_UNARY_NODE(linear, x, 0); }
px_node *px_step(px_node *x) { return PX_UNARY_NODE(step, x, 0); }
px_node *px_sign(px_node *x) { return PX_UNARY_NODE(sign, x, 0); }
