/* Internal: a session's plan, shared by session_build.c (compiling it),
 * planner.c (its memory), session.c (the API and the run) and session_device.c
 * (what only a device backend needs: its copies of the leaves, ops the device
 * lacks run on the CPU, recorded steps). */
#ifndef PX_GRAPH_SESSION_INTERNAL_H
#define PX_GRAPH_SESSION_INTERNAL_H

#include "graph/node.h"
#include "graph/replicas.h"
#include "graph/session_api.h"

enum { END_OF_RUN = 1 << 30 };

/* Host copies of an op that runs on the CPU in a device session: its inputs,
 * output, gradients and state, filled and returned by explicit copies. */
typedef struct px_host_op {
    px_tensor *in, *gin;        /* n_inputs each */
    const px_tensor **in_ptrs;  /* -> in */
    px_tensor **gin_ptrs;       /* -> gin, NULL where the plan wants no gradient */
    px_tensor out, gout;
    void *state;
    void *block;                /* one allocation holding all of the above */
} px_host_op;

typedef struct plan_node {
    px_node *node;
    px_tensor val, grad;
    const px_tensor **in; /* the inputs' val */
    px_tensor **gin;      /* the inputs' grad, NULL where none is needed */
    bool *fresh;          /* per input: this op's backward is the first to write gin[j] */
    void *state;
    size_t state_bytes;
    bool needs_grad;      /* d(loss)/d(this) is computed */
    bool runs_backward;   /* an op whose backward runs */
    bool grad_in_block;   /* a variable whose gradient lives in the param-grad block */
    int val_start, val_end, grad_start, grad_end; /* lifetimes in steps */
    int alias_of;         /* local index whose buffer this value shares, or -1 */
    int grad_alias_of;    /* local index whose gradient buffer this gradient shares, or -1 */
    size_t val_off, grad_off, state_off;
    size_t val_cap, state_cap; /* elements and bytes the arena was planned for */
    bool has_val_buf, has_grad_buf, has_state_buf;
    size_t cpu_state_bytes; /* the state the op's CPU code needs (an op run on the CPU keeps it there) */
    px_kernel k;          /* the op as its backend sees it (ops only) */
    bool on_cpu;          /* a device session's op that the device lacks: run on the CPU */
    px_host_op *host;     /* its host copies (on_cpu only) */
    px_tensor *host_grad; /* a device gradient copied out for px_session_gradient */
    bool can_fold;        /* an op that may fold plain SGD into its variable input 1 (PX_OPF_FOLDS_SGD) */
    bool folded;          /* a variable whose only reader can fold: updated by that op, not the updater */
} plan_node;

struct px_session {
    px_graph *g;
    px_node **fetch_nodes;
    int n_fetches;
    px_node *loss;
    px_node **wrt;
    int n_wrt;
    bool training;
    px_backend *b;      /* where the plan runs */

    /* rebuilt when the graph's parameters are re-collated */
    unsigned generation;
    int n;              /* plan nodes, in topological order */
    plan_node *pn;
    int *local;         /* graph index -> plan index or -1 */
    int g_nodes;        /* graph size when built */
    int *fetch_local;
    int loss_local;
    float *param_grads; /* laid out like the graph's param block (on b) */
    int64_t n_param_grads;
    const px_tensor **in_ptrs;
    px_tensor **gin_ptrs;
    bool *fresh_flags;
    int *zero_at_step;  /* CSR: grads zeroed before backward step t */
    int *zero_first;
    char *arena;        /* on b */
    size_t arena_bytes;
    void *work;         /* per-call scratch of the ops (on b), the largest any needs */
    size_t work_bytes, work_need;
    bool planned;
    px_shape *feed_shapes; /* per placeholder plan node, of the last planned run */
    unsigned *fed_in_run;  /* per plan node: the run number that last fed it */
    unsigned run_count;

    /* data-parallel training: when each trainable variable's gradient is final */
    px_replica_hooks *replicas;
    int *ready_at_step;     /* CSR by backward step: plan nodes whose gradient is final after it */
    int *ready_first;
    int64_t *ready_at_start; /* (offset, count) pairs: trainable variables this plan gives no gradient */
    int n_ready_at_start;
    int *grad_final;        /* per plan node: the backward step after which its gradient is final, or -1 */

    /* an optimizer update inside the backward pass (session_update.c) */
    px_session_updater updater; /* .update NULL: none */
    int *upd_at_step;           /* CSR by backward step: trainable variables that no later step reads */
    int *upd_first;

    /* a device session only (session_device.c) */
    struct px_session_device *dev;
};

/* ---- session_build.c ---- */

/* Compiles the plan (anything built before is cleared first). */
px_status px_session_build(px_session *s);
/* Frees the plan and everything sized by it; the session's settings stay. */
void px_session_clear(px_session *s);
/* Whether d(loss)/d(node) is one the caller asked for (the wrt nodes, else the
 * trainable variables). */
bool px_session_wants_gradient(const px_session *s, const px_node *node);

/* ---- session_update.c ---- */

/* Plans the updates inside the backward pass: each trainable variable's update
 * step and which ops may fold plain SGD into their product. */
px_status px_session_plan_updates(px_session *s);
/* In compute(): before the backward pass (the fold rates), after backward
 * step t, and after the pass (the variables the plan gives no gradient). */
void px_session_updates_begin(px_session *s);
void px_session_updates_after(px_session *s, int t);
void px_session_updates_end(px_session *s);

/* ---- session_device.c ---- */

/* The device parts of a plan: ops the device lacks are marked to run on the
 * CPU (with a one-time warning) and given host copies; the constants get
 * device copies. Called after shapes are known, before the arena is planned. */
px_status px_sd_place(px_session *s);
/* Points variables at the graph's parameters on the device and constants at
 * their copies; called after every binding of the views. */
px_status px_sd_bind(px_session *s);
/* Uploads a feed into its placeholder's buffer. */
px_status px_sd_feed(px_session *s, plan_node *p, const px_tensor *value);
/* Runs an op the device lacks on the CPU, with copies both ways. */
px_status px_sd_forward_on_cpu(px_session *s, plan_node *p);
px_status px_sd_backward_on_cpu(px_session *s, plan_node *p);
/* Sets the loss gradient to one, on the device. */
px_status px_sd_seed_loss_grad(px_session *s, plan_node *p);
/* Runs the compute part of a run (`compute`), or replays it when an identical
 * step was recorded (CUDA graphs); records it when the plan allows. */
px_status px_sd_run_compute(px_session *s, px_status (*compute)(px_session *s));
/* Forgets the recorded step (shapes or buffers changed). */
void px_sd_forget_step(px_session *s);
/* After a run: variables the run updated (batch norm) are copied back while
 * the host's parameters are the true ones. */
px_status px_sd_after_run(px_session *s);
/* Host views of device values, copied out on first use after a run. */
const px_tensor *px_sd_fetch(const px_session *s, int i);
const px_tensor *px_sd_gradient(const px_session *s, plan_node *p);
const float *px_sd_param_grads(const px_session *s);
void px_sd_free(px_session *s);

#endif
