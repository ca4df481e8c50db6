/* Lesson: the perceptron learning rule w_i += eta (y - yhat) x_i, one flower at a
 * time, on iris petal length and width (setosa or not) until an epoch has no errors. */
#include <stdio.h>

#include <plexus/plexus.h>

static int fail(const char *what) {
    fprintf(stderr, "lesson_perceptron: %s: %s\n", what, px_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/data/iris.csv";
    const float eta = 0.1f;
    const int max_epochs = 100;
    px_dataset *iris = NULL;
    if (px_csv_read(path, &(px_csv_options){.header = true, .label_column = -1}, &iris) != PX_OK)
        return fail(path);
    int64_t n = iris->x->shape[0], cols = iris->x->shape[1];

    /* The unit: yhat = step(w1 petal_length + w2 petal_width + b), one flower fed at a time. */
    px_graph *g = px_graph_new();
    px_tensor *zeros2 = px_tensor_zeros(PX_SHAPE(2)), *zero = px_tensor_scalar(0.0f);
    px_tensor *flower = px_tensor_zeros(PX_SHAPE(2));
    if (!g || !zeros2 || !zero || !flower) return fail("making the graph");
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(2), "petal");
    px_node *w = px_variable(g, zeros2, "w"), *b = px_variable(g, zero, "b");
    px_tensor_free(zeros2);
    px_tensor_free(zero);
    px_node *yhat = px_step(px_add(px_sum_all(px_mul(x, w)), b));
    px_session *s = yhat ? px_session_new(g, &yhat, 1, NULL) : NULL;
    if (!s) return fail("building the perceptron");
    int64_t n_params = 0, n_trainable = 0;
    float *p = px_graph_params(g, &n_params, &n_trainable);
    if (!p) return fail("getting the parameter block");
    float *pw = p + px_variable_offset(w), *pb = p + px_variable_offset(b);

    /* The flowers come in a new random order each epoch (seeded, so runs repeat). */
    px_rng rng = px_rng_seeded(1);
    int64_t order[512];
    if (n > 512) return fprintf(stderr, "lesson_perceptron: more than 512 flowers\n"), 1;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    int epoch, errors = -1;
    printf("perceptron on %lld iris flowers: petal length, petal width -> setosa (1) or not (0), eta %g\n",
           (long long)n, eta);
    for (epoch = 1; epoch <= max_epochs && errors != 0; epoch++) {
        px_rng_shuffle_i64(&rng, order, n);
        errors = 0;
        for (int64_t k = 0; k < n; k++) {
            int64_t i = order[k];
            float f[2] = {px_tensor_f32(iris->x)[i * cols + 2], px_tensor_f32(iris->x)[i * cols + 3]};
            float y = px_tensor_i32(iris->y)[i] == 0; /* class 0 is setosa */
            px_tensor_f32(flower)[0] = f[0];
            px_tensor_f32(flower)[1] = f[1];
            if (px_session_run(s, &(px_feed){x, flower}, 1, NULL) != PX_OK) return fail("running the unit");
            float err = y - px_tensor_get_flat(px_session_fetch(s, 0), 0);
            /* the rule changes the weights only on a mistake, towards the right answer */
            if (err != 0) {
                errors++;
                pw[0] += eta * err * f[0];
                pw[1] += eta * err * f[1];
                *pb += eta * err; /* the bias is a weight on a constant input 1 */
            }
        }
        printf("epoch %2d: %d errors, w = (%.2f, %.2f), b = %.2f\n", epoch, errors, pw[0], pw[1], *pb);
    }
    epoch--;
    if (errors == 0)
        printf("converged after %d epochs: w = (%.2f, %.2f), b = %.2f\n", epoch, pw[0], pw[1], *pb);
    else
        printf("not converged after %d epochs\n", max_epochs);
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(flower);
    px_dataset_free(iris);
    return errors == 0 ? 0 : 1;
}
