/* The progress display of fit and evaluate as a callback, in the format of
 * tf.keras 2 (Progbar, width 30): a bar redrawn in place (verbose 1) or one line
 * per epoch (verbose 2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/model_internal.h"

typedef struct progbar {
    px_callback cb;
    px_verbosity verbose;
    FILE *out;
    int target;          /* steps (0: not known, a stream's first epoch) */
    int seen;            /* steps drawn so far */
    double start, last_draw;
    int prev_width;
    bool epoch_header;
} progbar;

/* " - name: value" as Keras formats it */
static int append_values(char *buf, size_t len, const px_logs *logs) {
    int used = 0;
    for (int i = 0; i < logs->n && (size_t)used < len; i++) {
        double v = logs->values[i];
        if (isnan(v)) { /* Python prints nan whatever its sign bit; C would print -nan */
            used += snprintf(buf + used, len - (size_t)used, " - %s: nan", logs->names[i]);
            continue;
        }
        const char *fmt = (fabs(v) > 1e-3 || v == 0 || !isfinite(v)) ? " - %s: %.4f" : " - %s: %.4e";
        used += snprintf(buf + used, len - (size_t)used, fmt, logs->names[i], v);
    }
    return used;
}

static void format_time_per_step(char *buf, size_t len, double per_step) {
    if (per_step >= 1) snprintf(buf, len, "%.0fs/step", per_step);
    else if (per_step >= 1e-3) snprintf(buf, len, "%.0fms/step", per_step * 1e3);
    else snprintf(buf, len, "%.0fus/step", per_step * 1e6);
}

/* Keras redraws the bar in place: a carriage return, the line, spaces over
 * what is left of the previous one; a newline after the last. */
static void redraw(progbar *p, const char *line, int used, bool final) {
    fputc('\r', p->out);
    fputs(line, p->out);
    for (int i = used; i < p->prev_width; i++) fputc(' ', p->out);
    p->prev_width = used;
    if (final) fputc('\n', p->out);
    fflush(p->out);
}

static void draw(progbar *p, int current, const px_logs *logs, bool final) {
    char line[2048];
    int used = 0;
    double t = px_clock_seconds(), elapsed = t - p->start;
    int digits = snprintf(NULL, 0, "%d", p->target);
    if (p->verbose == PX_VERBOSE_EPOCH) {
        if (!final) return;
        int target = p->target ? p->target : current;
        used += snprintf(line + used, sizeof line - (size_t)used, "%*d/%d - %.0fs", digits, current, target, elapsed);
        used += append_values(line + used, sizeof line - (size_t)used, logs);
        char tps[32];
        format_time_per_step(tps, sizeof tps, current ? elapsed / current : 0);
        snprintf(line + used, sizeof line - (size_t)used, " - %.0fs/epoch - %s", elapsed, tps);
        fprintf(p->out, "%s\n", line);
        fflush(p->out);
        return;
    }
    if (!final && t - p->last_draw < 0.05) return;
    p->last_draw = t;
    if (p->target == 0) {
        /* Keras's bar when the length is not known: "12/Unknown - 3s 9ms/step ..." */
        char tps[32];
        format_time_per_step(tps, sizeof tps, current ? elapsed / current : 0);
        used += snprintf(line + used, sizeof line - (size_t)used, "%7d/Unknown - %.0fs %s", current, elapsed, tps);
        used += append_values(line + used, sizeof line - (size_t)used, logs);
        redraw(p, line, used, final);
        return;
    }
    int width = 30, filled = p->target ? (int)(width * (double)current / p->target) : width;
    used += snprintf(line + used, sizeof line - (size_t)used, "%*d/%d [", digits, current, p->target);
    for (int i = 0; i < width; i++) {
        char c = '.';
        if (i < filled - 1 || (i == filled - 1 && current >= p->target)) c = '=';
        else if (i == filled - 1) c = '>';
        line[used++] = c;
    }
    line[used++] = ']';
    line[used] = '\0';
    if (final) {
        char tps[32];
        format_time_per_step(tps, sizeof tps, current ? elapsed / current : 0);
        used += snprintf(line + used, sizeof line - (size_t)used, " - %.0fs %s", elapsed, tps);
    } else {
        double eta = current ? elapsed / current * (p->target - current) : 0;
        if (eta < 60) used += snprintf(line + used, sizeof line - (size_t)used, " - ETA: %.0fs", eta);
        else if (eta < 3600)
            used += snprintf(line + used, sizeof line - (size_t)used, " - ETA: %d:%02d", (int)eta / 60, (int)eta % 60);
        else
            used += snprintf(line + used, sizeof line - (size_t)used, " - ETA: %d:%02d:%02d", (int)eta / 3600,
                             ((int)eta % 3600) / 60, (int)eta % 60);
    }
    used += append_values(line + used, sizeof line - (size_t)used, logs);
    redraw(p, line, used, final);
}

static px_status pb_epoch_begin(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)logs;
    progbar *p = cb->state;
    p->target = px_model_fit_steps(m);
    p->seen = 0;
    p->start = px_clock_seconds();
    p->last_draw = 0;
    p->prev_width = 0;
    if (p->epoch_header && px_model_fit_epochs(m) > 1) fprintf(p->out, "Epoch %d/%d\n", epoch + 1, px_model_fit_epochs(m));
    return PX_OK;
}

static px_status pb_batch_end(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)m;
    progbar *p = cb->state;
    p->seen = batch + 1;
    if (p->target == 0 || batch + 1 < p->target) draw(p, batch + 1, logs, false);
    return PX_OK;
}

static px_status pb_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)epoch;
    progbar *p = cb->state;
    draw(p, p->target ? p->target : p->seen, logs, true);
    return PX_OK;
}

static void pb_destroy(px_callback *cb) { free(cb->state); }

px_callback *px_progbar_logger(px_verbosity verbose, FILE *out) {
    progbar *p = calloc(1, sizeof *p);
    if (!p) {
        px_set_error(PX_ERR_NOMEM, "progress bar: out of memory");
        return NULL;
    }
    p->verbose = verbose == PX_VERBOSE_AUTO ? PX_VERBOSE_BAR : verbose;
    p->out = out ? out : stdout;
    p->epoch_header = true;
    p->cb = (px_callback){.name = "ProgbarLogger", .chief_only = true, .state = p, .on_epoch_begin = pb_epoch_begin,
                          .on_batch_end = pb_batch_end, .on_epoch_end = pb_epoch_end, .destroy = pb_destroy};
    return &p->cb;
}
