/* The reference device's stand-in for NCCL: sums between the reference
 * devices of several processes on one machine, through a POSIX shared-memory
 * segment (as NCCL itself does between GPUs of one machine), so that
 * data-parallel training's device path (an id made on one process and sent
 * to the others, every process joining, the sum of the device's gradient
 * block with no copy through the host) runs in the ordinary suite with no
 * GPU. Each rank copies a chunk into its slot; after a barrier every rank adds
 * the slots in rank order, so all get the same bits. A wait gives up after
 * PX_REF_COMM_TIMEOUT seconds (default 300), so a rank never waits forever
 * for one that died. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/ref/ref.h"
#include "core/clock.h"

enum { MAX_RANKS = 64, CHUNK = 1 << 16 /* floats per rank and round */ };

typedef struct shm_header {
    atomic_uint arrived;    /* ranks at the current barrier */
    atomic_uint generation; /* barriers passed */
    atomic_uint joined;
    atomic_uint n_ranks;    /* set by the first to join; the others must agree */
} shm_header;

static const size_t HEADER = 64; /* the slots start on a cache line of their own */
static const size_t SEGMENT = 64 + (size_t)MAX_RANKS * CHUNK * sizeof(float);

static struct {
    shm_header *h;
    float *slots;
    int n_ranks, rank;
} comm;

static double timeout_s(void) {
    const char *e = getenv("PX_REF_COMM_TIMEOUT");
    double t = e ? atof(e) : 0;
    return t > 0 ? t : 300;
}

/* Every rank waits here until all have arrived. */
static px_status barrier(void) {
    shm_header *h = comm.h;
    unsigned gen = atomic_load(&h->generation);
    if (atomic_fetch_add(&h->arrived, 1) == (unsigned)comm.n_ranks - 1) {
        atomic_store(&h->arrived, 0);
        atomic_fetch_add(&h->generation, 1);
        return PX_OK;
    }
    double t0 = px_clock_seconds(), limit = timeout_s();
    while (atomic_load(&h->generation) == gen) {
        nanosleep(&(struct timespec){0, 20000}, NULL);
        if (px_clock_seconds() - t0 > limit)
            return px_set_error(PX_ERR_REMOTE, "ref device: rank %d waited %.0f s for the other ranks' sums",
                                comm.rank, limit);
    }
    return PX_OK;
}

px_status px_ref_comm_id(void *id) {
    static atomic_uint serial;
    char name[64];
    snprintf(name, sizeof name, "/plexus-ref-%ld-%u", (long)getpid(), atomic_fetch_add(&serial, 1));
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return px_set_error(PX_ERR_IO, "ref device: shm_open %s: %s", name, strerror(errno));
    int rc = ftruncate(fd, (off_t)SEGMENT); /* sparse: pages appear as slots are used */
    int err = errno;
    close(fd);
    if (rc != 0) {
        shm_unlink(name);
        return px_set_error(PX_ERR_IO, "ref device: sizing %s: %s", name, strerror(err));
    }
    memset(id, 0, PX_COMM_ID_BYTES);
    memcpy(id, name, strlen(name) + 1);
    return PX_OK;
}

void px_ref_comm_free(void) {
    if (comm.h) munmap(comm.h, SEGMENT);
    memset(&comm, 0, sizeof comm);
}

px_status px_ref_comm_init(const void *id, int n_ranks, int rank) {
    if (n_ranks < 1 || n_ranks > MAX_RANKS || rank < 0 || rank >= n_ranks)
        return px_set_error(PX_ERR_ARG, "ref device: rank %d of %d processes (at most %d)", rank, n_ranks, MAX_RANKS);
    char name[PX_COMM_ID_BYTES];
    memcpy(name, id, sizeof name);
    name[sizeof name - 1] = 0;
    px_ref_comm_free();
    int fd = shm_open(name, O_RDWR, 0600);
    if (fd < 0) return px_set_error(PX_ERR_IO, "ref device: shm_open %s: %s", name, strerror(errno));
    void *p = mmap(NULL, SEGMENT, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return px_set_error(PX_ERR_NOMEM, "ref device: mapping %s: %s", name, strerror(errno));
    comm.h = p;
    comm.slots = (float *)((char *)p + HEADER);
    comm.n_ranks = n_ranks;
    comm.rank = rank;
    /* the segment starts zeroed; the first to join sets the size the others check */
    unsigned expect = 0;
    atomic_compare_exchange_strong(&comm.h->n_ranks, &expect, (unsigned)n_ranks);
    atomic_fetch_add(&comm.h->joined, 1);
    px_status st = barrier();
    if (st == PX_OK && atomic_load(&comm.h->n_ranks) != (unsigned)n_ranks)
        st = px_set_error(PX_ERR_ARG, "ref device: %d ranks joined a communicator made for %u", n_ranks,
                          atomic_load(&comm.h->n_ranks));
    if (st == PX_OK && rank == 0) shm_unlink(name); /* all are in: nothing is left behind, whatever happens next */
    if (st != PX_OK) px_ref_comm_free();
    return st;
}

/* data is device memory, open while this runs (ref_backend.c). */
px_status px_ref_comm_sum(float *data, int64_t n) {
    if (!comm.h) return px_set_error(PX_ERR_STATE, "ref device: all-reduce before comm_init");
    float *mine = comm.slots + (size_t)comm.rank * CHUNK;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t len = n - off < CHUNK ? n - off : CHUNK;
        memcpy(mine, data + off, (size_t)len * sizeof(float));
        px_status st = barrier();
        for (int64_t i = 0; st == PX_OK && i < len; i++) {
            float s = 0.0f;
            for (int r = 0; r < comm.n_ranks; r++) s += comm.slots[(size_t)r * CHUNK + (size_t)i];
            data[off + i] = s;
        }
        if (st == PX_OK) st = barrier(); /* nobody refills a slot before all have read it */
        if (st != PX_OK) return st;
    }
    return PX_OK;
}
