/* Internal: the reference device (ref_backend.c, ref_kernels.c): host memory
 * that behaves like a separate device, so that sessions, placement, copies and
 * CPU fallback are tested in the ordinary suite with no GPU. */
#ifndef PX_BACKEND_REF_REF_H
#define PX_BACKEND_REF_REF_H

#include "backend/backend.h"

/* The device kernels (kernels/dispatch.h) run as plain loops on host memory. */
bool px_ref_kernel_supports(const px_kernel *k);
size_t px_ref_kernel_work_bytes(const px_kernel *k, bool backward);
size_t px_ref_kernel_state_bytes(const px_kernel *k, size_t cpu_bytes);
px_status px_ref_kernel_forward(const px_kernel *k);
px_status px_ref_kernel_backward(const px_kernel *k);
px_status px_ref_kernel_optimizer(const px_optim_kernel *k);
px_status px_ref_kernel_accumulate(float *dst, const float *src, int64_t n);

/* Sums between the reference devices of several processes on one machine
 * (ref_comm.c), NCCL's part for this device: comm_id makes the id on one
 * process, every process joins with comm_init, comm_sum adds `data` (device
 * memory, open to the caller) over all of them in place. */
px_status px_ref_comm_id(void *id);
px_status px_ref_comm_init(const void *id, int n_ranks, int rank);
px_status px_ref_comm_sum(float *data, int64_t n);
void px_ref_comm_free(void);

/* For tests: makes the reference device act as if it had no kernel for op
 * `code` (true) or restores it, so that CPU fallback can be forced on any op. */
void px_ref_set_lacking(px_kcode code, bool lacking);

/* For tests: number of recorded steps replayed so far. */
int px_ref_replays(void);

/* For tests: uploads so far whose source lay in one of the device's host
 * buffers (host_alloc, page-locked on a GPU). */
int px_ref_host_uploads(void);

/* For tests: number of buffers the device holds now (leak checks). */
int px_ref_buffer_count(void);

#endif
