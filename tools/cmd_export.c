/* `plexus export`: a model file as dependency-free C99 source (--c DIR) for
 * devices without Plexus. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_common.h"

static const char *CMD = "export";

enum { OPT_C = OPT_FIRST_FREE, OPT_NAME, OPT_SEPARATE, OPT_STATIC };

static void help(void) {
    printf("Usage: plexus export MODEL.h5 --c DIR [--name NAME] [--separate-weights] [--static-workspace]\n\n"
           "Writes the model as C99 source for inference without Plexus: DIR/NAME.h and DIR/NAME.c with\n"
           "  int NAME_predict(const float *input, float *output);\n"
           "(and NAME_predict_ws, NAME_predict_batch). The code allocates nothing, needs only <math.h>\n"
           "(link with -lm) and has one function per layer; BatchNormalization after a Dense or\n"
           "convolution is folded into its weights. See docs/export.md.\n\n"
           "  --c DIR              the directory to write into (it must exist)\n"
           "  --name NAME          C identifier prefixing the files and symbols (default: model)\n"
           "  --separate-weights   the weights in NAME_weights.c\n"
           "  --static-workspace   NAME_predict keeps its buffers in a static array, not on the stack\n"
           "  -h, --help\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

int cmd_export(int argc, char **argv) {
    static const struct option longopts[] = {{"c", required_argument, NULL, OPT_C},
                                              {"name", required_argument, NULL, OPT_NAME},
                                              {"separate-weights", no_argument, NULL, OPT_SEPARATE},
                                              {"static-workspace", no_argument, NULL, OPT_STATIC},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 0;
    int c;
    const char *dir = NULL;
    px_export_c_options o = {0};
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case OPT_C: dir = optarg; break;
        case OPT_NAME: o.name = optarg; break;
        case OPT_SEPARATE: o.separate_weights = true; break;
        case OPT_STATIC: o.static_workspace = true; break;
        default: return cli_getopt_error(CMD, c, argv);
        }
    }
    if (optind >= argc) return cli_usage(CMD, "give a model file: plexus export MODEL.h5 --c DIR");
    const char *path = argv[optind++];
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s' (one model)", argv[optind]);
    if (!dir) return cli_usage(CMD, "say what to write: --c DIR");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return cli_fail(CMD, "--c %s: not a directory", dir);
    px_model *m = cli_load_model(path, NULL);
    if (!m) return cli_fail_lib(CMD, "cannot load the model");
    int rc = CLI_OK;
    if (px_model_export_c(m, dir, &o) != PX_OK)
        rc = cli_fail_lib(CMD, path);
    else
        printf("wrote %s/%s.h and %s/%s.c%s%s%s\n", dir, o.name ? o.name : "model", dir, o.name ? o.name : "model",
               o.separate_weights ? " and the weights in " : "", o.separate_weights ? (o.name ? o.name : "model") : "",
               o.separate_weights ? "_weights.c" : "");
    px_model_free(m);
    return rc;
}
