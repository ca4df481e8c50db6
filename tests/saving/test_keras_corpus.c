/* The Keras-file corpus: every case of tests/fixtures/make_keras_corpus.py, written as
 * Keras 2, Keras 2.2 and Keras 3 write it (.h5 and .keras), loads and predicts what an
 * independent NumPy forward pass over the same weights computed, within 1e-5 (Keras 2
 * files against the pass with Keras 2's formulas where they differ: hard_sigmoid).
 * PX_CORPUS_DIR=dir uses (and keeps) a corpus there instead of a fresh temporary one. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/h5util.h"
#include "plexus/model_io.h"
#include "px_test.h"

#define PYTHON "/usr/bin/python3"
#define TOLERANCE 1e-5

static char dir[512];

/* Runs the generator into dir; false (after a skip) when Python or h5py is missing. */
static bool generate(void) {
    const char *keep = getenv("PX_CORPUS_DIR");
    if (keep && *keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "/tmp/px_corpus_XXXXXX");
        if (!mkdtemp(dir)) {
            CHECK(false);
            return false;
        }
    }
    if (access(PYTHON, X_OK) != 0) {
        px_test_skip(PYTHON " is missing (apt-get install -y python3-h5py python3-numpy)");
        return false;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s '%s' --out '%s'", PYTHON,
             px_test_data("../fixtures/make_keras_corpus.py"), dir);
    int rc = system(cmd);
    rc = rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
    if (rc == 3) {
        px_test_skip("the corpus needs h5py and numpy for " PYTHON);
        return false;
    }
    CHECK(rc == 0);
    return rc == 0;
}

static void remove_dir(void) {
    if (getenv("PX_CORPUS_DIR") && *getenv("PX_CORPUS_DIR")) return;
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* The datasets <prefix>0, <prefix>1, ... of a case group. */
static int read_arrays(px_h5_file *f, const char *group, char prefix, px_tensor **out, int max) {
    int n = 0;
    for (; n < max; n++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%c%d", group, prefix, n);
        if (!px_h5_exists(f, p)) break;
        if (px_h5_read_tensor(f, p, NULL, &out[n]) != PX_OK) {
            CHECK(false);
            break;
        }
    }
    return n;
}

/* Loads one file of a case and compares its predictions; returns the worst difference. */
static double check_file(const char *file, px_tensor *const *x, int nx, px_tensor *const *y, int ny) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    px_model *m = px_model_load(path);
    if (!m) {
        px_test_fail(__FILE__, __LINE__, "%s does not load: %s", file, px_last_error());
        return INFINITY;
    }
    px_tensor *p[8] = {0};
    double worst = 0;
    if (px_model_output_count(m) != ny || px_model_input_count(m) != nx) {
        px_test_fail(__FILE__, __LINE__, "%s: %d inputs, %d outputs; expected %d, %d", file, px_model_input_count(m),
                     px_model_output_count(m), nx, ny);
        worst = INFINITY;
    } else if (px_model_predict_arrays(m, x, nx, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, p) != PX_OK) {
        px_test_fail(__FILE__, __LINE__, "%s: predict failed: %s", file, px_last_error());
        worst = INFINITY;
    } else {
        for (int i = 0; i < ny; i++) {
            if (px_tensor_size(p[i]) != px_tensor_size(y[i])) {
                char a[96], b[96];
                px_test_fail(__FILE__, __LINE__, "%s: output %d has shape %s, NumPy's %s", file, i,
                             px_shape_format(px_tensor_shape(p[i]), a, sizeof a),
                             px_shape_format(px_tensor_shape(y[i]), b, sizeof b));
                worst = INFINITY;
                continue;
            }
            for (int64_t k = 0; k < px_tensor_size(y[i]); k++) {
                double want = px_tensor_f32(y[i])[k], got = px_tensor_f32(p[i])[k];
                double d = fabs(got - want) / fmax(1.0, fabs(want));
                if (!(d <= worst)) worst = d; /* NaN counts as the worst */
            }
        }
        if (!(worst <= TOLERANCE))
            px_test_fail(__FILE__, __LINE__, "%s: predictions differ from NumPy's by %.3g (tolerance %g)", file, worst,
                         TOLERANCE);
        else px_test_passed++;
    }
    for (int i = 0; i < 8; i++) px_tensor_free(p[i]);
    px_model_free(m);
    return worst;
}

static void test_corpus(void) {
    if (!generate()) return;
    char exp[700];
    snprintf(exp, sizeof exp, "%s/expected.h5", dir);
    px_h5_file *f = NULL;
    CHECK_OK(px_h5_open(exp, &f));
    if (!f) return;
    char **cases = NULL;
    size_t n_cases = 0;
    CHECK_OK(px_h5_list(f, "/", PX_H5_ORDER_NAME, &cases, &n_cases));
    int n_files = 0;
    for (size_t c = 0; c < n_cases; c++) {
        px_tensor *x[8] = {0}, *y[8] = {0}, *y2[8] = {0};
        char k2[300];
        snprintf(k2, sizeof k2, "%s/k2", cases[c]);
        int nx = read_arrays(f, cases[c], 'x', x, 8), ny = read_arrays(f, cases[c], 'y', y, 8);
        int ny2 = px_h5_exists(f, k2) ? read_arrays(f, k2, 'y', y2, 8) : 0;
        char **files = NULL;
        size_t nf = 0;
        CHECK_OK(px_h5_read_string_array_attr(f, cases[c], "files", &files, &nf));
        for (size_t i = 0; i < nf; i++) {
            bool keras2 = strstr(files[i], ".k2.h5") || strstr(files[i], ".k22.h5");
            double worst = keras2 && ny2 ? check_file(files[i], x, nx, y2, ny2) : check_file(files[i], x, nx, y, ny);
            printf("  %-44s largest difference %.2g\n", files[i], worst);
            n_files++;
        }
        px_h5_free_names(files, nf);
        for (int i = 0; i < 8; i++) px_tensor_free(x[i]), px_tensor_free(y[i]), px_tensor_free(y2[i]);
    }
    printf("corpus: %zu cases, %d files\n", n_cases, n_files);
    CHECK(n_cases >= 10);
    px_h5_free_names(cases, n_cases);
    px_h5_close(f);
    remove_dir();
}

int main(void) {
    RUN_TEST(test_corpus);
    return px_test_finish();
}
