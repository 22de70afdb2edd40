/*
 * queue_recv.c — the receiving side of the named queue: rh_recv,
 * rh_recv_burst and the input bridge's rh__queue_dequeue_burst, over the
 * head/tail protocol of queue_protocol.h (queue.c's top comment describes
 * it; queue.c is the sending side).  One copy out of each cell, clamped
 * to the cell and zero-extended to the reader's room; every receive first
 * publishes parked runs and adopts a dead peek's messages (queue_adopt.c).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "base/clock.h"
#include "queue/queue_protocol.h"

/* Copy a claimed cell out.  Returns the payload length.  The length is
 * clamped to the slot: a shared mapping can be scribbled on by another
 * process, and we never copy past our cell.  A payload shorter than the
 * type is zero-extended up to `room` bytes, so the reader always sees a
 * whole struct and never the previous message's tail (a kernel ring slot is
 * reused without clearing). */
static uint32_t take_cell(rh_queue *q, uint64_t pos, rh_envelope *env, void *buf, uint32_t room)
{
    const cell *c = cell_at(q, pos);
    uint32_t len = __atomic_load_n(&c->env.payload_len, __ATOMIC_RELAXED);
    if (len > q->payload_size)
        len = q->payload_size;
    if (buf && len > room) /* only if another process rewrote it after a peek */
        len = room;
    if (env) {
        env->id = c->env.id;
        env->correlation_id = c->env.correlation_id;
        env->enqueue_ns = c->env.enqueue_ns;
        env->priority = c->env.priority;
        env->flags = c->env.flags;
        env->port = c->env.port;
        env->payload_len = len;
    }
    if (buf && len)
        memcpy(buf, c + 1, len);
    if (buf && room > len)
        memset((char *)buf + len, 0, room - len);
    return len;
}

/* Dequeue one message into env/buf (both NULL: discard it, for drop_oldest).
 * Returns the payload length, RH_EEMPTY, or RH_ETOOBIG (left queued). */
int rh__queue_try_dequeue(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len,
                          int discard)
{
    queue_header *h = q->h;
    uint64_t pos;
    /* At most a queue's worth of void cells skipped per call: a sane queue
     * never holds more, and one whose prod_tail was scribbled far ahead
     * (fuzz_queue found it) must not keep this call skipping for ever. */
    for (uint32_t voids = 0;; voids++) {
        if (voids > q->capacity)
            return RH_EEMPTY;
        if (discard || buf_len >= q->payload_size) {
            if (claim_dequeue_run(q, 1, &pos) == 0)
                return RH_EEMPTY;
        } else {
            /* A buffer smaller than the slot: the length is checked
             * before the claim (claim_dequeue_fitting). */
            int too_big;
            if (claim_dequeue_fitting(q, buf_len, &pos, &too_big) == 0)
                return too_big ? RH_ETOOBIG : RH_EEMPTY;
        }
        if (!cell_is_void(q, pos))
            break;
        /* No message: a dead holder's reservation (queue_loan.c).  Taken
         * and freed without a delivery or a count, and on to the next. */
        count(q, C_VOID_TAKEN, 1);
        (void)publish_run(q, CORRUPT_CONSUMERS, &h->cons_tail, pos, pos + 1, PARK_PLAIN);
    }
    if (!discard)
        note_depth(q, atomic_load_explicit(&h->prod_tail, memory_order_relaxed) - pos);
    uint32_t room = buf_len < q->payload_size ? buf_len : q->payload_size;
    int len = (int)take_cell(q, pos, discard ? NULL : env, discard ? NULL : buf, room);
    /* A consumer that gave up on a stalled tail (publish) still delivers
     * the message it took: it is the caller's now; only its cell stays
     * unfreed (and unacked: acked never passes cons_tail).  Behind a peek
     * the run is parked (PUBLISH_PARKED) and acked when it is published. */
    unsigned park = q->persist && !discard ? PARK_ACK : PARK_PLAIN;
    if (publish_run(q, CORRUPT_CONSUMERS, &h->cons_tail, pos, pos + 1, park) == 0 && q->persist)
        rh__queue_ack(q, pos + 1); /* a client's recv is its delivery (never a discard) */
    return len;
}

/* What every receive does first, with two relaxed loads of a line the
 * consumers own anyway: publish finished runs parked in the claims table
 * that nobody published yet (queue_claims.c), and say whether a run whose
 * holder died waits to be redelivered (h->orphans). */
static inline int consumer_entry(rh_queue *q)
{
    if (__builtin_expect(atomic_load_explicit(&q->h->parked, memory_order_relaxed) != 0, 0))
        rh__queue_help_parked(q);
    return __builtin_expect(atomic_load_explicit(&q->h->orphans, memory_order_relaxed) != 0, 0);
}

/* rh__queue_adopt's take for rh_recv and rh_recv_burst: copy the cell as
 * they do. */
typedef struct adopt_copy {
    rh_envelope *envs; /* envs[i], or NULL */
    char *bufs;        /* bufs + i * stride */
    uint32_t stride, room;
    int len;           /* the last one's length (rh_recv) */
} adopt_copy;

static void adopt_copy_take(rh_queue *q, uint64_t pos, uint32_t i, void *arg)
{
    adopt_copy *a = arg;
    a->len = (int)take_cell(q, pos, a->envs ? &a->envs[i] : NULL,
                            a->bufs + (size_t)i * a->stride, a->room);
}

static int has_message(const rh_queue *q)
{
    uint64_t head = atomic_load_explicit(&q->h->cons_head, memory_order_acquire);
    uint64_t ready = atomic_load_explicit(&q->h->prod_tail, memory_order_acquire);
    return (int64_t)(ready - head) > 0;
}

/* A stale handle took n messages back (the take-back of rh_send): count
 * them in the header, so the host that replaces the queue does not count
 * them as lost in the dead host (queue_shm.c take_over_dead).  Slow path. */
static void note_taken_back(rh_queue *q, uint64_t n)
{
    atomic_fetch_add_explicit(&q->h->taken_back, n, memory_order_relaxed);
}

/* ---------------------------------------------------------- receiving --- */

/* A receive found nothing: RH_ECORRUPT when the producers' side is marked
 * corrupt (nothing will ever be published past its stalled tail), RH_ESTALE
 * when an attached client's host is gone or replaced, else 0.  Slow path:
 * the queue is empty.  The stale check (a clock read, rate-limited) only
 * for a receive that will not wait (check_stale): a waiting one gets it
 * from rh__queue_wait_step, which reads the clock anyway, so a spinning
 * waiter's poll costs no second clock read.  1: an orphaned peek was
 * found (queue_loan.c), poll again before waiting. */
static int recv_empty(rh_queue *q, int check_stale)
{
    if (queue_side_corrupt(q, CORRUPT_PRODUCERS))
        return RH_ECORRUPT;
    /* A peek whose holder died: its messages become this queue's again
     * (queue_adopt.c), and the caller's next poll adopts them. */
    if (rh__queue_claims_recover(q))
        return 1; /* look again */
    if (!check_stale || q->creator || !q->cfg.shared)
        return 0;
    return rh__queue_stale_check(q, rh_now_ns());
}

int rh_recv(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len, int timeout_ms)
{
    if (!q || (buf_len && !buf))
        return RH_EINVAL;
    /* A stale handle gives back only what no host will take (ringhost.h,
     * rh__queue_stale_recv): nothing from a persist queue not moved. */
    if (__builtin_expect(q->stale, 0) && q->persist && rh__queue_stale_recv(q))
        return RH_ESTALE;
    uint64_t deadline = 0; /* set on the first empty poll: a hit costs no clock, no waiter */
    rh_waiter w;
    for (;;) {
        if (consumer_entry(q) && buf_len >= q->payload_size) {
            adopt_copy a = {env, buf, 0, q->payload_size, 0};
            if (rh__queue_adopt(q, 1, q->persist ? PARK_ACK : PARK_PLAIN, adopt_copy_take, &a)) {
                rh_bell_ring(&q->h->not_full);
                if (__builtin_expect(q->stale, 0))
                    note_taken_back(q, 1);
                return a.len;
            }
        }
        int rc = rh__queue_try_dequeue(q, env, buf, buf_len, 0);
        if (rc >= 0) {
            rh_bell_ring(&q->h->not_full);
            if (__builtin_expect(q->stale, 0))
                note_taken_back(q, 1);
            return rc;
        }
        if (rc != RH_EEMPTY)
            return rc;
        rc = recv_empty(q, timeout_ms == 0);
        if (rc > 0)
            continue;
        if (rc)
            return rc;
        if (timeout_ms == 0)
            return RH_EEMPTY;
        if (deadline == 0) {
            deadline = rh_deadline_after_ms(timeout_ms);
            rh__queue_client_waiter_init(&w);
        }
        rc = rh__queue_wait_step(q, &w, &q->h->not_empty, has_message, deadline);
        if (rc)
            return rc;
    }
}

/* rh__queue_adopt's take for the input bridge's burst. */
static void adopt_slot_take(rh_queue *q, uint64_t pos, uint32_t i, void *arg)
{
    rh_envelope *const *dst = arg;
    take_cell(q, pos, dst[i], dst[i] + 1, q->payload_size);
}

uint32_t rh__queue_dequeue_burst(rh_queue *q, rh_envelope *const *dst, uint32_t n)
{
    if (n == 0)
        return 0;
    /* Orphans are acked by the bridge as everything it takes: once its
     * kernel is done with them (PARK_PLAIN). */
    if (consumer_entry(q)) {
        uint32_t got = rh__queue_adopt(q, n, PARK_PLAIN, adopt_slot_take, (void *)dst);
        if (got) {
            rh_bell_ring(&q->h->not_full);
            return got;
        }
    }
    for (uint32_t rounds = 0;;) {
        uint64_t pos;
        uint32_t k = claim_dequeue_run(q, n, &pos);
        if (k == 0) {
            (void)rh__queue_claims_recover(q);
            return 0;
        }
        note_depth(q, atomic_load_explicit(&q->h->prod_tail, memory_order_relaxed) - pos);
        uint32_t got = 0, voids = 0;
        for (uint32_t i = 0; i < k; i++) {
            if (__builtin_expect(cell_is_void(q, pos + i), 0)) {
                voids++; /* a dead holder's reservation: no message (queue_loan.c) */
                continue;
            }
            take_cell(q, pos + i, dst[got], dst[got] + 1, q->payload_size);
            got++;
        }
        if (voids)
            count(q, C_VOID_TAKEN, voids);
        /* On a stalled consumers' tail (publish gives up, marked and logged):
         * the k messages are the bridge's all the same, only their cells stay
         * taken.  Behind a peek the run is parked and published later. */
        (void)publish_run(q, CORRUPT_CONSUMERS, &q->h->cons_tail, pos, pos + k, PARK_PLAIN);
        rh_bell_ring(&q->h->not_full);
        if (got)
            return got;
        if (++rounds > q->capacity)
            return 0; /* only void cells, a queue's worth: a scribbled prod_tail (see try_dequeue) */
    }
}

int rh_recv_burst(rh_queue *q, rh_envelope *envs, void *bufs, uint32_t stride, uint32_t n,
                  int timeout_ms)
{
    /* Every buffer holds a whole slot, so no message is ever cut short. */
    if (!q || (n && !bufs) || stride < q->payload_size)
        return RH_EINVAL;
    if (n == 0)
        return 0;
    if (__builtin_expect(q->stale, 0) && q->persist && rh__queue_stale_recv(q))
        return RH_ESTALE; /* as rh_recv */
    uint64_t deadline = 0;
    rh_waiter w;
    rh__queue_client_waiter_init(&w);
    uint32_t voided = 0;
    for (;;) {
        if (consumer_entry(q)) {
            adopt_copy a = {envs, bufs, stride, q->payload_size, 0};
            uint32_t got = rh__queue_adopt(q, n, q->persist ? PARK_ACK : PARK_PLAIN,
                                           adopt_copy_take, &a);
            if (got) {
                rh_bell_ring(&q->h->not_full);
                if (__builtin_expect(q->stale, 0))
                    note_taken_back(q, got);
                return (int)got;
            }
        }
        uint64_t pos;
        uint32_t k = claim_dequeue_run(q, n, &pos);
        if (k) {
            note_depth(q, atomic_load_explicit(&q->h->prod_tail, memory_order_relaxed) - pos);
            uint32_t got = 0, voids = 0;
            for (uint32_t i = 0; i < k; i++) {
                if (__builtin_expect(cell_is_void(q, pos + i), 0)) {
                    voids++;
                    continue;
                }
                take_cell(q, pos + i, envs ? &envs[got] : NULL,
                          (char *)bufs + (size_t)got * stride, q->payload_size);
                got++;
            }
            if (voids)
                count(q, C_VOID_TAKEN, voids);
            if (publish_run(q, CORRUPT_CONSUMERS, &q->h->cons_tail, pos, pos + k,
                            q->persist ? PARK_ACK : PARK_PLAIN) == 0 &&
                q->persist)
                rh__queue_ack(q, pos + k);
            rh_bell_ring(&q->h->not_full);
            if (__builtin_expect(q->stale, 0))
                note_taken_back(q, k); /* the void cells too: they moved cons_head */
            if (got)
                return (int)got;
            if (++voided > q->capacity)
                return 0; /* a queue's worth of void cells: see try_dequeue */
            continue; /* only void cells: look again */
        }
        int rc = recv_empty(q, timeout_ms == 0);
        if (rc > 0)
            continue;
        if (rc)
            return rc;
        if (timeout_ms == 0)
            return 0;
        if (deadline == 0)
            deadline = rh_deadline_after_ms(timeout_ms);
        rc = rh__queue_wait_step(q, &w, &q->h->not_empty, has_message, deadline);
        if (rc)
            return rc;
    }
}

int rh__queue_to_take(const rh_queue *q)
{
    if (!has_message(q) && atomic_load_explicit(&q->h->orphans, memory_order_relaxed) == 0)
        return RH_QUEUE_NOTHING;
    return atomic_load_explicit(&q->h->cons_halt, memory_order_relaxed) ? RH_QUEUE_HALTED : 0;
}

int rh__queue_first_halt_notice(rh_queue *q)
{
    return queue_first_to_log(q, QUEUE_HALT_NOTICED);
}

int rh__queue_is_empty(const rh_queue *q)
{
    /* A dead peek's messages waiting to be adopted (queue_loan.c) are
     * messages too: the input bridge polls only a queue that is not empty. */
    return !has_message(q) && atomic_load_explicit(&q->h->orphans, memory_order_relaxed) == 0;
}
