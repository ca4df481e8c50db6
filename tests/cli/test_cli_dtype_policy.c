/* plexus train --dtype-policy: a name that is no policy is a usage error (2), a
 * processor without bf16 a one-line error (1, simulated), and where bf16 runs a
 * model trains under mixed_bfloat16 and its file records the policy. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm_bf16.h"
#include "cli/cli_util.h"
#include "px_test.h"

static void test_refusals(void) {
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 1 --dtype-policy mixed_float16",
                   cli_models, cli_iris) == 2);
    CHECK(cli_one_line_error("--dtype-policy: set_global_policy: dtype policy 'mixed_float16' is not supported"));
    CHECK(cli_sh("PX_BF16_DISABLE=1 \"$PLEXUS\" train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 1 "
                 "--dtype-policy mixed_bfloat16", cli_models, cli_iris) == 1);
    CHECK(cli_one_line_error("mixed_bfloat16 cannot run here: this processor has neither AVX512_BF16 nor AMX"));
}

static void test_trains_and_records_the_policy(void) {
    if (!px_bf16_supported(NULL)) {
        px_test_skip("mixed_bfloat16 cannot run here");
        return;
    }
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 2 --dtype-policy mixed_bfloat16 "
                   "-v 0 -o iris_bf16.h5", cli_models, cli_iris) == 0);
    char *f = cli_slurp(cli_path("iris_bf16.h5"));
    FILE *fp = fopen(cli_path("iris_bf16.h5"), "rb");
    size_t n = 0;
    if (fp) {
        fseek(fp, 0, SEEK_END);
        n = (size_t)ftell(fp);
        fclose(fp);
    }
    static const char want[] = "{\"class_name\": \"Policy\", \"config\": {\"name\": \"mixed_bfloat16\"}}";
    CHECK(f && n > 0 && memmem(f, n, want, sizeof want - 1) != NULL);
    free(f);
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_refusals);
    RUN_TEST(test_trains_and_records_the_policy);
    cli_teardown();
    return px_test_finish();
}
