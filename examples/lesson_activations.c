/* Lesson: activation functions and their derivatives (from the library's autodiff),
 * written as a CSV table and drawn as an SVG picture: lesson_activations [csv] [svg]. */
#include <stdio.h>

#include <plexus/plexus.h>

enum { N = 101, NF = 7 }; /* x = -5, -4.9, ..., 5 */

static const char *names[NF] = {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish", "softplus"};
static const char *colours[NF] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"};

static px_node *apply(int k, px_node *x) {
    switch (k) {
    case 0: return px_sigmoid(x);
    case 1: return px_tanh(x);
    case 2: return px_relu(x);
    case 3: return px_leaky_relu(x, 0.2f); /* a larger slope than Keras's 0.3 default would hide the kink */
    case 4: return px_elu(x, 1.0f);
    case 5: return px_swish(x);
    default: return px_softplus(x);
    }
}

static int fail(const char *what) {
    fprintf(stderr, "lesson_activations: %s: %s\n", what, px_last_error());
    return 1;
}

/* One panel: a frame with axes through the origin, and one polyline per function.
 * Plot coordinates: x in [-5, 5], y in [ylo, yhi], mapped into the panel's box. */
static void panel(FILE *f, const char *title, int left, int top, int w, int h, float ylo, float yhi,
                  float ystep, const float xs[N], float ys[NF][N]) {
#define PX(v) (left + ((v) + 5.0f) / 10.0f * w)
#define PY(v) (top + (yhi - (v)) / (yhi - ylo) * h)
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" stroke=\"#999\"/>\n", left, top, w, h);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"16\" text-anchor=\"middle\">%s</text>\n", left + w / 2, top - 10, title);
    /* grid lines at whole numbers, the axes darker */
    for (int gx = -5; gx <= 5; gx++)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>\n", PX(gx), top, PX(gx), top + h,
                gx == 0 ? "#444" : "#eee");
    const int n_y = (int)((yhi - ylo) / ystep + 0.5f);
    for (int j = 0; j <= n_y; j++) {
        float gy = ylo + j * ystep;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", left, PY(gy), left + w, PY(gy),
                gy == 0 ? "#444" : "#eee");
    }
    for (int gx = -5; gx <= 5; gx++)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n", PX(gx), top + h + 14, gx);
    for (int j = 0; j <= n_y; j++) {
        float gy = ylo + j * ystep;
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n", left - 4, PY(gy) + 4, gy);
    }
    /* curves leaving the panel (relu at x = 5) are clipped to it */
    fprintf(f, "<clipPath id=\"clip%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n", left, left,
            top, w, h);
    for (int k = 0; k < NF; k++) {
        fprintf(f, "<polyline clip-path=\"url(#clip%d)\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", left,
                colours[k]);
        for (int i = 0; i < N; i++) fprintf(f, "%s%.1f,%.1f", i ? " " : "", PX(xs[i]), PY(ys[k][i]));
        fprintf(f, "\"/>\n");
    }
#undef PX
#undef PY
}

int main(int argc, char **argv) {
    const char *csv_path = argc > 1 ? argv[1] : "activations.csv";
    const char *svg_path = argc > 2 ? argv[2] : "activations.svg";

    /* Eager mode: each activation is computed at once, and the tape gives
     * d(sum f(x))/dx, which is f'(x) elementwise since every f acts elementwise. */
    float xs[N], ys[NF][N], ds[NF][N];
    for (int i = 0; i < N; i++) xs[i] = -5.0f + 0.1f * (float)i;
    px_graph *g = px_graph_new_eager();
    px_tensor *xt = px_tensor_from_array(PX_SHAPE(N), xs, N);
    if (!g || !xt) return fail("making the graph");
    px_node *x = px_variable(g, xt, "x");
    px_tensor_free(xt);
    for (int k = 0; k < NF; k++) {
        px_node *y = apply(k, x);
        px_node *total = px_sum_all(y);
        px_tensor *grad = NULL;
        if (!total || px_eager_gradients(g, total, &x, 1, &grad) != PX_OK) return fail(names[k]);
        for (int i = 0; i < N; i++) {
            ys[k][i] = px_tensor_get_flat(px_node_value(y), i);
            ds[k][i] = px_tensor_get_flat(grad, i);
        }
        px_tensor_free(grad);
        px_eager_clear_tape(g); /* the next function starts a fresh tape */
    }
    px_graph_free(g);

    FILE *csv = fopen(csv_path, "w");
    if (!csv) return fprintf(stderr, "lesson_activations: cannot write %s\n", csv_path), 1;
    fprintf(csv, "x");
    for (int k = 0; k < NF; k++) fprintf(csv, ",%s,d_%s", names[k], names[k]);
    fprintf(csv, "\n");
    for (int i = 0; i < N; i++) {
        fprintf(csv, "%.1f", xs[i]);
        for (int k = 0; k < NF; k++) fprintf(csv, ",%.6f,%.6f", ys[k][i], ds[k][i]);
        fprintf(csv, "\n");
    }
    if (fclose(csv) != 0) return fprintf(stderr, "lesson_activations: writing %s failed\n", csv_path), 1;

    /* Two panels side by side: the functions, then their derivatives; a shared legend below. */
    FILE *svg = fopen(svg_path, "w");
    if (!svg) return fprintf(stderr, "lesson_activations: cannot write %s\n", svg_path), 1;
    const int pw = 420, ph = 320;
    fprintf(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"460\" viewBox=\"0 0 960 460\" "
                 "font-family=\"sans-serif\">\n<rect width=\"960\" height=\"460\" fill=\"#fafafa\"/>\n");
    panel(svg, "activation f(x)", 50, 40, pw, ph, -2, 5, 1, xs, ys);
    panel(svg, "derivative f'(x) (autodiff)", 520, 40, pw, ph, -0.5f, 1.5f, 0.25f, xs, ds);
    for (int k = 0; k < NF; k++) {
        int lx = 60 + k * 130, ly = 410;
        fprintf(svg, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", lx, ly, lx + 24,
                ly, colours[k]);
        fprintf(svg, "<text x=\"%d\" y=\"%d\" font-size=\"13\">%s</text>\n", lx + 30, ly + 4, names[k]);
    }
    fprintf(svg, "</svg>\n");
    if (fclose(svg) != 0) return fprintf(stderr, "lesson_activations: writing %s failed\n", svg_path), 1;

    printf("%-10s %9s %9s %9s %9s\n", "function", "f(-1)", "f(0)", "f(1)", "f'(0)");
    for (int k = 0; k < NF; k++)
        printf("%-10s %9.4f %9.4f %9.4f %9.4f\n", names[k], ys[k][40], ys[k][50], ys[k][60], ds[k][50]);
    printf("wrote %s (%d rows) and %s\n", csv_path, N, svg_path);
    return 0;
}
