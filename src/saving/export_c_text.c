/* The C exporter's text: a growing buffer, float literals that read back
 * exactly, weight arrays, layer function headers and the generated code's
 * activation helpers (the formulas of src/ops/activation_kinds.c, in C99). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saving/export_c_internal.h"

void px_cbuf_printf(px_cbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap - b->len <= (size_t)n) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

void px_cbuf_free(px_cbuf *b) {
    free(b->s);
    *b = (px_cbuf){0};
}

void px_xfloat(char *buf, size_t len, float v) {
    if (v == 0) {
        snprintf(buf, len, signbit(v) ? "-0.0f" : "0.0f");
        return;
    }
    snprintf(buf, len, "%.9g", (double)v);
    /* "1" is an int in C: give it a point so that the f suffix is valid */
    if (!strpbrk(buf, ".e")) strncat(buf, ".0", len - strlen(buf) - 1);
    strncat(buf, "f", len - strlen(buf) - 1);
}

px_status px_xemit_array(px_xctx *x, const char *sym, const char *suffix, const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return px_set_error(PX_ERR_NUMERIC, "export: weight %s_%s holds %s at index %lld; only finite weights can be written",
                                sym, suffix, isnan(v[i]) ? "NaN" : "an infinity", (long long)i);
    px_cbuf *b = &x->weights;
    px_cbuf_printf(b, "%sconst float %s_%s[%lld] = {", x->separate_weights ? "" : "static ", sym, suffix,
                   (long long)(n > 0 ? n : 1));
    if (x->separate_weights) px_cbuf_printf(&x->weight_decls, "extern const float %s_%s[%lld];\n", sym, suffix, (long long)(n > 0 ? n : 1));
    char f[48];
    for (int64_t i = 0; i < n; i++) {
        px_xfloat(f, sizeof f, v[i]);
        px_cbuf_printf(b, "%s%s%s", i % 8 == 0 ? "\n    " : " ", f, i + 1 < n ? "," : "");
    }
    if (n == 0) px_cbuf_printf(b, "0.0f");
    px_cbuf_printf(b, "\n};\n");
    return PX_OK;
}

px_status px_xemit_array_i8(px_xctx *x, const char *sym, const char *suffix, const signed char *v, int64_t n) {
    px_cbuf *b = &x->weights;
    px_cbuf_printf(b, "%sconst int8_t %s_%s[%lld] = {", x->separate_weights ? "" : "static ", sym, suffix, (long long)(n > 0 ? n : 1));
    if (x->separate_weights) px_cbuf_printf(&x->weight_decls, "extern const int8_t %s_%s[%lld];\n", sym, suffix, (long long)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) px_cbuf_printf(b, "%s%d%s", i % 16 == 0 ? "\n    " : " ", v[i], i + 1 < n ? "," : "");
    if (n == 0) px_cbuf_printf(b, "0");
    px_cbuf_printf(b, "\n};\n");
    return PX_OK;
}

static void shape_text(char *buf, size_t len, px_shape s) {
    size_t at = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < s.rank && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? ", " : "", (long long)s.dim[i]);
    if (at < len) snprintf(buf + at, len - at, ")");
}

void px_xemit_open(px_xctx *x, const px_xlayer *l, const char *what) {
    px_cbuf *b = &x->code;
    char in[160] = "", one[80];
    for (int i = 0; i < l->n_in; i++) {
        shape_text(one, sizeof one, l->in[i]);
        if (strlen(in) + strlen(one) + 3 < sizeof in) {
            if (i) strcat(in, " + ");
            strcat(in, one);
        }
    }
    shape_text(one, sizeof one, l->out);
    px_cbuf_printf(b, "\n/* %s (%s): %s -> %s%s%s */\nstatic %s %s(", l->name, l->cls, in, one, what && *what ? ", " : "",
                   what ? what : "", strcmp(l->cls, "Embedding") == 0 ? "int" : "void", l->fn);
    if (l->n_in == 1)
        px_cbuf_printf(b, "const float *x, ");
    else
        for (int i = 0; i < l->n_in; i++) px_cbuf_printf(b, "const float *x%d, ", i);
    if (l->mask_ids) px_cbuf_printf(b, "const float *ids, ");
    px_cbuf_printf(b, "float *y%s) {\n", l->scratch > 0 ? ", float *tmp" : "");
}

/* ---- activations ---- */

typedef struct act_text {
    const char *fn;   /* the generated function's name */
    const char *body; /* its body, on float v */
} act_text;

/* Elementwise activations; softmax-like ones are rows helpers below. */
static const act_text acts[PX_ACTIVATION_COUNT] = {
    [PX_RELU] = {"act_relu", "return v > 0.0f ? v : 0.0f;"},
    [PX_SIGMOID] = {"act_sigmoid", "if (v >= 0.0f) return 1.0f / (1.0f + expf(-v));\n    { float e = expf(v); return e / (1.0f + e); }"},
    [PX_TANH] = {"act_tanh", "return tanhf(v);"},
    [PX_ELU] = {"act_elu", "return v > 0.0f ? v : expm1f(v);"},
    [PX_SELU] = {"act_selu", "return 1.0507009873554805f * (v > 0.0f ? v : 1.6732632423543772f * expm1f(v));"},
    [PX_LEAKY_RELU] = {"act_leaky_relu", "return v > 0.0f ? v : 0.2f * v;"},
    [PX_SWISH] = {"act_swish", "float s = v >= 0.0f ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));\n    return v * s;"},
    [PX_SOFTPLUS] = {"act_softplus", "return fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v)));"},
    [PX_GELU] = {"act_gelu", "return v * 0.5f * erfcf(-v * 0.70710678f);"},
    [PX_STEP] = {"act_step", "return v >= 0.0f ? 1.0f : 0.0f;"},
    [PX_SIGN] = {"act_sign", "return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v);"},
    [PX_HARD_SIGMOID] = {"act_hard_sigmoid", "return fminf(fmaxf(v / 6.0f + 0.5f, 0.0f), 1.0f);"},
    [PX_HARD_SIGMOID_K2] = {"act_hard_sigmoid_k2", "return fminf(fmaxf(0.2f * v + 0.5f, 0.0f), 1.0f);"},
    [PX_SOFTSIGN] = {"act_softsign", "return v / (1.0f + fabsf(v));"},
    [PX_MISH] = {"act_mish", "return v * tanhf(fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v))));"},
    [PX_EXPONENTIAL] = {"act_exponential", "return expf(v);"},
    [PX_RELU6] = {"act_relu6", "return fminf(fmaxf(v, 0.0f), 6.0f);"},
    [PX_HARD_SWISH] = {"act_hard_swish", "return v * fminf(fmaxf(v + 3.0f, 0.0f), 6.0f) / 6.0f;"},
};

const char *px_xact_fn(px_xctx *x, const px_xlayer *l, px_activation a) {
    if (a == PX_LINEAR) return "";
    if ((unsigned)a >= PX_ACTIVATION_COUNT || !acts[a].fn) {
        px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s): activation '%s' is not elementwise and cannot be used here",
                     l->name, l->cls, px_activation_name(a));
        return NULL;
    }
    x->helpers |= 1ull << a;
    return acts[a].fn;
}

px_status px_xemit_activation(px_xctx *x, const px_xlayer *l, px_activation a, const char *y, int64_t n, int64_t last) {
    px_cbuf *b = &x->code;
    if (a == PX_LINEAR) return PX_OK;
    if (a == PX_SOFTMAX || a == PX_LOG_SOFTMAX) {
        x->helpers |= a == PX_SOFTMAX ? PX_CH_SOFTMAX : PX_CH_LOG_SOFTMAX;
        px_cbuf_printf(b, "    %s(%s, %lld, %lld);\n", a == PX_SOFTMAX ? "softmax_rows" : "log_softmax_rows", y,
                       (long long)(n / last), (long long)last);
        return PX_OK;
    }
    const char *fn = px_xact_fn(x, l, a);
    if (!fn) return px_last_status();
    px_cbuf_printf(b, "    for (i = 0; i < %lld; i++) %s[i] = %s(%s[i]);\n", (long long)n, y, fn, y);
    return PX_OK;
}

void px_xemit_helpers(px_cbuf *b, uint64_t helpers) {
    if (helpers & PX_CH_QUANTIZE)
        px_cbuf_printf(b, "\n/* x / scale rounded to the nearest (halves away from zero), plus zero, saturated to int8 */\n"
                          "static void quantize(const float *x, int8_t *q, long n, float inv_scale, int zero) {\n"
                          "    long i;\n    for (i = 0; i < n; i++) {\n        float v = x[i] * inv_scale;\n        long r;\n"
                          "        v = v > 1000.0f ? 1000.0f : (v < -1000.0f ? -1000.0f : (v == v ? v : 0.0f)); /* NaN: 0 */\n"
                          "        r = (long)(v >= 0.0f ? v + 0.5f : v - 0.5f) + zero;\n"
                          "        q[i] = (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));\n    }\n}\n");
    for (int a = 0; a < PX_ACTIVATION_COUNT; a++)
        if (helpers >> a & 1)
            px_cbuf_printf(b, "\nstatic float %s(float v) {\n    %s\n}\n", acts[a].fn, acts[a].body);
    if (helpers & (PX_CH_SOFTMAX | PX_CH_LOG_SOFTMAX)) {
        const bool lg = helpers & PX_CH_LOG_SOFTMAX, sm = helpers & PX_CH_SOFTMAX;
        for (int k = 0; k < 2; k++) {
            if (k == 0 ? !sm : !lg) continue;
            px_cbuf_printf(b,
                           "\n/* %s over each row of n values (the maximum subtracted first, as Plexus does) */\n"
                           "static void %s(float *y, long rows, long n) {\n"
                           "    long r, i;\n"
                           "    for (r = 0; r < rows; r++, y += n) {\n"
                           "        float m = y[0], s = 0.0f;\n"
                           "        for (i = 1; i < n; i++) m = y[i] > m ? y[i] : m;\n",
                           k == 0 ? "softmax" : "log-softmax", k == 0 ? "softmax_rows" : "log_softmax_rows");
            if (k == 0)
                px_cbuf_printf(b, "        for (i = 0; i < n; i++) { y[i] = expf(y[i] - m); s += y[i]; }\n"
                                  "        for (i = 0; i < n; i++) y[i] /= s;\n");
            else
                px_cbuf_printf(b, "        for (i = 0; i < n; i++) s += expf(y[i] - m);\n"
                                  "        s = logf(s);\n"
                                  "        for (i = 0; i < n; i++) y[i] = y[i] - m - s;\n");
            px_cbuf_printf(b, "    }\n}\n");
        }
    }
}

int64_t px_xshape_size(px_shape s) {
    int64_t n = 1;
    for (int i = 0; i < s.rank; i++) n *= s.dim[i];
    return n;
}

/* ---- config readers ---- */

px_tensor *px_xweight(const px_xlayer *l, const char *name) {
    for (int k = 0; k < l->n_w; k++)
        if (strcmp(px_layer_weight_name(l->layer, k), name) == 0) return l->w[k];
    return NULL;
}

px_status px_xget_ints(const px_xlayer *l, const char *key, int *out, int n, int def) {
    const px_json *v = px_json_get(l->config, key);
    for (int i = 0; i < n; i++) out[i] = def;
    if (!v || px_json_is_null(v)) return PX_OK;
    if (px_json_is_integer(v)) {
        for (int i = 0; i < n; i++) out[i] = (int)px_json_int(v);
        return PX_OK;
    }
    if (!px_json_is_array(v) || px_json_len(v) < 1)
        return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (%s): config key '%s' is not an integer list", l->name, l->cls, key);
    for (int i = 0; i < n && i < (int)px_json_len(v); i++) out[i] = (int)px_json_int(px_json_at(v, (size_t)i));
    return PX_OK;
}
