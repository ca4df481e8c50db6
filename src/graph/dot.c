/* Graphviz export: px_graph_write_dot draws a graph (or the part some outputs
 * need) with one styled box per node and an edge from each input to its consumer. */
#include <stdlib.h>

#include "graph/node.h"

/* Writes s as the inside of a DOT string: quotes and backslashes escaped, and
 * newlines turned into DOT's line breaks so user names cannot break the file. */
static void write_escaped(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out), fputc(*s, out);
        else if (*s == '\n') fputs("\\n", out);
        else fputc(*s, out);
    }
}

/* Leaves are told apart by colour and outline, so inputs, parameters and fixed
 * data stand out among the ops. */
static const char *node_style(const px_node *n) {
    switch (n->kind) {
    case PX_NODE_PLACEHOLDER: return "shape=invhouse, style=filled, fillcolor=\"#cfe2ff\"";
    case PX_NODE_VARIABLE: return "shape=box, style=\"filled,bold\", fillcolor=\"#ffe8a3\"";
    case PX_NODE_CONSTANT: return "shape=box, style=\"filled,dashed\", fillcolor=\"#e9ecef\"";
    case PX_NODE_OP: break;
    }
    return "shape=box, style=\"rounded\"";
}

px_status px_graph_write_dot(const px_graph *g, px_node *const *outputs, int n_outputs, FILE *out) {
    if (!g || !out) return px_set_error(PX_ERR_ARG, "write_dot: graph or file is NULL");
    if (n_outputs < 0 || (n_outputs > 0 && !outputs))
        return px_set_error(PX_ERR_ARG, "write_dot: outputs is NULL but n_outputs is %d", n_outputs);
    for (int i = 0; i < n_outputs; i++)
        if (!outputs[i] || outputs[i]->graph != g)
            return px_set_error(PX_ERR_ARG, "write_dot: output %d is %s", i,
                                outputs[i] ? "from another graph" : "NULL (did building it fail?)");
    bool *shown = calloc((size_t)g->n_nodes + 1, 1);
    if (!shown) return px_set_error(PX_ERR_NOMEM, "write_dot: out of memory");
    /* creation order is topological, so one backward sweep marks all ancestors */
    for (int i = 0; i < g->n_nodes; i++) shown[i] = n_outputs == 0;
    for (int i = 0; i < n_outputs; i++) shown[outputs[i]->index] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (shown[i])
            for (int k = 0; k < g->nodes[i]->n_inputs; k++) shown[g->nodes[i]->inputs[k]->index] = true;

    fputs("digraph plexus {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n", out);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!shown[i]) continue;
        const px_node *n = g->nodes[i];
        char sb[96];
        fprintf(out, "  n%d [label=\"", i);
        if (n->name && n->name[0]) {
            write_escaped(out, n->name);
            fputs("\\n", out);
        }
        fprintf(out, "%s\\n%s%s\", %s];\n", px_node_op_name(n), px_shape_format(n->shape, sb, sizeof sb),
                n->dtype == PX_I32 ? " int32" : "", node_style(n));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!shown[i]) continue;
        for (int k = 0; k < g->nodes[i]->n_inputs; k++) fprintf(out, "  n%d -> n%d;\n", g->nodes[i]->inputs[k]->index, i);
    }
    fputs("}\n", out);
    free(shown);
    if (ferror(out)) return px_set_error(PX_ERR_IO, "write_dot: writing the DOT text failed");
    return PX_OK;
}
