/* `plexus train` started by mpirun: MPI started and ended around the command,
 * rank 0 alone speaks (other ranks' stdout goes to /dev/null and their
 * messages are left to rank 0, which hears of every rank's failure), and model
 * files that only rank 0's machine has are sent to the other ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

px_model *cli_dist_load_model(const char *path, px_strategy *strategy, bool *is_json) {
    if (!strategy || px_dist_rank() == 0) {
        if (!strategy) return cli_load_model(path, is_json);
        /* rank 0 reads its own file, and sends the bytes on to the others */
        char *data = NULL;
        size_t len = 0;
        if (px_dist_broadcast_file(path, &data, &len) != PX_OK) return NULL;
        free(data);
        return cli_load_model(path, is_json);
    }
    char *data = NULL;
    size_t len = 0;
    if (px_dist_broadcast_file(path, &data, &len) != PX_OK) return NULL;
    px_model *m = NULL;
    bool json = len > 0 && data[0] && strchr("{ \t\r\n", data[0]);
    if (is_json) *is_json = json;
    if (json) {
        m = px_model_from_json(data, len);
    } else {
        /* the HDF5 reader wants a file: a private copy that lives until it is read */
        char tmp[] = "/tmp/plexus-model-XXXXXX";
        int fd = mkstemp(tmp);
        FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        bool ok = f && fwrite(data, 1, len, f) == len;
        if (f) ok = fclose(f) == 0 && ok;
        else if (fd >= 0) close(fd);
        m = ok ? px_model_load(tmp) : NULL;
        if (!ok) px_set_error(PX_ERR_IO, "cannot write a copy of '%s' to %s on rank %d", path, tmp, px_dist_rank());
        if (fd >= 0) unlink(tmp);
    }
    free(data);
    return m;
}
