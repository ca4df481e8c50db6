/* A folder of images, one subfolder per class, as Keras's
 * image_dataset_from_directory reads it: the files are listed (and their
 * headers read) once; each read decodes, converts and resizes the examples
 * asked for, so only the file names stay in memory. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/source_internal.h"
#include "formats/image.h"

#define MAX_DEPTH 64 /* nested folders below a class folder: deeper is a loop of links */

typedef struct image_source {
    px_source base;
    char **files;
    int32_t *labels;
    int64_t n;
    int height, width, channels;
    px_label_mode label_mode;
} image_source;

/* ---- listing ---- */

typedef struct name_list {
    char **v;
    int64_t n, cap;
} name_list;

static px_status list_push(name_list *l, const char *s, const char *who) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return px_set_error(PX_ERR_NOMEM, "%s: out of memory listing files", who);
        l->v = v, l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return px_set_error(PX_ERR_NOMEM, "%s: out of memory listing files", who);
    l->n++;
    return PX_OK;
}

static void list_free(name_list *l) {
    for (int64_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* The entries of a folder, sorted (hidden ones left out), for a stable order. */
static px_status sorted_entries(const char *dir, name_list *out, const char *who) {
    DIR *d = opendir(dir);
    if (!d) return px_set_error(PX_ERR_IO, "%s: cannot open the folder %s: %s", who, dir, strerror(errno));
    struct dirent *e;
    px_status st = PX_OK;
    while (st == PX_OK && (e = readdir(d)))
        if (e->d_name[0] != '.') st = list_push(out, e->d_name, who);
    closedir(d);
    if (st == PX_OK && out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str); /* v is NULL when empty */
    return st;
}

/* Kind of a path: 'd' folder, 'f' file, 0 other or missing; links to folders
 * count as folders only when followed. */
static char kind_of(const char *path, bool follow) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (S_ISLNK(st.st_mode)) {
        if (stat(path, &st) != 0) return 0;
        if (S_ISDIR(st.st_mode)) return follow ? 'd' : 0;
    }
    return S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 0;
}

/* Appends the image files under `dir` (at any depth), in sorted order. */
static px_status walk(const char *dir, bool follow, int depth, name_list *files, const char *who) {
    if (depth > MAX_DEPTH)
        return px_set_error(PX_ERR_FORMAT, "%s: %s: folders nested more than %d deep (a loop of links?)", who, dir,
                            MAX_DEPTH);
    name_list ents = {0};
    px_status st = sorted_entries(dir, &ents, who);
    char path[PATH_MAX];
    for (int64_t i = 0; st == PX_OK && i < ents.n; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ents.v[i]) >= sizeof path) {
            st = px_set_error(PX_ERR_IO, "%s: the path %s/%s is too long", who, dir, ents.v[i]);
            break;
        }
        char k = kind_of(path, follow);
        if (k == 'd') st = walk(path, follow, depth + 1, files, who);
        else if (k == 'f' && is_image_name(ents.v[i])) st = list_push(files, path, who);
    }
    list_free(&ents);
    return st;
}

/* ---- reading ---- */

static px_status image_read(px_source *s, const int64_t *idx, int64_t n, const px_batch *dst) {
    image_source *im = (image_source *)s;
    size_t per = (size_t)im->height * (size_t)im->width * (size_t)im->channels;
    float *tmp = NULL;
    px_status st = PX_OK;
    for (int64_t r = 0; r < n && st == PX_OK; r++) {
        int64_t i = idx[r];
        if (i < 0 || i >= im->n) return px_set_error(PX_ERR_ARG, "image folder: example %lld of %lld", (long long)i,
                                                      (long long)im->n);
        px_image img;
        if ((st = px_image_decode(im->files[i], im->channels, &img)) != PX_OK) break;
        float *out = (float *)dst->x[0].data + (size_t)r * per;
        if (dst->x[0].dtype != PX_F32) {
            if (!tmp && !(tmp = malloc(per * sizeof *tmp))) st = px_set_error(PX_ERR_NOMEM, "image folder: out of memory");
            out = tmp;
        }
        if (st == PX_OK)
            st = px_image_resize_bilinear(img.pixels, img.height, img.width, img.channels, out, im->height, im->width);
        px_image_free(&img);
        if (st == PX_OK && out == tmp) {
            /* int32 features: whole numbers only, which bilinear resizing rarely gives */
            int64_t bad = px_copy_values((int32_t *)dst->x[0].data + (size_t)r * per, PX_I32, tmp, PX_ELEM_F32,
                                         (int64_t)per, 1.0f);
            if (bad >= 0)
                st = px_set_error(PX_ERR_ARG, "image folder: %s: pixel %g is no whole number for int32 input",
                                  im->files[i], (double)tmp[bad]);
        }
        if (st == PX_OK && dst->n_y > 0) {
            int32_t label = im->labels[i];
            px_tensor *y = (px_tensor *)&dst->y[0];
            if (im->label_mode == PX_LABELS_INT) {
                if (y->dtype == PX_I32) px_tensor_i32(y)[r] = label;
                else px_tensor_f32(y)[r] = (float)label;
            } else if (im->label_mode == PX_LABELS_BINARY) {
                if (y->dtype == PX_I32) px_tensor_i32(y)[r] = label;
                else px_tensor_f32(y)[r] = (float)label;
            } else {
                int k = s->classes;
                for (int c = 0; c < k; c++) {
                    if (y->dtype == PX_I32) px_tensor_i32(y)[r * k + c] = c == label;
                    else px_tensor_f32(y)[r * k + c] = c == label ? 1.0f : 0.0f;
                }
            }
        }
        if (st == PX_OK && dst->weights) dst->weights[r] = 1.0f;
    }
    free(tmp);
    return st;
}

static void image_destroy(px_source *s) {
    image_source *im = (image_source *)s;
    for (int64_t i = 0; i < im->n; i++) free(im->files[i]);
    free(im->files);
    free(im->labels);
}

static const px_source_ops image_ops = {.name = "image folder", .read = image_read, .destroy = image_destroy};

/* ---- making one ---- */

static px_status check_options(const char *dir, const px_image_dir_options *o, const char *who) {
    if (!dir) return px_set_error(PX_ERR_ARG, "%s: the folder is NULL", who);
    if (o->height < 0 || o->width < 0 || o->height > 16384 || o->width > 16384)
        return px_set_error(PX_ERR_ARG, "%s: image size %d x %d (1 to 16384 each; 0 for Keras's 256)", who, o->width,
                            o->height);
    if ((unsigned)o->color_mode > PX_COLOR_RGBA) return px_set_error(PX_ERR_ARG, "%s: unknown color mode %d", who, (int)o->color_mode);
    if ((unsigned)o->label_mode > PX_LABELS_NONE) return px_set_error(PX_ERR_ARG, "%s: unknown label mode %d", who, (int)o->label_mode);
    if ((unsigned)o->subset > PX_SUBSET_VALIDATION) return px_set_error(PX_ERR_ARG, "%s: unknown subset %d", who, (int)o->subset);
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return px_set_error(PX_ERR_ARG, "%s: validation_split %g is outside [0, 1)", who, o->validation_split);
    if ((o->validation_split > 0) != (o->subset != PX_SUBSET_ALL))
        return px_set_error(PX_ERR_ARG, "%s: validation_split and subset go together (as in Keras): give both or neither",
                            who);
    return PX_OK;
}

/* The class folders: the sorted subfolders, or the given names, which must be
 * exactly the subfolders (in any order), as Keras requires. */
static px_status find_classes(const char *dir, const px_image_dir_options *o, name_list *classes, const char *who) {
    name_list ents = {0};
    px_status st = sorted_entries(dir, &ents, who);
    char path[PATH_MAX];
    name_list sub = {0};
    for (int64_t i = 0; st == PX_OK && i < ents.n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, ents.v[i]);
        if (kind_of(path, true) == 'd') st = list_push(&sub, ents.v[i], who);
    }
    list_free(&ents);
    if (st == PX_OK && sub.n == 0)
        st = px_set_error(PX_ERR_FORMAT, "%s: %s has no subfolders: put each class's images in a subfolder named after "
                          "the class", who, dir);
    if (st == PX_OK && o->class_names) {
        int64_t given = 0;
        for (; o->class_names[given]; given++) {
            bool found = bsearch(&o->class_names[given], sub.v, (size_t)sub.n, sizeof *sub.v, cmp_str) != NULL;
            for (int64_t j = 0; j < given && found; j++) found = strcmp(o->class_names[j], o->class_names[given]) != 0;
            if (!found) {
                st = px_set_error(PX_ERR_ARG, "%s: class name '%s' is not a subfolder of %s (or is given twice)", who,
                                  o->class_names[given], dir);
                break;
            }
            if ((st = list_push(classes, o->class_names[given], who)) != PX_OK) break;
        }
        if (st == PX_OK && given != sub.n)
            st = px_set_error(PX_ERR_ARG, "%s: %lld class names given but %s has %lld subfolders; they must match", who,
                              (long long)given, dir, (long long)sub.n);
        list_free(&sub);
    } else if (st == PX_OK) {
        *classes = sub;
        return PX_OK;
    }
    list_free(&sub);
    return st;
}

/* The image files of every class folder, in order, into files, and each one's
 * class index into *labels (allocated here). */
static px_status list_files(const char *dir, const px_image_dir_options *o, const name_list *classes, name_list *files,
                            int32_t **labels, const char *who) {
    px_status st = PX_OK;
    int64_t *first = malloc((size_t)(classes->n + 1) * sizeof *first); /* class c's files are [first[c], first[c + 1]) */
    if (!first) return px_set_error(PX_ERR_NOMEM, "%s: out of memory", who);
    char path[PATH_MAX];
    for (int64_t c = 0; st == PX_OK && c < classes->n; c++) {
        first[c] = files->n;
        snprintf(path, sizeof path, "%s/%s", dir, classes->v[c]);
        st = walk(path, o->follow_links, 0, files, who);
    }
    if (st == PX_OK) first[classes->n] = files->n;
    if (st == PX_OK && files->n == 0)
        st = px_set_error(PX_ERR_FORMAT, "%s: no PNG or JPEG files (.png, .jpg, .jpeg) in the %lld class folders of %s",
                          who, (long long)classes->n, dir);
    if (st == PX_OK && !(*labels = malloc((size_t)files->n * sizeof **labels))) st = px_set_error(PX_ERR_NOMEM, "%s: out of memory", who);
    for (int64_t c = 0; st == PX_OK && c < classes->n; c++)
        for (int64_t i = first[c]; i < first[c + 1]; i++) (*labels)[i] = (int32_t)c;
    free(first);
    return st;
}

/* The subset of the files to keep, [*lo, *hi): with a validation_split, Keras
 * shuffles the whole list once with the seed, then takes the last
 * validation_split of it for validation. */
static px_status split_subset(const px_image_dir_options *o, name_list *files, int32_t *labels, int64_t *lo, int64_t *hi,
                              const char *who) {
    *lo = 0, *hi = files->n;
    if (o->validation_split <= 0) return PX_OK;
    if (!o->no_split_shuffle) {
        px_rng rng = px_rng_seeded(o->seed);
        for (int64_t i = files->n - 1; i > 0; i--) {
            int64_t j = (int64_t)px_rng_below(&rng, (uint32_t)(i + 1));
            char *tf = files->v[i];
            files->v[i] = files->v[j], files->v[j] = tf;
            int32_t tl = labels[i];
            labels[i] = labels[j], labels[j] = tl;
        }
    }
    int64_t n_val = (int64_t)(o->validation_split * (double)files->n);
    if (o->subset == PX_SUBSET_TRAINING) *hi = files->n - n_val;
    else *lo = files->n - n_val;
    if (*hi <= *lo)
        return px_set_error(PX_ERR_ARG, "%s: validation_split %g of %lld files leaves the %s subset empty", who,
                            o->validation_split, (long long)files->n,
                            o->subset == PX_SUBSET_TRAINING ? "training" : "validation");
    return PX_OK;
}

/* The source's shapes: (height, width, channels) images and, unless label_mode
 * is none, labels as Keras's label_mode gives them. */
static void set_spec(px_source *s, const px_image_dir_options *o, int height, int width, int channels, int64_t classes) {
    s->spec.n_x = 1;
    s->spec.x[0] = PX_SHAPE(height, width, channels);
    s->spec.x_dtype[0] = PX_F32;
    if (o->label_mode != PX_LABELS_NONE) {
        s->spec.n_y = 1;
        s->spec.y[0] = o->label_mode == PX_LABELS_INT ? PX_SCALAR
                       : o->label_mode == PX_LABELS_BINARY ? PX_SHAPE(1) : PX_SHAPE(classes);
        s->spec.y_dtype[0] = o->label_mode == PX_LABELS_INT ? PX_I32 : PX_F32;
    }
}

px_source *px_source_image_dir(const char *dir, const px_image_dir_options *opts) {
    const char *who = "image folder";
    px_image_dir_options o = opts ? *opts : (px_image_dir_options){0};
    if (check_options(dir, &o, who) != PX_OK) return NULL;
    int height = o.height ? o.height : 256, width = o.width ? o.width : 256;
    int channels = o.color_mode == PX_COLOR_GRAYSCALE ? 1 : o.color_mode == PX_COLOR_RGBA ? 4 : 3;
    if (kind_of(dir, true) != 'd') {
        px_set_error(PX_ERR_IO, "%s: %s is not a folder%s", who, dir, access(dir, F_OK) == 0 ? "" : " (it does not exist)");
        return NULL;
    }
    name_list classes = {0}, files = {0};
    int32_t *labels = NULL;
    px_status st = find_classes(dir, &o, &classes, who);
    if (st == PX_OK && classes.n > 100000) st = px_set_error(PX_ERR_FORMAT, "%s: %lld classes", who, (long long)classes.n);
    if (st == PX_OK && o.label_mode == PX_LABELS_BINARY && classes.n != 2)
        st = px_set_error(PX_ERR_ARG, "%s: label_mode binary needs exactly 2 classes; %s has %lld", who, dir,
                          (long long)classes.n);
    if (st == PX_OK) st = list_files(dir, &o, &classes, &files, &labels, who);
    /* every header is read now, so a file that is no image fails before training */
    for (int64_t i = 0; st == PX_OK && i < files.n; i++) {
        st = px_image_probe(files.v[i], NULL);
        px_load_progress("Reading image headers", i + 1, files.n);
    }
    int64_t lo = 0, hi = files.n;
    if (st == PX_OK) st = split_subset(&o, &files, labels, &lo, &hi, who);
    image_source *im = st == PX_OK ? (image_source *)px_source_alloc(sizeof *im, &image_ops, who) : NULL;
    if (!im) {
        list_free(&files);
        list_free(&classes);
        free(labels);
        return NULL;
    }
    /* keep the subset: files [lo, hi) */
    for (int64_t i = 0; i < files.n; i++)
        if (i < lo || i >= hi) free(files.v[i]);
    memmove(files.v, files.v + lo, (size_t)(hi - lo) * sizeof *files.v);
    memmove(labels, labels + lo, (size_t)(hi - lo) * sizeof *labels);
    im->files = files.v;
    im->labels = labels;
    im->n = hi - lo;
    im->height = height, im->width = width, im->channels = channels;
    im->label_mode = o.label_mode;
    px_source *s = &im->base;
    s->size = im->n;
    s->classes = (int)classes.n;
    s->class_names = classes.v;
    set_spec(s, &o, height, width, channels, classes.n);
    return s;
}
