/* Internal: a macro that defines an elementwise op from its code: the forward
 * and backward formulas are those of backend/kernels/unary.h, which every
 * backend shares; with the code a constant, the loops compile to tight,
 * vectorisable code. */
#ifndef PX_OPS_UNARY_H
#define PX_OPS_UNARY_H

#include <math.h>

#include "backend/kernels/unary.h"
#include "ops/op_util.h"

/* An elementwise op from its formulas: FWD is y in terms of x and the parameters
 * p0, p1 (n->fattr[0..1], and n for more); BWD is the input's gradient in terms
 * of x, y and the output gradient g. CODE is the device kernel's op code
 * (PX_K_NONE: the op runs on the CPU only). */
#define PX_UNARY_OP_F(NAME, CODE, FLAGS, FWD, BWD)                                                 \
    static void NAME##_forward(const px_node *n, const px_tensor *const *in, px_tensor *out,         \
                               px_exec *ex) {                                                       \
        (void)ex;                                                                                   \
        const float *xs = in[0]->data;                                                              \
        float *ys = out->data;                                                                      \
        const float p0 = n->fattr[0], p1 = n->fattr[1];                                             \
        (void)p0, (void)p1;                                                                         \
        int64_t count = px_tensor_size(out);                                                        \
        PX_FOR(i, count, count,                                                                     \
            const float x = xs[i];                                                                  \
            ys[i] = (FWD);                                                                          \
        );                                                                                          \
    }                                                                                               \
    static void NAME##_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, \
                                const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {        \
        if (!gin[0]) return;                                                                        \
        const float *xs = in[0]->data, *ys = out->data, *gs = gout->data;                           \
        float *gx = gin[0]->data;                                                                   \
        const float p0 = n->fattr[0], p1 = n->fattr[1];                                             \
        (void)p0, (void)p1, (void)xs, (void)ys;                                                     \
        int64_t count = px_tensor_size(out);                                                        \
        if (ex->fresh && ex->fresh[0]) {                                                            \
            PX_FOR(i, count, count,                                                                 \
                const float x = xs[i], y = ys[i], g = gs[i];                                        \
                (void)x, (void)y;                                                                   \
                gx[i] = (BWD););                                                                    \
        } else {                                                                                    \
            PX_FOR(i, count, count,                                                                 \
                const float x = xs[i], y = ys[i], g = gs[i];                                        \
                (void)x, (void)y;                                                                   \
                gx[i] += (BWD););                                                                   \
        }                                                                                           \
    }                                                                                               \
    static const px_op_def NAME##_def = {#NAME, (FLAGS) | PX_OPF_OVERWRITES | PX_OPF_ELEMENTWISE,      \
                                         px_infer_same_f32, NULL,                                   \
                                         NAME##_forward, NAME##_backward, CODE};

/* An elementwise op whose formulas are those of its code in backend/kernels/unary.h. */
#define PX_UNARY_OP(NAME, CODE, FLAGS)                                                              \
    PX_UNARY_OP_F(NAME, CODE, FLAGS, pxk_unary_fwd(CODE, x, p0, p1), pxk_unary_bwd(CODE, x, y, g, p0, p1))

/* Creates a node of an op defined with PX_UNARY_OP, with up to two parameters. */
#define PX_UNARY_NODE(NAME, x, ...)                                                                 \
    px_node_make(&NAME##_def, &(x), 1, NULL, 0, (const float[]){__VA_ARGS__},                       \
                 (int)(sizeof((const float[]){__VA_ARGS__}) / sizeof(float)))

#endif
