/* The shared oneDNN cache (src/backend/cpu/dnnl_engine.c): a shape's primitive is
 * made once per thread and found again, a refusal is remembered (its maker is not
 * called again), kinds with equal shape words do not collide, shapes pushed out of
 * the full cache are made again and still compute, scratch slots keep their
 * contents as they grow, and a thread's cache is freed when it exits. Skips (77)
 * in builds without oneDNN. */
#include <pthread.h>
#include <string.h>

#include "backend/cpu/dnnl_engine.h"
#include "px_test.h"

#ifdef PX_DNNL_USABLE
static int made, refused;

/* key: kind, n: a reorder copying n floats (a primitive that computes something checkable) */
static bool make_copy(const int64_t *key, int key_len, dnnl_engine_t e, px_dnnl_prim *out) {
    (void)key_len;
    made++;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {key[1]};
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a) == dnnl_success &&
              dnnl_reorder_primitive_desc_create(&pd, &md, e, &md, e, NULL) == dnnl_success &&
              dnnl_primitive_create(&out->p, pd) == dnnl_success && px_dnnl_add_mem(out, e, &md, DNNL_ARG_FROM) &&
              px_dnnl_add_mem(out, e, &md, DNNL_ARG_TO);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

static bool make_refused(const int64_t *key, int key_len, dnnl_engine_t e, px_dnnl_prim *out) {
    (void)key, (void)key_len, (void)e, (void)out;
    refused++;
    return false;
}

/* copies n floats through the cached primitive of (kind, n); false when it cannot */
static bool copy_through(int64_t kind, int64_t n) {
    const int64_t key[] = {kind, n};
    const px_dnnl_prim *p = px_dnnl_cached(key, 2, make_copy);
    float src[64], dst[64];
    for (int64_t i = 0; i < n; i++) src[i] = (float)(i * 3 + 1), dst[i] = -1.0f;
    void *const data[2] = {src, dst};
    return p && px_dnnl_execute(p, data) && !memcmp(src, dst, (size_t)n * sizeof *src);
}

static void test_made_once_and_found(void) {
    made = 0;
    long made_before = px_dnnl_made();
    CHECK(copy_through(PX_DNNL_KIND_CONV, 17));
    CHECK(copy_through(PX_DNNL_KIND_CONV, 17));
    CHECK(made == 1);
    CHECK(copy_through(PX_DNNL_KIND_PACKED_REORDER, 17)); /* same shape word, other kind */
    CHECK(made == 2);
    CHECK(px_dnnl_made() - made_before == 2); /* the cache's own count of what it made */
    const int64_t too_long[PX_DNNL_KEY_WORDS + 1] = {PX_DNNL_KIND_CONV};
    CHECK(px_dnnl_cached(too_long, PX_DNNL_KEY_WORDS + 1, make_copy) == NULL);
}

static void test_refusal_remembered(void) {
    refused = 0;
    const int64_t key[] = {PX_DNNL_KIND_CONV, 999};
    CHECK(px_dnnl_cached(key, 2, make_refused) == NULL);
    CHECK(px_dnnl_cached(key, 2, make_refused) == NULL);
    CHECK(refused == 1);
}

/* 40 shapes through a cache of 32: the first ones are pushed out, made again on
 * their next use, and compute what they should */
static void test_replaced_shapes(void) {
    made = 0;
    for (int64_t n = 1; n <= 40; n++) CHECK(copy_through(PX_DNNL_KIND_CONV, n + 20));
    int after_fill = made;
    CHECK(copy_through(PX_DNNL_KIND_CONV, 21));
    CHECK(made == after_fill + 1);
}

static void test_scratch_grows_keeping_contents(void) {
    char *s = px_dnnl_scratch(PX_DNNL_SCRATCH_PACKED_B, 16);
    CHECK(s != NULL);
    if (!s) return;
    memcpy(s, "0123456789abcdef", 16);
    char *t = px_dnnl_scratch(PX_DNNL_SCRATCH_PACKED_B, 1 << 20);
    CHECK(t != NULL && !memcmp(t, "0123456789abcdef", 16));
    CHECK(px_dnnl_scratch(PX_DNNL_SCRATCH, 16) == NULL); /* no such slot */
}

static void *use_on_new_thread(void *arg) {
    int *r = arg;
    r[0] = copy_through(PX_DNNL_KIND_CONV, 9);
    r[1] = px_dnnl_thread_caches();
    return NULL;
}

static void test_thread_exit_frees_cache(void) {
    int before = px_dnnl_thread_caches();
    for (int i = 0; i < 3; i++) {
        pthread_t t;
        int r[2] = {0, -1};
        CHECK(pthread_create(&t, NULL, use_on_new_thread, r) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK(r[0] == 1);
        CHECK(r[1] == before + 1);
        CHECK(px_dnnl_thread_caches() == before);
    }
}
#endif

int main(void) {
#ifdef PX_DNNL_USABLE
    if (!px_dnnl_engine()) return PX_TEST_SKIP_CODE;
    RUN_TEST(test_made_once_and_found);
    RUN_TEST(test_refusal_remembered);
    RUN_TEST(test_replaced_shapes);
    RUN_TEST(test_scratch_grows_keeping_contents);
    RUN_TEST(test_thread_exit_frees_cache);
    return px_test_finish();
#else
    return PX_TEST_SKIP_CODE;
#endif
}
