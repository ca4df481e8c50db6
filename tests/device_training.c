/* The course's models trained on a device against the CPU (device_training.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_training.h"
#include "plexus/plexus.h"

/* 28x28 images in [0, 1); the label is the argmax of a fixed random linear
 * map of the image, so both models can learn it. */
static px_dataset *synthetic(int64_t n, uint64_t seed) {
    px_rng r = px_rng_seeded(seed), tr = px_rng_seeded(12345);
    px_tensor *x = px_tensor_new(PX_F32, PX_SHAPE(n, 28, 28)), *y = px_tensor_new(PX_I32, PX_SHAPE(n));
    float *teacher = malloc(10 * 784 * sizeof *teacher);
    if (!x || !y || !teacher) {
        px_tensor_free(x);
        px_tensor_free(y);
        free(teacher);
        return NULL;
    }
    for (int i = 0; i < 10 * 784; i++) teacher[i] = px_rng_normal(&tr);
    for (int64_t e = 0; e < n; e++) {
        float *img = px_tensor_f32(x) + e * 784;
        for (int i = 0; i < 784; i++) img[i] = px_rng_uniform(&r);
        int best = 0;
        double best_v = -1e30;
        for (int c = 0; c < 10; c++) {
            double v = 0;
            for (int i = 0; i < 784; i++) v += (double)teacher[c * 784 + i] * img[i];
            if (v > best_v) best_v = v, best = c;
        }
        px_tensor_i32(y)[e] = best;
    }
    free(teacher);
    return px_dataset_new(x, y);
}

static px_model *build(const px_dt_options *o) {
    px_set_random_seed(7);
    px_model *m;
    if (o->model == PX_DT_MLP) {
        m = px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU), px_dense(100, PX_RELU),
                                         px_dense(10, PX_SOFTMAX), NULL});
    } else if (o->model == PX_DT_LSTM) {
        m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(28, 28), NULL), px_lstm(24, NULL),
                                         px_dense(10, PX_SOFTMAX), NULL});
    } else {
        px_conv_options c1 = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
        px_conv_options c2 = {.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU};
        m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
                                         px_conv2d_layer(4, 5, 5, &c1), px_conv2d_layer(8, 4, 4, &c2),
                                         px_conv2d_layer(12, 4, 4, &c2), px_flatten(PX_SCALAR),
                                         px_dense(200, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
    }
    px_optimizer *opt = o->adam ? px_adam(NULL) : px_sgd(&(px_optimizer_options){.learning_rate = 0.01f});
    if (!m || px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = opt,
                                                        .metrics = {PX_ACCURACY}}) != PX_OK) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* Every step's running mean loss, recorded by a callback. */
typedef struct losses {
    double *v;
    int n, cap;
} losses;

static px_status record_loss(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)m, (void)batch;
    losses *l = cb->state;
    double v = NAN;
    px_logs_get(logs, "loss", &v);
    if (l->n < l->cap) l->v[l->n++] = v;
    return PX_OK;
}

/* Trains on `device`; the model stays for the caller (NULL on failure). */
static px_model *train(const char *device, const px_dt_options *o, px_dataset *data, losses *l) {
    if (px_set_device(device) != PX_OK) return NULL;
    px_model *m = build(o);
    px_callback cb = {.name = "record", .state = l, .on_batch_end = record_loss};
    px_callback *cbs[1] = {&cb};
    px_status st = m ? px_model_fit(m, data, &(px_fit_options){.epochs = o->epochs, .batch_size = o->batch,
                                                               .verbose = PX_VERBOSE_SILENT,
                                                               .callbacks = cbs, .n_callbacks = 1})
                     : px_last_status();
    px_set_device("cpu");
    if (st != PX_OK) {
        printf("training on %s failed: %s\n", device, px_last_error());
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* The same weights, optimizer slots and step count, exactly. */
static bool same_state(px_model *a, px_model *b) {
    int64_t na, nb, ta, tb;
    const float *pa = px_graph_params(px_model_graph(a), &na, &ta), *pb = px_graph_params(px_model_graph(b), &nb, &tb);
    if (!pa || !pb || na != nb || memcmp(pa, pb, (size_t)na * sizeof(float)) != 0) return false;
    px_optimizer *oa = px_model_optimizer(a), *ob = px_model_optimizer(b);
    /* (a file keeps the step count with the slots: an optimizer without slots has none) */
    if (px_optimizer_slot_count(oa) && px_optimizer_iterations(oa) != px_optimizer_iterations(ob)) return false;
    for (int i = 0; i < px_optimizer_slot_count(oa); i++) {
        int64_t sa, sb;
        const float *va = px_optimizer_slot(oa, i, NULL, &sa), *vb = px_optimizer_slot(ob, i, NULL, &sb);
        if (!va || !vb || sa != sb || memcmp(va, vb, (size_t)sa * sizeof(float)) != 0) return false;
    }
    return true;
}

int px_dt_compare(const char *device, const px_dt_options *o) {
    int bad = 0;
    const char *what = o->model == PX_DT_MLP ? "MLP" : o->model == PX_DT_LSTM ? "LSTM" : "ConvNet";
    px_dataset *data = synthetic(o->examples, 99);
    int steps = o->epochs * (int)((o->examples + o->batch - 1) / o->batch);
    losses lc = {calloc((size_t)steps, sizeof(double)), 0, steps}, ld = {calloc((size_t)steps, sizeof(double)), 0, steps};
    px_model *mc = data && lc.v && ld.v ? train("cpu", o, data, &lc) : NULL;
    px_model *md = mc ? train(device, o, data, &ld) : NULL;
    if (!md) {
        printf("%s on %s: %s\n", what, device, px_last_error());
        bad++;
        goto done;
    }
    double worst = 0;
    for (int t = 0; t < steps; t++) {
        double d = fabs(ld.v[t] - lc.v[t]) / fmax(1.0, fabs(lc.v[t]));
        if (d > worst) worst = d;
        if (!(d <= o->tol) && bad++ < 5)
            printf("%s step %d: loss on the cpu %.7f, on %s %.7f\n", what, t, lc.v[t], device, ld.v[t]);
    }
    printf("%s, %d steps of batch %d on %s: losses %.4f -> %.4f (cpu %.4f -> %.4f), largest difference %.2g\n", what,
           steps, o->batch, device, ld.v[0], ld.v[steps - 1], lc.v[0], lc.v[steps - 1], worst);
    if (!(lc.v[steps - 1] < lc.v[0])) {
        printf("%s: the loss did not fall\n", what);
        bad++;
    }
    /* saved after training on the device, loaded on the CPU: the device's state exactly, and its predictions */
    char path[1024];
    snprintf(path, sizeof path, "%s/device_trained.h5", o->tmp);
    px_dataset *probe = px_dataset_slice(data, 0, 50);
    if (px_set_device(device) != PX_OK) bad++;
    px_tensor *pd = probe ? px_model_predict(md, probe->x, NULL) : NULL;
    px_status saved = px_model_save(md, path);
    px_set_device("cpu");
    px_model *back = saved == PX_OK ? px_model_load(path) : NULL;
    px_tensor *pc = back ? px_model_predict(back, probe->x, NULL) : NULL;
    if (!pd || !pc || !px_tensor_allclose(pc, pd, 1e-4f, 1e-5f)) {
        printf("%s: predictions of the model saved on %s and loaded on the cpu differ (%s)\n", what, device,
               px_last_error());
        bad++;
    }
    if (!back || !same_state(md, back)) {
        printf("%s: the model saved on %s and loaded on the cpu has other weights or optimizer state\n", what, device);
        bad++;
    }
    px_tensor_free(pd);
    px_tensor_free(pc);
    px_model_free(back);
    px_dataset_free(probe);
    remove(path);
done:
    px_model_free(mc);
    px_model_free(md);
    px_dataset_free(data);
    free(lc.v);
    free(ld.v);
    return bad;
}
