/* Attention, MultiHeadAttention and a Transformer encoder block (MHA, residual
 * Add, LayerNormalization, Dense): outputs and gradients against PyTorch
 * (tests/data/layer_fixtures.h), the mask op by finite differences, masks and
 * causal masks, config and file round trips. */
#include <string.h>

#include "../data/layer_fixtures.h"
#include "gradcheck.h"
#include "graph/node.h"
#include "layer_config_check.h"
#include "nn/layer_internal.h"
#include "px_test.h"

enum { MB = 2, TQ = 3, TV = 4, D = 4, H = 2, K = 2 };

static px_tensor *T3(const float *v, int64_t a, int64_t b, int64_t c) { return px_tensor_from_array(PX_SHAPE(a, b, c), v, a * b * c); }

/* Runs y with loss sum(y * r), checks y and the gradients of `vars` (n) against
 * the references within 1e-4 (relative above 1). */
static void check(const char *label, px_graph *g, px_node *y, px_node **vars, int n, const float *r, const float *want_y,
                  const float *const *want_d) {
    CHECK_NOT_NULL(y);
    if (!y) {
        fprintf(stderr, "  %s: %s\n", label, px_last_error());
        return;
    }
    px_tensor *rt = px_tensor_from_array(px_node_shape(y), r, px_shape_size(px_node_shape(y)));
    px_node *loss = px_sum_all(px_mul(y, px_constant(g, rt)));
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss, .wrt = vars, .n_wrt = n});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    int bad = 0;
    const px_tensor *yt = px_session_fetch(s, 0);
    for (int64_t j = 0; yt && j < px_tensor_size(yt); j++)
        if (!(fabs(px_tensor_f32(yt)[j] - want_y[j]) <= 1e-4 * fmax(1.0, fabs(want_y[j]))) && bad++ < 5)
            fprintf(stderr, "  %s: y[%lld] = %.8g, torch %.8g\n", label, (long long)j, px_tensor_f32(yt)[j], want_y[j]);
    for (int i = 0; i < n; i++) {
        const px_tensor *gr = px_session_gradient(s, vars[i]);
        if (!gr) bad++;
        for (int64_t j = 0; gr && j < px_tensor_size(gr); j++)
            if (!(fabs(px_tensor_f32(gr)[j] - want_d[i][j]) <= 1e-4 * fmax(1.0, fabs(want_d[i][j]))) && bad++ < 5)
                fprintf(stderr, "  %s: d input %d [%lld] = %.8g, torch %.8g\n", label, i, (long long)j, px_tensor_f32(gr)[j],
                        want_d[i][j]);
    }
    if (bad) px_test_fail(__FILE__, __LINE__, "%s: %d values differ from PyTorch", label, bad);
    else px_test_passed++;
    px_session_free(s);
    px_tensor_free(rt);
}

/* The layer's weights become variables holding the fixture values. */
static void set_weights(px_layer *l, const float *const *vals) {
    for (int i = 0; i < px_layer_weight_count(l); i++) {
        px_tensor *w = px_node_value(px_layer_weight(l, i));
        memcpy(w->data, vals[i], (size_t)px_tensor_size(w) * sizeof(float));
    }
}

static void test_mha_matches_torch(void) {
    for (int causal = 0; causal < 2; causal++) {
        px_graph *g = px_graph_new();
        px_tensor *qt = T3(px_lfix_mha_q, MB, TQ, D), *vt = T3(px_lfix_mha_v, MB, TV, D);
        px_tensor *mt = px_tensor_from_array(PX_SHAPE(MB, TV), px_lfix_mha_vmask, MB * TV);
        px_node *q = px_variable(g, qt, "q"), *v = px_variable(g, vt, "v");
        v->mask = px_constant(g, mt);
        px_layer *l = px_multi_head_attention(H, K, &(px_mha_options){.causal = causal});
        px_rng rng = px_rng_seeded(1);
        px_node *y = px_layer_apply(l, (px_node *[]){q, v}, 2, &rng);
        CHECK(px_layer_weight_count(l) == 8);
        CHECK(strcmp(px_layer_weight_name(l, 0), "query/kernel") == 0 && strcmp(px_layer_weight_name(l, 7), "attention_output/bias") == 0);
        px_shape ks = px_node_shape(px_layer_weight(l, 0)), os = px_node_shape(px_layer_weight(l, 6));
        CHECK(ks.rank == 3 && ks.dim[0] == D && ks.dim[1] == H && ks.dim[2] == K);
        CHECK(os.rank == 3 && os.dim[0] == H && os.dim[1] == K && os.dim[2] == D);
        set_weights(l, (const float *const[]){px_lfix_mha_wq, px_lfix_mha_bq, px_lfix_mha_wk, px_lfix_mha_bk, px_lfix_mha_wv,
                                              px_lfix_mha_bv, px_lfix_mha_wo, px_lfix_mha_bo});
        px_node *vars[10] = {q, v};
        for (int i = 0; i < 8; i++) vars[2 + i] = px_layer_weight(l, i);
        /* torch's order: q, v, wq, wk, wv, bq, bk, bv, wo, bo */
        const int order[10] = {0, 1, 2, 4, 6, 3, 5, 7, 8, 9};
        px_node *ordered[10];
        for (int i = 0; i < 10; i++) ordered[i] = vars[order[i]];
        if (causal)
            check("MultiHeadAttention causal", g, y, ordered, 10, px_lfix_mha_causal_r, px_lfix_mha_causal_y,
                  (const float *const[]){px_lfix_mha_causal_d0, px_lfix_mha_causal_d1, px_lfix_mha_causal_d2, px_lfix_mha_causal_d3,
                                         px_lfix_mha_causal_d4, px_lfix_mha_causal_d5, px_lfix_mha_causal_d6, px_lfix_mha_causal_d7,
                                         px_lfix_mha_causal_d8, px_lfix_mha_causal_d9});
        else
            check("MultiHeadAttention", g, y, ordered, 10, px_lfix_mha_r, px_lfix_mha_y,
                  (const float *const[]){px_lfix_mha_d0, px_lfix_mha_d1, px_lfix_mha_d2, px_lfix_mha_d3, px_lfix_mha_d4,
                                         px_lfix_mha_d5, px_lfix_mha_d6, px_lfix_mha_d7, px_lfix_mha_d8, px_lfix_mha_d9});
        px_layer_free(l);
        px_tensor_free(qt), px_tensor_free(vt), px_tensor_free(mt);
        px_graph_free(g);
    }
}

static void test_attention_matches_torch(void) {
    for (int concat = 0; concat < 2; concat++) {
        px_graph *g = px_graph_new();
        px_tensor *qt = T3(px_lfix_att_q, MB, TQ, D), *vt = T3(px_lfix_att_v, MB, TV, D);
        px_tensor *mt = px_tensor_from_array(PX_SHAPE(MB, TV), px_lfix_mha_vmask, MB * TV);
        px_node *q = px_variable(g, qt, "q"), *v = px_variable(g, vt, "v");
        if (!concat) v->mask = px_constant(g, mt);
        px_layer *l = px_attention_layer(&(px_attention_options){.use_scale = !concat, .score_concat = concat});
        px_rng rng = px_rng_seeded(1);
        px_node *y = px_layer_apply(l, (px_node *[]){q, v}, 2, &rng);
        CHECK(px_layer_weight_count(l) == 1);
        CHECK(strcmp(px_layer_weight_name(l, 0), concat ? "concat_score_weight" : "scale") == 0);
        px_tensor_f32(px_node_value(px_layer_weight(l, 0)))[0] = concat ? 1.3f : 0.7f;
        px_node *vars[3] = {q, v, px_layer_weight(l, 0)};
        if (concat)
            check("Attention concat", g, y, vars, 3, px_lfix_att_concat_r, px_lfix_att_concat_y,
                  (const float *const[]){px_lfix_att_concat_d0, px_lfix_att_concat_d1, px_lfix_att_concat_d2});
        else
            check("Attention dot, scaled, value mask", g, y, vars, 3, px_lfix_att_dot_r, px_lfix_att_dot_y,
                  (const float *const[]){px_lfix_att_dot_d0, px_lfix_att_dot_d1, px_lfix_att_dot_d2});
        px_layer_free(l);
        px_tensor_free(qt), px_tensor_free(vt), px_tensor_free(mt);
        px_graph_free(g);
    }
}

/* The encoder block as Keras's tutorials write it, against PyTorch. */
static px_model *encoder_block(px_layer **mha, px_layer **ln1, px_layer **ln2, px_layer **d1, px_layer **d2) {
    px_model *m = px_functional("encoder");
    px_node *x = px_model_input(m, PX_SHAPE(TQ, D), "tokens");
    *mha = px_multi_head_attention(H, K, NULL);
    *ln1 = px_layer_normalization(NULL);
    *ln2 = px_layer_normalization(NULL);
    *d1 = px_dense(8, PX_RELU);
    *d2 = px_dense(D, PX_LINEAR);
    px_node *a = px_apply_n(*mha, (px_node *[]){x, x}, 2);
    px_node *h = px_apply(*ln1, px_apply_n(px_add_layer(), (px_node *[]){x, a}, 2));
    px_node *f = px_apply(*d2, px_apply(*d1, h));
    px_node *y = px_apply(*ln2, px_apply_n(px_add_layer(), (px_node *[]){h, f}, 2));
    if (px_model_set_outputs(m, &y, 1) != PX_OK) {
        fprintf(stderr, "  encoder: %s\n", px_last_error());
        px_model_free(m);
        return NULL;
    }
    return m;
}

static void test_transformer_block(void) {
    px_layer *mha, *ln1, *ln2, *d1, *d2;
    px_model *m = encoder_block(&mha, &ln1, &ln2, &d1, &d2);
    CHECK_NOT_NULL(m);
    if (!m) return;
    set_weights(mha, (const float *const[]){px_lfix_mha_wq, px_lfix_mha_bq, px_lfix_mha_wk, px_lfix_mha_bk, px_lfix_mha_wv,
                                            px_lfix_mha_bv, px_lfix_mha_wo, px_lfix_mha_bo});
    set_weights(ln1, (const float *const[]){px_lfix_tb_g1, px_lfix_tb_b1});
    set_weights(ln2, (const float *const[]){px_lfix_tb_g2, px_lfix_tb_b2});
    set_weights(d1, (const float *const[]){px_lfix_tb_f1w, px_lfix_tb_f1b});
    set_weights(d2, (const float *const[]){px_lfix_tb_f2w, px_lfix_tb_f2b});
    /* gradient with respect to the input: the model's graph with the input as a variable */
    px_graph *g = px_model_graph(m);
    px_tensor *xt = T3(px_lfix_tb_x, MB, TQ, D);
    px_node *ph = px_model_input_count(m) ? px_layer_output(px_model_layer(m, 0)) : NULL;
    px_tensor *y = px_model_predict(m, xt, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    double worst = 0;
    for (int64_t i = 0; y && i < px_tensor_size(y); i++) worst = fmax(worst, fabs(px_tensor_f32(y)[i] - px_lfix_tb_y[i]));
    CHECK(y && worst < 1e-4);
    printf("  encoder block: largest difference from PyTorch %.2g\n", worst);
    /* d loss / d x through the whole block */
    px_tensor *rt = T3(px_lfix_tb_r, MB, TQ, D);
    px_node *out = px_model_output(m, 0), *loss = px_sum_all(px_mul(out, px_constant(g, rt)));
    px_session *s = px_session_new(g, &out, 1, &(px_session_options){.loss = loss, .wrt = &ph, .n_wrt = 1});
    px_feed feed = {ph, xt};
    CHECK_OK(px_session_run(s, &feed, 1, NULL));
    const px_tensor *gx = px_session_gradient(s, ph);
    worst = gx ? 0 : INFINITY;
    for (int64_t i = 0; gx && i < px_tensor_size(gx); i++) worst = fmax(worst, fabs(px_tensor_f32(gx)[i] - px_lfix_tb_d0[i]));
    CHECK(worst < 1e-4);
    printf("  encoder block: d/dx largest difference from PyTorch %.2g\n", worst);
    px_session_free(s);
    px_tensor_free(rt), px_tensor_free(xt), px_tensor_free(y);
    px_tc_round_trip(m, PX_SHAPE(MB, TQ, D), 0, "encoder block");
}

/* The mask op: finite differences through a softmax, and the values masked. */
static px_node *b_masked_softmax(px_node *const *v, void *ctx) {
    return px_softmax(px_attention_mask(v[0], v[1], *(bool *)ctx), -1);
}
static void test_attention_mask_op(void) {
    px_tensor *in[2] = {px_gc_random(PX_SHAPE(2, 2, 3, 4), -1, 1, 3),
                        px_tensor_from_array(PX_SHAPE(MB, TV), px_lfix_mha_vmask, MB * TV)};
    const bool skip[2] = {false, true};
    bool causal = true;
    CHECK(px_gradcheck("attention_mask + softmax", b_masked_softmax, &causal, in, 2, skip, 1e-3, 1e-2, 1e-3) == 0);
    px_graph *g = px_graph_new();
    px_node *y = b_masked_softmax((px_node *[]){px_constant(g, in[0]), px_constant(g, in[1])}, &causal);
    px_tensor *p = NULL;
    CHECK_OK(px_run(g, &y, 1, NULL, 0, &p));
    /* batch 1 attends to keys 0, 1 only; causal: query 0 to key 0 only */
    for (int h = 0; p && h < 2; h++) {
        const float *row = px_tensor_f32(p) + ((1 * 2 + h) * 3 + 2) * 4;
        CHECK(row[2] == 0 && row[3] == 0 && fabs(row[0] + row[1] - 1) < 1e-6);
        CHECK(px_tensor_f32(p)[(h * 3 + 0) * 4 + 0] == 1.0f);
    }
    px_tensor_free(p);
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(2, 5));
    CHECK(px_attention_mask(px_constant(g, in[0]), px_constant(g, bad), false) == NULL);
    CHECK_ERROR_HAS("attention_mask: mask");
    px_tensor_free(bad), px_tensor_free(in[0]), px_tensor_free(in[1]);
    px_graph_free(g);
}

/* Configs: Keras 2 and 3 keys load, options round-trip. */
static void test_configs(void) {
    const char *json =
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"f\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"name\": \"in\", \"config\": {\"batch_input_shape\": [null, 5, 6], \"name\": \"in\"}, \"inbound_nodes\": []},"
        "{\"class_name\": \"MultiHeadAttention\", \"name\": \"mha\", \"config\": {\"name\": \"mha\", \"num_heads\": 3, \"key_dim\": 4, "
        "\"value_dim\": null, \"dropout\": 0.1, \"use_bias\": true, \"output_shape\": null, \"attention_axes\": null, "
        "\"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, \"bias_initializer\": "
        "{\"class_name\": \"Zeros\", \"config\": {}}, \"kernel_regularizer\": null, \"bias_regularizer\": null, "
        "\"activity_regularizer\": null, \"kernel_constraint\": null, \"bias_constraint\": null}, "
        "\"inbound_nodes\": [[[\"in\", 0, 0, {\"value\": [\"in\", 0, 0]}]]]},"
        "{\"class_name\": \"Attention\", \"name\": \"att\", \"config\": {\"name\": \"att\", \"use_scale\": true, \"score_mode\": \"dot\", \"dropout\": 0.0}, "
        "\"inbound_nodes\": [[[\"mha\", 0, 0, {}], [\"in\", 0, 0, {}]]]}],"
        "\"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"att\", 0, 0]]}}";
    px_model *m = px_model_from_json(json, strlen(json));
    CHECK_NOT_NULL(m);
    if (!m) {
        fprintf(stderr, "  %s\n", px_last_error());
        return;
    }
    px_layer *mha = px_model_find_layer(m, "mha");
    CHECK(mha && px_layer_weight_count(mha) == 8);
    CHECK(mha && px_node_shape(px_layer_weight(mha, 6)).dim[2] == 6);
    px_tc_round_trip(m, PX_SHAPE(2, 5, 6), 0, "MHA + Attention from a Keras 2 config");
    px_layer *l;
    m = px_functional("opts");
    px_node *x = px_model_input(m, PX_SHAPE(5, 6), NULL);
    px_node *y = px_apply(l = px_multi_head_attention(2, 3, &(px_mha_options){.value_dim = 5, .output_dim = 7, .no_bias = true,
                                                                            .causal = true}),
                          x);
    CHECK(y && px_node_shape(y).dim[2] == 7 && px_layer_weight_count(l) == 4);
    y = px_apply_n(px_attention_layer(&(px_attention_options){.score_concat = true, .causal = true}), (px_node *[]){y, y}, 2);
    CHECK_OK(px_model_set_outputs(m, &y, 1));
    px_tc_round_trip(m, PX_SHAPE(2, 5, 6), 0, "MHA (value_dim, output_shape, no bias) + Attention (concat, causal)");
}

int main(void) {
    RUN_TEST(test_mha_matches_torch);
    RUN_TEST(test_attention_matches_torch);
    RUN_TEST(test_transformer_block);
    RUN_TEST(test_attention_mask_op);
    RUN_TEST(test_configs);
    return px_test_finish();
}
