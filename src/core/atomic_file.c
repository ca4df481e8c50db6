/* Atomic replacement of output files: symbolic links followed, non-regular
 * targets refused, a private mkdtemp directory per save, stale leftovers of
 * interrupted saves removed, fsync + rename + directory fsync to publish. */
#include "core/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symbolic links followed before giving up, as the kernel's own limit (ELOOP). */
#define MAX_LINK_HOPS 40
/* The target's name as far as it is kept in the temporary directory's name
 * (file names are limited to 255 bytes; the suffix needs about 30). */
#define PREFIX_MAX 200

/* "who: " before a message, or nothing. */
#define PRE(who) ((who) ? (who) : ""), ((who) ? ": " : "")

struct px_atomic_file {
    char *path;     /* as given */
    char *target;   /* symbolic links followed */
    char *dir;      /* the target's directory */
    char *tmpdir;   /* <dir>/<name>.tmp-<pid>-XXXXXX */
    char *temp;     /* <tmpdir>/<name> */
    const char *who;
    int lock_fd;    /* the locked temporary directory */
    FILE *stream;
    bool existed;
    mode_t mode;    /* the old file's permission bits */
};

static const char *kind_name(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* The directory part of a path ("." for a bare name, "/" for the root). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Follows symbolic links from `path`; *target gets the final path, *st its
 * status when it exists (*exists). */
static px_status resolve(const char *path, const char *who, char **target, struct stat *st, bool *exists) {
    char *cur = strdup(path);
    if (!cur) return px_set_error(PX_ERR_NOMEM, "%s%sout of memory", PRE(who));
    *exists = false;
    for (int hops = 0;; hops++) {
        if (lstat(cur, st) != 0) {
            if (errno == ENOENT) break;
            int e = errno;
            px_set_error(PX_ERR_IO, "%s%scannot write '%s': %s", PRE(who), cur, strerror(e));
            free(cur);
            return PX_ERR_IO;
        }
        if (!S_ISLNK(st->st_mode)) {
            *exists = true;
            break;
        }
        if (hops == MAX_LINK_HOPS) {
            px_set_error(PX_ERR_IO, "%s%scannot write '%s': %s", PRE(who), path, strerror(ELOOP));
            free(cur);
            return PX_ERR_IO;
        }
        size_t cap = (size_t)st->st_size + 1 > 256 ? (size_t)st->st_size + 1 : 256;
        char *link = malloc(cap + 1);
        ssize_t n = link ? readlink(cur, link, cap) : -1;
        if (n < 0) {
            int e = link ? errno : ENOMEM;
            free(link);
            px_set_error(PX_ERR_IO, "%s%scannot follow the symbolic link '%s': %s", PRE(who), cur, strerror(e));
            free(cur);
            return PX_ERR_IO;
        }
        link[n] = '\0';
        char *next = link;
        if (link[0] != '/') { /* relative to the link's own directory */
            char *d = dir_of(cur);
            next = d ? join(d, link) : NULL;
            free(d);
            free(link);
        }
        free(cur);
        if (!next) return px_set_error(PX_ERR_NOMEM, "%s%sout of memory", PRE(who));
        cur = next;
    }
    if (*exists && !S_ISREG(st->st_mode)) {
        if (strcmp(cur, path) == 0)
            px_set_error(PX_ERR_IO, "%s%swill not replace '%s': it is %s, not a regular file (give a file path)", PRE(who),
                         path, kind_name(st->st_mode));
        else
            px_set_error(PX_ERR_IO, "%s%swill not replace '%s' (the target of the link '%s'): it is %s, not a regular file",
                         PRE(who), cur, path, kind_name(st->st_mode));
        free(cur);
        return PX_ERR_IO;
    }
    if (!*base_of(cur)) {
        px_set_error(PX_ERR_IO, "%s%s'%s' names a directory, not a file", PRE(who), path);
        free(cur);
        return PX_ERR_IO;
    }
    *target = cur;
    return PX_OK;
}

px_status px_output_path_resolve(const char *path, const char *who, char **resolved) {
    if (!resolved) return px_set_error(PX_ERR_ARG, "%s%sthe output pointer is NULL", PRE(who));
    *resolved = NULL;
    if (!path || !*path) return px_set_error(PX_ERR_ARG, "%s%sthe file name is empty", PRE(who));
    struct stat st;
    bool exists;
    return resolve(path, who, resolved, &st, &exists);
}

/* Removes the files in an (unlocked, abandoned or our own) temporary directory, then it. */
static void remove_tree(int dfd, const char *dirpath) {
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0) close(fd);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dfd, e->d_name, 0);
    if (d) closedir(d);
    rmdir(dirpath);
}

static bool process_gone(long pid) { return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH; }

/* Parses the decimal pid at s; the rest must be `tail_len` bytes after `sep` (or the end). */
static long parse_pid(const char *s, char sep, size_t tail_len) {
    char *end;
    errno = 0;
    long pid = strtol(s, &end, 10);
    if (end == s || errno || pid <= 0) return -1;
    if (sep == '\0') return *end ? -1 : pid;
    return (*end == sep && strlen(end + 1) == tail_len) ? pid : -1;
}

/* Removes what interrupted saves to <dir>/<name> left behind: our temporary
 * directories whose process is gone (and whose lock is free), and older
 * versions' "<name>.tmp.<pid>" files of processes that are gone. */
static void remove_stale(const char *dir, const char *name) {
    size_t plen = strlen(name) < PREFIX_MAX ? strlen(name) : PREFIX_MAX;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, name, plen) != 0) continue;
        if (strncmp(n + plen, ".tmp-", 5) == 0) {
            long pid = parse_pid(n + plen + 5, '-', 6);
            if (pid < 0 || pid == (long)getpid() || !process_gone(pid)) continue;
            char *p = join(dir, n);
            int fd = p ? open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
            if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) remove_tree(fd, p);
            if (fd >= 0) close(fd);
            free(p);
        } else if (plen == strlen(name) && strncmp(n + plen, ".tmp.", 5) == 0) {
            long pid = parse_pid(n + plen + 5, '\0', 0);
            if (pid < 0 || !process_gone(pid)) continue;
            char *p = join(dir, n);
            struct stat st;
            if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode)) unlink(p);
            free(p);
        }
    }
    closedir(d);
}

static void free_handle(px_atomic_file *f) {
    if (!f) return;
    if (f->lock_fd >= 0) close(f->lock_fd); /* releases the lock */
    free(f->path);
    free(f->target);
    free(f->dir);
    free(f->tmpdir);
    free(f->temp);
    free(f);
}

px_status px_atomic_begin(const char *path, const char *who, px_atomic_file **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "%s%sthe output pointer is NULL", PRE(who));
    *out = NULL;
    if (!path || !*path) return px_set_error(PX_ERR_ARG, "%s%sthe file name is empty", PRE(who));
    px_atomic_file *f = calloc(1, sizeof *f);
    if (!f) return px_set_error(PX_ERR_NOMEM, "%s%sout of memory", PRE(who));
    f->lock_fd = -1;
    f->who = who;
    struct stat st;
    px_status s = resolve(path, who, &f->target, &st, &f->existed);
    if (s) {
        free_handle(f);
        return s;
    }
    f->mode = st.st_mode & 07777;
    f->path = strdup(path);
    f->dir = dir_of(f->target);
    if (!f->path || !f->dir) {
        free_handle(f);
        return px_set_error(PX_ERR_NOMEM, "%s%sout of memory", PRE(who));
    }
    const char *name = base_of(f->target);
    remove_stale(f->dir, name);

    size_t plen = strlen(name) < PREFIX_MAX ? strlen(name) : PREFIX_MAX;
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".tmp-%ld-XXXXXX", (long)getpid());
    size_t dl = strlen(f->dir);
    f->tmpdir = malloc(dl + 1 + plen + strlen(suffix) + 1);
    if (!f->tmpdir) {
        free_handle(f);
        return px_set_error(PX_ERR_NOMEM, "%s%sout of memory", PRE(who));
    }
    memcpy(f->tmpdir, f->dir, dl);
    f->tmpdir[dl] = '/';
    memcpy(f->tmpdir + dl + 1, name, plen);
    strcpy(f->tmpdir + dl + 1 + plen, suffix);
    if (!mkdtemp(f->tmpdir)) {
        int e = errno;
        free(f->tmpdir);
        f->tmpdir = NULL;
        px_set_error(PX_ERR_IO, "%s%scannot write '%s': cannot create a file in '%s': %s", PRE(who), path, f->dir,
                     strerror(e));
        free_handle(f);
        return PX_ERR_IO;
    }
    f->lock_fd = open(f->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->lock_fd >= 0) flock(f->lock_fd, LOCK_EX); /* ours alone: cannot block */
    f->temp = join(f->tmpdir, name);
    if (!f->temp) {
        px_atomic_abort(f);
        return px_set_error(PX_ERR_NOMEM, "%s%sout of memory", PRE(who));
    }
    *out = f;
    return PX_OK;
}

const char *px_atomic_temp_path(const px_atomic_file *f) { return f ? f->temp : NULL; }
const char *px_atomic_target(const px_atomic_file *f) { return f ? f->target : NULL; }
const char *px_atomic_path(const px_atomic_file *f) { return f ? f->path : NULL; }

FILE *px_atomic_stream(px_atomic_file *f) {
    if (!f) {
        px_set_error(PX_ERR_ARG, "px_atomic_stream: NULL handle");
        return NULL;
    }
    if (f->stream) return f->stream;
    int fd = open(f->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) f->stream = fdopen(fd, "wb");
    if (!f->stream) {
        int e = errno;
        if (fd >= 0) close(fd);
        px_set_error(PX_ERR_IO, "%s%scannot write '%s': cannot create a file in '%s': %s", PRE(f->who), f->path, f->dir,
                     strerror(e));
    }
    return f->stream;
}

/* "cannot write '<path>': <what>: <strerror>", saying the old file is kept. */
static px_status io_error(const px_atomic_file *f, const char *what, int err) {
    return px_set_error(PX_ERR_IO, "%s%scannot write '%s': %s%s%s%s", PRE(f->who), f->path, what, *what ? ": " : "",
                        strerror(err), f->existed ? " (the previous file is unchanged)" : "");
}

px_status px_atomic_write(px_atomic_file *f, const void *data, size_t n) {
    FILE *s = px_atomic_stream(f);
    if (!s) return px_last_status();
    if (n && fwrite(data, 1, n, s) != n) return io_error(f, "", errno);
    return PX_OK;
}

static int fsync_path(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

void px_atomic_abort(px_atomic_file *f) {
    if (!f) return;
    if (f->stream) fclose(f->stream);
    f->stream = NULL;
    if (f->tmpdir) {
        if (f->lock_fd >= 0) remove_tree(f->lock_fd, f->tmpdir);
        else {
            if (f->temp) unlink(f->temp);
            rmdir(f->tmpdir);
        }
    }
    free_handle(f);
}

/* Fails the commit: removes what the save made and keeps the message. */
static px_status fail_commit(px_atomic_file *f, const char *what, int err) {
    px_status s = io_error(f, what, err);
    px_atomic_abort(f);
    return s;
}

px_status px_atomic_commit(px_atomic_file *f) {
    if (!f) return px_set_error(PX_ERR_ARG, "px_atomic_commit: NULL handle");
    if (f->stream) {
        FILE *s = f->stream;
        f->stream = NULL;
        errno = 0;
        int bad = fflush(s) != 0 || ferror(s);
        int e = errno ? errno : EIO;
        if (!bad && fsync(fileno(s)) != 0) bad = 1, e = errno;
        if (fclose(s) != 0 && !bad) bad = 1, e = errno;
        if (bad) return fail_commit(f, "", e);
    } else {
        struct stat st;
        if (lstat(f->temp, &st) != 0) return fail_commit(f, "nothing was written", errno);
        if (!S_ISREG(st.st_mode)) return fail_commit(f, "the temporary file is not a regular file", EINVAL);
        if (fsync_path(f->temp, O_RDONLY) != 0) return fail_commit(f, "", errno);
    }
    if (f->existed && chmod(f->temp, f->mode) != 0) return fail_commit(f, "cannot keep the file's permissions", errno);
    if (rename(f->temp, f->target) != 0) return fail_commit(f, "cannot move the new file into place", errno);
    /* make the rename itself durable; file systems without directory fsync
     * (EINVAL) still did the rename, so that is not an error */
    px_status s = PX_OK;
    if (fsync_path(f->dir, O_RDONLY | O_DIRECTORY) != 0 && errno != EINVAL && errno != EBADF)
        s = px_set_error(PX_ERR_IO, "%s%ssaved '%s', but cannot fsync its directory '%s': %s", PRE(f->who), f->path, f->dir,
                         strerror(errno));
    px_atomic_abort(f); /* the temporary directory is empty now */
    return s;
}

px_status px_atomic_write_file(const char *path, const char *who, const void *data, size_t n) {
    px_atomic_file *f = NULL;
    px_status s = px_atomic_begin(path, who, &f);
    if (s) return s;
    if ((s = px_atomic_write(f, data, n))) {
        px_atomic_abort(f);
        return s;
    }
    return px_atomic_commit(f);
}
