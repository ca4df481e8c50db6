/* The Embedding layer: a trainable (input_dim, output_dim) table looked up by
 * integer indices. */
#include <stdint.h>
#include <stdlib.h>

#include "graph/node.h"
#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct emb_state {
    int input_dim, output_dim;
    px_embedding_options o;
} emb_state;

static px_status emb_build(px_layer *l, const px_shape *in, int n) {
    (void)in;
    emb_state *s = l->state;
    if (n != 1) return px_set_error(PX_ERR_ARG, "layer '%s' (Embedding): takes one input, got %d", px_layer_name(l), n);
    px_initializer init = s->o.embeddings_initializer;
    if (init.kind == PX_INIT_DEFAULT) init.kind = PX_INIT_RANDOM_UNIFORM; /* (-0.05, 0.05) */
    if (!px_layer_add_weight(l, "embeddings", PX_SHAPE(s->input_dim, s->output_dim), init, s->o.embeddings_regularizer,
                             true))
        return px_last_status();
    return PX_OK;
}

static px_node *emb_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    px_node *y = px_embedding_lookup(in[0], l->weights[0]);
    /* mask_zero: id 0 is padding; Keras's mask is ids != 0 (sign(|id|) is 0 or 1
     * and carries no gradient) */
    if (y && ((emb_state *)l->state)->o.mask_zero && !(y->mask = px_sign(px_abs(in[0])))) return NULL;
    return y;
}

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

/* Keras 2's Embedding keys, in its order; input_length is the declared input
 * shape when that is one known length (as Keras 2 derives one from the other). */
static px_status emb_write_config(const px_layer *l, px_json *c) {
    const emb_state *s = l->state;
    px_status st = px_lc_set_int(c, "input_dim", s->input_dim);
    if (!st) st = px_lc_set_int(c, "output_dim", s->output_dim);
    if (!st) st = px_lc_set_initializer(c, "embeddings_initializer", s->o.embeddings_initializer, PX_INIT_RANDOM_UNIFORM);
    if (!st) st = px_lc_set_regularizer(c, "embeddings_regularizer", s->o.embeddings_regularizer);
    if (!st) st = px_lc_set_null(c, "activity_regularizer");
    if (!st) st = px_lc_set_null(c, "embeddings_constraint");
    if (!st) st = px_lc_set_bool(c, "mask_zero", s->o.mask_zero);
    if (!st) {
        if (l->has_input_shape && l->input_shape.rank == 1 && l->input_shape.dim[0] > 0)
            st = px_lc_set_int(c, "input_length", l->input_shape.dim[0]);
        else
            st = px_lc_set_null(c, "input_length");
    }
    return st;
}

static px_layer *emb_from_config(const px_json *c) {
    int64_t in_dim = 0, out_dim = 0;
    bool mask_zero = false, sparse = false;
    px_embedding_options o = {0};
    if (px_lc_get_int(c, "input_dim", true, &in_dim) || px_lc_get_int(c, "output_dim", true, &out_dim) ||
        px_lc_get_initializer(c, "embeddings_initializer", &o.embeddings_initializer) ||
        px_lc_get_regularizer(c, "embeddings_regularizer", &o.embeddings_regularizer) ||
        px_lc_expect_null(c, "activity_regularizer") || px_lc_expect_null(c, "embeddings_constraint") ||
        px_lc_get_bool(c, "mask_zero", false, &mask_zero) || px_lc_get_bool(c, "sparse", false, &sparse) ||
        px_lc_expect_null(c, "lora_rank"))
        return NULL;
    if (sparse) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Embedding): config key 'sparse' is true, which Plexus does not support",
                     px_lc_name(c));
        return NULL;
    }
    o.mask_zero = mask_zero;
    if (in_dim <= 0 || in_dim > INT32_MAX || out_dim <= 0 || out_dim > INT32_MAX) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config keys 'input_dim' %lld and 'output_dim' %lld must be positive",
                     px_lc_name(c), (long long)in_dim, (long long)out_dim);
        return NULL;
    }
    /* K2's input_length (an int or a list, null: any) stands for the input shape
     * when no batch_input_shape is given; the model-config code applies that one */
    const px_json *len = px_json_get(c, "input_length");
    if (px_json_is_integer(len) && px_json_int(len) > 0) o.input_shape = PX_SHAPE(px_json_int(len));
    else if (px_json_is_array(len) && px_lc_get_shape(c, "input_length", false, false, &o.input_shape)) return NULL;
    else if (len && !px_json_is_null(len) && !px_json_is_array(len)) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'input_length' should be null, a positive integer or a list",
                     px_lc_name(c));
        return NULL;
    }
    return px_embedding_ex((int)in_dim, (int)out_dim, &o);
}

extern const px_layer_kind px_embedding_kind;
const px_layer_kind px_embedding_kind = {
    .def = {.class_name = "Embedding", .build = emb_build, .call = emb_call},
    .base_name = "embedding",
    .state_size = sizeof(emb_state),
    .write_config = emb_write_config,
    .from_config = emb_from_config,
    .mask_mode = PX_MASK_OWN,
};

px_layer *px_embedding_ex(int input_dim, int output_dim, const px_embedding_options *opts) {
    if (input_dim <= 0 || output_dim <= 0) {
        px_set_error(PX_ERR_ARG, "Embedding: input_dim and output_dim must be positive, got %d and %d", input_dim,
                     output_dim);
        return NULL;
    }
    emb_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "Embedding: out of memory");
        return NULL;
    }
    s->input_dim = input_dim;
    s->output_dim = output_dim;
    if (opts) s->o = *opts;
    s->o.name = NULL;
    px_layer *l = px_layer_new_kind(&px_embedding_kind, s, opts ? opts->name : NULL);
    if (l && opts && opts->input_shape.rank > 0) {
        l->input_shape = opts->input_shape;
        l->has_input_shape = true;
    }
    return l;
}

px_layer *px_embedding(int input_dim, int output_dim) { return px_embedding_ex(input_dim, output_dim, NULL); }

