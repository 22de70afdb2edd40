/*
 * queue.c — the named queue: bounded, multi-producer multi-consumer, fixed
 * slots, optionally in POSIX shared memory so other processes attach by name.
 *
 * Algorithm: the head/tail ring of DPDK's rte_ring (multi-producer,
 * multi-consumer mode).  Producers claim a run of cells by CAS on
 * prod_head, fill them, wait until the producers before them have
 * published (prod_tail == their first position), then publish by storing
 * prod_tail.  Consumers do the same with cons_head and cons_tail.  A cell
 * carries only its message: nobody writes a per-cell flag, so a cell's cache
 * lines go from producer to consumer once, and a burst of n messages costs
 * one CAS and one index store on each side, whatever n.  (The first version
 * was Vyukov's queue, a stamp per cell: the consumer's write of every stamp
 * and the producer's read of it cost two more cache-line transfers per
 * message, and a one-hop burst of 64-byte messages ran at ~1/8 of an
 * rte_ring hop; docs/PERFORMANCE.md has the numbers.)
 *
 * The price: a producer preempted between its claim and its publish holds
 * up the producers after it (and a consumer likewise), as in DPDK's default
 * mode.  They spin, then yield, then nap, so the holder gets the cpu back.
 * Every producer claim names its holder (a producer note, queue_notes.c):
 * a slow one is waited for, one that died in that window has its run
 * published void by the next waiter.  A consumer that dies there stalls
 * the consumers' side (the 1-s rule, queue_stall.c); a persist queue is
 * repaired from that at its host's next launch (queue_persist.c).
 *
 * Positions only grow (64-bit, never wrap in practice); cell = pos & mask.
 * All-zero memory (a fresh ftruncate'd shm object or anonymous mapping) is
 * an empty queue: creating a 2^24-slot queue touches no slot pages.
 *
 * Counters: nothing is bumped per message.  enqueued and dequeued are
 * derived from the two tails (which only grow), depth from their
 * difference; only the slow paths (full queue, host-side drops) touch the
 * counter line.  high_water is raised by consumers once per burst, and set
 * to capacity by a producer that finds the queue full.
 *
 * This file is the sending half of the hot path: send, the bursts, the
 * backpressure policies; receiving is queue_recv.c, and the claim/publish
 * protocol both use is queue_protocol.h.  Counters, names and accessors are
 * queue_info.c; creating, attaching, checking and removing the mapping is
 * queue_shm.c; the layout all of them rely on is queue_layout.h.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "base/clock.h"
#include "queue/queue_protocol.h"
#include "base/id.h"
#include "queue/queue_claims.h"

/* The one place a message is written into a cell its producer has claimed
 * (every send path: rh_send, the bursts, send_full's retries): from's id
 * (a fresh one when from is NULL or its id is zero), correlation id,
 * priority and flags, the enqueue time, port 0, and len payload bytes.  The
 * caller has checked len against the slot (len <= q->payload_size).
 * Returns the id the message got.
 *
 * Why the id is written straight from rh_id_new's result into the cell,
 * not through a local: a 16-byte local built from two 8-byte halves and
 * stored as one costs a store-forwarding stall per message, and held across
 * the memcpy call it is spilled too (measured: the queue hop at burst 32
 * ran 30% slower that way, docs/PERFORMANCE.md). */
static inline void fresh_id(cell *c, const uint64_t *block)
{
    if (block) { /* the next of a burst's ids (base/id.h rh__id_block) */
        c->env.id.hi = block[0];
        c->env.id.lo = rh__id_lo_of_count(block[1]);
    } else {
        c->env.id = rh_id_new();
    }
}

/* block: NULL, or {stream, count} of an id block whose next id a message
 * without one gets (rh_send_burst: one draw per burst). */
static inline rh_id fill_cell(rh_queue *q, uint64_t pos, const rh_envelope *from,
                              uint64_t enqueue_ns, const void *payload, uint32_t len,
                              const uint64_t *block)
{
    cell *c = cell_at(q, pos);
    if (from) {
        if (rh_id_is_zero(from->id))
            fresh_id(c, block);
        else
            c->env.id = from->id;
        c->env.correlation_id = from->correlation_id;
        c->env.priority = from->priority;
        c->env.flags = from->flags;
    } else {
        fresh_id(c, block);
        c->env.correlation_id = (rh_id){0, 0};
        c->env.priority = 0;
        c->env.flags = 0;
    }
    c->env.enqueue_ns = enqueue_ns;
    /* Atomic for the same reason as payload_len below: cell_is_void reads
     * it from a consumer that has not claimed the cell. */
    __atomic_store_n(&c->env.port, 0, __ATOMIC_RELAXED);
    /* Atomic because rh__queue_try_dequeue (queue_recv.c) may peek at it
     * from a consumer that has not claimed the cell (see there); relaxed,
     * the tails order it. */
    __atomic_store_n(&c->env.payload_len, len, __ATOMIC_RELAXED);
    if (len)
        memcpy(c + 1, payload, len);
    return c->env.id;
}

/* One message in: 0, RH_EFULL, or RH_ECORRUPT (not published: the
 * producers' side is stalled for good, see publish). */
static int try_enqueue(rh_queue *q, const rh_envelope *e, const void *payload, uint32_t len)
{
    uint64_t pos;
    /* The note names this thread to a waiter behind the claim
     * (queue_notes.c): slow is waited for, dead repaired. */
    queue_note *note = note_take(q);
    if (!note)
        return RH_EBUSY;
    if (claim_enqueue_run(q, 1, &pos, note) == 0)
        return RH_EFULL;
    fill_cell(q, pos, e, e->enqueue_ns, payload, len, NULL);
    int rc = publish(q, CORRUPT_PRODUCERS, &q->h->prod_tail, pos, pos + 1);
    if (rc == PUBLISH_ABANDONED) /* behind a live, slow sender past our deadline */
        (void)note_abandon(note, rh__note_self);
    return rc;
}

/* ------------------------------------------------------------ sending --- */

/* The envelope rh_send and rh_send_burst enqueue: the caller's fields, a
 * fresh id when it gave none, the enqueue time and the length. */
static inline void stamp_env(rh_envelope *e, const rh_envelope *from, uint64_t now, uint32_t len)
{
    if (from)
        *e = *from;
    else
        memset(e, 0, sizeof *e);
    if (rh_id_is_zero(e->id))
        e->id = rh_id_new();
    e->enqueue_ns = now;
    e->payload_len = len;
    e->port = 0;
}

/* How long drop_oldest waits for a claim in progress to finish before it
 * gives up on the message (see send_full). */
#define EVICT_WAIT_NS (200 * RH_NS_PER_MS)

/* A send found the queue full: apply its policy (queue_layout.h). */
int rh__queue_full_policy(rh_queue *q, int (*attempt)(rh_queue *, void *), void *arg)
{
    queue_header *h = q->h;
    /* Cells of receives parked behind a peek that nobody published yet
     * (queue_loan.c): free them before the policy. */
    if (atomic_load_explicit(&h->parked, memory_order_relaxed) && rh__queue_help_parked(q) &&
        attempt(q, arg) == 0)
        return 0;
    /* The producers' side stalled for good (try_enqueue gave up on it), or
     * the consumers' did, so no cell is ever freed again: say so instead
     * of waiting (block) or evicting (drop_oldest) for nothing.  Refused
     * and counted; the caller still holds its message. */
    if (queue_side_corrupt(q, CORRUPT_PRODUCERS | CORRUPT_CONSUMERS)) {
        count(q, C_REJECTED, 1);
        return RH_ECORRUPT;
    }
    /* An attached client whose host is gone or was replaced: what it sends
     * now would reach nobody.  The full queue is the
     * slow path where a client of a dead queue ends up. */
    if (!q->creator && q->cfg.shared) {
        int stale = rh__queue_stale_check(q, rh_now_ns());
        if (stale)
            return stale;
    }
    note_depth(q, q->capacity);
    switch (q->cfg.backpressure) {
    case RH_BP_REJECT:
        count(q, C_REJECTED, 1);
        return RH_EFULL;
    case RH_BP_DROP_NEWEST:
        count(q, C_DROPPED_NEWEST, 1);
        return RH_EDROPPED;
    case RH_BP_DROP_OLDEST: {
        uint64_t wait_from = 0;
        /* At most capacity evictions for one message: a healthy queue
         * needs one (more only while other producers take the freed cell),
         * and a header scribbled by another process (a depth of 2^40, say:
         * fuzz/fuzz_queue.c) must not keep one send evicting for hours;
         * a depth beyond capacity is refused at once. */
        for (unsigned tries = 0, evicted = 0;; tries++) {
            int rc = attempt(q, arg);
            if (rc != RH_EFULL) {
                if (rc)
                    count(q, C_REJECTED, 1);
                return rc;
            }
            if (evicted > q->capacity) {
                count(q, C_REJECTED, 1);
                return RH_EFULL;
            }
            /* Evict only when the queue is really full: when depth is below
             * capacity a consumer is mid-way through freeing our cell, and
             * evicting would throw away a message for nothing. */
            uint64_t freed = atomic_load_explicit(&h->cons_tail, memory_order_acquire);
            uint64_t claimed = atomic_load_explicit(&h->cons_head, memory_order_acquire);
            uint64_t published = atomic_load_explicit(&h->prod_tail, memory_order_acquire);
            uint64_t head = atomic_load_explicit(&h->prod_head, memory_order_acquire);
            /* Read in this order (each index only grows, and never passes
             * the next one), a sane queue has freed <= claimed <= published
             * <= head <= freed + capacity; anything else is a header
             * scribbled by another process, with nothing sane to evict. */
            if (claimed - freed > published - freed || published - freed > head - freed ||
                head - freed > q->capacity) {
                count(q, C_REJECTED, 1);
                return RH_EFULL;
            }
            if (head - claimed >= q->capacity &&
                rh__queue_try_dequeue(q, NULL, NULL, 0, 1) >= 0) {
                count(q, C_DROPPED_OLDEST, 1);
                evicted++;
                tries = 0;
                continue;
            }
            /* Nothing to evict yet: a consumer or producer is between its
             * claim and its publish, which takes microseconds.  One that
             * makes no progress for EVICT_WAIT_NS has died there (or the
             * header was scribbled on): refuse rather than wait for ever. */
            /* The cells are held by a peek (queue_loan.c): nothing will be
             * evictable until its holder releases it, which may take long;
             * refused at once, as a full reject queue would. */
            if (tries == 0 && rh__queue_cons_tail_held(q)) {
                count(q, C_REJECTED, 1);
                return RH_EFULL;
            }
            if (tries == 0)
                wait_from = rh_now_ns();
            else if ((tries & 63) == 0 && rh_now_ns() - wait_from > EVICT_WAIT_NS) {
                /* every 64 polls: past 64 they yield, and on a loaded machine 1024
                 * yields took seconds (fuzz_queue, load 30 on 2 cpus) */
                count(q, C_REJECTED, 1);
                return RH_EFULL;
            }
            backoff(tries);
        }
    }
    case RH_BP_BLOCK:
    default: {
        rh_waiter w;
        rh__queue_client_waiter_init(&w);
        return rh__queue_block(q, attempt, arg, rh_deadline_after_ms(q->cfg.block_timeout_ms), &w,
                               NULL, NULL);
    }
    }
}

/* send_full's attempt: the one message. */
typedef struct send_one {
    const rh_envelope *e;
    const void *payload;
    uint32_t len;
} send_one;

static int send_one_attempt(rh_queue *q, void *arg)
{
    send_one *s = arg;
    return try_enqueue(q, s->e, s->payload, s->len);
}

/* The queue was full: apply its policy.  Kept out of rh_send so the fast
 * path stays small. */
static __attribute__((noinline)) int send_full(rh_queue *q, const rh_envelope *e,
                                               const void *payload, uint32_t len)
{
    send_one s = {e, payload, len};
    return rh__queue_full_policy(q, send_one_attempt, &s);
}

/*
 * After a send published into the queue and rang its doorbell (whose
 * seq_cst fence orders the publish before this load): whether the queue
 * was taken over by a new host while this client had it attached (a
 * persist queue moved, queue_persist.c move_under_clients, whose step 1
 * says why the order makes it exact; or a dead host's queue replaced,
 * queue_shm.c take_over_dead).  Then the message is in the new object
 * (copied) or is given back by rh_recv on this handle
 * (rh__queue_stale_recv), and every later call says RH_ESTALE.  A load of
 * prod_tail's line, which the publish has just written; a live host's
 * queue never has it set.
 */
static inline void check_moved(rh_queue *q)
{
    if (__builtin_expect(atomic_load_explicit(&q->h->moved, memory_order_seq_cst) != 0, 0))
        rh__queue_mark_moved(q);
}

int rh_send(rh_queue *q, const rh_envelope *env, const void *payload, uint32_t len,
            rh_id *id_out)
{
    if (!q || (len && !payload))
        return RH_EINVAL;
    if (len > q->payload_size)
        return RH_ETOOBIG;
    if (__builtin_expect(q->stale, 0)) /* sticky: what is sent here reaches no host */
        return q->stale;
    rh_envelope e;
    stamp_env(&e, env, rh_now_ns(), len);
    /* Reported even when the send fails, so a caller can retry with the
     * same id and let the dedup window drop a copy that did get through. */
    if (id_out)
        *id_out = e.id;
    int rc = try_enqueue(q, &e, payload, len);
    if (rc == RH_EFULL)
        rc = send_full(q, &e, payload, len);
    else if (rc) /* RH_ECORRUPT: refused, counted like a full queue's refusal */
        count(q, C_REJECTED, 1);
    if (rc == 0) {
        rh_bell_ring(&q->h->not_empty);
        check_moved(q);
    }
    return rc;
}

int rh_send_burst(rh_queue *q, const rh_envelope *envs, const void *payloads, uint32_t stride,
                  uint32_t len, uint32_t n, rh_id *ids_out)
{
    if (!q || (len && !payloads) || (n > 1 && len && stride < len))
        return RH_EINVAL;
    if (len > q->payload_size)
        return RH_ETOOBIG;
    if (n == 0)
        return 0;
    if (__builtin_expect(q->stale, 0))
        return q->stale;
    /* One clock read, one claim and one doorbell for the whole run that
     * fits; the rest goes one by one through the policy, as rh_send. */
    uint64_t now = rh_now_ns();
    uint64_t pos;
    queue_note *note = note_take(q);
    if (!note)
        return RH_EBUSY;
    uint32_t k = claim_enqueue_run(q, n, &pos, note);
    uint64_t block[2];
    rh__id_block(k, &block[0], &block[1]);
    for (uint32_t i = 0; i < k; i++, block[1]++) {
        rh_id id = fill_cell(q, pos + i, envs ? &envs[i] : NULL, now,
                             (const char *)payloads + (size_t)i * stride, len, block);
        if (ids_out)
            ids_out[i] = id;
    }
    int stalled = k ? publish(q, CORRUPT_PRODUCERS, &q->h->prod_tail, pos, pos + k) : 0;
    if (stalled) {
        /* none of them is sent: the caller still holds them all */
        count(q, C_REJECTED, k);
        if (stalled == PUBLISH_ABANDONED) {
            (void)note_abandon(note, rh__note_self);
            return RH_ETIMEDOUT;
        }
        return RH_ECORRUPT;
    }
    if (k) {
        rh_bell_ring(&q->h->not_empty);
        check_moved(q);
    }
    uint32_t done = k;
    for (; done < n && !q->stale; done++) {
        rh_envelope e;
        stamp_env(&e, envs ? &envs[done] : NULL, rh_now_ns(), len);
        if (ids_out)
            ids_out[done] = e.id;
        const void *payload = (const char *)payloads + (size_t)done * stride;
        int rc = try_enqueue(q, &e, payload, len);
        if (rc == RH_EFULL)
            rc = send_full(q, &e, payload, len);
        else if (rc)
            count(q, C_REJECTED, 1);
        if (rc == 0) {
            rh_bell_ring(&q->h->not_empty);
            check_moved(q);
        } else if (rc != RH_EDROPPED)
            /* refused (counted): the caller may retry from here; with none
             * sent, the two refusals that retrying cannot cure are said */
            return done == 0 && (rc == RH_ECORRUPT || rc == RH_ESTALE) ? rc : (int)done;
    }
    return (int)done;
}

uint32_t rh__queue_enqueue_burst(rh_queue *q, rh_envelope *const *src, uint32_t n)
{
    uint64_t pos;
    queue_note *note = n ? note_take(q) : NULL;
    uint32_t k = note ? claim_enqueue_run(q, n, &pos, note) : 0;
    if (k == 0)
        return 0;
    uint64_t now = rh_now_ns();
    for (uint32_t i = 0; i < k; i++) {
        rh_envelope *e = src[i];
        uint32_t len = e->payload_len <= q->payload_size ? e->payload_len : q->payload_size;
        fill_cell(q, pos + i, e, now, e + 1, len, NULL);
    }
    /* Gave up on a stalled producers' tail: none of the k is enqueued, and
     * the output bridge applies its policy to them as to a full queue's. */
    int rc = publish(q, CORRUPT_PRODUCERS, &q->h->prod_tail, pos, pos + k);
    if (rc == PUBLISH_ABANDONED) /* the bridge keeps the k and tries again */
        (void)note_abandon(note, rh__note_self);
    if (rc)
        return 0;
    rh_bell_ring(&q->h->not_empty);
    return k;
}
