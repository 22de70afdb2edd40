/*
 * acks.h — the acks of a persist input queue (acks.c): an input bridge
 * whose queue is persist carries an rh_acks (rh_in_bridge.acks, NULL on
 * every other queue) and acknowledges each burst once its kernel finished
 * it, so a relaunch after a kill delivers again only what was not finished.
 * Every call is from the bridge's own thread, except
 * rh__in_bridges_ack_finished (once every thread is joined).
 */
#ifndef RH_ENGINE_ACKS_H
#define RH_ENGINE_ACKS_H

#include <stdint.h>

typedef struct rh_acks rh_acks;
struct rh_in_bridge;
struct rh_kinst;
struct rh_runtime;

/* The marks of one bridge (zeroed), room for the bursts `slots` ring slots
 * can hold (the kernel rings' slots the bridge's bursts wait in: its input
 * rings and the output rings after them), or NULL when out of memory. */
rh_acks *rh__acks_new(uint32_t slots);
void rh__acks_free(rh_acks *a);
/* After a burst went into ring targets[ring] up to ring_end (kept of its
 * messages; exact: none was refused): mark it. */
void rh__acks_mark_burst(struct rh_in_bridge *b, uint32_t ring, uint64_t ring_end, uint32_t kept,
                         int exact);
/* How many of `want` messages the bridge may take now: all of them, or,
 * with an ack_limit, what keeps the queue's taken-and-unacked messages
 * within it (0: wait for acks). */
uint32_t rh__acks_room(const struct rh_in_bridge *b, uint32_t want);
/* The ack_limit of a kernel's persist input bridges (0 = none): half the
 * recent ids its output queues check repeated answers against, shared by
 * its persist inputs (acks.c says why). */
uint32_t rh__acks_limit(const struct rh_kinst *k);
/* Ack on the queue what the kernel finished: each step of the bridge does
 * it first; a pump that does not step (paused, draining) calls it itself. */
void rh__acks_settle(struct rh_in_bridge *b);
/* Once every thread is joined: ack on each persist queue what its kernel
 * finished (the threads ack as they go; the last batch of the drain would
 * otherwise be delivered again by the next launch). */
void rh__in_bridges_ack_finished(struct rh_runtime *rt);

#endif /* RH_ENGINE_ACKS_H */
