/* Internal: what the C exporter's driver (export_c.c) shares with the per-layer
 * emitters (export_c_layers.c, export_c_rnn.c) and the text helpers
 * (export_c_text.c). */
#ifndef PX_SAVING_EXPORT_C_INTERNAL_H
#define PX_SAVING_EXPORT_C_INTERNAL_H

#include <stdarg.h>

#include "formats/json.h"
#include "model/model_internal.h"
#include "plexus/export_c.h"

/* A growing text buffer; on allocation failure it stops growing and `failed`
 * is set (checked once at the end). */
typedef struct px_cbuf {
    char *s;
    size_t len, cap;
    bool failed;
} px_cbuf;

void px_cbuf_printf(px_cbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void px_cbuf_free(px_cbuf *b);

/* The generated code's helper functions, emitted once each before the layer
 * functions when some layer asked for them: bit a (a px_activation) for the
 * scalar function act_<name>, and these for the rest. */
#define PX_CH_SOFTMAX (1ull << 40)
#define PX_CH_LOG_SOFTMAX (1ull << 41)
#define PX_CH_QUANTIZE (1ull << 42)

/* One layer as the exporter sees it. Shapes exclude the batch axis. */
typedef struct px_xlayer {
    const px_layer *layer;
    const char *name;       /* Keras layer name */
    const char *cls;        /* Keras class name */
    px_json *config;        /* its Keras config (as Plexus writes it) */
    char fn[96];            /* the C function's name */
    char sym[96];           /* prefix for its weight arrays (NAME_l3) */
    int n_in;
    px_shape in[PX_MAX_INPUTS];
    px_shape out;
    px_tensor **w;          /* copies of its weights (Keras's order); emitters may replace them */
    int n_w;
    int64_t scratch;        /* floats of workspace the function needs besides its output (set by plan) */
    /* BatchNormalization folded into this layer: per output channel y * scale + shift */
    const float *fold_scale, *fold_shift;
    int64_t fold_n;
    /* a recurrent layer whose input carries Embedding(mask_zero)'s timestep
     * mask: the ids that Embedding reads (a step is masked where its id is 0);
     * its function takes them after its inputs */
    const px_node *mask_ids;
    /* int8: the input is quantized as q = round(x / in_scale) + in_zero */
    bool int8;
    float in_scale;
    int in_zero;
} px_xlayer;

/* The export being written: options, the text of NAME.c's weights and code. */
typedef struct px_xctx {
    const char *name;
    px_cbuf weights;        /* weight array definitions */
    px_cbuf code;           /* layer functions */
    uint64_t helpers;       /* helpers the code needs (bits above) */
    bool separate_weights;
    px_cbuf weight_decls;   /* extern declarations when the weights are apart */
} px_xctx;

/* The ONNX graph being written (export_onnx.c). */
typedef struct px_xonnx px_xonnx;

/* One entry of the exporters' layer table (export_c_layers.c): a Keras class,
 * its C emitter and its ONNX writer. */
typedef struct px_xkind {
    const char *cls;
    /* identity at inference (Dropout, Flatten, Reshape, ...): no function; the
     * output shares the input's buffer */
    bool alias;
    /* floats of scratch the layer's function needs (may be NULL: none) */
    int64_t (*scratch)(const px_xlayer *l);
    /* writes the layer's function `void fn(const float *x..., float *y[, float *tmp])`
     * and its weights; NULL for aliases */
    px_status (*emit)(px_xctx *x, px_xlayer *l);
    /* writes the layer's ONNX nodes from the values named in[] to the value
     * named out (export_onnx.c); NULL: not exported to ONNX */
    px_status (*onnx)(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
} px_xkind;

/* The C emitters and scratch sizes of the table kept in other files
 * (export_c_rnn.c, export_c_attention.c). */
px_status px_xemit_embedding(px_xctx *x, px_xlayer *l);
px_status px_xemit_rnn(px_xctx *x, px_xlayer *l);
px_status px_xemit_bidirectional(px_xctx *x, px_xlayer *l);
int64_t px_xrnn_scratch(const px_xlayer *l);
px_status px_xemit_dot(px_xctx *x, px_xlayer *l);
int64_t px_xdot_scratch(const px_xlayer *l);
px_status px_xemit_attention(px_xctx *x, px_xlayer *l);
int64_t px_xattention_scratch(const px_xlayer *l);
px_status px_xemit_mha(px_xctx *x, px_xlayer *l);
int64_t px_xmha_scratch(const px_xlayer *l);

/* The ONNX writers of the table (export_onnx.c, export_onnx_attention.c). */
px_status px_xonnx_dense(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_spatial(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_global_pool(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_recurrent(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_reshape(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_identity(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_activation(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_batchnorm(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_merge(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_concat(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_upsampling2d(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_time_distributed(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_dot(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_attention(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);
px_status px_xonnx_mha(px_xonnx *o, px_xlayer *l, const char *const *in, const char *out);

/* TimeDistributed's wrapped layer as seen on one timestep (export_c_layers.c):
 * its class, config and table entry, the shapes without the time axis. */
px_status px_xtd_inner(const px_xlayer *l, px_xlayer *in, const px_xkind **kind);

/* True when the layer has an int8 form (Dense, Conv1D, Conv2D). */
bool px_xkind_quantizable(const px_xlayer *l);

/* The table entry for a Keras class name, or NULL. */
const px_xkind *px_xkind_find(const char *cls);
/* True when a BatchNormalization may be folded into a layer of this class. */
bool px_xkind_foldable(const px_xlayer *l);

/* ---- without <math.h> (export_c_nomath.c) ---- */
/* Copies `code` into `out` with the C99 math names it uses (expf, INFINITY,
 * ...) renamed to the generated code's own (pxm_expf, pxm_inf()), and writes
 * the definitions of those into `math`, dependencies first. */
px_status px_xnomath(const px_cbuf *code, px_cbuf *math, px_cbuf *out);

/* ---- text helpers (export_c_text.c) ---- */
/* "static const float SYM_SUFFIX[n] = {...};" into the weights text (or its
 * extern twin when apart); the data must be finite. */
px_status px_xemit_array(px_xctx *x, const char *sym, const char *suffix, const float *v, int64_t n);
/* The layer function's opening line: its comment (Keras name, class, shapes)
 * and signature. */
void px_xemit_open(px_xctx *x, const px_xlayer *l, const char *what);
/* A float literal that reads back as v exactly ("0.5f", "1.0f", "-3.25e-05f"). */
void px_xfloat(char *buf, size_t len, float v);
/* "static const int8_t SYM_SUFFIX[n] = {...};" likewise. */
px_status px_xemit_array_i8(px_xctx *x, const char *sym, const char *suffix, const signed char *v, int64_t n);
/* Statements applying activation a in place to y[0..n) (softmax: over rows of
 * `last` values). Registers the helpers it uses. */
px_status px_xemit_activation(px_xctx *x, const px_xlayer *l, px_activation a, const char *y, int64_t n, int64_t last);
/* Registers the scalar function of elementwise activation a and returns its
 * name ("act_relu"), or NULL (with an error naming the layer) for softmax-like
 * ones; PX_LINEAR gives "". */
const char *px_xact_fn(px_xctx *x, const px_xlayer *l, px_activation a);
/* The helper functions registered so far. */
void px_xemit_helpers(px_cbuf *b, uint64_t helpers);

/* The number of values of a shape (1 for rank 0). */
int64_t px_xshape_size(px_shape s);
/* The layer's weight of that name (a copy the exporter owns), or NULL. */
px_tensor *px_xweight(const px_xlayer *l, const char *name);
/* Attention layers (export_c_attention.c): whether the layer was called with
 * use_causal_mask; an error naming it when an input carries a timestep mask. */
bool px_xcausal(const px_xlayer *l);
px_status px_xno_masks(const px_xlayer *l);
/* Config readers with the layer named in errors. */
px_status px_xget_ints(const px_xlayer *l, const char *key, int *out, int n, int def);
px_status px_xget_activation(const px_xlayer *l, const char *key, px_activation *a);

#endif
