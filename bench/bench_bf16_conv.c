/* Whether oneDNN's convolution primitive would speed up the course ConvNet's
 * convolutions under mixed_bfloat16: milliseconds per batch of 64 on one thread of
 * its forward, data-gradient (not for the first convolution, whose input is the
 * data) and weight-gradient primitives for each of the three convolutions, in
 * float32 and in bf16 (bf16 inputs, float32 results), with the layouts oneDNN
 * chooses and the reorders into them left out of the timing (its best case).
 * Compare with "bench_convnet layers", Plexus's own kernels on the same shapes
 * (docs/performance.md, "bf16 products"). Usage: bench_bf16_conv [repetitions (200)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_util.h"

#ifdef PX_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static dnnl_memory_desc_t md_any(int64_t a, int64_t b, int64_t c, int64_t d, dnnl_data_type_t t) {
    dnnl_memory_desc_t m;
    dnnl_dims_t dims = {a, b, c, d};
    dnnl_memory_desc_init_by_tag(&m, 4, dims, t, dnnl_format_tag_any);
    return m;
}

/* A memory of the layout primitive descriptor pd chose for its argument (what, index)
 * (index 1 of the weights: the bias), or NULL. Filled with bytes 0x3c (about 0.0115
 * as float32 and as bf16): the kernels time ordinary numbers, never whatever the
 * allocation held (subnormals or NaNs could slow some of them). */
static dnnl_memory_t mem_at(dnnl_primitive_desc_t pd, dnnl_query_t what, int index) {
    dnnl_memory_t m = NULL;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, index);
    void *data = NULL;
    if (dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE) != dnnl_success) return NULL;
    if (dnnl_memory_get_data_handle(m, &data) == dnnl_success && data)
        memset(data, 0x3c, dnnl_memory_desc_get_size(md));
    return m;
}

static dnnl_memory_t mem_of(dnnl_primitive_desc_t pd, dnnl_query_t what) { return mem_at(pd, what, 0); }

/* ms per execution of pd's primitive with arguments args, after a few untimed runs;
 * prints it with oneDNN's name for the kernel. Destroys the arguments' memories.
 * 0 (and a line saying so) when a memory or the primitive could not be made, so
 * that a total leaves it out rather than taking off a negative time. */
static double time_primitive(dnnl_primitive_desc_t pd, int nargs, dnnl_exec_arg_t *args, const char *what,
                             int reps) {
    bool ok = true;
    for (int i = 0; i < nargs; i++) ok = ok && args[i].memory;
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    dnnl_primitive_t p = NULL;
    double ms = 0;
    if (ok && dnnl_primitive_create(&p, pd) == dnnl_success) {
        for (int i = 0; i < 3; i++) dnnl_primitive_execute(p, stream, nargs, args);
        dnnl_stream_wait(stream);
        double t0 = now();
        for (int i = 0; i < reps; i++) dnnl_primitive_execute(p, stream, nargs, args);
        dnnl_stream_wait(stream);
        ms = (now() - t0) / reps * 1e3;
        printf("  %-14s %-30s %7.3f ms\n", what, impl, ms);
        dnnl_primitive_destroy(p);
    } else {
        printf("  %-14s %-30s could not be set up (out of memory?)\n", what, impl);
    }
    for (int i = 0; i < nargs; i++)
        if (args[i].memory) dnnl_memory_destroy(args[i].memory);
    return ms;
}

/* One convolution: N x hw x hw x c -> f filters k x k, stride s, "same" padding. */
static void conv(int hw, int c, int k, int f, int s, bool data_grad, dnnl_data_type_t t, int reps) {
    const int n = 64, out = (hw + s - 1) / s, pad = (out - 1) * s + k - hw;
    dnnl_dims_t strides = {s, s}, pl = {pad / 2, pad / 2}, pr = {pad - pad / 2, pad - pad / 2};
    dnnl_memory_desc_t src = md_any(n, c, hw, hw, t), wei = md_any(f, c, k, k, t), dst = md_any(n, f, out, out, dnnl_f32);
    dnnl_memory_desc_t dsrc = md_any(n, c, hw, hw, dnnl_f32), ddst = md_any(n, f, out, out, t);
    dnnl_memory_desc_t dwei = md_any(f, c, k, k, dnnl_f32), bias;
    dnnl_dims_t bd = {f};
    dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x);
    printf("conv %dx%dx%d -> %d filters %dx%d stride %d, %s:\n", hw, hw, c, f, k, k, s, t == dnnl_bf16 ? "bf16" : "f32");
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t fwd = NULL, bwd_d = NULL, bwd_w = NULL;
    double total = 0;
    if (dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, &bias, &dst,
                                           strides, pl, pr) != dnnl_success ||
        dnnl_primitive_desc_create(&fwd, &d, NULL, engine, NULL) != dnnl_success) {
        printf("  oneDNN has no forward convolution for this\n");
        return;
    }
    total += time_primitive(fwd, 4,
                            (dnnl_exec_arg_t[]){{DNNL_ARG_SRC, mem_of(fwd, dnnl_query_src_md)},
                                                {DNNL_ARG_WEIGHTS, mem_of(fwd, dnnl_query_weights_md)},
                                                {DNNL_ARG_BIAS, mem_at(fwd, dnnl_query_weights_md, 1)},
                                                {DNNL_ARG_DST, mem_of(fwd, dnnl_query_dst_md)}},
                            "forward", reps);
    if (data_grad &&
        dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &dsrc, &wei, &ddst, strides, pl, pr) ==
            dnnl_success &&
        dnnl_primitive_desc_create(&bwd_d, &d, NULL, engine, fwd) == dnnl_success)
        total += time_primitive(bwd_d, 3,
                                (dnnl_exec_arg_t[]){{DNNL_ARG_DIFF_SRC, mem_of(bwd_d, dnnl_query_diff_src_md)},
                                                    {DNNL_ARG_WEIGHTS, mem_of(bwd_d, dnnl_query_weights_md)},
                                                    {DNNL_ARG_DIFF_DST, mem_of(bwd_d, dnnl_query_diff_dst_md)}},
                                "data grad", reps);
    if (dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &src, &dwei, &bias, &ddst, strides,
                                                    pl, pr) == dnnl_success &&
        dnnl_primitive_desc_create(&bwd_w, &d, NULL, engine, fwd) == dnnl_success)
        total += time_primitive(bwd_w, 4,
                                (dnnl_exec_arg_t[]){{DNNL_ARG_SRC, mem_of(bwd_w, dnnl_query_src_md)},
                                                    {DNNL_ARG_DIFF_WEIGHTS, mem_of(bwd_w, dnnl_query_diff_weights_md)},
                                                    {DNNL_ARG_DIFF_BIAS, mem_at(bwd_w, dnnl_query_diff_weights_md, 1)},
                                                    {DNNL_ARG_DIFF_DST, mem_of(bwd_w, dnnl_query_diff_dst_md)}},
                                "weight grad", reps);
    printf("  %-45s %7.3f ms\n", "forward + backward", total);
    if (bwd_w) dnnl_primitive_desc_destroy(bwd_w);
    if (bwd_d) dnnl_primitive_desc_destroy(bwd_d);
    dnnl_primitive_desc_destroy(fwd);
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_bf16_conv [repetitions (200)]\n")) return 0;
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    if (reps < 1) return fprintf(stderr, "usage: bench_bf16_conv [repetitions]\n"), 2;
#ifdef _OPENMP
    omp_set_num_threads(1); /* oneDNN's kernels run on this thread alone, as px_gemm_bf16's do */
#endif
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success)
        return fprintf(stderr, "bench_bf16_conv: oneDNN could not start a CPU engine\n"), 1;
    /* the course ConvNet's convolutions (bench_models.h), batch 64 */
    static const int shapes[3][5] = {{28, 1, 5, 4, 1}, {28, 4, 4, 8, 2}, {14, 8, 4, 12, 2}};
    for (int t = 0; t < 2; t++)
        for (int l = 0; l < 3; l++)
            conv(shapes[l][0], shapes[l][1], shapes[l][2], shapes[l][3], shapes[l][4], l > 0,
                 t ? dnnl_bf16 : dnnl_f32, reps);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}

#else
int main(void) {
    fprintf(stderr, "bench_bf16_conv: this build has no oneDNN\n");
    return 1;
}
#endif
