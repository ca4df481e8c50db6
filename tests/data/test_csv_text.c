/* CSV text as other programs write it (issue 18 items 8, 17, 19): a UTF-8
 * byte-order mark, CRLF and lone-CR line ends are read; a NUL byte or UTF-16 is
 * an error naming the line and column; binary devices fail at once; standard
 * input and pipes (plain or gzip'd) are read in one pass. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "px_test.h"

static char dir[256];

static const char *write_tmp(const char *name, const char *bytes, size_t n) {
    static char path[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    FILE *f = fopen(path[k], "wb");
    if (f) {
        fwrite(bytes, 1, n, f);
        fclose(f);
    }
    return path[k];
}

/* Reads `bytes` as a CSV with a header and the label last; checks 3 rows of 2 features. */
static void check_reads(const char *name, const char *bytes, size_t n) {
    px_dataset *d = NULL;
    px_status st = px_csv_read(write_tmp(name, bytes, n), &(px_csv_options){.header = true, .label_column = -1}, &d);
    if (st) printf("  %s: %s\n", name, px_last_error());
    CHECK(st == PX_OK);
    if (!d) return;
    CHECK(d->x->shape[0] == 3 && d->x->shape[1] == 2);
    CHECK(px_tensor_f32(d->x)[0] == 1.5f && px_tensor_f32(d->x)[5] == 6.0f);
    CHECK(px_tensor_i32(d->y)[0] == 0 && px_tensor_i32(d->y)[2] == 2);
    px_dataset_free(d);
}

static void test_line_ends_and_bom(void) {
    const char lf[] = "a,b,label\n1.5,2,0\n3,4,1\n5,6.0,2\n";
    check_reads("lf.csv", lf, sizeof lf - 1);
    const char crlf[] = "a,b,label\r\n1.5,2,0\r\n3,4,1\r\n5,6.0,2\r\n";
    check_reads("crlf.csv", crlf, sizeof crlf - 1);
    const char bom[] = "\xEF\xBB\xBF" "a,b,label\r\n1.5,2,0\r\n3,4,1\r\n5,6.0,2";
    check_reads("bom.csv", bom, sizeof bom - 1);
    const char cr[] = "a,b,label\r1.5,2,0\r3,4,1\r5,6.0,2\r";
    check_reads("cr.csv", cr, sizeof cr - 1);
    const char mixed[] = "a,b,label\n1.5,2,0\r\n\r\n3,4,1\r5,6.0,2\n\n";
    check_reads("mixed.csv", mixed, sizeof mixed - 1);
    /* a BOM on a headerless file: the first number is read, not refused */
    const char bom_data[] = "\xEF\xBB\xBF" "1.5,2,0\r\n3,4,1\r\n";
    px_dataset *d = NULL;
    CHECK_OK(px_csv_read(write_tmp("bom_data.csv", bom_data, sizeof bom_data - 1), NULL, &d));
    if (d) CHECK(px_tensor_f32(d->x)[0] == 1.5f && d->x->shape[0] == 2);
    px_dataset_free(d);
    /* whitespace-separated with CRLF */
    const char ws[] = "1.5 2 0\r\n3\t4 1\r\n";
    CHECK_OK(px_csv_read(write_tmp("ws.txt", ws, sizeof ws - 1), &(px_csv_options){.delimiter = ' ', .label_column = -1}, &d));
    if (d) CHECK(d->x->shape[0] == 2 && d->x->shape[1] == 2);
    px_dataset_free(d);
}

static void test_binary_is_refused(void) {
    px_dataset *d = NULL;
    const char nul[] = "a,b,label\n1,2,0\n3,4\0005,1\n";
    CHECK(px_csv_read(write_tmp("nul.csv", nul, sizeof nul - 1), &(px_csv_options){.header = true, .label_column = -1}, &d) ==
          PX_ERR_FORMAT);
    CHECK_ERROR_HAS("line 3, column 2: a NUL byte (byte 4 of the line)");
    CHECK(d == NULL);
    const char nul_first[] = "\0001,2\n";
    CHECK(px_csv_read(write_tmp("nul0.csv", nul_first, sizeof nul_first - 1), NULL, &d) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("line 1, column 1: a NUL byte");
    const char nul_ws[] = "1 2 \0003\n";
    CHECK(px_csv_read(write_tmp("nulws.txt", nul_ws, sizeof nul_ws - 1), &(px_csv_options){.delimiter = ' '}, &d) ==
          PX_ERR_FORMAT);
    CHECK_ERROR_HAS("line 1, column 3: a NUL byte");
    const char utf16[] = "\xFF\xFE" "1\0,\0" "2\0\n\0";
    CHECK(px_csv_read(write_tmp("u16.csv", utf16, sizeof utf16 - 1), NULL, &d) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("UTF-16");
    /* an endless device fails on its first byte instead of being read without end */
    CHECK(px_csv_read("/dev/zero", NULL, &d) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("/dev/zero: line 1, column 1: a NUL byte");
}

typedef struct writer {
    int fd;
    const char *bytes;
    size_t n;
} writer;

static void *write_all(void *arg) {
    writer *w = arg;
    size_t done = 0;
    while (done < w->n) {
        ssize_t r = write(w->fd, w->bytes + done, w->n - done);
        if (r <= 0) break;
        done += (size_t)r;
    }
    close(w->fd);
    return NULL;
}

/* px_csv_read("-") with `bytes` arriving on standard input through a pipe. */
static px_status read_stdin(const char *bytes, size_t n, const px_csv_options *o, px_dataset **d) {
    int p[2];
    if (pipe(p) != 0) return PX_ERR_IO;
    int saved = dup(STDIN_FILENO);
    dup2(p[0], STDIN_FILENO);
    close(p[0]);
    writer w = {p[1], bytes, n};
    pthread_t t;
    pthread_create(&t, NULL, write_all, &w);
    px_status st = px_csv_read("-", o, d);
    /* the pipe's read end closes before the join: a writer cut short gets EPIPE */
    dup2(saved, STDIN_FILENO);
    close(saved);
    pthread_join(t, NULL);
    return st;
}

static void test_standard_input(void) {
    /* more rows than one read buffer holds, so the one-pass reader grows */
    size_t cap = 1 << 20, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text, cap, "\xEF\xBB\xBF" "x,y,label\r\n");
    for (int i = 0; i < 20000; i++) n += (size_t)snprintf(text + n, cap - n, "%d,%d.5,%d\r\n", i, i, i % 3);
    px_dataset *d = NULL;
    CHECK_OK(read_stdin(text, n, &(px_csv_options){.header = true, .label_column = -1}, &d));
    if (d) {
        CHECK(d->x->shape[0] == 20000 && d->x->shape[1] == 2 && d->y->shape[0] == 20000);
        CHECK(px_tensor_f32(d->x)[2 * 19999] == 19999.0f && px_tensor_f32(d->x)[2 * 19999 + 1] == 19999.5f);
        CHECK(px_tensor_i32(d->y)[19999] == 19999 % 3);
    }
    px_dataset_free(d);
    /* gzip'd through the pipe, float targets */
    uLongf zn = compressBound((uLong)n) + 64;
    unsigned char *z = malloc(zn);
    z_stream zs = {0};
    deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY); /* gzip wrapper */
    zs.next_in = (unsigned char *)text, zs.avail_in = (uInt)n, zs.next_out = z, zs.avail_out = (uInt)zn;
    deflate(&zs, Z_FINISH);
    size_t zlen = zs.total_out;
    deflateEnd(&zs);
    CHECK_OK(read_stdin((const char *)z, zlen, &(px_csv_options){.header = true, .label_column = -1, .float_labels = true}, &d));
    if (d) CHECK(d->y->dtype == PX_F32 && d->y->shape[0] == 20000 && px_tensor_f32(d->y)[5] == 2.0f);
    px_dataset_free(d);
    /* errors name the stream and the line */
    const char bad[] = "1,2,0\n3,x,1\n";
    CHECK(read_stdin(bad, sizeof bad - 1, NULL, &d) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("standard input: line 2, column 2: 'x' is not a number");
    const char ragged[] = "1,2,0\n3,1\n";
    CHECK(read_stdin(ragged, sizeof ragged - 1, NULL, &d) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("missing field");
    /* a stream larger than the memory limit stops with a clear error */
    px_set_memory_limit((uint64_t)20 << 20);
    size_t big = 3000000 * 6;
    char *many = malloc(big + 1);
    for (size_t i = 0; i < big; i += 6) memcpy(many + i, "1,2,0\n", 6);
    CHECK(read_stdin(many, big, NULL, &d) == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("csv: standard input: holding");
    CHECK_ERROR_HAS("memory limit");
    px_set_memory_limit(0);
    free(many);
    free(z);
    free(text);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/px_csvtext_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    signal(SIGPIPE, SIG_IGN);
    RUN_TEST(test_line_ends_and_bom);
    RUN_TEST(test_binary_is_refused);
    RUN_TEST(test_standard_input);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    return px_test_finish();
}
