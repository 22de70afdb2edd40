/*
 * queue.c — the named queue: bounded, multi-producer multi-consumer, fixed
 * slots, optionally in POSIX shared memory so other processes attach by name.
 *
 * Algorithm: Dmitry Vyukov's bounded MPMC queue.  Each cell carries a 64-bit
 * stamp; producers race on enqueue_pos and consumers on dequeue_pos with one
 * CAS each, and a cell's stamp says whose turn it is.  No locks, no
 * allocation, no syscall per message; a futex syscall happens only to wake a
 * sleeper that announced itself on a bell (wait.h), or while waiting.
 *
 * Stamps are stored relative to the lap: for position pos, with
 * base = pos & ~mask (the first position of pos's lap),
 *     stamp == base          the cell is free for the producer of pos
 *     stamp == base + 1      it holds the message of pos
 *     stamp == base + cap    consumed; free for pos + cap (the next lap)
 * This is Vyukov's seq minus the cell index, chosen so that all-zero memory
 * (a fresh ftruncate'd shm object or anonymous mapping) is already a valid
 * empty queue: creating a 2^24-slot queue touches no slot pages.
 *
 * Counters: nothing is bumped per message.  enqueued and dequeued are
 * derived from the two positions (which only grow), depth from their
 * difference; only the slow paths (full queue, host-side drops) touch the
 * counter line.  high_water is raised by consumers once per burst, and set
 * to capacity by a producer that finds the queue full.
 *
 * This file is the hot path: send, receive, burst dequeue, the backpressure
 * policies, the counters and the accessors.  Creating, attaching, checking
 * and removing the mapping is queue_shm.c; the layout both rely on is
 * queue_layout.h.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "queue_layout.h"

/* ------------------------------------------------------------ helpers --- */

static inline cell *cell_at(const rh_queue *q, uint64_t pos)
{
    return (cell *)(q->cells + (size_t)(pos & q->mask) * q->slot_size);
}

static inline uint64_t lap_base(const rh_queue *q, uint64_t pos)
{
    return pos & ~q->mask;
}

static inline void count(rh_queue *q, int which, uint64_t n)
{
    atomic_fetch_add_explicit(&q->h->counters[which], n, memory_order_relaxed);
}

/* Raise high_water to depth.  A plain load first: in steady state the value
 * is already higher and the line stays shared, not bounced. */
static void note_depth(rh_queue *q, uint64_t depth)
{
    if (depth > q->capacity)
        depth = q->capacity;
    uint64_t hw = atomic_load_explicit(&q->h->high_water, memory_order_relaxed);
    while (depth > hw && !atomic_compare_exchange_weak_explicit(
                             &q->h->high_water, &hw, depth, memory_order_relaxed,
                             memory_order_relaxed))
        ;
}

/* Bounded spin, then yield: for waits that end when another thread finishes
 * a copy it already started (microseconds, unless it was preempted). */
static void backoff(unsigned tries)
{
    if (tries < 64)
        rh_cpu_relax();
    else
        sched_yield();
}

/* ------------------------------------------------------ the algorithm --- */

/* Write a message into a cell its producer has claimed, then publish it.
 * Release on the stamp: the message is complete before a consumer sees
 * stamp == base + 1. */
static inline void fill_cell(rh_queue *q, cell *c, uint64_t pos, const rh_envelope *e,
                             const void *payload, uint32_t len)
{
    c->env.id = e->id;
    c->env.correlation_id = e->correlation_id;
    c->env.enqueue_ns = e->enqueue_ns;
    c->env.priority = e->priority;
    c->env.flags = e->flags;
    c->env.port = 0;
    /* Atomic because try_dequeue may peek at it from a consumer that has not
     * claimed the cell (see there); relaxed, since the stamp orders it. */
    __atomic_store_n(&c->env.payload_len, len, __ATOMIC_RELAXED);
    if (len)
        memcpy(c + 1, payload, len);
    atomic_store_explicit(&c->stamp, lap_base(q, pos) + 1, memory_order_release);
}

/* Claim the cell at the enqueue position and fill it.  0, or RH_EFULL when
 * that cell still holds (or is still being read out of) an older message. */
static int try_enqueue(rh_queue *q, const rh_envelope *e, const void *payload, uint32_t len)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
    cell *c;
    for (;;) {
        c = cell_at(q, pos);
        /* Acquire pairs with the consumer's release of this cell: its reads
         * of the old message happen before our writes below. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        int64_t diff = (int64_t)(stamp - lap_base(q, pos));
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&h->enqueue_pos, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break; /* the cell is ours until we publish it */
        } else if (diff < 0) {
            return RH_EFULL;
        } else {
            pos = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
        }
    }
    fill_cell(q, c, pos, e, payload, len);
    return 0;
}

/*
 * Claim a run of up to n free cells from the enqueue position with one CAS
 * (the burst form of try_enqueue's claim).  Returns how many, 0 when full;
 * *pos_out is the first position.  Why this is safe: positions only grow,
 * so a successful CAS from pos to pos + k means no other producer claimed
 * any of pos .. pos+k-1 since we looked, and a cell whose stamp says "free
 * for p" stays so until p's producer (us) fills it.
 */
static uint32_t claim_enqueue_run(rh_queue *q, uint32_t n, uint64_t *pos_out)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
    for (;;) {
        uint32_t k;
        for (k = 0; k < n; k++) {
            uint64_t p = pos + k;
            uint64_t stamp = atomic_load_explicit(&cell_at(q, p)->stamp, memory_order_acquire);
            if (stamp != lap_base(q, p)) {
                if (k == 0 && (int64_t)(stamp - lap_base(q, p)) < 0)
                    return 0; /* full */
                break;
            }
        }
        if (k == 0) { /* pos was stale: another producer took it */
            pos = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&h->enqueue_pos, &pos, pos + k,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            *pos_out = pos;
            return k;
        }
    }
}

/* The dequeue side of the same idea: claim a run of up to n published
 * cells from the dequeue position with one CAS.  0 when empty. */
static uint32_t claim_dequeue_run(rh_queue *q, uint32_t n, uint64_t *pos_out)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
    for (;;) {
        /* A run never exceeds capacity: cell pos + capacity is cell pos,
         * whose stamp is for pos. */
        uint32_t k;
        for (k = 0; k < n; k++) {
            uint64_t p = pos + k;
            uint64_t stamp = atomic_load_explicit(&cell_at(q, p)->stamp, memory_order_acquire);
            if (stamp != lap_base(q, p) + 1) {
                if (k == 0 && (int64_t)(stamp - (lap_base(q, p) + 1)) < 0)
                    return 0; /* empty */
                break;
            }
        }
        if (k == 0) { /* pos was stale: someone consumed it */
            pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&h->dequeue_pos, &pos, pos + k,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            *pos_out = pos;
            return k;
        }
    }
}

/* Copy a claimed cell out and give it back to the producers.  Returns the
 * payload length.  The length is clamped to the slot: a shared mapping can be
 * scribbled on by another process, and we never copy past our cell.  A
 * payload shorter than the type is zero-extended up to `room` bytes, so the
 * reader always sees a whole struct and never the previous message's tail
 * (a kernel ring slot is reused without clearing). */
static uint32_t take_cell(rh_queue *q, cell *c, uint64_t pos, rh_envelope *env, void *buf,
                          uint32_t room)
{
    uint32_t len = c->env.payload_len;
    if (len > q->payload_size)
        len = q->payload_size;
    if (env) {
        *env = c->env;
        env->payload_len = len;
    }
    if (buf && len)
        memcpy(buf, c + 1, len);
    if (buf && room > len)
        memset((char *)buf + len, 0, room - len);
    /* Release: our reads are done before a producer refills the cell. */
    atomic_store_explicit(&c->stamp, lap_base(q, pos) + q->capacity, memory_order_release);
    return len;
}

/* Dequeue one message into env/buf (both NULL: discard it, for drop_oldest).
 * Returns the payload length, RH_EEMPTY, or RH_ETOOBIG (left queued). */
static int try_dequeue(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len, int discard)
{
    queue_header *h = q->h;
    /* Only a buffer smaller than the slot can be too small: skip the peek. */
    int may_not_fit = !discard && buf_len < q->payload_size;
    uint64_t pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
    cell *c;
    for (;;) {
        c = cell_at(q, pos);
        /* Acquire pairs with the producer's release: the message is whole. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        int64_t diff = (int64_t)(stamp - (lap_base(q, pos) + 1));
        if (diff == 0) {
            if (may_not_fit) {
                /* Peek before claiming: a claim cannot be undone, and the
                 * API promises a too-large message stays queued.  If the
                 * CAS below succeeds nobody consumed pos in between, so the
                 * length we read is that of the message we get. */
                uint32_t len = __atomic_load_n(&c->env.payload_len, __ATOMIC_ACQUIRE);
                if (len > buf_len) {
                    /* Seqlock-style: the stamp unchanged after reading len
                     * (ordered by that acquire) means len was pos's. */
                    if (atomic_load_explicit(&c->stamp, memory_order_relaxed) == stamp)
                        return RH_ETOOBIG;
                    pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
                    continue;
                }
            }
            if (atomic_compare_exchange_weak_explicit(&h->dequeue_pos, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return RH_EEMPTY; /* not yet published (or never enqueued) */
        } else {
            pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
        }
    }
    if (!discard)
        note_depth(q, atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed) - pos);
    uint32_t room = buf_len < q->payload_size ? buf_len : q->payload_size;
    return (int)take_cell(q, c, pos, discard ? NULL : env, discard ? NULL : buf, room);
}

/* Whether the next enqueue / dequeue would find its cell ready.  Used as the
 * re-check between rh_sleep_prepare and rh_sleep_commit. */
static int has_room(const rh_queue *q)
{
    uint64_t pos = atomic_load_explicit(&q->h->enqueue_pos, memory_order_acquire);
    uint64_t stamp = atomic_load_explicit(&cell_at(q, pos)->stamp, memory_order_acquire);
    return (int64_t)(stamp - lap_base(q, pos)) >= 0;
}

static int has_message(const rh_queue *q)
{
    uint64_t pos = atomic_load_explicit(&q->h->dequeue_pos, memory_order_acquire);
    uint64_t stamp = atomic_load_explicit(&cell_at(q, pos)->stamp, memory_order_acquire);
    return (int64_t)(stamp - (lap_base(q, pos) + 1)) >= 0;
}

/* rh_recv and a blocked rh_send wait like an adaptive dispatch thread, but
 * spin for less: about as long as a futex wake-up costs (~20 us), the
 * classic bound for spin-then-block.  Their callers are clients, and on an
 * oversubscribed machine a long spin steals the core from the very thread
 * that would end the wait. */
#define CLIENT_SPIN_POLLS 200u
#define CLIENT_YIELD_POLLS 50u

static void client_waiter_init(rh_waiter *w)
{
    rh_waiter_init(w, RH_WAIT_ADAPTIVE);
    w->spin_polls = CLIENT_SPIN_POLLS;
    w->yield_polls = CLIENT_YIELD_POLLS;
}

/* One idle step of a bounded wait on `bell` until ready(q) or deadline_ns
 * (UINT64_MAX: forever).  Spins, then yields, then parks (rh_waiter's
 * adaptive policy), because a futex wake-up costs tens of microseconds.
 * Returns 0 to poll again, RH_ETIMEDOUT once the deadline has passed. */
static int wait_step(rh_queue *q, rh_waiter *w, rh_bell *bell, int (*ready)(const rh_queue *),
                     uint64_t deadline_ns)
{
    uint64_t now = rh_now_ns();
    if (now >= deadline_ns)
        return RH_ETIMEDOUT;
    switch (rh_waiter_idle(w)) {
    case RH_IDLE_SPIN:
        rh_cpu_relax();
        break;
    case RH_IDLE_YIELD:
        sched_yield();
        break;
    case RH_IDLE_PARK: {
        rh_sleep s;
        rh_sleep_prepare(&s, &bell, 1);
        if (ready(q))
            rh_sleep_cancel(&s);
        else
            rh_sleep_commit(&s, deadline_ns == UINT64_MAX ? -1 : (int64_t)(deadline_ns - now));
        break;
    }
    }
    return 0;
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

/* The queue was full: apply its policy.  Kept out of rh_send so the fast
 * path stays small. */
static __attribute__((noinline)) int send_full(rh_queue *q, const rh_envelope *e,
                                               const void *payload, uint32_t len)
{
    queue_header *h = q->h;
    note_depth(q, q->capacity);
    switch (q->cfg.backpressure) {
    case RH_BP_REJECT:
        count(q, C_REJECTED, 1);
        return RH_EFULL;
    case RH_BP_DROP_NEWEST:
        count(q, C_DROPPED_NEWEST, 1);
        return RH_EDROPPED;
    case RH_BP_DROP_OLDEST:
        for (unsigned tries = 0;; tries++) {
            if (try_enqueue(q, e, payload, len) == 0)
                return 0;
            /* Evict only when the queue is really full: when depth is below
             * capacity a consumer is mid-way through freeing our cell, and
             * evicting would throw away a message for nothing. */
            uint64_t deq = atomic_load_explicit(&h->dequeue_pos, memory_order_acquire);
            uint64_t enq = atomic_load_explicit(&h->enqueue_pos, memory_order_acquire);
            if (enq - deq >= q->capacity && try_dequeue(q, NULL, NULL, 0, 1) >= 0) {
                count(q, C_DROPPED_OLDEST, 1);
                tries = 0;
                continue;
            }
            backoff(tries);
        }
    case RH_BP_BLOCK:
    default: {
        uint64_t deadline = rh_now_ns() + (uint64_t)q->cfg.block_timeout_ms * 1000000ull;
        rh_waiter w;
        client_waiter_init(&w);
        for (;;) {
            if (try_enqueue(q, e, payload, len) == 0)
                return 0;
            if (wait_step(q, &w, &h->not_full, has_room, deadline) == RH_ETIMEDOUT) {
                count(q, C_REJECTED, 1);
                return RH_ETIMEDOUT;
            }
        }
    }
    }
}

int rh_send(rh_queue *q, const rh_envelope *env, const void *payload, uint32_t len,
            rh_id *id_out)
{
    if (!q || (len && !payload))
        return RH_EINVAL;
    if (len > q->payload_size)
        return RH_ETOOBIG;
    rh_envelope e;
    stamp_env(&e, env, rh_now_ns(), len);
    /* Reported even when the send fails, so a caller can retry with the
     * same id and let the dedup window drop a copy that did get through. */
    if (id_out)
        *id_out = e.id;
    int rc = try_enqueue(q, &e, payload, len);
    if (rc != 0)
        rc = send_full(q, &e, payload, len);
    if (rc == 0)
        rh_bell_ring(&q->h->not_empty);
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
    /* One clock read, one claim and one doorbell for the whole run that
     * fits; the rest goes one by one through the policy, as rh_send. */
    uint64_t now = rh_now_ns();
    uint64_t pos;
    uint32_t k = claim_enqueue_run(q, n, &pos);
    for (uint32_t i = 0; i < k; i++) {
        rh_envelope e;
        stamp_env(&e, envs ? &envs[i] : NULL, now, len);
        if (ids_out)
            ids_out[i] = e.id;
        fill_cell(q, cell_at(q, pos + i), pos + i, &e, (const char *)payloads + (size_t)i * stride,
                  len);
    }
    if (k)
        rh_bell_ring(&q->h->not_empty);
    uint32_t done = k;
    for (; done < n; done++) {
        rh_envelope e;
        stamp_env(&e, envs ? &envs[done] : NULL, rh_now_ns(), len);
        if (ids_out)
            ids_out[done] = e.id;
        const void *payload = (const char *)payloads + (size_t)done * stride;
        int rc = try_enqueue(q, &e, payload, len);
        if (rc != 0)
            rc = send_full(q, &e, payload, len);
        if (rc == 0)
            rh_bell_ring(&q->h->not_empty);
        else if (rc != RH_EDROPPED)
            break; /* refused (counted): the caller may retry from here */
    }
    return (int)done;
}

uint32_t rh_queue_enqueue_burst(rh_queue *q, rh_envelope *const *src, uint32_t n)
{
    uint64_t pos;
    uint32_t k = n ? claim_enqueue_run(q, n, &pos) : 0;
    if (k == 0)
        return 0;
    uint64_t now = rh_now_ns();
    for (uint32_t i = 0; i < k; i++) {
        rh_envelope *e = src[i];
        uint32_t len = e->payload_len <= q->payload_size ? e->payload_len : q->payload_size;
        stamp_env(e, e, now, len);
        fill_cell(q, cell_at(q, pos + i), pos + i, e, e + 1, len);
    }
    rh_bell_ring(&q->h->not_empty);
    return k;
}

/* ---------------------------------------------------------- receiving --- */

int rh_recv(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len, int timeout_ms)
{
    if (!q || (buf_len && !buf))
        return RH_EINVAL;
    uint64_t deadline = 0; /* set on the first empty poll: a hit reads no clock */
    rh_waiter w;
    client_waiter_init(&w);
    for (;;) {
        int rc = try_dequeue(q, env, buf, buf_len, 0);
        if (rc >= 0) {
            rh_bell_ring(&q->h->not_full);
            return rc;
        }
        if (rc != RH_EEMPTY)
            return rc;
        if (timeout_ms == 0)
            return RH_EEMPTY;
        if (deadline == 0)
            deadline = timeout_ms < 0 ? UINT64_MAX
                                      : rh_now_ns() + (uint64_t)timeout_ms * 1000000ull;
        if (wait_step(q, &w, &q->h->not_empty, has_message, deadline) == RH_ETIMEDOUT)
            return RH_ETIMEDOUT;
    }
}

uint32_t rh_queue_dequeue_burst(rh_queue *q, rh_envelope *const *dst, uint32_t n)
{
    uint64_t pos;
    uint32_t k = n ? claim_dequeue_run(q, n, &pos) : 0;
    if (k == 0)
        return 0;
    note_depth(q, atomic_load_explicit(&q->h->enqueue_pos, memory_order_relaxed) - pos);
    for (uint32_t i = 0; i < k; i++)
        take_cell(q, cell_at(q, pos + i), pos + i, dst[i], dst[i] + 1, q->payload_size);
    rh_bell_ring(&q->h->not_full);
    return k;
}

int rh_recv_burst(rh_queue *q, rh_envelope *envs, void *bufs, uint32_t stride, uint32_t n,
                  int timeout_ms)
{
    /* Every buffer holds a whole slot, so no message is ever cut short. */
    if (!q || (n && !bufs) || stride < q->payload_size)
        return RH_EINVAL;
    if (n == 0)
        return 0;
    uint64_t deadline = 0;
    rh_waiter w;
    client_waiter_init(&w);
    for (;;) {
        uint64_t pos;
        uint32_t k = claim_dequeue_run(q, n, &pos);
        if (k) {
            note_depth(q, atomic_load_explicit(&q->h->enqueue_pos, memory_order_relaxed) - pos);
            for (uint32_t i = 0; i < k; i++)
                take_cell(q, cell_at(q, pos + i), pos + i, envs ? &envs[i] : NULL,
                          (char *)bufs + (size_t)i * stride, q->payload_size);
            rh_bell_ring(&q->h->not_full);
            return (int)k;
        }
        if (timeout_ms == 0)
            return 0;
        if (deadline == 0)
            deadline = timeout_ms < 0 ? UINT64_MAX
                                      : rh_now_ns() + (uint64_t)timeout_ms * 1000000ull;
        if (wait_step(q, &w, &q->h->not_empty, has_message, deadline) == RH_ETIMEDOUT)
            return RH_ETIMEDOUT;
    }
}

int rh_queue_is_empty(const rh_queue *q)
{
    return !has_message(q);
}

/* ----------------------------------------------------------- counters --- */

void rh_queue_count(rh_queue *q, rh_queue_counter which, uint64_t n)
{
    static const int map[] = {
        [RH_QC_DUPLICATES] = C_DUPLICATES, [RH_QC_EXPIRED] = C_EXPIRED,
        [RH_QC_INVALID] = C_INVALID,       [RH_QC_FAILED] = C_FAILED,
        [RH_QC_DEAD_LETTERED] = C_DEAD_LETTERED,
    };
    if (q && (unsigned)which < sizeof(map) / sizeof(map[0]))
        count(q, map[which], n);
}

void rh_queue_stats_get(const rh_queue *q, rh_queue_stats *out)
{
    queue_header *h = q->h;
    memset(out, 0, sizeof *out);
    /* Read order matters: dropped_oldest is bumped after its dequeue_pos
     * advance and dequeue_pos never passes enqueue_pos, so reading them in
     * this order (acquire) keeps dropped <= deq <= enq in the snapshot. */
    uint64_t dropped = atomic_load_explicit(&h->counters[C_DROPPED_OLDEST], memory_order_acquire);
    uint64_t deq = atomic_load_explicit(&h->dequeue_pos, memory_order_acquire);
    uint64_t enq = atomic_load_explicit(&h->enqueue_pos, memory_order_acquire);
    out->enqueued = enq;
    out->dequeued = deq - dropped;
    out->depth = enq - deq > q->capacity ? q->capacity : enq - deq;
    out->rejected = atomic_load_explicit(&h->counters[C_REJECTED], memory_order_relaxed);
    out->dropped_oldest = dropped;
    out->dropped_newest = atomic_load_explicit(&h->counters[C_DROPPED_NEWEST], memory_order_relaxed);
    out->duplicates = atomic_load_explicit(&h->counters[C_DUPLICATES], memory_order_relaxed);
    out->expired = atomic_load_explicit(&h->counters[C_EXPIRED], memory_order_relaxed);
    out->invalid = atomic_load_explicit(&h->counters[C_INVALID], memory_order_relaxed);
    out->failed = atomic_load_explicit(&h->counters[C_FAILED], memory_order_relaxed);
    out->dead_lettered = atomic_load_explicit(&h->counters[C_DEAD_LETTERED], memory_order_relaxed);
    /* Consumers only raise high_water when they dequeue; include the depth
     * seen now so a queue nobody drained yet still reports its peak. */
    uint64_t hw = atomic_load_explicit(&h->high_water, memory_order_relaxed);
    out->high_water = hw > out->depth ? hw : out->depth;
    out->capacity = q->capacity;
}

/* --------------------------------------------------- names and policies -- */

static const char *const bp_names[] = {
    [RH_BP_BLOCK] = "block",
    [RH_BP_REJECT] = "reject",
    [RH_BP_DROP_OLDEST] = "drop_oldest",
    [RH_BP_DROP_NEWEST] = "drop_newest",
};
_Static_assert(sizeof(bp_names) / sizeof(bp_names[0]) == BP_COUNT,
               "one name per rh_backpressure policy");

const char *rh_backpressure_name(rh_backpressure bp)
{
    return (unsigned)bp < BP_COUNT ? bp_names[bp] : "unknown";
}

int rh_backpressure_parse(const char *name)
{
    for (unsigned i = 0; name && i < BP_COUNT; i++)
        if (strcmp(name, bp_names[i]) == 0)
            return (int)i;
    return -1;
}

int rh_queue_name_valid(const char *name)
{
    if (!name)
        return 0;
    size_t i = 0;
    for (; name[i]; i++) {
        unsigned char ch = (unsigned char)name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok || i >= RH_QUEUE_NAME_MAX)
            return 0;
    }
    return i > 0;
}

const char *rh_queue_name(const rh_queue *q) { return q->name; }
const char *rh_queue_type_name(const rh_queue *q) { return q->type_name; }
uint64_t rh_queue_fingerprint(const rh_queue *q) { return q->fingerprint; }
const rh_type *rh_queue_type(const rh_queue *q) { return q->type; }
const char *rh_queue_type_origin(const rh_queue *q) { return q->type_origin; }
const rh_queue_config *rh_queue_config_of(const rh_queue *q) { return &q->cfg; }
uint32_t rh_queue_payload_size(const rh_queue *q) { return q->payload_size; }
rh_bell *rh_queue_not_empty_bell(rh_queue *q) { return &q->h->not_empty; }
rh_bell *rh_queue_not_full_bell(rh_queue *q) { return &q->h->not_full; }
