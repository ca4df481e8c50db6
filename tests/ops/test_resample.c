/* Padding / cropping, repeat and bilinear resize ops: PyTorch fixtures (F.pad,
 * repeat_interleave, F.interpolate), finite-difference checks, errors. */
#include <string.h>

#include "fixture_check.h"
#include "px_test.h"

static px_node *fix_pad(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    int64_t before[8], after[8];
    for (int i = 0; i < f->p[0]; i++) before[i] = f->p[1 + 2 * i], after[i] = f->p[2 + 2 * i];
    return px_pad(v[0], before, after);
}
static px_node *fix_repeat(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_repeat(v[0], f->p[0], f->p[1]);
}
static px_node *fix_resize(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_resize_bilinear(v[0], f->p[0], f->p[1]);
}

static void test_against_torch(void) {
    const char *x[] = {"x"};
    CHECK(px_fix_check_all("pad", x, 1, fix_pad, false) == 4);
    CHECK(px_fix_check_all("repeat", x, 1, fix_repeat, false) == 2);
    CHECK(px_fix_check_all("resize_bilinear", x, 1, fix_resize, false) == 3);
}

typedef struct resample_case {
    int kind; /* 0 pad, 1 repeat, 2 resize */
    int64_t before[4], after[4];
    int axis, times, oh, ow;
} resample_case;

static px_node *build(px_node *const *v, void *ctx) {
    const resample_case *c = ctx;
    if (c->kind == 0) return px_pad(v[0], c->before, c->after);
    if (c->kind == 1) return px_repeat(v[0], c->axis, c->times);
    return px_resize_bilinear(v[0], c->oh, c->ow);
}

static void test_gradcheck(void) {
    const resample_case cases[] = {
        {.kind = 0, .before = {0, 2, 0, 0}, .after = {0, 1, 3, 0}},
        {.kind = 0, .before = {0, -1, -2, 0}, .after = {0, -1, 0, 1}},
        {.kind = 1, .axis = 1, .times = 3},
        {.kind = 1, .axis = -2, .times = 2},
        {.kind = 2, .oh = 8, .ow = 3},
        {.kind = 2, .oh = 3, .ow = 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        px_tensor *x = px_gc_random(PX_SHAPE(2, 4, 3, 2), -1, 1, 60 + i);
        char label[64];
        snprintf(label, sizeof label, "resample case %zu", i);
        CHECK(px_gradcheck(label, build, (void *)&cases[i], &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(x);
    }
}

static void test_values_and_errors(void) {
    px_graph *g = px_graph_new_eager();
    const float v[6] = {1, 2, 3, 4, 5, 6};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(1, 2, 3, 1), v, 6);
    px_node *x = px_constant(g, t);
    /* a zero column before, the first row cropped */
    px_node *p = px_pad(x, (int64_t[]){0, -1, 1, 0}, (int64_t[]){0, 0, 0, 0});
    CHECK(p && px_node_shape(p).dim[1] == 1 && px_node_shape(p).dim[2] == 4);
    const float want_p[4] = {0, 4, 5, 6};
    for (int i = 0; p && i < 4; i++) CHECK_NEAR(px_tensor_f32(px_node_value(p))[i], want_p[i], 0);
    /* 2x nearest along the width: 1 1 2 2 3 3 */
    px_node *r = px_repeat(x, 2, 2);
    CHECK(r && px_node_shape(r).dim[2] == 6 && px_tensor_f32(px_node_value(r))[3] == 2);
    /* 1x2 -> 1x4 bilinear: positions -0.25, 0.25, 0.75, 1.25 clamp to 1, 1.25, 1.75, 2 */
    px_tensor *t2 = px_tensor_from_array(PX_SHAPE(1, 1, 2, 1), v, 2);
    px_node *b = px_resize_bilinear(px_constant(g, t2), 1, 4);
    const float want_b[4] = {1, 1.25f, 1.75f, 2};
    for (int i = 0; b && i < 4; i++) CHECK_NEAR(px_tensor_f32(px_node_value(b))[i], want_b[i], 1e-6);
    CHECK(px_pad(x, (int64_t[]){0, -1, 0, 0}, (int64_t[]){0, -1, 0, 0}) == NULL);
    CHECK_ERROR_HAS("pad: axis 1 of input (1, 2, 3, 1) has 2 elements; -1 before and -1 after leave none");
    /* an empty batch pads to an empty batch */
    px_tensor *none = px_tensor_zeros(PX_SHAPE(0, 2, 3, 1));
    px_node *pn = px_pad(px_constant(g, none), (int64_t[]){0, 1, 0, 0}, (int64_t[]){0, 1, 0, 0});
    CHECK(pn && px_node_shape(pn).dim[0] == 0 && px_node_shape(pn).dim[1] == 4);
    CHECK(pn && px_node_value(pn) && px_tensor_size(px_node_value(pn)) == 0);
    px_tensor_free(none);
    CHECK(px_repeat(x, 4, 2) == NULL);
    CHECK_ERROR_HAS("repeat: axis 4");
    CHECK(px_resize_bilinear(x, 0, 2) == NULL);
    CHECK_ERROR_HAS("resize_bilinear: output size (0, 2)");
    px_tensor_free(t);
    px_tensor_free(t2);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_against_torch);
    RUN_TEST(test_gradcheck);
    RUN_TEST(test_values_and_errors);
    return px_test_finish();
}
