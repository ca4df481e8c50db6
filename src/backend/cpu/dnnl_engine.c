/* The oneDNN engine and per-thread caches shared by gemm_bf16.c, gemm_packed.c and
 * the oneDNN convolutions: one engine per process, and per thread a stream, the
 * primitives of the latest shapes and scratch buffers, freed when the thread exits. */
#include "backend/cpu/dnnl_engine.h"

#ifdef PX_DNNL_USABLE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

dnnl_engine_t px_dnnl_engine(void) {
    pthread_once(&engine_once, engine_init);
    return engine;
}

/* Per thread so that each primitive runs on the thread that made it (dnnl_engine.h). A thread's cache is
 * freed by a pthread key's destructor when the thread exits: OpenMP replaces its
 * workers when the thread count changes, and a program may call from threads of
 * its own, so caches of finished threads would otherwise pile up. Until then
 * each is linked from a global list (reachable, and counted for the tests). */
#define PX_DNNL_CACHED 32

typedef struct cache_entry {
    int64_t key[PX_DNNL_KEY_WORDS];
    int key_len; /* 0: the slot is empty */
    bool refused;
    px_dnnl_prim prim;
} cache_entry;

typedef struct thread_cache {
    cache_entry e[PX_DNNL_CACHED];
    int used, next; /* entries filled; the one to replace next when all are */
    dnnl_stream_t stream;
    void *scratch[PX_DNNL_SCRATCH];
    size_t scratch_len[PX_DNNL_SCRATCH];
    struct thread_cache *link;
} thread_cache;

static _Thread_local thread_cache *my_cache;
static _Atomic long made; /* px_dnnl_made */
static thread_cache *all_caches;
static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t cache_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_made;

static void prim_clear(px_dnnl_prim *p) {
    for (int i = 0; i < p->n_mem; i++) dnnl_memory_destroy(p->mem[i]);
    if (p->p) dnnl_primitive_destroy(p->p);
    memset(p, 0, sizeof *p);
}

/* The destructor of cache_key: runs on the exiting thread, which made the primitives. */
static void cache_free(void *p) {
    thread_cache *tc = p;
    pthread_mutex_lock(&caches_lock);
    for (thread_cache **at = &all_caches; *at; at = &(*at)->link)
        if (*at == tc) {
            *at = tc->link;
            break;
        }
    pthread_mutex_unlock(&caches_lock);
    for (int i = 0; i < tc->used; i++) prim_clear(&tc->e[i].prim);
    if (tc->stream) dnnl_stream_destroy(tc->stream);
    for (int i = 0; i < PX_DNNL_SCRATCH; i++) free(tc->scratch[i]);
    free(tc);
    my_cache = NULL;
}

static void key_init(void) { key_made = pthread_key_create(&cache_key, cache_free) == 0; }

/* This thread's cache, made on first use; NULL when out of memory. */
static thread_cache *cache_of_thread(void) {
    if (my_cache) return my_cache;
    pthread_once(&key_once, key_init);
    thread_cache *tc = key_made ? calloc(1, sizeof *tc) : NULL;
    if (!tc) return NULL;
    if (pthread_setspecific(cache_key, tc) != 0) {
        free(tc);
        return NULL;
    }
    pthread_mutex_lock(&caches_lock);
    tc->link = all_caches;
    all_caches = tc;
    pthread_mutex_unlock(&caches_lock);
    return my_cache = tc;
}

int px_dnnl_thread_caches(void) {
    int n = 0;
    pthread_mutex_lock(&caches_lock);
    for (const thread_cache *tc = all_caches; tc; tc = tc->link) n++;
    pthread_mutex_unlock(&caches_lock);
    return n;
}

bool px_dnnl_add_mem(px_dnnl_prim *out, dnnl_engine_t e, const dnnl_memory_desc_t *md, int arg) {
    if (out->n_mem >= PX_DNNL_MEMS || dnnl_memory_create(&out->mem[out->n_mem], md, e, DNNL_MEMORY_NONE) != dnnl_success)
        return false;
    out->args[out->n_mem++] = arg;
    return true;
}

const px_dnnl_prim *px_dnnl_cached(const int64_t *key, int key_len, px_dnnl_make_fn make) {
    thread_cache *tc = cache_of_thread();
    if (!tc || key_len < 1 || key_len > PX_DNNL_KEY_WORDS || !px_dnnl_engine()) return NULL;
    size_t bytes = (size_t)key_len * sizeof *key;
    for (int i = 0; i < tc->used; i++) {
        cache_entry *c = &tc->e[i];
        if (c->key_len == key_len && !memcmp(c->key, key, bytes)) return c->refused ? NULL : &c->prim;
    }
    int slot = tc->used;
    if (tc->used < PX_DNNL_CACHED)
        tc->used++;
    else /* full: replace the oldest */
        slot = tc->next, tc->next = (tc->next + 1) % PX_DNNL_CACHED;
    cache_entry *c = &tc->e[slot];
    prim_clear(&c->prim);
    memcpy(c->key, key, bytes);
    c->key_len = key_len;
    made++;
    c->refused = !make(key, key_len, engine, &c->prim);
    if (c->refused) prim_clear(&c->prim);
    return c->refused ? NULL : &c->prim;
}

long px_dnnl_made(void) { return made; }

bool px_dnnl_execute(const px_dnnl_prim *e, void *const *data) {
    thread_cache *tc = cache_of_thread();
    if (!tc) return false;
    if (!tc->stream && dnnl_stream_create(&tc->stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        tc->stream = NULL;
        return false;
    }
    dnnl_exec_arg_t args[PX_DNNL_MEMS];
    for (int i = 0; i < e->n_mem; i++) {
        if (dnnl_memory_set_data_handle(e->mem[i], data[i]) != dnnl_success) return false;
        args[i] = (dnnl_exec_arg_t){e->args[i], e->mem[i]};
    }
    return dnnl_primitive_execute(e->p, tc->stream, e->n_mem, args) == dnnl_success &&
           dnnl_stream_wait(tc->stream) == dnnl_success;
}

void *px_dnnl_scratch(int slot, size_t bytes) {
    thread_cache *tc = cache_of_thread();
    if (!tc || slot < 0 || slot >= PX_DNNL_SCRATCH) return NULL;
    if (bytes > tc->scratch_len[slot]) {
        void *p = realloc(tc->scratch[slot], bytes);
        if (!p) return NULL;
        tc->scratch[slot] = p, tc->scratch_len[slot] = bytes;
    }
    return tc->scratch[slot];
}

#else

int px_dnnl_thread_caches(void) { return 0; }

#endif
