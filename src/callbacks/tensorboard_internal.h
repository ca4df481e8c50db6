/* Internal: the parts of the TensorBoard callback beyond scalars: the model's GraphDef,
 * image summaries of inputs and first-layer filters, and the embedding projector's files. */
#ifndef PX_CALLBACKS_TENSORBOARD_INTERNAL_H
#define PX_CALLBACKS_TENSORBOARD_INTERNAL_H

#include "formats/protobuf_writer.h"
#include "plexus/model.h"
#include "plexus/tensorboard.h"

/* Appends to `out` a serialized GraphDef of a Keras model config (model.to_json()), built
 * as TensorBoard's keras_util.keras_model_to_graph_def builds its conceptual graph: one
 * NodeDef per layer named after it, op = the layer's class, attrs keras_class (string)
 * and dtype, inputs = the inbound layers (a Sequential's previous layer); a nested
 * model's layers sit under "<model name>/". PX_ERR_FORMAT when the JSON is no model config. */
px_status px_tb_model_graph_def(const char *model_json, px_pb_buf *out);

/* Writes the model's GraphDef and its "keras" model-config summary (step 0). */
px_status px_tb_write_model_graph(px_tb_writer *w, const px_model *m);

/* "<layer>/kernel/image": the filters of the model's first Conv2D layer, one image per
 * filter (at most 64), RGB when it has 3 input channels, else its first input channel
 * in gray; the whole kernel scaled from [min, max] to [0, 255]. No Conv2D: nothing. */
px_status px_tb_write_filter_images(px_tb_writer *w, const px_model *m, int64_t step);

/* "input_samples": images of a (n, h, w, c) float32 tensor, c 1, 3 or 4 (at most 16
 * images): values already in [0, 1] times 255, otherwise scaled from [min, max]. */
px_status px_tb_write_sample_images(px_tb_writer *w, const px_tensor *samples, int64_t step);

/* The projector's files for the model's Embedding layers, replaced atomically:
 * <log_dir>/<layer>.embeddings.tsv (one row per token, values tab-separated, "%.9g")
 * and <log_dir>/projector_config.pbtxt naming them by tensor_path (a ProjectorConfig in
 * protobuf text format) with metadata_path when `metadata` is not NULL. No Embedding
 * layer: nothing. */
px_status px_tb_write_projector(const char *log_dir, const px_model *m, const char *metadata);

#endif
