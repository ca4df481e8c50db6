/* The `plexus` command: dispatches to the sub-commands train, evaluate, predict,
 * summary, tune, devices and export (each in its own cmd_*.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli_common.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *what;
} commands[] = {
    {"train", cmd_train, "train a model (a Keras model-config JSON, or the course's Fashion-MNIST classifier)"},
    {"evaluate", cmd_evaluate, "loss and metrics of a saved model on test data"},
    {"predict", cmd_predict, "class probabilities or classes for CSV or IDX inputs, as CSV"},
    {"summary", cmd_summary, "the Keras-style layer table of a model file or model-config JSON"},
    {"tune", cmd_tune, "hyperparameter search: MLPs by grid or random draws, or any model JSON with successive halving"},
    {"devices", cmd_devices, "the devices training can run on (cpu, ref, cuda:N), for --device"},
    {"export", cmd_export, "a model as dependency-free C99 source for devices without Plexus"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out, "Usage: plexus COMMAND [OPTIONS]\n"
                 "       plexus COMMAND --help\n\n"
                 "Keras-style deep learning from the command line.\n\nCommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].what);
    fprintf(out, "\nWith no options, 'plexus train' runs the Fashion-MNIST case study (30 epochs).\n"
                 "Exit codes: 0 success, 1 the job failed, 2 bad usage.\n");
}

int main(int argc, char **argv) {
#ifdef SIGXFSZ
    /* past a file-size limit (ulimit -f) a write then fails with EFBIG, which the
     * save reports (keeping the previous file), instead of killing the process */
    signal(SIGXFSZ, SIG_IGN);
#endif
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        if (strcmp(c, "help") == 0 && argc > 2) {
            for (int i = 0; i < N_COMMANDS; i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, args);
                }
            return cli_usage(NULL, "unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(c, "--version") == 0) {
        printf("plexus 0.1.0\n");
        return CLI_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(c, commands[i].name) == 0) {
            /* the sub-command sees itself as argv[0], as getopt_long expects */
            return commands[i].run(argc - 1, argv + 1);
        }
    if (c[0] == '-') return cli_usage(NULL, "unknown option '%s'; give a command first: train, evaluate, predict, summary, tune, devices, export", c);
    return cli_usage(NULL, "unknown command '%s' (commands: train, evaluate, predict, summary, tune, devices, export)", c);
}
