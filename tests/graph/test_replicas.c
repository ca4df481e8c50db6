/* A session run as one replica (src/graph/replicas.h): every trainable
 * variable's gradient range is reported exactly once per run, the last layer's
 * before the first layer's (as soon as its last writer ran), variables the loss
 * does not reach before the backward pass, frozen ones never; the loss
 * gradient starts at the replica's share, so every gradient scales by it. */
#include <stdlib.h>
#include <string.h>

#include "graph/replicas.h"
#include "px_test.h"

typedef struct report {
    int n;
    int64_t offset[16], count[16];
} report;

static void record(void *ctx, float *block, int64_t offset, int64_t count) {
    report *r = ctx;
    (void)block;
    if (r->n < 16) {
        r->offset[r->n] = offset;
        r->count[r->n] = count;
    }
    r->n++;
}

static px_node *var(px_graph *g, px_shape s, float v, const char *name) {
    px_tensor *t = px_tensor_zeros(s);
    for (int64_t i = 0; i < px_tensor_size(t); i++) px_tensor_f32(t)[i] = v * (float)(1 + i % 5) * (i % 2 ? -1 : 1);
    px_node *n = px_variable(g, t, name);
    px_tensor_free(t);
    return n;
}

static void test_gradients_reported_once_last_layer_first(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 3), "x");
    px_node *w1 = var(g, PX_SHAPE(3, 5), 0.3f, "w1"), *b1 = var(g, PX_SHAPE(5), 0.1f, "b1");
    px_node *w2 = var(g, PX_SHAPE(5, 2), 0.2f, "w2"), *b2 = var(g, PX_SHAPE(2), 0.05f, "b2");
    px_node *unused = var(g, PX_SHAPE(4), 1.0f, "unused");
    px_node *frozen = var(g, PX_SHAPE(2), 0.5f, "frozen");
    px_variable_set_trainable(frozen, false);
    px_node *h = px_relu(px_add(px_matmul(x, w1), b1));
    px_node *y = px_add(px_add(px_matmul(h, w2), b2), frozen);
    px_node *loss = px_mean_all(px_square(y));
    CHECK_NOT_NULL(loss);
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
    CHECK_NOT_NULL(s);
    float xv[12] = {1, -2, 0.5f, 0.3f, 1, -1, 2, 0.1f, -0.4f, -1, 1, 1};
    px_tensor *xt = px_tensor_from_array(PX_SHAPE(4, 3), xv, 12);
    px_feed feed = {x, xt};

    /* alone: the reference gradients */
    CHECK_OK(px_session_run(s, &feed, 1, NULL));
    int64_t n = 0;
    const float *gref = px_session_param_grads(s, &n);
    CHECK(n == 15 + 5 + 10 + 2 + 4);
    float *ref = malloc((size_t)n * sizeof *ref);
    memcpy(ref, gref, (size_t)n * sizeof *ref);

    report r = {0};
    px_replica_hooks hooks = {.rank = 0, .size = 4, .loss_share = 0.25f, .ctx = &r, .grads_ready = record};
    px_session_set_replicas(s, &hooks);
    CHECK_OK(px_session_run(s, &feed, 1, NULL));
    CHECK(r.n == 5); /* w1, b1, w2, b2, unused; not the frozen one */
    /* each trainable range once, covering the block */
    int64_t covered = 0;
    for (int i = 0; i < r.n && i < 16; i++) covered += r.count[i];
    CHECK(covered == n);
    int at_unused = -1, at_w1 = -1, at_w2 = -1, at_b2 = -1;
    for (int i = 0; i < r.n && i < 16; i++) {
        if (r.offset[i] == px_variable_offset(unused)) at_unused = i;
        if (r.offset[i] == px_variable_offset(w1)) at_w1 = i;
        if (r.offset[i] == px_variable_offset(w2)) at_w2 = i;
        if (r.offset[i] == px_variable_offset(b2)) at_b2 = i;
    }
    CHECK(at_unused == 0);                       /* no gradient to wait for */
    CHECK(at_b2 > 0 && at_w2 > 0 && at_w1 > at_w2 && at_w1 > at_b2); /* last layer first */
    /* the share scales every gradient (by a power of two: exactly) */
    const float *gs = px_session_param_grads(s, NULL);
    bool scaled = true;
    for (int64_t i = 0; i < n; i++) scaled = scaled && gs[i] == 0.25f * ref[i];
    CHECK(scaled);

    /* alone again: no reports, gradients as before */
    px_session_set_replicas(s, NULL);
    r.n = 0;
    CHECK_OK(px_session_run(s, &feed, 1, NULL));
    CHECK(r.n == 0);
    CHECK(memcmp(px_session_param_grads(s, NULL), ref, (size_t)n * sizeof *ref) == 0);
    free(ref);
    px_tensor_free(xt);
    px_session_free(s);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_gradients_reported_once_last_layer_first);
    return px_test_finish();
}
