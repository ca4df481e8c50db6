/* `plexus evaluate`: the loss and metrics of a saved model on a test set. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_common.h"

static const char *CMD = "evaluate";

static void help(void) {
    printf("Usage: plexus evaluate (MODEL.h5 | MODEL.keras | MODEL.json --weights FILE) (--data fashion-mnist | --test-idx IMAGES LABELS | --test-csv FILE |\n"
           "                               --test-images DIR) [OPTIONS]\n\n"
           "Prints the model's loss and metrics on the test set, one 'name: value' line each.\n"
           "A model file without a training config is compiled with sparse_categorical_crossentropy\n"
           "and accuracy (mse with --regression).\n\n"
           "  --data fashion-mnist       the 10,000 Fashion-MNIST test images (--data-dir DIR to find them)\n"
           "  --test-idx IMAGES LABELS   IDX files (pixels are scaled to [0, 1])\n"
           "  --test-csv FILE            CSV with a label column\n"
           "  --test-images DIR          a folder of PNG/JPEG images, one subfolder per class\n"
           "  --image-size HxW           the size images are resized to (default: the model's input)\n"
           "  --color-mode MODE          rgb, grayscale or rgba (default: by the model's input channels)\n"
           "  --label-column N           default -1 (the last)\n"
           "  --header                   the CSV starts with a header line\n"
           "  --regression               float targets\n"
           "  --limit N                  only the first N examples\n"
           "  --batch-size N             default 32\n"
           CLI_WEIGHTS_HELP
           "  -v, --verbose 0|1          progress bar (default 0)\n"
           "  -h, --help\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

enum { O_BATCH = OPT_FIRST_FREE };

/* A test folder's images are read at the model's input size and channels unless told. */
static void image_shape_of_model(px_model *m, cli_data *d) {
    px_shape in;
    if (!d->test_images || !cli_model_input_shape(m, &in) || in.rank != 3 || in.dim[0] <= 0 || in.dim[1] <= 0) return;
    if (!d->image_h) d->image_h = (int)in.dim[0], d->image_w = (int)in.dim[1];
    if (!d->color_mode) d->color_mode = in.dim[2] == 1 ? PX_COLOR_GRAYSCALE : in.dim[2] == 4 ? PX_COLOR_RGBA : PX_COLOR_RGB;
}

/* The options of `plexus evaluate` (help() describes them). */
static const struct option evaluate_options[] = {CLI_DATA_OPTIONS,
                                                 CLI_WEIGHTS_OPTIONS,
                                                 {"batch-size", required_argument, NULL, O_BATCH},
                                                 {"verbose", required_argument, NULL, 'v'},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};

/* Reads the options into d, w, *batch, *verbose and the model's *path and checks
 * them before any file is read; returns -1 to go on, else the exit code (after
 * --help or a usage error). */
static int parse_options(int argc, char **argv, cli_data *d, cli_weights *w, long *batch, long *verbose,
                         const char **path) {
    opterr = 0;
    optind = 0;
    int c, r;
    while ((c = getopt_long(argc, argv, ":v:h", evaluate_options, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case 'v': if (!cli_int(CMD, "verbose", optarg, 0, 2, verbose)) return CLI_USAGE; break;
        case O_BATCH: if (!cli_int(CMD, "batch-size", optarg, 1, 1 << 24, batch)) return CLI_USAGE; break;
        case ':': case '?': return cli_getopt_error(CMD, c, argv);
        default:
            if (cli_weights_option(w, c)) break;
            if ((r = cli_data_option(CMD, d, c, argc, argv))) return r;
        }
    }
    if (w->by_name && !w->path) return cli_usage(CMD, "--by-name needs --weights FILE");
    if (optind >= argc) return cli_usage(CMD, "give the model file to evaluate: plexus evaluate MODEL.h5 --test-csv FILE");
    *path = argv[optind++];
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s' (one model file)", argv[optind]);
    if (d->train_idx[0] || d->train_csv || d->images)
        return cli_usage(CMD, "evaluate reads test data: use --test-idx, --test-csv or --test-images");
    if ((r = cli_data_check(CMD, d, false, true))) return r;
    if (strcmp(*path, "-") == 0 && !w->path)
        return cli_usage(CMD, "the model must be a file (or config JSON with --weights); '-' (standard input) can give the --test-csv data");
    if ((r = cli_one_stdin(CMD, (const char *[]){*path, d->test_csv, w->path}, 3))) return r;
    return -1;
}

/* Evaluates m on the test source and prints the example count and one
 * 'name: value' line per loss and metric; returns the exit code. */
static int evaluate_and_print(px_model *m, px_source *test, long batch, long verbose) {
    px_logs logs = {0};
    if (px_model_evaluate_source(m, test, &(px_eval_options){.batch_size = (int)batch,
                                                   .verbose = verbose ? PX_VERBOSE_BAR : PX_VERBOSE_SILENT},
                          &logs) != PX_OK)
        return cli_fail_lib(CMD, "evaluation failed");
    for (int i = 0; i < logs.n; i++)
        if (isnan(logs.values[i])) { /* once: the first NaN value */
            cli_warn(CMD, "%s is NaN: the model's weights (or the data) hold NaN or infinity", logs.names[i]);
            break;
        }
    printf("examples: %lld\n", (long long)px_source_size(test));
    for (int i = 0; i < logs.n; i++)
        if (isnan(logs.values[i])) printf("%s: nan\n", logs.names[i]); /* not C's "-nan" */
        else printf("%s: %.4f\n", logs.names[i], logs.values[i]);
    return fflush(stdout) == 0 ? CLI_OK : cli_fail(CMD, "cannot write the results to stdout");
}

int cmd_evaluate(int argc, char **argv) {
    cli_data d;
    cli_data_init(&d);
    cli_weights w = {0};
    long batch = 32, verbose = 0;
    const char *path = NULL;
    int r = parse_options(argc, argv, &d, &w, &batch, &verbose, &path);
    if (r >= 0) return r;
    w.required = true;

    bool is_json = false;
    px_model *m = cli_load_model(path, &w, &is_json, NULL);
    if (!m) return cli_fail_lib(CMD, "cannot load the model");
    cli_sources src = {0};
    int rc = CLI_FAIL;
    if (is_json && !w.path) {
        cli_fail(CMD, "%s is a model config without weights; add --weights FILE, or give a model file saved by 'plexus train'", path);
        goto done;
    }
    image_shape_of_model(m, &d);
    cli_show_load_progress(verbose);
    if (cli_data_sources(&d, false, false, true, 0, 0, !verbose, &src) != PX_OK) {
        cli_fail_lib(CMD, "cannot read the data");
        goto done;
    }
    if (cli_check_source_fits(m, src.test, "test data") != PX_OK) {
        cli_fail(CMD, "%s", px_last_error());
        goto done;
    }
    if (!px_model_optimizer(m)) { /* saved without a training config */
        px_compile_options co = {.loss = d.regression ? PX_MEAN_SQUARED_ERROR : PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                 .metrics = {d.regression ? PX_METRIC_NONE : PX_ACCURACY}};
        if (px_model_compile(m, &co) != PX_OK) {
            cli_fail_lib(CMD, "cannot compile the model");
            goto done;
        }
    }
    rc = evaluate_and_print(m, src.test, batch, verbose);
done:
    px_model_free(m);
    cli_sources_free(&src);
    cli_show_load_progress(false);
    return rc;
}
