/* The tensor API: creation, random tensors and the generator's fixed sequence,
 * views sharing storage, copies, comparison, printing, limits and errors. */
#include <stdint.h>
#include <string.h>

#include "px_test.h"

static void test_shape_format(void) {
    char buf[96];
    CHECK(strcmp(px_shape_format(PX_SHAPE(32, 784), buf, sizeof buf), "(32, 784)") == 0);
    CHECK(strcmp(px_shape_format(PX_SHAPE(PX_UNKNOWN, 10), buf, sizeof buf), "(None, 10)") == 0);
    CHECK(strcmp(px_shape_format(PX_SHAPE(5), buf, sizeof buf), "(5,)") == 0);
    CHECK(strcmp(px_shape_format(PX_SCALAR, buf, sizeof buf), "()") == 0);
    CHECK(strcmp(px_shape_format(PX_SHAPE(1, 2, 3, 4, 5, 6, 7, 8), buf, sizeof buf),
                 "(1, 2, 3, 4, 5, 6, 7, 8)") == 0);
    /* a short buffer is truncated but terminated */
    char small[6];
    px_shape_format(PX_SHAPE(32, 784), small, sizeof small);
    CHECK(strcmp(small, "(32, ") == 0);
    CHECK(px_shape_size(PX_SHAPE(2, 3, 4)) == 24 && px_shape_size(PX_SCALAR) == 1);
    CHECK(px_shape_size(PX_SHAPE(PX_UNKNOWN, 3)) < 0);
    CHECK(px_shape_equal(PX_SHAPE(2, 3), PX_SHAPE(2, 3)) && !px_shape_equal(PX_SHAPE(2, 3), PX_SHAPE(3, 2)));
    CHECK(!px_shape_equal(PX_SHAPE(1), PX_SCALAR));
}

static void test_creation(void) {
    px_tensor *z = px_tensor_zeros(PX_SHAPE(2, 3));
    CHECK(z && z->dtype == PX_F32 && z->rank == 2 && z->shape[0] == 2 && z->shape[1] == 3);
    CHECK(z->strides[0] == 3 && z->strides[1] == 1 && px_tensor_is_contiguous(z));
    CHECK(px_tensor_size(z) == 6);
    float sum = 0;
    for (int i = 0; i < 6; i++) sum += px_tensor_f32(z)[i] == 0.0f;
    CHECK(sum == 6);
    px_tensor *o = px_tensor_ones(PX_SHAPE(4));
    px_tensor *f = px_tensor_fill(PX_SHAPE(2, 2), -2.5f);
    CHECK(px_tensor_f32(o)[3] == 1.0f && px_tensor_f32(f)[3] == -2.5f);
    px_tensor *s = px_tensor_scalar(7.0f);
    CHECK(s && s->rank == 0 && px_tensor_size(s) == 1 && px_tensor_f32(s)[0] == 7.0f);
    CHECK(px_tensor_get_flat(s, 0) == 7.0f && px_tensor_get(s, NULL) == 7.0f);

    const float vals[6] = {1, 2, 3, 4, 5, 6};
    px_tensor *a = px_tensor_from_array(PX_SHAPE(2, 3), vals, 6);
    CHECK(a && px_tensor_get(a, (const int64_t[]){1, 2}) == 6.0f && px_tensor_get_flat(a, 4) == 5.0f);
    px_tensor_set_flat(a, 0, 10.0f);
    CHECK(px_tensor_f32(a)[0] == 10.0f);
    const int32_t ivals[3] = {-1, 0, 70000};
    px_tensor *ia = px_tensor_from_int_array(PX_SHAPE(3), ivals, 3);
    CHECK(ia && ia->dtype == PX_I32 && px_tensor_i32(ia)[2] == 70000 && px_tensor_get_flat(ia, 0) == -1.0f);
    px_tensor *in = px_tensor_new(PX_I32, PX_SHAPE(2));
    CHECK(in && in->dtype == PX_I32 && px_tensor_i32(in)[1] == 0);

    px_tensor *r = px_tensor_arange(0, 5, 1);
    CHECK(r && px_tensor_size(r) == 5 && px_tensor_f32(r)[4] == 4.0f);
    px_tensor *r2 = px_tensor_arange(1, 2, 0.25f);
    CHECK(r2 && px_tensor_size(r2) == 4 && px_tensor_f32(r2)[3] == 1.75f);
    px_tensor *r3 = px_tensor_arange(3, 0, -1);
    CHECK(r3 && px_tensor_size(r3) == 3 && px_tensor_f32(r3)[0] == 3.0f && px_tensor_f32(r3)[2] == 1.0f);
    px_tensor *r4 = px_tensor_arange(3, 0, 1);
    CHECK(r4 && px_tensor_size(r4) == 0);
    CHECK(px_tensor_arange(0, 1, 0) == NULL);
    CHECK_ERROR_HAS("step must be non-zero");
    CHECK(px_tensor_arange(0, 1e30f, 1e-30f) == NULL); /* 1e60 elements */
    CHECK(px_last_status() == PX_ERR_NOMEM);

    float mem[4] = {1, 2, 3, 4};
    px_tensor *w = px_tensor_wrap(PX_F32, PX_SHAPE(2, 2), mem);
    CHECK(w && w->data == mem && w->storage == NULL);
    px_tensor_f32(w)[3] = 40;
    CHECK(mem[3] == 40);
    px_tensor_free(w); /* leaves mem alone */
    CHECK(mem[0] == 1);
    CHECK(px_tensor_wrap(PX_F32, PX_SHAPE(2), NULL) == NULL);
    CHECK(px_tensor_wrap((px_dtype)7, PX_SHAPE(2), mem) == NULL);

    /* empty tensors are fine */
    px_tensor *e = px_tensor_zeros(PX_SHAPE(0, 3));
    CHECK(e && px_tensor_size(e) == 0);
    px_tensor *ec = px_tensor_copy(e);
    CHECK(ec && px_tensor_equal(e, ec));
    px_tensor *ea = px_tensor_from_array(PX_SHAPE(0), NULL, 0);
    CHECK_NOT_NULL(ea);

    px_tensor_free(z), px_tensor_free(o), px_tensor_free(f), px_tensor_free(s), px_tensor_free(a);
    px_tensor_free(ia), px_tensor_free(in), px_tensor_free(r), px_tensor_free(r2), px_tensor_free(r3);
    px_tensor_free(r4), px_tensor_free(e), px_tensor_free(ec), px_tensor_free(ea);
    px_tensor_free(NULL);
}

/* The generator must give these numbers on every platform and compiler: saved
 * models, shuffles and initialisations depend on it. Do not update them unless
 * the generator is changed on purpose. */
static void test_rng_sequence_is_fixed(void) {
    px_rng r = px_rng_seeded(42);
    const uint32_t u[4] = {3413346080u, 3508673569u, 3540666473u, 2418394718u};
    for (int i = 0; i < 4; i++) CHECK(px_rng_u32(&r) == u[i]);
    r = px_rng_seeded(42);
    const float uf[4] = {0.794731557f, 0.816926718f, 0.824375629f, 0.563076377f};
    for (int i = 0; i < 4; i++) CHECK(px_rng_uniform(&r) == uf[i]);
    r = px_rng_seeded(42);
    const float nf[4] = {0x1.08f1dcp-1f, 0x1.436f9ep+0f, 0x1.5b93dep+0f, -0x1.67d592p-3f};
    for (int i = 0; i < 4; i++) {
        float x = px_rng_normal(&r);
        if (x != nf[i]) px_test_fail(__FILE__, __LINE__, "normal %d is %a, expected %a", i, x, nf[i]);
        else px_test_passed++;
    }
    /* other seeds give other streams; a copied state repeats its stream */
    px_rng a = px_rng_seeded(43), b = px_rng_seeded(42);
    CHECK(px_rng_u32(&a) != px_rng_u32(&b));
    px_rng c = a;
    CHECK(px_rng_u32(&c) == px_rng_u32(&a));
    /* px_rng_below stays below n and hits every value */
    int seen[7] = {0};
    for (int i = 0; i < 700; i++) {
        uint32_t k = px_rng_below(&a, 7);
        if (k < 7) seen[k]++;
        else seen[0] = -10000;
    }
    for (int k = 0; k < 7; k++) CHECK(seen[k] > 50);
    CHECK(px_rng_below(&a, 1) == 0 && px_rng_below(&a, 0) == 0);
    /* truncated normals stay within two standard deviations */
    float lo = 0, hi = 0;
    for (int i = 0; i < 10000; i++) {
        float x = px_rng_truncated_normal(&a);
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    CHECK(lo >= -2.0f && hi <= 2.0f && lo < -1.9f && hi > 1.9f);
    /* a shuffle is a permutation */
    int64_t idx[10], mask = 0;
    for (int i = 0; i < 10; i++) idx[i] = i;
    px_rng_shuffle_i64(&a, idx, 10);
    for (int i = 0; i < 10; i++) mask |= (int64_t)1 << idx[i];
    CHECK(mask == 1023);
}

static void test_random_tensors(void) {
    px_rng r1 = px_rng_seeded(42), r2 = px_rng_seeded(42), r3 = px_rng_seeded(7);
    px_tensor *a = px_tensor_random_normal(PX_SHAPE(100000), 0.0f, 1.0f, &r1);
    px_tensor *b = px_tensor_random_normal(PX_SHAPE(100000), 0.0f, 1.0f, &r2);
    px_tensor *c = px_tensor_random_normal(PX_SHAPE(100000), 0.0f, 1.0f, &r3);
    CHECK(px_tensor_equal(a, b));
    CHECK(!px_tensor_equal(a, c));
    /* a tensor draws the generator's numbers in order */
    px_rng r4 = px_rng_seeded(42);
    CHECK(px_tensor_f32(a)[0] == px_rng_normal(&r4) && px_tensor_f32(a)[1] == px_rng_normal(&r4));
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) sum += px_tensor_f32(a)[i];
    double mean = sum / 100000;
    for (int i = 0; i < 100000; i++) sq += (px_tensor_f32(a)[i] - mean) * (px_tensor_f32(a)[i] - mean);
    CHECK_NEAR(mean, 0.0, 0.01);
    CHECK_NEAR(sqrt(sq / 100000), 1.0, 0.01);

    px_tensor *sn = px_tensor_random_normal(PX_SHAPE(2, 3), 5.0f, 0.5f, &r1);
    px_rng r5 = r2;
    px_tensor *sn2 = px_tensor_random_normal(PX_SHAPE(2, 3), 5.0f, 0.5f, &r5);
    CHECK(px_tensor_equal(sn, sn2));

    px_rng u1 = px_rng_seeded(1), u2 = px_rng_seeded(1);
    px_tensor *u = px_tensor_random_uniform(PX_SHAPE(1000), -3.0f, 2.0f, &u1);
    px_tensor *v = px_tensor_random_uniform(PX_SHAPE(1000), -3.0f, 2.0f, &u2);
    CHECK(px_tensor_equal(u, v));
    float lo = 10, hi = -10;
    for (int i = 0; i < 1000; i++) {
        lo = fminf(lo, px_tensor_f32(u)[i]);
        hi = fmaxf(hi, px_tensor_f32(u)[i]);
    }
    CHECK(lo >= -3.0f && hi < 2.0f && lo < -2.9f && hi > 1.9f);
    CHECK(px_tensor_random_normal(PX_SHAPE(2), 0, 1, NULL) == NULL);
    CHECK_ERROR_HAS("rng is NULL");
    CHECK(px_tensor_random_uniform(PX_SHAPE(2), 0, 1, NULL) == NULL);
    px_tensor_free(a), px_tensor_free(b), px_tensor_free(c), px_tensor_free(sn), px_tensor_free(sn2);
    px_tensor_free(u), px_tensor_free(v);
}

static void test_views_share_storage(void) {
    px_tensor *t = px_tensor_arange(0, 24, 1);
    px_tensor *m = px_tensor_reshape(t, PX_SHAPE(2, 3, 4));
    CHECK(m && m->data == t->data && m->storage == t->storage && px_tensor_is_contiguous(m));
    px_tensor *inf = px_tensor_reshape(t, PX_SHAPE(-1, 6));
    CHECK(inf && inf->shape[0] == 4 && inf->shape[1] == 6);
    /* a write through a view shows in the original, and the other way round */
    px_tensor_set_flat(m, 5, 100.0f);
    CHECK(px_tensor_f32(t)[5] == 100.0f);
    px_tensor_f32(t)[23] = -1.0f;
    CHECK(px_tensor_get(m, (const int64_t[]){1, 2, 3}) == -1.0f);

    px_tensor *s = px_tensor_slice(m, 1, 2);
    CHECK(s && s->shape[0] == 1 && px_tensor_get_flat(s, 0) == 12.0f && px_tensor_is_contiguous(s));
    px_tensor_set_flat(s, 1, 50.0f);
    CHECK(px_tensor_f32(t)[13] == 50.0f);
    px_tensor *s0 = px_tensor_slice(m, 1, 1);
    CHECK(s0 && px_tensor_size(s0) == 0);

    /* permute: new axis i is old axis perm[i]; a strided view */
    px_tensor *p = px_tensor_permute(m, (const int[]){2, 0, 1});
    CHECK(p && p->shape[0] == 4 && p->shape[1] == 2 && p->shape[2] == 3);
    CHECK(!px_tensor_is_contiguous(p));
    CHECK(px_tensor_get(p, (const int64_t[]){3, 1, 2}) == px_tensor_get(m, (const int64_t[]){1, 2, 3}));
    CHECK(px_tensor_get_flat(p, 1) == px_tensor_get(m, (const int64_t[]){0, 1, 0}));
    px_tensor_set_flat(p, 1, 77.0f); /* p[0][0][1] is m[0][1][0], flat 4 */
    CHECK(px_tensor_f32(t)[4] == 77.0f);
    CHECK(px_tensor_reshape(p, PX_SHAPE(24)) == NULL);
    CHECK_ERROR_HAS("strided view");

    /* the original goes first; the views keep the storage alive (ASan checks this) */
    px_tensor_free(t);
    px_tensor_free(m);
    CHECK(px_tensor_get(p, (const int64_t[]){3, 1, 2}) == -1.0f);
    CHECK(px_tensor_get_flat(s, 0) == 12.0f && px_tensor_get_flat(inf, 5) == 100.0f);
    px_tensor_free(inf);
    px_tensor_free(p);
    px_tensor_free(s0);
    CHECK(px_tensor_get_flat(s, 1) == 50.0f);
    px_tensor_free(s);

    /* a view of a view of wrapped memory borrows it too */
    float mem[6] = {0, 1, 2, 3, 4, 5};
    px_tensor *w = px_tensor_wrap(PX_F32, PX_SHAPE(6), mem);
    px_tensor *wv = px_tensor_reshape(w, PX_SHAPE(3, 2));
    px_tensor_free(w);
    CHECK(wv && wv->data == mem && px_tensor_get(wv, (const int64_t[]){2, 1}) == 5.0f);
    px_tensor_free(wv);
}

static void test_copies(void) {
    px_tensor *t = px_tensor_arange(0, 6, 1);
    px_tensor *m = px_tensor_reshape(t, PX_SHAPE(2, 3));
    px_tensor *p = px_tensor_permute(m, (const int[]){1, 0}); /* (3, 2), strided */
    px_tensor *c = px_tensor_copy(p);
    CHECK(c && c->data != t->data && px_tensor_is_contiguous(c));
    const float want[6] = {0, 3, 1, 4, 2, 5};
    px_tensor *w = px_tensor_from_array(PX_SHAPE(3, 2), want, 6);
    CHECK(px_tensor_equal(c, w));
    CHECK(px_tensor_equal(p, w)); /* comparison reads through strides */
    /* the copy is independent */
    px_tensor_f32(t)[0] = 9;
    CHECK(px_tensor_f32(c)[0] == 0);
    /* copy_into a strided destination */
    px_tensor *z = px_tensor_zeros(PX_SHAPE(3, 2));
    CHECK_OK(px_tensor_copy_into(p, z));
    for (int i = 0; i < 6; i++) CHECK(px_tensor_f32(t)[i] == 0);
    CHECK_OK(px_tensor_copy_into(p, w));
    CHECK(px_tensor_f32(t)[1] == 1 && px_tensor_f32(t)[3] == 3);
    /* a strided view of a slice */
    px_tensor *big = px_tensor_arange(0, 24, 1);
    px_tensor *b3 = px_tensor_reshape(big, PX_SHAPE(4, 3, 2));
    px_tensor *sl = px_tensor_slice(b3, 1, 3);
    px_tensor *sp = px_tensor_permute(sl, (const int[]){2, 1, 0});
    px_tensor *sc = px_tensor_copy(sp);
    CHECK(sc && sc->shape[0] == 2 && sc->shape[1] == 3 && sc->shape[2] == 2);
    /* sc[k][j][i] = big[(1 + i) * 6 + j * 2 + k] */
    CHECK(px_tensor_get(sc, (const int64_t[]){1, 2, 1}) == 17.0f);
    CHECK(px_tensor_f32(sc)[1] == 12.0f);
    /* mismatches */
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(2, 3));
    CHECK(px_tensor_copy_into(bad, p) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("copy: destination (2, 3) and source (3, 2)");
    px_tensor *ib = px_tensor_new(PX_I32, PX_SHAPE(3, 2));
    CHECK(px_tensor_copy_into(ib, p) == PX_ERR_SHAPE);
    CHECK(px_tensor_copy(NULL) == NULL);
    px_tensor_free(t), px_tensor_free(m), px_tensor_free(p), px_tensor_free(c), px_tensor_free(w);
    px_tensor_free(z), px_tensor_free(big), px_tensor_free(b3), px_tensor_free(sl), px_tensor_free(sp);
    px_tensor_free(sc), px_tensor_free(bad), px_tensor_free(ib);
}

/* Python's slices of one axis: each range's indices as list(range(d))[a:b:s] gives them
 * (the table was printed by Python). */
static void test_ranges(void) {
    static const struct {
        int64_t dim;
        px_range r;
        int64_t count, idx[5];
    } cases[] = {
        {5, {2, 5, 1}, 3, {2, 3, 4}},
        {5, {PX_END, PX_END, -1}, 5, {4, 3, 2, 1, 0}},
        {5, {-2, PX_END, 1}, 2, {3, 4}},
        {5, {PX_END, -1, 2}, 2, {0, 2}},
        {5, {10, -10, -2}, 3, {4, 2, 0}},
        {5, {-10, 10, 3}, 2, {0, 3}},
        {5, {3, 1, 1}, 0, {0}},
        {0, {PX_END, PX_END, 1}, 0, {0}},
        {7, {PX_END, PX_END, -3}, 3, {6, 3, 0}},
        {7, {6, 0, -2}, 3, {6, 4, 2}},
        {4, {-1, PX_END, -1}, 4, {3, 2, 1, 0}},
        {6, {1, 100, 4}, 2, {1, 5}},
        {3, {0, 3, INT64_C(4611686018427387904)}, 1, {0}},
        {3, {PX_END, PX_END, -INT64_MAX}, 1, {2}},
        {4, {1, 3, 0}, 2, {1, 2}}, /* step 0 means 1 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        px_tensor *t = px_tensor_arange(0, (float)cases[c].dim, 1);
        px_tensor *v = px_tensor_view_ranges(t, &cases[c].r, 1);
        CHECK(v && v->shape[0] == cases[c].count);
        for (int64_t i = 0; v && i < v->shape[0] && i < cases[c].count; i++)
            CHECK(px_tensor_get_flat(v, i) == (float)cases[c].idx[i]);
        px_tensor_free(v);
        px_tensor_free(t);
    }

    /* x[:, 2:5] of a (3, 6) matrix holding 10 * row + column */
    px_tensor *x = px_tensor_zeros(PX_SHAPE(3, 6));
    for (int i = 0; i < 18; i++) px_tensor_f32(x)[i] = (float)(10 * (i / 6) + i % 6);
    px_tensor *cols = px_tensor_view_ranges(x, (px_range[]){PX_ALL, PX_RANGE(2, 5)}, 2);
    const float want_cols[9] = {2, 3, 4, 12, 13, 14, 22, 23, 24};
    px_tensor *wc = px_tensor_from_array(PX_SHAPE(3, 3), want_cols, 9);
    CHECK(cols && !px_tensor_is_contiguous(cols) && px_tensor_equal(cols, wc));
    /* a view: writes reach x */
    px_tensor_set_flat(cols, 4, -1.0f); /* cols[1][1] is x[1][3] */
    CHECK(px_tensor_f32(x)[9] == -1.0f);
    px_tensor_f32(x)[9] = 13.0f;
    /* x[::-2, -1] keeps the axis (PX_INDEX_RANGE): rows 2 and 0 of the last column */
    px_tensor *rc = px_tensor_view_ranges(x, (px_range[]){PX_RANGE_STEP(PX_END, PX_END, -2), PX_INDEX_RANGE(-1)}, 2);
    CHECK(rc && rc->shape[0] == 2 && rc->shape[1] == 1);
    CHECK(rc && px_tensor_get_flat(rc, 0) == 25.0f && px_tensor_get_flat(rc, 1) == 5.0f);
    /* a range of a range, copied contiguous: x[1:, 2:5][::-1, 1:] */
    px_tensor *r1 = px_tensor_view_ranges(cols, (px_range[]){PX_RANGE(1, PX_END)}, 1);
    px_tensor *r2 = px_tensor_view_ranges(r1, (px_range[]){PX_RANGE_STEP(PX_END, PX_END, -1), PX_RANGE(1, PX_END)}, 2);
    px_tensor *rcopy = px_tensor_copy(r2);
    const float want_r[4] = {23, 24, 13, 14};
    px_tensor *wr = px_tensor_from_array(PX_SHAPE(2, 2), want_r, 4);
    CHECK(rcopy && px_tensor_is_contiguous(rcopy) && px_tensor_equal(rcopy, wr));
    /* an empty range */
    px_tensor *e = px_tensor_view_ranges(x, (px_range[]){PX_RANGE(3, 7)}, 1);
    CHECK(e && e->shape[0] == 0 && e->shape[1] == 6 && px_tensor_size(e) == 0);

    /* take(x, [5, -6, 3, 5], axis=1) and take(x, [2, 0], axis=0) */
    px_tensor *g1 = px_tensor_gather(x, 1, (const int64_t[]){5, -6, 3, 5}, 4);
    const float want_g1[12] = {5, 0, 3, 5, 15, 10, 13, 15, 25, 20, 23, 25};
    px_tensor *wg1 = px_tensor_from_array(PX_SHAPE(3, 4), want_g1, 12);
    CHECK(g1 && px_tensor_is_contiguous(g1) && px_tensor_equal(g1, wg1));
    px_tensor *g0 = px_tensor_gather(cols, -2, (const int64_t[]){2, 0}, 2); /* of a strided view */
    const float want_g0[6] = {22, 23, 24, 2, 3, 4};
    px_tensor *wg0 = px_tensor_from_array(PX_SHAPE(2, 3), want_g0, 6);
    CHECK(g0 && px_tensor_equal(g0, wg0));
    px_tensor *gi = px_tensor_from_int_array(PX_SHAPE(4), (const int32_t[]){7, 8, 9, 10}, 4);
    px_tensor *gg = px_tensor_gather(gi, 0, (const int64_t[]){3, 1}, 2);
    CHECK(gg && gg->dtype == PX_I32 && px_tensor_get_flat(gg, 0) == 10.0f && px_tensor_get_flat(gg, 1) == 8.0f);
    px_tensor *gz = px_tensor_gather(x, 0, NULL, 0);
    CHECK(gz && gz->shape[0] == 0 && gz->shape[1] == 6);

    /* errors name what is wrong */
    CHECK(px_tensor_gather(x, 1, (const int64_t[]){6}, 1) == NULL);
    CHECK_ERROR_HAS("gather: index 6 (position 0) is outside an axis of 6");
    CHECK(px_tensor_gather(x, 1, (const int64_t[]){-7}, 1) == NULL);
    CHECK(px_tensor_gather(x, 2, (const int64_t[]){0}, 1) == NULL);
    CHECK_ERROR_HAS("gather");
    CHECK(px_tensor_view_ranges(x, (px_range[]){PX_ALL, PX_ALL, PX_ALL}, 3) == NULL);
    CHECK_ERROR_HAS("view_ranges: 3 ranges for a tensor of rank 2");
    CHECK(px_tensor_view_ranges(NULL, NULL, 0) == NULL);

    px_tensor *all[] = {x, cols, wc, rc, r1, r2, rcopy, wr, e, g1, wg1, g0, wg0, gi, gg, gz};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) px_tensor_free(all[i]);
}

static void test_compare(void) {
    px_tensor *a = px_tensor_from_array(PX_SHAPE(3), (const float[]){1, 2, 3}, 3);
    px_tensor *b = px_tensor_from_array(PX_SHAPE(3), (const float[]){1, 2, 3.001f}, 3);
    px_tensor *c = px_tensor_from_array(PX_SHAPE(1, 3), (const float[]){1, 2, 3}, 3);
    CHECK(px_tensor_equal(a, a) && !px_tensor_equal(a, b) && !px_tensor_equal(a, c));
    CHECK(px_tensor_allclose(a, b, 1e-3f, 0) && !px_tensor_allclose(a, b, 1e-5f, 0));
    CHECK(px_tensor_allclose(a, b, 0, 0.01f) && !px_tensor_allclose(a, b, 0, 1e-4f));
    CHECK(!px_tensor_allclose(a, c, 1, 1)); /* shapes differ */
    CHECK(!px_tensor_allclose(a, NULL, 1, 1) && !px_tensor_equal(NULL, a));
    px_tensor *ia = px_tensor_from_int_array(PX_SHAPE(3), (const int32_t[]){1, 2, 3}, 3);
    CHECK(!px_tensor_equal(a, ia)); /* dtypes differ */
    px_tensor *n1 = px_tensor_from_array(PX_SHAPE(2), (const float[]){NAN, INFINITY}, 2);
    px_tensor *n2 = px_tensor_from_array(PX_SHAPE(2), (const float[]){0, INFINITY}, 2);
    px_tensor *n3 = px_tensor_from_array(PX_SHAPE(1), (const float[]){INFINITY}, 1);
    px_tensor *n4 = px_tensor_from_array(PX_SHAPE(1), (const float[]){-INFINITY}, 1);
    CHECK(!px_tensor_allclose(n1, n1, 1, 1)); /* NaNs are never close */
    CHECK(!px_tensor_allclose(n1, n2, 1, 1));
    CHECK(px_tensor_allclose(n3, n3, 0, 0)); /* equal infinities are */
    CHECK(!px_tensor_allclose(n3, n4, 1, 1));
    px_tensor_free(a), px_tensor_free(b), px_tensor_free(c), px_tensor_free(ia);
    px_tensor_free(n1), px_tensor_free(n2), px_tensor_free(n3), px_tensor_free(n4);
}

static void test_format_and_print(void) {
    char buf[4096];
    px_tensor *a = px_tensor_from_array(PX_SHAPE(2, 3), (const float[]){1, 2.5f, -3, 4, 5, 6}, 6);
    px_tensor_format(a, buf, sizeof buf);
    CHECK(strcmp(buf, "tensor(shape=(2, 3), dtype=float32, [[1, 2.5, -3],\n        [4, 5, 6]])") == 0);
    if (strcmp(buf, "tensor(shape=(2, 3), dtype=float32, [[1, 2.5, -3],\n        [4, 5, 6]])"))
        fprintf(stderr, "got: %s\n", buf);
    px_tensor *s = px_tensor_scalar(0.125f);
    CHECK(strcmp(px_tensor_format(s, buf, sizeof buf), "tensor(shape=(), dtype=float32, 0.125)") == 0);
    px_tensor *i = px_tensor_from_int_array(PX_SHAPE(2), (const int32_t[]){-7, 8}, 2);
    CHECK(strcmp(px_tensor_format(i, buf, sizeof buf), "tensor(shape=(2,), dtype=int32, [-7, 8])") == 0);
    CHECK(strcmp(px_tensor_format(NULL, buf, sizeof buf), "tensor(NULL)") == 0);

    /* long axes show three values at each end */
    px_tensor *r = px_tensor_arange(0, 100, 1);
    px_tensor_format(r, buf, sizeof buf);
    CHECK(strcmp(buf, "tensor(shape=(100,), dtype=float32, [0, 1, 2, ..., 97, 98, 99])") == 0);
    px_tensor *big = px_tensor_arange(0, 10000, 1);
    px_tensor *m = px_tensor_reshape(big, PX_SHAPE(100, 100));
    px_tensor_format(m, buf, sizeof buf);
    CHECK(strstr(buf, "...") != NULL);
    CHECK(strstr(buf, "[0, 1, 2, ..., 97, 98, 99]") != NULL);
    CHECK(strstr(buf, "[9900, 9901, 9902, ..., 9997, 9998, 9999]") != NULL);
    CHECK(strstr(buf, "[300, ") == NULL); /* row 3 is left out */
    CHECK(strlen(buf) < 400);
    /* a strided view prints its own order */
    px_tensor *p = px_tensor_permute(a, (const int[]){1, 0});
    px_tensor_format(p, buf, sizeof buf);
    CHECK(strstr(buf, "[[1, 4],") != NULL);
    /* truncation keeps the string terminated */
    char tiny[10];
    px_tensor_format(m, tiny, sizeof tiny);
    CHECK(strlen(tiny) == 9 && strncmp(tiny, "tensor(sh", 9) == 0);

    /* print writes the same text plus a newline */
    FILE *f = tmpfile();
    CHECK_NOT_NULL(f);
    if (f) {
        px_tensor_print(a, f);
        long n = ftell(f);
        rewind(f);
        char got[256] = {0};
        CHECK(n > 0 && n < 256 && fread(got, 1, (size_t)n, f) == (size_t)n);
        px_tensor_format(a, buf, sizeof buf);
        CHECK(strncmp(got, buf, strlen(buf)) == 0 && got[strlen(buf)] == '\n');
        fclose(f);
    }
    px_tensor_free(a), px_tensor_free(s), px_tensor_free(i), px_tensor_free(r), px_tensor_free(big);
    px_tensor_free(m), px_tensor_free(p);
}

static void test_rank_limits(void) {
    px_tensor *t8 = px_tensor_ones(PX_SHAPE(2, 1, 2, 1, 2, 1, 2, 3));
    CHECK(t8 && t8->rank == 8 && px_tensor_size(t8) == 48 && t8->strides[0] == 24 && t8->strides[7] == 1);
    CHECK(px_tensor_get(t8, (const int64_t[]){1, 0, 1, 0, 1, 0, 1, 2}) == 1.0f);
    px_tensor *p8 = px_tensor_permute(t8, (const int[]){7, 6, 5, 4, 3, 2, 1, 0});
    CHECK(p8 && p8->shape[0] == 3 && p8->strides[0] == 1);
    px_tensor *c8 = px_tensor_copy(p8);
    CHECK(c8 && px_tensor_equal(c8, p8));
    char buf[4096];
    px_tensor_format(t8, buf, sizeof buf);
    CHECK(strstr(buf, "shape=(2, 1, 2, 1, 2, 1, 2, 3)") != NULL && strstr(buf, "[[[[[[[[1, 1, 1]") != NULL);
    px_tensor *one = px_tensor_ones(PX_SHAPE(1));
    px_tensor *t0 = px_tensor_reshape(one, PX_SCALAR);
    px_tensor_free(one);
    CHECK(t0 && t0->rank == 0);
    px_tensor *t0c = px_tensor_copy(t0);
    CHECK(t0c && t0c->rank == 0 && px_tensor_f32(t0c)[0] == 1.0f && px_tensor_equal(t0, t0c));
    CHECK(px_tensor_slice(t0, 0, 1) == NULL);
    CHECK_ERROR_HAS("slice: needs a tensor of rank >= 1");

    px_shape nine = {.rank = 9, .dim = {1, 1, 1, 1, 1, 1, 1, 1}};
    CHECK(px_tensor_zeros(nine) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("rank 9 is outside 0..8");
    CHECK(px_tensor_from_array(nine, (const float[]){1}, 1) == NULL);
    CHECK_ERROR_HAS("rank 9");
    CHECK(px_tensor_reshape(t8, nine) == NULL);
    CHECK_ERROR_HAS("rank 9");
    px_shape negative_rank = {.rank = -1};
    CHECK(px_tensor_zeros(negative_rank) == NULL);
    px_tensor_free(t8), px_tensor_free(p8), px_tensor_free(c8), px_tensor_free(t0), px_tensor_free(t0c);
}

static void test_errors(void) {
    CHECK(px_tensor_zeros(PX_SHAPE(3, -2)) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("dimension 1 is -2");
    CHECK(px_tensor_zeros(PX_SHAPE(PX_UNKNOWN)) == NULL);
    CHECK_ERROR_HAS("dimension 0 is -1");
    CHECK(px_tensor_new((px_dtype)5, PX_SHAPE(2)) == NULL);
    CHECK_ERROR_HAS("unknown dtype 5");

    const float v[5] = {1, 2, 3, 4, 5};
    CHECK(px_tensor_from_array(PX_SHAPE(2, 3), v, 5) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("tensor_from_array: 5 values given for shape (2, 3) (6 needed)");
    CHECK(px_tensor_from_int_array(PX_SHAPE(2), (const int32_t[]){1, 2, 3}, 3) == NULL);
    CHECK_ERROR_HAS("3 values given for shape (2,) (2 needed)");
    CHECK(px_tensor_from_array(PX_SHAPE(2), NULL, 2) == NULL);
    CHECK_ERROR_HAS("values is NULL");

    px_tensor *t = px_tensor_zeros(PX_SHAPE(32, 784));
    CHECK(px_tensor_reshape(t, PX_SHAPE(32, 100)) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("reshape: cannot reshape (32, 784) (25088 elements) into (32, 100)");
    CHECK(px_tensor_reshape(t, PX_SHAPE(-1, 100)) == NULL);
    CHECK_ERROR_HAS("cannot reshape (32, 784) (25088 elements)");
    CHECK(px_tensor_reshape(t, PX_SHAPE(-1, -1)) == NULL);
    CHECK_ERROR_HAS("only one -1 is allowed");
    CHECK(px_tensor_reshape(NULL, PX_SHAPE(1)) == NULL);

    CHECK(px_tensor_slice(t, 30, 33) == NULL);
    CHECK_ERROR_HAS("slice: rows [30, 33) are outside [0, 32)");
    CHECK(px_tensor_slice(t, -1, 2) == NULL);
    CHECK_ERROR_HAS("rows [-1, 2)");
    CHECK(px_tensor_slice(t, 5, 4) == NULL);
    CHECK(px_tensor_slice(NULL, 0, 1) == NULL);

    CHECK(px_tensor_permute(t, (const int[]){0, 0}) == NULL);
    CHECK_ERROR_HAS("perm is not a permutation of 0..1");
    CHECK(px_tensor_permute(t, (const int[]){0, 2}) == NULL);
    CHECK(px_tensor_permute(t, NULL) == NULL);
    px_tensor_free(t);
}

/* 2^60 elements cannot be allocated: a clean error, not a crash. The sanitizer
 * run sets ASAN_OPTIONS=allocator_may_return_null=1 so ASan returns NULL too. */
static void test_allocation_failure(void) {
    px_clear_error();
    px_tensor *t = px_tensor_new(PX_F32, PX_SHAPE((int64_t)1 << 40, (int64_t)1 << 20));
    CHECK(t == NULL);
    CHECK(px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("out of memory for shape (1099511627776, 1048576)");
    px_tensor_free(t);
    /* sizes whose byte count would overflow fail the same way */
    CHECK(px_tensor_zeros(PX_SHAPE((int64_t)1 << 40, (int64_t)1 << 40)) == NULL);
    CHECK(px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("(1099511627776, 1099511627776)");
    /* even when a 0 makes them empty: their sizes could not be multiplied out */
    CHECK(px_tensor_ones(PX_SHAPE(INT64_MAX, 2, 0)) == NULL);
    CHECK(px_last_status() == PX_ERR_NOMEM);
    CHECK(px_tensor_from_array(PX_SHAPE(0, (int64_t)1 << 40, (int64_t)1 << 40), NULL, 0) == NULL);
    CHECK(px_tensor_wrap(PX_F32, PX_SHAPE((int64_t)1 << 62, 4), NULL) == NULL);
    px_tensor *t1 = px_tensor_zeros(PX_SHAPE(2));
    CHECK(px_tensor_reshape(t1, PX_SHAPE(0, INT64_MAX, 4)) == NULL);
    CHECK(px_last_status() == PX_ERR_NOMEM);
    px_tensor_free(t1);
    /* a big empty shape that fits is fine */
    px_tensor *e = px_tensor_zeros(PX_SHAPE(0, (int64_t)1 << 40, (int64_t)1 << 20));
    CHECK(e && px_tensor_size(e) == 0);
    px_tensor_free(e);
}

int main(void) {
    RUN_TEST(test_shape_format);
    RUN_TEST(test_creation);
    RUN_TEST(test_rng_sequence_is_fixed);
    RUN_TEST(test_random_tensors);
    RUN_TEST(test_views_share_storage);
    RUN_TEST(test_copies);
    RUN_TEST(test_ranges);
    RUN_TEST(test_compare);
    RUN_TEST(test_format_and_print);
    RUN_TEST(test_rank_limits);
    RUN_TEST(test_errors);
    RUN_TEST(test_allocation_failure);
    return px_test_finish();
}
