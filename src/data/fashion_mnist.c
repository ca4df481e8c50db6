/* Fashion-MNIST (Zalando's 28x28 clothing images) from its four IDX files, as
 * Debian's dataset-fashion-mnist package installs them: as float32 datasets,
 * or as sources whose pixels stay bytes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/idx.h"
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

static px_status check_label(const char *path, int label, int64_t example) {
    if (label >= 0 && label <= 9) return PX_OK;
    return px_set_error(PX_ERR_FORMAT, "fashion_mnist: %s: label %d of example %lld is outside 0..9", path, label,
                        (long long)example);
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
    for (int64_t i = 0; st == PX_OK && i < n_labels; i++) st = check_label(lp, px_tensor_i32(y)[i], i);
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

/* The images and labels of rows [from, from + n) of a pair as a source that owns
 * both arrays (freed, also on failure). Labels are checked here. */
static px_source *bytes_source(px_array x, px_array y, const char *ip, const char *lp, int64_t from) {
    px_status st = x.shape.rank == 3 ? PX_OK
                                     : px_set_error(PX_ERR_FORMAT, "fashion_mnist: images must have rank 3, not %d",
                                                    x.shape.rank);
    if (st == PX_OK && y.shape.rank != 1)
        st = px_set_error(PX_ERR_FORMAT, "fashion_mnist: %s has rank %d; labels must have rank 1", lp, y.shape.rank);
    if (st == PX_OK && x.shape.dim[0] != y.shape.dim[0])
        st = px_set_error(PX_ERR_FORMAT, "fashion_mnist: %s holds %lld images but %s holds %lld labels", ip,
                          (long long)x.shape.dim[0], lp, (long long)y.shape.dim[0]);
    for (int64_t i = 0; st == PX_OK && i < y.shape.dim[0]; i++)
        st = check_label(lp, ((const uint8_t *)y.data)[i], from + i);
    if (st != PX_OK) {
        free((void *)x.data);
        free((void *)y.data);
        return NULL;
    }
    x.scale = 1.0f / 255;
    return px_source_arrays(&x, 1, &y, 1, NULL);
}

/* Rows [from, to) of an owned array of bytes, as an owned copy (data NULL when out of memory). */
static px_array bytes_rows(px_array a, int64_t from, int64_t to) {
    int64_t per = a.shape.dim[0] ? px_shape_size(a.shape) / a.shape.dim[0] : 0;
    px_array r = a;
    r.shape.dim[0] = to - from;
    r.data = malloc((size_t)((to - from) * per) + 1);
    if (r.data) memcpy((void *)r.data, (const uint8_t *)a.data + from * per, (size_t)((to - from) * per));
    return r;
}

/* One images/labels pair as byte sources: the last n_rest rows into *rest (when
 * rest is not NULL; NULL when n_rest is 0), the rows before them into *first
 * (NULL when none are left for it). */
static px_status source_pair(const char *dir, const char *images, const char *labels, int64_t n_rest,
                             px_source **first, px_source **rest) {
    char ip[PATH_MAX], lp[PATH_MAX];
    file_path(ip, sizeof ip, dir, images);
    file_path(lp, sizeof lp, dir, labels);
    *first = NULL;
    if (rest) *rest = NULL;
    /* the labels whole first: they are small, and give the number of rows to split */
    px_array y, x1, x2;
    int64_t n = 0;
    px_status st = px_idx_read_bytes_split(lp, -1, &y, NULL, &n);
    if (st != PX_OK) return st;
    if (n_rest > n) {
        free((void *)y.data);
        return px_set_error(PX_ERR_ARG, "fashion_mnist: n_train is %lld, but %s holds %lld examples", (long long)n_rest,
                            lp, (long long)n);
    }
    int64_t n_first = rest ? n - n_rest : n;
    px_array y1 = bytes_rows(y, 0, n_first), y2 = rest ? bytes_rows(y, n_first, n) : (px_array){0};
    free((void *)y.data);
    if (!y1.data || (rest && !y2.data)) st = px_set_error(PX_ERR_NOMEM, "fashion_mnist: out of memory for labels");
    if (st == PX_OK) st = px_idx_read_bytes_split(ip, rest ? n_first : -1, &x1, rest ? &x2 : NULL, NULL);
    if (st != PX_OK) {
        free((void *)y1.data), free((void *)y2.data);
        return st;
    }
    /* a part without rows is no source (NULL) */
    if (n_first == 0) free((void *)x1.data), free((void *)y1.data);
    else if (!(*first = bytes_source(x1, y1, ip, lp, 0))) st = px_last_status();
    if (!rest) return st;
    if (st != PX_OK || n_first == n) {
        free((void *)x2.data), free((void *)y2.data);
        return st;
    }
    if (!(*rest = bytes_source(x2, y2, ip, lp, n_first))) {
        px_source_free(*first);
        *first = NULL;
        return px_last_status();
    }
    return PX_OK;
}

px_status px_fashion_mnist_sources(const char *dir, int64_t n_train, px_source **train, px_source **valid,
                                   px_source **test) {
    if (!train) return px_set_error(PX_ERR_ARG, "fashion_mnist: train is NULL");
    *train = NULL;
    if (valid) *valid = NULL;
    if (test) *test = NULL;
    if (n_train < 1 || n_train > 60000)
        return px_set_error(PX_ERR_ARG, "fashion_mnist: n_train is %lld; it must be in 1..60000", (long long)n_train);
    if (!dir) dir = DEFAULT_DIR;
    /* as px_fashion_mnist_load: the last n_train train, the ones before them validate */
    px_source *v = NULL, *t = NULL;
    px_status st = source_pair(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", n_train, &v, &t);
    if (st == PX_OK) {
        *train = t;
        if (valid) *valid = v; /* NULL when every example trains */
        else px_source_free(v);
    }
    if (st == PX_OK && test)
        st = source_pair(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 0, test, NULL);
    if (st != PX_OK) {
        px_source_free(*train);
        *train = NULL;
        if (valid) {
            px_source_free(*valid);
            *valid = NULL;
        }
    }
    return st;
}
