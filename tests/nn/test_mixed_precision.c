/* Dtype policies (include/plexus/mixed_precision.h): the global and per-layer setters
 * and their errors, the policy in Keras 2 and Keras 3 configs and files (weights stay
 * float32 and load back bit for bit), and the course's MLP trained under
 * mixed_bfloat16 on a Fashion-MNIST subset reaching the accuracy the float32 test
 * states. Skips (77) where mixed_bfloat16 cannot run, after checking the refusal. */
#include <stdlib.h>
#include <string.h>

#include "px_test.h"

static void test_refusals(void) {
    CHECK(px_mixed_precision_set_global_policy("float16") == PX_ERR_ARG);
    CHECK_ERROR_HAS("dtype policy 'float16' is not supported (float32 or mixed_bfloat16)");
    CHECK(px_mixed_precision_set_global_policy(NULL) == PX_ERR_ARG);
    /* where the processor lacks bf16 (simulated): a one-line error saying so */
    setenv("PX_BF16_DISABLE", "1", 1);
    CHECK(!px_mixed_bfloat16_supported());
    CHECK(px_mixed_precision_set_global_policy("mixed_bfloat16") == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("mixed_bfloat16 cannot run here: this processor has neither AVX512_BF16 nor AMX");
    CHECK(strchr(px_last_error(), '\n') == NULL);
    px_layer *l = px_dense(3, PX_LINEAR);
    CHECK(px_layer_set_dtype_policy(l, "mixed_bfloat16") == PX_ERR_UNSUPPORTED);
    CHECK(strcmp(px_layer_dtype_policy(l), "float32") == 0);
    px_layer_free(l);
    unsetenv("PX_BF16_DISABLE");
    CHECK(strcmp(px_mixed_precision_global_policy(), "float32") == 0);
}

/* The policy of model m's layer of the given name ("" when there is none). */
static const char *policy_of(const px_model *m, const char *name) {
    px_layer *l = px_model_find_layer(m, name);
    return l ? px_layer_dtype_policy(l) : "";
}

static void test_global_and_layer_policies(void) {
    CHECK_OK(px_mixed_precision_set_global_policy("mixed_bfloat16"));
    CHECK(strcmp(px_mixed_precision_global_policy(), "mixed_bfloat16") == 0);
    px_layer *a = px_dense(4, PX_RELU); /* made under the global policy */
    px_layer_set_name(a, "a");
    CHECK_OK(px_mixed_precision_set_global_policy("float32"));
    px_layer *b = px_dense(2, PX_LINEAR);
    px_layer_set_name(b, "b");
    CHECK(strcmp(px_layer_dtype_policy(a), "mixed_bfloat16") == 0);
    CHECK(strcmp(px_layer_dtype_policy(b), "float32") == 0);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(5), NULL), a, b, NULL});
    CHECK_NOT_NULL(m);
    if (!m) return;
    /* built: too late to change the policy */
    CHECK(px_layer_set_dtype_policy(b, "mixed_bfloat16") == PX_ERR_STATE);
    char *json = NULL;
    CHECK_OK(px_model_to_json(m, &json));
    CHECK(json && strstr(json, "\"dtype\": {\"class_name\": \"Policy\", \"config\": {\"name\": \"mixed_bfloat16\"}}"));
    px_model *back = json ? px_model_from_json(json, strlen(json)) : NULL;
    CHECK_NOT_NULL(back);
    if (back) {
        CHECK(strcmp(policy_of(back, "a"), "mixed_bfloat16") == 0);
        CHECK(strcmp(policy_of(back, "b"), "float32") == 0);
    }
    px_model_free(back);
    free(json);
    /* files: HDF5 (Keras 2 config) and .keras (Keras 3 DTypePolicy); weights float32 */
    const char *paths[] = {px_test_tmp_path("mp.h5"), px_test_tmp_path("mp.keras")};
    for (int f = 0; f < 2; f++) {
        CHECK_OK(px_model_save(m, paths[f]));
        px_model *r = px_model_load(paths[f]);
        CHECK_NOT_NULL(r);
        if (!r) continue;
        CHECK(strcmp(policy_of(r, "a"), "mixed_bfloat16") == 0);
        CHECK(strcmp(policy_of(r, "b"), "float32") == 0);
        px_layer *lr = px_model_find_layer(r, "a");
        const px_tensor *t0 = px_node_value(px_layer_weight(a, 0)), *t1 = lr ? px_node_value(px_layer_weight(lr, 0)) : NULL;
        CHECK(t1 && t1->dtype == PX_F32 && px_tensor_size(t0) == px_tensor_size(t1) &&
              memcmp(t0->data, t1->data, (size_t)px_tensor_size(t0) * sizeof(float)) == 0);
        char *j3 = NULL;
        if (f == 1) { /* the Keras 3 form read back from the archive's config.json */
            CHECK_OK(px_model_to_json(r, &j3));
            CHECK(j3 && strstr(j3, "mixed_bfloat16"));
        }
        free(j3);
        px_model_free(r);
    }
    /* Keras 3's spelling, read directly */
    static const char *k3 =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": [{\"module\": \"keras.layers\", "
        "\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, \"batch_input_shape\": [null, 2], "
        "\"dtype\": {\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": {\"name\": "
        "\"mixed_bfloat16\"}, \"registered_name\": null}}}]}}";
    px_model *k = px_model_from_json(k3, strlen(k3));
    CHECK_NOT_NULL(k);
    if (k) CHECK(strcmp(policy_of(k, "d"), "mixed_bfloat16") == 0);
    px_model_free(k);
    px_model_free(m);
}

/* As tests/model/test_training.c's float32 run: 5,000 images, 4 epochs, SGD 0.01. */
static void test_mlp_trains_in_mixed_bfloat16(void) {
    px_dataset *all = NULL, *valid = NULL, *test = NULL;
    if (px_fashion_mnist_load(NULL, 55000, &all, &valid, &test) != PX_OK) {
        px_test_skip("fashion-mnist: %s", px_last_error());
        return;
    }
    px_dataset *train = px_dataset_slice(all, 0, 5000), *test_part = px_dataset_slice(test, 0, 2000);
    px_set_random_seed(11);
    CHECK_OK(px_mixed_precision_set_global_policy("mixed_bfloat16"));
    px_model *m = px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU),
                                               px_dense(100, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
    CHECK_OK(px_mixed_precision_set_global_policy("float32"));
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.01f}),
                                                       .metrics = {PX_ACCURACY}}));
    CHECK_OK(px_model_fit(m, train, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .epochs = 4}));
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate(m, test_part, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    double acc = 0;
    px_logs_get(&logs, "accuracy", &acc);
    printf("fashion-mnist, mixed_bfloat16: 5,000 images, 4 epochs: test accuracy %.4f\n", acc);
    CHECK(acc >= 0.76);
    px_model_free(m);
    px_dataset_free(all), px_dataset_free(valid), px_dataset_free(test);
    px_dataset_free(train), px_dataset_free(test_part);
}

int main(void) {
    RUN_TEST(test_refusals);
    if (!px_mixed_bfloat16_supported()) {
        printf("skipped: mixed_bfloat16 cannot run here\n");
        px_test_finish();
        return PX_TEST_SKIP_CODE;
    }
    RUN_TEST(test_global_and_layer_policies);
    RUN_TEST(test_mlp_trains_in_mixed_bfloat16);
    return px_test_finish();
}
