/* model.summary() as tf.keras 2 prints it: a table of layers with output shapes
 * and parameter counts (and inbound layers for Functional models), then totals. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model/model_internal.h"

/* "266,610" */
static char *with_commas(int64_t v, char *buf, size_t len) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v), o = 0;
    for (int i = 0; i < n && (size_t)o + 1 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static void rule(FILE *out, char c, int width) {
    for (int i = 0; i < width; i++) fputc(c, out);
    fputc('\n', out);
}

/* "name[node][tensor]" of the layer call that produced node n. */
static const char *producer(const px_model *m, px_node *n, char *buf, size_t len) {
    const px_layer *l;
    int call, tensor;
    if (!px_model_producer(m, n, &l, &call, &tensor)) return "?";
    snprintf(buf, len, "%s[%d][%d]", px_layer_name(l), call, tensor);
    return buf;
}

/* One table row as Keras's print_row writes it: column i ends at pos[i]; a field
 * longer than its column wraps onto further lines, broken after "),", "},",
 * "]," or "'," when one falls in the part that fits, else at the column's edge,
 * so that every column stays aligned however long a layer or class name is. */
static void print_row(FILE *out, const char *const *fields, const int *pos, int n) {
    const char *left[4];
    for (int i = 0; i < n; i++) left[i] = fields[i];
    for (;;) {
        bool any = false;
        for (int i = 0; i < n; i++) any |= *left[i] != '\0';
        if (!any) break;
        char line[512];
        int len = 0;
        for (int col = 0; col < n; col++) {
            int start = col ? pos[col - 1] : 0, last = col == n - 1;
            int space = last ? 0 : 2, cutoff = pos[col] - start - space - (last ? 0 : 1);
            int avail = (int)strlen(left[col]), take = avail < cutoff ? avail : cutoff;
            static const char *const breaks[] = {"),", "},", "],", "',"};
            int best = -1;
            for (int b = 0; b < 4; b++)
                for (int k = 0; k + 2 <= take; k++)
                    if (left[col][k] == breaks[b][0] && left[col][k + 1] == breaks[b][1]) {
                        if (best < 0 || k + 2 < best) best = k + 2;
                        break;
                    }
            if (best >= 0) take = cutoff = best;
            if (col == 0) line[len++] = ' ';
            memcpy(line + len, left[col], (size_t)take);
            len += take;
            for (int k = 0; k < space; k++) line[len++] = ' ';
            left[col] += cutoff < avail ? cutoff : avail;
            while (len < pos[col]) line[len++] = ' ';
        }
        fprintf(out, "%.*s\n", len, line);
    }
}

/* The sublayers a layer tracks (px_layer_track), each on its own row under the
 * layer, indented one step per level: Keras's nested rows (expand_nested). */
static void print_sublayers(FILE *out, const px_layer *l, int depth, const int *pos, int n_cols, int width) {
    for (int i = 0; i < l->n_subs; i++) {
        const px_layer *s = l->subs[i];
        char name[200], shape[96], params[32];
        snprintf(name, sizeof name, "%*s%s (%s)", 2 * depth, "", px_layer_name(s), s->def->class_name);
        px_shape_format(s->output ? px_node_shape(s->output) : PX_SCALAR, shape, sizeof shape);
        with_commas(px_layer_param_count(s), params, sizeof params);
        fprintf(out, "%*s\n", width - 1, "");
        print_row(out, (const char *const[]){name, s->output ? shape : "(unused)", params, ""}, pos, n_cols);
        print_sublayers(out, s, depth + 1, pos, n_cols, width);
    }
}

px_status px_model_summary(const px_model *m, FILE *out) {
    if (!m || !out) return px_set_error(PX_ERR_ARG, "summary: model or stream is NULL");
    if (!m->built) return px_set_error(PX_ERR_STATE, "summary: model '%s' is not built yet (give the first layer an input shape, or fit it)", m->name);
    bool functional = !m->sequential;
    const int pos[4] = {29, 55, 65, 98}, n_cols = functional ? 4 : 3, width = pos[n_cols - 1];
    fprintf(out, "Model: \"%s\"\n", m->name);
    rule(out, '_', width);
    print_row(out, (const char *const[]){"Layer (type)", "Output Shape", "Param #", "Connected to"}, pos, n_cols);
    rule(out, '=', width);
    bool first = true;
    for (int i = 0; i < m->n_layers; i++) {
        const px_layer *l = m->layers[i];
        /* Sequential models do not list their implicit input */
        if (m->sequential && l->kind && strcmp(l->def->class_name, "InputLayer") == 0) continue;
        char name[200], shape[96], params[32], inbound[1024] = "[";
        snprintf(name, sizeof name, "%s (%s)", px_layer_name(l), l->def->class_name);
        px_shape_format(l->output ? px_node_shape(l->output) : PX_SCALAR, shape, sizeof shape);
        with_commas(px_layer_param_count(l), params, sizeof params);
        /* Connected to: the inputs of every call (a shared layer has several), one
         * Python-style list of "<layer>[call][tensor]" strings, which print_row
         * wraps after each "'," as Keras does */
        for (int c = 0, k = 0; functional && c < l->n_calls; c++)
            for (int j = 0; j < l->calls[c].n_in; j++, k++) {
                char ref[320];
                snprintf(inbound + strlen(inbound), sizeof inbound - strlen(inbound), "%s'%s'", k ? ", " : "",
                         producer(m, l->calls[c].in[j], ref, sizeof ref));
            }
        snprintf(inbound + strlen(inbound), sizeof inbound - strlen(inbound), "]");
        if (!first) fprintf(out, "%*s\n", width - 1, "");
        first = false;
        print_row(out, (const char *const[]){name, shape, params, inbound}, pos, n_cols);
        print_sublayers(out, l, 1, pos, n_cols, width);
    }
    rule(out, '=', width);
    int64_t trainable, frozen, total = px_model_param_count(m, &trainable, &frozen);
    char a[32], b[32], c[32];
    fprintf(out, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", with_commas(total, a, sizeof a),
            with_commas(trainable, b, sizeof b), with_commas(frozen, c, sizeof c));
    rule(out, '_', width);
    return PX_OK;
}
