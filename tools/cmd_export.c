/* `plexus export`: a model file as dependency-free C99 source (--c DIR) for
 * devices without Plexus. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_common.h"

static const char *CMD = "export";

enum { OPT_C = OPT_FIRST_FREE, OPT_NAME, OPT_SEPARATE, OPT_STATIC, OPT_INT8, OPT_CALIBRATION, OPT_HEADER_CAL, OPT_ONNX, OPT_NO_MATH, OPT_STREAMING };

static void help(void) {
    printf("Usage: plexus export MODEL.h5 --c DIR [--name NAME] [--separate-weights] [--static-workspace]\n"
           "                            [--no-math] [--streaming]\n"
           "                            [--int8 --calibration DATA]\n"
           "       plexus export MODEL.h5 --onnx FILE.onnx\n\n"
           "Writes the model as C99 source for inference without Plexus: DIR/NAME.h and DIR/NAME.c with\n"
           "  int NAME_predict(const float *input, float *output);\n"
           "(and NAME_predict_ws, NAME_predict_batch). The code allocates nothing, needs only <math.h>\n"
           "(link with -lm) and has one function per layer; BatchNormalization after a Dense or\n"
           "convolution is folded into its weights. See docs/export.md.\n\n"
           "  --c DIR              the directory to write into (it must exist)\n"
           "  --onnx FILE          write an ONNX file (opset 14) instead, for other runtimes; inputs and\n"
           "                       outputs keep Keras's layouts (channels last)\n"
           "  --name NAME          C identifier prefixing the files and symbols (default: model)\n"
           "  --separate-weights   the weights in NAME_weights.c\n"
           "  --static-workspace   NAME_predict keeps its buffers in a static array, not on the stack\n"
           "  --no-math            no <math.h>: the code brings its own exp, log, tanh, erfc and sqrt\n"
           "                       (errors against libm in docs/export.md)\n"
           "  --streaming          require NAME_step (one timestep at a time; written anyway when the model\n"
           "                       allows): fail, saying why, when the model does not\n"
           "  --int8               int8 weights per channel and int8 x int8 -> int32 products in the Dense and\n"
           "                       convolution layers, their inputs quantized with ranges calibrated on DATA\n"
           "  --calibration DATA   examples of the model's input: fashion-mnist (the first 1000 training\n"
           "                       images), FILE.csv (every column a feature) or an IDX file (pixels scaled to [0, 1])\n"
           "  --header             the calibration CSV has a header line\n"
           "  -h, --help\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

/* fashion-mnist: the first 1000 training images; FILE.csv; else an IDX file. */
static px_status load_calibration(const char *what, bool header, px_tensor **out) {
    if (strcmp(what, "fashion-mnist") == 0) {
        px_dataset *train = NULL;
        px_status st = px_fashion_mnist_load(NULL, 1000, &train, NULL, NULL);
        if (st) return st;
        *out = train->x;
        train->x = NULL;
        px_dataset_free(train);
        return PX_OK;
    }
    size_t n = strlen(what);
    bool csv = n > 4 && strcmp(what + n - 4, ".csv") == 0;
    return cli_read_inputs(csv ? what : NULL, csv ? NULL : what, header, false, -1, out);
}

int cmd_export(int argc, char **argv) {
    static const struct option longopts[] = {{"c", required_argument, NULL, OPT_C},
                                              {"name", required_argument, NULL, OPT_NAME},
                                              {"onnx", required_argument, NULL, OPT_ONNX},
                                              {"separate-weights", no_argument, NULL, OPT_SEPARATE},
                                              {"static-workspace", no_argument, NULL, OPT_STATIC},
                                              {"no-math", no_argument, NULL, OPT_NO_MATH},
                                              {"streaming", no_argument, NULL, OPT_STREAMING},
                                              {"int8", no_argument, NULL, OPT_INT8},
                                              {"calibration", required_argument, NULL, OPT_CALIBRATION},
                                              {"header", no_argument, NULL, OPT_HEADER_CAL},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 0;
    int c;
    const char *dir = NULL, *cal = NULL, *onnx = NULL;
    bool header = false;
    px_export_c_options o = {0};
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case OPT_C: dir = optarg; break;
        case OPT_NAME: o.name = optarg; break;
        case OPT_ONNX: onnx = optarg; break;
        case OPT_SEPARATE: o.separate_weights = true; break;
        case OPT_STATIC: o.static_workspace = true; break;
        case OPT_NO_MATH: o.no_math = true; break;
        case OPT_STREAMING: o.streaming = true; break;
        case OPT_INT8: o.int8 = true; break;
        case OPT_CALIBRATION: cal = optarg; break;
        case OPT_HEADER_CAL: header = true; break;
        default: return cli_getopt_error(CMD, c, argv);
        }
    }
    if (optind >= argc) return cli_usage(CMD, "give a model file: plexus export MODEL.h5 --c DIR");
    const char *path = argv[optind++];
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s' (one model)", argv[optind]);
    if (!dir == !onnx) return cli_usage(CMD, "say what to write: --c DIR or --onnx FILE");
    if (onnx && (o.name || o.separate_weights || o.static_workspace || o.no_math || o.streaming || o.int8 || cal))
        return cli_usage(CMD, "--name, --separate-weights, --static-workspace, --no-math, --streaming, --int8 and --calibration "
                              "are for --c");
    if (onnx) {
        px_model *m = cli_load_model(path, NULL, NULL, NULL);
        if (!m) return cli_fail_lib(CMD, "cannot load the model");
        int rc = px_model_export_onnx(m, onnx) == PX_OK ? CLI_OK : cli_fail_lib(CMD, path);
        if (rc == CLI_OK) printf("wrote %s\n", onnx);
        px_model_free(m);
        return rc;
    }
    if (o.int8 != (cal != NULL)) return cli_usage(CMD, "--int8 and --calibration DATA go together");
    if (header && !cal) return cli_usage(CMD, "--header applies to a --calibration CSV file");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return cli_fail(CMD, "--c %s: not a directory", dir);
    px_model *m = cli_load_model(path, NULL, NULL, NULL);
    if (!m) return cli_fail_lib(CMD, "cannot load the model");
    int rc = CLI_OK;
    px_tensor *calibration = NULL;
    if (cal && load_calibration(cal, header, &calibration) != PX_OK) {
        px_model_free(m);
        return cli_fail_lib(CMD, "cannot read the calibration data");
    }
    o.calibration = calibration;
    if (px_model_export_c(m, dir, &o) != PX_OK)
        rc = cli_fail_lib(CMD, path);
    else
        printf("wrote %s/%s.h and %s/%s.c%s%s%s\n", dir, o.name ? o.name : "model", dir, o.name ? o.name : "model",
               o.separate_weights ? " and the weights in " : "", o.separate_weights ? (o.name ? o.name : "model") : "",
               o.separate_weights ? "_weights.c" : "");
    px_tensor_free(calibration);
    px_model_free(m);
    return rc;
}
