/* Attention layers: Attention (Luong-style dot-product or concat scores over
 * [query, value(, key)]) and MultiHeadAttention (Keras's einsum-dense
 * projections with weights (dim, heads, key_dim)), with Keras's config keys,
 * weight names and order, timestep masks and causal masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "nn/layer_config.h"
#include "nn/layer_internal.h"

/* Keras's automatic attention mask from the (batch, T) masks of query and
 * value: (batch, Tq, 1) & (batch, 1, Tv); NULL when neither carries one. */
static px_node *attention_mask_of(px_node *q, px_node *v) {
    px_node *qm = q->mask, *vm = v->mask;
    int64_t tq = px_node_shape(q).dim[1], tv = px_node_shape(v).dim[1];
    if (qm && (px_node_shape(qm).rank != 2 || tq <= 0)) qm = NULL;
    if (vm && (px_node_shape(vm).rank != 2 || tv <= 0)) vm = NULL;
    if (!qm) return vm;
    px_node *a = px_reshape(qm, PX_SHAPE(-1, tq, 1));
    return vm ? px_mul(a, px_reshape(vm, PX_SHAPE(-1, 1, tv))) : a;
}

/* use_causal_mask, Keras's call argument, kept in the inbound node's keyword
 * arguments; `causal` is the bool at the start of both layers' options */
static px_status causal_write(const px_layer *l, px_json *kw) {
    return *(const bool *)l->state ? px_lc_set_bool(kw, "use_causal_mask", true) : PX_OK;
}
static px_status causal_read(px_layer *l, const px_json *kw) {
    const px_json *v = px_json_get(kw, "use_causal_mask");
    if (!v || px_json_is_null(v)) return PX_OK;
    if (!px_json_is_bool(v))
        return px_set_error(PX_ERR_FORMAT, "layer '%s': call argument 'use_causal_mask' should be true or false", px_layer_name(l));
    if (px_json_bool(v)) *(bool *)l->state = true;
    return PX_OK;
}

/* ------------------------------------------------------------ Attention ---- */
typedef struct att_state {
    px_attention_options o;
} att_state;

static px_status att_build(px_layer *l, const px_shape *in, int n) {
    const px_attention_options *o = &((att_state *)l->state)->o;
    char sb[96];
    if (n != 2 && n != 3)
        return px_set_error(PX_ERR_ARG, "layer '%s' (Attention): takes [query, value] or [query, value, key], got %d inputs",
                            px_layer_name(l), n);
    for (int i = 0; i < n; i++)
        if (in[i].rank != 3)
            return px_set_error(PX_ERR_SHAPE, "layer '%s' (Attention): input %d %s must be (batch, timesteps, features)",
                                px_layer_name(l), i, px_shape_format(in[i], sb, sizeof sb));
    px_regularizer none = {0};
    px_initializer ones = {.kind = PX_INIT_ONES};
    if (o->use_scale && !px_layer_add_weight(l, "scale", PX_SCALAR, ones, none, true)) return px_last_status();
    if (o->score_concat && !px_layer_add_weight(l, "concat_score_weight", PX_SCALAR, ones, none, true))
        return px_last_status();
    return PX_OK;
}

static px_node *att_call(px_layer *l, px_node *const *in, int n) {
    const px_attention_options *o = &((att_state *)l->state)->o;
    px_node *q = in[0], *v = in[1], *k = n == 3 ? in[2] : in[1];
    px_node *scale = o->use_scale ? l->weights[0] : NULL;
    px_node *scores;
    if (!o->score_concat) {
        scores = px_matmul_t(q, k, false, true); /* (B, Tq, Tv) */
        if (scale) scores = px_mul(scores, scale);
    } else {
        /* sum over features of tanh(scale (q_i + k_j)), times concat_score_weight */
        px_shape qs = px_node_shape(q), ks = px_node_shape(k);
        if (qs.dim[1] <= 0 || ks.dim[1] <= 0 || qs.dim[2] != ks.dim[2]) {
            px_set_error(PX_ERR_SHAPE, "layer '%s' (Attention): score_mode 'concat' needs known timesteps and the same features in query and key",
                         px_layer_name(l));
            return NULL;
        }
        px_node *s = px_add(px_reshape(q, PX_SHAPE(-1, qs.dim[1], 1, qs.dim[2])), px_reshape(k, PX_SHAPE(-1, 1, ks.dim[1], ks.dim[2])));
        if (scale) s = px_mul(s, scale);
        scores = px_mul(px_sum(px_tanh(s), 3, false), l->weights[o->use_scale ? 1 : 0]);
    }
    px_node *mask = v->mask;
    if (mask && (px_node_shape(mask).rank != 2)) mask = NULL;
    if (mask || o->causal) scores = px_attention_mask(scores, mask, o->causal);
    px_node *w = px_softmax(scores, -1);
    if (o->dropout > 0) w = px_dropout(w, o->dropout);
    px_node *y = px_matmul(w, v);
    /* a masked query's output is zeroed, as Keras does */
    if (y && q->mask && px_node_shape(q->mask).rank == 2 && px_node_shape(q).dim[1] > 0) {
        y = px_mul(y, px_reshape(q->mask, PX_SHAPE(-1, px_node_shape(q).dim[1], 1)));
        if (y) y->mask = q->mask;
    }
    return y;
}

static const char *const score_modes[2] = {"dot", "concat"};

static px_status att_write_config(const px_layer *l, px_json *c) {
    const px_attention_options *o = &((const att_state *)l->state)->o;
    px_status st = px_lc_set_bool(c, "use_scale", o->use_scale);
    if (!st) st = px_lc_set_string(c, "score_mode", score_modes[o->score_concat]);
    if (!st) st = px_lc_set_float(c, "dropout", o->dropout);
    /* causal goes with the call (use_causal_mask); TF 2's early "causal" key is read */
    return st;
}

static px_layer *att_from_config(const px_json *c) {
    px_attention_options o = {0};
    const char *mode = px_json_get_string(c, "score_mode", "dot");
    if (px_lc_get_bool(c, "use_scale", false, &o.use_scale) || px_lc_get_bool(c, "causal", false, &o.causal) ||
        px_lc_get_float(c, "dropout", false, &o.dropout))
        return NULL;
    if (strcmp(mode, "dot") != 0 && strcmp(mode, "concat") != 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Attention): config key 'score_mode' is '%s' (dot or concat)", px_lc_name(c), mode);
        return NULL;
    }
    o.score_concat = strcmp(mode, "concat") == 0;
    return px_attention_layer(&o);
}

const px_layer_kind px_attention_kind = {
    .def = {.class_name = "Attention", .build = att_build, .call = att_call},
    .base_name = "attention",
    .state_size = sizeof(att_state),
    .write_config = att_write_config,
    .from_config = att_from_config,
    .mask_mode = PX_MASK_OWN,
    .write_call_kwargs = causal_write,
    .read_call_kwargs = causal_read,
};

px_layer *px_attention_layer(const px_attention_options *opts) {
    att_state s = {0};
    if (opts) s.o = *opts;
    if (!(s.o.dropout >= 0 && s.o.dropout < 1)) {
        px_set_error(PX_ERR_ARG, "Attention: dropout must be in [0, 1), got %g", s.o.dropout);
        return NULL;
    }
    return px_layer_new_kind_copy(&px_attention_kind, &s, sizeof s);
}

/* --------------------------------------------------- MultiHeadAttention ---- */
typedef struct mha_state {
    px_mha_options o;
    int num_heads, key_dim;
} mha_state;

static int value_dim(const mha_state *s) { return s->o.value_dim > 0 ? s->o.value_dim : s->key_dim; }

static px_status mha_build(px_layer *l, const px_shape *in, int n) {
    const mha_state *s = l->state;
    char sb[96];
    if (n < 1 || n > 3)
        return px_set_error(PX_ERR_ARG, "layer '%s' (MultiHeadAttention): takes query[, value[, key]], got %d inputs",
                            px_layer_name(l), n);
    for (int i = 0; i < n; i++)
        if (in[i].rank != 3 || in[i].dim[2] <= 0)
            return px_set_error(PX_ERR_SHAPE, "layer '%s' (MultiHeadAttention): input %d %s must be (batch, timesteps, "
                                "features) with known features", px_layer_name(l), i, px_shape_format(in[i], sb, sizeof sb));
    const int64_t H = s->num_heads, K = s->key_dim, V = value_dim(s);
    const int64_t dq = in[0].dim[2], dv = n > 1 ? in[1].dim[2] : dq, dk = n > 2 ? in[2].dim[2] : dv;
    const int64_t out = s->o.output_dim > 0 ? s->o.output_dim : dq;
    const px_shape kshape[4] = {PX_SHAPE(dq, H, K), PX_SHAPE(dk, H, K), PX_SHAPE(dv, H, V), PX_SHAPE(H, V, out)};
    const px_shape bshape[4] = {PX_SHAPE(H, K), PX_SHAPE(H, K), PX_SHAPE(H, V), PX_SHAPE(out)};
    static const char *const names[4] = {"query", "key", "value", "attention_output"};
    for (int i = 0; i < 4; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s/kernel", names[i]);
        if (!px_layer_add_weight(l, nm, kshape[i], s->o.kernel_initializer, s->o.kernel_regularizer, true))
            return px_last_status();
        if (s->o.no_bias) continue;
        px_initializer bi = s->o.bias_initializer;
        if (bi.kind == PX_INIT_DEFAULT) bi.kind = PX_INIT_ZEROS;
        snprintf(nm, sizeof nm, "%s/bias", names[i]);
        if (!px_layer_add_weight(l, nm, bshape[i], bi, s->o.bias_regularizer, true)) return px_last_status();
    }
    return PX_OK;
}

/* x (B, T, D) through kernel (D, H, K) and bias (H, K) -> (B, H, T, K) */
static px_node *project(px_node *x, px_node *kernel, px_node *bias, int64_t H, int64_t K) {
    px_shape xs = px_node_shape(x), ks = px_node_shape(kernel);
    px_node *y = px_matmul(x, px_reshape(kernel, PX_SHAPE(ks.dim[0], H * K)));
    if (bias) y = px_add(y, px_reshape(bias, PX_SHAPE(H * K)));
    return px_transpose(px_reshape(y, PX_SHAPE(-1, xs.dim[1], H, K)), (const int[]){0, 2, 1, 3});
}

static px_node *mha_call(px_layer *l, px_node *const *in, int n) {
    const mha_state *s = l->state;
    px_node *q = in[0], *v = n > 1 ? in[1] : in[0], *k = n > 2 ? in[2] : v;
    const int64_t H = s->num_heads, K = s->key_dim, V = value_dim(s);
    const int64_t tq = px_node_shape(q).dim[1], tv = px_node_shape(v).dim[1];
    if (tq <= 0 || tv <= 0 || px_node_shape(k).dim[1] != tv) {
        px_set_error(PX_ERR_SHAPE, "layer '%s' (MultiHeadAttention): needs known timesteps, the same in value and key",
                     px_layer_name(l));
        return NULL;
    }
    px_node *const *w = l->weights;
    const int step = s->o.no_bias ? 1 : 2;
    px_node *bias_of[4];
    for (int i = 0; i < 4; i++) bias_of[i] = s->o.no_bias ? NULL : w[i * step + 1];
    px_node *Q = px_scale(project(q, w[0], bias_of[0], H, K), 1.0f / sqrtf((float)K));
    px_node *Kp = project(k, w[step], bias_of[1], H, K), *Vp = project(v, w[2 * step], bias_of[2], H, V);
    px_node *scores = px_matmul_t(Q, Kp, false, true); /* (B, H, Tq, Tv) */
    px_node *mask = attention_mask_of(q, v);
    if (mask || s->o.causal) scores = px_attention_mask(scores, mask, s->o.causal);
    px_node *p = px_softmax(scores, -1);
    if (s->o.dropout > 0) p = px_dropout(p, s->o.dropout);
    px_node *o = px_transpose(px_matmul(p, Vp), (const int[]){0, 2, 1, 3}); /* (B, Tq, H, V) */
    px_node *wo = w[3 * step];
    int64_t out = px_node_shape(wo).dim[2];
    px_node *y = px_matmul(px_reshape(o, PX_SHAPE(-1, tq, H * V)), px_reshape(wo, PX_SHAPE(H * V, out)));
    if (bias_of[3]) y = px_add(y, bias_of[3]);
    if (y) y->mask = q->mask;
    return y;
}

static px_status mha_write_config(const px_layer *l, px_json *c) {
    const mha_state *s = l->state;
    px_status st = px_lc_set_int(c, "num_heads", s->num_heads);
    if (!st) st = px_lc_set_int(c, "key_dim", s->key_dim);
    if (!st) st = px_lc_set_int(c, "value_dim", value_dim(s));
    if (!st) st = px_lc_set_float(c, "dropout", s->o.dropout);
    if (!st) st = px_lc_set_bool(c, "use_bias", !s->o.no_bias);
    if (!st) st = s->o.output_dim > 0 ? px_lc_set_int(c, "output_shape", s->o.output_dim) : px_lc_set_null(c, "output_shape");
    if (!st) st = px_lc_set_null(c, "attention_axes");
    if (!st) st = px_lc_set_kernel_bias(c, s->o.kernel_initializer, s->o.bias_initializer, s->o.kernel_regularizer,
                                       s->o.bias_regularizer);
    return st;
}

static px_layer *mha_from_config(const px_json *c) {
    px_mha_options o = {0};
    int64_t heads = 0, kd = 0, vd = 0;
    bool use_bias = true;
    const px_json *vdj = px_json_get(c, "value_dim"), *os = px_json_get(c, "output_shape");
    if (px_lc_get_int(c, "num_heads", true, &heads) || px_lc_get_int(c, "key_dim", true, &kd) ||
        (vdj && !px_json_is_null(vdj) && px_lc_get_int(c, "value_dim", true, &vd)) ||
        px_lc_get_float(c, "dropout", false, &o.dropout) || px_lc_get_bool(c, "use_bias", false, &use_bias) ||
        px_lc_expect_null(c, "attention_axes") ||
        px_lc_get_kernel_bias(c, &o.kernel_initializer, &o.bias_initializer, &o.kernel_regularizer,
                              &o.bias_regularizer))
        return NULL;
    if (os && !px_json_is_null(os)) {
        int axis = 0;
        if (px_lc_get_axis(c, "output_shape", true, &axis)) {
            px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (MultiHeadAttention): config key 'output_shape' must be null or one size",
                         px_lc_name(c));
            return NULL;
        }
        const px_json *v = px_json_is_array(os) ? px_json_at(os, 0) : os;
        o.output_dim = (int)px_json_int(v);
    }
    if (heads <= 0 || heads > 4096 || kd <= 0 || kd > 1 << 20 || vd < 0 || vd > 1 << 20) {
        px_set_error(PX_ERR_FORMAT, "layer '%s' (MultiHeadAttention): num_heads %lld, key_dim %lld, value_dim %lld must be positive",
                     px_lc_name(c), (long long)heads, (long long)kd, (long long)vd);
        return NULL;
    }
    o.value_dim = (int)vd;
    o.no_bias = !use_bias;
    return px_multi_head_attention((int)heads, (int)kd, &o);
}

/* Keras 3 keeps the weights in four EinsumDense sublayers:
 * layers/<name>/{query,key,value,output}_dense/vars/{0 kernel, 1 bias}. */
static const char *mha_k3_vars(const px_layer *l, int i, int *index) {
    const mha_state *s = l->state;
    static const char *const dense[4] = {"query_dense/vars", "key_dense/vars", "value_dense/vars", "output_dense/vars"};
    int per = s->o.no_bias ? 1 : 2;
    *index = i % per;
    return dense[(i / per) & 3];
}

const px_layer_kind px_multi_head_attention_kind = {
    .def = {.class_name = "MultiHeadAttention", .build = mha_build, .call = mha_call},
    .base_name = "multi_head_attention",
    .state_size = sizeof(mha_state),
    .write_config = mha_write_config,
    .from_config = mha_from_config,
    .k3_vars = mha_k3_vars,
    .mask_mode = PX_MASK_OWN,
    .write_call_kwargs = causal_write,
    .read_call_kwargs = causal_read,
};

px_layer *px_multi_head_attention(int num_heads, int key_dim, const px_mha_options *opts) {
    mha_state s = {.num_heads = num_heads, .key_dim = key_dim};
    if (opts) s.o = *opts;
    if (num_heads <= 0 || key_dim <= 0 || s.o.value_dim < 0 || s.o.output_dim < 0 || !(s.o.dropout >= 0 && s.o.dropout < 1)) {
        px_set_error(PX_ERR_ARG, "MultiHeadAttention: num_heads %d and key_dim %d must be positive, value_dim and "
                     "output_dim >= 0, dropout in [0, 1)", num_heads, key_dim);
        return NULL;
    }
    s.o.name = NULL;
    px_layer *l = px_layer_new_kind_copy(&px_multi_head_attention_kind, &s, sizeof s);
    if (l && opts && opts->name && px_layer_set_name(l, opts->name)) {
        px_layer_free(l);
        return NULL;
    }
    return l;
}
