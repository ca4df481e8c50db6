/* Gradient buckets (src/dist/buckets.c): as variables are reported final from
 * the end of the block down, the sum of the finished part starts each time it
 * has grown by a bucket; the rest starts at the end; out-of-order reports wait
 * for the gap to close. A fake all-reduce records what was started. */
#include "dist/buckets.h"
#include "px_test.h"

typedef struct started {
    int n;
    int64_t offset[8], count[8];
    float *base;
} started;

static px_status fake_start(void *ctx, float *buf, int64_t count) {
    started *s = ctx;
    if (s->n < 8) {
        s->offset[s->n] = buf - s->base;
        s->count[s->n] = count;
    }
    s->n++;
    return PX_OK;
}
static void fake_progress(void *ctx) { (void)ctx; }
static px_status fake_wait(void *ctx) { return (void)ctx, PX_OK; }

static px_node *var(px_graph *g, int64_t n, const char *name) {
    px_tensor *t = px_tensor_zeros(PX_SHAPE(n));
    px_node *v = px_variable(g, t, name);
    px_tensor_free(t);
    return v;
}

#define READY(v, n, now) px_buckets_ready(&bk, &ar, block, px_variable_offset(v), n, now)

static void test_buckets_follow_the_backward_pass(void) {
    px_graph *g = px_graph_new();
    /* block: a [0,100) b [100,110) c [110,410) d [410,415) e [415,1415) */
    px_node *a = var(g, 100, "a"), *b = var(g, 10, "b"), *c = var(g, 300, "c"), *d = var(g, 5, "d"), *e = var(g, 1000, "e");
    px_node *frozen = var(g, 7, "frozen");
    px_variable_set_trainable(frozen, false);
    px_buckets bk = {0};
    CHECK_OK(px_buckets_build(&bk, g, 400)); /* 100 floats */
    CHECK(bk.n_vars == 5 && bk.n_trainable == 1415);
    float block[1415];
    started s = {.base = block};
    px_allreduce_ops ar = {.ctx = &s, .start = fake_start, .progress = fake_progress, .wait_all = fake_wait};

    CHECK_OK(READY(d, 5, true));
    CHECK(s.n == 0); /* e, above d, is not final: nothing contiguous from the end */
    CHECK_OK(READY(e, 1000, true));
    CHECK(s.n == 1 && s.offset[0] == 410 && s.count[0] == 1005);
    CHECK_OK(READY(b, 10, true));
    CHECK(s.n == 1); /* c is missing between them */
    CHECK_OK(READY(c, 300, true));
    CHECK(s.n == 2 && s.offset[1] == 100 && s.count[1] == 310);
    CHECK_OK(READY(a, 100, true));
    CHECK(s.n == 3 && s.offset[2] == 0 && s.count[2] == 100); /* 100 floats: a bucket's worth */
    CHECK_OK(px_buckets_start_rest(&bk, &ar, block));
    CHECK(s.n == 3 && bk.n_started == 3 && bk.last_count == 100);
    CHECK(READY(a, 100, true) == PX_ERR_STATE); /* twice in one run */

    /* a new run, not overlapped: one sum of everything at the end */
    px_buckets_reset(&bk);
    s.n = 0;
    CHECK_OK(READY(e, 1000, false));
    CHECK(s.n == 0);
    CHECK_OK(px_buckets_start_rest(&bk, &ar, block));
    CHECK(s.n == 1 && s.offset[0] == 0 && s.count[0] == 1415 && bk.last_count == 1415);
    /* a range that is no trainable variable is an error, not a silent miscount */
    CHECK(px_buckets_ready(&bk, &ar, block, 1415, 7, true) == PX_ERR_STATE);
    CHECK(px_buckets_ready(&bk, &ar, block, 100, 5, true) == PX_ERR_STATE);

    /* the default size: a sixteenth of the block, at least 64 KiB */
    CHECK_OK(px_buckets_build(&bk, g, 0));
    CHECK(bk.floats == 16384);
    px_buckets_free(&bk);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_buckets_follow_the_backward_pass);
    return px_test_finish();
}
