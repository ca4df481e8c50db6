/* The px_h5_* layer over libhdf5: every call opens and closes its own HDF5
 * objects and turns HDF5's error stack into one px_status message. */
#include "formats/h5util.h"

#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keras splits list attributes above this many bytes (HDF5's object header limit). */
#define PX_H5_ATTR_LIMIT 64512

struct px_h5_file {
    hid_t id;
    char *path;             /* as given (the final path for an atomic save) */
    px_atomic_file *atomic; /* an atomic save: the file is built in memory */
};

/* ---------------------------------------------------------------- errors */

/* HDF5 prints its error stack to stderr by default; the caller gets our
 * message instead. Done on every call because the setting is per-thread in
 * thread-safe builds. */
static void quiet(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Eclear2(H5E_DEFAULT);
}

typedef struct estack {
    char first[200], last[200];
    int n;
} estack;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    estack *s = data;
    char msg[200] = "";
    if (e->desc && e->desc[0]) snprintf(msg, sizeof msg, "%s", e->desc);
    else H5Eget_msg(e->min_num, NULL, msg, sizeof msg);
    if (!msg[0]) return 0;
    if (s->n == 0) snprintf(s->first, sizeof s->first, "%s", msg);
    snprintf(s->last, sizeof s->last, "%s", msg);
    s->n++;
    return 0;
}

/* The outermost and innermost entries of HDF5's error stack, e.g.
 * "unable to open file: file signature not found"; "" when empty. */
static void h5_detail(char *buf, size_t len) {
    estack s = {{0}, {0}, 0};
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &s);
    H5Eclear2(H5E_DEFAULT);
    if (s.n == 0) return;
    if (s.n == 1 || strcmp(s.first, s.last) == 0) snprintf(buf, len, "%s", s.first);
    else snprintf(buf, len, "%s: %s", s.first, s.last);
}

static px_status fail(px_status st, const char *file, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Sets "<file>: <what> (HDF5: <stack>)" and returns st. */
static px_status fail(px_status st, const char *file, const char *fmt, ...) {
    char what[512], detail[420];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    h5_detail(detail, sizeof detail);
    if (detail[0]) return px_set_error(st, "%s: %s (HDF5: %s)", file ? file : "?", what, detail);
    return px_set_error(st, "%s: %s", file ? file : "?", what);
}

static const char *norm(const char *p) { return (p && p[0]) ? p : "/"; }

/* ---------------------------------------------------------------- files */

static hid_t make_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    /* nothing stays open between our calls, so a close must really close */
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    /* lock where the file system can, but don't fail where it can't (NFS) */
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

static px_h5_file *new_handle(const char *path) {
    px_h5_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->path = strdup(path);
    if (!f->path) {
        free(f);
        return NULL;
    }
    f->id = -1;
    return f;
}

static void free_handle(px_h5_file *f) {
    if (!f) return;
    free(f->path);
    px_atomic_abort(f->atomic);
    free(f);
}

/* Opens `name` read-only with the access properties fapl (closed here). */
static px_status open_with(const char *name, hid_t fapl, px_h5_file **out) {
    px_h5_file *f = new_handle(name);
    if (!f) {
        if (fapl >= 0) H5Pclose(fapl);
        return px_set_error(PX_ERR_NOMEM, "%s: out of memory", name);
    }
    f->id = fapl < 0 ? -1 : H5Fopen(name, H5F_ACC_RDONLY, fapl);
    /* the message before any other HDF5 call, which would clear the error stack */
    px_status s = f->id < 0 ? fail(PX_ERR_FORMAT, name, "not a valid HDF5 file (foreign, truncated or corrupt)") : PX_OK;
    if (fapl >= 0) H5Pclose(fapl);
    if (s) {
        free_handle(f);
        return s;
    }
    *out = f;
    return PX_OK;
}

px_status px_h5_open(const char *path, px_h5_file **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_open: out is NULL");
    *out = NULL;
    if (!path || !path[0]) return px_set_error(PX_ERR_ARG, "px_h5_open: empty path");
    quiet();
    struct stat st;
    if (stat(path, &st) != 0) return px_set_error(PX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return px_set_error(PX_ERR_IO, "%s: cannot open: is a directory", path);
    if (!S_ISREG(st.st_mode)) /* a FIFO would block, a device would be read without end */
        return px_set_error(PX_ERR_IO, "%s: cannot open: not a regular file (%s); libhdf5 reads files by seeking", path,
                            S_ISFIFO(st.st_mode) ? "a pipe or FIFO" : S_ISCHR(st.st_mode) ? "a character device" : "special");
    if (access(path, R_OK) != 0) return px_set_error(PX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (st.st_size == 0) return px_set_error(PX_ERR_FORMAT, "%s: empty file, not an HDF5 file", path);
    return open_with(path, make_fapl(), out);
}

/* in_memory: the core driver without a backing store, so libhdf5 does no file
 * I/O at all (a write error inside libhdf5 leaves its file object half-closed,
 * and its exit-time cleanup then crashes); the image is written out by commit. */
static px_status create_file(const char *path, bool in_memory, px_h5_file **out) {
    quiet();
    px_h5_file *f = new_handle(path);
    if (!f) return px_set_error(PX_ERR_NOMEM, "%s: out of memory", path);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    /* the root group remembers creation order too, so listings follow save order */
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t fapl = make_fapl();
    if (in_memory) H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    f->id = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    px_status s = PX_OK;
    if (f->id < 0) {
        int err = errno;
        s = fail(PX_ERR_IO, path, "cannot create file (%s)", err ? strerror(err) : "unknown reason");
    }
    H5Pclose(fapl);
    H5Pclose(fcpl);
    if (s) {
        free_handle(f);
        return s;
    }
    *out = f;
    return PX_OK;
}

px_status px_h5_create(const char *path, px_h5_file **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_create: out is NULL");
    *out = NULL;
    if (!path || !path[0]) return px_set_error(PX_ERR_ARG, "px_h5_create: empty path");
    errno = 0;
    return create_file(path, false, out);
}

const char *px_h5_filename(const px_h5_file *f) { return f ? f->path : NULL; }
bool px_h5_is_atomic(const px_h5_file *f) { return f && f->atomic; }

/* Closes the HDF5 file, reporting flush errors. */
static px_status close_id(px_h5_file *f) {
    px_status s = PX_OK;
    if (f->id >= 0) {
        quiet();
        if (H5Fclose(f->id) < 0) s = fail(PX_ERR_IO, f->path, "cannot close file");
        f->id = -1;
    }
    return s;
}

void px_h5_abort(px_h5_file *f) {
    if (!f) return;
    close_id(f);
    free_handle(f); /* removes the atomic save's temporary directory */
}

px_status px_h5_close(px_h5_file *f) {
    if (!f) return PX_OK;
    if (f->atomic) {
        px_h5_abort(f);
        return PX_OK;
    }
    px_status s = close_id(f);
    free_handle(f);
    return s;
}

px_status px_h5_create_temp(const char *final_path, px_h5_file **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_create_temp: out is NULL");
    *out = NULL;
    if (!final_path || !final_path[0]) return px_set_error(PX_ERR_ARG, "px_h5_create_temp: empty path");
    /* the checks (links, non-regular targets, a writable directory) come first,
     * so a save that cannot succeed fails before the model is serialised */
    px_atomic_file *a = NULL;
    px_status s = px_atomic_begin(final_path, NULL, &a);
    if (s) return s;
    s = create_file(final_path, true, out);
    if (s) {
        px_atomic_abort(a);
        return s;
    }
    (*out)->atomic = a;
    return PX_OK;
}

/* The in-memory file's bytes (malloc'd) after a flush; closes the HDF5 file. */
static px_status take_image(px_h5_file *f, void **image, size_t *size) {
    quiet();
    px_status s = PX_OK;
    ssize_t n = -1;
    *image = NULL;
    *size = 0;
    if (H5Fflush(f->id, H5F_SCOPE_GLOBAL) < 0) s = fail(PX_ERR_IO, f->path, "cannot flush the file image");
    if (!s && (n = H5Fget_file_image(f->id, NULL, 0)) < 0) s = fail(PX_ERR_IO, f->path, "cannot size the file image");
    if (!s && !(*image = malloc(n > 0 ? (size_t)n : 1)))
        s = px_set_error(PX_ERR_NOMEM, "%s: out of memory for the %lld-byte file image", f->path, (long long)n);
    if (!s && H5Fget_file_image(f->id, *image, (size_t)n) != n) s = fail(PX_ERR_IO, f->path, "cannot copy the file image");
    px_status c = close_id(f);
    if (!s) s = c;
    if (s) {
        free(*image);
        *image = NULL;
    } else {
        *size = (size_t)n;
    }
    return s;
}

px_status px_h5_commit(px_h5_file *f) {
    if (!f) return px_set_error(PX_ERR_ARG, "px_h5_commit: NULL handle");
    if (!f->atomic) {
        px_h5_close(f);
        return px_set_error(PX_ERR_STATE, "px_h5_commit: handle was not made by px_h5_create_temp");
    }
    void *image = NULL;
    size_t n = 0;
    px_status s = take_image(f, &image, &n);
    px_atomic_file *a = f->atomic;
    f->atomic = NULL;
    free_handle(f);
    if (!s) s = px_atomic_write(a, image, n);
    free(image);
    if (s) {
        px_atomic_abort(a);
        return s;
    }
    return px_atomic_commit(a);
}

/* ---------------------------------------------------------------- in-memory files */

px_status px_h5_open_image(const void *data, size_t size, const char *name, px_h5_file **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_open_image: out is NULL");
    *out = NULL;
    if (!name) name = "(memory)";
    if (!data || size == 0) return px_set_error(PX_ERR_FORMAT, "%s: empty, not an HDF5 file", name);
    quiet();
    hid_t fapl = make_fapl();
    /* the core driver without a backing store: nothing touches the disk; HDF5
     * copies the image, so the caller keeps its buffer */
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0 || H5Pset_file_image(fapl, (void *)data, size) < 0) {
        px_status s = fail(PX_ERR_NOMEM, name, "cannot set up an in-memory HDF5 file");
        if (fapl >= 0) H5Pclose(fapl);
        return s;
    }
    return open_with(name, fapl, out);
}

px_status px_h5_create_image(const char *name, px_h5_file **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_create_image: out is NULL");
    *out = NULL;
    return create_file(name ? name : "(memory)", true, out);
}

px_status px_h5_take_image(px_h5_file *f, void **data, size_t *size) {
    *data = NULL;
    *size = 0;
    if (!f) return px_set_error(PX_ERR_ARG, "px_h5_take_image: NULL handle");
    px_status s = take_image(f, data, size);
    free_handle(f);
    return s;
}

/* ---------------------------------------------------------------- structure */

static px_h5_kind kind_at(hid_t file, const char *path) {
    path = norm(path);
    /* H5Lexists fails (rather than answering no) when a parent is missing, so
     * walk the path one component at a time */
    size_t n = strlen(path);
    char *buf = malloc(n + 2);
    if (!buf) return PX_H5_NONE;
    size_t i = 0, o = 0;
    while (i < n) {
        while (i < n && path[i] == '/') i++;
        if (i >= n) break;
        buf[o++] = '/';
        while (i < n && path[i] != '/') buf[o++] = path[i++];
        buf[o] = '\0';
        if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) {
            free(buf);
            H5Eclear2(H5E_DEFAULT);
            return PX_H5_NONE;
        }
    }
    if (o == 0) strcpy(buf, "/");
    hid_t obj = H5Oopen(file, buf, H5P_DEFAULT);
    free(buf);
    if (obj < 0) {
        H5Eclear2(H5E_DEFAULT);
        return PX_H5_NONE; /* e.g. a dangling soft link */
    }
    H5I_type_t t = H5Iget_type(obj);
    H5Oclose(obj);
    return t == H5I_GROUP ? PX_H5_GROUP : t == H5I_DATASET ? PX_H5_DATASET : PX_H5_OTHER;
}

px_h5_kind px_h5_kind_of(px_h5_file *f, const char *path) {
    if (!f || f->id < 0) return PX_H5_NONE;
    quiet();
    return kind_at(f->id, path);
}

bool px_h5_exists(px_h5_file *f, const char *path) { return px_h5_kind_of(f, path) != PX_H5_NONE; }

static px_status check_file(const px_h5_file *f, const char *fn) {
    if (!f || f->id < 0) return px_set_error(PX_ERR_ARG, "%s: NULL or closed file handle", fn);
    quiet();
    return PX_OK;
}

px_status px_h5_create_group(px_h5_file *f, const char *path) {
    px_status s = check_file(f, "px_h5_create_group");
    if (s) return s;
    path = norm(path);
    size_t n = strlen(path);
    char *buf = malloc(n + 2);
    if (!buf) return px_set_error(PX_ERR_NOMEM, "%s: out of memory", f->path);
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    size_t i = 0, o = 0;
    while (i < n && !s) {
        while (i < n && path[i] == '/') i++;
        if (i >= n) break;
        buf[o++] = '/';
        while (i < n && path[i] != '/') buf[o++] = path[i++];
        buf[o] = '\0';
        px_h5_kind k = kind_at(f->id, buf);
        if (k == PX_H5_GROUP) continue;
        if (k != PX_H5_NONE) {
            s = px_set_error(PX_ERR_FORMAT, "%s: cannot create group '%s': '%s' exists and is not a group",
                             f->path, path, buf);
            break;
        }
        hid_t g = H5Gcreate2(f->id, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        if (g < 0) s = fail(PX_ERR_IO, f->path, "cannot create group '%s'", buf);
        else H5Gclose(g);
    }
    H5Pclose(gcpl);
    free(buf);
    return s;
}

typedef struct names_acc {
    char **v;
    size_t n, cap;
    bool oom;
} names_acc;

static bool acc_add(names_acc *a, const char *name) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        char **nv = realloc(a->v, cap * sizeof *nv);
        if (!nv) return false;
        a->v = nv;
        a->cap = cap;
    }
    if (!(a->v[a->n] = strdup(name))) return false;
    a->n++;
    return true;
}

static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g;
    (void)info;
    names_acc *a = data;
    if (!acc_add(a, name)) {
        a->oom = true;
        return 1; /* stop */
    }
    return 0;
}

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)loc;
    (void)info;
    names_acc *a = data;
    if (!acc_add(a, name)) {
        a->oom = true;
        return 1;
    }
    return 0;
}

void px_h5_free_names(char **names, size_t count) {
    if (!names) return;
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

px_status px_h5_list(px_h5_file *f, const char *group, px_h5_order order, char ***names, size_t *count) {
    if (!names || !count) return px_set_error(PX_ERR_ARG, "px_h5_list: NULL output");
    *names = NULL;
    *count = 0;
    px_status s = check_file(f, "px_h5_list");
    if (s) return s;
    group = norm(group);
    px_h5_kind k = kind_at(f->id, group);
    if (k != PX_H5_GROUP)
        return px_set_error(PX_ERR_FORMAT, "%s: '%s' %s", f->path, group,
                            k == PX_H5_NONE ? "not found" : "is not a group");
    hid_t g = H5Gopen2(f->id, group, H5P_DEFAULT);
    if (g < 0) return fail(PX_ERR_FORMAT, f->path, "cannot open group '%s'", group);
    H5_index_t idx = H5_INDEX_NAME;
    if (order == PX_H5_ORDER_CREATION) {
        hid_t gcpl = H5Gget_create_plist(g);
        unsigned flags = 0;
        if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &flags) >= 0 && (flags & H5P_CRT_ORDER_INDEXED))
            idx = H5_INDEX_CRT_ORDER;
        if (gcpl >= 0) H5Pclose(gcpl);
        H5Eclear2(H5E_DEFAULT);
    }
    names_acc a = {0};
    hsize_t pos = 0;
    herr_t r = H5Literate(g, idx, H5_ITER_INC, &pos, link_cb, &a);
    if (a.oom) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory listing '%s'", f->path, group);
    else if (r < 0) s = fail(PX_ERR_FORMAT, f->path, "cannot list group '%s'", group);
    H5Gclose(g);
    if (s) {
        px_h5_free_names(a.v, a.n);
        return s;
    }
    *names = a.v;
    *count = a.n;
    return PX_OK;
}

/* Opens obj for attribute work, naming what is missing. */
static px_status open_obj(px_h5_file *f, const char *obj, hid_t *out) {
    obj = norm(obj);
    if (kind_at(f->id, obj) == PX_H5_NONE) return px_set_error(PX_ERR_FORMAT, "%s: object '%s' not found", f->path, obj);
    *out = H5Oopen(f->id, obj, H5P_DEFAULT);
    if (*out < 0) return fail(PX_ERR_FORMAT, f->path, "cannot open object '%s'", obj);
    return PX_OK;
}

px_status px_h5_list_attrs(px_h5_file *f, const char *obj, char ***names, size_t *count) {
    if (!names || !count) return px_set_error(PX_ERR_ARG, "px_h5_list_attrs: NULL output");
    *names = NULL;
    *count = 0;
    px_status s = check_file(f, "px_h5_list_attrs");
    hid_t o = -1;
    if (s || (s = open_obj(f, obj, &o)) != PX_OK) return s;
    names_acc a = {0};
    hsize_t pos = 0;
    herr_t r = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &pos, attr_cb, &a);
    if (a.oom) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory listing attributes of '%s'", f->path, norm(obj));
    else if (r < 0) s = fail(PX_ERR_FORMAT, f->path, "cannot list attributes of '%s'", norm(obj));
    H5Oclose(o);
    if (s) {
        px_h5_free_names(a.v, a.n);
        return s;
    }
    *names = a.v;
    *count = a.n;
    return PX_OK;
}

/* ---------------------------------------------------------------- attributes */

bool px_h5_has_attr(px_h5_file *f, const char *obj, const char *name) {
    if (!f || f->id < 0 || !name) return false;
    quiet();
    if (kind_at(f->id, obj) == PX_H5_NONE) return false;
    htri_t r = H5Aexists_by_name(f->id, norm(obj), name, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return r > 0;
}

static px_status open_attr(px_h5_file *f, const char *obj, const char *name, hid_t *out) {
    obj = norm(obj);
    if (!name) return px_set_error(PX_ERR_ARG, "%s: NULL attribute name", f->path);
    if (kind_at(f->id, obj) == PX_H5_NONE)
        return px_set_error(PX_ERR_FORMAT, "%s: object '%s' not found (looking for attribute '%s')", f->path, obj, name);
    htri_t e = H5Aexists_by_name(f->id, obj, name, H5P_DEFAULT);
    if (e < 0) return fail(PX_ERR_FORMAT, f->path, "cannot look up attribute '%s' of '%s'", name, obj);
    if (e == 0) return px_set_error(PX_ERR_FORMAT, "%s: attribute '%s' of '%s' not found", f->path, name, obj);
    *out = H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (*out < 0) return fail(PX_ERR_FORMAT, f->path, "cannot open attribute '%s' of '%s'", name, obj);
    return PX_OK;
}

/* Removes an attribute so it can be re-created with another type or size. */
static px_status drop_attr(px_h5_file *f, const char *obj, const char *name) {
    htri_t e = H5Aexists_by_name(f->id, obj, name, H5P_DEFAULT);
    if (e > 0 && H5Adelete_by_name(f->id, obj, name, H5P_DEFAULT) < 0)
        return fail(PX_ERR_IO, f->path, "cannot replace attribute '%s' of '%s'", name, obj);
    H5Eclear2(H5E_DEFAULT);
    return PX_OK;
}

static px_status write_attr(px_h5_file *f, const char *obj, const char *name, hid_t type, hid_t space,
                            const void *buf) {
    px_status s = drop_attr(f, obj, name);
    if (s) return s;
    hid_t a = H5Acreate_by_name(f->id, obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return fail(PX_ERR_IO, f->path, "cannot create attribute '%s' of '%s'", name, obj);
    if (buf && H5Awrite(a, type, buf) < 0) s = fail(PX_ERR_IO, f->path, "cannot write attribute '%s' of '%s'", name, obj);
    H5Aclose(a);
    return s;
}

static px_status check_writable(px_h5_file *f, const char *fn, const char *obj, const char *name) {
    px_status s = check_file(f, fn);
    if (s) return s;
    if (!name) return px_set_error(PX_ERR_ARG, "%s: %s: NULL attribute name", f->path, fn);
    if (kind_at(f->id, obj) == PX_H5_NONE)
        return px_set_error(PX_ERR_FORMAT, "%s: object '%s' not found (writing attribute '%s')", f->path, norm(obj), name);
    return PX_OK;
}

px_status px_h5_write_string_attr(px_h5_file *f, const char *obj, const char *name, const char *value,
                                  px_h5_cset cset) {
    px_status s = check_writable(f, "px_h5_write_string_attr", obj, name);
    if (s) return s;
    if (!value) return px_set_error(PX_ERR_ARG, "%s: NULL value for attribute '%s'", f->path, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, cset == PX_H5_UTF8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t sp = H5Screate(H5S_SCALAR);
    s = write_attr(f, norm(obj), name, t, sp, &value);
    H5Sclose(sp);
    H5Tclose(t);
    return s;
}

px_status px_h5_write_string_array_attr(px_h5_file *f, const char *obj, const char *name,
                                        const char *const *values, size_t count) {
    px_status s = check_writable(f, "px_h5_write_string_array_attr", obj, name);
    if (s) return s;
    if (count && !values) return px_set_error(PX_ERR_ARG, "%s: NULL values for attribute '%s'", f->path, name);
    obj = norm(obj);
    hsize_t dim = count;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    if (count == 0) {
        /* what numpy makes of [] and so what every Keras version writes */
        s = write_attr(f, obj, name, H5T_IEEE_F64LE, sp, NULL);
        H5Sclose(sp);
        return s;
    }
    size_t maxlen = 1;
    for (size_t i = 0; i < count; i++) {
        if (!values[i]) {
            H5Sclose(sp);
            return px_set_error(PX_ERR_ARG, "%s: attribute '%s' of '%s': element %zu is NULL", f->path, name, obj, i);
        }
        size_t l = strlen(values[i]);
        if (l > maxlen) maxlen = l;
    }
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_cset(t, H5T_CSET_ASCII);
    if (count > PX_H5_ATTR_LIMIT / maxlen) {
        /* vlen keeps only references in the header, so no size limit applies */
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_strpad(t, H5T_STR_NULLTERM);
        s = write_attr(f, obj, name, t, sp, values);
    } else {
        H5Tset_size(t, maxlen);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        char *buf = calloc(count, maxlen);
        if (!buf) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory", f->path);
        else {
            for (size_t i = 0; i < count; i++) memcpy(buf + i * maxlen, values[i], strlen(values[i]));
            s = write_attr(f, obj, name, t, sp, buf);
            free(buf);
        }
    }
    H5Tclose(t);
    H5Sclose(sp);
    return s;
}

/* Reads n strings of file type ftype from attribute a into malloc'd copies. */
static px_status read_strings(px_h5_file *f, const char *obj, const char *name, hid_t a, hid_t ftype, size_t n,
                              char **out) {
    px_status s = PX_OK;
    H5T_cset_t cset = H5Tget_cset(ftype);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mt, cset);
    if (H5Tis_variable_str(ftype) > 0) {
        H5Tset_size(mt, H5T_VARIABLE);
        char **ptrs = calloc(n ? n : 1, sizeof *ptrs);
        if (!ptrs) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory", f->path);
        else if (H5Aread(a, mt, ptrs) < 0)
            s = fail(PX_ERR_FORMAT, f->path, "cannot read string attribute '%s' of '%s'", name, obj);
        else {
            for (size_t i = 0; i < n && !s; i++)
                if (!(out[i] = strdup(ptrs[i] ? ptrs[i] : ""))) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory", f->path);
            for (size_t i = 0; i < n; i++)
                if (ptrs[i]) H5free_memory(ptrs[i]);
        }
        free(ptrs);
    } else {
        size_t size = H5Tget_size(ftype);
        H5T_str_t pad = H5Tget_strpad(ftype);
        H5Tset_size(mt, size);
        H5Tset_strpad(mt, pad);
        char *buf = (size && n <= SIZE_MAX / size) ? malloc(n * size) : NULL;
        if (!buf) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory reading attribute '%s' of '%s'", f->path, name, obj);
        else if (H5Aread(a, mt, buf) < 0)
            s = fail(PX_ERR_FORMAT, f->path, "cannot read string attribute '%s' of '%s'", name, obj);
        else {
            for (size_t i = 0; i < n && !s; i++) {
                const char *e = buf + i * size;
                size_t l = 0;
                while (l < size && e[l]) l++; /* NULLTERM and NULLPAD both end at the first NUL */
                if (pad == H5T_STR_SPACEPAD)
                    while (l > 0 && e[l - 1] == ' ') l--;
                if (!(out[i] = malloc(l + 1))) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory", f->path);
                else {
                    memcpy(out[i], e, l);
                    out[i][l] = '\0';
                }
            }
        }
        free(buf);
    }
    H5Tclose(mt);
    return s;
}

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "vlen sequence";
    case H5T_ARRAY: return "array";
    default: return "unknown";
    }
}

/* Shared by both readers: n strings, or (allow_empty_numeric) none for a
 * 0-length numeric array. */
static px_status read_attr_strings(px_h5_file *f, const char *obj, const char *name, bool want_one, char ***values,
                                   size_t *count) {
    obj = norm(obj);
    hid_t a = -1;
    px_status s = open_attr(f, obj, name, &a);
    if (s) return s;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    char **v = NULL;
    size_t n = 0;
    if (ft < 0 || sp < 0 || np < 0 || rank < 0) {
        s = fail(PX_ERR_FORMAT, f->path, "cannot inspect attribute '%s' of '%s'", name, obj);
    } else if (cls != H5T_STRING) {
        if (!want_one && np == 0 && (cls == H5T_FLOAT || cls == H5T_INTEGER)) {
            /* Keras's empty list */
        } else {
            s = px_set_error(PX_ERR_FORMAT, "%s: attribute '%s' of '%s' is not a string (HDF5 class %s)", f->path,
                             name, obj, class_name(cls));
        }
    } else if (rank > 1) {
        s = px_set_error(PX_ERR_FORMAT, "%s: attribute '%s' of '%s' has rank %d, expected a string or a 1-D list",
                         f->path, name, obj, rank);
    } else if (want_one && np != 1) {
        s = px_set_error(PX_ERR_FORMAT, "%s: attribute '%s' of '%s' holds %lld strings, expected one", f->path, name,
                         obj, (long long)np);
    } else if (np > 0) {
        n = (size_t)np;
        v = calloc(n, sizeof *v);
        if (!v) s = px_set_error(PX_ERR_NOMEM, "%s: out of memory", f->path);
        else s = read_strings(f, obj, name, a, ft, n, v);
    }
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    if (s) {
        px_h5_free_names(v, n);
        return s;
    }
    *values = v;
    *count = n;
    return PX_OK;
}

px_status px_h5_read_string_attr(px_h5_file *f, const char *obj, const char *name, char **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_read_string_attr: out is NULL");
    *out = NULL;
    px_status s = check_file(f, "px_h5_read_string_attr");
    if (s) return s;
    char **v = NULL;
    size_t n = 0;
    s = read_attr_strings(f, obj, name, true, &v, &n);
    if (s) return s;
    *out = v[0];
    free(v);
    return PX_OK;
}

px_status px_h5_read_string_array_attr(px_h5_file *f, const char *obj, const char *name, char ***values,
                                       size_t *count) {
    if (!values || !count) return px_set_error(PX_ERR_ARG, "px_h5_read_string_array_attr: NULL output");
    *values = NULL;
    *count = 0;
    px_status s = check_file(f, "px_h5_read_string_array_attr");
    if (s) return s;
    return read_attr_strings(f, obj, name, false, values, count);
}

px_status px_h5_attr_string_info(px_h5_file *f, const char *obj, const char *name, px_h5_string_info *out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_attr_string_info: out is NULL");
    memset(out, 0, sizeof *out);
    px_status s = check_file(f, "px_h5_attr_string_info");
    hid_t a = -1;
    if (s || (s = open_attr(f, obj, name, &a)) != PX_OK) return s;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    if (ft < 0 || sp < 0) s = fail(PX_ERR_FORMAT, f->path, "cannot inspect attribute '%s' of '%s'", name, norm(obj));
    else {
        out->is_string = H5Tget_class(ft) == H5T_STRING;
        out->rank = H5Sget_simple_extent_ndims(sp);
        hssize_t np = H5Sget_simple_extent_npoints(sp);
        out->count = np > 0 ? (size_t)np : 0;
        out->size = H5Tget_size(ft);
        if (out->is_string) {
            out->variable = H5Tis_variable_str(ft) > 0;
            out->cset = H5Tget_cset(ft) == H5T_CSET_UTF8 ? PX_H5_UTF8 : PX_H5_ASCII;
            H5T_str_t p = H5Tget_strpad(ft);
            out->pad = p == H5T_STR_NULLPAD ? 1 : p == H5T_STR_SPACEPAD ? 2 : 0;
        }
    }
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return s;
}

const char *px_h5_string_info_format(const px_h5_string_info *in, char *buf, size_t len) {
    char shape[32];
    if (in->rank == 0) snprintf(shape, sizeof shape, "scalar");
    else snprintf(shape, sizeof shape, "[%zu]", in->count);
    if (!in->is_string) snprintf(buf, len, "non-string (%zu-byte elements) %s", in->size, shape);
    else if (in->variable)
        snprintf(buf, len, "vlen %s %s", in->cset == PX_H5_UTF8 ? "UTF-8" : "ASCII", shape);
    else
        snprintf(buf, len, "fixed S%zu %s %s %s", in->size,
                 in->pad == 1 ? "NULLPAD" : in->pad == 2 ? "SPACEPAD" : "NULLTERM",
                 in->cset == PX_H5_UTF8 ? "UTF-8" : "ASCII", shape);
    return buf;
}

/* ---------------------------------------------------------------- datasets */

/* The groups above a dataset path (a weight name like "dense/kernel:0" nests one level). */
static px_status make_parents(px_h5_file *f, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return PX_OK;
    char *parent = strndup(path, (size_t)(slash - path));
    if (!parent) return px_set_error(PX_ERR_NOMEM, "%s: out of memory", f->path);
    px_status s = px_h5_create_group(f, parent);
    free(parent);
    return s;
}

px_status px_h5_write_tensor(px_h5_file *f, const char *path, const px_tensor *t) {
    px_status s = check_file(f, "px_h5_write_tensor");
    if (s) return s;
    if (!path || !t) return px_set_error(PX_ERR_ARG, "%s: px_h5_write_tensor: NULL path or tensor", f->path);
    if (t->rank < 0 || t->rank > PX_MAX_RANK) return px_set_error(PX_ERR_ARG, "%s: bad tensor rank %d", f->path, t->rank);
    path = norm(path);
    if ((s = make_parents(f, path))) return s;
    px_h5_kind k = kind_at(f->id, path);
    if (k == PX_H5_GROUP || k == PX_H5_OTHER)
        return px_set_error(PX_ERR_FORMAT, "%s: cannot write dataset '%s': a group or other object is there", f->path, path);
    if (k == PX_H5_DATASET && H5Ldelete(f->id, path, H5P_DEFAULT) < 0)
        return fail(PX_ERR_IO, f->path, "cannot replace dataset '%s'", path);
    px_tensor *tmp = NULL;
    const px_tensor *src = t;
    if (!px_tensor_is_contiguous(t)) {
        if (!(tmp = px_tensor_copy(t))) return px_set_error(PX_ERR_NOMEM, "%s: out of memory writing '%s'", f->path, path);
        src = tmp;
    }
    hsize_t dims[PX_MAX_RANK];
    for (int i = 0; i < t->rank; i++) dims[i] = (hsize_t)t->shape[i];
    hid_t sp = t->rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(t->rank, dims, NULL);
    hid_t ftype = t->dtype == PX_I32 ? H5T_STD_I32LE : H5T_IEEE_F32LE;
    hid_t mtype = t->dtype == PX_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
    hid_t d = H5Dcreate2(f->id, path, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) s = fail(PX_ERR_IO, f->path, "cannot create dataset '%s'", path);
    else {
        if (px_tensor_size(src) > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, src->data) < 0)
            s = fail(PX_ERR_IO, f->path, "cannot write dataset '%s'", path);
        if (H5Dclose(d) < 0 && !s) s = fail(PX_ERR_IO, f->path, "cannot write dataset '%s'", path);
    }
    H5Sclose(sp);
    px_tensor_free(tmp);
    return s;
}

static px_status open_dataset(px_h5_file *f, const char *path, hid_t *out) {
    px_h5_kind k = kind_at(f->id, path);
    if (k != PX_H5_DATASET)
        return px_set_error(PX_ERR_FORMAT, "%s: dataset '%s' %s", f->path, path,
                            k == PX_H5_NONE ? "not found" : "is not a dataset");
    *out = H5Dopen2(f->id, path, H5P_DEFAULT);
    if (*out < 0) return fail(PX_ERR_FORMAT, f->path, "cannot open dataset '%s'", path);
    return PX_OK;
}

static px_status space_shape(px_h5_file *f, const char *path, hid_t d, px_shape *out) {
    hid_t sp = H5Dget_space(d);
    if (sp < 0) return fail(PX_ERR_FORMAT, f->path, "cannot read the shape of dataset '%s'", path);
    px_status s = PX_OK;
    H5S_class_t cls = H5Sget_simple_extent_type(sp);
    int rank = H5Sget_simple_extent_ndims(sp);
    if (cls == H5S_NULL) s = px_set_error(PX_ERR_FORMAT, "%s: dataset '%s' has no data (null dataspace)", f->path, path);
    else if (rank < 0) s = fail(PX_ERR_FORMAT, f->path, "cannot read the shape of dataset '%s'", path);
    else if (rank > PX_MAX_RANK)
        s = px_set_error(PX_ERR_UNSUPPORTED, "%s: dataset '%s' has rank %d; at most %d is supported", f->path, path, rank,
                         PX_MAX_RANK);
    else {
        hsize_t dims[PX_MAX_RANK] = {0};
        H5Sget_simple_extent_dims(sp, dims, NULL);
        out->rank = rank;
        for (int i = 0; i < rank; i++) {
            if (dims[i] > (hsize_t)INT64_MAX) {
                s = px_set_error(PX_ERR_FORMAT, "%s: dataset '%s' has an absurd dimension", f->path, path);
                break;
            }
            out->dim[i] = (int64_t)dims[i];
        }
    }
    H5Sclose(sp);
    return s;
}

px_status px_h5_dataset_shape(px_h5_file *f, const char *path, px_shape *out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_dataset_shape: out is NULL");
    px_status s = check_file(f, "px_h5_dataset_shape");
    if (s) return s;
    path = norm(path);
    hid_t d = -1;
    if ((s = open_dataset(f, path, &d)) != PX_OK) return s;
    s = space_shape(f, path, d, out);
    H5Dclose(d);
    return s;
}

px_status px_h5_read_tensor(px_h5_file *f, const char *path, const px_shape *expect, px_tensor **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_h5_read_tensor: out is NULL");
    *out = NULL;
    px_status s = check_file(f, "px_h5_read_tensor");
    if (s) return s;
    path = norm(path);
    hid_t d = -1;
    if ((s = open_dataset(f, path, &d)) != PX_OK) return s;
    px_shape shape = {0};
    px_tensor *t = NULL;
    hid_t ft = H5Dget_type(d);
    H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if (ft >= 0) H5Tclose(ft);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        s = px_set_error(PX_ERR_FORMAT, "%s: dataset '%s' is not numeric (HDF5 class %s)", f->path, path, class_name(cls));
        goto done;
    }
    if ((s = space_shape(f, path, d, &shape)) != PX_OK) goto done;
    if (expect) {
        bool ok = expect->rank == shape.rank;
        for (int i = 0; ok && i < shape.rank; i++)
            if (expect->dim[i] != PX_UNKNOWN && expect->dim[i] != shape.dim[i]) ok = false;
        if (!ok) {
            char a[128], b[128];
            s = px_set_error(PX_ERR_SHAPE, "%s: dataset '%s' has shape %s, expected %s", f->path, path,
                             px_shape_format(shape, a, sizeof a), px_shape_format(*expect, b, sizeof b));
            goto done;
        }
    }
    t = px_tensor_new(PX_F32, shape);
    if (!t) {
        s = px_set_error(PX_ERR_NOMEM, "%s: out of memory for dataset '%s'", f->path, path);
        goto done;
    }
    /* HDF5 converts any integer or float type (float16 included) to float32 */
    if (px_tensor_size(t) > 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        s = fail(PX_ERR_FORMAT, f->path, "cannot read dataset '%s'", path);
        px_tensor_free(t);
        t = NULL;
    }
done:
    H5Dclose(d);
    *out = t;
    return s;
}

px_status px_h5_write_int64(px_h5_file *f, const char *path, int64_t value) {
    px_status s = check_file(f, "px_h5_write_int64");
    if (s) return s;
    path = norm(path);
    if ((s = make_parents(f, path))) return s;
    if (kind_at(f->id, path) != PX_H5_NONE)
        return px_set_error(PX_ERR_FORMAT, "%s: cannot write dataset '%s': something is there", f->path, path);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f->id, path, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) s = fail(PX_ERR_IO, f->path, "cannot create dataset '%s'", path);
    else {
        if (H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0)
            s = fail(PX_ERR_IO, f->path, "cannot write dataset '%s'", path);
        if (H5Dclose(d) < 0 && !s) s = fail(PX_ERR_IO, f->path, "cannot write dataset '%s'", path);
    }
    H5Sclose(sp);
    return s;
}

px_status px_h5_read_int64(px_h5_file *f, const char *path, int64_t *out) {
    px_status s = check_file(f, "px_h5_read_int64");
    if (s) return s;
    path = norm(path);
    hid_t d = -1;
    if ((s = open_dataset(f, path, &d)) != PX_OK) return s;
    px_shape shape = {0};
    hid_t ft = H5Dget_type(d);
    H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if (ft >= 0) H5Tclose(ft);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        s = px_set_error(PX_ERR_FORMAT, "%s: dataset '%s' is not numeric (HDF5 class %s)", f->path, path, class_name(cls));
    if (!s) s = space_shape(f, path, d, &shape);
    if (!s && px_shape_size(shape) != 1)
        s = px_set_error(PX_ERR_FORMAT, "%s: dataset '%s' is not a single number", f->path, path);
    /* HDF5 converts any integer or float type */
    if (!s && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        s = fail(PX_ERR_FORMAT, f->path, "cannot read dataset '%s'", path);
    H5Dclose(d);
    return s;
}
