/*
 * ringhost/zero_copy.h — zero-copy clients of a named queue: loans
 * (rh_send_reserve / rh_send_commit) and peeks (rh_recv_peek /
 * rh_recv_release).  Part of the public API of ringhost.h, which includes
 * this header; include ringhost/ringhost.h, or this one, which includes it.
 */
#ifndef RINGHOST_ZERO_COPY_H
#define RINGHOST_ZERO_COPY_H

#include "ringhost/ringhost.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------ zero-copy clients --- */

/*
 * Loans and peeks: write a message straight into a queue's cell, read one
 * where it lies, in shared memory for a shared queue (iceoryx's
 * loan/publish, DPDK's zero-copy ring calls).  Nothing is copied: a 1 MiB
 * message costs what a 64-byte one does.
 *
 * Ownership.  A loan (rh_send_reserve) and a peek (rh_recv_peek) belong to
 * the handle: at most one of each at a time per handle (RH_ESTATE
 * otherwise); threads that loan concurrently use a handle each.  The
 * pointers are valid until rh_send_commit / rh_recv_release (or
 * rh_queue_close, which publishes a held loan as void and releases a held
 * peek) and not one instruction longer: the cell is then the queue's.
 * Each queue has a table of 32 entries shared by every process's loans,
 * peeks and the receives parked behind a peek; RH_EBUSY when all are held.
 *
 * Cost to others.  Cells are published in order, so a loan held holds up
 * every producer behind it (rh_send waits, whatever the policy, and
 * consumers see nothing past it): fill and commit at once, never wait on
 * something else while holding one, and never rh_send to the same queue
 * from the thread that holds its loan (it would wait for itself).  A peek
 * held keeps its cells from being reused: producers meet the queue's
 * policy once it is full; other consumers are not held up (a receive
 * behind a peek returns; its cells are freed once the peek is released).
 * A live holder is waited for (the 1-s rule of RH_ECORRUPT does not apply
 * to it; the waiters nap, and log queue.claim_held naming its pid) for up
 * to 10 s: a loan held longer, or a peek that a receive must wait behind
 * longer (only when the table is full), marks that side of the queue
 * corrupt as a dead claim would (RH_ECORRUPT), since the table is memory
 * any process of the user can write and no call may wait on it for ever.
 *
 * A client that dies.  Holding a loan: the first producer that waits
 * behind it finds its pid gone (a zombie counts as gone) and publishes its
 * cells void: consumers skip them, nothing is delivered or counted, the
 * queue goes on (logged as queue.loan_repaired).  Holding a peek: the
 * messages are not lost; the next receive (rh_recv, rh_recv_burst,
 * rh_recv_peek, the host's input bridge) gets them, flagged
 * RH_ENV_REDELIVERED, after whatever the queue delivered meanwhile
 * (logged as queue.peek_orphaned).  A process killed inside the few
 * instructions between its table entry and its claim is told from a live
 * one only after 0.5 s of waiting.
 */

/* A loaned cell: its envelope (set id — zero: a fresh one at commit —,
 * correlation_id, priority, flags; the rest is the queue's) and its
 * payload, rh_queue_payload_size(q) bytes to write.  Frozen: callers pass
 * arrays of it, so its size never changes (ringhost.h, "structs that
 * grow"); a new field would come as a new struct and new calls. */
typedef struct rh_loan {
    rh_envelope *env;
    void *payload;
} rh_loan;

/*
 * Reserve up to n cells of q (n is cut to the capacity) and point
 * loans[0..k) at them.  Returns k >= 1: as many as were free, at once.
 * Only when none is free does the queue's policy apply, as in rh_send,
 * for at least one cell: block waits up to block_timeout_ms (RH_ETIMEDOUT),
 * reject says RH_EFULL, drop_newest says RH_EDROPPED (each counted once
 * per call, as one refused message), drop_oldest evicts the oldest waiting
 * message (counted) and reserves its cell; RH_ESTALE and RH_ECORRUPT as in
 * rh_send.  RH_EINVAL (NULL, n 0), RH_ESTATE (this handle holds a loan),
 * RH_EBUSY (claims table full).  The envelopes come zeroed.
 */
RH_API int rh_send_reserve(rh_queue *q, uint32_t n, rh_loan *loans);

/*
 * Publish the first n cells of the held loan as messages, the i-th of
 * lens[i] bytes (lens NULL: each a whole slot): a fresh id where the
 * caller left it zero, the enqueue time, port 0; ids to ids_out[0..n) when
 * not NULL.  Cells reserved beyond n are published void (skipped by every
 * consumer, never counted): n 0 cancels the loan.  Returns n, RH_ESTATE
 * (no loan held), RH_EINVAL (n larger than the loan), RH_ETOOBIG (a length
 * past the slot: nothing published, the loan is still held), or
 * RH_ECORRUPT (the wait for an earlier claim gave up, see rh_send: the
 * messages are not sent, counted as rejected, the loan is gone).
 */
RH_API int rh_send_commit(rh_queue *q, uint32_t n, const uint32_t *lens, rh_id *ids_out);

/* A message read in place: its envelope and payload in the queue's cell,
 * len bytes of it (the envelope's payload_len clamped to the slot when the
 * peek took it: use len, another process may write the cell's envelope).
 * Bytes past len are whatever the cell held: not zero-extended.  Frozen,
 * as rh_loan is (arrays of it). */
typedef struct rh_msg_view {
    const rh_envelope *env;
    const void *payload;
    uint32_t len;
} rh_msg_view;

/*
 * Take up to n messages of q in place into views[0..k) and hold them until
 * rh_recv_release.  timeout_ms as in rh_recv: waits for at least one.
 * Returns k >= 1, RH_EEMPTY (timeout 0), RH_ETIMEDOUT, RH_ESTALE,
 * RH_ECORRUPT as in rh_recv; RH_EINVAL, RH_ESTATE (this handle holds a
 * peek), RH_EBUSY (claims table full).  Messages a dead peeker held come
 * first, flagged RH_ENV_REDELIVERED.  They count as dequeued when taken.
 */
RH_API int rh_recv_peek(rh_queue *q, uint32_t n, int timeout_ms, rh_msg_view *views);

/*
 * Give the held peek's cells back to the queue: the views are invalid from
 * here.  On a persist queue this is the acknowledgement (a peek not
 * released before its client dies is delivered again).  Returns 0, or
 * RH_ESTATE when no peek is held, RH_EINVAL for a NULL queue.
 */
RH_API int rh_recv_release(rh_queue *q);

#ifdef __cplusplus
}
#endif

#endif /* RINGHOST_ZERO_COPY_H */
