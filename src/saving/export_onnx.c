/* px_model_export_onnx: a built model as an ONNX file (opset 14) written with
 * Plexus's own protobuf encoder. Values stay in Keras's layouts (channels last,
 * batch first) between layers; the layers ONNX defines channels first
 * (convolutions, poolings) and time first (recurrent layers) transpose around
 * themselves, and the weights are rearranged to ONNX's layouts and gate orders
 * (LSTM: Keras i, f, c, o to ONNX i, o, f, c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "formats/protobuf_writer.h"
#include "graph/node.h"
#include "nn/layer_config.h"
#include "nn/layer_internal.h"
#include "saving/export_c_internal.h"

enum { T_FLOAT = 1, T_INT64 = 7 };
enum { A_FLOAT = 1, A_INT = 2, A_INTS = 7 }; /* SimpleRNN's default activation is ONNX RNN's (Tanh) */

struct px_xonnx {
    px_pb_buf g;     /* GraphProto being built */
    int tmp;         /* counter for intermediate value names */
    const px_model *m;
};
typedef struct px_xonnx onnx;

/* ---- protobuf pieces ---- */

static void str(px_pb_buf *b, int field, const char *s) { px_pb_string(b, field, s, strlen(s)); }

/* An initializer (GraphProto.initializer = 5, TensorProto). */
static void init_f32(onnx *o, const char *name, const int64_t *dims, int rank, const float *v) {
    size_t mk = px_pb_begin(&o->g);
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        px_pb_int64(&o->g, 1, dims[i]);
        n *= dims[i];
    }
    px_pb_int64(&o->g, 2, T_FLOAT);
    str(&o->g, 8, name);
    px_pb_string(&o->g, 9, (const char *)v, (size_t)n * sizeof(float)); /* raw_data: little-endian floats */
    px_pb_end(&o->g, 5, mk);
}

static void init_i64(onnx *o, const char *name, const int64_t *v, int n) {
    size_t mk = px_pb_begin(&o->g);
    px_pb_int64(&o->g, 1, n);
    px_pb_int64(&o->g, 2, T_INT64);
    str(&o->g, 8, name);
    px_pb_string(&o->g, 9, (const char *)v, (size_t)n * sizeof(int64_t));
    px_pb_end(&o->g, 5, mk);
}

/* A node under construction: its attributes go between node_begin and node_end. */
static size_t node_begin(onnx *o, const char *op, const char *name, const char *const *in, int n_in, const char *const *out, int n_out) {
    size_t mk = px_pb_begin(&o->g);
    for (int i = 0; i < n_in; i++) str(&o->g, 1, in[i]);
    for (int i = 0; i < n_out; i++) str(&o->g, 2, out[i]);
    str(&o->g, 3, name);
    str(&o->g, 4, op);
    return mk;
}
static void node_end(onnx *o, size_t mk) { px_pb_end(&o->g, 1, mk); }

static void attr_int(onnx *o, const char *name, int64_t v) {
    size_t mk = px_pb_begin(&o->g);
    str(&o->g, 1, name);
    px_pb_int64(&o->g, 3, v);
    px_pb_int64(&o->g, 20, A_INT);
    px_pb_end(&o->g, 5, mk);
}
static void attr_float(onnx *o, const char *name, float v) {
    size_t mk = px_pb_begin(&o->g);
    str(&o->g, 1, name);
    px_pb_float(&o->g, 2, v);
    px_pb_int64(&o->g, 20, A_FLOAT);
    px_pb_end(&o->g, 5, mk);
}
static void attr_ints(onnx *o, const char *name, const int64_t *v, int n) {
    size_t mk = px_pb_begin(&o->g);
    str(&o->g, 1, name);
    for (int i = 0; i < n; i++) px_pb_int64(&o->g, 8, v[i]);
    px_pb_int64(&o->g, 20, A_INTS);
    px_pb_end(&o->g, 5, mk);
}

/* A one-input, one-output node without attributes. */
static void unary(onnx *o, const char *op, const char *in, const char *out) {
    char name[160];
    snprintf(name, sizeof name, "%.120s_%d", out, o->tmp++);
    node_end(o, node_begin(o, op, name, &in, 1, &out, 1));
}

static void transpose(onnx *o, const char *in, const char *out, const int64_t *perm, int n) {
    char name[240];
    snprintf(name, sizeof name, "%.200s_transpose", out);
    size_t mk = node_begin(o, "Transpose", name, &in, 1, &out, 1);
    attr_ints(o, "perm", perm, n);
    node_end(o, mk);
}

/* value_info (GraphProto.input = 11 / output = 12): float32 (N, dims...). */
static void value_info(onnx *o, int field, const char *name, px_shape s) {
    size_t vi = px_pb_begin(&o->g);
    str(&o->g, 1, name);
    size_t tp = px_pb_begin(&o->g), tt = px_pb_begin(&o->g);
    px_pb_int64(&o->g, 1, T_FLOAT);
    size_t sh = px_pb_begin(&o->g);
    for (int i = 0; i < s.rank; i++) {
        size_t d = px_pb_begin(&o->g);
        if (i == 0 || s.dim[i] < 0) str(&o->g, 2, "N");
        else px_pb_int64(&o->g, 1, s.dim[i]);
        px_pb_end(&o->g, 1, d);
    }
    px_pb_end(&o->g, 2, sh);
    px_pb_end(&o->g, 1, tt);
    px_pb_end(&o->g, 2, tp);
    px_pb_end(&o->g, field, vi);
}

/* ---- layers ---- */


/* The activation `a` from value `in` to value `out`; false for one ONNX lacks here. */
static px_status activation(onnx *o, const px_xlayer *l, px_activation a, const char *in, const char *out) {
    static const char *const ops[PX_ACTIVATION_COUNT] = {
        [PX_LINEAR] = "Identity", [PX_RELU] = "Relu",         [PX_SIGMOID] = "Sigmoid",   [PX_TANH] = "Tanh",
        [PX_SOFTMAX] = "Softmax", [PX_SELU] = "Selu",         [PX_SOFTPLUS] = "Softplus", [PX_SOFTSIGN] = "Softsign",
        [PX_EXPONENTIAL] = "Exp", [PX_LOG_SOFTMAX] = "LogSoftmax"};
    char name[160];
    snprintf(name, sizeof name, "%s_act", out);
    if (a == PX_ELU || a == PX_LEAKY_RELU || a == PX_HARD_SIGMOID || a == PX_HARD_SIGMOID_K2) {
        size_t mk = node_begin(o, a == PX_ELU ? "Elu" : a == PX_LEAKY_RELU ? "LeakyRelu" : "HardSigmoid", name, &in, 1, &out, 1);
        if (a == PX_LEAKY_RELU) attr_float(o, "alpha", 0.2f);
        if (a == PX_HARD_SIGMOID || a == PX_HARD_SIGMOID_K2) {
            attr_float(o, "alpha", a == PX_HARD_SIGMOID ? 1.0f / 6.0f : 0.2f);
            attr_float(o, "beta", 0.5f);
        }
        node_end(o, mk);
        return PX_OK;
    }
    if (a == PX_SWISH) {
        char s[160];
        snprintf(s, sizeof s, "%s_sigmoid", out);
        unary(o, "Sigmoid", in, s);
        const char *ins[2] = {in, s};
        node_end(o, node_begin(o, "Mul", name, ins, 2, &out, 1));
        return PX_OK;
    }
    if ((unsigned)a >= PX_ACTIVATION_COUNT || !ops[a])
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s): activation '%s' has no ONNX form here", l->name, l->cls,
                            px_activation_name(a));
    size_t mk = node_begin(o, ops[a], name, &in, 1, &out, 1);
    if (a == PX_SOFTMAX || a == PX_LOG_SOFTMAX) attr_int(o, "axis", -1);
    node_end(o, mk);
    return PX_OK;
}

static px_status dense(onnx *o, px_xlayer *l, const char *in, const char *out) {
    px_tensor *k = px_xweight(l, "kernel"), *b = px_xweight(l, "bias");
    px_activation a;
    if (!k || px_xget_activation(l, "activation", &a)) return k ? px_last_status() : px_set_error(PX_ERR_FORMAT, "export: '%s' has no kernel", l->name);
    px_shape ks = px_tensor_shape(k);
    char wn[160], bn[160], mm[160], pre[160];
    snprintf(wn, sizeof wn, "%s/kernel", l->name);
    snprintf(bn, sizeof bn, "%s/bias", l->name);
    snprintf(mm, sizeof mm, "%s/matmul", l->name);
    snprintf(pre, sizeof pre, "%s/preactivation", l->name);
    init_f32(o, wn, ks.dim, 2, k->data);
    const char *ins[2] = {in, wn};
    node_end(o, node_begin(o, "MatMul", mm, ins, 2, (const char *[]){b ? mm : pre}, 1));
    if (b) {
        init_f32(o, bn, &ks.dim[1], 1, b->data);
        const char *ab[2] = {mm, bn};
        node_end(o, node_begin(o, "Add", pre, ab, 2, (const char *[]){pre}, 1));
    }
    return activation(o, l, a, pre, out);
}

static int pad_before(const char *padding, int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t *after) {
    int64_t total = 0;
    if (strcmp(padding, "same") == 0) total = (out - 1) * s + (k - 1) * d + 1 - in;
    if (strcmp(padding, "causal") == 0) {
        *after = 0;
        return (int)((k - 1) * d);
    }
    if (total < 0) total = 0;
    *after = total - total / 2;
    return (int)(total / 2);
}

/* Conv1D/2D and the poolings: channels first around the ONNX op. */
static px_status spatial(onnx *o, px_xlayer *l, const char *in, const char *out) {
    const int r = l->in[0].rank - 1; /* spatial axes */
    const bool conv = strncmp(l->cls, "Conv", 4) == 0, mx = strncmp(l->cls, "Max", 3) == 0;
    int k[2] = {1, 1}, s[2] = {0, 0}, d[2] = {1, 1};
    px_activation a = PX_LINEAR;
    if (px_xget_ints(l, conv ? "kernel_size" : "pool_size", k, r, 1) || px_xget_ints(l, "strides", s, r, 0) ||
        px_xget_ints(l, "dilation_rate", d, r, 1) || (conv && px_xget_activation(l, "activation", &a)))
        return px_last_status();
    const char *padding = px_json_get_string(l->config, "padding", "valid");
    int64_t pads[4], ks[2], st[2], dl[2];
    for (int i = 0; i < r; i++) {
        if (s[i] <= 0) s[i] = k[i];
        int64_t after;
        pads[i] = pad_before(padding, l->in[0].dim[i], l->out.dim[i], k[i], s[i], d[i], &after);
        pads[r + i] = after;
        ks[i] = k[i];
        st[i] = s[i];
        dl[i] = d[i];
    }
    char cf[160], cy[160], pre[160], wn[160], bn[160];
    snprintf(cf, sizeof cf, "%s/channels_first", l->name);
    snprintf(cy, sizeof cy, "%s/output_channels_first", l->name);
    snprintf(pre, sizeof pre, "%s/preactivation", l->name);
    const int64_t to_cf[4] = {0, r + 1, 1, 2}, to_cl[4] = {0, 2, r == 2 ? 3 : 1, 1};
    transpose(o, in, cf, to_cf, r + 2);
    const char *ins[3] = {cf, wn, bn};
    int n_in = 1;
    if (conv) {
        px_tensor *kt = px_xweight(l, "kernel"), *b = px_xweight(l, "bias");
        if (!kt) return px_set_error(PX_ERR_FORMAT, "export: '%s' has no kernel", l->name);
        /* Keras (kh, kw, C, F) -> ONNX (F, C, kh, kw) */
        px_shape kshape = px_tensor_shape(kt);
        int64_t C = kshape.dim[r], F = kshape.dim[r + 1], win = px_tensor_size(kt) / (C * F);
        float *w = malloc((size_t)px_tensor_size(kt) * sizeof *w);
        if (!w) return px_set_error(PX_ERR_NOMEM, "export: out of memory");
        const float *src = kt->data;
        for (int64_t f = 0; f < F; f++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t p = 0; p < win; p++) w[(f * C + c) * win + p] = src[(p * C + c) * F + f];
        int64_t dims[4] = {F, C, ks[0], ks[1]};
        snprintf(wn, sizeof wn, "%s/kernel", l->name);
        snprintf(bn, sizeof bn, "%s/bias", l->name);
        init_f32(o, wn, dims, r + 2, w);
        free(w);
        n_in = 2;
        if (b) {
            init_f32(o, bn, &F, 1, b->data);
            n_in = 3;
        }
    }
    size_t mk = node_begin(o, conv ? "Conv" : mx ? "MaxPool" : "AveragePool", l->name, ins, n_in, (const char *[]){cy}, 1);
    attr_ints(o, "kernel_shape", ks, r);
    attr_ints(o, "strides", st, r);
    attr_ints(o, "pads", pads, 2 * r);
    if (conv) attr_ints(o, "dilations", dl, r);
    node_end(o, mk);
    transpose(o, cy, conv ? pre : out, to_cl, r + 2);
    return conv ? activation(o, l, a, pre, out) : PX_OK;
}

/* Keras (in, G u) gate blocks -> ONNX (G u, in) in ONNX's gate order. */
static float *onnx_gates(const px_tensor *t, int64_t in, int64_t u, const int *order, int G) {
    float *w = malloc((size_t)(in * G * u) * sizeof *w);
    if (!w) return NULL;
    const float *src = t->data;
    for (int g = 0; g < G; g++)
        for (int64_t j = 0; j < u; j++)
            for (int64_t i = 0; i < in; i++) w[(g * u + j) * in + i] = src[i * G * u + order[g] * u + j];
    return w;
}

static px_status recurrent(onnx *o, px_xlayer *l, const char *in, const char *out) {
    const bool lstm = strcmp(l->cls, "LSTM") == 0, gru = strcmp(l->cls, "GRU") == 0;
    const int G = lstm ? 4 : gru ? 3 : 1;
    static const int lstm_order[4] = {0, 3, 1, 2}, same[3] = {0, 1, 2}; /* ONNX i, o, f, c from Keras i, f, c, o */
    const int64_t U = px_json_get_int(l->config, "units", 0), F = l->in[0].dim[1];
    px_activation a = PX_TANH, ra = PX_SIGMOID;
    if (px_json_get(l->config, "activation")) px_xget_activation(l, "activation", &a);
    if (px_json_get(l->config, "recurrent_activation")) px_xget_activation(l, "recurrent_activation", &ra);
    if (a != PX_TANH || (G > 1 && ra != PX_SIGMOID) || px_json_get_bool(l->config, "go_backwards", false) || l->layer->inbound[0]->mask)
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s): only tanh / sigmoid cells going forwards without a mask "
                            "are written to ONNX", l->name, l->cls);
    px_tensor *k = l->w[0], *rk = l->n_w > 1 ? l->w[1] : NULL, *b = l->n_w > 2 ? l->w[2] : NULL;
    if (!rk) return px_set_error(PX_ERR_FORMAT, "export: '%s' lacks its recurrent kernel", l->name);
    float *w = onnx_gates(k, F, U, lstm ? lstm_order : same, G), *r = onnx_gates(rk, U, U, lstm ? lstm_order : same, G);
    float *bias = calloc((size_t)(2 * G * U), sizeof *bias);
    if (!w || !r || !bias) return free(w), free(r), free(bias), px_set_error(PX_ERR_NOMEM, "export: out of memory");
    if (b) {
        const float *bs = b->data;
        const bool two = gru && px_tensor_size(b) == 2 * G * U; /* reset_after: input and recurrent biases */
        for (int p = 0; p < (two ? 2 : 1); p++)
            for (int g = 0; g < G; g++)
                for (int64_t j = 0; j < U; j++) bias[p * G * U + g * U + j] = bs[p * G * U + (lstm ? lstm_order[g] : g) * U + j];
    }
    char tf[160], wn[160], rn[160], bn[160], y[160], yh[160], sq[160], ax[160];
    snprintf(tf, sizeof tf, "%s/time_first", l->name);
    snprintf(wn, sizeof wn, "%s/W", l->name);
    snprintf(rn, sizeof rn, "%s/R", l->name);
    snprintf(bn, sizeof bn, "%s/B", l->name);
    snprintf(y, sizeof y, "%s/Y", l->name);
    snprintf(yh, sizeof yh, "%s/Y_h", l->name);
    snprintf(sq, sizeof sq, "%s/sequence_time_first", l->name);
    snprintf(ax, sizeof ax, "%s/axes", l->name);
    transpose(o, in, tf, (const int64_t[]){1, 0, 2}, 3);
    int64_t wd[3] = {1, G * U, F}, rd[3] = {1, G * U, U}, bd[2] = {1, 2 * G * U};
    init_f32(o, wn, wd, 3, w);
    init_f32(o, rn, rd, 3, r);
    init_f32(o, bn, bd, 2, bias);
    free(w);
    free(r);
    free(bias);
    const bool seq = px_json_get_bool(l->config, "return_sequences", false);
    const char *ins[4] = {tf, wn, rn, bn}, *outs[2] = {y, yh};
    size_t mk = node_begin(o, lstm ? "LSTM" : gru ? "GRU" : "RNN", l->name, ins, 4, outs, 2);
    attr_int(o, "hidden_size", U);
    if (gru) attr_int(o, "linear_before_reset", px_json_get_bool(l->config, "reset_after", false) ? 1 : 0);
    node_end(o, mk);
    if (!seq) {
        int64_t axes[1] = {0};
        init_i64(o, ax, axes, 1);
        const char *si[2] = {yh, ax};
        node_end(o, node_begin(o, "Squeeze", sq, si, 2, &out, 1));
    } else {
        int64_t axes[1] = {1};
        init_i64(o, ax, axes, 1);
        const char *si[2] = {y, ax};
        node_end(o, node_begin(o, "Squeeze", sq, si, 2, (const char *[]){sq}, 1));
        transpose(o, sq, out, (const int64_t[]){1, 0, 2}, 3);
    }
    return PX_OK;
}

/* ---- the table's writers (one per family; export_c_layers.c lists them) ---- */

px_status px_xonnx_dense(onnx *o, px_xlayer *l, const char *const *in, const char *out) { return dense(o, l, in[0], out); }
px_status px_xonnx_spatial(onnx *o, px_xlayer *l, const char *const *in, const char *out) { return spatial(o, l, in[0], out); }
px_status px_xonnx_recurrent(onnx *o, px_xlayer *l, const char *const *in, const char *out) { return recurrent(o, l, in[0], out); }

px_status px_xonnx_global_pool(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    const int64_t axes2[2] = {1, 2}, axes1[1] = {1};
    char name[160];
    snprintf(name, sizeof name, "%s_reduce", out);
    size_t mk = node_begin(o, strstr(l->cls, "Max") ? "ReduceMax" : "ReduceMean", name, in, 1, &out, 1);
    attr_ints(o, "axes", l->in[0].rank == 3 ? axes2 : axes1, l->in[0].rank == 3 ? 2 : 1);
    attr_int(o, "keepdims", 0);
    node_end(o, mk);
    return PX_OK;
}

/* A Reshape to the layer's output shape, batch first (-1). */
px_status px_xonnx_reshape(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    int64_t shape[PX_MAX_RANK + 1] = {-1};
    for (int i = 0; i < l->out.rank; i++) shape[i + 1] = l->out.dim[i];
    char sn[160];
    snprintf(sn, sizeof sn, "%s/shape", l->name);
    init_i64(o, sn, shape, l->out.rank + 1);
    const char *ins[2] = {in[0], sn};
    node_end(o, node_begin(o, "Reshape", l->name, ins, 2, &out, 1));
    return PX_OK;
}

px_status px_xonnx_identity(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    (void)l;
    unary(o, "Identity", in[0], out);
    return PX_OK;
}

px_status px_xonnx_activation(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    px_activation a;
    if (px_xget_activation(l, "activation", &a)) return px_last_status();
    return activation(o, l, a, in[0], out);
}

px_status px_xonnx_batchnorm(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    int axis;
    if (px_xget_ints(l, "axis", &axis, 1, -1)) return px_last_status();
    if (!(axis == -1 || axis == l->in[0].rank))
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (BatchNormalization): only the last axis is written to ONNX", l->name);
    const px_tensor *g = px_xweight(l, "gamma"), *be = px_xweight(l, "beta"), *mean = px_xweight(l, "moving_mean"), *var = px_xweight(l, "moving_variance");
    int64_t C = l->in[0].dim[l->in[0].rank - 1];
    float eps = (float)px_json_get_number(l->config, "epsilon", 1e-3);
    float *sc = malloc((size_t)C * sizeof *sc), *sh = malloc((size_t)C * sizeof *sh);
    if (!sc || !sh || !mean || !var) return free(sc), free(sh), px_set_error(PX_ERR_NOMEM, "export: out of memory");
    for (int64_t i = 0; i < C; i++) {
        sc[i] = (g ? ((const float *)g->data)[i] : 1.0f) / sqrtf(((const float *)var->data)[i] + eps);
        sh[i] = (be ? ((const float *)be->data)[i] : 0.0f) - ((const float *)mean->data)[i] * sc[i];
    }
    char sn[160], hn[160], mn[160];
    snprintf(sn, sizeof sn, "%s/scale", l->name);
    snprintf(hn, sizeof hn, "%s/shift", l->name);
    snprintf(mn, sizeof mn, "%s/scaled", l->name);
    init_f32(o, sn, &C, 1, sc);
    init_f32(o, hn, &C, 1, sh);
    free(sc);
    free(sh);
    node_end(o, node_begin(o, "Mul", mn, (const char *[]){in[0], sn}, 2, (const char *[]){mn}, 1));
    node_end(o, node_begin(o, "Add", l->name, (const char *[]){mn, hn}, 2, &out, 1));
    return PX_OK;
}

px_status px_xonnx_merge(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    static const struct {
        const char *cls, *op;
    } merges[] = {{"Add", "Sum"}, {"Maximum", "Max"}, {"Minimum", "Min"}, {"Average", "Mean"}, {"Multiply", "Mul"}, {"Subtract", "Sub"}};
    const char *c = l->cls;
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++)
        if (strcmp(c, merges[i].cls) == 0) {
            if ((strcmp(c, "Multiply") == 0 || strcmp(c, "Subtract") == 0) && l->n_in != 2)
                return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) of %d inputs is not written to ONNX", l->name, c, l->n_in);
            node_end(o, node_begin(o, merges[i].op, l->name, in, l->n_in, &out, 1));
            return PX_OK;
        }
    return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) is no merge", l->name, c);
}

px_status px_xonnx_concat(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    int axis;
    if (px_xget_ints(l, "axis", &axis, 1, -1)) return px_last_status();
    size_t mk = node_begin(o, "Concat", l->name, in, l->n_in, &out, 1);
    attr_int(o, "axis", axis);
    node_end(o, mk);
    return PX_OK;
}

static void attr_string(onnx *o, const char *name, const char *v) {
    size_t mk = px_pb_begin(&o->g);
    str(&o->g, 1, name);
    str(&o->g, 4, v);
    px_pb_int64(&o->g, 20, 3); /* STRING */
    px_pb_end(&o->g, 5, mk);
}

/* UpSampling2D: ONNX's Resize channels first; nearest as output // size
 * (asymmetric, floor), bilinear with half-pixel centres, as Plexus. */
px_status px_xonnx_upsampling2d(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    const bool bilinear = strcmp(px_json_get_string(l->config, "interpolation", "nearest"), "bilinear") == 0;
    int size[2];
    if (px_xget_ints(l, "size", size, 2, 2)) return px_last_status();
    char cf[160], cy[160], sc[160];
    snprintf(cf, sizeof cf, "%s/channels_first", l->name);
    snprintf(cy, sizeof cy, "%s/output_channels_first", l->name);
    snprintf(sc, sizeof sc, "%s/scales", l->name);
    transpose(o, in[0], cf, (const int64_t[]){0, 3, 1, 2}, 4);
    const float scales[4] = {1.0f, 1.0f, (float)size[0], (float)size[1]};
    init_f32(o, sc, (const int64_t[]){4}, 1, scales);
    /* no roi (an empty name is an absent optional input) */
    size_t mk = node_begin(o, "Resize", l->name, (const char *[]){cf, "", sc}, 3, (const char *[]){cy}, 1);
    attr_string(o, "mode", bilinear ? "linear" : "nearest");
    attr_string(o, "coordinate_transformation_mode", bilinear ? "half_pixel" : "asymmetric");
    if (!bilinear) attr_string(o, "nearest_mode", "floor");
    node_end(o, mk);
    transpose(o, cy, out, (const int64_t[]){0, 2, 3, 1}, 4);
    return PX_OK;
}

/* TimeDistributed: (N, T, ...) folded to (N T, ...), the wrapped layer's
 * writer, then unfolded. */
px_status px_xonnx_time_distributed(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    px_xlayer inner;
    const px_xkind *k;
    if (px_xtd_inner(l, &inner, &k)) return px_last_status();
    if (!k->onnx)
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (TimeDistributed) wraps a %s, which cannot be exported to ONNX", l->name,
                            inner.cls);
    char folded[160], y[160], s1[160], s2[160];
    snprintf(folded, sizeof folded, "%s/folded", l->name);
    snprintf(y, sizeof y, "%s/folded_output", l->name);
    snprintf(s1, sizeof s1, "%s/fold_shape", l->name);
    snprintf(s2, sizeof s2, "%s/unfold_shape", l->name);
    int64_t shape[PX_MAX_RANK + 1] = {-1};
    for (int i = 0; i < inner.in[0].rank; i++) shape[i + 1] = inner.in[0].dim[i];
    init_i64(o, s1, shape, inner.in[0].rank + 1);
    node_end(o, node_begin(o, "Reshape", folded, (const char *[]){in[0], s1}, 2, (const char *[]){folded}, 1));
    px_status st = k->onnx(o, &inner, (const char *[]){folded}, y);
    if (st) return st;
    shape[0] = -1;
    for (int i = 0; i < l->out.rank; i++) shape[i + 1] = l->out.dim[i];
    init_i64(o, s2, shape, l->out.rank + 1);
    node_end(o, node_begin(o, "Reshape", l->name, (const char *[]){y, s2}, 2, &out, 1));
    return PX_OK;
}

/* ---- Dot and the attention layers ---- */

/* A node of two inputs and one output without attributes. */
static void binary(onnx *o, const char *op, const char *a, const char *b, const char *out) {
    char name[200];
    snprintf(name, sizeof name, "%.150s_%d", out, o->tmp++);
    node_end(o, node_begin(o, op, name, (const char *[]){a, b}, 2, &out, 1));
}

/* A scalar float initializer. */
static void init_scalar(onnx *o, const char *name, float v) { init_f32(o, name, NULL, 0, &v); }

/* x / sqrt(max(sum x^2 over axis, 1e-12)), as Keras's l2_normalize */
static void l2_normalize(onnx *o, const char *x, int64_t axis, const char *out) {
    char ss[200], mx[200], sq[200], eps[200];
    snprintf(ss, sizeof ss, "%.150s/sum_squares", out);
    snprintf(mx, sizeof mx, "%.150s/clipped", out);
    snprintf(sq, sizeof sq, "%.150s/norm", out);
    snprintf(eps, sizeof eps, "%.150s/epsilon", out);
    size_t mk = node_begin(o, "ReduceSumSquare", ss, &x, 1, (const char *[]){ss}, 1);
    attr_ints(o, "axes", &axis, 1);
    attr_int(o, "keepdims", 1);
    node_end(o, mk);
    init_scalar(o, eps, 1e-12f);
    binary(o, "Max", ss, eps, mx);
    unary(o, "Sqrt", mx, sq);
    binary(o, "Div", x, sq, out);
}

px_status px_xonnx_dot(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    int ax[2];
    if (px_xget_ints(l, "axes", ax, 2, -1)) return px_last_status();
    const int r = l->in[0].rank + 1; /* with the batch axis: 2 or 3 */
    if (l->n_in != 2 || l->in[1].rank + 1 != r || (r != 2 && r != 3))
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (Dot): two inputs of rank 1 or 2 per example are exported", l->name);
    const int64_t a0 = ax[0] < 0 ? ax[0] + r : ax[0], a1 = ax[1] < 0 ? ax[1] + r : ax[1];
    char x[200], y[200];
    snprintf(x, sizeof x, "%s", in[0]);
    snprintf(y, sizeof y, "%s", in[1]);
    if (px_json_get_bool(l->config, "normalize", false)) {
        snprintf(x, sizeof x, "%s/normalized_0", l->name);
        snprintf(y, sizeof y, "%s/normalized_1", l->name);
        l2_normalize(o, in[0], a0, x);
        l2_normalize(o, in[1], a1, y);
    }
    if (r == 2) { /* sum of products, kept as (N, 1) */
        char p[200], axn[200];
        snprintf(p, sizeof p, "%s/products", l->name);
        snprintf(axn, sizeof axn, "%s/axes", l->name);
        binary(o, "Mul", x, y, p);
        init_i64(o, axn, (const int64_t[]){1}, 1);
        size_t mk = node_begin(o, "ReduceSum", l->name, (const char *[]){p, axn}, 2, &out, 1);
        attr_int(o, "keepdims", 1);
        node_end(o, mk);
        return PX_OK;
    }
    /* (N, P, K) x (N, K, Q): the contracted axis last in x, first in y */
    char xt[200], yt[200];
    snprintf(xt, sizeof xt, "%s/a", l->name);
    snprintf(yt, sizeof yt, "%s/b", l->name);
    if (a0 == 1) transpose(o, x, xt, (const int64_t[]){0, 2, 1}, 3);
    else unary(o, "Identity", x, xt);
    if (a1 == 2) transpose(o, y, yt, (const int64_t[]){0, 2, 1}, 3);
    else unary(o, "Identity", y, yt);
    node_end(o, node_begin(o, "MatMul", l->name, (const char *[]){xt, yt}, 2, &out, 1));
    return PX_OK;
}

/* softmax over the last axis of `scores` (…, Tq, Tv) into out, with key j > query
 * i pushed down by 1e9 first when causal (as Plexus's attention_mask) */
static void masked_softmax(onnx *o, const px_xlayer *l, const char *scores, int64_t Tq, int64_t Tv, bool causal_mask, const char *out) {
    char m[200], sm[200];
    const char *s = scores;
    if (causal_mask) {
        float *mask = calloc((size_t)(Tq * Tv), sizeof *mask);
        if (mask)
            for (int64_t i = 0; i < Tq; i++)
                for (int64_t j = i + 1; j < Tv; j++) mask[i * Tv + j] = -1e9f;
        snprintf(m, sizeof m, "%s/causal_mask", l->name);
        snprintf(sm, sizeof sm, "%s/masked_scores", l->name);
        init_f32(o, m, (const int64_t[]){Tq, Tv}, 2, mask);
        free(mask);
        binary(o, "Add", scores, m, sm);
        s = sm;
    }
    size_t mk = node_begin(o, "Softmax", out, &s, 1, &out, 1);
    attr_int(o, "axis", -1);
    node_end(o, mk);
}

px_status px_xonnx_attention(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    if (px_xno_masks(l)) return px_last_status();
    const int64_t Tq = l->in[0].dim[0], Tv = l->in[1].dim[0], D = l->in[0].dim[1];
    const char *q = in[0], *v = in[1], *k = l->n_in == 3 ? in[2] : in[1];
    const px_tensor *scale = px_xweight(l, "scale"), *csw = px_xweight(l, "concat_score_weight");
    char sc[200], scores[200], w[200], sn[200], cn[200];
    snprintf(scores, sizeof scores, "%s/scores", l->name);
    snprintf(w, sizeof w, "%s/weights", l->name);
    snprintf(sn, sizeof sn, "%s/scale", l->name);
    snprintf(cn, sizeof cn, "%s/concat_score_weight", l->name);
    if (scale) init_scalar(o, sn, ((const float *)scale->data)[0]);
    if (strcmp(px_json_get_string(l->config, "score_mode", "dot"), "concat") != 0) {
        char kt[200];
        snprintf(kt, sizeof kt, "%s/key_t", l->name);
        snprintf(sc, sizeof sc, "%s/products", l->name);
        transpose(o, k, kt, (const int64_t[]){0, 2, 1}, 3);
        binary(o, "MatMul", q, kt, scale ? sc : scores);
        if (scale) binary(o, "Mul", sc, sn, scores);
    } else { /* sum over features of tanh(scale (q_i + k_j)), times concat_score_weight */
        char qs[200], ks[200], s1[200], s2[200], th[200], sum[200], sh1[200], sh2[200], ax[200];
        snprintf(qs, sizeof qs, "%s/query_4d", l->name);
        snprintf(ks, sizeof ks, "%s/key_4d", l->name);
        snprintf(s1, sizeof s1, "%s/pair_sums", l->name);
        snprintf(s2, sizeof s2, "%s/pair_sums_scaled", l->name);
        snprintf(th, sizeof th, "%s/tanh", l->name);
        snprintf(sum, sizeof sum, "%s/tanh_sums", l->name);
        snprintf(sh1, sizeof sh1, "%s/query_shape", l->name);
        snprintf(sh2, sizeof sh2, "%s/key_shape", l->name);
        snprintf(ax, sizeof ax, "%s/feature_axis", l->name);
        init_i64(o, sh1, (const int64_t[]){-1, Tq, 1, D}, 4);
        init_i64(o, sh2, (const int64_t[]){-1, 1, Tv, D}, 4);
        binary(o, "Reshape", q, sh1, qs);
        binary(o, "Reshape", k, sh2, ks);
        binary(o, "Add", qs, ks, s1);
        if (scale) binary(o, "Mul", s1, sn, s2);
        unary(o, "Tanh", scale ? s2 : s1, th);
        init_i64(o, ax, (const int64_t[]){3}, 1);
        size_t mk = node_begin(o, "ReduceSum", sum, (const char *[]){th, ax}, 2, (const char *[]){sum}, 1);
        attr_int(o, "keepdims", 0);
        node_end(o, mk);
        init_scalar(o, cn, csw ? ((const float *)csw->data)[0] : 1.0f);
        binary(o, "Mul", sum, cn, scores);
    }
    masked_softmax(o, l, scores, Tq, Tv, px_xcausal(l), w);
    node_end(o, node_begin(o, "MatMul", l->name, (const char *[]){w, v}, 2, &out, 1));
    return PX_OK;
}

/* x (N, T, d) projected by kernel (d, heads, n) and bias into (N, heads, T, n),
 * times `scale` when not 1 */
static void mha_project(onnx *o, const px_xlayer *l, const char *x, const char *what, const px_tensor *kernel, const px_tensor *bias,
                        int64_t T, int64_t H, int64_t n, float scale, const char *out) {
    char kn[200], bn[200], mm[200], ab[200], sc[200], scn[200], shn[200], rs[200];
    const int64_t d = px_tensor_size(kernel) / (H * n);
    snprintf(kn, sizeof kn, "%s/%s/kernel", l->name, what);
    snprintf(bn, sizeof bn, "%s/%s/bias", l->name, what);
    snprintf(mm, sizeof mm, "%s/%s/matmul", l->name, what);
    snprintf(ab, sizeof ab, "%s/%s/biased", l->name, what);
    snprintf(sc, sizeof sc, "%s/%s/scaled", l->name, what);
    snprintf(scn, sizeof scn, "%s/%s/scale", l->name, what);
    snprintf(shn, sizeof shn, "%s/%s/heads_shape", l->name, what);
    snprintf(rs, sizeof rs, "%s/%s/heads", l->name, what);
    init_f32(o, kn, (const int64_t[]){d, H * n}, 2, kernel->data);
    binary(o, "MatMul", x, kn, mm);
    const char *cur = mm;
    if (bias) {
        init_f32(o, bn, (const int64_t[]){H * n}, 1, bias->data);
        binary(o, "Add", mm, bn, ab);
        cur = ab;
    }
    if (scale != 1.0f) {
        init_scalar(o, scn, scale);
        binary(o, "Mul", cur, scn, sc);
        cur = sc;
    }
    init_i64(o, shn, (const int64_t[]){-1, T, H, n}, 4);
    binary(o, "Reshape", cur, shn, rs);
    transpose(o, rs, out, (const int64_t[]){0, 2, 1, 3}, 4);
}

px_status px_xonnx_mha(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    if (px_xno_masks(l)) return px_last_status();
    const int64_t H = px_json_get_int(l->config, "num_heads", 0), K = px_json_get_int(l->config, "key_dim", 0),
                  V = px_json_get_int(l->config, "value_dim", K);
    const bool bias = px_json_get_bool(l->config, "use_bias", true);
    const int per = bias ? 2 : 1;
    if (H <= 0 || K <= 0 || V <= 0 || l->n_w != 4 * per)
        return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (MultiHeadAttention): unexpected config or weights", l->name);
    const char *q = in[0], *v = l->n_in > 1 ? in[1] : q, *k = l->n_in > 2 ? in[2] : v;
    const int64_t Tq = l->in[0].dim[0], Tv = l->n_in > 1 ? l->in[1].dim[0] : Tq, dout = l->out.dim[1];
    char Q[200], Kp[200], Vp[200], Kt[200], s[200], p[200], ov[200], ot[200], osh[200], flat[200], wo[200], bo[200], y[200];
    snprintf(Q, sizeof Q, "%s/Q", l->name);
    snprintf(Kp, sizeof Kp, "%s/K", l->name);
    snprintf(Vp, sizeof Vp, "%s/V", l->name);
    snprintf(Kt, sizeof Kt, "%s/K_t", l->name);
    snprintf(s, sizeof s, "%s/scores", l->name);
    snprintf(p, sizeof p, "%s/weights", l->name);
    snprintf(ov, sizeof ov, "%s/heads_out", l->name);
    snprintf(ot, sizeof ot, "%s/heads_out_t", l->name);
    snprintf(osh, sizeof osh, "%s/concat_shape", l->name);
    snprintf(flat, sizeof flat, "%s/concat_heads", l->name);
    snprintf(wo, sizeof wo, "%s/output/kernel", l->name);
    snprintf(bo, sizeof bo, "%s/output/bias", l->name);
    snprintf(y, sizeof y, "%s/output/matmul", l->name);
    mha_project(o, l, q, "query", l->w[0], bias ? l->w[1] : NULL, Tq, H, K, 1.0f / sqrtf((float)K), Q);
    mha_project(o, l, k, "key", l->w[per], bias ? l->w[per + 1] : NULL, Tv, H, K, 1.0f, Kp);
    mha_project(o, l, v, "value", l->w[2 * per], bias ? l->w[2 * per + 1] : NULL, Tv, H, V, 1.0f, Vp);
    transpose(o, Kp, Kt, (const int64_t[]){0, 1, 3, 2}, 4);
    binary(o, "MatMul", Q, Kt, s);
    masked_softmax(o, l, s, Tq, Tv, px_xcausal(l), p);
    binary(o, "MatMul", p, Vp, ov);
    transpose(o, ov, ot, (const int64_t[]){0, 2, 1, 3}, 4);
    init_i64(o, osh, (const int64_t[]){-1, Tq, H * V}, 3);
    binary(o, "Reshape", ot, osh, flat);
    init_f32(o, wo, (const int64_t[]){H * V, dout}, 2, l->w[3 * per]->data);
    if (!bias) {
        node_end(o, node_begin(o, "MatMul", l->name, (const char *[]){flat, wo}, 2, &out, 1));
        return PX_OK;
    }
    binary(o, "MatMul", flat, wo, y);
    init_f32(o, bo, (const int64_t[]){dout}, 1, l->w[3 * per + 1]->data);
    node_end(o, node_begin(o, "Add", l->name, (const char *[]){y, bo}, 2, &out, 1));
    return PX_OK;
}

/* The ONNX name of node n: its layer's name, or the model input's. */
static const char *value_name(const px_model *m, const px_node *n) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->output == n) return px_layer_name(m->layers[i]);
    return n->name ? n->name : "?";
}

px_status px_model_export_onnx(px_model *m, const char *path) {
    if (!m || !path) return px_set_error(PX_ERR_ARG, "px_model_export_onnx: model and path must not be NULL");
    if (!m->built) return px_set_error(PX_ERR_STATE, "export: model '%s' is not built (its input shape is unknown)", m->name);
    onnx o = {.m = m};
    px_status st = PX_OK;
    int prev = px_lc_set_keras_major(2);
    for (int k = 0; k < m->n_inputs; k++) value_info(&o, 11, value_name(m, m->inputs[k]), m->inputs[k]->shape);
    for (int i = 0; i < m->n_layers && !st; i++) {
        px_layer *pl = m->layers[i];
        if (strcmp(px_layer_class(pl), "InputLayer") == 0) continue;
        px_xlayer l = {.layer = pl, .name = px_layer_name(pl), .cls = px_layer_class(pl)};
        if (!pl->kind) {
            st = px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) is user-defined; only built-in layers can be exported", l.name, l.cls);
            break;
        }
        if (pl->n_inbound < 1 || pl->n_inbound > PX_MAX_INPUTS) {
            st = px_set_error(PX_ERR_STATE, "export: layer '%s' has %d inputs", l.name, pl->n_inbound);
            break;
        }
        l.config = px_json_new_object();
        if (!l.config || (pl->kind->write_config && pl->kind->write_config(pl, l.config))) st = px_last_status();
        const char *ins[PX_MAX_INPUTS];
        l.n_in = pl->n_inbound;
        for (int k = 0; k < l.n_in && !st; k++) {
            ins[k] = value_name(m, pl->inbound[k]);
            px_shape s = pl->inbound[k]->shape;
            l.in[k].rank = s.rank - 1;
            for (int d = 1; d < s.rank; d++) l.in[k].dim[d - 1] = s.dim[d];
        }
        px_shape s = pl->output->shape;
        l.out.rank = s.rank - 1;
        for (int d = 1; d < s.rank; d++) l.out.dim[d - 1] = s.dim[d];
        if (!st) st = px_layer_get_weights(pl, &l.w, &l.n_w);
        const px_xkind *kind = px_xkind_find(l.cls);
        if (!st && (!kind || !kind->onnx))
            st = px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) cannot be exported to ONNX: the exporter has no %s yet", l.name,
                              l.cls, l.cls);
        if (!st) st = kind->onnx(&o, &l, ins, l.name);
        px_json_free(l.config);
        for (int k = 0; k < l.n_w; k++) px_tensor_free(l.w[k]);
        free(l.w);
    }
    px_lc_set_keras_major(prev);
    for (int k = 0; k < m->n_outputs && !st; k++) value_info(&o, 12, value_name(m, m->outputs[k]), m->outputs[k]->shape);
    str(&o.g, 2, m->name);
    px_pb_buf model = {0};
    if (!st) {
        px_pb_int64(&model, 1, 8); /* ir_version */
        str(&model, 2, "plexus");
        str(&model, 3, "0.1.0");
        size_t opset = px_pb_begin(&model);
        px_pb_int64(&model, 2, 14);
        px_pb_end(&model, 8, opset);
        px_pb_string(&model, 7, (const char *)o.g.data, o.g.len);
        if (o.g.failed || model.failed) st = px_set_error(PX_ERR_NOMEM, "export: out of memory writing %s", path);
    }
    if (!st) st = px_atomic_write_file(path, "export", model.data, model.len);
    px_pb_free(&o.g);
    px_pb_free(&model);
    return st;
}
