/* Fashion-MNIST (Zalando's 28x28 clothing images) from its four IDX files, as
 * Debian's dataset-fashion-mnist package installs them. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "formats/gzfile.h"
#include "plexus/data.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

static const char *const class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const char *px_fashion_mnist_class_name(int label) {
    return label >= 0 && label < 10 ? class_names[label] : "unknown";
}

/* dir/name.gz, or dir/name when only a gunzip'd copy exists. */
static void file_path(char *buf, size_t len, const char *dir, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
    if (access(buf, F_OK) == 0) return;
    snprintf(buf, len, "%s/%.*s", dir, (int)(strlen(name) - 3), name);
    if (access(buf, F_OK) == 0) return;
    snprintf(buf, len, "%s/%s", dir, name); /* for the error message */
}

/* A copy of rows [start, stop) of t. */
static px_tensor *rows_copy(const px_tensor *t, int64_t start, int64_t stop) {
    px_tensor *v = px_tensor_slice(t, start, stop), *c = v ? px_tensor_copy(v) : NULL;
    px_tensor_free(v);
    return c;
}

/* Reads one images/labels pair: the last n_rest rows into *rest (when rest is
 * not NULL; n_rest 0: none), the rows before them into *first. */
static px_status load_pair(const char *dir, const char *images, const char *labels, int64_t n_rest,
                           px_dataset **first, px_dataset **rest) {
    char ip[PATH_MAX], lp[PATH_MAX];
    file_path(ip, sizeof ip, dir, images);
    file_path(lp, sizeof lp, dir, labels);
    px_tensor *y = NULL, *y1 = NULL, *y2 = NULL, *x1 = NULL, *x2 = NULL;
    int64_t n_labels = 0, n_images = 0;
    /* labels first: they are small, and a count mismatch is found before the images are decoded */
    px_status st = px_idx_read_split(lp, PX_I32, -1, &y, NULL, &n_labels);
    if (st == PX_OK && y->rank != 1)
        st = px_set_error(PX_ERR_FORMAT, "fashion_mnist: %s has rank %d; labels must have rank 1", lp,
                          y->rank);
    if (st == PX_OK && n_rest > n_labels)
        st = px_set_error(PX_ERR_ARG, "fashion_mnist: n_train is %lld, but %s holds %lld examples", (long long)n_rest, lp,
                          (long long)n_labels);
    int64_t n_first = n_labels - (n_rest < n_labels ? n_rest : n_labels);
    for (int64_t i = 0; st == PX_OK && i < n_labels; i++)
        if (px_tensor_i32(y)[i] < 0 || px_tensor_i32(y)[i] > 9)
            st = px_set_error(PX_ERR_FORMAT, "fashion_mnist: %s: label %d of example %lld is outside 0..9", lp,
                              px_tensor_i32(y)[i], (long long)i);
    if (st == PX_OK && !((y1 = rows_copy(y, 0, n_first)) && (!rest || (y2 = rows_copy(y, n_first, n_labels)))))
        st = px_last_status();
    if (st == PX_OK) st = px_idx_read_split(ip, PX_F32, n_first, &x1, rest ? &x2 : NULL, &n_images);
    if (st == PX_OK && x1->rank != 3)
        st = px_set_error(PX_ERR_FORMAT, "fashion_mnist: %s has rank %d; images must have rank 3", ip,
                          x1->rank);
    if (st == PX_OK && n_images != n_labels)
        st = px_set_error(PX_ERR_FORMAT, "fashion_mnist: %s holds %lld images but %s holds %lld labels",
                          ip, (long long)n_images, lp, (long long)n_labels);
    if (st == PX_OK) st = px_scale_pixels(x1);
    if (st == PX_OK && x2) st = px_scale_pixels(x2);
    px_tensor_free(y);
    if (st != PX_OK) {
        px_tensor_free(x1);
        px_tensor_free(x2);
        px_tensor_free(y1);
        px_tensor_free(y2);
        return st;
    }
    *first = px_dataset_new(x1, y1);
    if (!*first) {
        px_tensor_free(x2);
        px_tensor_free(y2);
        return px_last_status();
    }
    if (rest) {
        *rest = px_dataset_new(x2, y2);
        if (!*rest) {
            px_dataset_free(*first);
            *first = NULL;
            return px_last_status();
        }
    }
    return PX_OK;
}

px_status px_fashion_mnist_load(const char *dir, int64_t n_train, px_dataset **train,
                                px_dataset **valid, px_dataset **test) {
    if (train) *train = NULL;
    if (valid) *valid = NULL;
    if (test) *test = NULL;
    if (!train && !valid && !test) return px_set_error(PX_ERR_ARG, "fashion_mnist: train, valid and test are all NULL");
    if (n_train < 0) return px_set_error(PX_ERR_ARG, "fashion_mnist: n_train is %lld; it must be >= 0", (long long)n_train);
    if (!dir) dir = DEFAULT_DIR;
    px_status st = PX_OK;
    if (train || valid) {
        /* the course: X_valid, X_train = X_train_full[:5000], X_train_full[5000:] */
        px_dataset *v = NULL, *t = NULL;
        st = load_pair(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", n_train, &v, train ? &t : NULL);
        if (st == PX_OK) {
            if (train) *train = t;
            if (valid && px_dataset_size(v) > 0) *valid = v;
            else px_dataset_free(v);
        }
    }
    if (st == PX_OK && test)
        st = load_pair(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 0, test, NULL);
    if (st != PX_OK) {
        if (train) {
            px_dataset_free(*train);
            *train = NULL;
        }
        if (valid) {
            px_dataset_free(*valid);
            *valid = NULL;
        }
    }
    return st;
}
