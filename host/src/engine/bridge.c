/*
 * bridge.c — the pumps between named queues and kernel rings.
 *
 * The problem report this project answers had a bridge that never moved a
 * message.  Here a bridge is one small function per direction, specialised
 * only by the data it is given (the queue, the port's type descriptor, the
 * rings): it is the same code for every message type, so "the bridge for
 * type T" cannot be missing.  A reactor calls the step; the step moves at
 * most one burst and returns how many messages it moved, so a thread can
 * interleave many bridges and kernels fairly.
 *
 * Input:  named queue --burst dequeue straight into reserved ring slots-->
 *         dedup window -> TTL -> validate -> commit to the worker's ring.
 *         A duplicate is dropped (counted); an expired or invalid message
 *         is counted and dead-lettered with its reason (dlq.h).  The
 *         checks are bridge_check.c's, shared with the in-place take.
 * Output: worker's output ring --peek burst--> burst enqueue of the run that
 *         fits, the queue's backpressure policy for the rest --> release.
 * Acks:   on a persist input queue the input bridge also acknowledges each
 *         burst once its kernel has finished it (acks.c).
 * Dedup:  the window of recent ids is dedup.c.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/acks.h"
#include "engine/dedup.h"
#include "engine/engine_pvt.h"
#include "ringhost/device.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"

#define RH_BURST_MAX 256

/* ----------------------------------------------------------- input ----- */

uint32_t rh__in_bridge_step(rh_in_bridge *b)
{
    rh__in_bridge_begin(b);
    if (rh__in_bridge_idle(b))
        return 0; /* the common idle poll: no barrier, no ring touched */
    for (uint32_t t = 0; t < b->n_targets; t++) {
        uint32_t ti = (b->next + t) % b->n_targets;
        rh_ring *r = b->targets[ti];
        uint64_t pos;
        uint32_t room = b->acks ? rh__acks_room(b, b->burst) : b->burst;
        if (room == 0)
            return 0; /* as far ahead of the acks as the output queue's recent ids allow */
        uint32_t k = rh__ring_reserve(r, room, &pos);
        if (k == 0)
            continue; /* this worker is full: try the next one */
        rh_envelope *dst[RH_BURST_MAX];
        for (uint32_t i = 0; i < k; i++)
            dst[i] = rh_ring_slot(r, pos + i);
        /* An RMW, not store + fence: a full barrier on x86 that TSan
         * understands, so the idleness check never misses a burst that left
         * the queue but has not reached the ring yet. */
        atomic_exchange_explicit(&b->inflight, 1, memory_order_seq_cst);
        atomic_exchange_explicit(&b->copying, 1, memory_order_seq_cst);
        uint32_t got = rh__queue_dequeue_burst(b->queue, dst, k);
        if (got == 0) {
            atomic_store_explicit(&b->copying, 0, memory_order_release);
            atomic_store_explicit(&b->inflight, 0, memory_order_release);
            return 0;
        }
        atomic_fetch_add_explicit(&b->taken, got, memory_order_relaxed);
        uint32_t keep = rh__in_bridge_check(b, dst, got);
        for (uint32_t j = 0; j < keep; j++) {
            rh_envelope *slot = rh_ring_slot(r, pos + j);
            if (dst[j] != slot) /* close the gap left by a refused message (whole slot:
                                  * the zero-extended tail is part of the message) */
                memcpy(slot, dst[j], sizeof(rh_envelope) + b->type->size);
        }
        if (keep)
            rh__ring_commit(r, keep);
        if (b->acks)
            rh__acks_mark_burst(b, ti, pos + keep, keep, keep == got);
        atomic_fetch_add_explicit(&b->moved, keep, memory_order_relaxed);
        atomic_store_explicit(&b->copying, 0, memory_order_release);
        atomic_store_explicit(&b->inflight, 0, memory_order_release);
        b->next = (ti + 1) % b->n_targets;
        return got;
    }
    return 0;
}

/* ---------------------------------------------------------- output ----- */

static int out_stopped(const void *arg)
{
    const rh_out_bridge *b = arg;
    return rh_kernel_flow(b->kernel) == RH_FLOW_STOPPED;
}

/* send_one's attempt: the one answer, enqueued from the ring's slot. */
static int send_one_attempt(rh_queue *q, void *arg)
{
    return rh__queue_enqueue_burst(q, (rh_envelope *const *)arg, 1) == 1 ? 0 : RH_EFULL;
}

/*
 * One output that did not fit the burst: the queue's policy, as rh_send
 * applies it, with `block` as the queue's own wait (rh__queue_block) plus
 * a stop check: the wait ends when a cell frees, when block_timeout_ms
 * passes (RH_ETIMEDOUT, counted rejected on the queue as rh_send would), at
 * once on a queue marked corrupt (no cell will be freed: it would hold this
 * reactor thread, and every kernel it runs, for block_timeout_ms per
 * answer), or when the host or the kernel stops (RH_ESTOPPED: nobody will
 * read in time; the caller dead-letters).  A 60 s block_timeout_ms thus
 * does not outlive terminate's join.  The waiter is a dispatch thread's
 * (adaptive), not a client's: this is a reactor thread.
 * *burst_deadline is the burst's: set by the first answer of a burst that
 * has to wait (0 = not yet), so a burst of 256 behind a full queue waits
 * block_timeout_ms once, not once per answer.  Slow path only: the queue
 * was full.
 */
static int send_one(rh_out_bridge *b, rh_envelope *env, uint64_t *burst_deadline)
{
    const rh_queue_config *cfg = rh_queue_config_of(b->queue);
    if (cfg->backpressure != RH_BP_BLOCK)
        return rh_send(b->queue, env, rh_ring_payload(env), env->payload_len, NULL);
    if (*burst_deadline == 0)
        *burst_deadline = rh_deadline_after_ms(cfg->block_timeout_ms);
    rh_waiter w;
    rh__waiter_init(&w, RH_WAIT_ADAPTIVE);
    return rh__queue_block(b->queue, send_one_attempt, &env, *burst_deadline, &w, out_stopped, b);
}

static const char *const undeliverable_words[] = {"queue_full_at_stop", "queue_full",
                                                  "queue_refuses_sends",
                                                  "gave_up_behind_a_slow_sender"};

/*
 * An answer its output queue did not accept, whatever its policy says
 * except drop_newest (a declared drop, counted refused): into the kernel's
 * dead-letter queue, stage "undeliverable", with the output queue named as
 * the source.  The kernel's input was taken, and on a persist input
 * acknowledged, once the kernel finished it, so a refused answer that is
 * only counted would be the one copy of that message gone (dlq.c does not
 * count it on the output queue: that never accepted it; the bridge counts
 * it, rh__out_bridge_count_refusals).
 */
int rh__out_bridge_dead_letter(rh_out_bridge *b, const rh_envelope *env, const void *payload,
                               rh__undeliverable_why why_)
{
    rh_kinst *k = b->kernel;
    const rh_queue_config *cfg = rh_queue_config_of(b->queue);
    char why[256];
    if (why_ == RH__UNDELIVERABLE_CORRUPT)
        snprintf(why, sizeof why,
                 "undeliverable: output queue %s refuses every send (its shared indices cannot "
                 "be true)",
                 rh_queue_name(b->queue));
    else if (why_ == RH__UNDELIVERABLE_GAVE_UP)
        snprintf(why, sizeof why,
                 "undeliverable: output queue %s: gave up at its deadline (block_timeout_ms "
                 "%u, at least 1 s) behind another sender's claim, alive and not published "
                 "yet; the queue is sound",
                 rh_queue_name(b->queue), cfg->block_timeout_ms);
    else if (why_ == RH__UNDELIVERABLE_FULL && cfg->backpressure == RH_BP_BLOCK)
        snprintf(why, sizeof why,
                 "undeliverable: output queue %s was full (capacity %u, block %u ms)",
                 rh_queue_name(b->queue), cfg->capacity, cfg->block_timeout_ms);
    else
        snprintf(why, sizeof why, "undeliverable: output queue %s was full (capacity %u, %s)%s",
                 rh_queue_name(b->queue), cfg->capacity, rh_backpressure_name(cfg->backpressure),
                 why_ == RH__UNDELIVERABLE_AT_STOP ? " at shutdown" : "");
    return rh__dlq_put(k->dlq, b->queue, k->decl->name, k->desc->outputs[b->port].type,
                       RH_DLQ_UNDELIVERABLE, env, payload, why, k->rt->log);
}

void rh__out_bridge_count_refusals(rh_out_bridge *b, uint64_t undeliverable, uint64_t refused,
                                   rh__undeliverable_why why)
{
    if (refused)
        atomic_fetch_add_explicit(&b->refused, refused, memory_order_relaxed);
    if (!undeliverable)
        return;
    atomic_fetch_add_explicit(&b->undeliverable, undeliverable, memory_order_relaxed);
    rh_kinst *k = b->kernel;
    rh__log_event(k->rt->log, RH_LOG_WARN, "bridge.undeliverable",
                  "kernel=%s port=%s queue=%s messages=%llu dlq=%s stage=undeliverable reason=%s",
                  k->decl->name, k->desc->outputs[b->port].name, rh_queue_name(b->queue),
                  (unsigned long long)undeliverable, k->dlq ? rh_queue_name(k->dlq) : "-",
                  undeliverable_words[why]);
}

/*
 * The recent ids an answer to a redelivered input is checked against, two
 * windows of `window` ids each (recent[0], recent[1]):
 *   [0] seeded: the output queue's last `window` cells when the first
 *       marked answer arrives, the answers it accepted before (the killed
 *       host's among them, consumed or not); never added to afterwards, so
 *       nothing this host sends can push one of them out;
 *   [1] sent: every answer sent since (a retried input's answers may
 *       follow their first copy within this run).
 * One FIFO window for both let this host's new answers evict the seeded
 * ids still needed: with two workers the answers of one worker's inputs
 * that were never answered reach the bridge before the other worker's
 * repeats, and each evicted the oldest seeded id (duplicate answers past
 * SIGKILLs with `workers: 2` at default capacities, though the output queue
 * covered every answer of an unacked input).  NULL when memory is short
 * (nothing is then dropped).
 */
static rh_dedup *recent_ids(rh_out_bridge *b)
{
    rh_dedup *have = atomic_load_explicit(&b->recent, memory_order_relaxed);
    if (have)
        return have;
    uint32_t cap = rh_queue_config_of(b->queue)->capacity;
    uint32_t window = cap < RH_RECENT_IDS_MAX ? cap : RH_RECENT_IDS_MAX;
    rh_dedup *d = calloc(2, sizeof *d);
    rh_id *ids = malloc((size_t)window * sizeof *ids);
    if (!d || !ids || rh__dedup_init(&d[0], window) != 0 || rh__dedup_init(&d[1], window) != 0) {
        if (d) {
            rh__dedup_free(&d[0]);
            rh__dedup_free(&d[1]);
        }
        free(d);
        free(ids);
        return NULL;
    }
    uint32_t n = rh__queue_recent_ids(b->queue, ids, window);
    for (uint32_t i = 0; i < n; i++)
        rh__dedup_seen_or_add(&d[0], ids[i]);
    free(ids);
    atomic_store_explicit(&b->recent, d, memory_order_relaxed);
    b->calm = 0;
    return d;
}

void rh__out_bridge_forget_recent(rh_out_bridge *b)
{
    rh_dedup *d = atomic_exchange_explicit(&b->recent, NULL, memory_order_relaxed);
    if (!d)
        return;
    rh__dedup_free(&d[0]);
    rh__dedup_free(&d[1]);
    free(d);
}

/* recent_lock: inline workers of one kernel share the output bridge. */
static void lock_recent(rh_out_bridge *b)
{
    int free_ = 0;
    while (!atomic_compare_exchange_weak_explicit(&b->recent_lock, &free_, 1,
                                                  memory_order_acquire, memory_order_relaxed)) {
        free_ = 0;
        sched_yield();
    }
}

static void unlock_recent(rh_out_bridge *b)
{
    atomic_store_explicit(&b->recent_lock, 0, memory_order_release);
}

/*
 * Drop from slots[0..n) the answers to a redelivered input that the output
 * queue already accepted (same derived id, base/id.h): the killed host sent
 * them, a client may have read them.  Only on a queue that is persist or
 * has a dedup_window, and only once some answer of the burst is marked
 * RH_ENV_REDELIVERED; from then on every answer sent is recorded, until
 * the window's worth of answers in a row were not redelivered ones.
 * Returns how many slots are left (compacted in place).
 */
static uint32_t drop_repeated_answers(rh_out_bridge *b, rh_envelope **slots, uint32_t n)
{
    lock_recent(b);
    rh_dedup *d = recent_ids(b);
    if (!d) {
        unlock_recent(b);
        return n;
    }
    uint32_t keep = 0;
    uint64_t dropped = 0;
    for (uint32_t i = 0; i < n; i++) {
        rh_envelope *env = slots[i];
        int redelivered = (env->flags & RH_ENV_REDELIVERED) != 0;
        b->calm = redelivered ? 0 : b->calm + 1;
        int seen = !rh_id_is_zero(env->id) &&
                   (rh__dedup_seen(&d[0], env->id) | rh__dedup_seen_or_add(&d[1], env->id));
        if (seen && redelivered) {
            dropped++;
            continue;
        }
        slots[keep++] = env;
    }
    if (dropped) {
        atomic_fetch_add_explicit(&b->duplicates, dropped, memory_order_relaxed);
        rh_kinst *k = b->kernel;
        rh__log_event(k->rt->log, RH_LOG_INFO, "bridge.repeated_answers",
                      "kernel=%s port=%s queue=%s dropped=%llu reason=input_redelivered",
                      k->decl->name, k->desc->outputs[b->port].name, rh_queue_name(b->queue),
                      (unsigned long long)dropped);
    }
    if (b->calm >= d[0].window)
        rh__out_bridge_forget_recent(b);
    unlock_recent(b);
    return keep;
}

/* Non-zero when an answer of slots[0..n) must be checked for a repeat
 * (drop_repeated_answers).  One flag byte per answer, on queues that are
 * persist or have a dedup_window only; the envelopes are read for the
 * enqueue right after anyway. */
static int answers_to_check(const rh_out_bridge *b, rh_envelope *const *slots, uint32_t n)
{
    if (atomic_load_explicit(&b->recent, memory_order_relaxed))
        return 1;
    const rh_queue_config *cfg = rh_queue_config_of(b->queue);
    if (!cfg->persist && !cfg->dedup_window)
        return 0;
    uint8_t any = 0;
    for (uint32_t i = 0; i < n; i++)
        any |= slots[i]->flags;
    return (any & RH_ENV_REDELIVERED) != 0;
}

uint32_t rh__out_bridge_flush_ring(rh_out_bridge *b, rh_ring *src)
{
    uint64_t pos;
    uint32_t n = rh__ring_peek(src, b->burst, &pos);
    if (n == 0)
        return 0;
    rh_envelope *slots[RH_BURST_MAX];
    uint32_t peeked = n;
    if (b->voids) { /* a device's void slots: no answer there, released with the rest */
        uint32_t kept = 0;
        for (uint32_t i = 0; i < peeked; i++) {
            rh_envelope *e = rh_ring_slot(src, pos + i);
            if (e->payload_len != RH_RING_VOID_LEN)
                slots[kept++] = e;
        }
        n = kept;
    } else {
        for (uint32_t i = 0; i < n; i++)
            slots[i] = rh_ring_slot(src, pos + i);
    }
    if (answers_to_check(b, slots, n))
        n = drop_repeated_answers(b, slots, n);
    /* The run that fits goes in one claim, one clock read, one doorbell;
     * what does not fit meets the output queue's policy one message at a
     * time (the queue counts its refusals: rejected / dropped_newest).
     * drop_newest drops by declaration: counted refused here.  Any other
     * refusal (reject, block after block_timeout_ms, a corrupt queue) and
     * what still finds no room once the host stops is dead-lettered as
     * undeliverable: never left in a ring or a blocked send that
     * terminate cannot wait for, never only counted. */
    uint64_t sent = rh__queue_enqueue_burst(b->queue, slots, n);
    uint64_t undeliverable = 0, refused = 0;
    uint64_t deadline = 0;
    int stopped = 0;
    rh__undeliverable_why first_why = RH__UNDELIVERABLE_FULL;
    for (uint32_t i = (uint32_t)sent; i < n; i++) {
        rh_envelope *env = slots[i];
        int rc = stopped ? (rh__queue_enqueue_burst(b->queue, &env, 1) == 1 ? 0 : RH_ESTOPPED)
                         : send_one(b, env, &deadline);
        if (rc == 0) {
            sent++;
            continue;
        }
        if (rc == RH_EDROPPED) {
            refused++;
            continue;
        }
        stopped |= rc == RH_ESTOPPED;
        /* RH_ETIMEDOUT from a policy that does not block: the send gave
         * its claim up behind a live, slow sender's (queue_claims.c) */
        int gave_up = rc == RH_ETIMEDOUT && rh_queue_config_of(b->queue)->backpressure !=
                                                RH_BP_BLOCK;
        rh__undeliverable_why why = rc == RH_ESTOPPED   ? RH__UNDELIVERABLE_AT_STOP
                                    : rc == RH_ECORRUPT ? RH__UNDELIVERABLE_CORRUPT
                                    : gave_up           ? RH__UNDELIVERABLE_GAVE_UP
                                                        : RH__UNDELIVERABLE_FULL;
        if (undeliverable == 0 || why == RH__UNDELIVERABLE_AT_STOP)
            first_why = why; /* the log line's reason */
        if (rh__out_bridge_dead_letter(b, env, rh_ring_payload(env), why) == 0)
            undeliverable++;
        else
            refused++; /* the dead-letter queue's policy refused it, counted and logged there */
    }
    rh__ring_release(src, peeked);
    atomic_fetch_add_explicit(&b->sent, sent, memory_order_relaxed);
    rh__out_bridge_count_refusals(b, undeliverable, refused, first_why);
    return peeked;
}

uint32_t rh__out_bridge_step(rh_out_bridge *b)
{
    uint32_t moved = 0;
    for (uint32_t i = 0; i < b->n_sources; i++)
        moved += rh__out_bridge_flush_ring(b, b->sources[i]);
    return moved;
}

uint64_t rh__out_bridges_flush_at_stop(rh_runtime *rt)
{
    uint64_t dead = 0;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        /* A process-isolated kernel's rings are shared memory its child
         * produced into; terminate stopped and reaped the children
         * (rh__watchdog_stop -> rh__exec_stop) before calling this,
         * so they are swept like any other. */
        for (uint32_t p = 0; p < k->desc->n_outputs; p++) {
            rh_out_bridge *b = &k->out_bridges[p];
            uint64_t before = atomic_load_explicit(&b->undeliverable, memory_order_relaxed);
            for (uint32_t s = 0; s < b->n_sources; s++)
                while (rh__out_bridge_flush_ring(b, b->sources[s]))
                    ;
            dead += atomic_load_explicit(&b->undeliverable, memory_order_relaxed) - before;
        }
    }
    return dead;
}

/* ------------------------------------------------------- init / fini -- */

/* A bridge's life (engine.h): launch/ inits it once the kernel's queues
 * and workers exist, fills the rest of its fields (its policy: burst, ttl,
 * dedup, acks), and nothing else writes them; fini at destroy, after every
 * thread that ran it was joined. */

int rh__in_bridge_init(rh_in_bridge *b, rh_kinst *k, uint32_t port, uint32_t n_targets)
{
    b->kernel = k;
    b->port = port;
    b->queue = k->in_q[port];
    b->type = k->desc->inputs[port].type;
    b->n_targets = n_targets;
    b->targets = calloc(n_targets ? n_targets : 1, sizeof *b->targets);
    return b->targets ? 0 : RH_ENOMEM;
}

void rh__in_bridge_fini(rh_in_bridge *b)
{
    free(b->targets);
    b->targets = NULL;
    rh__acks_free(b->acks);
    b->acks = NULL;
}

int rh__out_bridge_init(rh_out_bridge *b, rh_kinst *k, uint32_t port)
{
    b->kernel = k;
    b->port = port;
    b->queue = k->out_q[port];
    b->n_sources = k->n_workers;
    b->sources = calloc(b->n_sources ? b->n_sources : 1, sizeof *b->sources);
    if (!b->sources)
        return RH_ENOMEM;
    for (uint32_t t = 0; t < b->n_sources; t++)
        b->sources[t] = k->workers[t].out[port];
    return 0;
}

void rh__out_bridge_fini(rh_out_bridge *b)
{
    free(b->sources);
    b->sources = NULL;
    rh__out_bridge_forget_recent(b);
}
