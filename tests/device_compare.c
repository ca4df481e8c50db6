/* Op-by-op comparison of a device backend with the CPU (see device_compare.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_compare.h"
#include "gradcheck.h"
#include "graph/node.h"
#include "train/optim_device.h"

enum { MAX_IN = 8 };

static px_tensor *random_input(const px_dc_input *d, px_rng *r) {
    px_tensor *t = px_tensor_new(d->dtype, d->shape);
    if (!t) return NULL;
    int64_t n = px_tensor_size(t), last = d->shape.rank ? d->shape.dim[d->shape.rank - 1] : 1;
    for (int64_t i = 0; i < n; i++) {
        switch (d->fill) {
        case PX_DC_NORMAL: px_tensor_f32(t)[i] = px_rng_normal(r); break;
        case PX_DC_POSITIVE: px_tensor_f32(t)[i] = 0.5f + 1.5f * px_rng_uniform(r); break;
        case PX_DC_LABELS: px_tensor_i32(t)[i] = (int32_t)px_rng_below(r, (uint32_t)d->arg); break;
        case PX_DC_INDICES: px_tensor_f32(t)[i] = (float)px_rng_below(r, (uint32_t)d->arg); break;
        case PX_DC_BINARY: px_tensor_f32(t)[i] = (float)px_rng_below(r, 2); break;
        case PX_DC_ONEHOT: px_tensor_f32(t)[i] = px_rng_uniform(r); break;
        case PX_DC_ASCENDING: px_tensor_f32(t)[i] = -1.5f + 3.0f * (float)(i + 1) / (float)(n + 1); break;
        }
    }
    if (d->fill == PX_DC_ONEHOT && last > 0)
        for (int64_t row = 0; row < n / last; row++) {
            float s = 0, *p = px_tensor_f32(t) + row * last;
            for (int64_t j = 0; j < last; j++) s += p[j];
            for (int64_t j = 0; j < last; j++) p[j] /= s;
        }
    return t;
}

/* Mismatches between the CPU's values and the device's, printed (at most 3). */
static int compare(const char *label, const char *what, const px_tensor *cpu, const px_tensor *dev) {
    int64_t n = px_tensor_size(cpu);
    double scale = 1;
    for (int64_t i = 0; i < n; i++) {
        double v = fabs(px_tensor_get_flat(cpu, i));
        if (v > scale && isfinite(v)) scale = v;
    }
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = px_tensor_get_flat(cpu, i), d = px_tensor_get_flat(dev, i);
        bool ok = (isnan(a) && isnan(d)) || a == d || fabs(a - d) <= 1e-4 * fabs(a) + 1e-5 * scale;
        if (!ok && bad++ < 3)
            printf("  %s: %s[%lld]: cpu %.9g, device %.9g\n", label, what, (long long)i, a, d);
    }
    return bad;
}

/* A device copy of host tensor t: the struct is host memory, its data the backend's. */
static px_status to_device(px_backend *b, const px_tensor *t, px_tensor *dev) {
    size_t bytes = (size_t)px_tensor_size(t) * 4;
    *dev = *t;
    dev->storage = NULL;
    if (b->ops->alloc(b, bytes, &dev->data) != PX_OK) return px_last_status();
    return b->ops->upload(b, dev->data, t->data, bytes);
}

static px_status from_device(px_backend *b, const px_tensor *dev, px_tensor *host) {
    return b->ops->download(b, host->data, dev->data, (size_t)px_tensor_size(host) * 4);
}

static void fill(px_tensor *t, px_rng *r, float nan_or_normal) {
    for (int64_t i = 0, n = px_tensor_size(t); i < n; i++)
        px_tensor_f32(t)[i] = isnan(nan_or_normal) ? NAN : px_rng_normal(r);
}

int px_dc_compare(px_backend *b, const char *label, px_dc_build build, const void *ctx, const px_dc_input *inputs,
                  int n_in, bool training, bool must_support, uint64_t seed) {
    int bad = 0;
    px_rng rng = px_rng_seeded(seed);
    px_graph *g = px_graph_new();
    px_node *ph[MAX_IN];
    px_tensor *host[MAX_IN] = {0}, *cpu_in[MAX_IN] = {0}, dev_in[MAX_IN];
    px_tensor *cpu_gin[MAX_IN] = {0}, *dev_gin_host[MAX_IN] = {0}, dev_gin[MAX_IN];
    px_shape shapes[MAX_IN];
    void *dev_bufs[4 * MAX_IN + 8];
    int n_bufs = 0;
    px_tensor *cpu_out = NULL, *dev_out_host = NULL, *gout = NULL;
    void *cpu_state = NULL;
    memset(dev_in, 0, sizeof dev_in);
    memset(dev_gin, 0, sizeof dev_gin);
    for (int i = 0; i < n_in; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "in%d", i);
        ph[i] = px_placeholder(g, inputs[i].dtype, inputs[i].shape, nm);
        host[i] = random_input(&inputs[i], &rng);
        cpu_in[i] = host[i] ? px_tensor_copy(host[i]) : NULL;
        shapes[i] = inputs[i].shape;
        if (!cpu_in[i]) {
            printf("  %s: cannot make input %d: %s\n", label, i, px_last_error());
            bad++;
            goto done;
        }
    }
    px_node *y = build(g, ph, ctx);
    if (!y || y->kind != PX_NODE_OP) {
        printf("  %s: building the op failed: %s\n", label, px_last_error());
        bad++;
        goto done;
    }
    const px_op_def *op = y->op;
    px_shape out_shape;
    px_dtype out_dt;
    if (op->infer(y, shapes, &out_shape, &out_dt) != PX_OK) {
        printf("  %s: infer failed: %s\n", label, px_last_error());
        bad++;
        goto done;
    }
    size_t cpu_state_bytes = op->state_bytes ? op->state_bytes(y, shapes, out_shape) : 0;
    cpu_out = px_tensor_new(out_dt, out_shape);
    dev_out_host = px_tensor_new(out_dt, out_shape);
    cpu_state = calloc(1, cpu_state_bytes + 16);

    /* the device's descriptor, on its own buffers */
    const px_tensor *dev_in_ptrs[MAX_IN];
    px_tensor dev_out = *cpu_out, dev_gout;
    dev_out.storage = NULL;
    for (int i = 0; i < n_in; i++) {
        if (to_device(b, host[i], &dev_in[i]) != PX_OK) goto device_error;
        dev_bufs[n_bufs++] = dev_in[i].data;
        dev_in_ptrs[i] = &dev_in[i];
    }
    if (b->ops->alloc(b, (size_t)px_tensor_size(cpu_out) * 4, &dev_out.data) != PX_OK) goto device_error;
    dev_bufs[n_bufs++] = dev_out.data;
    px_kernel k = {.code = op->code, .name = op->name, .iattr = y->iattr, .fattr = y->fattr, .n_in = n_in,
                   .in = dev_in_ptrs, .out = &dev_out, .training = training, .seed = seed};
    if (!b->ops->supports(b, &k, false)) {
        if (must_support) {
            printf("  %s: %s has no forward kernel for op '%s'\n", label, b->name, op->name);
            bad++;
        } else {
            printf("  %s: skipped (%s has no kernel for '%s': the CPU runs it)\n", label, b->name, op->name);
        }
        goto done;
    }
    k.state_bytes = b->ops->state_bytes(b, &k, cpu_state_bytes);
    k.work_bytes = b->ops->work_bytes(b, &k, false);
    if (b->ops->alloc(b, k.state_bytes, &k.state) != PX_OK) goto device_error;
    dev_bufs[n_bufs++] = k.state;
    if (b->ops->alloc(b, k.work_bytes, &k.work) != PX_OK) goto device_error;
    dev_bufs[n_bufs++] = k.work;

    /* forward on both */
    px_exec ex = {.training = training, .rng = &g->rng, .state = cpu_state, .seed = seed};
    op->forward(y, (const px_tensor *const *)cpu_in, cpu_out, &ex);
    if (b->ops->forward(b, &k) != PX_OK || from_device(b, &dev_out, dev_out_host) != PX_OK) goto device_error;
    bad += compare(label, "forward", cpu_out, dev_out_host);
    /* ops that update inputs in place (batch norm's moving statistics) */
    for (int i = 0; i < n_in; i++) {
        px_tensor *t = px_tensor_copy(host[i]);
        if (!t || from_device(b, &dev_in[i], t) != PX_OK) {
            px_tensor_free(t);
            goto device_error;
        }
        char what[32];
        snprintf(what, sizeof what, "input %d after forward", i);
        bad += compare(label, what, cpu_in[i], t);
        px_tensor_free(t);
    }
    if (op->flags & PX_OPF_NO_GRAD) goto done;

    /* backward, adding to existing gradients, then (where the op can) storing fresh ones */
    gout = px_tensor_new(PX_F32, out_shape);
    if (!gout) goto device_error;
    fill(gout, &rng, 0);
    if (to_device(b, gout, &dev_gout) != PX_OK) goto device_error;
    dev_bufs[n_bufs++] = dev_gout.data;
    for (int i = 0; i < n_in; i++) {
        if (inputs[i].dtype != PX_F32) continue;
        cpu_gin[i] = px_tensor_new(PX_F32, shapes[i]);
        dev_gin_host[i] = px_tensor_new(PX_F32, shapes[i]);
        if (!cpu_gin[i] || !dev_gin_host[i] || to_device(b, cpu_gin[i], &dev_gin[i]) != PX_OK) goto device_error;
        dev_bufs[n_bufs++] = dev_gin[i].data;
    }
    px_tensor *dev_gin_ptrs[MAX_IN];
    for (int i = 0; i < n_in; i++) dev_gin_ptrs[i] = cpu_gin[i] ? &dev_gin[i] : NULL;
    k.gout = &dev_gout;
    k.gin = dev_gin_ptrs;
    if (!b->ops->supports(b, &k, true)) {
        printf("  %s: %s has no backward kernel for op '%s'\n", label, b->name, op->name);
        bad += must_support;
        goto done;
    }
    size_t work = b->ops->work_bytes(b, &k, true);
    if (work > k.work_bytes) {
        if (b->ops->alloc(b, work, &k.work) != PX_OK) goto device_error;
        dev_bufs[n_bufs++] = k.work;
        k.work_bytes = work;
    }
    int rounds = (op->flags & PX_OPF_OVERWRITES) ? 2 : 1;
    for (int round = 0; round < rounds; round++) {
        bool fresh_tab[MAX_IN];
        for (int i = 0; i < n_in; i++) {
            fresh_tab[i] = round == 1;
            if (!cpu_gin[i]) continue;
            /* round 0: gradients are added to these; round 1: garbage to be overwritten */
            fill(cpu_gin[i], &rng, round == 1 ? NAN : 0.0f);
            if (px_tensor_copy_into(dev_gin_host[i], cpu_gin[i]) != PX_OK ||
                b->ops->upload(b, dev_gin[i].data, cpu_gin[i]->data, (size_t)px_tensor_size(cpu_gin[i]) * 4) != PX_OK)
                goto device_error;
        }
        ex.fresh = fresh_tab;
        k.fresh = fresh_tab;
        op->backward(y, (const px_tensor *const *)cpu_in, cpu_out, gout, cpu_gin, &ex);
        if (b->ops->backward(b, &k) != PX_OK) goto device_error;
        for (int i = 0; i < n_in; i++) {
            if (!cpu_gin[i]) continue;
            if (from_device(b, &dev_gin[i], dev_gin_host[i]) != PX_OK) goto device_error;
            char what[48];
            snprintf(what, sizeof what, "gradient %d (%s)", i, round ? "stored" : "added");
            bad += compare(label, what, cpu_gin[i], dev_gin_host[i]);
        }
    }
    goto done;

device_error:
    printf("  %s: the device failed: %s\n", label, px_last_error());
    bad++;
done:
    for (int i = 0; i < n_bufs; i++) b->ops->free(b, dev_bufs[i]);
    for (int i = 0; i < n_in; i++) {
        px_tensor_free(host[i]);
        px_tensor_free(cpu_in[i]);
        px_tensor_free(cpu_gin[i]);
        px_tensor_free(dev_gin_host[i]);
    }
    px_tensor_free(cpu_out);
    px_tensor_free(dev_out_host);
    px_tensor_free(gout);
    free(cpu_state);
    px_graph_free(g);
    return bad;
}

/* ------------------------------------------------------- the op cases ---- */

/* One op with its attributes: which constructor, and up to four numbers. */
typedef struct op_spec {
    const char *op;
    int a, b, c, d;
    float f0, f1;
} op_spec;

static px_node *build_op(px_graph *g, px_node *const *in, const void *ctx) {
    const op_spec *s = ctx;
    const char *o = s->op;
    (void)g;
#define IS(name) (strcmp(o, name) == 0)
    if (IS("sigmoid")) return px_sigmoid(in[0]);
    if (IS("tanh")) return px_tanh(in[0]);
    if (IS("relu")) return px_relu(in[0]);
    if (IS("leaky_relu")) return px_leaky_relu(in[0], s->f0);
    if (IS("elu")) return px_elu(in[0], s->f0);
    if (IS("selu")) return px_selu(in[0]);
    if (IS("swish")) return px_swish(in[0]);
    if (IS("softplus")) return px_softplus(in[0]);
    if (IS("gelu")) return px_gelu(in[0]);
    if (IS("linear")) return px_linear(in[0]);
    if (IS("step")) return px_step(in[0]);
    if (IS("sign")) return px_sign(in[0]);
    if (IS("exp")) return px_exp(in[0]);
    if (IS("log")) return px_log(in[0]);
    if (IS("sqrt")) return px_sqrt(in[0]);
    if (IS("square")) return px_square(in[0]);
    if (IS("pow")) return px_pow(in[0], s->f0);
    if (IS("abs")) return px_abs(in[0]);
    if (IS("neg")) return px_neg(in[0]);
    if (IS("clip")) return px_clip(in[0], s->f0, s->f1);
    if (IS("hard_sigmoid")) return px_hard_sigmoid(in[0], s->f0, s->f1);
    if (IS("softsign")) return px_softsign(in[0]);
    if (IS("mish")) return px_mish(in[0]);
    if (IS("exponential")) return px_exponential(in[0]);
    if (IS("relu6")) return px_relu6(in[0]);
    if (IS("hard_swish")) return px_hard_swish(in[0]);
    if (IS("add")) return px_add(in[0], in[1]);
    if (IS("sub")) return px_sub(in[0], in[1]);
    if (IS("mul")) return px_mul(in[0], in[1]);
    if (IS("div")) return px_div(in[0], in[1]);
    if (IS("add_scalar")) return px_add_scalar(in[0], s->f0);
    if (IS("scale")) return px_scale(in[0], s->f0);
    if (IS("matmul")) return px_matmul_t(in[0], in[1], s->a, s->b);
    if (IS("dense")) return px_dense_op(in[0], in[1], s->b ? in[2] : NULL, s->a);
    if (IS("sum")) return s->a < 0 ? px_sum_all(in[0]) : px_sum(in[0], s->a, s->b);
    if (IS("mean")) return s->a < 0 ? px_mean_all(in[0]) : px_mean(in[0], s->a, s->b);
    if (IS("max")) return s->a < 0 ? px_max_all(in[0]) : px_max(in[0], s->a, s->b);
    if (IS("argmax")) return px_argmax(in[0], s->a);
    if (IS("softmax")) return px_softmax(in[0], s->a);
    if (IS("log_softmax")) return px_log_softmax(in[0], s->a);
    if (IS("maxout")) return px_maxout(in[0], s->a);
    if (IS("softmax_ce")) return px_softmax_cross_entropy(in[0], in[1]);
    if (IS("sparse_ce")) return px_sparse_softmax_cross_entropy(in[0], in[1]);
    if (IS("sigmoid_ce")) return px_sigmoid_cross_entropy(in[0], in[1]);
    if (IS("sparse_accuracy")) return px_sparse_accuracy(in[0], in[1]);
    if (IS("categorical_accuracy")) return px_categorical_accuracy(in[0], in[1]);
    if (IS("binary_accuracy")) return px_binary_accuracy(in[0], in[1], s->f0);
    if (IS("in_top_k")) return px_in_top_k(in[0], in[1], s->a);
    if (IS("dropout")) return px_dropout(in[0], s->f0);
    if (IS("stop_gradient")) return px_stop_gradient(in[0]);
    if (IS("reshape")) return px_reshape(in[0], PX_SHAPE(s->a, s->b));
    if (IS("transpose")) {
        int perm[3] = {s->a, s->b, s->c};
        return px_transpose(in[0], perm);
    }
    if (IS("concat")) return px_concat(in, s->b, s->a);
    if (IS("slice")) return px_slice(in[0], s->a, s->b, s->c);
    if (IS("embedding")) return px_embedding_lookup(in[0], in[1]);
    if (IS("max_pool")) return px_max_pool2d(in[0], s->a, s->a, s->b, s->b, s->c ? PX_PADDING_SAME : PX_PADDING_VALID);
    if (IS("avg_pool")) return px_avg_pool2d(in[0], s->a, s->a, s->b, s->b, s->c ? PX_PADDING_SAME : PX_PADDING_VALID);
    if (IS("conv2d"))
        return s->d ? px_conv2d_bias(in[0], in[1], in[2], s->a, s->a, s->b ? PX_PADDING_SAME : PX_PADDING_VALID, s->c,
                                     s->c)
                    : px_conv2d(in[0], in[1], s->a, s->a, s->b ? PX_PADDING_SAME : PX_PADDING_VALID, s->c, s->c);
    if (IS("batch_norm")) return px_batch_norm(in[0], in[1], in[2], s->a ? in[3] : NULL, s->b ? in[3 + s->a] : NULL, s->f0, s->f1);
    if (IS("maximum")) return px_maximum(in[0], in[1]);
    if (IS("minimum")) return px_minimum(in[0], in[1]);
    if (IS("pad")) { /* a, b before and c, d after the first two axes; 1 before and 2 after the last */
        int64_t before[3] = {s->a, s->b, 1}, after[3] = {s->c, s->d, 2};
        return px_pad(in[0], before, after);
    }
    if (IS("repeat")) return px_repeat(in[0], s->a, s->b);
    if (IS("attention_mask")) return px_attention_mask(in[0], s->b ? in[1] : NULL, s->a);
    if (IS("layer_norm"))
        return px_layer_norm(in[0], s->b ? in[1] : NULL, s->c ? in[1 + s->b] : NULL, s->a, s->f0);
    if (IS("conv2d_transpose")) { /* f0: the dilation (0: 1) */
        int d = s->f0 > 0 ? (int)s->f0 : 1;
        return px_conv2d_transpose(in[0], in[1], s->d ? in[2] : NULL, s->a, s->a, s->b ? PX_PADDING_SAME : PX_PADDING_VALID,
                                   s->c, s->c, d, d);
    }
    if (IS("depthwise_conv2d")) /* b: px_padding (valid, same, causal) */
        return px_depthwise_conv2d(in[0], in[1], s->d ? in[2] : NULL, s->a, s->a, (px_padding)s->b, s->c, s->c);
    if (IS("resize_bilinear")) return px_resize_bilinear(in[0], s->a, s->b);
    if (IS("gaussian_noise")) return px_gaussian_noise(in[0], s->f0);
    if (IS("gaussian_dropout")) return px_gaussian_dropout(in[0], s->f0);
    if (IS("spatial_dropout")) return px_spatial_dropout(in[0], s->f0);
    /* augmentation: a fill mode, b nearest, c width follows; the layer's seed 7 */
    px_augment_options ao = {.fill_mode = (px_fill_mode)s->a, .nearest = s->b, .fill_value = 0.25f, .seed = 7};
    if (IS("random_flip")) return px_random_flip(in[0], (px_flip_mode)s->a, &ao);
    if (IS("random_rotation")) return px_random_rotation(in[0], s->f0, s->f1, &ao);
    if (IS("random_zoom")) return px_random_zoom(in[0], s->f0, s->f1, 0.5f * s->f0, 0.5f * s->f1, s->c, &ao);
    if (IS("random_translation")) return px_random_translation(in[0], s->f0, s->f1, -s->f1, -s->f0, &ao);
    if (IS("random_crop")) return px_random_crop(in[0], s->c, s->d, &ao);
    if (IS("random_contrast")) return px_random_contrast(in[0], s->f0, s->f1, -1.0f, 1.5f, &ao);
    if (IS("random_brightness")) return px_random_brightness(in[0], s->f0, s->f1, -1.0f, 1.5f, &ao);
    /* c: max_value (0: none) */
    if (IS("relu_ex")) return px_relu_ex(in[0], s->f0, s->c ? (float)s->c : INFINITY, s->f1);
    if (IS("in_train_phase")) return px_in_train_phase(in[0], in[1]);
    /* the counting ops; threshold_counts reads its thresholds from the third input */
    if (IS("threshold_counts")) {
        px_node *y = px_threshold_counts(in[0], in[1], (const float[]){0.0f}, 1);
        return y ? px_node_make(y->op, in, 3, NULL, 0, NULL, 0) : NULL;
    }
    if (IS("class_counts")) return px_class_counts(in[0], in[1], s->f0);
    if (IS("confusion_matrix")) return px_confusion_matrix(in[0], in[1], s->a);
    /* recurrent: a cell (px_rnn_cell), b direction, c has bias, d reset_after; f0 the activation and f1 the
     * recurrent one (px_activation, 0: Keras's default); rnn_masked: the last input is the mask */
    if (IS("rnn")) return px_rnn_fused((px_rnn_cell)s->a, in[0], in[1], in[2], s->c ? in[3] : NULL, s->d,
                                       (px_rnn_direction)s->b);
    if (IS("rnn_general") || IS("rnn_masked")) {
        px_rnn_fused_options ro = {.activation = (int)s->f0, .recurrent_activation = (int)s->f1, .reset_after = s->d,
                                   .direction = (px_rnn_direction)s->b, .zero_output_for_mask = s->f0 < 0};
        if (s->f0 < 0) ro.activation = 0;
        return px_rnn_fused_ex((px_rnn_cell)s->a, in[0], in[1], in[2], s->c ? in[3] : NULL,
                               IS("rnn_masked") ? in[3 + s->c] : NULL, &ro);
    }
    /* rnn_take of an LSTM's (B, T + 2, u) result, given as the input: a -1 for the sequence, else the state */
    if (IS("rnn_take")) {
        px_shape xs = px_node_shape(in[0]);
        int64_t B = xs.dim[0], T = xs.dim[1] - 2, u = xs.dim[2];
        px_node *r = px_rnn_fused(PX_RNN_LSTM, px_placeholder(g, PX_F32, PX_SHAPE(B, T, 3), "x"),
                                  px_placeholder(g, PX_F32, PX_SHAPE(3, 4 * u), "w"),
                                  px_placeholder(g, PX_F32, PX_SHAPE(u, 4 * u), "u"), NULL, false, PX_RNN_FORWARD);
        return s->a < 0 ? px_rnn_sequence(r) : px_rnn_state(r, s->a);
    }
#undef IS
    px_set_error(PX_ERR_ARG, "device_compare: unknown op '%s'", o);
    return NULL;
}

#define F(...) {PX_F32, PX_SHAPE(__VA_ARGS__), PX_DC_NORMAL, 0}
#define FP(...) {PX_F32, PX_SHAPE(__VA_ARGS__), PX_DC_POSITIVE, 0}
#define LAB(k, ...) {PX_I32, PX_SHAPE(__VA_ARGS__), PX_DC_LABELS, k}
#define IDX(k, ...) {PX_F32, PX_SHAPE(__VA_ARGS__), PX_DC_INDICES, k}
#define HOT(...) {PX_F32, PX_SHAPE(__VA_ARGS__), PX_DC_ONEHOT, 0}
#define BIN(...) {PX_F32, PX_SHAPE(__VA_ARGS__), PX_DC_BINARY, 0}

typedef struct op_case {
    op_spec spec;
    bool training;
    int n_in;
    px_dc_input in[5];
} op_case;

/* Odd sizes, broadcasting, transposes, strides, "same" padding with the odd
 * pixel after, and empty batches. */
static const op_case cases[] = {
    {{.op = "sigmoid"}, 0, 1, {F(7, 13)}},           {{.op = "tanh"}, 0, 1, {F(7, 13)}},
    {{.op = "relu"}, 0, 1, {F(7, 13)}},              {{.op = "relu"}, 0, 1, {F(0, 13)}},
    {{.op = "leaky_relu", .f0 = 0.2f}, 0, 1, {F(5, 3)}}, {{.op = "elu", .f0 = 1.0f}, 0, 1, {F(5, 3)}},
    {{.op = "selu"}, 0, 1, {F(5, 3)}},               {{.op = "swish"}, 0, 1, {F(5, 3)}},
    {{.op = "softplus"}, 0, 1, {F(5, 3)}},           {{.op = "gelu"}, 0, 1, {F(5, 3)}},
    {{.op = "linear"}, 0, 1, {F(5, 3)}},             {{.op = "step"}, 0, 1, {F(5, 3)}},
    {{.op = "sign"}, 0, 1, {F(5, 3)}},               {{.op = "exp"}, 0, 1, {F(5, 3)}},
    {{.op = "log"}, 0, 1, {FP(5, 3)}},               {{.op = "sqrt"}, 0, 1, {FP(5, 3)}},
    {{.op = "square"}, 0, 1, {F(5, 3)}},             {{.op = "pow", .f0 = 2.5f}, 0, 1, {FP(5, 3)}},
    {{.op = "abs"}, 0, 1, {F(5, 3)}},                {{.op = "neg"}, 0, 1, {F(5, 3)}},
    {{.op = "clip", .f0 = -0.5f, .f1 = 0.7f}, 0, 1, {F(5, 3)}},
    {{.op = "hard_sigmoid", .f0 = 0.2f, .f1 = 0.5f}, 0, 1, {F(7, 13)}}, {{.op = "softsign"}, 0, 1, {F(5, 3)}},
    {{.op = "mish"}, 0, 1, {F(5, 3)}}, {{.op = "exponential"}, 0, 1, {F(5, 3)}},
    {{.op = "relu6"}, 0, 1, {F(7, 13)}}, {{.op = "hard_swish"}, 0, 1, {F(7, 13)}},
    {{.op = "add"}, 0, 2, {F(5, 6), F(5, 6)}},       {{.op = "add"}, 0, 2, {F(5, 6), F(6)}},
    {{.op = "sub"}, 0, 2, {F(4, 1, 3), F(2, 3)}},    {{.op = "mul"}, 0, 2, {F(3), F(4, 3)}},
    {{.op = "mul"}, 0, 2, {F(4, 5), F(4, 1)}},       {{.op = "div"}, 0, 2, {F(4, 5), FP(5)}},
    {{.op = "div"}, 0, 2, {F(1), FP(3, 2)}},         {{.op = "add"}, 0, 2, {F(0, 6), F(6)}},
    {{.op = "add_scalar", .f0 = 1.5f}, 0, 1, {F(4, 5)}}, {{.op = "scale", .f0 = -0.25f}, 0, 1, {F(4, 5)}},
    {{.op = "matmul"}, 0, 2, {F(5, 7), F(7, 3)}},    {{.op = "matmul", .a = 1, .b = 0}, 0, 2, {F(7, 5), F(7, 3)}},
    {{.op = "matmul", .a = 0, .b = 1}, 0, 2, {F(5, 7), F(3, 7)}}, {{.op = "matmul", .a = 1, .b = 1}, 0, 2, {F(7, 5), F(3, 7)}},
    {{.op = "matmul"}, 0, 2, {F(2, 5, 7), F(2, 7, 3)}}, {{.op = "matmul"}, 0, 2, {F(2, 5, 7), F(7, 3)}},
    {{.op = "matmul"}, 0, 2, {F(0, 7), F(7, 3)}},
    {{.op = "dense", .a = 0, .b = 1}, 0, 3, {F(33, 17), F(17, 9), F(9)}},
    {{.op = "dense", .a = 1, .b = 1}, 0, 3, {F(33, 17), F(17, 9), F(9)}},
    {{.op = "dense", .a = 2, .b = 1}, 0, 3, {F(33, 17), F(17, 9), F(9)}},
    {{.op = "dense", .a = 3, .b = 0}, 0, 2, {F(33, 17), F(17, 9)}},
    {{.op = "dense", .a = 1, .b = 1}, 0, 3, {F(0, 17), F(17, 9), F(9)}},
    {{.op = "dense", .a = 1, .b = 1}, 0, 3, {F(3, 4, 17), F(17, 9), F(9)}},
    {{.op = "sum", .a = 0, .b = 0}, 0, 1, {F(9, 11)}},         {{.op = "sum", .a = 1, .b = 1}, 0, 1, {F(9, 11)}},
    {{.op = "sum", .a = -1}, 0, 1, {F(9, 11)}},           {{.op = "sum", .a = -1}, 0, 1, {F(70, 80)}},
    {{.op = "mean", .a = 1, .b = 0}, 0, 1, {F(3, 5, 4)}},      {{.op = "mean", .a = -1}, 0, 1, {F(70, 80)}},
    {{.op = "mean", .a = 0, .b = 0}, 0, 1, {F(0, 5)}},         {{.op = "max", .a = 1, .b = 0}, 0, 1, {F(9, 11)}},
    {{.op = "max", .a = -1}, 0, 1, {F(9, 11)}},           {{.op = "argmax", .a = 1}, 0, 1, {F(9, 11)}},
    {{.op = "softmax", .a = -1}, 0, 1, {F(6, 10)}},       {{.op = "softmax", .a = 0}, 0, 1, {F(6, 10)}},
    {{.op = "log_softmax", .a = -1}, 0, 1, {F(6, 10)}},   {{.op = "maxout", .a = 3}, 0, 1, {F(4, 9)}},
    {{.op = "softmax_ce"}, 0, 2, {F(6, 5), HOT(6, 5)}}, {{.op = "sparse_ce"}, 0, 2, {F(6, 5), LAB(5, 6)}},
    {{.op = "sparse_ce"}, 0, 2, {F(0, 5), LAB(5, 0)}}, {{.op = "sigmoid_ce"}, 0, 2, {F(6, 5), BIN(6, 5)}},
    {{.op = "sparse_accuracy"}, 0, 2, {F(8, 5), LAB(5, 8)}}, {{.op = "categorical_accuracy"}, 0, 2, {F(8, 5), HOT(8, 5)}},
    {{.op = "binary_accuracy", .f0 = 0.5f}, 0, 2, {F(8, 1), BIN(8, 1)}}, {{.op = "in_top_k", .a = 2}, 0, 2, {F(8, 5), LAB(5, 8)}},
    {{.op = "dropout", .f0 = 0.3f}, 1, 1, {F(13, 17)}}, {{.op = "dropout", .f0 = 0.3f}, 0, 1, {F(13, 17)}},
    {{.op = "stop_gradient"}, 0, 1, {F(4, 5)}},      {{.op = "reshape", .a = 5, .b = 4}, 0, 1, {F(4, 5)}},
    {{.op = "transpose", .a = 1, .b = 0}, 0, 1, {F(4, 5)}},    {{.op = "transpose", .a = 2, .b = 0, .c = 1}, 0, 1, {F(2, 3, 4)}},
    {{.op = "concat", .a = 1, .b = 3}, 0, 3, {F(3, 4), F(3, 2), F(3, 5)}}, {{.op = "concat", .a = 0, .b = 2}, 0, 2, {F(2, 3), F(4, 3)}},
    {{.op = "slice", .a = 1, .b = 1, .c = 4}, 0, 1, {F(3, 6)}},     {{.op = "slice", .a = 0, .b = -3, .c = -1}, 0, 1, {F(5, 2)}},
    {{.op = "embedding"}, 0, 2, {LAB(10, 5, 3), F(10, 4)}}, {{.op = "embedding"}, 0, 2, {IDX(10, 7), F(10, 4)}},
    {{.op = "max_pool", .a = 2, .b = 2, .c = 0}, 0, 1, {F(2, 7, 9, 3)}}, {{.op = "max_pool", .a = 3, .b = 1, .c = 1}, 0, 1, {F(2, 6, 5, 2)}},
    {{.op = "max_pool", .a = 3, .b = 2, .c = 1}, 0, 1, {F(2, 8, 7, 2)}}, {{.op = "avg_pool", .a = 2, .b = 2, .c = 0}, 0, 1, {F(2, 7, 9, 3)}},
    {{.op = "avg_pool", .a = 3, .b = 2, .c = 1}, 0, 1, {F(2, 8, 7, 2)}},
    {{.op = "conv2d", .a = 1, .b = 1, .c = 1, .d = 1}, 0, 3, {F(2, 9, 8, 3), F(3, 3, 3, 4), F(4)}},
    {{.op = "conv2d", .a = 2, .b = 0, .c = 1, .d = 0}, 0, 2, {F(2, 9, 8, 3), F(3, 3, 3, 4)}},
    {{.op = "conv2d", .a = 1, .b = 1, .c = 2, .d = 1}, 0, 3, {F(2, 9, 8, 3), F(3, 3, 3, 4), F(4)}},
    {{.op = "conv2d", .a = 2, .b = 1, .c = 1, .d = 1}, 0, 3, {F(3, 28, 28, 4), F(4, 4, 4, 8), F(8)}},
    {{.op = "conv2d", .a = 1, .b = 1, .c = 1, .d = 1}, 0, 3, {F(3, 28, 28, 1), F(5, 5, 1, 4), F(4)}},
    {{.op = "conv2d", .a = 1, .b = 1, .c = 1, .d = 1}, 0, 3, {F(2, 6, 7, 5), F(4, 4, 5, 3), F(3)}},
    {{.op = "conv2d", .a = 1, .b = 0, .c = 1, .d = 1}, 0, 3, {F(2, 5, 5, 6), F(1, 1, 6, 7), F(7)}},
    {{.op = "conv2d", .a = 1, .b = 1, .c = 1, .d = 1}, 0, 3, {F(0, 9, 8, 3), F(3, 3, 3, 4), F(4)}},
    {{.op = "batch_norm", .a = 1, .b = 1, .f0 = 0.9f, .f1 = 1e-3f}, 1, 5, {F(6, 5), F(5), FP(5), F(5), F(5)}},
    {{.op = "batch_norm", .a = 1, .b = 1, .f0 = 0.9f, .f1 = 1e-3f}, 0, 5, {F(6, 5), F(5), FP(5), F(5), F(5)}},
    {{.op = "batch_norm", .a = 0, .b = 1, .f0 = 0.99f, .f1 = 1e-3f}, 1, 4, {F(2, 3, 3, 4), F(4), FP(4), F(4)}},
    {{.op = "batch_norm", .a = 0, .b = 0, .f0 = 0.99f, .f1 = 1e-3f}, 0, 3, {F(2, 3, 3, 4), F(4), FP(4)}},
    {{.op = "maximum"}, 0, 2, {F(7, 13), F(7, 13)}},   {{.op = "minimum"}, 0, 2, {F(3, 4, 5), F(3, 4, 5)}},
    {{.op = "maximum"}, 0, 2, {F(0, 5), F(0, 5)}},
    {{.op = "pad", .a = 0, .b = 2, .c = 0, .d = 1}, 0, 1, {F(3, 5, 4)}},
    {{.op = "pad", .a = 1, .b = -1, .c = 0, .d = -2}, 0, 1, {F(2, 6, 3)}},
    {{.op = "layer_norm", .a = 1, .b = 1, .c = 1, .f0 = 1e-3f}, 0, 3, {F(6, 9), F(9), F(9)}},
    {{.op = "layer_norm", .a = 2, .b = 1, .c = 0, .f0 = 1e-5f}, 0, 2, {F(3, 4, 5), F(4, 5)}},
    {{.op = "layer_norm", .a = 1, .b = 0, .c = 1, .f0 = 1e-3f}, 0, 2, {F(5, 7), F(7)}},
    {{.op = "layer_norm", .a = 1, .b = 0, .c = 0, .f0 = 1e-3f}, 0, 1, {F(0, 7)}},
    {{.op = "repeat", .a = 1, .b = 3}, 0, 1, {F(2, 5, 4)}},     {{.op = "repeat", .a = 2, .b = 2}, 0, 1, {F(3, 2, 5)}},
    {{.op = "repeat", .a = 0, .b = 2}, 0, 1, {F(0, 3)}},
    {{.op = "attention_mask", .a = 1, .b = 0}, 0, 1, {F(2, 3, 4, 5)}},
    {{.op = "attention_mask", .a = 0, .b = 1}, 0, 2, {F(2, 3, 4, 5), BIN(2, 5)}},
    {{.op = "attention_mask", .a = 1, .b = 1}, 0, 2, {F(2, 4, 5), BIN(2, 4, 5)}},
    {{.op = "attention_mask", .a = 0, .b = 1}, 0, 2, {F(2, 2, 4, 5), BIN(2, 4, 1)}},
    {{.op = "avg_pool", .a = 3, .b = 1, .c = 1}, 0, 1, {F(2, 6, 5, 2)}},
    {{.op = "batch_norm", .a = 1, .b = 0, .f0 = 0.99f, .f1 = 1e-3f}, 1, 4, {F(4, 5, 3, 6), F(6), FP(6), F(6)}},
    {{.op = "conv2d_transpose", .a = 2, .b = 1, .c = -1, .d = 1}, 0, 3, {F(2, 5, 4, 3), F(3, 3, 4, 3), F(4)}},
    {{.op = "conv2d_transpose", .a = 2, .b = 0, .c = 1, .d = 0}, 0, 2, {F(2, 4, 5, 3), F(3, 2, 5, 3)}},
    {{.op = "conv2d_transpose", .a = 1, .b = 1, .c = -1, .d = 1, .f0 = 2}, 0, 3, {F(2, 6, 5, 2), F(3, 3, 3, 2), F(3)}},
    {{.op = "conv2d_transpose", .a = 3, .b = 0, .c = -1, .d = 1}, 0, 3, {F(1, 3, 2, 5), F(2, 4, 3, 5), F(3)}},
    {{.op = "conv2d_transpose", .a = 2, .b = 1, .c = -1, .d = 1}, 0, 3, {F(0, 4, 4, 3), F(3, 3, 2, 3), F(2)}},
    {{.op = "depthwise_conv2d", .a = 1, .b = 1, .c = 1, .d = 1}, 0, 3, {F(2, 7, 6, 3), F(3, 3, 3, 2), F(6)}},
    {{.op = "depthwise_conv2d", .a = 2, .b = 0, .c = 1, .d = 0}, 0, 2, {F(2, 9, 8, 4), F(3, 3, 4, 1)}},
    {{.op = "depthwise_conv2d", .a = 2, .b = 1, .c = 1, .d = 1}, 0, 3, {F(1, 8, 7, 2), F(4, 4, 2, 3), F(6)}},
    {{.op = "depthwise_conv2d", .a = 1, .b = 2, .c = 2, .d = 1}, 0, 3, {F(2, 1, 9, 3), F(1, 3, 3, 2), F(6)}},
    {{.op = "depthwise_conv2d", .a = 1, .b = 1, .c = 1, .d = 1}, 0, 3, {F(0, 5, 5, 2), F(3, 3, 2, 2), F(4)}},
    {{.op = "resize_bilinear", .a = 9, .b = 7}, 0, 1, {F(2, 5, 4, 3)}},
    {{.op = "resize_bilinear", .a = 4, .b = 3}, 0, 1, {F(2, 9, 10, 2)}},
    {{.op = "resize_bilinear", .a = 3, .b = 2}, 0, 1, {F(1, 1, 1, 2)}},
    {{.op = "resize_bilinear", .a = 4, .b = 11}, 0, 1, {F(1, 4, 4, 1)}},
    {{.op = "resize_bilinear", .a = 6, .b = 6}, 0, 1, {F(0, 3, 3, 2)}},
    {{.op = "gaussian_noise", .f0 = 0.5f}, 1, 1, {F(13, 17)}}, {{.op = "gaussian_noise", .f0 = 0.5f}, 0, 1, {F(13, 17)}},
    {{.op = "gaussian_dropout", .f0 = 0.3f}, 1, 1, {F(13, 17)}}, {{.op = "gaussian_dropout", .f0 = 0.3f}, 0, 1, {F(13, 17)}},
    {{.op = "spatial_dropout", .f0 = 0.4f}, 1, 1, {F(4, 5, 3, 6)}}, {{.op = "spatial_dropout", .f0 = 0.4f}, 1, 1, {F(3, 7, 5)}},
    {{.op = "spatial_dropout", .f0 = 0.4f}, 0, 1, {F(3, 7, 5)}},
    {{.op = "random_flip", .a = 0}, 1, 1, {F(6, 5, 4, 3)}}, {{.op = "random_flip", .a = 1}, 1, 1, {F(6, 5, 4, 3)}},
    {{.op = "random_flip", .a = 2}, 1, 1, {F(6, 5, 4, 3)}}, {{.op = "random_flip", .a = 0}, 0, 1, {F(2, 5, 4, 3)}},
    {{.op = "random_rotation", .a = 0, .f0 = -0.2f, .f1 = 0.3f}, 1, 1, {F(3, 7, 6, 2)}},
    {{.op = "random_rotation", .a = 1, .b = 1, .f0 = -0.5f, .f1 = 0.5f}, 1, 1, {F(3, 7, 6, 2)}},
    {{.op = "random_rotation", .a = 2, .f0 = -0.2f, .f1 = 0.3f}, 1, 1, {F(3, 6, 7, 2)}},
    {{.op = "random_rotation", .a = 0, .f0 = -0.2f, .f1 = 0.3f}, 0, 1, {F(2, 6, 7, 2)}},
    {{.op = "random_zoom", .a = 3, .c = 1, .f0 = -0.3f, .f1 = 0.4f}, 1, 1, {F(3, 7, 6, 2)}},
    {{.op = "random_zoom", .a = 0, .b = 1, .c = 0, .f0 = -0.3f, .f1 = 0.4f}, 1, 1, {F(3, 7, 6, 2)}},
    {{.op = "random_translation", .a = 1, .f0 = -0.3f, .f1 = 0.2f}, 1, 1, {F(3, 7, 6, 2)}},
    {{.op = "random_translation", .a = 2, .b = 1, .f0 = -0.3f, .f1 = 0.2f}, 1, 1, {F(0, 7, 6, 2)}},
    {{.op = "random_crop", .c = 5, .d = 4}, 1, 1, {F(2, 9, 8, 3)}}, {{.op = "random_crop", .c = 4, .d = 6}, 0, 1, {F(2, 9, 8, 3)}},
    {{.op = "random_crop", .c = 9, .d = 8}, 1, 1, {F(2, 9, 8, 3)}},
    {{.op = "random_contrast", .f0 = 0.5f, .f1 = 0.8f}, 1, 1, {F(3, 5, 4, 2)}},
    {{.op = "random_contrast", .f0 = 0.5f, .f1 = 0.8f}, 0, 1, {F(3, 5, 4, 2)}},
    {{.op = "random_brightness", .f0 = -0.2f, .f1 = 0.3f}, 1, 1, {F(3, 5, 4, 2)}},
    {{.op = "random_brightness", .f0 = -0.2f, .f1 = 0.3f}, 1, 1, {F(4, 6)}},
    {{.op = "random_brightness", .f0 = -0.2f, .f1 = 0.3f}, 0, 1, {F(4, 6)}},
    {{.op = "relu_ex", .c = 2, .f0 = 0.2f, .f1 = 0.5f}, 0, 1, {F(7, 13)}},
    {{.op = "relu_ex", .c = 0, .f0 = 0.1f, .f1 = -0.8f}, 0, 1, {F(7, 13)}},
    {{.op = "relu_ex", .c = 1, .f0 = 0.0f, .f1 = 0.0f}, 0, 1, {F(0, 5)}},
    {{.op = "in_train_phase"}, 1, 2, {F(4, 5), F(4, 5)}}, {{.op = "in_train_phase"}, 0, 2, {F(4, 5), F(4, 5)}},
    {{.op = "threshold_counts"}, 0, 3, {F(9, 1), BIN(9, 1), {PX_F32, PX_SHAPE(7), PX_DC_ASCENDING, 0}}},
    {{.op = "threshold_counts"}, 0, 3, {F(4, 3), LAB(2, 4, 3), {PX_F32, PX_SHAPE(200), PX_DC_ASCENDING, 0}}},
    {{.op = "threshold_counts"}, 0, 3, {F(0, 1), BIN(0, 1), {PX_F32, PX_SHAPE(3), PX_DC_ASCENDING, 0}}},
    {{.op = "class_counts", .f0 = 0}, 0, 2, {F(8, 5), LAB(5, 8)}},
    {{.op = "class_counts", .f0 = 0.5f}, 0, 2, {F(8, 5), BIN(8, 5)}},
    {{.op = "class_counts", .f0 = 0.3f}, 0, 2, {F(8, 1), LAB(2, 8)}},
    {{.op = "class_counts", .f0 = 0}, 0, 2, {F(0, 5), LAB(5, 0)}},
    {{.op = "confusion_matrix", .a = 4}, 0, 2, {F(9, 4), LAB(4, 9)}},
    {{.op = "confusion_matrix", .a = 4}, 0, 2, {F(9, 4), HOT(9, 4)}},
    {{.op = "confusion_matrix", .a = 2}, 0, 2, {F(7, 1), LAB(2, 7)}},
    {{.op = "confusion_matrix", .a = 3}, 0, 2, {F(0, 3), LAB(3, 0)}},
    /* recurrent ops: every cell and direction, odd sizes, batch 1 and empty batches */
    {{.op = "rnn", .a = 0, .b = 0, .c = 1}, 1, 4, {F(3, 5, 4), F(4, 7), F(7, 7), F(7)}},
    {{.op = "rnn", .a = 0, .b = 1, .c = 0}, 1, 3, {F(1, 4, 3), F(3, 5), F(5, 5)}},
    {{.op = "rnn", .a = 1, .b = 0, .c = 1}, 1, 4, {F(3, 5, 4), F(4, 20), F(5, 20), F(20)}},
    {{.op = "rnn", .a = 1, .b = 2, .c = 1}, 1, 4, {F(2, 6, 3), F(3, 12), F(3, 12), F(12)}},
    {{.op = "rnn", .a = 1, .b = 1, .c = 0}, 1, 3, {F(1, 3, 5), F(5, 28), F(7, 28)}},
    {{.op = "rnn", .a = 1, .b = 0, .c = 1}, 1, 4, {F(0, 4, 3), F(3, 8), F(2, 8), F(8)}},
    {{.op = "rnn", .a = 2, .b = 0, .c = 1, .d = 1}, 1, 4, {F(3, 5, 4), F(4, 15), F(5, 15), F(2, 15)}},
    {{.op = "rnn", .a = 2, .b = 2, .c = 1, .d = 0}, 1, 4, {F(3, 5, 4), F(4, 15), F(5, 15), F(15)}},
    {{.op = "rnn", .a = 2, .b = 1, .c = 0, .d = 1}, 1, 3, {F(1, 4, 2), F(2, 9), F(3, 9)}},
    {{.op = "rnn", .a = 2, .b = 0, .c = 0, .d = 0}, 1, 3, {F(2, 3, 3), F(3, 21), F(7, 21)}},
    {{.op = "rnn", .a = 2, .b = 0, .c = 1, .d = 1}, 1, 4, {F(0, 3, 4), F(4, 6), F(2, 6), F(2, 6)}},
    {{.op = "rnn_general", .a = 0, .b = 0, .c = 1, .f0 = PX_RELU}, 1, 4, {F(3, 5, 4), F(4, 6), F(6, 6), F(6)}},
    {{.op = "rnn_general", .a = 1, .b = 1, .c = 1, .f0 = PX_ELU, .f1 = PX_HARD_SIGMOID}, 1, 4,
     {F(3, 4, 3), F(3, 20), F(5, 20), F(20)}},
    {{.op = "rnn_general", .a = 2, .b = 2, .c = 1, .d = 1, .f0 = PX_SOFTSIGN, .f1 = PX_HARD_SIGMOID_K2}, 1, 4,
     {F(2, 5, 3), F(3, 12), F(4, 12), F(2, 12)}},
    {{.op = "rnn_general", .a = 2, .b = 0, .c = 1, .d = 0, .f0 = PX_SWISH, .f1 = PX_SIGMOID}, 1, 4,
     {F(2, 5, 3), F(3, 12), F(4, 12), F(12)}},
    {{.op = "rnn_masked", .a = 0, .b = 0, .c = 1}, 1, 5, {F(3, 6, 4), F(4, 5), F(5, 5), F(5), BIN(3, 6)}},
    {{.op = "rnn_masked", .a = 1, .b = 1, .c = 1}, 1, 5, {F(3, 6, 4), F(4, 20), F(5, 20), F(20), BIN(3, 6)}},
    {{.op = "rnn_masked", .a = 1, .b = 0, .c = 0, .f0 = -1}, 1, 4, {F(4, 5, 3), F(3, 12), F(3, 12), BIN(4, 5)}},
    {{.op = "rnn_masked", .a = 2, .b = 2, .c = 1, .d = 1}, 1, 5, {F(3, 6, 4), F(4, 15), F(5, 15), F(2, 15), BIN(3, 6)}},
    {{.op = "rnn_masked", .a = 2, .b = 0, .c = 1, .d = 0, .f0 = -1}, 1, 5,
     {F(3, 6, 4), F(4, 15), F(5, 15), F(15), BIN(3, 6)}},
    {{.op = "rnn_take", .a = -1}, 1, 1, {F(3, 6, 5)}}, {{.op = "rnn_take", .a = 0}, 1, 1, {F(3, 6, 5)}},
    {{.op = "rnn_take", .a = 1}, 1, 1, {F(1, 3, 2)}}, {{.op = "rnn_take", .a = -1}, 1, 1, {F(0, 6, 5)}},
};

int px_dc_run_all(px_backend *b, bool must_support, int *n_cases) {
    int bad = 0, n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        const op_case *c = &cases[i];
        char label[96];
        snprintf(label, sizeof label, "%s #%d (%s)", c->spec.op, i, c->training ? "training" : "inference");
        int m = px_dc_compare(b, label, build_op, &c->spec, c->in, c->n_in, c->training, must_support,
                              0x5eed0000u + (uint64_t)i);
        if (m) printf("%s: %d mismatches\n", label, m);
        bad += m;
    }
    if (n_cases) *n_cases = n;
    return bad;
}

/* ---------------------------------------------------- the optimizers ---- */

enum { N = 37, STEPS = 5 };

static int compare_optimizer(px_backend *ref, const char *what, px_optimizer *(*make)(const px_optimizer_options *),
                             px_optimizer_options o, bool segments) {
    px_optimizer *cpu = make(&o), *dev = make(&o);
    px_tensor *p0 = px_gc_random(PX_SHAPE(N), -1, 1, 1);
    float pc[N], pd_host[N];
    memcpy(pc, p0->data, sizeof pc);
    float *pd = NULL, *gd = NULL;
    int bad = 0;
    if (ref->ops->alloc(ref, sizeof pc, (void **)&pd) != PX_OK || ref->ops->alloc(ref, sizeof pc, (void **)&gd) != PX_OK ||
        ref->ops->upload(ref, pd, pc, sizeof pc) != PX_OK) {
        printf("%s: %s\n", what, px_last_error());
        bad++;
    }
    const int64_t seg[3] = {0, 10, 25};
    if (segments) {
        px_optimizer_set_segments(cpu, seg, 3);
        px_optimizer_set_segments(dev, seg, 3);
    }
    for (int t = 0; !bad && t < STEPS; t++) {
        px_tensor *g = px_gc_random(PX_SHAPE(N), -2, 2, 100 + (uint64_t)t);
        if (px_optimizer_step(cpu, pc, g->data, N) != PX_OK || ref->ops->upload(ref, gd, g->data, sizeof pc) != PX_OK ||
            px_optimizer_step_on(dev, ref, pd, gd, N) != PX_OK) {
            printf("%s: step %d: %s\n", what, t, px_last_error());
            bad++;
        }
        px_tensor_free(g);
    }
    if (!bad && ref->ops->download(ref, pd_host, pd, sizeof pd_host) != PX_OK) bad++;
    for (int i = 0; !bad && i < N; i++)
        if (fabsf(pc[i] - pd_host[i]) > 1e-5f * (1 + fabsf(pc[i])) && bad++ < 3)
            printf("%s: parameter %d: cpu %.9g, device %.9g\n", what, i, pc[i], pd_host[i]);
    for (int s = 0; !bad && s < px_optimizer_slot_count(cpu); s++) {
        const float *sc = px_optimizer_slot(cpu, s, NULL, NULL), *sd = px_optimizer_slot(dev, s, NULL, NULL);
        for (int i = 0; sc && sd && i < N; i++)
            if (fabsf(sc[i] - sd[i]) > 1e-5f * (1 + fabsf(sc[i])) && bad++ < 3)
                printf("%s: slot %d [%d]: cpu %.9g, device %.9g\n", what, s, i, sc[i], sd[i]);
        if (!sc || !sd) bad++;
    }
    if (px_optimizer_iterations(cpu) != px_optimizer_iterations(dev)) bad++;
    /* after the slots came back to the host, a host step continues from them */
    if (!bad) {
        px_tensor *g = px_gc_random(PX_SHAPE(N), -2, 2, 999);
        ref->ops->download(ref, pd_host, pd, sizeof pd_host);
        px_optimizer_step(cpu, pc, g->data, N);
        px_optimizer_step(dev, pd_host, g->data, N);
        for (int i = 0; i < N; i++)
            if (fabsf(pc[i] - pd_host[i]) > 1e-5f * (1 + fabsf(pc[i])) && bad++ < 3)
                printf("%s: after a host step, parameter %d: %.9g vs %.9g\n", what, i, pc[i], pd_host[i]);
        px_tensor_free(g);
    }
    if (pd) ref->ops->free(ref, pd);
    if (gd) ref->ops->free(ref, gd);
    px_optimizer_free(cpu);
    px_optimizer_free(dev);
    px_tensor_free(p0);
    return bad;
}

int px_dc_optimizers(px_backend *b) {
    int failed = 0;
    struct {
        const char *name;
        px_optimizer *(*make)(const px_optimizer_options *);
        px_optimizer_options o;
    } cases[] = {
        {"sgd", px_sgd, {.learning_rate = 0}},
        {"sgd momentum", px_sgd, {.momentum = 0.9f}},
        {"sgd nesterov", px_sgd, {.momentum = 0.8f, .nesterov = true}},
        {"adagrad", px_adagrad, {.learning_rate = 0.1f}},
        {"rmsprop", px_rmsprop, {.learning_rate = 0}},
        {"rmsprop momentum centered", px_rmsprop, {.momentum = 0.5f, .centered = true}},
        {"rmsprop centered", px_rmsprop, {.centered = true}},
        {"adadelta", px_adadelta, {.learning_rate = 1.0f}},
        {"adam", px_adam, {.learning_rate = 0}},
        {"adam amsgrad", px_adam, {.amsgrad = true}},
        {"adamw", px_adamw, {.learning_rate = 0.01f}},
        {"nadam", px_nadam, {.learning_rate = 0}},
        {"adam clipvalue", px_adam, {.clipvalue = 0.5f}},
        {"sgd global_clipnorm", px_sgd, {.global_clipnorm = 1.0f}},
        {"rmsprop clipnorm", px_rmsprop, {.clipnorm = 0.7f}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int bad = compare_optimizer(b, cases[i].name, cases[i].make, cases[i].o, false);
        if (cases[i].o.clipnorm > 0) bad += compare_optimizer(b, "clipnorm per variable", cases[i].make, cases[i].o, true);
        if (bad) printf("%s: the steps on %s differ from the CPU's\n", cases[i].name, b->name);
        failed += bad != 0;
    }
    return failed;
}
