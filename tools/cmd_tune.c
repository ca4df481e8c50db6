/* `plexus tune`: hyperparameter search over a SPACE.json (grid or seeded random),
 * trials scored by k-fold cross-validation or a validation split, the table
 * printed best first, the best model retrained on all training data and saved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_search.h"

static const char *CMD = "tune";

static void help(void) {
    printf("Usage: plexus tune --space SPACE.json [OPTIONS]\n\n"
           "Searches MLP hyperparameters (hidden layers, units, activation, learning rate, batch size,\n"
           "dropout, optimizer) over the space in SPACE.json, e.g.\n"
           "  {\"layers\": [1, 2], \"units\": [32, 64], \"activation\": [\"relu\", \"tanh\"],\n"
           "   \"learning_rate\": {\"log_uniform\": [1e-4, 1e-1]}, \"batch_size\": [32, 64], \"dropout\": [0, 0.2]}\n"
           "A value is a number, a list, or {\"uniform\": [lo, hi]} / {\"log_uniform\": [lo, hi]} (random only).\n"
           "Prints one line per trial, then the table sorted by score, then retrains the best point on\n"
           "all training data and saves it. For any model's JSON with successive halving, see\n"
           "'plexus tune --model MODEL.json --help'.\n\n"
           "  --space FILE               the search space (required)\n"
           "  --search grid|random       default grid\n"
           "  --trials N                 random: draws (default 10); grid: at most the first N points\n"
           "  --folds K                  K-fold cross-validation (default 3), or\n"
           "  --validation-split X       score on this held-out fraction\n"
           "  --epochs N                 per fit (default 10)\n"
           "  --seed N                   draws, folds, weights, shuffling (default 42)\n"
           "  --threads N\n"
           "  -o, --output FILE          the best model (default best.h5)\n"
           "  -v, --verbose 0|1          1 (default): a line per trial\n"
           "Data (as for 'plexus train'; the test set, when given, scores the best model):\n"
           "  --data fashion-mnist | --train-idx IMAGES LABELS | --train-csv FILE [--label-column N] [--header]\n"
           "  [--regression] [--test-idx IMAGES LABELS | --test-csv FILE] [--limit N]\n"
           "  -h, --help\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

enum { O_SPACE = OPT_SEARCH_FIRST_FREE, O_SEARCH, O_TRIALS, O_FOLDS, O_EPOCHS };

/* The options of `plexus tune` (help() describes them). */
static const struct option tune_options[] = {CLI_DATA_OPTIONS, CLI_SEARCH_OPTIONS,
                                             {"space", required_argument, NULL, O_SPACE},
                                             {"search", required_argument, NULL, O_SEARCH},
                                             {"trials", required_argument, NULL, O_TRIALS},
                                             {"folds", required_argument, NULL, O_FOLDS},
                                             {"epochs", required_argument, NULL, O_EPOCHS},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

/* Reads the options into d, to, *space_path and *s and checks them before any
 * file is read; returns -1 to go on, else the exit code (after --help or a usage
 * error). */
static int parse_options(int argc, char **argv, cli_data *d, px_tune_options *to, const char **space_path,
                         cli_search *s) {
    long v;
    opterr = 0;
    optind = 0;
    int c, r;
    while ((c = getopt_long(argc, argv, ":o:v:h", tune_options, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case O_SPACE: *space_path = optarg; break;
        case O_SEARCH:
            if (strcmp(optarg, "grid") == 0) to->search = PX_SEARCH_GRID;
            else if (strcmp(optarg, "random") == 0) to->search = PX_SEARCH_RANDOM;
            else return cli_usage(CMD, "--search is 'grid' or 'random', not '%s'", optarg);
            break;
        case O_TRIALS: if (!cli_int(CMD, "trials", optarg, 1, 1000000, &v)) return CLI_USAGE; to->trials = (int)v; break;
        case O_FOLDS: if (!cli_int(CMD, "folds", optarg, 2, 1000, &v)) return CLI_USAGE; to->folds = (int)v; break;
        case O_EPOCHS: if (!cli_int(CMD, "epochs", optarg, 1, 1000000, &v)) return CLI_USAGE; to->epochs = (int)v; break;
        case ':': case '?': return cli_getopt_error(CMD, c, argv);
        default:
            if ((r = cli_search_option(CMD, s, c)) >= 0) {
                if (r) return r;
            } else if ((r = cli_data_option(CMD, d, c, argc, argv))) return r;
        }
    }
    to->verbose = s->verbose;
    to->validation_split = s->validation_split;
    to->seed = s->seed;
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (!*space_path) return cli_usage(CMD, "give the search space: --space SPACE.json");
    if (to->folds && to->validation_split > 0) return cli_usage(CMD, "give --folds or --validation-split, not both");
    if ((r = cli_data_check(CMD, d, true, false))) return r;
    if ((r = cli_one_stdin(CMD, (const char *[]){*space_path, d->train_csv, d->test_csv}, 3))) return r;
    return -1;
}

/* The search space of the JSON file at path; returns 0, or CLI_FAIL after a message. */
static int read_space(const char *path, px_tune_space *space) {
    size_t len = 0;
    char *text = cli_read_file(path, &len);
    if (!text) return cli_fail_lib(CMD, "cannot read the space");
    px_status st = px_tune_space_from_json(text, len, space);
    free(text);
    if (st) return cli_fail(CMD, "%s: %s", path, px_last_error());
    return 0;
}

/* Prints the search's table and its best point, scores the best model on the test
 * set where there is one and saves it to output; returns the exit code. */
static int report_and_save(const px_tune_result *res, px_dataset *train, px_dataset *test, const char *output) {
    printf("\n");
    px_tune_print(res, stdout);
    const px_tune_trial *b = &res->trials[0];
    printf("\nbest: layers=%d units=%d activation=%s learning_rate=%.6g batch_size=%d dropout=%.3g optimizer=%s "
           "(%s %.4f)\n",
           b->params.layers, b->params.units, px_activation_name(b->params.activation), b->params.learning_rate,
           b->params.batch_size, b->params.dropout, b->params.optimizer, res->score_name, b->score);
    char note[96];
    snprintf(note, sizeof note, " (retrained on all %lld training examples)", (long long)px_dataset_size(train));
    return cli_test_and_save(CMD, res->best_model, test, true, output, note);
}

int cmd_tune(int argc, char **argv) {
    /* --model: the search over any model JSON, with its own options */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--model") == 0 || strncmp(argv[i], "--model=", 8) == 0) return cmd_tune_model(argc, argv);
    cli_data d;
    cli_data_init(&d);
    const char *space_path = NULL;
    px_tune_options to = {.search = PX_SEARCH_GRID, .epochs = 10, .retrain = true};
    cli_search s;
    cli_search_init(&s);
    int r = parse_options(argc, argv, &d, &to, &space_path, &s);
    if (r >= 0) return r;
    cli_search_apply_threads(&s);
    px_tune_space space;
    if ((r = read_space(space_path, &space))) return r;

    px_dataset *train = NULL, *test = NULL;
    px_tune_result res = {0};
    int rc = CLI_FAIL;
    /* fashion-mnist: search on all 60,000 training images (the folds validate) */
    if (cli_data_load(&d, true, &train, NULL, &test) != PX_OK) {
        cli_fail_lib(CMD, "cannot read the data");
        goto done;
    }
    if (d.regression) to.loss = PX_MEAN_SQUARED_ERROR;
    if (px_tune(train, &space, &to, &res) != PX_OK) {
        cli_fail_lib(CMD, "search failed");
        goto done;
    }
    rc = report_and_save(&res, train, test, s.output);
done:
    px_tune_result_clear(&res);
    px_dataset_free(train);
    px_dataset_free(test);
    return rc;
}
