/* The memory limit checked before large allocations: a request the machine
 * cannot hold fails with a clear PX_ERR_NOMEM instead of the process being
 * ended by the kernel's out-of-memory killer (Linux overcommits: malloc of
 * 15 GB succeeds, and the kill comes when the pages are touched). */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "plexus/tensor.h"

static _Atomic uint64_t set_limit; /* px_set_memory_limit; 0: none */

void px_set_memory_limit(uint64_t bytes) { atomic_store(&set_limit, bytes); }

/* "12G", "512M", "1000000": bytes; 0 when malformed. */
static uint64_t parse_bytes(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0)) return 0;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0, end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024, end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024, end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024, end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end) return 0;
    double b = v * mul;
    return b >= 1.8e19 ? UINT64_MAX : (uint64_t)b;
}

/* A number from a one-line file (cgroup v2's memory.max, memory.current); 0 when absent or "max". */
static uint64_t read_number(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[64] = "";
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    fclose(f);
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    return end == buf ? 0 : (uint64_t)v;
}

/* What the machine can give now: MemAvailable + SwapFree, within the cgroup's
 * own limit when there is one (containers); UINT64_MAX when unknown. */
static uint64_t available(void) {
    uint64_t avail = UINT64_MAX;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[128];
        unsigned long long kb;
        uint64_t mem = 0, swap = 0;
        bool have = false;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) mem = (uint64_t)kb * 1024, have = true;
            else if (sscanf(line, "SwapFree: %llu kB", &kb) == 1) swap = (uint64_t)kb * 1024;
        }
        fclose(f);
        if (have) avail = mem + swap;
    }
#ifdef _SC_AVPHYS_PAGES
    if (avail == UINT64_MAX) {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        if (pages > 0 && size > 0) avail = (uint64_t)pages * (uint64_t)size;
    }
#endif
    uint64_t max = read_number("/sys/fs/cgroup/memory.max");
    if (max) {
        uint64_t cur = read_number("/sys/fs/cgroup/memory.current");
        uint64_t left = max > cur ? max - cur : 0;
        if (left < avail) avail = left;
    }
    return avail;
}

uint64_t px_memory_limit(void) {
    uint64_t l = atomic_load(&set_limit);
    if (l) return l;
    const char *env = getenv("PX_MAX_MEMORY");
    if (env && *env && (l = parse_bytes(env))) return l;
    return available();
}

const char *px_format_bytes(uint64_t bytes, char *buf, size_t len) {
    const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 6) v /= 1024, u++;
    if (u == 0) snprintf(buf, len, "%" PRIu64 " bytes", bytes);
    else snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

px_status px_memory_check(uint64_t bytes, const char *what) {
    if (bytes < PX_MEMORY_CHECK_MIN) return PX_OK;
    uint64_t limit = px_memory_limit();
    if (bytes <= limit) return PX_OK;
    char b1[32], b2[32];
    bool set = atomic_load(&set_limit) || (getenv("PX_MAX_MEMORY") && *getenv("PX_MAX_MEMORY"));
    return px_set_error(PX_ERR_NOMEM,
                        "%s%sneeds %s, more than the %s %s (%s)", what ? what : "", what ? " " : "",
                        px_format_bytes(bytes, b1, sizeof b1), px_format_bytes(limit, b2, sizeof b2),
                        set ? "memory limit" : "of memory available",
                        set ? "PX_MAX_MEMORY or px_set_memory_limit" : "raise it with PX_MAX_MEMORY if swap or a "
                                                                       "later release of memory will cover it");
}
