/* model.summary() as tf.keras 2 prints it: a table of layers with output shapes
 * and parameter counts (and inbound layers for Functional models), then totals. */
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

px_status px_model_summary(const px_model *m, FILE *out) {
    if (!m || !out) return px_set_error(PX_ERR_ARG, "summary: model or stream is NULL");
    if (!m->built) return px_set_error(PX_ERR_STATE, "summary: model '%s' is not built yet (give the first layer an input shape, or fit it)", m->name);
    bool functional = !m->sequential;
    int cols[4] = {29, 26, 10, 0}, width = functional ? 98 : 65;
    if (functional) cols[3] = 33;
    fprintf(out, "Model: \"%s\"\n", m->name);
    rule(out, '_', width);
    fprintf(out, " %-*s%-*s%-*s%s\n", cols[0] - 1, "Layer (type)", cols[1], "Output Shape", cols[2], "Param #",
            functional ? "Connected to" : "");
    rule(out, '=', width);
    for (int i = 0; i < m->n_layers; i++) {
        const px_layer *l = m->layers[i];
        /* Sequential models do not list their implicit input */
        if (m->sequential && l->kind && strcmp(l->def->class_name, "InputLayer") == 0) continue;
        char name[160], shape[96], params[32];
        snprintf(name, sizeof name, "%s (%s)", px_layer_name(l), l->def->class_name);
        px_shape_format(l->output ? px_node_shape(l->output) : PX_SCALAR, shape, sizeof shape);
        with_commas(px_layer_param_count(l), params, sizeof params);
        if (i > 0) fprintf(out, "%*s\n", width - 1, "");
        fprintf(out, " %-*s%-*s%-*s", cols[0] - 1, name, cols[1], shape, cols[2], params);
        if (functional) {
            /* the inputs of every call (a shared layer has several), one Python-style
             * list wrapped after each "'," as Keras wraps it */
            int total = 0, k = 0;
            for (int c = 0; c < l->n_calls; c++) total += l->calls[c].n_in;
            for (int c = 0; c < l->n_calls; c++)
                for (int j = 0; j < l->calls[c].n_in; j++, k++) {
                    if (k > 0) fprintf(out, "\n %*s ", cols[0] + cols[1] + cols[2] - 1, "");
                    char ref[320];
                    fprintf(out, "%s'%s'%s", k == 0 ? "[" : "", producer(m, l->calls[c].in[j], ref, sizeof ref),
                            k == total - 1 ? "]" : ",");
                }
            if (total == 0) fprintf(out, "[]");
        }
        fputc('\n', out);
    }
    rule(out, '=', width);
    int64_t trainable, frozen, total = px_model_param_count(m, &trainable, &frozen);
    char a[32], b[32], c[32];
    fprintf(out, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", with_commas(total, a, sizeof a),
            with_commas(trainable, b, sizeof b), with_commas(frozen, c, sizeof c));
    rule(out, '_', width);
    return PX_OK;
}
