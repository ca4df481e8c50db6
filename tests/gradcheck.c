/* Finite-difference gradient checks for graph and eager mode. */
#include <stdio.h>
#include <stdlib.h>

#include "gradcheck.h"
#include "px_test.h"

px_tensor *px_gc_random(px_shape shape, float lo, float hi, uint64_t seed) {
    px_rng r = px_rng_seeded(seed);
    return px_tensor_random_uniform(shape, lo, hi, &r);
}

static double weighted_sum(const px_tensor *y, const px_tensor *r) {
    double s = 0;
    for (int64_t i = 0, n = px_tensor_size(y); i < n; i++)
        s += (double)px_tensor_get_flat(y, i) * px_tensor_get_flat(r, i);
    return s;
}

/* Gradients from an eager graph built the same way; NULL entries where skipped. */
static int eager_grads(px_gc_builder build, void *ctx, px_tensor *const *inputs, int n,
                       const px_tensor *r, px_tensor **out) {
    px_graph *g = px_graph_new_eager();
    px_node **vars = calloc((size_t)n, sizeof *vars);
    int ok = 0;
    for (int i = 0; i < n; i++)
        vars[i] = inputs[i]->dtype == PX_F32 ? px_variable(g, inputs[i], NULL) : px_constant(g, inputs[i]);
    px_node *y = build(vars, ctx);
    px_node *loss = px_sum_all(px_mul(y, px_constant(g, r)));
    if (loss && px_eager_gradients(g, loss, vars, n, out) == PX_OK) ok = 1;
    else fprintf(stderr, "  eager gradient failed: %s\n", px_last_error());
    free(vars);
    px_graph_free(g);
    return ok;
}

int px_gradcheck(const char *label, px_gc_builder build, void *ctx, px_tensor *const *inputs,
                 int n_inputs, const bool *skip, double eps, double rtol, double atol) {
    int bad = 0;
    px_graph *g = px_graph_new();
    px_node **vars = calloc((size_t)n_inputs, sizeof *vars);
    px_tensor **eg = calloc((size_t)n_inputs, sizeof *eg);
    for (int i = 0; i < n_inputs; i++)
        vars[i] = inputs[i]->dtype == PX_F32 ? px_variable(g, inputs[i], NULL) : px_constant(g, inputs[i]);
    px_node *y = build(vars, ctx);
    if (!y) {
        fprintf(stderr, "gradcheck %s: building failed: %s\n", label, px_last_error());
        bad = 1;
        goto out;
    }
    px_shape ys = px_node_shape(y);
    px_tensor *r = px_gc_random(ys, -1.0f, 1.0f, 99);
    px_node *loss = px_sum_all(px_mul(y, px_constant(g, r)));
    int nw = 0;
    px_node **wrt = calloc((size_t)n_inputs, sizeof *wrt);
    for (int i = 0; i < n_inputs; i++)
        if (px_node_get_kind(vars[i]) == PX_NODE_VARIABLE && !(skip && skip[i])) wrt[nw++] = vars[i];
    px_session *train = px_session_new(g, &y, 1, &(px_session_options){.loss = loss, .wrt = wrt, .n_wrt = nw});
    px_session *fwd = px_session_new(g, &y, 1, NULL);
    /* the second run reads gradients from reused buffers: a missed zeroing shows */
    if (!train || !fwd || px_session_run(train, NULL, 0, NULL) != PX_OK || px_session_run(train, NULL, 0, NULL) != PX_OK) {
        fprintf(stderr, "gradcheck %s: session failed: %s\n", label, px_last_error());
        bad = 1;
    } else if (!eager_grads(build, ctx, inputs, n_inputs, r, eg)) {
        bad = 1;
    } else {
        for (int i = 0; i < n_inputs; i++) {
            if (px_node_get_kind(vars[i]) != PX_NODE_VARIABLE || (skip && skip[i])) continue;
            const px_tensor *ga = px_session_gradient(train, vars[i]);
            px_tensor *gcopy = ga ? px_tensor_copy(ga) : px_tensor_zeros(px_node_shape(vars[i]));
            float *v = px_tensor_f32(px_node_value(vars[i]));
            for (int64_t j = 0, n = px_tensor_size(gcopy); j < n; j++) {
                float saved = v[j];
                v[j] = saved + (float)eps;
                double up = (px_session_run(fwd, NULL, 0, NULL), weighted_sum(px_session_fetch(fwd, 0), r));
                v[j] = saved - (float)eps;
                double down = (px_session_run(fwd, NULL, 0, NULL), weighted_sum(px_session_fetch(fwd, 0), r));
                v[j] = saved;
                double step = ((double)(saved + (float)eps) - (double)(saved - (float)eps));
                double fd = (up - down) / step;
                double an = px_tensor_get_flat(gcopy, j), ea = px_tensor_get_flat(eg[i], j);
                double tol = atol + rtol * fabs(fd);
                if (fabs(an - fd) > tol || fabs(ea - fd) > tol) {
                    if (bad < 10)
                        fprintf(stderr, "gradcheck %s: input %d element %lld: graph %.7g, eager %.7g, finite difference %.7g\n",
                                label, i, (long long)j, an, ea, fd);
                    bad++;
                }
            }
            px_tensor_free(gcopy);
        }
    }
    px_session_free(train);
    px_session_free(fwd);
    free(wrt);
    px_tensor_free(r);
out:
    for (int i = 0; i < n_inputs; i++) px_tensor_free(eg[i]);
    free(eg);
    free(vars);
    px_graph_free(g);
    if (bad) fprintf(stderr, "gradcheck %s: %d mismatches\n", label, bad);
    return bad;
}

/* y and every input's gradient on `threads` threads (outs[0] = y, outs[1 + i] = dinput i). */
static void run_threads(int threads, px_gc_builder build, void *ctx, px_tensor *const *inputs, int n, px_tensor **outs) {
    px_set_num_threads(threads);
    px_graph *g = px_graph_new();
    px_node **vars = calloc((size_t)n, sizeof *vars);
    for (int i = 0; i < n; i++) vars[i] = px_variable(g, inputs[i], NULL);
    px_node *y = build(vars, ctx);
    px_tensor *r = y ? px_gc_random(px_node_shape(y), -1, 1, 74) : NULL;
    px_session *s = y ? px_session_new(g, &y, 1, &(px_session_options){.loss = px_sum_all(px_mul(y, px_constant(g, r)))}) : NULL;
    if (s && px_session_run(s, NULL, 0, NULL) == PX_OK) {
        outs[0] = px_tensor_copy(px_session_fetch(s, 0));
        for (int i = 0; i < n; i++) outs[1 + i] = px_tensor_copy(px_session_gradient(s, vars[i]));
    }
    px_session_free(s);
    px_tensor_free(r);
    free(vars);
    px_graph_free(g);
}

int px_gc_threads_agree(const char *label, px_gc_builder build, void *ctx, px_tensor *const *inputs, int n_inputs) {
    int before = px_num_threads(), bad = 0;
    px_tensor **one = calloc((size_t)n_inputs + 1, sizeof *one), **two = calloc((size_t)n_inputs + 1, sizeof *two);
    run_threads(1, build, ctx, inputs, n_inputs, one);
    run_threads(2, build, ctx, inputs, n_inputs, two);
    for (int i = 0; i <= n_inputs; i++) {
        if (!one[i] || !two[i] || !px_tensor_allclose(two[i], one[i], 1e-5f, 1e-5f)) {
            fprintf(stderr, "threads %s: %s differs between one and two threads\n", label, i ? "a gradient" : "the output");
            bad++;
        }
        px_tensor_free(one[i]);
        px_tensor_free(two[i]);
    }
    free(one);
    free(two);
    px_set_num_threads(before);
    return bad;
}
