/* Devices: their names ("cpu", "ref", "cuda:N"), the current one (px_set_device
 * or PX_DEVICE), opening the CUDA module at run time with dlopen so that the
 * library runs where CUDA is absent, one-time fallback warnings, and mirrors
 * (a host block and its copy on a device). */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/module.h"
#include "plexus/backend.h"

enum { MAX_CUDA = 16 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static px_backend *current;     /* NULL: not decided yet */
static bool env_read;
static char env_error[512];     /* why PX_DEVICE could not be honoured */

/* ---------------------------------------------------------- warnings ---- */

/* Messages already printed (keys), so each warns once per process. */
static char **warned;
static int n_warned;

static bool first_time(const char *key) {
    for (int i = 0; i < n_warned; i++)
        if (strcmp(warned[i], key) == 0) return false;
    char **w = realloc(warned, (size_t)(n_warned + 1) * sizeof *w);
    char *copy = strdup(key);
    if (!w || !copy) {
        free(copy);
        if (w) warned = w;
        return true; /* out of memory: warning twice is the lesser harm */
    }
    warned = w;
    warned[n_warned++] = copy;
    return true;
}

static void warn_once(const char *key, const char *fmt, ...) {
    pthread_mutex_lock(&lock);
    bool first = first_time(key);
    pthread_mutex_unlock(&lock);
    if (!first) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "plexus: warning: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void px_backend_warn_fallback(const px_backend *b, const char *op, bool backward) {
    char key[160];
    snprintf(key, sizeof key, "fallback/%s/%s/%d", b->name, op, (int)backward);
    warn_once(key, "%s has no kernel for the %s pass of op '%s'; it runs on the CPU, with copies", b->name,
              backward ? "backward" : "forward", op);
}

/* ------------------------------------------------------- CUDA module ---- */

static const px_device_module *cuda_mod;
static bool cuda_tried;
static char cuda_why[512];
static px_backend *cuda_dev[MAX_CUDA];

#ifdef PX_CUDA_MODULE_NAME
static const px_host_api host_api = {PX_DEVICE_MODULE_VERSION, px_set_error, warn_once};

/* Directory of the file holding this code (libplexus.so, or the program when
 * Plexus is linked statically), with a trailing slash, or "". */
static void own_dir(char *buf, size_t len) {
    Dl_info info;
    buf[0] = 0;
    if (!dladdr((void *)own_dir, &info) || !info.dli_fname) return;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return;
    size_t n = (size_t)(slash - info.dli_fname) + 1;
    if (n < len) {
        memcpy(buf, info.dli_fname, n);
        buf[n] = 0;
    }
}
#endif

/* Opens the module, trying PX_CUDA_MODULE, then beside the library, then the
 * installed and the build-tree paths CMake recorded. Called with the lock held. */
static void load_cuda_module(void) {
    if (cuda_tried) return;
    cuda_tried = true;
#ifndef PX_CUDA_MODULE_NAME
    snprintf(cuda_why, sizeof cuda_why, "this Plexus was built without CUDA (configure with -DPX_CUDA=ON)");
#else
    char dir[1024], beside[1200], errors[2048] = "";
    own_dir(dir, sizeof dir);
    snprintf(beside, sizeof beside, "%s%s", dir, PX_CUDA_MODULE_NAME);
    const char *env = getenv("PX_CUDA_MODULE");
    const char *paths[] = {env && *env ? env : NULL, beside,
#ifdef PX_CUDA_MODULE_INSTALLED
                           PX_CUDA_MODULE_INSTALLED,
#endif
#ifdef PX_CUDA_MODULE_BUILT
                           PX_CUDA_MODULE_BUILT,
#endif
                           NULL};
    size_t n_paths = sizeof paths / sizeof paths[0];
    void *h = NULL;
    for (size_t i = 0; i < n_paths && !h; i++) {
        if (!paths[i]) continue;
        h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            size_t used = strlen(errors);
            snprintf(errors + used, sizeof errors - used, "%s%s", used ? "; " : "", e ? e : paths[i]);
        }
        if (env && *env && i == 0) break; /* an explicit path is the only one tried */
    }
    if (!h) {
        snprintf(cuda_why, sizeof cuda_why, "the CUDA module could not be loaded (%s)", errors);
        return;
    }
    px_device_module_open_fn open_fn;
    *(void **)&open_fn = dlsym(h, PX_DEVICE_MODULE_SYMBOL);
    const px_device_module *m = open_fn ? open_fn(&host_api) : NULL;
    if (!m || m->version != PX_DEVICE_MODULE_VERSION) {
        snprintf(cuda_why, sizeof cuda_why, "the CUDA module %s (version %d, this library needs %d)",
                 open_fn ? "is of another version" : "has no entry point", m ? m->version : -1,
                 PX_DEVICE_MODULE_VERSION);
        dlclose(h);
        return;
    }
    cuda_mod = m; /* kept open for the life of the process */
#endif
}

/* Number of CUDA devices; 0 with the reason in cuda_why. Lock held. */
static int cuda_count(void) {
    load_cuda_module();
    if (!cuda_mod) return 0;
    char why[256] = "";
    int n = cuda_mod->device_count(why, sizeof why);
    if (n <= 0) snprintf(cuda_why, sizeof cuda_why, "%s", why[0] ? why : "no CUDA device is present");
    return n > MAX_CUDA ? MAX_CUDA : n;
}

/* ------------------------------------------------------------ naming ---- */

/* Lock held. */
static px_backend *open_by_name(const char *name) {
    if (!name || !*name || strcmp(name, "cpu") == 0) return px_backend_cpu();
    if (strcmp(name, "ref") == 0) return px_backend_ref();
    int index = 0;
    const char *rest = NULL;
    if (strncmp(name, "cuda", 4) == 0) rest = name + 4;
    else if (strncmp(name, "gpu", 3) == 0) rest = name + 3;
    if (!rest || (*rest && *rest != ':')) {
        px_set_error(PX_ERR_ARG, "unknown device '%s' (known: cpu, ref, cuda, cuda:N)", name);
        return NULL;
    }
    if (*rest == ':') {
        char *end;
        long v = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || *end || v < 0 || v >= MAX_CUDA) {
            px_set_error(PX_ERR_ARG, "device '%s': the index after ':' must be 0..%d", name, MAX_CUDA - 1);
            return NULL;
        }
        index = (int)v;
    }
    int n = cuda_count();
    if (n == 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "device '%s': no CUDA device: %s", name, cuda_why);
        return NULL;
    }
    if (index >= n) {
        px_set_error(PX_ERR_ARG, "device '%s': there %s %d CUDA device%s (cuda:0%s)", name, n == 1 ? "is" : "are", n,
                     n == 1 ? "" : "s", n == 1 ? "" : " ...");
        return NULL;
    }
    if (!cuda_dev[index]) cuda_dev[index] = cuda_mod->open(index);
    return cuda_dev[index];
}

px_backend *px_backend_by_name(const char *name) {
    pthread_mutex_lock(&lock);
    px_backend *b = open_by_name(name);
    pthread_mutex_unlock(&lock);
    return b;
}

/* The first time: PX_DEVICE, when set, chooses the device. Lock held. */
static void read_env(void) {
    if (env_read) return;
    env_read = true;
    const char *e = getenv("PX_DEVICE");
    if (!e || !*e) return;
    px_backend *b = open_by_name(e);
    if (b) current = b;
    else snprintf(env_error, sizeof env_error, "PX_DEVICE=%s: %s", e, px_last_error());
}

px_backend *px_backend_current(void) {
    pthread_mutex_lock(&lock);
    read_env();
    px_backend *b = env_error[0] ? NULL : current ? current : px_backend_cpu();
    if (!b) px_set_error(PX_ERR_UNSUPPORTED, "%s", env_error);
    pthread_mutex_unlock(&lock);
    return b;
}

/* ------------------------------------------------------------ public ---- */

px_status px_set_device(const char *name) {
    pthread_mutex_lock(&lock);
    env_read = true; /* an explicit choice overrides PX_DEVICE */
    px_backend *b = open_by_name(name);
    if (b) {
        current = b;
        env_error[0] = 0;
    }
    pthread_mutex_unlock(&lock);
    return b ? PX_OK : px_last_status();
}

const char *px_device(void) {
    px_backend *b = px_backend_current();
    return b ? b->name : "";
}

int px_device_list(px_device_info *out, int max) {
    int count = 0;
    if (max < 0 || (max > 0 && !out)) max = 0;
    pthread_mutex_lock(&lock);
    px_device_info all[2 + MAX_CUDA];
    memset(all, 0, sizeof all);
    snprintf(all[count].name, sizeof all[count].name, "cpu");
    snprintf(all[count++].description, sizeof all[0].description, "the processor (%s BLAS)", px_blas_name());
    snprintf(all[count].name, sizeof all[count].name, "ref");
    snprintf(all[count++].description, sizeof all[0].description,
             "reference device: host memory run as a separate device, for tests");
    int n = cuda_count();
    for (int i = 0; i < n; i++) {
        px_device_info *d = &all[count++];
        char model[64] = "";
        snprintf(d->name, sizeof d->name, "cuda:%d", i);
        if (cuda_mod->device_info(i, model, sizeof model, &d->memory_bytes) != PX_OK) snprintf(model, sizeof model, "?");
        snprintf(d->description, sizeof d->description, "%s, %.0f GiB", model,
                 (double)d->memory_bytes / (1024.0 * 1024.0 * 1024.0));
    }
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < count && i < max; i++) out[i] = all[i];
    return count;
}

const char *px_cuda_unavailable_reason(void) {
    pthread_mutex_lock(&lock);
    int n = cuda_count();
    pthread_mutex_unlock(&lock);
    return n > 0 ? "" : cuda_why;
}

/* ----------------------------------------------------------- mirrors ---- */

px_status px_mirror_to_device(px_mirror *m, px_backend *b, const void *host, size_t bytes) {
    if (m->b != b || m->bytes != bytes) {
        if (m->b && m->host_stale) /* another device's changes come home first */
            return px_set_error(PX_ERR_STATE, "mirror: the copy on %s has changes the host lacks", m->b->name);
        px_mirror_free(m);
        if (b->ops->alloc(b, bytes, &m->dev) != PX_OK) return px_last_status();
        m->b = b;
        m->bytes = bytes;
    }
    if (!m->dev_true && bytes && b->ops->upload(b, m->dev, host, bytes) != PX_OK) return px_last_status();
    return PX_OK;
}

void px_mirror_written_on_device(px_mirror *m) {
    if (m->b) m->dev_true = m->host_stale = true;
}

px_status px_mirror_to_host(px_mirror *m, void *host, bool will_write) {
    if (!m->b) return PX_OK;
    if (m->host_stale && m->bytes && m->b->ops->download(m->b, host, m->dev, m->bytes) != PX_OK)
        return px_last_status();
    m->host_stale = false;
    if (will_write) m->dev_true = false;
    return PX_OK;
}

void px_mirror_free(px_mirror *m) {
    if (m->b && m->dev) m->b->ops->free(m->b, m->dev);
    memset(m, 0, sizeof *m);
}
