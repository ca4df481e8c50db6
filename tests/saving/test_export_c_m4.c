/* Cross build of the exported ConvNet for a Cortex-M4 (Debian's
 * gcc-arm-none-eabi + libnewlib-arm-none-eabi), run bare metal under
 * qemu-system-arm (mps2-an386, semihosting for the files and the exit code):
 * its outputs equal px_model_predict's within 1e-5, float and int8 against the
 * same int8 code on the host; prints code, weight and RAM sizes from
 * arm-none-eabi-size. Skips (77) without the cross tools. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_check.h"
#include "graph/node.h"
#include "model/model_internal.h"
#include "px_test.h"

#define N 20

static const char *harness = "#include <stdio.h>\n#include \"net.h\"\n"
                             "static float in[net_INPUT_SIZE * %d], out[net_OUTPUT_SIZE * %d];\n"
                             "int main(void) {\n    FILE *f = fopen(\"in.bin\", \"rb\");\n"
                             "    if (!f || fread(in, sizeof in, 1, f) != 1) return 2;\n    fclose(f);\n"
                             "    if (net_predict_batch(in, out, %d)) return 3;\n    f = fopen(\"out.bin\", \"wb\");\n"
                             "    if (!f || fwrite(out, sizeof out, 1, f) != 1) return 4;\n    return fclose(f) ? 5 : 0;\n}\n";

/* Builds and runs the exported code (dir/net*.c) for the M4; outputs into got. */
static bool run_m4(const char *dir, const char *data, float *got, int64_t n_out, const char *tag) {
    char cmd[4000], path[600];
    snprintf(cmd, sizeof cmd,
             "cd %s && F='-std=c99 -O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Wall -Wextra -Werror -pedantic' && "
             "arm-none-eabi-gcc $F -c net.c && arm-none-eabi-gcc $F -c net_weights.c && arm-none-eabi-gcc $F -c main.c && "
             "arm-none-eabi-gcc -O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 --specs=rdimon.specs -nostartfiles "
             "-T %s/cortex_m4/link.ld %s/cortex_m4/startup.c main.o net.o net_weights.o -o net.elf -lm > cc.log 2>&1 && "
             "arm-none-eabi-size net.o net_weights.o net.elf > size.txt && "
             "timeout 120 qemu-system-arm -M mps2-an386 -nographic -semihosting -kernel net.elf",
             dir, data, data);
    int rc = system(cmd);
    CHECK(rc == 0);
    if (rc != 0) {
        printf("  %s: the Cortex-M4 build or run failed (%d; see %s/cc.log)\n", tag, rc, dir);
        return false;
    }
    snprintf(path, sizeof path, "%s/out.bin", dir);
    FILE *f = fopen(path, "rb");
    bool ok = f && fread(got, sizeof(float), (size_t)n_out, f) == (size_t)n_out;
    if (f) fclose(f);
    CHECK(ok);
    snprintf(path, sizeof path, "%s/size.txt", dir);
    f = fopen(path, "r");
    char line[256];
    long text[3] = {0}, data_[3] = {0}, bss[3] = {0};
    for (int i = -1; f && fgets(line, sizeof line, f) && i < 3; i++)
        if (i >= 0) sscanf(line, "%ld %ld %ld", &text[i], &data_[i], &bss[i]);
    if (f) fclose(f);
    printf("  %s on the Cortex-M4: code %ld bytes (net.o .text), weights %ld bytes of flash (net_weights.o), "
           "static RAM %ld bytes, whole program %ld bytes of flash\n",
           tag, text[0], text[1] + data_[1], data_[0] + bss[0], text[2] + data_[2]);
    return ok;
}

static void test_cortex_m4(void) {
    if (system("command -v arm-none-eabi-gcc > /dev/null && command -v qemu-system-arm > /dev/null") != 0) {
        px_test_skip("gcc-arm-none-eabi, libnewlib-arm-none-eabi or qemu-system-arm is not installed");
        return;
    }
    char data[1024];
    if (!realpath(px_test_data("."), data)) {
        CHECK(!"test data");
        return;
    }
    px_model *m = export_course_convnet();
    export_randomize(m, 9);
    px_tensor *x = px_tensor_zeros(PX_SHAPE(N, 28, 28));
    px_rng rng = px_rng_seeded(4);
    for (int64_t i = 0; i < px_tensor_size(x); i++) px_tensor_f32(x)[i] = px_rng_uniform(&rng);
    px_tensor *ref = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK_NOT_NULL(ref);
    float host_q[N * 10], got[N * 10];
    /* int8 on the host: the reference for the M4's int8 run */
    CHECK(export_run(m, &(px_export_c_options){.int8 = true, .calibration = x}, px_tensor_f32(x), N, 784, host_q, 10));
    for (int q = 0; q < 2 && ref; q++) {
        char dir[] = "/tmp/px_m4_XXXXXX", path[600];
        CHECK(mkdtemp(dir) != NULL);
        CHECK_OK(px_model_export_c(m, dir, &(px_export_c_options){.name = "net", .separate_weights = true, .int8 = q == 1,
                                                                  .calibration = x}));
        snprintf(path, sizeof path, "%s/main.c", dir);
        FILE *f = fopen(path, "w");
        fprintf(f, harness, N, N, N);
        fclose(f);
        snprintf(path, sizeof path, "%s/in.bin", dir);
        f = fopen(path, "wb");
        fwrite(px_tensor_f32(x), sizeof(float), N * 784, f);
        fclose(f);
        if (run_m4(dir, data, got, N * 10, q ? "ConvNet int8" : "ConvNet float")) {
            const float *want = q ? host_q : px_tensor_f32(ref);
            double worst = 0;
            for (int i = 0; i < N * 10; i++) {
                double d = fabs((double)got[i] - want[i]);
                if (!(d <= worst)) worst = d;
            }
            CHECK(worst <= 1e-5);
            printf("  %s: QEMU Cortex-M4 vs %s on %d images: largest difference %.2g\n", q ? "int8" : "float",
                   q ? "the same int8 code on this machine" : "px_model_predict", N, worst);
            char cmd[700];
            snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
            if (px_test_failed == 0 && system(cmd) != 0) printf("  could not remove %s\n", dir);
        }
    }
    px_tensor_free(x);
    px_tensor_free(ref);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_cortex_m4);
    return px_test_finish();
}
