/* Runs every lesson program in examples/ (lesson_*) and checks what it prints and
 * writes: exact values for lessons with known answers, thresholds for trained ones. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px_test.h"

static char examples_dir[PATH_MAX + 16];
static char tmp_dir[64];

/* The lesson binaries sit in <build>/examples while this test is <build>/tests/test_lessons;
 * PX_EXAMPLES_DIR overrides that (e.g. when the test is run from elsewhere). */
static void find_examples(const char *argv0) {
    const char *env = getenv("PX_EXAMPLES_DIR");
    if (env) {
        snprintf(examples_dir, sizeof examples_dir, "%s", env);
        return;
    }
    char self[PATH_MAX];
    if (!realpath(argv0, self)) snprintf(self, sizeof self, "%s", argv0);
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    else snprintf(self, sizeof self, ".");
    snprintf(examples_dir, sizeof examples_dir, "%s/../examples", self);
}

/* Runs examples/<prog> with `args` (already quoted), stdout and stderr together;
 * returns the output (caller frees) and sets *status to the exit code (-1 when
 * the program is missing, so the caller skips). */
static char *run_lesson(const char *prog, const char *args, int *status) {
    char path[PATH_MAX + 64], cmd[2 * PATH_MAX + 512];
    snprintf(path, sizeof path, "%s/%s", examples_dir, prog);
    *status = -1;
    if (access(path, X_OK) != 0) {
        px_test_skip("%s: %s not built", px_test_current, path);
        return NULL;
    }
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", path, args);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            char *more = realloc(buf, cap *= 2);
            if (!more) free(buf);
            buf = more;
        }
    }
    int rc = pclose(p);
    if (!buf) return NULL;
    buf[len] = '\0';
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    if (*status != 0) printf("%s: %s exited with %d; its output:\n%s\n", px_test_current, prog, *status, buf);
    return buf;
}

/* Checks that `text` contains `needle`, reporting the missing piece. */
#define CHECK_HAS(text, needle)                                                                        \
    do {                                                                                               \
        if (strstr((text), (needle))) px_test_passed++;                                                \
        else px_test_fail(__FILE__, __LINE__, "output lacks \"%s\"", (needle));                        \
    } while (0)

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *s = text; (s = strstr(s, needle)); s += strlen(needle)) n++;
    return n;
}

/* A small XML check for the hand-written SVGs: every '<' closes with '>', no '<'
 * or '>' stray in text, and opening and closing tags nest (a stack of names). */
static int svg_well_formed(const char *svg) {
    if (strncmp(svg, "<svg", 4) != 0) return 0;
    char stack[64][32];
    int depth = 0;
    const char *s = svg;
    while ((s = strpbrk(s, "<>"))) {
        if (*s == '>') return 0; /* a '>' outside any tag */
        const char *end = strpbrk(s + 1, "<>");
        if (!end || *end != '>') return 0;
        if (s[1] == '/') {
            size_t len = strcspn(s + 2, " >");
            if (depth == 0 || strlen(stack[depth - 1]) != len || strncmp(stack[depth - 1], s + 2, len) != 0) return 0;
            depth--;
        } else if (end[-1] != '/') {
            size_t len = strcspn(s + 1, " >/");
            if (depth == 64 || len >= 32) return 0;
            memcpy(stack[depth], s + 1, len);
            stack[depth++][len] = '\0';
        }
        s = end + 1;
    }
    return depth == 0;
}

static void test_graph_session(void) {
    int st;
    char *out = run_lesson("lesson_graph_session", "", &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    CHECK_HAS(out, "session: total = 7\n");
    CHECK_HAS(out, "fetched together: a = 3, b = 4, a + b = 7, a * b = 12\n");
    CHECK_HAS(out, "x = [1, 2, 3] -> x * 2 + 1 = [3, 5, 7]\n");
    CHECK_HAS(out, "x = [10, 20] -> x * 2 + 1 = [21, 41]\n");
    CHECK_HAS(out, "eager: a + b = 7 ");
    CHECK_HAS(out, "eager: f = a * a * b = 36, df/da = 24 ");
    free(out);
}

static void test_gradient_descent(void) {
    int st;
    char *out = run_lesson("lesson_gradient_descent", "200", &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    const char *line = strstr(out, "learned w = ");
    float w = 0, b = 0;
    CHECK(line && sscanf(line, "learned w = %f, b = %f", &w, &b) == 2);
    CHECK_NEAR(w, 3.0, 0.05); /* noise of 0.1 on 100 points moves the fit by about 0.01 */
    CHECK_NEAR(b, 2.0, 0.05);
    free(out);
}

static void test_backprop(void) {
    int st;
    char *out = run_lesson("lesson_backprop", "", &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    CHECK_HAS(out, "forward: h = 4, o = 16, E = 121\n");
    CHECK_HAS(out, "backward: dE/dw21 = 88, dE/dw22 = 22, dE/dw11 = 132, dE/dw12 = 66\n");
    CHECK_HAS(out, "w21 = 2.12, w22 = 3.78, w11 = -0.32, w12 = 1.34\n");
    free(out);
}

static void test_logic_gates(void) {
    int st;
    char *out = run_lesson("lesson_logic_gates", "", &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    /* rows x1 x2 | NOT x1, OR, AND, NOR */
    CHECK_HAS(out, " 0  0 |   1      0    0    1\n");
    CHECK_HAS(out, " 0  1 |   1      1    0    0\n");
    CHECK_HAS(out, " 1  0 |   0      1    0    0\n");
    CHECK_HAS(out, " 1  1 |   0      1    1    0\n");
    CHECK_HAS(out, "grid search over 729 settings");
    CHECK_HAS(out, "XOR 0, XNOR 0\n"); /* no single unit computes them */
    CHECK(!strstr(out, ": AND 0,") && !strstr(out, ", OR 0,"));
    CHECK_HAS(out, "XOR  = AND(OR, NAND): 0 1 1 0\n");
    CHECK_HAS(out, "XNOR = OR(AND, NOR):  1 0 0 1\n");
    CHECK_HAS(out, "trained 2-2-1 XOR : 0 1 1 0 ");
    CHECK_HAS(out, "trained 2-2-1 XNOR: 1 0 0 1 ");
    free(out);
}

static void test_perceptron(void) {
    char args[PATH_MAX + 8];
    snprintf(args, sizeof args, "'%s'", px_test_data("iris.csv"));
    int st;
    char *out = run_lesson("lesson_perceptron", args, &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    const char *line = strstr(out, "converged after ");
    int epochs = 0;
    float w1 = 0, w2 = 0, b = 0;
    CHECK(line && sscanf(line, "converged after %d epochs: w = (%f, %f), b = %f", &epochs, &w1, &w2, &b) == 4);
    CHECK(epochs >= 1 && epochs <= 100);
    CHECK_HAS(out, ": 0 errors,");
    /* setosa has the small petals: both weights push towards "not setosa" */
    CHECK(w1 < 0 && w2 < 0 && b > 0);
    free(out);
}

/* A loop written from scratch (compute_gradients, apply_gradients) fits iris: its
 * own training set to 95 % (fit reaches 0.95 on held-out flowers with this model). */
static void test_training_loop(void) {
    char args[PATH_MAX + 8];
    snprintf(args, sizeof args, "'%s'", px_test_data("iris.csv"));
    int st;
    char *out = run_lesson("lesson_training_loop", args, &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    const char *line = strstr(out, "training accuracy ");
    double acc = 0, loss20 = 0, loss60 = 0;
    CHECK(line && sscanf(line, "training accuracy %lf", &acc) == 1);
    CHECK(acc >= 0.95);
    const char *l20 = strstr(out, "epoch 20: mean loss "), *l60 = strstr(out, "epoch 60: mean loss ");
    CHECK(l20 && sscanf(l20, "epoch 20: mean loss %lf", &loss20) == 1);
    CHECK(l60 && sscanf(l60, "epoch 60: mean loss %lf", &loss60) == 1);
    CHECK(loss60 < loss20);
    free(out);
}

/* fit with a train_step of its own (two optimizers): 96 flowers to train on (after the
 * validation split) are 6 steps an epoch, and the held-out accuracy reaches 0.9. */
static void test_train_step(void) {
    char args[PATH_MAX + 8];
    snprintf(args, sizeof args, "'%s'", px_test_data("iris.csv"));
    int st;
    char *out = run_lesson("lesson_train_step", args, &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    int epochs = 0;
    long long steps = 0;
    double loss = 0, acc = 0;
    CHECK(sscanf(out, "%d epochs, last batch loss %lf; %lld steps", &epochs, &loss, &steps) == 3);
    CHECK(epochs >= 1 && epochs <= 60 && steps == 6LL * epochs);
    const char *line = strstr(out, "held-out accuracy ");
    CHECK(line && sscanf(line, "held-out accuracy %lf", &acc) == 1);
    CHECK(acc >= 0.9);
    free(out);
}

/* Model subclassing: the summary nests the sublayers (the unnamed Dropout named by its
 * class), the held-out accuracy reaches 0.9 and both model files reload with identical
 * predictions. */
static void test_subclassing(void) {
    char args[PATH_MAX + 80];
    snprintf(args, sizeof args, "'%s' '%s'", px_test_data("iris.csv"), tmp_dir);
    int st;
    char *out = run_lesson("lesson_subclassing", args, &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    CHECK(strstr(out, " my_model (MyModel) ") && strstr(out, "   hidden (Dense) ") && strstr(out, "   dropout (Dropout) ") &&
          strstr(out, "   classifier (Dense) ") && strstr(out, "Total params: 131"));
    const char *line = strstr(out, "test accuracy ");
    double acc = 0;
    CHECK(line && sscanf(line, "test accuracy %lf", &acc) == 1 && acc >= 0.9);
    CHECK(strstr(out, "my_model.h5: reloaded, predictions identical") &&
          strstr(out, "my_model.keras: reloaded, predictions identical"));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/my_model.h5", tmp_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/my_model.keras", tmp_dir);
    unlink(path);
    free(out);
}

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

static void test_activations(void) {
    char csv[128], svg[128], args[300];
    snprintf(csv, sizeof csv, "%s/act.csv", tmp_dir);
    snprintf(svg, sizeof svg, "%s/act.svg", tmp_dir);
    snprintf(args, sizeof args, "'%s' '%s'", csv, svg);
    int st;
    char *out = run_lesson("lesson_activations", args, &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    free(out);
    char *table = read_file(csv), *pic = read_file(svg);
    CHECK_NOT_NULL(table);
    CHECK_NOT_NULL(pic);
    if (table) {
        const char *header = "x,sigmoid,d_sigmoid,tanh,d_tanh,relu,d_relu,leaky_relu,d_leaky_relu,elu,d_elu,"
                             "swish,d_swish,softplus,d_softplus\n";
        CHECK(strncmp(table, header, strlen(header)) == 0);
        CHECK(count_of(table, "\n") == 102);
        /* every row against the textbook formulas (the kinks at x = 0 have no single derivative) */
        int rows = 0, bad = 0;
        for (const char *line = strchr(table, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
            double v[15];
            if (sscanf(line + 1, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14]) != 15) {
                bad++;
                continue;
            }
            double x = v[0], s = sigmoid(x), t = tanh(x);
            double want[14] = {s, s * (1 - s), t, 1 - t * t, x > 0 ? x : 0, x > 0, x > 0 ? x : 0.2 * x, x > 0 ? 1 : 0.2,
                               x > 0 ? x : exp(x) - 1, x > 0 ? 1 : exp(x), x * s, s + x * s * (1 - s), log1p(exp(x)), s};
            for (int k = 0; k < 14; k++) {
                if (fabs(x) < 1e-6 && (k == 5 || k == 7 || k == 9)) continue;
                if (fabs(v[k + 1] - want[k]) > 1e-4 + 1e-5 * fabs(want[k])) {
                    if (bad++ < 5) printf("activations: x = %g column %d is %g, expected %g\n", x, k + 1, v[k + 1], want[k]);
                }
            }
            rows++;
        }
        CHECK(rows == 101);
        CHECK(bad == 0);
    }
    if (pic) {
        CHECK(svg_well_formed(pic));
        CHECK(count_of(pic, "<polyline") == 14); /* 7 functions and 7 derivatives */
        const char *names[] = {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish", "softplus"};
        for (int k = 0; k < 7; k++) CHECK_HAS(pic, names[k]);
    }
    free(table);
    free(pic);
    remove(csv);
    remove(svg);
}

/* The course's table exactly (issue 18 item 14): accuracy, squared errors summed
 * over both outputs, cross-entropy in log base 10; then Keras's values, by hand. */
static void test_loss_table(void) {
    int st;
    char *out = run_lesson("lesson_loss_table", "", &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    const char *course[4] = {"      1 | (1, 0)                | (0.9, 0.1)   |        1 | 0.02 | 0.05\n",
                             "      2 | (1, 0)                | (0.6, 0.4)   |        1 | 0.32 | 0.22\n",
                             "      3 | (0, 1)                | (0.6, 0.4)   |        0 | 0.72 | 0.40\n",
                             "      4 | (0, 1)                | (0.3, 0.7)   |        1 | 0.18 | 0.15\n"};
    for (int i = 0; i < 4; i++) {
        bool ok = strstr(out, course[i]) != NULL;
        if (!ok) printf("  missing the course's row: %s", course[i]);
        CHECK(ok);
    }
    /* Keras: the mean over the two outputs, -ln of the true class's probability */
    const char *keras = strstr(out, "Keras's values");
    CHECK(keras != NULL);
    const double acc[4] = {1, 1, 0, 1}, mse[4] = {0.01, 0.16, 0.36, 0.09},
                 cce[4] = {-log(0.9), -log(0.6), -log(0.4), -log(0.7)}, course_mse[4] = {0.02, 0.32, 0.72, 0.18},
                 course_ce[4] = {0.05, 0.22, 0.40, 0.15};
    const char *line = keras ? strstr(keras, "\n      1 |") : NULL;
    for (int i = 0; i < 4 && line; i++, line = strchr(line + 1, '\n')) {
        int idx = 0;
        float a = -1, m = 0, c = 0;
        CHECK(sscanf(line + 1, "%d | %f | %f | %f", &idx, &a, &m, &c) == 4);
        CHECK(idx == i + 1 && a == (float)acc[i]);
        CHECK_NEAR(m, mse[i], 6e-5);
        CHECK_NEAR(c, cce[i], 6e-5);
        /* and the course's numbers are these in its conventions: x 2 outputs, / ln 10 */
        CHECK_NEAR(2 * mse[i], course_mse[i], 1e-9);
        CHECK_NEAR(cce[i] / log(10.0), course_ce[i], 0.005);
    }
    free(out);
}

static void test_optimizer_paths(void) {
    char csv[128], svg[128], args[300];
    snprintf(csv, sizeof csv, "%s/paths.csv", tmp_dir);
    snprintf(svg, sizeof svg, "%s/paths.svg", tmp_dir);
    snprintf(args, sizeof args, "'%s' '%s'", svg, csv);
    int st;
    char *out = run_lesson("lesson_optimizer_paths", args, &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (!out) return;
    const char *names[7] = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam"};
    for (int k = 0; k < 7; k++) {
        char key[64];
        int steps = 0;
        float x = 0, y = 0, loss = 0;
        /* every method escapes the saddle (f = x^2 - y^2 goes below -3 at the box's edge) ... */
        snprintf(key, sizeof key, "\nsaddle  %-9s", names[k]);
        const char *line = strstr(out, key);
        CHECK(line && sscanf(line + strlen(key), "%d %f %f %f", &steps, &x, &y, &loss) == 4);
        CHECK(loss < -3.0f && steps < 150);
        /* ... and comes close to the valley's minimum from f = 24.05 */
        snprintf(key, sizeof key, "\nvalley  %-9s", names[k]);
        line = strstr(out, key);
        CHECK(line && sscanf(line + strlen(key), "%d %f %f %f", &steps, &x, &y, &loss) == 4);
        if (loss >= 0.1f) printf("optimizer_paths: %s ends the valley at loss %g\n", names[k], loss);
        CHECK(loss < 0.1f && loss >= 0);
    }
    free(out);
    char *pic = read_file(svg), *table = read_file(csv);
    CHECK_NOT_NULL(pic);
    CHECK_NOT_NULL(table);
    if (pic) {
        CHECK(svg_well_formed(pic));
        CHECK(count_of(pic, "<polyline") == 14); /* one path per optimizer on each surface */
        CHECK(count_of(pic, "<path") >= 10);      /* the contour lines */
    }
    if (table) {
        CHECK(strncmp(table, "surface,optimizer,step,x,y,loss\n", 32) == 0);
        CHECK_HAS(table, "\nsaddle,adam,0,-1.8,0.05,");
        CHECK_HAS(table, "\nvalley,sgd,150,");
        CHECK(count_of(table, "\n") > 7 * 150);
    }
    free(pic);
    free(table);
    remove(csv);
    remove(svg);
}

static void test_graph_picture(void) {
    char dot[128], args[200];
    snprintf(dot, sizeof dot, "%s/mlp.dot", tmp_dir);
    snprintf(args, sizeof args, "'%s'", dot);
    int st;
    char *out = run_lesson("lesson_graph_picture", args, &st);
    if (st == -1) return;
    CHECK(st == 0 && out);
    if (out) CHECK_HAS(out, "the MLP's graph has 20 nodes");
    free(out);
    char *text = read_file(dot);
    CHECK_NOT_NULL(text);
    if (text) {
        CHECK(strncmp(text, "digraph", 7) == 0);
        CHECK(strlen(text) > 2 && strcmp(text + strlen(text) - 2, "}\n") == 0);
        /* 2 placeholders, 6 variables, reshape, 3 x (matmul, add), 2 relu, softmax, the loss and its mean */
        CHECK(count_of(text, "[label=") == 20);
        CHECK(count_of(text, " -> ") == 19);
        CHECK(count_of(text, "\\nvariable\\n") == 6);
        CHECK(count_of(text, "\\nplaceholder\\n") == 2);
        CHECK(count_of(text, "matmul\\n") == 3);
        CHECK(count_of(text, "\"relu\\n") == 2);
        CHECK_HAS(text, "softmax\\n(None, 10)");
        CHECK_HAS(text, "sparse_softmax_cross_entropy");
        CHECK_HAS(text, "loss\\nmean");
    }
    free(text);
    remove(dot);
    char rendered[160];
    snprintf(rendered, sizeof rendered, "%s/mlp.svg", tmp_dir);
    remove(rendered); /* written only where Graphviz is installed */
}

/* examples/image_folder on the digits written as PNG files by
 * examples/make_digit_images.py: a small ConvNet reaches 90 % validation
 * accuracy in 6 epochs. */
static void test_image_folder(void) {
    char dir[128], cmd[PATH_MAX + 512];
    snprintf(dir, sizeof dir, "%s/digits", tmp_dir);
    snprintf(cmd, sizeof cmd, "python3 '%s/../../examples/make_digit_images.py' '%s' '%s' > /dev/null",
             getenv("PX_TEST_DATA") ? getenv("PX_TEST_DATA") : "data", px_test_data("digits.csv.gz"), dir);
    if (system(cmd) != 0) {
        px_test_skip("python3 could not write the digit images (%s)", cmd);
        return;
    }
    char args[256];
    snprintf(args, sizeof args, "'%s' 6", dir);
    setenv("OMP_NUM_THREADS", "1", 1); /* steady on a busy machine */
    int st;
    char *out = run_lesson("image_folder", args, &st);
    if (st != -1) {
        CHECK(st == 0 && out);
        CHECK(out && strstr(out, "Found 1797 files belonging to 10 classes: 1438 for training, 359 for validation."));
        const char *line = out ? strstr(out, "validation accuracy: ") : NULL;
        double acc = line ? atof(line + strlen("validation accuracy: ")) : 0;
        printf("image_folder: validation accuracy %.4f after 6 epochs\n", acc);
        CHECK(acc >= 0.90);
    }
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    (void)argc;
    find_examples(argv[0]);
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/px_lessons_XXXXXX");
    if (!mkdtemp(tmp_dir)) return fprintf(stderr, "test_lessons: cannot make a temporary folder\n"), 1;
    RUN_TEST(test_graph_session);
    RUN_TEST(test_gradient_descent);
    RUN_TEST(test_backprop);
    RUN_TEST(test_logic_gates);
    RUN_TEST(test_perceptron);
    RUN_TEST(test_training_loop);
    RUN_TEST(test_train_step);
    RUN_TEST(test_subclassing);
    RUN_TEST(test_activations);
    RUN_TEST(test_loss_table);
    RUN_TEST(test_optimizer_paths);
    RUN_TEST(test_graph_picture);
    RUN_TEST(test_image_folder);
    rmdir(tmp_dir);
    return px_test_finish();
}
