/*
 * queue_protocol.h — the head/tail protocol of the named queue (queue.c's top
 * comment says why it is this one): claim a run of cells on one side,
 * publish it by moving that side's tail, and the small helpers around them.
 * Static inline so the hot path stays one function deep.  Private to the
 * queue layer: queue.c's copying send and receive use it, and so does every
 * path that reads or writes cells in place (zero copy), which is
 * why it is a header and not a part of queue.c.
 */
#ifndef RH_QUEUE_PROTOCOL_H
#define RH_QUEUE_PROTOCOL_H

#include <sched.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/wait.h"
#include "queue/queue_claims.h"
#include "queue/queue_layout.h"
#include "queue/queue_notes.h"

/* ------------------------------------------------------------ helpers --- */

/* Raise high_water to depth.  A plain load first: in steady state the value
 * is already higher and the line stays shared, not bounced. */
static inline void note_depth(rh_queue *q, uint64_t depth)
{
    if (depth > q->capacity)
        depth = q->capacity;
    uint64_t hw = atomic_load_explicit(&q->h->high_water, memory_order_relaxed);
    while (depth > hw && !atomic_compare_exchange_weak_explicit(
                             &q->h->high_water, &hw, depth, memory_order_relaxed,
                             memory_order_relaxed))
        ;
}

/* Bounded spin, then yield: for waits that end when another thread finishes
 * a copy it already started (microseconds, unless it was preempted). */
static inline void backoff(unsigned tries)
{
    if (tries < 64)
        rh_cpu_relax();
    else
        sched_yield();
}

/* ------------------------------------------------------ the algorithm --- */

/* Wait until the claims before ours have been published (*tail == pos),
 * then publish ours.  Acquire on the wait: the earlier claimer's cell
 * writes (or reads) then happen before our release, so whoever acquires
 * our tail sees theirs too (a plain store is not a release sequence).
 *
 * pos - tail is what earlier claims have still to publish, and they all
 * fit in the ring at once: never more than its capacity (our claim saw
 * room, or messages, through the other side's tail, which that side
 * stored after acquiring ours).  A tail never passes an unpublished claim
 * either: it only moves to the end of a claim whose start it was.  So a
 * tail past pos (a huge pos - tail, unsigned) or further behind than any
 * capacity is a scribble by another process on the shared header; waiting
 * for it would never end (fuzz/fuzz_queue.c found both).  We then leave
 * the tail alone: the queue is garbage, but no call hangs on it.
 *
 * A tail a little behind pos is an earlier claim in progress, which takes
 * microseconds, unless its holder holds a loan or a peek, died between
 * claim and publish, or the head was scribbled ahead (cons_head + 3 once
 * wedged a kernel's intake for good).  Every 64 polls the wait asks
 * rh__queue_claim_stall (queue_claims.c): a claim in the claims table is
 * waited for while its holder lives and repaired once it is dead (a
 * consumer run may instead be parked there, PUBLISH_PARKED, see park); a
 * producer claim that is not a loan has a producer note (queue_notes.c):
 * a live holder is waited for up to the caller's deadline
 * (PUBLISH_ABANDONED: the caller gives its run up, RH_ETIMEDOUT), a dead
 * one's run published void.  A claim nobody recorded (a copying receive,
 * or a producers' head scribbled ahead: no note) cannot be told from a
 * preempted holder but by time: once the tail has not moved for
 * QUEUE_STALL_NS the side is marked corrupt (rh__queue_stalled: counted,
 * logged once as queue.corrupt) and we give up, leaving the tail where it
 * is: publishing over the gap would hand consumers cells nobody wrote, or
 * free cells nobody read.  Returns 0, PUBLISH_PARKED, PUBLISH_ABANDONED,
 * or RH_ECORRUPT when it gave up (the caller decides what that means for
 * the cells it holds); a side already marked gives up at once.  After a consumer run is published, the finished runs parked
 * behind it are published too (rh__queue_help_parked). */
static inline int publish_run(rh_queue *q, unsigned side, _Atomic uint64_t *tail, uint64_t pos,
                              uint64_t end, unsigned park)
{
    uint64_t since = 0, seen = pos;
    for (unsigned tries = 0;; tries++) {
        uint64_t now = atomic_load_explicit(tail, memory_order_acquire);
        if (now == pos)
            break;
        if (pos - now > RH_QUEUE_CAPACITY_MAX) {
            /* Scribbled (see above): the indices describe no queue, and
             * the consumers' side, whose head went back, would replay
             * cells without end: both sides halt (rh__queue_scribbled).
             * A tail inside our claim moves to its end, or the claim after
             * ours would find it behind its start and wait for a publish
             * that never comes. */
            rh__queue_scribbled(q, side == CORRUPT_PRODUCERS ? "prod_tail past a producer's claim"
                                                             : "cons_tail past a consumer's claim",
                                now - pos);
            if ((int64_t)(now - pos) > 0 && (int64_t)(end - now) > 0)
                break;
            return 0;
        }
        if ((tries & 63) == 63) {
            /* The 1-s rule counts from the tail's last move: a waiter
             * behind many claims, each published in turn, is not stalled. */
            if (now != seen) {
                seen = now;
                since = 0;
            }
            int st = rh__queue_claim_stall(q, side, now, pos, end, park, &since);
            if (st == STALL_GIVE_UP)
                return RH_ECORRUPT;
            if (st == STALL_PARKED)
                return PUBLISH_PARKED;
            if (st == STALL_ABANDON)
                return PUBLISH_ABANDONED;
        }
        /* The earlier claim's holder is copying (microseconds): spin;
         * past that it was preempted, and the cores are its: sleep until
         * a publish rings (queue_wait.c says why not sched_yield). */
        if (tries < 64)
            rh_cpu_relax();
        else
            rh__queue_publish_nap(q, side, tail, now);
    }
    atomic_store_explicit(tail, end, memory_order_release);
    if (side == CORRUPT_CONSUMERS &&
        atomic_load_explicit(&q->h->parked, memory_order_relaxed) != 0)
        rh__queue_help_parked(q);
    return 0;
}

/* publish_run for a run that may not be parked: every producer run, and
 * a consumer's that must be published before the call returns. */
static inline int publish(rh_queue *q, unsigned side, _Atomic uint64_t *tail, uint64_t pos,
                          uint64_t end)
{
    return publish_run(q, side, tail, pos, end, PARK_NONE);
}

/*
 * Claim up to n free cells from prod_head: returns how many (0 when full,
 * or when the producers halted on scribbled indices) and the first
 * position in *pos_out.  The cells are the caller's until it publishes
 * them with publish(q, CORRUPT_PRODUCERS, &h->prod_tail, pos, pos + k).
 * Acquire on cons_tail (acked): the consumers' reads of those cells are
 * done before we overwrite them.
 *
 * note (the caller's: note_take, queue_notes.h) describes the claim to a
 * waiter behind it (queue_notes.c): before each CAS its run [pos, end)
 * with done = pos (pending), release; after the CAS done = end; when it
 * claims nothing, pos is none.  Costs four stores to the caller's own
 * line before the CAS and one after.
 */
static inline uint32_t claim_enqueue_run(rh_queue *q, uint32_t n, uint64_t *pos_out,
                                         queue_note *note)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->prod_head, memory_order_relaxed);
    for (;;) {
        /* prod_head's own line: no transfer (queue_layout.h prod_halt). */
        if (__builtin_expect(atomic_load_explicit(&h->prod_halt, memory_order_relaxed) != 0, 0)) {
            atomic_store_explicit(&note->pos, NOTE_POS_NONE, memory_order_relaxed);
            return 0;
        }
        /* cons_tail, or acked on a persist queue (q->free_tail): the same
         * acquire pairs with the release of whoever advanced it. */
        uint64_t freed = atomic_load_explicit(q->free_tail, memory_order_acquire);
        uint64_t room = q->capacity - (pos - freed);
        if (__builtin_expect(room - 1 >= q->capacity, 0)) {
            /* Full (room 0 or less), or the free tail past pos (room more
             * than capacity): pos is stale (read before other producers
             * and consumers moved on), or the indices were scribbled.
             * Look again; a pos that still stands settles it: with
             * prod_head at pos all along, free_tail <= prod_tail <= pos
             * and pos - free_tail <= capacity in any queue. */
            uint64_t now = atomic_load_explicit(&h->prod_head, memory_order_relaxed);
            if (now != pos) {
                pos = now;
                continue;
            }
            if (pos - freed > q->capacity)
                rh__queue_scribbled(q, "prod_head more than capacity past the free tail, or "
                                       "behind it", pos - freed);
            /* A pending run nobody will claim through this note: a waiter
             * must not take it for a live claim at pos. */
            atomic_store_explicit(&note->pos, NOTE_POS_NONE, memory_order_relaxed);
            return 0;
        }
        uint32_t k = room < n ? (uint32_t)room : n;
        /* pos goes to none first: a waiter must never read the last run's
         * pos with this run's done, which would say the note holds every
         * cell between them (other senders' claims).  A waiter that reads
         * the new done (acquire) then reads pos none or new, never old. */
        atomic_store_explicit(&note->pos, NOTE_POS_NONE, memory_order_relaxed);
        atomic_store_explicit(&note->done, pos, memory_order_release);
        atomic_store_explicit(&note->end, pos + k, memory_order_relaxed);
        atomic_store_explicit(&note->pos, pos, memory_order_release);
        /* Release: the note is visible to whoever reads prod_head after
         * this (a waiter behind us acquires it). */
        if (atomic_compare_exchange_weak_explicit(&h->prod_head, &pos, pos + k,
                                                  memory_order_release, memory_order_relaxed)) {
            atomic_store_explicit(&note->done, pos + k, memory_order_relaxed);
            *pos_out = pos;
            return k;
        }
    }
}

/* Claim up to n published messages from cons_head (0 when empty, or when
 * the consumers halted on scribbled indices).  Acquire on prod_tail: the
 * producers' writes of those cells are visible. */
static inline uint32_t claim_dequeue_run(rh_queue *q, uint32_t n, uint64_t *pos_out)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->cons_head, memory_order_relaxed);
    for (;;) {
        /* cons_head's own line (queue_layout.h cons_halt). */
        if (__builtin_expect(atomic_load_explicit(&h->cons_halt, memory_order_relaxed) != 0, 0))
            return 0;
        uint64_t ready = atomic_load_explicit(&h->prod_tail, memory_order_acquire) - pos;
        if (__builtin_expect(ready - 1 >= q->capacity, 0)) {
            if (ready == 0)
                return 0; /* cons_head never passes prod_tail: empty */
            /* cons_head past prod_tail, or prod_tail more than capacity
             * past it: a stale pos, or scribbled indices, which would
             * have this consumer replay cells without end (seen: 152,368
             * sends delivered 207 million times).  With cons_head at pos
             * all along, cons_tail <= pos <= prod_tail <= cons_tail +
             * capacity in any queue. */
            uint64_t now = atomic_load_explicit(&h->cons_head, memory_order_relaxed);
            if (now != pos) {
                pos = now;
                continue;
            }
            rh__queue_scribbled(q, (int64_t)ready < 0 ? "cons_head past prod_tail"
                                                      : "prod_tail more than capacity past "
                                                        "cons_head",
                                ready);
            return 0;
        }
        uint32_t k = ready < n ? (uint32_t)ready : n;
        if (atomic_compare_exchange_weak_explicit(&h->cons_head, &pos, pos + k,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            *pos_out = pos;
            return k;
        }
    }
}

/*
 * The same two claims, recorded in a claims table entry as they are made
 * (queue_loan.c: loans and peeks).  Before each CAS the entry's pos/end
 * are the run the CAS would claim, stored with release and the CAS itself
 * acq_rel, so a repairer that sees the head past pos and a dead holder
 * whose entry still says *_K_RESERVING / *_K_PEEKING knows which run it
 * meant (whether that last CAS succeeded it cannot know: queue_claims.c says
 * how it decides).  Not on the copying paths: only loans pay for this.
 */
static inline void note_run(queue_claim *note, uint64_t pos, uint64_t end)
{
    atomic_store_explicit(&note->end, end, memory_order_relaxed);
    atomic_store_explicit(&note->next, pos, memory_order_relaxed);
    atomic_store_explicit(&note->upto, end, memory_order_relaxed);
    atomic_store_explicit(&note->pos, pos, memory_order_release);
}

static inline uint32_t claim_enqueue_run_noted(rh_queue *q, uint32_t n, uint64_t *pos_out,
                                               queue_claim *note)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->prod_head, memory_order_relaxed);
    for (;;) {
        if (atomic_load_explicit(&h->prod_halt, memory_order_relaxed) != 0)
            return 0;
        uint64_t freed = atomic_load_explicit(q->free_tail, memory_order_acquire);
        uint64_t room = q->capacity - (pos - freed);
        if ((int64_t)room <= 0) {
            uint64_t now = atomic_load_explicit(&h->prod_head, memory_order_relaxed);
            if (now == pos)
                return 0;
            pos = now;
            continue;
        }
        uint32_t k = room < n ? (uint32_t)room : n;
        note_run(note, pos, pos + k);
        if (atomic_compare_exchange_weak_explicit(&h->prod_head, &pos, pos + k,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
            *pos_out = pos;
            return k;
        }
    }
}

static inline uint32_t claim_dequeue_run_noted(rh_queue *q, uint32_t n, uint64_t *pos_out,
                                               queue_claim *note)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->cons_head, memory_order_relaxed);
    for (;;) {
        if (atomic_load_explicit(&h->cons_halt, memory_order_relaxed) != 0)
            return 0;
        uint64_t ready = atomic_load_explicit(&h->prod_tail, memory_order_acquire) - pos;
        if ((int64_t)ready <= 0 || ready > q->capacity)
            return 0; /* empty, or a stale or scribbled pos: the copying path says which */
        uint32_t k = ready < n ? (uint32_t)ready : n;
        note_run(note, pos, pos + k);
        if (atomic_compare_exchange_weak_explicit(&h->cons_head, &pos, pos + k,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
            *pos_out = pos;
            return k;
        }
    }
}

#endif /* RH_QUEUE_PROTOCOL_H */
