/* Configuration and weight round trips of whole models (model_roundtrip.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_roundtrip.h"
#include "px_test.h"

static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

px_tensor *px_rt_random_input(px_shape s, uint64_t seed, int int_max) {
    px_tensor *t = px_tensor_zeros(s);
    px_rng r = px_rng_seeded(seed);
    for (int64_t i = 0; t && i < px_tensor_size(t); i++) {
        float u = px_rng_uniform(&r);
        px_tensor_f32(t)[i] = int_max ? (float)(int)(u * int_max) : 2 * u - 1;
    }
    return t;
}

static bool same_bits(const px_tensor *a, const px_tensor *b) {
    return a && b && px_shape_equal(px_tensor_shape(a), px_tensor_shape(b)) &&
           memcmp(a->data, b->data, (size_t)px_tensor_size(a) * sizeof(float)) == 0;
}

static bool all_finite(const px_tensor *t) {
    for (int64_t i = 0; t && i < px_tensor_size(t); i++)
        if (!isfinite(px_tensor_f32(t)[i])) return false;
    return t != NULL;
}

void px_rt_round_trip(px_model *m, px_shape x_shape, int int_max, const char *what) {
    CHECK_NOT_NULL(m);
    if (!m) {
        fprintf(stderr, "  %s: %s\n", what, px_last_error());
        return;
    }
    char *j1 = NULL, *j2 = NULL, *j3 = NULL;
    CHECK_OK(px_model_to_json(m, &j1));
    px_model *b = j1 ? px_model_from_json(j1, strlen(j1)) : NULL;
    CHECK_NOT_NULL(b);
    if (b) CHECK_OK(px_model_to_json(b, &j2));
    bool same = j1 && j2 && strcmp(j1, j2) == 0;
    CHECK(same);
    if (!same) fprintf(stderr, "  %s:\n  first  %s\n  second %s\n", what, j1, j2 ? j2 : px_last_error());
    px_model_free(b);

    char path[512];
    snprintf(path, sizeof path, "%s/px_roundtrip_%d.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    CHECK_OK(px_model_save(m, path));
    px_model *c = px_model_load(path);
    CHECK_NOT_NULL(c);
    if (c) {
        px_tensor *x = px_rt_random_input(x_shape, 11, int_max);
        px_tensor *p1 = px_model_predict(m, x, &silent), *p2 = px_model_predict(c, x, &silent);
        CHECK(all_finite(p1));
        CHECK(same_bits(p1, p2));
        if (!all_finite(p1) || !same_bits(p1, p2)) fprintf(stderr, "  %s: predictions differ or are not finite (%s)\n", what, px_last_error());
        CHECK_OK(px_model_to_json(c, &j3));
        CHECK(j1 && j3 && strcmp(j1, j3) == 0);
        px_tensor_free(x), px_tensor_free(p1), px_tensor_free(p2);
    } else {
        fprintf(stderr, "  %s: %s\n", what, px_last_error());
    }
    px_model_free(c);
    remove(path);
    free(j1), free(j2), free(j3);
    px_model_free(m);
}
