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
#include "saving/export_c_internal.h"

enum { T_FLOAT = 1, T_INT64 = 7 };
enum { A_FLOAT = 1, A_INT = 2, A_INTS = 7 }; /* SimpleRNN's default activation is ONNX RNN's (Tanh) */

typedef struct onnx {
    px_pb_buf g;     /* GraphProto being built */
    int tmp;         /* counter for intermediate value names */
    const px_model *m;
} onnx;

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
    char name[160];
    snprintf(name, sizeof name, "%s_transpose", out);
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

static px_tensor *weight(const px_xlayer *l, const char *name) {
    for (int k = 0; k < l->n_w; k++)
        if (strcmp(px_layer_weight_name(l->layer, k), name) == 0) return l->w[k];
    return NULL;
}

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
    px_tensor *k = weight(l, "kernel"), *b = weight(l, "bias");
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
        px_tensor *kt = weight(l, "kernel"), *b = weight(l, "bias");
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

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

static px_status layer(onnx *o, px_xlayer *l, const char *const *in, const char *out) {
    const char *c = l->cls;
    if (strcmp(c, "Dense") == 0) return dense(o, l, in[0], out);
    if (strcmp(c, "Conv1D") == 0 || strcmp(c, "Conv2D") == 0 || ends_with(c, "Pooling1D") || ends_with(c, "Pooling2D")) {
        if (strncmp(c, "Global", 6) == 0) {
            const int64_t axes2[2] = {1, 2}, axes1[1] = {1};
            char name[160];
            snprintf(name, sizeof name, "%s_reduce", out);
            size_t mk = node_begin(o, strstr(c, "Max") ? "ReduceMax" : "ReduceMean", name, in, 1, &out, 1);
            attr_ints(o, "axes", l->in[0].rank == 3 ? axes2 : axes1, l->in[0].rank == 3 ? 2 : 1);
            attr_int(o, "keepdims", 0);
            node_end(o, mk);
            return PX_OK;
        }
        return spatial(o, l, in[0], out);
    }
    if (strcmp(c, "LSTM") == 0 || strcmp(c, "GRU") == 0 || strcmp(c, "SimpleRNN") == 0) return recurrent(o, l, in[0], out);
    if (strcmp(c, "Flatten") == 0 || strcmp(c, "Reshape") == 0) {
        int64_t shape[PX_MAX_RANK + 1] = {-1};
        for (int i = 0; i < l->out.rank; i++) shape[i + 1] = l->out.dim[i];
        char sn[160];
        snprintf(sn, sizeof sn, "%s/shape", l->name);
        init_i64(o, sn, shape, l->out.rank + 1);
        const char *ins[2] = {in[0], sn};
        node_end(o, node_begin(o, "Reshape", l->name, ins, 2, &out, 1));
        return PX_OK;
    }
    if (strcmp(c, "Dropout") == 0 || strcmp(c, "SpatialDropout1D") == 0 || strcmp(c, "SpatialDropout2D") == 0 ||
        strcmp(c, "GaussianNoise") == 0 || strcmp(c, "GaussianDropout") == 0) {
        unary(o, "Identity", in[0], out);
        return PX_OK;
    }
    if (strcmp(c, "Activation") == 0) {
        px_activation a;
        if (px_xget_activation(l, "activation", &a)) return px_last_status();
        return activation(o, l, a, in[0], out);
    }
    if (strcmp(c, "BatchNormalization") == 0) {
        int axis;
        if (px_xget_ints(l, "axis", &axis, 1, -1)) return px_last_status();
        if (!(axis == -1 || axis == l->in[0].rank))
            return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (BatchNormalization): only the last axis is written to ONNX", l->name);
        const px_tensor *g = weight(l, "gamma"), *be = weight(l, "beta"), *mean = weight(l, "moving_mean"), *var = weight(l, "moving_variance");
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
    static const struct {
        const char *cls, *op;
    } merges[] = {{"Add", "Sum"}, {"Maximum", "Max"}, {"Minimum", "Min"}, {"Average", "Mean"}, {"Multiply", "Mul"}, {"Subtract", "Sub"}};
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++)
        if (strcmp(c, merges[i].cls) == 0) {
            if ((strcmp(c, "Multiply") == 0 || strcmp(c, "Subtract") == 0) && l->n_in != 2)
                return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) of %d inputs is not written to ONNX", l->name, c, l->n_in);
            node_end(o, node_begin(o, merges[i].op, l->name, in, l->n_in, &out, 1));
            return PX_OK;
        }
    if (strcmp(c, "Concatenate") == 0) {
        int axis;
        if (px_xget_ints(l, "axis", &axis, 1, -1)) return px_last_status();
        size_t mk = node_begin(o, "Concat", l->name, in, l->n_in, &out, 1);
        attr_int(o, "axis", axis);
        node_end(o, mk);
        return PX_OK;
    }
    return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) cannot be exported to ONNX: the exporter has no %s yet", l->name, c, c);
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
        if (!st) st = layer(&o, &l, ins, l.name);
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
