/* Embedding lookup: rows of a table picked by integer indices (given as int32,
 * or as float32 as model inputs deliver them), and the gradient scattered back. */
#include <math.h>

#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

/* The row an index names, or -1 (pxk_row_of). */
static int64_t row_of(const px_tensor *idx, int64_t i, int64_t rows) {
    return pxk_row_of(idx->data, idx->dtype == PX_I32, i, rows);
}

static px_status emb_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sa[96], sb[96];
    if (n->inputs[1]->dtype != PX_F32 || in[1].rank != 2)
        return px_set_error(PX_ERR_SHAPE, "embedding: the table must be a float32 matrix (input_dim, output_dim), got %s",
                            px_shape_format(in[1], sa, sizeof sa));
    if (in[0].rank + 1 > PX_MAX_RANK)
        return px_set_error(PX_ERR_SHAPE, "embedding: indices %s have too many axes",
                            px_shape_format(in[0], sb, sizeof sb));
    *out = in[0];
    out->dim[out->rank++] = in[1].dim[1];
    *dt = PX_F32;
    return PX_OK;
}

/* An index naming no row yields a row of NaN: the lookup must not read outside
 * the table, and a NaN makes the mistake visible in the loss instead of hiding it. */
static void emb_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n, (void)ex;
    const px_tensor *idx = in[0];
    const int64_t rows = in[1]->shape[0], d = in[1]->shape[1], count = px_tensor_size(idx);
    const float *table = in[1]->data;
    float *y = out->data;
    PX_FOR(i, count, count * d, 
        int64_t r = row_of(idx, i, rows);
        for (int64_t j = 0; j < d; j++) y[i * d + j] = r >= 0 ? table[r * d + j] : NAN;
    );
}

/* Serial: two indices may name the same row, and the sums must not race. */
static void emb_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                         const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)out, (void)ex;
    if (!gin[1]) return;
    const px_tensor *idx = in[0];
    const int64_t rows = in[1]->shape[0], d = in[1]->shape[1], count = px_tensor_size(idx);
    const float *g = gout->data;
    float *gt = gin[1]->data;
    for (int64_t i = 0; i < count; i++) {
        int64_t r = row_of(idx, i, rows);
        if (r < 0) continue;
        for (int64_t j = 0; j < d; j++) gt[r * d + j] += g[i * d + j];
    }
}

static const px_op_def emb_def = {"embedding", PX_OPF_SAVE_INPUTS, emb_infer, NULL, emb_forward, emb_backward,
                                  PX_K_EMBEDDING};

px_node *px_embedding_lookup(px_node *indices, px_node *table) {
    return px_node_make(&emb_def, (px_node *[]){indices, table}, 2, NULL, 0, NULL, 0);
}
