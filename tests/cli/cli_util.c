/* Running the `plexus` program from tests (see cli_util.h). */
#include "cli/cli_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px_test.h"

char cli_plexus[4096], cli_tmp[256], cli_iris[1024], cli_models[1024], cli_fashion_dir[1024];
char *cli_out, *cli_err;
bool cli_have_fashion;

char *cli_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) b[0] = '\0';
    fclose(f);
    return b;
}

bool cli_setup(const char *argv0) {
    const char *slash = strrchr(argv0, '/');
    snprintf(cli_plexus, sizeof cli_plexus, "%.*s/../tools/plexus", slash ? (int)(slash - argv0) : 1,
             slash ? argv0 : ".");
    if (access(cli_plexus, X_OK) != 0) {
        fprintf(stderr, "cannot find the plexus program at %s (build the plexus_cli target)\n", cli_plexus);
        return false;
    }
    char *real = realpath(cli_plexus, NULL);
    if (real) {
        snprintf(cli_plexus, sizeof cli_plexus, "%s", real);
        free(real);
    }
    char *r1 = realpath(px_test_data("iris.csv"), NULL), *r2 = realpath(px_test_data("models"), NULL);
    if (!r1 || !r2) {
        fprintf(stderr, "cannot find tests/data (set PX_TEST_DATA)\n");
        free(r1);
        free(r2);
        return false;
    }
    snprintf(cli_iris, sizeof cli_iris, "%s", r1);
    snprintf(cli_models, sizeof cli_models, "%s", r2);
    free(r1);
    free(r2);
    snprintf(cli_fashion_dir, sizeof cli_fashion_dir, "/usr/share/datasets/fashion-mnist");
    cli_have_fashion = access("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", R_OK) == 0;
    snprintf(cli_tmp, sizeof cli_tmp, "/tmp/px_cli_XXXXXX");
    if (!mkdtemp(cli_tmp)) {
        perror("mkdtemp");
        return false;
    }
    return true;
}

void cli_teardown(void) {
    free(cli_out);
    free(cli_err);
    cli_out = cli_err = NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", cli_tmp, cli_tmp);
    if (px_test_failed == 0 && system(cmd) != 0) printf("could not remove %s\n", cli_tmp);
}

static int vsh(const char *fmt, va_list ap) {
    free(cli_out);
    free(cli_err);
    char script[12288], cmd[12288 + 8192];
    vsnprintf(script, sizeof script, fmt, ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && PLEXUS='%s' && export PLEXUS && { %s\n} >'%s/stdout.txt' 2>'%s/stderr.txt' </dev/null",
             cli_tmp, cli_plexus, script, cli_tmp, cli_tmp);
    int st = system(cmd);
    char p[512];
    snprintf(p, sizeof p, "%s/stdout.txt", cli_tmp);
    cli_out = cli_slurp(p);
    snprintf(p, sizeof p, "%s/stderr.txt", cli_tmp);
    cli_err = cli_slurp(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (getenv("PX_CLI_TEST_VERBOSE")) printf("$ %s -> %d\n%s%s", script, rc, cli_out, cli_err);
    return rc;
}

int cli_sh(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vsh(fmt, ap);
    va_end(ap);
    return rc;
}

int cli_run(const char *args) { return cli_sh("\"$PLEXUS\" %s", args); }

int cli_runf(const char *fmt, ...) {
    char args[12000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return cli_run(args);
}

const char *cli_path(const char *name) {
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", cli_tmp, name);
    return p;
}

void cli_write(const char *name, const char *text) {
    FILE *f = fopen(cli_path(name), "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

bool cli_exists(const char *name) {
    struct stat sb;
    return lstat(cli_path(name), &sb) == 0;
}

bool cli_one_line_error(const char *needle) {
    size_t n = strlen(cli_err);
    bool ok = n > 1 && cli_err[n - 1] == '\n' && !memchr(cli_err, '\n', n - 1) && strstr(cli_err, needle);
    if (!ok) printf("  stderr was: %s\n", cli_err);
    return ok;
}

double cli_value_after(const char *text, const char *key) {
    const char *p = strstr(text, key);
    return p ? atof(p + strlen(key)) : NAN;
}
