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
 *         is counted and dead-lettered with its reason (dlq.h).
 * Output: worker's output ring --peek burst--> burst enqueue of the run that
 *         fits, the queue's backpressure policy for the rest --> release.
 * Acks:   on a persist input queue the input bridge also acknowledges each
 *         burst once its kernel has finished it (ack_if_done below).
 */
#include <stdlib.h>
#include <string.h>

#include "queue/dlq.h"
#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_pvt.h"
#include "engine/runtime_pvt.h"

#define RH_BURST_MAX 256

/* ------------------------------------------------------------ dedup ---- */

/*
 * Why a hand-written table: we need "was this id among the last N
 * accepted", with N fixed and no allocation per message.  An open-addressing
 * table of 4N slots, each tagged with its acceptance number, answers it:
 * a slot whose number is older than N is stale and reusable, so nothing is
 * ever deleted.  Probing is bounded; with at most N live entries in 4N slots
 * a live entry is always within the bound (the chance of 64 live slots in a
 * row at load <= 1/4 is negligible, and then the worst case is one missed
 * duplicate, never a lost message).
 */
#define RH_DEDUP_PROBES 64

int rh_dedup_init(rh_dedup *d, uint32_t window)
{
    memset(d, 0, sizeof *d);
    d->window = window;
    if (window == 0)
        return 0;
    uint64_t size = 64;
    while (size < (uint64_t)window * 4)
        size <<= 1;
    d->table = calloc(size, sizeof *d->table);
    if (!d->table)
        return RH_ENOMEM;
    d->mask = (uint32_t)(size - 1);
    return 0;
}

void rh_dedup_free(rh_dedup *d)
{
    free(d->table);
    d->table = NULL;
}

static inline uint32_t id_hash(rh_id id)
{
    uint64_t h = id.hi ^ (id.lo * 0x9e3779b97f4a7c15ull);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h ^ (h >> 32));
}

int rh_dedup_seen_or_add(rh_dedup *d, rh_id id)
{
    if (d->window == 0)
        return 0;
    uint64_t oldest_live = d->seq >= d->window ? d->seq - d->window + 1 : 1;
    uint32_t h = id_hash(id);
    struct rh_dedup_slot *free_slot = NULL;
    for (uint32_t i = 0; i < RH_DEDUP_PROBES; i++) {
        struct rh_dedup_slot *s = &d->table[(h + i) & d->mask];
        int live = s->seq != 0 && s->seq >= oldest_live;
        if (live && rh_id_eq(s->id, id))
            return 1;
        if (!live && !free_slot)
            free_slot = s;
        if (s->seq == 0)
            break; /* never used: the id cannot be further along */
    }
    if (!free_slot) /* pathological clustering: evict the home slot */
        free_slot = &d->table[h & d->mask];
    free_slot->id = id;
    free_slot->seq = ++d->seq;
    return 0;
}

/* ----------------------------------------------------------- input ----- */

/* Why a message may not go on to the kernel (0 = it may). */
static int reject_reason(rh_in_bridge *b, rh_envelope *env, uint64_t now, char *why,
                         size_t why_len)
{
    if (rh_dedup_seen_or_add(b->dedup, env->id))
        return RH_QC_DUPLICATES + 1;
    if (b->ttl_ns && now > env->enqueue_ns && now - env->enqueue_ns > b->ttl_ns) {
        uint64_t age_us = (now - env->enqueue_ns) / RH_NS_PER_US;
        snprintf(why, why_len, "expired: %llu.%03llu ms in queue %s, ttl_ms %llu",
                 (unsigned long long)(age_us / 1000), (unsigned long long)(age_us % 1000),
                 rh_queue_name(b->queue), (unsigned long long)(b->ttl_ns / RH_NS_PER_MS));
        return RH_QC_EXPIRED + 1;
    }
    if (env->payload_len > b->type->size) {
        snprintf(why, why_len, "payload of %u bytes, type %s has %u", env->payload_len,
                 b->type->name, b->type->size);
        return RH_QC_INVALID + 1;
    }
    if (b->type->validate && b->type->validate(rh_ring_payload(env), why, why_len) != 0)
        return RH_QC_INVALID + 1;
    return 0;
}

/* A message refused before the kernel: a duplicate is only counted (the
 * dedup window exists to drop a sender's retries); an expired or invalid
 * one is counted and dead-lettered with its reason, and an invalid one is
 * logged too (someone sends malformed messages). */
static void refuse(rh_in_bridge *b, int reason, rh_envelope *env, const char *why)
{
    rh_kinst *k = b->kernel;
    rh_queue_count(b->queue, (rh_queue_counter)(reason - 1), 1);
    if (reason - 1 == RH_QC_DUPLICATES)
        return;
    if (reason - 1 == RH_QC_INVALID) {
        char id[37];
        rh_id_format(env->id, id);
        rh_log_event(k->rt->log, RH_LOG_WARN, "bridge.message_invalid",
                     "queue=%s id=%s kernel=%s refused=before_kernel reason=%s",
                     rh_queue_name(b->queue), id, k->decl->name, why);
    }
    rh_dlq_put(k->dlq, b->queue, k->decl->name, b->type,
               reason - 1 == RH_QC_INVALID ? RH_DLQ_INVALID : RH_DLQ_EXPIRED, env,
               rh_ring_payload(env), why, k->rt->log);
}

/*
 * Persist queues (queue_persist.c): a message taken from the queue keeps
 * its cell until it is acked, so a host killed while the kernel held it
 * finds it again.  A burst is done once its kernel has released its ring
 * slots and the outputs they led to have left the output rings: enqueued,
 * or refused by the output queue's policy (counted).  Refused messages
 * (duplicate, expired, invalid) were handled before the ring.
 *
 * Why the order of reads is enough: a worker releases an input slot only
 * after committing the outputs of its batch (rh_worker_step), and an output
 * bridge releases an output slot only after enqueuing it.  So after
 * reading (acquire) that a ring released a burst, the output rings' heads
 * read next cover its outputs, and once their tails (acquire) pass those
 * heads, the outputs are in their queues.  rh_queue_ack then stores with
 * release.
 *
 * Precise acks (marks) need this bridge to be the only one of its kernel
 * on the queue (not inline workers > 1, each with a bridge) and at most
 * RH_ACK_OUTS output rings; otherwise, and whenever more than RH_ACK_MARKS
 * bursts are in flight, the fallback is quiescence: everything taken is
 * acked once no bridge is mid-burst and every ring is empty (the order of
 * rh_runtime_is_quiet, metrics.c), which a steady backlog may postpone
 * until producers, short of acked room, pause.  Each step of the bridge's
 * own thread calls this first; it reads other threads' rings only while
 * something taken is unacked.
 */
static int precise_possible(const rh_in_bridge *b)
{
    const rh_kinst *k = b->kernel;
    uint32_t readers = 0;
    for (uint32_t i = 0; i < k->n_in_bridges; i++)
        readers += k->in_bridges[i].queue == b->queue;
    return readers == 1 && (uint64_t)k->n_workers * k->desc->n_outputs <= RH_ACK_OUTS;
}

/* After a burst went into ring targets[ring] up to ring_end: mark it. */
static void mark_burst(rh_in_bridge *b, uint32_t ring, uint64_t ring_end, uint32_t kept,
                       int exact)
{
    if (b->precise == 0)
        b->precise = precise_possible(b) ? 1 : -1;
    if (b->precise < 0 || b->overflow)
        return;
    if (b->n_marks == RH_ACK_MARKS) {
        b->overflow = 1; /* a gap: marks after it could ack it unchecked */
        return;
    }
    struct rh_ack_mark *m = &b->marks[(b->first_mark + b->n_marks++) % RH_ACK_MARKS];
    m->queue_end = rh_queue_taken(b->queue); /* ours: we are its only consumer */
    m->ring_end = ring_end;
    m->ring = ring;
    m->kept = kept;
    m->exact = exact;
}

/* Ack the oldest marks whose messages left their rings and whose outputs
 * left the output rings (two steps: the output heads are read once the
 * messages are released, and waited for on later calls).  A burst the
 * kernel takes in several batches is acked batch by batch when none of it
 * was refused (its queue positions then follow its ring positions). */
static void ack_marks(rh_in_bridge *b)
{
    const rh_kinst *k = b->kernel;
    uint32_t no = k->desc->n_outputs;
    if (!b->out_wait) {
        uint32_t done = 0;
        int part = 0;
        while (done < b->n_marks) {
            const struct rh_ack_mark *m = &b->marks[(b->first_mark + done) % RH_ACK_MARKS];
            int64_t left = (int64_t)(m->ring_end - rh_ring_released(b->targets[m->ring]));
            if (left <= 0) {
                b->pending_end = m->queue_end;
                done++;
                continue;
            }
            if (m->exact && (uint64_t)left < m->kept) { /* a prefix of it is released */
                b->pending_end = m->queue_end - (uint64_t)left;
                part = 1;
            }
            break;
        }
        if (!done && !part)
            return;
        b->first_mark = (b->first_mark + done) % RH_ACK_MARKS;
        b->n_marks -= done;
        for (uint32_t w = 0; w < k->n_workers; w++)
            for (uint32_t p = 0; p < no; p++)
                b->out_need[w * no + p] = rh_ring_committed(k->workers[w].out[p]);
        b->out_wait = 1;
    }
    for (uint32_t w = 0; w < k->n_workers; w++)
        for (uint32_t p = 0; p < no; p++)
            if ((int64_t)(rh_ring_released(k->workers[w].out[p]) - b->out_need[w * no + p]) < 0)
                return;
    b->out_wait = 0;
    rh_queue_ack(b->queue, b->pending_end);
}

/* Everything taken is done: no bridge of the kernel mid-burst on this
 * queue, every ring empty. */
static int all_done(const rh_in_bridge *b)
{
    const rh_kinst *k = b->kernel;
    for (uint32_t i = 0; i < k->n_in_bridges; i++)
        if (k->in_bridges[i].queue == b->queue &&
            atomic_load_explicit(&k->in_bridges[i].inflight, memory_order_seq_cst))
            return 0;
    for (uint32_t w = 0; w < k->n_workers; w++) {
        if (rh_ring_count(k->workers[w].in[b->port]))
            return 0;
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            if (rh_ring_count(k->workers[w].out[p]))
                return 0;
    }
    return 1;
}

static void ack_if_done(rh_in_bridge *b)
{
    uint64_t taken = rh_queue_taken(b->queue); /* first: see all_done */
    if (taken != rh_queue_acked(b->queue)) {
        if (b->precise > 0 && b->n_marks + b->out_wait)
            ack_marks(b);
        if (!all_done(b))
            return;
        rh_queue_ack(b->queue, taken);
    }
    b->n_marks = 0; /* all acked: no mark is pending */
    b->out_wait = 0;
    b->overflow = 0;
}

void rh_in_bridge_ack(rh_in_bridge *b)
{
    ack_if_done(b);
}

void rh_in_bridges_ack_finished(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        for (uint32_t b = 0; b < rt->kernels[i].n_in_bridges; b++)
            if (rt->kernels[i].in_bridges[b].ack)
                ack_if_done(&rt->kernels[i].in_bridges[b]);
}

uint32_t rh_in_bridge_step(rh_in_bridge *b)
{
    if (b->ack)
        ack_if_done(b);
    if (rh_queue_is_empty(b->queue))
        return 0; /* the common idle poll: no barrier, no ring touched */
    for (uint32_t t = 0; t < b->n_targets; t++) {
        uint32_t ti = (b->next + t) % b->n_targets;
        rh_ring *r = b->targets[ti];
        uint64_t pos;
        uint32_t k = rh_ring_reserve(r, b->burst, &pos);
        if (k == 0)
            continue; /* this worker is full: try the next one */
        rh_envelope *dst[RH_BURST_MAX];
        for (uint32_t i = 0; i < k; i++)
            dst[i] = rh_ring_slot(r, pos + i);
        /* An RMW, not store + fence: a full barrier on x86 that TSan
         * understands, so the idleness check never misses a burst that left
         * the queue but has not reached the ring yet. */
        atomic_exchange_explicit(&b->inflight, 1, memory_order_seq_cst);
        uint32_t got = rh_queue_dequeue_burst(b->queue, dst, k);
        if (got == 0) {
            atomic_store_explicit(&b->inflight, 0, memory_order_release);
            return 0;
        }
        uint64_t now = b->ttl_ns ? rh_now_ns() : 0;
        uint32_t keep = 0;
        if (b->dedup_lock) /* once per burst, only for inline workers sharing a window */
            pthread_mutex_lock(b->dedup_lock);
        for (uint32_t i = 0; i < got; i++) {
            char why[256];
            why[0] = '\0'; /* not "= {0}": that clears 256 bytes per message */
            dst[i]->port = (uint16_t)b->port;
            int reason = reject_reason(b, dst[i], now, why, sizeof why);
            if (reason) {
                refuse(b, reason, dst[i], why);
                continue;
            }
            if (keep != i) /* close the gap left by a refused message (whole slot:
                              * the zero-extended tail is part of the message) */
                memcpy(dst[keep], dst[i], sizeof(rh_envelope) + b->type->size);
            keep++;
        }
        if (b->dedup_lock)
            pthread_mutex_unlock(b->dedup_lock);
        if (keep)
            rh_ring_commit(r, keep);
        if (b->ack)
            mark_burst(b, ti, pos + keep, keep, keep == got);
        atomic_fetch_add_explicit(&b->moved, keep, memory_order_relaxed);
        atomic_store_explicit(&b->inflight, 0, memory_order_release);
        b->next = (ti + 1) % b->n_targets;
        return got;
    }
    return 0;
}

/* ---------------------------------------------------------- output ----- */

uint32_t rh_out_bridge_flush_ring(rh_out_bridge *b, rh_ring *src)
{
    uint64_t pos;
    uint32_t n = rh_ring_peek(src, b->burst, &pos);
    if (n == 0)
        return 0;
    rh_envelope *slots[RH_BURST_MAX];
    for (uint32_t i = 0; i < n; i++)
        slots[i] = rh_ring_slot(src, pos + i);
    /* The run that fits goes in one claim, one clock read, one doorbell;
     * what does not fit meets the output queue's policy one message at a
     * time, and a refusal is counted by the queue (rejected /
     * dropped_newest) and by us. */
    uint64_t sent = rh_queue_enqueue_burst(b->queue, slots, n);
    for (uint32_t i = (uint32_t)sent; i < n; i++) {
        rh_envelope *env = slots[i];
        if (rh_send(b->queue, env, rh_ring_payload(env), env->payload_len, NULL) == 0)
            sent++;
    }
    rh_ring_release(src, n);
    atomic_fetch_add_explicit(&b->sent, sent, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->refused, n - sent, memory_order_relaxed);
    return n;
}

uint32_t rh_out_bridge_step(rh_out_bridge *b)
{
    uint32_t moved = 0;
    for (uint32_t i = 0; i < b->n_sources; i++)
        moved += rh_out_bridge_flush_ring(b, b->sources[i]);
    return moved;
}
