/*
 * queue_wait.c — how a client waits on a named queue (a blocked rh_send, an
 * rh_recv with a timeout): spin, then yield, then park on the queue's
 * doorbell, always until a deadline.  queue.c calls it only once the fast
 * path found no room or no message.  The one `block` wait of a send
 * (rh__queue_block: rh_send's and the output bridge's).  How a publisher
 * waits behind an earlier claim of its side is queue_stall.c's
 * (rh__queue_publish_nap): it is part of the claim protocol, below the
 * clients' waits.
 */
#include "base/clock.h"

#include "queue/queue_layout.h"

/* rh_recv and a blocked rh_send wait like an adaptive dispatch thread, but
 * spin for less: about as long as a futex wake-up costs (~20 us), the
 * classic bound for spin-then-block.  Their callers are clients, and on an
 * oversubscribed machine a long spin steals the core from the very thread
 * that would end the wait. */
#define CLIENT_SPIN_POLLS 200u
#define CLIENT_YIELD_POLLS 50u

void rh__queue_client_waiter_init(rh_waiter *w)
{
    rh__waiter_init(w, RH_WAIT_ADAPTIVE);
    w->spin_polls = CLIENT_SPIN_POLLS;
    w->yield_polls = CLIENT_YIELD_POLLS;
}

typedef struct wait_park {
    rh_queue *q;
    rh_bell *bell;
    int (*ready)(const rh_queue *);
    uint64_t deadline_ns, now, cap_ns;
} wait_park;

/* rh__queue_wait_step's park: on the bell, re-checking ready(q), until the
 * deadline, or STALE_CHECK_NS on a shared queue a client attached to (it
 * wakes to check that the host is still there), or cap_ns. */
static void wait_park_sleep(void *arg)
{
    wait_park *p = arg;
    rh_queue *q = p->q;
    rh_sleep s;
    rh__sleep_prepare(&s, &p->bell, 1);
    if (p->ready(q)) {
        rh__sleep_cancel(&s);
        return;
    }
    int64_t for_ns = p->deadline_ns == UINT64_MAX ? -1 : (int64_t)(p->deadline_ns - p->now);
    if (!q->creator && q->cfg.shared && (for_ns < 0 || (uint64_t)for_ns > STALE_CHECK_NS))
        for_ns = (int64_t)STALE_CHECK_NS;
    if (for_ns < 0 || (uint64_t)for_ns > p->cap_ns)
        for_ns = p->cap_ns == UINT64_MAX ? for_ns : (int64_t)p->cap_ns;
    rh__sleep_commit(&s, for_ns);
}

/* One idle step of a bounded wait on `bell` until ready(q) or deadline_ns
 * (UINT64_MAX: forever).  Spins, then yields, then parks (rh_waiter's
 * adaptive policy), because a futex wake-up costs tens of microseconds.
 * Returns 0 to poll again, RH_ETIMEDOUT once the deadline has passed,
 * RH_ESTALE when an attached client's host is gone or was replaced (checked
 * at most every STALE_CHECK_NS, so a park on a shared queue a client
 * attached to lasts at most that long). */
static int wait_step(rh_queue *q, rh_waiter *w, rh_bell *bell, int (*ready)(const rh_queue *),
                     uint64_t deadline_ns, uint64_t cap_ns)
{
    uint64_t now = rh_now_ns();
    if (now >= deadline_ns)
        return RH_ETIMEDOUT;
    int stale = rh__queue_stale_check(q, now);
    if (stale)
        return stale;
    wait_park park = {q, bell, ready, deadline_ns, now, cap_ns};
    rh__waiter_idle_step(w, wait_park_sleep, &park);
    return 0;
}

int rh__queue_wait_step(rh_queue *q, rh_waiter *w, rh_bell *bell,
                        int (*ready)(const rh_queue *), uint64_t deadline_ns)
{
    return wait_step(q, w, bell, ready, deadline_ns, UINT64_MAX);
}

/* ------------------------------------------------------------- block --- */

/* Whether the next enqueue would find room: the re-check between
 * rh__sleep_prepare and rh__sleep_commit of a blocked send (queue_recv.c
 * has the receive side's has_message). */
static int has_room(const rh_queue *q)
{
    uint64_t head = atomic_load_explicit(&q->h->prod_head, memory_order_acquire);
    uint64_t freed = atomic_load_explicit(q->free_tail, memory_order_acquire);
    return head - freed < q->capacity;
}

/* How long one park of a block wait with a stop check lasts at most: a
 * stop is seen within it even if no bell rings (a kernel terminated alone
 * rings its reactors' bells, not the queue's). */
#define BLOCK_STOP_CHECK_NS (10 * RH_NS_PER_MS)

int rh__queue_block(rh_queue *q, int (*attempt)(rh_queue *, void *), void *arg,
                    uint64_t deadline_ns, rh_waiter *w, int (*stopped)(const void *),
                    const void *stop_arg)
{
    uint64_t cap_ns = stopped ? BLOCK_STOP_CHECK_NS : UINT64_MAX;
    for (;;) {
        int rc = attempt(q, arg);
        if (rc != RH_EFULL) {
            if (rc)
                count(q, C_REJECTED, 1);
            return rc;
        }
        /* Nobody will read in time: not counted, the caller says what
         * becomes of its message (the bridge dead-letters it). */
        if (stopped && stopped(stop_arg))
            return RH_ESTOPPED;
        /* Ends by the deadline, or at once once a side is marked corrupt
         * (no cell will be freed, or none published) or the host is gone
         * (RH_ESTALE, wait_step's check, not counted: the send is not
         * refused by this queue but by its end). */
        rc = queue_side_corrupt(q, CORRUPT_PRODUCERS | CORRUPT_CONSUMERS)
                 ? RH_ECORRUPT
                 : wait_step(q, w, &q->h->not_full, has_room, deadline_ns, cap_ns);
        if (rc == RH_ESTALE)
            return rc;
        if (rc) {
            count(q, C_REJECTED, 1);
            return rc;
        }
    }
}
