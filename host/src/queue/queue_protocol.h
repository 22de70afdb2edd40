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
#include <stddef.h>
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
         * a publish rings (queue_stall.c says why not sched_yield). */
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
 * The claims table's record of a run (queue_loan.c: loans and peeks).
 * Before each CAS the entry's pos/end are the run the CAS would claim,
 * stored with release and the CAS itself acq_rel, so a repairer that sees
 * the head past pos and a dead holder whose entry still says
 * *_K_RESERVING / *_K_PEEKING knows which run it meant (whether that last
 * CAS succeeded it cannot know: queue_claims.c says how it decides).  Not
 * on the copying paths: only loans pay for this.
 */
static inline void note_run(queue_claim *note, uint64_t pos, uint64_t end)
{
    atomic_store_explicit(&note->end, end, memory_order_relaxed);
    atomic_store_explicit(&note->next, pos, memory_order_relaxed);
    atomic_store_explicit(&note->upto, end, memory_order_relaxed);
    atomic_store_explicit(&note->pos, pos, memory_order_release);
}

/* How a claim is recorded for whoever may have to repair it: not at all (a
 * copying receive), in the sender's producer note (a copying send), or in a
 * claims table entry (a loan or a peek). */
#define CLAIM_UNRECORDED 0u
#define CLAIM_IN_NOTE 1u
#define CLAIM_IN_TABLE 2u

/*
 * The one claim loop: claim up to n cells on one side (side:
 * CORRUPT_PRODUCERS, free cells from prod_head; CORRUPT_CONSUMERS,
 * published messages from cons_head).  Returns how many (0 when full or
 * empty, or when that side halted on scribbled indices) and the first
 * position in *pos_out.  The cells are the caller's until it publishes
 * them with publish(q, side, tail, pos, pos + k).
 *
 * side and how are constants at every call site (the wrappers below; a
 * receive's room is not, but whether it is checked is), and the function
 * is forced inline, so each site compiles to the loop it needs and none
 * tests the others' cases at run time.
 *
 * The limit a side may not pass is the other side's tail, loaded with
 * acquire: for producers cons_tail, or acked on a persist queue
 * (q->free_tail): the acquire pairs with the release store of cons_tail in
 * publish_run (consumers), of the repairs' CAS on it (queue_claims.c
 * rh__queue_help_parked) and of acked (queue_ack.c rh__queue_ack), so
 * the consumers' reads of those cells are done before we overwrite them;
 * for consumers prod_tail: the acquire pairs with the release store in
 * publish_run (producers) and the repairs' CAS (queue_claims.c void_run,
 * queue_notes.c void_noted_run), so the producers' writes of those cells
 * are visible.
 *
 * record says how the claim is described to a waiter behind it:
 *  - CLAIM_IN_NOTE (sent: the caller's note, note_take, queue_notes.h):
 *    before each CAS its run [pos, end) with done = pos (pending),
 *    release; after the CAS done = end; when it claims nothing, pos is
 *    none.  Costs four stores to the caller's own line before the CAS and
 *    one after.  The CAS is a release, pairing with the acquire of
 *    prod_head in queue_notes.c (reclaim_dead, void_noted_run,
 *    rh__queue_notes_stall), which then sees the note.
 *  - CLAIM_IN_TABLE (loan: a claims table entry, note_run): the CAS is
 *    acq_rel; its release pairs with the acquire of the head in
 *    queue_claims.c (void_run for prod_head, rh__claims_run_sane and
 *    rh__queue_help_parked for cons_head); its acquire half pairs with
 *    the release CAS of an earlier recorded claim on that head (the CASes
 *    between are read-modify-writes, which continue its release
 *    sequence), so that claim's record happens before ours.
 *  - CLAIM_UNRECORDED: a relaxed CAS; the acquire of prod_tail above is
 *    all the ordering a copying receive needs.
 */
typedef struct claim_how {
    unsigned record;   /* CLAIM_UNRECORDED, CLAIM_IN_NOTE or CLAIM_IN_TABLE */
    queue_note *sent;  /* CLAIM_IN_NOTE's note */
    queue_claim *loan; /* CLAIM_IN_TABLE's entry */
    uint32_t fit;      /* claim the cell at the head only if its payload is at
                        * most this long (UINT32_MAX: any; with it n is 1) */
    int *too_big;      /* with fit: set when it was not */
} claim_how;

static inline __attribute__((always_inline)) uint32_t
claim_run(rh_queue *q, unsigned side, uint32_t n, uint64_t *pos_out, claim_how how)
{
    const unsigned record = how.record;
    queue_note *sent = how.sent;
    queue_header *h = q->h;
    const int prod = side == CORRUPT_PRODUCERS;
    _Atomic uint64_t *head = prod ? &h->prod_head : &h->cons_head;
    /* On the head's own line: no transfer (queue_layout.h prod_halt). */
    _Atomic uint32_t *halt = prod ? &h->prod_halt : &h->cons_halt;
    _Atomic uint64_t *limit = prod ? q->free_tail : &h->prod_tail;
    /* Room for producers is free_tail + capacity - pos, messages for
     * consumers prod_tail - pos: the same difference, offset. */
    const uint64_t offset = prod ? q->capacity : 0;
    const memory_order cas_order = record == CLAIM_IN_TABLE  ? memory_order_acq_rel
                                   : record == CLAIM_IN_NOTE ? memory_order_release
                                                             : memory_order_relaxed;
    uint64_t pos = atomic_load_explicit(head, memory_order_relaxed);
    for (;;) {
        if (__builtin_expect(atomic_load_explicit(halt, memory_order_relaxed) != 0, 0))
            break;
        /* Acquire: pairs with the releases named above. */
        uint64_t avail = atomic_load_explicit(limit, memory_order_acquire) + offset - pos;
        if (__builtin_expect(avail - 1 >= q->capacity, 0)) {
            /* Nothing (avail 0), or more than capacity (negative, or the
             * limit past pos): pos is stale (read before others moved
             * on), or the indices were scribbled.  A consumer's 0 is
             * empty for sure: cons_head never passes prod_tail.  Else
             * look again; a pos that still stands settles it: with the
             * head at pos all along, acked <= cons_tail <= cons_head <=
             * prod_tail <= prod_head <= cons_tail + capacity in any
             * queue, so avail is 0 (full) or the indices were scribbled,
             * which would have a consumer replay cells without end
             * (seen: 152,368 sends delivered 207 million times). */
            if (!prod && avail == 0)
                break;
            uint64_t now = atomic_load_explicit(head, memory_order_relaxed);
            if (now != pos) {
                pos = now;
                continue;
            }
            if (prod && avail != 0)
                rh__queue_scribbled(q, "prod_head more than capacity past the free tail, or "
                                       "behind it", q->capacity - avail);
            else if (!prod)
                rh__queue_scribbled(q, (int64_t)avail < 0 ? "cons_head past prod_tail"
                                                          : "prod_tail more than capacity past "
                                                            "cons_head",
                                    avail);
            break;
        }
        uint32_t k = avail < n ? (uint32_t)avail : n;
        if (how.fit != UINT32_MAX) {
            /* Acquire: the re-read of the head below comes after it.  If
             * the CAS then succeeds nobody claimed pos in between, so its
             * cell cannot have been refilled and the length was pos's. */
            uint32_t len = __atomic_load_n(&cell_at(q, pos)->env.payload_len, __ATOMIC_ACQUIRE);
            if (len > how.fit) {
                uint64_t now = atomic_load_explicit(head, memory_order_relaxed);
                if (now == pos) {
                    *how.too_big = 1;
                    break;
                }
                pos = now;
                continue;
            }
        }
        if (record == CLAIM_IN_NOTE) {
            /* pos goes to none first: a waiter must never read the last
             * run's pos with this run's done, which would say the note
             * holds every cell between them (other senders' claims).  A
             * waiter that reads the new done (acquire) then reads pos
             * none or new, never old. */
            atomic_store_explicit(&sent->pos, NOTE_POS_NONE, memory_order_relaxed);
            atomic_store_explicit(&sent->done, pos, memory_order_release);
            atomic_store_explicit(&sent->end, pos + k, memory_order_relaxed);
            atomic_store_explicit(&sent->pos, pos, memory_order_release);
        } else if (record == CLAIM_IN_TABLE) {
            note_run(how.loan, pos, pos + k);
        }
        if (atomic_compare_exchange_weak_explicit(head, &pos, pos + k, cas_order,
                                                  memory_order_relaxed)) {
            if (record == CLAIM_IN_NOTE)
                atomic_store_explicit(&sent->done, pos + k, memory_order_relaxed);
            *pos_out = pos;
            return k;
        }
    }
    /* A pending run nobody will claim through this note: a waiter must
     * not take it for a live claim at pos. */
    if (record == CLAIM_IN_NOTE)
        atomic_store_explicit(&sent->pos, NOTE_POS_NONE, memory_order_relaxed);
    return 0;
}

/* A copying send: its claim described in the sender's note (note_take). */
static inline uint32_t claim_enqueue_run(rh_queue *q, uint32_t n, uint64_t *pos_out,
                                         queue_note *note)
{
    return claim_run(q, CORRUPT_PRODUCERS, n, pos_out,
                     (claim_how){CLAIM_IN_NOTE, note, NULL, UINT32_MAX, NULL});
}

/* A copying receive, or a receive in place of a run it copies from. */
static inline uint32_t claim_dequeue_run(rh_queue *q, uint32_t n, uint64_t *pos_out)
{
    return claim_run(q, CORRUPT_CONSUMERS, n, pos_out,
                     (claim_how){CLAIM_UNRECORDED, NULL, NULL, UINT32_MAX, NULL});
}

/* A copying receive into a buffer smaller than the slot: the one message
 * at the head, claimed only if it fits (a claim cannot be undone, and the
 * API promises a too-large message stays queued); *too_big says why it
 * claimed nothing. */
static inline uint32_t claim_dequeue_fitting(rh_queue *q, uint32_t room, uint64_t *pos_out,
                                             int *too_big)
{
    *too_big = 0;
    return claim_run(q, CORRUPT_CONSUMERS, 1, pos_out,
                     (claim_how){CLAIM_UNRECORDED, NULL, NULL, room, too_big});
}

/* A loan (queue_loan.c): the run recorded in the claims table entry. */
static inline uint32_t claim_enqueue_run_noted(rh_queue *q, uint32_t n, uint64_t *pos_out,
                                               queue_claim *note)
{
    return claim_run(q, CORRUPT_PRODUCERS, n, pos_out,
                     (claim_how){CLAIM_IN_TABLE, NULL, note, UINT32_MAX, NULL});
}

/* A peek (queue_loan.c): the run recorded in the claims table entry. */
static inline uint32_t claim_dequeue_run_noted(rh_queue *q, uint32_t n, uint64_t *pos_out,
                                               queue_claim *note)
{
    return claim_run(q, CORRUPT_CONSUMERS, n, pos_out,
                     (claim_how){CLAIM_IN_TABLE, NULL, note, UINT32_MAX, NULL});
}

#endif /* RH_QUEUE_PROTOCOL_H */
