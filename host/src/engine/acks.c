/*
 * acks.c — acknowledging what a kernel finished on a persist input queue.
 *
 * Persist queues (queue_persist.c): a message taken from the queue keeps
 * its cell until it is acked, so a host killed while the kernel held it
 * finds it again.  A burst is done once its kernel has released its ring
 * slots and the outputs they led to have left the output rings: enqueued,
 * or refused by the output queue's policy (counted).  Refused messages
 * (duplicate, expired, invalid) were handled before the ring.
 *
 * Why the order of reads is enough: a worker releases an input slot only
 * after committing the outputs of its batch (rh__worker_step), and an output
 * bridge releases an output slot only after enqueuing it.  So after
 * reading (acquire) that a ring released a burst, the output rings' heads
 * read next cover its outputs, and once their tails (acquire) pass those
 * heads, the outputs are in their queues.  rh__queue_ack then stores with
 * release.
 *
 * Precise acks (marks) need this bridge to be the only one of its kernel
 * on the queue (not inline workers > 1, each with a bridge) and at most
 * RH_ACK_OUTS output rings.  Otherwise, and whenever more bursts are in
 * flight than marks were allocated for, everything taken (cons_tail) is
 * acked once no bridge of the kernel on the queue is mid-copy (between its
 * dequeue and its ring commit: `copying`) and every ring of the kernel is
 * empty (the order of rh__runtime_is_quiet, metrics.c).  A run an inline
 * worker holds in place does not stop it: cons_tail moves past a run only
 * once it and every run before it are released, which is after their
 * answers are out (dispatch.c), so an in-place run is either below
 * cons_tail and done, or above it and not acked.  (Before, any held run
 * counted as "mid-burst": two inline workers, one of them always inside a
 * batch under a steady backlog, acked only when producers paused, so a kill
 * redelivered up to the input queue's capacity.)  Each step of the bridge's
 * own thread calls rh__acks_settle first; it reads other threads' rings only
 * while something taken is unacked.
 *
 * How far acks may fall behind (ack_limit, rh__acks_room): the answers to
 * the inputs a kill leaves unacked are checked against the output queue's
 * last `window` ids (bridge.c, queue_recent.c), so the answers sent since
 * the oldest answered-but-unacked input must fit in them.  Every input
 * answered after that one lies within [acked - limit, acked + limit) of its
 * position when at most `limit` messages are ever taken and unacked: 2 x
 * limit answers (one per input and port).  So the bridges take no more than
 * limit = window / 2 (shared by the kernel's persist inputs) ahead of the
 * ack.  Without it, two workers, one of them descheduled for a while, let
 * the other run up to the input queue's capacity ahead of the ack, and a
 * kill then repeated answers the output queue no longer held (seen: p.in
 * 4 096, p.out 1 024, hundreds of duplicates per kill).  The cost: a slow
 * worker holds the others back by at most `limit` messages.
 *
 * The marks live in an rh_acks of their own, allocated only for a bridge
 * whose queue is persist (rh__acks_new), so they cost nothing on the other
 * queues; there are as many as the bursts the rings can hold (each burst
 * the kernel gets occupies a slot of an input ring until the kernel
 * released it, then waits for the output rings), at least RH_ACK_MARKS:
 * with a fixed 64, two workers with 1 024-slot rings and bursts of 32
 * filled them under a steady backlog, and acks fell back to the rings all
 * being empty, i.e. to the producers pausing.  Only the bridge's own thread
 * touches them.
 */
#include <stdlib.h>

#include "engine/acks.h"
#include "engine/engine.h"
#include "queue/queue_pvt.h"

#define RH_ACK_MARKS 64 /* bursts in flight a persist input bridge tracks, at least */
#define RH_ACK_OUTS 64  /* workers x outputs it can watch precisely */

/* One mark per burst taken. */
struct rh_ack_mark {
    uint64_t queue_end; /* queue position after the burst */
    uint64_t ring_end;  /* ring position after its messages */
    uint32_t ring;      /* index in targets */
    uint32_t kept;      /* its messages in the ring (ring_end - kept: the first) */
    int exact;          /* none refused: queue and ring positions match one to one */
};

/* The marks, oldest first, and the output ring positions the oldest
 * finished marks wait for. */
/* The kernel's output count.  A hot swap stores k->desc while this
 * bridge's thread runs (live/hotswap.c, release); the count is the same in
 * both builds (a swap with other ports is refused), the load is what keeps
 * the read of the pointer itself defined. */
static inline uint32_t outputs_of(const rh_kinst *k)
{
    return __atomic_load_n(&k->desc, __ATOMIC_ACQUIRE)->n_outputs;
}

struct rh_acks {
    int precise;           /* 0 not decided yet, 1 marks kept, -1 quiescence only */
    int overflow;          /* a burst went unmarked: marks stop until quiescence */
    uint32_t first_mark, n_marks;
    uint32_t cap_marks;    /* marks[]' length */
    struct rh_ack_mark *marks;
    int out_wait;          /* pending_end waits for out_need */
    uint64_t pending_end;
    uint64_t out_need[RH_ACK_OUTS];
};

rh_acks *rh__acks_new(uint32_t slots)
{
    rh_acks *a = calloc(1, sizeof *a);
    uint32_t n = slots + 1 > RH_ACK_MARKS ? slots + 1 : RH_ACK_MARKS;
    if (a && !(a->marks = calloc(n, sizeof *a->marks))) {
        free(a);
        return NULL;
    }
    if (a)
        a->cap_marks = n;
    return a;
}

void rh__acks_free(rh_acks *a)
{
    if (a)
        free(a->marks);
    free(a);
}

static int precise_possible(const rh_in_bridge *b)
{
    const rh_kinst *k = b->kernel;
    uint32_t readers = 0;
    for (uint32_t i = 0; i < k->n_in_bridges; i++)
        readers += k->in_bridges[i].queue == b->queue;
    return readers == 1 && (uint64_t)k->n_workers * outputs_of(k) <= RH_ACK_OUTS;
}

/* After a burst went into ring targets[ring] up to ring_end: mark it. */
void rh__acks_mark_burst(rh_in_bridge *b, uint32_t ring, uint64_t ring_end, uint32_t kept,
                         int exact)
{
    rh_acks *a = b->acks;
    if (a->precise == 0)
        a->precise = precise_possible(b) ? 1 : -1;
    if (a->precise < 0 || a->overflow)
        return;
    if (a->n_marks == a->cap_marks) {
        a->overflow = 1; /* a gap: marks after it could ack it unchecked */
        return;
    }
    struct rh_ack_mark *m = &a->marks[(a->first_mark + a->n_marks++) % a->cap_marks];
    m->queue_end = rh__queue_taken(b->queue); /* ours: we are its only consumer */
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
    rh_acks *a = b->acks;
    const rh_kinst *k = b->kernel;
    uint32_t no = outputs_of(k);
    if (!a->out_wait) {
        uint32_t done = 0;
        int part = 0;
        while (done < a->n_marks) {
            const struct rh_ack_mark *m = &a->marks[(a->first_mark + done) % a->cap_marks];
            int64_t left = (int64_t)(m->ring_end - rh_ring_released(b->targets[m->ring]));
            if (left <= 0) {
                a->pending_end = m->queue_end;
                done++;
                continue;
            }
            if (m->exact && (uint64_t)left < m->kept) { /* a prefix of it is released */
                a->pending_end = m->queue_end - (uint64_t)left;
                part = 1;
            }
            break;
        }
        if (!done && !part)
            return;
        a->first_mark = (a->first_mark + done) % a->cap_marks;
        a->n_marks -= done;
        for (uint32_t w = 0; w < k->n_workers; w++)
            for (uint32_t p = 0; p < no; p++)
                a->out_need[w * no + p] = rh_ring_committed(k->workers[w].out[p]);
        a->out_wait = 1;
    }
    for (uint32_t w = 0; w < k->n_workers; w++)
        for (uint32_t p = 0; p < no; p++)
            if ((int64_t)(rh_ring_released(k->workers[w].out[p]) - a->out_need[w * no + p]) < 0)
                return;
    a->out_wait = 0;
    rh__queue_ack(b->queue, a->pending_end);
}

/* Everything taken (below cons_tail) is done: no bridge of the kernel
 * mid-copy on this queue, every ring empty (an in-place run below
 * cons_tail is released, so done: see the top comment). */
static int all_done(const rh_in_bridge *b)
{
    const rh_kinst *k = b->kernel;
    for (uint32_t i = 0; i < k->n_in_bridges; i++)
        if (k->in_bridges[i].queue == b->queue &&
            atomic_load_explicit(&k->in_bridges[i].copying, memory_order_seq_cst))
            return 0;
    for (uint32_t w = 0; w < k->n_workers; w++) {
        if (rh__ring_count(k->workers[w].in[b->port]))
            return 0;
        for (uint32_t p = 0; p < outputs_of(k); p++)
            if (rh__ring_count(k->workers[w].out[p]))
                return 0;
    }
    return 1;
}

void rh__acks_settle(rh_in_bridge *b)
{
    rh_acks *a = b->acks;
    uint64_t taken = rh__queue_taken(b->queue); /* first: see all_done */
    if (taken != rh__queue_acked(b->queue)) {
        if (a->precise > 0 && a->n_marks + a->out_wait)
            ack_marks(b);
        if (!all_done(b))
            return;
        rh__queue_ack(b->queue, taken);
    }
    a->n_marks = 0; /* all acked: no mark is pending */
    a->out_wait = 0;
    a->overflow = 0;
}

uint32_t rh__acks_room(const rh_in_bridge *b, uint32_t want)
{
    if (!b->ack_limit)
        return want;
    uint64_t held = rh__queue_claimed(b->queue) - rh__queue_acked(b->queue);
    if (held >= b->ack_limit)
        return 0;
    return b->ack_limit - held < want ? (uint32_t)(b->ack_limit - held) : want;
}

uint32_t rh__acks_limit(const rh_kinst *k)
{
    uint32_t window = 0, inputs = 0;
    for (uint32_t p = 0; p < outputs_of(k); p++) {
        const rh_queue_config *c = rh_queue_config_of(k->out_q[p]);
        if (!c->persist && !c->dedup_window)
            continue; /* repeats are not dropped there (bridge.c answers_to_check) */
        uint32_t w = c->capacity < RH_RECENT_IDS_MAX ? c->capacity : RH_RECENT_IDS_MAX;
        if (!window || w < window)
            window = w;
    }
    for (uint32_t p = 0; p < k->desc->n_inputs; p++)
        inputs += rh__queue_is_persist(k->in_q[p]);
    if (!window || !inputs)
        return 0;
    uint32_t limit = window / 2 / inputs;
    return limit ? limit : 1;
}

void rh__in_bridges_ack_finished(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        for (uint32_t b = 0; b < rt->kernels[i].n_in_bridges; b++)
            if (rt->kernels[i].in_bridges[b].acks)
                rh__acks_settle(&rt->kernels[i].in_bridges[b]);
}
