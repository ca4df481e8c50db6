/* Runs PyTorch fixtures of convolution-family ops through a session and
 * compares outputs, gradients and updated variables. */
#include <stdio.h>
#include <string.h>

#include "data/conv_family_fixtures.h"
#include "fixture_check.h"
#include "px_test.h"

const int PX_FIXTURE_COUNT = PX_FAMILY_FIXTURE_COUNT;
const px_fixture *px_fixture_at(int i) { return &px_family_fixtures[i]; }

const px_fix_array *px_fix_get(const px_fixture *f, const char *name) {
    for (int i = 0; i < f->n_arrays; i++)
        if (strcmp(f->arrays[i].name, name) == 0) return &f->arrays[i];
    return NULL;
}

static px_shape shape_of(const px_fix_array *a) {
    px_shape s = {.rank = a->rank};
    for (int i = 0; i < a->rank; i++) s.dim[i] = a->shape[i];
    return s;
}

px_tensor *px_fix_tensor(const px_fix_array *a) {
    return px_tensor_from_array(shape_of(a), a->v, px_shape_size(shape_of(a)));
}

static int compare(const px_fixture *f, const char *what, const px_tensor *got, const char *name) {
    const px_fix_array *a = px_fix_get(f, name);
    if (!a) return 0;
    px_tensor *want = px_fix_tensor(a);
    bool ok = got && want && px_tensor_allclose(got, want, 1e-4f, 1e-5f);
    if (!ok) {
        double worst = 0;
        int64_t at = -1;
        for (int64_t i = 0; got && want && i < px_tensor_size(want) && i < px_tensor_size(got); i++) {
            double d = fabs((double)px_tensor_get_flat(got, i) - px_tensor_get_flat(want, i));
            if (d > worst) worst = d, at = i;
        }
        fprintf(stderr, "  fixture %s: %s differs (%s; largest difference %g at %lld)\n", f->name, what,
                got ? "values" : px_last_error(), worst, (long long)at);
    }
    px_tensor_free(want);
    return ok ? 0 : 1;
}

int px_fix_check(const px_fixture *f, const char *const *inputs, int n_inputs, px_gc_builder build, bool training) {
    int bad = 0;
    px_graph *g = px_graph_new();
    px_node *vars[8] = {0}, *wrt[8];
    px_tensor *held[8] = {0};
    int nw = 0;
    for (int i = 0; i < n_inputs && i < 8; i++) {
        const px_fix_array *a = px_fix_get(f, inputs[i]);
        if (!a) continue;
        held[i] = px_fix_tensor(a);
        vars[i] = px_variable(g, held[i], inputs[i]);
        wrt[nw++] = vars[i];
    }
    px_node *y = build(vars, (void *)f);
    const px_fix_array *r = px_fix_get(f, "r");
    px_tensor *tr = r ? px_fix_tensor(r) : NULL;
    px_node *loss = y && tr ? px_sum_all(px_mul(y, px_constant(g, tr))) : NULL;
    px_session *s = loss ? px_session_new(g, &y, 1,
                                          &(px_session_options){.loss = loss, .wrt = wrt, .n_wrt = nw, .training = training})
                         : NULL;
    if (!s || px_session_run(s, NULL, 0, NULL) != PX_OK) {
        fprintf(stderr, "  fixture %s: %s\n", f->name, px_last_error());
        bad++;
    } else {
        bad += compare(f, "y", px_session_fetch(s, 0), "y");
        for (int i = 0; i < n_inputs && i < 8; i++) {
            if (!vars[i]) continue;
            char name[64];
            snprintf(name, sizeof name, "d%s", inputs[i]);
            bad += compare(f, name, px_session_gradient(s, vars[i]), name);
            snprintf(name, sizeof name, "new_%s", inputs[i]);
            bad += compare(f, name, px_node_value(vars[i]), name);
        }
    }
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(tr);
    for (int i = 0; i < 8; i++) px_tensor_free(held[i]);
    return bad;
}

int px_fix_check_all(const char *op, const char *const *inputs, int n_inputs, px_gc_builder build, bool training) {
    int n = 0;
    for (int i = 0; i < PX_FAMILY_FIXTURE_COUNT; i++) {
        const px_fixture *f = &px_family_fixtures[i];
        if (strcmp(f->op, op) != 0) continue;
        n++;
        CHECK(px_fix_check(f, inputs, n_inputs, build, training) == 0);
    }
    return n;
}
