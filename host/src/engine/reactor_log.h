/*
 * reactor_log.h — a reactor thread's lifecycle events in the operator's log
 * (log.h), written by the thread itself (reactor.c reactor_main).
 */
#ifndef RH_REACTOR_LOG_H
#define RH_REACTOR_LOG_H

#include "engine/engine.h"

/*
 * reactor.start (info): thread=, cpus= (the cpuset asked for, "any" when
 * unpinned), cpu= (where it runs now), bind=ok|unpinned|failed (and
 * bind_error=), wait=, tasks=; then task.start (debug) per task.  Call once
 * bound and before the kernels' init(), so the line proves the thread ran.
 */
void rh__reactor_log_start(const rh_reactor *r);

/*
 * reactor.exit (info): thread=, loops=, tasks=, init=ok|failed; then per
 * task its counts: bridge.exit (in: moved=; out: sent= refused=) and per
 * worker worker.exit (processed= failed= emitted= batches=), with an inline
 * worker's own input bridges as bridge.exit mode=inline.  Call after fini().
 */
void rh__reactor_log_exit(const rh_reactor *r, int init_failed);

#endif
