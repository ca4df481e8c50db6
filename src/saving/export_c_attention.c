/* The C exporter's attention layers and Dot: Attention (dot or concat scores,
 * use_scale, a causal mask), MultiHeadAttention (query, key, value and output
 * projections; Keras's weights (dim, heads, key_dim)) and Dot (rank 1 or 2 per
 * example, normalize). Timestep masks into them are not exported. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "nn/layer_internal.h"
#include "saving/export_c_internal.h"

#define P(...) px_cbuf_printf(&x->code, __VA_ARGS__)
#define LL(v) ((long long)(v))



/* ---------------------------------------------------------------- Dot */

/* The contracted axes of the two inputs as axes of one example (0 or 1). */
static px_status dot_axes(const px_xlayer *l, int *a0, int *a1) {
    int ax[2];
    if (px_xget_ints(l, "axes", ax, 2, -1)) return px_last_status();
    const int r = l->in[0].rank; /* per example: 1 or 2 */
    if (l->n_in != 2 || l->in[1].rank != r || (r != 1 && r != 2))
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (Dot): two inputs of rank 1 or 2 per example are exported", l->name);
    *a0 = (ax[0] < 0 ? ax[0] + r + 1 : ax[0]) - 1;
    *a1 = (ax[1] < 0 ? ax[1] + r + 1 : ax[1]) - 1;
    if (*a0 < 0 || *a0 >= r || *a1 < 0 || *a1 >= r) return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (Dot): bad axes", l->name);
    return PX_OK;
}

int64_t px_xdot_scratch(const px_xlayer *l) {
    return px_json_get_bool(l->config, "normalize", false) ? px_xshape_size(l->in[0]) + px_xshape_size(l->in[1]) : 0;
}

px_status px_xemit_dot(px_xctx *x, px_xlayer *l) {
    int a0 = 0, a1 = 0;
    if (dot_axes(l, &a0, &a1)) return px_last_status();
    const bool norm = px_json_get_bool(l->config, "normalize", false);
    const int r = l->in[0].rank;
    /* x0 as (P, K) and x1 as (K, Q), whatever their layouts */
    const int64_t n0 = l->in[0].dim[0], m0 = r == 2 ? l->in[0].dim[1] : 1, n1 = l->in[1].dim[0], m1 = r == 2 ? l->in[1].dim[1] : 1;
    const int64_t K = r == 1 ? n0 : a0 == 1 ? m0 : n0, Pn = r == 1 ? 1 : a0 == 1 ? n0 : m0, Qn = r == 1 ? 1 : a1 == 0 ? m1 : n1;
    char what[120];
    snprintf(what, sizeof what, "products over axis %d of the first and %d of the second%s", a0 + 1, a1 + 1,
             norm ? ", both L2-normalized along them" : "");
    px_xemit_open(x, l, what);
    P("    const float *a = x0, *b = x1;\n    long p, q, k;\n");
    if (norm) {
        /* x / sqrt(max(sum x^2, 1e-12)) along the contracted axis, as Keras's l2_normalize */
        P("    float *na = tmp, *nb = tmp + %lld;\n", LL(px_xshape_size(l->in[0])));
        const struct {
            const char *src, *dst;
            int64_t n, m;
            int axis;
        } s[2] = {{"x0", "na", n0, m0, r == 1 ? 0 : a0}, {"x1", "nb", n1, m1, r == 1 ? 0 : a1}};
        for (int i = 0; i < 2; i++) {
            /* along axis 0: columns (stride m); along axis 1: rows (stride 1) */
            const int64_t lines = s[i].axis == 0 ? s[i].m : s[i].n, len = s[i].axis == 0 ? s[i].n : s[i].m;
            const int64_t step = s[i].axis == 0 ? s[i].m : 1, start = s[i].axis == 0 ? 1 : s[i].m;
            P("    for (p = 0; p < %lld; p++) {\n        float ss = 0.0f;\n"
              "        for (k = 0; k < %lld; k++) ss += %s[p * %lld + k * %lld] * %s[p * %lld + k * %lld];\n"
              "        ss = sqrtf(ss < 1e-12f ? 1e-12f : ss);\n"
              "        for (k = 0; k < %lld; k++) %s[p * %lld + k * %lld] = %s[p * %lld + k * %lld] / ss;\n    }\n",
              LL(lines), LL(len), s[i].src, LL(start), LL(step), s[i].src, LL(start), LL(step), LL(len), s[i].dst, LL(start), LL(step),
              s[i].src, LL(start), LL(step));
        }
        P("    a = na;\n    b = nb;\n");
    }
    /* element (p, k) of x0 and (k, q) of x1 */
    char ea[64], eb[64];
    if (r == 1 || a0 == 1) snprintf(ea, sizeof ea, "a[p * %lld + k]", LL(m0));
    else snprintf(ea, sizeof ea, "a[k * %lld + p]", LL(m0));
    if (r == 1 || a1 == 0) snprintf(eb, sizeof eb, "b[k * %lld + q]", LL(m1));
    else snprintf(eb, sizeof eb, "b[q * %lld + k]", LL(m1));
    P("    for (p = 0; p < %lld; p++)\n        for (q = 0; q < %lld; q++) {\n            float s = 0.0f;\n"
      "            for (k = 0; k < %lld; k++) s += %s * %s;\n            y[p * %lld + q] = s;\n        }\n}\n",
      LL(Pn), LL(Qn), LL(K), ea, eb, LL(Qn));
    return PX_OK;
}

/* ---------------------------------------------------------------- Attention */


bool px_xcausal(const px_xlayer *l) {
    const px_layer_kind *k = l->layer->kind;
    px_json *kw = px_json_new_object();
    bool c = kw && k->write_call_kwargs && k->write_call_kwargs(l->layer, kw) == PX_OK && px_json_get_bool(kw, "use_causal_mask", false);
    px_json_free(kw);
    return c;
}

px_status px_xno_masks(const px_xlayer *l) {
    for (int i = 0; i < l->layer->n_inbound; i++)
        if (l->layer->inbound[i]->mask)
            return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s): input %d carries a timestep mask, which is not "
                                "exported into attention layers", l->name, l->cls, i);
    return PX_OK;
}

/* The softmax of row s[0..n) in place, the maximum subtracted first; `mask`
 * (causal) pushes s[j] for j > i down by 1e9 as Plexus does. */
static void softmax_row(px_xctx *x, const char *ind, int64_t n, const char *causal_row) {
    if (causal_row) P("%s    for (j = %s + 1; j < %lld; j++) s[j] -= 1e9f;\n", ind, causal_row, LL(n));
    P("%s    {\n%s        float mx = s[0], sum = 0.0f;\n%s        for (j = 1; j < %lld; j++) mx = s[j] > mx ? s[j] : mx;\n", ind, ind,
      ind, LL(n));
    P("%s        for (j = 0; j < %lld; j++) {\n%s            s[j] = expf(s[j] - mx);\n%s            sum += s[j];\n%s        }\n", ind,
      LL(n), ind, ind, ind);
    P("%s        for (j = 0; j < %lld; j++) s[j] /= sum;\n%s    }\n", ind, LL(n), ind);
}

int64_t px_xattention_scratch(const px_xlayer *l) { return l->n_in >= 2 ? l->in[1].dim[0] : 0; }

px_status px_xemit_attention(px_xctx *x, px_xlayer *l) {
    if (px_xno_masks(l)) return px_last_status();
    if (l->n_in < 2 || l->in[0].rank != 2 || l->in[1].rank != 2)
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (Attention): inputs are not (timesteps, features)", l->name);
    const int64_t Tq = l->in[0].dim[0], D = l->in[0].dim[1], Tv = l->in[1].dim[0], Dv = l->in[1].dim[1];
    const char *kx = l->n_in == 3 ? "x2" : "x1";
    const bool concat = strcmp(px_json_get_string(l->config, "score_mode", "dot"), "concat") == 0, cz = px_xcausal(l);
    const px_tensor *scale = px_xweight(l, "scale"), *csw = px_xweight(l, "concat_score_weight");
    char sc[48] = "", cw[48] = "";
    if (scale) px_xfloat(sc, sizeof sc, ((const float *)scale->data)[0]);
    if (csw) px_xfloat(cw, sizeof cw, ((const float *)csw->data)[0]);
    char what[160];
    snprintf(what, sizeof what, "%s scores%s%s%s, softmax over the values' timesteps%s", concat ? "concat" : "dot-product",
             scale ? " times scale " : "", sc, concat ? " (sum of tanh)" : "", cz ? ", causal" : "");
    px_xemit_open(x, l, what);
    P("    float *s = tmp;\n    long i, j, d;\n");
    P("    for (i = 0; i < %lld; i++) {\n        const float *qi = x0 + i * %lld;\n", LL(Tq), LL(D));
    P("        for (j = 0; j < %lld; j++) {\n            const float *kj = %s + j * %lld;\n            float v = 0.0f;\n", LL(Tv), kx, LL(D));
    if (!concat) {
        P("            for (d = 0; d < %lld; d++) v += qi[d] * kj[d];\n", LL(D));
        P("            s[j] = v%s%s;\n        }\n", scale ? " * " : "", sc);
    } else {
        P("            for (d = 0; d < %lld; d++) v += tanhf(%s%s(qi[d] + kj[d]));\n", LL(D), sc, scale ? " * " : "");
        P("            s[j] = v * %s;\n        }\n", cw[0] ? cw : "1.0f");
    }
    softmax_row(x, "    ", Tv, cz ? "i" : NULL);
    P("        for (d = 0; d < %lld; d++) {\n            float v = 0.0f;\n"
      "            for (j = 0; j < %lld; j++) v += s[j] * x1[j * %lld + d];\n            y[i * %lld + d] = v;\n        }\n    }\n}\n",
      LL(Dv), LL(Tv), LL(Dv), LL(Dv));
    return PX_OK;
}

/* ---------------------------------------------------------------- MultiHeadAttention */

typedef struct mha_dims {
    int64_t H, K, V, Tq, Tv, dq, dk, dv, out;
    bool bias;
} mha_dims;

static px_status mha_dims_of(const px_xlayer *l, mha_dims *d) {
    d->H = px_json_get_int(l->config, "num_heads", 0);
    d->K = px_json_get_int(l->config, "key_dim", 0);
    d->V = px_json_get_int(l->config, "value_dim", d->K);
    d->bias = px_json_get_bool(l->config, "use_bias", true);
    if (l->in[0].rank != 2 || (l->n_in > 1 && l->in[1].rank != 2) || (l->n_in > 2 && l->in[2].rank != 2) || d->H <= 0 || d->K <= 0 ||
        d->V <= 0)
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (MultiHeadAttention): inputs are not (timesteps, features)", l->name);
    const px_shape q = l->in[0], v = l->n_in > 1 ? l->in[1] : q, k = l->n_in > 2 ? l->in[2] : v;
    d->Tq = q.dim[0], d->dq = q.dim[1], d->Tv = v.dim[0], d->dv = v.dim[1], d->dk = k.dim[1];
    d->out = l->out.dim[1];
    return PX_OK;
}

int64_t px_xmha_scratch(const px_xlayer *l) {
    mha_dims d = {0};
    if (mha_dims_of(l, &d)) return 0;
    /* Q, K, V projected, the heads' outputs, one row of scores */
    return d.Tq * d.H * d.K + d.Tv * d.H * d.K + d.Tv * d.H * d.V + d.Tq * d.H * d.V + d.Tv;
}

/* y (T, n) = x (T, d) W (d, n) + b into the text, as one loop nest */
static void project(px_xctx *x, const char *src, const char *dst, int64_t T, int64_t d, int64_t n, const char *sym, const char *w,
                    bool bias, const char *scale) {
    P("    for (t = 0; t < %lld; t++) {\n        const float *xt = %s + t * %lld;\n        float *yt = %s + t * %lld;\n", LL(T), src,
      LL(d), dst, LL(n));
    if (bias) P("        for (j = 0; j < %lld; j++) yt[j] = %s_%s_bias[j];\n", LL(n), sym, w);
    else P("        for (j = 0; j < %lld; j++) yt[j] = 0.0f;\n", LL(n));
    P("        for (c = 0; c < %lld; c++) {\n            const float *wc = %s_%s_kernel + c * %lld;\n"
      "            for (j = 0; j < %lld; j++) yt[j] += xt[c] * wc[j];\n        }\n",
      LL(d), sym, w, LL(n), LL(n));
    if (scale) P("        for (j = 0; j < %lld; j++) yt[j] *= %s;\n", LL(n), scale);
    P("    }\n");
}

px_status px_xemit_mha(px_xctx *x, px_xlayer *l) {
    mha_dims d = {0};
    if (px_xno_masks(l) || mha_dims_of(l, &d)) return px_last_status();
    const int per = d.bias ? 2 : 1;
    if (l->n_w != 4 * per) return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (MultiHeadAttention): %d weights", l->name, l->n_w);
    static const char *const names[4] = {"query", "key", "value", "output"};
    const int64_t ksize[4] = {d.dq * d.H * d.K, d.dk * d.H * d.K, d.dv * d.H * d.V, d.H * d.V * d.out};
    const int64_t bsize[4] = {d.H * d.K, d.H * d.K, d.H * d.V, d.out};
    for (int i = 0; i < 4; i++) {
        char suffix[32];
        if (px_tensor_size(l->w[i * per]) != ksize[i] || (d.bias && px_tensor_size(l->w[i * per + 1]) != bsize[i]))
            return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (MultiHeadAttention): the %s weights do not fit", l->name, names[i]);
        snprintf(suffix, sizeof suffix, "%s_kernel", names[i]);
        px_status st = px_xemit_array(x, l->sym, suffix, l->w[i * per]->data, ksize[i]);
        snprintf(suffix, sizeof suffix, "%s_bias", names[i]);
        if (!st && d.bias) st = px_xemit_array(x, l->sym, suffix, l->w[i * per + 1]->data, bsize[i]);
        if (st) return st;
    }
    const bool cz = px_xcausal(l);
    /* px_xemit_open names a single input x, several x0, x1, ... */
    const char *q_in = l->n_in > 1 ? "x0" : "x", *vx = l->n_in > 1 ? "x1" : q_in, *kx = l->n_in > 2 ? "x2" : vx;
    char scale[48], what[160];
    px_xfloat(scale, sizeof scale, 1.0f / sqrtf((float)d.K));
    snprintf(what, sizeof what, "%lld heads, key_dim %lld, value_dim %lld%s", LL(d.H), LL(d.K), LL(d.V), cz ? ", causal" : "");
    px_xemit_open(x, l, what);
    const int64_t HK = d.H * d.K, HV = d.H * d.V;
    P("    float *Q = tmp, *K = Q + %lld, *V = K + %lld, *O = V + %lld, *s = O + %lld;\n    long t, i, j, c;\n    int h;\n",
      LL(d.Tq * HK), LL(d.Tv * HK), LL(d.Tv * HV), LL(d.Tq * HV));
    project(x, q_in, "Q", d.Tq, d.dq, HK, l->sym, "query", d.bias, scale);
    project(x, kx, "K", d.Tv, d.dk, HK, l->sym, "key", d.bias, NULL);
    project(x, vx, "V", d.Tv, d.dv, HV, l->sym, "value", d.bias, NULL);
    P("    for (h = 0; h < %lld; h++)\n        for (i = 0; i < %lld; i++) {\n            const float *qi = Q + i * %lld + h * %lld;\n",
      LL(d.H), LL(d.Tq), LL(HK), LL(d.K));
    P("            for (j = 0; j < %lld; j++) {\n                const float *kj = K + j * %lld + h * %lld;\n                float v = 0.0f;\n"
      "                for (c = 0; c < %lld; c++) v += qi[c] * kj[c];\n                s[j] = v;\n            }\n",
      LL(d.Tv), LL(HK), LL(d.K), LL(d.K));
    softmax_row(x, "        ", d.Tv, cz ? "i" : NULL);
    P("            for (c = 0; c < %lld; c++) {\n                float v = 0.0f;\n"
      "                for (j = 0; j < %lld; j++) v += s[j] * V[j * %lld + h * %lld + c];\n                O[i * %lld + h * %lld + c] = v;\n"
      "            }\n        }\n",
      LL(d.V), LL(d.Tv), LL(HV), LL(d.V), LL(HV), LL(d.V));
    project(x, "O", "y", d.Tq, HV, d.out, l->sym, "output", d.bias, NULL);
    P("}\n");
    return PX_OK;
}
