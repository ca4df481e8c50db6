/* TensorBoard event-file writer: run directories, TF-style file names, and Event
 * records for scalars and histograms, framed as TFRecords (see plexus/tensorboard.h). */
#include "plexus/tensorboard.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats/image.h"
#include "formats/protobuf_writer.h"

struct px_tb_writer {
    FILE *f;
    char *path;
    bool failed;      /* a write or flush failed: the file may end in a torn record */
    px_pb_buf msg;    /* one Event payload */
    px_pb_buf rec;    /* the same, framed */
    double *limits;   /* TF's default bucket limits, built once per writer */
    double *counts;
    double *out_limits, *out_counts; /* the collapsed buckets that get written */
    size_t nlimits;
};

/* Files opened by this process, so two writers opened in the same second differ. */
static atomic_int file_counter;

static double now_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (double)time(NULL);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* mkdir -p: TF's writers create the logdir, and Keras callers pass fresh
 * <log_dir>/train paths whose parents do not exist yet. */
static px_status make_dirs(const char *logdir) {
    size_t n = strlen(logdir);
    char *p = malloc(n + 1);
    struct stat st;
    if (!p) return px_set_error(PX_ERR_NOMEM, "out of memory creating '%s'", logdir);
    memcpy(p, logdir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        if (p[i - 1] == '/') continue; /* repeated slashes */
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            px_set_error(PX_ERR_IO, "cannot create directory '%s' for TensorBoard logdir '%s': %s",
                         p, logdir, strerror(e));
            free(p);
            return PX_ERR_IO;
        }
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            px_set_error(PX_ERR_IO, "cannot create TensorBoard logdir '%s': '%s' is not a directory",
                         logdir, p);
            free(p);
            return PX_ERR_IO;
        }
        p[i] = c;
    }
    free(p);
    return PX_OK;
}

/* TF's histogram.cc default edges: -DBL_MAX, -1e20-ish ... -1e-12, 0, 1e-12 ... , DBL_MAX. */
static bool build_limits(px_tb_writer *w) {
    size_t k = 0;
    for (double v = 1.0e-12; v < 1.0e20; v *= 1.1) k++;
    w->nlimits = 2 * (k + 1) + 1;
    w->limits = malloc(w->nlimits * sizeof *w->limits);
    w->counts = malloc(w->nlimits * sizeof *w->counts);
    w->out_limits = malloc(w->nlimits * sizeof *w->out_limits);
    w->out_counts = malloc(w->nlimits * sizeof *w->out_counts);
    if (!w->limits || !w->counts || !w->out_limits || !w->out_counts) return false;
    size_t mid = k + 1;
    w->limits[mid] = 0.0;
    double v = 1.0e-12;
    for (size_t i = 0; i < k; i++, v *= 1.1) {
        w->limits[mid + 1 + i] = v;
        w->limits[mid - 1 - i] = -v;
    }
    w->limits[w->nlimits - 1] = DBL_MAX;
    w->limits[0] = -DBL_MAX;
    return true;
}

/* Frames the payload in w->msg and writes it; a failure makes the writer failed. */
static px_status write_record(px_tb_writer *w) {
    px_pb_clear(&w->rec);
    if (!w->msg.failed) px_pb_tfrecord(&w->rec, w->msg.data, w->msg.len);
    if (w->msg.failed || w->rec.failed)
        return px_set_error(PX_ERR_NOMEM, "out of memory encoding a TensorBoard event for '%s'",
                            w->path);
    errno = 0;
    if (fwrite(w->rec.data, 1, w->rec.len, w->f) != w->rec.len) {
        int e = errno;
        w->failed = true;
        return px_set_error(PX_ERR_IO, "cannot write to TensorBoard event file '%s': %s", w->path,
                            e ? strerror(e) : "short write");
    }
    return PX_OK;
}

static px_status check_call(const px_tb_writer *w, const char *fn, const char *tag, int64_t step) {
    if (!w) return px_set_error(PX_ERR_ARG, "%s: writer is NULL", fn);
    if (!tag || !tag[0]) return px_set_error(PX_ERR_ARG, "%s: tag is NULL or empty", fn);
    if (step < 0)
        return px_set_error(PX_ERR_ARG, "%s: step %lld of tag '%s' is negative", fn,
                            (long long)step, tag);
    if (w->failed)
        return px_set_error(PX_ERR_IO,
                            "%s: an earlier write to '%s' failed; the file may end in a partial "
                            "record, so nothing more is written",
                            fn, w->path);
    return PX_OK;
}

px_tb_writer *px_tb_writer_open(const char *logdir) {
    char host[256];
    px_tb_writer *w;
    if (!logdir || !logdir[0]) {
        px_set_error(PX_ERR_ARG, "px_tb_writer_open: logdir is NULL or empty");
        return NULL;
    }
    if (make_dirs(logdir) != PX_OK) return NULL;
    if (gethostname(host, sizeof host) != 0 || !host[0]) strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    w = calloc(1, sizeof *w);
    if (!w) goto nomem;
    long long secs = (long long)time(NULL);
    long pid = (long)getpid();
    int counter = atomic_fetch_add(&file_counter, 1);
    int len = snprintf(NULL, 0, "%s/events.out.tfevents.%010lld.%s.%ld.%d.v2", logdir, secs, host,
                       pid, counter);
    w->path = malloc((size_t)len + 1);
    if (!w->path || !build_limits(w)) goto nomem;
    snprintf(w->path, (size_t)len + 1, "%s/events.out.tfevents.%010lld.%s.%ld.%d.v2", logdir, secs,
             host, pid, counter);
    w->f = fopen(w->path, "wb");
    if (!w->f) {
        px_set_error(PX_ERR_IO, "cannot create TensorBoard event file '%s': %s", w->path,
                     strerror(errno));
        goto fail;
    }
    px_pb_event_file_version(&w->msg, now_seconds());
    if (write_record(w) != PX_OK || px_tb_flush(w) != PX_OK) {
        fclose(w->f);
        w->f = NULL;
        remove(w->path); /* a file holding no valid record would only confuse TensorBoard */
        goto fail;
    }
    return w;
nomem:
    px_set_error(PX_ERR_NOMEM, "out of memory opening a TensorBoard writer in '%s'", logdir);
fail:
    if (w) {
        free(w->path);
        free(w->limits);
        free(w->counts);
        free(w->out_limits);
        free(w->out_counts);
        px_pb_free(&w->msg);
        px_pb_free(&w->rec);
        free(w);
    }
    return NULL;
}

const char *px_tb_writer_path(const px_tb_writer *w) { return w ? w->path : NULL; }

px_status px_tb_scalar(px_tb_writer *w, const char *tag, int64_t step, double value) {
    px_status s = check_call(w, "px_tb_scalar", tag, step);
    float f;
    if (s != PX_OK) return s;
    /* Round-to-nearest overflow threshold of float (FLT_MAX plus half an ulp), checked
     * by hand because an out-of-range conversion is undefined in C. */
    if (isfinite(value) && fabs(value) >= 0x1.ffffffp+127)
        f = value > 0 ? INFINITY : -INFINITY;
    else
        f = (float)value;
    px_pb_clear(&w->msg);
    px_pb_event_scalar(&w->msg, now_seconds(), step, tag, f);
    return write_record(w);
}

px_status px_tb_histogram(px_tb_writer *w, const char *tag, int64_t step, const float *values,
                          int64_t n) {
    px_status s = check_call(w, "px_tb_histogram", tag, step);
    if (s != PX_OK) return s;
    if (n < 0 || (n > 0 && !values))
        return px_set_error(PX_ERR_ARG, "px_tb_histogram: tag '%s': %s", tag,
                            n < 0 ? "negative count" : "values is NULL");
    double min = DBL_MAX, max = -DBL_MAX, num = 0, sum = 0, sumsq = 0;
    memset(w->counts, 0, w->nlimits * sizeof *w->counts);
    for (int64_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v)) continue;
        /* upper_bound: the first limit > v, as TF's Histogram::Add. */
        size_t lo = 0, hi = w->nlimits - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (w->limits[mid] > v) hi = mid;
            else lo = mid + 1;
        }
        w->counts[lo] += 1;
        if (v < min) min = v;
        if (v > max) max = v;
        num += 1;
        sum += v;
        sumsq += v * v;
    }
    if (num == 0) min = max = 0; /* TF's +-DBL_MAX sentinels would only look like data */
    /* Collapse runs of empty buckets into one bucket ending at the run's last limit,
     * as TF's EncodeToProto(preserve_zero_buckets=false). */
    size_t out = 0;
    for (size_t i = 0; i < w->nlimits;) {
        double end = w->limits[i], count = w->counts[i];
        i++;
        if (count <= 0)
            while (i < w->nlimits && w->counts[i] <= 0) end = w->limits[i++];
        w->out_limits[out] = end;
        w->out_counts[out] = count;
        out++;
    }
    px_pb_clear(&w->msg);
    px_pb_event_histogram(&w->msg, now_seconds(), step, tag, min, max, num, sum, sumsq,
                          w->out_limits, w->out_counts, out);
    return write_record(w);
}

/* TensorBoard's plugin data classes and the TensorFlow DataType values used here. */
enum { DATA_CLASS_TENSOR = 2, DATA_CLASS_BLOB_SEQUENCE = 3, DT_DOUBLE = 2, DT_STRING = 7 };

static px_status write_tensor(px_tb_writer *w, int64_t step, const px_pb_tensor_value *v) {
    px_pb_clear(&w->msg);
    px_pb_event_tensor(&w->msg, now_seconds(), step, v);
    return write_record(w);
}

/* Little-endian doubles, as TensorFlow's tensor_content holds them. */
static void put_double(unsigned char *out, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(bits >> (8 * i));
}

px_status px_tb_histogram_tensor(px_tb_writer *w, const char *tag, int64_t step, const float *values, int64_t n,
                                 int buckets) {
    px_status s = check_call(w, "px_tb_histogram_tensor", tag, step);
    if (s != PX_OK) return s;
    if (n < 0 || (n > 0 && !values) || buckets < 0)
        return px_set_error(PX_ERR_ARG, "px_tb_histogram_tensor: tag '%s': %s", tag,
                            n < 0 ? "negative count" : buckets < 0 ? "negative bucket count" : "values is NULL");
    int k = buckets ? buckets : 30;
    double min = INFINITY, max = -INFINITY;
    int64_t finite = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(values[i])) {
            finite++;
            if (values[i] < min) min = values[i];
            if (values[i] > max) max = values[i];
        }
    int rows = finite == 0 ? 0 : min == max ? 1 : k;
    double *counts = calloc((size_t)(rows ? rows : 1), sizeof *counts);
    unsigned char *content = malloc((size_t)(rows ? rows : 1) * 24);
    if (!counts || !content) {
        free(counts);
        free(content);
        return px_set_error(PX_ERR_NOMEM, "px_tb_histogram_tensor: out of memory for tag '%s'", tag);
    }
    if (rows == 1) {
        counts[0] = (double)finite;
        put_double(content, min - 0.5);
        put_double(content + 8, max + 0.5);
        put_double(content + 16, counts[0]);
    } else if (rows > 1) {
        double width = (max - min) / k;
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(values[i])) continue;
            double b = floor(((double)values[i] - min) / width);
            counts[b >= k - 1 ? k - 1 : (int)b]++;
        }
        for (int i = 0; i < k; i++) {
            /* tf.linspace(min, max, k + 1) with the last edge exactly max */
            put_double(content + 24 * i, min + i * ((max - min) / k));
            put_double(content + 24 * i + 8, i == k - 1 ? max : min + (i + 1) * ((max - min) / k));
            put_double(content + 24 * i + 16, counts[i]);
        }
    }
    int64_t dims[2] = {rows, 3};
    px_pb_tensor_value v = {.tag = tag, .plugin = "histograms", .data_class = DATA_CLASS_TENSOR, .dtype = DT_DOUBLE,
                            .dims = dims, .rank = 2, .tensor_content = content,
                            .tensor_content_len = (size_t)rows * 24};
    s = write_tensor(w, step, &v);
    free(counts);
    free(content);
    return s;
}

px_status px_tb_images(px_tb_writer *w, const char *tag, int64_t step, const uint8_t *pixels, int count, int height,
                       int width, int channels) {
    px_status s = check_call(w, "px_tb_images", tag, step);
    if (s != PX_OK) return s;
    if (!pixels || count < 1 || height <= 0 || width <= 0 || (channels != 1 && channels != 3 && channels != 4))
        return px_set_error(PX_ERR_ARG,
                            "px_tb_images: tag '%s': %d images of %dx%d with %d channels (need pixels, count >= 1, "
                            "sizes > 0, channels 1, 3 or 4)",
                            tag, count, height, width, channels);
    char sw[24], sh[24];
    snprintf(sw, sizeof sw, "%d", width);
    snprintf(sh, sizeof sh, "%d", height);
    const void **strs = calloc((size_t)count + 2, sizeof *strs);
    size_t *lens = calloc((size_t)count + 2, sizeof *lens);
    if (!strs || !lens) {
        free(strs);
        free(lens);
        return px_set_error(PX_ERR_NOMEM, "px_tb_images: out of memory for tag '%s'", tag);
    }
    strs[0] = sw, lens[0] = strlen(sw);
    strs[1] = sh, lens[1] = strlen(sh);
    size_t image_bytes = (size_t)height * (size_t)width * (size_t)channels;
    for (int i = 0; s == PX_OK && i < count; i++) {
        uint8_t *png = NULL;
        s = px_png_encode(pixels + (size_t)i * image_bytes, width, height, channels, &png, &lens[i + 2]);
        strs[i + 2] = png;
    }
    if (s == PX_OK) {
        int64_t dims[1] = {(int64_t)count + 2};
        px_pb_tensor_value v = {.tag = tag, .plugin = "images", .data_class = DATA_CLASS_BLOB_SEQUENCE,
                                .dtype = DT_STRING, .dims = dims, .rank = 1, .strings = strs, .string_lens = lens,
                                .n_strings = count + 2};
        s = write_tensor(w, step, &v);
    }
    for (int i = 0; i < count; i++) free((void *)strs[i + 2]);
    free(strs);
    free(lens);
    return s;
}

px_status px_tb_graph(px_tb_writer *w, const void *graph_def, size_t n) {
    if (!w) return px_set_error(PX_ERR_ARG, "px_tb_graph: writer is NULL");
    if (!graph_def && n > 0) return px_set_error(PX_ERR_ARG, "px_tb_graph: graph_def is NULL");
    px_status s = check_call(w, "px_tb_graph", "graph", 0);
    if (s != PX_OK) return s;
    px_pb_clear(&w->msg);
    px_pb_event_graph(&w->msg, now_seconds(), graph_def, n);
    return write_record(w);
}

px_status px_tb_keras_model(px_tb_writer *w, const char *tag, int64_t step, const char *json) {
    px_status s = check_call(w, "px_tb_keras_model", tag, step);
    if (s != PX_OK) return s;
    if (!json) return px_set_error(PX_ERR_ARG, "px_tb_keras_model: json is NULL");
    const void *strs[1] = {json};
    size_t lens[1] = {strlen(json)};
    /* content "1": the version keras_model_summary writes, which the Graphs plugin checks */
    px_pb_tensor_value v = {.tag = tag, .plugin = "graph_keras_model", .content = "1", .content_len = 1,
                            .dtype = DT_STRING, .rank = 0, .strings = strs, .string_lens = lens, .n_strings = 1};
    return write_tensor(w, step, &v);
}

px_status px_tb_flush(px_tb_writer *w) {
    if (!w) return px_set_error(PX_ERR_ARG, "px_tb_flush: writer is NULL");
    if (w->failed)
        return px_set_error(PX_ERR_IO, "an earlier write to TensorBoard event file '%s' failed",
                            w->path);
    errno = 0;
    if (fflush(w->f) != 0 || ferror(w->f)) {
        int e = errno;
        w->failed = true;
        return px_set_error(PX_ERR_IO, "cannot write to TensorBoard event file '%s': %s", w->path,
                            e ? strerror(e) : "write error");
    }
    return PX_OK;
}

void px_tb_writer_close(px_tb_writer *w) {
    if (!w) return;
    if (w->f) {
        bool was_failed = w->failed;
        if (!was_failed) px_tb_flush(w);
        if (fclose(w->f) != 0 && !was_failed && !w->failed)
            px_set_error(PX_ERR_IO, "cannot close TensorBoard event file '%s': %s", w->path,
                         strerror(errno));
    }
    free(w->path);
    free(w->limits);
    free(w->counts);
    free(w->out_limits);
    free(w->out_counts);
    px_pb_free(&w->msg);
    px_pb_free(&w->rec);
    free(w);
}
