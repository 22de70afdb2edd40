/*
 * runtime.h — what the layers above the runtime (control/, cli/) may use of
 * it beyond the public API of ringhost.h.
 */
#ifndef RH_RUNTIME_H
#define RH_RUNTIME_H

#include "ringhost/ringhost.h"

/* The runtimes of the same host, NULL-terminated (may hold rt itself): their
 * kernels may read the queues rt created, and rt's accounting lines count
 * their intake (engine/metrics.c).  The array and every runtime in it must
 * outlive rt's last report.  Call it before activating a runtime launched
 * into a serving host, from the thread that owns the runtimes. */
void rh__runtime_set_peers(rh_runtime *rt, rh_runtime *const *peers);

#endif /* RH_RUNTIME_H */
