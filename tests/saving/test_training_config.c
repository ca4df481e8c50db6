/* training_config and compile_config when a file comes from Keras: the optimizers real
 * files use (Adamax, Ftrl, Lion; K2.11's "Custom>" names; mixed precision's
 * LossScaleOptimizer) compile; what Plexus lacks (a custom optimizer or loss) leaves
 * the model uncompiled with one warning, and it still predicts; metrics it lacks are
 * left out with a warning, and so are metrics Plexus cannot pair with the loss. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/model_io.h"
#include "px_test.h"
#include "model/model_internal.h"
#include "saving/model_config.h"

static int warnings;
static char last_warning[1024];
static void on_warning(const char *msg, void *user) {
    (void)user;
    warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
    printf("  warning: %s\n", msg);
}

static px_model *small_model_width(int width) {
    px_set_random_seed(9);
    return px_sequential((px_layer *[]){px_dense_ex(3, &(px_dense_options){.activation = PX_TANH, .input_shape = PX_SHAPE(2)}),
                                        px_dense(width, PX_SOFTMAX), NULL});
}

static px_model *small_model(void) { return small_model_width(2); }

/* A fresh model (its output `width` wide) with the training config applied (NULL if
 * the JSON does not parse). */
static px_model *with_config_width(const char *json, int width) {
    px_json *tc = NULL;
    if (px_json_parse(json, strlen(json), &tc) != PX_OK) return NULL;
    px_model *m = small_model_width(width);
    warnings = 0;
    last_warning[0] = '\0';
    CHECK_OK(px_training_config_apply(m, tc));
    px_json_free(tc);
    return m;
}

static px_model *with_config(const char *json) { return with_config_width(json, 2); }

static void test_optimizers_from_keras(void) {
    px_set_warning_handler(on_warning, NULL);
    px_model *m = with_config("{\"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"], \"optimizer_config\": "
                              "{\"class_name\": \"Custom>Adamax\", \"config\": {\"name\": \"Adamax\", \"learning_rate\": 0.002, "
                              "\"beta_1\": 0.8, \"beta_2\": 0.99, \"epsilon\": 1e-07, \"is_legacy_optimizer\": false}}}");
    px_optimizer *o = m ? px_model_optimizer(m) : NULL;
    CHECK(o && px_optimizer_get_kind(o) == PX_OPT_ADAMAX && warnings == 0);
    if (o) CHECK_NEAR(px_optimizer_get_options(o)->beta_1, 0.8, 1e-7);
    px_model_free(m);
    m = with_config("{\"loss\": \"mse\", \"optimizer_config\": {\"class_name\": \"Ftrl\", \"config\": {\"name\": \"ftrl\", "
                    "\"learning_rate\": 0.05, \"weight_decay\": null, \"clipnorm\": null, \"learning_rate_power\": -0.6, "
                    "\"initial_accumulator_value\": 0.2, \"l1_regularization_strength\": 0.01, "
                    "\"l2_regularization_strength\": 0.02, \"l2_shrinkage_regularization_strength\": 0.0, \"beta\": 0.1}}}");
    o = m ? px_model_optimizer(m) : NULL;
    CHECK(o && px_optimizer_get_kind(o) == PX_OPT_FTRL && warnings == 0);
    if (o) {
        const px_optimizer_options *x = px_optimizer_get_options(o);
        CHECK_NEAR(x->learning_rate_power, -0.6, 1e-7);
        CHECK_NEAR(x->initial_accumulator_value, 0.2, 1e-7);
        CHECK_NEAR(x->l2_regularization_strength, 0.02, 1e-7);
        CHECK_NEAR(x->beta, 0.1, 1e-7);
    }
    px_model_free(m);
    /* mixed precision wraps the optimizer (K3 form, compile_config spelling) */
    m = with_config("{\"loss\": \"mse\", \"optimizer_config\": {\"class_name\": \"LossScaleOptimizer\", \"config\": {"
                    "\"name\": \"loss_scale_optimizer\", \"inner_optimizer\": {\"module\": \"keras.optimizers\", "
                    "\"class_name\": \"Lion\", \"config\": {\"name\": \"lion\", \"learning_rate\": 0.0003, \"beta_1\": 0.9, "
                    "\"beta_2\": 0.99}, \"registered_name\": null}, \"initial_scale\": 32768.0, \"dynamic_growth_steps\": 2000}}}");
    o = m ? px_model_optimizer(m) : NULL;
    CHECK(o && px_optimizer_get_kind(o) == PX_OPT_LION && warnings == 0);
    if (o) CHECK_NEAR(px_optimizer_learning_rate(o), 0.0003, 1e-9);
    px_model_free(m);
    px_set_warning_handler(NULL, NULL);
}

/* What only training needs never stops a load. */
static void test_lenient(void) {
    px_set_warning_handler(on_warning, NULL);
    const char *configs[][2] = {
        {"{\"loss\": \"mse\", \"optimizer_config\": {\"class_name\": \"Custom>MyOptimizer\", \"config\": {\"name\": \"mine\"}}}",
         "MyOptimizer"},
        {"{\"loss\": \"my_project>focal_loss\", \"optimizer_config\": {\"class_name\": \"Adam\", \"config\": {}}}", "focal_loss"},
        {"{\"loss\": null, \"optimizer_config\": {\"class_name\": \"Adam\", \"config\": {}}}", "loss"},
        {"{\"loss\": \"mse\", \"optimizer_config\": {\"class_name\": \"Adam\", \"config\": {\"beta_1\": 7}}}", "beta_1"},
    };
    px_tensor *x = px_tensor_zeros(PX_SHAPE(3, 2)), *y = px_tensor_zeros(PX_SHAPE(3, 2));
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        px_model *m = with_config(configs[i][0]);
        CHECK(m && !px_model_optimizer(m));
        CHECK(warnings == 1 && strstr(last_warning, configs[i][1]) && strstr(last_warning, "uncompiled"));
        if (!m) continue;
        px_tensor *p = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
        CHECK(p != NULL);
        px_tensor_free(p);
        CHECK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                  &(px_fit_options){.verbose = PX_VERBOSE_SILENT}) == PX_ERR_STATE);
        CHECK_ERROR_HAS("compiled");
        /* and a compile afterwards makes it trainable */
        CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(NULL)}));
        CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                     &(px_fit_options){.verbose = PX_VERBOSE_SILENT}));
        px_model_free(m);
    }
    /* metrics Plexus lacks: left out, named in one warning; the rest compiles */
    px_model *m = with_config("{\"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\", \"MyScore\", {\"class_name\": "
                              "\"my_project>Fancy\", \"config\": {\"name\": \"fancy\"}}, \"AUC\"], "
                              "\"weighted_metrics\": null, \"optimizer_config\": {\"class_name\": \"SGD\", \"config\": {}}}");
    CHECK(m && px_model_optimizer(m) && warnings == 1 && strstr(last_warning, "'MyScore', 'fancy'"));
    CHECK(m && m->n_metrics == 2);
    px_model_free(m);
    /* a metric Keras accepts but Plexus refuses beside the loss (accuracy with
     * categorical_crossentropy over one output column): left out, the rest compiles */
    warnings = 0;
    m = with_config_width("{\"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\", \"Precision\"], "
                          "\"optimizer_config\": {\"class_name\": \"Adam\", \"config\": {}}}", 1);
    CHECK(m && px_model_optimizer(m) && warnings == 1 && strstr(last_warning, "'accuracy' (") &&
          strstr(last_warning, "binary_accuracy"));
    CHECK(m && m->n_metrics == 1);
    px_model_free(m);
    px_tensor_free(x), px_tensor_free(y);
    px_set_warning_handler(NULL, NULL);
}

/* The new optimizers' state survives .h5 and .keras files. */
static void test_new_optimizers_saved(void) {
    px_optimizer *(*make[])(const px_optimizer_options *) = {px_adamax, px_ftrl, px_lion};
    px_tensor *x = px_tensor_zeros(PX_SHAPE(4, 2)), *y = px_tensor_zeros(PX_SHAPE(4, 2));
    for (int i = 0; i < 8; i++) px_tensor_f32(x)[i] = 0.25f * (float)(i % 5) - 0.4f;
    for (int i = 0; i < 4; i++) px_tensor_f32(y)[i * 2 + i % 2] = 1;
    for (int k = 0; k < 3; k++)
        for (int f = 0; f < 2; f++) {
            px_model *m = small_model();
            CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_CATEGORICAL_CROSSENTROPY,
                                                               .optimizer = make[k](&(px_optimizer_options){.learning_rate = 0.05f})}));
            px_fit_options fo = {.epochs = 2, .batch_size = 2, .verbose = PX_VERBOSE_SILENT, .no_shuffle = true};
            CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1}, &fo));
            char path[256];
            snprintf(path, sizeof path, "/tmp/px_newopt_%d_%d.%s", (int)getpid(), k, f ? "keras" : "h5");
            CHECK_OK(px_model_save(m, path));
            px_model *l = px_model_load(path);
            CHECK_NOT_NULL(l);
            if (l) {
                px_optimizer *a = px_model_optimizer(m), *b = px_model_optimizer(l);
                CHECK(b && px_optimizer_get_kind(a) == px_optimizer_get_kind(b));
                CHECK(b && px_optimizer_iterations(b) == 4);
                /* one more epoch on both: the same weights (the slots came back) */
                CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1}, &fo));
                CHECK_OK(px_model_fit_arrays(l, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1}, &fo));
                px_tensor **wa = NULL, **wb = NULL;
                int na = 0, nb = 0;
                CHECK_OK(px_model_get_weights(m, &wa, &na));
                CHECK_OK(px_model_get_weights(l, &wb, &nb));
                bool same = na == nb && na > 0;
                for (int i = 0; same && i < na; i++) same = memcmp(wa[i]->data, wb[i]->data, (size_t)px_tensor_size(wa[i]) * 4) == 0;
                CHECK(same);
                for (int i = 0; i < na; i++) px_tensor_free(wa[i]);
                for (int i = 0; i < nb; i++) px_tensor_free(wb[i]);
                free(wa), free(wb);
            }
            px_model_free(l);
            px_model_free(m);
            remove(path);
        }
    px_tensor_free(x), px_tensor_free(y);
}

int main(void) {
    RUN_TEST(test_optimizers_from_keras);
    RUN_TEST(test_lenient);
    RUN_TEST(test_new_optimizers_saved);
    return px_test_finish();
}
