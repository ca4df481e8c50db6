/* Sources and pipelines (src/data/source*.c, reader.c): in-memory arrays of
 * bytes, int32 and float32, generators, map, shuffle buffers, batch, cache,
 * take and prefetch, read through the reader: order, shuffling with a seed,
 * the last partial batch, empty and one-row sources, data-parallel shares,
 * conversions and their errors. */
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"
#include "px_test.h"

/* Reads one epoch: the example numbers (from the first feature) in order into
 * got[], the batch sizes into sizes[]; returns the number of examples. */
static int64_t epoch(px_reader *r, float *got, int64_t cap, int64_t *sizes, int *n_batches) {
    const px_batch *b;
    int64_t n = 0;
    int nb = 0;
    if (px_reader_start(r) != PX_OK) return -1;
    while (px_reader_next(r, &b) == PX_OK && b) {
        int64_t per = px_tensor_size(&b->x[0]) / b->rows;
        for (int64_t i = 0; i < b->rows && n < cap; i++) got[n++] = px_tensor_f32(&b->x[0])[i * per];
        if (sizes && nb < 64) sizes[nb] = b->rows;
        nb++;
    }
    if (n_batches) *n_batches = nb;
    return n;
}

static bool is_permutation(const float *v, int64_t n, float scale) {
    char seen[1024] = {0};
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(v[i] / scale + 0.5f);
        if (k < 0 || k >= n || seen[k]) return false;
        seen[k] = 1;
    }
    return true;
}

/* Bytes scaled in the gather, labels from bytes, order and the last partial batch. */
static void test_arrays_bytes(void) {
    uint8_t pix[10 * 4];
    uint8_t lab[10];
    for (int i = 0; i < 10; i++) {
        for (int j = 0; j < 4; j++) pix[i * 4 + j] = (uint8_t)(i * 10 + j);
        lab[i] = (uint8_t)(9 - i);
    }
    px_array x = {PX_ELEM_U8, PX_SHAPE(10, 2, 2), pix, 1.0f / 255, false};
    px_array y = {PX_ELEM_U8, PX_SHAPE(10), lab, 0, false};
    px_source *s = px_source_arrays(&x, 1, &y, 1, NULL);
    CHECK_NOT_NULL(s);
    if (!s) return;
    CHECK(px_source_size(s) == 10 && px_source_random_access(s));
    const px_source_spec *sp = px_source_get_spec(s);
    CHECK(sp->x_dtype[0] == PX_F32 && sp->y_dtype[0] == PX_I32 && px_shape_equal(sp->x[0], PX_SHAPE(2, 2)));
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 4});
    CHECK(px_reader_steps(r) == 3);
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    int64_t row = 0, sizes[3];
    int nb = 0;
    bool values_ok = true;
    while (px_reader_next(r, &b) == PX_OK && b) {
        sizes[nb++] = b->rows;
        CHECK(b->x[0].rank == 3 && b->x[0].shape[1] == 2 && b->y[0].dtype == PX_I32);
        for (int64_t i = 0; i < b->rows; i++, row++) {
            for (int j = 0; j < 4; j++)
                values_ok &= px_tensor_f32(&b->x[0])[i * 4 + j] == (float)pix[row * 4 + j] * (1.0f / 255);
            values_ok &= px_tensor_i32(&b->y[0])[i] == 9 - row;
            values_ok &= b->index[i] == row;
        }
    }
    CHECK(values_ok);
    CHECK(nb == 3 && sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2);
    CHECK(row == 10);
    /* after the end: still the end */
    CHECK_OK(px_reader_next(r, &b));
    CHECK(b == NULL);
    px_reader_free(r);
    px_source_free(s);
}

/* Float features are viewed in place when nothing needs converting. */
static void test_arrays_in_place(void) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    int32_t l[3] = {0, 1, 2};
    px_array x = {PX_ELEM_F32, PX_SHAPE(3, 2), v, 0, false};
    px_array y = {PX_ELEM_I32, PX_SHAPE(3), l, 0, false};
    px_source *s = px_source_arrays(&x, 1, &y, 1, NULL);
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 2});
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    CHECK(b && b->x[0].data == (void *)v && b->y[0].data == (void *)l);
    CHECK_OK(px_reader_next(r, &b));
    CHECK(b && b->x[0].data == (void *)(v + 4) && b->rows == 1);
    px_reader_free(r);
    px_source_free(s);
}

static void test_shuffle_seeded(void) {
    enum { N = 50 };
    float v[N];
    for (int i = 0; i < N; i++) v[i] = (float)i;
    px_array x = {PX_ELEM_F32, PX_SHAPE(N), v, 0, false};
    px_source *s = px_source_arrays(&x, 1, NULL, 0, NULL);
    px_reader *r1 = px_reader_new(s, &(px_read_options){.batch_size = 8, .shuffle = true, .seed = 7});
    px_reader *r2 = px_reader_new(s, &(px_read_options){.batch_size = 8, .shuffle = true, .seed = 7});
    px_reader *r3 = px_reader_new(s, &(px_read_options){.batch_size = 8, .shuffle = true, .seed = 8});
    float a1[N], a2[N], b1[N], c1[N];
    CHECK(epoch(r1, a1, N, NULL, NULL) == N);
    CHECK(epoch(r1, a2, N, NULL, NULL) == N);
    CHECK(epoch(r2, b1, N, NULL, NULL) == N);
    CHECK(epoch(r3, c1, N, NULL, NULL) == N);
    CHECK(is_permutation(a1, N, 1) && is_permutation(a2, N, 1) && is_permutation(c1, N, 1));
    CHECK(memcmp(a1, b1, sizeof a1) == 0); /* the same seed, the same order */
    CHECK(memcmp(a1, a2, sizeof a1) != 0); /* a new order each epoch */
    CHECK(memcmp(a1, c1, sizeof a1) != 0); /* another seed, another order */
    bool sorted = true;
    for (int i = 1; i < N; i++) sorted &= a1[i] > a1[i - 1];
    CHECK(!sorted);
    px_reader_free(r1);
    px_reader_free(r2);
    px_reader_free(r3);
    px_source_free(s);
}

static void test_empty_and_one(void) {
    float one = 42;
    px_array x1 = {PX_ELEM_F32, PX_SHAPE(1, 1), &one, 0, false};
    px_source *s = px_source_arrays(&x1, 1, NULL, 0, NULL);
    px_reader *r = px_reader_new(s, NULL);
    float got[4];
    int nb = 0;
    CHECK(epoch(r, got, 4, NULL, &nb) == 1);
    CHECK(nb == 1 && got[0] == 42);
    px_reader_free(r);
    /* shuffled, batched, cached and prefetched, one row is one row */
    s = px_source_prefetch(px_source_cache(px_source_batch(px_source_shuffle(s, 10, 1), 5, false)), 2);
    CHECK_NOT_NULL(s);
    r = px_reader_new(s, NULL);
    for (int e = 0; e < 2; e++) {
        CHECK(epoch(r, got, 4, NULL, &nb) == 1);
        CHECK(nb == 1 && got[0] == 42);
    }
    px_reader_free(r);
    px_source_free(s);
    px_array x0 = {PX_ELEM_F32, PX_SHAPE(0, 3), NULL, 0, false};
    s = px_source_arrays(&x0, 1, NULL, 0, NULL);
    CHECK_NOT_NULL(s);
    r = px_reader_new(s, &(px_read_options){.shuffle = true});
    CHECK(px_reader_steps(r) == 0);
    CHECK(epoch(r, got, 4, NULL, &nb) == 0 && nb == 0);
    px_reader_free(r);
    s = px_source_prefetch(px_source_batch(px_source_shuffle(s, 4, 1), 3, false), 1);
    r = px_reader_new(s, NULL);
    CHECK(epoch(r, got, 4, NULL, &nb) == 0 && nb == 0);
    px_reader_free(r);
    px_source_free(s);
}

static void test_bad_arrays(void) {
    float v[4] = {0, 1, 2, 3};
    float lab[2] = {1, 1.5f};
    px_array x = {PX_ELEM_F32, PX_SHAPE(2, 2), v, 0, false};
    px_array y3 = {PX_ELEM_F32, PX_SHAPE(3), lab, 0, false};
    CHECK(px_source_arrays(&x, 1, &y3, 1, NULL) == NULL);
    CHECK_ERROR_HAS("3 examples but input 0 has 2");
    CHECK(px_source_arrays(NULL, 0, NULL, 0, NULL) == NULL);
    px_array bad = {(px_elem_type)9, PX_SHAPE(2), v, 0, false};
    CHECK(px_source_arrays(&bad, 1, NULL, 0, NULL) == NULL);
    /* an owned buffer is freed also on failure (valgrind and ASan check it) */
    float *owned = malloc(4 * sizeof *owned);
    px_array xo = {PX_ELEM_F32, PX_SHAPE(2, 2), owned, 0, true};
    CHECK(px_source_arrays(&xo, 1, &y3, 1, NULL) == NULL);
    /* float labels read as int32: whole numbers only, named */
    px_array y = {PX_ELEM_F32, PX_SHAPE(2), lab, 0, false};
    px_source *s = px_source_arrays(&x, 1, &y, 1, NULL);
    px_dtype want_y = PX_I32;
    px_reader *r = px_reader_new_config(s, &(px_reader_config){.batch_size = 2, .with_y = true, .y_dtype = &want_y});
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    CHECK(px_reader_next(r, &b) == PX_ERR_ARG);
    CHECK_ERROR_HAS("target 0: example 1 holds 1.5");
    px_reader_free(r);
    px_source_free(s);
}

/* ---- a generator: batch k holds examples k*3 .. k*3+2 of 8 ---- */

typedef struct gen_state {
    int ends, calls;
    bool fail;
} gen_state;

static px_status gen_get(void *user, int64_t index, px_batch *b) {
    gen_state *g = user;
    g->calls++;
    if (g->fail && index == 1) return px_set_error(PX_ERR_IO, "generator test: batch 1 is unreadable");
    int64_t first = index * 3, n = 8 - first < 3 ? 8 - first : 3;
    b->rows = n;
    for (int64_t i = 0; i < n; i++) {
        px_tensor_f32(&b->x[0])[i] = (float)(first + i);
        px_tensor_f32(&b->y[0])[i] = (float)((first + i) % 2);
    }
    return PX_OK;
}
static void gen_end(void *user, int epoch) {
    (void)epoch;
    ((gen_state *)user)->ends++;
}

static px_generator make_gen(gen_state *st) {
    px_generator g = {.batches = 3, .batch_size = 3, .get = gen_get, .on_epoch_end = gen_end, .user = st};
    g.spec.n_x = g.spec.n_y = 1;
    g.spec.x[0] = PX_SCALAR;
    g.spec.y[0] = PX_SCALAR;
    g.spec.x_dtype[0] = g.spec.y_dtype[0] = PX_F32;
    return g;
}

static void test_generator(void) {
    gen_state st = {0};
    px_generator g = make_gen(&st);
    px_source *s = px_source_generator(&g);
    CHECK_NOT_NULL(s);
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 100});
    CHECK(px_reader_steps(r) == 3);
    float got[8];
    int64_t sizes[3];
    int nb;
    CHECK(epoch(r, got, 8, sizes, &nb) == 8);
    CHECK(nb == 3 && sizes[0] == 3 && sizes[2] == 2);
    for (int i = 0; i < 8; i++) CHECK(got[i] == i);
    CHECK(st.ends == 1);
    px_reader_free(r);
    /* shuffled: the batches come in another order, each whole */
    r = px_reader_new(s, &(px_read_options){.shuffle = true, .seed = 3});
    bool moved = false;
    for (int e = 0; e < 4; e++) {
        CHECK(epoch(r, got, 8, sizes, &nb) == 8);
        CHECK(is_permutation(got, 8, 1));
        moved |= got[0] != 0;
        for (int i = 0; i < 8; i += 0) {
            int k = (int)got[i] / 3, len = k == 2 ? 2 : 3;
            for (int j = 1; j < len; j++) CHECK(got[i + j] == got[i] + j);
            i += len;
        }
    }
    CHECK(moved);
    px_reader_free(r);
    /* int32 labels wanted: converted from the generator's floats */
    px_dtype yi = PX_I32;
    r = px_reader_new_config(s, &(px_reader_config){.with_y = true, .y_dtype = &yi});
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    CHECK(b && b->y[0].dtype == PX_I32 && px_tensor_i32(&b->y[0])[1] == 1);
    px_reader_free(r);
    px_source_free(s);
    /* a failing batch stops the epoch with its message, also when prefetched */
    st = (gen_state){.fail = true};
    g = make_gen(&st);
    s = px_source_prefetch(px_source_generator(&g), 2);
    r = px_reader_new(s, NULL);
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    CHECK(px_reader_next(r, &b) == PX_ERR_IO);
    CHECK_ERROR_HAS("batch 1 is unreadable");
    px_reader_free(r);
    px_source_free(s);
}

/* ---- map ---- */

static px_status square(void *user, const px_batch *in, px_batch *out) {
    int *calls = user;
    (*calls)++;
    int64_t n = px_tensor_size(&in->x[0]);
    for (int64_t i = 0; i < n; i++) px_tensor_f32(&out->x[0])[i] = px_tensor_f32(&in->x[0])[i] * px_tensor_f32(&in->x[0])[i];
    return PX_OK;
}

/* (2,) -> (2, 2): a new shape through out_spec */
static px_status outer(void *user, const px_batch *in, px_batch *out) {
    (void)user;
    const float *a = px_tensor_f32(&in->x[0]);
    float *o = px_tensor_f32(&out->x[0]);
    for (int64_t r = 0; r < in->rows; r++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) o[r * 4 + i * 2 + j] = a[r * 2 + i] * a[r * 2 + j];
    return PX_OK;
}

static void test_map(void) {
    float v[5] = {0, 1, 2, 3, 4};
    int32_t l[5] = {5, 6, 7, 8, 9};
    px_array x = {PX_ELEM_F32, PX_SHAPE(5), v, 0, false};
    px_array y = {PX_ELEM_I32, PX_SHAPE(5), l, 0, false};
    int calls = 0;
    px_source *s = px_source_map(px_source_arrays(&x, 1, &y, 1, NULL), square, &calls, NULL);
    CHECK(px_source_random_access(s));
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 2});
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    int64_t k = 0;
    while (px_reader_next(r, &b) == PX_OK && b)
        for (int64_t i = 0; i < b->rows; i++, k++) {
            CHECK(px_tensor_f32(&b->x[0])[i] == (float)(k * k));
            CHECK(px_tensor_i32(&b->y[0])[i] == 5 + k); /* targets carried over */
        }
    CHECK(k == 5 && calls == 5); /* once per example before batch() */
    px_reader_free(r);
    /* after batch(): once per batch */
    calls = 0;
    s = px_source_map(px_source_batch(s, 2, false), square, &calls, NULL);
    r = px_reader_new(s, NULL);
    float got[5];
    int nb;
    CHECK(epoch(r, got, 5, NULL, &nb) == 5);
    CHECK(nb == 3 && calls == 5 + 3 && got[4] == 256);
    px_reader_free(r);
    px_source_free(s);
    /* a new example shape */
    float p[4] = {1, 2, 3, 4};
    px_array x2 = {PX_ELEM_F32, PX_SHAPE(2, 2), p, 0, false};
    px_source_spec spec = {.n_x = 1, .x = {PX_SHAPE(2, 2)}, .x_dtype = {PX_F32}};
    s = px_source_map(px_source_arrays(&x2, 1, NULL, 0, NULL), outer, NULL, &spec);
    r = px_reader_new(s, NULL);
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    CHECK(b && b->x[0].rank == 3 && b->x[0].shape[1] == 2 && b->x[0].shape[2] == 2);
    float want[8] = {1, 2, 2, 4, 9, 12, 12, 16};
    for (int i = 0; b && i < 8; i++) CHECK(px_tensor_f32(&b->x[0])[i] == want[i]);
    px_reader_free(r);
    px_source_free(s);
}

/* ---- shuffle buffer, batch, cache, take ---- */

static void test_shuffle_buffer(void) {
    enum { N = 40 };
    float v[N];
    for (int i = 0; i < N; i++) v[i] = (float)i;
    px_array x = {PX_ELEM_F32, PX_SHAPE(N), v, 0, false};
    /* a buffer of 1 keeps the order */
    px_source *s = px_source_shuffle(px_source_arrays(&x, 1, NULL, 0, NULL), 1, 5);
    CHECK(!px_source_random_access(s) && px_source_size(s) == N);
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 7});
    float got[N], again[N], other[N];
    int64_t sizes[8];
    int nb;
    CHECK(epoch(r, got, N, sizes, &nb) == N);
    CHECK(nb == 6 && sizes[5] == 5);
    for (int i = 0; i < N; i++) CHECK(got[i] == i);
    px_reader_free(r);
    px_source_free(s);
    /* a buffer of 10: a permutation in which no example moves up more than the buffer allows */
    s = px_source_shuffle(px_source_arrays(&x, 1, NULL, 0, NULL), 10, 5);
    r = px_reader_new(s, &(px_read_options){.batch_size = 7});
    CHECK(epoch(r, got, N, NULL, NULL) == N);
    CHECK(epoch(r, again, N, NULL, NULL) == N);
    CHECK(is_permutation(got, N, 1) && is_permutation(again, N, 1));
    CHECK(memcmp(got, again, sizeof got) != 0);
    bool local = true;
    for (int i = 0; i < N; i++) local &= got[i] <= i + 9;
    CHECK(local);
    px_reader_free(r);
    px_source_free(s);
    s = px_source_shuffle(px_source_arrays(&x, 1, NULL, 0, NULL), 10, 5);
    r = px_reader_new(s, &(px_read_options){.batch_size = 3});
    CHECK(epoch(r, other, N, NULL, NULL) == N);
    CHECK(memcmp(got, other, sizeof got) == 0); /* same seed: same order, whatever the batch size */
    px_reader_free(r);
    px_source_free(s);
}

static void test_batch_cache_take(void) {
    gen_state st = {0};
    float v[11];
    for (int i = 0; i < 11; i++) v[i] = (float)i;
    px_array x = {PX_ELEM_F32, PX_SHAPE(11), v, 0, false};
    px_source *s = px_source_batch(px_source_arrays(&x, 1, NULL, 0, NULL), 4, true);
    CHECK(px_source_size(s) == 8);
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 100});
    CHECK(px_reader_steps(r) == 2);
    float got[11];
    int64_t sizes[4];
    int nb;
    CHECK(epoch(r, got, 11, sizes, &nb) == 8 && nb == 2 && sizes[1] == 4);
    px_reader_free(r);
    px_source_free(s);
    /* take: examples [3, 9), with random access kept */
    s = px_source_take(px_source_arrays(&x, 1, NULL, 0, NULL), 3, 9);
    CHECK(px_source_size(s) == 6 && px_source_random_access(s));
    r = px_reader_new(s, &(px_read_options){.batch_size = 4});
    CHECK(epoch(r, got, 11, NULL, NULL) == 6 && got[0] == 3 && got[5] == 8);
    px_reader_free(r);
    CHECK(px_source_take(s, 2, 7) == NULL); /* beyond its 6 examples; s is freed */
    /* cache: the generator is asked once per batch, however many epochs */
    px_generator g = make_gen(&st);
    s = px_source_cache(px_source_generator(&g));
    r = px_reader_new(s, NULL);
    for (int e = 0; e < 3; e++) CHECK(epoch(r, got, 11, NULL, NULL) == 8 && got[7] == 7);
    CHECK(st.calls == 3);
    px_reader_free(r);
    px_source_free(s);
    /* cache of a stream: recorded once, replayed */
    st = (gen_state){0};
    g = make_gen(&st);
    s = px_source_cache(px_source_shuffle(px_source_generator(&g), 4, 9));
    r = px_reader_new(s, &(px_read_options){.batch_size = 5});
    float first[8], second[8];
    CHECK(epoch(r, first, 8, NULL, NULL) == 8);
    CHECK(epoch(r, second, 8, NULL, NULL) == 8);
    CHECK(memcmp(first, second, sizeof first) == 0 && is_permutation(first, 8, 1));
    CHECK(st.calls == 3);
    px_reader_free(r);
    px_source_free(s);
}

/* Prefetching gives the batches reading in order would, and overlaps. */
static void test_prefetch_same(void) {
    enum { N = 300 };
    uint8_t *v = malloc(N * 7);
    for (int i = 0; i < N * 7; i++) v[i] = (uint8_t)(i * 31);
    px_array x = {PX_ELEM_U8, PX_SHAPE(N, 7), v, 0.5f, true};
    px_source *plain = px_source_arrays(&x, 1, NULL, 0, NULL);
    px_reader *a = px_reader_new(plain, &(px_read_options){.batch_size = 16, .shuffle = true, .seed = 11});
    float ga[N], gb[N];
    CHECK(epoch(a, ga, N, NULL, NULL) == N);
    px_reader_free(a);
    px_source *pf = px_source_prefetch(plain, 3);
    px_reader *b = px_reader_new(pf, &(px_read_options){.batch_size = 16, .shuffle = true, .seed = 11});
    CHECK(epoch(b, gb, N, NULL, NULL) == N);
    CHECK(memcmp(ga, gb, sizeof ga) == 0);
    /* an epoch stopped early, then a whole one */
    const px_batch *bt;
    CHECK_OK(px_reader_start(b));
    CHECK_OK(px_reader_next(b, &bt));
    px_reader_stop(b);
    CHECK(epoch(b, gb, N, NULL, NULL) == N);
    px_reader_free(b);
    px_source_free(pf);
}

/* Replicas: each reads its share of every batch; together they read it all. */
static void test_shares(void) {
    enum { N = 10 };
    float v[N];
    for (int i = 0; i < N; i++) v[i] = (float)i;
    px_array x = {PX_ELEM_F32, PX_SHAPE(N), v, 0, false};
    px_source *s = px_source_arrays(&x, 1, NULL, 0, NULL);
    int seen[N] = {0};
    for (int rank = 0; rank < 3; rank++) {
        px_reader *r = px_reader_new_config(s, &(px_reader_config){.batch_size = 4, .rank = rank, .ranks = 3});
        const px_batch *b;
        CHECK_OK(px_reader_start_epoch(r, 0));
        int step = 0;
        while (px_reader_next(r, &b) == PX_OK && b) {
            int64_t global = px_reader_global_rows(r), share = px_reader_share_rows(r);
            CHECK(global == (step < 2 ? 4 : 2));
            CHECK(b->rows == (share ? share : 1));
            for (int64_t i = 0; i < share; i++) seen[(int)px_tensor_f32(&b->x[0])[i]]++;
            step++;
        }
        CHECK(step == 3);
        px_reader_free(r);
    }
    for (int i = 0; i < N; i++) CHECK(seen[i] == 1);
    /* a validation range of a source with random access; a stream refuses one */
    px_reader *r = px_reader_new_config(s, &(px_reader_config){.batch_size = 4, .range = true, .lo = 7, .hi = 10});
    CHECK(px_reader_examples(r) == 3 && px_reader_steps(r) == 1);
    px_reader_free(r);
    s = px_source_shuffle(s, 3, 1);
    CHECK(px_reader_new_config(s, &(px_reader_config){.range = true, .lo = 7, .hi = 10}) == NULL);
    CHECK_ERROR_HAS("no random access");
    px_source_free(s);
}

/* Sample weights travel with their examples; ones when a reader needs them. */
static void test_weights(void) {
    float v[4] = {0, 1, 2, 3}, w[4] = {0.5f, 1, 2, 4};
    int32_t l[4] = {0, 1, 0, 1};
    px_array x = {PX_ELEM_F32, PX_SHAPE(4), v, 0, false};
    px_array y = {PX_ELEM_I32, PX_SHAPE(4), l, 0, false};
    px_source *s = px_source_arrays(&x, 1, &y, 1, w);
    CHECK(px_source_get_spec(s)->weights);
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 4, .shuffle = true, .seed = 2});
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    for (int i = 0; b && i < 4; i++) CHECK(b->weights[i] == w[(int)px_tensor_f32(&b->x[0])[i]]);
    px_reader_free(r);
    px_source_free(s);
    s = px_source_arrays(&x, 1, &y, 1, NULL);
    r = px_reader_new_config(s, &(px_reader_config){.batch_size = 4, .with_y = true, .force_weights = true});
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    for (int i = 0; b && i < 4; i++) CHECK(b->weights && b->weights[i] == 1.0f);
    px_reader_free(r);
    px_source_free(s);
}

/* A batch of at least 32,768 values is gathered on the threads in row ranges:
 * the rows land in order at one and two threads, and a conversion that fails
 * in both threads' ranges names the first bad example in the batch's order. */
static void test_large_gather_on_threads(void) {
    enum { N = 40, PER = 1000 };
    float *xs = malloc(sizeof(float) * N * PER), *ys = malloc(sizeof(float) * N * PER);
    int64_t idx[N];
    for (int i = 0; i < N; i++) {
        idx[i] = N - 1 - i; /* reversed: batch row i is example N - 1 - i */
        for (int j = 0; j < PER; j++) xs[i * PER + j] = (float)(i * PER + j), ys[i * PER + j] = (float)(j % 7);
    }
    px_array x = {PX_ELEM_F32, PX_SHAPE(N, PER), xs, 0, false}, y = {PX_ELEM_F32, PX_SHAPE(N, PER), ys, 0, false};
    px_source *s = px_source_arrays(&x, 1, &y, 1, NULL);
    CHECK_NOT_NULL(s);
    px_tensor *bx = px_tensor_new(PX_F32, PX_SHAPE(N, PER)), *by = px_tensor_new(PX_I32, PX_SHAPE(N, PER));
    px_batch dst = {.rows = N, .n_x = 1, .n_y = 1, .x = {*bx}, .y = {*by}};
    int threads_before = px_num_threads();
    for (int threads = 1; s && threads <= 2; threads++) {
        px_set_num_threads(threads);
        memset(bx->data, 0, sizeof(float) * N * PER);
        CHECK_OK(s->ops->read(s, idx, N, &dst));
        bool rows_ok = true;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < PER; j++)
                rows_ok &= px_tensor_f32(bx)[i * PER + j] == xs[idx[i] * PER + j] &&
                           px_tensor_i32(by)[i * PER + j] == j % 7;
        CHECK(rows_ok);
        /* examples 30 (batch row 9) and 5 (batch row 34) hold fractions */
        ys[30 * PER + 3] = 2.5f, ys[5 * PER + 8] = 1.5f;
        px_clear_error();
        CHECK(s->ops->read(s, idx, N, &dst) == PX_ERR_ARG);
        CHECK_ERROR_HAS("target 0: example 30 holds 2.5 at position 3");
        ys[30 * PER + 3] = 3, ys[5 * PER + 8] = 1;
    }
    px_set_num_threads(threads_before);
    px_tensor_free(bx);
    px_tensor_free(by);
    px_source_free(s);
    free(xs);
    free(ys);
}

/* Bytes times a scale (px_copy_values; 16 lanes at a time where the processor
 * has AVX-512): each value is (float)byte * scale, every byte value, at every
 * length around the 16-value blocks, each result computed apart in double and
 * rounded once (one exact conversion and one multiply). */
static void test_bytes_scaled_exact(void) {
    uint8_t src[300];
    float out[300 + 1];
    const float scales[] = {1.0f / 255.0f, 0.3f, 2.0f, -1.5f};
    for (int i = 0; i < 300; i++) src[i] = (uint8_t)(i * 37 + 11);
    bool ok = true;
    for (size_t k = 0; k < sizeof scales / sizeof *scales; k++)
        for (int n = 0; n <= 300 && ok; n += n < 40 ? 1 : n < 260 ? 37 : n < 300 ? 300 - n : 1) {
            out[n] = 12345.0f; /* past the end: untouched */
            ok = px_copy_values(out, PX_F32, src, PX_ELEM_U8, n, scales[k]) < 0 && out[n] == 12345.0f;
            for (int i = 0; i < n && ok; i++) ok = out[i] == (float)((double)src[i] * (double)scales[k]);
        }
    CHECK(ok);
}

int main(void) {
    RUN_TEST(test_bytes_scaled_exact);
    RUN_TEST(test_arrays_bytes);
    RUN_TEST(test_arrays_in_place);
    RUN_TEST(test_shuffle_seeded);
    RUN_TEST(test_empty_and_one);
    RUN_TEST(test_bad_arrays);
    RUN_TEST(test_generator);
    RUN_TEST(test_map);
    RUN_TEST(test_shuffle_buffer);
    RUN_TEST(test_batch_cache_take);
    RUN_TEST(test_prefetch_same);
    RUN_TEST(test_shares);
    RUN_TEST(test_weights);
    RUN_TEST(test_large_gather_on_threads);
    return px_test_finish();
}
