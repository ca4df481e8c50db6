/* Lesson: the course's loss table — accuracy, MSE and cross-entropy of four car /
 * non-car predictions, in the course's conventions and in Keras's, from the
 * library's losses and metric. */
#include <math.h>
#include <stdio.h>

#include <plexus/plexus.h>

enum { N = 4, K = 2 }; /* examples; outputs (car, non-car) */

static int fail(const char *what) {
    fprintf(stderr, "lesson_loss_table: %s: %s\n", what, px_last_error());
    return 1;
}

int main(void) {
    /* the course's table: one-hot actual values (car, non-car) and the network's
     * two outputs for each example */
    const float actual[N * K] = {1, 0, 1, 0, 0, 1, 0, 1};
    const float predicted[N * K] = {0.9f, 0.1f, 0.6f, 0.4f, 0.6f, 0.4f, 0.3f, 0.7f};
    px_graph *g = px_graph_new();
    px_tensor *yt = px_tensor_from_array(PX_SHAPE(N, K), actual, N * K);
    px_tensor *pt = px_tensor_from_array(PX_SHAPE(N, K), predicted, N * K);
    if (!g || !yt || !pt) return fail("making the data");
    px_node *y = px_constant(g, yt), *p = px_constant(g, pt);
    px_tensor_free(yt);
    px_tensor_free(pt);

    /* Keras's losses average over the batch, so each example's own value is the
     * loss of a batch of one (its row): mean squared error over the outputs,
     * categorical cross-entropy with the natural logarithm, categorical accuracy. */
    const px_loss mse = {.kind = PX_MEAN_SQUARED_ERROR}, cce = {.kind = PX_CATEGORICAL_CROSSENTROPY};
    px_node *fetches[3 * N];
    for (int i = 0; i < N; i++) {
        px_node *yi = px_slice(y, 0, i, i + 1), *pi = px_slice(p, 0, i, i + 1);
        fetches[3 * i] = px_categorical_accuracy(pi, yi);
        fetches[3 * i + 1] = px_loss_node(mse, yi, pi);
        fetches[3 * i + 2] = px_loss_node(cce, yi, pi);
    }
    px_session *s = px_session_new(g, fetches, 3 * N, NULL);
    if (!s || px_session_run(s, NULL, 0, NULL) != PX_OK) return fail("computing the losses");
#define V(i) (double)px_tensor_get_flat(px_session_fetch(s, (i)), 0)

    /* The course's conventions differ from Keras's in two ways, and only in them:
     *  - its "MSE" sums the squared errors over the two outputs, where Keras takes
     *    their mean: the course's value is K = 2 times Keras's;
     *  - its cross-entropy uses log base 10, Keras the natural log: the course's
     *    value is Keras's divided by ln 10. */
    printf("the course's table: squared errors summed over both outputs, cross-entropy -sum y log10(p)\n");
    printf("example | actual (car, non-car) | predicted    | accuracy | MSE  | cross-entropy\n");
    double sums[5] = {0};
    for (int i = 0; i < N; i++) {
        double acc = V(3 * i), sse = K * V(3 * i + 1), ce10 = V(3 * i + 2) / log(10.0);
        printf("%7d | (%.0f, %.0f)                | (%.1f, %.1f)   | %8.0f | %.2f | %.2f\n", i + 1, actual[2 * i],
               actual[2 * i + 1], predicted[2 * i], predicted[2 * i + 1], acc, sse, ce10);
        sums[0] += acc, sums[1] += sse, sums[2] += ce10, sums[3] += V(3 * i + 1), sums[4] += V(3 * i + 2);
    }
    printf("mean    |                       |              | %8.2f | %.2f | %.2f\n", sums[0] / N, sums[1] / N,
           sums[2] / N);
    printf("\nKeras's values for the same predictions (keras.losses.MeanSquaredError: mean over the outputs;\n"
           "CategoricalCrossentropy: natural log):\n");
    printf("example | accuracy | mse    | categorical_crossentropy\n");
    for (int i = 0; i < N; i++)
        printf("%7d | %8.0f | %.4f | %.4f\n", i + 1, V(3 * i), V(3 * i + 1), V(3 * i + 2));
    printf("mean    | %8.2f | %.4f | %.4f\n", sums[0] / N, sums[3] / N, sums[4] / N);
    /* Example 3 is the only miss (it gives the car 0.6 when it is not one) and
     * costs the most under both losses; example 4 is right but unsure (0.7), so
     * it still costs more than example 1's confident 0.9. */
#undef V
    px_session_free(s);
    px_graph_free(g);
    return 0;
}
