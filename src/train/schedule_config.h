/* Internal: learning-rate schedules as Keras's {"class_name", "config"} objects, the
 * value of an optimizer config's "learning_rate" (schedule_config.c). */
#ifndef PX_TRAIN_SCHEDULE_CONFIG_H
#define PX_TRAIN_SCHEDULE_CONFIG_H

#include "formats/json.h"
#include "plexus/optim.h"

/* The schedule as Keras 2 writes it (Keras 3 reads it too); NULL with the error set. */
px_json *px_lr_schedule_to_json(const px_lr_schedule *s);
/* A schedule from a Keras 2 or 3 object; PX_ERR_UNSUPPORTED for a class Plexus lacks,
 * PX_ERR_FORMAT for wrong keys or values. */
px_status px_lr_schedule_from_json(const px_json *v, px_lr_schedule *s);

#endif
