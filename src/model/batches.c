/* The data side of fit, evaluate and predict: input and target arrays checked
 * against the model and viewed as its placeholders want them, and batch
 * buffers (allocated once) filled by gathering rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/node.h"
#include "model/batches.h"

void px_gather_rows(const px_tensor *src, const int64_t *idx, int64_t start, int64_t n, px_tensor *dst) {
    int64_t row = px_tensor_size(src) / (src->shape[0] ? src->shape[0] : 1);
    size_t bytes = (size_t)row * 4;
    const char *s = src->data;
    char *d = dst->data;
    if (!idx) {
        memcpy(d, s + (size_t)start * bytes, (size_t)n * bytes);
        return;
    }
    for (int64_t i = 0; i < n; i++) memcpy(d + (size_t)i * bytes, s + (size_t)idx[start + i] * bytes, bytes);
}

/* ---- preparing data ---- */

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

uint64_t px_prepared_fingerprint(const px_prepared *p) {
    if (!p || p->n <= 0) return 0;
    uint64_t h = fnv(1469598103934665603ull, &p->n, sizeof p->n);
    int64_t rows = p->n < 256 ? p->n : 256;
    for (int i = 0; i < p->n_x + p->n_y; i++) {
        const px_tensor *t = i < p->n_x ? p->x[i] : p->y[i - p->n_x];
        h = fnv(h, t->shape, (size_t)t->rank * sizeof t->shape[0]);
        size_t row = (size_t)(px_tensor_size(t) / p->n) * 4;
        for (int64_t r = 0; r < rows; r++) h = fnv(h, (const char *)t->data + (size_t)(r * p->n / rows) * row, row);
    }
    return h;
}

void px_prepared_free(px_prepared *p) {
    for (int i = 0; i < p->n_x; i++) px_tensor_free(p->x[i]);
    for (int i = 0; i < p->n_y; i++) px_tensor_free(p->y[i]);
    for (int i = 0; i < p->n_owned; i++) px_tensor_free(p->owned[i]);
    memset(p, 0, sizeof *p);
}

/* A view of `t` (rows [start, stop)) reshaped to (rows, per-example shape of `want`). */
static px_tensor *view_as(const px_tensor *t, int64_t start, int64_t stop, px_shape want) {
    px_tensor *s = px_tensor_slice(t, start, stop);
    if (!s) return NULL;
    want.dim[0] = stop - start;
    if (px_shape_equal(px_tensor_shape(s), want)) return s; /* the usual case: no second view */
    px_tensor *r = px_tensor_reshape(s, want);
    px_tensor_free(s);
    return r;
}

/* Nonzero when some element is NaN or infinite: a branch-free test of the exponent bits
 * that the compiler vectorizes (px_check_finite's early-exit loop does not, and
 * took 15 % of a batch-1000 predict over the test set); px_check_finite, which
 * names the first bad element, runs only when this finds one. */
static uint32_t bad_bits(const unsigned char *p, int64_t n) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + (size_t)i * 4, 4);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad;
}

/* Large arrays (a predict over the test set) are scanned on all threads: on one
 * it was ~9 % of a 2-thread batch-1000 predict, next to products that use both. */
#define FINITE_PAR_MIN (1 << 20)

static bool all_finite(const void *data, int64_t n) {
    const unsigned char *p = data;
    uint32_t bad = 0;
    if (n >= FINITE_PAR_MIN) {
        int64_t chunks = (n + FINITE_PAR_MIN - 1) / FINITE_PAR_MIN * 4;
#pragma omp parallel for schedule(static) reduction(| : bad)
        for (int64_t c = 0; c < chunks; c++) {
            int64_t lo = n * c / chunks, hi = n * (c + 1) / chunks;
            bad |= bad_bits(p + (size_t)lo * 4, hi - lo);
        }
    } else {
        bad = bad_bits(p, n);
    }
    return !bad;
}

/* Which array is being checked, for error messages. The text is formatted only
 * when needed: an snprintf per array was a quarter of a batch-1 predict call. */
typedef struct array_label {
    const char *label, *kind; /* "training data", "input" / "target" */
    int index;
    px_node *ph;
} array_label;

static const char *describe(const array_label *l, char *buf, size_t size) {
    snprintf(buf, size, "%s %s %d ('%s')", l->label, l->kind, l->index, px_node_name(l->ph));
    return buf;
}

static px_status check_and_view(px_model *m, const array_label *lab, const px_tensor *t, px_node *ph, int64_t start,
                                int64_t stop, px_tensor **out, px_prepared *p) {
    char sa[96], sb[96], what[96];
    px_shape want = px_node_shape(ph), got = px_tensor_shape(t);
    int64_t per_want = 1, per_got = px_tensor_size(t) / (t->shape[0] ? t->shape[0] : 1);
    bool want_known = true; /* axes declared None (e.g. timesteps) take the data's size */
    for (int i = 1; i < want.rank; i++) {
        if (want.dim[i] == PX_UNKNOWN) want_known = false;
        else per_want *= want.dim[i];
    }
    bool same_rank_ok = got.rank == want.rank;
    for (int i = 1; same_rank_ok && i < want.rank; i++)
        same_rank_ok = got.dim[i] == want.dim[i] || want.dim[i] == PX_UNKNOWN;
    if (!want_known) per_want = -1;
    /* Keras accepts targets that differ only by trailing axes of size 1 */
    bool ok = same_rank_ok || (per_want == per_got && strstr(describe(lab, what, sizeof what), "target"));
    if (!ok || got.rank < 1)
        return px_set_error(PX_ERR_SHAPE, "model '%s': %s has shape %s, the model expects %s", m->name,
                            describe(lab, what, sizeof what),
                            px_shape_format(got, sa, sizeof sa), px_shape_format(want, sb, sizeof sb));
    const px_tensor *src = t;
    if (t->dtype != px_node_dtype(ph)) {
        /* int labels for float targets, or integral float labels for a sparse loss */
        px_tensor *c = px_tensor_new(px_node_dtype(ph), got);
        if (!c) return px_last_status();
        for (int64_t i = 0, n = px_tensor_size(t); i < n; i++) {
            float v = px_tensor_get_flat(t, i);
            /* beyond +-2^31 the conversion itself would be undefined */
            if (c->dtype == PX_I32 && (v != floorf(v) || !(fabsf(v) < 2147483648.0f))) {
                px_tensor_free(c);
                return px_set_error(PX_ERR_ARG, "model '%s': %s holds %g at position %lld; class labels must be integers",
                                    m->name, describe(lab, what, sizeof what), v, (long long)i);
            }
            px_tensor_set_flat(c, i, v);
        }
        p->owned[p->n_owned++] = c;
        src = c;
    } else if (!px_tensor_is_contiguous(t)) {
        /* a strided view (x[:, 2:5]) is copied once, as NumPy's fit would: batches are
         * then gathered from contiguous rows */
        px_tensor *c = px_tensor_copy(t);
        if (!c) return px_last_status();
        p->owned[p->n_owned++] = c;
        src = c;
    }
    if (t->dtype == PX_F32 && !(px_tensor_is_contiguous(t) && all_finite(t->data, px_tensor_size(t))) &&
        px_check_finite(t, describe(lab, what, sizeof what)) != PX_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(PX_ERR_NUMERIC, "model '%s': %s", m->name, msg);
    }
    if (!want_known) want = got; /* keep the data's own axes */
    *out = view_as(src, start, stop, want);
    return *out ? PX_OK : px_last_status();
}

/* Int32 targets are the class labels of a sparse loss: each must name one of the
 * output's classes, or the loss silently becomes NaN (Keras refuses them too). */
static px_status check_labels(px_model *m, const array_label *lab, const px_tensor *y, int64_t first) {
    if (y->dtype != PX_I32 || y->shape[0] == 0) return PX_OK;
    px_shape os = px_node_shape(m->outputs[lab->index]);
    int64_t k = os.rank > 0 ? os.dim[os.rank - 1] : 0, per = px_tensor_size(y) / y->shape[0];
    if (k <= 0) return PX_OK; /* not known before the model runs */
    const int32_t *v = px_tensor_i32(y); /* rows [first, first + n) of the array */
    for (int64_t i = 0, n = px_tensor_size(y); i < n; i++)
        if (v[i] < 0 || v[i] >= k) {
            char what[96];
            return px_set_error(PX_ERR_ARG,
                                "model '%s': %s: example %lld has the label %d, outside the valid range [0, %lld) of "
                                "output '%s' (%lld classes)",
                                m->name, describe(lab, what, sizeof what), (long long)(first + i / per), (int)v[i],
                                (long long)k, px_node_name(m->outputs[lab->index]), (long long)k);
        }
    return PX_OK;
}

/* The embedding lookups that read input placeholder `ph` directly or through
 * reshapes: their ids must be whole numbers naming a row of the table, or the
 * lookup gives a row of NaN (Keras: "indices[i,j] = 12 is not in [0, 10)"). */
static px_status check_ids(px_model *m, const array_label *lab, const px_tensor *x, int64_t start, int64_t stop) {
    if (x->shape[0] == 0) return PX_OK;
    int64_t per = px_tensor_size(x) / x->shape[0];
    for (int n = 0; n < m->g->n_nodes; n++) {
        const px_node *e = m->g->nodes[n];
        if (!e->op || strcmp(e->op->name, "embedding") != 0) continue;
        const px_node *src = e->inputs[0];
        while (src->op && (src->op->flags & PX_OPF_ALIAS)) src = src->inputs[0];
        if (src != lab->ph) continue;
        int64_t rows = px_node_shape(e->inputs[1]).dim[0];
        for (int64_t i = start * per; i < stop * per; i++) {
            double v = px_tensor_get_flat(x, i);
            if (v >= 0 && v < (double)rows && v == floor(v)) continue;
            char what[96];
            return px_set_error(PX_ERR_ARG,
                                "model '%s': %s: example %lld holds the id %g at position %lld, outside the rows "
                                "[0, %lld) of the embedding table '%s' (ids are whole numbers below input_dim)",
                                m->name, describe(lab, what, sizeof what), (long long)(i / per), v,
                                (long long)(i % per), (long long)rows, px_node_name(e->inputs[1]));
        }
    }
    return PX_OK;
}

/* Checks arrays against the model and makes views of rows [start, stop) (stop < 0: all). */
px_status px_prepare(px_model *m, const px_arrays *a, bool need_y, int64_t start, int64_t stop, px_prepared *p,
                         const char *label) {
    memset(p, 0, sizeof *p);
    if (!a || !a->x || a->n_x != m->n_inputs)
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d input arrays, the model has %d inputs", m->name, label,
                            a ? a->n_x : 0, m->n_inputs);
    if (need_y && (!a->y || a->n_y != m->n_outputs))
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d target arrays, the model has %d outputs", m->name, label,
                            a->y ? a->n_y : 0, m->n_outputs);
    int64_t n = -1;
    for (int i = 0; i < a->n_x + (need_y ? a->n_y : 0); i++) {
        const px_tensor *t = i < a->n_x ? a->x[i] : a->y[i - a->n_x];
        if (!t || t->rank < 1) return px_set_error(PX_ERR_ARG, "model '%s': %s array %d is NULL or a scalar", m->name, label, i);
        if (n >= 0 && t->shape[0] != n)
            return px_set_error(PX_ERR_SHAPE, "model '%s': %s: %s %d has %lld examples but the first input has %lld", m->name,
                                label, i < a->n_x ? "input" : "target", i < a->n_x ? i : i - a->n_x,
                                (long long)t->shape[0], (long long)n);
        n = t->shape[0];
    }
    if (n <= 0) return px_set_error(PX_ERR_ARG, "model '%s': %s is empty", m->name, label);
    if (stop < 0) stop = n;
    p->n = stop - start;
    for (int i = 0; i < a->n_x; i++) {
        array_label lab = {label, "input", i, m->inputs[i]};
        if (check_and_view(m, &lab, a->x[i], m->inputs[i], start, stop, &p->x[i], p) != PX_OK) goto fail;
        p->n_x++;
        if (check_ids(m, &lab, a->x[i], start, stop) != PX_OK) goto fail;
    }
    for (int i = 0; need_y && i < a->n_y; i++) {
        array_label lab = {label, "target", i, m->targets[i]};
        if (check_and_view(m, &lab, a->y[i], m->targets[i], start, stop, &p->y[i], p) != PX_OK) goto fail;
        p->n_y++;
        if (check_labels(m, &lab, p->y[i], start) != PX_OK) goto fail;
    }
    return PX_OK;
fail:;
    px_status st = px_last_status();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    px_prepared_free(p);
    return px_set_error(st, "%s", msg);
}

void px_batches_free(px_batches *b) {
    for (int i = 0; i < b->n; i++) px_tensor_free(b->buf[i]); /* NULL when not gathering */
    if (b->pin) {
        for (int i = 0; i < b->n; i++) px_tensor_free(b->other[i]);
        for (int k = 0; k < 2; k++) b->pin->ops->host_free(b->pin, b->pin_block[k]);
        b->pin = NULL;
    }
    b->n = 0;
}

px_status px_batches_pin(px_batches *b, px_backend *dev) {
    size_t bytes = 0;
    for (int i = 0; i < b->n; i++)
        if (b->buf[i]) bytes += px_align_up((size_t)px_tensor_size(b->buf[i]) * 4);
    void *block[2] = {NULL, NULL};
    px_tensor *sets[2][PX_MAX_INPUTS + PX_MAX_OUTPUTS] = {{NULL}};
    for (int k = 0; k < 2; k++) {
        if (dev->ops->host_alloc(dev, bytes, &block[k]) != PX_OK) goto fail;
        char *at = block[k];
        for (int i = 0; i < b->n; i++) {
            if (!b->buf[i]) continue;
            if (!(sets[k][i] = px_tensor_wrap(b->buf[i]->dtype, px_tensor_shape(b->buf[i]), at))) goto fail;
            at += px_align_up((size_t)px_tensor_size(b->buf[i]) * 4);
        }
    }
    for (int i = 0; i < b->n; i++) {
        px_tensor_free(b->buf[i]);
        b->buf[i] = sets[0][i];
        b->other[i] = sets[1][i];
    }
    b->pin = dev;
    b->pin_block[0] = block[0];
    b->pin_block[1] = block[1];
    return PX_OK;
fail:
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < b->n; i++) px_tensor_free(sets[k][i]);
        if (block[k]) dev->ops->host_free(dev, block[k]);
    }
    return px_last_status();
}

void px_batches_flip(px_batches *b) {
    if (!b->pin) return;
    for (int i = 0; i < b->n; i++) {
        px_tensor *t = b->buf[i];
        b->buf[i] = b->other[i];
        b->other[i] = t;
    }
}

px_status px_batches_init(px_batches *b, px_model *m, const px_prepared *p, int batch_size, bool with_y,
                          bool gather) {
    b->n = 0; /* only the entries in use are set: zeroing all the views cost more than a small predict */
    b->pin = NULL;
    for (int i = 0; i < p->n_x + (with_y ? p->n_y : 0); i++) {
        const px_tensor *src = i < p->n_x ? p->x[i] : p->y[i - p->n_x];
        b->buf[i] = NULL;
        /* evaluate and predict feed the rows in place: no buffer to allocate per call */
        if (gather) {
            px_shape s = px_tensor_shape(src);
            s.dim[0] = batch_size < p->n ? batch_size : p->n;
            if (!(b->buf[i] = px_tensor_new(src->dtype, s))) {
                px_batches_free(b);
                return px_last_status();
            }
        }
        b->n++;
        b->feeds[i].placeholder = i < p->n_x ? m->inputs[i] : m->targets[i - p->n_x];
        b->feeds[i].value = &b->view[i];
    }
    return PX_OK;
}

/* Sets the feeds to rows [start, start + rows): gathered into the buffers through
 * idx (shuffled training), or, without idx (evaluate, predict), the consecutive
 * rows of the contiguous px_prepared arrays fed in place, with no copy. */
void px_batches_fill(px_batches *b, const px_prepared *p, const int64_t *idx, int64_t start, int64_t rows) {
    for (int i = 0; i < b->n; i++) {
        const px_tensor *src = i < p->n_x ? p->x[i] : p->y[i - p->n_x];
        /* the fed view: the buffer's layout when gathering, else the (contiguous) source's */
        b->view[i] = b->buf[i] ? *b->buf[i] : *src;
        b->view[i].storage = NULL;
        b->view[i].shape[0] = rows;
        if (idx) {
            px_gather_rows(src, idx, start, rows, b->buf[i]);
        } else {
            int64_t row = px_tensor_size(src) / (src->shape[0] ? src->shape[0] : 1);
            b->view[i].data = (char *)src->data + (size_t)(start * row) * 4;
        }
    }
}

