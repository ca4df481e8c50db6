/* Computational graphs: constants, variables and placeholders joined by ops;
 * sessions that compile a graph into a plan (order, buffers, gradients) and run
 * it; and eager mode, where every op computes at once and the graph is the tape. */
#ifndef PLEXUS_GRAPH_H
#define PLEXUS_GRAPH_H

#include "export.h"
#include "tensor.h"
#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_graph px_graph;
typedef struct px_node px_node;
typedef struct px_session px_session;

typedef enum px_node_kind {
    PX_NODE_CONSTANT,
    PX_NODE_VARIABLE,
    PX_NODE_PLACEHOLDER,
    PX_NODE_OP
} px_node_kind;

/* ---- graphs ---- */

/* A new, empty graph in deferred mode: ops are recorded and computed by a session. */
PX_API px_graph *px_graph_new(void);
/* A new graph in eager mode: each op computes its value when it is created. */
PX_API px_graph *px_graph_new_eager(void);
/* Frees the graph and every node in it. Sessions of the graph must be freed first. */
PX_API void px_graph_free(px_graph *g);
PX_API bool px_graph_is_eager(const px_graph *g);
/* Seeds the generator that ops such as dropout draw from. */
PX_API void px_graph_set_seed(px_graph *g, uint64_t seed);
/* Number of nodes in creation order (which is a topological order). */
PX_API int px_graph_node_count(const px_graph *g);
PX_API px_node *px_graph_node(const px_graph *g, int index);
/* The node named `name`, or NULL. */
PX_API px_node *px_graph_find(const px_graph *g, const char *name);

/* ---- leaves: each returns a node owned by the graph, or NULL with an error set ---- */

/* A constant holding a copy of `value`. */
PX_API px_node *px_constant(px_graph *g, const px_tensor *value);
PX_API px_node *px_constant_scalar(px_graph *g, float value);
/* A trainable variable initialised with a copy of `init`. Names need not be unique. */
PX_API px_node *px_variable(px_graph *g, const px_tensor *init, const char *name);
/* A value fed at run time. Dimensions may be PX_UNKNOWN (e.g. the batch). */
PX_API px_node *px_placeholder(px_graph *g, px_dtype dtype, px_shape shape, const char *name);

/* ---- node queries ---- */
PX_API px_graph *px_node_graph(const px_node *n);
PX_API px_node_kind px_node_get_kind(const px_node *n);
PX_API const char *px_node_name(const px_node *n);   /* "" if unnamed */
PX_API void px_node_set_name(px_node *n, const char *name);
PX_API const char *px_node_op_name(const px_node *n); /* "add", "matmul", "variable", ... */
PX_API px_shape px_node_shape(const px_node *n);      /* may hold PX_UNKNOWN dimensions */
PX_API px_dtype px_node_dtype(const px_node *n);
PX_API int px_node_input_count(const px_node *n);
PX_API px_node *px_node_input(const px_node *n, int i);
PX_API int px_node_index(const px_node *n);

/* The value of a constant, a variable (its current value, writable in place), or,
 * in eager mode, of any node. NULL for nodes without a stored value. The tensor
 * belongs to the graph. */
PX_API px_tensor *px_node_value(const px_node *n);
/* Copies `value` into a variable (same shape). */
PX_API px_status px_variable_assign(px_node *var, const px_tensor *value);
/* Frozen variables get no gradient and are not updated by optimizers. */
PX_API void px_variable_set_trainable(px_node *var, bool trainable);
PX_API bool px_variable_trainable(const px_node *var);

/* ---- parameters: all variables of a graph in one contiguous block ---- */

/* Collates the values of all variables into one contiguous float block (trainable
 * ones first, in creation order) and returns its length; variable values become
 * views into it. Called by sessions; a no-op when nothing changed since. */
PX_API px_status px_graph_collate_params(px_graph *g);
/* The block (valid until variables are added or their trainable flags change). */
PX_API float *px_graph_params(px_graph *g, int64_t *n_total, int64_t *n_trainable);
/* Offset of a variable's first element inside the block, or -1. */
PX_API int64_t px_variable_offset(const px_node *var);

/* ---- sessions (compiled plans) ---- */

typedef struct px_feed {
    px_node *placeholder;
    const px_tensor *value;
} px_feed;

typedef struct px_session_options {
    /* A scalar to differentiate; NULL for a forward-only session. */
    px_node *loss;
    /* Nodes whose gradients are wanted. NULL with a loss: all trainable variables. */
    px_node *const *wrt;
    int n_wrt;
    /* Ops such as dropout behave as in training (false = inference). */
    bool training;
    /* The device to run on ("cpu", "ref", "cuda:0"; see px_device_list); NULL:
     * the current device (px_set_device, PX_DEVICE; the CPU by default). */
    const char *device;
} px_session_options;

/* Compiles the part of `g` needed for the fetches (and, with opts->loss, its
 * gradients) into a plan: topological order, buffers planned once, intermediate
 * buffers shared when their lifetimes do not overlap. `opts` may be NULL.
 * The graph must outlive the session. Free with px_session_free. */
PX_API px_session *px_session_new(px_graph *g, px_node *const *fetches, int n_fetches,
                           const px_session_options *opts);
PX_API void px_session_free(px_session *s);
PX_API void px_session_set_training(px_session *s, bool training);
/* The name of the device the session runs on ("cpu", "ref", "cuda:0"). */
PX_API const char *px_session_device(const px_session *s);

/* Runs the plan with the given feeds. When `outputs` is not NULL, outputs[i]
 * receives a new tensor (owned by the caller) with the value of fetches[i].
 * With a loss, gradients are computed too (see px_session_gradient). A run with
 * feeds no larger than those seen before allocates nothing. */
PX_API px_status px_session_run(px_session *s, const px_feed *feeds, int n_feeds, px_tensor **outputs);

/* A view of the last run's value of fetch i, owned by the session (valid until the next run).
 * On a device the value is copied to the host on first use after a run. */
PX_API const px_tensor *px_session_fetch(const px_session *s, int i);
/* A view of d(loss)/d(node) from the last run, for a node given in wrt (or any
 * trainable variable when wrt was NULL). NULL with an error otherwise. */
PX_API const px_tensor *px_session_gradient(const px_session *s, const px_node *node);
/* The gradients of all trainable variables as one block laid out like
 * px_graph_params (valid after a run with a loss). */
PX_API const float *px_session_param_grads(const px_session *s, int64_t *n);
/* Bytes of the planned buffers (values, gradients, op state), for diagnostics. */
PX_API size_t px_session_arena_bytes(const px_session *s);

/* One-shot convenience: compile, run, copy the fetched values out, free. */
PX_API px_status px_run(px_graph *g, px_node *const *fetches, int n_fetches,
                 const px_feed *feeds, int n_feeds, px_tensor **outputs);

/* ---- eager mode: the graph is the gradient tape ---- */

/* In an eager graph: d(loss)/d(wrt[i]) for every i, each a new tensor owned by the
 * caller. `loss` must be a scalar computed after the wrt nodes. */
PX_API px_status px_eager_gradients(px_graph *g, const px_node *loss, px_node *const *wrt, int n_wrt,
                             px_tensor **grads);
/* In an eager graph: frees every op node (the tape), keeping constants, variables
 * and placeholders. Pointers to freed op nodes become invalid. */
PX_API void px_eager_clear_tape(px_graph *g);
/* In an eager graph: sets a placeholder's value (copied), for later ops. */
PX_API px_status px_eager_feed(px_node *placeholder, const px_tensor *value);
PX_API void px_eager_set_training(px_graph *g, bool training);

/* Writes the graph (or the part that `outputs` need, when given) as Graphviz DOT. */
PX_API px_status px_graph_write_dot(const px_graph *g, px_node *const *outputs, int n_outputs, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
