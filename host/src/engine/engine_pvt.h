/*
 * engine_pvt.h — what the engine's own files share and no other layer
 * calls: the steps of the pumps (bridge.c) that a worker runs inline and a
 * reactor runs as tasks, and the worker calls the reactor makes at its
 * thread's start and end (dispatch.c).
 */
#ifndef RH_ENGINE_PVT_H
#define RH_ENGINE_PVT_H

#include "engine/engine.h"

/* bridge.c: move up to one burst; return the number of messages moved. */
uint32_t rh__in_bridge_step(rh_in_bridge *b);
uint32_t rh__out_bridge_step(rh_out_bridge *b);
/* Move from one source ring only (a worker flushing its own outputs inline). */
uint32_t rh__out_bridge_flush_ring(rh_out_bridge *b, rh_ring *src);

/* dispatch.c, each on the worker's own thread only. */
/* Run a pending rh_worker_op of w, if any. */
void rh__worker_run_pending_op(rh_worker *w);
/* fini() of a worker, once (a no-op after the first call, or when its
 * init() failed). */
void rh__worker_finish(rh_worker *w);
/* Release the batch a run() kernel holds from rh_poll(). */
void rh__worker_release_run_batch(rh_worker *w);
/* Hand what a worker's output rings hold to their queues (inline mode). */
void rh__worker_flush_outputs(rh_worker *w);

#endif /* RH_ENGINE_PVT_H */
