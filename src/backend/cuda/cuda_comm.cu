/* Gradient sums between the GPUs of several processes through NCCL (Debian's
 * Open MPI is not CUDA-aware). The data-parallel trainer exchanges the id that
 * comm_id makes on one process (over MPI, say); each process then joins with
 * comm_init and sums its device gradient block, bucket by bucket as the
 * backward pass fills it, with all_reduce_sum on a stream beside the work's,
 * joined back by all_reduce_wait before the optimizer reads the sums. */
#include <string.h>

#include "backend/cuda/cuda_internal.h"

#ifdef PX_HAVE_NCCL

static_assert(sizeof(ncclUniqueId) <= PX_COMM_ID_BYTES, "an NCCL id must fit PX_COMM_ID_BYTES");

px_status px_cuda_comm_id(px_cuda *c, void *id) {
    ncclUniqueId u;
    PX_NCCL_CHECK(c, ncclGetUniqueId(&u));
    memset(id, 0, PX_COMM_ID_BYTES);
    memcpy(id, &u, sizeof u);
    return PX_OK;
}

px_status px_cuda_comm_init(px_cuda *c, const void *id, int n_ranks, int rank) {
    if (n_ranks < 1 || rank < 0 || rank >= n_ranks)
        return px_cuda_host->set_error(PX_ERR_ARG, "cuda:%d: rank %d of %d processes is out of range", c->device, rank,
                                       n_ranks);
    px_cuda_comm_free(c);
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    PX_CUDA_CHECK(c, cudaSetDevice(c->device));
    PX_CUDA_CHECK(c, cudaStreamCreateWithFlags(&c->comm_stream, cudaStreamNonBlocking));
    PX_CUDA_CHECK(c, cudaEventCreateWithFlags(&c->queued, cudaEventDisableTiming));
    PX_CUDA_CHECK(c, cudaEventCreateWithFlags(&c->summed, cudaEventDisableTiming));
    PX_NCCL_CHECK(c, ncclCommInitRank(&c->comm, n_ranks, u, rank));
    c->has_comm = true;
    return PX_OK;
}

/* After the work queued so far, on the sums' stream. */
px_status px_cuda_all_reduce_sum(px_cuda *c, float *data, int64_t n) {
    if (!c->has_comm)
        return px_cuda_host->set_error(PX_ERR_STATE, "cuda:%d: all-reduce before comm_init", c->device);
    if (n == 0) return PX_OK;
    PX_CUDA_CHECK(c, cudaEventRecord(c->queued, c->stream));
    PX_CUDA_CHECK(c, cudaStreamWaitEvent(c->comm_stream, c->queued, 0));
    PX_NCCL_CHECK(c, ncclAllReduce(data, data, (size_t)n, ncclFloat, ncclSum, c->comm, c->comm_stream));
    c->comm_pending = true;
    return PX_OK;
}

/* The work queued from now on waits for every sum queued before. */
px_status px_cuda_all_reduce_wait(px_cuda *c) {
    if (!c->has_comm || !c->comm_pending) return PX_OK;
    PX_CUDA_CHECK(c, cudaEventRecord(c->summed, c->comm_stream));
    PX_CUDA_CHECK(c, cudaStreamWaitEvent(c->stream, c->summed, 0));
    c->comm_pending = false;
    return PX_OK;
}

void px_cuda_comm_free(px_cuda *c) {
    if (c->has_comm) {
        cudaStreamSynchronize(c->comm_stream);
        ncclCommDestroy(c->comm);
        cudaEventDestroy(c->queued);
        cudaEventDestroy(c->summed);
        cudaStreamDestroy(c->comm_stream);
    }
    c->has_comm = false;
}

#else

static px_status no_nccl(px_cuda *c) {
    return px_cuda_host->set_error(PX_ERR_UNSUPPORTED, "cuda:%d: this CUDA module was built without NCCL", c->device);
}
px_status px_cuda_comm_id(px_cuda *c, void *id) {
    (void)id;
    return no_nccl(c);
}
px_status px_cuda_comm_init(px_cuda *c, const void *id, int n_ranks, int rank) {
    (void)id, (void)n_ranks, (void)rank;
    return no_nccl(c);
}
px_status px_cuda_all_reduce_sum(px_cuda *c, float *data, int64_t n) {
    (void)data, (void)n;
    return no_nccl(c);
}
px_status px_cuda_all_reduce_wait(px_cuda *c) {
    (void)c;
    return PX_OK;
}
void px_cuda_comm_free(px_cuda *c) { (void)c; }

#endif
