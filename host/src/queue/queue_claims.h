/*
 * queue_claims.h — the claims table's entries (queue_claims.c), for the
 * loan and peek calls (queue_loan.c) and adoption (queue_adopt.c).  An
 * entry is one loan or peek of one process: its owner word (pid, kind,
 * flags) and its run.  Also what the
 * head/tail protocol (queue_protocol.h publish_run) asks the table when a
 * wait stalls, and the adoption of a dead peek's messages (queue_adopt.c)
 * that every receive may do.  The sweep and the other slow-path entries
 * are declared in queue_layout.h.
 */
#ifndef RH_QUEUE_CLAIMS_H
#define RH_QUEUE_CLAIMS_H

#include "queue/queue_layout.h"

/* What publish_run may do with a consumer run it cannot publish yet
 * because the claim before it is a peek (live, or orphaned by a holder
 * that died): nothing (PARK_NONE: wait, as producers always do), or hand
 * it to the claims table as a finished run (queue_claims.c) that whoever
 * moves cons_tail up to it publishes, with (PARK_ACK, a client's receive
 * on a persist queue) or without (PARK_PLAIN) acknowledging it. */
#define PARK_NONE 0u
#define PARK_PLAIN 1u
#define PARK_ACK 2u
/* publish_run's answer for a run handed to the claims table: its messages
 * are the caller's, the cells are published later (and acked, PARK_ACK). */
#define PUBLISH_PARKED 1

/* queue_claims.c: a wait in publish_run on `tail` that has polled 64 times
 * more.  Tells a claim recorded in the claims table (a loan or peek:
 * live, it is waited for and the side is never marked corrupt; dead, it
 * is repaired) from an unrecorded one (rh__queue_stalled's 1-s rule).
 * Returns STALL_WAIT, STALL_GIVE_UP (RH_ECORRUPT) or STALL_PARKED. */
enum { STALL_WAIT, STALL_GIVE_UP, STALL_PARKED, STALL_ABANDON };
/* publish_run's answer when a producer's wait behind a live holder passed
 * its deadline (STALL_ABANDON): the run is not published; its caller
 * gives it up (note_abandon, queue_notes.h) and fails with RH_ETIMEDOUT. */
#define PUBLISH_ABANDONED RH_ETIMEDOUT
int rh__queue_claim_stall(rh_queue *q, unsigned side, uint64_t tail, uint64_t pos, uint64_t end,
                          unsigned park, uint64_t *since);
/* queue_claims.c: publish the finished consumer runs of the claims table
 * that cons_tail has reached (a relaxed check of h->parked first: the
 * common case, none, is one load of a line the caller owns). */
int rh__queue_help_parked(rh_queue *q);

/* queue_adopt.c, for the consumers' entry points: take up to n messages of
 * a run whose holder died (marked RH_ENV_REDELIVERED), calling
 * take(q, pos, i, arg) for the i-th at cell pos; the run is then
 * published (parked, with an ack on a persist queue when park is
 * PARK_ACK) once all of it is taken.  Returns how many.  Call only when
 * h->orphans is not 0 (a relaxed load). */
typedef void (*rh__adopt_take)(rh_queue *q, uint64_t pos, uint32_t i, void *arg);
uint32_t rh__queue_adopt(rh_queue *q, uint32_t n, unsigned park, rh__adopt_take take, void *arg);

/* queue_claims.c, for a receive that found the queue empty: when consumers
 * hold claims (cons_head != cons_tail), look (at most every 10 ms per
 * handle) for a peek whose holder died and make it an orphan the next
 * receive adopts.  Returns 1 when it did. */
int rh__queue_claims_recover(rh_queue *q);

/* The owner word of an entry of kind (CLAIM_K_*) and flags for this
 * process (its pid cached; a forked child records its own). */
uint64_t rh__claims_owner(unsigned kind, uint64_t flags);

static inline unsigned rh__claims_kind_of(uint64_t owner)
{
    return (unsigned)(owner & CLAIM_KIND_MASK);
}

/* Decrement *n unless it is 0 (a count of entries another process may
 * have scribbled). */
static inline void rh__claims_sat_dec(_Atomic uint32_t *n)
{
    uint32_t v = atomic_load_explicit(n, memory_order_relaxed);
    while (v && !atomic_compare_exchange_weak_explicit(n, &v, v - 1, memory_order_relaxed,
                                                       memory_order_relaxed))
        ;
}

/* A consumer run [pos, end) with next in it, checked against cons_tail
 * (the entry may be scribbled): at most capacity long, not before the
 * tail, within capacity of it. */
int rh__claims_run_sane(const rh_queue *q, uint64_t pos, uint64_t next, uint64_t end);

/* Take a free entry for kind and flags: its index, or -1 when all
 * QUEUE_CLAIMS are in use. */
int rh__claims_take(rh_queue *q, unsigned kind, uint64_t flags);

/* Free entry i (this process holds it). */
void rh__claims_free(rh_queue *q, int i);

/* Entry i's consumer run was all delivered: publish it (or park it:
 * park is PARK_NONE, PARK_PLAIN or PARK_ACK), acknowledge it on a persist
 * queue with PARK_ACK, free the entry and ring not_full. */
void rh__claims_finish_run(rh_queue *q, int i, unsigned park);

/* Take an orphan entry (a dead peek's run) for this process as kind: its
 * index, or -1 when there is none.  A scribbled run is freed, not taken. */
int rh__claims_adopt_entry(rh_queue *q, unsigned kind);

/* The next up to n messages of adopted entry i from its next, marked
 * redelivered; calls take for each (when not NULL) and fills views (when
 * not NULL).  Returns how many; *upto: the position after the last cell
 * looked at. */
uint32_t rh__claims_adopt_take(rh_queue *q, int i, uint32_t n, rh__adopt_take take, void *arg,
                               rh_msg_view *views, uint64_t *upto);

/* Entry i's holder has delivered [next, upto): the run is finished
 * (rh__claims_finish_run with park), or the entry is an orphan again for
 * the next reader. */
void rh__claims_adopt_done(rh_queue *q, int i, uint64_t upto, unsigned park);

#endif /* RH_QUEUE_CLAIMS_H */
