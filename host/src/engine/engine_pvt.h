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

/* bridge.c, shared by both output paths (the bridge's flush, and the
 * in-place publish: inplace.c).  An answer its output queue refused, by
 * any policy but drop_newest, is dead-lettered (stage "undeliverable",
 * the reason naming the queue, its capacity and policy):
 * rh__out_bridge_dead_letter returns 0, or the dead-letter queue's own
 * refusal.  rh__out_bridge_count_refusals adds a run's dead-lettered
 * (undeliverable) and only-counted (refused: drop_newest, or the
 * dead-letter queue's refusal) answers to b's counters, and logs one
 * bridge.undeliverable event for the run with why's word. */
typedef enum {
    RH__UNDELIVERABLE_AT_STOP, /* no room when the host or its kernel stopped */
    RH__UNDELIVERABLE_FULL,    /* refused by reject, or by block after block_timeout_ms */
    RH__UNDELIVERABLE_CORRUPT, /* the queue refuses every send (stalled for good) */
    RH__UNDELIVERABLE_GAVE_UP, /* waited past block_timeout_ms behind another sender's claim
                                  that was not published (alive, slow): the queue is sound */
} rh__undeliverable_why;
int rh__out_bridge_dead_letter(rh_out_bridge *b, const rh_envelope *env, const void *payload,
                               rh__undeliverable_why why);
void rh__out_bridge_count_refusals(rh_out_bridge *b, uint64_t undeliverable, uint64_t refused,
                                   rh__undeliverable_why why);

/* bridge.c, shared by both input paths (copying, and in place: inplace.c).
 * rh__in_bridge_begin: before taking a burst, settle acks on a persist
 * queue and note a recovery's redeliveries.  rh__in_bridge_check: the
 * checks on envs[0..got) (ring slots, or the queue's own cells): mark
 * redeliveries, then dedup, TTL, length and validate; each refused message
 * is counted and (expired, invalid) dead-lettered with its reason; the kept
 * ones are compacted to envs[0..returned), in order. */
void rh__in_bridge_begin(rh_in_bridge *b);
/* Non-zero when b's queue has nothing to take: empty, or halted on
 * scribbled indices (rh__queue_to_take), which the bridge treats as idle
 * from then on and says once (bridge.input_halted). */
int rh__in_bridge_idle(rh_in_bridge *b);
uint32_t rh__in_bridge_check(rh_in_bridge *b, rh_envelope **envs, uint32_t got);
/* Whether b's checks are only the length and the type's own (its queue has
 * no dedup window and no TTL, and no recovery's redeliveries are left to
 * mark, after rh__in_bridge_begin): the in-place take then checks each
 * message as it describes it (inplace.c), and hands a refused one to
 * rh__in_bridge_check. */
static inline int rh__in_bridge_plain(const rh_in_bridge *b)
{
    return !b->redelivered_left && b->dedup->window == 0 && !b->ttl_ns;
}
/* The type's own check of env's payload (its rh_type.validate). */
static inline int rh__in_bridge_valid(int (*validate)(const void *, char *, size_t),
                                      const rh_envelope *env)
{
    char why[256]; /* written only when it refuses */
    return validate(env + 1, why, sizeof why) == 0;
}

/* inplace.c: the in-place path of a worker with w->inplace, on its own
 * thread.  rh__inplace_take: claim up to max messages of one input port
 * (round robin) in its queue's cells, check them there, describe the kept
 * ones in w->msgs and return how many (*port_out, *seen_out: how many left
 * the queue, refused ones included); the claim is held until
 * rh__inplace_release.  rh__inplace_settle: retry releases that waited
 * for an earlier claim (every step, whatever the flow).  Output:
 * rh__inplace_emit / _reserve / _commit do it in place and return 1 (or
 * the payload pointer), or 0 (NULL) when the copying path through the
 * output ring must (queue full, answer to check for a repeat, ring not
 * empty, outside process()); rh__inplace_publish publishes what every
 * port wrote, and at the end of a batch (end_of_batch) also gives back
 * claimed cells not written and ends a reservation never committed; now:
 * the answers' enqueue time, or 0 to read the clock. */
/* rh__inplace_wants_copy: 1 when this step takes through the copying path
 * instead (the input ring holds messages, or, running and holding no
 * claim, a dead client's peek waits to be adopted: rh__queue_dequeue_burst
 * redelivers it, marked, and an adopted run is released as it is taken). */
int rh__inplace_wants_copy(rh_worker *w, int running);
uint32_t rh__inplace_take(rh_worker *w, uint32_t max, uint32_t *port_out, uint32_t *seen_out);
void rh__inplace_release(rh_worker *w, uint32_t port);
void rh__inplace_settle(rh_worker *w);
int rh__inplace_emit(rh_worker *w, uint32_t port, const rh_msg *in, const void *msg,
                     uint32_t len);
void *rh__inplace_reserve(rh_worker *w, uint32_t port);
int rh__inplace_commit(rh_worker *w, uint32_t port, const rh_msg *in, uint32_t len);
void rh__inplace_publish(rh_worker *w, int end_of_batch, uint64_t now);
/* inplace.c: the kernel is handed a batch (of one message or more):
 * decide per output port whether its answers take the fast path
 * (emit_fast.h). */
void rh__inplace_batch_begins(rh_worker *w);
/* inplace.c: before the output ring of port is flushed into its queue in
 * the middle of a batch (dispatch.c out_slot): every run on that queue is
 * ended as at the end of a batch (published, unused cells given back), so
 * that the flush's claim, after them, is not left waiting for them. */
void rh__inplace_end_queue(rh_worker *w, uint32_t port);

/* answer.c: the envelope of an answer on port to in (NULL: none), len
 * payload bytes, written to env. */
void rh__worker_fill_env(rh_worker *w, uint32_t port, rh_envelope *env, const rh_msg *in,
                         uint32_t len);
/* answer.c: the index in the batch w's kernel holds of the message in
 * (&batch->msgs[j], or a copy of it found by its envelope), or -1. */
int rh__worker_batch_index(const rh_worker *w, const rh_msg *in);

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

/*
 * Latency, on the worker's own thread (latency.c reads it).  The batch
 * msgs[0..n) of input port was taken at now (ns): its wait is recorded
 * from two envelopes only, the first's (the oldest: a run is in enqueue
 * order) for the first half of the batch and the last's (the youngest)
 * for the rest.  Every message is counted, at O(1) per batch instead of a
 * bucket per message: each message's true wait lies between those two,
 * so percentiles are exact within a batch's spread, and a batch of one is
 * exact.  An envelope not stamped yet (enqueue_ns 0) is not counted; one
 * stamped after now (taken in the same step) waited 0.
 */
static inline void rh__latency_taken(rh_worker *w, uint32_t port, uint32_t n, uint64_t now)
{
    uint64_t first = w->msgs[0].env->enqueue_ns, last = w->msgs[n - 1].env->enqueue_ns;
    if (__builtin_expect(!first || !last, 0))
        return;
    uint64_t oldest = now > first ? now - first : 0, youngest = now > last ? now - last : 0;
    uint32_t half = n / 2; /* 0 for a batch of one: its one count is the first's */
    rh__hist_count(&w->wait[port], oldest, n - half);
    rh__hist_count(&w->wait[port], youngest, half);
    rh__hist_sum(&w->wait[port], oldest * (n - half) + youngest * half);
}

/* process() took ns for a batch of n: each of its messages spent that long
 * in the kernel (its answers leave when the batch ends). */
static inline void rh__latency_served(rh_worker *w, uint32_t n, uint64_t ns)
{
    rh__hist_add(&w->service, ns, n);
    atomic_store_explicit(&w->busy_ns,
                          atomic_load_explicit(&w->busy_ns, memory_order_relaxed) + ns,
                          memory_order_relaxed);
}

#endif /* RH_ENGINE_PVT_H */
