/* Internal: what the floors above the graph (fit, the device optimizer path)
 * need of a session beyond plexus/graph.h: its backend and its parameter
 * gradients where they live. */
#ifndef PX_GRAPH_SESSION_API_H
#define PX_GRAPH_SESSION_API_H

#include "backend/backend.h"
#include "plexus/graph.h"

/* The backend the session runs on. */
px_backend *px_session_backend(const px_session *s);
/* The parameter gradients in the backend's memory (laid out like the graph's
 * parameter block), or NULL without a loss. */
float *px_session_param_grads_on_backend(px_session *s);

#endif
