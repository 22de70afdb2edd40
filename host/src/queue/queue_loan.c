/*
 * queue_loan.c — zero-copy clients of a named queue: loans
 * (rh_send_reserve / rh_send_commit: the sender writes its messages into
 * the queue's own cells) and peeks (rh_recv_peek / rh_recv_release: the
 * receiver reads them where they lie), in the style of iceoryx's
 * loan/publish, Aeron's try_claim and DPDK's
 * rte_ring_enqueue_zc_burst_start/finish.
 *
 * A loan is a producer claim (queue_protocol.h: claim_enqueue_run) held
 * across the caller's writes, a peek a consumer claim held across its
 * reads: the head/tail protocol is unchanged, the cells are simply the
 * caller's for longer.  That is the whole problem.  Every claim after a
 * held one publishes only once the held one has (a tail moves in order),
 * so a holder that dies would stall its side for good, and a live holder
 * that keeps a peek for 2 s would have made the 1-s stall rule
 * (rh__queue_stalled) mark the queue corrupt.
 *
 *
 * The claims table that records each loan and peek, and what happens when
 * a holder dies, is queue_claims.c.
 */
#define _GNU_SOURCE
#include <string.h>

#include "queue/queue_protocol.h"
#include "queue/queue_claims.h"

/* ------------------------------------------------------------- loans --- */

/* rh__queue_full_policy's attempt for a reservation. */
typedef struct reserve_try {
    int entry;
    uint32_t n, k;
    uint64_t pos;
} reserve_try;

static int reserve_attempt(rh_queue *q, void *arg)
{
    reserve_try *r = arg;
    r->k = claim_enqueue_run_noted(q, r->n, &r->pos, &q->h->claims[r->entry]);
    return r->k ? 0 : RH_EFULL;
}

int rh_send_reserve(rh_queue *q, uint32_t n, rh_loan *loans)
{
    if (!q || !loans || n == 0)
        return RH_EINVAL;
    if (q->loan_slot)
        return RH_ESTATE;
    if (q->stale) /* sticky (rh_send) */
        return q->stale;
    /* As rh_send: a corrupt side is refused at once only when the queue is
     * full (rh__queue_full_policy); with room, the commit's publish finds
     * out (and marks the producers' side, as a send's would). */
    if (n > q->capacity)
        n = q->capacity;
    reserve_try r = {rh__claims_take(q, CLAIM_K_RESERVING, 0), n, 0, 0};
    if (r.entry < 0)
        return RH_EBUSY;
    int rc = reserve_attempt(q, &r);
    if (rc == RH_EFULL)
        rc = rh__queue_full_policy(q, reserve_attempt, &r);
    if (rc) {
        rh__claims_free(q, r.entry);
        return rc;
    }
    atomic_store_explicit(&q->h->claims[r.entry].owner, rh__claims_owner(CLAIM_K_RESERVED, 0),
                          memory_order_release);
    for (uint32_t i = 0; i < r.k; i++) {
        cell *c = cell_at(q, r.pos + i);
        c->env.id = (rh_id){0, 0};
        c->env.correlation_id = (rh_id){0, 0};
        c->env.priority = 0;
        c->env.flags = 0;
        c->env.port = 0;
        loans[i].env = &c->env;
        loans[i].payload = c + 1;
    }
    q->loan_slot = r.entry + 1;
    q->loan_pos = r.pos;
    q->loan_n = r.k;
    return (int)r.k;
}

int rh_send_commit(rh_queue *q, uint32_t n, const uint32_t *lens, rh_id *ids_out)
{
    if (!q)
        return RH_EINVAL;
    if (!q->loan_slot)
        return RH_ESTATE;
    if (n > q->loan_n)
        return RH_EINVAL;
    for (uint32_t i = 0; lens && i < n; i++)
        if (lens[i] > q->payload_size)
            return RH_ETOOBIG; /* nothing published: the loan is still the caller's */
    uint64_t now = rh_now_ns();
    for (uint32_t i = 0; i < q->loan_n; i++) {
        cell *c = cell_at(q, q->loan_pos + i);
        if (i < n) {
            if (rh_id_is_zero(c->env.id))
                c->env.id = rh_id_new();
            c->env.enqueue_ns = now;
            c->env.port = 0;
            __atomic_store_n(&c->env.payload_len, lens ? lens[i] : q->payload_size,
                             __ATOMIC_RELAXED);
            if (ids_out)
                ids_out[i] = c->env.id;
        } else { /* reserved, not committed: published void */
            __atomic_store_n(&c->env.payload_len, 0, __ATOMIC_RELAXED);
            c->env.port = CELL_VOID_PORT;
        }
    }
    if (n < q->loan_n)
        count(q, C_VOID_MADE, q->loan_n - n);
    int rc = publish(q, CORRUPT_PRODUCERS, &q->h->prod_tail, q->loan_pos,
                     q->loan_pos + q->loan_n);
    if (rc == PUBLISH_ABANDONED)
        /* Behind a live, slow sender past the deadline: the loan's entry
         * is left as a dead holder's (pid 0), whose run the next waiter at
         * its start publishes void (queue_claims.c void_run). */
        atomic_store_explicit(&q->h->claims[q->loan_slot - 1].owner, CLAIM_K_RESERVED,
                              memory_order_release);
    else
        rh__claims_free(q, q->loan_slot - 1);
    q->loan_slot = 0;
    if (rc) {
        count(q, C_REJECTED, n);
        return rc == PUBLISH_ABANDONED ? RH_ETIMEDOUT : RH_ECORRUPT;
    }
    if (n) {
        rh_bell_ring(&q->h->not_empty);
        /* As rh_send's check_moved (queue.c): taken over under us? */
        if (atomic_load_explicit(&q->h->moved, memory_order_seq_cst) != 0)
            rh__queue_mark_moved(q);
    }
    return (int)n;
}

/* ------------------------------------------------------------- peeks --- */

static int has_message(const rh_queue *q)
{
    return !rh__queue_is_empty(q);
}

int rh_recv_peek(rh_queue *q, uint32_t n, int timeout_ms, rh_msg_view *views)
{
    if (!q || !views || n == 0)
        return RH_EINVAL;
    if (q->peek_slot)
        return RH_ESTATE;
    queue_header *h = q->h;
    uint64_t deadline = 0;
    rh_waiter w;
    /* rounds: runs of only void cells (or orphans with none left) looked
     * at, a queue's worth at most (a scribbled prod_tail, as in queue.c
     * try_dequeue). */
    for (uint32_t rounds = 0;;) {
        if (atomic_load_explicit(&h->parked, memory_order_relaxed))
            rh__queue_help_parked(q);
        if (atomic_load_explicit(&h->orphans, memory_order_relaxed)) {
            int i = rh__claims_adopt_entry(q, CLAIM_K_PEEKED);
            if (i >= 0) {
                uint64_t upto;
                uint32_t got = rh__claims_adopt_take(q, i, n, NULL, NULL, views, &upto);
                if (got == 0) {
                    rh__claims_adopt_done(q, i, upto, q->persist ? PARK_ACK : PARK_PLAIN);
                    if (++rounds > q->capacity)
                        return RH_EEMPTY;
                    continue;
                }
                atomic_store_explicit(&h->claims[i].upto, upto, memory_order_release);
                q->peek_slot = i + 1;
                return (int)got;
            }
        }
        int i = rh__claims_take(q, CLAIM_K_PEEKING, 0);
        if (i < 0)
            return RH_EBUSY;
        uint64_t pos;
        uint32_t k = claim_dequeue_run_noted(q, n, &pos, &h->claims[i]);
        if (k) {
            atomic_store_explicit(&h->claims[i].owner, rh__claims_owner(CLAIM_K_PEEKED, 0),
                                  memory_order_release);
            note_depth(q, atomic_load_explicit(&h->prod_tail, memory_order_relaxed) - pos);
            uint32_t got = 0, voids = 0;
            for (uint32_t j = 0; j < k; j++) {
                if (cell_is_void(q, pos + j)) {
                    voids++;
                    continue;
                }
                cell *c = cell_at(q, pos + j);
                uint32_t len = __atomic_load_n(&c->env.payload_len, __ATOMIC_RELAXED);
                views[got].env = &c->env;
                views[got].payload = c + 1;
                views[got].len = len <= q->payload_size ? len : q->payload_size;
                got++;
            }
            if (voids)
                count(q, C_VOID_TAKEN, voids);
            if (got == 0) {
                rh__claims_finish_run(q, i, PARK_PLAIN);
                if (++rounds > q->capacity)
                    return RH_EEMPTY;
                continue;
            }
            q->peek_slot = i + 1;
            return (int)got;
        }
        rh__claims_free(q, i);
        if (queue_side_corrupt(q, CORRUPT_PRODUCERS))
            return RH_ECORRUPT;
        if (rh__queue_claims_recover(q))
            continue;
        if (timeout_ms == 0) {
            int stale = q->creator || !q->cfg.shared ? 0 : rh__queue_stale_check(q, rh_now_ns());
            return stale ? stale : RH_EEMPTY;
        }
        if (deadline == 0) {
            deadline = rh_deadline_after_ms(timeout_ms);
            rh__queue_client_waiter_init(&w);
        }
        int rc = rh__queue_wait_step(q, &w, &h->not_empty, has_message, deadline);
        if (rc)
            return rc;
    }
}

int rh_recv_release(rh_queue *q)
{
    if (!q)
        return RH_EINVAL;
    if (!q->peek_slot)
        return RH_ESTATE;
    int i = q->peek_slot - 1;
    q->peek_slot = 0;
    rh__claims_adopt_done(q, i, atomic_load_explicit(&q->h->claims[i].upto, memory_order_acquire),
               q->persist ? PARK_ACK : PARK_PLAIN);
    return 0;
}

void rh__queue_loans_close(rh_queue *q)
{
    if (q->loan_slot)
        (void)rh_send_commit(q, 0, NULL, NULL); /* reserved, never committed: void */
    if (q->peek_slot)
        (void)rh_recv_release(q);
}
