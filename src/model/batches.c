/* The data side of fit, evaluate and predict: a source (in-memory arrays are
 * made into one) checked against the model's inputs and targets, then read in
 * batches into the feeds of a session: views in the model's shapes (examples
 * whose feature count matches an input of another shape are reshaped, as a
 * CSV of flattened images feeds a (28, 28) input), sample weights times the
 * class weights, and checks on every batch (non-finite inputs, class labels
 * outside the output's classes, embedding ids outside the table) that name the
 * example. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/clones.h"
#include "graph/node.h"
#include "model/batches.h"

/* ---- checks on whole arrays (before training starts) ---- */

/* Nonzero when some element is NaN or infinite: a branch-free test of the exponent bits
 * that the compiler vectorizes (px_check_finite's early-exit loop does not, and
 * took 15 % of a batch-1000 predict over the test set); px_check_finite, which
 * names the first bad element, runs only when this finds one. Compiled per
 * instruction set: the baseline's 16-byte loads made the check 12 % of a
 * one-thread batch-1000 predict over the test set, the AVX-512 clone's 8 %. */
PX_CLONES
static uint32_t bad_bits(const unsigned char *p, int64_t n) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + (size_t)i * 4, 4);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad;
}

/* Large arrays (a batch of 1,000 images in predict) are scanned on all threads:
 * on one it was ~9 % of a 2-thread batch-1000 predict, next to products that use
 * both. Each thread then holds its rows in its own cache for the product. */
#define FINITE_PAR_MIN (1 << 18)

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

/* A strided view's values copied into a contiguous block the source will own and free. */
static px_status contiguous_copy(const px_tensor *t, px_array *a) {
    px_tensor *c = px_tensor_copy(t);
    void *block = c ? malloc((size_t)px_tensor_size(c) * 4 + 1) : NULL;
    if (block) memcpy(block, c->data, (size_t)px_tensor_size(c) * 4);
    px_tensor_free(c);
    if (!block) return px_set_error(PX_ERR_NOMEM, "out of memory for a copy of a strided array");
    a->data = block;
    a->owned = true;
    return PX_OK;
}

static void free_owned(px_array *a, int n) {
    for (int i = 0; i < n; i++)
        if (a[i].owned) free((void *)a[i].data);
}

px_status px_arrays_source(px_model *m, const px_arrays *a, bool need_y, bool check_x, const float *sample_weight,
                           const char *label, px_source **out) {
    *out = NULL;
    if (!a || !a->x || a->n_x != m->n_inputs)
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d input arrays, the model has %d inputs", m->name, label,
                            a ? a->n_x : 0, m->n_inputs);
    if (need_y && (!a->y || a->n_y != m->n_outputs))
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d target arrays, the model has %d outputs", m->name, label,
                            a->y ? a->n_y : 0, m->n_outputs);
    int n_y = need_y ? a->n_y : 0;
    px_array ax[PX_SOURCE_MAX_ARRAYS] = {{0}}, ay[PX_SOURCE_MAX_ARRAYS] = {{0}};
    int64_t n = -1;
    px_status st = PX_OK;
    for (int i = 0; st == PX_OK && i < a->n_x + n_y; i++) {
        bool is_x = i < a->n_x;
        int k = is_x ? i : i - a->n_x;
        const px_tensor *t = is_x ? a->x[k] : a->y[k];
        if (!t || t->rank < 1) {
            st = px_set_error(PX_ERR_ARG, "model '%s': %s array %d is NULL or a scalar", m->name, label, i);
            break;
        }
        if (n >= 0 && t->shape[0] != n) {
            st = px_set_error(PX_ERR_SHAPE, "model '%s': %s: %s %d has %lld examples but the first input has %lld",
                              m->name, label, is_x ? "input" : "target", k, (long long)t->shape[0], (long long)n);
            break;
        }
        n = t->shape[0];
        px_array *arr = &(is_x ? ax : ay)[k];
        *arr = (px_array){t->dtype == PX_F32 ? PX_ELEM_F32 : PX_ELEM_I32, px_tensor_shape(t), t->data, 0, false};
        /* a strided view (x[:, 2:5]) is copied once, as NumPy's fit would */
        if (!px_tensor_is_contiguous(t) && (st = contiguous_copy(t, arr)) != PX_OK) break;
        if (check_x && is_x && t->dtype == PX_F32 && !all_finite(arr->data, px_tensor_size(t))) {
            char what[160];
            snprintf(what, sizeof what, "%s input %d ('%s')", label, k, px_node_name(m->inputs[k]));
            px_check_finite(t, what);
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", px_last_error());
            st = px_set_error(PX_ERR_NUMERIC, "model '%s': %s", m->name, msg);
        }
    }
    if (st == PX_OK && n <= 0) st = px_set_error(PX_ERR_ARG, "model '%s': %s is empty", m->name, label);
    if (st != PX_OK) { /* the source frees owned copies, also when it fails; until then they are ours */
        free_owned(ax, a->n_x);
        free_owned(ay, n_y);
        return st;
    }
    *out = px_source_arrays(ax, a->n_x, ay, n_y, sample_weight);
    return *out ? PX_OK : px_last_status();
}

/* ---- a source against the model ---- */

/* "(N, 28, 28)" with N the examples when known, else None. */
static char *format_with_batch(px_shape per, int64_t n, char *buf, size_t size) {
    px_shape s = {.rank = per.rank + 1};
    s.dim[0] = n >= 0 ? n : PX_UNKNOWN;
    for (int i = 0; i < per.rank; i++) s.dim[i + 1] = per.dim[i];
    return px_shape_format(s, buf, size);
}

/* Whether examples of shape `got` fit placeholder ph (batch axis first), and
 * the shape to feed them in: the data's own along axes the model leaves None,
 * or the model's when only the counts agree (reshaped, noted for inputs; Keras
 * accepts targets that differ by trailing axes of size 1). */
static px_status fit_shape(px_feeder *f, px_node *ph, bool is_x, int k, px_shape got, px_shape *feed) {
    px_model *m = f->m;
    px_shape want = px_node_shape(ph);
    int64_t per_want = 1, per_got = px_shape_size(got);
    bool want_known = true;
    for (int i = 1; i < want.rank; i++) {
        if (want.dim[i] == PX_UNKNOWN) want_known = false;
        else per_want *= want.dim[i];
    }
    bool same = got.rank + 1 == want.rank;
    for (int i = 1; same && i < want.rank; i++) same = got.dim[i - 1] == want.dim[i] || want.dim[i] == PX_UNKNOWN;
    if (same) {
        *feed = got;
        return PX_OK;
    }
    if (want_known && per_want == per_got) {
        feed->rank = want.rank - 1;
        for (int i = 1; i < want.rank; i++) feed->dim[i - 1] = want.dim[i];
        if (is_x && f->o.note) {
            char a[96], b[96];
            fprintf(f->o.note, "Note: %s input %d ('%s') has examples of shape %s; they are reshaped to the model's %s "
                    "(%lld values each)\n", f->o.label, k, px_node_name(ph), px_shape_format(got, a, sizeof a),
                    px_shape_format(*feed, b, sizeof b), (long long)per_got);
        }
        return PX_OK;
    }
    char sa[96], sb[96];
    return px_set_error(PX_ERR_SHAPE, "model '%s': %s %s %d ('%s') has shape %s, the model expects %s", m->name,
                        f->o.label, is_x ? "input" : "target", k, px_node_name(ph),
                        format_with_batch(got, px_source_size(f->src), sa, sizeof sa),
                        px_shape_format(want, sb, sizeof sb));
}

px_status px_feeder_init(px_feeder *f, px_model *m, px_source *src, const px_feeder_options *o) {
    memset(f, 0, sizeof *f);
    f->m = m;
    f->o = *o;
    f->src = src;
    const px_source_spec *sp = px_source_get_spec(src);
    const char *label = o->label;
    if (sp->n_x != m->n_inputs)
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d input arrays, the model has %d inputs", m->name, label,
                            sp->n_x, m->n_inputs);
    if (o->with_y && sp->n_y != m->n_outputs)
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d target arrays, the model has %d outputs", m->name, label,
                            sp->n_y, m->n_outputs);
    if (o->class_weight && !o->with_y)
        return px_set_error(PX_ERR_ARG, "model '%s': class weights need targets", m->name);
    px_dtype xd[PX_SOURCE_MAX_ARRAYS], yd[PX_SOURCE_MAX_ARRAYS];
    for (int i = 0; i < sp->n_x; i++) {
        if (fit_shape(f, m->inputs[i], true, i, sp->x[i], &f->view[i]) != PX_OK) return px_last_status();
        xd[i] = px_node_dtype(m->inputs[i]);
    }
    for (int i = 0; o->with_y && i < sp->n_y; i++) {
        if (fit_shape(f, m->targets[i], false, i, sp->y[i], &f->yview[i]) != PX_OK) return px_last_status();
        yd[i] = px_node_dtype(m->targets[i]);
    }
    px_reader_config rc = {.batch_size = o->batch_size, .x_dtype = xd, .y_dtype = yd, .with_y = o->with_y,
                           .force_weights = o->with_y, .range = o->range, .lo = o->lo, .hi = o->hi, .rank = o->rank, .ranks = o->ranks,
                           .shuffle = o->shuffle, .rng = o->rng, .in_place = true};
    if (!(f->r = px_reader_new_config(src, &rc))) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(px_last_status(), "model '%s': %s: %s", m->name, label, msg);
    }
    for (int i = 0; i < sp->n_x; i++) f->feeds[f->n_feeds++].placeholder = m->inputs[i];
    for (int i = 0; o->with_y && i < sp->n_y; i++) f->feeds[f->n_feeds++].placeholder = m->targets[i];
    for (int i = 0; o->with_y && i < m->n_outputs; i++) f->feeds[f->n_feeds++].placeholder = m->sample_weights[i];
    for (int i = 0; i < f->n_feeds; i++) f->feeds[i].value = &f->vals[i];
    return PX_OK;
}

px_status px_feeder_start(px_feeder *f, int epoch) { return px_reader_start_epoch(f->r, epoch); }
int64_t px_feeder_steps(const px_feeder *f) { return px_reader_steps(f->r); }
int64_t px_feeder_examples(const px_feeder *f) { return px_reader_examples(f->r); }

void px_feeder_stage_on(px_feeder *f, px_backend *b) {
    for (int i = 0; i < 2; i++)
        if (f->stage[i]) f->stage_b->ops->host_free(f->stage_b, f->stage[i]);
    memset(f->stage, 0, sizeof f->stage);
    memset(f->stage_cap, 0, sizeof f->stage_cap);
    f->stage_b = b && !b->host_memory && b->ops->host_alloc ? b : NULL;
}

/* The batch's feeds copied into the next of the device's two host buffers
 * (every feed is contiguous and of 4-byte elements), each on a 64-byte line. */
static px_status stage_feeds(px_feeder *f) {
    px_backend *b = f->stage_b;
    int k = f->stage_next;
    size_t need = 0;
    for (int v = 0; v < f->n_feeds; v++) need += ((size_t)px_tensor_size(&f->vals[v]) * 4 + 63) & ~(size_t)63;
    if (need > f->stage_cap[k]) {
        if (f->stage[k]) b->ops->host_free(b, f->stage[k]);
        f->stage[k] = NULL;
        f->stage_cap[k] = 0;
        if (b->ops->host_alloc(b, need, &f->stage[k]) != PX_OK) return px_last_status();
        f->stage_cap[k] = need;
    }
    char *p = f->stage[k];
    for (int v = 0; v < f->n_feeds; v++) {
        size_t bytes = (size_t)px_tensor_size(&f->vals[v]) * 4;
        if (bytes) memcpy(p, f->vals[v].data, bytes);
        f->vals[v].data = p;
        p += (bytes + 63) & ~(size_t)63;
    }
    f->stage_next = 1 - k;
    return PX_OK;
}

void px_feeder_free(px_feeder *f) {
    px_feeder_stage_on(f, NULL);
    px_reader_free(f->r);
    free(f->w);
    memset(f, 0, sizeof *f);
}

/* Example `row` of the batch, as its source numbers it. */
static int64_t example_of(const px_batch *b, int64_t row) { return b->index ? b->index[row] : row; }

static px_status check_finite_rows(px_feeder *f, const px_tensor *x, int k) {
    int64_t n = px_tensor_size(x);
    if (x->dtype != PX_F32 || all_finite(x->data, n)) return PX_OK;
    int64_t per = x->shape[0] ? n / x->shape[0] : 1;
    for (int64_t i = 0; i < n; i++) {
        float v = px_tensor_f32(x)[i];
        if (isfinite(v)) continue;
        return px_set_error(PX_ERR_NUMERIC, "model '%s': %s input %d ('%s'): %s at example %lld, position %lld",
                            f->m->name, f->o.label, k, px_node_name(f->m->inputs[k]), isnan(v) ? "NaN" : "infinity",
                            (long long)example_of(f->batch, i / per), (long long)(i % per));
    }
    return PX_OK;
}

/* Int32 targets are the class labels of a sparse loss: each must name one of the
 * output's classes, or the loss silently becomes NaN (Keras refuses them too). */
static px_status check_labels(px_feeder *f, const px_tensor *y, int k) {
    if (y->dtype != PX_I32) return PX_OK;
    px_shape os = px_node_shape(f->m->outputs[k]);
    int64_t classes = os.rank > 0 ? os.dim[os.rank - 1] : 0, n = px_tensor_size(y);
    if (classes <= 0 || n == 0) return PX_OK;
    int64_t per = n / y->shape[0];
    const int32_t *v = px_tensor_i32(y);
    for (int64_t i = 0; i < n; i++)
        if (v[i] < 0 || v[i] >= classes)
            return px_set_error(PX_ERR_ARG, "model '%s': %s target %d: example %lld has the label %d, outside the valid "
                                "range [0, %lld) of output '%s' (%lld classes)", f->m->name, f->o.label, k,
                                (long long)example_of(f->batch, i / per), (int)v[i], (long long)classes,
                                px_node_name(f->m->outputs[k]), (long long)classes);
    return PX_OK;
}

/* The embedding lookups that read input k directly or through reshapes: their
 * ids must be whole numbers naming a row of the table, or the lookup gives a row
 * of NaN (Keras: "indices[i,j] = 12 is not in [0, 10)"). */
static px_status check_ids(px_feeder *f, const px_tensor *x, int k) {
    px_model *m = f->m;
    int64_t n = px_tensor_size(x);
    if (n == 0) return PX_OK;
    int64_t per = n / x->shape[0];
    for (int e = 0; e < m->g->n_nodes; e++) {
        const px_node *emb = m->g->nodes[e];
        if (!emb->op || strcmp(emb->op->name, "embedding") != 0) continue;
        const px_node *src = emb->inputs[0];
        while (src->op && (src->op->flags & PX_OPF_ALIAS)) src = src->inputs[0];
        if (src != m->inputs[k]) continue;
        int64_t rows = px_node_shape(emb->inputs[1]).dim[0];
        for (int64_t i = 0; i < n; i++) {
            double v = px_tensor_get_flat(x, i);
            if (v >= 0 && v < (double)rows && v == floor(v)) continue;
            return px_set_error(PX_ERR_ARG,
                                "model '%s': %s input %d ('%s'): example %lld holds the id %g at position %lld, outside "
                                "the rows [0, %lld) of the embedding table '%s' (ids are whole numbers below input_dim)",
                                m->name, f->o.label, k, px_node_name(m->inputs[k]),
                                (long long)example_of(f->batch, i / per), v, (long long)(i % per), (long long)rows,
                                px_node_name(emb->inputs[1]));
        }
    }
    return PX_OK;
}

/* The class of each example for class_weight: an int label, the largest entry
 * of a one-hot row, or a single probability rounded (binary). */
static int64_t class_of(const px_tensor *y, int64_t row) {
    int64_t per = px_tensor_size(y) / y->shape[0];
    if (y->dtype == PX_I32) return px_tensor_i32(y)[row * per];
    const float *v = px_tensor_f32(y) + row * per;
    if (per == 1) return (int64_t)lrintf(v[0]);
    int64_t best = 0;
    for (int64_t j = 1; j < per; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

/* The batch's weights (ones when the source has none) times the class weights. */
static px_status weights_of(px_feeder *f, const px_batch *b) {
    if (!f->o.class_weight) return PX_OK;
    if (b->rows > f->w_cap) {
        float *w = realloc(f->w, (size_t)b->rows * sizeof *w);
        if (!w) return px_set_error(PX_ERR_NOMEM, "fit: out of memory for weights");
        f->w = w, f->w_cap = b->rows;
    }
    for (int64_t i = 0; i < b->rows; i++) {
        int64_t c = class_of(&b->y[0], i);
        if (c < 0 || c >= f->o.n_class_weight)
            return px_set_error(PX_ERR_ARG, "model '%s': %s: example %lld is of class %lld, which class_weight (%d "
                                "classes) does not give", f->m->name, f->o.label, (long long)example_of(b, i), (long long)c,
                                f->o.n_class_weight);
        f->w[i] = (b->weights ? b->weights[i] : 1.0f) * f->o.class_weight[c];
    }
    return PX_OK;
}

/* A batch's contiguous rows viewed with examples of shape `per` (the same count of values). */
static void fed_as(px_tensor *t, const px_tensor *rows, px_shape per) {
    *t = *rows;
    t->rank = per.rank + 1;
    int64_t stride = 1;
    for (int a = per.rank; a >= 1; a--) t->shape[a] = per.dim[a - 1], t->strides[a] = stride, stride *= t->shape[a];
    t->strides[0] = stride;
}

px_status px_feeder_next(px_feeder *f, bool *got) {
    *got = false;
    const px_batch *b;
    px_status st = px_reader_next(f->r, &b);
    if (st != PX_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(st, "model '%s': %s: %s", f->m->name, f->o.label, msg);
    }
    if (!b) return PX_OK;
    f->batch = b;
    f->rows = b->rows;
    f->global = px_reader_global_rows(f->r);
    f->share = px_reader_share_rows(f->r);
    int v = 0;
    for (int i = 0; i < b->n_x; i++, v++) {
        px_tensor *t = &f->vals[v];
        fed_as(t, &b->x[i], f->view[i]);
        if (!f->o.inputs_checked && (st = check_finite_rows(f, t, i)) != PX_OK) return st;
        if ((st = check_ids(f, t, i)) != PX_OK) return st;
    }
    for (int i = 0; i < b->n_y; i++, v++) {
        fed_as(&f->vals[v], &b->y[i], f->yview[i]);
        if ((st = check_labels(f, &b->y[i], i)) != PX_OK) return st;
    }
    if (f->o.with_y) {
        if ((st = weights_of(f, b)) != PX_OK) return st;
        const float *w = f->o.class_weight ? f->w : b->weights;
        f->weight_sum = 0;
        for (int64_t i = 0; i < f->share; i++) f->weight_sum += w[i];
        for (int i = 0; i < f->m->n_outputs; i++, v++)
            f->vals[v] = (px_tensor){.dtype = PX_F32, .rank = 1, .shape = {b->rows}, .strides = {1}, .data = (void *)w};
    }
    if (f->stage_b && (st = stage_feeds(f)) != PX_OK) return st;
    *got = true;
    return PX_OK;
}
