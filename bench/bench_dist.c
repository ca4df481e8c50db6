/* Data-parallel training under mpirun: images per second of the course's MLP
 * or ConvNet on Fashion-MNIST, and where the all-reduce time goes (exposed
 * after the backward pass, spent inside it, small collectives); or the time
 * of one all-reduce per message size. bench/dist_bench.py runs it with 1 and
 * 2 ranks and writes the table of docs/performance.md.
 * Usage: mpirun -np N bench_dist train mlp|convnet [epochs (2)] [images (55000)] [--no-overlap]
 *        mpirun -np N bench_dist allreduce */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "bench_models.h"
#include "bench_util.h"
#include "dist/dist_internal.h"

/* Wall time and this process's CPU time of each epoch. CPU time counts the
 * work a rank did, not the time it slept waiting for a descheduled partner, so
 * it shows the cost of distributing even on a machine busy with other work. */
typedef struct timer {
    double start, cpu_start, *epoch_s, *epoch_cpu_s;
} timer;

static px_status epoch_begin(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)epoch, (void)logs;
    timer *t = cb->state;
    t->start = now();
    t->cpu_start = cpu_now();
    return PX_OK;
}

static px_status epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)logs;
    timer *t = cb->state;
    t->epoch_s[epoch] = now() - t->start;
    t->epoch_cpu_s[epoch] = cpu_now() - t->cpu_start;
    return PX_OK;
}

static int bench_train(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL}; /* model, epochs, images */
    bool overlap = true;
    for (int i = 2, n = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--no-overlap")) overlap = false;
        else if (n < 3) pos[n++] = argv[i];
    }
    bool convnet = pos[0] && !strcmp(pos[0], "convnet");
    int epochs = pos[1] ? atoi(pos[1]) : 2;
    long images = pos[2] ? atol(pos[2]) : 55000;
    if (epochs < 1 || images < 100) return fprintf(stderr, "bench_dist: bad epochs or images\n"), 2;
    px_dataset *train, *valid, *test;
    if (px_fashion_mnist_load(NULL, 55000, &train, &valid, &test) != PX_OK)
        return fprintf(stderr, "bench_dist: %s\n", px_last_error()), 1;
    px_dataset *part = images < 55000 ? px_dataset_slice(train, 0, images) : NULL;
    px_set_random_seed(42);
    /* as bench/fashion_mlp.c (SGD, batch 32) and bench/bench_convnet.c (Adam, batch 64) */
    px_model *m = convnet ? bench_course_convnet(px_adam(NULL)) : bench_course_mlp(px_sgd(NULL));
    px_strategy *s = px_dist_strategy(&(px_dist_options){.no_overlap = !overlap});
    double epoch_s[64] = {0}, epoch_cpu_s[64] = {0};
    timer t = {.epoch_s = epoch_s, .epoch_cpu_s = epoch_cpu_s};
    px_callback cb = {.name = "timer", .state = &t, .on_epoch_begin = epoch_begin, .on_epoch_end = epoch_end};
    px_callback *cbs[] = {&cb};
    int batch = convnet ? 64 : 32;
    px_status st = !m || !s ? px_last_status()
                            : px_model_fit(m, part ? part : train,
                                           &(px_fit_options){.epochs = epochs < 64 ? epochs : 64, .batch_size = batch,
                                                             .verbose = PX_VERBOSE_SILENT, .callbacks = cbs,
                                                             .n_callbacks = 1, .strategy = s});
    if (st != PX_OK) fprintf(stderr, "bench_dist: %s\n", px_last_error());
    px_dist_stats ds = {0};
    int e = (epochs < 64 ? epochs : 64) - 1; /* the last epoch: the first one also plans the session's memory */
    double cpu = epoch_cpu_s[e], *cpus = calloc((size_t)px_dist_size(), sizeof *cpus);
    if (st == PX_OK && cpus) st = px_comm_allgather(px_dist_job(0), &cpu, sizeof cpu, cpus);
    for (int r = 1; st == PX_OK && cpus && r < px_dist_size(); r++) cpu += cpus[r];
    free(cpus);
    if (st == PX_OK && px_dist_rank() == 0 && px_dist_get_stats(s, &ds) == PX_OK) {
        double last = epoch_s[e];
        int64_t n = part ? px_dataset_size(part) : px_dataset_size(train);
        double steps = (double)ds.steps;
        printf("{\"model\": \"%s\", \"ranks\": %d, \"threads\": %d, \"overlap\": %s, \"images\": %lld, "
               "\"batch\": %d, \"epoch_s\": %.4f, \"images_per_s\": %.1f, \"steps\": %lld, "
               "\"gradient_bytes\": %lld, \"buckets\": %d, \"exposed_ms\": %.4f, \"inline_ms\": %.4f, "
               "\"stats_ms\": %.4f, \"step_ms\": %.4f, \"cpu_us_per_image\": %.3f, \"last_bucket_bytes\": %lld}\n",
               convnet ? "convnet" : "mlp", px_dist_size(), px_num_threads(), overlap ? "true" : "false",
               (long long)n, batch, last, (double)n / last, (long long)ds.steps, (long long)ds.gradient_bytes,
               ds.buckets, 1e3 * ds.exposed_s / steps, 1e3 * ds.inline_s / steps, 1e3 * ds.stats_s / steps,
               1e3 * last / ((double)(n + batch - 1) / batch), 1e6 * cpu / (double)n, (long long)ds.last_bucket_bytes);
    }
    px_model_free(m);
    px_strategy_free(s);
    px_dataset_free(part);
    px_dataset_free(train);
    px_dataset_free(valid);
    px_dataset_free(test);
    return st == PX_OK ? 0 : 1;
}

/* The time of one all-reduce of n floats, the median of many, per size. */
static int bench_allreduce(void) {
    px_comm *c = px_dist_job(0);
    if (!c) return fprintf(stderr, "bench_dist: %s\n", px_last_error()), 1;
    px_allreduce_ops ar = px_comm_allreduce_ops(c);
    const int64_t sizes[] = {256, 1024, 4096, 16384, 65536, 262144, 1048576};
    float *buf = calloc(1048576, sizeof *buf);
    double times[200];
    for (size_t k = 0; buf && k < sizeof sizes / sizeof *sizes; k++) {
        int reps = sizes[k] >= 262144 ? 40 : 200;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            if (ar.start(ar.ctx, buf, sizes[k]) != PX_OK || ar.wait_all(ar.ctx) != PX_OK) {
                free(buf);
                return fprintf(stderr, "bench_dist: %s\n", px_last_error()), 1;
            }
            times[r] = now() - t0;
        }
        qsort(times, (size_t)reps, sizeof *times, by_value);
        if (px_comm_rank(c) == 0)
            printf("{\"allreduce_bytes\": %lld, \"ranks\": %d, \"median_us\": %.2f}\n", (long long)(4 * sizes[k]),
                   px_comm_size(c), 1e6 * times[reps / 2]);
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv,
                   "usage: mpirun -np N bench_dist train mlp|convnet [epochs (2)] [images (55000)] [--no-overlap]\n"
                   "       mpirun -np N bench_dist allreduce\n"))
        return 0;
    if (argc < 2 || (strcmp(argv[1], "train") && strcmp(argv[1], "allreduce")))
        return fprintf(stderr, "usage: bench_dist train mlp|convnet [epochs] [images] [--no-overlap] | allreduce\n"), 2;
    if (px_dist_init(&argc, &argv) != PX_OK) return fprintf(stderr, "bench_dist: %s\n", px_last_error()), 1;
    int rc = !strcmp(argv[1], "train") ? bench_train(argc, argv) : bench_allreduce();
    px_dist_finalize(rc == 0 ? PX_OK : PX_ERR_STATE);
    return rc;
}
