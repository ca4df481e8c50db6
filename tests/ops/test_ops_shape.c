/* Shape ops (reshape, transpose, concat, slice): values, gradients in graph and
 * eager mode, unknown batch sizes, error messages; and the Graphviz export. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "px_test.h"

/* 0, 1, 2, ... in the given shape, so every element tells where it came from. */
static px_tensor *iota(px_shape s) {
    px_tensor *t = px_tensor_zeros(s);
    for (int64_t i = 0, n = px_tensor_size(t); i < n; i++) px_tensor_f32(t)[i] = (float)i;
    return t;
}

/* Runs one node of a deferred graph without feeds; the caller frees the result. */
static px_tensor *eval(px_node *n) {
    px_tensor *out = NULL;
    if (!n || px_run(px_node_graph(n), &n, 1, NULL, 0, &out) != PX_OK) return NULL;
    return out;
}

static void check_values(const px_tensor *t, px_shape want_shape, const float *want) {
    CHECK_NOT_NULL(t);
    if (!t) return;
    CHECK(px_shape_equal(px_tensor_shape(t), want_shape));
    int64_t n = px_shape_size(want_shape), bad = 0;
    for (int64_t i = 0; i < n && i < px_tensor_size(t); i++) bad += px_tensor_get_flat(t, i) != want[i];
    CHECK(bad == 0);
}

/* ------------------------------------------------------------ reshape ---- */

static void test_reshape_values(void) {
    px_graph *g = px_graph_new();
    px_tensor *v = iota(PX_SHAPE(2, 3, 4));
    px_node *x = px_constant(g, v);
    px_node *a = px_reshape(x, PX_SHAPE(4, -1));
    CHECK(px_shape_equal(px_node_shape(a), PX_SHAPE(4, 6)));
    px_node *b = px_reshape(x, PX_SHAPE(-1));
    CHECK(px_shape_equal(px_node_shape(b), PX_SHAPE(24)));
    px_node *c = px_reshape(px_reshape(x, PX_SHAPE(6, 4)), PX_SHAPE(2, -1, 3)); /* alias of an alias */
    CHECK(px_shape_equal(px_node_shape(c), PX_SHAPE(2, 4, 3)));
    px_tensor *ta = eval(a), *tb = eval(b), *tc = eval(c);
    check_values(ta, PX_SHAPE(4, 6), px_tensor_f32(v));
    check_values(tb, PX_SHAPE(24), px_tensor_f32(v));
    check_values(tc, PX_SHAPE(2, 4, 3), px_tensor_f32(v));
    /* a scalar and back */
    px_node *s = px_reshape(px_reshape(px_constant_scalar(g, 5.0f), PX_SHAPE(1, 1)), PX_SCALAR);
    px_tensor *ts = eval(s);
    check_values(ts, PX_SCALAR, (const float[]){5});
    /* an op reading the alias, and the alias feeding an op whose output is fetched */
    px_node *d = px_add_scalar(px_reshape(px_add_scalar(x, 1.0f), PX_SHAPE(-1, 2)), 1.0f);
    px_tensor *td = eval(d);
    float want[24];
    for (int i = 0; i < 24; i++) want[i] = (float)i + 2;
    check_values(td, PX_SHAPE(12, 2), want);
    px_tensor_free(ta), px_tensor_free(tb), px_tensor_free(tc), px_tensor_free(ts), px_tensor_free(td);
    px_tensor_free(v);
    px_graph_free(g);
}

static void test_reshape_eager_copies(void) {
    px_graph *g = px_graph_new_eager();
    px_tensor *v = iota(PX_SHAPE(3, 4));
    px_node *x = px_variable(g, v, "x");
    px_node *y = px_reshape(x, PX_SHAPE(2, -1, 2));
    CHECK_NOT_NULL(y);
    check_values(px_node_value(y), PX_SHAPE(2, 3, 2), px_tensor_f32(v));
    /* eager values own their memory: writing the variable does not change y */
    CHECK(px_node_value(y)->data != px_node_value(x)->data);
    px_tensor_f32(px_node_value(x))[0] = 100;
    CHECK(px_tensor_f32(px_node_value(y))[0] == 0);
    px_tensor_free(v);
    px_graph_free(g);
}

static void test_reshape_unknown_batch(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 28, 28), "images");
    px_node *flat = px_reshape(x, PX_SHAPE(-1, 784));
    CHECK_NOT_NULL(flat);
    CHECK(px_shape_equal(px_node_shape(flat), PX_SHAPE(PX_UNKNOWN, 784)));
    px_node *doubled = px_scale(flat, 2.0f);
    px_node *back = px_reshape(doubled, PX_SHAPE(-1, 28, 28));
    CHECK(px_shape_equal(px_node_shape(back), PX_SHAPE(PX_UNKNOWN, 28, 28)));
    /* a fixed target that no batch size fits is refused while building */
    CHECK(px_reshape(x, PX_SHAPE(10, 100)) == NULL);
    CHECK_ERROR_HAS("cannot reshape (None, 28, 28) (a multiple of 784 elements) into (10, 100)");
    px_node *fetch[3] = {flat, doubled, back};
    px_session *s = px_session_new(g, fetch, 3, NULL);
    CHECK_NOT_NULL(s);
    const int batches[4] = {3, 5, 1, 4};
    for (int b = 0; b < 4; b++) {
        px_tensor *in = iota(PX_SHAPE(batches[b], 28, 28));
        CHECK_OK(px_session_run(s, &(px_feed){x, in}, 1, NULL));
        const px_tensor *f = px_session_fetch(s, 0), *d = px_session_fetch(s, 1), *k = px_session_fetch(s, 2);
        CHECK(px_shape_equal(px_tensor_shape(f), PX_SHAPE(batches[b], 784)));
        CHECK(px_shape_equal(px_tensor_shape(k), PX_SHAPE(batches[b], 28, 28)));
        /* on the CPU the reshape of a fed value is the fed memory itself, not a
         * copy (a device has copied the feed into its own memory) */
        if (strcmp(px_session_device(s), "cpu") == 0) CHECK(f->data == in->data);
        int64_t last = (int64_t)batches[b] * 784 - 1;
        CHECK(px_tensor_f32(f)[last] == (float)last);
        CHECK(px_tensor_f32(d)[last] == 2.0f * (float)last);
        CHECK(px_tensor_f32(k)[last] == 2.0f * (float)last);
        px_tensor_free(in);
    }
    px_session_free(s);

    /* with a target the run's element count does not fit, the run fails and says why */
    px_node *rows = px_reshape(x, PX_SHAPE(-1, 100));
    CHECK(px_shape_equal(px_node_shape(rows), PX_SHAPE(PX_UNKNOWN, 100)));
    px_tensor *in = px_tensor_zeros(PX_SHAPE(3, 28, 28)), *out = NULL;
    CHECK(px_run(g, &rows, 1, &(px_feed){x, in}, 1, &out) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("reshape: cannot reshape (3, 28, 28) (2352 elements) into (-1, 100)");
    CHECK(out == NULL);
    px_tensor_free(in);
    in = px_tensor_zeros(PX_SHAPE(25, 28, 28)); /* 19600 elements: 196 rows */
    CHECK_OK(px_run(g, &rows, 1, &(px_feed){x, in}, 1, &out));
    CHECK(out && px_shape_equal(px_tensor_shape(out), PX_SHAPE(196, 100)));
    px_tensor_free(out);
    px_tensor_free(in);
    px_graph_free(g);
}

/* Gradients flow through an aliased reshape into a trained variable. */
static void test_reshape_gradient_in_session(void) {
    px_graph *g = px_graph_new();
    px_tensor *wv = iota(PX_SHAPE(2, 3));
    px_node *w = px_variable(g, wv, "w");
    px_node *r = px_reshape(w, PX_SHAPE(3, 2));
    px_node *coef = px_constant(g, wv); /* w viewed (3, 2) times 0..5 as (3, 2) */
    px_node *loss = px_sum_all(px_mul(r, px_reshape(coef, PX_SHAPE(3, 2))));
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 0))[0], 55, 0); /* 0^2 + ... + 5^2 */
    const px_tensor *gw = px_session_gradient(s, w);
    CHECK_NOT_NULL(gw);
    if (gw) check_values(gw, PX_SHAPE(2, 3), px_tensor_f32(wv));
    px_session_free(s);
    px_tensor_free(wv);
    px_graph_free(g);
}

typedef struct shape_case {
    int which; /* 0 reshape, 1 transpose, 2 concat, 3 slice */
    px_shape shape;
    const int *perm;
    int axis, n;
    int64_t start, stop;
} shape_case;

static px_node *build_case(px_node *const *v, void *ctx) {
    const shape_case *c = ctx;
    switch (c->which) {
    case 0: return px_reshape(v[0], c->shape);
    case 1: return px_transpose(v[0], c->perm);
    case 2: return px_concat(v, c->n, c->axis);
    default: return px_slice(v[0], c->axis, c->start, c->stop);
    }
}

static void gradcheck_case(const char *label, shape_case c, px_shape *shapes, int n) {
    px_tensor *in[4];
    for (int i = 0; i < n; i++) in[i] = px_gc_random(shapes[i], -1.0f, 1.0f, 7 + (uint64_t)i);
    CHECK(px_gradcheck(label, build_case, &c, in, n, NULL, 1e-2, 1e-3, 1e-3) == 0);
    for (int i = 0; i < n; i++) px_tensor_free(in[i]);
}

static void test_reshape_gradients(void) {
    gradcheck_case("reshape (2,3,4)->(4,-1)", (shape_case){.which = 0, .shape = PX_SHAPE(4, -1)},
                   (px_shape[]){PX_SHAPE(2, 3, 4)}, 1);
    gradcheck_case("reshape (6,)->(-1,2,1)", (shape_case){.which = 0, .shape = PX_SHAPE(-1, 2, 1)},
                   (px_shape[]){PX_SHAPE(6)}, 1);
}

/* ---------------------------------------------------------- transpose ---- */

static void test_transpose_values(void) {
    px_graph *g = px_graph_new();
    px_tensor *v = iota(PX_SHAPE(2, 3, 4));
    px_node *x = px_constant(g, v);
    /* perm {1, 2, 0}: out[j][k][i] = x[i][j][k] */
    px_node *t = px_transpose(x, (const int[]){1, 2, 0});
    CHECK(px_shape_equal(px_node_shape(t), PX_SHAPE(3, 4, 2)));
    px_tensor *tt = eval(t);
    float want[24];
    for (int j = 0, w = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 2; i++) want[w++] = (float)(i * 12 + j * 4 + k);
    check_values(tt, PX_SHAPE(3, 4, 2), want);
    /* NULL reverses the axes: out[k][j][i] = x[i][j][k] */
    px_node *r = px_transpose(x, NULL);
    CHECK(px_shape_equal(px_node_shape(r), PX_SHAPE(4, 3, 2)));
    px_tensor *tr = eval(r);
    for (int k = 0, w = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++) want[w++] = (float)(i * 12 + j * 4 + k);
    check_values(tr, PX_SHAPE(4, 3, 2), want);
    /* a matrix, and its transpose twice is itself */
    px_tensor *m = iota(PX_SHAPE(2, 3));
    px_node *mt = px_transpose(px_constant(g, m), NULL);
    px_tensor *tm = eval(mt), *tmm = eval(px_transpose(mt, (const int[]){1, 0}));
    check_values(tm, PX_SHAPE(3, 2), (const float[]){0, 3, 1, 4, 2, 5});
    check_values(tmm, PX_SHAPE(2, 3), px_tensor_f32(m));
    /* the identity permutation, a vector and a scalar */
    px_tensor *ti = eval(px_transpose(x, (const int[]){0, 1, 2}));
    check_values(ti, PX_SHAPE(2, 3, 4), px_tensor_f32(v));
    px_tensor *tv = eval(px_transpose(px_reshape(x, PX_SHAPE(-1)), NULL));
    check_values(tv, PX_SHAPE(24), px_tensor_f32(v));
    px_tensor *t0 = eval(px_transpose(px_constant_scalar(g, 3.0f), NULL));
    check_values(t0, PX_SCALAR, (const float[]){3});
    /* a larger one, above the threading threshold */
    px_tensor *big = iota(PX_SHAPE(300, 257));
    px_tensor *tb = eval(px_transpose(px_constant(g, big), NULL));
    CHECK(tb && px_shape_equal(px_tensor_shape(tb), PX_SHAPE(257, 300)));
    int64_t bad = 0;
    for (int i = 0; tb && i < 300; i++)
        for (int j = 0; j < 257; j++) bad += px_tensor_f32(tb)[j * 300 + i] != (float)(i * 257 + j);
    CHECK(bad == 0);
    px_tensor_free(tt), px_tensor_free(tr), px_tensor_free(tm), px_tensor_free(tmm);
    px_tensor_free(ti), px_tensor_free(tv), px_tensor_free(t0), px_tensor_free(tb);
    px_tensor_free(big), px_tensor_free(m), px_tensor_free(v);
    px_graph_free(g);
}

static void test_transpose_gradients(void) {
    gradcheck_case("transpose perm {1,2,0}", (shape_case){.which = 1, .perm = (const int[]){1, 2, 0}},
                   (px_shape[]){PX_SHAPE(2, 3, 4)}, 1);
    gradcheck_case("transpose perm {2,0,3,1}",
                   (shape_case){.which = 1, .perm = (const int[]){2, 0, 3, 1}},
                   (px_shape[]){PX_SHAPE(2, 3, 2, 3)}, 1);
    gradcheck_case("transpose NULL", (shape_case){.which = 1, .perm = NULL}, (px_shape[]){PX_SHAPE(3, 5)}, 1);
    gradcheck_case("transpose NULL rank 3", (shape_case){.which = 1, .perm = NULL},
                   (px_shape[]){PX_SHAPE(2, 1, 3)}, 1);
}

/* ------------------------------------------------------------- concat ---- */

static void test_concat_values(void) {
    px_graph *g = px_graph_new();
    px_tensor *a = iota(PX_SHAPE(2, 1)), *b = iota(PX_SHAPE(2, 2)), *c = iota(PX_SHAPE(2, 3));
    px_node *xs[3] = {px_constant(g, a), px_constant(g, b), px_constant(g, c)};
    px_node *y1 = px_concat(xs, 3, 1), *ym = px_concat(xs, 3, -1);
    CHECK(px_shape_equal(px_node_shape(y1), PX_SHAPE(2, 6)));
    const float w1[12] = {0, 0, 1, 0, 1, 2, 1, 2, 3, 3, 4, 5};
    px_tensor *t1 = eval(y1), *tm = eval(ym);
    check_values(t1, PX_SHAPE(2, 6), w1);
    check_values(tm, PX_SHAPE(2, 6), w1);
    /* along axis 0 (and -2), three inputs with different row counts */
    px_tensor *d = iota(PX_SHAPE(1, 2)), *e = iota(PX_SHAPE(3, 2));
    px_node *ys[3] = {px_constant(g, d), xs[1], px_constant(g, e)};
    px_tensor *t0 = eval(px_concat(ys, 3, -2));
    check_values(t0, PX_SHAPE(6, 2), (const float[]){0, 1, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5});
    /* a single input is a copy; a middle axis of a rank-3 tensor */
    px_tensor *one = eval(px_concat(xs + 2, 1, 0));
    check_values(one, PX_SHAPE(2, 3), px_tensor_f32(c));
    px_tensor *p = iota(PX_SHAPE(2, 1, 2)), *q = iota(PX_SHAPE(2, 2, 2));
    px_node *pq[2] = {px_constant(g, p), px_constant(g, q)};
    px_tensor *tpq = eval(px_concat(pq, 2, 1));
    check_values(tpq, PX_SHAPE(2, 3, 2), (const float[]){0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 6, 7});
    /* int32 inputs stay int32 */
    px_tensor *ia = px_tensor_from_int_array(PX_SHAPE(2), (const int32_t[]){1, 2}, 2);
    px_tensor *ib = px_tensor_from_int_array(PX_SHAPE(1), (const int32_t[]){3}, 1);
    px_node *ii[2] = {px_constant(g, ia), px_constant(g, ib)};
    px_node *ic = px_concat(ii, 2, 0);
    CHECK(px_node_dtype(ic) == PX_I32);
    px_tensor *tic = eval(ic);
    CHECK(tic && tic->dtype == PX_I32 && px_tensor_i32(tic)[2] == 3);
    /* unknown sizes: the batch stays None, a None along the axis makes the sum None */
    px_node *ph = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 3), "x");
    px_node *phc[2] = {ph, px_constant(g, c)};
    CHECK(px_shape_equal(px_node_shape(px_concat(phc, 2, 0)), PX_SHAPE(PX_UNKNOWN, 3)));
    px_node *ph2 = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 2), "y");
    px_node *php[2] = {ph, ph2};
    CHECK(px_shape_equal(px_node_shape(px_concat(php, 2, 1)), PX_SHAPE(PX_UNKNOWN, 5)));
    px_tensor_free(t1), px_tensor_free(tm), px_tensor_free(t0), px_tensor_free(one), px_tensor_free(tpq);
    px_tensor_free(tic), px_tensor_free(ia), px_tensor_free(ib);
    px_tensor_free(a), px_tensor_free(b), px_tensor_free(c), px_tensor_free(d), px_tensor_free(e);
    px_tensor_free(p), px_tensor_free(q);
    px_graph_free(g);
}

static void test_concat_gradients(void) {
    gradcheck_case("concat 3 inputs axis 1", (shape_case){.which = 2, .n = 3, .axis = 1},
                   (px_shape[]){PX_SHAPE(2, 1, 3), PX_SHAPE(2, 2, 3), PX_SHAPE(2, 3, 3)}, 3);
    gradcheck_case("concat 3 inputs axis 0", (shape_case){.which = 2, .n = 3, .axis = 0},
                   (px_shape[]){PX_SHAPE(1, 4), PX_SHAPE(2, 4), PX_SHAPE(3, 4)}, 3);
    gradcheck_case("concat 2 inputs axis -1", (shape_case){.which = 2, .n = 2, .axis = -1},
                   (px_shape[]){PX_SHAPE(3, 2), PX_SHAPE(3, 4)}, 2);
}

/* Many inputs, beyond the small fixed-size arrays of the session and eager code. */
static void test_concat_many_inputs(void) {
    enum { N = 20 };
    px_node *xs[N];
    for (int mode = 0; mode < 2; mode++) {
        px_graph *g = mode ? px_graph_new_eager() : px_graph_new();
        for (int i = 0; i < N; i++) xs[i] = px_constant_scalar(g, (float)i);
        for (int i = 0; i < N; i++) xs[i] = px_reshape(xs[i], PX_SHAPE(1));
        px_node *y = px_concat(xs, N, 0);
        CHECK(px_shape_equal(px_node_shape(y), PX_SHAPE(N)));
        px_tensor *t = mode ? px_tensor_copy(px_node_value(y)) : eval(y);
        float want[N];
        for (int i = 0; i < N; i++) want[i] = (float)i;
        check_values(t, PX_SHAPE(N), want);
        px_tensor_free(t);
        px_graph_free(g);
    }
}

/* -------------------------------------------------------------- slice ---- */

static void test_slice_values(void) {
    px_graph *g = px_graph_new();
    px_tensor *v = iota(PX_SHAPE(3, 4));
    px_node *x = px_constant(g, v);
    px_tensor *r0 = eval(px_slice(x, 0, 1, 3));
    check_values(r0, PX_SHAPE(2, 4), (const float[]){4, 5, 6, 7, 8, 9, 10, 11});
    px_tensor *r1 = eval(px_slice(x, 1, 1, 3));
    check_values(r1, PX_SHAPE(3, 2), (const float[]){1, 2, 5, 6, 9, 10});
    /* negative axis and, as in Python, negative positions count from the end */
    px_tensor *rm = eval(px_slice(x, -1, -1, 4));
    check_values(rm, PX_SHAPE(3, 1), (const float[]){3, 7, 11});
    px_tensor *rn = eval(px_slice(x, -2, -3, -1));
    check_values(rn, PX_SHAPE(2, 4), (const float[]){0, 1, 2, 3, 4, 5, 6, 7});
    /* empty and whole slices */
    px_tensor *re = eval(px_slice(x, 1, 2, 2));
    CHECK(re && px_shape_equal(px_tensor_shape(re), PX_SHAPE(3, 0)));
    px_tensor *rw = eval(px_slice(x, 0, 0, 3));
    check_values(rw, PX_SHAPE(3, 4), px_tensor_f32(v));
    /* rank 3, middle axis */
    px_tensor *v3 = iota(PX_SHAPE(2, 3, 2));
    px_tensor *r3 = eval(px_slice(px_constant(g, v3), 1, 2, 3));
    check_values(r3, PX_SHAPE(2, 1, 2), (const float[]){4, 5, 10, 11});
    px_tensor_free(r0), px_tensor_free(r1), px_tensor_free(rm), px_tensor_free(rn);
    px_tensor_free(re), px_tensor_free(rw), px_tensor_free(r3), px_tensor_free(v3), px_tensor_free(v);
    px_graph_free(g);
}

static void test_slice_unknown_batch(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 4), "x");
    px_node *head = px_slice(x, 0, 0, 2), *tail = px_slice(x, 0, -2, -1), *rest = px_slice(x, 0, 1, -1);
    px_node *cols = px_slice(x, 1, 1, 3);
    CHECK(px_shape_equal(px_node_shape(head), PX_SHAPE(2, 4)));
    CHECK(px_shape_equal(px_node_shape(tail), PX_SHAPE(1, 4)));
    CHECK(px_shape_equal(px_node_shape(rest), PX_SHAPE(PX_UNKNOWN, 4)));
    CHECK(px_shape_equal(px_node_shape(cols), PX_SHAPE(PX_UNKNOWN, 2)));
    px_node *fetch[4] = {head, tail, rest, cols};
    px_session *s = px_session_new(g, fetch, 4, NULL);
    for (int rows = 3; rows <= 5; rows += 2) {
        px_tensor *in = iota(PX_SHAPE(rows, 4));
        CHECK_OK(px_session_run(s, &(px_feed){x, in}, 1, NULL));
        CHECK(px_tensor_f32(px_session_fetch(s, 1))[0] == (float)((rows - 2) * 4));
        CHECK(px_session_fetch(s, 2)->shape[0] == rows - 2);
        CHECK(px_tensor_f32(px_session_fetch(s, 2))[0] == 4.0f);
        CHECK(px_session_fetch(s, 3)->shape[0] == rows);
        CHECK(px_tensor_f32(px_session_fetch(s, 3))[2 * rows - 1] == (float)(4 * (rows - 1) + 2));
        px_tensor_free(in);
    }
    /* a batch too small for the fixed rows is a run-time error */
    px_tensor *one = px_tensor_zeros(PX_SHAPE(1, 4));
    CHECK(px_session_run(s, &(px_feed){x, one}, 1, NULL) == PX_ERR_ARG);
    CHECK_ERROR_HAS("slice: [0, 2) is out of range for axis 0 of (1, 4) (size 1)");
    px_tensor_free(one);
    px_session_free(s);
    px_graph_free(g);
}

static void test_slice_gradients(void) {
    gradcheck_case("slice axis 0", (shape_case){.which = 3, .axis = 0, .start = 1, .stop = 3},
                   (px_shape[]){PX_SHAPE(4, 3)}, 1);
    gradcheck_case("slice axis 1 of 3", (shape_case){.which = 3, .axis = 1, .start = 0, .stop = 2},
                   (px_shape[]){PX_SHAPE(2, 3, 2)}, 1);
    gradcheck_case("slice axis -1, negative start",
                   (shape_case){.which = 3, .axis = -1, .start = -2, .stop = 5},
                   (px_shape[]){PX_SHAPE(2, 5)}, 1);
}

/* Shape ops composed: reshape, transpose, slice and concat back together. */
static px_node *build_composite(px_node *const *v, void *ctx) {
    (void)ctx;
    px_node *m = px_transpose(px_reshape(v[0], PX_SHAPE(3, -1)), NULL); /* (4, 3) */
    px_node *parts[3] = {px_slice(m, 1, 2, 3), px_mul(px_slice(m, 1, 0, 2), v[1]), m};
    return px_reshape(px_concat(parts, 3, -1), PX_SHAPE(-1));
}

static void test_composite_gradient(void) {
    px_tensor *in[2] = {px_gc_random(PX_SHAPE(2, 6), -1, 1, 3), px_gc_random(PX_SHAPE(4, 2), -1, 1, 4)};
    CHECK(px_gradcheck("composite", build_composite, NULL, in, 2, NULL, 1e-2, 1e-3, 1e-3) == 0);
    px_tensor_free(in[0]);
    px_tensor_free(in[1]);
}

/* ------------------------------------------------------------- errors ---- */

static void test_shape_errors(void) {
    px_graph *g = px_graph_new();
    px_tensor *v = px_tensor_zeros(PX_SHAPE(32, 784));
    px_node *x = px_constant(g, v);
    CHECK(px_reshape(x, PX_SHAPE(32, 100)) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("reshape: cannot reshape (32, 784) (25088 elements) into (32, 100)");
    CHECK(px_reshape(x, PX_SHAPE(-1, 100)) == NULL);
    CHECK_ERROR_HAS("reshape: cannot reshape (32, 784) (25088 elements) into (-1, 100)");
    CHECK(px_reshape(x, PX_SHAPE(-1, -1)) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("reshape: target (-1, -1)");
    CHECK(px_reshape(x, PX_SHAPE(-2, 8)) == NULL);
    CHECK_ERROR_HAS("at most one -1");

    CHECK(px_transpose(x, (const int[]){0, 0}) == NULL);
    CHECK_ERROR_HAS("transpose: perm [0, 0] is not a permutation of 0..1 (input (32, 784))");
    CHECK(px_transpose(x, (const int[]){1, 2}) == NULL);
    CHECK_ERROR_HAS("perm [1, 2]");

    px_tensor *w = px_tensor_zeros(PX_SHAPE(31, 10));
    px_node *xs[3] = {x, x, px_constant(g, w)};
    CHECK(px_concat(xs, 3, 0) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("concat: input 2 has shape (31, 10) but input 0 has (32, 784); all dimensions except axis 0 must be equal");
    CHECK(px_concat(xs, 3, 2) == NULL);
    CHECK_ERROR_HAS("concat: axis 2 is out of range for a tensor of rank 2");
    CHECK(px_concat(xs, 0, 0) == NULL);
    CHECK_ERROR_HAS("concat: needs at least one input");
    px_node *r3 = px_reshape(x, PX_SHAPE(32, 28, 28));
    CHECK(px_concat((px_node *[]){x, r3}, 2, 0) == NULL);
    CHECK_ERROR_HAS("input 1 has shape (32, 28, 28) but input 0 has (32, 784)");
    px_tensor *it = px_tensor_from_int_array(PX_SHAPE(32, 784), NULL, 0);
    CHECK(it == NULL); /* 0 values for 25088 elements */
    it = px_tensor_new(PX_I32, PX_SHAPE(32, 784));
    CHECK(px_concat((px_node *[]){x, px_constant(g, it)}, 2, 0) == NULL);
    CHECK_ERROR_HAS("concat: input 1 is int32 but input 0 is float32");

    CHECK(px_slice(x, 1, 700, 800) == NULL);
    CHECK_ERROR_HAS("slice: [700, 800) is out of range for axis 1 of (32, 784) (size 784)");
    CHECK(px_slice(x, 0, 5, 4) == NULL);
    CHECK_ERROR_HAS("[5, 4) is out of range");
    CHECK(px_slice(x, -3, 0, 1) == NULL);
    CHECK_ERROR_HAS("slice: axis -3 is out of range for a tensor of rank 2");
    CHECK(px_slice(x, 0, -40, 1) == NULL);
    CHECK_ERROR_HAS("[-40, 1)");

    /* a failed op gives NULL and the next ops keep its message */
    px_clear_error();
    px_node *bad = px_reshape(x, PX_SHAPE(7));
    CHECK(px_transpose(px_slice(px_concat((px_node *[]){bad, x}, 2, 0), 0, 0, 1), NULL) == NULL);
    CHECK_ERROR_HAS("reshape: cannot reshape (32, 784)");
    px_tensor_free(it);
    px_tensor_free(w);
    px_tensor_free(v);
    px_graph_free(g);
}

/* ---------------------------------------------------------------- dot ---- */

static char *read_all(FILE *f) {
    long n = ftell(f);
    char *buf = calloc((size_t)n + 1, 1);
    rewind(f);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) buf[0] = '\0';
    return buf;
}

static void test_write_dot(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 28, 28), "images");
    px_tensor *wv = px_tensor_zeros(PX_SHAPE(784, 10));
    px_node *w = px_variable(g, wv, "dense/\"kernel\"");
    px_node *flat = px_reshape(x, PX_SHAPE(-1, 784));
    px_node *logits = px_matmul(flat, w);
    px_node_set_name(logits, "logits");
    px_node *unrelated = px_add_scalar(px_constant_scalar(g, 1.0f), 2.0f);
    CHECK_NOT_NULL(logits);
    CHECK_NOT_NULL(unrelated);

    FILE *f = tmpfile();
    CHECK_NOT_NULL(f);
    if (!f) return;
    CHECK_OK(px_graph_write_dot(g, NULL, 0, f));
    char *all = read_all(f);
    CHECK(strncmp(all, "digraph", 7) == 0);
    CHECK(strstr(all, "images\\nplaceholder\\n(None, 28, 28)") != NULL);
    CHECK(strstr(all, "reshape\\n(None, 784)") != NULL);
    CHECK(strstr(all, "logits\\nmatmul\\n(None, 10)") != NULL);
    CHECK(strstr(all, "dense/\\\"kernel\\\"\\nvariable\\n(784, 10)") != NULL); /* quotes escaped */
    CHECK(strstr(all, "constant\\n()") != NULL);
    CHECK(strstr(all, "add_scalar") != NULL);
    /* each kind of leaf has its own look */
    CHECK(strstr(all, "invhouse") != NULL && strstr(all, "dashed") != NULL && strstr(all, "bold") != NULL);
    /* edges from inputs to consumers: placeholder 0 -> reshape 2, 2 and 1 -> matmul 3 */
    CHECK(strstr(all, "n0 -> n2;") != NULL);
    CHECK(strstr(all, "n2 -> n3;") != NULL);
    CHECK(strstr(all, "n1 -> n3;") != NULL);
    CHECK(strstr(all, "n4 -> n5;") != NULL);
    CHECK(all[strlen(all) - 2] == '}');
    free(all);
    fclose(f);

    /* only what logits needs */
    f = tmpfile();
    CHECK_OK(px_graph_write_dot(g, &logits, 1, f));
    all = read_all(f);
    CHECK(strstr(all, "logits") != NULL && strstr(all, "images") != NULL);
    CHECK(strstr(all, "add_scalar") == NULL && strstr(all, "constant") == NULL);
    CHECK(strstr(all, "n4") == NULL);
    free(all);
    fclose(f);

    CHECK(px_graph_write_dot(g, NULL, 0, NULL) == PX_ERR_ARG);
    px_graph *other = px_graph_new();
    px_node *foreign = px_constant_scalar(other, 1.0f);
    f = tmpfile();
    CHECK(px_graph_write_dot(g, &foreign, 1, f) == PX_ERR_ARG);
    CHECK_ERROR_HAS("write_dot: output 0 is from another graph");
    fclose(f);
    px_graph_free(other);
    px_tensor_free(wv);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_reshape_values);
    RUN_TEST(test_reshape_eager_copies);
    RUN_TEST(test_reshape_unknown_batch);
    RUN_TEST(test_reshape_gradient_in_session);
    RUN_TEST(test_reshape_gradients);
    RUN_TEST(test_transpose_values);
    RUN_TEST(test_transpose_gradients);
    RUN_TEST(test_concat_values);
    RUN_TEST(test_concat_gradients);
    RUN_TEST(test_concat_many_inputs);
    RUN_TEST(test_slice_values);
    RUN_TEST(test_slice_unknown_batch);
    RUN_TEST(test_slice_gradients);
    RUN_TEST(test_composite_gradient);
    RUN_TEST(test_shape_errors);
    RUN_TEST(test_write_dot);
    return px_test_finish();
}
