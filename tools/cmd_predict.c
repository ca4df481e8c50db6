/* `plexus predict`: runs a saved model on CSV or IDX inputs and writes its
 * outputs (probabilities) or the predicted classes as CSV. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli_common.h"
#include "core/atomic_file.h"

static const char *CMD = "predict";

static void help(void) {
    printf("Usage: plexus predict (MODEL.h5 | MODEL.keras | MODEL.json --weights FILE) (--csv FILE | --idx FILE) [OPTIONS]\n\n"
           "Writes the model's outputs as CSV: a header 'output_0,output_1,...' and one row per example\n"
           "(class probabilities for a softmax classifier), or with --classes a header 'class' and the\n"
           "index of the largest output per example.\n\n"
           "  --csv FILE           inputs, one example per line; every column is a feature unless\n"
           "                       --label-column names one to drop (so a labelled CSV can be used)\n"
           "  --idx FILE           IDX images (pixels are scaled to [0, 1])\n"
           "  --header             the CSV starts with a header line\n"
           "  --label-column N     drop this column (0-based; negative counts from the end)\n"
           "  --limit N            only the first N examples\n"
           "  --classes            the predicted classes instead of the outputs\n"
           "  --batch-size N       default 32\n"
           "  -o, --output FILE    write the CSV here instead of stdout\n"
           CLI_WEIGHTS_HELP
           "  -h, --help\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

enum { O_CSV = OPT_FIRST_FREE, O_IDX, O_HEADER, O_LABEL, O_LIMIT, O_CLASSES, O_BATCH };


typedef struct predict_args {
    const char *path, *csv, *idx, *output;
    bool header, has_label, classes;
    long label, limit, batch;
    cli_weights w;
} predict_args;

/* Reads the command line into *a: CLI_OK to go on, CLI_USAGE after a message, or
 * -1 after --help (the command then ends with CLI_OK). */
static int parse_args(int argc, char **argv, predict_args *a) {
    static const struct option longopts[] = {CLI_WEIGHTS_OPTIONS,
                                             {"csv", required_argument, NULL, O_CSV},
                                             {"idx", required_argument, NULL, O_IDX},
                                             {"header", no_argument, NULL, O_HEADER},
                                             {"label-column", required_argument, NULL, O_LABEL},
                                             {"limit", required_argument, NULL, O_LIMIT},
                                             {"classes", no_argument, NULL, O_CLASSES},
                                             {"batch-size", required_argument, NULL, O_BATCH},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *a = (predict_args){.label = -1, .batch = 32};
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return -1;
        case 'o': a->output = optarg; break;
        case O_CSV: a->csv = optarg; break;
        case O_IDX: a->idx = optarg; break;
        case O_HEADER: a->header = true; break;
        case O_LABEL: if (!cli_int(CMD, "label-column", optarg, -100000, 100000, &a->label)) return CLI_USAGE;
            a->has_label = true;
            break;
        case O_LIMIT: if (!cli_int(CMD, "limit", optarg, 1, 100000000, &a->limit)) return CLI_USAGE; break;
        case O_CLASSES: a->classes = true; break;
        case O_BATCH: if (!cli_int(CMD, "batch-size", optarg, 1, 1 << 24, &a->batch)) return CLI_USAGE; break;
        default:
            if (!cli_weights_option(&a->w, c)) return cli_getopt_error(CMD, c, argv);
        }
    }
    if (optind >= argc) return cli_usage(CMD, "give the model file: plexus predict MODEL.h5 --csv FILE");
    a->path = argv[optind++];
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s' (one model file)", argv[optind]);
    if (a->w.by_name && !a->w.path) return cli_usage(CMD, "--by-name needs --weights FILE");
    if (!a->csv == !a->idx) return cli_usage(CMD, "give the inputs with exactly one of --csv FILE or --idx FILE");
    if (a->idx && (a->header || a->has_label)) return cli_usage(CMD, "--header and --label-column apply to --csv only");
    if (strcmp(a->path, "-") == 0 && !a->w.path)
        return cli_usage(CMD, "the model must be a file (or config JSON with --weights); '-' (standard input) can give the --csv inputs");
    int r = cli_one_stdin(CMD, (const char *[]){a->path, a->csv, a->w.path}, 3);
    a->w.required = true;
    return r;
}

/* The inputs of --csv or --idx, cut to --limit examples; CLI_FAIL after a message. */
static int read_inputs(const predict_args *a, px_tensor **x) {
    if (cli_read_inputs(a->csv, a->idx, a->header, a->has_label, a->label, x) != PX_OK)
        return cli_fail_lib(CMD, "cannot read the inputs");
    if (a->limit > 0 && (*x)->shape[0] > a->limit) {
        px_tensor *cutx = px_tensor_slice(*x, 0, a->limit), *own = cutx ? px_tensor_copy(cutx) : NULL;
        px_tensor_free(cutx);
        if (!own) return cli_fail_lib(CMD, "cannot cut the inputs");
        px_tensor_free(*x);
        *x = own;
    }
    return CLI_OK;
}

/* The model's outputs, or with --classes the predicted classes; NULL after a message. */
static px_tensor *run_model(px_model *m, const px_tensor *x, const predict_args *a) {
    px_eval_options eo = {.batch_size = (int)a->batch, .verbose = PX_VERBOSE_SILENT};
    px_tensor *y = px_model_predict(m, x, &eo);
    if (!y) return cli_fail_lib(CMD, "prediction failed"), NULL;
    cli_warn_nan(CMD, px_tensor_f32(y), px_tensor_size(y), "outputs");
    if (a->classes) { /* the argmax of a NaN row would look like class 0: warned above */
        px_tensor_free(y);
        if (!(y = px_model_predict_classes(m, x, &eo))) cli_fail_lib(CMD, "prediction failed");
    }
    return y;
}

/* y as CSV: a header "class" and a class a row, or "output_0,..." and the outputs. */
static void write_csv(FILE *out, const px_tensor *y, bool classes) {
    int64_t n = y->shape[0], k = n ? px_tensor_size(y) / n : 0;
    if (classes) {
        fprintf(out, "class\n");
        for (int64_t i = 0; i < n; i++) fprintf(out, "%d\n", (int)px_tensor_i32(y)[i]);
        return;
    }
    for (int64_t j = 0; j < k; j++) fprintf(out, "%soutput_%lld", j ? "," : "", (long long)j);
    fprintf(out, "\n");
    const float *v = px_tensor_f32(y);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < k; j++) {
            double e = v[i * k + j];
            if (e != e) fprintf(out, "%snan", j ? "," : ""); /* not C's "-nan": what Python and pandas read */
            else fprintf(out, "%s%.6g", j ? "," : "", e);
        }
        fprintf(out, "\n");
    }
}

/* The CSV on stdout, or in --output, replaced atomically: a failed run leaves the
 * previous file as it was. */
static int write_outputs(const predict_args *a, const px_tensor *y) {
    if (!a->output) {
        write_csv(stdout, y, a->classes);
        return ferror(stdout) || fflush(stdout) != 0 ? cli_fail(CMD, "cannot write to stdout") : CLI_OK;
    }
    px_atomic_file *af = NULL;
    FILE *out = px_atomic_begin(a->output, NULL, &af) == PX_OK ? px_atomic_stream(af) : NULL;
    if (!out) {
        int rc = cli_fail(CMD, "%s", px_last_error());
        px_atomic_abort(af);
        return rc;
    }
    write_csv(out, y, a->classes);
    if (px_atomic_commit(af) != PX_OK) return cli_fail(CMD, "%s", px_last_error());
    printf("wrote %lld predictions to %s\n", (long long)y->shape[0], a->output);
    return CLI_OK;
}

int cmd_predict(int argc, char **argv) {
    predict_args a;
    int r = parse_args(argc, argv, &a);
    if (r) return r < 0 ? CLI_OK : r;
    bool is_json = false;
    px_model *m = cli_load_model(a.path, &a.w, &is_json, NULL);
    if (!m) return cli_fail_lib(CMD, "cannot load the model");
    px_tensor *x = NULL, *y = NULL;
    int rc = is_json && !a.w.path ? cli_fail(CMD, "%s is a model config without weights; add --weights FILE, or give a "
                                              "model file saved by 'plexus train'", a.path)
                                  : read_inputs(&a, &x);
    px_dataset probe = {.x = x};
    if (rc == CLI_OK && cli_check_fits(m, &probe, "input data") != PX_OK) rc = cli_fail(CMD, "%s", px_last_error());
    if (rc == CLI_OK) rc = (y = run_model(m, x, &a)) ? write_outputs(&a, y) : CLI_FAIL;
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
    return rc;
}
