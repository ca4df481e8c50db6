/* Sessions on a device (the reference device): results equal to the CPU's for
 * a small network trained by hand, ops the device lacks running on the CPU
 * with copies (an RNN, and any op the device is told to lack), a run recorded
 * and replayed while the plan is unchanged and forgotten when it changes,
 * dropout drawing the same units as on the CPU, batch normalization's
 * statistics back on the host. */
#include <string.h>

#include "backend/ref/ref.h"
#include "gradcheck.h"
#include "px_test.h"

typedef struct net {
    px_graph *g;
    px_node *x, *y, *w1, *b1, *w2, *out, *loss;
} net;

/* x (batch, 7) -> dense 9 relu -> dropout? -> matmul 3 -> softmax CE on int labels, mean */
static net make_net(bool dropout) {
    net n = {.g = px_graph_new()};
    px_graph_set_seed(n.g, 7);
    n.x = px_placeholder(n.g, PX_F32, PX_SHAPE(-1, 7), "x");
    n.y = px_placeholder(n.g, PX_I32, PX_SHAPE(-1), "y");
    px_tensor *w1 = px_gc_random(PX_SHAPE(7, 9), -0.5f, 0.5f, 1), *b1 = px_gc_random(PX_SHAPE(9), -0.1f, 0.1f, 2);
    px_tensor *w2 = px_gc_random(PX_SHAPE(9, 3), -0.5f, 0.5f, 3);
    n.w1 = px_variable(n.g, w1, "w1");
    n.b1 = px_variable(n.g, b1, "b1");
    n.w2 = px_variable(n.g, w2, "w2");
    px_node *h = px_dense_op(n.x, n.w1, n.b1, PX_RELU);
    if (dropout) h = px_dropout(h, 0.4f);
    n.out = px_matmul(h, n.w2);
    n.loss = px_mean_all(px_sparse_softmax_cross_entropy(n.out, n.y));
    px_tensor_free(w1);
    px_tensor_free(b1);
    px_tensor_free(w2);
    return n;
}

static px_tensor *labels(int64_t rows, uint64_t seed) {
    px_tensor *t = px_tensor_new(PX_I32, PX_SHAPE(rows));
    px_rng r = px_rng_seeded(seed);
    for (int64_t i = 0; t && i < rows; i++) px_tensor_i32(t)[i] = (int32_t)px_rng_below(&r, 3);
    return t;
}

/* Runs `steps` steps of plain gradient descent (on the host, from the session's
 * gradients) on `device`; returns the losses. */
static void train(const char *device, bool dropout, int steps, const int64_t *batches, double *losses) {
    net n = make_net(dropout);
    px_session *s = px_session_new(n.g, &n.loss, 1,
                                   &(px_session_options){.loss = n.loss, .training = true, .device = device});
    CHECK_NOT_NULL(s);
    for (int t = 0; s && t < steps; t++) {
        /* the same data for the same batch size, so the loss falls */
        px_tensor *x = px_gc_random(PX_SHAPE(batches[t], 7), -1, 1, 100 + (uint64_t)batches[t]),
                  *y = labels(batches[t], 200 + (uint64_t)batches[t]);
        px_feed f[2] = {{n.x, x}, {n.y, y}};
        CHECK_OK(px_session_run(s, f, 2, NULL));
        losses[t] = px_tensor_f32(px_session_fetch(s, 0))[0];
        int64_t np, nt;
        float *p = px_graph_params(n.g, &np, &nt);
        const float *gr = px_session_param_grads(s, NULL);
        for (int64_t i = 0; p && gr && i < nt; i++) p[i] -= 0.5f * gr[i];
        px_tensor_free(x);
        px_tensor_free(y);
    }
    px_session_free(s);
    px_graph_free(n.g);
}

static void check_same_training(const char *what, bool dropout, int steps, const int64_t *batches) {
    double cpu[16], ref[16];
    train("cpu", dropout, steps, batches, cpu);
    train("ref", dropout, steps, batches, ref);
    for (int t = 0; t < steps; t++)
        if (fabs(cpu[t] - ref[t]) > 1e-5 * (1 + fabs(cpu[t])))
            px_test_fail(__FILE__, __LINE__, "%s: step %d loss cpu %.9g, ref %.9g", what, t, cpu[t], ref[t]);
    CHECK(cpu[steps - 1] < cpu[0]); /* it learns */
}

static void test_training_matches_the_cpu(void) {
    const int64_t batches[8] = {5, 5, 5, 5, 3, 3, 5, 0};
    int before = px_ref_buffer_count();
    check_same_training("dense + matmul", false, 7, batches);
    check_same_training("with dropout", true, 7, batches); /* the same units are dropped on both */
    CHECK(px_ref_buffer_count() == before);
}

/* Ops the device lacks run on the CPU in between, with copies both ways; the
 * losses stay those of the CPU. Dense (a fused op whose gradients are stored
 * fresh) and the loss are taken off the device in turn. */
static void test_ops_the_device_lacks_run_on_the_cpu(void) {
    const int64_t batches[6] = {4, 4, 4, 2, 4, 4};
    px_kcode lack[3] = {PX_K_DENSE, PX_K_SPARSE_CE, PX_K_MATMUL};
    for (int i = 0; i < 3; i++) {
        px_ref_set_lacking(lack[i], true);
        check_same_training("with an op on the CPU", i == 1, 6, batches);
        px_ref_set_lacking(lack[i], false);
    }
}

/* An LSTM (no device kernel: it always falls back) inside a device graph. */
static void test_rnn_falls_back(void) {
    double loss[2];
    for (int d = 0; d < 2; d++) {
        px_graph *g = px_graph_new();
        px_tensor *xt = px_gc_random(PX_SHAPE(3, 4, 5), -1, 1, 9), *kt = px_gc_random(PX_SHAPE(5, 8), -0.5f, 0.5f, 10);
        px_tensor *rt = px_gc_random(PX_SHAPE(2, 8), -0.5f, 0.5f, 11), *bt = px_gc_random(PX_SHAPE(8), -0.1f, 0.1f, 12);
        px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(-1, 4, 5), "x"), *k = px_variable(g, kt, "k");
        px_node *r = px_variable(g, rt, "r"), *b = px_variable(g, bt, "b");
        px_node *h = px_rnn_state(px_rnn_fused(PX_RNN_LSTM, x, k, r, b, PX_RNN_FORWARD, false), 0);
        px_node *l = px_sum_all(px_square(px_relu(h)));
        px_session *s = px_session_new(g, &l, 1, &(px_session_options){.loss = l, .device = d ? "ref" : "cpu"});
        CHECK_OK(px_session_run(s, &(px_feed){x, xt}, 1, NULL));
        loss[d] = px_tensor_f32(px_session_fetch(s, 0))[0];
        const px_tensor *gk = px_session_gradient(s, k);
        CHECK(gk && isfinite(px_tensor_f32(gk)[0]));
        px_session_free(s);
        px_graph_free(g);
        px_tensor_free(xt);
        px_tensor_free(kt);
        px_tensor_free(rt);
        px_tensor_free(bt);
    }
    CHECK_NEAR(loss[1], loss[0], 1e-5 * (1 + fabs(loss[0])));
}

/* The second run of an unchanged plan is recorded and replayed, and later runs
 * replay it with new feed values; a new batch size re-plans and records anew. */
static void test_runs_are_recorded_and_replayed(void) {
    net n = make_net(false);
    px_session *s = px_session_new(n.g, &n.loss, 1, &(px_session_options){.loss = n.loss, .device = "ref"});
    px_session *c = px_session_new(n.g, &n.loss, 1, &(px_session_options){.loss = n.loss, .device = "cpu"});
    const int64_t batches[7] = {6, 6, 6, 6, 2, 2, 2};
    int replays0 = px_ref_replays();
    for (int t = 0; t < 7; t++) {
        px_tensor *x = px_gc_random(PX_SHAPE(batches[t], 7), -1, 1, 300 + t), *y = labels(batches[t], 400 + t);
        px_feed f[2] = {{n.x, x}, {n.y, y}};
        CHECK_OK(px_session_run(s, f, 2, NULL));
        CHECK_OK(px_session_run(c, f, 2, NULL));
        CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 0))[0], px_tensor_f32(px_session_fetch(c, 0))[0], 1e-5);
        const px_tensor *gs = px_session_gradient(s, n.w1), *gc = px_session_gradient(c, n.w1);
        CHECK(gs && gc && px_tensor_allclose(gs, gc, 1e-4f, 1e-6f));
        px_tensor_free(x);
        px_tensor_free(y);
    }
    /* batch 6: runs 2, 3, 4 replay (run 2 records); batch 2: runs 6, 7 replay */
    CHECK(px_ref_replays() - replays0 == 5);
    /* the host's parameters change: the next run uses the new values */
    px_tensor_f32(px_node_value(n.w2))[0] += 1.0f;
    px_tensor *x = px_gc_random(PX_SHAPE(2, 7), -1, 1, 500), *y = labels(2, 501);
    px_feed f[2] = {{n.x, x}, {n.y, y}};
    CHECK_OK(px_session_run(s, f, 2, NULL));
    CHECK_OK(px_session_run(c, f, 2, NULL));
    CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 0))[0], px_tensor_f32(px_session_fetch(c, 0))[0], 1e-5);
    px_tensor_free(x);
    px_tensor_free(y);
    px_session_free(s);
    px_session_free(c);
    px_graph_free(n.g);
}

/* In training the moving statistics are updated on the device and copied back:
 * the host's values are those the CPU computes. */
static void test_batch_norm_statistics_come_back(void) {
    float mean[2][4], var[2][4];
    for (int d = 0; d < 2; d++) {
        px_graph *g = px_graph_new();
        px_tensor *xt = px_gc_random(PX_SHAPE(6, 4), -2, 2, 21), *z = px_tensor_zeros(PX_SHAPE(4)),
                  *o = px_tensor_ones(PX_SHAPE(4));
        px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(-1, 4), "x");
        px_node *mm = px_variable(g, z, "mm"), *mv = px_variable(g, o, "mv");
        px_variable_set_trainable(mm, false);
        px_variable_set_trainable(mv, false);
        px_node *y = px_batch_norm(x, mm, mv, NULL, NULL, 0.9f, 1e-3f);
        px_session *s = px_session_new(g, &y, 1, &(px_session_options){.training = true, .device = d ? "ref" : "cpu"});
        for (int t = 0; t < 3; t++) CHECK_OK(px_session_run(s, &(px_feed){x, xt}, 1, NULL));
        memcpy(mean[d], px_tensor_f32(px_node_value(mm)), sizeof mean[d]);
        memcpy(var[d], px_tensor_f32(px_node_value(mv)), sizeof var[d]);
        px_session_free(s);
        px_graph_free(g);
        px_tensor_free(xt);
        px_tensor_free(z);
        px_tensor_free(o);
    }
    for (int j = 0; j < 4; j++) {
        CHECK_NEAR(mean[1][j], mean[0][j], 1e-6);
        CHECK_NEAR(var[1][j], var[0][j], 1e-6);
        CHECK(mean[0][j] != 0.0f);
    }
}

int main(void) {
    RUN_TEST(test_training_matches_the_cpu);
    RUN_TEST(test_ops_the_device_lacks_run_on_the_cpu);
    RUN_TEST(test_rnn_falls_back);
    RUN_TEST(test_runs_are_recorded_and_replayed);
    RUN_TEST(test_batch_norm_statistics_come_back);
    return px_test_finish();
}
