/* The job-wide side of distributed training (plexus/dist.h): starting and
 * ending MPI, the job's communicator, and files that only rank 0 has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"

static px_comm *job;

bool px_dist_available(void) { return px_comm_available(); }

bool px_dist_launched(void) {
    /* Open MPI's mpirun, PMIx launchers (Open MPI 5, srun --mpi=pmix), PMI-1/2 (MPICH's hydra, srun) */
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

px_status px_dist_init(int *argc, char ***argv) { return px_comm_init(argc, argv); }

int px_dist_rank(void) { return px_comm_world_rank(); }
int px_dist_size(void) { return px_comm_world_size(); }

static double env_timeout(void) {
    const char *s = getenv("PX_DIST_TIMEOUT");
    char *end = NULL;
    double t = s ? strtod(s, &end) : 0;
    return s && end != s && *end == 0 && t > 0 ? t : 300;
}

px_comm *px_dist_job(double timeout) {
    if (!job) {
        if (px_comm_init(NULL, NULL) != PX_OK) return NULL;
        job = px_comm_new(timeout > 0 ? timeout : env_timeout());
    }
    return job;
}

px_status px_dist_finalize(px_status mine) {
    if (mine != PX_OK && !px_last_error()[0]) /* the failure being reported deserves a message */
        px_set_error(mine, "px_dist_finalize: this rank failed (%s) without a message", px_status_name(mine));
    if (!px_comm_available() || !px_comm_initialized()) return mine;
    char msg[1200];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    if (!job && mine == PX_OK) job = px_dist_job(0);
    px_status st = mine;
    if (job) {
        if (mine != PX_OK) px_set_error(mine, "%s", msg); /* what px_comm_finish tells the others */
        st = px_comm_finish(job, mine);
        snprintf(msg, sizeof msg, "%s", px_last_error());
    }
    bool abandon = job && px_comm_unreachable(job);
    px_comm_free(job);
    job = NULL;
    px_comm_shutdown(abandon);
    if (st != PX_OK) px_set_error(st, "%s", msg);
    return st;
}

/* The whole of path ("-": standard input) into *buf, read in chunks so that a
 * pipe, which has no size, reads as a file does; its length, or -1. */
static int64_t read_whole(const char *path, char **buf) {
    bool std_in = strcmp(path, "-") == 0;
    FILE *f = std_in ? stdin : fopen(path, "rb");
    size_t n = 0, cap = 1 << 16;
    char *b = f ? malloc(cap) : NULL;
    for (size_t got = 1; b && got > 0;) {
        if (n + 1 >= cap) {
            char *bigger = realloc(b, cap *= 2);
            if (!bigger) {
                free(b);
                b = NULL;
                break;
            }
            b = bigger;
        }
        n += got = fread(b + n, 1, cap - n - 1, f);
    }
    bool ok = b && f && !ferror(f);
    if (f && !std_in) fclose(f);
    if (!ok) {
        free(b);
        return -1;
    }
    *buf = b;
    return (int64_t)n;
}

px_status px_dist_broadcast_file(const char *path, char **data, size_t *len) {
    if (!path || !data || !len) return px_set_error(PX_ERR_ARG, "px_dist_broadcast_file: NULL argument");
    *data = NULL;
    *len = 0;
    px_comm *c = px_dist_job(0);
    if (!c) return px_last_status();
    /* rank 0 reads; a failure there is every rank's (the size -1 says so) */
    int64_t size = 0;
    char *buf = NULL;
    px_status st = PX_OK;
    if (px_comm_rank(c) == 0) size = read_whole(path, &buf);
    if (px_comm_bcast(c, &size, sizeof size, 0) != PX_OK) {
        free(buf);
        return px_last_status();
    }
    if (size < 0) {
        free(buf);
        return px_set_error(PX_ERR_IO, "cannot read '%s' on rank 0", path);
    }
    if (px_comm_rank(c) != 0 && !(buf = malloc((size_t)size + 1)))
        st = px_set_error(PX_ERR_NOMEM, "out of memory for the %lld bytes of '%s'", (long long)size, path);
    /* a rank without the memory fails the job: the others would wait for it */
    if (st != PX_OK) return px_comm_fail(c, st);
    if (px_comm_bcast(c, buf, (size_t)size, 0) != PX_OK) {
        free(buf);
        return px_last_status();
    }
    buf[size] = 0;
    *data = buf;
    *len = (size_t)size;
    return PX_OK;
}
