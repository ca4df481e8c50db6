/* Model subclassing (px_subclassed_model): a user-defined model whose call branches on
 * the training flag and whose built-in sublayers (Dense, BatchNormalization, Dense)
 * are tracked inside it. Checked against a Functional twin built from the same layers
 * with the same weights: outputs in training and inference, gradients, one epoch of fit
 * (weights and moving statistics); then trained on iris with callbacks to a stated
 * accuracy, saved as .h5 and .keras and reloaded whole through the registry with
 * identical predictions; its summary shows the sublayers nested inside it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/callbacks.h"
#include "plexus/model_io.h"
#include "px_test.h"

static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

/* MyNet(units): x -> Dense(units, relu) -> BatchNormalization -> [training: * half]
 * -> Dense(3, softmax). The state is the constructor's argument only: the sublayers
 * live in the layer (px_layer_sublayer), so cloning and reloading need nothing else. */
typedef struct mynet {
    int units;
    float half;
} mynet;

enum { HIDDEN, NORM, OUT };

static px_node *mynet_call(px_layer *self, px_node *const *in, int n, bool training) {
    (void)n;
    const mynet *s = px_layer_state(self);
    px_node *h = px_sublayer_apply(self, HIDDEN, in, 1);
    h = px_sublayer_apply(self, NORM, &h, 1);
    if (training) h = px_scale(h, s->half); /* the branch Keras's call(x, training) takes */
    return px_sublayer_apply(self, OUT, &h, 1);
}

static void *mynet_clone(const void *state) {
    mynet *c = malloc(sizeof *c);
    if (c) *c = *(const mynet *)state;
    return c;
}

static px_status mynet_get_config(const px_layer *self, px_layer_config *c) {
    const mynet *s = px_layer_state(self);
    px_status st = px_config_set_int(c, "units", s->units);
    return st ? st : px_config_set_float(c, "half", s->half);
}

static const px_layer_def mynet_def = {.class_name = "MyNet", .call_training = mynet_call, .destroy = free,
                                       .clone_state = mynet_clone, .get_config = mynet_get_config};

static px_layer *mynet_new(int units, float half, const char *name) {
    mynet *s = malloc(sizeof *s);
    if (!s) return NULL;
    *s = (mynet){units, half};
    px_layer *l = px_layer_new(&mynet_def, s, name);
    if (!l) {
        free(s);
        return NULL;
    }
    if (px_layer_track(l, px_dense_ex(units, &(px_dense_options){.activation = PX_RELU, .name = "hidden"})) != HIDDEN ||
        px_layer_track(l, px_batch_normalization_ex(&(px_batch_norm_options){.name = "norm"})) != NORM ||
        px_layer_track(l, px_dense_ex(3, &(px_dense_options){.activation = PX_SOFTMAX, .name = "out"})) != OUT) {
        px_layer_free(l);
        return NULL;
    }
    return l;
}

static px_layer *mynet_from_config(const px_layer_config *c) {
    int64_t units;
    double half;
    if (px_config_get_int(c, "units", 8, &units) || px_config_get_float(c, "half", 1.0, &half)) return NULL;
    return mynet_new((int)units, (float)half, NULL);
}

/* The twin: the same layers as a Functional model; with_half adds the training branch's
 * scaling (as a weightless user layer), so it is the subclassed model in training runs. */
static px_node *half_call(px_layer *self, px_node *const *in, int n) {
    (void)self, (void)n;
    return px_scale(in[0], 0.5f);
}
static const px_layer_def half_def = {.class_name = "Half", .call = half_call};

static px_model *twin(bool with_half) {
    px_model *m = px_functional("twin");
    px_node *x = px_model_input(m, PX_SHAPE(4), NULL);
    px_node *h = px_apply(px_batch_normalization(), px_apply(px_dense(8, PX_RELU), x));
    if (with_half) h = px_apply(px_layer_new(&half_def, NULL, "half"), h);
    px_node *y = px_apply(px_dense(3, PX_SOFTMAX), h);
    if (!y || px_model_set_outputs(m, &y, 1)) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

static px_status compile(px_model *m) {
    return px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                      .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.02f}),
                                                      .metrics = {PX_ACCURACY}});
}

static bool close_tensors(const px_tensor *a, const px_tensor *b, float tol) {
    if (!a || !b || px_tensor_size(a) != px_tensor_size(b)) return false;
    for (int64_t i = 0; i < px_tensor_size(a); i++)
        if (!(fabsf(px_tensor_f32(a)[i] - px_tensor_f32(b)[i]) <= tol)) return false;
    return true;
}

static px_dataset *iris_train, *iris_test;

static void load_iris(void) {
    px_dataset *all = NULL;
    CHECK_OK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .label_column = -1}, &all));
    if (!all) return;
    CHECK_OK(px_dataset_train_test_split(all, 0.2, 3, &iris_train, &iris_test));
    px_scaler sc = {0};
    CHECK_OK(px_scaler_fit(&sc, iris_train->x));
    CHECK_OK(px_scaler_transform(&sc, iris_train->x));
    CHECK_OK(px_scaler_transform(&sc, iris_test->x));
    px_scaler_clear(&sc);
    px_dataset_free(all);
}

/* The same weights give the twin's outputs, gradients and one epoch of fit. */
static void test_matches_functional_twin(void) {
    px_set_random_seed(11);
    px_model *sub = px_subclassed_model(mynet_new(8, 0.5f, "my_net"), PX_SHAPE(4));
    px_model *tw = twin(true), *tw_infer = twin(false);
    CHECK_NOT_NULL(sub);
    CHECK_NOT_NULL(tw);
    CHECK_NOT_NULL(tw_infer);
    if (!sub || !tw || !tw_infer || !iris_train) goto done;
    /* sublayers inside the model, not beside it: InputLayer and my_net only */
    CHECK(px_model_layer_count(sub) == 2);
    px_layer *body = px_subclassed_layer(sub);
    CHECK(body && px_layer_sublayer_count(body) == 3 && px_layer_weight_count(body) == 8);
    CHECK(body && strcmp(px_layer_name(body), "my_net") == 0 && strcmp(px_model_name(sub), "my_net") == 0);
    int64_t trainable, frozen;
    CHECK(px_model_param_count(sub, &trainable, &frozen) == 4 * 8 + 8 + 4 * 8 + 8 * 3 + 3);
    CHECK(trainable == 4 * 8 + 8 + 2 * 8 + 8 * 3 + 3 && frozen == 2 * 8);
    px_tensor **w = NULL;
    int nw = 0;
    CHECK_OK(px_model_get_weights(tw, &w, &nw));
    CHECK(nw == 8);
    CHECK_OK(px_model_set_weights(sub, w, nw));

    px_tensor *x = iris_train->x;
    for (int training = 0; training < 2; training++) {
        px_tensor *a = NULL, *b = NULL;
        CHECK_OK(px_model_call(sub, &x, 1, training, &a));
        CHECK_OK(px_model_set_weights(tw, w, nw)); /* a training call moved the statistics */
        CHECK_OK(px_model_set_weights(tw_infer, w, nw));
        CHECK_OK(px_model_call(training ? tw : tw_infer, &x, 1, training, &b));
        CHECK(close_tensors(a, b, 1e-6f));
        px_tensor_free(a);
        px_tensor_free(b);
    }
    CHECK_OK(px_model_set_weights(sub, w, nw));
    CHECK_OK(px_model_set_weights(tw, w, nw));
    CHECK_OK(compile(sub));
    CHECK_OK(compile(tw));
    px_tensor *y = iris_train->y;
    px_arrays batch = {.x = &x, .n_x = 1, .y = &y, .n_y = 1};
    px_tensor *ga[8] = {0}, *gb[8] = {0};
    CHECK_OK(px_model_compute_gradients(sub, &batch, ga, NULL));
    CHECK_OK(px_model_compute_gradients(tw, &batch, gb, NULL));
    for (int i = 0; i < 6; i++) CHECK(close_tensors(ga[i], gb[i], 1e-6f)); /* 6 trainable weights */
    for (int i = 0; i < 8; i++) {
        px_tensor_free(ga[i]);
        px_tensor_free(gb[i]);
    }
    /* one epoch of fit, no shuffling: the same weights, moving statistics included
     * (the inference branch's BatchNormalization does not move them a second time) */
    CHECK_OK(px_model_set_weights(sub, w, nw));
    CHECK_OK(px_model_set_weights(tw, w, nw));
    px_fit_options fo = {.epochs = 1, .batch_size = 16, .no_shuffle = true, .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_model_fit(sub, iris_train, &fo));
    CHECK_OK(px_model_fit(tw, iris_train, &fo));
    px_tensor **wa = NULL, **wb = NULL;
    int na = 0, nb = 0;
    CHECK_OK(px_model_get_weights(sub, &wa, &na));
    CHECK_OK(px_model_get_weights(tw, &wb, &nb));
    CHECK(na == 8 && nb == 8);
    for (int i = 0; i < na && i < nb; i++) CHECK(close_tensors(wa[i], wb[i], 1e-5f));
    CHECK(wa && w && !close_tensors(wa[4], w[4], 1e-4f)); /* the moving mean did move */
    for (int i = 0; i < na; i++) px_tensor_free(wa[i]);
    for (int i = 0; i < nb; i++) px_tensor_free(wb[i]);
    free(wa);
    free(wb);
    for (int i = 0; i < nw; i++) px_tensor_free(w[i]);
    free(w);
done:
    px_model_free(sub);
    px_model_free(tw);
    px_model_free(tw_infer);
}

typedef struct epoch_counter {
    px_callback cb;
    int epochs;
} epoch_counter;

static px_status count_epoch(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)epoch, (void)logs;
    ((epoch_counter *)cb)->epochs++;
    return PX_OK;
}

/* Trained with callbacks to >= 90% test accuracy; saved and reloaded whole. */
static void test_fit_save_load(void) {
    if (!iris_train) return;
    px_set_random_seed(5);
    px_model *m = px_subclassed_model(mynet_new(16, 0.5f, NULL), PX_SHAPE(4));
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(compile(m));
    epoch_counter counter = {.cb = {.name = "counter", .on_epoch_end = count_epoch}};
    px_callback *stop = px_early_stopping(&(px_early_stopping_options){.monitor = "loss", .patience = 5});
    px_callback *cbs[2] = {&counter.cb, stop};
    CHECK_OK(px_model_fit(m, iris_train, &(px_fit_options){.epochs = 60, .batch_size = 16, .verbose = PX_VERBOSE_SILENT,
                                                          .callbacks = cbs, .n_callbacks = 2}));
    /* the callbacks ran every epoch (early stopping may end fit before the 60th) */
    CHECK(counter.epochs >= 5 && counter.epochs == px_history_epochs(px_model_history(m)));
    px_logs logs = {0};
    double acc = 0;
    CHECK_OK(px_model_evaluate(m, iris_test, &silent, &logs));
    CHECK(px_logs_get(&logs, "accuracy", &acc) && acc >= 0.9);
    px_callback_free(stop);

    /* its summary nests the sublayers under it */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_OK(px_model_summary(m, f));
    fclose(f);
    CHECK(text && strstr(text, " my_net (MyNet) ") && strstr(text, "   hidden (Dense) ") &&
          strstr(text, "   norm (BatchNormalization") && strstr(text, "   out (Dense) "));
    CHECK(text && strstr(text, "Total params: 195") && strstr(text, "Non-trainable params: 32"));
    free(text);

    px_tensor *before = px_model_predict(m, iris_test->x, &silent);
    CHECK_OK(px_layer_register("MyNet", mynet_from_config));
    const char *ext[2] = {"h5", "keras"};
    for (int k = 0; k < 2; k++) {
        char path[128];
        snprintf(path, sizeof path, "/tmp/px_subclass_%d.%s", (int)getpid(), ext[k]);
        CHECK_OK(px_model_save(m, path));
        px_model *r = px_model_load(path);
        CHECK_NOT_NULL(r);
        if (r) {
            px_layer *b = px_subclassed_layer(r);
            CHECK(b && strcmp(px_layer_class(b), "MyNet") == 0 && px_layer_sublayer_count(b) == 3);
            CHECK(px_model_layer_count(r) == 2);
            px_tensor *after = px_model_predict(r, iris_test->x, &silent);
            CHECK(before && after && px_tensor_equal(before, after));
            px_tensor_free(after);
            px_model_free(r);
        }
        unlink(path);
    }
    px_tensor_free(before);
    CHECK_OK(px_layer_register("MyNet", NULL));
    px_model_free(m);
}

/* Freezing the model's layer freezes its sublayers' weights; a clone copies the
 * sublayers with their weights. */
static void test_trainable_and_clone(void) {
    px_set_random_seed(3);
    px_model *m = px_subclassed_model(mynet_new(8, 0.5f, NULL), PX_SHAPE(4));
    CHECK_NOT_NULL(m);
    if (!m) return;
    px_model *c = px_subclassed_model(px_layer_clone(px_subclassed_layer(m)), PX_SHAPE(4));
    CHECK_NOT_NULL(c);
    px_tensor *pa = iris_test ? px_model_predict(m, iris_test->x, &silent) : NULL;
    px_tensor *pb = c && iris_test ? px_model_predict(c, iris_test->x, &silent) : NULL;
    CHECK(pa && pb && px_tensor_equal(pa, pb));
    CHECK(c && px_layer_sublayer(px_subclassed_layer(c), NORM) != px_layer_sublayer(px_subclassed_layer(m), NORM));
    px_tensor_free(pa);
    px_tensor_free(pb);
    px_model_free(c);
    int64_t trainable, frozen;
    px_layer_set_trainable(px_subclassed_layer(m), false);
    CHECK(px_model_param_count(m, &trainable, &frozen) == 99 && trainable == 0 && frozen == 99);
    px_model_free(m);
}

static void test_errors(void) {
    static const px_layer_def both = {.class_name = "Both", .call = half_call, .call_training = mynet_call};
    CHECK(px_layer_new(&both, NULL, NULL) == NULL);
    CHECK_ERROR_HAS("layer_new: the definition needs a class_name and one of call and call_training");
    px_model *m = px_subclassed_model(mynet_new(8, 0.5f, "net"), PX_SHAPE(4));
    CHECK_NOT_NULL(m);
    px_layer *body = px_subclassed_layer(m);
    CHECK(px_layer_track(body, px_dense(2, PX_LINEAR)) == -1);
    CHECK_ERROR_HAS("layer 'net' cannot track anything once it is applied (track in the constructor)");
    CHECK(px_sublayer_apply(body, 3, NULL, 0) == NULL);
    CHECK_ERROR_HAS("layer 'net' has 3 sublayers, not 4");
    CHECK(px_subclassed_model(body, PX_SHAPE(4)) == NULL);
    CHECK_ERROR_HAS("subclassed_model: layer 'net' already belongs to a model");
    px_model_free(m);
    /* without a registration the load names the class */
    m = px_subclassed_model(mynet_new(8, 0.5f, "net"), PX_SHAPE(4));
    char path[128];
    snprintf(path, sizeof path, "/tmp/px_subclass_unreg_%d.h5", (int)getpid());
    CHECK_OK(px_model_save(m, path));
    CHECK(px_model_load(path) == NULL);
    CHECK_ERROR_HAS("MyNet");
    unlink(path);
    px_model_free(m);
}

int main(void) {
    load_iris();
    RUN_TEST(test_matches_functional_twin);
    RUN_TEST(test_fit_save_load);
    RUN_TEST(test_trainable_and_clone);
    RUN_TEST(test_errors);
    px_dataset_free(iris_train);
    px_dataset_free(iris_test);
    return px_test_finish();
}
