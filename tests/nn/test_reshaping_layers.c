/* ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D and SpatialDropout1D/2D
 * layers: Keras output shapes, names, values worked out by hand, errors. */
#include <string.h>

#include "gradcheck.h"
#include "px_test.h"

static const px_eval_options QUIET = {.verbose = PX_VERBOSE_SILENT};

/* Layer i after the InputLayer (which is layer 0). */
static px_layer *layer(px_model *m, int i) { return px_model_layer(m, i + 1); }
static px_shape out_shape(px_model *m, int i) { return px_node_shape(px_layer_output(layer(m, i))); }

static void test_shapes_and_names(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(5, 6, 2), "img"), px_zero_padding2d(1, 2, 0, 3), px_cropping2d(2, 0, 1, 1),
        px_up_sampling2d(2, 3, PX_INTERP_NEAREST), px_up_sampling2d(1, 2, PX_INTERP_BILINEAR), px_spatial_dropout2d(0.3f),
        NULL});
    CHECK_OK(px_model_build(m, PX_SHAPE(5, 6, 2)));
    /* (5+3, 6+3) -> (8-2, 9-2) -> (12, 21) -> (12, 42) */
    const int64_t want[5][2] = {{8, 9}, {6, 7}, {12, 21}, {12, 42}, {12, 42}};
    for (int i = 0; i < 5; i++) {
        px_shape s = out_shape(m, i);
        CHECK(s.rank == 4 && s.dim[1] == want[i][0] && s.dim[2] == want[i][1] && s.dim[3] == 2);
        CHECK(px_layer_param_count(layer(m, i)) == 0);
    }
    const char *names[5] = {"zero_padding2d", "cropping2d", "up_sampling2d", "up_sampling2d_1", "spatial_dropout2d"};
    for (int i = 0; i < 5; i++) CHECK(strcmp(px_layer_name(layer(m, i)), names[i]) == 0);
    CHECK(strcmp(px_layer_class(layer(m, 1)), "Cropping2D") == 0);
    px_model_free(m);

    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(7, 3), "seq"), px_zero_padding1d(2, 1), px_cropping1d(0, 4),
                                     px_up_sampling1d(3), px_spatial_dropout1d(0.5f), NULL});
    CHECK_OK(px_model_build(m, PX_SHAPE(7, 3)));
    const int64_t want1[4] = {10, 6, 18, 18};
    for (int i = 0; i < 4; i++) CHECK(out_shape(m, i).rank == 3 && out_shape(m, i).dim[1] == want1[i]);
    CHECK(strcmp(px_layer_class(layer(m, 2)), "UpSampling1D") == 0);
    px_model_free(m);

    /* errors: wrong rank, nothing left after cropping, bad arguments */
    m = px_sequential((px_layer *[]){px_zero_padding2d(1, 1, 1, 1), NULL});
    CHECK(px_model_build(m, PX_SHAPE(5, 3)) != PX_OK);
    CHECK_ERROR_HAS("input shape (None, 5, 3) must be (batch, height, width, channels)");
    px_model_free(m);
    m = px_sequential((px_layer *[]){px_cropping1d(3, 2), NULL});
    CHECK(px_model_build(m, PX_SHAPE(5, 3)) != PX_OK);
    CHECK_ERROR_HAS("leave none");
    px_model_free(m);
    CHECK(px_cropping2d(0, -1, 0, 0) == NULL);
    CHECK_ERROR_HAS("Cropping2D: amounts must be >= 0");
    CHECK(px_up_sampling2d(2, 0, PX_INTERP_NEAREST) == NULL);
    CHECK_ERROR_HAS("UpSampling2D: size must be >= 1");
    CHECK(px_spatial_dropout1d(1.5f) == NULL);
    CHECK_ERROR_HAS("SpatialDropout1D: rate");
}

/* 2x2 image [[1, 2], [3, 4]], one channel. */
static void test_values(void) {
    const float v[4] = {1, 2, 3, 4};
    px_tensor *x = px_tensor_from_array(PX_SHAPE(1, 2, 2, 1), v, 4);
    struct {
        px_layer *layer;
        int64_t h, w;
        float want[16];
    } cases[] = {
        {px_zero_padding2d(1, 0, 0, 1), 3, 3, {0, 0, 0, 1, 2, 0, 3, 4, 0}},
        {px_cropping2d(1, 0, 0, 1), 1, 1, {3}},
        {px_up_sampling2d(2, 1, PX_INTERP_NEAREST), 4, 2, {1, 2, 1, 2, 3, 4, 3, 4}},
        /* rows at positions -0.25, 0.25, 0.75, 1.25 (clamped to 0 and 1): 1, 1.5, 2.5, 3 in the first column */
        {px_up_sampling2d(2, 1, PX_INTERP_BILINEAR), 4, 2, {1, 2, 1.5f, 2.5f, 2.5f, 3.5f, 3, 4}},
        /* inference: identity */
        {px_spatial_dropout2d(0.9f), 2, 2, {1, 2, 3, 4}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(2, 2, 1), NULL), cases[i].layer, NULL});
        px_tensor *y = m ? px_model_predict(m, x, &QUIET) : NULL;
        CHECK(y && y->shape[1] == cases[i].h && y->shape[2] == cases[i].w);
        for (int64_t k = 0; y && k < cases[i].h * cases[i].w; k++) CHECK_NEAR(px_tensor_f32(y)[k], cases[i].want[k], 1e-6);
        px_tensor_free(y);
        px_model_free(m);
    }
    px_tensor_free(x);
}

int main(void) {
    RUN_TEST(test_shapes_and_names);
    RUN_TEST(test_values);
    return px_test_finish();
}
