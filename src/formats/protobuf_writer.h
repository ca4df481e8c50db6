/* A tiny protobuf wire-format encoder (varints, fixed64/32, length-delimited nesting)
 * and the TensorBoard Event encoders built on it; internal, no protobuf library. */
#ifndef PX_IO_PROTOBUF_WRITER_H
#define PX_IO_PROTOBUF_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. An allocation failure sets `failed` and later appends do
 * nothing, so an encoder can run to its end and check once. */
typedef struct px_pb_buf {
    unsigned char *data;
    size_t len, cap;
    bool failed;
} px_pb_buf;

enum { PX_PB_VARINT = 0, PX_PB_I64 = 1, PX_PB_LEN = 2, PX_PB_I32 = 5 };

void px_pb_free(px_pb_buf *b);
void px_pb_clear(px_pb_buf *b); /* length 0, keeps capacity, clears `failed` */
void px_pb_bytes(px_pb_buf *b, const void *p, size_t n);
void px_pb_varint(px_pb_buf *b, uint64_t v);
void px_pb_key(px_pb_buf *b, int field, int wire_type);
/* Negative int64 values become 10-byte varints (two's complement), as protobuf does. */
void px_pb_int64(px_pb_buf *b, int field, int64_t v);
void px_pb_double(px_pb_buf *b, int field, double v);
void px_pb_float(px_pb_buf *b, int field, float v);
void px_pb_string(px_pb_buf *b, int field, const char *s, size_t n);
/* Nested message or packed field: px_pb_begin returns a mark, the caller appends the
 * content, and px_pb_end inserts key and length before it (lengths are known only
 * afterwards, and minimal varints keep the bytes identical to protobuf's). */
size_t px_pb_begin(px_pb_buf *b);
void px_pb_end(px_pb_buf *b, int field, size_t mark);

/* ---- TensorBoard Event payloads (field numbers from tensorboard/compat/proto) ---- */

/* Event{wall_time, file_version: "brain.Event:2"}: the first record of every file. */
void px_pb_event_file_version(px_pb_buf *b, double wall_time);
/* Event{wall_time, step, summary{value{tag, metadata{plugin_data{plugin_name:"scalars"},
 * data_class: SCALAR}, tensor{dtype: DT_FLOAT, tensor_shape{}, float_val: [value]}}}}. */
void px_pb_event_scalar(px_pb_buf *b, double wall_time, int64_t step, const char *tag,
                        float value);
/* Event{wall_time, step, summary{value{tag, histo: HistogramProto{...}}}}; the arrays
 * have nb entries each. */
void px_pb_event_histogram(px_pb_buf *b, double wall_time, int64_t step, const char *tag,
                           double min, double max, double num, double sum, double sum_squares,
                           const double *bucket_limit, const double *bucket, size_t nb);

/* One summary value in the tensor form of TF2's summaries: tag, metadata (plugin name
 * and content, data_class; 0 is omitted) and a TensorProto of dtype and shape holding
 * either raw little-endian tensor_content or string_val entries. */
typedef struct px_pb_tensor_value {
    const char *tag;
    const char *plugin;
    const void *content;
    size_t content_len;
    int data_class; /* 1 scalar, 2 tensor, 3 blob sequence */
    int dtype;      /* DataType enum: 2 DT_DOUBLE, 7 DT_STRING */
    const int64_t *dims;
    int rank;
    const void *tensor_content; /* dtype's bytes, little-endian; NULL: none */
    size_t tensor_content_len;
    const void *const *strings; /* string_val entries (bytes); NULL: none */
    const size_t *string_lens;
    int n_strings;
} px_pb_tensor_value;

/* Event{wall_time, step, summary{value{...}}} of one tensor value. */
void px_pb_event_tensor(px_pb_buf *b, double wall_time, int64_t step, const px_pb_tensor_value *v);
/* Event{wall_time, graph_def: bytes}: a serialized GraphDef. */
void px_pb_event_graph(px_pb_buf *b, double wall_time, const void *graph_def, size_t n);

/* One TFRecord: u64 length, masked CRC-32C of those 8 bytes, data, masked CRC of data
 * (all little-endian). Appends to `out`. */
void px_pb_tfrecord(px_pb_buf *out, const void *data, size_t n);

#endif
