/* Internal: the layer object shared by the built-in layers, user-defined layers
 * and the model code. */
#ifndef PX_NN_LAYER_INTERNAL_H
#define PX_NN_LAYER_INTERNAL_H

#include "plexus/nn.h"

/* The model a layer belongs to (plexus/model.h, a floor above). */
typedef struct px_model px_model;

struct px_json;

/* Hooks the built-in layers add to px_layer_def's public part. */
typedef struct px_layer_kind {
    px_layer_def def;
    /* Keras's default base name ("dense"); NULL: derived from the class name */
    const char *base_name;
    size_t state_size;         /* the state is one plain struct of this size (copied by clone) */
    /* Adds the kind's keys to a Keras layer config object ("units", "activation",
     * ...), as Keras 2 writes them (may be NULL: no keys beyond the base ones) */
    px_status (*write_config)(const px_layer *l, struct px_json *config);
    /* A new layer from a Keras layer config object (K2 or K3 spelling), or NULL
     * with an error naming the key that is missing or wrong */
    px_layer *(*from_config)(const struct px_json *config);
    /* What the layer does with Keras's timestep mask of its input (px_node.mask):
     * drop it (0, also for user layers), pass input 0's on to its output (Keras's
     * supports_masking), or set its output's itself in call (Embedding, RNNs). */
    enum { PX_MASK_DROP = 0, PX_MASK_PASS, PX_MASK_OWN } mask_mode;
    /* Options Keras passes at call time rather than in the layer config (the
     * attention layers' use_causal_mask): written to / read from the keyword
     * arguments of the layer's inbound node (may be NULL) */
    px_status (*write_call_kwargs)(const px_layer *l, struct px_json *kwargs);
    px_status (*read_call_kwargs)(px_layer *l, const struct px_json *kwargs);
    /* Where Keras 3 keeps weight i in its weights files (.keras, .weights.h5), relative
     * to the layer's group: the group path (e.g. "cell/vars" for a recurrent layer),
     * with the dataset's name, an index, in *index. NULL: "vars" and index i. */
    const char *(*k3_vars)(const px_layer *l, int i, int *index);
} px_layer_kind;

/* The built-in kind with this Keras class name, or NULL (src/nn/registry.c). */
const px_layer_kind *px_layer_kind_find(const char *class_name);
/* Every built-in kind, NULL-terminated. */
extern const px_layer_kind *const px_layer_kinds[];

/* One application of a layer: its inputs and its outputs (the main one, then the
 * extra ones such as return_state's). Keras calls it a node of the layer; a layer
 * shared between several inputs has several, numbered as Keras's node_index. */
typedef struct px_layer_call {
    px_node **in;
    int n_in;
    px_node *out[5];
    int n_out;
} px_layer_call;

struct px_layer {
    const px_layer_def *def;
    const px_layer_kind *kind; /* built-in layers only, else NULL */
    void *state;
    char *name;
    bool trainable;
    bool bf16;                 /* dtype policy mixed_bfloat16 (else float32): src/nn/dtype_policy.c */
    px_model *model;           /* owner once applied */
    px_graph *graph;
    bool built;
    px_node **weights;
    char **weight_names;
    px_regularizer *regs;
    bool *fixed;               /* per weight: created non-trainable (statistics), so set_trainable leaves it */
    int n_weights, cap_weights;
    px_tensor **pending;       /* weights copied from a cloned layer, set at build */
    int n_pending;
    px_shape input_shape;      /* declared (without batch); rank 0 and !has_input_shape: none */
    bool has_input_shape;
    px_node **inbound;         /* inputs of the last application */
    int n_inbound;
    px_node *output;
    px_layer_call *calls;      /* every application, in order */
    int n_calls;
    px_node *extra_outputs[4]; /* return_state outputs of the last application (rnn_layers.c) */
    int n_extra;
    px_rng *rng;               /* the model's generator while building */
    px_layer **subs;           /* tracked sublayers (px_layer_track), owned */
    int n_subs;
    bool subs_adopted;         /* their weights were appended to weights[] (first application) */
};

/* After a layer's first application: appends its sublayers' weights to its own
 * (src/nn/sublayers.c). */
px_status px_layer_adopt_sublayers(px_layer *l);
/* Appends sub's weights to self's, named "<sub>/<weight>" (a nested model's layers too). */
px_status px_layer_adopt_weights(px_layer *self, const px_layer *sub);
/* Copies l's sublayers into c (unbuilt, with l's weights pending). */
px_status px_layer_clone_sublayers(const px_layer *l, px_layer *c);

/* A layer of a built-in kind with the given state (owned). */
px_layer *px_layer_new_kind(const px_layer_kind *kind, void *state, const char *name);

/* A layer of a built-in kind whose state is a malloc'd copy of `size` bytes at `state`. */
px_layer *px_layer_new_kind_copy(const px_layer_kind *kind, const void *state, size_t size);

/* Builds (if needed) and applies the layer to inputs of its model's graph. */
px_node *px_layer_apply(px_layer *l, px_node *const *inputs, int n, px_rng *rng);

/* Inside build: the "kernel" weight of the given shape and, unless no_bias, a
 * "bias" of `units` values (Keras's default bias initializer is zeros), in
 * Keras's order. Shared by Dense and the convolutions. */
px_status px_layer_add_kernel_bias(px_layer *l, px_shape kernel_shape, int64_t units, px_initializer kernel_init,
                                   px_regularizer kernel_reg, bool no_bias, px_initializer bias_init,
                                   px_regularizer bias_reg);

/* The layer's regularization penalty as a scalar node, or NULL when it has none
 * (*none set) or on error. */
px_node *px_layer_penalty(px_layer *l, bool *none);

/* True when the global dtype policy is mixed_bfloat16 (src/nn/dtype_policy.c). */
bool px_dtype_policy_global_bf16(void);

/* Writes layer l's dtype policy to its Keras 2 config c: "float32", or Keras 2's
 * {"class_name": "Policy", "config": {"name": "mixed_bfloat16"}}. */
px_status px_lc_set_layer_dtype(struct px_json *c, const px_layer *l);

/* snake_case of a class name ("BatchNormalization" -> "batch_normalization"). */
void px_snake_case(const char *class_name, char *out, size_t len);

#endif
