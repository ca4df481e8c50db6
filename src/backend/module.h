/* Internal: the contract between the library and a device module that it opens
 * at run time with dlopen (the CUDA backend, libplexus_cuda.so). The module
 * exports one function, px_device_module_open; it calls back into the library
 * only through px_host_api, so it works whether Plexus was linked statically
 * or as a shared library. */
#ifndef PX_BACKEND_MODULE_H
#define PX_BACKEND_MODULE_H

#include <stddef.h>

#include "backend/backend.h"

/* Bumped whenever these structs, px_backend_ops or px_kernel change: a module
 * of another version is refused with a clear message. */
#define PX_DEVICE_MODULE_VERSION 1
#define PX_DEVICE_MODULE_SYMBOL "px_device_module_open"

typedef struct px_host_api {
    int version;
    /* px_set_error of the library that opened the module */
    px_status (*set_error)(px_status s, const char *fmt, ...);
    /* prints "plexus: warning: ..." once per distinct message */
    void (*warn_once)(const char *key, const char *fmt, ...);
} px_host_api;

typedef struct px_device_module {
    int version;
    const char *kind; /* "cuda" */
    /* Devices present; 0 with the reason in `why` when there are none. */
    int (*device_count)(char *why, size_t len);
    /* Name ("NVIDIA H200") and memory of device `index`. */
    px_status (*device_info)(int index, char *name, size_t len, size_t *memory_bytes);
    /* A backend on device `index` (kept for the life of the process), or NULL with an error. */
    px_backend *(*open)(int index);
} px_device_module;

typedef const px_device_module *(*px_device_module_open_fn)(const px_host_api *host);

#endif
