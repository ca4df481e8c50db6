/* `plexus train` started by mpirun: MPI started and ended around the command,
 * rank 0 alone speaks (other ranks' stdout goes to /dev/null and their
 * messages are left to rank 0, which hears of every rank's failure), and model
 * files that only rank 0's machine has are sent to the other ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plexus/dist.h>

#include "cli_common.h"

int cli_dist_start(const char *cmd, px_strategy **strategy) {
    *strategy = NULL;
    if (!px_dist_launched()) return CLI_OK;
    if (!px_dist_available())
        return cli_fail(cmd, "started by an MPI launcher, but this plexus was built without MPI "
                             "(install libopenmpi-dev and rebuild)");
    if (px_dist_init(NULL, NULL) != PX_OK) return cli_fail_lib(cmd, "cannot start MPI");
    if (px_dist_rank() != 0) {
        cli_quiet = true;
        if (!freopen("/dev/null", "w", stdout)) return cli_fail(cmd, "cannot silence stdout on rank %d", px_dist_rank());
    }
    if (!(*strategy = px_dist_strategy(NULL))) return cli_fail_lib(cmd, "distributed training");
    return CLI_OK;
}

int cli_dist_finish(const char *cmd, px_strategy *strategy, int rc) {
    if (!px_dist_launched() || !px_dist_available()) return rc;
    px_strategy_free(strategy);
    px_status mine = rc == CLI_OK ? PX_OK : px_last_status() != PX_OK ? px_last_status() : PX_ERR_STATE;
    if (mine != PX_OK && !*px_last_error()) px_set_error(mine, "plexus %s failed on rank %d", cmd, px_dist_rank());
    px_status job = px_dist_finalize(mine);
    /* a rank that failed after this one finished: rank 0 reports it */
    if (rc == CLI_OK && job != PX_OK) rc = cli_fail(cmd, "%s", px_last_error());
    return rc;
}

/* A private copy of a file received from rank 0, for readers that want a file;
 * the caller unlinks it. false (with an error) when it cannot be written. */
static bool received_copy(const char *path, const char *data, size_t len, char tmp[32]) {
    snprintf(tmp, 32, "/tmp/plexus-model-XXXXXX");
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f) ok = fclose(f) == 0 && ok;
    else if (fd >= 0) close(fd);
    if (!ok) {
        px_set_error(PX_ERR_IO, "cannot write a copy of '%s' to %s on rank %d", path, tmp, px_dist_rank());
        if (fd >= 0) unlink(tmp);
    }
    return ok;
}

static bool is_regular(const char *path) {
    struct stat st;
    return strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

px_model *cli_dist_load_model(const char *path, px_strategy *strategy, const cli_weights *w, bool *is_json,
                               char **json_out) {
    if (json_out) *json_out = NULL;
    const char *weights = w ? w->path : NULL;
    if (!strategy) return cli_load_model(path, w, is_json, json_out);
    /* rank 0 reads its own files and sends the bytes on to the others, the model's
     * first, then the weights' */
    char *data = NULL, *wdata = NULL;
    size_t len = 0, wlen = 0;
    if (px_dist_broadcast_file(path, &data, &len) != PX_OK) return NULL;
    if (weights && px_dist_broadcast_file(weights, &wdata, &wlen) != PX_OK) {
        free(data);
        return NULL;
    }
    /* rank 0 reads regular files again by their paths (as without MPI); a pipe or
     * standard input has been drained by the broadcast, so it loads from the bytes */
    if (px_dist_rank() == 0 && is_regular(path) && (!weights || is_regular(weights))) {
        free(data);
        free(wdata);
        return cli_load_model(path, w, is_json, json_out);
    }
    px_model *m = NULL;
    bool json = len > 0 && data[0] && strchr("{ \t\r\n", data[0]);
    if (is_json) *is_json = json;
    char tmp[32];
    if (json) {
        m = px_model_from_json(data, len);
        if (m && json_out) *json_out = strndup(data, len);
    } else if (received_copy(path, data, len, tmp)) {
        m = px_model_load(tmp);
        unlink(tmp);
    }
    if (m && weights) {
        px_status st = received_copy(weights, wdata, wlen, tmp) ? PX_OK : px_last_status();
        if (!st) {
            st = cli_load_weights(m, path, tmp, w->by_name);
            unlink(tmp);
        }
        if (st) {
            px_model_free(m);
            m = NULL;
            if (json_out) {
                free(*json_out);
                *json_out = NULL;
            }
        }
    }
    free(data);
    free(wdata);
    return m;
}
