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


int cmd_predict(int argc, char **argv) {
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
    const char *csv = NULL, *idx = NULL, *output = NULL;
    bool header = false, has_label = false, classes = false;
    long label = -1, limit = 0, batch = 32;
    cli_weights w = {0};
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case 'o': output = optarg; break;
        case O_CSV: csv = optarg; break;
        case O_IDX: idx = optarg; break;
        case O_HEADER: header = true; break;
        case O_LABEL: if (!cli_int(CMD, "label-column", optarg, -100000, 100000, &label)) return CLI_USAGE;
            has_label = true;
            break;
        case O_LIMIT: if (!cli_int(CMD, "limit", optarg, 1, 100000000, &limit)) return CLI_USAGE; break;
        case O_CLASSES: classes = true; break;
        case O_BATCH: if (!cli_int(CMD, "batch-size", optarg, 1, 1 << 24, &batch)) return CLI_USAGE; break;
        default:
            if (!cli_weights_option(&w, c)) return cli_getopt_error(CMD, c, argv);
        }
    }
    if (optind >= argc) return cli_usage(CMD, "give the model file: plexus predict MODEL.h5 --csv FILE");
    const char *path = argv[optind++];
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s' (one model file)", argv[optind]);
    if (w.by_name && !w.path) return cli_usage(CMD, "--by-name needs --weights FILE");
    if (!csv == !idx) return cli_usage(CMD, "give the inputs with exactly one of --csv FILE or --idx FILE");
    if (idx && (header || has_label)) return cli_usage(CMD, "--header and --label-column apply to --csv only");
    if (strcmp(path, "-") == 0 && !w.path)
        return cli_usage(CMD, "the model must be a file (or config JSON with --weights); '-' (standard input) can give the --csv inputs");
    int r = cli_one_stdin(CMD, (const char *[]){path, csv, w.path}, 3);
    if (r) return r;
    w.required = true;

    bool is_json = false;
    px_model *m = cli_load_model(path, &w, &is_json, NULL);
    if (!m) return cli_fail_lib(CMD, "cannot load the model");
    px_tensor *x = NULL, *y = NULL;
    px_atomic_file *af = NULL;
    int rc = CLI_FAIL;
    if (is_json && !w.path) {
        cli_fail(CMD, "%s is a model config without weights; add --weights FILE, or give a model file saved by 'plexus train'", path);
        goto done;
    }
    if (cli_read_inputs(csv, idx, header, has_label, label, &x) != PX_OK) {
        cli_fail_lib(CMD, "cannot read the inputs");
        goto done;
    }
    if (limit > 0 && x->shape[0] > limit) {
        px_tensor *cutx = px_tensor_slice(x, 0, limit), *own = cutx ? px_tensor_copy(cutx) : NULL;
        px_tensor_free(cutx);
        if (!own) {
            cli_fail_lib(CMD, "cannot cut the inputs");
            goto done;
        }
        px_tensor_free(x);
        x = own;
    }
    px_dataset probe = {.x = x};
    if (cli_check_fits(m, &probe, "input data") != PX_OK) {
        cli_fail(CMD, "%s", px_last_error());
        goto done;
    }
    px_eval_options eo = {.batch_size = (int)batch, .verbose = PX_VERBOSE_SILENT};
    y = px_model_predict(m, x, &eo);
    if (!y) {
        cli_fail_lib(CMD, "prediction failed");
        goto done;
    }
    cli_warn_nan(CMD, px_tensor_f32(y), px_tensor_size(y), "outputs");
    if (classes) { /* the argmax of a NaN row would look like class 0: warned above */
        px_tensor_free(y);
        if (!(y = px_model_predict_classes(m, x, &eo))) {
            cli_fail_lib(CMD, "prediction failed");
            goto done;
        }
    }
    /* a file is replaced atomically: a failed run leaves the previous one as it was */
    if (output && px_atomic_begin(output, NULL, &af) != PX_OK) {
        cli_fail(CMD, "%s", px_last_error());
        goto done;
    }
    FILE *out = output ? px_atomic_stream(af) : stdout;
    if (!out) {
        cli_fail(CMD, "%s", px_last_error());
        goto done;
    }
    int64_t n = y->shape[0], k = n ? px_tensor_size(y) / n : 0;
    if (classes) {
        fprintf(out, "class\n");
        for (int64_t i = 0; i < n; i++) fprintf(out, "%d\n", (int)px_tensor_i32(y)[i]);
    } else {
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
    if (output) {
        px_atomic_file *commit = af;
        af = NULL;
        if (px_atomic_commit(commit) != PX_OK) {
            cli_fail(CMD, "%s", px_last_error());
            goto done;
        }
        printf("wrote %lld predictions to %s\n", (long long)n, output);
        rc = CLI_OK;
    } else {
        rc = ferror(out) || fflush(out) != 0 ? cli_fail(CMD, "cannot write to stdout") : CLI_OK;
    }
done:
    px_atomic_abort(af);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
    return rc;
}
