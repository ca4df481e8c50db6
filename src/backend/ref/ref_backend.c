/* The reference device: host memory that behaves like a separate device. Its
 * buffers are mappings of their own that stay inaccessible (PROT_NONE) except
 * while the device itself copies or computes, so any CPU code that touches
 * device memory without an explicit copy crashes in the tests instead of
 * silently working; every kernel checks that all its pointers are the
 * device's. It records steps for replay as CUDA graphs do (the work is kept,
 * not run, until replayed), so the session's replay path is tested too. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/ref/ref.h"

typedef struct region {
    char *base;
    size_t bytes, mapped;
} region;

static pthread_mutex_t ref_lock = PTHREAD_MUTEX_INITIALIZER;
static region *regions;
static int n_regions, cap_regions;
static bool lacking[PX_K_COUNT];

/* ------------------------------------------------------------ memory ---- */

static void protect_all(int prot) {
    for (int i = 0; i < n_regions; i++) mprotect(regions[i].base, regions[i].mapped, prot);
}
/* Device memory is readable only between open_device and close_device. */
static void open_device(void) {
    pthread_mutex_lock(&ref_lock);
    protect_all(PROT_READ | PROT_WRITE);
}
static void close_device(void) {
    protect_all(PROT_NONE);
    pthread_mutex_unlock(&ref_lock);
}

/* The region holding [p, p + bytes), or NULL. Lock held. */
static const region *owner(const void *p, size_t bytes) {
    const char *c = p;
    for (int i = 0; i < n_regions; i++)
        if (c >= regions[i].base && c + bytes <= regions[i].base + regions[i].bytes && c + bytes >= c) return &regions[i];
    return NULL;
}

static px_status ref_alloc(px_backend *b, size_t bytes, void **out) {
    (void)b;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), mapped = (bytes + page - 1) / page * page;
    if (!mapped) mapped = page;
    void *p = mmap(NULL, mapped, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return px_set_error(PX_ERR_NOMEM, "ref device: out of memory for %zu bytes", bytes);
    pthread_mutex_lock(&ref_lock);
    if (n_regions == cap_regions) {
        int cap = cap_regions ? 2 * cap_regions : 16;
        region *r = realloc(regions, (size_t)cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&ref_lock);
            munmap(p, mapped);
            return px_set_error(PX_ERR_NOMEM, "ref device: out of memory");
        }
        regions = r;
        cap_regions = cap;
    }
    regions[n_regions++] = (region){p, bytes, mapped};
    pthread_mutex_unlock(&ref_lock);
    *out = p; /* anonymous mappings are zero-filled */
    return PX_OK;
}

static void ref_free(px_backend *b, void *p) {
    (void)b;
    if (!p) return;
    pthread_mutex_lock(&ref_lock);
    for (int i = 0; i < n_regions; i++)
        if (regions[i].base == p) {
            munmap(p, regions[i].mapped);
            regions[i] = regions[--n_regions];
            break;
        }
    pthread_mutex_unlock(&ref_lock);
}

int px_ref_buffer_count(void) {
    pthread_mutex_lock(&ref_lock);
    int n = n_regions;
    pthread_mutex_unlock(&ref_lock);
    return n;
}

/* ---------------------------------------------------------- recording ---- */

typedef enum { R_FORWARD, R_BACKWARD, R_ZERO, R_COPY, R_ACCUMULATE, R_OPTIM, R_ALL_REDUCE } rec_kind;

typedef struct rec_entry {
    rec_kind kind;
    px_kernel *k;        /* R_FORWARD, R_BACKWARD: a deep copy */
    px_optim_kernel opt; /* R_OPTIM */
    void *dst;
    const void *src;
    size_t bytes;
} rec_entry;

typedef struct recording {
    rec_entry *e;
    int n, cap;
} recording;

static recording *rec; /* the step being recorded, or NULL */

/* One block holding a copy of the descriptor, its tensors, tables and attributes,
 * as a launch keeps its arguments: later changes to the original do not reach it. */
static px_kernel *clone_kernel(const px_kernel *k, bool backward) {
    int n = k->n_in;
    size_t bytes = sizeof(px_kernel) + (size_t)(2 * n + 2) * sizeof(px_tensor) + (size_t)n * sizeof(px_tensor *) * 2 +
                   (size_t)n * sizeof(bool) + PX_KERNEL_IATTR * sizeof(int64_t) + PX_KERNEL_FATTR * sizeof(float) + 64;
    char *p = calloc(1, bytes);
    if (!p) return NULL;
    px_kernel *c = (px_kernel *)p;
    *c = *k;
    px_tensor *t = (px_tensor *)(c + 1);
    const px_tensor **in = (const px_tensor **)(t + 2 * n + 2);
    px_tensor **gin = (px_tensor **)(in + n);
    int64_t *ia = (int64_t *)(gin + n);
    float *fa = (float *)(ia + PX_KERNEL_IATTR);
    bool *fresh = (bool *)(fa + PX_KERNEL_FATTR);
    for (int i = 0; i < n; i++) {
        t[i] = *k->in[i];
        in[i] = &t[i];
        gin[i] = NULL;
        if (backward && k->gin[i]) {
            t[n + i] = *k->gin[i];
            gin[i] = &t[n + i];
        }
        fresh[i] = k->fresh && k->fresh[i];
    }
    t[2 * n] = *k->out;
    c->out = &t[2 * n];
    if (backward) {
        t[2 * n + 1] = *k->gout;
        c->gout = &t[2 * n + 1];
    }
    memcpy(ia, k->iattr, PX_KERNEL_IATTR * sizeof(int64_t));
    memcpy(fa, k->fattr, PX_KERNEL_FATTR * sizeof(float));
    c->in = in;
    c->gin = backward ? gin : NULL;
    c->fresh = backward ? fresh : NULL;
    c->iattr = ia;
    c->fattr = fa;
    return c;
}

static px_status record(rec_entry e) {
    if (rec->n == rec->cap) {
        int cap = rec->cap ? 2 * rec->cap : 64;
        rec_entry *ne = realloc(rec->e, (size_t)cap * sizeof *ne);
        if (!ne) {
            free(e.k);
            return px_set_error(PX_ERR_NOMEM, "ref device: out of memory while recording a step");
        }
        rec->e = ne;
        rec->cap = cap;
    }
    rec->e[rec->n++] = e;
    return PX_OK;
}

/* --------------------------------------------------- checked execution ---- */

static px_status foreign(const char *what, const char *op, const char *part) {
    return px_set_error(PX_ERR_STATE, "ref device: %s%s%s was given memory that is not the device's (%s)", what,
                        op ? " of op " : "", op ? op : "", part);
}

/* Every pointer the kernel will touch lies in device memory. Lock held. */
static px_status check_kernel(const px_kernel *k, bool backward) {
    const char *what = backward ? "the backward pass" : "the forward pass";
    for (int i = 0; i < k->n_in; i++) {
        size_t b = (size_t)px_tensor_size(k->in[i]) * 4;
        if (b && !owner(k->in[i]->data, b)) return foreign(what, k->name, "an input");
        if (backward && k->gin && k->gin[i] && b && !owner(k->gin[i]->data, b))
            return foreign(what, k->name, "an input's gradient");
    }
    size_t ob = (size_t)px_tensor_size(k->out) * 4;
    if (ob && !owner(k->out->data, ob)) return foreign(what, k->name, "the output");
    if (backward && ob && !owner(k->gout->data, ob)) return foreign(what, k->name, "the output's gradient");
    if (k->state_bytes && !owner(k->state, k->state_bytes)) return foreign(what, k->name, "the state");
    if (k->work_bytes && !owner(k->work, k->work_bytes)) return foreign(what, k->name, "the scratch");
    return PX_OK;
}

static px_status check_optim(const px_optim_kernel *k) {
    size_t b = (size_t)k->n * 4;
    if (b && (!owner(k->params, b) || !owner(k->grads, b))) return foreign("an optimizer step", NULL, "parameters");
    for (int i = 0; i < 3; i++)
        if (k->slots[i] && b && !owner(k->slots[i], b)) return foreign("an optimizer step", NULL, "a slot");
    if (!owner(k->coef, PX_OC_COUNT * sizeof(float))) return foreign("an optimizer step", NULL, "coefficients");
    if (k->segments && !owner(k->segments, (size_t)k->n_segments * sizeof(int64_t)))
        return foreign("an optimizer step", NULL, "segments");
    if (!owner(k->work, px_optim_work_bytes(k->n_segments))) return foreign("an optimizer step", NULL, "scratch");
    return PX_OK;
}

/* Runs one entry with the device open. Lock held. */
static px_status run_entry(const rec_entry *e) {
    switch (e->kind) {
    case R_FORWARD:
    case R_BACKWARD: {
        bool bwd = e->kind == R_BACKWARD;
        px_status st = check_kernel(e->k, bwd);
        if (st == PX_OK) st = bwd ? px_ref_kernel_backward(e->k) : px_ref_kernel_forward(e->k);
        return st;
    }
    case R_ZERO:
        if (e->bytes && !owner(e->dst, e->bytes)) return foreign("zero", NULL, "destination");
        if (e->bytes) memset(e->dst, 0, e->bytes);
        return PX_OK;
    case R_COPY:
        if (e->bytes && (!owner(e->dst, e->bytes) || !owner(e->src, e->bytes))) return foreign("copy", NULL, "buffers");
        if (e->bytes && e->dst != e->src) memmove(e->dst, e->src, e->bytes);
        return PX_OK;
    case R_ACCUMULATE:
        if (e->bytes && (!owner(e->dst, e->bytes) || !owner(e->src, e->bytes)))
            return foreign("accumulate", NULL, "buffers");
        return px_ref_kernel_accumulate(e->dst, e->src, (int64_t)(e->bytes / sizeof(float)));
    case R_OPTIM: {
        px_status st = check_optim(&e->opt);
        return st ? st : px_ref_kernel_optimizer(&e->opt);
    }
    case R_ALL_REDUCE:
        if (e->bytes && !owner(e->dst, e->bytes)) return foreign("an all-reduce", NULL, "the data");
        return e->bytes ? px_ref_comm_sum(e->dst, (int64_t)(e->bytes / sizeof(float))) : PX_OK;
    }
    return PX_OK;
}

/* Runs the entry now, or keeps it when a step is being recorded. */
static px_status submit(rec_entry e) {
    if (rec) {
        pthread_mutex_lock(&ref_lock);
        px_status st = record(e);
        pthread_mutex_unlock(&ref_lock);
        return st;
    }
    open_device();
    px_status st = run_entry(&e);
    close_device();
    return st;
}

static px_status submit_kernel(const px_kernel *k, bool backward) {
    rec_entry e = {backward ? R_BACKWARD : R_FORWARD, NULL, {0}, NULL, NULL, 0};
    if (!rec) {
        e.k = (px_kernel *)k;
        return submit(e);
    }
    if (!(e.k = clone_kernel(k, backward))) return px_set_error(PX_ERR_NOMEM, "ref device: out of memory");
    return submit(e);
}

/* ------------------------------------------------------------- copies ---- */

static px_status no_host_copy_while_recording(const char *what) {
    return px_set_error(PX_ERR_STATE, "ref device: %s while a step is being recorded (a recorded step holds "
                                      "device work only)", what);
}

/* Host buffers handed out (as a GPU's page-locked ones), so tests can see
 * that uploads come from them (px_ref_host_uploads). Lock held. */
enum { MAX_HOST = 64 };
static struct {
    const char *p;
    size_t bytes;
} host_bufs[MAX_HOST];
static int host_uploads;
int px_ref_host_uploads(void) { return host_uploads; }

static bool from_host_buffer(const void *p, size_t bytes) {
    for (int i = 0; i < MAX_HOST; i++)
        if (host_bufs[i].p && (const char *)p >= host_bufs[i].p &&
            (const char *)p + bytes <= host_bufs[i].p + host_bufs[i].bytes)
            return true;
    return false;
}

static px_status ref_upload(px_backend *b, void *dst, const void *src, size_t bytes) {
    (void)b;
    if (rec) return no_host_copy_while_recording("upload");
    if (!bytes) return PX_OK;
    open_device();
    px_status st = owner(dst, bytes) ? PX_OK : foreign("an upload", NULL, "destination");
    if (st == PX_OK && owner(src, 1)) st = foreign("an upload", NULL, "the source is device memory");
    if (st == PX_OK) memcpy(dst, src, bytes);
    if (st == PX_OK && from_host_buffer(src, bytes)) host_uploads++;
    close_device();
    return st;
}

static px_status ref_download(px_backend *b, void *dst, const void *src, size_t bytes) {
    (void)b;
    if (rec) return no_host_copy_while_recording("download");
    if (!bytes) return PX_OK;
    open_device();
    px_status st = owner(src, bytes) ? PX_OK : foreign("a download", NULL, "source");
    if (st == PX_OK && owner(dst, 1)) st = foreign("a download", NULL, "the destination is device memory");
    if (st == PX_OK) memcpy(dst, src, bytes);
    close_device();
    return st;
}

static px_status ref_copy(px_backend *b, void *dst, const void *src, size_t bytes) {
    (void)b;
    return submit((rec_entry){R_COPY, NULL, {0}, dst, src, bytes});
}
static px_status ref_zero(px_backend *b, void *dst, size_t bytes) {
    (void)b;
    return submit((rec_entry){R_ZERO, NULL, {0}, dst, NULL, bytes});
}
static px_status ref_accumulate(px_backend *b, float *dst, const float *src, int64_t n) {
    (void)b;
    return submit((rec_entry){R_ACCUMULATE, NULL, {0}, dst, src, (size_t)n * sizeof(float)});
}
static px_status ref_sync(px_backend *b) {
    (void)b;
    return PX_OK;
}
static px_status ref_host_alloc(px_backend *b, size_t bytes, void **out) {
    (void)b;
    *out = calloc(1, bytes ? bytes : 1);
    if (!*out) return px_set_error(PX_ERR_NOMEM, "ref device: out of host memory for %zu bytes", bytes);
    pthread_mutex_lock(&ref_lock);
    for (int i = 0; i < MAX_HOST; i++)
        if (!host_bufs[i].p) {
            host_bufs[i].p = *out, host_bufs[i].bytes = bytes;
            break;
        }
    pthread_mutex_unlock(&ref_lock);
    return PX_OK;
}
static void ref_host_free(px_backend *b, void *p) {
    (void)b;
    pthread_mutex_lock(&ref_lock);
    for (int i = 0; p && i < MAX_HOST; i++)
        if (host_bufs[i].p == p) host_bufs[i].p = NULL;
    pthread_mutex_unlock(&ref_lock);
    free(p);
}

/* ------------------------------------------------------------ kernels ---- */

static bool ref_supports(px_backend *b, const px_kernel *k, bool backward) {
    (void)b, (void)backward;
    return (unsigned)k->code < PX_K_COUNT && !lacking[k->code] && px_ref_kernel_supports(k);
}
static size_t ref_work_bytes(px_backend *b, const px_kernel *k, bool backward) {
    (void)b;
    return px_ref_kernel_work_bytes(k, backward);
}
static size_t ref_state_bytes(px_backend *b, const px_kernel *k, size_t cpu_bytes) {
    (void)b;
    return px_ref_kernel_state_bytes(k, cpu_bytes);
}
static px_status ref_forward(px_backend *b, const px_kernel *k) {
    (void)b;
    return submit_kernel(k, false);
}
static px_status ref_backward(px_backend *b, const px_kernel *k) {
    (void)b;
    return submit_kernel(k, true);
}
static px_status ref_optimizer(px_backend *b, const px_optim_kernel *k) {
    (void)b;
    return submit((rec_entry){R_OPTIM, NULL, *k, NULL, NULL, 0});
}

/* ---------------------------------------------------- record / replay ---- */

static void free_recording(recording *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->e[i].k);
    free(r->e);
    free(r);
}

static px_status ref_record_begin(px_backend *b) {
    (void)b;
    if (rec) return px_set_error(PX_ERR_STATE, "ref device: a step is already being recorded");
    rec = calloc(1, sizeof *rec);
    return rec ? PX_OK : px_set_error(PX_ERR_NOMEM, "ref device: out of memory");
}
static px_status ref_record_end(px_backend *b, void **step) {
    (void)b;
    if (!rec) return px_set_error(PX_ERR_STATE, "ref device: no step is being recorded");
    *step = rec;
    rec = NULL;
    return PX_OK;
}
static int replays;
int px_ref_replays(void) { return replays; }

static px_status ref_replay(px_backend *b, void *step) {
    (void)b;
    recording *r = step;
    replays++;
    if (rec) return px_set_error(PX_ERR_STATE, "ref device: cannot replay while recording");
    open_device();
    px_status st = PX_OK;
    for (int i = 0; i < r->n && st == PX_OK; i++) st = run_entry(&r->e[i]);
    close_device();
    return st;
}
static void ref_step_free(px_backend *b, void *step) {
    (void)b;
    free_recording(step);
}

/* ------------------------------------ sums between processes (ref_comm.c) ---- */

static px_status ref_comm_id(px_backend *b, void *id) {
    (void)b;
    return px_ref_comm_id(id);
}
static px_status ref_comm_init(px_backend *b, const void *id, int n_ranks, int rank) {
    (void)b;
    return px_ref_comm_init(id, n_ranks, rank);
}
/* In order with the queued work, like any other (a recorded step holds it,
 * and every process replays its sums in the same order). */
static px_status ref_all_reduce_sum(px_backend *b, float *data, int64_t n) {
    (void)b;
    return submit((rec_entry){R_ALL_REDUCE, NULL, {0}, data, NULL, n > 0 ? (size_t)n * sizeof(float) : 0});
}
/* The device runs each sum as it comes: every one is done already. */
static px_status ref_all_reduce_wait(px_backend *b) {
    (void)b;
    return PX_OK;
}

void px_ref_set_lacking(px_kcode code, bool lack) {
    if ((unsigned)code < PX_K_COUNT) lacking[code] = lack;
}

static const px_backend_ops ref_ops = {
    .alloc = ref_alloc,
    .free = ref_free,
    .upload = ref_upload,
    .download = ref_download,
    .copy = ref_copy,
    .zero = ref_zero,
    .accumulate = ref_accumulate,
    .sync = ref_sync,
    .host_alloc = ref_host_alloc,
    .host_free = ref_host_free,
    .supports = ref_supports,
    .work_bytes = ref_work_bytes,
    .state_bytes = ref_state_bytes,
    .forward = ref_forward,
    .backward = ref_backward,
    .optimizer_step = ref_optimizer,
    .record_begin = ref_record_begin,
    .record_end = ref_record_end,
    .replay = ref_replay,
    .step_free = ref_step_free,
    .comm_id = ref_comm_id,
    .comm_init = ref_comm_init,
    .all_reduce_sum = ref_all_reduce_sum,
    .all_reduce_wait = ref_all_reduce_wait,
};

static px_backend ref = {&ref_ops, "ref", false, NULL};

px_backend *px_backend_ref(void) { return &ref; }
