/* Learning curves without TensorBoard: the History of a fit drawn as an SVG picture,
 * one panel per metric with its training and validation curves per epoch (the picture
 * the course draws from `history`). Hand-written SVG: plain XML, no library. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "plexus/model.h"

enum { PANEL_W = 420, PANEL_H = 300, LEFT = 60, RIGHT = 20, TOP = 40, BOTTOM = 50 };

/* Keys drawn as panels: every key but the learning rate, val_ keys beside their
 * training key (a val_ key without one gets its own panel). */
static bool is_panel_key(const px_history *h, const char *k) {
    if (!strcmp(k, "lr") || !strcmp(k, "learning_rate")) return false;
    if (strncmp(k, "val_", 4) != 0) return true;
    return px_history_get(h, k + 4, NULL) == NULL;
}

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static void polyline(FILE *f, const char *key, const char *kind, const double *v, int n, double x0, double y0,
                     double lo, double hi, const char *style) {
    fprintf(f, "  <polyline class=\"%s\" data-key=\"", kind);
    xml_text(f, key);
    fprintf(f, "\" fill=\"none\" %s points=\"", style);
    bool first = true;
    for (int e = 0; e < n; e++) {
        if (!isfinite(v[e])) continue; /* a NaN epoch is a gap, not a point at 0 */
        double fx = n > 1 ? (double)e / (n - 1) : 0.5;
        double fy = hi > lo ? (v[e] - lo) / (hi - lo) : 0.5;
        fprintf(f, "%s%.2f,%.2f", first ? "" : " ", x0 + LEFT + fx * (PANEL_W - LEFT - RIGHT),
                y0 + TOP + (1 - fy) * (PANEL_H - TOP - BOTTOM));
        first = false;
    }
    fputs("\"/>\n", f);
}

static void panel(FILE *f, const px_history *h, const char *key, int index) {
    int n = px_history_epochs(h);
    const double *tr = strncmp(key, "val_", 4) ? px_history_get(h, key, NULL) : NULL;
    char vkey[80];
    snprintf(vkey, sizeof vkey, "%s%s", strncmp(key, "val_", 4) ? "val_" : "", key);
    const double *va = px_history_get(h, vkey, NULL);
    double lo = INFINITY, hi = -INFINITY;
    for (int e = 0; e < n; e++) {
        if (tr && isfinite(tr[e])) lo = fmin(lo, tr[e]), hi = fmax(hi, tr[e]);
        if (va && isfinite(va[e])) lo = fmin(lo, va[e]), hi = fmax(hi, va[e]);
    }
    if (!(lo <= hi)) lo = 0, hi = 1;
    double x0 = index * PANEL_W, y0 = 0, pw = PANEL_W - LEFT - RIGHT, ph = PANEL_H - TOP - BOTTOM;
    const char *title = strncmp(key, "val_", 4) ? key : key + 4;
    fprintf(f, " <g class=\"panel\">\n  <text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">",
            x0 + LEFT + pw / 2);
    xml_text(f, title);
    fputs("</text>\n", f);
    fprintf(f, "  <rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n",
            x0 + LEFT, y0 + TOP, pw, ph);
    /* y range and epoch range labels */
    fprintf(f, "  <text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" font-size=\"11\">%.4g</text>\n", x0 + LEFT - 4,
            y0 + TOP + 4, hi);
    fprintf(f, "  <text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" font-size=\"11\">%.4g</text>\n", x0 + LEFT - 4,
            y0 + TOP + ph, lo);
    fprintf(f, "  <text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">1</text>\n", x0 + LEFT, y0 + TOP + ph + 16);
    fprintf(f, "  <text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" font-size=\"11\">%d</text>\n", x0 + LEFT + pw,
            y0 + TOP + ph + 16, n);
    fprintf(f, "  <text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n",
            x0 + LEFT + pw / 2, y0 + TOP + ph + 34);
    if (tr) polyline(f, key, "train", tr, n, x0, y0, lo, hi, "stroke=\"#1f77b4\" stroke-width=\"2\"");
    if (va) polyline(f, vkey, "validation", va, n, x0, y0, lo, hi, "stroke=\"#ff7f0e\" stroke-width=\"2\"");
    /* legend */
    double ly = y0 + PANEL_H - 6;
    if (tr)
        fprintf(f, "  <text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#1f77b4\">training</text>\n", x0 + LEFT,
                ly);
    if (va)
        fprintf(f, "  <text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#ff7f0e\">validation</text>\n",
                x0 + LEFT + 80, ly);
    fputs(" </g>\n", f);
}

px_status px_history_plot_svg(const px_history *h, const char *path) {
    if (!h || !path || !*path) return px_set_error(PX_ERR_ARG, "px_history_plot_svg: history or path is NULL/empty");
    int panels = 0;
    for (int i = 0; i < px_history_key_count(h); i++) panels += is_panel_key(h, px_history_key(h, i));
    if (px_history_epochs(h) < 1 || panels == 0)
        return px_set_error(PX_ERR_ARG, "px_history_plot_svg: the history holds no epoch to draw ('%s')", path);
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    if (!f) return px_set_error(PX_ERR_NOMEM, "px_history_plot_svg: out of memory");
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\">\n <rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            panels * PANEL_W, PANEL_H, panels * PANEL_W, PANEL_H);
    int index = 0;
    for (int i = 0; i < px_history_key_count(h); i++)
        if (is_panel_key(h, px_history_key(h, i))) panel(f, h, px_history_key(h, i), index++);
    fputs("</svg>\n", f);
    if (fclose(f) != 0) {
        free(svg);
        return px_set_error(PX_ERR_NOMEM, "px_history_plot_svg: out of memory");
    }
    px_status st = px_atomic_write_file(path, "plot", svg, len);
    free(svg);
    return st;
}
