/* src/dist/comm.h in a build without MPI: distributed training is refused with
 * a clear error, and a job of one process is all there is. */
#include "dist/comm.h"

static px_status unavailable(void) {
    return px_set_error(PX_ERR_UNSUPPORTED, "distributed training: this Plexus was built without MPI "
                                            "(install libopenmpi-dev and rebuild; the CMake option PX_MPI is on by default)");
}

bool px_comm_available(void) { return false; }
px_status px_comm_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return unavailable();
}
bool px_comm_initialized(void) { return false; }
int px_comm_world_rank(void) { return 0; }
int px_comm_world_size(void) { return 1; }
px_comm *px_comm_new(double timeout) {
    (void)timeout;
    unavailable();
    return NULL;
}
void px_comm_free(px_comm *c) { (void)c; }
int px_comm_rank(const px_comm *c) { return (void)c, 0; }
int px_comm_size(const px_comm *c) { return (void)c, 1; }
px_status px_comm_bcast(px_comm *c, void *buf, size_t bytes, int root) {
    (void)c, (void)buf, (void)bytes, (void)root;
    return unavailable();
}
px_status px_comm_allgather(px_comm *c, const void *mine, size_t bytes, void *all) {
    (void)c, (void)mine, (void)bytes, (void)all;
    return unavailable();
}
px_status px_comm_fail(px_comm *c, px_status st) { return (void)c, st; }
px_status px_comm_status(const px_comm *c) { return (void)c, PX_OK; }
bool px_comm_unreachable(const px_comm *c) { return (void)c, false; }
px_allreduce_ops px_comm_allreduce_ops(px_comm *c) { return (px_allreduce_ops){.ctx = c}; }
px_status px_comm_finish(px_comm *c, px_status mine) { return (void)c, mine; }
void px_comm_shutdown(bool abandon) { (void)abandon; }
