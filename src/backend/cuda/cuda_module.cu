/* The CUDA module's entry point and the backend's memory side: device buffers
 * (cudaMalloc, zero-filled), copies on the backend's stream, page-locked host
 * buffers for asynchronous uploads, and recording a step as a CUDA graph
 * (stream capture) for replay. The library opens this file with dlopen
 * (src/backend/device.c) and calls it only through px_device_module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

const px_host_api *px_cuda_host;

px_status px_cuda_fail(const px_cuda *c, px_status s, const char *call, const char *why, const char *file, int line) {
    const char *base = strrchr(file, '/');
    return px_cuda_host->set_error(s, "cuda:%d: %s failed: %s (%s:%d)", c ? c->device : -1, call, why,
                                   base ? base + 1 : file, line);
}

static px_cuda *cu(px_backend *b) { return (px_cuda *)b; }

/* Several GPUs in one process: each entry makes its backend's device current. */
static int n_open;
static px_status use_device(px_cuda *c) {
    if (n_open > 1) PX_CUDA_CHECK(c, cudaSetDevice(c->device));
    return PX_OK;
}
#define USE(c)                                                                                    \
    do {                                                                                          \
        px_status px_u_ = use_device(c);                                                          \
        if (px_u_ != PX_OK) return px_u_;                                                         \
    } while (0)

/* ------------------------------------------------------------ memory ---- */

static px_status cuda_alloc(px_backend *b, size_t bytes, void **out) {
    px_cuda *c = cu(b);
    USE(c);
    *out = NULL;
    if (c->recording) return px_cuda_host->set_error(PX_ERR_STATE, "cuda:%d: allocation while recording a step", c->device);
    PX_CUDA_CHECK(c, cudaMalloc(out, bytes ? bytes : 1));
    /* zero-filled like the CPU's buffers, ordered before any later work on the stream */
    cudaError_t e = cudaMemsetAsync(*out, 0, bytes, c->stream);
    if (e != cudaSuccess) {
        cudaFree(*out);
        *out = NULL;
        return px_cuda_fail(c, PX_ERR_STATE, "cudaMemsetAsync", cudaGetErrorString(e), __FILE__, __LINE__);
    }
    return PX_OK;
}

static void cuda_free(px_backend *b, void *p) {
    px_cuda *c = cu(b);
    if (!p || use_device(c) != PX_OK) return;
    /* the stream may still use the buffer: finish first (frees happen when plans change, not per step) */
    cudaStreamSynchronize(c->stream);
    cudaFree(p);
}

static bool is_pinned(const px_cuda *c, const void *p, size_t bytes) {
    const char *q = (const char *)p;
    for (int i = 0; i < c->n_pinned; i++)
        if (q >= c->pinned[i].p && q + bytes <= c->pinned[i].p + c->pinned[i].bytes) return true;
    return false;
}

/* Uploads below this size from ordinary memory are staged through the ring. */
static const size_t RING_BYTES = (size_t)1 << 20, STAGE_MAX = (size_t)64 << 10;

static px_status cuda_upload(px_backend *b, void *dst, const void *src, size_t bytes) {
    px_cuda *c = cu(b);
    USE(c);
    if (!bytes) return PX_OK;
    /* From page-locked memory (host_alloc) the copy is asynchronous: src must
     * stay untouched until the stream has done it (the caller's double buffers
     * see to that). From ordinary memory CUDA may wait for the stream first, so
     * a small upload (a step's numbers, a feed) is copied into the ring and sent
     * from there; when the ring wraps, the stream is waited for once, so its
     * earlier copies have left it. */
    if (!is_pinned(c, src, bytes) && bytes <= STAGE_MAX) {
        if (!c->ring) {
            PX_CUDA_CHECK(c, cudaHostAlloc((void **)&c->ring, RING_BYTES, cudaHostAllocDefault));
            c->ring_bytes = RING_BYTES;
        }
        size_t at = (c->ring_used + 255) & ~(size_t)255;
        if (at + bytes > c->ring_bytes) {
            PX_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
            at = 0;
        }
        memcpy(c->ring + at, src, bytes);
        c->ring_used = at + bytes;
        src = c->ring + at;
    }
    PX_CUDA_CHECK(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    return PX_OK;
}

static px_status cuda_download(px_backend *b, void *dst, const void *src, size_t bytes) {
    px_cuda *c = cu(b);
    USE(c);
    if (!bytes) return PX_OK;
    PX_CUDA_CHECK(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    PX_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
    return PX_OK;
}

static px_status cuda_copy(px_backend *b, void *dst, const void *src, size_t bytes) {
    px_cuda *c = cu(b);
    USE(c);
    if (!bytes || dst == src) return PX_OK;
    PX_CUDA_CHECK(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream));
    return PX_OK;
}

static px_status cuda_zero(px_backend *b, void *dst, size_t bytes) {
    px_cuda *c = cu(b);
    USE(c);
    if (!bytes) return PX_OK;
    PX_CUDA_CHECK(c, cudaMemsetAsync(dst, 0, bytes, c->stream));
    return PX_OK;
}

static px_status cuda_accumulate(px_backend *b, float *dst, const float *src, int64_t n) {
    px_cuda *c = cu(b);
    USE(c);
    return px_cuda_accumulate(c, dst, src, n);
}

static px_status cuda_sync(px_backend *b) {
    px_cuda *c = cu(b);
    USE(c);
    PX_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
    return PX_OK;
}

static px_status cuda_host_alloc(px_backend *b, size_t bytes, void **out) {
    px_cuda *c = cu(b);
    USE(c);
    *out = NULL;
    if (c->n_pinned == (int)(sizeof c->pinned / sizeof c->pinned[0]))
        return px_cuda_host->set_error(PX_ERR_NOMEM, "cuda:%d: too many page-locked buffers", c->device);
    PX_CUDA_CHECK(c, cudaHostAlloc(out, bytes ? bytes : 1, cudaHostAllocDefault));
    memset(*out, 0, bytes);
    c->pinned[c->n_pinned].p = (char *)*out;
    c->pinned[c->n_pinned++].bytes = bytes;
    return PX_OK;
}

static void cuda_host_free(px_backend *b, void *p) {
    px_cuda *c = cu(b);
    if (!p || use_device(c) != PX_OK) return;
    cudaStreamSynchronize(c->stream); /* an upload from it may be in flight */
    for (int i = 0; i < c->n_pinned; i++)
        if (c->pinned[i].p == (char *)p) c->pinned[i] = c->pinned[--c->n_pinned];
    cudaFreeHost(p);
}

/* ------------------------------------------------------------ kernels ---- */

static bool cuda_supports(px_backend *b, const px_kernel *k, bool backward) {
    return px_cuda_supports(cu(b), k, backward);
}
static size_t cuda_work_bytes(px_backend *b, const px_kernel *k, bool backward) {
    return px_cuda_work_bytes(cu(b), k, backward);
}
static size_t cuda_state_bytes(px_backend *b, const px_kernel *k, size_t cpu_bytes) {
    return px_cuda_state_bytes(cu(b), k, cpu_bytes);
}
static px_status cuda_forward(px_backend *b, const px_kernel *k) {
    px_cuda *c = cu(b);
    USE(c);
    return px_cuda_forward(c, k);
}
static px_status cuda_backward(px_backend *b, const px_kernel *k) {
    px_cuda *c = cu(b);
    USE(c);
    return px_cuda_backward(c, k);
}
static px_status cuda_optimizer(px_backend *b, const px_optim_kernel *k) {
    px_cuda *c = cu(b);
    USE(c);
    return px_cuda_optimizer(c, k);
}

/* ---------------------------------------------------- record / replay ---- */

static px_status cuda_record_begin(px_backend *b) {
    px_cuda *c = cu(b);
    USE(c);
    if (c->recording) return px_cuda_host->set_error(PX_ERR_STATE, "cuda:%d: a step is already being recorded", c->device);
    /* thread-local mode: other threads' CUDA calls are not disturbed by this capture */
    PX_CUDA_CHECK(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    c->recording = true;
    return PX_OK;
}

static px_status cuda_record_end(px_backend *b, void **step) {
    px_cuda *c = cu(b);
    USE(c);
    *step = NULL;
    if (!c->recording) return px_cuda_host->set_error(PX_ERR_STATE, "cuda:%d: no step is being recorded", c->device);
    c->recording = false;
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(c->stream, &graph);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* a failed capture leaves no error behind for later calls */
        return px_cuda_fail(c, PX_ERR_STATE, "cudaStreamEndCapture", cudaGetErrorString(e), __FILE__, __LINE__);
    }
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return px_cuda_fail(c, PX_ERR_STATE, "cudaGraphInstantiate", cudaGetErrorString(e), __FILE__, __LINE__);
    }
    *step = (void *)exec;
    return PX_OK;
}

static px_status cuda_replay(px_backend *b, void *step) {
    px_cuda *c = cu(b);
    USE(c);
    PX_CUDA_CHECK(c, cudaGraphLaunch((cudaGraphExec_t)step, c->stream));
    return PX_OK;
}

static void cuda_step_free(px_backend *b, void *step) {
    px_cuda *c = cu(b);
    if (!step || use_device(c) != PX_OK) return;
    cudaStreamSynchronize(c->stream);
    cudaGraphExecDestroy((cudaGraphExec_t)step);
}

/* --------------------------------------------------------------- comm ---- */

static px_status cuda_comm_id(px_backend *b, void *id) { return px_cuda_comm_id(cu(b), id); }
static px_status cuda_comm_init(px_backend *b, const void *id, int n_ranks, int rank) {
    return px_cuda_comm_init(cu(b), id, n_ranks, rank);
}
static px_status cuda_all_reduce_sum(px_backend *b, float *data, int64_t n) {
    px_cuda *c = cu(b);
    USE(c);
    return px_cuda_all_reduce_sum(c, data, n);
}
static px_status cuda_all_reduce_wait(px_backend *b) {
    px_cuda *c = cu(b);
    USE(c);
    return px_cuda_all_reduce_wait(c);
}

static void cuda_destroy(px_backend *b) {
    px_cuda *c = cu(b);
    if (use_device(c) != PX_OK) return;
    cudaStreamSynchronize(c->stream);
    px_cuda_comm_free(c);
#ifdef PX_HAVE_CUDNN
    cudnnDestroy(c->dnn);
#endif
    cublasDestroy(c->blas);
    cudaFree(c->blas_work);
    if (c->ring) cudaFreeHost(c->ring);
    cudaStreamDestroy(c->stream);
    free(c);
}

static const px_backend_ops cuda_ops = {
    cuda_alloc,      cuda_free,        cuda_upload,      cuda_download,    cuda_copy,         cuda_zero,
    cuda_accumulate, cuda_sync,        cuda_host_alloc,  cuda_host_free,   cuda_supports,     cuda_work_bytes,
    cuda_state_bytes, cuda_forward,    cuda_backward,    cuda_optimizer,   cuda_record_begin, cuda_record_end,
    cuda_replay,     cuda_step_free,   cuda_comm_id,     cuda_comm_init,   cuda_all_reduce_sum, cuda_all_reduce_wait,
    cuda_destroy,
};

/* ------------------------------------------------------------- module ---- */

static int device_count(char *why, size_t len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorInsufficientDriver) {
        int rt = 0;
        cudaRuntimeGetVersion(&rt);
        snprintf(why, len, "no NVIDIA driver is loaded, or it is older than this CUDA runtime (%d.%d)", rt / 1000,
                 rt % 1000 / 10);
        return 0;
    }
    if (e != cudaSuccess) {
        snprintf(why, len, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        return 0;
    }
    if (n == 0) snprintf(why, len, "the CUDA runtime finds no GPU");
    return n;
}

static px_status device_info(int index, char *name, size_t len, size_t *memory_bytes) {
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, index);
    if (e != cudaSuccess) return px_cuda_fail(NULL, PX_ERR_STATE, "cudaGetDeviceProperties", cudaGetErrorString(e), __FILE__, __LINE__);
    snprintf(name, len, "%s", p.name);
    *memory_bytes = p.totalGlobalMem;
    return PX_OK;
}

/* Creates the handles one by one; on failure frees what exists. */
static px_status open_handles(px_cuda *c) {
    PX_CUDA_CHECK(c, cudaSetDevice(c->device));
    PX_CUDA_CHECK(c, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    PX_CUBLAS_CHECK(c, cublasCreate(&c->blas));
    PX_CUBLAS_CHECK(c, cublasSetStream(c->blas, c->stream));
    /* plain float32 products (no TF32), so results match the CPU to float rounding */
    PX_CUBLAS_CHECK(c, cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    const size_t blas_work = (size_t)32 << 20; /* NVIDIA's recommended size for Hopper */
    PX_CUDA_CHECK(c, cudaMalloc(&c->blas_work, blas_work));
    PX_CUBLAS_CHECK(c, cublasSetWorkspace(c->blas, c->blas_work, blas_work));
#ifdef PX_HAVE_CUDNN
    PX_CUDNN_CHECK(c, cudnnCreate(&c->dnn));
    PX_CUDNN_CHECK(c, cudnnSetStream(c->dnn, c->stream));
#endif
    return PX_OK;
}

static px_backend *open_device(int index) {
    px_cuda *c = (px_cuda *)calloc(1, sizeof *c);
    if (!c) {
        px_cuda_host->set_error(PX_ERR_NOMEM, "cuda:%d: out of memory", index);
        return NULL;
    }
    c->device = index;
    c->base.ops = &cuda_ops;
    c->base.host_memory = false;
    c->base.ctx = c;
    snprintf(c->base.name, sizeof c->base.name, "cuda:%d", index);
    if (open_handles(c) != PX_OK) {
        if (c->blas) cublasDestroy(c->blas);
        if (c->blas_work) cudaFree(c->blas_work);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
        return NULL;
    }
    n_open++;
    return &c->base;
}

static const px_device_module module = {PX_DEVICE_MODULE_VERSION, "cuda", device_count, device_info, open_device};

extern "C" __attribute__((visibility("default"))) const px_device_module *px_device_module_open(const px_host_api *host) {
    if (!host || host->version != PX_DEVICE_MODULE_VERSION) return NULL;
    px_cuda_host = host;
    return &module;
}
