/*
 * queue_ack.c — how far the consumers are done with a named queue's cells:
 * acked, which a persist queue's producers wait for instead of cons_tail
 * (queue_persist.c says why), and cons_tail, taken.  Apart from
 * queue_persist.c because every receive path and the claims table's
 * repairs ack, and they need none of the persistence around it.
 */
#include "queue/queue_layout.h"

/*
 * Persist queues: the cells before `end` are done with, producers may
 * reuse them (queue_pvt.h).  Any consumer may call it (a client after its
 * recv, the host's input bridge once its kernel has finished), so acked
 * only grows, by CAS: a late ack of an earlier position changes nothing.
 * Release: our reads of those cells (and, for the bridge, the kernel's
 * outputs reaching their queue) happen before a producer that acquires
 * acked (queue_protocol.h claim_run, through q->free_tail) overwrites them.  Rings not_full: producers wait for acks.
 */
void rh__queue_ack(rh_queue *q, uint64_t end)
{
    queue_header *h = q->h;
    uint64_t cur = atomic_load_explicit(&h->acked, memory_order_relaxed);
    while ((int64_t)(end - cur) > 0)
        if (atomic_compare_exchange_weak_explicit(&h->acked, &cur, end, memory_order_release,
                                                  memory_order_relaxed)) {
            if (q->persist) /* else nobody waits for acks: they only mark progress */
                rh_bell_ring(&h->not_full);
            return;
        }
}

void rh__queue_note_host_acks(rh_queue *q)
{
    atomic_store_explicit(&q->h->host_acks, 1, memory_order_relaxed);
}

uint64_t rh__queue_taken(const rh_queue *q)
{
    return atomic_load_explicit(&q->h->cons_tail, memory_order_acquire);
}

uint64_t rh__queue_acked(const rh_queue *q)
{
    return atomic_load_explicit(&q->h->acked, memory_order_acquire);
}
