/* Internal to the CUDA module (libplexus_cuda.so): the backend's state on one
 * GPU (stream, cuBLAS, cuDNN, NCCL) and the checks that turn every failed CUDA,
 * cuBLAS, cuDNN or NCCL call into a Plexus error naming the call and the
 * device. The library reaches this code only through px_device_module. */
#ifndef PX_BACKEND_CUDA_CUDA_INTERNAL_H
#define PX_BACKEND_CUDA_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#ifdef PX_HAVE_CUDNN
#include <cudnn.h>
#endif
#ifdef PX_HAVE_NCCL
#include <nccl.h>
#endif

#include "backend/backend.h"
#include "backend/module.h"

typedef struct px_cuda {
    px_backend base;       /* first, so a px_backend * is a px_cuda * */
    int device;
    cudaStream_t stream;   /* every copy and kernel of this backend runs here, in order */
    cublasHandle_t blas;
    void *blas_work;       /* cuBLAS's workspace, set once so recording a step never allocates */
#ifdef PX_HAVE_CUDNN
    cudnnHandle_t dnn;
#endif
#ifdef PX_HAVE_NCCL
    ncclComm_t comm;
    bool has_comm;
    /* The sums run on a stream of their own, so a bucket's sum overlaps the
     * rest of the backward pass: `queued` marks the work stream's point the
     * next sum waits for, `summed` the sums' point the work stream waits for
     * at all_reduce_wait (a fork and a join that a recorded step keeps too). */
    cudaStream_t comm_stream;
    cudaEvent_t queued, summed;
    bool comm_pending;
#endif
    bool recording;
    /* Page-locked memory: the blocks host_alloc handed out (uploads from them
     * are asynchronous as they are), and a ring that small uploads from
     * ordinary memory are staged through, so they never wait for the stream. */
    struct { char *p; size_t bytes; } pinned[16];
    int n_pinned;
    char *ring;
    size_t ring_bytes, ring_used;
} px_cuda;

/* The library's error and warning functions (set by px_device_module_open). */
extern const px_host_api *px_cuda_host;

/* The error message for a failed call, returned as a px_status. */
px_status px_cuda_fail(const px_cuda *c, px_status s, const char *call, const char *why, const char *file, int line);

#define PX_CUDA_CHECK(c, call)                                                                      \
    do {                                                                                           \
        cudaError_t px_e_ = (call);                                                                \
        if (px_e_ != cudaSuccess)                                                                  \
            return px_cuda_fail((c), px_e_ == cudaErrorMemoryAllocation ? PX_ERR_NOMEM : PX_ERR_STATE, #call, \
                                cudaGetErrorString(px_e_), __FILE__, __LINE__);                    \
    } while (0)

#define PX_CUBLAS_CHECK(c, call)                                                                    \
    do {                                                                                           \
        cublasStatus_t px_e_ = (call);                                                             \
        if (px_e_ != CUBLAS_STATUS_SUCCESS)                                                        \
            return px_cuda_fail((c), PX_ERR_STATE, #call, cublasGetStatusString(px_e_), __FILE__, __LINE__); \
    } while (0)

#ifdef PX_HAVE_CUDNN
#define PX_CUDNN_CHECK(c, call)                                                                     \
    do {                                                                                           \
        cudnnStatus_t px_e_ = (call);                                                              \
        if (px_e_ != CUDNN_STATUS_SUCCESS)                                                         \
            return px_cuda_fail((c), PX_ERR_STATE, #call, cudnnGetErrorString(px_e_), __FILE__, __LINE__); \
    } while (0)
#endif

#ifdef PX_HAVE_NCCL
#define PX_NCCL_CHECK(c, call)                                                                      \
    do {                                                                                           \
        ncclResult_t px_e_ = (call);                                                               \
        if (px_e_ != ncclSuccess)                                                                  \
            return px_cuda_fail((c), PX_ERR_STATE, #call, ncclGetErrorString(px_e_), __FILE__, __LINE__); \
    } while (0)
#endif

/* The op kernels (cuda_kernels.cu). */
bool px_cuda_supports(px_cuda *c, const px_kernel *k, bool backward);
size_t px_cuda_work_bytes(px_cuda *c, const px_kernel *k, bool backward);
size_t px_cuda_state_bytes(px_cuda *c, const px_kernel *k, size_t cpu_bytes);
px_status px_cuda_forward(px_cuda *c, const px_kernel *k);
px_status px_cuda_backward(px_cuda *c, const px_kernel *k);
px_status px_cuda_optimizer(px_cuda *c, const px_optim_kernel *k);
px_status px_cuda_accumulate(px_cuda *c, float *dst, const float *src, int64_t n);

/* Portable kernels for cuda_dnn.cu (cuda_kernels.cu). */
#include "backend/kernels/conv_geom.h"
px_conv_geom px_cuda_conv_geom(const px_kernel *k);
px_status px_cuda_transpose2d(px_cuda *c, const float *src, float *dst, int64_t rows, int64_t cols, bool add);
px_status px_cuda_bias_add(px_cuda *c, float *y, const float *b, int64_t rows, int64_t f);
px_status px_cuda_bias_grad(px_cuda *c, const float *gy, float *gb, int64_t rows, int64_t f);

/* Convolution through cuDNN (cuda_dnn.cu); false when cuDNN cannot take this
 * convolution (or the module was built without it): the portable im2col path runs. */
bool px_cuda_dnn_conv_fits(px_cuda *c, const px_kernel *k);
size_t px_cuda_dnn_conv_work(px_cuda *c, const px_kernel *k, bool backward);
px_status px_cuda_dnn_conv_forward(px_cuda *c, const px_kernel *k);
px_status px_cuda_dnn_conv_backward(px_cuda *c, const px_kernel *k);

/* Average pooling and batch normalization through cuDNN (cuda_dnn_pool_bn.cu);
 * the *_fits functions say whether cuDNN takes the op (false in a module
 * built without cuDNN): otherwise the portable kernels run. bn_forget: a
 * forward pass of the op with this state ran the portable kernels. */
bool px_cuda_dnn_pool_fits(px_cuda *c, const px_kernel *k);
px_status px_cuda_dnn_pool_forward(px_cuda *c, const px_kernel *k);
px_status px_cuda_dnn_pool_backward(px_cuda *c, const px_kernel *k);
bool px_cuda_dnn_bn_fits(px_cuda *c, const px_kernel *k, bool backward);
size_t px_cuda_dnn_bn_work(const px_kernel *k);
px_status px_cuda_dnn_bn_forward(px_cuda *c, const px_kernel *k);
px_status px_cuda_dnn_bn_backward(px_cuda *c, const px_kernel *k);
void px_cuda_dnn_bn_forget(const void *state);

/* The fused recurrent op (PX_K_RNN) through cuDNN (cuda_dnn_rnn.cu): fits is
 * false where cuDNN's formulation is not the op's (or without cuDNN), and the
 * portable kernels run; the state and scratch sizes are cuDNN's when it fits. */
bool px_cuda_dnn_rnn_fits(px_cuda *c, const px_kernel *k);
size_t px_cuda_dnn_rnn_state(px_cuda *c, const px_kernel *k);
size_t px_cuda_dnn_rnn_work(px_cuda *c, const px_kernel *k, bool backward);
px_status px_cuda_dnn_rnn_forward(px_cuda *c, const px_kernel *k);
px_status px_cuda_dnn_rnn_backward(px_cuda *c, const px_kernel *k);
/* A (rows, cols) block from src to dst, element (r, q) at r * rs + q * cs in
 * each, stored or added; p[0..n) = v (cuda_kernels.cu). */
px_status px_cuda_copy_block(px_cuda *c, const float *src, int64_t srs, int64_t scs, float *dst, int64_t drs,
                             int64_t dcs, int64_t rows, int64_t cols, bool add);
px_status px_cuda_fill_i32(px_cuda *c, int32_t *p, int64_t n, int32_t v);

/* Small kernels for the cuDNN paths (cuda_kernels.cu): p[0..n) = v; *p = v;
 * Keras's moving statistics from a batch's mean and unbiased variance
 * (moving = m moving + (1 - m) batch, the variance made biased). */
px_status px_cuda_fill(px_cuda *c, float *p, int64_t n, float v);
px_status px_cuda_set_u32(px_cuda *c, uint32_t *p, uint32_t v);
px_status px_cuda_bn_moving_update(px_cuda *c, float *mm, float *mv, const float *mean, const float *var_unbiased,
                                   int64_t ch, float momentum, int64_t rows);

/* NCCL (cuda_comm.cu). */
px_status px_cuda_comm_id(px_cuda *c, void *id);
px_status px_cuda_comm_init(px_cuda *c, const void *id, int n_ranks, int rank);
px_status px_cuda_all_reduce_sum(px_cuda *c, float *data, int64_t n);
px_status px_cuda_all_reduce_wait(px_cuda *c);
void px_cuda_comm_free(px_cuda *c);

#endif
