/* The options that `plexus tune` and `plexus tune --model` share (hold-out,
 * seed, threads, output, verbosity): one table fragment, one parser and one help
 * text, so the two search commands cannot drift apart. */
#ifndef PX_CLI_SEARCH_H
#define PX_CLI_SEARCH_H

#include "cli_common.h"

/* Option ids of the shared long-only options; a search command's own start at
 * OPT_SEARCH_FIRST_FREE. */
enum { OPT_SEARCH_VSPLIT = OPT_FIRST_FREE, OPT_SEARCH_SEED, OPT_SEARCH_THREADS, OPT_SEARCH_FIRST_FREE };

#define CLI_SEARCH_OPTIONS                                                    \
    {"validation-split", required_argument, NULL, OPT_SEARCH_VSPLIT},        \
    {"seed", required_argument, NULL, OPT_SEARCH_SEED},                      \
    {"threads", required_argument, NULL, OPT_SEARCH_THREADS},                \
    {"output", required_argument, NULL, 'o'},                                \
    {"verbose", required_argument, NULL, 'v'}

/* The shared options' values; cli_search_init gives the commands' defaults. */
typedef struct cli_search {
    const char *output;         /* -o: default best.h5 */
    px_verbosity verbose;       /* -v 0|1: default one line per trial */
    float validation_split;     /* 0: not given */
    uint64_t seed;              /* default 42 */
    long threads;               /* 0: not given */
} cli_search;

void cli_search_init(cli_search *s);
/* Handles opt when it is one of CLI_SEARCH_OPTIONS (optarg holds its value):
 * returns 0 when it was, CLI_USAGE after a message for a bad value, and -1 when
 * opt is not a shared option. */
int cli_search_option(const char *cmd, cli_search *s, int opt);
/* Applies --threads, when given, to the library. */
void cli_search_apply_threads(const cli_search *s);

#endif
