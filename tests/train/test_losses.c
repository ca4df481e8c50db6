/* The Keras losses of px_loss_node against values computed here in double from Keras's
 * formulas and against PyTorch fixtures; their gradients, stability and errors. */
#include <float.h>
#include <string.h>

#include "data/loss_fixtures.h"
#include "gradcheck.h"
#include "px_test.h"

#define KEPS 1e-7 /* Keras's backend epsilon */

/* The loss of constant targets and predictions, or NAN (with a failed check). */
static double loss_value(px_loss loss, const px_tensor *y_true, const px_tensor *y_pred) {
    px_graph *g = px_graph_new();
    px_node *l = px_loss_node(loss, px_constant(g, y_true), px_constant(g, y_pred));
    px_tensor *out = NULL;
    double v = NAN;
    CHECK_NOT_NULL(l);
    if (l) {
        CHECK(px_node_shape(l).rank == 0);
        CHECK_OK(px_run(g, &l, 1, NULL, 0, &out));
        if (out) v = px_tensor_f32(out)[0];
    }
    px_tensor_free(out);
    px_graph_free(g);
    return v;
}

static px_tensor *mat(int rows, int cols, const float *v) {
    return px_tensor_from_array(PX_SHAPE(rows, cols), v, (int64_t)rows * cols);
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Compares with a relative tolerance (and a tiny absolute one for values near zero). */
#define CHECK_REL(a, b, rtol) CHECK_NEAR(a, b, (rtol) * fabs((double)(b)) + 1e-7)

enum { N = 6, R = 2, K = 3 }; /* N values as R rows of K */

static const float yt_reg[N] = {0.5f, -1.0f, 2.0f, 1.5f, 0.0f, -0.25f};
static const float yp_reg[N] = {0.25f, 1.5f, 2.75f, -1.0f, 0.375f, 0.5f};

static void test_regression_losses(void) {
    px_tensor *t = mat(R, K, yt_reg), *p = mat(R, K, yp_reg);
    double mse = 0, mae = 0;
    for (int i = 0; i < N; i++) {
        double e = (double)yp_reg[i] - yt_reg[i];
        mse += e * e / N;
        mae += fabs(e) / N;
    }
    CHECK_REL(loss_value((px_loss){.kind = PX_MEAN_SQUARED_ERROR}, t, p), mse, 1e-6);
    CHECK_REL(loss_value((px_loss){.kind = PX_MEAN_ABSOLUTE_ERROR}, t, p), mae, 1e-6);

    /* Keras: mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))^2); negatives clip to eps */
    double msle = 0;
    for (int i = 0; i < N; i++) {
        double d = log(fmax(yp_reg[i], KEPS) + 1) - log(fmax(yt_reg[i], KEPS) + 1);
        msle += d * d / N;
    }
    CHECK_REL(loss_value((px_loss){.kind = PX_MEAN_SQUARED_LOGARITHMIC_ERROR}, t, p), msle, 1e-5);

    /* Huber: 0.5 e^2 inside delta, delta (|e| - 0.5 delta) outside; the errors here
     * (0.25 .. 2.5) fall on both sides of 1 and of 0.5 */
    const float deltas[3] = {0.0f, 1.0f, 0.5f};
    for (int k = 0; k < 3; k++) {
        double d = deltas[k] > 0 ? deltas[k] : 1.0, h = 0;
        for (int i = 0; i < N; i++) {
            double e = fabs((double)yp_reg[i] - yt_reg[i]);
            h += (e <= d ? 0.5 * e * e : d * (e - 0.5 * d)) / N;
        }
        CHECK_REL(loss_value((px_loss){.kind = PX_HUBER, .delta = deltas[k]}, t, p), h, 1e-6);
    }
    /* the custom delta must change the value (0.5 vs default 1) */
    CHECK(fabs(loss_value((px_loss){.kind = PX_HUBER, .delta = 0.5f}, t, p) - loss_value((px_loss){.kind = PX_HUBER}, t, p)) > 0.05);
    px_tensor_free(t);
    px_tensor_free(p);
}

/* tf.keras's binary_crossentropy on probabilities: clip to [eps, 1 - eps], eps inside the logs. */
static double bce_ref(double y, double p) {
    p = clampd(p, KEPS, 1 - KEPS);
    return -(y * log(p + KEPS) + (1 - y) * log(1 - p + KEPS));
}

static void test_binary_crossentropy(void) {
    const float y[N] = {1, 0, 1, 0, 0.3f, 0.8f}, p[N] = {0.9f, 0.2f, 0.35f, 0.6f, 0.5f, 0.05f};
    const float z[N] = {2.0f, -1.0f, 0.0f, 3.5f, -0.7f, 0.25f};
    px_tensor *yt = mat(R, K, y), *pt = mat(R, K, p), *zt = mat(R, K, z);
    double want = 0, want_logits = 0;
    for (int i = 0; i < N; i++) {
        want += bce_ref(y[i], p[i]) / N;
        double s = 1 / (1 + exp(-(double)z[i]));
        want_logits += -(y[i] * log(s) + (1 - y[i]) * log(1 - s)) / N;
    }
    CHECK_REL(loss_value((px_loss){.kind = PX_BINARY_CROSSENTROPY}, yt, pt), want, 1e-5);
    CHECK_REL(loss_value((px_loss){.kind = PX_BINARY_CROSSENTROPY, .from_logits = true}, yt, zt), want_logits, 1e-5);

    /* probabilities of exactly 0 and 1 are clipped: large but finite, about -log(2 eps) */
    const float y2[2] = {1, 0}, p2[2] = {0, 1};
    px_tensor *y2t = mat(1, 2, y2), *p2t = mat(1, 2, p2);
    double v = loss_value((px_loss){.kind = PX_BINARY_CROSSENTROPY}, y2t, p2t);
    CHECK(isfinite(v));
    CHECK_NEAR(v, -log(2 * KEPS), 0.2);
    px_tensor_free(y2t);
    px_tensor_free(p2t);
    px_tensor_free(yt);
    px_tensor_free(pt);
    px_tensor_free(zt);
}

static double lse(const float *row, int k) {
    double m = row[0], s = 0;
    for (int j = 1; j < k; j++) m = fmax(m, row[j]);
    for (int j = 0; j < k; j++) s += exp(row[j] - m);
    return m + log(s);
}

static void test_categorical_crossentropies(void) {
    /* rows that do not sum to 1: Keras divides by the row sum first */
    const float p[N] = {0.7f, 0.2f, 0.1f, 0.4f, 1.2f, 0.4f};
    const float onehot[N] = {1, 0, 0, 0, 0, 1}, soft[N] = {0.6f, 0.3f, 0.1f, 0.2f, 0.2f, 0.6f};
    const float z[N] = {2.0f, -1.0f, 0.5f, 0.3f, 1.7f, -0.4f};
    const int32_t lab[R] = {0, 2};
    px_tensor *pt = mat(R, K, p), *oh = mat(R, K, onehot), *st = mat(R, K, soft), *zt = mat(R, K, z);
    px_tensor *lt = px_tensor_from_int_array(PX_SHAPE(R), lab, R);
    px_tensor *lt1 = px_tensor_from_int_array(PX_SHAPE(R, 1), lab, R);

    double ce_oh = 0, ce_soft = 0, ce_logits = 0, sce = 0, sce_logits = 0;
    for (int r = 0; r < R; r++) {
        double sum = 0;
        for (int j = 0; j < K; j++) sum += p[r * K + j];
        for (int j = 0; j < K; j++) {
            double q = clampd(p[r * K + j] / sum, KEPS, 1 - KEPS);
            ce_oh -= onehot[r * K + j] * log(q) / R;
            ce_soft -= soft[r * K + j] * log(q) / R;
            ce_logits -= soft[r * K + j] * (z[r * K + j] - lse(z + r * K, K)) / R;
        }
        /* tf.keras's sparse loss clips first; its softmax then renormalises */
        double csum = 0;
        for (int j = 0; j < K; j++) csum += clampd(p[r * K + j], KEPS, 1 - KEPS);
        sce -= log(clampd(p[r * K + lab[r]], KEPS, 1 - KEPS) / csum) / R;
        sce_logits -= (z[r * K + lab[r]] - lse(z + r * K, K)) / R;
    }
    CHECK_REL(loss_value((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, oh, pt), ce_oh, 1e-5);
    CHECK_REL(loss_value((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, st, pt), ce_soft, 1e-5);
    CHECK_REL(loss_value((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY, .from_logits = true}, st, zt), ce_logits, 1e-5);
    CHECK_REL(loss_value((px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY}, lt, pt), sce, 1e-5);
    CHECK_REL(loss_value((px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true}, lt, zt), sce_logits, 1e-5);
    /* (batch, 1) labels are accepted as Keras does */
    CHECK_REL(loss_value((px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true}, lt1, zt), sce_logits, 1e-5);
    /* on rows inside [eps, 1 - eps] the two orders agree */
    const float pn[N] = {0.7f, 0.2f, 0.1f, 0.2f, 0.6f, 0.2f};
    px_tensor *pnt = mat(R, K, pn);
    CHECK_REL(loss_value((px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY}, lt, pnt),
              loss_value((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, oh, pnt), 1e-6);
    CHECK_REL(loss_value((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, oh, pnt), ce_oh, 1e-5);
    px_tensor_free(pnt);

    /* a zero probability for the true class is clipped to eps: -log(eps) / 2 over two rows */
    const float pz[N] = {0, 0.5f, 0.5f, 0, 0, 1};
    px_tensor *pzt = mat(R, K, pz);
    double v = loss_value((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, oh, pzt);
    CHECK(isfinite(v));
    CHECK_NEAR(v, -log(KEPS) / 2, 0.05);
    px_tensor_free(pzt);
    px_tensor_free(pt);
    px_tensor_free(oh);
    px_tensor_free(st);
    px_tensor_free(zt);
    px_tensor_free(lt);
    px_tensor_free(lt1);
}

static void test_hinge_losses(void) {
    const float pm[N] = {1, -1, 1, -1, -1, 1}, bin[N] = {1, 0, 1, 0, 0, 1};
    const float s[N] = {0.3f, -2.0f, 1.5f, 0.8f, -0.1f, -0.6f};
    px_tensor *pmt = mat(R, K, pm), *bt = mat(R, K, bin), *st = mat(R, K, s);
    double h = 0, h2 = 0;
    for (int i = 0; i < N; i++) {
        double m = fmax(1 - (double)pm[i] * s[i], 0);
        h += m / N;
        h2 += m * m / N;
    }
    CHECK_REL(loss_value((px_loss){.kind = PX_HINGE}, pmt, st), h, 1e-6);
    CHECK_REL(loss_value((px_loss){.kind = PX_SQUARED_HINGE}, pmt, st), h2, 1e-6);
    /* 0/1 labels are converted to -1/1 */
    CHECK_REL(loss_value((px_loss){.kind = PX_HINGE}, bt, st), h, 1e-6);
    CHECK_REL(loss_value((px_loss){.kind = PX_SQUARED_HINGE}, bt, st), h2, 1e-6);
    /* labels that are neither all 0/1 are used as they are */
    const float other[N] = {0.5f, 0, 1, 0, 0, 1};
    px_tensor *ot = mat(R, K, other);
    double ho = 0;
    for (int i = 0; i < N; i++) ho += fmax(1 - (double)other[i] * s[i], 0) / N;
    CHECK_REL(loss_value((px_loss){.kind = PX_HINGE}, ot, st), ho, 1e-6);
    px_tensor_free(ot);
    px_tensor_free(pmt);
    px_tensor_free(bt);
    px_tensor_free(st);
}

static void test_kl_divergence(void) {
    const float y[N] = {0.6f, 0.3f, 0.1f, 0, 0.5f, 0.5f}, p[N] = {0.7f, 0.2f, 0.1f, 0.25f, 0.25f, 0.5f};
    px_tensor *yt = mat(R, K, y), *pt = mat(R, K, p);
    double kl = 0;
    for (int i = 0; i < N; i++) {
        double a = clampd(y[i], KEPS, 1), b = clampd(p[i], KEPS, 1);
        kl += a * log(a / b) / R; /* summed over classes, mean over rows */
    }
    CHECK_REL(loss_value((px_loss){.kind = PX_KL_DIVERGENCE}, yt, pt), kl, 1e-5);
    px_tensor_free(yt);
    px_tensor_free(pt);
}

/* PyTorch's values for the same definitions (tests/fixtures/make_loss_fixtures.py). */
static void test_against_pytorch(void) {
    int n = (int)(sizeof px_loss_fixtures / sizeof px_loss_fixtures[0]);
    CHECK(n >= 18);
    px_tensor *labels = px_tensor_from_int_array(PX_SHAPE(PX_LFIX_B), px_lfix_labels, PX_LFIX_B);
    for (int i = 0; i < n; i++) {
        const px_loss_fixture *f = &px_loss_fixtures[i];
        px_tensor *yp = mat(PX_LFIX_B, PX_LFIX_C, f->y_pred);
        px_tensor *yt = f->y_true ? mat(PX_LFIX_B, PX_LFIX_C, f->y_true) : NULL;
        double v = loss_value(f->loss, yt ? yt : labels, yp);
        if (!(fabs(v - f->expected) <= 1e-5 * fabs(f->expected)))
            px_test_fail(__FILE__, __LINE__, "fixture '%s': %.9g, torch %.9g", f->name, v, f->expected);
        else px_test_passed++;
        px_tensor_free(yp);
        px_tensor_free(yt);
    }
    px_tensor_free(labels);
}

/* ---- gradients: y_pred is the variable, the targets a constant ---- */
typedef struct gc_case {
    px_loss loss;
    const px_tensor *y_true;
} gc_case;

static px_node *build_loss(px_node *const *v, void *ctx) {
    gc_case *c = ctx;
    return px_loss_node(c->loss, px_constant(px_node_graph(v[0]), c->y_true), v[0]);
}

static void gradcheck_loss(const char *label, px_loss loss, const px_tensor *y_true, float lo, float hi,
                           uint64_t seed) {
    gc_case c = {loss, y_true};
    px_tensor *p = px_gc_random(PX_SHAPE(4, 5), lo, hi, seed);
    CHECK(px_gradcheck(label, build_loss, &c, &p, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(p);
}

static void test_loss_gradients(void) {
    px_tensor *reg = px_gc_random(PX_SHAPE(4, 5), -2.0f, 2.0f, 11);
    px_tensor *pos = px_gc_random(PX_SHAPE(4, 5), 0.0f, 3.0f, 12);
    px_tensor *prob = px_gc_random(PX_SHAPE(4, 5), 0.0f, 1.0f, 13);
    float oh[20] = {0}, pm[20], bin[20];
    int32_t lab[4] = {0, 3, 4, 1};
    for (int r = 0; r < 4; r++) oh[r * 5 + lab[r]] = 1;
    for (int i = 0; i < 20; i++) bin[i] = (float)((i * 7) % 3 == 0), pm[i] = 2 * bin[i] - 1;
    px_tensor *oht = mat(4, 5, oh), *pmt = mat(4, 5, pm), *bt = mat(4, 5, bin);
    px_tensor *lt = px_tensor_from_int_array(PX_SHAPE(4), lab, 4);
    /* soft distributions for KL: each row normalised */
    px_tensor *dist = px_gc_random(PX_SHAPE(4, 5), 0.1f, 1.0f, 14);
    for (int r = 0; r < 4; r++) {
        float s = 0, *d = px_tensor_f32(dist) + r * 5;
        for (int j = 0; j < 5; j++) s += d[j];
        for (int j = 0; j < 5; j++) d[j] /= s;
    }

    gradcheck_loss("mse", (px_loss){.kind = PX_MEAN_SQUARED_ERROR}, reg, -2, 2, 21);
    gradcheck_loss("mae", (px_loss){.kind = PX_MEAN_ABSOLUTE_ERROR}, reg, -2, 2, 22);
    gradcheck_loss("msle", (px_loss){.kind = PX_MEAN_SQUARED_LOGARITHMIC_ERROR}, pos, 0.05f, 3, 23);
    gradcheck_loss("bce", (px_loss){.kind = PX_BINARY_CROSSENTROPY}, prob, 0.05f, 0.95f, 24);
    gradcheck_loss("bce logits", (px_loss){.kind = PX_BINARY_CROSSENTROPY, .from_logits = true}, prob, -4, 4, 25);
    gradcheck_loss("cce", (px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, oht, 0.05f, 1, 26);
    gradcheck_loss("cce soft", (px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, dist, 0.05f, 1, 27);
    gradcheck_loss("cce logits", (px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY, .from_logits = true}, dist, -3, 3, 28);
    gradcheck_loss("scce", (px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY}, lt, 0.05f, 1, 29);
    gradcheck_loss("scce logits", (px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .from_logits = true}, lt, -3, 3, 30);
    gradcheck_loss("hinge", (px_loss){.kind = PX_HINGE}, pmt, -2, 2, 31);
    gradcheck_loss("hinge 0/1", (px_loss){.kind = PX_HINGE}, bt, -2, 2, 32);
    gradcheck_loss("squared hinge", (px_loss){.kind = PX_SQUARED_HINGE}, pmt, -2, 2, 33);
    gradcheck_loss("kl", (px_loss){.kind = PX_KL_DIVERGENCE}, dist, 0.05f, 0.95f, 34);
    gradcheck_loss("huber", (px_loss){.kind = PX_HUBER}, reg, -3, 3, 35);
    gradcheck_loss("huber 0.3", (px_loss){.kind = PX_HUBER, .delta = 0.3f}, reg, -3, 3, 36);
    px_tensor_free(reg);
    px_tensor_free(pos);
    px_tensor_free(prob);
    px_tensor_free(oht);
    px_tensor_free(pmt);
    px_tensor_free(bt);
    px_tensor_free(lt);
    px_tensor_free(dist);
}

/* ---- stability: the fused path on the logits under a softmax / sigmoid output ---- */

/* Loss and d loss / d logits for y_pred = act(logits); the gradient must be finite. */
static double fused_loss(px_loss loss, px_tensor *logits, px_tensor *targets, bool sigmoid, px_tensor **grad) {
    px_graph *g = px_graph_new();
    px_node *z = px_variable(g, logits, "z");
    px_node *y = sigmoid ? px_sigmoid(z) : px_softmax(z, -1);
    px_node *l = px_loss_node(loss, px_constant(g, targets), y);
    CHECK_NOT_NULL(l);
    double v = NAN;
    *grad = NULL;
    px_session *s = l ? px_session_new(g, &l, 1, &(px_session_options){.loss = l}) : NULL;
    if (s && px_session_run(s, NULL, 0, NULL) == PX_OK) {
        v = px_tensor_f32(px_session_fetch(s, 0))[0];
        const px_tensor *gz = px_session_gradient(s, z);
        if (gz) *grad = px_tensor_copy(gz);
    }
    CHECK(s != NULL);
    px_session_free(s);
    px_graph_free(g);
    return v;
}

static void test_large_logits_stay_finite(void) {
    const float z[6] = {1000, -1000, 0, -1000, 1000, 0};
    const float oh[6] = {0, 1, 0, 0, 1, 0};
    const int32_t lab[2] = {1, 1};
    px_tensor *zt = mat(2, 3, z), *oht = mat(2, 3, oh), *lt = px_tensor_from_int_array(PX_SHAPE(2), lab, 2);
    /* row 0: log-softmax of class 1 is -2000; row 1: 0; mean 1000. The clipped
     * probability path would give only -log(eps) / 2 = 8.06 */
    px_loss kinds[2] = {{.kind = PX_CATEGORICAL_CROSSENTROPY}, {.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY}};
    for (int k = 0; k < 2; k++) {
        px_tensor *gz = NULL;
        double v = fused_loss(kinds[k], zt, k == 0 ? oht : lt, false, &gz);
        CHECK_NEAR(v, 1000.0, 1e-3);
        CHECK_NOT_NULL(gz);
        /* (softmax - onehot) / batch */
        const double want[6] = {0.5, -0.5, 0, 0, 0, 0};
        for (int i = 0; gz && i < 6; i++) {
            CHECK(isfinite(px_tensor_f32(gz)[i]));
            CHECK_NEAR(px_tensor_f32(gz)[i], want[i], 1e-6);
        }
        px_tensor_free(gz);
    }
    /* sigmoid + binary cross-entropy: z = 1000 with label 0 costs 1000 */
    const float zb[2] = {1000, -1000}, yb[2] = {0, 0};
    px_tensor *zbt = mat(2, 1, zb), *ybt = mat(2, 1, yb), *gz = NULL;
    double v = fused_loss((px_loss){.kind = PX_BINARY_CROSSENTROPY}, zbt, ybt, true, &gz);
    CHECK_NEAR(v, 500.0, 1e-3);
    CHECK(gz && fabs(px_tensor_f32(gz)[0] - 0.5) < 1e-6 && fabs(px_tensor_f32(gz)[1]) < 1e-6);
    px_tensor_free(gz);
    px_tensor_free(zbt);
    px_tensor_free(ybt);
    px_tensor_free(zt);
    px_tensor_free(oht);
    px_tensor_free(lt);
}

static void test_shape_errors(void) {
    px_graph *g = px_graph_new();
    px_node *pred = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 3), "pred");
    px_node *t2 = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 2), "t2");
    px_node *tf = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN), "tf");
    px_node *ti = px_placeholder(g, PX_I32, PX_SHAPE(PX_UNKNOWN), "ti");
    px_node *ti3 = px_placeholder(g, PX_I32, PX_SHAPE(PX_UNKNOWN, 3), "ti3");

    CHECK(px_loss_node((px_loss){.kind = PX_MEAN_SQUARED_ERROR}, t2, pred) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("mean_squared_error: targets (None, 2) (float32) do not match predictions (None, 3)");

    CHECK(px_loss_node((px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY}, tf, pred) == NULL);
    CHECK_ERROR_HAS("sparse_categorical_crossentropy: labels must be int32");
    CHECK_ERROR_HAS("got float32 (None,)");

    CHECK(px_loss_node((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, ti3, pred) == NULL);
    CHECK_ERROR_HAS("(int32) do not match predictions (None, 3)");
    CHECK_ERROR_HAS("integer labels need sparse_categorical_crossentropy");

    CHECK(px_loss_node((px_loss){.kind = PX_CATEGORICAL_CROSSENTROPY}, ti, pred) == NULL);
    CHECK_ERROR_HAS("integer labels need sparse_categorical_crossentropy");

    CHECK(px_loss_node((px_loss){.kind = PX_LOSS_NONE}, t2, pred) == NULL);
    CHECK_ERROR_HAS("unknown loss");
    /* the sparse loss with fitting labels builds */
    CHECK_NOT_NULL(px_loss_node((px_loss){.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY}, ti, pred));
    px_graph_free(g);
}

static void test_names(void) {
    for (int k = PX_LOSS_NONE + 1; k < PX_LOSS_COUNT; k++) {
        if (k == PX_LOSS_CUSTOM) continue; /* named by the registry */
        px_loss_kind back = PX_LOSS_NONE;
        CHECK_OK(px_loss_from_name(px_loss_name((px_loss_kind)k), &back));
        CHECK(back == (px_loss_kind)k);
    }
    CHECK(strcmp(px_loss_name(PX_SPARSE_CATEGORICAL_CROSSENTROPY), "sparse_categorical_crossentropy") == 0);
    CHECK(strcmp(px_loss_name(PX_MEAN_SQUARED_ERROR), "mean_squared_error") == 0);
    CHECK(strcmp(px_loss_name(PX_KL_DIVERGENCE), "kl_divergence") == 0);
    static const struct { const char *name; px_loss_kind k; } aliases[] = {
        {"mse", PX_MEAN_SQUARED_ERROR}, {"mae", PX_MEAN_ABSOLUTE_ERROR},
        {"msle", PX_MEAN_SQUARED_LOGARITHMIC_ERROR}, {"kld", PX_KL_DIVERGENCE},
        {"kullback_leibler_divergence", PX_KL_DIVERGENCE}, {"huber_loss", PX_HUBER},
        {"binary_crossentropy", PX_BINARY_CROSSENTROPY}, {"categorical_crossentropy", PX_CATEGORICAL_CROSSENTROPY},
        {"hinge", PX_HINGE}, {"squared_hinge", PX_SQUARED_HINGE}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        px_loss_kind k = PX_LOSS_NONE;
        CHECK_OK(px_loss_from_name(aliases[i].name, &k));
        CHECK(k == aliases[i].k);
    }
    px_loss_kind k = PX_HUBER;
    CHECK(px_loss_from_name("cross_entropy", &k) == PX_ERR_ARG);
    CHECK_ERROR_HAS("unknown loss 'cross_entropy'");
    CHECK(k == PX_HUBER); /* untouched on failure */
    CHECK(px_loss_from_name(NULL, &k) != PX_OK);
    CHECK(strcmp(px_loss_name(PX_LOSS_COUNT), "") == 0);
}

int main(void) {
    RUN_TEST(test_regression_losses);
    RUN_TEST(test_binary_crossentropy);
    RUN_TEST(test_categorical_crossentropies);
    RUN_TEST(test_hinge_losses);
    RUN_TEST(test_kl_divergence);
    RUN_TEST(test_against_pytorch);
    RUN_TEST(test_loss_gradients);
    RUN_TEST(test_large_logits_stay_finite);
    RUN_TEST(test_shape_errors);
    RUN_TEST(test_names);
    return px_test_finish();
}
