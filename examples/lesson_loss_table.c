/* Lesson: the course's loss table — MSE and binary cross-entropy of four car /
 * non-car predictions, per example and averaged, from the library's losses. */
#include <stdio.h>

#include <plexus/plexus.h>

enum { N = 4 };

static int fail(const char *what) {
    fprintf(stderr, "lesson_loss_table: %s: %s\n", what, px_last_error());
    return 1;
}

int main(void) {
    /* labels: 1 = car, 0 = not a car; predictions: the network's P(car) */
    const float labels[N] = {1, 1, 0, 0}, preds[N] = {0.9f, 0.6f, 0.2f, 0.7f};
    px_graph *g = px_graph_new();
    px_tensor *yt = px_tensor_from_array(PX_SHAPE(N, 1), labels, N), *pt = px_tensor_from_array(PX_SHAPE(N, 1), preds, N);
    if (!g || !yt || !pt) return fail("making the data");
    px_node *y = px_constant(g, yt), *p = px_constant(g, pt);
    px_tensor_free(yt);
    px_tensor_free(pt);

    /* px_loss_node averages over the batch, so each example's own loss is the
     * loss of a batch of one (its row); the last two fetches are the batch means. */
    const px_loss mse = {.kind = PX_MEAN_SQUARED_ERROR}, bce = {.kind = PX_BINARY_CROSSENTROPY};
    px_node *fetches[2 * N + 2];
    for (int i = 0; i < N; i++) {
        px_node *yi = px_slice(y, 0, i, i + 1), *pi = px_slice(p, 0, i, i + 1);
        fetches[2 * i] = px_loss_node(mse, yi, pi);
        fetches[2 * i + 1] = px_loss_node(bce, yi, pi);
    }
    fetches[2 * N] = px_loss_node(mse, y, p);
    fetches[2 * N + 1] = px_loss_node(bce, y, p);
    px_session *s = px_session_new(g, fetches, 2 * N + 2, NULL);
    if (!s || px_session_run(s, NULL, 0, NULL) != PX_OK) return fail("computing the losses");
#define V(i) px_tensor_get_flat(px_session_fetch(s, (i)), 0)

    printf("example | label      | prediction P(car) | MSE (y - p)^2 | cross-entropy -[y ln p + (1-y) ln(1-p)]\n");
    for (int i = 0; i < N; i++)
        printf("%7d | %-10s | %17.2f | %13.4f | %.4f\n", i + 1, labels[i] == 1 ? "1 (car)" : "0 (no car)", preds[i],
               V(2 * i), V(2 * i + 1));
    printf("mean    |            |                   | %13.4f | %.4f\n", V(2 * N), V(2 * N + 1));
    /* The worst example (a non-car given 0.7) costs most under both losses, but
     * cross-entropy punishes the confident mistake far more (1.20 vs 0.49). */
#undef V
    px_session_free(s);
    px_graph_free(g);
    return 0;
}
