/* Crash isolation for model loads: the whole read runs first in a forked child,
 * so libhdf5's crashes and endless loops on corrupt files become errors here. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pipe2 */
#endif
#include "core/isolate.h"

#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__unix__) || defined(__APPLE__)
#define PX_HAVE_FORK 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#endif

/* Generous: the child reads the whole file, which for a big model on a slow
 * disk takes a while; a corrupt file that makes libhdf5 loop is rare. */
#define PX_LOAD_TIMEOUT_DEFAULT 60.0

bool px_isolate_enabled(void) {
#ifdef PX_HAVE_FORK
    const char *e = getenv("PX_LOAD_ISOLATION");
    return !(e && (strcmp(e, "0") == 0 || strcasecmp(e, "off") == 0 || strcasecmp(e, "no") == 0 ||
                   strcasecmp(e, "false") == 0));
#else
    return false;
#endif
}

#ifndef PX_HAVE_FORK

/* Without fork there is nothing to isolate with: the real load runs as before. */
px_status px_isolate_run(const char *path, px_isolate_fn job, void *arg) {
    (void)path, (void)job, (void)arg;
    return PX_OK;
}

#else

/* The child's report: magic, the status as int32, the message, a NUL. Only a
 * report that arrives whole counts; anything else means the child died. */
static const char report_magic[4] = {'P', 'X', 'I', '1'};

/* Seconds from PX_LOAD_TIMEOUT (a decimal number; 0: no limit), else the default. */
static double load_timeout(void) {
    const char *e = getenv("PX_LOAD_TIMEOUT");
    if (!e || !*e) return PX_LOAD_TIMEOUT_DEFAULT;
    char *end;
    double v = strtod(e, &end);
    if (end == e || *end || !(v >= 0) || v > 1e7) return PX_LOAD_TIMEOUT_DEFAULT;
    return v;
}

static void write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* the parent is gone or stopped listening: nothing to tell */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Never returns. Only this thread exists here; whatever the other threads of
 * the parent held (locks, OpenMP teams) stays frozen, so the job must only
 * read the file and use malloc (glibc's is fork-safe), never start threads. */
static void child_main(int fd, pid_t parent, px_isolate_fn job, void *arg) {
#ifdef __linux__
    /* a hung child must not outlive a parent that dies meanwhile */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
#else
    (void)parent;
#endif
    /* The host's handlers (crash reporters, libFuzzer's, Ctrl-C savers) must not
     * run in this copy of it: a crash here is expected and only the parent's
     * business, and it sees it in the exit status. Ignored signals stay ignored. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < NSIG; s++) {
        struct sigaction old;
        if (s == SIGKILL || s == SIGSTOP || sigaction(s, NULL, &old) != 0) continue;
        if (!(old.sa_flags & SA_SIGINFO) && (old.sa_handler == SIG_IGN || old.sa_handler == SIG_DFL)) continue;
        sigaction(s, &dfl, NULL);
    }
    signal(SIGPIPE, SIG_IGN); /* a vanished parent gives EPIPE, not a second death */
    px_warnings_quiet(); /* the real load in the parent says them, once */
#ifdef _OPENMP
    /* the parent's OpenMP thread pool does not exist here; a team of one never waits for it */
    omp_set_num_threads(1);
#endif
    px_clear_error();
    px_status st = job(arg);
    const char *msg = st ? px_last_error() : "";
    if (st && !msg[0]) msg = "unknown error";
    char head[8];
    int32_t s32 = (int32_t)st;
    memcpy(head, report_magic, 4);
    memcpy(head + 4, &s32, 4);
    write_all(fd, head, sizeof head);
    write_all(fd, msg, strlen(msg) + 1);
    /* _exit: no atexit handlers, no stdio flushes of the parent's buffers, no
     * leak check of what the job left allocated (it is all thrown away) */
    _exit(0);
}

static int make_pipe(int fds[2]) {
#ifdef __linux__
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds)) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

/* Reads what is there (non-blocking fd) into buf, keeping at most cap bytes;
 * sets *eof at end of file. */
static void drain(int fd, char *buf, size_t cap, size_t *len, bool *eof) {
    for (;;) {
        char tmp[1024];
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r > 0) {
            size_t n = (size_t)r;
            if (n > cap - *len) n = cap - *len; /* longer than any report: keep the start */
            memcpy(buf + *len, tmp, n);
            *len += n;
            continue;
        }
        if (r == 0) *eof = true;
        else if (errno == EINTR) continue;
        else if (errno != EAGAIN && errno != EWOULDBLOCK) *eof = true; /* unreadable: as good as closed */
        return;
    }
}

/* Waits for pid, retrying on EINTR; false when its status is not to be had
 * (the host reaps children itself or ignores SIGCHLD). */
static bool wait_child(pid_t pid, int *wst, int flags, bool *exited) {
    for (;;) {
        pid_t r = waitpid(pid, wst, flags);
        if (r == pid) return *exited = true;
        if (r == 0) return *exited = false;
        if (errno == EINTR) continue;
        *exited = true; /* ECHILD: gone, reaped by someone else */
        return false;
    }
}

static bool crash_signal(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGABRT || sig == SIGSYS ||
           sig == SIGTRAP;
}

/* What the parent learns about the reading child: its report and its exit status. */
typedef struct child_watch {
    pid_t pid;
    int fd;         /* the read end of the report pipe */
    char buf[4096]; /* a report is at most 8 + 1024 bytes (px_last_error's size) */
    size_t len;
    int wst;
    bool have_status, exited;
} child_watch;

/* Reads the report until the pipe closes or the child exits; false when the time
 * limit passed first (then the child is killed and reaped). */
static bool watch_child(child_watch *c, double limit) {
    bool eof = false;
    double start = px_clock_seconds();
    for (;;) {
        drain(c->fd, c->buf, sizeof c->buf, &c->len, &eof);
        if (eof) break;
        /* normally EOF comes first; this catches a child whose pipe end lives on
         * in some other process forked meanwhile by another thread */
        c->have_status = wait_child(c->pid, &c->wst, WNOHANG, &c->exited);
        if (c->exited) {
            drain(c->fd, c->buf, sizeof c->buf, &c->len, &eof);
            break;
        }
        double left = limit > 0 ? limit - (px_clock_seconds() - start) : 1.0;
        if (left <= 0) {
            kill(c->pid, SIGKILL);
            wait_child(c->pid, &c->wst, 0, &c->exited);
            return false;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int ms = left > 0.05 ? 50 : (int)(left * 1000) + 1;
        poll(&pfd, 1, ms); /* EINTR or a slice's end: just go round */
    }
    return true;
}

/* The child's report as this process's status and message, or why there is none. */
static px_status child_result(const child_watch *c, const char *p) {
    const char *buf = c->buf;
    size_t len = c->len;
    int wst = c->wst;
    if (len >= 9 && memcmp(buf, report_magic, 4) == 0 && buf[len - 1] == '\0') {
        int32_t s32;
        memcpy(&s32, buf + 4, 4);
        if (s32 == PX_OK) return PX_OK;
        px_status st = s32 >= PX_ERR_ARG && s32 <= PX_ERR_UNSUPPORTED ? (px_status)s32 : PX_ERR_FORMAT;
        return px_set_error(st, "%s", buf + 8); /* the child's message, as the load in-process gives it */
    }
    if (c->have_status && WIFSIGNALED(wst)) {
        int sig = WTERMSIG(wst);
        if (crash_signal(sig))
            return px_set_error(PX_ERR_FORMAT, "libhdf5 crashed (signal %d) reading '%s': the file is corrupt", sig, p);
        return px_set_error(PX_ERR_IO, "the process reading '%s' was killed by signal %d (%s)%s before it finished", p, sig,
                            strsignal(sig), sig == SIGKILL ? ", perhaps for lack of memory," : "");
    }
    if (c->have_status && WIFEXITED(wst))
        return px_set_error(PX_ERR_FORMAT,
                            "reading '%s' ended abnormally (the reading process exited with status %d without a report): "
                            "the file is probably corrupt",
                            p, WEXITSTATUS(wst));
    return px_set_error(PX_ERR_FORMAT,
                        "reading '%s' ended abnormally (the reading process ended without a report; its exit status "
                        "was reaped elsewhere): the file is probably corrupt",
                        p);
}

px_status px_isolate_run(const char *path, px_isolate_fn job, void *arg) {
    if (!px_isolate_enabled()) return PX_OK;
    const char *p = path ? path : "?";
    double limit = load_timeout();
    int fds[2];
    if (make_pipe(fds) != 0)
        return px_set_error(PX_ERR_IO, "'%s': cannot start the isolated reader (pipe: %s); PX_LOAD_ISOLATION=0 loads without it",
                            p, strerror(errno));
    /* the child never flushes stdio, but flushing first means nothing buffered
     * can ever be written twice */
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return px_set_error(e == ENOMEM ? PX_ERR_NOMEM : PX_ERR_IO,
                            "'%s': cannot start the isolated reader (fork: %s); PX_LOAD_ISOLATION=0 loads without it", p,
                            strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], parent, job, arg);
    }
    close(fds[1]);
    child_watch c = {.pid = pid, .fd = fds[0]};
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    bool finished = watch_child(&c, limit);
    close(c.fd);
    if (!finished)
        return px_set_error(PX_ERR_FORMAT,
                            "libhdf5 did not finish reading '%s' within %g s (it loops forever on some corrupt files): "
                            "the file is corrupt, or too big for the limit (PX_LOAD_TIMEOUT=<seconds> sets it)",
                            p, limit);
    if (!c.exited) c.have_status = wait_child(c.pid, &c.wst, 0, &c.exited);
    return child_result(&c, p);
}

#endif
