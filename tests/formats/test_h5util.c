/* The px_h5 layer: Keras-shaped files written and read back, every real Keras
 * file in the shared data set, foreign string/number types, corrupt inputs and
 * the atomic save. */
#include <dirent.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/h5util.h"
#include "formats/json.h"
#include "px_test.h"

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static bool file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(b, 1, (size_t)len, fp);
    fclose(fp);
    return b;
}

static void spit(const char *path, const void *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    if (n) fwrite(b, 1, n, fp);
    fclose(fp);
}

static bool info_is(px_h5_file *f, const char *obj, const char *name, const char *want) {
    px_h5_string_info in;
    char buf[96];
    if (px_h5_attr_string_info(f, obj, name, &in) != PX_OK) return false;
    px_h5_string_info_format(&in, buf, sizeof buf);
    if (strcmp(buf, want) == 0) return true;
    fprintf(stderr, "  %s@%s is stored as \"%s\", wanted \"%s\"\n", name, obj, buf, want);
    return false;
}

#define MODEL_CONFIG                                                                                             \
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"sequential\", \"layers\": [{\"class_name\": \"Dense\", " \
    "\"config\": {\"name\": \"dense\", \"units\": 3}}, {\"class_name\": \"Dropout\", \"config\": {\"name\": "         \
    "\"dropout\", \"rate\": 0.5}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"units\": 2}}]}}"

/* A small full-model file laid out as Keras 2 writes it. */
static px_status write_keras_file(px_h5_file *f) {
    float k0[12], b0[3] = {0.5f, -0.5f, 0.25f}, k1[6];
    for (int i = 0; i < 12; i++) k0[i] = (float)i * 0.1f - 0.6f;
    for (int i = 0; i < 6; i++) k1[i] = (float)(i + 1);
    const char *layers[] = {"dense", "dropout", "dense_1"};
    const char *w0[] = {"dense/kernel:0", "dense/bias:0"};
    const char *w1[] = {"dense_1/kernel:0"};
    px_status s = PX_OK;
#define TRY(call)                                  \
    do {                                           \
        if ((s = (call)) != PX_OK) return s;       \
    } while (0)
    TRY(px_h5_write_string_attr(f, "/", "keras_version", "2.11.0", PX_H5_UTF8));
    TRY(px_h5_write_string_attr(f, "/", "backend", "tensorflow", PX_H5_UTF8));
    TRY(px_h5_write_string_attr(f, "/", "model_config", MODEL_CONFIG, PX_H5_ASCII));
    TRY(px_h5_create_group(f, "model_weights"));
    TRY(px_h5_write_string_array_attr(f, "model_weights", "layer_names", layers, 3));
    for (int i = 0; i < 3; i++) {
        char g[64];
        snprintf(g, sizeof g, "/model_weights/%s", layers[i]);
        TRY(px_h5_create_group(f, g));
    }
    TRY(px_h5_write_string_array_attr(f, "/model_weights/dense", "weight_names", w0, 2));
    TRY(px_h5_write_string_array_attr(f, "/model_weights/dropout", "weight_names", NULL, 0));
    TRY(px_h5_write_string_array_attr(f, "/model_weights/dense_1", "weight_names", w1, 1));
    px_tensor *t = px_tensor_from_array(PX_SHAPE(4, 3), k0, 12);
    s = px_h5_write_tensor(f, "/model_weights/dense/dense/kernel:0", t);
    px_tensor_free(t);
    if (s) return s;
    t = px_tensor_from_array(PX_SHAPE(3), b0, 3);
    s = px_h5_write_tensor(f, "model_weights/dense/dense/bias:0", t);
    px_tensor_free(t);
    if (s) return s;
    /* a transposed view: written in logical (row-major) order */
    px_tensor *base = px_tensor_from_array(PX_SHAPE(2, 3), k1, 6);
    px_tensor *tr = px_tensor_permute(base, (int[]){1, 0});
    s = px_h5_write_tensor(f, "/model_weights/dense_1/dense_1/kernel:0", tr);
    px_tensor_free(tr);
    px_tensor_free(base);
#undef TRY
    return s;
}

static void test_write_and_read_back(void) {
    const char *path = tmp_path("model.h5");
    px_h5_file *f = NULL;
    CHECK_OK(px_h5_create(path, &f));
    if (!f) return;
    CHECK_OK(write_keras_file(f));
    /* an iteration counter: scalar int32 */
    px_tensor *it = px_tensor_from_int_array(PX_SCALAR, (int32_t[]){42}, 1);
    CHECK_OK(px_h5_write_tensor(f, "/optimizer_weights/iteration:0", it));
    px_tensor_free(it);
    /* rewriting replaces */
    CHECK_OK(px_h5_write_string_attr(f, "/", "backend", "tensorflow", PX_H5_UTF8));
    CHECK_OK(px_h5_close(f));

    CHECK_OK(px_h5_open(path, &f));
    if (!f) return;
    CHECK(strcmp(px_h5_filename(f), path) == 0);
    char *s = NULL;
    CHECK_OK(px_h5_read_string_attr(f, "/", "keras_version", &s));
    CHECK(s && strcmp(s, "2.11.0") == 0);
    free(s);
    CHECK_OK(px_h5_read_string_attr(f, "", "model_config", &s));
    px_json *cfg = NULL;
    CHECK(s && px_json_parse(s, strlen(s), &cfg) == PX_OK);
    CHECK(px_json_len(px_json_get(px_json_get(cfg, "config"), "layers")) == 3);
    px_json_free(cfg);
    free(s);
    /* the types h5py 3 writes for str and bytes, and h5py 2 / Keras 2 for name lists */
    CHECK(info_is(f, "/", "keras_version", "vlen UTF-8 scalar"));
    CHECK(info_is(f, "/", "model_config", "vlen ASCII scalar"));
    CHECK(info_is(f, "/model_weights", "layer_names", "fixed S7 NULLPAD ASCII [3]"));
    CHECK(info_is(f, "/model_weights/dense", "weight_names", "fixed S14 NULLPAD ASCII [2]"));
    CHECK(info_is(f, "/model_weights/dropout", "weight_names", "non-string (8-byte elements) [0]"));

    char **names = NULL;
    size_t n = 0;
    CHECK_OK(px_h5_read_string_array_attr(f, "/model_weights", "layer_names", &names, &n));
    CHECK(n == 3 && strcmp(names[0], "dense") == 0 && strcmp(names[2], "dense_1") == 0);
    px_h5_free_names(names, n);
    CHECK_OK(px_h5_read_string_array_attr(f, "/model_weights/dense", "weight_names", &names, &n));
    CHECK(n == 2 && strcmp(names[1], "dense/bias:0") == 0);
    px_h5_free_names(names, n);
    CHECK_OK(px_h5_read_string_array_attr(f, "/model_weights/dropout", "weight_names", &names, &n));
    CHECK(n == 0 && names == NULL);
    /* a scalar string is a one-element list */
    CHECK_OK(px_h5_read_string_array_attr(f, "/", "backend", &names, &n));
    CHECK(n == 1 && strcmp(names[0], "tensorflow") == 0);
    px_h5_free_names(names, n);

    /* listing: creation order (ours track it) and name order */
    CHECK_OK(px_h5_list(f, "/model_weights", PX_H5_ORDER_CREATION, &names, &n));
    CHECK(n == 3 && strcmp(names[0], "dense") == 0 && strcmp(names[1], "dropout") == 0 && strcmp(names[2], "dense_1") == 0);
    px_h5_free_names(names, n);
    CHECK_OK(px_h5_list(f, "/model_weights", PX_H5_ORDER_NAME, &names, &n));
    CHECK(n == 3 && strcmp(names[1], "dense_1") == 0 && strcmp(names[2], "dropout") == 0);
    px_h5_free_names(names, n);
    CHECK_OK(px_h5_list(f, "/", PX_H5_ORDER_CREATION, &names, &n));
    CHECK(n == 2 && strcmp(names[0], "model_weights") == 0 && strcmp(names[1], "optimizer_weights") == 0);
    px_h5_free_names(names, n);
    CHECK_OK(px_h5_list_attrs(f, "/", &names, &n));
    CHECK(n == 3 && strcmp(names[0], "backend") == 0 && strcmp(names[2], "model_config") == 0);
    px_h5_free_names(names, n);

    /* existence and kinds */
    CHECK(px_h5_kind_of(f, "/") == PX_H5_GROUP && px_h5_kind_of(f, "") == PX_H5_GROUP);
    CHECK(px_h5_kind_of(f, "/model_weights/dense/dense") == PX_H5_GROUP);
    CHECK(px_h5_kind_of(f, "/model_weights/dense/dense/kernel:0") == PX_H5_DATASET);
    CHECK(!px_h5_exists(f, "/model_weights/nope/deeper/still"));
    CHECK(!px_h5_exists(f, "/model_weights/dense/dense/kernel:0/below_a_dataset"));
    CHECK(px_h5_has_attr(f, "/model_weights", "layer_names") && !px_h5_has_attr(f, "/model_weights", "x"));
    CHECK(!px_h5_has_attr(f, "/missing", "layer_names"));

    /* datasets */
    px_tensor *t = NULL;
    CHECK_OK(px_h5_read_tensor(f, "/model_weights/dense/dense/kernel:0", &PX_SHAPE(4, 3), &t));
    CHECK(t && t->rank == 2 && t->shape[0] == 4 && t->shape[1] == 3);
    if (t) CHECK_NEAR(px_tensor_f32(t)[11], 11 * 0.1f - 0.6f, 0);
    px_tensor_free(t);
    CHECK_OK(px_h5_read_tensor(f, "/model_weights/dense/dense/bias:0", &PX_SHAPE(PX_UNKNOWN), &t));
    if (t) CHECK_NEAR(px_tensor_f32(t)[2], 0.25, 0);
    px_tensor_free(t);
    CHECK_OK(px_h5_read_tensor(f, "/model_weights/dense_1/dense_1/kernel:0", NULL, &t));
    CHECK(t && t->shape[0] == 3 && t->shape[1] == 2);
    /* transpose of [[1,2,3],[4,5,6]] is [[1,4],[2,5],[3,6]] */
    if (t) CHECK(px_tensor_f32(t)[1] == 4 && px_tensor_f32(t)[4] == 3);
    px_tensor_free(t);
    CHECK_OK(px_h5_read_tensor(f, "/optimizer_weights/iteration:0", &PX_SCALAR, &t));
    CHECK(t && t->rank == 0 && px_tensor_f32(t)[0] == 42);
    px_tensor_free(t);
    px_shape shp;
    CHECK_OK(px_h5_dataset_shape(f, "/model_weights/dense/dense/kernel:0", &shp));
    CHECK(px_shape_equal(shp, PX_SHAPE(4, 3)));

    /* errors name the file and the object */
    CHECK(px_h5_read_tensor(f, "/model_weights/dense/dense/kernel:0", &PX_SHAPE(3, 4), &t) == PX_ERR_SHAPE && !t);
    CHECK_ERROR_HAS("model.h5: dataset '/model_weights/dense/dense/kernel:0' has shape (4, 3), expected (3, 4)");
    CHECK(px_h5_read_tensor(f, "/model_weights/dense/dense/kernel:0", &PX_SHAPE(12), &t) == PX_ERR_SHAPE);
    CHECK(px_h5_read_tensor(f, "/model_weights/dense/dense/gamma:0", NULL, &t) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("model.h5: dataset '/model_weights/dense/dense/gamma:0' not found");
    CHECK(px_h5_read_tensor(f, "/model_weights/dense", NULL, &t) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("'/model_weights/dense' is not a dataset");
    CHECK(px_h5_read_string_attr(f, "/model_weights", "weight_names", &s) == PX_ERR_FORMAT && !s);
    CHECK_ERROR_HAS("model.h5: attribute 'weight_names' of '/model_weights' not found");
    CHECK(px_h5_read_string_attr(f, "/model_weights/dense", "weight_names", &s) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("holds 2 strings, expected one");
    CHECK(px_h5_read_string_attr(f, "/model_weights/dropout", "weight_names", &s) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("attribute 'weight_names' of '/model_weights/dropout' is not a string (HDF5 class float)");
    CHECK(px_h5_read_string_attr(f, "/nowhere", "a", &s) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("object '/nowhere' not found");
    CHECK(px_h5_list(f, "/model_weights/dense/dense/kernel:0", PX_H5_ORDER_NAME, &names, &n) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("is not a group");
    /* a read-only file refuses writes with a message, not a crash */
    CHECK(px_h5_create_group(f, "/new") != PX_OK);
    CHECK_ERROR_HAS("cannot create group '/new'");
    CHECK_OK(px_h5_close(f));
    CHECK(px_h5_close(NULL) == PX_OK);
}

/* Types other writers use: built with raw HDF5 calls, read through px_h5. */
static void make_foreign_file(const char *path) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hsize_t one = 1, two = 2, three = 3, dims[2] = {2, 3};
    hid_t s1 = H5Screate_simple(1, &one, NULL), s2 = H5Screate_simple(1, &two, NULL);
    hid_t s3 = H5Screate_simple(1, &three, NULL), s23 = H5Screate_simple(2, dims, NULL);
    /* fixed-length strings with each padding and cset */
    struct { const char *name; size_t size; H5T_str_t pad; H5T_cset_t cset; const char *data; hid_t space; } fx[] = {
        {"fixed_nullterm", 8, H5T_STR_NULLTERM, H5T_CSET_ASCII, "abc\0\0\0\0\0", scalar},
        {"fixed_spacepad", 6, H5T_STR_SPACEPAD, H5T_CSET_ASCII, "ab    ", scalar},
        {"fixed_full", 3, H5T_STR_NULLPAD, H5T_CSET_ASCII, "xyz", scalar},
        {"fixed_utf8", 6, H5T_STR_NULLPAD, H5T_CSET_UTF8, "caf\xc3\xa9\0", s1},
        {"fixed_list", 4, H5T_STR_NULLPAD, H5T_CSET_ASCII, "a\0\0\0bbbbcc\0\0", s3},
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, fx[i].size);
        H5Tset_strpad(t, fx[i].pad);
        H5Tset_cset(t, fx[i].cset);
        hid_t a = H5Acreate2(file, fx[i].name, t, fx[i].space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, fx[i].data);
        H5Aclose(a);
        H5Tclose(t);
    }
    /* variable-length: a UTF-8 one-element array, an ASCII list, a two-element "scalar" */
    hid_t vt = H5Tcopy(H5T_C_S1);
    H5Tset_size(vt, H5T_VARIABLE);
    H5Tset_cset(vt, H5T_CSET_UTF8);
    const char *v1[] = {"\xe2\x82\xac uro"}, *v2[] = {"dense/kernel:0", "dense/bias:0"}, *v3[] = {"", "x", "yy"};
    hid_t a = H5Acreate2(file, "vlen_utf8_1", vt, s1, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, vt, v1);
    H5Aclose(a);
    a = H5Acreate2(file, "vlen_pair", vt, s2, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, vt, v2);
    H5Aclose(a);
    H5Tset_cset(vt, H5T_CSET_ASCII);
    a = H5Acreate2(file, "vlen_list", vt, s3, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, vt, v3);
    H5Aclose(a);
    H5Tclose(vt);
    /* a number where a string is wanted; a non-empty numeric "list" */
    int32_t iv[3] = {1, 2, 3};
    a = H5Acreate2(file, "numbers", H5T_STD_I32LE, s3, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT32, iv);
    H5Aclose(a);
    /* datasets: float64, int64, uint8, big-endian float32, float16, a string */
    double dv[6] = {1.5, -2.25, 3e10, 1e-3, 0, -0.0};
    int64_t lv[6] = {-3, 0, 7, 1 << 20, 5, 6};
    uint8_t bv[6] = {0, 1, 2, 253, 254, 255};
    float fv[6] = {1, 2, 3, 4, 5, 6};
    uint16_t hv[6] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0000, 0x3555}; /* 1, -2, 0.5, 65504, 0, ~0.333 */
    hid_t d = H5Dcreate2(file, "f64", H5T_IEEE_F64LE, s23, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dv);
    H5Dclose(d);
    d = H5Dcreate2(file, "i64", H5T_STD_I64LE, s23, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, lv);
    H5Dclose(d);
    d = H5Dcreate2(file, "u8", H5T_STD_U8LE, s23, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bv);
    H5Dclose(d);
    d = H5Dcreate2(file, "f32be", H5T_IEEE_F32BE, s23, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, fv);
    H5Dclose(d);
    /* float16 the way h5py declares it */
    hid_t f16 = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(f16, 15, 10, 5, 0, 10);
    H5Tset_size(f16, 2);
    H5Tset_ebias(f16, 15);
    d = H5Dcreate2(file, "f16", f16, s23, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, f16, H5S_ALL, H5S_ALL, H5P_DEFAULT, hv);
    H5Dclose(d);
    H5Tclose(f16);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    d = H5Dcreate2(file, "text", st, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abcd");
    H5Dclose(d);
    H5Tclose(st);
    H5Sclose(scalar);
    H5Sclose(s1);
    H5Sclose(s2);
    H5Sclose(s3);
    H5Sclose(s23);
    H5Fclose(file);
}

static void test_foreign_types(void) {
    const char *path = tmp_path("foreign.h5");
    make_foreign_file(path);
    px_h5_file *f = NULL;
    CHECK_OK(px_h5_open(path, &f));
    if (!f) return;
    static const struct { const char *attr, *want; } one[] = {
        {"fixed_nullterm", "abc"}, {"fixed_spacepad", "ab"}, {"fixed_full", "xyz"},
        {"fixed_utf8", "caf\xc3\xa9"}, {"vlen_utf8_1", "\xe2\x82\xac uro"},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        char *s = NULL;
        CHECK_OK(px_h5_read_string_attr(f, "/", one[i].attr, &s));
        if (s && strcmp(s, one[i].want) != 0) px_test_fail(__FILE__, __LINE__, "%s read as '%s'", one[i].attr, s);
        free(s);
    }
    CHECK(info_is(f, "/", "fixed_utf8", "fixed S6 NULLPAD UTF-8 [1]"));
    CHECK(info_is(f, "/", "fixed_spacepad", "fixed S6 SPACEPAD ASCII scalar"));
    CHECK(info_is(f, "/", "vlen_pair", "vlen UTF-8 [2]"));
    char **v = NULL;
    size_t n = 0;
    CHECK_OK(px_h5_read_string_array_attr(f, "/", "fixed_list", &v, &n));
    CHECK(n == 3 && strcmp(v[0], "a") == 0 && strcmp(v[1], "bbbb") == 0 && strcmp(v[2], "cc") == 0);
    px_h5_free_names(v, n);
    CHECK_OK(px_h5_read_string_array_attr(f, "/", "vlen_list", &v, &n));
    CHECK(n == 3 && v[0][0] == '\0' && strcmp(v[2], "yy") == 0);
    px_h5_free_names(v, n);
    char *s = NULL;
    CHECK(px_h5_read_string_attr(f, "/", "vlen_pair", &s) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("foreign.h5: attribute 'vlen_pair' of '/' holds 2 strings, expected one");
    CHECK(px_h5_read_string_array_attr(f, "/", "numbers", &v, &n) == PX_ERR_FORMAT && v == NULL && n == 0);
    CHECK_ERROR_HAS("attribute 'numbers' of '/' is not a string (HDF5 class integer)");

    static const struct { const char *name; float want[6]; } ds[] = {
        {"f64", {1.5f, -2.25f, 3e10f, 1e-3f, 0, 0}},
        {"i64", {-3, 0, 7, 1 << 20, 5, 6}},
        {"u8", {0, 1, 2, 253, 254, 255}},
        {"f32be", {1, 2, 3, 4, 5, 6}},
        {"f16", {1, -2, 0.5f, 65504, 0, 0.333251953125f}},
    };
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        px_tensor *t = NULL;
        CHECK_OK(px_h5_read_tensor(f, ds[i].name, &PX_SHAPE(2, 3), &t));
        if (!t) continue;
        int bad = 0;
        for (int k = 0; k < 6; k++)
            if (px_tensor_f32(t)[k] != ds[i].want[k]) bad++;
        if (bad) px_test_fail(__FILE__, __LINE__, "dataset %s converted wrongly (%g %g ...)", ds[i].name,
                              px_tensor_f32(t)[0], px_tensor_f32(t)[1]);
        else px_test_passed++;
        px_tensor_free(t);
    }
    px_tensor *t = NULL;
    CHECK(px_h5_read_tensor(f, "text", NULL, &t) == PX_ERR_FORMAT && !t);
    CHECK_ERROR_HAS("foreign.h5: dataset 'text' is not numeric (HDF5 class string)");
    CHECK_OK(px_h5_close(f));
}

/* ---- the real Keras files ---- */

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct walk_stats {
    int weights, kernels, bad_shapes, errors;
    char layer_enc[96], weight_enc[96], version_enc[96], config_enc[96];
} walk_stats;

/* Shape sanity for a weight named like Keras names them. */
static bool plausible(const char *name, const px_tensor *t) {
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] <= 0) return false;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, "kernel", 6) == 0 || strncmp(base, "recurrent_kernel", 16) == 0 ||
        strncmp(base, "embeddings", 10) == 0)
        return t->rank >= 2 && t->rank <= 5;
    if (strncmp(base, "bias", 4) == 0) return t->rank == 1 || t->rank == 2; /* GRU reset_after: (2, 3u) */
    if (strncmp(base, "gamma", 5) == 0 || strncmp(base, "beta", 4) == 0 || strncmp(base, "moving_", 7) == 0)
        return t->rank == 1;
    return true;
}

static void read_weights_of_group(px_h5_file *f, const char *group, walk_stats *st) {
    char **w = NULL;
    size_t nw = 0;
    if (px_h5_read_string_array_attr(f, group, "weight_names", &w, &nw) != PX_OK) {
        fprintf(stderr, "  %s\n", px_last_error());
        st->errors++;
        return;
    }
    if (nw && !st->weight_enc[0]) {
        px_h5_string_info in;
        if (px_h5_attr_string_info(f, group, "weight_names", &in) == PX_OK)
            px_h5_string_info_format(&in, st->weight_enc, sizeof st->weight_enc);
    }
    for (size_t k = 0; k < nw; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", group, w[k]);
        px_tensor *t = NULL;
        if (px_h5_read_tensor(f, path, NULL, &t) != PX_OK) {
            fprintf(stderr, "  %s\n", px_last_error());
            st->errors++;
            continue;
        }
        st->weights++;
        if (strstr(w[k], "kernel") && !strstr(w[k], "recurrent")) st->kernels++;
        if (!plausible(w[k], t)) {
            char b[64];
            fprintf(stderr, "  implausible shape %s for %s\n", px_shape_format(px_tensor_shape(t), b, sizeof b), path);
            st->bad_shapes++;
        }
        px_tensor_free(t);
    }
    px_h5_free_names(w, nw);
}

/* Keras 3 weights files: /layers/<name>/vars/<i>, no name attributes. */
static void read_k3_vars(px_h5_file *f, const char *group, walk_stats *st, int depth) {
    char **c = NULL;
    size_t nc = 0;
    if (depth > 8 || px_h5_list(f, group, PX_H5_ORDER_NAME, &c, &nc) != PX_OK) return;
    for (size_t i = 0; i < nc; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", strcmp(group, "/") ? group : "", c[i]);
        px_h5_kind k = px_h5_kind_of(f, path);
        if (k == PX_H5_GROUP) read_k3_vars(f, path, st, depth + 1);
        else if (k == PX_H5_DATASET) {
            px_tensor *t = NULL;
            if (px_h5_read_tensor(f, path, NULL, &t) == PX_OK) st->weights++;
            else st->errors++;
            px_tensor_free(t);
        }
    }
    px_h5_free_names(c, nc);
}

static void check_real_file(const char *path, const char *name) {
    px_h5_file *f = NULL;
    CHECK_OK(px_h5_open(path, &f));
    if (!f) return;
    walk_stats st = {0};
    char version[32] = "-", model[48] = "-";
    char *s = NULL;
    if (px_h5_has_attr(f, "/", "keras_version") && px_h5_read_string_attr(f, "/", "keras_version", &s) == PX_OK) {
        snprintf(version, sizeof version, "%s", s);
        free(s);
        px_h5_string_info in;
        if (px_h5_attr_string_info(f, "/", "keras_version", &in) == PX_OK)
            px_h5_string_info_format(&in, st.version_enc, sizeof st.version_enc);
    }
    static const char *configs[] = {"model_config", "training_config"};
    for (int c = 0; c < 2; c++) {
        if (!px_h5_has_attr(f, "/", configs[c])) continue;
        s = NULL;
        CHECK_OK(px_h5_read_string_attr(f, "/", configs[c], &s));
        if (!s) continue;
        px_json *j = NULL;
        CHECK_OK(px_json_parse(s, strlen(s), &j));
        /* Keras wrote the text with json.dumps: writing it back gives the same bytes */
        char *again = NULL;
        CHECK(j && px_json_write(j, &again) == PX_OK && strcmp(again, s) == 0);
        free(again);
        if (c == 0) {
            snprintf(model, sizeof model, "%s", px_json_get_string(j, "class_name", "?"));
            CHECK(px_json_is_object(px_json_get(j, "config")) || px_json_is_array(px_json_get(j, "config")));
            px_h5_string_info in;
            if (px_h5_attr_string_info(f, "/", "model_config", &in) == PX_OK)
                px_h5_string_info_format(&in, st.config_enc, sizeof st.config_enc);
        }
        px_json_free(j);
        free(s);
    }
    const char *root = px_h5_kind_of(f, "/model_weights") == PX_H5_GROUP ? "/model_weights" : "/";
    size_t nl = 0;
    if (px_h5_has_attr(f, root, "layer_names")) {
        char **layers = NULL;
        CHECK_OK(px_h5_read_string_array_attr(f, root, "layer_names", &layers, &nl));
        px_h5_string_info in;
        if (px_h5_attr_string_info(f, root, "layer_names", &in) == PX_OK)
            px_h5_string_info_format(&in, st.layer_enc, sizeof st.layer_enc);
        for (size_t i = 0; i < nl; i++) {
            char g[512];
            snprintf(g, sizeof g, "%s/%s", strcmp(root, "/") ? root : "", layers[i]);
            CHECK(px_h5_kind_of(f, g) == PX_H5_GROUP);
            read_weights_of_group(f, g, &st);
        }
        px_h5_free_names(layers, nl);
        CHECK(st.kernels > 0);
        /* optimizer state too, where saved: it carries int64 scalars in K3 */
        if (px_h5_has_attr(f, "/optimizer_weights", "weight_names")) read_weights_of_group(f, "/optimizer_weights", &st);
    } else {
        read_k3_vars(f, "/", &st, 0);
        CHECK(st.weights > 0);
    }
    CHECK(st.errors == 0 && st.bad_shapes == 0);
    CHECK(st.weights > 0);
    printf("%-45s keras %-7s %-10s %2zu layers %3d arrays | keras_version: %s | model_config: %s | layer_names: %s | "
           "weight_names: %s\n",
           name, version, model, nl, st.weights, st.version_enc[0] ? st.version_enc : "-",
           st.config_enc[0] ? st.config_enc : "-", st.layer_enc[0] ? st.layer_enc : "-",
           st.weight_enc[0] ? st.weight_enc : "-");
    CHECK_OK(px_h5_close(f));
}

static void test_real_keras_files(void) {
    const char *dir = px_test_shared("data/keras-models");
    if (!dir) {
        px_test_skip("test_real_keras_files: $PX_SHARED_DIR/data/keras-models not found");
        return;
    }
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s", dir);
    DIR *d = opendir(dirpath);
    CHECK(d != NULL);
    if (!d) return;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (ends_with(e->d_name, ".h5")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dirpath, names[i]);
        check_real_file(path, names[i]);
        free(names[i]);
    }
    printf("read %zu real Keras files\n", n);
}

/* ---- broken inputs ---- */

static void expect_open_fails(const char *path, px_status want, const char *needle) {
    px_h5_file *f = (px_h5_file *)1;
    px_status s = px_h5_open(path, &f);
    CHECK(s == want && f == NULL);
    CHECK_ERROR_HAS(path);
    CHECK_ERROR_HAS(needle);
}

static void test_corrupt_inputs(void) {
    /* a truncated copy: of a real file when the data set is here, else of our own */
    const char *real = px_test_shared("data/keras-models/k2.2.2-sequential-dense-dropout.h5");
    char src[4096];
    if (real) snprintf(src, sizeof src, "%s", real);
    else snprintf(src, sizeof src, "%s", tmp_path("model.h5"));
    size_t n = 0;
    unsigned char *bytes = slurp(src, &n);
    CHECK(bytes && n > 0);
    if (!bytes) return;
    const char *half = tmp_path("half.h5");
    spit(half, bytes, n / 2);
    expect_open_fails(half, PX_ERR_FORMAT, "not a valid HDF5 file");
    CHECK_ERROR_HAS("truncated file"); /* HDF5's own reason comes along */
    /* only the superblock */
    const char *tiny = tmp_path("tiny.h5");
    spit(tiny, bytes, 100);
    expect_open_fails(tiny, PX_ERR_FORMAT, "not a valid HDF5 file");
    const char *text = tmp_path("notes.h5");
    spit(text, "this is a text file, not HDF5\n", 30);
    expect_open_fails(text, PX_ERR_FORMAT, "not a valid HDF5 file");
    CHECK_ERROR_HAS("file signature not found");
    const char *empty = tmp_path("empty.h5");
    spit(empty, "", 0);
    expect_open_fails(empty, PX_ERR_FORMAT, "empty file");
    expect_open_fails(tmp_path("missing.h5"), PX_ERR_IO, "No such file or directory");
    expect_open_fails(tmpdir, PX_ERR_IO, "is a directory");
    px_h5_file *f = NULL;
    CHECK(px_h5_create(tmp_path("no/such/dir/x.h5"), &f) == PX_ERR_IO && !f);
    CHECK_ERROR_HAS("no/such/dir/x.h5: cannot create file");
    free(bytes);

    /* our own file with garbage over parts of it: whatever still opens must
     * fail cleanly (or succeed) on every read */
    bytes = slurp(tmp_path("model.h5"), &n);
    if (!bytes) return;
    const char *bad = tmp_path("scribbled.h5");
    int opened = 0, failures = 0;
    for (size_t off = 64; off + 64 < n; off += n / 24) {
        unsigned char *copy = malloc(n);
        memcpy(copy, bytes, n);
        for (size_t k = 0; k < 64; k++) copy[off + k] ^= (unsigned char)(0x5A + k);
        spit(bad, copy, n);
        free(copy);
        if (px_h5_open(bad, &f) != PX_OK) {
            CHECK(px_last_status() == PX_ERR_FORMAT);
            continue;
        }
        opened++;
        char *s = NULL, **v = NULL;
        size_t nv = 0;
        px_tensor *t = NULL;
        if (px_h5_read_string_attr(f, "/", "model_config", &s) != PX_OK) failures++;
        free(s);
        if (px_h5_read_string_array_attr(f, "/model_weights", "layer_names", &v, &nv) != PX_OK) failures++;
        px_h5_free_names(v, nv);
        if (px_h5_read_string_array_attr(f, "/model_weights/dense", "weight_names", &v, &nv) != PX_OK) failures++;
        px_h5_free_names(v, nv);
        if (px_h5_list(f, "/model_weights", PX_H5_ORDER_CREATION, &v, &nv) != PX_OK) failures++;
        px_h5_free_names(v, nv);
        if (px_h5_read_tensor(f, "/model_weights/dense/dense/kernel:0", NULL, &t) != PX_OK) {
            failures++;
            CHECK(strstr(px_last_error(), "scribbled.h5") != NULL);
        }
        px_tensor_free(t);
        px_h5_close(f);
    }
    printf("scribbled copies: %d opened, %d reads failed cleanly\n", opened, failures);
    free(bytes);
}

/* ---- atomic save ---- */

static bool has_temp_files(void) {
    DIR *d = opendir(tmpdir);
    bool found = false;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) found = true;
    if (d) closedir(d);
    return found;
}

static void test_atomic_save(void) {
    const char *final = tmp_path("saved.h5");
    px_h5_file *f = NULL;
    CHECK_OK(px_h5_create_temp(final, &f));
    if (!f) return;
    CHECK(px_h5_is_atomic(f));
    CHECK(has_temp_files()); /* the private temporary directory */
    CHECK(!file_exists(final));
    CHECK_OK(write_keras_file(f));
    CHECK_OK(px_h5_commit(f));
    CHECK(file_exists(final) && !has_temp_files());

    /* a second save that is abandoned midway leaves the first intact */
    CHECK_OK(px_h5_create_temp(final, &f));
    CHECK_OK(px_h5_write_string_attr(f, "/", "keras_version", "9.9.9", PX_H5_UTF8));
    CHECK(has_temp_files());
    px_h5_abort(f);
    CHECK(!has_temp_files());
    /* closing a temp handle is an abort too */
    CHECK_OK(px_h5_create_temp(final, &f));
    CHECK_OK(px_h5_write_string_attr(f, "/", "keras_version", "9.9.9", PX_H5_UTF8));
    CHECK_OK(px_h5_close(f));
    CHECK(!has_temp_files());
    CHECK_OK(px_h5_open(final, &f));
    char *s = NULL;
    CHECK_OK(px_h5_read_string_attr(f, "/", "keras_version", &s));
    CHECK(s && strcmp(s, "2.11.0") == 0);
    free(s);
    CHECK_OK(px_h5_close(f));

    /* a committed second save replaces it */
    CHECK_OK(px_h5_create_temp(final, &f));
    CHECK_OK(write_keras_file(f));
    CHECK_OK(px_h5_write_string_attr(f, "/", "keras_version", "3.8.0", PX_H5_UTF8));
    CHECK_OK(px_h5_commit(f));
    CHECK_OK(px_h5_open(final, &f));
    CHECK_OK(px_h5_read_string_attr(f, "/", "keras_version", &s));
    CHECK(s && strcmp(s, "3.8.0") == 0);
    free(s);
    CHECK_OK(px_h5_close(f));
    CHECK(!has_temp_files());

    /* a directory is refused at once */
    const char *dir = tmp_path("occupied.h5");
    mkdir(dir, 0700);
    CHECK(px_h5_create_temp(dir, &f) == PX_ERR_IO && !f);
    CHECK_ERROR_HAS("is a directory");
    rmdir(dir);
    /* a commit that cannot rename (the target became a non-empty directory
     * meanwhile) keeps nothing behind */
    CHECK_OK(px_h5_create_temp(dir, &f));
    mkdir(dir, 0700);
    char inner[512];
    snprintf(inner, sizeof inner, "%s/x", dir);
    spit(inner, "x", 1);
    CHECK_OK(write_keras_file(f));
    CHECK(px_h5_commit(f) == PX_ERR_IO);
    CHECK_ERROR_HAS("occupied.h5");
    CHECK(!has_temp_files());
    unlink(inner);
    rmdir(dir);
    /* commit on an ordinary handle is a state error */
    CHECK_OK(px_h5_create(tmp_path("plain.h5"), &f));
    CHECK(px_h5_commit(f) == PX_ERR_STATE);
    CHECK(px_h5_create_temp(tmp_path("no/dir/x.h5"), &f) == PX_ERR_IO && !f);
}

/* h5py's own view of the types we write, when /usr/bin/python3 has h5py. */
static void test_h5py_agrees(void) {
    char cmd[1024];
    const char *script = "scripts/check_h5_types.py"; /* tests run in tests/ */
    if (!file_exists(script) || system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
        px_test_skip("test_h5py_agrees: /usr/bin/python3 with h5py or %s not found", script);
        return;
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, tmp_path("saved.h5"));
    CHECK(system(cmd) == 0);
}

static void cleanup(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        unlink(tmp_path(e->d_name));
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/px_h5_test_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN_TEST(test_write_and_read_back);
    RUN_TEST(test_foreign_types);
    RUN_TEST(test_real_keras_files);
    RUN_TEST(test_corrupt_inputs);
    RUN_TEST(test_atomic_save);
    RUN_TEST(test_h5py_agrees);
    cleanup();
    return px_test_finish();
}
