/* Lesson: model subclassing (the courses teach it beside Sequential and Functional):
 *
 *   class MyModel(keras.Model):
 *       def __init__(self, units=16):
 *           super().__init__()
 *           self.hidden = layers.Dense(units, activation="relu")
 *           self.dropout = layers.Dropout(0.3)
 *           self.classifier = layers.Dense(3, activation="softmax")
 *       def call(self, x, training=False):
 *           h = self.hidden(x)
 *           if training:
 *               h = self.dropout(h)
 *           return self.classifier(h)
 *
 * in C: the sublayers are made in the constructor and tracked by the layer, the call
 * branches on the training flag, get_config / from_config let model files reload it.
 * Trains on iris (120 flowers, 30 held out), prints the summary with the sublayers
 * nested, saves the model as .h5 and .keras and checks that the reloaded models predict
 * the same. Usage: lesson_subclassing [iris.csv] [directory for the files] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>

typedef struct my_model {
    int units;
} my_model;

enum { HIDDEN, DROPOUT, CLASSIFIER }; /* the sublayers, in the order tracked */

static px_node *my_model_call(px_layer *self, px_node *const *x, int n, bool training) {
    (void)n;
    px_node *h = px_sublayer_apply(self, HIDDEN, x, 1);
    if (training) h = px_sublayer_apply(self, DROPOUT, &h, 1);
    return px_sublayer_apply(self, CLASSIFIER, &h, 1);
}

static void *my_model_clone(const void *state) {
    my_model *c = malloc(sizeof *c);
    if (c) *c = *(const my_model *)state;
    return c;
}

static px_status my_model_get_config(const px_layer *self, px_layer_config *c) {
    return px_config_set_int(c, "units", ((const my_model *)px_layer_state(self))->units);
}

static const px_layer_def my_model_def = {.class_name = "MyModel", .call_training = my_model_call, .destroy = free,
                                          .clone_state = my_model_clone, .get_config = my_model_get_config};

/* Keras's __init__: the layer and its sublayers. */
static px_layer *my_model_new(int units) {
    my_model *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->units = units;
    px_layer *l = px_layer_new(&my_model_def, s, "my_model");
    if (!l) {
        free(s);
        return NULL;
    }
    if (px_layer_track(l, px_dense_ex(units, &(px_dense_options){.activation = PX_RELU, .name = "hidden"})) < 0 ||
        px_layer_track(l, px_dropout_layer(0.3f)) < 0 ||
        px_layer_track(l, px_dense_ex(3, &(px_dense_options){.activation = PX_SOFTMAX, .name = "classifier"})) < 0) {
        px_layer_free(l);
        return NULL;
    }
    return l;
}

/* Keras's from_config, for model files (registered as custom_objects are). */
static px_layer *my_model_from_config(const px_layer_config *c) {
    int64_t units;
    return px_config_get_int(c, "units", 16, &units) ? NULL : my_model_new((int)units);
}

static int fail(const char *what) {
    fprintf(stderr, "lesson_subclassing: %s: %s\n", what, px_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/data/iris.csv", *dir = argc > 2 ? argv[2] : ".";
    px_dataset *all = NULL, *train = NULL, *test = NULL;
    px_scaler sc = {0};
    if (px_csv_read(path, &(px_csv_options){.header = true, .label_column = -1}, &all) != PX_OK ||
        px_dataset_train_test_split(all, 0.2, 3, &train, &test) != PX_OK || px_scaler_fit(&sc, train->x) != PX_OK ||
        px_scaler_transform(&sc, train->x) != PX_OK || px_scaler_transform(&sc, test->x) != PX_OK)
        return fail(path);

    px_set_random_seed(1);
    px_model *model = px_subclassed_model(my_model_new(16), PX_SHAPE(4));
    if (!model) return fail("building the model");
    if (px_model_compile(model, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f}),
                                                       .metrics = {PX_ACCURACY}}) != PX_OK)
        return fail("compile");
    px_model_summary(model, stdout);
    px_callback *stop = px_early_stopping(&(px_early_stopping_options){.patience = 10, .restore_best_weights = true});
    px_status st = px_model_fit(model, train, &(px_fit_options){.epochs = 100, .batch_size = 16, .validation_split = 0.2f,
                                                               .verbose = PX_VERBOSE_SILENT, .callbacks = &stop,
                                                               .n_callbacks = 1});
    px_callback_free(stop);
    if (st != PX_OK) return fail("fit");
    px_logs logs = {0};
    double acc = 0;
    if (px_model_evaluate(model, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs) != PX_OK) return fail("evaluate");
    px_logs_get(&logs, "accuracy", &acc);
    printf("%d epochs; test accuracy %.4f\n", px_history_epochs(px_model_history(model)), acc);

    /* saved whole, and read back given the class */
    px_tensor *before = px_model_predict(model, test->x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    if (!before || px_layer_register("MyModel", my_model_from_config) != PX_OK) return fail("predict");
    const char *names[2] = {"my_model.h5", "my_model.keras"};
    for (int i = 0; i < 2; i++) {
        char file[1024];
        snprintf(file, sizeof file, "%s/%s", dir, names[i]);
        if (px_model_save(model, file) != PX_OK) return fail(file);
        px_model *back = px_model_load(file);
        px_tensor *after = back ? px_model_predict(back, test->x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}) : NULL;
        if (!after) return fail(file);
        printf("%s: reloaded, predictions %s\n", names[i], px_tensor_equal(before, after) ? "identical" : "DIFFERENT");
        px_tensor_free(after);
        px_model_free(back);
    }
    px_tensor_free(before);
    px_model_free(model);
    px_scaler_clear(&sc);
    px_dataset_free(all);
    px_dataset_free(train);
    px_dataset_free(test);
    return 0;
}
