/* Tests of the fused recurrent ops and the SimpleRNN, LSTM, GRU and Bidirectional
 * layers: PyTorch references, gradient checks, directions, shapes, a toy task. */
#include <stdlib.h>
#include <string.h>

#include "data/rnn_fixtures.h"
#include "gradcheck.h"
#include "nn/layer_internal.h"
#include "px_test.h"

static px_tensor *tens(px_shape s, const float *v) { return px_tensor_from_array(s, v, px_shape_size(s)); }

/* Relative 1e-4 (absolute 1e-5 near zero) elementwise. */
static void check_close(const char *what, const float *got, const float *want, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double tol = 1e-4 * fabs(want[i]) + 1e-5;
        if (!(fabs((double)got[i] - want[i]) <= tol)) {
            if (bad < 3) px_test_fail(__FILE__, __LINE__, "%s[%lld] = %.8g, PyTorch %.8g", what, (long long)i, got[i], want[i]);
            bad++;
        }
    }
    if (!bad) px_test_passed++;
}

typedef struct fixture {
    const char *label;
    px_rnn_cell cell;
    bool reset_after;
    const float *W, *U, *b;
    px_shape bshape;
    const float *seq, *h, *c, *r_seq, *r_h, *r_c, *dx, *dW, *dU, *db;
} fixture;

static void run_fixture(const fixture *f) {
    const int B = PX_RFIX_B, T = PX_RFIX_T, F = PX_RFIX_F, u = PX_RFIX_U;
    const int G = f->cell == PX_RNN_LSTM ? 4 : f->cell == PX_RNN_GRU ? 3 : 1;
    px_graph *g = px_graph_new();
    px_tensor *tx = tens(PX_SHAPE(B, T, F), px_rfix_x), *tw = tens(PX_SHAPE(F, G * u), f->W),
              *tu = tens(PX_SHAPE(u, G * u), f->U), *tb = tens(f->bshape, f->b);
    px_tensor *trs = tens(PX_SHAPE(B, T, u), f->r_seq), *trh = tens(PX_SHAPE(B, u), f->r_h);
    px_tensor *trc = f->c ? tens(PX_SHAPE(B, u), f->r_c) : NULL;
    px_node *x = px_variable(g, tx, "x"), *W = px_variable(g, tw, "W"), *U = px_variable(g, tu, "U"),
            *b = px_variable(g, tb, "b");
    px_node *fused = px_rnn_fused(f->cell, x, W, U, b, f->reset_after, PX_RNN_FORWARD);
    px_node *seq = px_rnn_sequence(fused), *h = px_rnn_state(fused, 0);
    px_node *loss = px_add(px_sum_all(px_mul(seq, px_constant(g, trs))), px_sum_all(px_mul(h, px_constant(g, trh))));
    px_node *c = NULL;
    if (f->c) {
        c = px_rnn_state(fused, 1);
        loss = px_add(loss, px_sum_all(px_mul(c, px_constant(g, trc))));
    }
    CHECK_NOT_NULL(loss);
    px_node *fetch[3] = {seq, h, c};
    px_node *wrt[4] = {x, W, U, b};
    px_session *s = px_session_new(g, fetch, f->c ? 3 : 2, &(px_session_options){.loss = loss, .wrt = wrt, .n_wrt = 4});
    CHECK_NOT_NULL(s);
    if (s && loss) {
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        char what[64];
        snprintf(what, sizeof what, "%s seq", f->label);
        check_close(what, px_tensor_f32(px_session_fetch(s, 0)), f->seq, B * T * u);
        snprintf(what, sizeof what, "%s h", f->label);
        check_close(what, px_tensor_f32(px_session_fetch(s, 1)), f->h, B * u);
        if (f->c) {
            snprintf(what, sizeof what, "%s c", f->label);
            check_close(what, px_tensor_f32(px_session_fetch(s, 2)), f->c, B * u);
        }
        const float *want[4] = {f->dx, f->dW, f->dU, f->db};
        const char *names[4] = {"dx", "dkernel", "drecurrent_kernel", "dbias"};
        for (int i = 0; i < 4; i++) {
            snprintf(what, sizeof what, "%s %s", f->label, names[i]);
            const px_tensor *gr = px_session_gradient(s, wrt[i]);
            CHECK_NOT_NULL(gr);
            if (gr) check_close(what, px_tensor_f32(gr), want[i], px_tensor_size(gr));
        }
    }
    px_session_free(s);
    px_graph_free(g);
    px_tensor *all[] = {tx, tw, tu, tb, trs, trh, trc};
    for (int i = 0; i < 7; i++) px_tensor_free(all[i]);
}

static void test_pytorch_references(void) {
    const int u = PX_RFIX_U;
    fixture fs[] = {
        {"lstm", PX_RNN_LSTM, false, px_rfix_lstm_W, px_rfix_lstm_U, px_rfix_lstm_b, PX_SHAPE(4 * u), px_rfix_lstm_seq,
         px_rfix_lstm_h, px_rfix_lstm_c, px_rfix_lstm_r_seq, px_rfix_lstm_r_h, px_rfix_lstm_r_c, px_rfix_lstm_dx,
         px_rfix_lstm_dW, px_rfix_lstm_dU, px_rfix_lstm_db},
        {"gru reset_after", PX_RNN_GRU, true, px_rfix_gru_W, px_rfix_gru_U, px_rfix_gru_b, PX_SHAPE(2, 3 * u),
         px_rfix_gru_seq, px_rfix_gru_h, NULL, px_rfix_gru_r_seq, px_rfix_gru_r_h, NULL, px_rfix_gru_dx, px_rfix_gru_dW,
         px_rfix_gru_dU, px_rfix_gru_db},
        {"gru reset_before", PX_RNN_GRU, false, px_rfix_grub_W, px_rfix_grub_U, px_rfix_grub_b, PX_SHAPE(3 * u),
         px_rfix_grub_seq, px_rfix_grub_h, NULL, px_rfix_grub_r_seq, px_rfix_grub_r_h, NULL, px_rfix_grub_dx,
         px_rfix_grub_dW, px_rfix_grub_dU, px_rfix_grub_db},
        {"simple_rnn", PX_RNN_SIMPLE, false, px_rfix_srnn_W, px_rfix_srnn_U, px_rfix_srnn_b, PX_SHAPE(u),
         px_rfix_srnn_seq, px_rfix_srnn_h, NULL, px_rfix_srnn_r_seq, px_rfix_srnn_r_h, NULL, px_rfix_srnn_dx,
         px_rfix_srnn_dW, px_rfix_srnn_dU, px_rfix_srnn_db},
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) run_fixture(&fs[i]);
}

/* ---- gradient checks of the fused op in every cell, direction and bias layout ---- */

typedef struct gc_ctx {
    px_rnn_cell cell;
    bool reset_after, bias;
    px_rnn_direction dir;
} gc_ctx;

static px_node *build_rnn(px_node *const *v, void *ctx) {
    gc_ctx *c = ctx;
    return px_rnn_fused(c->cell, v[0], v[1], v[2], c->bias ? v[3] : NULL, c->reset_after, c->dir);
}

static void test_gradcheck(void) {
    const int B = 2, T = 3, F = 3, u = 2;
    for (int cell = 0; cell < 3; cell++)
        for (int variant = 0; variant < 4; variant++) {
            gc_ctx c = {(px_rnn_cell)cell, variant != 1, variant != 2, (px_rnn_direction)(variant % 3)};
            if (cell != PX_RNN_GRU && variant == 1) continue;
            int G = cell == PX_RNN_LSTM ? 4 : cell == PX_RNN_GRU ? 3 : 1;
            px_shape bs = cell == PX_RNN_GRU && c.reset_after ? PX_SHAPE(2, G * u) : PX_SHAPE(G * u);
            px_tensor *in[4] = {px_gc_random(PX_SHAPE(B, T, F), -1, 1, 10 + variant),
                                px_gc_random(PX_SHAPE(F, G * u), -0.8f, 0.8f, 20 + cell),
                                px_gc_random(PX_SHAPE(u, G * u), -0.8f, 0.8f, 30 + cell),
                                px_gc_random(bs, -0.5f, 0.5f, 40)};
            char label[96];
            snprintf(label, sizeof label, "rnn cell %d reset_after %d bias %d dir %d", cell, c.reset_after, c.bias,
                     (int)c.dir);
            CHECK(px_gradcheck(label, build_rnn, &c, in, c.bias ? 4 : 3, NULL, 1e-3, 1e-2, 1e-3) == 0);
            for (int i = 0; i < 4; i++) px_tensor_free(in[i]);
        }
}

/* go_backwards on x equals forward on x reversed in time; the aligned direction
 * stores the same rows in input order. */
static void test_directions(void) {
    const int B = 2, T = 4, F = 3, u = 3;
    px_tensor *x = px_gc_random(PX_SHAPE(B, T, F), -1, 1, 5), *xr = px_tensor_copy(x);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(px_tensor_f32(xr) + (b * T + t) * F, px_tensor_f32(x) + (b * T + T - 1 - t) * F, F * sizeof(float));
    px_tensor *W = px_gc_random(PX_SHAPE(F, 4 * u), -1, 1, 6), *U = px_gc_random(PX_SHAPE(u, 4 * u), -1, 1, 7);
    px_graph *g = px_graph_new_eager();
    px_node *w = px_constant(g, W), *uu = px_constant(g, U);
    px_node *fwd_rev = px_rnn_fused(PX_RNN_LSTM, px_constant(g, xr), w, uu, NULL, false, PX_RNN_FORWARD);
    px_node *back = px_rnn_fused(PX_RNN_LSTM, px_constant(g, x), w, uu, NULL, false, PX_RNN_GO_BACKWARDS);
    px_node *aligned = px_rnn_fused(PX_RNN_LSTM, px_constant(g, x), w, uu, NULL, false, PX_RNN_BACKWARD_ALIGNED);
    CHECK_NOT_NULL(aligned);
    if (aligned) {
        const float *a = px_tensor_f32(px_node_value(fwd_rev)), *bk = px_tensor_f32(px_node_value(back)),
                    *al = px_tensor_f32(px_node_value(aligned));
        int mism = 0, mism_al = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T + 2; t++)
                for (int j = 0; j < u; j++) {
                    int i = (b * (T + 2) + t) * u + j;
                    int ia = (b * (T + 2) + (t < T ? T - 1 - t : t)) * u + j;
                    mism += fabsf(a[i] - bk[i]) > 1e-6f;
                    mism_al += fabsf(a[i] - al[ia]) > 1e-6f;
                }
        CHECK(mism == 0);
        CHECK(mism_al == 0);
    }
    px_graph_free(g);
    px_tensor_free(x), px_tensor_free(xr), px_tensor_free(W), px_tensor_free(U);
}

static void test_errors(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 5, 3), "x");
    px_tensor *w = px_tensor_zeros(PX_SHAPE(4, 8)), *u = px_tensor_zeros(PX_SHAPE(2, 8));
    px_node *y = px_rnn_fused(PX_RNN_LSTM, x, px_constant(g, w), px_constant(g, u), NULL, false, PX_RNN_FORWARD);
    CHECK(y == NULL);
    CHECK_ERROR_HAS("lstm");
    CHECK_ERROR_HAS("(None, 5, 3)");
    CHECK(px_rnn_state(px_relu(x), 0) == NULL);
    CHECK_ERROR_HAS("rnn_take");
    px_tensor_free(w), px_tensor_free(u);
    px_graph_free(g);
}

/* ---- layers ---- */

static void check_shape(px_node *n, px_shape want) {
    char a[96], b[96];
    if (n && px_shape_equal(px_node_shape(n), want)) px_test_passed++;
    else px_test_fail(__FILE__, __LINE__, "shape %s, expected %s: %s", n ? px_shape_format(px_node_shape(n), a, sizeof a) : "NULL",
                      px_shape_format(want, b, sizeof b), px_last_error());
}

static void test_layer_shapes_and_weights(void) {
    px_model *m = px_functional("m");
    px_node *in = px_model_input(m, PX_SHAPE(7, 5), "in");
    px_layer *lstm = px_lstm(6, &(px_rnn_options){.return_sequences = true, .return_state = true});
    px_node *seq = px_apply(lstm, in);
    check_shape(seq, PX_SHAPE(PX_UNKNOWN, 7, 6));
    CHECK(px_layer_extra_output_count(lstm) == 2);
    check_shape(px_layer_extra_output(lstm, 0), PX_SHAPE(PX_UNKNOWN, 6));
    check_shape(px_layer_extra_output(lstm, 1), PX_SHAPE(PX_UNKNOWN, 6));
    CHECK(px_layer_extra_output(lstm, 2) == NULL);
    CHECK(px_layer_weight_count(lstm) == 3);
    check_shape(px_layer_weight(lstm, 0), PX_SHAPE(5, 24));
    check_shape(px_layer_weight(lstm, 1), PX_SHAPE(6, 24));
    check_shape(px_layer_weight(lstm, 2), PX_SHAPE(24));
    CHECK(strcmp(px_layer_weight_name(lstm, 1), "recurrent_kernel") == 0);
    /* unit_forget_bias, orthogonal recurrent kernel (rows orthonormal for (u, 4u)) */
    const float *bias = px_tensor_f32(px_node_value(px_layer_weight(lstm, 2)));
    CHECK(bias[0] == 0.0f && bias[6] == 1.0f && bias[11] == 1.0f && bias[12] == 0.0f);
    const float *rk = px_tensor_f32(px_node_value(px_layer_weight(lstm, 1)));
    double worst = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            double d = 0;
            for (int k = 0; k < 24; k++) d += (double)rk[i * 24 + k] * rk[j * 24 + k];
            worst = fmax(worst, fabs(d - (i == j)));
        }
    CHECK(worst < 1e-5);

    px_layer *gru = px_gru(4, NULL);
    px_node *last = px_apply(gru, seq);
    check_shape(last, PX_SHAPE(PX_UNKNOWN, 4));
    check_shape(px_layer_weight(gru, 2), PX_SHAPE(2, 12));
    CHECK(px_layer_extra_output_count(gru) == 0);
    px_layer *gru2 = px_gru(4, &(px_rnn_options){.no_reset_after = true, .return_state = true});
    CHECK_NOT_NULL(px_apply(gru2, seq));
    check_shape(px_layer_weight(gru2, 2), PX_SHAPE(12));
    check_shape(px_layer_extra_output(gru2, 0), PX_SHAPE(PX_UNKNOWN, 4));

    px_layer *bi = px_bidirectional(px_simple_rnn(3, &(px_rnn_options){.return_sequences = true}), PX_MERGE_CONCAT);
    px_node *bs = px_apply(bi, in);
    check_shape(bs, PX_SHAPE(PX_UNKNOWN, 7, 6));
    CHECK(px_layer_weight_count(bi) == 6);
    CHECK(strcmp(px_layer_class(bi), "Bidirectional") == 0);
    if (px_layer_weight_name(bi, 3)) CHECK(strcmp(px_layer_weight_name(bi, 3), "backward_simple_rnn/kernel") == 0);
    px_layer *bi2 = px_bidirectional(px_lstm(3, &(px_rnn_options){.return_state = true}), PX_MERGE_SUM);
    check_shape(px_apply(bi2, in), PX_SHAPE(PX_UNKNOWN, 3));
    CHECK(px_layer_extra_output_count(bi2) == 4);
    CHECK(px_bidirectional(px_dense(3, PX_LINEAR), PX_MERGE_CONCAT) == NULL);
    CHECK_ERROR_HAS("Bidirectional");

    px_layer *bad = px_lstm(3, NULL);
    CHECK(px_apply(bad, px_model_input(m, PX_SHAPE(5), "flat")) == NULL);
    CHECK_ERROR_HAS("(batch, timesteps, features)");
    px_model_free(m);
}

/* Bidirectional's outputs equal a forward and a reversed run with the same weights. */
static void test_bidirectional_values(void) {
    px_model *m = px_functional("bi");
    px_node *in = px_model_input(m, PX_SHAPE(4, 3), "in");
    px_layer *bi = px_bidirectional(px_gru(2, &(px_rnn_options){.return_sequences = true}), PX_MERGE_CONCAT);
    px_node *y = px_apply(bi, in);
    CHECK_OK(px_model_set_outputs(m, &y, 1));
    px_tensor *x = px_gc_random(PX_SHAPE(2, 4, 3), -1, 1, 3);
    px_tensor *out = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK_NOT_NULL(out);
    px_graph *g = px_graph_new_eager();
    px_node *xc = px_constant(g, x);
    px_node *w[6];
    for (int i = 0; i < 6; i++) w[i] = px_constant(g, px_node_value(px_layer_weight(bi, i)));
    px_node *f = px_rnn_sequence(px_rnn_fused(PX_RNN_GRU, xc, w[0], w[1], w[2], true, PX_RNN_FORWARD));
    px_node *b = px_rnn_sequence(px_rnn_fused(PX_RNN_GRU, xc, w[3], w[4], w[5], true, PX_RNN_BACKWARD_ALIGNED));
    px_node *want = px_concat((px_node *[]){f, b}, 2, -1);
    CHECK_NOT_NULL(want);
    if (out && want) CHECK(px_tensor_allclose(out, px_node_value(want), 1e-5f, 1e-6f));
    px_graph_free(g);
    px_tensor_free(out);
    px_tensor_free(x);
    px_model_free(m);
}

/* A small LSTM learns whether more than half of a 10-step binary sequence is ones. */
static void test_lstm_learns_majority(void) {
    const int n = 512, T = 10;
    px_rng rng = px_rng_seeded(7);
    px_tensor *x = px_tensor_zeros(PX_SHAPE(n, T, 1)), *y = px_tensor_zeros(PX_SHAPE(n, 1));
    for (int i = 0; i < n; i++) {
        int ones = 0;
        for (int t = 0; t < T; t++) ones += (int)(px_tensor_f32(x)[i * T + t] = (float)(px_rng_uniform(&rng) < 0.5f));
        px_tensor_f32(y)[i] = ones > T / 2;
    }
    px_set_random_seed(3);
    px_model *m = px_sequential((px_layer *[]){px_lstm(8, &(px_rnn_options){.input_shape = PX_SHAPE(T, 1)}),
                                               px_dense(1, PX_SIGMOID), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                      .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.02f}),
                                                      .metrics = {PX_ACCURACY}}));
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                 &(px_fit_options){.epochs = 25, .verbose = PX_VERBOSE_SILENT}));
    px_logs logs = {0};
    double acc = 0;
    CHECK_OK(px_model_evaluate_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                      &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    px_logs_get(&logs, "accuracy", &acc);
    printf("  LSTM majority task: accuracy %.3f\n", acc);
    CHECK(acc >= 0.9);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
}

int main(void) {
    RUN_TEST(test_pytorch_references);
    RUN_TEST(test_gradcheck);
    RUN_TEST(test_directions);
    RUN_TEST(test_errors);
    RUN_TEST(test_layer_shapes_and_weights);
    RUN_TEST(test_bidirectional_values);
    RUN_TEST(test_lstm_learns_majority);
    return px_test_finish();
}
