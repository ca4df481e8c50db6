/* TensorBoard event-file writer: scalars and histograms in TFRecord-framed Event
 * protobufs that TensorBoard (Python or Rust data server) reads; no protobuf library. */
#ifndef PLEXUS_TENSORBOARD_H
#define PLEXUS_TENSORBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One open event file. Not thread-safe: use one writer per thread (or lock around it). */
typedef struct px_tb_writer px_tb_writer;

/* Creates `logdir` (and missing parents) and a new file in it named like TF2's
 *   events.out.tfevents.<10-digit unix seconds>.<hostname>.<pid>.<counter>.v2
 * (the counter makes files opened in the same second by one process distinct), writes
 * the first record Event{wall_time, file_version: "brain.Event:2"} and flushes it.
 * Returns NULL with PX_ERR_IO and a message naming the path when the directory or file
 * cannot be created or written (PX_ERR_ARG for a NULL/empty logdir, PX_ERR_NOMEM). */
PX_API px_tb_writer *px_tb_writer_open(const char *logdir);

/* Path of the event file (owned by the writer). */
PX_API const char *px_tb_writer_path(const px_tb_writer *w);

/* Appends Event{wall_time: now, step, summary{value{tag, metadata{plugin_data{
 * plugin_name: "scalars"}, data_class: DATA_CLASS_SCALAR}, tensor{dtype: DT_FLOAT,
 * tensor_shape: {}, float_val: [value]}}}}: the tensor form that TF2's
 * tf.summary.scalar (hence Keras 2.x/3 with the TF backend) writes, with metadata on
 * every value as TF2 does. The value is stored as float32 because TensorBoard's Rust
 * data server accepts only DT_FLOAT rank-0 scalars (doubles beyond float range become
 * +-inf). NaN and +-inf are written as they are: TensorBoard loads them, and a diverging
 * loss is worth seeing rather than hiding.
 * PX_ERR_ARG: NULL writer, NULL or empty tag, negative step. PX_ERR_IO: write failed. */
PX_API px_status px_tb_scalar(px_tb_writer *w, const char *tag, int64_t step, double value);

/* Appends a histogram of n values as Value{tag, histo: HistogramProto} -- what TF's
 * histogram summaries wrote, and what TensorBoard's "histograms" plugin converts on
 * load -- with TensorFlow's default bucket edges: 0, +-1e-12 * 1.1^k below 1e20 and
 * +-DBL_MAX, a value v counted in the bucket whose limit is the first one > v (TF's
 * upper_bound), and runs of empty buckets collapsed into one as TF does.
 * min, max, num, sum and sum_squares are computed in double. Non-finite values (NaN,
 * +-inf) are skipped -- they would break min/max and every bucket edge -- so num counts
 * only finite values; n == 0 or no finite value gives an empty histogram (num 0).
 * PX_ERR_ARG: NULL writer, NULL/empty tag, negative step, n < 0, values NULL with n > 0. */
PX_API px_status px_tb_histogram(px_tb_writer *w, const char *tag, int64_t step, const float *values,
                          int64_t n);

/* Appends a histogram in the TF2 "histograms" plugin encoding that tf.summary.histogram
 * writes and current TensorBoard reads natively: Value{tag, metadata{plugin_data{
 * plugin_name: "histograms"}, data_class: DATA_CLASS_TENSOR}, tensor{dtype: DT_DOUBLE,
 * shape [k, 3], tensor_content}} whose rows are [left edge, right edge, count]. As
 * tf.summary.histogram: `buckets` (0: 30) equal-width buckets from min to max, a value
 * counted in bucket floor((v - min) / width) clamped to the last one. All values equal
 * give one bucket [v - 0.5, v + 0.5] (TensorBoard 2.0-2.8's form, whose edges increase);
 * no finite value gives shape [0, 3]. Non-finite values are skipped.
 * PX_ERR_ARG: NULL writer, NULL/empty tag, negative step, n < 0, values NULL with n > 0,
 * buckets < 0. */
PX_API px_status px_tb_histogram_tensor(px_tb_writer *w, const char *tag, int64_t step, const float *values,
                                        int64_t n, int buckets);

/* Appends `count` images of (height, width, channels) 8-bit pixels (channels 1 gray,
 * 3 RGB, 4 RGBA), image after image, as tf.summary.image writes them: Value{tag,
 * metadata{plugin_data{plugin_name: "images"}, data_class: DATA_CLASS_BLOB_SEQUENCE},
 * tensor{dtype: DT_STRING, shape [2 + count], string_val: [width, height (decimal
 * text), PNG bytes of each image]}}, PNGs encoded by libpng.
 * PX_ERR_ARG: bad writer/tag/step, count < 1, a size <= 0, channels not 1, 3 or 4. */
PX_API px_status px_tb_images(px_tb_writer *w, const char *tag, int64_t step, const uint8_t *pixels, int count,
                              int height, int width, int channels);

/* Appends Event{wall_time, graph_def: bytes}: the n bytes of a serialized GraphDef, which
 * TensorBoard's Graphs dashboard draws (the bytes are not checked here).
 * PX_ERR_ARG: NULL writer, graph_def NULL with n > 0. */
PX_API px_status px_tb_graph(px_tb_writer *w, const void *graph_def, size_t n);

/* Appends the Keras model config `json` (model.to_json()) as Keras's keras_model_summary
 * writes it: Value{tag, metadata{plugin_data{plugin_name: "graph_keras_model", content:
 * "1"}}, tensor{dtype: DT_STRING, shape [], string_val: [json]}}; TensorBoard's Graphs
 * dashboard shows it as the "Conceptual graph" of the run. Keras uses tag "keras", step 0.
 * PX_ERR_ARG: bad writer/tag/step, json NULL. */
PX_API px_status px_tb_keras_model(px_tb_writer *w, const char *tag, int64_t step, const char *json);

/* Pushes buffered records to the file (TensorBoard sees only flushed data). A writer
 * whose write failed stays failed: later calls return PX_ERR_IO, since the file may end
 * in a partial record that TensorBoard would reject. */
PX_API px_status px_tb_flush(px_tb_writer *w);

/* Flushes and closes the file and frees the writer. NULL is fine. A failure of the final
 * flush is recorded in px_last_error() but cannot be returned: call px_tb_flush first
 * where it matters. */
PX_API void px_tb_writer_close(px_tb_writer *w);

/* Keras's layout, for a TensorBoard callback built on this writer (reference §3.1):
 *  - one writer per run directory: <log_dir>/train and <log_dir>/validation (TensorBoard
 *    treats every directory holding an events file as a run);
 *  - per-epoch scalars tagged "epoch_<metric>" ("epoch_loss", "epoch_accuracy") with
 *    step = 0-based epoch index in both runs; the validation run drops the "val_"
 *    prefix so train and validation curves share a tag; "epoch_learning_rate" goes to
 *    the train run;
 *  - with update_freq "batch" or an int: "batch_<metric>" at a global batch counter;
 *    after evaluation: "evaluation_<metric>_vs_iterations" in the validation run with
 *    step = optimizer iterations;
 *  - at the first epoch end of the train run: the model's GraphDef (Event.graph_def)
 *    and its config as a "keras" graph_keras_model summary at step 0;
 *  - every histogram_freq epochs, one histogram per weight tagged
 *    "<weight path>/histogram" (Keras 3, e.g. "dense/kernel/histogram"; Keras 2 used
 *    "<layer>/<weight>_0"), step = epoch, in the train run (px_tb_histogram_tensor);
 *  - images ("<layer>/kernel/image", sample inputs) with the images plugin, and the
 *    projector's projector_config.pbtxt in <log_dir> (docs/tensorboard.md);
 *  - flush at the end of each epoch (TF flushes at least every 120 s) and close at the
 *    end of training. */

#ifdef __cplusplus
}
#endif
#endif
