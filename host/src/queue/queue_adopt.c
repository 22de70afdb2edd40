/*
 * queue_adopt.c — a dead peek's messages, taken up by the next reader:
 * every receive (copying, in place, or a peek of its own) that finds
 * h->orphans not 0 adopts an orphan entry of the claims table
 * (queue_claims.c), takes its messages from where the dead holder had
 * got to, marked RH_ENV_REDELIVERED, and publishes the run once all of it
 * is taken (parked behind an earlier claim, or acked on a persist queue,
 * as the receive's own run would be).  An adopter that dies leaves an
 * orphan again: at least once.
 */
#include "queue/queue_protocol.h"
#include "queue/queue_claims.h"

/* Finish the consumer run of entry i (this process holds it): all of it
 * was delivered, publish it (or park it) and free the entry. */
void rh__claims_finish_run(rh_queue *q, int i, unsigned park)
{
    queue_claim *c = &q->h->claims[i];
    uint64_t pos = atomic_load_explicit(&c->pos, memory_order_acquire);
    uint64_t end = atomic_load_explicit(&c->end, memory_order_acquire);
    if (rh__claims_run_sane(q, pos, pos, end) &&
        publish_run(q, CORRUPT_CONSUMERS, &q->h->cons_tail, pos, end, park) == 0 &&
        park == PARK_ACK && q->persist)
        rh__queue_ack(q, end);
    rh__claims_free(q, i);
    rh_bell_ring(&q->h->not_full);
}

/* Take an orphan entry for this process as kind; its index or -1. */
int rh__claims_adopt_entry(rh_queue *q, unsigned kind)
{
    queue_header *h = q->h;
    for (int i = 0; i < QUEUE_CLAIMS; i++) {
        queue_claim *c = &h->claims[i];
        uint64_t o = atomic_load_explicit(&c->owner, memory_order_acquire);
        if (rh__claims_kind_of(o) != CLAIM_K_ORPHAN ||
            !atomic_compare_exchange_strong_explicit(&c->owner, &o, rh__claims_owner(kind, 0),
                                                     memory_order_acq_rel, memory_order_relaxed))
            continue;
        rh__claims_sat_dec(&h->orphans);
        uint64_t pos = atomic_load_explicit(&c->pos, memory_order_acquire);
        uint64_t next = atomic_load_explicit(&c->next, memory_order_acquire);
        uint64_t end = atomic_load_explicit(&c->end, memory_order_acquire);
        if (!rh__claims_run_sane(q, pos, next, end)) {
            rh__claims_free(q, i); /* scribbled */
            continue;
        }
        return i;
    }
    return -1;
}

/* The next up to n messages of adopted entry i from its next, marked
 * redelivered; calls take for each (when not NULL) and fills views (when
 * not NULL).  Returns how many; *upto: the position after the last cell
 * looked at. */
uint32_t rh__claims_adopt_take(rh_queue *q, int i, uint32_t n, rh__adopt_take take, void *arg,
                           rh_msg_view *views, uint64_t *upto)
{
    queue_claim *c = &q->h->claims[i];
    uint64_t p = atomic_load_explicit(&c->next, memory_order_relaxed);
    uint64_t end = atomic_load_explicit(&c->end, memory_order_relaxed);
    uint32_t got = 0;
    for (; p != end && got < n; p++) {
        if (cell_is_void(q, p))
            continue; /* counted when the run was first claimed */
        cell *cl = cell_at(q, p);
        cl->env.flags |= RH_ENV_REDELIVERED;
        if (take)
            take(q, p, got, arg);
        if (views) {
            uint32_t len = __atomic_load_n(&cl->env.payload_len, __ATOMIC_RELAXED);
            views[got].env = &cl->env;
            views[got].payload = cl + 1;
            views[got].len = len <= q->payload_size ? len : q->payload_size;
        }
        got++;
    }
    *upto = p;
    return got;
}

/* Entry i's holder has delivered [next, upto): on to the next part, or
 * the run is finished. */
void rh__claims_adopt_done(rh_queue *q, int i, uint64_t upto, unsigned park)
{
    queue_claim *c = &q->h->claims[i];
    atomic_store_explicit(&c->next, upto, memory_order_release);
    if (upto == atomic_load_explicit(&c->end, memory_order_relaxed)) {
        rh__claims_finish_run(q, i, park);
        return;
    }
    atomic_store_explicit(&c->owner, CLAIM_K_ORPHAN, memory_order_release);
    atomic_fetch_add_explicit(&q->h->orphans, 1, memory_order_release);
}

uint32_t rh__queue_adopt(rh_queue *q, uint32_t n, unsigned park, rh__adopt_take take, void *arg)
{
    for (unsigned tries = 0; tries < QUEUE_CLAIMS; tries++) {
        int i = rh__claims_adopt_entry(q, CLAIM_K_ADOPTING);
        if (i < 0)
            return 0;
        uint64_t upto;
        uint32_t got = rh__claims_adopt_take(q, i, n, take, arg, NULL, &upto);
        rh__claims_adopt_done(q, i, upto, park);
        if (got)
            return got;
    }
    return 0;
}
