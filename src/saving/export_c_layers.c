/* The exporters' layer table and the C exporter's layers: for each Keras class
 * it can export, the C it writes (one function per layer, its weights as const
 * arrays) and the function that writes it to ONNX (export_onnx.c). To export a
 * new layer, write its emitter here (or in a file of its family, as the
 * recurrent layers in export_c_rnn.c) and add one line to `table` at the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "saving/export_c_internal.h"

#define P(...) px_cbuf_printf(&x->code, __VA_ARGS__)
#define LL(v) ((long long)(v))


px_status px_xget_activation(const px_xlayer *l, const char *key, px_activation *a) {
    *a = PX_LINEAR;
    return px_lc_get_activation(l->config, key, a);
}

static const char *get_string(const px_xlayer *l, const char *key, const char *def) {
    return px_json_get_string(l->config, key, def);
}

static px_status no_weight(const px_xlayer *l, const char *name) {
    return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (%s) has no weight '%s'", l->name, l->cls, name);
}

/* Emits the layer's activation over y (rows of `last` values) and the function's
 * closing brace, for the emitters whose bodies declare no loop index `i`: the
 * activation's loop gets its own in a block (the output is C89). */
static px_status close_with_activation(px_xctx *x, const px_xlayer *l, px_activation a, int64_t last) {
    if (a != PX_LINEAR) P("    {\n        long i;\n");
    px_status st = px_xemit_activation(x, l, a, "y", px_xshape_size(l->out), last);
    if (a != PX_LINEAR) P("    }\n");
    P("}\n");
    return st;
}

/* The kernel and bias with a folded BatchNormalization applied: output channel
 * of kernel element i is i % n_out. Returns a new bias (caller frees) of n_out
 * values (zeros when the layer has none). */
static float *fold(const px_xlayer *l, px_tensor *kernel, const px_tensor *bias, int64_t n_out) {
    float *b = calloc((size_t)n_out, sizeof *b);
    if (!b) return px_set_error(PX_ERR_NOMEM, "export: out of memory"), NULL;
    if (bias) memcpy(b, bias->data, (size_t)n_out * sizeof *b);
    if (!l->fold_scale) return b;
    float *k = kernel->data;
    int64_t n = px_tensor_size(kernel);
    for (int64_t i = 0; i < n; i++) k[i] *= l->fold_scale[i % n_out];
    for (int64_t c = 0; c < n_out; c++) b[c] = b[c] * l->fold_scale[c] + l->fold_shift[c];
    return b;
}

bool px_xkind_foldable(const px_xlayer *l) {
    static const char *const names[] = {"Dense", "Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D",
                                        "SeparableConv1D", "SeparableConv2D"};
    px_activation a;
    if (px_xget_activation(l, "activation", &a) || a != PX_LINEAR) return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(l->cls, names[i]) == 0) return l->out.rank >= 1;
    return false;
}

bool px_xkind_quantizable(const px_xlayer *l) {
    return strcmp(l->cls, "Dense") == 0 || strcmp(l->cls, "Conv1D") == 0 || strcmp(l->cls, "Conv2D") == 0;
}

/* int8 layers quantize their input into the scratch buffer (int8 in float slots). */
static int64_t quant_scratch(const px_xlayer *l) { return l->int8 ? (px_xshape_size(l->in[0]) + 3) / 4 : 0; }

/* A kernel whose element i feeds output channel i % n_out, as int8 per channel
 * (symmetric, scale max|w| / 127) transposed to (n_out, inner) so that each
 * channel's weights are contiguous; the scales of the products: in_scale * w_scale. */
static px_status emit_kernel_q(px_xctx *x, const px_xlayer *l, const px_tensor *k, int64_t n_out) {
    const float *w = k->data;
    const int64_t inner = px_tensor_size(k) / n_out;
    signed char *q = malloc((size_t)px_tensor_size(k));
    float *scale = malloc((size_t)n_out * sizeof *scale);
    if (!q || !scale) return free(q), free(scale), px_set_error(PX_ERR_NOMEM, "export: out of memory");
    for (int64_t o = 0; o < n_out; o++) {
        float m = 0.0f;
        for (int64_t i = 0; i < inner; i++) m = fmaxf(m, fabsf(w[i * n_out + o]));
        float s = m > 0 ? m / 127.0f : 1.0f;
        for (int64_t i = 0; i < inner; i++) {
            float v = roundf(w[i * n_out + o] / s);
            q[o * inner + i] = (signed char)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
        scale[o] = l->in_scale * s;
    }
    px_status st = px_xemit_array_i8(x, l->sym, "kernel", q, px_tensor_size(k));
    if (!st) st = px_xemit_array(x, l->sym, "scale", scale, n_out);
    free(q);
    free(scale);
    x->helpers |= PX_CH_QUANTIZE;
    return st;
}

static void quant_comment(char *what, size_t len, const px_xlayer *l, px_activation a) {
    char s[48];
    px_xfloat(s, sizeof s, l->in_scale);
    snprintf(what, len, "int8: weights per channel, input scale %s zero %d, int32 sums%s%s", s, l->in_zero,
             l->fold_scale ? ", BatchNormalization folded in" : ", ", l->fold_scale ? "" : px_activation_name(a));
}

static px_status emit_dense_q(px_xctx *x, px_xlayer *l, px_tensor *k, px_activation a) {
    int64_t K = l->in[0].dim[l->in[0].rank - 1], U = l->out.dim[l->out.rank - 1], rows = px_xshape_size(l->out) / U;
    float *b = fold(l, k, px_xweight(l, "bias"), U);
    if (!b) return px_last_status();
    px_status st = emit_kernel_q(x, l, k, U);
    if (!st) st = px_xemit_array(x, l->sym, "bias", b, U);
    free(b);
    if (st) return st;
    char what[200], inv[48];
    quant_comment(what, sizeof what, l, a);
    px_xfloat(inv, sizeof inv, 1.0f / l->in_scale);
    px_xemit_open(x, l, what);
    P("    int8_t *q = (int8_t *)tmp;\n    long r, i;\n    int o;\n");
    P("    quantize(x, q, %lld, %s, %d);\n", LL(rows * K), inv, l->in_zero);
    P("    for (r = 0; r < %lld; r++) {\n        const int8_t *qr = q + r * %lld;\n        float *yr = y + r * %lld;\n", LL(rows), LL(K), LL(U));
    P("        for (o = 0; o < %lld; o++) {\n            const int8_t *w = %s_kernel + o * %lld;\n            int32_t acc = 0;\n"
      "            for (i = 0; i < %lld; i++) acc += (int32_t)(qr[i] %c %d) * w[i];\n"
      "            yr[o] = (float)acc * %s_scale[o] + %s_bias[o];\n        }\n    }\n",
      LL(U), l->sym, LL(K), LL(K), l->in_zero < 0 ? '+' : '-', abs(l->in_zero), l->sym, l->sym);
    st = px_xemit_activation(x, l, a, "y", px_xshape_size(l->out), U);
    P("}\n");
    return st;
}

/* ---------------------------------------------------------------- Dense */

static px_status emit_dense(px_xctx *x, px_xlayer *l) {
    px_tensor *k = px_xweight(l, "kernel");
    if (!k) return no_weight(l, "kernel");
    int64_t K = l->in[0].dim[l->in[0].rank - 1], U = l->out.dim[l->out.rank - 1], rows = px_xshape_size(l->out) / U;
    px_activation a;
    if (px_xget_activation(l, "activation", &a)) return px_last_status();
    if (l->int8) return emit_dense_q(x, l, k, a);
    float *b = fold(l, k, px_xweight(l, "bias"), U);
    if (!b) return px_last_status();
    px_status st = px_xemit_array(x, l->sym, "kernel", k->data, K * U);
    if (!st) st = px_xemit_array(x, l->sym, "bias", b, U);
    free(b);
    if (st) return st;
    px_xemit_open(x, l, l->fold_scale ? "BatchNormalization folded in" : px_activation_name(a));
    P("    long r, i;\n    int o;\n");
    P("    for (r = 0; r < %lld; r++) {\n", LL(rows));
    P("        const float *xr = x + r * %lld;\n        float *yr = y + r * %lld;\n", LL(K), LL(U));
    P("        for (o = 0; o < %lld; o++) yr[o] = %s_bias[o];\n", LL(U), l->sym);
    P("        for (i = 0; i < %lld; i++) {\n            const float xv = xr[i];\n            const float *w = %s_kernel + i * %lld;\n"
      "            for (o = 0; o < %lld; o++) yr[o] += xv * w[o];\n        }\n    }\n",
      LL(K), l->sym, LL(U), LL(U));
    if (a == PX_LINEAR) P("    (void)i;\n");
    st = px_xemit_activation(x, l, a, "y", px_xshape_size(l->out), U);
    P("}\n");
    return st;
}

/* ---------------------------------------------------------------- convolutions */

/* Spatial geometry of a 1-D or 2-D layer, a 1-D one seen as height 1. */
typedef struct geom {
    int H, W, C, OH, OW, F;
    int KH, KW, SH, SW, DH, DW, PT, PL;
} geom;

static int pad_before(const char *padding, int in, int out, int k, int s, int d) {
    if (strcmp(padding, "causal") == 0) return (k - 1) * d;
    if (strcmp(padding, "same") != 0) return 0;
    int total = (out - 1) * s + (k - 1) * d + 1 - in;
    return total > 0 ? total / 2 : 0;
}

/* Reads sizes from shapes and strides / dilation / padding from the config;
 * ksize_key names the window ("kernel_size", "pool_size"), or NULL: take the
 * window from kh, kw. */
static px_status geometry(const px_xlayer *l, const char *ksize_key, int kh, int kw, geom *g) {
    bool two = l->in[0].rank == 3;
    if (l->in[0].rank != (two ? 3 : 2) || l->out.rank != l->in[0].rank)
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s): input of rank %d is not (steps, channels) or (h, w, channels)",
                            l->name, l->cls, l->in[0].rank);
    int n = two ? 2 : 1, k[2], s[2], d[2];
    if (ksize_key) {
        if (px_xget_ints(l, ksize_key, k, n, 1)) return px_last_status();
    } else {
        k[0] = two ? kh : kw;
        k[1] = kw;
    }
    if (px_xget_ints(l, "strides", s, n, 0) || px_xget_ints(l, "dilation_rate", d, n, 1)) return px_last_status();
    for (int i = 0; i < n; i++) {
        if (s[i] <= 0) s[i] = k[i]; /* pooling: strides None = the window */
        if (d[i] <= 0) d[i] = 1;
    }
    const char *padding = get_string(l, "padding", "valid");
    g->H = two ? (int)l->in[0].dim[0] : 1;
    g->W = (int)l->in[0].dim[two ? 1 : 0];
    g->C = (int)l->in[0].dim[two ? 2 : 1];
    g->OH = two ? (int)l->out.dim[0] : 1;
    g->OW = (int)l->out.dim[two ? 1 : 0];
    g->F = (int)l->out.dim[two ? 2 : 1];
    g->KH = two ? k[0] : 1;
    g->KW = two ? k[1] : k[0];
    g->SH = two ? s[0] : 1;
    g->SW = two ? s[1] : s[0];
    g->DH = two ? d[0] : 1;
    g->DW = two ? d[1] : d[0];
    g->PT = two ? pad_before(padding, g->H, g->OH, g->KH, g->SH, g->DH) : 0;
    g->PL = pad_before(padding, g->W, g->OW, g->KW, g->SW, g->DW);
    return PX_OK;
}

/* The window loops shared by convolutions and poolings: for each output pixel
 * (yp) and each input pixel of its window inside the image (xp). */
static void window_open(px_xctx *x, const geom *g, int out_ch) {
    P("    int oy, ox, ky, kx;\n");
    P("    for (oy = 0; oy < %d; oy++)\n        for (ox = 0; ox < %d; ox++) {\n", g->OH, g->OW);
    P("            float *yp = y + (oy * %d + ox) * %d;\n", g->OW, out_ch);
}
static void window_inner_of(px_xctx *x, const geom *g, const char *base, const char *type) {
    P("            for (ky = 0; ky < %d; ky++) {\n                const int iy = oy * %d - %d + ky * %d;\n"
      "                if (iy < 0 || iy >= %d) continue;\n",
      g->KH, g->SH, g->PT, g->DH, g->H);
    P("                for (kx = 0; kx < %d; kx++) {\n                    const int ix = ox * %d - %d + kx * %d;\n"
      "                    const %s *xp;\n"
      "                    if (ix < 0 || ix >= %d) continue;\n"
      "                    xp = %s + (iy * %d + ix) * %d;\n",
      g->KW, g->SW, g->PL, g->DW, type, g->W, base, g->W, g->C);
}
static void window_inner(px_xctx *x, const geom *g) { window_inner_of(x, g, "x", "float"); }

/* Conv1D / Conv2D in int8: the input quantized into the scratch buffer, each
 * output channel's window summed in int32, then scaled to float. */
static px_status emit_conv_q(px_xctx *x, px_xlayer *l, px_tensor *k, const geom *g, px_activation a) {
    float *b = fold(l, k, px_xweight(l, "bias"), g->F);
    if (!b) return px_last_status();
    px_status st = emit_kernel_q(x, l, k, g->F);
    if (!st) st = px_xemit_array(x, l->sym, "bias", b, g->F);
    free(b);
    if (st) return st;
    char what[240], inv[48], geo[100];
    quant_comment(what, sizeof what - 100, l, a);
    snprintf(geo, sizeof geo, "; kernel %dx%d, strides %dx%d, padding %s", g->KH, g->KW, g->SH, g->SW, get_string(l, "padding", "valid"));
    strcat(what, geo);
    px_xfloat(inv, sizeof inv, 1.0f / l->in_scale);
    px_xemit_open(x, l, what);
    P("    int8_t *q = (int8_t *)tmp;\n    int c, f;\n    int32_t acc[%d];\n", g->F);
    P("    quantize(x, q, %lld, %s, %d);\n", LL(px_xshape_size(l->in[0])), inv, l->in_zero);
    window_open(x, g, g->F);
    P("            for (f = 0; f < %d; f++) acc[f] = 0;\n", g->F);
    window_inner_of(x, g, "q", "int8_t");
    P("                    for (f = 0; f < %d; f++) {\n                        const int8_t *w = %s_kernel + f * %d + (ky * %d + kx) * %d;\n"
      "                        int32_t s = 0;\n                        for (c = 0; c < %d; c++) s += (int32_t)(xp[c] %c %d) * w[c];\n"
      "                        acc[f] += s;\n                    }\n",
      g->F, l->sym, g->KH * g->KW * g->C, g->KW, g->C, g->C, l->in_zero < 0 ? '+' : '-', abs(l->in_zero));
    P("                }\n            }\n");
    P("            for (f = 0; f < %d; f++) yp[f] = (float)acc[f] * %s_scale[f] + %s_bias[f];\n        }\n", g->F, l->sym, l->sym);
    return close_with_activation(x, l, a, g->F);
}

/* Conv1D / Conv2D: kernel (kh, kw, C, F). */
static px_status emit_conv(px_xctx *x, px_xlayer *l) {
    px_tensor *k = px_xweight(l, "kernel");
    if (!k) return no_weight(l, "kernel");
    geom g;
    px_activation a;
    if (geometry(l, "kernel_size", 0, 0, &g) || px_xget_activation(l, "activation", &a)) return px_last_status();
    if (px_tensor_size(k) != (int64_t)g.KH * g.KW * g.C * g.F)
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s): kernel of %lld values for a %dx%d window, %d -> %d channels",
                            l->name, l->cls, LL(px_tensor_size(k)), g.KH, g.KW, g.C, g.F);
    if (l->int8) return emit_conv_q(x, l, k, &g, a);
    float *b = fold(l, k, px_xweight(l, "bias"), g.F);
    if (!b) return px_last_status();
    px_status st = px_xemit_array(x, l->sym, "kernel", k->data, px_tensor_size(k));
    if (!st) st = px_xemit_array(x, l->sym, "bias", b, g.F);
    free(b);
    if (st) return st;
    char what[160];
    snprintf(what, sizeof what, "kernel %dx%d, strides %dx%d, dilation %dx%d, padding %s%s%s", g.KH, g.KW, g.SH, g.SW, g.DH,
             g.DW, get_string(l, "padding", "valid"), l->fold_scale ? ", BatchNormalization folded in" : ", ",
             l->fold_scale ? "" : px_activation_name(a));
    px_xemit_open(x, l, what);
    P("    int c, f;\n");
    window_open(x, &g, g.F);
    P("            for (f = 0; f < %d; f++) yp[f] = %s_bias[f];\n", g.F, l->sym);
    window_inner(x, &g);
    P("                    const float *w = %s_kernel + (ky * %d + kx) * %d;\n", l->sym, g.KW, g.C * g.F);
    P("                    for (c = 0; c < %d; c++) {\n                        const float xv = xp[c];\n"
      "                        for (f = 0; f < %d; f++) yp[f] += xv * w[c * %d + f];\n                    }\n",
      g.C, g.F, g.F);
    P("                }\n            }\n        }\n");
    return close_with_activation(x, l, a, g.F);
}

/* Conv1DTranspose / Conv2DTranspose: the adjoint of the convolution from the
 * output (OH, OW, F) to the input (H, W, C) with kernel (kh, kw, F, C); each
 * input pixel adds its window into the output. */
static px_status emit_conv_transpose(px_xctx *x, px_xlayer *l) {
    px_tensor *k = px_xweight(l, "kernel");
    if (!k) return no_weight(l, "kernel");
    geom g;
    px_activation a;
    if (geometry(l, "kernel_size", 0, 0, &g) || px_xget_activation(l, "activation", &a)) return px_last_status();
    const char *padding = get_string(l, "padding", "valid");
    /* the forward convolution's padding, from the output's size to the input's */
    g.PT = g.KH > 1 || g.OH > 1 ? pad_before(padding, g.OH, g.H, g.KH, g.SH, g.DH) : 0;
    g.PL = pad_before(padding, g.OW, g.W, g.KW, g.SW, g.DW);
    if (px_tensor_size(k) != (int64_t)g.KH * g.KW * g.C * g.F)
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s): kernel does not fit", l->name, l->cls);
    float *b = fold(l, k, px_xweight(l, "bias"), g.F);
    if (!b) return px_last_status();
    px_status st = px_xemit_array(x, l->sym, "kernel", k->data, px_tensor_size(k));
    if (!st) st = px_xemit_array(x, l->sym, "bias", b, g.F);
    free(b);
    if (st) return st;
    char what[160];
    snprintf(what, sizeof what, "kernel %dx%d, strides %dx%d, padding %s, %s", g.KH, g.KW, g.SH, g.SW, padding, px_activation_name(a));
    px_xemit_open(x, l, what);
    P("    long p;\n    int iy, ix, ky, kx, c, f;\n");
    P("    for (p = 0; p < %lld; p++)\n        for (f = 0; f < %d; f++) y[p * %d + f] = %s_bias[f];\n", LL((int64_t)g.OH * g.OW), g.F,
      g.F, l->sym);
    P("    for (iy = 0; iy < %d; iy++)\n        for (ix = 0; ix < %d; ix++) {\n            const float *xp = x + (iy * %d + ix) * %d;\n", g.H,
      g.W, g.W, g.C);
    P("            for (ky = 0; ky < %d; ky++) {\n                const int oy = iy * %d - %d + ky * %d;\n"
      "                if (oy < 0 || oy >= %d) continue;\n",
      g.KH, g.SH, g.PT, g.DH, g.OH);
    P("                for (kx = 0; kx < %d; kx++) {\n                    const int ox = ix * %d - %d + kx * %d;\n"
      "                    float *yp;\n                    const float *w;\n                    if (ox < 0 || ox >= %d) continue;\n",
      g.KW, g.SW, g.PL, g.DW, g.OW);
    P("                    yp = y + (oy * %d + ox) * %d;\n                    w = %s_kernel + (ky * %d + kx) * %d;\n", g.OW, g.F, l->sym,
      g.KW, g.F * g.C);
    P("                    for (f = 0; f < %d; f++) {\n                        float s = 0.0f;\n"
      "                        for (c = 0; c < %d; c++) s += xp[c] * w[f * %d + c];\n                        yp[f] += s;\n"
      "                    }\n                }\n            }\n        }\n",
      g.F, g.C, g.C);
    return close_with_activation(x, l, a, g.F);
}

/* DepthwiseConv1D/2D and SeparableConv1D/2D: depthwise kernel (kh, kw, C, M),
 * output channel c * M + m; the separable ones then a 1x1 convolution
 * (pointwise kernel (C * M, F)) from the scratch buffer. */
static int64_t separable_scratch(const px_xlayer *l) {
    if (!strstr(l->cls, "Separable")) return 0;
    px_tensor *d = px_xweight(l, "depthwise_kernel");
    const px_shape s = l->out;
    int64_t pixels = px_xshape_size(s) / s.dim[s.rank - 1];
    return d ? pixels * px_tensor_shape(d).dim[px_tensor_shape(d).rank - 2] * px_tensor_shape(d).dim[px_tensor_shape(d).rank - 1] : 0;
}

static px_status emit_depthwise(px_xctx *x, px_xlayer *l) {
    px_tensor *dk = px_xweight(l, "depthwise_kernel"), *pk = px_xweight(l, "pointwise_kernel");
    const bool sep = strstr(l->cls, "Separable") != NULL;
    if (!dk) return no_weight(l, "depthwise_kernel");
    if (sep && !pk) return no_weight(l, "pointwise_kernel");
    px_shape ds = px_tensor_shape(dk);
    int M = (int)ds.dim[ds.rank - 1], C = (int)ds.dim[ds.rank - 2], KH = ds.rank == 4 ? (int)ds.dim[0] : 1,
        KW = (int)ds.dim[ds.rank - 3];
    geom g;
    px_activation a;
    if (geometry(l, NULL, KH, KW, &g) || px_xget_activation(l, "activation", &a)) return px_last_status();
    const int CM = C * M;
    px_status st;
    float *b;
    if (sep) {
        b = fold(l, pk, px_xweight(l, "bias"), g.F);
        if (!b) return px_last_status();
        st = px_xemit_array(x, l->sym, "depthwise", dk->data, px_tensor_size(dk));
        if (!st) st = px_xemit_array(x, l->sym, "pointwise", pk->data, px_tensor_size(pk));
        if (!st) st = px_xemit_array(x, l->sym, "bias", b, g.F);
    } else {
        b = fold(l, dk, px_xweight(l, "bias"), CM);
        if (!b) return px_last_status();
        st = px_xemit_array(x, l->sym, "depthwise", dk->data, px_tensor_size(dk));
        if (!st) st = px_xemit_array(x, l->sym, "bias", b, CM);
    }
    free(b);
    if (st) return st;
    char what[160];
    snprintf(what, sizeof what, "kernel %dx%d, depth multiplier %d, strides %dx%d, padding %s%s%s", KH, KW, M, g.SH, g.SW,
             get_string(l, "padding", "valid"), l->fold_scale ? ", BatchNormalization folded in" : ", ",
             l->fold_scale ? "" : px_activation_name(a));
    px_xemit_open(x, l, what);
    P("    int c, m;\n");
    if (sep) P("    float *const out = y;\n    y = tmp;\n"); /* the depthwise pass into the scratch buffer */
    window_open(x, &g, CM);
    if (sep)
        P("            for (c = 0; c < %d; c++) yp[c] = 0.0f;\n", CM);
    else
        P("            for (c = 0; c < %d; c++) yp[c] = %s_bias[c];\n", CM, l->sym);
    window_inner(x, &g);
    P("                    const float *w = %s_depthwise + (ky * %d + kx) * %d;\n", l->sym, KW, CM);
    P("                    for (c = 0; c < %d; c++)\n                        for (m = 0; m < %d; m++) yp[c * %d + m] += xp[c] * w[c * %d + m];\n",
      C, M, M, M);
    P("                }\n            }\n        }\n");
    if (sep) {
        P("    {\n        long p;\n        int f;\n        for (p = 0; p < %lld; p++) {\n", LL((int64_t)g.OH * g.OW));
        P("            const float *t = tmp + p * %d;\n            float *o = out + p * %d;\n", CM, g.F);
        P("            for (f = 0; f < %d; f++) o[f] = %s_bias[f];\n", g.F, l->sym);
        P("            for (c = 0; c < %d; c++)\n                for (f = 0; f < %d; f++) o[f] += t[c] * %s_pointwise[c * %d + f];\n", CM,
          g.F, l->sym, g.F);
        P("        }\n    }\n    y = out;\n");
    }
    return close_with_activation(x, l, a, g.F);
}

/* ---------------------------------------------------------------- pooling */

static px_status emit_pool(px_xctx *x, px_xlayer *l) {
    geom g;
    if (geometry(l, "pool_size", 0, 0, &g)) return px_last_status();
    const bool mx = strncmp(l->cls, "Max", 3) == 0;
    char what[120];
    snprintf(what, sizeof what, "pool %dx%d, strides %dx%d, padding %s", g.KH, g.KW, g.SH, g.SW, get_string(l, "padding", "valid"));
    px_xemit_open(x, l, what);
    P("    int c;\n");
    if (!mx) P("    int n;\n");
    window_open(x, &g, g.C);
    P("            for (c = 0; c < %d; c++) yp[c] = %s;\n", g.C, mx ? "-INFINITY" : "0.0f");
    if (!mx) P("            n = 0;\n");
    window_inner(x, &g);
    if (mx)
        P("                    for (c = 0; c < %d; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];\n", g.C);
    else
        P("                    for (c = 0; c < %d; c++) yp[c] += xp[c];\n                    n++;\n", g.C);
    P("                }\n            }\n");
    /* as Keras: the padding is not counted in an average */
    if (!mx) P("            for (c = 0; c < %d; c++) yp[c] /= (float)n;\n", g.C);
    P("        }\n}\n");
    return PX_OK;
}

static px_status emit_global_pool(px_xctx *x, px_xlayer *l) {
    const int64_t C = l->in[0].dim[l->in[0].rank - 1], n = px_xshape_size(l->in[0]) / C;
    const bool mx = strncmp(l->cls, "GlobalMax", 9) == 0;
    px_xemit_open(x, l, mx ? "maximum over the positions" : "mean over the positions");
    P("    long p;\n    int c;\n");
    P("    for (c = 0; c < %lld; c++) y[c] = %s;\n", LL(C), mx ? "x[c]" : "0.0f");
    P("    for (p = %d; p < %lld; p++)\n        for (c = 0; c < %lld; c++) ", mx ? 1 : 0, LL(n), LL(C));
    if (mx)
        P("y[c] = x[p * %lld + c] > y[c] ? x[p * %lld + c] : y[c];\n", LL(C), LL(C));
    else
        P("y[c] += x[p * %lld + c];\n    for (c = 0; c < %lld; c++) y[c] /= %lld.0f;\n", LL(C), LL(C), LL(n));
    P("}\n");
    return PX_OK;
}

/* ---------------------------------------------------------------- normalisation */

/* The channel count and the stride between channels of axis `axis` (Keras's
 * counting, batch = 0, negative from the end) of shape s. */
static px_status axis_of(const px_xlayer *l, int axis, px_shape s, int64_t *channels, int64_t *inner) {
    int a = axis < 0 ? s.rank + 1 + axis : axis;
    if (a < 1 || a > s.rank)
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s): axis %d is not an axis of its input", l->name, l->cls, axis);
    *channels = s.dim[a - 1];
    *inner = 1;
    for (int i = a; i < s.rank; i++) *inner *= s.dim[i];
    return PX_OK;
}

/* y = x * scale[c] + shift[c] along one axis (standalone BatchNormalization). */
static px_status emit_batchnorm(px_xctx *x, px_xlayer *l) {
    int axis;
    int64_t C = 0, inner = 1;
    if (px_xget_ints(l, "axis", &axis, 1, -1) || axis_of(l, axis, l->in[0], &C, &inner)) return px_last_status();
    const px_tensor *g = px_xweight(l, "gamma"), *b = px_xweight(l, "beta"), *mean = px_xweight(l, "moving_mean"),
                    *var = px_xweight(l, "moving_variance");
    if (!mean || !var) return no_weight(l, "moving_mean");
    float eps = (float)px_json_get_number(l->config, "epsilon", 1e-3);
    float *scale = malloc((size_t)C * sizeof *scale), *shift = malloc((size_t)C * sizeof *shift);
    if (!scale || !shift) return free(scale), free(shift), px_set_error(PX_ERR_NOMEM, "export: out of memory");
    for (int64_t c = 0; c < C; c++) {
        scale[c] = (g ? ((const float *)g->data)[c] : 1.0f) / sqrtf(((const float *)var->data)[c] + eps);
        shift[c] = (b ? ((const float *)b->data)[c] : 0.0f) - ((const float *)mean->data)[c] * scale[c];
    }
    px_status st = px_xemit_array(x, l->sym, "scale", scale, C);
    if (!st) st = px_xemit_array(x, l->sym, "shift", shift, C);
    free(scale);
    free(shift);
    if (st) return st;
    px_xemit_open(x, l, "inference: x * gamma / sqrt(var + eps) + (beta - mean * that)");
    P("    long i;\n    for (i = 0; i < %lld; i++) {\n        const long c = (i / %lld) %% %lld;\n"
      "        y[i] = x[i] * %s_scale[c] + %s_shift[c];\n    }\n}\n",
      LL(px_xshape_size(l->out)), LL(inner), LL(C), l->sym, l->sym);
    return PX_OK;
}

/* LayerNormalization over the last axes: per row, (x - mean) / sqrt(var + eps) * gamma + beta. */
static px_status emit_layer_norm(px_xctx *x, px_xlayer *l) {
    const px_tensor *g = px_xweight(l, "gamma"), *b = px_xweight(l, "beta");
    int64_t n = g ? px_tensor_size(g) : b ? px_tensor_size(b) : 0;
    if (!n) {
        /* no weights: the normalised axes from the config */
        int axes[PX_MAX_RANK];
        const px_json *v = px_json_get(l->config, "axis");
        int k = px_json_is_array(v) ? (int)px_json_len(v) : 1;
        if (k > PX_MAX_RANK || px_xget_ints(l, "axis", axes, k, -1)) return px_set_error(PX_ERR_FORMAT, "export: layer '%s': bad axis", l->name);
        n = 1;
        for (int i = 0; i < k; i++) n *= l->in[0].dim[(axes[i] < 0 ? l->in[0].rank + axes[i] : axes[i] - 1)];
    }
    float eps = (float)px_json_get_number(l->config, "epsilon", 1e-3);
    px_status st = PX_OK;
    if (g) st = px_xemit_array(x, l->sym, "gamma", g->data, n);
    if (!st && b) st = px_xemit_array(x, l->sym, "beta", b->data, n);
    if (st) return st;
    char e[48];
    px_xfloat(e, sizeof e, eps);
    px_xemit_open(x, l, "over the last axes");
    P("    long r, i;\n    for (r = 0; r < %lld; r++) {\n        const float *xr = x + r * %lld;\n        float *yr = y + r * %lld;\n"
      "        float mean = 0.0f, var = 0.0f, inv;\n",
      LL(px_xshape_size(l->in[0]) / n), LL(n), LL(n));
    P("        for (i = 0; i < %lld; i++) mean += xr[i];\n        mean /= %lld.0f;\n", LL(n), LL(n));
    P("        for (i = 0; i < %lld; i++) var += (xr[i] - mean) * (xr[i] - mean);\n        var /= %lld.0f;\n", LL(n), LL(n));
    P("        inv = 1.0f / sqrtf(var + %s);\n", e);
    P("        for (i = 0; i < %lld; i++) yr[i] = (xr[i] - mean) * inv", LL(n));
    if (g) P(" * %s_gamma[i]", l->sym);
    if (b) P(" + %s_beta[i]", l->sym);
    P(";\n    }\n}\n");
    return PX_OK;
}

/* Normalization (preprocessing): (x - mean) / max(sqrt(var), 1e-7) along one axis, or its inverse. */
static px_status emit_normalization(px_xctx *x, px_xlayer *l) {
    const px_tensor *mean = px_xweight(l, "mean"), *var = px_xweight(l, "variance");
    if (!mean || !var) return no_weight(l, "mean");
    int64_t C = px_tensor_size(mean), inner = 1;
    int axis = -1;
    if (C > 1) {
        if (px_xget_ints(l, "axis", &axis, 1, -1)) return px_last_status();
        int64_t c2 = 0;
        if (axis_of(l, axis, l->in[0], &c2, &inner)) return px_last_status();
        if (c2 != C) return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (Normalization): %lld means for an axis of %lld", l->name, LL(C), LL(c2));
    }
    float *sd = malloc((size_t)C * sizeof *sd);
    if (!sd) return px_set_error(PX_ERR_NOMEM, "export: out of memory");
    for (int64_t c = 0; c < C; c++) sd[c] = fmaxf(sqrtf(((const float *)var->data)[c]), 1e-7f);
    px_status st = px_xemit_array(x, l->sym, "mean", mean->data, C);
    if (!st) st = px_xemit_array(x, l->sym, "sd", sd, C);
    free(sd);
    if (st) return st;
    bool inv = px_json_get_bool(l->config, "invert", false);
    px_xemit_open(x, l, inv ? "inverse: x * sd + mean" : "(x - mean) / sd");
    P("    long i;\n    for (i = 0; i < %lld; i++) {\n        const long c = (i / %lld) %% %lld;\n", LL(px_xshape_size(l->out)), LL(inner), LL(C));
    if (inv)
        P("        y[i] = x[i] * %s_sd[c] + %s_mean[c];\n    }\n}\n", l->sym, l->sym);
    else
        P("        y[i] = (x[i] - %s_mean[c]) / %s_sd[c];\n    }\n}\n", l->sym, l->sym);
    return PX_OK;
}

/* ---------------------------------------------------------------- activations */

static px_status emit_activation(px_xctx *x, px_xlayer *l) {
    px_activation a;
    if (px_xget_activation(l, "activation", &a)) return px_last_status();
    px_xemit_open(x, l, px_activation_name(a));
    const int64_t n = px_xshape_size(l->out);
    P("    long i;\n    for (i = 0; i < %lld; i++) y[i] = x[i];\n", LL(n));
    px_status st = px_xemit_activation(x, l, a, "y", n, l->out.dim[l->out.rank - 1]);
    P("}\n");
    return st;
}

static float get_float(const px_xlayer *l, const char *key, float def) {
    const px_json *v = px_json_get(l->config, key);
    return v && px_json_is_number(v) ? (float)px_json_number(v) : def;
}

/* ReLU (max_value, negative_slope, threshold), LeakyReLU, ELU. */
static px_status emit_relu_family(px_xctx *x, px_xlayer *l) {
    char a[48], t[48], m[48];
    const int64_t n = px_xshape_size(l->out);
    if (strcmp(l->cls, "ELU") == 0) {
        px_xfloat(a, sizeof a, get_float(l, "alpha", 1.0f));
        px_xemit_open(x, l, "x > 0 ? x : alpha * (exp(x) - 1)");
        P("    long i;\n    for (i = 0; i < %lld; i++) y[i] = x[i] > 0.0f ? x[i] : %s * expm1f(x[i]);\n}\n", LL(n), a);
        return PX_OK;
    }
    if (strcmp(l->cls, "LeakyReLU") == 0) {
        px_xfloat(a, sizeof a, get_float(l, "alpha", get_float(l, "negative_slope", 0.3f)));
        px_xemit_open(x, l, "x > 0 ? x : alpha * x");
        P("    long i;\n    for (i = 0; i < %lld; i++) y[i] = x[i] > 0.0f ? x[i] : %s * x[i];\n}\n", LL(n), a);
        return PX_OK;
    }
    const px_json *mv = px_json_get(l->config, "max_value");
    const bool has_max = mv && px_json_is_number(mv);
    px_xfloat(a, sizeof a, get_float(l, "negative_slope", 0.0f));
    px_xfloat(t, sizeof t, get_float(l, "threshold", 0.0f));
    px_xfloat(m, sizeof m, get_float(l, "max_value", 0.0f));
    /* keras.activations.relu's formula, as Plexus computes it */
    px_xemit_open(x, l, "(x > threshold ? x : 0) clipped to [0, max_value], minus negative_slope * relu(threshold - x)");
    P("    long i;\n    for (i = 0; i < %lld; i++) {\n        float v = x[i] > %s ? x[i] : 0.0f;\n", LL(n), t);
    if (has_max) P("        v = fminf(fmaxf(v, 0.0f), %s);\n", m);
    P("        y[i] = v - %s * fmaxf(%s - x[i], 0.0f);\n    }\n}\n", a, t);
    return PX_OK;
}

/* PReLU: alpha has the input's shape with 1 on shared axes; written out in full. */
static px_status emit_prelu(px_xctx *x, px_xlayer *l) {
    px_tensor *al = px_xweight(l, "alpha");
    if (!al) return no_weight(l, "alpha");
    px_shape s = l->in[0], as = px_tensor_shape(al);
    const int64_t n = px_xshape_size(s);
    if (as.rank != s.rank) return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (PReLU): alpha of rank %d for an input of rank %d", l->name, as.rank, s.rank);
    float *full = malloc((size_t)n * sizeof *full);
    if (!full) return px_set_error(PX_ERR_NOMEM, "export: out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, ai = 0, stride = 1;
        for (int d = s.rank - 1; d >= 0; d--) {
            int64_t c = rem % s.dim[d];
            rem /= s.dim[d];
            ai += (as.dim[d] == 1 ? 0 : c) * stride;
            stride *= as.dim[d];
        }
        full[i] = ((const float *)al->data)[ai];
    }
    px_status st = px_xemit_array(x, l->sym, "alpha", full, n);
    free(full);
    if (st) return st;
    px_xemit_open(x, l, "x > 0 ? x : alpha * x");
    P("    long i;\n    for (i = 0; i < %lld; i++) y[i] = x[i] > 0.0f ? x[i] : %s_alpha[i] * x[i];\n}\n", LL(n), l->sym);
    return PX_OK;
}

static px_status emit_softmax(px_xctx *x, px_xlayer *l) {
    int axis;
    if (px_xget_ints(l, "axis", &axis, 1, -1)) return px_last_status();
    if (!(axis == -1 || axis == l->in[0].rank))
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (Softmax): only the last axis is exported (axis %d)", l->name, axis);
    px_xemit_open(x, l, "over the last axis");
    const int64_t n = px_xshape_size(l->out);
    P("    long i;\n    for (i = 0; i < %lld; i++) y[i] = x[i];\n", LL(n));
    px_status st = px_xemit_activation(x, l, PX_SOFTMAX, "y", n, l->out.dim[l->out.rank - 1]);
    P("}\n");
    return st;
}

static px_status emit_rescaling(px_xctx *x, px_xlayer *l) {
    char s[48], o[48];
    px_xfloat(s, sizeof s, get_float(l, "scale", 1.0f));
    px_xfloat(o, sizeof o, get_float(l, "offset", 0.0f));
    px_xemit_open(x, l, "x * scale + offset");
    P("    long i;\n    for (i = 0; i < %lld; i++) y[i] = x[i] * %s + %s;\n}\n", LL(px_xshape_size(l->out)), s, o);
    return PX_OK;
}

/* ---------------------------------------------------------------- merges */

static px_status emit_elementwise_merge(px_xctx *x, px_xlayer *l) {
    static const struct {
        const char *cls, *first, *op;
    } ops[] = {{"Add", "v = x0[i];", "v += x%d[i];"},       {"Subtract", "v = x0[i];", "v -= x%d[i];"},
               {"Multiply", "v = x0[i];", "v *= x%d[i];"},  {"Average", "v = x0[i];", "v += x%d[i];"},
               {"Maximum", "v = x0[i];", "v = x%d[i] > v ? x%d[i] : v;"}, {"Minimum", "v = x0[i];", "v = x%d[i] < v ? x%d[i] : v;"}};
    int k = 0;
    while (strcmp(ops[k].cls, l->cls) != 0) k++;
    const int64_t n = px_xshape_size(l->out);
    for (int i = 0; i < l->n_in; i++)
        if (px_xshape_size(l->in[i]) != n)
            return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s): inputs of different shapes (broadcasting) are not exported",
                                l->name, l->cls);
    if (l->n_in < 2) return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s) needs two inputs or more", l->name, l->cls);
    px_xemit_open(x, l, "elementwise");
    P("    long i;\n    for (i = 0; i < %lld; i++) {\n        float v;\n        %s\n", LL(n), ops[k].first);
    for (int i = 1; i < l->n_in; i++) {
        P("        ");
        P(ops[k].op, i, i);
        P("\n");
    }
    if (strcmp(l->cls, "Average") == 0) P("        v /= %d.0f;\n", l->n_in);
    P("        y[i] = v;\n    }\n}\n");
    return PX_OK;
}

static px_status emit_concatenate(px_xctx *x, px_xlayer *l) {
    int axis;
    if (px_xget_ints(l, "axis", &axis, 1, -1)) return px_last_status();
    int a = axis < 0 ? l->out.rank + axis : axis - 1;
    if (a < 0 || a >= l->out.rank) return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (Concatenate): bad axis %d", l->name, axis);
    int64_t outer = 1;
    for (int i = 0; i < a; i++) outer *= l->out.dim[i];
    px_xemit_open(x, l, "along one axis");
    P("    long o, i;\n    for (o = 0; o < %lld; o++) {\n        float *yo = y + o * %lld;\n", LL(outer), LL(px_xshape_size(l->out) / outer));
    int64_t at = 0;
    for (int k = 0; k < l->n_in; k++) {
        int64_t inner = px_xshape_size(l->in[k]) / outer;
        P("        for (i = 0; i < %lld; i++) yo[%lld + i] = x%d[o * %lld + i];\n", LL(inner), LL(at), k, LL(inner));
        at += inner;
    }
    P("    }\n}\n");
    return PX_OK;
}

/* ---------------------------------------------------------------- reshaping */

/* UpSampling2D bilinear: half-pixel centres, as Plexus's resize_bilinear
 * (src/ops/resample.c) and tf.image.resize. Each output row and column's two
 * source indices and weights are computed here, as Plexus computes them, and
 * written as tables (i0, i1, w0, w1 per row / column). */
static px_status emit_bilinear(px_xctx *x, px_xlayer *l) {
    const int64_t H = l->in[0].dim[0], W = l->in[0].dim[1], C = l->in[0].dim[2], OH = l->out.dim[0], OW = l->out.dim[1];
    float *ty = malloc((size_t)(4 * OH) * sizeof *ty), *tx = malloc((size_t)(4 * OW) * sizeof *tx);
    if (!ty || !tx) return free(ty), free(tx), px_set_error(PX_ERR_NOMEM, "export: out of memory");
    for (int axis = 0; axis < 2; axis++) {
        const int64_t in = axis ? W : H, out = axis ? OW : OH;
        float *t = axis ? tx : ty;
        for (int64_t d = 0; d < out; d++) {
            float scale = (float)in / (float)out, src = ((float)d + 0.5f) * scale - 0.5f;
            if (src < 0) src = 0;
            int64_t i0 = (int64_t)src;
            if (i0 > in - 1) i0 = in - 1;
            t[4 * d] = (float)i0;
            t[4 * d + 1] = (float)(i0 < in - 1 ? i0 + 1 : i0);
            t[4 * d + 3] = src - (float)i0;
            t[4 * d + 2] = 1.0f - t[4 * d + 3];
        }
    }
    px_status st = px_xemit_array(x, l->sym, "rows", ty, 4 * OH);
    if (!st) st = px_xemit_array(x, l->sym, "cols", tx, 4 * OW);
    free(ty);
    free(tx);
    if (st) return st;
    px_xemit_open(x, l, "bilinear, half-pixel centres; per row and column: source indices i0, i1 and weights w0, w1");
    P("    int oy, ox, c;\n    for (oy = 0; oy < %lld; oy++) {\n        const float *ty = %s_rows + oy * 4;\n", LL(OH), l->sym);
    P("        const float *top = x + (long)ty[0] * %lld, *bot = x + (long)ty[1] * %lld;\n", LL(W * C), LL(W * C));
    P("        for (ox = 0; ox < %lld; ox++) {\n            const float *tx = %s_cols + ox * 4;\n", LL(OW), l->sym);
    P("            const float *a = top + (long)tx[0] * %lld, *b = top + (long)tx[1] * %lld, *cc = bot + (long)tx[0] * %lld, "
      "*d = bot + (long)tx[1] * %lld;\n", LL(C), LL(C), LL(C), LL(C));
    P("            float *yp = y + (oy * %lld + ox) * %lld;\n", LL(OW), LL(C));
    P("            for (c = 0; c < %lld; c++) yp[c] = ty[2] * (tx[2] * a[c] + tx[3] * b[c]) + ty[3] * (tx[2] * cc[c] + tx[3] * d[c]);\n"
      "        }\n    }\n}\n", LL(C));
    return PX_OK;
}

/* ZeroPadding / Cropping / UpSampling (nearest) in 1-D and 2-D: each output
 * pixel copies an input pixel or is zero. */
static px_status emit_spatial_copy(px_xctx *x, px_xlayer *l) {
    const bool two = l->in[0].rank == 3;
    const int H = two ? (int)l->in[0].dim[0] : 1, W = (int)l->in[0].dim[two ? 1 : 0], C = (int)l->in[0].dim[two ? 2 : 1];
    const int OH = two ? (int)l->out.dim[0] : 1, OW = (int)l->out.dim[two ? 1 : 0];
    int top = 0, left = 0, sh = 1, sw = 1;
    char expr_y[96], expr_x[96];
    if (strncmp(l->cls, "UpSampling", 10) == 0) {
        int s[2];
        if (two && strcmp(get_string(l, "interpolation", "nearest"), "bilinear") == 0) return emit_bilinear(x, l);
        if (strcmp(get_string(l, "interpolation", "nearest"), "nearest") != 0)
            return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s): only nearest and bilinear interpolation are exported",
                                l->name, l->cls);
        if (px_xget_ints(l, "size", s, two ? 2 : 1, 2)) return px_last_status();
        sh = two ? s[0] : 1;
        sw = two ? s[1] : s[0];
        snprintf(expr_y, sizeof expr_y, "oy / %d", sh);
        snprintf(expr_x, sizeof expr_x, "ox / %d", sw);
    } else {
        /* the output's first row / column in input coordinates: -top for padding, +top for cropping */
        const bool crop = strncmp(l->cls, "Cropping", 8) == 0;
        const px_json *v = px_json_get(l->config, crop ? "cropping" : "padding");
        if (two) {
            top = (int)px_json_int(px_json_at(px_json_at(v, 0), 0));
            left = (int)px_json_int(px_json_at(px_json_at(v, 1), 0));
        } else {
            left = (int)px_json_int(px_json_is_array(v) ? px_json_at(v, 0) : v);
        }
        if (!crop) top = -top, left = -left;
        snprintf(expr_y, sizeof expr_y, "oy + %d", top);
        snprintf(expr_x, sizeof expr_x, "ox + %d", left);
    }
    px_xemit_open(x, l, "");
    P("    int oy, ox, c;\n    for (oy = 0; oy < %d; oy++)\n        for (ox = 0; ox < %d; ox++) {\n", OH, OW);
    P("            const int iy = %s, ix = %s;\n            float *yp = y + (oy * %d + ox) * %d;\n", expr_y, expr_x, OW, C);
    P("            if (iy < 0 || iy >= %d || ix < 0 || ix >= %d)\n                for (c = 0; c < %d; c++) yp[c] = 0.0f;\n"
      "            else\n                for (c = 0; c < %d; c++) yp[c] = x[(iy * %d + ix) * %d + c];\n        }\n}\n",
      H, W, C, C, W, C);
    return PX_OK;
}

static px_status emit_repeat_vector(px_xctx *x, px_xlayer *l) {
    const int64_t F = px_xshape_size(l->in[0]), n = l->out.dim[0];
    px_xemit_open(x, l, "");
    P("    long t, i;\n    for (t = 0; t < %lld; t++)\n        for (i = 0; i < %lld; i++) y[t * %lld + i] = x[i];\n}\n", LL(n), LL(F), LL(F));
    return PX_OK;
}

static px_status emit_permute(px_xctx *x, px_xlayer *l) {
    int dims[PX_MAX_RANK];
    const int r = l->in[0].rank;
    if (px_xget_ints(l, "dims", dims, r, 0)) return px_last_status();
    /* output index -> input offset: output axis i is input axis dims[i] - 1 */
    int64_t in_stride[PX_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= l->in[0].dim[i];
    }
    px_xemit_open(x, l, "axes permuted");
    P("    long i;\n    for (i = 0; i < %lld; i++) {\n        long rem = i, at = 0;\n", LL(px_xshape_size(l->out)));
    for (int i = r - 1; i >= 0; i--) {
        int src = dims[i] - 1;
        if (src < 0 || src >= r) return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (Permute): bad dims", l->name);
        P("        at += (rem %% %lld) * %lld;\n        rem /= %lld;\n", LL(l->out.dim[i]), LL(in_stride[src]), LL(l->out.dim[i]));
    }
    P("        (void)rem;\n        y[i] = x[at];\n    }\n}\n");
    return PX_OK;
}

/* ---------------------------------------------------------------- TimeDistributed */

/* The wrapped layer as the exporter sees it on one timestep: its class and
 * config, the shapes without the time axis, the wrapper's weights and symbols;
 * its function is the wrapper's with "_step" added. */
px_status px_xtd_inner(const px_xlayer *l, px_xlayer *in, const px_xkind **kind) {
    const px_json *layer = px_json_get(l->config, "layer");
    *in = *l;
    in->cls = px_json_get_string(layer, "class_name", "");
    in->config = (px_json *)px_json_get(layer, "config");
    *kind = px_xkind_find(in->cls);
    if (!*kind || !in->config || l->in[0].rank < 2 || strcmp(in->cls, "TimeDistributed") == 0)
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (TimeDistributed) wraps a %s, which cannot be exported to C", l->name,
                            in->cls);
    in->in[0].rank = l->in[0].rank - 1;
    for (int i = 0; i < in->in[0].rank; i++) in->in[0].dim[i] = l->in[0].dim[i + 1];
    in->out.rank = l->out.rank - 1;
    for (int i = 0; i < in->out.rank; i++) in->out.dim[i] = l->out.dim[i + 1];
    snprintf(in->fn, sizeof in->fn, "%.80s_step", l->fn);
    return PX_OK;
}

static int64_t td_scratch(const px_xlayer *l) {
    px_xlayer in;
    const px_xkind *k;
    if (px_xtd_inner(l, &in, &k) || !k->scratch) return 0;
    return k->scratch(&in);
}

static px_status emit_time_distributed(px_xctx *x, px_xlayer *l) {
    px_xlayer in;
    const px_xkind *k;
    if (px_xtd_inner(l, &in, &k)) return px_last_status();
    const int64_t T = l->in[0].dim[0], n_in = px_xshape_size(in.in[0]), n_out = px_xshape_size(in.out);
    char what[160];
    snprintf(what, sizeof what, "%s on each of %lld timesteps", in.cls, LL(T));
    if (k->alias) { /* Flatten, Dropout...: the values unchanged */
        px_xemit_open(x, l, what);
        P("    long i;\n    for (i = 0; i < %lld; i++) y[i] = x[i];\n}\n", LL(T * n_in));
        return PX_OK;
    }
    px_status st = k->emit(x, &in);
    if (st) return st;
    px_xemit_open(x, l, what);
    P("    long t;\n    for (t = 0; t < %lld; t++) %s(x + t * %lld, y + t * %lld%s);\n}\n", LL(T), in.fn, LL(n_in), LL(n_out),
      l->scratch > 0 ? ", tmp" : "");
    return PX_OK;
}

/* ---------------------------------------------------------------- the table */


/* class, alias, C scratch, C emitter, ONNX writer (NULL: not in ONNX) */
static const px_xkind table[] = {
    /* identity at inference */
    {"Flatten", true, NULL, NULL, px_xonnx_reshape},
    {"Reshape", true, NULL, NULL, px_xonnx_reshape},
    {"Dropout", true, NULL, NULL, px_xonnx_identity},
    {"SpatialDropout1D", true, NULL, NULL, px_xonnx_identity},
    {"SpatialDropout2D", true, NULL, NULL, px_xonnx_identity},
    {"GaussianNoise", true, NULL, NULL, px_xonnx_identity},
    {"GaussianDropout", true, NULL, NULL, px_xonnx_identity},
    /* core */
    {"Dense", false, quant_scratch, emit_dense, px_xonnx_dense},
    {"Activation", false, NULL, emit_activation, px_xonnx_activation},
    {"ReLU", false, NULL, emit_relu_family, NULL},
    {"LeakyReLU", false, NULL, emit_relu_family, NULL},
    {"ELU", false, NULL, emit_relu_family, NULL},
    {"PReLU", false, NULL, emit_prelu, NULL},
    {"Softmax", false, NULL, emit_softmax, NULL},
    {"Rescaling", false, NULL, emit_rescaling, NULL},
    {"Normalization", false, NULL, emit_normalization, NULL},
    {"BatchNormalization", false, NULL, emit_batchnorm, px_xonnx_batchnorm},
    {"LayerNormalization", false, NULL, emit_layer_norm, NULL},
    /* convolution and pooling */
    {"Conv1D", false, quant_scratch, emit_conv, px_xonnx_spatial},
    {"Conv2D", false, quant_scratch, emit_conv, px_xonnx_spatial},
    {"Conv1DTranspose", false, NULL, emit_conv_transpose, NULL},
    {"Conv2DTranspose", false, NULL, emit_conv_transpose, NULL},
    {"DepthwiseConv1D", false, NULL, emit_depthwise, NULL},
    {"DepthwiseConv2D", false, NULL, emit_depthwise, NULL},
    {"SeparableConv1D", false, separable_scratch, emit_depthwise, NULL},
    {"SeparableConv2D", false, separable_scratch, emit_depthwise, NULL},
    {"MaxPooling1D", false, NULL, emit_pool, px_xonnx_spatial},
    {"MaxPooling2D", false, NULL, emit_pool, px_xonnx_spatial},
    {"AveragePooling1D", false, NULL, emit_pool, px_xonnx_spatial},
    {"AveragePooling2D", false, NULL, emit_pool, px_xonnx_spatial},
    {"GlobalAveragePooling1D", false, NULL, emit_global_pool, px_xonnx_global_pool},
    {"GlobalAveragePooling2D", false, NULL, emit_global_pool, px_xonnx_global_pool},
    {"GlobalMaxPooling1D", false, NULL, emit_global_pool, px_xonnx_global_pool},
    {"GlobalMaxPooling2D", false, NULL, emit_global_pool, px_xonnx_global_pool},
    /* merges */
    {"Add", false, NULL, emit_elementwise_merge, px_xonnx_merge},
    {"Subtract", false, NULL, emit_elementwise_merge, px_xonnx_merge},
    {"Multiply", false, NULL, emit_elementwise_merge, px_xonnx_merge},
    {"Average", false, NULL, emit_elementwise_merge, px_xonnx_merge},
    {"Maximum", false, NULL, emit_elementwise_merge, px_xonnx_merge},
    {"Minimum", false, NULL, emit_elementwise_merge, px_xonnx_merge},
    {"Concatenate", false, NULL, emit_concatenate, px_xonnx_concat},
    /* reshaping */
    {"ZeroPadding1D", false, NULL, emit_spatial_copy, NULL},
    {"ZeroPadding2D", false, NULL, emit_spatial_copy, NULL},
    {"Cropping1D", false, NULL, emit_spatial_copy, NULL},
    {"Cropping2D", false, NULL, emit_spatial_copy, NULL},
    {"UpSampling1D", false, NULL, emit_spatial_copy, NULL},
    {"UpSampling2D", false, NULL, emit_spatial_copy, px_xonnx_upsampling2d},
    {"RepeatVector", false, NULL, emit_repeat_vector, NULL},
    {"Permute", false, NULL, emit_permute, NULL},
    /* embedding and recurrent (export_c_rnn.c) */
    {"Embedding", false, NULL, px_xemit_embedding, NULL},
    {"SimpleRNN", false, px_xrnn_scratch, px_xemit_rnn, px_xonnx_recurrent},
    {"LSTM", false, px_xrnn_scratch, px_xemit_rnn, px_xonnx_recurrent},
    {"GRU", false, px_xrnn_scratch, px_xemit_rnn, px_xonnx_recurrent},
    {"Bidirectional", false, px_xrnn_scratch, px_xemit_bidirectional, NULL},
    {"TimeDistributed", false, td_scratch, emit_time_distributed, px_xonnx_time_distributed},
    /* attention and Dot (export_c_attention.c) */
    {"Dot", false, px_xdot_scratch, px_xemit_dot, px_xonnx_dot},
    {"Attention", false, px_xattention_scratch, px_xemit_attention, px_xonnx_attention},
    {"MultiHeadAttention", false, px_xmha_scratch, px_xemit_mha, px_xonnx_mha},
};

const px_xkind *px_xkind_find(const char *cls) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].cls, cls) == 0) return &table[i];
    return NULL;
}
