/* Internal: the memory planner of sessions (planner.c). */
#ifndef PX_GRAPH_PLANNER_H
#define PX_GRAPH_PLANNER_H

#include <stddef.h>

#include "plexus/graph.h"

/* A buffer of `bytes` alive from step `start` to step `end` inclusive; placement
 * writes its arena offset to *offset. */
typedef struct px_interval {
    size_t bytes;
    int start, end;
    size_t *offset;
} px_interval;

/* Greedy first-fit placement (reorders iv): each buffer, in order of birth, takes
 * the lowest gap among the buffers still alive. Returns the arena size in bytes,
 * or (size_t)-1 when out of memory. */
size_t px_place_intervals(px_interval *iv, int count);

/* Plans the session's arena for the current shapes (its plan nodes' values) and
 * allocates it on the backend, with the ops' shared scratch; the previous arena
 * is freed. */
px_status px_plan_memory(px_session *s);

/* Points each value, gradient and state of the plan at its memory for the current
 * shapes (the arena, the parameter-gradient block or the node's own storage), and
 * each op's descriptor at its state and the scratch. */
px_status px_plan_bind_views(px_session *s);

/* t as a contiguous view of `shape` over data (not owned). */
void px_plan_set_view(px_tensor *t, px_dtype dtype, px_shape shape, void *data);

#endif
