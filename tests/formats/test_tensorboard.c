/* TensorBoard event files: CRC-32C, byte-exact records against the reference's checked
 * examples, and written files verified by an independent Python/protobuf checker. */
#define _XOPEN_SOURCE 700 /* nftw, for removing the temporary tree */
#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats/crc32c.h"
#include "formats/protobuf_writer.h"
#include "plexus/tensorboard.h"
#include "px_test.h"

#define PYTHON "/usr/bin/python3"

/* ---- helpers ---- */

/* Bit-at-a-time CRC-32C straight from the definition: the independent method the
 * table-driven one is compared with. */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t mask_by_hand(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

static uint64_t get_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int hex_to_bytes(const char *hex, unsigned char *out, size_t cap) {
    size_t n = 0;
    unsigned v;
    for (const char *s = hex; *s;) {
        if (*s == ' ' || *s == '\n') { s++; continue; }
        if (n >= cap || sscanf(s, "%2x", &v) != 1) return -1;
        out[n++] = (unsigned char)v;
        s += 2;
    }
    return (int)n;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char tmp_root[256];

static const char *tmp_path(const char *rel) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_root, rel);
    return buf[k];
}

/* ---- CRC-32C ---- */

static void test_crc32c_known_vectors(void) {
    CHECK(px_crc32c("123456789", 9) == 0xE3069283u);
    unsigned char zeros[32] = {0};
    CHECK(px_crc32c(zeros, 32) == 0x8A9136AAu);
    CHECK(px_crc32c("", 0) == 0);
    /* TensorBoard's reader test vectors: masked CRC of the 8-byte length 24, and of a payload */
    unsigned char len24[8] = {24, 0, 0, 0, 0, 0, 0, 0};
    CHECK(px_crc32c_mask(px_crc32c(len24, 8)) == 0x224B7FA3u);
    const char payload[] = "\x1a\x11" "CRC test, one two";
    CHECK(px_crc32c_mask(px_crc32c(payload, sizeof payload - 1)) == 0x5794D08Au);
    CHECK(px_crc32c_unmask(px_crc32c_mask(0xE3069283u)) == 0xE3069283u);
    CHECK(px_crc32c_mask(0x12345678u) == mask_by_hand(0x12345678u));
}

static void test_crc32c_matches_bitwise_definition(void) {
    unsigned char buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    int bad = 0;
    /* every length around the 8-byte stride, at every alignment */
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += (n < 40 ? 1 : 37))
            if (px_crc32c(buf + off, n) != crc32c_bitwise(buf + off, n)) bad++;
    CHECK(bad == 0);
    /* extend continues a CRC across pieces */
    for (size_t cut = 0; cut <= 100; cut += 7)
        CHECK(px_crc32c_extend(px_crc32c(buf, cut), buf + cut, 100 - cut) == px_crc32c(buf, 100));
}

/* ---- encoding, byte for byte against reference §3.5 ---- */

static void check_record(const px_pb_buf *payload, const char *hex, const char *what) {
    unsigned char want[256];
    int n = hex_to_bytes(hex, want, sizeof want);
    px_pb_buf rec = {0};
    px_pb_tfrecord(&rec, payload->data, payload->len);
    CHECK(!payload->failed && !rec.failed);
    if (n < 0 || rec.len != (size_t)n || memcmp(rec.data, want, (size_t)n) != 0) {
        px_test_fail(__FILE__, __LINE__, "%s record differs from the reference", what);
        fprintf(stderr, "  got: ");
        for (size_t i = 0; i < rec.len; i++) fprintf(stderr, "%02x ", rec.data[i]);
        fprintf(stderr, "\n");
    } else {
        px_test_passed++;
    }
    px_pb_free(&rec);
}

static void test_records_match_reference_examples(void) {
    px_pb_buf b = {0};
    px_pb_event_file_version(&b, 1700000000.0);
    check_record(&b,
                 "18 00 00 00 00 00 00 00  a3 7f 4b 22"
                 "09 00 00 00 40 fc 54 d9 41  1a 0d 62 72 61 69 6e 2e 45 76 65 6e 74 3a 32"
                 "ec ed 8f 9d",
                 "file_version");
    px_pb_clear(&b);
    px_pb_event_scalar(&b, 1700000001.0, 1, "epoch_loss", 0.5f);
    check_record(&b,
                 "38 00 00 00 00 00 00 00  a3 79 7d 57"
                 "09 00 00 40 40 fc 54 d9 41 10 01 2a 2b 0a 29 0a 0a 65 70 6f 63 68 5f 6c 6f 73 73"
                 "4a 0f 0a 0b 0a 07 73 63 61 6c 61 72 73 12 00 20 01  42 0a 08 01 12 00 2a 04 00 00 00 3f"
                 "89 aa da ad",
                 "epoch_loss scalar");
    /* wire-format corners: negative int64 is a 10-byte varint; a long nested message
     * gets a 2-byte length inserted in front of it */
    px_pb_clear(&b);
    px_pb_int64(&b, 2, -1);
    const unsigned char neg[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(b.len == sizeof neg && memcmp(b.data, neg, sizeof neg) == 0);
    px_pb_clear(&b);
    size_t m = px_pb_begin(&b);
    for (int i = 0; i < 200; i++) px_pb_bytes(&b, "x", 1);
    px_pb_end(&b, 5, m);
    CHECK(b.len == 203 && b.data[0] == 0x2a && b.data[1] == 0xc8 && b.data[2] == 0x01 &&
          b.data[3] == 'x');
    px_pb_free(&b);
}

/* ---- whole files ---- */

typedef struct { const char *tag; int64_t step; double value; } scalar_case;

static const scalar_case scalars[] = {
    {"epoch_loss", 0, 0.25},
    {"epoch_accuracy", 0, 1.0 / 3.0},      /* not a float: stored rounded to float32 */
    {"epoch_loss", 1, -1.5e-7},
    {"epoch_learning_rate", 1, 0.001},
    {"epoch_loss", 2, 0.0},
    {"epoch_loss", 3, NAN},
    {"epoch_loss", 4, INFINITY},
    {"epoch_loss", 5, -INFINITY},
    {"epoch_loss", 6, 1e300},               /* beyond float range: +inf */
    {"epoch_loss", 123456789012LL, 42.0},   /* a step that needs a 5-byte varint */
};
#define NSCALARS (sizeof scalars / sizeof scalars[0])

static const float hist_values[] = {0.5f, -0.5f, 0.0f, 3.0f, NAN, 1e-13f, -2.0f, INFINITY,
                                    0.5f, 1e10f, -1e-30f, 0.5000001f};
#define NHIST (sizeof hist_values / sizeof hist_values[0])

/* The checker's output for one written file, one line per entry. */
typedef struct { char **line; int n; } lines;

static void free_lines(lines *l) {
    for (int i = 0; i < l->n; i++) free(l->line[i]);
    free(l->line);
    l->line = NULL;
    l->n = 0;
}

static void dump_file(const char *path) {
    size_t n = 0;
    unsigned char *s = read_file(path, &n);
    if (s) {
        fwrite(s, 1, n, stderr);
        free(s);
    }
}

/* Runs the checker; returns its exit status (-1 when it could not run). */
static int run_checker(const char *events, const char *flags, lines *out) {
    const char *checker = px_test_data("../scripts/check_events.py");
    char cmd[4096];
    const char *out_path = tmp_path("checker.out"), *err_path = tmp_path("checker.err");
    out->line = NULL;
    out->n = 0;
    snprintf(cmd, sizeof cmd, "%s '%s' %s '%s' > '%s' 2> '%s'", PYTHON, checker, flags, events,
             out_path, err_path);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc)) return -1;
    rc = WEXITSTATUS(rc);
    FILE *f = fopen(out_path, "r");
    char buf[1024];
    while (f && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        char **grown = realloc(out->line, (size_t)(out->n + 1) * sizeof *grown);
        if (!grown) break;
        out->line = grown;
        out->line[out->n++] = strdup(buf);
    }
    if (f) fclose(f);
    if (rc == 2) {
        px_test_fail(__FILE__, __LINE__,
                     "the event-file checker needs " PYTHON " with python3-protobuf and protoc "
                     "(apt-get install -y python3-protobuf protobuf-compiler):");
        dump_file(err_path);
    }
    return rc;
}

static int checker_available(void) {
    if (access(PYTHON, X_OK) != 0) {
        px_test_fail(__FILE__, __LINE__,
                     PYTHON " is missing: the independent event-file check cannot run "
                            "(apt-get install -y python3 python3-protobuf protobuf-compiler)");
        return 0;
    }
    if (access(px_test_data("../scripts/check_events.py"), R_OK) != 0) {
        px_test_fail(__FILE__, __LINE__, "checker not found at %s",
                     px_test_data("../scripts/check_events.py"));
        return 0;
    }
    return 1;
}

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static double field_value(const char *line, const char *name) {
    const char *p = strstr(line, name);
    return p ? strtod(p + strlen(name), NULL) : NAN;
}

/* Every record: length, masked CRC of the length, data, masked CRC of the data, with
 * CRCs from the bit-wise definition. Returns the record count, -1 on a bad frame. */
static int count_valid_records(const unsigned char *d, size_t n, size_t *first_len) {
    size_t pos = 0;
    int count = 0;
    while (pos < n) {
        if (n - pos < 16) return -1;
        uint64_t len = get_le(d + pos, 8);
        if (get_le(d + pos + 8, 4) != mask_by_hand(crc32c_bitwise(d + pos, 8))) return -1;
        if (len > n - pos - 16) return -1;
        if (get_le(d + pos + 12 + len, 4) != mask_by_hand(crc32c_bitwise(d + pos + 12, len)))
            return -1;
        if (count == 0) *first_len = (size_t)len;
        pos += 16 + (size_t)len;
        count++;
    }
    return count;
}

static void test_written_file_checked_independently(void) {
    const char *logdir = tmp_path("logs/run1/train"); /* parents do not exist yet */
    time_t before = time(NULL);
    px_tb_writer *w = px_tb_writer_open(logdir);
    CHECK_NOT_NULL(w);
    if (!w) return;
    const char *path = px_tb_writer_path(w);
    char prefix[600], host[256] = "";
    snprintf(prefix, sizeof prefix, "%s/events.out.tfevents.", logdir);
    CHECK(strncmp(path, prefix, strlen(prefix)) == 0);
    CHECK(strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".v2") == 0);
    char pid[32];
    snprintf(pid, sizeof pid, ".%ld.", (long)getpid());
    CHECK(strstr(path + strlen(prefix), pid) != NULL);
    if (gethostname(host, sizeof host) == 0 && host[0]) CHECK(strstr(path, host) != NULL);
    /* the 10-digit seconds right after the prefix */
    long long secs = strtoll(path + strlen(prefix), NULL, 10);
    CHECK(path[strlen(prefix) + 10] == '.' && secs >= before - 1 && secs <= time(NULL) + 1);

    for (size_t i = 0; i < NSCALARS; i++)
        CHECK_OK(px_tb_scalar(w, scalars[i].tag, scalars[i].step, scalars[i].value));
    CHECK_OK(px_tb_histogram(w, "dense/kernel_0", 3, hist_values, (int64_t)NHIST));
    CHECK_OK(px_tb_histogram(w, "empty", 4, NULL, 0));
    CHECK_OK(px_tb_flush(w));
    char path_copy[1024];
    snprintf(path_copy, sizeof path_copy, "%s", path);
    px_tb_writer_close(w);

    /* C side alone: framing and CRCs by the bit-wise method; the first record is the
     * 24-byte Event{wall_time, file_version} */
    size_t n = 0, first_len = 0;
    unsigned char *d = read_file(path_copy, &n);
    CHECK_NOT_NULL(d);
    if (!d) return;
    CHECK(count_valid_records(d, n, &first_len) == (int)NSCALARS + 3);
    CHECK(first_len == 24);
    CHECK(d[12] == 0x09 && d[21] == 0x1a && d[22] == 13 && memcmp(d + 23, "brain.Event:2", 13) == 0);
    double wall;
    uint64_t bits = get_le(d + 13, 8);
    memcpy(&wall, &bits, 8);
    CHECK(wall >= (double)before - 1 && wall <= (double)time(NULL) + 1);

    /* The checker must notice a flipped bit, or its approval would mean nothing. */
    if (!checker_available()) {
        free(d);
        return;
    }
    const char *bad = tmp_path("corrupt.tfevents");
    FILE *f = fopen(bad, "wb");
    d[n - 5] ^= 0x10; /* inside the last payload */
    CHECK(f && fwrite(d, 1, n, f) == n);
    if (f) fclose(f);
    free(d);
    lines out;
    CHECK(run_checker(bad, "", &out) == 1);
    free_lines(&out);

    /* Independent parse of the real file */
    int rc = run_checker(path_copy, "--buckets", &out);
    CHECK(rc == 0);
    if (rc != 0) dump_file(tmp_path("checker.err"));
    int li = 0;
    CHECK(out.n > 0 && strncmp(out.line[0], "file_version\t", 13) == 0 &&
          strstr(out.line[0], "\tbrain.Event:2"));
    li = 1;
    for (size_t i = 0; i < NSCALARS && li < out.n; i++, li++) {
        char tag[128];
        long long step;
        int used = 0;
        if (sscanf(out.line[li], "scalar\t%lld\t%127[^\t]\t%n", &step, tag, &used) != 2 || !used) {
            px_test_fail(__FILE__, __LINE__, "unexpected checker line '%s'", out.line[li]);
            continue;
        }
        double got = strtod(out.line[li] + used, NULL);
        double v = scalars[i].value;
        double want = (isfinite(v) && fabs(v) > FLT_MAX) ? copysign(INFINITY, v) : (double)(float)v;
        CHECK(step == scalars[i].step);
        CHECK(strcmp(tag, scalars[i].tag) == 0);
        if (!same_double(got, want))
            px_test_fail(__FILE__, __LINE__, "scalar %zu: checker read %.17g, wrote %.17g", i, got,
                         want);
        else
            px_test_passed++;
    }

    /* histogram: stats exactly as computed here in double, buckets by a linear scan
     * over TF's default edges */
    double mn = INFINITY, mx = -INFINITY, num = 0, sum = 0, sumsq = 0;
    for (size_t i = 0; i < NHIST; i++) {
        double v = hist_values[i];
        if (!isfinite(v)) continue;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        num += 1;
        sum += v;
        sumsq += v * v;
    }
    CHECK(li < out.n && strncmp(out.line[li], "histogram\t3\tdense/kernel_0\t", 27) == 0);
    if (li < out.n) {
        const char *h = out.line[li];
        CHECK(field_value(h, "min=") == mn);
        CHECK(field_value(h, "max=") == mx);
        CHECK(field_value(h, "num=") == num && num == NHIST - 2);
        CHECK(field_value(h, "sum=") == sum);
        CHECK(field_value(h, "sum_squares=") == sumsq);
        int nb = (int)field_value(h, "buckets=");
        double pos_edges[800];
        int k = 0;
        for (double v = 1e-12; v < 1e20; v *= 1.1) pos_edges[k++] = v;
        int ne = 2 * k + 3;
        double *edge = malloc((size_t)ne * sizeof *edge), *cnt = calloc((size_t)ne, sizeof *cnt);
        edge[0] = -DBL_MAX;
        for (int i = 0; i < k; i++) edge[1 + i] = -pos_edges[k - 1 - i];
        edge[k + 1] = 0;
        for (int i = 0; i < k; i++) edge[k + 2 + i] = pos_edges[i];
        edge[ne - 1] = DBL_MAX;
        for (size_t i = 0; i < NHIST; i++) {
            double v = hist_values[i];
            if (!isfinite(v)) continue;
            int j = 0;
            while (!(edge[j] > v)) j++;
            cnt[j] += 1;
        }
        /* collapse empty runs: an empty bucket joins the empty ones after it */
        int j = 0, got_nb = 0, mismatch = 0;
        li++;
        while (j < ne) {
            double end = edge[j], c = cnt[j];
            j++;
            if (c == 0)
                while (j < ne && cnt[j] == 0) end = edge[j++];
            double gl = NAN, gc = NAN;
            if (li < out.n && sscanf(out.line[li], "bucket\t%lf\t%lf", &gl, &gc) == 2) li++;
            if (gl != end || gc != c) mismatch++;
            got_nb++;
        }
        CHECK(mismatch == 0);
        CHECK(got_nb == nb);
        free(edge);
        free(cnt);
    }
    /* empty histogram: zero stats and one empty bucket up to DBL_MAX */
    CHECK(li < out.n && strcmp(out.line[li], "histogram\t4\tempty\tmin=0.0\tmax=0.0\tnum=0.0\t"
                                             "sum=0.0\tsum_squares=0.0\tbuckets=1") == 0);
    li++;
    CHECK(li < out.n && strncmp(out.line[li], "bucket\t1.7976931348623157e+308\t0.0", 34) == 0);
    li++;
    char ok_line[32];
    snprintf(ok_line, sizeof ok_line, "ok\t%d", (int)NSCALARS + 3);
    CHECK(li < out.n && strcmp(out.line[li], ok_line) == 0);
    if (px_test_failed)
        for (int i = 0; i < out.n; i++) fprintf(stderr, "  checker: %s\n", out.line[i]);
    free_lines(&out);
}

/* The TF2 tensor forms (histograms, images, the keras model config) and a graph event,
 * each against values worked out here by hand and read back by the checker (protobuf,
 * CRC32C, Pillow decoding the PNGs). */
static void test_tensor_summaries_checked_independently(void) {
    if (!checker_available()) return;
    px_tb_writer *w = px_tb_writer_open(tmp_path("tensors"));
    CHECK_NOT_NULL(w);
    if (!w) return;
    /* 0..9 in 3 buckets of width 3: [0,3) [3,6) [6,9] (9 clamped into the last); NaN skipped */
    const float ten[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, NAN}, same[2] = {5, 5}, none[1] = {NAN};
    CHECK_OK(px_tb_histogram_tensor(w, "h/ten", 1, ten, 11, 3));
    CHECK_OK(px_tb_histogram_tensor(w, "h/same", 2, same, 2, 0));
    CHECK_OK(px_tb_histogram_tensor(w, "h/none", 3, none, 1, 0));
    const uint8_t gray[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, rgb[6] = {10, 20, 30, 40, 50, 60};
    CHECK_OK(px_tb_images(w, "img/gray", 4, gray, 2, 2, 3, 1));
    CHECK_OK(px_tb_images(w, "img/rgb", 5, rgb, 1, 1, 2, 3));
    /* GraphDef{node{name: "a", op: "Const"}} encoded by hand */
    static const unsigned char graph[] = {0x0a, 0x0a, 0x0a, 0x01, 'a', 0x12, 0x05, 'C', 'o', 'n', 's', 't'};
    CHECK_OK(px_tb_graph(w, graph, sizeof graph));
    CHECK_OK(px_tb_keras_model(w, "keras", 0, "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", "
                                              "\"layers\": [{\"class_name\": \"Dense\", \"config\": {}}]}}"));
    /* bad arguments leave the file valid */
    CHECK(px_tb_histogram_tensor(w, "h", 0, ten, 11, -1) == PX_ERR_ARG);
    CHECK(px_tb_images(w, "img", 0, gray, 1, 2, 3, 2) == PX_ERR_ARG);
    CHECK_ERROR_HAS("channels");
    CHECK(px_tb_images(w, "img", 0, gray, 0, 2, 3, 1) == PX_ERR_ARG);
    CHECK(px_tb_graph(w, NULL, 3) == PX_ERR_ARG);
    CHECK(px_tb_keras_model(w, "keras", 0, NULL) == PX_ERR_ARG);
    char path[1024];
    snprintf(path, sizeof path, "%s", px_tb_writer_path(w));
    px_tb_writer_close(w);
    lines out;
    CHECK(run_checker(path, "--buckets --pixels", &out) == 0);
    static const char *const want[] = {
        "histogram\t1\th/ten\tmin=0.0\tmax=9.0\tnum=10.0\tbuckets=3",
        "bucket\t0.0\t3.0\t3.0",
        "bucket\t3.0\t6.0\t3.0",
        "bucket\t6.0\t9.0\t4.0",
        "histogram\t2\th/same\tmin=4.5\tmax=5.5\tnum=2.0\tbuckets=1",
        "bucket\t4.5\t5.5\t2.0",
        "histogram\t3\th/none\tmin=0.0\tmax=0.0\tnum=0.0\tbuckets=0",
        "pixels\t0\t000102030405",
        "pixels\t1\t060708090a0b",
        "image\t4\timg/gray\t3\t2\t2\tL",
        "pixels\t0\t0a141e28323c",
        "image\t5\timg/rgb\t2\t1\t1\tRGB",
        "graph\t1",
        "node\ta\tConst\t",
        "keras_model\t0\tkeras\tSequential\t1",
        "ok\t8",
    };
    int n = (int)(sizeof want / sizeof want[0]);
    CHECK(out.n == n + 1); /* the file_version line first */
    for (int i = 0; i < n && i + 1 < out.n; i++)
        if (strcmp(out.line[i + 1], want[i]) != 0) {
            px_test_fail(__FILE__, __LINE__, "checker line %d: got '%s', want '%s'", i + 1, out.line[i + 1], want[i]);
            break;
        }
    free_lines(&out);
}

static void test_writers_in_same_second_get_distinct_files(void) {
    px_tb_writer *a = px_tb_writer_open(tmp_path("same")), *b = px_tb_writer_open(tmp_path("same"));
    CHECK_NOT_NULL(a);
    CHECK_NOT_NULL(b);
    if (a && b) CHECK(strcmp(px_tb_writer_path(a), px_tb_writer_path(b)) != 0);
    px_tb_writer_close(a);
    px_tb_writer_close(b);
}

static void test_argument_errors(void) {
    float v[2] = {1, 2};
    CHECK(px_tb_writer_open(NULL) == NULL && px_last_status() == PX_ERR_ARG);
    CHECK(px_tb_writer_open("") == NULL && px_last_status() == PX_ERR_ARG);
    CHECK(px_tb_scalar(NULL, "x", 0, 1) == PX_ERR_ARG);
    CHECK(px_tb_histogram(NULL, "x", 0, v, 2) == PX_ERR_ARG);
    CHECK(px_tb_flush(NULL) == PX_ERR_ARG);
    px_tb_writer_close(NULL);
    px_tb_writer *w = px_tb_writer_open(tmp_path("args"));
    CHECK_NOT_NULL(w);
    if (!w) return;
    CHECK(px_tb_scalar(w, NULL, 0, 1) == PX_ERR_ARG);
    CHECK(px_tb_scalar(w, "", 0, 1) == PX_ERR_ARG);
    CHECK_ERROR_HAS("tag is NULL or empty");
    CHECK(px_tb_scalar(w, "x", -1, 1) == PX_ERR_ARG);
    CHECK_ERROR_HAS("negative");
    CHECK(px_tb_histogram(w, "", 0, v, 2) == PX_ERR_ARG);
    CHECK(px_tb_histogram(w, "h", 0, v, -1) == PX_ERR_ARG);
    CHECK(px_tb_histogram(w, "h", 0, NULL, 2) == PX_ERR_ARG);
    /* rejected calls leave the writer usable and the file valid */
    CHECK_OK(px_tb_scalar(w, "x", 0, 1));
    CHECK_OK(px_tb_flush(w));
    size_t n = 0, first = 0;
    unsigned char *d = read_file(px_tb_writer_path(w), &n);
    CHECK(d && count_valid_records(d, n, &first) == 2);
    free(d);
    px_tb_writer_close(w);
}

static void test_unwritable_directory_names_path(void) {
    /* a regular file where a directory should be: fails even for root */
    const char *file = tmp_path("plainfile");
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    const char *logdir = tmp_path("plainfile/run/train");
    CHECK(px_tb_writer_open(logdir) == NULL);
    CHECK(px_last_status() == PX_ERR_IO);
    CHECK_ERROR_HAS(file);
    CHECK_ERROR_HAS("plainfile/run/train");
    /* the logdir itself is a file */
    CHECK(px_tb_writer_open(file) == NULL && px_last_status() == PX_ERR_IO);
    CHECK_ERROR_HAS("not a directory");
    /* a read-only directory (permissions do not bind root, so only checked otherwise) */
    if (geteuid() != 0) {
        const char *ro = tmp_path("readonly");
        CHECK(mkdir(ro, 0555) == 0);
        CHECK(px_tb_writer_open(ro) == NULL && px_last_status() == PX_ERR_IO);
        CHECK_ERROR_HAS(ro);
        chmod(ro, 0755);
    }
}

/* A file-size limit makes the kernel refuse writes (EFBIG once SIGXFSZ is ignored): a
 * real failing write, to see that it is reported, names the file and stays reported. */
static void test_write_failure_is_reported(void) {
    px_tb_writer *w = px_tb_writer_open(tmp_path("full"));
    CHECK_NOT_NULL(w);
    if (!w) return;
    struct rlimit old, lim;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = 1000;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    px_status s = PX_OK;
    for (int i = 0; i < 2000 && s == PX_OK; i++) s = px_tb_scalar(w, "epoch_loss", i, 0.5);
    if (s == PX_OK) s = px_tb_flush(w);
    CHECK(s == PX_ERR_IO);
    CHECK_ERROR_HAS(px_tb_writer_path(w));
    /* sticky: nothing is appended after a torn record */
    CHECK(px_tb_scalar(w, "epoch_loss", 0, 0.5) == PX_ERR_IO);
    CHECK(px_tb_flush(w) == PX_ERR_IO);
    px_tb_writer_close(w);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, old_handler);
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/px_tb_test_XXXXXX");
    if (!mkdtemp(tmp_root)) {
        fprintf(stderr, "cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    RUN_TEST(test_crc32c_known_vectors);
    RUN_TEST(test_crc32c_matches_bitwise_definition);
    RUN_TEST(test_records_match_reference_examples);
    RUN_TEST(test_written_file_checked_independently);
    RUN_TEST(test_tensor_summaries_checked_independently);
    RUN_TEST(test_writers_in_same_second_get_distinct_files);
    RUN_TEST(test_argument_errors);
    RUN_TEST(test_unwritable_directory_names_path);
    RUN_TEST(test_write_failure_is_reported);
    remove_tree(tmp_root);
    return px_test_finish();
}
