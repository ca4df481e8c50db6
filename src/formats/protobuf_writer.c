/* Protobuf wire-format encoding by hand, for TensorBoard event files: a few message
 * types do not justify a dependency on libprotobuf. */
#include "formats/protobuf_writer.h"

#include <stdlib.h>
#include <string.h>

#include "formats/crc32c.h"

void px_pb_free(px_pb_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void px_pb_clear(px_pb_buf *b) {
    b->len = 0;
    b->failed = false;
}

static bool reserve(px_pb_buf *b, size_t extra) {
    if (b->failed) return false;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    if (b->len + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    unsigned char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void px_pb_bytes(px_pb_buf *b, const void *p, size_t n) {
    if (!n || !reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static size_t varint_encode(unsigned char *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

void px_pb_varint(px_pb_buf *b, uint64_t v) {
    unsigned char tmp[10];
    px_pb_bytes(b, tmp, varint_encode(tmp, v));
}

void px_pb_key(px_pb_buf *b, int field, int wire_type) {
    px_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire_type);
}

void px_pb_int64(px_pb_buf *b, int field, int64_t v) {
    px_pb_key(b, field, PX_PB_VARINT);
    px_pb_varint(b, (uint64_t)v);
}

static void put_le(unsigned char *out, uint64_t v, int n) {
    for (int i = 0; i < n; i++) out[i] = (unsigned char)(v >> (8 * i));
}

static void raw_double(px_pb_buf *b, double v) {
    uint64_t bits;
    unsigned char tmp[8];
    memcpy(&bits, &v, 8);
    put_le(tmp, bits, 8);
    px_pb_bytes(b, tmp, 8);
}

void px_pb_double(px_pb_buf *b, int field, double v) {
    px_pb_key(b, field, PX_PB_I64);
    raw_double(b, v);
}

void px_pb_float(px_pb_buf *b, int field, float v) {
    uint32_t bits;
    unsigned char tmp[4];
    memcpy(&bits, &v, 4);
    put_le(tmp, bits, 4);
    px_pb_key(b, field, PX_PB_I32);
    px_pb_bytes(b, tmp, 4);
}

void px_pb_string(px_pb_buf *b, int field, const char *s, size_t n) {
    px_pb_key(b, field, PX_PB_LEN);
    px_pb_varint(b, n);
    px_pb_bytes(b, s, n);
}

size_t px_pb_begin(px_pb_buf *b) { return b->len; }

void px_pb_end(px_pb_buf *b, int field, size_t mark) {
    unsigned char head[20];
    size_t n;
    if (b->failed || mark > b->len) return;
    n = varint_encode(head, ((uint64_t)field << 3) | PX_PB_LEN);
    n += varint_encode(head + n, b->len - mark);
    if (!reserve(b, n)) return;
    memmove(b->data + mark + n, b->data + mark, b->len - mark);
    memcpy(b->data + mark, head, n);
    b->len += n;
}

/* Event field numbers (tensorboard/compat/proto/event.proto and summary.proto). */
enum {
    EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_GRAPH_DEF = 4, EVENT_SUMMARY = 5,
    SUMMARY_VALUE = 1,
    VALUE_TAG = 1, VALUE_HISTO = 5, VALUE_TENSOR = 8, VALUE_METADATA = 9,
    META_PLUGIN_DATA = 1, META_DATA_CLASS = 4, PLUGIN_NAME = 1, PLUGIN_CONTENT = 2,
    TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, TENSOR_CONTENT = 4, TENSOR_FLOAT_VAL = 5, TENSOR_STRING_VAL = 8,
    SHAPE_DIM = 2, DIM_SIZE = 1,
    HISTO_MIN = 1, HISTO_MAX = 2, HISTO_NUM = 3, HISTO_SUM = 4, HISTO_SUM_SQUARES = 5,
    HISTO_BUCKET_LIMIT = 6, HISTO_BUCKET = 7,
    DT_FLOAT = 1, DATA_CLASS_SCALAR = 1
};

/* proto3 omits fields equal to their default; doing the same keeps our bytes equal
 * to what TensorFlow would write for the same values. */
static void event_head(px_pb_buf *b, double wall_time, int64_t step) {
    if (wall_time != 0) px_pb_double(b, EVENT_WALL_TIME, wall_time);
    if (step != 0) px_pb_int64(b, EVENT_STEP, step);
}

void px_pb_event_file_version(px_pb_buf *b, double wall_time) {
    static const char version[] = "brain.Event:2";
    event_head(b, wall_time, 0);
    px_pb_string(b, EVENT_FILE_VERSION, version, sizeof version - 1);
}

void px_pb_event_scalar(px_pb_buf *b, double wall_time, int64_t step, const char *tag,
                        float value) {
    static const char plugin[] = "scalars";
    size_t summary, val, meta, plugin_data, tensor, shape, packed;
    event_head(b, wall_time, step);
    summary = px_pb_begin(b);
    val = px_pb_begin(b);
    px_pb_string(b, VALUE_TAG, tag, strlen(tag));
    /* Metadata on every value, not only the first of a tag: TF2 does so, and a reader
     * that starts mid-file (or a file split by a restart) still knows the plugin. */
    meta = px_pb_begin(b);
    plugin_data = px_pb_begin(b);
    px_pb_string(b, PLUGIN_NAME, plugin, sizeof plugin - 1);
    /* An explicit empty content (the serialized ScalarPluginData of version 0), as in
     * the records TF2 writes and the reference's checked example. */
    px_pb_string(b, PLUGIN_CONTENT, "", 0);
    px_pb_end(b, META_PLUGIN_DATA, plugin_data);
    px_pb_int64(b, META_DATA_CLASS, DATA_CLASS_SCALAR);
    px_pb_end(b, VALUE_METADATA, meta);
    tensor = px_pb_begin(b);
    px_pb_int64(b, TENSOR_DTYPE, DT_FLOAT);
    /* An empty but present tensor_shape, as TF writes it for rank 0. */
    shape = px_pb_begin(b);
    px_pb_end(b, TENSOR_SHAPE, shape);
    packed = px_pb_begin(b);
    {
        uint32_t bits;
        unsigned char tmp[4];
        memcpy(&bits, &value, 4);
        put_le(tmp, bits, 4);
        px_pb_bytes(b, tmp, 4);
    }
    px_pb_end(b, TENSOR_FLOAT_VAL, packed);
    px_pb_end(b, VALUE_TENSOR, tensor);
    px_pb_end(b, SUMMARY_VALUE, val);
    px_pb_end(b, EVENT_SUMMARY, summary);
}

void px_pb_event_histogram(px_pb_buf *b, double wall_time, int64_t step, const char *tag,
                           double min, double max, double num, double sum, double sum_squares,
                           const double *bucket_limit, const double *bucket, size_t nb) {
    size_t summary, val, histo, packed;
    event_head(b, wall_time, step);
    summary = px_pb_begin(b);
    val = px_pb_begin(b);
    px_pb_string(b, VALUE_TAG, tag, strlen(tag));
    histo = px_pb_begin(b);
    if (min != 0) px_pb_double(b, HISTO_MIN, min);
    if (max != 0) px_pb_double(b, HISTO_MAX, max);
    if (num != 0) px_pb_double(b, HISTO_NUM, num);
    if (sum != 0) px_pb_double(b, HISTO_SUM, sum);
    if (sum_squares != 0) px_pb_double(b, HISTO_SUM_SQUARES, sum_squares);
    if (nb) {
        packed = px_pb_begin(b);
        for (size_t i = 0; i < nb; i++) raw_double(b, bucket_limit[i]);
        px_pb_end(b, HISTO_BUCKET_LIMIT, packed);
        packed = px_pb_begin(b);
        for (size_t i = 0; i < nb; i++) raw_double(b, bucket[i]);
        px_pb_end(b, HISTO_BUCKET, packed);
    }
    px_pb_end(b, VALUE_HISTO, histo);
    px_pb_end(b, SUMMARY_VALUE, val);
    px_pb_end(b, EVENT_SUMMARY, summary);
}

void px_pb_event_tensor(px_pb_buf *b, double wall_time, int64_t step, const px_pb_tensor_value *v) {
    event_head(b, wall_time, step);
    size_t summary = px_pb_begin(b), val = px_pb_begin(b);
    px_pb_string(b, VALUE_TAG, v->tag, strlen(v->tag));
    size_t meta = px_pb_begin(b), plugin_data = px_pb_begin(b);
    px_pb_string(b, PLUGIN_NAME, v->plugin, strlen(v->plugin));
    px_pb_string(b, PLUGIN_CONTENT, v->content ? v->content : "", v->content_len);
    px_pb_end(b, META_PLUGIN_DATA, plugin_data);
    if (v->data_class) px_pb_int64(b, META_DATA_CLASS, v->data_class);
    px_pb_end(b, VALUE_METADATA, meta);
    size_t tensor = px_pb_begin(b);
    px_pb_int64(b, TENSOR_DTYPE, v->dtype);
    size_t shape = px_pb_begin(b);
    for (int i = 0; i < v->rank; i++) {
        size_t dim = px_pb_begin(b);
        if (v->dims[i] != 0) px_pb_int64(b, DIM_SIZE, v->dims[i]);
        px_pb_end(b, SHAPE_DIM, dim);
    }
    px_pb_end(b, TENSOR_SHAPE, shape);
    if (v->tensor_content && v->tensor_content_len)
        px_pb_string(b, TENSOR_CONTENT, v->tensor_content, v->tensor_content_len);
    for (int i = 0; v->strings && i < v->n_strings; i++)
        px_pb_string(b, TENSOR_STRING_VAL, v->strings[i], v->string_lens[i]);
    px_pb_end(b, VALUE_TENSOR, tensor);
    px_pb_end(b, SUMMARY_VALUE, val);
    px_pb_end(b, EVENT_SUMMARY, summary);
}

void px_pb_event_graph(px_pb_buf *b, double wall_time, const void *graph_def, size_t n) {
    event_head(b, wall_time, 0);
    px_pb_string(b, EVENT_GRAPH_DEF, graph_def, n);
}

void px_pb_tfrecord(px_pb_buf *out, const void *data, size_t n) {
    unsigned char head[12], tail[4];
    put_le(head, (uint64_t)n, 8);
    put_le(head + 8, px_crc32c_mask(px_crc32c(head, 8)), 4);
    put_le(tail, px_crc32c_mask(px_crc32c(data, n)), 4);
    px_pb_bytes(out, head, 12);
    px_pb_bytes(out, data, n);
    px_pb_bytes(out, tail, 4);
}
