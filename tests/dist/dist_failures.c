/* A rank that fails makes every rank stop, never wait: run under mpirun with 3
 * ranks by tests/dist/test_dist_cli.py, one mode per job.
 *   fail      rank 1's callback fails in the middle of the second epoch: fit
 *             returns that error on rank 1 and PX_ERR_REMOTE naming rank 1 and
 *             its message on the others, within seconds;
 *   disagree  rank 1 has one more training example: every rank refuses to start
 *             with a message naming the difference;
 *   otherdata rank 1's data have the same size and one other value: refused too;
 *   hang      rank 1 sleeps in a callback (a rank that hangs): with
 *             PX_DIST_TIMEOUT=2 the others give up after 2 s, and
 *             px_dist_finalize ends the job (MPI_Abort), so mpirun exits
 *             non-zero long before the sleeper would wake.
 * Each rank prints "rank R: <status>: <message>" and exits 0 when its fit
 * ended as the mode expects (hang: the job is aborted instead). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plexus/plexus.h>
#include "core/clock.h"

static int rank_;
static const char *mode;

static px_status on_batch(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)cb, (void)m, (void)logs;
    static int epoch_batches;
    epoch_batches++;
    if (rank_ != 1 || epoch_batches != 5) return PX_OK; /* 3 batches per epoch: the second of epoch 2 */
    if (strcmp(mode, "hang") == 0) {
        sleep(60);
        return PX_OK;
    }
    return px_set_error(PX_ERR_NUMERIC, "test: rank 1 fails at batch %d", batch);
}

int main(int argc, char **argv) {
    mode = argc > 1 ? argv[1] : "fail";
    if (px_dist_init(&argc, &argv) != PX_OK) {
        fprintf(stderr, "%s\n", px_last_error());
        return 1;
    }
    rank_ = px_dist_rank();
    px_set_num_threads(1);
    int n = 60 + (strcmp(mode, "disagree") == 0 && rank_ == 1);
    px_tensor *x = px_tensor_zeros(PX_SHAPE(n, 4)), *y = px_tensor_zeros(PX_SHAPE(n, 1));
    for (int i = 0; i < n * 4; i++) px_tensor_f32(x)[i] = (float)((i * 37) % 11) / 11.0f;
    if (strcmp(mode, "otherdata") == 0 && rank_ == 1) px_tensor_f32(x)[29] += 0.5f;
    px_dataset *d = px_dataset_new(x, y);
    px_set_random_seed(3);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4), "x"), px_dense(8, PX_RELU), px_dense(1, PX_LINEAR), NULL});
    px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(NULL)});
    px_strategy *s = px_dist_strategy(NULL);
    px_callback cb = {.name = "fault", .on_batch_end = on_batch};
    px_callback *cbs[] = {&cb};
    double t0 = px_clock_seconds();
    px_status st = px_model_fit(m, d, &(px_fit_options){.epochs = 4, .batch_size = 20, .verbose = PX_VERBOSE_SILENT,
                                                        .callbacks = cbs, .n_callbacks = 1, .strategy = s});
    double took = px_clock_seconds() - t0;
    char msg[1200];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    printf("rank %d: %s: %s (%.1f s)\n", rank_, px_status_name(st), st ? msg : "trained", took);
    fflush(stdout);
    bool ok = took < 10;
    if (strcmp(mode, "fail") == 0)
        ok = ok && (rank_ == 1 ? st == PX_ERR_NUMERIC && strstr(msg, "rank 1 fails at batch 1")
                               : st == PX_ERR_REMOTE && strstr(msg, "rank 1 failed: test: rank 1 fails at batch 1"));
    else if (strcmp(mode, "disagree") == 0)
        ok = ok && st != PX_OK && strstr(msg, "disagree on the number of training examples (61 and 60)");
    else if (strcmp(mode, "otherdata") == 0)
        ok = ok && st != PX_OK && strstr(msg, "rank 1's training data differ from rank 0's");
    else
        ok = ok && (rank_ == 1 || (st == PX_ERR_REMOTE && strstr(msg, "no answer from the other ranks for 2 s")));
    px_model_free(m);
    px_dataset_free(d);
    px_strategy_free(s);
    px_status job = px_dist_finalize(st);
    /* fail and disagree: every rank learns of a failure */
    if (job == PX_OK) ok = false;
    if (!ok) printf("rank %d: NOT AS EXPECTED\n", rank_);
    return ok ? 0 : 1;
}
