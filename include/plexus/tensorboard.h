/* TensorBoard event-file writer: scalars and histograms in TFRecord-framed Event
 * protobufs that TensorBoard (Python or Rust data server) reads; no protobuf library. */
#ifndef PLEXUS_TENSORBOARD_H
#define PLEXUS_TENSORBOARD_H

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
 *  - every histogram_freq epochs, one histogram per weight tagged
 *    "<weight path>/histogram" (Keras 3, e.g. "dense/kernel/histogram"; Keras 2 used
 *    "<layer>/<weight>_0"), step = epoch, in the train run;
 *  - flush at the end of each epoch (TF flushes at least every 120 s) and close at the
 *    end of training. */

#ifdef __cplusplus
}
#endif
#endif
