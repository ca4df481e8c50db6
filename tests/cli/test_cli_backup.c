/* `plexus train --backup-dir`: a run killed with SIGKILL (before a backup and
 * inside one) and stopped by SIGTERM and SIGINT, started again each time with the
 * same command, ends with the model file and CSV log of a run never stopped;
 * the signals give exit codes 143 and 130, one line saying what was saved and a
 * model that loads; a second SIGINT exits at once. The kill and signal points
 * are step counts (test hooks), not times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "px_test.h"

/* Iris with a dropout layer (so the dropout generator must come back too). */
static const char *MODEL_JSON =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"m\", \"layers\": [{\"class_name\": \"InputLayer\", "
    "\"config\": {\"batch_input_shape\": [null, 4], \"dtype\": \"float32\", \"name\": \"in\"}}, {\"class_name\": "
    "\"Dense\", \"config\": {\"name\": \"h\", \"units\": 16, \"activation\": \"relu\"}}, {\"class_name\": \"Dropout\", "
    "\"config\": {\"name\": \"d\", \"rate\": 0.2}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", "
    "\"units\": 3, \"activation\": \"softmax\"}}]}}";

static char args[2048];

/* One resumed run with an environment hook; returns its exit code. */
static int hooked(const char *env) {
    return cli_sh("%s \"$PLEXUS\" %s --backup-dir bk --backup-every 4 -o r.h5 >/dev/null", env, args);
}

static void test_resume_through_signals_and_kills(void) {
    cli_write("m.json", MODEL_JSON);
    /* 120 training rows of 150 at batch 16: 8 steps per epoch, 48 in 6 epochs */
    snprintf(args, sizeof args,
             "train m.json --train-csv '%s' --header --epochs 6 --batch-size 16 --validation-split 0.2 --optimizer adam "
             "--early-stopping 10 --threads 1 -v 0 --csv-log log.csv",
             cli_iris);
    CHECK(cli_runf("%s -o straight.h5", args) == 0);
    CHECK(cli_sh("cp log.csv straight.csv") == 0);
    CHECK(hooked("PLEXUS_TEST_KILL_AT_STEP=9") == 128 + 9);
    CHECK(cli_exists("bk/state.json"));
    CHECK(hooked("PLEXUS_TEST_KILL_IN_BACKUP=16") == 128 + 9);
    /* from the step-12 backup, SIGTERM after 3 more steps: 143, one line, a model that loads */
    CHECK(hooked("PLEXUS_TEST_RAISE_AT_STEP=3:TERM") == 143);
    CHECK(cli_one_line_error("interrupted by SIGTERM after 1 complete epoch: saved r.h5; the backup is in bk"));
    CHECK(cli_run("summary r.h5") == 0);
    /* two SIGINTs at one step: the second exits at once, nothing is written */
    CHECK(cli_sh("rm r.h5") == 0);
    CHECK(hooked("PLEXUS_TEST_RAISE_AT_STEP=2:INT,2:INT") == 130);
    CHECK(!cli_exists("r.h5") && !strstr(cli_err, "interrupted"));
    CHECK(hooked("PLEXUS_TEST_RAISE_AT_STEP=5:INT") == 130);
    CHECK(cli_one_line_error("interrupted by SIGINT after 2 complete epochs: saved r.h5"));
    /* the last run completes: the straight run's model (data and attributes) and log */
    CHECK(cli_runf("%s --backup-dir bk --backup-every 4 -o r.h5", args) == 0);
    CHECK(!cli_exists("bk"));
    CHECK(cli_sh("cmp log.csv straight.csv") == 0);
    if (system("h5diff --version >/dev/null 2>&1") != 0) {
        px_test_skip("h5diff (hdf5-tools) is needed to compare the model files");
        return;
    }
    CHECK(cli_sh("h5diff straight.h5 r.h5") == 0);
    /* without a backup, a signal still saves the model */
    CHECK(cli_sh("PLEXUS_TEST_RAISE_AT_STEP=1:TERM \"$PLEXUS\" %s -o t.h5 >/dev/null", args) == 143);
    CHECK(cli_one_line_error("interrupted by SIGTERM after 0 complete epochs: saved t.h5"));
    CHECK(cli_run("summary t.h5") == 0);
}

static void test_usage(void) {
    CHECK(cli_runf("train --train-csv '%s' --header --backup-every 3", cli_iris) == 2);
    CHECK(cli_one_line_error("--backup-every needs --backup-dir DIR"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_resume_through_signals_and_kills);
    RUN_TEST(test_usage);
    cli_teardown();
    return px_test_finish();
}
