/* The general recurrent op (src/ops/rnn_general.c): agreement with the
 * vectorised op on Keras's default activations, finite-difference gradients
 * with other activations and a timestep mask for every cell kind, the masked
 * steps keeping the state, and dropout only in training. */
#include <string.h>

#include "gradcheck.h"
#include "px_test.h"

enum { B = 2, T = 4, F = 3, U = 3 };

typedef struct cfg {
    px_rnn_cell cell;
    bool reset_after, with_mask;
    px_rnn_fused_options o;
    bool fast; /* build with px_rnn_fused */
} cfg;

static int gates(px_rnn_cell c) { return c == PX_RNN_LSTM ? 4 : c == PX_RNN_GRU ? 3 : 1; }

/* vars: x, W, U, bias, mask */
static px_node *build(px_node *const *v, void *ctx) {
    const cfg *c = ctx;
    px_rnn_fused_options o = c->o;
    o.reset_after = c->reset_after;
    px_node *f = c->fast ? px_rnn_fused(c->cell, v[0], v[1], v[2], v[3], c->reset_after, o.direction)
                         : px_rnn_fused_ex(c->cell, v[0], v[1], v[2], v[3], c->with_mask ? v[4] : NULL, &o);
    px_node *seq = px_rnn_sequence(f), *h = px_rnn_state(f, 0);
    return px_concat((px_node *[]){px_reshape(seq, PX_SHAPE(B, T * U)), h}, 2, 1);
}

static px_tensor **inputs(const cfg *c, uint64_t seed) {
    static px_tensor *in[5];
    int G = gates(c->cell);
    in[0] = px_gc_random(PX_SHAPE(B, T, F), -1, 1, seed);
    in[1] = px_gc_random(PX_SHAPE(F, G * U), -0.8f, 0.8f, seed + 1);
    in[2] = px_gc_random(PX_SHAPE(U, G * U), -0.8f, 0.8f, seed + 2);
    in[3] = c->cell == PX_RNN_GRU && c->reset_after ? px_gc_random(PX_SHAPE(2, G * U), -0.5f, 0.5f, seed + 3)
                                                    : px_gc_random(PX_SHAPE(G * U), -0.5f, 0.5f, seed + 3);
    const float m[B * T] = {1, 1, 0, 1, 1, 0, 0, 1};
    in[4] = px_tensor_from_array(PX_SHAPE(B, T), m, B * T);
    return in;
}

static px_tensor *run(const cfg *c, px_tensor **in) {
    px_graph *g = px_graph_new();
    px_node *v[5];
    for (int i = 0; i < 5; i++) v[i] = px_constant(g, in[i]);
    px_node *y = build(v, (void *)c);
    px_tensor *out = NULL;
    if (!y || px_run(g, &y, 1, NULL, 0, &out) != PX_OK) fprintf(stderr, "  run: %s\n", px_last_error());
    px_graph_free(g);
    return out;
}

static void free_inputs(px_tensor **in) {
    for (int i = 0; i < 5; i++) px_tensor_free(in[i]);
}

static const char *cell_name(const cfg *c) {
    return c->cell == PX_RNN_SIMPLE ? "SimpleRNN" : c->cell == PX_RNN_LSTM ? "LSTM" : c->reset_after ? "GRU(reset_after)" : "GRU";
}

/* tanh / sigmoid with a mask of ones: the general op must reproduce the fused one */
static void test_agrees_with_fused_op(void) {
    const px_rnn_direction dirs[3] = {PX_RNN_FORWARD, PX_RNN_GO_BACKWARDS, PX_RNN_BACKWARD_ALIGNED};
    for (int k = 0; k < 4; k++)
        for (int d = 0; d < 3; d++) {
            cfg c = {.cell = k == 3 ? PX_RNN_GRU : (px_rnn_cell)k, .reset_after = k == 2, .with_mask = true,
                     .o = {.direction = dirs[d]}};
            px_tensor **in = inputs(&c, 10 + (uint64_t)k);
            for (int i = 0; i < B * T; i++) px_tensor_f32(in[4])[i] = 1;
            px_tensor *a = run(&c, in);
            c.fast = true;
            px_tensor *b = run(&c, in);
            double worst = 0;
            for (int64_t i = 0; a && b && i < px_tensor_size(a); i++)
                worst = fmax(worst, fabs(px_tensor_f32(a)[i] - px_tensor_f32(b)[i]));
            CHECK(a && b && worst < 2e-6);
            if (worst >= 2e-6) fprintf(stderr, "  %s direction %d: differs from the fused op by %g\n", cell_name(&c), d, worst);
            px_tensor_free(a), px_tensor_free(b);
            free_inputs(in);
        }
}

/* Other activations and a mask: gradients by finite differences, for each cell */
static void test_gradients(void) {
    const int acts[][2] = {{PX_RELU, PX_HARD_SIGMOID_K2}, {PX_SOFTSIGN, PX_HARD_SIGMOID}, {PX_ELU, PX_SIGMOID}};
    for (int k = 0; k < 4; k++)
        for (int a = 0; a < 3; a++) {
            cfg c = {.cell = k == 3 ? PX_RNN_GRU : (px_rnn_cell)k, .reset_after = k == 2, .with_mask = a != 2,
                     .o = {.activation = acts[a][0], .recurrent_activation = acts[a][1],
                           .direction = a == 1 ? PX_RNN_BACKWARD_ALIGNED : PX_RNN_FORWARD, .zero_output_for_mask = a == 1}};
            px_tensor **in = inputs(&c, 20 + (uint64_t)(k * 3 + a));
            char label[96];
            snprintf(label, sizeof label, "%s %s/%s", cell_name(&c), px_activation_name(acts[a][0]), px_activation_name(acts[a][1]));
            const bool skip[5] = {false, false, false, false, true};
            CHECK(px_gradcheck(label, build, &c, in, 5, skip, 1e-3, 2e-2, 2e-3) == 0);
            free_inputs(in);
        }
}

/* A step masked out at the end leaves h as it was: the final state equals that
 * of the sequence cut before it, and a masked output repeats the previous one. */
static void test_mask_keeps_state(void) {
    for (int k = 0; k < 3; k++) {
        cfg c = {.cell = (px_rnn_cell)k, .with_mask = true, .o = {.activation = PX_RELU}};
        px_tensor **in = inputs(&c, 40 + (uint64_t)k);
        const float m[B * T] = {1, 1, 1, 0, 1, 1, 1, 0};
        memcpy(px_tensor_f32(in[4]), m, sizeof m);
        px_tensor *y = run(&c, in);
        for (int b = 0; y && b < B; b++)
            for (int j = 0; j < U; j++) {
                const float *row = px_tensor_f32(y) + b * (T * U + U);
                CHECK(row[3 * U + j] == row[2 * U + j]); /* step 3 outputs step 2's */
                CHECK(row[T * U + j] == row[2 * U + j]); /* final h is step 2's */
            }
        px_tensor_free(y);
        free_inputs(in);
    }
}

/* Dropout: inference ignores it; training changes the output, with the same
 * seed the same way. */
static void test_dropout_training_only(void) {
    cfg c = {.cell = PX_RNN_LSTM, .o = {.dropout = 0.3f, .recurrent_dropout = 0.4f}};
    px_tensor **in = inputs(&c, 50);
    px_tensor *plain = NULL, *infer = run(&c, in);
    cfg d = c;
    d.fast = true;
    plain = run(&d, in);
    double worst = 0;
    for (int64_t i = 0; infer && plain && i < px_tensor_size(infer); i++)
        worst = fmax(worst, fabs(px_tensor_f32(infer)[i] - px_tensor_f32(plain)[i]));
    CHECK(worst < 2e-6);
    px_graph *g = px_graph_new();
    px_graph_set_seed(g, 5);
    px_node *v[5];
    for (int i = 0; i < 5; i++) v[i] = px_variable(g, in[i], NULL);
    px_node *y = build(v, &c), *loss = px_sum_all(y);
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss});
    px_session_set_training(s, true);
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    const px_tensor *t = px_session_fetch(s, 0);
    double diff = 0;
    for (int64_t i = 0; t && i < px_tensor_size(t); i++) diff += fabs(px_tensor_f32(t)[i] - px_tensor_f32(plain)[i]);
    CHECK(diff > 1e-3);
    const px_tensor *gw = px_session_gradient(s, v[1]);
    bool finite = gw != NULL;
    for (int64_t i = 0; gw && i < px_tensor_size(gw); i++) finite = finite && isfinite(px_tensor_f32(gw)[i]);
    CHECK(finite);
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(plain), px_tensor_free(infer);
    free_inputs(in);
    /* softmax is not elementwise */
    g = px_graph_new();
    px_node *x = px_constant(g, in[0] = px_gc_random(PX_SHAPE(B, T, F), -1, 1, 1));
    px_tensor *w = px_gc_random(PX_SHAPE(F, U), -1, 1, 2), *u = px_gc_random(PX_SHAPE(U, U), -1, 1, 3);
    CHECK(px_rnn_fused_ex(PX_RNN_SIMPLE, x, px_constant(g, w), px_constant(g, u), NULL, NULL,
                          &(px_rnn_fused_options){.activation = PX_SOFTMAX}) == NULL);
    CHECK_ERROR_HAS("elementwise");
    px_tensor_free(in[0]), px_tensor_free(w), px_tensor_free(u);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_agrees_with_fused_op);
    RUN_TEST(test_gradients);
    RUN_TEST(test_mask_keeps_state);
    RUN_TEST(test_dropout_training_only);
    return px_test_finish();
}
