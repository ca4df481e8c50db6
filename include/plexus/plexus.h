/* Plexus: Keras-style deep learning in C11. Include this one header. */
#ifndef PLEXUS_H
#define PLEXUS_H

#include <plexus/version.h>
#include "status.h"
#include "tensor.h"
#include "rng.h"
#include "graph.h"
#include "ops.h"
#include "backend.h"
#include "data.h"
#include "optim.h"
#include "nn.h"
#include "model.h"
#include "model_io.h"
#include "export_c.h"
#include "tensorboard.h"
#include "callbacks.h"
#include "dist.h"
#include "tune.h"
#include "mixed_precision.h"

#endif
