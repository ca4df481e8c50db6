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

/* ---- callback states for BackupAndRestore (px_callback.get_state / set_state) ----
 * Doubles travel as C99 hex floats ("%a") so that a resumed run sees every bit. */
struct px_json;
struct px_json *px_cb_double_json(double v);
/* The hex float at obj[key]; def when absent or malformed. */
double px_cb_json_double(const struct px_json *obj, const char *key, double def);
/* n floats as one string of hex digits (their bits), and back: false when the
 * string does not hold exactly n of them. */
struct px_json *px_cb_floats_json(const float *v, int64_t n);
bool px_cb_json_floats(const struct px_json *s, float *out, int64_t n);
/* obj as JSON text into *out (malloc'd); obj is freed either way. */
px_status px_cb_state_text(struct px_json *obj, char **out);
/* state text parsed into *out (the caller frees it); an error naming `who` otherwise. */
px_status px_cb_state_parse(const char *text, const char *who, struct px_json **out);

#endif
