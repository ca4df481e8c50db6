/* Data-parallel training across processes and machines over MPI: every process
 * (rank) holds a replica of the model, trains on its share of each global
 * batch, and the gradients are summed over the replicas while the backward
 * pass runs, so that every replica takes the same optimizer step. Start the
 * program with mpirun; see docs/distributed.md. */
#ifndef PLEXUS_DIST_H
#define PLEXUS_DIST_H

#include <stddef.h>

#include "export.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when this build of Plexus has MPI (the CMake option PX_MPI, on when MPI
 * is found); without it the calls below fail with PX_ERR_UNSUPPORTED. */
PX_API bool px_dist_available(void);
/* True when this process was started by an MPI launcher (mpirun, mpiexec, or a
 * batch scheduler's srun with PMI/PMIx): what the environment says, before and
 * without starting MPI. */
PX_API bool px_dist_launched(void);

/* Starts MPI (argc and argv may be NULL). Also done by px_dist_strategy when
 * needed; a process not started by a launcher becomes a job of one rank.
 * Unless OMP_NUM_THREADS is set, ranks that share cores on one machine take a
 * share of them each (px_set_num_threads: the cores / the ranks sharing them),
 * rather than a thread per core each. */
PX_API px_status px_dist_init(int *argc, char ***argv);
/* This process's rank and the number of ranks (0 and 1 before px_dist_init). */
PX_API int px_dist_rank(void);
PX_API int px_dist_size(void);
/* Ends this process's part of the job. Every rank calls it last with its own
 * outcome: PX_OK, or the status of its failure (with px_last_error's message,
 * which the other ranks are then told). It returns PX_OK when every rank got
 * this far without a failure, else the first failure seen (PX_ERR_REMOTE with
 * the message of another rank's), so that rank 0 can report it. When a rank
 * stopped answering (a timeout), MPI is left without MPI_Finalize, which would
 * wait for that rank: the process should then exit, and mpirun, seeing ranks
 * end without finalizing, ends the job (the hanging rank too). Without MPI
 * started it returns `mine`. */
PX_API px_status px_dist_finalize(px_status mine);

typedef struct px_dist_options {
    /* Gradients are summed in buckets of about this many bytes, each started as
     * soon as the backward pass has finished that much of the gradient block
     * (whole variables, the last layers' first). 0: a sixteenth of the block,
     * at least 64 KiB and at most 16 MiB. */
    int64_t bucket_bytes;
    /* Seconds a rank waits for the others at one collective step before it gives
     * up and stops the job. 0: the environment's PX_DIST_TIMEOUT, else 300. */
    double timeout;
    /* Sum the gradients only after the backward pass (for measuring the overlap). */
    bool no_overlap;
    /* When every rank trains on a device that sums between processes itself
     * (CUDA with NCCL; the reference device), gradients are summed there; with
     * this they go through the host over MPI instead (for comparing the two). */
    bool host_sums;
} px_dist_options;

/* A data-parallel strategy over all ranks of the job (MPI_COMM_WORLD), for
 * px_fit_options.strategy and px_eval_options.strategy. Every rank calls fit
 * with the same model, data, options and global batch_size; then:
 * - at the start of fit rank 0's weights, optimizer state and shuffling
 *   generator are sent to every rank (so a run resumed from rank 0's checkpoint
 *   continues with any number of ranks);
 * - each global batch (the same order on every rank for any number of ranks) is
 *   split into contiguous shares by index; BatchNormalization uses the
 *   statistics of the whole global batch;
 * - logs and validation results are summed over the ranks, so the History is
 *   the same on every rank; callbacks marked chief_only and the progress bar
 *   run on rank 0 only;
 * - a rank that fails tells the others, and fit returns an error on every rank
 *   (PX_ERR_REMOTE on those that did not fail themselves) instead of waiting.
 * Free with px_strategy_free; opts may be NULL. */
PX_API px_strategy *px_dist_strategy(const px_dist_options *opts);
PX_API void px_strategy_free(px_strategy *s);

/* What a strategy measured since it was made (for benchmarks). */
typedef struct px_dist_stats {
    int64_t steps;             /* training steps */
    int64_t gradient_bytes;    /* bytes of gradients summed per step (the last step's) */
    int buckets;               /* all-reduce buckets per step (the last step's) */
    int64_t last_bucket_bytes; /* the bucket started last, at the end of the backward pass (the last step's) */
    double exposed_s;          /* waiting for the gradient sums after the backward pass */
    double inline_s;           /* in the all-reduce calls made during the backward pass */
    double stats_s;            /* in the small collectives: BatchNormalization statistics, logs */
    int64_t device_steps;      /* steps whose gradients the device summed (NCCL), not the host */
} px_dist_stats;
PX_API px_status px_dist_get_stats(const px_strategy *s, px_dist_stats *out);

/* Reads a file on rank 0 and hands its bytes to every rank, for files that only
 * rank 0's machine has (a checkpoint to resume from); a pipe, or "-" for
 * standard input, is read once, to its end. *data (malloc'd, the
 * caller frees it) and *len on every rank; a failure on rank 0 fails every rank. */
PX_API px_status px_dist_broadcast_file(const char *path, char **data, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
