/*
 * faults.h — the fault layer (faults/): the watchdog thread that notices a
 * stalled kernel (watchdog.c), and kernels that run in a process of their
 * own, "isolation": "process" (isolation.c).  The restart policy both
 * apply is the engine's (engine/restart.c).  Used by launch/, live/ and
 * runtime.c.
 */
#ifndef RH_FAULTS_H
#define RH_FAULTS_H

#include "engine/engine.h"

/* watchdog.c: start the watchdog thread when some kernel has watchdog_ms
 * (0, or RH_ESYS); stop and join it (idempotent). */
int rh__watchdog_start(rh_runtime *rt);
void rh__watchdog_stop(rh_runtime *rt);

/* isolation.c: "isolation": "process". */
/* k's workers: calloc'd, or in one shared mapping when k is isolated. */
rh_worker *rh__workers_alloc(const rh_kernel_decl *d, uint32_t n);
void rh__workers_free(rh_kinst *k);
/* Fork the child of every isolated worker and wait for its init() (launch);
 * 0, or an error naming the kernel. */
int rh__isolation_start(rh_runtime *rt, rh_error *err);
/* The watchdog thread, each period: mirror the flow to the children, reap
 * a crashed one (retry or dead-letter its batch), kill a stalled one,
 * start one whose backoff ended. */
void rh__isolation_supervise(rh_runtime *rt);
/* Tell every child to stop, reap it by deadline_ns, SIGKILL it after. */
void rh__isolation_stop(rh_runtime *rt, uint64_t deadline_ns);
int rh__isolation_any(const rh_runtime *rt);
/* Hand the kernel's flow (rh_kernel_flow) now to the children of k, or of
 * every isolated kernel when k is NULL, wake them, and wait until each has
 * read it at a batch boundary (or is gone): the pause or stop a caller of
 * rh__kernel_set_flow asked for holds in the child too when this returns.
 * 0, or RH_ETIMEDOUT past deadline_ns (a child still inside process()). */
int rh__isolation_sync(rh_runtime *rt, rh_kinst *k, uint64_t deadline_ns);

#endif /* RH_FAULTS_H */
