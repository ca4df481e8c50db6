/* The embedding projector's files for the TensorBoard callback: each Embedding layer's
 * matrix as a TSV tensor file and a projector_config.pbtxt naming them by tensor_path,
 * which TensorBoard's projector loads without a TensorFlow checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/tensorboard_internal.h"
#include "core/atomic_file.h"
#include "plexus/nn.h"

/* A protobuf text-format string literal: quotes, backslashes and control bytes escaped. */
static void put_quoted(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\%03o", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static px_status write_tsv(const char *path, const px_tensor *t) {
    px_atomic_file *af = NULL;
    px_status st = px_atomic_begin(path, "TensorBoard", &af);
    if (st != PX_OK) return st;
    FILE *f = px_atomic_stream(af);
    if (!f) {
        px_atomic_abort(af);
        return px_last_status();
    }
    px_shape s = px_tensor_shape(t);
    const float *v = px_tensor_f32(t);
    for (int64_t r = 0; r < s.dim[0]; r++)
        for (int64_t c = 0; c < s.dim[1]; c++)
            fprintf(f, "%.9g%c", v[r * s.dim[1] + c], c + 1 < s.dim[1] ? '\t' : '\n');
    return px_atomic_commit(af);
}

px_status px_tb_write_projector(const char *log_dir, const px_model *m, const char *metadata) {
    char *cfg = NULL;
    size_t cfg_len = 0;
    FILE *cf = open_memstream(&cfg, &cfg_len);
    if (!cf) return px_set_error(PX_ERR_NOMEM, "TensorBoard: out of memory for projector_config.pbtxt");
    px_status st = PX_OK;
    int found = 0;
    for (int i = 0; st == PX_OK && i < px_model_layer_count(m); i++) {
        px_layer *l = px_model_layer(m, i);
        if (strcmp(px_layer_class(l), "Embedding") != 0) continue;
        px_tensor **ws = NULL;
        int nw = 0;
        if ((st = px_layer_get_weights(l, &ws, &nw)) != PX_OK) break;
        px_shape s = nw > 0 ? px_tensor_shape(ws[0]) : (px_shape){0};
        if (s.rank == 2) {
            char file[300], path[4200];
            snprintf(file, sizeof file, "%s.embeddings.tsv", px_layer_name(l));
            snprintf(path, sizeof path, "%s/%s", log_dir, file);
            st = write_tsv(path, ws[0]);
            char tensor_name[300];
            snprintf(tensor_name, sizeof tensor_name, "%s/%s", px_layer_name(l), px_layer_weight_name(l, 0));
            fputs("embeddings {\n  tensor_name: ", cf);
            put_quoted(cf, tensor_name);
            if (metadata) {
                fputs("\n  metadata_path: ", cf);
                put_quoted(cf, metadata);
            }
            fprintf(cf, "\n  tensor_shape: %lld\n  tensor_shape: %lld\n  tensor_path: ", (long long)s.dim[0],
                    (long long)s.dim[1]);
            put_quoted(cf, file);
            fputs("\n}\n", cf);
            found++;
        }
        for (int j = 0; j < nw; j++) px_tensor_free(ws[j]);
        free(ws);
    }
    if (fclose(cf) != 0 && st == PX_OK) st = px_set_error(PX_ERR_NOMEM, "TensorBoard: out of memory");
    if (st == PX_OK && found) {
        size_t n = strlen(log_dir) + sizeof "/projector_config.pbtxt";
        char *path = malloc(n);
        if (!path) st = px_set_error(PX_ERR_NOMEM, "TensorBoard: out of memory");
        else {
            snprintf(path, n, "%s/projector_config.pbtxt", log_dir);
            st = px_atomic_write_file(path, "TensorBoard", cfg, cfg_len);
            free(path);
        }
    }
    free(cfg);
    return st;
}
