/* int8 C export (px_model_export_c with .int8, TFLite-style post-training
 * quantization calibrated on training images): the course's MLP and ConvNet,
 * trained on Fashion-MNIST, classify the test images with the generated int8
 * code within 1 percentage point of the float model. The suite trains briefly on
 * a subset; PX_EXPORT_FULL=1 trains 5 epochs on 55,000 images and tests on all
 * 10,000 (the table of docs/export.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_check.h"
#include "px_test.h"

static int64_t correct(const float *p, const int32_t *labels, int64_t n) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < 10; k++)
            if (p[i * 10 + k] > p[i * 10 + best]) best = k;
        c += best == labels[i];
    }
    return c;
}

static void test_int8_accuracy(void) {
    const bool full = getenv("PX_EXPORT_FULL") != NULL, sanitize = getenv("PX_TEST_SANITIZE") != NULL;
    /* under the sanitizers training is several times slower: a smaller run checks the same code */
    const int64_t n_train = full ? 55000 : sanitize ? 3000 : 6000, n_test = full ? 10000 : sanitize ? 1000 : 2000;
    const int epochs = full ? 5 : sanitize ? 1 : 2;
    px_dataset *train = NULL, *test = NULL;
    if (px_fashion_mnist_load(NULL, n_train, &train, NULL, &test) != PX_OK) {
        px_test_skip("Fashion-MNIST is not installed (dataset-fashion-mnist): %s", px_last_error());
        return;
    }
    px_dataset *tsub = px_dataset_slice(test, 0, n_test);
    px_tensor *cal = px_tensor_slice(train->x, 0, 1000);
    CHECK_NOT_NULL(tsub);
    CHECK_NOT_NULL(cal);
    struct {
        const char *tag;
        px_model *(*make)(void);
    } models[] = {{"MLP", export_course_mlp}, {"ConvNet", export_course_convnet}};
    printf("  | model | training | float (Plexus) | float C | int8 C |\n  |---|---|---|---|---|\n");
    for (size_t i = 0; i < 2 && tsub && cal; i++) {
        px_model *m = models[i].make();
        px_model_set_seed(m, 42);
        CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = px_adam(NULL),
                                                           .metrics = {PX_ACCURACY}}));
        CHECK_OK(px_model_fit(m, train, &(px_fit_options){.epochs = epochs, .batch_size = 64, .verbose = PX_VERBOSE_SILENT}));
        px_tensor *p = px_model_predict(m, tsub->x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT, .batch_size = 500});
        CHECK_NOT_NULL(p);
        float *out_f = malloc((size_t)n_test * 10 * sizeof(float)), *out_q = malloc((size_t)n_test * 10 * sizeof(float));
        bool ok = p && export_run(m, NULL, px_tensor_f32(tsub->x), n_test, 784, out_f, 10) &&
                  export_run(m, &(px_export_c_options){.int8 = true, .calibration = cal}, px_tensor_f32(tsub->x), n_test, 784, out_q, 10);
        if (ok) {
            const int32_t *y = px_tensor_i32(tsub->y);
            double a = (double)correct(px_tensor_f32(p), y, n_test) / n_test, af = (double)correct(out_f, y, n_test) / n_test,
                   aq = (double)correct(out_q, y, n_test) / n_test;
            printf("  | %s | %d epochs, %lld images | %.2f%% | %.2f%% | %.2f%% |\n", models[i].tag, epochs, (long long)n_train,
                   100 * a, 100 * af, 100 * aq);
            CHECK(fabs(af - a) <= 1.0 / n_test);   /* the float code: the same classes but for a tie */
            CHECK(fabs(aq - a) <= 0.01);          /* int8: within 1 percentage point */
            /* and the model did learn (one epoch on the sanitizer run's 3,000 images of the
             * course's training part reaches about 70%, the other runs more) */
            CHECK(a > (sanitize ? 0.65 : 0.7));
        }
        free(out_f);
        free(out_q);
        px_tensor_free(p);
        px_model_free(m);
    }
    px_tensor_free(cal);
    px_dataset_free(tsub);
    px_dataset_free(train);
    px_dataset_free(test);
}

/* int8 without calibration data, or calibration data of the wrong shape: clear errors. */
static void test_int8_errors(void) {
    px_model *m = export_course_mlp();
    CHECK_OK(px_model_build(m, PX_SHAPE(28, 28)));
    CHECK(px_model_export_c(m, "/tmp", &(px_export_c_options){.int8 = true}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("int8 needs calibration data");
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(4, 27, 28));
    CHECK(px_model_export_c(m, "/tmp", &(px_export_c_options){.int8 = true, .calibration = bad}) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("do not fit the model's input");
    px_tensor_free(bad);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_int8_errors);
    RUN_TEST(test_int8_accuracy);
    return px_test_finish();
}
