/* Inputs of the `plexus` command as users give them (issue 18 items 3, 8, 17,
 * 19): standard input and pipes for CSVs and model JSON, spreadsheet CSVs (BOM,
 * CRLF), binary and endless inputs, FIFOs, labels out of range, layers too big. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "px_test.h"

static char model[1200]; /* iris_mlp.json */

static void test_pipes(void) {
    /* the model config from standard input and through a pipe (bash's <(...)) */
    CHECK(cli_sh("\"$PLEXUS\" summary - < '%s'", model) == 0 && strstr(cli_out, "Total params: 131"));
    CHECK(cli_sh("cat '%s' | \"$PLEXUS\" summary -", model) == 0 && strstr(cli_out, "Total params: 131"));
    CHECK(cli_sh("mkfifo m.json && (cat '%s' > m.json &) && \"$PLEXUS\" summary m.json", model) == 0 &&
          strstr(cli_out, "Total params: 131"));
    /* the training CSV through a pipe, the model from standard input */
    CHECK(cli_sh("cat '%s' | \"$PLEXUS\" train '%s' --train-csv - --header --epochs 2 -v 0 -o piped.h5", cli_iris, model) == 0);
    CHECK(cli_exists("piped.h5"));
    CHECK(cli_sh("\"$PLEXUS\" train - --train-csv '%s' --header --epochs 1 -v 0 -o piped2.h5 < '%s'", cli_iris, model) == 0);
    /* predict and evaluate read their CSV from standard input */
    CHECK(cli_sh("tail -n 5 '%s' | \"$PLEXUS\" predict piped.h5 --csv - --label-column -1 --classes", cli_iris) == 0);
    CHECK(strncmp(cli_out, "class\n", 6) == 0 && strlen(cli_out) == 6 + 5 * 2);
    CHECK(cli_sh("gzip -c '%s' | \"$PLEXUS\" evaluate piped.h5 --test-csv - --header", cli_iris) == 0 &&
          strstr(cli_out, "examples: 150"));
    /* one standard input only; a model file must be a file */
    CHECK(cli_runf("train - --train-csv - --epochs 1") == 2 && cli_one_line_error("only one input"));
    CHECK(cli_runf("predict - --csv x.csv") == 2 && cli_one_line_error("the model must be a file"));
    CHECK(cli_sh("\"$PLEXUS\" summary - < piped.h5") == 1 && cli_one_line_error("not model-config JSON"));
    /* a FIFO as the model file fails at once instead of blocking */
    CHECK(cli_sh("mkfifo nobody.h5 && timeout 20 \"$PLEXUS\" evaluate nobody.h5 --test-csv '%s' --header", cli_iris) == 1);
    CHECK(cli_one_line_error("'nobody.h5' is a pipe or FIFO: a model file must be a regular file"));
    CHECK(cli_sh("timeout 20 \"$PLEXUS\" predict nobody.h5 --csv '%s' --header", cli_iris) == 1 &&
          cli_one_line_error("pipe or FIFO"));
}

static void test_spreadsheet_csv(void) {
    /* iris with a byte-order mark and CRLF line ends, as spreadsheet programs save it */
    CHECK(cli_sh("printf '\\357\\273\\277' > excel.csv && sed 's/$/\\r/' '%s' >> excel.csv", cli_iris) == 0);
    CHECK(cli_runf("train '%s' --train-csv excel.csv --header --test-csv excel.csv --epochs 2 -v 0 -o excel.h5", model) == 0);
    CHECK(strstr(cli_out, "saved excel.h5") != NULL);
    CHECK(cli_run("predict excel.h5 --csv excel.csv --header --label-column -1 --limit 3 --classes") == 0);
    /* a NUL byte names the line and column */
    CHECK(cli_sh("head -n 3 '%s' > nul.csv && printf '1,2\\0003,4,0\\n' >> nul.csv", cli_iris) == 0);
    CHECK(cli_runf("train '%s' --train-csv nul.csv --header --epochs 1 -v 0", model) == 1);
    CHECK(cli_one_line_error("nul.csv: line 4, column 2: a NUL byte"));
    /* an endless device fails at once */
    CHECK(cli_runf("train '%s' --train-csv /dev/zero --epochs 1 -v 0", model) == 1 &&
          cli_one_line_error("/dev/zero: line 1, column 1: a NUL byte"));
}

static void test_labels_out_of_range(void) {
    /* iris has 3 classes: a label 7, -1 or 1e9 names the example, the label and the range */
    const char *bad[] = {"7", "-1", "1000000000"};
    for (int i = 0; i < 3; i++) {
        CHECK(cli_sh("head -n 4 '%s' > bad.csv && echo '5.0,3.0,1.5,0.2,%s' >> bad.csv && tail -n 3 '%s' >> bad.csv",
                     cli_iris, bad[i], cli_iris) == 0);
        CHECK(cli_runf("train '%s' --train-csv bad.csv --header --epochs 1 -v 0", model) == 1);
        char want[128];
        snprintf(want, sizeof want, "example 3 has the label %s, outside the valid range [0, 3)", bad[i]);
        CHECK(cli_one_line_error(want));
        if (i == 0) {
            CHECK(cli_runf("train '%s' --train-csv '%s' --header --epochs 1 -v 0 -o good.h5", model, cli_iris) == 0);
            CHECK(cli_run("evaluate good.h5 --test-csv bad.csv --header") == 1 && cli_one_line_error(want));
        }
    }
    /* an IDX label file with 200 for a 10-class model */
    CHECK(cli_sh("printf '\\000\\000\\010\\003\\000\\000\\000\\002\\000\\000\\000\\034\\000\\000\\000\\034' > img.idx && "
                 "head -c 1568 /dev/zero >> img.idx && "
                 "printf '\\000\\000\\010\\001\\000\\000\\000\\002\\001\\310' > lab.idx") == 0);
    CHECK(cli_runf("train '%s/fashion_mlp.json' --train-idx img.idx lab.idx --epochs 1 -v 0", cli_models) == 1);
    CHECK(cli_one_line_error("example 1 has the label 200, outside the valid range [0, 10)"));
}

static void test_layers_too_big(void) {
    const char *cfg = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"big\", \"layers\": ["
                      "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4], "
                      "\"dtype\": \"float32\", \"name\": \"in\"}}, {\"class_name\": \"Dense\", \"config\": "
                      "{\"name\": \"wide\", \"units\": %s, \"activation\": \"relu\"}}]}}";
    char text[1024];
    snprintf(text, sizeof text, cfg, "1e9");
    cli_write("big.json", text);
    CHECK(cli_sh("PX_MAX_MEMORY=2G \"$PLEXUS\" summary big.json") == 1);
    CHECK(cli_one_line_error("layer 'wide': weight 'kernel' of shape (4, 1000000000) (14.9 GiB) with its gradient "
                             "needs 29.8 GiB, more than the 2.0 GiB memory limit"));
    snprintf(text, sizeof text, cfg, "1e12");
    cli_write("huge.json", text);
    CHECK(cli_run("summary huge.json") == 1 && cli_one_line_error("it must be from 1 to 2147483647"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    snprintf(model, sizeof model, "%s/iris_mlp.json", cli_models);
    RUN_TEST(test_pipes);
    RUN_TEST(test_spreadsheet_csv);
    RUN_TEST(test_labels_out_of_range);
    RUN_TEST(test_layers_too_big);
    cli_teardown();
    return px_test_finish();
}
