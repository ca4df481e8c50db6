/* The replicas' communication over MPI (src/dist/comm.h): nonblocking
 * collectives on a private copy of MPI_COMM_WORLD, each waited for by polling,
 * so that a wait can also watch a second channel for another rank's failure
 * message and give up after a timeout instead of hanging.
 *
 * Why not MPI_Abort on a failure: it kills every rank with Open MPI's notice
 * but no word on the cause reaches the other ranks, and a library must not end
 * its caller's process. Why not only MPI's error handlers: Open MPI reports a
 * dead peer on TCP but not over shared memory, where a collective with a dead
 * rank waits forever. A rank that is killed is a different case: mpirun sees
 * its process end and stops the whole job within a second or two. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "dist/comm.h"
#include "plexus/backend.h"

enum { TAG_FAILURE = 1, MSG_TEXT = 1000 };

typedef struct failure_msg {
    int32_t status, rank, unreachable;
    char text[MSG_TEXT];
} failure_msg;

struct px_comm {
    MPI_Comm comm, ctl;
    int rank, size;
    double timeout;
    MPI_Request failure_req; /* receives the first failure message from any rank */
    failure_msg incoming, outgoing;
    bool failed, remote, unreachable;
    px_status fail_status;
    char fail_text[MSG_TEXT + 64];
    /* started all-reduces */
    MPI_Request *reqs;
    int n_reqs, cap_reqs;
};

static const char *mpi_error_text(int code, char *buf) {
    int len = 0;
    if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) snprintf(buf, MPI_MAX_ERROR_STRING, "MPI error %d", code);
    return buf;
}

/* ---- the world ---- */

bool px_comm_available(void) { return true; }

bool px_comm_initialized(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

/* Each rank's share of the cores it may run on, unless the user chose
 * (OMP_NUM_THREADS): ranks on one machine that each start a thread per core
 * fight over the cores, and OpenMP's barriers wait for descheduled threads
 * (3 ranks of 2 threads on 2 cores: 40x slower steps). Ranks that mpirun bound
 * to cores of their own keep all of them. */
static void share_cores(void) {
    if (getenv("OMP_NUM_THREADS")) return;
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) return;
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) != MPI_SUCCESS) return;
    int n = 1;
    MPI_Comm_size(local, &n);
    cpu_set_t *all = malloc((size_t)n * sizeof *all);
    int sharing = 0;
    if (all && MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, local) == MPI_SUCCESS)
        for (int r = 0; r < n; r++) {
            cpu_set_t both;
            CPU_AND(&both, &mine, &all[r]);
            sharing += CPU_COUNT(&both) > 0;
        }
    free(all);
    MPI_Comm_free(&local);
    int threads = sharing > 0 ? CPU_COUNT(&mine) / sharing : 1;
    if (threads < 1) threads = 1; /* more ranks than cores */
    if (threads < px_num_threads()) px_set_num_threads(threads);
}

px_status px_comm_init(int *argc, char ***argv) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (fin) return px_set_error(PX_ERR_STATE, "distributed: MPI was already finalized in this process");
    if (init) return PX_OK;
    /* only the main thread calls MPI; OpenMP threads compute between the calls */
    int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) {
        char buf[MPI_MAX_ERROR_STRING];
        return px_set_error(PX_ERR_UNSUPPORTED, "distributed: MPI_Init failed: %s", mpi_error_text(rc, buf));
    }
    share_cores();
    return PX_OK;
}

int px_comm_world_rank(void) {
    int r = 0;
    if (px_comm_initialized()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int px_comm_world_size(void) {
    int n = 1;
    if (px_comm_initialized()) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

px_comm *px_comm_new(double timeout) {
    if (!px_comm_initialized()) {
        px_set_error(PX_ERR_STATE, "distributed: MPI is not started (px_dist_init)");
        return NULL;
    }
    px_comm *c = calloc(1, sizeof *c);
    if (!c) {
        px_set_error(PX_ERR_NOMEM, "distributed: out of memory");
        return NULL;
    }
    c->timeout = timeout > 0 ? timeout : 300;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &c->comm) != MPI_SUCCESS || MPI_Comm_dup(MPI_COMM_WORLD, &c->ctl) != MPI_SUCCESS) {
        free(c);
        px_set_error(PX_ERR_REMOTE, "distributed: cannot make a communicator over the job's ranks");
        return NULL;
    }
    /* errors come back as return codes, which become Plexus errors, rather than ending the process */
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(c->ctl, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    MPI_Irecv(&c->incoming, (int)sizeof c->incoming, MPI_BYTE, MPI_ANY_SOURCE, TAG_FAILURE, c->ctl, &c->failure_req);
    return c;
}

void px_comm_free(px_comm *c) {
    if (!c) return;
    /* requests still pending after a failure are left to MPI_Finalize: a
     * collective cannot be cancelled, and freeing its communicator would wait */
    if (!c->failed) {
        MPI_Cancel(&c->failure_req);
        MPI_Request_free(&c->failure_req);
        MPI_Comm_free(&c->comm);
        MPI_Comm_free(&c->ctl);
    }
    free(c->reqs);
    free(c);
}

int px_comm_rank(const px_comm *c) { return c ? c->rank : 0; }
int px_comm_size(const px_comm *c) { return c ? c->size : 1; }

/* ---- failures ---- */

px_status px_comm_status(const px_comm *c) {
    if (!c || !c->failed) return PX_OK;
    return px_set_error(c->fail_status, "%s", c->fail_text);
}

bool px_comm_unreachable(const px_comm *c) { return c && c->unreachable; }

/* Whether another rank's failure message has come; records it. */
static bool failure_arrived(px_comm *c) {
    int flag = 0;
    MPI_Status st;
    if (c->failed) return true;
    if (MPI_Test(&c->failure_req, &flag, &st) != MPI_SUCCESS || !flag) return false;
    c->incoming.text[MSG_TEXT - 1] = 0;
    c->failed = c->remote = true;
    c->unreachable = c->incoming.unreachable != 0; /* then no rank may wait for all at the end */
    c->fail_status = PX_ERR_REMOTE;
    snprintf(c->fail_text, sizeof c->fail_text, "rank %d failed: %s", (int)c->incoming.rank, c->incoming.text);
    return true;
}

/* Sends this rank's failure to every other rank. The sends are small, so MPI
 * delivers them eagerly; they are given a moment to leave, never waited for
 * indefinitely (a peer may be gone). */
static void broadcast_failure(px_comm *c) {
    if (c->size < 2) return;
    MPI_Request *r = calloc((size_t)c->size, sizeof *r);
    if (!r) return;
    int n = 0;
    for (int k = 0; k < c->size; k++)
        if (k != c->rank && MPI_Isend(&c->outgoing, (int)sizeof c->outgoing, MPI_BYTE, k, TAG_FAILURE, c->ctl, &r[n]) == MPI_SUCCESS)
            n++;
    double t0 = px_clock_seconds();
    int done = 0;
    while (n > 0 && !done && px_clock_seconds() - t0 < 2.0) {
        if (MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS) break;
        if (!done) sched_yield();
    }
    for (int k = 0; !done && k < n; k++)
        if (r[k] != MPI_REQUEST_NULL) MPI_Request_free(&r[k]);
    free(r);
}

px_status px_comm_fail(px_comm *c, px_status st) {
    if (!c) return st;
    if (c->failed) return st; /* told already, or stopping for another rank's failure */
    c->failed = true;
    c->fail_status = st;
    snprintf(c->fail_text, sizeof c->fail_text, "%s", px_last_error());
    c->outgoing.status = (int32_t)st;
    c->outgoing.rank = c->rank;
    c->outgoing.unreachable = c->unreachable;
    snprintf(c->outgoing.text, sizeof c->outgoing.text, "%s", px_last_error());
    broadcast_failure(c);
    return st;
}

/* A failure of the communication itself (MPI error, timeout): recorded and
 * told to the others. A rank may hang, so no rank calls MPI_Finalize, which
 * waits for all: the processes end without it, and mpirun, seeing that, ends
 * the job, the hanging rank included. (MPI_Abort does the same, but Open MPI
 * 4.1's mpirun was seen to crash or hang when two ranks called it at once.) */
static px_status lost(px_comm *c, const char *what, int mpi_rc) {
    char buf[MPI_MAX_ERROR_STRING];
    if (mpi_rc == MPI_SUCCESS)
        px_set_error(PX_ERR_REMOTE,
                     "no answer from the other ranks for %.0f s while %s; one may hang "
                     "(PX_DIST_TIMEOUT sets the limit)", c->timeout, what);
    else
        px_set_error(PX_ERR_REMOTE, "lost contact with the other ranks while %s (MPI: %s)", what,
                     mpi_error_text(mpi_rc, buf));
    c->unreachable = true;
    return px_comm_fail(c, PX_ERR_REMOTE);
}

/* Polls the requests until they are done, another rank's failure message
 * comes, or the timeout passes. Spins briefly (a step's collectives are
 * usually quick), then yields the core, then sleeps: on a shared or
 * oversubscribed machine a spinning rank would slow the rank it waits for. */
static px_status wait_requests(px_comm *c, MPI_Request *r, int n, const char *what) {
    if (c->failed) return px_comm_status(c);
    double t0 = px_clock_seconds();
    for (long spin = 0;; spin++) {
        int done = 0, rc = MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return lost(c, what, rc);
        if (done) return PX_OK;
        if (failure_arrived(c)) return px_comm_status(c);
        if (spin < 200) continue;
        double waited = px_clock_seconds() - t0;
        if (waited > c->timeout) return lost(c, what, MPI_SUCCESS);
        if (waited < 2e-3) sched_yield();
        else nanosleep(&(struct timespec){0, waited < 0.1 ? 50000 : 1000000}, NULL);
    }
}

/* ---- collectives ---- */

/* MPI counts are ints: larger buffers go in pieces of at most 1 GiB. */
#define PIECE ((size_t)1 << 30)

px_status px_comm_bcast(px_comm *c, void *buf, size_t bytes, int root) {
    if (!c) return px_set_error(PX_ERR_ARG, "distributed: no communicator");
    if (c->failed) return px_comm_status(c);
    for (size_t off = 0; off < bytes || (bytes == 0 && off == 0); off += PIECE) {
        size_t len = bytes - off < PIECE ? bytes - off : PIECE;
        MPI_Request r;
        int rc = MPI_Ibcast((char *)buf + off, (int)len, MPI_BYTE, root, c->comm, &r);
        if (rc != MPI_SUCCESS) return lost(c, "broadcasting rank 0's state", rc);
        if (wait_requests(c, &r, 1, "receiving rank 0's state") != PX_OK) return px_last_status();
        if (bytes == 0) break;
    }
    return PX_OK;
}

px_status px_comm_allgather(px_comm *c, const void *mine, size_t bytes, void *all) {
    if (!c) return px_set_error(PX_ERR_ARG, "distributed: no communicator");
    if (c->failed) return px_comm_status(c);
    if (bytes > INT_MAX) return px_set_error(PX_ERR_ARG, "distributed: %zu bytes are too many to gather", bytes);
    MPI_Request r;
    int rc = MPI_Iallgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, c->comm, &r);
    if (rc != MPI_SUCCESS) return lost(c, "gathering values from every rank", rc);
    return wait_requests(c, &r, 1, "gathering values from every rank");
}

/* ---- gradient all-reduce ---- */

static px_status ar_start(void *ctx, float *buf, int64_t count) {
    px_comm *c = ctx;
    if (c->failed) return px_comm_status(c);
    for (int64_t off = 0; off < count; off += INT_MAX) {
        int len = count - off < INT_MAX ? (int)(count - off) : INT_MAX;
        if (c->n_reqs == c->cap_reqs) {
            int cap = c->cap_reqs ? 2 * c->cap_reqs : 16;
            MPI_Request *r = realloc(c->reqs, (size_t)cap * sizeof *r);
            if (!r) return px_comm_fail(c, px_set_error(PX_ERR_NOMEM, "distributed: out of memory"));
            c->reqs = r;
            c->cap_reqs = cap;
        }
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, len, MPI_FLOAT, MPI_SUM, c->comm, &c->reqs[c->n_reqs]);
        if (rc != MPI_SUCCESS) return lost(c, "starting a gradient sum", rc);
        c->n_reqs++;
    }
    return PX_OK;
}

static void ar_progress(void *ctx) {
    px_comm *c = ctx;
    int done = 0;
    /* MPI advances nonblocking collectives only inside MPI calls: a test is the nudge */
    if (!c->failed && c->n_reqs > 0) MPI_Testall(c->n_reqs, c->reqs, &done, MPI_STATUSES_IGNORE);
}

static px_status ar_wait_all(void *ctx) {
    px_comm *c = ctx;
    px_status st = c->n_reqs ? wait_requests(c, c->reqs, c->n_reqs, "summing gradients") : px_comm_status(c);
    if (st == PX_OK) c->n_reqs = 0;
    return st;
}

px_allreduce_ops px_comm_allreduce_ops(px_comm *c) {
    return (px_allreduce_ops){.ctx = c, .start = ar_start, .progress = ar_progress, .wait_all = ar_wait_all};
}

/* ---- the end ---- */

px_status px_comm_finish(px_comm *c, px_status mine) {
    if (!c) return mine;
    if (mine != PX_OK) {
        px_comm_fail(c, mine);
        return px_comm_status(c);
    }
    if (c->failed) return px_comm_status(c);
    int32_t *all = calloc((size_t)c->size, sizeof *all), ok = 1;
    if (!all) return px_comm_fail(c, px_set_error(PX_ERR_NOMEM, "distributed: out of memory"));
    px_status st = px_comm_allgather(c, &ok, sizeof ok, all);
    free(all);
    return st;
}

void px_comm_shutdown(bool abandon) {
    if (!px_comm_initialized()) return;
    fflush(stdout);
    fflush(stderr);
    if (!abandon) MPI_Finalize();
}
