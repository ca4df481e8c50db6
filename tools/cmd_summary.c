/* `plexus summary`: the Keras-style layer table of a model file or of a Keras
 * model-config JSON. */
#include <stdio.h>

#include "cli_common.h"

static const char *CMD = "summary";

static void help(void) {
    printf("Usage: plexus summary (MODEL.h5 | MODEL.keras | MODEL.json) [--weights FILE]\n\n"
           "Prints the layers (name and type, output shape, parameters) and the parameter totals,\n"
           "as Keras's model.summary() does. MODEL.json is Keras model-config JSON (model.to_json());\n"
           "its first layer must give the input shape for the shapes to be known.\n\n"
           CLI_WEIGHTS_HELP
           "  -h, --help\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

int cmd_summary(int argc, char **argv) {
    static const struct option longopts[] = {CLI_WEIGHTS_OPTIONS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_weights w = {0};
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return CLI_OK;
        }
        if (!cli_weights_option(&w, c)) return cli_getopt_error(CMD, c, argv);
    }
    if (optind >= argc) return cli_usage(CMD, "give a model file or model-config JSON: plexus summary MODEL.h5");
    const char *path = argv[optind++];
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s' (one model)", argv[optind]);
    if (w.by_name && !w.path) return cli_usage(CMD, "--by-name needs --weights FILE");
    px_model *m = cli_load_model(path, &w, NULL, NULL);
    if (!m) return cli_fail_lib(CMD, "cannot load the model");
    int rc = CLI_OK;
    if (!px_model_built(m))
        rc = cli_fail(CMD, "%s: the model's input shape is unknown (give batch_input_shape on the first layer)", path);
    else if (px_model_summary(m, stdout) != PX_OK)
        rc = cli_fail_lib(CMD, "cannot print the summary");
    else if (fflush(stdout) != 0)
        rc = cli_fail(CMD, "cannot write the summary to stdout");
    px_model_free(m);
    return rc;
}
