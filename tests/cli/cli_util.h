/* Running the `plexus` program from tests: finds it beside the test program,
 * runs command lines in a fresh directory and keeps their stdout and stderr. */
#ifndef PX_TEST_CLI_UTIL_H
#define PX_TEST_CLI_UTIL_H

#include <stdbool.h>

extern char cli_plexus[4096];     /* the program under test */
extern char cli_tmp[256];         /* the directory commands run in */
extern char *cli_out, *cli_err;   /* stdout and stderr of the last command */
extern char cli_iris[1024];       /* tests/data/iris.csv (absolute) */
extern char cli_models[1024];     /* tests/data/models (absolute) */
extern char cli_fashion_dir[1024];
extern bool cli_have_fashion;

/* Finds <dir of argv0>/../tools/plexus and the test data, makes cli_tmp.
 * false (after a message on stderr) when something is missing. */
bool cli_setup(const char *argv0);
/* Removes cli_tmp when no check failed. */
void cli_teardown(void);

/* Runs `plexus <args>` in cli_tmp (stdin /dev/null); returns the exit code
 * (128 + N for a signal). */
int cli_run(const char *args);
/* The same with printf-style arguments. */
int cli_runf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Runs a shell script in cli_tmp with $PLEXUS set to the program; its output
 * goes to cli_out / cli_err like cli_run's. */
int cli_sh(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* cli_tmp/name, in a static buffer (one at a time). */
const char *cli_path(const char *name);
void cli_write(const char *name, const char *text);
bool cli_exists(const char *name);
/* The whole file (NUL-terminated; caller frees; "" when missing). */
char *cli_slurp(const char *path);
/* stderr is exactly one non-empty line that contains `needle`. */
bool cli_one_line_error(const char *needle);
/* The number after `key` in text (first occurrence), or NAN. */
double cli_value_after(const char *text, const char *key);

#endif
