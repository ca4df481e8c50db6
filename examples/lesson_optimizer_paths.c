/* Lesson: the paths of seven optimizers on a saddle point and a long narrow valley,
 * drawn over contour lines: lesson_optimizer_paths [svg] [csv]. */
#include <math.h>
#include <stdio.h>

#include <plexus/plexus.h>

enum { N_OPT = 7, MAX_STEPS = 150, GRID = 90 };

typedef struct optimizer_spec {
    const char *name, *colour;
    px_optimizer_kind kind;
    px_optimizer_options opts;
} optimizer_spec;

/* Learning rates are chosen per method so each shows its typical behaviour on
 * these scales (Keras's 0.001 defaults would barely move in 150 steps). */
static const optimizer_spec specs[N_OPT] = {
    {"sgd", "#1f77b4", PX_OPT_SGD, {.learning_rate = 0.15f}},
    {"momentum", "#ff7f0e", PX_OPT_SGD, {.learning_rate = 0.02f, .momentum = 0.9f}},
    {"nesterov", "#2ca02c", PX_OPT_SGD, {.learning_rate = 0.02f, .momentum = 0.9f, .nesterov = true}},
    {"adagrad", "#d62728", PX_OPT_ADAGRAD, {.learning_rate = 1.0f}},
    {"rmsprop", "#9467bd", PX_OPT_RMSPROP, {.learning_rate = 0.1f}},
    /* Adadelta needs no learning rate in the paper (1.0); a larger epsilon than
     * Keras's 1e-7 lets its first steps be visible */
    {"adadelta", "#8c564b", PX_OPT_ADADELTA, {.learning_rate = 1.0f, .epsilon = 1e-2f}},
    {"adam", "#e377c2", PX_OPT_ADAM, {.learning_rate = 0.2f}},
};

/* Both surfaces are f(x, y) = a x^2 + b y^2: the saddle has b < 0, the valley a << b. */
typedef struct surface {
    const char *name, *formula;
    float a, b;
    float xlo, xhi, ylo, yhi; /* the plotted box; a path leaving it has escaped */
    float start[2];
    float levels[12];
    int n_levels;
    int left, top, width, height; /* the panel inside the picture */
} surface;

static float f_value(const surface *s, float x, float y) { return s->a * x * x + s->b * y * y; }

static float sx(const surface *s, float x) { return s->left + (x - s->xlo) / (s->xhi - s->xlo) * s->width; }
static float sy(const surface *s, float y) { return s->top + (s->yhi - y) / (s->yhi - s->ylo) * s->height; }

/* Level sets by marching squares: each grid cell crossed by a level gets a
 * segment between the crossing points on its edges (linear interpolation). */
static void draw_contours(FILE *svg, const surface *s) {
    for (int l = 0; l < s->n_levels; l++) {
        float level = s->levels[l];
        fprintf(svg, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1\" d=\"", level < 0 ? "#b0b8c8" : "#c8c0b0");
        for (int i = 0; i < GRID; i++)
            for (int j = 0; j < GRID; j++) {
                float x0 = s->xlo + (s->xhi - s->xlo) * i / GRID, x1 = s->xlo + (s->xhi - s->xlo) * (i + 1) / GRID;
                float y0 = s->ylo + (s->yhi - s->ylo) * j / GRID, y1 = s->ylo + (s->yhi - s->ylo) * (j + 1) / GRID;
                /* corners in the order bottom-left, bottom-right, top-right, top-left */
                float cx[4] = {x0, x1, x1, x0}, cy[4] = {y0, y0, y1, y1}, v[4];
                for (int c = 0; c < 4; c++) v[c] = f_value(s, cx[c], cy[c]) - level;
                float px[4], py[4];
                int n = 0;
                for (int e = 0; e < 4; e++) {
                    int c0 = e, c1 = (e + 1) % 4;
                    if ((v[c0] < 0) != (v[c1] < 0)) {
                        float t = v[c0] / (v[c0] - v[c1]);
                        px[n] = cx[c0] + t * (cx[c1] - cx[c0]);
                        py[n] = cy[c0] + t * (cy[c1] - cy[c0]);
                        n++;
                    }
                }
                /* 2 crossings: one segment; 4 (a saddle cell): pair neighbouring edges */
                for (int k = 0; k + 1 < n; k += 2)
                    fprintf(svg, "M%.1f %.1fL%.1f %.1f", sx(s, px[k]), sy(s, py[k]), sx(s, px[k + 1]), sy(s, py[k + 1]));
            }
        fprintf(svg, "\"/>\n");
    }
}

static int fail(const char *what) {
    fprintf(stderr, "lesson_optimizer_paths: %s: %s\n", what, px_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *svg_path = argc > 1 ? argv[1] : "optimizer_paths.svg";
    const char *csv_path = argc > 2 ? argv[2] : "optimizer_paths.csv";
    surface surfaces[2] = {
        {"saddle", "f = x^2 - y^2", 1.0f, -1.0f, -2, 2, -2, 2, {-1.8f, 0.05f},
         {-3.5f, -2.5f, -1.5f, -0.75f, -0.25f, 0.25f, 0.75f, 1.5f, 2.5f, 3.5f}, 10, 60, 60, 400, 400},
        {"valley", "f = 0.05 x^2 + 5 y^2", 0.05f, 5.0f, -10, 10, -2.5f, 2.5f, {-9.0f, 2.0f},
         {0.25f, 0.5f, 1, 2, 4, 8, 16, 32}, 8, 540, 60, 600, 400}};

    FILE *svg = fopen(svg_path, "w"), *csv = fopen(csv_path, "w");
    if (!svg || !csv) return fprintf(stderr, "lesson_optimizer_paths: cannot write %s or %s\n", svg_path, csv_path), 1;
    fprintf(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1180\" height=\"540\" viewBox=\"0 0 1180 540\" "
                 "font-family=\"sans-serif\">\n<rect width=\"1180\" height=\"540\" fill=\"#fafafa\"/>\n");
    fprintf(csv, "surface,optimizer,step,x,y,loss\n");
    printf("%-7s %-9s %6s %10s %10s %12s\n", "surface", "optimizer", "steps", "x", "y", "loss");

    for (int si = 0; si < 2; si++) {
        surface *s = &surfaces[si];
        /* The surface as a graph: one 2-element variable p = (x, y), loss = sum(coef * p^2);
         * the session gives the gradient, the optimizer steps on the parameter block. */
        px_graph *g = px_graph_new();
        float coef[2] = {s->a, s->b};
        px_tensor *ct = px_tensor_from_array(PX_SHAPE(2), coef, 2), *st = px_tensor_from_array(PX_SHAPE(2), s->start, 2);
        if (!g || !ct || !st) return fail("making the surface");
        px_node *p = px_variable(g, st, "p");
        px_node *loss = px_sum_all(px_mul(px_constant(g, ct), px_square(p)));
        px_tensor_free(ct);
        px_session *sess = loss ? px_session_new(g, &loss, 1, &(px_session_options){.loss = loss}) : NULL;
        if (!sess) return fail("building the loss graph");
        int64_t n_params = 0, n_trainable = 0, n_grads = 0;
        float *params = px_graph_params(g, &n_params, &n_trainable);
        if (!params) return fail("getting the parameter block");

        fprintf(svg, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" stroke=\"#999\"/>\n", s->left,
                s->top, s->width, s->height);
        fprintf(svg, "<text x=\"%d\" y=\"%d\" font-size=\"16\" text-anchor=\"middle\">%s: %s</text>\n",
                s->left + s->width / 2, s->top - 12, s->name, s->formula);
        draw_contours(svg, s);
        fprintf(svg, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
                s->left, sy(s, 0), s->left + s->width, sy(s, 0));
        fprintf(svg, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
                sx(s, 0), s->top, sx(s, 0), s->top + s->height);
        fprintf(svg, "<clipPath id=\"clip%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n", si,
                s->left, s->top, s->width, s->height);

        for (int o = 0; o < N_OPT; o++) {
            if (px_variable_assign(p, st) != PX_OK) return fail("resetting the start point");
            px_optimizer *opt = px_optimizer_new(specs[o].kind, &specs[o].opts);
            if (!opt) return fail(specs[o].name);
            fprintf(svg, "<polyline clip-path=\"url(#clip%d)\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                         "stroke-opacity=\"0.85\" points=\"", si, specs[o].colour);
            int step = 0;
            float fx = 0;
            for (;; step++) {
                if (px_session_run(sess, NULL, 0, NULL) != PX_OK) return fail("running the session");
                fx = px_tensor_get_flat(px_session_fetch(sess, 0), 0);
                fprintf(svg, "%s%.1f,%.1f", step ? " " : "", sx(s, params[0]), sy(s, params[1]));
                fprintf(csv, "%s,%s,%d,%.6g,%.6g,%.6g\n", s->name, specs[o].name, step, params[0], params[1], fx);
                /* stop after MAX_STEPS, or once the path leaves the box (escaping the saddle) */
                if (step == MAX_STEPS || params[0] < s->xlo || params[0] > s->xhi || params[1] < s->ylo ||
                    params[1] > s->yhi)
                    break;
                const float *grads = px_session_param_grads(sess, &n_grads);
                if (!grads || px_optimizer_step(opt, params, grads, n_trainable) != PX_OK) return fail(specs[o].name);
            }
            fprintf(svg, "\"/>\n");
            printf("%-7s %-9s %6d %10.4f %10.4f %12.5g%s\n", s->name, specs[o].name, step, params[0], params[1], fx,
                   step < MAX_STEPS ? "  (escaped)" : "");
            px_optimizer_free(opt);
        }
        fprintf(svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"black\"/>\n", sx(s, s->start[0]), sy(s, s->start[1]));
        fprintf(svg, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">start</text>\n", sx(s, s->start[0]) + 7,
                sy(s, s->start[1]) - 7);
        px_tensor_free(st);
        px_session_free(sess);
        px_graph_free(g);
    }
    for (int o = 0; o < N_OPT; o++) {
        int lx = 80 + o * 150, ly = 505;
        fprintf(svg, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", lx, ly, lx + 24,
                ly, specs[o].colour);
        fprintf(svg, "<text x=\"%d\" y=\"%d\" font-size=\"13\">%s</text>\n", lx + 30, ly + 4, specs[o].name);
    }
    fprintf(svg, "</svg>\n");
    if (fclose(svg) != 0 || fclose(csv) != 0)
        return fprintf(stderr, "lesson_optimizer_paths: writing %s or %s failed\n", svg_path, csv_path), 1;
    printf("wrote %s and %s\n", svg_path, csv_path);
    return 0;
}
