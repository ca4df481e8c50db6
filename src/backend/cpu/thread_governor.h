/* Internal: the thread policy of training on a busy machine (thread_governor.c).
 * OpenMP's threads (Plexus's loops, and the products' tiles of gemm.c) spin at
 * barriers; beside other CPU-bound processes a spinning thread whose partner
 * was descheduled makes a step many times slower than one thread would
 * (bench/busy.py measured 10 to 50 times). Waiting passively instead
 * (OMP_WAIT_POLICY=passive) cost an idle machine half its speed on the course's
 * MLP. So by default fit adapts the team size: it starts at the configured
 * count when a core is free (else at one thread), measures its steps at one
 * thread and at the configured count, runs at the faster, and tries the other
 * again after a hold (in seconds) that doubles each time a try of that count
 * loses and is long beside what the last lost try cost. A try's first step
 * (caches warming on the other core) is not measured. Tries of the
 * configured count are short (under contention they are the expensive steps:
 * one step twice as slow ends the try), and a sudden slowdown at the configured
 * count brings the next try of one thread forward; no try of the configured
 * count starts while the machine has no free core (/proc/loadavg's runnable
 * count, less this process's own, against this process's cores). Results do
 * not depend on the thread count (gemm.c, ops/conv_plan.h), so switching
 * changes no result. PLEXUS_THREAD_POLICY=fixed keeps the configured count.
 * The state lives per calling thread across fits. */
#ifndef PX_BACKEND_CPU_THREAD_GOVERNOR_H
#define PX_BACKEND_CPU_THREAD_GOVERNOR_H

#include <stdbool.h>
#include <stdint.h>

/* At fit's start: the policy from the environment, the count to run at. */
void px_thread_governor_begin(void);
/* After each training step: measures, and changes the active count when due. */
void px_thread_governor_step(void);
/* At fit's end: the configured count back (px_num_threads). */
void px_thread_governor_end(void);
/* How often the active count changed in this thread (tests and benchmarks). */
int64_t px_thread_governor_switches(void);
/* Tests: replaces the look at the machine made before a try of the configured
 * count (whether a core seems free; Linux's runnable count) with `probe`;
 * NULL restores it. The next fit of this thread starts measuring afresh. */
void px_thread_governor_set_probe(bool (*probe)(void));

/* OpenMP's and the BLAS's thread count for now, leaving the configured one
 * (px_num_threads) as it is (blas.c). */
void px_threads_set_active(int n);

#endif
