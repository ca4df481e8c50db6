/* NCCL in the CUDA module on one GPU: an id is made, one process joins a
 * communicator of one rank, and an all-reduce over device memory gives its
 * input back (a sum over one rank, read after the wait that orders the sums'
 * stream before later work), also for an empty buffer; a rank out of
 * range is refused. Sums between several GPUs need several processes with a
 * GPU each (tests/dist runs that path on the reference device). Skipped
 * without a GPU; fails when the module was built without NCCL. */
#include <string.h>

#include "gpu_util.h"

int main(void) {
    px_backend *b = px_gpu_or_skip();
    char id[PX_COMM_ID_BYTES];
    CHECK_OK(b->ops->comm_id(b, id));
    CHECK(b->ops->comm_init(b, id, 1, 1) == PX_ERR_ARG);
    CHECK_OK(b->ops->comm_init(b, id, 1, 0));
    enum { N = 1000003 };
    static float host[N], back[N];
    for (int i = 0; i < N; i++) host[i] = (float)(i % 97) - 48.5f;
    float *dev = NULL;
    CHECK_OK(b->ops->alloc(b, sizeof host, (void **)&dev));
    CHECK_OK(b->ops->upload(b, dev, host, sizeof host));
    CHECK_OK(b->ops->all_reduce_sum(b, dev, N));
    CHECK_OK(b->ops->all_reduce_sum(b, dev, 0));
    /* the sums run on a stream of their own until the wait joins them back */
    CHECK_OK(b->ops->all_reduce_wait(b));
    CHECK_OK(b->ops->download(b, back, dev, sizeof back));
    CHECK(memcmp(host, back, sizeof host) == 0);
    b->ops->free(b, dev);
    return px_test_finish();
}
