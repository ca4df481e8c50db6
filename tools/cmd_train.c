/* `plexus train`: fits a Keras model-config JSON (or, with none, the course's
 * Fashion-MNIST classifier) on the given data, evaluates it and saves it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_signals.h"
#include "plexus/model_io.h"

static const char *CMD = "train";

static void help(void) {
    printf("Usage: plexus train [MODEL.json | MODEL.h5 | MODEL.keras] [OPTIONS]\n\n"
           "Trains a model given as Keras model-config JSON (what model.to_json() writes), or goes on\n"
           "training the weights of a model file, compiled with the options below. With --images and\n"
           "no MODEL.json it trains a small ConvNet (Rescaling 1/255, the --augment layers, Conv2D 16\n"
           "and 32 with max pooling, Dense 64, softmax over the classes; Adam unless --optimizer). With no\n"
           "MODEL.json and no data options it runs the course's Fashion-MNIST case study: Flatten 28x28,\n"
           "Dense 300 relu, Dense 100 relu, Dense 10 softmax, SGD 0.01, 30 epochs; the first 5,000\n"
           "training images validate, the other 55,000 train (the course's split).\n\n"
           "Data (default --data fashion-mnist):\n"
           "  --data fashion-mnist       Fashion-MNIST (with its test set); --data-dir DIR to find it\n"
           "  --train-idx IMAGES LABELS  IDX files (pixels are scaled to [0, 1])\n"
           "  --train-csv FILE           CSV: features and a label column\n"
           "  --test-idx IMAGES LABELS   test set (evaluated after training)\n"
           "  --test-csv FILE\n"
           "  --label-column N           CSV label column (0-based; negative counts from the end; default -1)\n"
           "  --header                   the CSV files start with a header line\n"
           "  --regression               CSV labels are float targets (default loss mse)\n"
           "  --limit N                  use only the first N examples of each set\n"
           "  --images DIR               a folder of PNG/JPEG images, one subfolder per class (Keras's\n"
           "                             image_dataset_from_directory); --test-images DIR for a test folder\n"
           "  --image-size HxW           the size images are resized to (default 256x256)\n"
           "  --color-mode MODE          rgb (default), grayscale or rgba\n"
           "  --augment LIST             augmentation layers in front of the default image model, active in\n"
           "                             training only: flip[:horizontal|vertical|both], rotate:F, zoom:F,\n"
           "                             translate:F, contrast:F, brightness:F (e.g. flip,rotate:0.1,zoom:0.1)\n\n"
           "Training:\n"
           "  --epochs N                 default 30\n"
           "  --batch-size N             default 32\n"
           "  --optimizer NAME           sgd, adam, adamw, nadam, rmsprop, adagrad, adadelta,\n"
           "                             adamax, ftrl, lion (default sgd)\n"
           "  --learning-rate X          default: the optimizer's Keras default (sgd 0.01)\n"
           "  --loss NAME                default sparse_categorical_crossentropy (mse with --regression)\n"
           "  --metrics A,B              default accuracy (none with --regression)\n"
           "  --validation-split X       hold out this last fraction of the training set\n"
           "                             (fashion-mnist: instead of its 5,000 validation images)\n"
           "  --early-stopping PATIENCE  stop after PATIENCE epochs without improvement, keep the best weights\n"
           "  --checkpoint PATTERN       save after each epoch, e.g. 'ckpt-{epoch:02d}-{val_loss:.4f}.h5'\n"
           "  --tensorboard DIR          TensorBoard logs: DIR/train, DIR/validation, the model graph\n"
           "  --histogram-freq N         with --tensorboard: weight histograms every N epochs (default 0: none)\n"
           "  --update-freq WHEN         with --tensorboard: epoch (default), batch, or N (batch_* scalars every\n"
           "                             N batches)\n"
           "  --write-images             with --tensorboard: the first 8 training images, and the first Conv2D\n"
           "                             layer's filters at histogram epochs\n"
           "  --embeddings-freq N        with --tensorboard: the projector's files for Embedding layers every\n"
           "                             N epochs\n"
           "  --plot FILE.svg            learning curves (loss and metrics per epoch, training and validation)\n"
           "  --csv-log FILE             one CSV row per epoch (Keras's CSVLogger)\n"
           "  --backup-dir DIR           back up the run at each epoch end; a run started again with the same\n"
           "                             DIR (and options) continues where the last backup left it, and the\n"
           "                             backup is deleted when training completes (Keras's BackupAndRestore)\n"
           "  --backup-every N           also back up every N steps\n"
           "  --seed N                   weights and shuffling (default 42)\n"
           "  --resume FILE              continue from a checkpoint (.h5 from --checkpoint or -o) with its\n"
           "                             optimizer and state, instead of MODEL.json and --optimizer\n"
           "  --initial-epoch N          epochs done already (a resumed run's checkpoint epoch)\n"
           "  --threads N                threads for the matrix products\n"
           "  --dtype-policy NAME        float32 (default) or mixed_bfloat16: bf16 matrix products, float32\n"
           "                             weights and files (Keras's mixed precision; docs/mixed-precision.md)\n"
           "  --device NAME              cpu (default), cuda or cuda:N (a GPU), ref (the reference device);\n"
           "                             default: $PX_DEVICE, else cpu. 'plexus devices' lists them\n"
           CLI_WEIGHTS_HELP
           "  -o, --output FILE          the trained model (default model.h5; a .keras name writes a\n"
           "                             Keras 3 archive)\n"
           "  -v, --verbose 0|1|2        0 silent, 1 progress bar (default), 2 one line per epoch\n"
           "  -h, --help\n\n"
           "Under mpirun (mpirun -np N plexus train ...) every process trains a replica on its share of each\n"
           "batch (--batch-size is the global batch); rank 0 prints and writes the files. See docs/distributed.md.\n\n"
           "SIGINT (Ctrl-C) or SIGTERM ends training after the current step, writes the backup and the\n"
           "model, and exits with 130 or 143; a second SIGINT exits at once.\n\n"
           "Exit codes: 0 success, 1 the job failed, 2 bad usage, 130/143 interrupted.\n");
}

enum {
    O_EPOCHS = OPT_FIRST_FREE, O_BATCH, O_OPTIMIZER, O_LR, O_LOSS, O_METRICS, O_VSPLIT, O_EARLY, O_CKPT, O_TB, O_SEED,
    O_THREADS, O_RESUME, O_INITIAL_EPOCH, O_DEVICE, O_HIST_FREQ, O_UPDATE_FREQ, O_WRITE_IMAGES, O_EMB_FREQ, O_PLOT,
    O_CSV_LOG, O_BACKUP_DIR, O_BACKUP_EVERY, O_AUGMENT, O_DTYPE_POLICY
};

typedef struct train_args {
    const char *model_path, *optimizer, *loss, *metrics, *checkpoint, *tensorboard, *output, *resume, *device, *plot, *augment;
    const char *csv_log, *backup_dir, *dtype_policy;
    long backup_every;
    cli_weights weights;
    long epochs, batch, patience, threads, verbose, initial_epoch;
    long histogram_freq, update_freq, embeddings_freq;
    bool write_images, tb_option; /* tb_option: a TensorBoard option was given */
    bool has_optimizer, has_lr;
    px_strategy *strategy; /* under mpirun */
    double lr, vsplit;
    unsigned long long seed;
    bool has_seed;
} train_args;

/* The course's Fashion-MNIST classifier (as examples/fashion_mnist.c builds it). */
static px_model *default_model(void) {
    return px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU), px_dense(100, PX_RELU),
                                        px_dense(10, PX_SOFTMAX), NULL});
}

#define MAX_AUGMENT 8

/* The layers of --augment ("flip,rotate:0.1,zoom:0.1"); *n of them into out.
 * Without out, only checks the list; false after a usage message. */
static bool parse_augment(const char *list, px_layer **out, int *n) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *arg = strchr(t, ':');
        if (arg) *arg++ = '\0';
        if (*n == MAX_AUGMENT) return cli_usage(CMD, "--augment takes at most %d layers", MAX_AUGMENT), false;
        double f = 0;
        bool is_flip = !strcmp(t, "flip");
        if (!is_flip && (!arg || !cli_double(CMD, "augment", arg, -1, 1, &f))) {
            if (!arg) cli_usage(CMD, "--augment: '%s' needs a factor, e.g. %s:0.1", t, t);
            return false;
        }
        px_flip_mode mode = PX_FLIP_HORIZONTAL;
        if (is_flip && arg) {
            if (!strcmp(arg, "vertical")) mode = PX_FLIP_VERTICAL;
            else if (!strcmp(arg, "both")) mode = PX_FLIP_HORIZONTAL_AND_VERTICAL;
            else if (strcmp(arg, "horizontal") != 0)
                return cli_usage(CMD, "--augment: flip is horizontal, vertical or both, not '%s'", arg), false;
        }
        px_layer *l = NULL;
        if (!out) l = NULL;
        else if (is_flip) l = px_random_flip_layer(mode, NULL);
        else if (!strcmp(t, "rotate")) l = px_random_rotation_layer(PX_FACTOR((float)f), NULL);
        else if (!strcmp(t, "zoom")) l = px_random_zoom_layer(PX_FACTOR((float)f), NULL, NULL);
        else if (!strcmp(t, "translate")) l = px_random_translation_layer(PX_FACTOR((float)f), PX_FACTOR((float)f), NULL);
        else if (!strcmp(t, "contrast")) l = px_random_contrast_layer(PX_FACTOR((float)f), 0, 0, NULL);
        else if (!strcmp(t, "brightness")) l = px_random_brightness_layer(PX_FACTOR((float)f), 0, 0, NULL);
        bool known = is_flip || !strcmp(t, "rotate") || !strcmp(t, "zoom") || !strcmp(t, "translate") ||
                     !strcmp(t, "contrast") || !strcmp(t, "brightness");
        if (!known)
            return cli_usage(CMD, "--augment: unknown layer '%s' (flip, rotate, zoom, translate, contrast, brightness)", t),
                   false;
        if (out && !l) return cli_usage(CMD, "--augment %s: %s", t, px_last_error()), false;
        if (out) out[*n] = l;
        (*n)++;
    }
    return true;
}

/* The default model for an image folder: Rescaling to [0, 1], the --augment
 * layers, two convolutions with max pooling, a dense layer, softmax. */
static px_model *image_model(px_shape image, int classes, const char *augment) {
    px_layer *layers[MAX_AUGMENT + 12];
    int n = 0, k = 0;
    layers[n++] = px_input_layer(image, NULL);
    layers[n++] = px_rescaling_layer(1.0f / 255, 0);
    if (augment && !parse_augment(augment, layers + n, &k)) return NULL;
    n += k;
    px_conv_options same = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    layers[n++] = px_conv2d_layer(16, 3, 3, &same);
    layers[n++] = px_max_pooling2d(2, 2, NULL);
    layers[n++] = px_conv2d_layer(32, 3, 3, &same);
    layers[n++] = px_max_pooling2d(2, 2, NULL);
    layers[n++] = px_flatten(PX_SCALAR);
    layers[n++] = px_dense(64, PX_RELU);
    layers[n++] = px_dense(classes, PX_SOFTMAX);
    return px_sequential_n(layers, n); /* px_sequential would count the whole array */
}

/* Parses "a,b" into metric kinds; false (after a message) on an unknown name. */
static bool parse_metrics(const char *s, px_metric_kind *out) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n >= PX_MAX_METRICS - 1) {
            cli_usage(CMD, "--metrics takes at most %d names", PX_MAX_METRICS - 1);
            return false;
        }
        if (px_metric_from_name(t, &out[n]) != PX_OK) {
            cli_usage(CMD, "--metrics: %s", px_last_error());
            return false;
        }
        n++;
    }
    return true;
}

static int run(train_args *a, cli_data *d, px_metric_kind *metrics, px_loss_kind loss);
static int train_main(int argc, char **argv, px_strategy *strategy);

int cmd_train(int argc, char **argv) {
    px_strategy *strategy = NULL;
    int rc = cli_dist_start(CMD, &strategy);
    if (rc == CLI_OK) rc = train_main(argc, argv, strategy);
    return cli_dist_finish(CMD, strategy, rc);
}

/* The options of `plexus train` (help() describes them). */
static const struct option train_options[] = {
    CLI_DATA_OPTIONS,
    CLI_WEIGHTS_OPTIONS,
    {"epochs", required_argument, NULL, O_EPOCHS},
    {"batch-size", required_argument, NULL, O_BATCH},
    {"optimizer", required_argument, NULL, O_OPTIMIZER},
    {"learning-rate", required_argument, NULL, O_LR},
    {"loss", required_argument, NULL, O_LOSS},
    {"metrics", required_argument, NULL, O_METRICS},
    {"validation-split", required_argument, NULL, O_VSPLIT},
    {"early-stopping", required_argument, NULL, O_EARLY},
    {"checkpoint", required_argument, NULL, O_CKPT},
    {"tensorboard", required_argument, NULL, O_TB},
    {"seed", required_argument, NULL, O_SEED},
    {"threads", required_argument, NULL, O_THREADS},
    {"resume", required_argument, NULL, O_RESUME},
    {"initial-epoch", required_argument, NULL, O_INITIAL_EPOCH},
    {"device", required_argument, NULL, O_DEVICE},
    {"histogram-freq", required_argument, NULL, O_HIST_FREQ},
    {"update-freq", required_argument, NULL, O_UPDATE_FREQ},
    {"write-images", no_argument, NULL, O_WRITE_IMAGES},
    {"embeddings-freq", required_argument, NULL, O_EMB_FREQ},
    {"plot", required_argument, NULL, O_PLOT},
    {"csv-log", required_argument, NULL, O_CSV_LOG},
    {"backup-dir", required_argument, NULL, O_BACKUP_DIR},
    {"backup-every", required_argument, NULL, O_BACKUP_EVERY},
    {"augment", required_argument, NULL, O_AUGMENT},
    {"dtype-policy", required_argument, NULL, O_DTYPE_POLICY},
    {"output", required_argument, NULL, 'o'},
    {"verbose", required_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* The getopt loop: fills a and d from the options; returns -1 to go on, else the
 * exit code (after --help or a usage error). */
static int parse_options(int argc, char **argv, train_args *a, cli_data *d) {
    opterr = 0;
    optind = 0;
    int c, r;
    long v;
    while ((c = getopt_long(argc, argv, ":o:v:h", train_options, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case 'o': a->output = optarg; break;
        case 'v': if (!cli_int(CMD, "verbose", optarg, 0, 2, &a->verbose)) return CLI_USAGE; break;
        case O_EPOCHS: if (!cli_int(CMD, "epochs", optarg, 1, 1000000, &a->epochs)) return CLI_USAGE; break;
        case O_BATCH: if (!cli_int(CMD, "batch-size", optarg, 1, 1 << 24, &a->batch)) return CLI_USAGE; break;
        case O_OPTIMIZER: a->optimizer = optarg, a->has_optimizer = true; break;
        case O_LR: if (!cli_double(CMD, "learning-rate", optarg, 1e-12, 1e3, &a->lr)) return CLI_USAGE;
            a->has_lr = true;
            break;
        case O_RESUME: a->resume = optarg; break;
        case O_AUGMENT: a->augment = optarg; break;
        case O_DTYPE_POLICY: a->dtype_policy = optarg; break;
        case O_INITIAL_EPOCH: if (!cli_int(CMD, "initial-epoch", optarg, 0, 1000000, &a->initial_epoch)) return CLI_USAGE; break;
        case O_LOSS: a->loss = optarg; break;
        case O_METRICS: a->metrics = optarg; break;
        case O_VSPLIT: if (!cli_double(CMD, "validation-split", optarg, 1e-6, 0.99, &a->vsplit)) return CLI_USAGE; break;
        case O_EARLY: if (!cli_int(CMD, "early-stopping", optarg, 0, 1000000, &a->patience)) return CLI_USAGE;
            if (a->patience == 0) a->patience = -1; /* a patience of 0 is legal; -1 marks "given" apart from "absent" */
            break;
        case O_CKPT: a->checkpoint = optarg; break;
        case O_CSV_LOG: a->csv_log = optarg; break;
        case O_BACKUP_DIR: a->backup_dir = optarg; break;
        case O_BACKUP_EVERY: if (!cli_int(CMD, "backup-every", optarg, 1, 1L << 30, &a->backup_every)) return CLI_USAGE; break;
        case O_TB: a->tensorboard = optarg; break;
        case O_SEED: if (!cli_int(CMD, "seed", optarg, 0, 2147483647L, &v)) return CLI_USAGE;
            a->seed = (unsigned long long)v, a->has_seed = true;
            break;
        case O_THREADS: if (!cli_int(CMD, "threads", optarg, 1, 1024, &a->threads)) return CLI_USAGE; break;
        case O_DEVICE: a->device = optarg; break;
        case O_HIST_FREQ: if (!cli_int(CMD, "histogram-freq", optarg, 0, 1000000, &a->histogram_freq)) return CLI_USAGE;
            a->tb_option = true;
            break;
        case O_UPDATE_FREQ:
            a->tb_option = true;
            if (!strcmp(optarg, "epoch")) a->update_freq = 0;
            else if (!strcmp(optarg, "batch")) a->update_freq = 1; /* Keras's "batch": every batch */
            else if (!cli_int(CMD, "update-freq", optarg, 1, 1 << 30, &a->update_freq)) return CLI_USAGE;
            break;
        case O_WRITE_IMAGES: a->write_images = a->tb_option = true; break;
        case O_EMB_FREQ: if (!cli_int(CMD, "embeddings-freq", optarg, 0, 1000000, &a->embeddings_freq)) return CLI_USAGE;
            a->tb_option = true;
            break;
        case O_PLOT: a->plot = optarg; break;
        case ':': case '?': return cli_getopt_error(CMD, c, argv);
        default:
            if (cli_weights_option(&a->weights, c)) break;
            if ((r = cli_data_option(CMD, d, c, argc, argv))) return r;
        }
    }
    return -1;
}

/* After the options: takes MODEL.json and rejects combinations that cannot work,
 * before any file is read; returns 0, or CLI_USAGE after a message. */
static int check_options(int argc, char **argv, train_args *a, cli_data *d) {
    int r;
    if (optind < argc) a->model_path = argv[optind++];
    if (a->weights.by_name && !a->weights.path) return cli_usage(CMD, "--by-name needs --weights FILE");
    if (a->weights.path && !a->model_path) return cli_usage(CMD, "--weights needs the model they belong to: plexus train MODEL.json --weights FILE");
    if (a->weights.path && a->resume) return cli_usage(CMD, "--resume continues a saved model with its own weights; --weights does not go with it");
    if (a->backup_every && !a->backup_dir) return cli_usage(CMD, "--backup-every needs --backup-dir DIR");
    if (a->backup_dir && a->strategy) return cli_usage(CMD, "--backup-dir does not work under mpirun yet");
    if (optind < argc) return cli_usage(CMD, "unexpected argument '%s' (one MODEL.json at most)", argv[optind]);
    if (a->resume && (a->model_path || a->has_optimizer || a->has_lr || a->loss || a->metrics))
        return cli_usage(CMD, "--resume continues the checkpoint's own model, optimizer, loss and metrics: "
                              "drop MODEL.json, --optimizer, --learning-rate, --loss and --metrics");
    if (a->tb_option && !a->tensorboard)
        return cli_usage(CMD, "--histogram-freq, --update-freq, --write-images and --embeddings-freq need --tensorboard DIR");
    if (a->initial_epoch >= a->epochs)
        return cli_usage(CMD, "--initial-epoch %ld leaves nothing to do: --epochs %ld counts the epochs done too",
                         a->initial_epoch, a->epochs);
    if (!d->train_idx[0] && !d->train_csv && !d->images && !d->fashion) {
        if (d->test_idx[0] || d->test_csv || d->test_images)
            return cli_usage(CMD, "a test set needs a training set: add --train-idx, --train-csv or --images");
        d->fashion = true; /* the default data set of the case study */
    }
    if ((r = cli_data_check(CMD, d, true, false))) return r;
    if ((r = cli_one_stdin(CMD, (const char *[]){a->model_path, d->train_csv, d->test_csv}, 3))) return r;
    if (a->augment && (!d->images || a->model_path || a->resume))
        return cli_usage(CMD, "--augment builds augmentation layers into the default image model (--images without "
                              "MODEL.json); put RandomFlip, RandomRotation, ... layers in MODEL.json instead");
    int n_aug = 0;
    if (a->augment && !parse_augment(a->augment, NULL, &n_aug)) return CLI_USAGE;
    return 0;
}

/* The loss, metrics and optimizer named on the command line (or their defaults);
 * names are checked before any data is read, so typos fail fast as usage errors.
 * Returns 0, or CLI_USAGE after a message. */
static int check_names(const train_args *a, const cli_data *d, px_metric_kind *metrics, px_loss_kind *loss) {
    if (a->metrics && !parse_metrics(a->metrics, metrics)) return CLI_USAGE;
    if (!a->metrics && !d->regression) metrics[0] = PX_ACCURACY;
    *loss = d->regression ? PX_MEAN_SQUARED_ERROR : PX_SPARSE_CATEGORICAL_CROSSENTROPY;
    if (a->loss && px_loss_from_name(a->loss, loss) != PX_OK) return cli_usage(CMD, "--loss: %s", px_last_error());
    px_optimizer *probe = a->optimizer ? px_optimizer_from_name(a->optimizer, NULL) : px_sgd(NULL);
    if (!probe) return cli_usage(CMD, "--optimizer: %s", px_last_error());
    px_optimizer_free(probe);
    return 0;
}

static int train_main(int argc, char **argv, px_strategy *strategy) {
    train_args a = {.epochs = 30, .batch = 32, .output = "model.h5", .verbose = 1, .seed = 42, .strategy = strategy};
    cli_data d;
    cli_data_init(&d);
    int r = parse_options(argc, argv, &a, &d);
    if (r >= 0) return r;
    if ((r = check_options(argc, argv, &a, &d))) return r;
    px_metric_kind metrics[PX_MAX_METRICS] = {0};
    px_loss_kind loss;
    if ((r = check_names(&a, &d, metrics, &loss))) return r;
    return run(&a, &d, metrics, loss);
}

/* What compile gets: the command line's loss, metrics and optimizer where given,
 * else the model file's compile_config (Keras 3) where it has one, else the
 * defaults; says which, unless silent. */
static px_status compile_settings(const train_args *a, const char *json, px_model *m, const px_metric_kind *metrics,
                                  px_loss_kind loss, const char *default_opt, px_compile_options *co) {
    px_compile_options file = {0};
    bool found = false;
    if (json && px_compile_options_from_json(m, json, strlen(json), &file, &found) != PX_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(px_last_status(), "%s: compile_config: %s", a->model_path, msg);
    }
    *co = found ? file : (px_compile_options){0};
    bool file_loss = found && !a->loss, file_metrics = found && !a->metrics, file_opt = found && !a->optimizer && file.optimizer;
    if (!file_loss) {
        memset(co->losses, 0, sizeof co->losses);
        co->loss = loss;
        co->from_logits = false;
    }
    if (!file_metrics) { /* the command line's (or the defaults) replace the file's, objects too */
        memcpy(co->metrics, metrics, sizeof co->metrics);
        memset(co->metric_objects, 0, sizeof co->metric_objects);
    }
    if (!file_opt) {
        px_optimizer_free(file.optimizer);
        co->optimizer = px_optimizer_from_name(a->optimizer ? a->optimizer : default_opt,
                                               &(px_optimizer_options){.learning_rate = (float)a->lr});
        if (!co->optimizer) return px_last_status();
    } else if (a->lr > 0) {
        px_optimizer_set_learning_rate(co->optimizer, (float)a->lr);
    }
    if (found && a->verbose > 0) {
        char ms[256] = "";
        for (int i = 0; i < PX_MAX_METRICS && co->metrics[i]; i++)
            snprintf(ms + strlen(ms), sizeof ms - strlen(ms), "%s%s", *ms ? "," : "", px_metric_name(co->metrics[i]));
        for (int i = 0; i < PX_MAX_METRICS && co->metric_objects[i].kind; i++) /* a file's metrics come as objects */
            snprintf(ms + strlen(ms), sizeof ms - strlen(ms), "%s%s", *ms ? "," : "",
                     co->metric_objects[i].name ? co->metric_objects[i].name : px_metric_name(co->metric_objects[i].kind));
        printf("compile settings (from %s's compile_config unless given here): loss %s (%s), metrics %s (%s), "
               "optimizer %s at learning rate %g (%s)\n",
               a->model_path, px_loss_name(co->loss ? co->loss : co->losses[0].kind), file_loss ? "file" : "command line",
               *ms ? ms : "none", file_metrics ? "file" : "command line", px_optimizer_name(co->optimizer),
               (double)px_optimizer_learning_rate(co->optimizer), file_opt ? (a->lr > 0 ? "file, rate from the command line" : "file") : "command line");
    }
    return PX_OK;
}

/* After SIGINT or SIGTERM: the model as it is written to -o (the backup is
 * written already), one line saying what was saved, 128 + the signal. */
static int interrupted(const train_args *a, px_model *m) {
    int sig = cli_signals_caught();
    bool saved = px_model_save(m, a->output) == PX_OK;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", saved ? "" : px_last_error());
    int done = px_history_epochs(px_model_history(m));
    char what[1400];
    if (saved) snprintf(what, sizeof what, "saved %s", a->output);
    else snprintf(what, sizeof what, "could not save %s: %s", a->output, msg);
    fprintf(stderr, "plexus %s: interrupted by %s after %d complete epoch%s: %s%s%s%s\n", CMD, cli_signal_name(sig), done,
            done == 1 ? "" : "s", what, a->backup_dir ? "; the backup is in " : "", a->backup_dir ? a->backup_dir : "",
            a->backup_dir ? " (the same command continues the run)" : "");
    return 128 + sig;
}

/* The first (up to 8) training examples as (n, h, w, c) images when they are
 * images, for TensorBoard's --write-images; NULL otherwise. */
static px_tensor *first_images(px_source *train) {
    px_reader *r = px_reader_new(train, &(px_read_options){.batch_size = 8});
    const px_batch *b = NULL;
    px_tensor *out = NULL;
    if (r && px_reader_start(r) == PX_OK && px_reader_next(r, &b) == PX_OK && b && b->x[0].dtype == PX_F32) {
        px_shape s = px_tensor_shape(&b->x[0]);
        int64_t k = s.dim[0];
        bool image = (s.rank == 3) || (s.rank == 4 && (s.dim[3] == 1 || s.dim[3] == 3 || s.dim[3] == 4));
        px_tensor *c = image && k > 0 ? px_tensor_copy(&b->x[0]) : NULL;
        if (c) {
            out = px_tensor_reshape(c, s.rank == 3 ? PX_SHAPE(k, s.dim[1], s.dim[2], 1)
                                                   : PX_SHAPE(k, s.dim[1], s.dim[2], s.dim[3]));
            px_tensor_free(c);
        }
    }
    px_reader_free(r);
    return out;
}

/* What the model says about the first three test examples, as the case study shows. */
static void show_first_predictions(px_model *m, px_source *test, const cli_data *d) {
    px_reader *r = px_reader_new(test, &(px_read_options){.batch_size = 3});
    const px_batch *b = NULL;
    if (!r || px_reader_start(r) != PX_OK || px_reader_next(r, &b) != PX_OK || !b || b->n_y < 1 ||
        b->y[0].dtype != PX_I32) {
        px_reader_free(r);
        return;
    }
    px_tensor *classes = px_model_predict_classes(m, &b->x[0], &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    char b1[32], b2[32];
    for (int64_t i = 0; classes && i < b->rows; i++)
        printf("test example %lld: predicted %s, true %s\n", (long long)i,
               cli_source_class_name(d, test, px_tensor_i32(classes)[i], b1, sizeof b1),
               cli_source_class_name(d, test, px_tensor_i32(&b->y[0])[i], b2, sizeof b2));
    px_tensor_free(classes);
    px_reader_free(r);
}

/* The model to train: MODEL.json or a model file (with --weights), or the --resume
 * checkpoint; *m stays NULL without either (the default model is built once the
 * data are known). *json gets a model-config's text, for its compile_config.
 * Returns 0, or the exit code after a message. */
static int open_model(const train_args *a, px_model **m, char **json) {
    const char *path = a->resume ? a->resume : a->model_path;
    *m = path ? cli_dist_load_model(path, a->strategy, &a->weights, NULL, a->resume ? NULL : json) : NULL;
    if (path && !*m) return cli_fail_lib(CMD, "cannot read the model");
    if (a->resume && !px_model_optimizer(*m)) {
        px_model_free(*m);
        *m = NULL;
        px_set_error(PX_ERR_FORMAT, "'%s' has no training config (optimizer) to resume", a->resume);
        return cli_fail(CMD, "--resume: %s", px_last_error());
    }
    return 0;
}

/* Reads the data into src, builds the default model for them where *m is NULL
 * and checks that the model fits them; returns 0, or CLI_FAIL after a message. */
static int load_data(const train_args *a, cli_data *d, bool chief, bool has_model_file, px_model **m, cli_sources *src) {
    /* an image folder is split by the seed, as Keras's validation_split does; other data by fit */
    double folder_split = d->images ? a->vsplit : 0;
    if (cli_data_sources(d, a->vsplit > 0, true, true, folder_split, a->seed, !chief || a->verbose == 0, src) != PX_OK)
        return cli_fail_lib(CMD, "cannot read the data");
    if (!*m && d->images) /* the default image model, sized by the folder */
        *m = image_model(px_source_get_spec(src->train)->x[0], px_source_class_count(src->train), a->augment);
    else if (!*m)
        *m = default_model();
    if (!*m) return cli_fail_lib(CMD, "cannot build the model");
    if (cli_check_source_fits(*m, src->train, "training data") != PX_OK ||
        cli_check_source_fits(*m, src->test, "test data") != PX_OK) {
        if (has_model_file || d->images) return cli_fail(CMD, "%s", px_last_error());
        /* the default model only fits Fashion-MNIST */
        return cli_fail(CMD, "%s; without MODEL.json, train uses the Fashion-MNIST classifier: give a model-config JSON for these data",
                        px_last_error());
    }
    return 0;
}

/* The callbacks the options ask for, into cbs; *n_cb counts those made (for the
 * caller to free, a failed one included as NULL) and *samples holds the images
 * --write-images shows. Returns 0, or CLI_FAIL after a message. */
static int make_callbacks(const train_args *a, const cli_sources *src, px_callback **cbs, int *n_cb, px_tensor **samples) {
    bool has_val = src->valid || a->vsplit > 0;
    const char *monitor = has_val ? "val_loss" : "loss";
    /* a diverged run stops at the first NaN loss; the checkpoint keeps its last good model */
    if (!(cbs[(*n_cb)++] = px_terminate_on_nan())) return cli_fail_lib(CMD, "TerminateOnNaN");
    if (a->patience) {
        cbs[*n_cb] = px_early_stopping(&(px_early_stopping_options){
            .monitor = monitor, .patience = a->patience < 0 ? 0 : (int)a->patience, .restore_best_weights = true,
            .verbose = a->verbose > 0});
        if (!cbs[(*n_cb)++]) return cli_fail_lib(CMD, "--early-stopping");
    }
    if (a->checkpoint) {
        cbs[*n_cb] = px_model_checkpoint(&(px_model_checkpoint_options){.filepath = a->checkpoint, .monitor = monitor});
        if (!cbs[(*n_cb)++]) return cli_fail_lib(CMD, "--checkpoint");
    }
    if (a->tensorboard) {
        if (a->write_images) *samples = first_images(src->train);
        cbs[*n_cb] = px_tensorboard_callback(&(px_tensorboard_options){
            .log_dir = a->tensorboard, .histogram_freq = (int)a->histogram_freq, .update_freq = (int)a->update_freq,
            .write_images = a->write_images, .image_samples = *samples, .embeddings_freq = (int)a->embeddings_freq});
        if (!cbs[(*n_cb)++]) return cli_fail_lib(CMD, "--tensorboard");
    }
    if (a->csv_log) {
        cbs[*n_cb] = px_csv_logger(a->csv_log, 0, false);
        if (!cbs[(*n_cb)++]) return cli_fail_lib(CMD, "--csv-log");
    }
    if (a->backup_dir) { /* after the others: fit calls it after them anyway */
        cbs[*n_cb] = px_backup_and_restore(&(px_backup_options){.backup_dir = a->backup_dir, .save_freq = (int)a->backup_every});
        if (!cbs[(*n_cb)++]) return cli_fail_lib(CMD, "--backup-dir");
    }
    if ((cbs[*n_cb] = cli_signal_test_hook())) (*n_cb)++;
    return 0;
}

/* Fits m and plots its curves; returns -1 to go on, else the exit code: a failure,
 * an interrupt (the model saved) or a diverged loss (nothing saved). */
static int fit(const train_args *a, const cli_sources *src, bool chief, px_model *m, px_callback **cbs, int n_cb,
               px_verbosity verb) {
    px_fit_options fo = {.epochs = (int)a->epochs, .batch_size = (int)a->batch, .verbose = verb,
                         .validation_source = src->valid, .validation_split = src->valid ? 0.0f : (float)a->vsplit,
                         .callbacks = cbs, .n_callbacks = n_cb, .initial_epoch = (int)a->initial_epoch,
                         .strategy = a->strategy};
    /* under mpirun every rank would stop at its own step: the collectives would part ways */
    if (!a->strategy) cli_signals_install(m);
    px_status fst = px_model_fit_source(m, src->train, &fo);
    if (!a->strategy) cli_signals_restore();
    if (fst != PX_OK) return cli_fail_lib(CMD, "training failed");
    fflush(stdout);
    if (chief && a->plot) {
        if (px_history_plot_svg(px_model_history(m), a->plot) != PX_OK) return cli_fail_lib(CMD, "--plot");
        printf("plotted %s\n", a->plot);
    }
    if (px_model_interrupted(m)) return interrupted(a, m);
    int n_epochs = 0;
    const double *losses = px_history_get(px_model_history(m), "loss", &n_epochs);
    if (losses && n_epochs > 0 && !isfinite(losses[n_epochs - 1]))
        return cli_fail(CMD, "training diverged: the loss became %s in epoch %d (try a smaller --learning-rate than %g); "
                             "%s was not written%s",
                        isnan(losses[n_epochs - 1]) ? "NaN" : "infinite", n_epochs,
                        (double)px_optimizer_learning_rate(px_model_optimizer(m)), a->output,
                        a->checkpoint ? "; checkpoints are only written for epochs with a finite loss" : "");
    return -1;
}

/* Evaluates the trained model on the test set where there is one, then saves it
 * to -o; returns the exit code. */
static int test_and_save(const train_args *a, const cli_data *d, const cli_sources *src, bool chief, px_model *m,
                         px_verbosity verb) {
    if (src->test) {
        px_logs logs = {0};
        px_eval_options eo = {.batch_size = (int)a->batch, .verbose = verb == PX_VERBOSE_BAR ? PX_VERBOSE_BAR : PX_VERBOSE_SILENT,
                              .strategy = a->strategy};
        if (px_model_evaluate_source(m, src->test, &eo, &logs) != PX_OK)
            return cli_fail_lib(CMD, "evaluation on the test set failed");
        for (int i = 0; i < logs.n; i++) printf("test %s: %.4f\n", logs.names[i], logs.values[i]);
        if (chief && !d->regression) show_first_predictions(m, src->test, d);
    }
    /* the replicas' weights are the same: rank 0 writes */
    return cli_test_and_save(CMD, m, NULL, chief, a->output, NULL);
}

static int run(train_args *a, cli_data *d, px_metric_kind *metrics, px_loss_kind loss) {
    if (a->threads) px_set_num_threads((int)a->threads);
    /* before any layer is made: the layers of the model take the global policy */
    if (a->dtype_policy && px_mixed_precision_set_global_policy(a->dtype_policy) != PX_OK)
        return px_last_status() == PX_ERR_ARG ? cli_usage(CMD, "--dtype-policy: %s", px_last_error())
                                              : cli_fail_lib(CMD, "--dtype-policy");
    /* the device is opened before any data is read: a missing GPU fails at once */
    if (a->device ? px_set_device(a->device) != PX_OK : !*px_device())
        return cli_fail_lib(CMD, a->device ? "--device" : "PX_DEVICE");
    px_set_random_seed(a->seed);
    bool chief = !a->strategy || px_dist_rank() == 0;
    cli_show_load_progress(chief && a->verbose > 0);
    d->image_labels = loss == PX_CATEGORICAL_CROSSENTROPY ? PX_LABELS_CATEGORICAL
                      : loss == PX_BINARY_CROSSENTROPY    ? PX_LABELS_BINARY
                                                          : PX_LABELS_INT;
    char *json = NULL; /* a model-config JSON's text, for its compile_config */
    px_model *m = NULL;
    int rc = open_model(a, &m, &json);
    if (rc) return rc;
    bool has_model_file = a->resume || a->model_path;

    cli_sources src = {0};
    px_callback *cbs[8] = {NULL};
    px_tensor *samples = NULL; /* --write-images: the first training images */
    int n_cb = 0;
    if ((rc = load_data(a, d, chief, has_model_file, &m, &src))) goto done;
    if (!a->resume) { /* a resumed model keeps the compile (and optimizer state) of its file */
        px_compile_options co;
        /* the default image model trains with Adam unless told otherwise */
        const char *default_opt = d->images && !has_model_file ? "adam" : "sgd";
        if (compile_settings(a, json, m, metrics, loss, default_opt, &co) != PX_OK || px_model_compile(m, &co) != PX_OK) {
            rc = cli_fail_lib(CMD, "cannot compile the model");
            goto done;
        }
    }
    if (a->verbose > 0 && px_model_built(m) && chief) px_model_summary(m, stdout);
    if ((rc = make_callbacks(a, &src, cbs, &n_cb, &samples))) goto done;
    px_verbosity verb = a->verbose == 0 ? PX_VERBOSE_SILENT : a->verbose == 1 ? PX_VERBOSE_BAR : PX_VERBOSE_EPOCH;
    if ((rc = fit(a, &src, chief, m, cbs, n_cb, verb)) >= 0) goto done;
    rc = test_and_save(a, d, &src, chief, m, verb);
done:
    free(json);
    px_tensor_free(samples);
    for (int i = 0; i < n_cb; i++) px_callback_free(cbs[i]);
    px_model_free(m);
    cli_sources_free(&src);
    cli_show_load_progress(false);
    return rc;
}
