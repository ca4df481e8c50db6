/* Lesson: logic gates from threshold units (Heaviside step) — NOT, OR, AND, NOR
 * with hand-set weights; XOR and XNOR need a hidden layer, wired or trained. */
#include <stdio.h>

#include <plexus/plexus.h>

static const float inputs[8] = {0, 0, 0, 1, 1, 0, 1, 1}; /* rows 00, 01, 10, 11 */

static int fail(const char *what) {
    fprintf(stderr, "lesson_logic_gates: %s: %s\n", what, px_last_error());
    return 1;
}

/* Runs a session whose feeds are (placeholder, values) pairs of the given shapes,
 * and copies the 4 outputs to out. */
static px_status run_fed(px_session *s, px_node **ph, const float *const *vals, int n, float out[4]) {
    px_tensor *t[8] = {0};
    px_feed feeds[8];
    px_status st = PX_OK;
    for (int i = 0; i < n && st == PX_OK; i++) {
        px_shape sh = px_node_shape(ph[i]);
        t[i] = px_tensor_from_array(sh, vals[i], px_shape_size(sh));
        if (!t[i]) st = px_last_status();
        feeds[i] = (px_feed){ph[i], t[i]};
    }
    if (st == PX_OK) st = px_session_run(s, feeds, n, NULL);
    for (int i = 0; st == PX_OK && i < 4; i++) out[i] = px_tensor_get_flat(px_session_fetch(s, 0), i);
    for (int i = 0; i < n; i++) px_tensor_free(t[i]);
    return st;
}

static int same(const float a[4], const float b[4]) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* A 2-2-1 network (tanh hidden, sigmoid output) trained on one truth table;
 * prints its hard outputs and probabilities. Returns 0 on success. */
static int train_gate(const char *name, const float target[4], uint64_t seed) {
    px_dataset *data = px_dataset_new(px_tensor_from_array(PX_SHAPE(4, 2), inputs, 8),
                                      px_tensor_from_array(PX_SHAPE(4, 1), target, 4));
    px_set_random_seed(seed);
    px_model *model = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(2), "x"), px_dense(2, PX_TANH), px_dense(1, PX_SIGMOID), NULL});
    if (!data || !model ||
        px_model_compile(model, &(px_compile_options){
            .loss = PX_BINARY_CROSSENTROPY, .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.05f})}) != PX_OK ||
        px_model_fit(model, data, &(px_fit_options){.epochs = 500, .batch_size = 4, .verbose = PX_VERBOSE_SILENT}) != PX_OK)
        return fail("training the 2-2-1 network");
    px_tensor *p = px_model_predict(model, data->x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    if (!p) return fail("predicting");
    printf("trained 2-2-1 %-4s:", name);
    for (int i = 0; i < 4; i++) printf(" %d", px_tensor_f32(p)[i] > 0.5f);
    printf("  (probabilities");
    for (int i = 0; i < 4; i++) printf(" %.3f", px_tensor_f32(p)[i]);
    printf(")\n");
    px_tensor_free(p);
    px_model_free(model);
    px_dataset_free(data);
    return 0;
}

int main(void) {
    px_graph *g = px_graph_new();
    px_tensor *xt = px_tensor_from_array(PX_SHAPE(4, 2), inputs, 8);
    if (!g || !xt) return fail("making the graph");
    px_node *x = px_constant(g, xt);
    px_tensor_free(xt);

    /* One threshold unit: step(x @ w + b). Its weights are placeholders, so one
     * compiled session evaluates any setting of them. */
    px_node *unit_ph[2] = {px_placeholder(g, PX_F32, PX_SHAPE(2, 1), "w"), px_placeholder(g, PX_F32, PX_SHAPE(1), "b")};
    px_node *unit = px_step(px_add(px_matmul(x, unit_ph[0]), unit_ph[1]));
    if (!unit) return fail("building the threshold unit");
    px_session *s1 = px_session_new(g, &unit, 1, NULL);
    if (!s1) return fail("compiling the threshold unit");

    struct { const char *name, *formula; float w[2], b; } gates[4] = {
        {"NOT x1", "step(1 - 2 x1)", {-2, 0}, 1},
        {"OR", "step(-0.5 + x1 + x2)", {1, 1}, -0.5f},
        {"AND", "step(-1.5 + x1 + x2)", {1, 1}, -1.5f},
        {"NOR", "step(0.5 - x1 - x2)", {-1, -1}, 0.5f}};
    float table[4][4];
    printf("one threshold unit, output = step(b + w1 x1 + w2 x2):\n");
    for (int k = 0; k < 4; k++) {
        printf("  %-6s = %s\n", gates[k].name, gates[k].formula);
        if (run_fed(s1, unit_ph, (const float *const[]){gates[k].w, &gates[k].b}, 2, table[k]) != PX_OK)
            return fail("running a gate");
    }
    printf("x1 x2 | NOT x1   OR  AND  NOR\n");
    for (int r = 0; r < 4; r++)
        printf(" %g  %g |   %g      %g    %g    %g\n", inputs[2 * r], inputs[2 * r + 1], table[0][r], table[1][r],
               table[2][r], table[3][r]);

    /* XOR is not linearly separable: no line splits {01, 10} from {00, 11}.
     * Trying every weight setting on a grid shows it (while AND and OR have many). */
    const float want_and[4] = {0, 0, 0, 1}, want_or[4] = {0, 1, 1, 1}, want_xor[4] = {0, 1, 1, 0},
                want_xnor[4] = {1, 0, 0, 1};
    int n_and = 0, n_or = 0, n_xor = 0, n_xnor = 0, tried = 0;
    for (float w1 = -2; w1 <= 2; w1 += 0.5f)
        for (float w2 = -2; w2 <= 2; w2 += 0.5f)
            for (float b = -2; b <= 2; b += 0.5f) {
                float w[2] = {w1, w2}, out[4];
                if (run_fed(s1, unit_ph, (const float *const[]){w, &b}, 2, out) != PX_OK) return fail("grid search");
                tried++;
                n_and += same(out, want_and);
                n_or += same(out, want_or);
                n_xor += same(out, want_xor);
                n_xnor += same(out, want_xnor);
            }
    printf("grid search over %d settings of w1, w2, b in -2..2 step 0.5: AND %d, OR %d, XOR %d, XNOR %d\n", tried,
           n_and, n_or, n_xor, n_xnor);

    /* Two layers of threshold units: XOR = AND(OR, NAND), XNOR = OR(AND, NOR). */
    px_node *net_ph[4] = {px_placeholder(g, PX_F32, PX_SHAPE(2, 2), "w1"), px_placeholder(g, PX_F32, PX_SHAPE(2), "b1"),
                          px_placeholder(g, PX_F32, PX_SHAPE(2, 1), "w2"), px_placeholder(g, PX_F32, PX_SHAPE(1), "b2")};
    px_node *hidden = px_step(px_add(px_matmul(x, net_ph[0]), net_ph[1]));
    px_node *net = px_step(px_add(px_matmul(hidden, net_ph[2]), net_ph[3]));
    px_session *s2 = net ? px_session_new(g, &net, 1, NULL) : NULL;
    if (!s2) return fail("building the two-layer network");
    /* w1 is (inputs, hidden units): column 0 is the first hidden unit */
    const float xor_w1[4] = {1, -1, 1, -1}, xor_b1[2] = {-0.5f, 1.5f}, xor_w2[2] = {1, 1}, xor_b2 = -1.5f;
    const float xnor_w1[4] = {1, -1, 1, -1}, xnor_b1[2] = {-1.5f, 0.5f}, xnor_w2[2] = {1, 1}, xnor_b2 = -0.5f;
    float out_xor[4], out_xnor[4];
    if (run_fed(s2, net_ph, (const float *const[]){xor_w1, xor_b1, xor_w2, &xor_b2}, 4, out_xor) != PX_OK ||
        run_fed(s2, net_ph, (const float *const[]){xnor_w1, xnor_b1, xnor_w2, &xnor_b2}, 4, out_xnor) != PX_OK)
        return fail("running the two-layer network");
    printf("two threshold layers: XOR  = AND(OR, NAND): %g %g %g %g\n", out_xor[0], out_xor[1], out_xor[2], out_xor[3]);
    printf("two threshold layers: XNOR = OR(AND, NOR):  %g %g %g %g\n", out_xnor[0], out_xnor[1], out_xnor[2],
           out_xnor[3]);
    px_session_free(s1);
    px_session_free(s2);
    px_graph_free(g);

    /* The step has no useful gradient, so a trained network uses smooth units. */
    if (train_gate("XOR", want_xor, 7) || train_gate("XNOR", want_xnor, 7)) return 1;
    return 0;
}
