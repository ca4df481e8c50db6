/* Internal helpers shared by the standard callbacks: Keras's improvement tests,
 * message output and allocation of a callback with its state. */
#ifndef PX_CALLBACKS_INTERNAL_H
#define PX_CALLBACKS_INTERNAL_H

#include <stdio.h>

#include "plexus/callbacks.h"

/* true: higher is better. `ends_with_rule` selects EarlyStopping's tf.keras 2 auto rule
 * (ends in acc/accuracy/auc); otherwise the ModelCheckpoint/ReduceLROnPlateau one
 * ("acc" anywhere, or a "fmeasure" prefix). */
bool px_cb_mode_is_max(px_monitor_mode mode, const char *monitor, bool ends_with_rule);

/* The keys of logs joined by sep, for the "not available" messages. */
void px_cb_join_keys(const px_logs *logs, const char *sep, char *buf, size_t len);

/* Creates the parent directories of `path` (like os.makedirs(dirname)). */
px_status px_cb_make_parent_dirs(const char *path);

#endif
