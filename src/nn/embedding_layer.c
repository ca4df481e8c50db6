/* The Embedding layer: a trainable (input_dim, output_dim) table looked up by
 * integer indices. */
#include <stdlib.h>

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
    return px_embedding_lookup(in[0], l->weights[0]);
}

extern const px_layer_kind px_embedding_kind;
const px_layer_kind px_embedding_kind = {
    .def = {.class_name = "Embedding", .build = emb_build, .call = emb_call},
    .base_name = "embedding",
    .state_size = sizeof(emb_state),
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

/* Accessors for the model-file code. */
int px_embedding_input_dim(const px_layer *l) { return ((const emb_state *)l->state)->input_dim; }
int px_embedding_output_dim(const px_layer *l) { return ((const emb_state *)l->state)->output_dim; }
const px_embedding_options *px_embedding_get_options(const px_layer *l) { return &((const emb_state *)l->state)->o; }
