/* Internal: the interface every compute backend implements, in the spirit of
 * ggml-backend: buffers in the backend's own memory, copies between it and the
 * host, and kernels for ops and optimizer updates given as plain descriptors
 * (px_kernel, px_optim_kernel). The CPU (cpu/cpu_backend.c), the reference
 * device (ref/) and CUDA (cuda/, a module loaded at run time) implement it;
 * sessions (src/graph/) place every planned buffer on one backend and run each
 * op through it, and an op a backend lacks runs on the CPU with explicit copies.
 * Devices are named and chosen in device.c. */
#ifndef PX_BACKEND_BACKEND_H
#define PX_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/op_codes.h"
#include "plexus/tensor.h"

typedef struct px_backend px_backend;

/* Lengths of an op's attribute arrays (PX_MAX_IATTR, PX_MAX_FATTR of graph/node.h). */
#define PX_KERNEL_IATTR 16
#define PX_KERNEL_FATTR 4

/* One op's forward or backward pass. Every tensor's data points into the
 * backend's memory (on the CPU, host memory); all are contiguous. The
 * descriptor itself, the attributes and the tensor structs are host memory. */
typedef struct px_kernel {
    px_kcode code;
    const char *name;          /* the op's name, for messages */
    const int64_t *iattr;      /* meanings in op_codes.h */
    const float *fattr;
    int n_in;
    const px_tensor *const *in;
    px_tensor *out;
    /* backward only */
    const px_tensor *gout;     /* d(loss)/d(out) */
    px_tensor *const *gin;     /* d(loss)/d(in[i]) goes here; NULL where not wanted */
    const bool *fresh;         /* fresh[i]: gin[i] holds garbage and is stored, not added to;
                                  NULL: add to every gin */
    void *state;               /* lives from the forward pass to the backward pass */
    size_t state_bytes;
    void *work;                /* scratch for this call only (px_backend_ops.work_bytes) */
    size_t work_bytes;
    bool training;
    uint64_t seed;             /* random ops (dropout): this run's key, the same on every backend */
    float fold_lr;             /* backward, CPU only, ops flagged PX_OPF_FOLDS_SGD: > 0 means in[1] is
                                  a variable updated in place, in[1] -= fold_lr * d(loss)/d(in[1]),
                                  and gin[1] is not written (plain SGD folded into the product) */
    /* The op's own CPU code (src/ops/), run by backends whose memory the CPU reads,
     * and what that code may need of the session (its data-parallel replicas). */
    const void *node;
    const void *replicas;
    void (*host_run)(const struct px_kernel *k, bool backward);
} px_kernel;

/* Optimizer kinds, in the order of px_optimizer_kind (include/plexus/optim.h). */
enum { PX_OPTK_SGD, PX_OPTK_ADAGRAD, PX_OPTK_RMSPROP, PX_OPTK_ADADELTA, PX_OPTK_ADAM, PX_OPTK_ADAMW, PX_OPTK_NADAM };
/* Gradient clipping before the update. */
enum { PX_CLIP_NONE, PX_CLIP_VALUE, PX_CLIP_NORM, PX_CLIP_GLOBAL_NORM };

/* Per-step numbers of an update, computed on the host by src/train/optimizer.c
 * and uploaded before each step (so a recorded step replays with new values). */
enum {
    PX_OC_LR,      /* learning rate (Adam: alpha, the bias-corrected rate) */
    PX_OC_KEEP,    /* 1 - weight_decay * lr */
    PX_OC_MU,      /* momentum */
    PX_OC_RHO,
    PX_OC_B1, PX_OC_B2,
    PX_OC_EPS,
    PX_OC_CM, PX_OC_CG, PX_OC_BC2, /* Nadam: m_hat = cm m + cg g, v_hat = v / bc2 */
    PX_OC_CLIP,    /* clipvalue, clipnorm or global_clipnorm */
    PX_OC_COUNT
};

/* One optimizer update of n parameters; every pointer is backend memory. */
typedef struct px_optim_kernel {
    int kind;                  /* PX_OPTK_* */
    bool momentum, nesterov, amsgrad, centered;
    int clip;                  /* PX_CLIP_* */
    int64_t n;
    float *params;
    const float *grads;
    float *slots[3];           /* in Keras's slot order (src/train/optimizer.c) */
    const float *coef;         /* PX_OC_COUNT floats */
    const int64_t *segments;   /* clipnorm: variable starts (backend memory), or NULL */
    int n_segments;
    void *work;                /* px_optim_work_bytes(n_segments) bytes of scratch */
} px_optim_kernel;

/* Long sums on a device add this many strided partial sums (in double), then
 * those: the order, and so the result, is the same however the work is split. */
#define PX_REDUCE_PARTS 1024

/* Scratch an update needs for clipping by norm: the partial sums of squares,
 * then one float scale per segment (kernels/optim_ops.h). */
static inline size_t px_optim_work_bytes(int n_segments) {
    return PX_REDUCE_PARTS * sizeof(double) + (size_t)(n_segments > 0 ? n_segments : 1) * sizeof(float);
}

typedef struct px_backend_ops {
    /* ---- memory: the backend's buffer type ---- */
    /* A zero-filled buffer of `bytes` in the backend's memory (bytes may be 0). */
    px_status (*alloc)(px_backend *b, size_t bytes, void **out);
    void (*free)(px_backend *b, void *p);
    /* host -> backend. Ordered before later work on the backend; `src` may be
     * reused at once unless it came from host_alloc, then after the next sync. */
    px_status (*upload)(px_backend *b, void *dst, const void *src, size_t bytes);
    /* backend -> host, complete when it returns. */
    px_status (*download)(px_backend *b, void *dst, const void *src, size_t bytes);
    /* within the backend */
    px_status (*copy)(px_backend *b, void *dst, const void *src, size_t bytes);
    px_status (*zero)(px_backend *b, void *dst, size_t bytes);
    /* dst[i] += src[i], i < n (merging a gradient computed elsewhere) */
    px_status (*accumulate)(px_backend *b, float *dst, const float *src, int64_t n);
    /* Waits for all queued work. */
    px_status (*sync)(px_backend *b);
    /* Host buffers for uploads, page-locked where that makes copies asynchronous. */
    px_status (*host_alloc)(px_backend *b, size_t bytes, void **out);
    void (*host_free)(px_backend *b, void *p);

    /* ---- kernels ---- */
    /* True when the backend has a kernel for this op and these shapes and dtypes. */
    bool (*supports)(px_backend *b, const px_kernel *k, bool backward);
    /* Bytes of per-call scratch (k->work) a pass needs. */
    size_t (*work_bytes)(px_backend *b, const px_kernel *k, bool backward);
    /* Bytes of state the backend keeps from forward to backward, given the
     * CPU op's `cpu_bytes` (the backend may need less, e.g. no im2col copy). */
    size_t (*state_bytes)(px_backend *b, const px_kernel *k, size_t cpu_bytes);
    px_status (*forward)(px_backend *b, const px_kernel *k);
    px_status (*backward)(px_backend *b, const px_kernel *k);
    px_status (*optimizer_step)(px_backend *b, const px_optim_kernel *k);

    /* ---- optional (NULL where the backend lacks them) ---- */
    /* Records the work queued between begin and end as one replayable step
     * (CUDA graphs); the step's buffers must not move while it is kept. */
    px_status (*record_begin)(px_backend *b);
    px_status (*record_end)(px_backend *b, void **step);
    px_status (*replay)(px_backend *b, void *step);
    void (*step_free)(px_backend *b, void *step);
    /* Sum of `data` over the processes of a communicator (NCCL): comm_id
     * creates the id on one process (PX_COMM_ID_BYTES), every process passes it
     * to comm_init with its rank. all_reduce_sum queues the sum after the work
     * queued so far (a recorded step may hold it); it may run beside the work
     * queued after it (CUDA: a stream of its own) until all_reduce_wait, which
     * orders every queued sum before the work queued after the wait. */
    px_status (*comm_id)(px_backend *b, void *id);
    px_status (*comm_init)(px_backend *b, const void *id, int n_ranks, int rank);
    px_status (*all_reduce_sum)(px_backend *b, float *data, int64_t n);
    px_status (*all_reduce_wait)(px_backend *b);

    void (*destroy)(px_backend *b);
} px_backend_ops;

#define PX_COMM_ID_BYTES 128

struct px_backend {
    const px_backend_ops *ops;
    char name[32];     /* "cpu", "ref", "cuda:0" */
    bool host_memory;  /* its buffers are host memory the CPU code may use directly (only the CPU) */
    void *ctx;
};

/* The CPU backend (always present; never freed). */
px_backend *px_backend_cpu(void);
/* The reference device (created on first use; never freed). */
px_backend *px_backend_ref(void);
/* The backend of the current device (px_set_device / PX_DEVICE); NULL with an
 * error when PX_DEVICE names a device that cannot be opened. */
px_backend *px_backend_current(void);
/* The backend of a device by name ("cpu", "ref", "cuda", "cuda:N"), or NULL with an error. */
px_backend *px_backend_by_name(const char *name);

/* Why no CUDA device can be used ("" when one can), for messages and skipped tests. */
const char *px_cuda_unavailable_reason(void);

/* Warns once per (backend, op) that an op runs on the CPU instead. */
void px_backend_warn_fallback(const px_backend *b, const char *op, bool backward);

/* A host block (parameters, optimizer slots) and its copy in a backend's
 * memory. The host's is the true one, copied in before every use on the
 * device (the caller may have written it through any pointer it holds), until
 * work on the device writes the copy: then the device's is the true one, until
 * the host block is handed out for writing again. */
typedef struct px_mirror {
    px_backend *b;
    void *dev;
    size_t bytes;
    bool dev_true;   /* the device copy is the true one */
    bool host_stale; /* it has changes the host block lacks */
} px_mirror;
/* Makes the backend copy current (allocating it for `bytes` on first use). */
px_status px_mirror_to_device(px_mirror *m, px_backend *b, const void *host, size_t bytes);
/* Work on the device wrote the copy. */
void px_mirror_written_on_device(px_mirror *m);
/* Makes the host block current; with `will_write` the host's becomes the true one. */
px_status px_mirror_to_host(px_mirror *m, void *host, bool will_write);
void px_mirror_free(px_mirror *m);

#endif
