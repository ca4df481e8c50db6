/* What fit and evaluate add up over the batches of an epoch, and the values they log:
 * the loss and the mean metrics as sums weighted by rows (divided by the rows seen),
 * the weighted metrics as sums weighted by the batches' sample weights (divided by
 * the weights seen),
 * the stateful metrics' counts as they are (their def turns them into the value). One
 * vector holds it all, so that replicas sum their shares with one call. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "train/metric_kind.h"

px_status px_metric_sums_init(px_metric_sums *a, const px_model *m) {
    a->n = m->n_stats + 2; /* the statistics, the rows, the sum of the weights */
    a->sums = calloc((size_t)a->n, sizeof *a->sums);
    a->batch = calloc((size_t)a->n, sizeof *a->batch);
    if (!a->sums || !a->batch) {
        px_metric_sums_free(a);
        return px_set_error(PX_ERR_NOMEM, "model '%s': out of memory for the metrics", m->name);
    }
    return PX_OK;
}

void px_metric_sums_free(px_metric_sums *a) {
    free(a->sums);
    free(a->batch);
    a->sums = a->batch = NULL;
    a->n = 0;
}

void px_metric_sums_reset(px_metric_sums *a) { memset(a->sums, 0, (size_t)a->n * sizeof *a->sums); }

static bool is_sums(const px_metric *m) {
    const px_metric_def *d = px_metric_def_of(m->kind);
    return m->kind != PX_METRIC_NONE && d && d->sums;
}

void px_metric_sums_read_weighted(px_metric_sums *a, const px_model *m, const px_session *s, int64_t rows,
                                  double weight_sum) {
    for (int k = 0; k < m->n_fetch; k++) {
        const float *v = px_tensor_f32(px_session_fetch(s, k));
        double *out = a->batch + m->fetch_offset[k];
        bool sums = is_sums(&m->fetch_metric[k]);
        double times = m->fetch_weighted[k] ? weight_sum : (double)rows;
        /* no rows: a replica's stand-in row, which counts for nothing */
        for (int64_t i = 0; i < m->fetch_stats[k]; i++)
            out[i] = rows == 0 ? 0.0 : sums ? (double)v[i] : (double)v[i] * times;
    }
    a->batch[a->n - 2] = (double)rows;
    a->batch[a->n - 1] = rows == 0 ? 0.0 : weight_sum;
}

void px_metric_sums_read(px_metric_sums *a, const px_model *m, const px_session *s, int64_t rows) {
    px_metric_sums_read_weighted(a, m, s, rows, (double)rows);
}

void px_metric_sums_add(px_metric_sums *a) {
    for (int64_t i = 0; i < a->n; i++) a->sums[i] += a->batch[i];
}

void px_metric_sums_logs(const px_metric_sums *a, const px_model *m, px_logs *logs, const char *prefix) {
    double rows = a->sums[a->n - 2], weights = a->sums[a->n - 1];
    for (int k = 0; k < m->n_fetch; k++) {
        const px_metric *mt = &m->fetch_metric[k];
        const px_metric_def *d = mt->kind != PX_METRIC_NONE ? px_metric_def_of(mt->kind) : NULL;
        const double *s = a->sums + m->fetch_offset[k];
        double v;
        if (d && d->sums) {
            v = d->result(mt, s, m->fetch_stats[k]);
        } else {
            double den = m->fetch_weighted[k] ? weights : rows;
            double mean = den > 0 ? s[0] / den : 0.0;
            v = d && d->result ? d->result(mt, &mean, 1) : mean;
        }
        char nm[96];
        snprintf(nm, sizeof nm, "%s%s", prefix, m->fetch_names[k]);
        px_logs_set(logs, nm, v);
    }
}
