/* `plexus tune --model`: a search over an MLP's model JSON on iris (units, activation,
 * optimizer and learning rate, batch size) follows the halving schedule it prints,
 * saves a best model that `summary` reads, and refuses bad spaces with one line. */
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "plexus/model_io.h"
#include "px_test.h"

static void write_model(void) {
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4), NULL), px_dense(8, PX_RELU),
                                               px_dense(3, PX_SOFTMAX), NULL});
    char *json = NULL;
    CHECK_OK(px_model_to_json(m, &json));
    if (json) cli_write("mlp.json", json);
    free(json);
    px_model_free(m);
}

static void test_search(void) {
    write_model();
    cli_write("space.json", "{\"dense.units\": [4, 16], \"dense.activation\": [\"relu\", \"tanh\"], "
                            "\"optimizer\": [\"adam\", \"rmsprop\"], \"optimizer.learning_rate\": {\"log_uniform\": [0.003, 0.03]}, "
                            "\"batch_size\": [8, 16]}");
    CHECK(cli_runf("tune --model mlp.json --space space.json --train-csv '%s' --header --trials 4 --min-epochs 2 "
                   "--max-epochs 8 --eta 2 --seed 3 --threads 1 -o best.keras",
                   cli_iris) == 0);
    /* (4 trials, 2 epochs), (2, 4), (1, 8): 4*2 + 2*2 + 1*4 epochs */
    CHECK(strstr(cli_out, "rung 1/3 trial 4:") && strstr(cli_out, "rung 3/3 trial") && !strstr(cli_out, "rung 4/"));
    CHECK(strstr(cli_out, "epochs trained in all: 16\n") && strstr(cli_out, "saved best.keras"));
    CHECK(cli_value_after(cli_out, "(val_accuracy ") >= 0.6);
    CHECK(cli_run("summary best.keras") == 0 && strstr(cli_out, "dense (Dense)"));
}

static void test_errors(void) {
    write_model();
    CHECK(cli_run("tune --model mlp.json") == 2 && cli_one_line_error("--model MODEL.json --space SPACE.json"));
    CHECK(cli_run("tune --model mlp.json --space s.json --min-epochs 5 --max-epochs 2") == 2 &&
          cli_one_line_error("--min-epochs is above --max-epochs"));
    cli_write("bad.json", "{\"dense_7.units\": [4]}");
    CHECK(cli_runf("tune --model mlp.json --space bad.json --train-csv '%s' --header", cli_iris) == 1 &&
          cli_one_line_error("'dense_7.units': the model has no layer named 'dense_7'"));
    CHECK(cli_run("tune --model mlp.json --help") == 0 && strstr(cli_out, "Usage: plexus tune --model"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_search);
    RUN_TEST(test_errors);
    cli_teardown();
    return px_test_finish();
}
