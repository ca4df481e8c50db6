/* Internal: the node and op-definition structures shared by the graph, the
 * session planner, eager mode and the op files in src/ops/. */
#ifndef PX_GRAPH_NODE_H
#define PX_GRAPH_NODE_H

#include "backend/backend.h"
#include "core/shape.h"
#include "plexus/graph.h"
#include "graph/replicas.h"

#define PX_MAX_IATTR 16
#define PX_MAX_FATTR 4
_Static_assert(PX_MAX_IATTR == PX_KERNEL_IATTR && PX_MAX_FATTR == PX_KERNEL_FATTR,
               "backends copy an op's attributes by these lengths");

/* What the executor hands an op: run-wide flags and the op's state buffer,
 * which lives from the op's forward step to its backward step (dropout masks,
 * saved statistics, scratch space). */
typedef struct px_exec {
    bool training;
    px_rng *rng;
    void *state;
    /* In backward, for ops flagged PX_OPF_OVERWRITES: fresh[i] true means
     * gin[i] holds garbage and must be stored, not added to (this op is its first
     * writer). NULL: add to every gin. */
    const bool *fresh;
    /* For ops flagged PX_OPF_RANDOM: this run's key for the counter-based
     * generator (backend/kernels/philox.h), drawn from the graph's generator by
     * the executor, so every backend draws the same numbers. */
    uint64_t seed;
    /* Data-parallel training: the other replicas, for ops that need statistics of
     * the whole global batch. NULL when this process trains alone. */
    const px_replica_hooks *replicas;
    /* In backward, for ops flagged PX_OPF_FOLDS_SGD, on the CPU: > 0 means
     * input 1 is a variable this op updates in place by plain SGD at this rate
     * (in[1] -= fold_lr * its gradient, as one product with beta = 1) instead
     * of writing gin[1]; the session sets it only when this op is the
     * variable's only reader and only gradient writer. 0: write gin[1]. */
    float fold_lr;
} px_exec;

/* Op flags: what the backward pass reads, so the planner knows which forward
 * values must stay alive until then. */
enum {
    PX_OPF_SAVE_INPUTS = 1 << 0, /* backward reads the inputs' values */
    PX_OPF_SAVE_OUTPUT = 1 << 1, /* backward reads the output's value */
    PX_OPF_NO_GRAD = 1 << 2,     /* piecewise constant or integer: no gradient flows */
    PX_OPF_ALIAS = 1 << 3,       /* output is the input's memory (reshape): no buffer */
    PX_OPF_OVERWRITES = 1 << 4,  /* backward honours px_exec.fresh (saves zeroing gradients) */
    PX_OPF_RANDOM = 1 << 5,      /* forward uses px_exec.seed in training */
    PX_OPF_WRITES_INPUTS = 1 << 6, /* forward updates variables among its inputs (batch norm's statistics) */
    PX_OPF_REPLICAS = 1 << 7,      /* uses px_exec.replicas (statistics over all replicas): with
                                      replicas, a device session runs it on the CPU */
    PX_OPF_FOLDS_SGD = 1 << 8,     /* backward honours px_exec.fold_lr for input 1 (dense) */
    PX_OPF_OVERWRITES_ON_CPU = 1 << 9, /* as PX_OPF_OVERWRITES, but only the op's CPU code honours
                                          px_exec.fresh (its device kernels add): CPU sessions only */
    PX_OPF_ELEMENTWISE = 1 << 10       /* out[i] depends on in[0][i] alone (one input, same shape): a
                                          CPU session may write the output over a dead input */
};

typedef struct px_op_def {
    const char *name;
    int flags;
    /* Checks the inputs and computes the output shape and dtype. Input shapes may
     * hold PX_UNKNOWN while a graph is built; at run time they are concrete. */
    px_status (*infer)(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dtype);
    /* Bytes of state the op needs (NULL: none). Called with concrete shapes. */
    size_t (*state_bytes)(const px_node *n, const px_shape *in, px_shape out);
    /* Computes out (contiguous, already sized) from the inputs. */
    void (*forward)(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex);
    /* Adds d(loss)/d(input i) into *gin[i] for every i with gin[i] != NULL. All
     * tensors handed to ops are contiguous. */
    void (*backward)(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                     const px_tensor *gout, px_tensor *const *gin, px_exec *ex);
    /* How device backends know the op (backend/op_codes.h, which documents the
     * attributes); PX_K_NONE (zero): no device kernel, the op runs on the CPU. */
    px_kcode code;
} px_op_def;

struct px_node {
    px_graph *graph;
    int index;            /* position in the graph's node list */
    px_node_kind kind;
    const px_op_def *op;  /* NULL for leaves */
    px_node **inputs;
    int n_inputs;
    px_shape shape;       /* declared or inferred, may hold PX_UNKNOWN */
    px_dtype dtype;
    int64_t iattr[PX_MAX_IATTR];
    float fattr[PX_MAX_FATTR];
    char *name;
    px_tensor *value;     /* constants, variables; every node in eager mode */
    px_tensor *state;     /* eager mode: the op's state, kept for its backward pass */
    bool trainable;       /* variables */
    int64_t param_offset; /* variables: offset in the collated block, -1 before */
    struct px_node *mask; /* Keras's _keras_mask: a node of the same graph saying which
                           * timesteps are real (1) or padding (0), (batch, timesteps); or NULL */
    /* Keras's training=False passed down a call: the op runs as in inference even in a
     * training run (the inference branch of a layer's call, px_graph_inference_scope) */
    bool inference;
    /* The mixed_bfloat16 policy of the layer that made it: the op's matrix products
     * take bf16 inputs (px_op_gemm); everything else stays float32 */
    bool bf16;
};

/* The training flag an op of node n sees in a run whose flag is `training`. */
static inline bool px_node_training(const px_node *n, bool training) { return training && !n->inference; }

struct px_graph {
    px_node **nodes;
    int n_nodes, cap_nodes;
    bool eager;
    bool eager_training;
    int inference_depth;        /* > 0: new op nodes are made inference-only (node.inference) */
    bool compute_bf16;          /* new op nodes compute their products in bf16 (node.bf16) */
    px_rng rng;
    /* collated parameters */
    float *params;
    int64_t n_params, n_trainable;
    bool params_dirty;
    unsigned params_generation; /* bumped by each collation, so sessions know to rebuild */
    /* The parameters on a device, when a session runs there (see
     * px_graph_params_on / px_graph_params_to_host). */
    px_mirror dev_params;
    void *owner;                /* the model whose graph this is, or NULL */
};

/* Opens (enter) or closes a scope in which every new op node of g runs as in
 * inference (Keras's call(..., training=False) inside a training step); scopes nest. */
void px_graph_inference_scope(px_graph *g, bool enter);

/* Sets whether new op nodes of g compute their products in bf16 (the applying
 * layer's dtype policy) and returns the previous setting, for the caller to restore. */
bool px_graph_set_compute_bf16(px_graph *g, bool bf16);

/* The graph's parameter block on backend b (copied there unless the device's
 * copy is the true one; NULL with an error on failure). On the CPU, the block
 * itself. The rules are those of px_mirror (backend/backend.h). */
float *px_graph_params_on(px_graph *g, px_backend *b);
/* After work on a device wrote parameters (an optimizer step, batch
 * normalization's moving statistics): the device copy is the newer one. */
void px_graph_params_written_on_device(px_graph *g);
/* Makes the host block current (downloading a newer device copy); `will_write`
 * says the caller may change it, so a device copy must be refreshed before use. */
px_status px_graph_params_to_host(px_graph *g, bool will_write);

/* The seed an executor hands an op for one forward pass: for a random op in
 * training, a fresh 64-bit draw from the graph's generator (the same on every
 * backend, so a device and the CPU drop the same units); otherwise 0. */
static inline uint64_t px_exec_seed(const px_op_def *op, bool training, px_rng *rng) {
    if (!(op->flags & PX_OPF_RANDOM) || !training) return 0;
    uint64_t hi = px_rng_u32(rng);
    return hi << 32 | px_rng_u32(rng);
}

/* For op constructors given a NULL input (an earlier op failed): keeps that
 * op's message, or says "<fn>: an input is NULL" when there is none; NULL. */
px_node *px_null_input(const char *fn);
/* Creates an op node: checks inputs (NULL propagates), infers the shape, appends
 * it to the graph, and in eager mode computes it. Attributes are copied from
 * iattr/fattr (may be NULL). Used by every op constructor. */
px_node *px_node_make(const px_op_def *op, px_node *const *inputs, int n_inputs,
                      const int64_t *iattr, int n_iattr, const float *fattr, int n_fattr);


/* Frees a node that is no longer (or not yet) in a graph's list. */
void px_node_free(px_node *n);

#endif
