/* The `plexus` command's shared parts: messages and exit codes, strict number
 * parsing, the data options and loaders, model loading and shape checks. */
#include "cli_common.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool cli_quiet;

/* Prints "plexus CMD: <message>" as exactly one line: a message from the library
 * may span lines, and scripts read the first line of stderr. */
static void vmessage(const char *cmd, const char *suffix, const char *fmt, va_list ap) {
    if (cli_quiet) return;
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ') buf[--n] = '\0';
    fprintf(stderr, "plexus%s%s: %s%s\n", cmd ? " " : "", cmd ? cmd : "", buf, suffix);
    fflush(stderr);
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    char suffix[96];
    snprintf(suffix, sizeof suffix, " (see 'plexus%s%s --help')", cmd ? " " : "", cmd ? cmd : "");
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, suffix, fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, "", fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

void cli_warn(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "plexus %s: warning: %s\n", cmd, buf);
    fflush(stderr);
}

int64_t cli_warn_nan(const char *cmd, const float *v, int64_t n, const char *what) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += v[i] != v[i];
    if (bad)
        cli_warn(cmd, "%lld of %lld %s are NaN: the model's weights (or the inputs) hold NaN or infinity", (long long)bad,
                 (long long)n, what);
    return bad;
}

int cli_fail_lib(const char *cmd, const char *what) {
    const char *e = px_last_error();
    /* another rank's failure in a distributed run is not about what this rank was doing */
    if (px_last_status() == PX_ERR_REMOTE && e && *e) return cli_fail(cmd, "%s", e);
    return cli_fail(cmd, "%s: %s", what, e && *e ? e : "failed");
}

int cli_getopt_error(const char *cmd, int c, char **argv) {
    const char *word = optind > 0 ? argv[optind - 1] : "";
    if (c == ':') return cli_usage(cmd, "option '%s' needs a value", word);
    if (optopt && optopt < 256) return cli_usage(cmd, "unknown option '-%c'", optopt);
    return cli_usage(cmd, "unknown option '%s'", word);
}

bool cli_int(const char *cmd, const char *opt, const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > max) {
        cli_usage(cmd, "--%s needs an integer from %ld to %ld, not '%s'", opt, min, max, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

bool cli_double(const char *cmd, const char *opt, const char *s, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !(v >= min && v <= max)) {
        cli_usage(cmd, "--%s needs a number from %g to %g, not '%s'", opt, min, max, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

void cli_data_init(cli_data *d) {
    memset(d, 0, sizeof *d);
    d->label_column = -1;
}

/* The second file of a two-file option: the next word, when it is not an option. */
static int second_file(const char *cmd, const char *opt, int argc, char **argv, const char **out) {
    if (optind >= argc || argv[optind][0] == '-')
        return cli_usage(cmd, "--%s needs two files: IMAGES LABELS", opt);
    *out = argv[optind++];
    return 0;
}

int cli_data_option(const char *cmd, cli_data *d, int opt, int argc, char **argv) {
    long v;
    switch (opt) {
    case OPT_DATA:
        if (strcmp(optarg, "fashion-mnist") != 0 && strcmp(optarg, "fashion_mnist") != 0)
            return cli_usage(cmd, "--data knows 'fashion-mnist', not '%s' (use --train-csv or --train-idx for files)", optarg);
        d->fashion = true;
        return 0;
    case OPT_DATA_DIR: d->dir = optarg; return 0;
    case OPT_TRAIN_IDX: d->train_idx[0] = optarg; return second_file(cmd, "train-idx", argc, argv, &d->train_idx[1]);
    case OPT_TEST_IDX: d->test_idx[0] = optarg; return second_file(cmd, "test-idx", argc, argv, &d->test_idx[1]);
    case OPT_TRAIN_CSV: d->train_csv = optarg; return 0;
    case OPT_TEST_CSV: d->test_csv = optarg; return 0;
    case OPT_LABEL_COLUMN:
        if (!cli_int(cmd, "label-column", optarg, -100000, 100000, &v)) return CLI_USAGE;
        d->label_column = (int)v;
        return 0;
    case OPT_HEADER: d->header = true; return 0;
    case OPT_REGRESSION: d->regression = true; return 0;
    case OPT_LIMIT:
        if (!cli_int(cmd, "limit", optarg, 1, 100000000, &v)) return CLI_USAGE;
        d->limit = v;
        return 0;
    case OPT_CSV_STREAM: d->csv_stream = true; return 0;
    case OPT_IMAGES: d->images = optarg; return 0;
    case OPT_TEST_IMAGES: d->test_images = optarg; return 0;
    case OPT_IMAGE_SIZE: {
        int h = 0, w = 0, used = 0;
        if (sscanf(optarg, "%dx%d%n", &h, &w, &used) == 2 && optarg[used] == '\0' && h >= 1 && w >= 1 && h <= 16384 &&
            w <= 16384)
            return d->image_h = h, d->image_w = w, 0;
        return cli_usage(cmd, "--image-size needs HEIGHTxWIDTH, e.g. 64x64 (1 to 16384 each), not '%s'", optarg);
    }
    case OPT_COLOR_MODE:
        if (!strcmp(optarg, "rgb")) d->color_mode = PX_COLOR_RGB;
        else if (!strcmp(optarg, "grayscale")) d->color_mode = PX_COLOR_GRAYSCALE;
        else if (!strcmp(optarg, "rgba")) d->color_mode = PX_COLOR_RGBA;
        else return cli_usage(cmd, "--color-mode is rgb, grayscale or rgba, not '%s'", optarg);
        return 0;
    default: return cli_usage(cmd, "internal: unhandled data option");
    }
}

int cli_data_check(const char *cmd, const cli_data *d, bool need_train, bool need_test) {
    int n_train = (d->train_idx[0] != NULL) + (d->train_csv != NULL) + (d->images != NULL);
    int n_test = (d->test_idx[0] != NULL) + (d->test_csv != NULL) + (d->test_images != NULL);
    if (d->fashion && (n_train || n_test))
        return cli_usage(cmd, "--data fashion-mnist brings its own training and test sets; drop the file options");
    if (n_train > 1) return cli_usage(cmd, "give one training set: --train-idx, --train-csv or --images, not two");
    if (n_test > 1) return cli_usage(cmd, "give one test set: --test-idx, --test-csv or --test-images, not two");
    if (need_train && !d->fashion && !n_train)
        return cli_usage(cmd, "no training data: give --data fashion-mnist, --train-idx IMAGES LABELS, --train-csv FILE "
                              "or --images DIR");
    if (need_test && !d->fashion && !n_test)
        return cli_usage(cmd, "no test data: give --data fashion-mnist, --test-idx IMAGES LABELS, --test-csv FILE or "
                              "--test-images DIR");
    if ((d->image_h || d->color_mode) && !d->images && !d->test_images)
        return cli_usage(cmd, "--image-size and --color-mode are for image folders (--images, --test-images)");
    if (d->csv_stream && !d->train_csv && !d->test_csv)
        return cli_usage(cmd, "--csv-stream is for CSV files (--train-csv, --test-csv)");
    if (d->csv_stream && d->limit)
        return cli_usage(cmd, "--limit takes the first examples of data held in memory; not with --csv-stream");
    return 0;
}

/* Images (pixels scaled to [0, 1]) and int labels from two IDX files. */
static px_status load_idx(const char *images, const char *labels, px_dataset **out) {
    px_tensor *x = NULL, *y = NULL;
    px_status st = px_idx_read(images, PX_F32, &x);
    if (!st) st = px_scale_pixels(x);
    if (!st) st = px_idx_read(labels, PX_I32, &y);
    if (!st && y->rank != 1)
        st = px_set_error(PX_ERR_FORMAT, "%s: labels must be one-dimensional (one label per image)", labels);
    if (st) {
        px_tensor_free(x);
        px_tensor_free(y);
        return st;
    }
    if (x->shape[0] != y->shape[0]) {
        px_set_error(PX_ERR_SHAPE, "%s has %lld images but %s has %lld labels", images, (long long)x->shape[0], labels,
                     (long long)y->shape[0]);
        px_tensor_free(x);
        px_tensor_free(y);
        return PX_ERR_SHAPE;
    }
    *out = px_dataset_new(x, y);
    return *out ? PX_OK : px_last_status();
}

static px_status load_csv(const cli_data *d, const char *path, px_dataset **out) {
    px_csv_options o = {.header = d->header, .label_column = d->label_column, .float_labels = d->regression};
    return px_csv_read(path, &o, out);
}

/* Keeps the first `limit` examples. */
static px_status cut(px_dataset **d, long limit) {
    if (!*d || limit <= 0 || px_dataset_size(*d) <= limit) return PX_OK;
    px_dataset *s = px_dataset_slice(*d, 0, limit);
    if (!s) return px_last_status();
    px_dataset_free(*d);
    *d = s;
    return PX_OK;
}

px_status cli_data_load(const cli_data *d, bool keep_all, px_dataset **train, px_dataset **valid, px_dataset **test) {
    px_dataset *tr = NULL, *va = NULL, *te = NULL;
    px_status st = PX_OK;
    if (d->fashion) {
        st = px_fashion_mnist_load(d->dir, keep_all || !valid ? 60000 : 55000, train ? &tr : NULL,
                                   keep_all ? NULL : (valid ? &va : NULL), test ? &te : NULL);
    } else {
        if (train && d->train_idx[0]) st = load_idx(d->train_idx[0], d->train_idx[1], &tr);
        else if (train && d->train_csv) st = load_csv(d, d->train_csv, &tr);
        if (!st && test && d->test_idx[0]) st = load_idx(d->test_idx[0], d->test_idx[1], &te);
        else if (!st && test && d->test_csv) st = load_csv(d, d->test_csv, &te);
    }
    if (!st) st = cut(&tr, d->limit);
    if (!st) st = cut(&va, d->limit);
    if (!st) st = cut(&te, d->limit);
    if (st) {
        px_dataset_free(tr);
        px_dataset_free(va);
        px_dataset_free(te);
        return st;
    }
    if (train) *train = tr;
    if (valid) *valid = va;
    else px_dataset_free(va);
    if (test) *test = te;
    return PX_OK;
}

const char *cli_class_name(const cli_data *d, int label, char *buf, size_t len) {
    if (d && d->fashion) return px_fashion_mnist_class_name(label);
    snprintf(buf, len, "%d", label);
    return buf;
}

int cli_test_and_save(const char *cmd, px_model *m, const px_dataset *test, bool save, const char *path,
                      const char *note) {
    if (test) {
        px_logs logs = {0};
        if (px_model_evaluate(m, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs) != PX_OK)
            return cli_fail_lib(cmd, "evaluating the model on the test set failed");
        for (int i = 0; i < logs.n; i++) printf("test %s: %.4f\n", logs.names[i], logs.values[i]);
    }
    if (save && px_model_save(m, path) != PX_OK) return cli_fail_lib(cmd, "cannot save the model");
    printf("saved %s%s\n", path, note ? note : "");
    return fflush(stdout) == 0 ? CLI_OK : cli_fail(cmd, "cannot write the results to stdout");
}

char *cli_read_file(const char *path, size_t *len) {
    bool std_in = strcmp(path, "-") == 0;
    FILE *f = std_in ? stdin : fopen(path, "rb");
    if (!f) {
        px_set_error(PX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    bool too_big = false;
    while (buf) {
        if (n + 1 >= cap) {
            /* a stream has no size: a config or search space is never this big */
            too_big = cap * 2 > CLI_READ_MAX;
            char *b = too_big ? NULL : realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    bool bad = ferror(f);
    if (!std_in) fclose(f);
    const char *name = std_in ? "standard input" : path;
    if (!buf || bad) {
        free(buf);
        if (bad) px_set_error(PX_ERR_IO, "cannot read '%s': %s", name, strerror(errno));
        else if (too_big)
            px_set_error(PX_ERR_NOMEM, "'%s' is larger than %d MiB, more than a model config or search space can be", name,
                         (int)(CLI_READ_MAX >> 20));
        else px_set_error(PX_ERR_NOMEM, "cannot read '%s': out of memory", name);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* The kind of a path that is not a regular file, for messages ("a pipe or
 * FIFO"); NULL for a regular file (and for a missing one: the loader says so). */
static const char *not_regular(const char *path) {
    if (strcmp(path, "-") == 0) return "standard input";
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return NULL;
    if (S_ISFIFO(st.st_mode)) return "a pipe or FIFO";
    if (S_ISCHR(st.st_mode)) return "a character device";
    return "not a regular file";
}

bool cli_weights_option(cli_weights *w, int opt) {
    if (opt == OPT_WEIGHTS) w->path = optarg;
    else if (opt == OPT_BY_NAME) w->by_name = true;
    else return false;
    return true;
}

/* After a UTF-8 byte-order mark (skipped) and blanks an object opens:
 * model-config JSON (an HDF5 file starts with its signature byte 0x89).
 * Returns where the JSON text starts, or NULL. */
static const char *json_start(const char *text, size_t len) {
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3;
    const char *p = text;
    while (*p && isspace((unsigned char)*p)) p++;
    return *p == '{' ? text : NULL;
}

/* The model config in a file or stream read whole; kind names a stream ("a pipe
 * or FIFO"), which must hold JSON, or is NULL for a regular file. *json_out (may
 * be NULL) gets the JSON text when the model was made (caller frees). */
static px_model *from_json_file(const char *path, const char *kind, char **json_out) {
    size_t len = 0;
    char *text = cli_read_file(path, &len);
    if (!text) return NULL;
    const char *start = json_start(text, len);
    px_model *m = NULL;
    if (!start && kind) {
        px_set_error(PX_ERR_FORMAT, "'%s' (%s) is not model-config JSON; a model file (HDF5) must be a regular file", path,
                     kind);
    } else {
        if (!start) start = text; /* named .json: the parser says what is wrong */
        m = px_model_from_json(start, len - (size_t)(start - text));
        if (!m) px_error_prefix("%s", strcmp(path, "-") == 0 ? "standard input" : path);
    }
    if (m && json_out) { /* from `start`, past a byte-order mark */
        memmove(text, start, strlen(start) + 1);
        *json_out = text;
    } else {
        free(text);
    }
    return m;
}

px_model *cli_load_model(const char *path, const cli_weights *w, bool *is_json, char **json_out) {
    if (json_out) *json_out = NULL;
    /* a pipe or FIFO is read once, whole, and must be JSON: libhdf5 needs a file
     * it can seek in; without --weights a command that needs trained weights does
     * not open it at all (opening a FIFO waits for a writer) */
    const char *kind = not_regular(path);
    if (kind && w && w->required && !w->path) {
        px_set_error(PX_ERR_IO,
                     "'%s' is %s: a model file must be a regular file (libhdf5 reads it by seeking); model-config JSON "
                     "from it needs --weights FILE",
                     path, kind);
        return NULL;
    }
    bool json = kind != NULL;
    if (!kind) { /* JSON when the name ends in ".json" or the content opens an object */
        char head[64];
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(head, 1, sizeof head - 1, f) : 0;
        if (f) fclose(f);
        head[got] = '\0';
        size_t n = strlen(path);
        json = (n >= 5 && strcmp(path + n - 5, ".json") == 0) || json_start(head, got);
    }
    if (is_json) *is_json = json;
    px_model *m = json ? from_json_file(path, kind, json_out) : px_model_load(path);
    if (m && w && w->path && cli_load_weights(m, path, w->path, w->by_name) != PX_OK) {
        px_model_free(m);
        if (json_out) {
            free(*json_out);
            *json_out = NULL;
        }
        return NULL;
    }
    return m;
}

px_status cli_load_weights(px_model *m, const char *model_path, const char *weights_path, bool by_name) {
    if (!px_model_built(m))
        return px_set_error(PX_ERR_STATE, "%s: the model's input shape is unknown, so --weights cannot be checked against "
                            "it (give batch_input_shape on the first layer)", model_path);
    const char *kind = not_regular(weights_path);
    if (kind)
        return px_set_error(PX_ERR_IO, "--weights: '%s' is %s: a weights file must be a regular file (libhdf5 reads it "
                            "by seeking)", weights_path, kind);
    if (px_model_load_weights_ex(m, weights_path, &(px_load_weights_options){.by_name = by_name}) != PX_OK)
        return px_error_prefix("--weights");
    return PX_OK;
}

int cli_one_stdin(const char *cmd, const char *const *paths, int n) {
    int count = 0;
    for (int i = 0; i < n; i++) count += paths[i] && strcmp(paths[i], "-") == 0;
    if (count > 1) return cli_usage(cmd, "only one input can come from standard input ('-')");
    return 0;
}

bool cli_model_input_shape(px_model *m, px_shape *out) {
    if (!m || !px_model_built(m) || px_model_input_count(m) != 1) return false;
    /* the model's input is the first placeholder of its graph: it is made when the
     * model is built, before any weight or training target */
    px_graph *g = px_model_graph(m);
    for (int i = 0; g && i < px_graph_node_count(g); i++) {
        px_node *n = px_graph_node(g, i);
        if (px_node_get_kind(n) == PX_NODE_PLACEHOLDER) {
            px_shape s = px_node_shape(n);
            if (s.rank < 1) return false;
            out->rank = s.rank - 1;
            for (int k = 1; k < s.rank; k++) out->dim[k - 1] = s.dim[k];
            return true;
        }
    }
    return false;
}

px_status cli_check_example_shape(px_model *m, px_shape have, const char *what) {
    px_shape want;
    if (!cli_model_input_shape(m, &want)) return PX_OK;
    bool same = have.rank == want.rank, unknown = false;
    int64_t want_size = 1, have_size = px_shape_size(have);
    for (int i = 0; i < want.rank; i++) {
        if (want.dim[i] == PX_UNKNOWN) unknown = true;
        else want_size *= want.dim[i];
        same = same && (want.dim[i] == PX_UNKNOWN || want.dim[i] == have.dim[i]);
    }
    if (same || (!unknown && want_size == have_size)) return PX_OK; /* the same values in another shape fit */
    char ws[128], hs[128];
    px_shape_format(want, ws, sizeof ws);
    px_shape_format(have, hs, sizeof hs);
    return px_set_error(PX_ERR_SHAPE, "the %s has examples of shape %s (%lld features) but the model's input is %s (%lld features)",
                        what, hs, (long long)have_size, ws, (long long)want_size);
}

px_status cli_read_inputs(const char *csv, const char *idx, bool header, bool has_label, long label_column, px_tensor **x) {
    if (idx) {
        px_status st = px_idx_read(idx, PX_F32, x);
        if (!st) st = px_scale_pixels(*x);
        if (!st && (*x)->rank < 2)
            st = px_set_error(PX_ERR_SHAPE, "%s holds a one-dimensional array, not examples of features", idx);
        if (st) {
            px_tensor_free(*x);
            *x = NULL;
        }
        return st;
    }
    px_dataset *d = NULL;
    px_csv_options o = {.header = header, .no_label = !has_label, .label_column = (int)label_column, .float_labels = true};
    px_status st = px_csv_read(csv, &o, &d);
    if (st) return st;
    *x = d->x;
    d->x = NULL;
    px_dataset_free(d);
    return PX_OK;
}

px_status cli_check_fits(px_model *m, const px_dataset *d, const char *what) {
    if (!d) return PX_OK;
    px_shape have = px_tensor_shape(d->x), per = {.rank = have.rank - 1};
    for (int i = 1; i < have.rank; i++) per.dim[i - 1] = have.dim[i];
    return cli_check_example_shape(m, per, what);
}
