/* Image summaries for the TensorBoard callback: the first Conv2D layer's filters and
 * sample inputs, as 8-bit images scaled from the float values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/tensorboard_internal.h"
#include "plexus/nn.h"

/* Maps [lo, hi] to [0, 255] (a constant maps to 128: nothing to see, but not black). */
static uint8_t to_byte(float v, float lo, float hi) {
    if (!(hi > lo) || !isfinite(v)) return 128;
    float t = (v - lo) / (hi - lo) * 255.f + 0.5f;
    return (uint8_t)(t < 0 ? 0 : t > 255 ? 255 : t);
}

static void finite_range(const float *v, int64_t n, float *lo, float *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (v[i] < *lo) *lo = v[i];
            if (v[i] > *hi) *hi = v[i];
        }
}

px_status px_tb_write_filter_images(px_tb_writer *w, const px_model *m, int64_t step) {
    px_layer *conv = NULL;
    for (int i = 0; !conv && i < px_model_layer_count(m); i++)
        if (!strcmp(px_layer_class(px_model_layer(m, i)), "Conv2D")) conv = px_model_layer(m, i);
    if (!conv || px_layer_weight_count(conv) < 1) return PX_OK;
    px_tensor **ws = NULL;
    int nw = 0;
    px_status st = px_layer_get_weights(conv, &ws, &nw); /* copies, wherever the weights live */
    if (st != PX_OK) return st;
    const px_tensor *k = ws[0];
    px_shape s = px_tensor_shape(k);
    if (s.rank != 4) goto done;
    int kh = (int)s.dim[0], kw = (int)s.dim[1], in = (int)s.dim[2], f = (int)s.dim[3];
    int c = in == 3 ? 3 : 1, count = f < 64 ? f : 64;
    const float *kv = px_tensor_f32(k);
    float lo, hi;
    finite_range(kv, px_tensor_size(k), &lo, &hi);
    uint8_t *pix = malloc((size_t)count * kh * kw * c);
    if (!pix) {
        st = px_set_error(PX_ERR_NOMEM, "TensorBoard: out of memory for filter images");
        goto done;
    }
    for (int fi = 0; fi < count; fi++)
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                for (int ch = 0; ch < c; ch++)
                    pix[(((size_t)fi * kh + y) * kw + x) * c + ch] =
                        to_byte(kv[(((size_t)y * kw + x) * in + ch) * f + fi], lo, hi);
    char tag[256];
    snprintf(tag, sizeof tag, "%s/%s/image", px_layer_name(conv), px_layer_weight_name(conv, 0));
    st = px_tb_images(w, tag, step, pix, count, kh, kw, c);
    free(pix);
done:
    for (int i = 0; i < nw; i++) px_tensor_free(ws[i]);
    free(ws);
    return st;
}

px_status px_tb_write_sample_images(px_tb_writer *w, const px_tensor *samples, int64_t step) {
    px_shape s = px_tensor_shape(samples);
    if (samples->dtype != PX_F32 || s.rank != 4 || (s.dim[3] != 1 && s.dim[3] != 3 && s.dim[3] != 4) || s.dim[0] < 1)
        return px_set_error(PX_ERR_ARG,
                            "TensorBoard: image_samples must be float32 (n, height, width, channels) with 1, 3 or 4 channels");
    int count = s.dim[0] < 16 ? (int)s.dim[0] : 16, h = (int)s.dim[1], wd = (int)s.dim[2], c = (int)s.dim[3];
    int64_t n = (int64_t)count * h * wd * c;
    if (n <= 0) return px_set_error(PX_ERR_ARG, "TensorBoard: image_samples has an empty image size");
    const float *v = px_tensor_f32(samples);
    float lo, hi;
    finite_range(v, n, &lo, &hi);
    if (lo >= 0 && hi <= 1) lo = 0, hi = 1; /* already an image in [0, 1]: keep its brightness */
    uint8_t *pix = malloc((size_t)n);
    if (!pix) return px_set_error(PX_ERR_NOMEM, "TensorBoard: out of memory for sample images");
    for (int64_t i = 0; i < n; i++) pix[i] = to_byte(v[i], lo, hi);
    px_status st = px_tb_images(w, "input_samples", step, pix, count, h, wd, c);
    free(pix);
    return st;
}
