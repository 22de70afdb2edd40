/*
 * queue_inplace.c — a named queue's cells read and written where they lie
 * (zero copy): the inline bridge claims a run of cells, its kernel
 * reads them in place, and only then does the run go back to producers;
 * rh_emit claims a cell of the output queue and the kernel's answer is
 * written into it, published with the rest of its batch.
 *
 * These are the claim/publish steps of queue_protocol.h split in two, so that
 * a kernel's process() call runs between them.  What that costs the other
 * users of the queue, and why it is still sound:
 *   - consumers: a run claimed in place is published (cons_tail) only after
 *     process() returned, so a consumer that claims after it waits for that
 *     in its own publish; producers see its cells as taken all along.  The
 *     in-place reader therefore never waits itself (rh__queue_release_inplace
 *     says "not yet" instead, and the bridge tries again on its next step),
 *     so that inline workers of one kernel sharing a queue never wait for
 *     each other's process() calls;
 *   - producers: cells claimed for answers are published once per batch
 *     (prod_tail), so another producer of the same queue that claims in the
 *     meantime waits for that; the worker publishes its open run as soon
 *     as its next claim finds another producer's claim after it (inplace.c).
 * Each producer run has a producer note in the host's name (queue_notes.c),
 * kept until the whole run is published or given back, so a producer
 * behind a batch however slow waits for it (up to its own deadline); a
 * consumer run claimed in place is unrecorded: a holder that dies between
 * claim and release stalls the consumers' side (queue_stall.c).
 */
#include <string.h>

#include "queue/queue_protocol.h"
#include "queue/queue_claims.h"

rh_envelope *rh__queue_cell(rh_queue *q, uint64_t pos)
{
    return &cell_at(q, pos)->env;
}

rh_cell_view rh__queue_cell_view(const rh_queue *q)
{
    rh_cell_view v = {q->cells, q->mask, q->slot_size, q->payload_size};
    return v;
}

int rh__queue_consumer_entry(rh_queue *q)
{
    /* As queue.c's consumer_entry: finished runs parked behind a peek that
     * nobody published yet go out first (queue_loan.c). */
    if (__builtin_expect(atomic_load_explicit(&q->h->parked, memory_order_relaxed) != 0, 0))
        rh__queue_help_parked(q);
    return __builtin_expect(atomic_load_explicit(&q->h->orphans, memory_order_relaxed) != 0, 0);
}

uint32_t rh__queue_take_inplace(rh_queue *q, uint32_t n, uint64_t *pos)
{
    uint32_t k = n ? claim_dequeue_run(q, n, pos) : 0;
    if (k == 0) {
        /* Empty: a peek whose holder died becomes an orphan that the next
         * receive adopts (the caller's copying path: rh__queue_dequeue_burst). */
        if (n)
            (void)rh__queue_claims_recover(q);
        return 0;
    }
    note_depth(q, atomic_load_explicit(&q->h->prod_tail, memory_order_relaxed) - *pos);
    return k;
}

void rh__queue_voids_taken(rh_queue *q, uint32_t voids)
{
    /* a dead holder's reservation, or a run's unused cells: skipped, not delivered */
    count(q, C_VOID_TAKEN, voids);
}

uint32_t rh__queue_inplace_len(rh_queue *q, uint64_t pos, uint32_t room)
{
    cell *c = cell_at(q, pos);
    /* Read once: another process may scribble on the cell; every later use
     * is of this value, clamped to the cell. */
    uint32_t len = __atomic_load_n(&c->env.payload_len, __ATOMIC_RELAXED);
    if (room > q->payload_size)
        room = q->payload_size;
    if (len < room) /* the reader sees a whole struct, never an older message's tail */
        memset((char *)(c + 1) + len, 0, room - len);
    return len;
}

int rh__queue_release_inplace(rh_queue *q, uint64_t pos, uint64_t end, uint64_t *tail_out)
{
    queue_header *h = q->h;
    /* Acquire: pairs with the release of the consumer before us, whose
     * reads of its cells then happen before our release below. */
    uint64_t now = atomic_load_explicit(&h->cons_tail, memory_order_acquire);
    *tail_out = now;
    if (now != pos) {
        if (pos - now <= RH_QUEUE_CAPACITY_MAX)
            return 1; /* an earlier claim is still being read */
        /* A tail past our claim, or far behind any capacity: scribbled by
         * another process.  publish() knows what to do with it at once. */
        (void)publish(q, CORRUPT_CONSUMERS, &h->cons_tail, pos, end);
    } else {
        atomic_store_explicit(&h->cons_tail, end, memory_order_release);
        /* Receives that finished behind us and parked their runs in the
         * claims table (a peek in front of them): ours was the gap. */
        if (atomic_load_explicit(&h->parked, memory_order_relaxed) != 0)
            rh__queue_help_parked(q);
    }
    rh_bell_ring(&h->not_full);
    /* A reader in place whose release is waiting for ours sleeps here. */
    rh_bell_ring(&h->not_empty);
    return 0;
}

int rh__queue_release_stalled(rh_queue *q, uint64_t tail, uint64_t pos, uint64_t end,
                              uint64_t *since)
{
    /* zcc's protocol (queue_protocol.h publish_run): a peek in the claims table
     * in front of us is waited for while its holder lives (never the 1-s
     * corrupt rule) and made an orphan once it is dead; either way our run,
     * whose messages the kernel has read, is parked there as finished, and
     * whoever moves cons_tail up to it publishes it.  An unrecorded claim
     * falls under the 1-s rule (rh__queue_stalled). */
    int st = rh__queue_claim_stall(q, CORRUPT_CONSUMERS, tail, pos, end, PARK_PLAIN, since);
    if (st == STALL_PARKED) {
        rh_bell_ring(&q->h->not_full);
        return 1;
    }
    return st == STALL_GIVE_UP;
}

/* The port's note (index + 1 in *note, 0: none): its run, held across the
 * kernel's batch, is named by this process (tid 0: another thread of the
 * host may publish it) so a producer behind it waits however long the
 * batch takes (queue_notes.c). */
static queue_note *port_note(rh_queue *q, int note)
{
    return note > 0 && note <= QUEUE_NOTES ? &q->h->notes[note - 1] : NULL;
}

uint32_t rh__queue_claim_inplace(rh_queue *q, uint32_t n, uint64_t *pos, int *note)
{
    /* One note per run: a port claims again only once its run is all
     * published (engine/inplace.c next_cell). */
    if (n == 0 || *note)
        return 0;
    queue_note *nt = note_take_as(q, rh__note_process());
    if (!nt)
        return 0;
    uint32_t k = claim_enqueue_run(q, n, pos, nt);
    if (k == 0) {
        note_free(nt);
        return 0;
    }
    *note = (int)(nt - q->h->notes) + 1;
    return k;
}

int rh__queue_unclaim_inplace(rh_queue *q, uint64_t from, uint64_t end, int *note)
{
    queue_note *nt = port_note(q, *note);
    /* [from, end) pending again while we give it back: if we die here, a
     * waiter cannot tell whether the CAS below happened (queue_notes.c). */
    if (nt)
        atomic_store_explicit(&nt->done, from, memory_order_release);
    /* Only while nobody claimed after us: then prod_head is still end, no
     * producer holds a position past from, and consumers never look past
     * prod_tail (<= from), so the cells were never anyone else's. */
    uint64_t expect = end;
    int back = atomic_compare_exchange_strong_explicit(&q->h->prod_head, &expect, from,
                                                       memory_order_relaxed, memory_order_relaxed);
    if (nt && back) {
        note_free(nt);
        *note = 0;
    } else if (nt) {
        atomic_store_explicit(&nt->done, end, memory_order_release);
    }
    return back;
}

void rh__queue_stamp_inplace(rh_queue *q, uint64_t from, uint64_t end, uint64_t enqueue_ns,
                             int time_only)
{
    if (time_only) {
        for (uint64_t pos = from; pos != end; pos++)
            cell_at(q, pos)->env.enqueue_ns = enqueue_ns;
        return;
    }
    uint32_t size = q->payload_size;
    for (uint64_t pos = from; pos != end; pos++) {
        cell *c = cell_at(q, pos);
        if (__builtin_expect(rh_id_is_zero(c->env.id), 0))
            c->env.id = rh_id_new();
        c->env.enqueue_ns = enqueue_ns;
        if (c->env.port)
            c->env.port = 0;
        uint32_t len = c->env.payload_len;
        if (__builtin_expect(len > size, 0))
            /* Atomic as in fill_cell (queue.c): try_dequeue may peek at it. */
            __atomic_store_n(&c->env.payload_len, size, __ATOMIC_RELAXED);
    }
}

void rh__queue_void_inplace(rh_queue *q, uint64_t from, uint64_t end)
{
    /* Claimed cells that cannot be given back (another producer claimed
     * after them): void, as a dead holder's loan (queue_loan.c), so every
     * consumer skips them without a delivery or a count. */
    for (uint64_t pos = from; pos != end; pos++)
        __atomic_store_n(&cell_at(q, pos)->env.port, (uint16_t)CELL_VOID_PORT, __ATOMIC_RELAXED);
    count(q, C_VOID_MADE, end - from);
}

int rh__queue_publish_inplace(rh_queue *q, uint64_t pos, uint64_t end, int *note)
{
    int rc = publish(q, CORRUPT_PRODUCERS, &q->h->prod_tail, pos, end);
    /* After the publish: until then the note's [pos, done) holds the tail
     * and the rest of the run, and a waiter at end finds the rest in it. */
    queue_note *nt = port_note(q, *note);
    if (nt && rc == PUBLISH_ABANDONED) {
        /* behind a live, slow sender past the deadline: the whole run is
         * given up, published void later (queue_notes.h NOTE_ABANDONED) */
        (void)note_abandon(nt, rh__note_process());
        *note = 0;
    } else if (nt) {
        uint64_t done = atomic_load_explicit(&nt->done, memory_order_relaxed);
        if ((int64_t)(done - end) <= 0) {
            note_free(nt);
            *note = 0;
        } else {
            atomic_store_explicit(&nt->pos, end, memory_order_release);
        }
    }
    if (rc == 0)
        rh_bell_ring(&q->h->not_empty);
    return rc;
}

uint64_t rh__queue_claimed(const rh_queue *q)
{
    return atomic_load_explicit(&q->h->cons_head, memory_order_acquire);
}
