/* `plexus tune --model MODEL.json --space SPACE.json`: seeded random search over the
 * fields of a Keras model-config JSON with successive halving (px_tune_model), the
 * table printed best first, the best model scored on the test set and saved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_search.h"

static const char *CMD = "tune";

static void help(void) {
    printf("Usage: plexus tune --model MODEL.json --space SPACE.json [OPTIONS]\n\n"
           "Searches the fields of a Keras model-config JSON (as model.to_json() writes it) over the\n"
           "space in SPACE.json: keys \"<layer name>.<config key>\", \"optimizer\", \"optimizer.<key>\",\n"
           "\"batch_size\"; values a list to choose from or {\"uniform\"|\"log_uniform\"|\"int_uniform\": [lo, hi]}, e.g.\n"
           "  {\"conv2d.filters\": [8, 16], \"conv2d.kernel_size\": [[3, 3], [5, 5]],\n"
           "   \"dropout.rate\": {\"uniform\": [0, 0.5]}, \"optimizer.learning_rate\": {\"log_uniform\": [1e-4, 1e-2]}}\n"
           "Draws --trials points and trains them by successive halving: rung k trains the best\n"
           "trials/eta^k of the rung before on to min-epochs*eta^k epochs (at most --max-epochs).\n"
           "Prints a line per trial and rung, then the table best first and the epochs trained in all.\n\n"
           "  --model FILE               the model-config JSON (required); its compile config, if any,\n"
           "                             gives the loss, metrics and optimizer\n"
           "  --space FILE               the search space (required)\n"
           "  --trials N                 points drawn (default 9)\n"
           "  --min-epochs N             the first rung's epochs (default 1)\n"
           "  --max-epochs N             the last rung's (default min-epochs * eta^2)\n"
           "  --eta N                    each rung keeps the best 1/N (default 3; 1: no halving)\n"
           "  --batch-size N             default 32 (the space's \"batch_size\" replaces it)\n"
           "  --optimizer NAME           used when the space names none (default: the compile config's, else adam)\n"
           "  --validation-split X       score on this held-out fraction (default 0.2)\n"
           "  --seed N                   draws, hold-out, weights, shuffling (default 42)\n"
           "  --threads N\n"
           "  -o, --output FILE          the best model (default best.h5)\n"
           "  -v, --verbose 0|1          1 (default): a line per trial and rung\n"
           "Data (as for 'plexus train'; the test set, when given, scores the best model):\n"
           "  --data fashion-mnist | --train-idx IMAGES LABELS | --train-csv FILE [--label-column N] [--header]\n"
           "  [--regression] [--test-idx IMAGES LABELS | --test-csv FILE] [--limit N]\n"
           "  -h, --help\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

enum { O_MODEL = OPT_SEARCH_FIRST_FREE, O_SPACE, O_TRIALS, O_MIN, O_MAX, O_ETA, O_BATCH, O_OPT };

/* Reads the two JSON files and runs the search on the loaded data. */
static int search(const char *model_path, const char *space_path, const px_dataset *train, px_tune_model_options *to,
                  px_tune_model_result *res) {
    size_t mlen = 0, slen = 0;
    char *model = cli_read_file(model_path, &mlen), *space = model ? cli_read_file(space_path, &slen) : NULL;
    int rc = CLI_OK;
    if (!model || !space) rc = cli_fail_lib(CMD, model ? "cannot read the space" : "cannot read the model");
    else if (px_tune_model(model, mlen, space, slen, train, to, res) != PX_OK) rc = cli_fail_lib(CMD, "search failed");
    free(model);
    free(space);
    return rc;
}

/* The options of `plexus tune --model` (help() describes them). */
static const struct option tune_model_options[] = {CLI_DATA_OPTIONS, CLI_SEARCH_OPTIONS,
                                         {"model", required_argument, NULL, O_MODEL},
                                         {"space", required_argument, NULL, O_SPACE},
                                         {"trials", required_argument, NULL, O_TRIALS},
                                         {"min-epochs", required_argument, NULL, O_MIN},
                                         {"max-epochs", required_argument, NULL, O_MAX},
                                         {"eta", required_argument, NULL, O_ETA},
                                         {"batch-size", required_argument, NULL, O_BATCH},
                                         {"optimizer", required_argument, NULL, O_OPT},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};

/* Prints the search's table and its best trial, scores the best model on the test
 * set where there is one and saves it to output; returns the exit code. */
static int report_and_save(const px_tune_model_result *res, px_dataset *test, const char *output) {
    printf("\n");
    px_tune_model_print(res, stdout);
    printf("\nbest: %s (%s %.4f after %d epochs)\n", res->trials[0].params, res->score_name, res->trials[0].score,
           res->trials[0].epochs);
    return cli_test_and_save(CMD, res->best_model, test, true, output, NULL);
}

int cmd_tune_model(int argc, char **argv) {
    cli_data d;
    cli_data_init(&d);
    const char *model_path = NULL, *space_path = NULL;
    px_tune_model_options to = {0};
    cli_search s;
    cli_search_init(&s);
    long v;
    opterr = 0;
    optind = 0;
    int c, r;
    while ((c = getopt_long(argc, argv, ":o:v:h", tune_model_options, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case O_MODEL: model_path = optarg; break;
        case O_SPACE: space_path = optarg; break;
        case O_TRIALS: if (!cli_int(CMD, "trials", optarg, 1, 100000, &v)) return CLI_USAGE; to.trials = (int)v; break;
        case O_MIN: if (!cli_int(CMD, "min-epochs", optarg, 1, 1000000, &v)) return CLI_USAGE; to.min_epochs = (int)v; break;
        case O_MAX: if (!cli_int(CMD, "max-epochs", optarg, 1, 1000000, &v)) return CLI_USAGE; to.max_epochs = (int)v; break;
        case O_ETA: if (!cli_int(CMD, "eta", optarg, 1, 1000, &v)) return CLI_USAGE; to.eta = (int)v; break;
        case O_BATCH: if (!cli_int(CMD, "batch-size", optarg, 1, 1 << 24, &v)) return CLI_USAGE; to.batch_size = (int)v; break;
        case O_OPT: to.optimizer = optarg; break;
        case ':': case '?': return cli_getopt_error(CMD, c, argv);
        default:
            if ((r = cli_search_option(CMD, &s, c)) >= 0) {
                if (r) return r;
            } else if ((r = cli_data_option(CMD, &d, c, argc, argv))) return r;
        }
    }
    to.verbose = s.verbose;
    to.validation_split = s.validation_split;
    to.seed = s.seed;
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (!model_path || !space_path) return cli_usage(CMD, "give the model and the space: --model MODEL.json --space SPACE.json");
    if (to.max_epochs && to.min_epochs > to.max_epochs) return cli_usage(CMD, "--min-epochs is above --max-epochs");
    if ((r = cli_data_check(CMD, &d, true, false))) return r;
    if ((r = cli_one_stdin(CMD, (const char *[]){model_path, space_path, d.train_csv, d.test_csv}, 4))) return r;
    cli_search_apply_threads(&s);
    if (d.regression) to.loss = PX_MEAN_SQUARED_ERROR;

    px_dataset *train = NULL, *test = NULL;
    px_tune_model_result res = {0};
    int rc = CLI_FAIL;
    if (cli_data_load(&d, true, &train, NULL, &test) != PX_OK) {
        cli_fail_lib(CMD, "cannot read the data");
        goto done;
    }
    if (search(model_path, space_path, train, &to, &res) != CLI_OK) goto done;
    rc = report_and_save(&res, test, s.output);
done:
    px_tune_model_result_clear(&res);
    px_dataset_free(train);
    px_dataset_free(test);
    return rc;
}
