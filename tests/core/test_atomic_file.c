/* Atomic output files (src/core/atomic_file.c): symbolic links written through,
 * devices and directories refused, unpredictable private temporary files, stale
 * leftovers removed, concurrent saves, kills, file-size limits. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "px_test.h"

static char dir[256];

/* dir/name, in one of 32 rotating buffers (enough for one test's names). */
static const char *at(const char *name) {
    static char p[32][512];
    static int k;
    k = (k + 1) % 32;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* The file's whole content ("" when missing; static buffer). */
static const char *content(const char *path) {
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Names in dir other than the given ones (leftovers); prints them. */
static int others(const char *const *keep, int n_keep) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        bool kept = false;
        for (int i = 0; i < n_keep; i++) kept |= strcmp(e->d_name, keep[i]) == 0;
        if (!kept) {
            printf("  leftover: %s\n", e->d_name);
            n++;
        }
    }
    if (d) closedir(d);
    return n;
}

static void test_write_and_replace(void) {
    const char *p = at("a.txt");
    CHECK_OK(px_atomic_write_file(p, NULL, "one", 3));
    CHECK(strcmp(content(p), "one") == 0);
    chmod(p, 0640);
    px_atomic_file *f = NULL;
    CHECK_OK(px_atomic_begin(p, NULL, &f));
    CHECK_OK(px_atomic_write(f, "two", 3));
    CHECK(strcmp(content(p), "one") == 0); /* nothing visible before commit */
    CHECK_OK(px_atomic_commit(f));
    CHECK(strcmp(content(p), "two") == 0);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640); /* permissions kept */
    /* an abandoned save changes nothing and leaves nothing */
    CHECK_OK(px_atomic_begin(p, NULL, &f));
    CHECK_OK(px_atomic_write(f, "three", 5));
    px_atomic_abort(f);
    CHECK(strcmp(content(p), "two") == 0);
    /* a library writing by name uses the temporary path */
    CHECK_OK(px_atomic_begin(p, NULL, &f));
    put(px_atomic_temp_path(f), "by name");
    CHECK_OK(px_atomic_commit(f));
    CHECK(strcmp(content(p), "by name") == 0);
    /* commit without any content is an error, not an empty file */
    CHECK_OK(px_atomic_begin(p, NULL, &f));
    CHECK(px_atomic_commit(f) == PX_ERR_IO);
    CHECK_ERROR_HAS("nothing was written");
    CHECK(strcmp(content(p), "by name") == 0);
    const char *keep[] = {"a.txt"};
    CHECK(others(keep, 1) == 0);
    unlink(p);
}

/* Item 1 of issue 18: links are written through, devices and directories refused. */
static void test_links_and_devices(void) {
    const char *target = at("target.txt"), *link = at("link.txt");
    put(target, "old");
    CHECK(symlink("target.txt", link) == 0); /* relative: resolved from the link's directory */
    CHECK_OK(px_atomic_write_file(link, NULL, "new", 3));
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(strcmp(content(target), "new") == 0);
    /* a chain of links, and a dangling one (the target is created) */
    const char *link2 = at("link2.txt");
    CHECK(symlink(link, link2) == 0);
    CHECK_OK(px_atomic_write_file(link2, NULL, "chain", 5));
    CHECK(strcmp(content(target), "chain") == 0);
    const char *dangling = at("dangling.txt");
    CHECK(symlink("created.txt", dangling) == 0);
    CHECK_OK(px_atomic_write_file(dangling, NULL, "made", 4));
    CHECK(strcmp(content(at("created.txt")), "made") == 0 && lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode));
    /* a loop of links */
    const char *l1 = at("loop1"), *l2 = at("loop2");
    CHECK(symlink("loop2", l1) == 0 && symlink("loop1", l2) == 0);
    CHECK(px_atomic_write_file(l1, NULL, "x", 1) == PX_ERR_IO);
    CHECK_ERROR_HAS("symbolic links");

    /* devices, directories, FIFOs: one clear error, nothing replaced */
    px_atomic_file *f = NULL;
    CHECK(px_atomic_begin("/dev/null", NULL, &f) == PX_ERR_IO && !f);
    CHECK_ERROR_HAS("'/dev/null': it is a character device, not a regular file");
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    const char *devlink = at("devlink");
    CHECK(symlink("/dev/full", devlink) == 0);
    CHECK(px_atomic_begin(devlink, NULL, &f) == PX_ERR_IO && !f);
    CHECK_ERROR_HAS("the target of the link");
    CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(px_atomic_begin(dir, NULL, &f) == PX_ERR_IO);
    CHECK_ERROR_HAS("a directory");
    const char *fifo = at("fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(px_atomic_begin(fifo, "predict", &f) == PX_ERR_IO);
    CHECK_ERROR_HAS("predict: will not replace");
    CHECK_ERROR_HAS("FIFO");
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    /* the same checks for writers that append in place */
    char *resolved = NULL;
    CHECK_OK(px_output_path_resolve(link2, NULL, &resolved));
    CHECK(resolved && strstr(resolved, "target.txt"));
    free(resolved);
    CHECK(px_output_path_resolve("/dev/null", "CSVLogger", &resolved) == PX_ERR_IO && !resolved);
    CHECK(px_atomic_begin("", NULL, &f) == PX_ERR_ARG && px_atomic_begin(NULL, NULL, &f) == PX_ERR_ARG);
    CHECK(px_atomic_begin(at("no/such/dir/x"), NULL, &f) == PX_ERR_IO);
    CHECK_ERROR_HAS("No such file or directory");
    const char *keep[] = {"target.txt", "link.txt", "link2.txt", "dangling.txt", "created.txt", "loop1", "loop2",
                          "devlink", "fifo"};
    CHECK(others(keep, 9) == 0);
    for (int i = 0; i < 9; i++) unlink(at(keep[i]));
}

/* Item 16 of issue 18: a link planted at the name older versions used is not followed. */
static void test_planted_link(void) {
    const char *victim = at("victim.txt"), *p = at("model.h5");
    put(victim, "precious");
    char planted[512];
    snprintf(planted, sizeof planted, "%s.tmp.%ld", p, (long)getpid());
    CHECK(symlink(victim, planted) == 0);
    CHECK_OK(px_atomic_write_file(p, NULL, "model", 5));
    CHECK(strcmp(content(victim), "precious") == 0 && strcmp(content(p), "model") == 0);
    /* the temporary name is not predictable from the pid */
    px_atomic_file *a = NULL, *b = NULL;
    CHECK_OK(px_atomic_begin(p, NULL, &a));
    CHECK_OK(px_atomic_begin(p, NULL, &b));
    if (a && b) CHECK(strcmp(px_atomic_temp_path(a), px_atomic_temp_path(b)) != 0);
    px_atomic_abort(a);
    px_atomic_abort(b);
    unlink(planted);
    unlink(victim);
    unlink(p);
}

typedef struct saver {
    const char *path;
    char text[64];
    int failures;
} saver;

static void *save_loop(void *arg) {
    saver *s = arg;
    for (int i = 0; i < 40; i++)
        if (px_atomic_write_file(s->path, NULL, s->text, strlen(s->text)) != PX_OK) s->failures++;
    return NULL;
}

/* Item 16 of issue 18: threads of one process saving to one path do not collide. */
static void test_threads(void) {
    const char *p = at("shared.txt");
    enum { N = 6 };
    pthread_t t[N];
    saver s[N];
    for (int i = 0; i < N; i++) {
        s[i] = (saver){.path = p};
        snprintf(s[i].text, sizeof s[i].text, "written by thread %d, complete", i);
        pthread_create(&t[i], NULL, save_loop, &s[i]);
    }
    int failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        failures += s[i].failures;
    }
    CHECK(failures == 0);
    const char *c = content(p);
    CHECK(strncmp(c, "written by thread ", 18) == 0 && strstr(c, ", complete") && strlen(c) == 29);
    const char *keep[] = {"shared.txt"};
    CHECK(others(keep, 1) == 0);
    unlink(p);
}

/* A pid that is certainly gone: a child that has exited and been reaped. */
static pid_t dead_pid(void) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) _exit(0);
    waitpid(c, NULL, 0);
    return c;
}

/* Issue 14: an interrupted save's leftovers are removed by the next save to the
 * same path; those of live saves and of other paths are not. */
static void test_stale_leftovers(void) {
    const char *p = at("best.h5");
    put(p, "previous");
    /* kill -9 in the middle of a save */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        px_atomic_file *f = NULL;
        if (px_atomic_begin(p, NULL, &f) != PX_OK) _exit(1);
        px_atomic_write(f, "half", 4);
        fflush(px_atomic_stream(f));
        raise(SIGKILL);
        _exit(2);
    }
    int st = 0;
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(strcmp(content(p), "previous") == 0);
    const char *keep[] = {"best.h5"};
    CHECK(others(keep, 1) == 1); /* the killed save's temporary directory */
    /* what older versions left, from a process that is gone, and a bystander */
    char legacy[512], other[512], live[512];
    snprintf(legacy, sizeof legacy, "%s.tmp.%ld", p, (long)dead_pid());
    put(legacy, "old leftover");
    snprintf(other, sizeof other, "%s/other.h5.tmp.%ld", dir, (long)dead_pid());
    put(other, "another file's");
    /* a save in progress in this process (another thread's) is left alone */
    px_atomic_file *running = NULL;
    CHECK_OK(px_atomic_begin(p, NULL, &running));
    CHECK_OK(px_atomic_write(running, "in progress", 11));
    snprintf(live, sizeof live, "%s", px_atomic_temp_path(running));

    CHECK_OK(px_atomic_write_file(p, NULL, "next", 4));
    CHECK(strcmp(content(p), "next") == 0);
    struct stat sb;
    CHECK(lstat(legacy, &sb) != 0 && errno == ENOENT);
    CHECK(lstat(other, &sb) == 0);
    CHECK(lstat(live, &sb) == 0);
    CHECK_OK(px_atomic_commit(running));
    CHECK(strcmp(content(p), "in progress") == 0);
    unlink(other);
    CHECK(others(keep, 1) == 0);
    unlink(p);
}

/* Issue 14 / item 2 of issue 18: a file-size limit (ulimit -f) fails the save with
 * a clear error, keeps the previous file and leaves no temporary file. */
static void test_file_size_limit(void) {
    const char *p = at("big.bin");
    put(p, "previous");
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {.rlim_cur = 4096, .rlim_max = 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
        static char big[65536];
        memset(big, 'x', sizeof big);
        px_status s = px_atomic_write_file(p, NULL, big, sizeof big);
        bool ok = s == PX_ERR_IO && strstr(px_last_error(), "File too large") &&
                  strstr(px_last_error(), "previous file is unchanged");
        if (!ok) printf("  child: %s\n", px_last_error());
        exit(ok ? 0 : 4);
    }
    int st = 0;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strcmp(content(p), "previous") == 0);
    const char *keep[] = {"big.bin"};
    CHECK(others(keep, 1) == 0);
    unlink(p);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/px_atomic_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN_TEST(test_write_and_replace);
    RUN_TEST(test_links_and_devices);
    RUN_TEST(test_planted_link);
    RUN_TEST(test_threads);
    RUN_TEST(test_stale_leftovers);
    RUN_TEST(test_file_size_limit);
    if (px_test_failed == 0) rmdir(dir);
    return px_test_finish();
}
