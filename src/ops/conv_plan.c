/* Thread and scratch planning shared by the convolution-family ops. */
#include "ops/conv_plan.h"
#include "ops/op_util.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define PX_CONV_CHUNK_FLOATS 65536

int px_conv_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int px_conv_threads(int64_t slots, int64_t work) {
#ifdef _OPENMP
    int n = omp_get_max_threads();
    if (work < PX_PARALLEL_MIN) return 1;
    return n < slots ? n : (int)slots;
#else
    (void)slots, (void)work;
    return 1;
#endif
}

px_conv_gemm_plan px_conv_gemm_plan_of(const px_conv_geom *g) {
    px_conv_gemm_plan t;
    int64_t row = g->oh * g->ow * g->kh * g->kw * g->c;
    t.per_chunk = row >= PX_CONV_CHUNK_FLOATS ? 1 : PX_CONV_CHUNK_FLOATS / row;
    if (t.per_chunk > g->n) t.per_chunk = g->n;
    if (t.per_chunk < 1) t.per_chunk = 1; /* an empty batch: no chunks, but no division by zero */
    t.chunks = (g->n + t.per_chunk - 1) / t.per_chunk;
    t.slots = t.chunks < PX_CONV_SLOTS ? t.chunks : PX_CONV_SLOTS;
    t.part = px_conv_align16(t.per_chunk * row);
    t.slot = px_conv_align16(t.part + (g->kh * g->kw * g->c + 1) * g->f);
    t.total = t.slots * t.slot;
    return t;
}

/* The team sizes the chunks are evened out for (a multiple of 1, 2 and 4). */
#define PX_CONV_BALANCE 4

void px_conv_balance_chunks(px_conv_gemm_plan *t, int64_t n) {
    if (n == 0) return;
    int64_t rounds = (n + PX_CONV_BALANCE * t->per_chunk - 1) / (PX_CONV_BALANCE * t->per_chunk);
    int64_t per = (n + PX_CONV_BALANCE * rounds - 1) / (PX_CONV_BALANCE * rounds);
    if (per >= 1 && per <= t->per_chunk) {
        t->per_chunk = per;
        t->chunks = (n + per - 1) / per;
    }
}

px_status px_conv_check_inputs(const px_node *nd, const px_shape *in, const char *op, const char *layout,
                               int in_axis, int out_axis, char *sx, char *sk) {
    char sb[96];
    for (int i = 0; i < nd->n_inputs; i++)
        if (nd->inputs[i]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "%s: inputs must be float32", op);
    px_shape x = in[0], k = in[1];
    px_shape_format(x, sx, 96);
    px_shape_format(k, sk, 96);
    if (x.rank != 4 || k.rank != 4)
        return px_set_error(PX_ERR_SHAPE, "%s: input %s must be (N, H, W, C) and kernel %s %s", op, sx, sk, layout);
    for (int i = 0; i < 4; i++)
        if (k.dim[i] <= 0) return px_set_error(PX_ERR_SHAPE, "%s: kernel shape %s must be fully known", op, sk);
    if (x.dim[3] != PX_UNKNOWN && x.dim[3] != k.dim[in_axis])
        return px_set_error(PX_ERR_SHAPE, "%s: input %s has %lld channels but kernel %s expects %lld", op, sx,
                            (long long)x.dim[3], sk, (long long)k.dim[in_axis]);
    if (nd->n_inputs == 3 && (in[2].rank != 1 || in[2].dim[0] != k.dim[out_axis]))
        return px_set_error(PX_ERR_SHAPE, "%s: bias %s must be (%lld) for kernel %s", op,
                            px_shape_format(in[2], sb, sizeof sb), (long long)k.dim[out_axis], sk);
    return PX_OK;
}
