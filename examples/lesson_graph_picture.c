/* Lesson: the computation graph of the course's Fashion-MNIST MLP written as Graphviz
 * DOT, rendered to SVG when `dot` is installed: lesson_graph_picture [file.dot]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>

static int fail(const char *what) {
    fprintf(stderr, "lesson_graph_picture: %s: %s\n", what, px_last_error());
    return 1;
}

/* One dense layer, x @ W + b, with zero weights: only the graph's shape matters here. */
static px_node *dense(px_node *x, int64_t in, int64_t out, const char *wname, const char *bname) {
    if (!x) return NULL; /* keeps the first error of the chain */
    px_graph *g = px_node_graph(x);
    px_tensor *w = px_tensor_zeros(PX_SHAPE(in, out)), *b = px_tensor_zeros(PX_SHAPE(out));
    /* separate statements fix the creation order (W before b) that argument evaluation would leave open */
    px_node *wn = w ? px_variable(g, w, wname) : NULL;
    px_node *bn = b ? px_variable(g, b, bname) : NULL;
    px_node *y = px_add(px_matmul(x, wn), bn);
    px_tensor_free(w);
    px_tensor_free(b);
    return y;
}

int main(int argc, char **argv) {
    const char *dot_path = argc > 1 ? argv[1] : "mlp_graph.dot";
    /* Flatten(28x28) -> Dense 300 relu -> Dense 100 relu -> Dense 10 softmax, and
     * the training loss (sparse cross-entropy on the logits, averaged over the batch). */
    px_graph *g = px_graph_new();
    if (!g) return fail("making the graph");
    px_node *images = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 28, 28), "images");
    px_node *labels = px_placeholder(g, PX_I32, PX_SHAPE(PX_UNKNOWN), "labels");
    px_node *flat = px_reshape(images, PX_SHAPE(-1, 784));
    px_node *h1 = px_relu(dense(flat, 784, 300, "W1", "b1"));
    px_node *h2 = px_relu(dense(h1, 300, 100, "W2", "b2"));
    px_node *logits = dense(h2, 100, 10, "W3", "b3");
    px_node *probs = px_softmax(logits, -1);
    px_node *loss = px_mean_all(px_sparse_softmax_cross_entropy(logits, labels));
    if (!probs || !loss) return fail("building the MLP");
    px_node_set_name(probs, "probabilities");
    px_node_set_name(loss, "loss");

    FILE *f = fopen(dot_path, "w");
    if (!f) return fprintf(stderr, "lesson_graph_picture: cannot write %s\n", dot_path), 1;
    px_node *outputs[2] = {probs, loss};
    px_status st = px_graph_write_dot(g, outputs, 2, f);
    if (fclose(f) != 0 && st == PX_OK) st = px_set_error(PX_ERR_IO, "closing %s failed", dot_path);
    if (st != PX_OK) return fail("writing the DOT file");

    printf("the MLP's graph has %d nodes:\n", px_graph_node_count(g));
    for (int i = 0; i < px_graph_node_count(g); i++) {
        const px_node *n = px_graph_node(g, i);
        char sb[96];
        printf("  %2d %-28s %-14s %s\n", i, px_node_op_name(n), px_node_name(n), px_shape_format(px_node_shape(n), sb, sizeof sb));
    }
    printf("wrote %s\n", dot_path);

    /* Rendering is optional: Graphviz may not be installed. */
    if (system("command -v dot > /dev/null 2>&1") == 0) {
        char svg_path[1024], cmd[2200];
        snprintf(svg_path, sizeof svg_path, "%.*s.svg",
                 (int)(strlen(dot_path) > 4 && !strcmp(dot_path + strlen(dot_path) - 4, ".dot") ? strlen(dot_path) - 4
                                                                                                  : strlen(dot_path)),
                 dot_path);
        snprintf(cmd, sizeof cmd, "dot -Tsvg '%s' -o '%s'", dot_path, svg_path);
        if (system(cmd) == 0) printf("rendered %s with Graphviz\n", svg_path);
        else printf("Graphviz failed to render %s\n", dot_path);
    } else {
        printf("Graphviz (dot) is not installed; render with: dot -Tsvg %s -o mlp_graph.svg\n", dot_path);
    }
    px_graph_free(g);
    return 0;
}
