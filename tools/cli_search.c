/* The options shared by the two search commands (see cli_search.h). */
#include "cli_search.h"

void cli_search_init(cli_search *s) {
    *s = (cli_search){.output = "best.h5", .verbose = PX_VERBOSE_EPOCH, .seed = 42};
}

int cli_search_option(const char *cmd, cli_search *s, int opt) {
    long v;
    double x;
    switch (opt) {
    case 'o': s->output = optarg; return 0;
    case 'v':
        if (!cli_int(cmd, "verbose", optarg, 0, 2, &v)) return CLI_USAGE;
        s->verbose = v ? PX_VERBOSE_EPOCH : PX_VERBOSE_SILENT;
        return 0;
    case OPT_SEARCH_VSPLIT:
        if (!cli_double(cmd, "validation-split", optarg, 1e-6, 0.99, &x)) return CLI_USAGE;
        s->validation_split = (float)x;
        return 0;
    case OPT_SEARCH_SEED:
        if (!cli_int(cmd, "seed", optarg, 0, 2147483647L, &v)) return CLI_USAGE;
        s->seed = (uint64_t)v;
        return 0;
    case OPT_SEARCH_THREADS: return cli_int(cmd, "threads", optarg, 1, 1024, &s->threads) ? 0 : CLI_USAGE;
    default: return -1;
    }
}

void cli_search_apply_threads(const cli_search *s) {
    if (s->threads) px_set_num_threads((int)s->threads);
}
