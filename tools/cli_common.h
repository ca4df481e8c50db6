/* The `plexus` command's shared parts: exit codes, one-line error messages,
 * number parsing, the data options of train/evaluate/tune and model loading. */
#ifndef PX_CLI_COMMON_H
#define PX_CLI_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <plexus/plexus.h>
#include <plexus/dist.h>

/* Exit codes: the job succeeded, the job failed, the command line is wrong. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* "plexus CMD: message (see 'plexus CMD --help')" on stderr; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "plexus CMD: message" on stderr (newlines folded so it stays one line); returns CLI_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "plexus CMD: warning: message" on stderr, one line; the job goes on. */
void cli_warn(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Warns once when values hold NaN ("N of M <what> are NaN ..."); returns the count. */
int64_t cli_warn_nan(const char *cmd, const float *v, int64_t n, const char *what);
/* cli_fail with "<what>: <px_last_error()>". */
int cli_fail_lib(const char *cmd, const char *what);

/* The message for getopt_long's '?' (unknown option) or ':' (missing value);
 * returns CLI_USAGE. Commands call getopt_long with opterr = 0 and a leading ':'. */
int cli_getopt_error(const char *cmd, int c, char **argv);

/* Strict numbers for option values: false (after a usage message) when `s` is
 * not entirely a number within [min, max]. */
bool cli_int(const char *cmd, const char *opt, const char *s, long min, long max, long *out);
bool cli_double(const char *cmd, const char *opt, const char *s, double min, double max, double *out);

/* The data options, shared by train, evaluate and tune (ids above any char). */
enum {
    OPT_DATA = 1000, OPT_DATA_DIR, OPT_TRAIN_IDX, OPT_TRAIN_CSV, OPT_TEST_IDX, OPT_TEST_CSV,
    OPT_LABEL_COLUMN, OPT_HEADER, OPT_REGRESSION, OPT_LIMIT, OPT_WEIGHTS, OPT_BY_NAME,
    OPT_IMAGES, OPT_TEST_IMAGES, OPT_IMAGE_SIZE, OPT_COLOR_MODE, OPT_CSV_STREAM,
    OPT_FIRST_FREE /* the commands' own long-only options start here */
};
#define CLI_DATA_OPTIONS                                                      \
    {"data", required_argument, NULL, OPT_DATA},                              \
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},                      \
    {"train-idx", required_argument, NULL, OPT_TRAIN_IDX},                    \
    {"train-csv", required_argument, NULL, OPT_TRAIN_CSV},                    \
    {"test-idx", required_argument, NULL, OPT_TEST_IDX},                      \
    {"test-csv", required_argument, NULL, OPT_TEST_CSV},                      \
    {"label-column", required_argument, NULL, OPT_LABEL_COLUMN},              \
    {"header", no_argument, NULL, OPT_HEADER},                                \
    {"regression", no_argument, NULL, OPT_REGRESSION},                        \
    {"limit", required_argument, NULL, OPT_LIMIT},                            \
    {"images", required_argument, NULL, OPT_IMAGES},                          \
    {"test-images", required_argument, NULL, OPT_TEST_IMAGES},                \
    {"image-size", required_argument, NULL, OPT_IMAGE_SIZE},                  \
    {"color-mode", required_argument, NULL, OPT_COLOR_MODE},                  \
    {"csv-stream", no_argument, NULL, OPT_CSV_STREAM}

typedef struct cli_data {
    bool fashion;                 /* --data fashion-mnist */
    const char *dir;              /* --data-dir */
    const char *train_idx[2], *test_idx[2];
    const char *train_csv, *test_csv;
    int label_column;             /* -1: last */
    bool header, regression;
    long limit;                   /* 0: all */
    const char *images, *test_images; /* --images DIR, --test-images DIR: one subfolder per class */
    int image_h, image_w;         /* --image-size HxW (default 256x256, as Keras) */
    px_color_mode color_mode;     /* --color-mode rgb|grayscale|rgba */
    px_label_mode image_labels;   /* how an image folder's labels are given: by the loss (train) */
    bool csv_stream;              /* --csv-stream: CSV files read batch by batch every epoch (also
                                   * chosen for files too large to hold, cli_data_sources) */
} cli_data;

void cli_data_init(cli_data *d);
/* Handles one of the data options; returns 0, or CLI_USAGE after a message.
 * Options that take two files (--train-idx IMAGES LABELS) consume argv[optind]. */
int cli_data_option(const char *cmd, cli_data *d, int opt, int argc, char **argv);
/* Checks that exactly one training source was given (need_train) and at most one
 * test source; returns 0 or CLI_USAGE after a message. */
int cli_data_check(const char *cmd, const cli_data *d, bool need_train, bool need_test);
/* Loads what was asked for. With fashion-mnist, *valid gets the first 5,000 training
 * images (the course's split) unless keep_all (then *train has all 60,000). Any pointer may be NULL;
 * --limit cuts every set to its first N examples. */
px_status cli_data_load(const cli_data *d, bool keep_all, px_dataset **train, px_dataset **valid, px_dataset **test);
/* "T-shirt/top" for Fashion-MNIST, else the number, into buf. */
const char *cli_class_name(const cli_data *d, int label, char *buf, size_t len);

/* --weights FILE and --by-name: the weights of a model given as config JSON (or
 * weights to put into a model file's model), shared by every command. */
#define CLI_WEIGHTS_OPTIONS                                                   \
    {"weights", required_argument, NULL, OPT_WEIGHTS},                        \
    {"by-name", no_argument, NULL, OPT_BY_NAME}
#define CLI_WEIGHTS_HELP                                                                          \
    "  --weights FILE             weights for MODEL (a weights-only .h5 or .weights.h5, a model\n"  \
    "                             file or a .keras archive), matched by position as Keras does\n"   \
    "  --by-name                  with --weights: match Keras 2 weight files by layer name\n"
typedef struct cli_weights {
    const char *path;
    bool by_name;
    /* set by commands that need trained weights (evaluate, predict): without
     * --weights, MODEL given as a pipe or FIFO is refused before it is opened */
    bool required;
} cli_weights;
/* Handles OPT_WEIGHTS / OPT_BY_NAME: true when opt was one of them. */
bool cli_weights_option(cli_weights *w, int opt);

/* Streams read whole (standard input, pipes) stop at this size. */
#define CLI_READ_MAX ((size_t)256 << 20)
/* ---- the data as sources (tools/cli_data.c) ---- */
/* What a command reads: sources, and the datasets they borrow. */
typedef struct cli_sources {
    px_source *train, *valid, *test;
    px_dataset *held[3];
} cli_sources;
/* The data asked for as sources (any of the three pointers' targets may stay
 * NULL when not wanted: want_train, want_test). A CSV file is streamed
 * (px_source_csv; training examples through a shuffle buffer of 10,000 with
 * `seed`, read ahead on a thread) with --csv-stream, or when its size on disk
 * (gzip'd: times 8) is over half of px_memory_limit(), with a note unless quiet.
 * Validation: Fashion-MNIST's
 * first 5,000 training images unless keep_all; an image folder split by
 * validation_split with `seed`, as Keras does (otherwise fit splits the
 * tail). Image folders print Keras's "Found N files belonging to K classes."
 * unless quiet; a test folder must have the training folder's classes. */
px_status cli_data_sources(const cli_data *d, bool keep_all, bool want_train, bool want_test, double validation_split,
                           uint64_t seed, bool quiet, cli_sources *out);
void cli_sources_free(cli_sources *s);
/* The class name of a label: an image folder's subfolder, Fashion-MNIST's name, or the number. */
const char *cli_source_class_name(const cli_data *d, const px_source *s, int label, char *buf, size_t len);
/* cli_check_example_shape for a source's examples (NULL: fits). */
px_status cli_check_source_fits(px_model *m, px_source *s, const char *what);
/* Shows the progress of long loads (image headers, ...) on stderr as a line
 * redrawn in place, when they take more than half a second. */
void cli_show_load_progress(bool on);

/* The end of a job that makes a model: its scores on the test set (when test is
 * not NULL), then the model saved to path (when save is true: under MPI only
 * rank 0 writes) and "saved PATH<note>" printed. Returns the exit code. */
int cli_test_and_save(const char *cmd, px_model *m, const px_dataset *test, bool save, const char *path,
                      const char *note);

/* The whole file ("-": standard input; NUL-terminated; caller frees) or NULL
 * with a px error. */
char *cli_read_file(const char *path, size_t *len);
/* A model from Keras model-config JSON (uncompiled) or a model file (.h5, .keras),
 * with the weights of w->path loaded into it when given (w may be NULL).
 * JSON may come from "-" (standard input) or a pipe; a model file (HDF5) must be
 * a regular file. *is_json (may be NULL): MODEL was a config, so its weights come
 * from --weights or nowhere (then it holds the initial random weights).
 * *json (may be NULL) gets the config's JSON text (caller frees; NULL for a
 * model file). */
px_model *cli_load_model(const char *path, const cli_weights *w, bool *is_json, char **json);
/* The weights file (a regular file) into a built model (model_path names it in
 * messages). */
px_status cli_load_weights(px_model *m, const char *model_path, const char *weights_path, bool by_name);
/* CLI_USAGE (after a message) when more than one of the paths is "-". */
int cli_one_stdin(const char *cmd, const char *const *paths, int n);
/* The model's input shape (without the batch axis) when it is known. */
bool cli_model_input_shape(px_model *m, px_shape *out);
/* PX_ERR_SHAPE naming both shapes when examples of shape `have` (without the
 * batch axis) do not fit the model; the same number of features in another
 * shape fits (fit, evaluate and predict reshape them, as a CSV of 784 columns
 * feeds a (28, 28) input). */
px_status cli_check_example_shape(px_model *m, px_shape have, const char *what);
/* The same for a dataset's examples (NULL: fits). */
px_status cli_check_fits(px_model *m, const px_dataset *d, const char *what);

/* ---- distributed runs (tools/cli_dist.c) ---- */
/* Set on ranks other than 0 of a run under mpirun: messages are left to rank 0,
 * which is told of every rank's failure. */
extern bool cli_quiet;
/* Under an MPI launcher: starts MPI, silences the other ranks and makes the
 * strategy (*strategy stays NULL otherwise). Returns an exit code. */
int cli_dist_start(const char *cmd, px_strategy **strategy);
/* Frees the strategy and ends MPI with this rank's exit code rc; returns the
 * command's exit code (a failure on another rank makes rank 0's CLI_FAIL). */
int cli_dist_finish(const char *cmd, px_strategy *strategy, int rc);
/* cli_load_model, where the files (the model's, and w's weights) may exist on rank 0's
 * machine only. */
px_model *cli_dist_load_model(const char *path, px_strategy *strategy, const cli_weights *w, bool *is_json, char **json);

/* The sub-commands: each returns an exit code. */
/* Inputs of predict and export: IDX images (pixels scaled to [0, 1]) or CSV
 * rows (every column a feature, or all but the label column). *x: new tensor. */
px_status cli_read_inputs(const char *csv, const char *idx, bool header, bool has_label, long label_column, px_tensor **x);

int cmd_train(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_tune_model(int argc, char **argv); /* tune --model: over any model JSON */
int cmd_devices(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
