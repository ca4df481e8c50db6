/* SIGINT and SIGTERM during `plexus train`: the first ends training after the
 * current step (px_model_interrupt), so the command can write its backup and
 * model and exit 130 or 143; a second one exits at once. */
#ifndef PX_CLI_SIGNALS_H
#define PX_CLI_SIGNALS_H

#include <plexus/plexus.h>

/* Routes SIGINT and SIGTERM to px_model_interrupt(m) until cli_signals_restore. */
void cli_signals_install(px_model *m);
void cli_signals_restore(void);
/* The signal that arrived (SIGINT or SIGTERM), 0 when none did. */
int cli_signals_caught(void);
/* "SIGINT" or "SIGTERM". */
const char *cli_signal_name(int sig);

/* A callback for tests (NULL when PLEXUS_TEST_RAISE_AT_STEP is unset): with
 * PLEXUS_TEST_RAISE_AT_STEP="N:INT" (or TERM; several as "N:INT,M:INT") the
 * process sends itself that signal after its N-th training step (counted from
 * 1 in this process), a point that does not depend on how fast the machine is. */
px_callback *cli_signal_test_hook(void);

#endif
