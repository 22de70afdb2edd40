/*
 * inplace.c — the in-place path of an inline bridge (issue 11, item 1).
 *
 * Where the bridge runs in the kernel's thread (bridge "inline", each
 * worker of `workers: N` with a bridge of its own on the queue), nothing
 * is copied between the named queues and the kernel:
 *
 *   input:  claim a run of the input queue's cells (rh__queue_take_inplace)
 *           -> the bridge's checks on the cells themselves (dedup, TTL,
 *           length, validate; refused ones dead-lettered from the cell:
 *           rh__in_bridge_check) -> process() reads the kept cells through
 *           w->msgs -> release the run (cons_tail) once its answers are out.
 *   output: rh_emit / rh_emit_reserve claim a cell of the output queue, the
 *           answer's envelope is stamped there (ids derived as on the
 *           copying path, dispatch.c fill_env), and the batch's run of cells
 *           is published at its end (prod_tail), with one clock read and one
 *           doorbell.
 *
 * Copies per message on the kernel's side of a pipeline: none (the
 * copying path had two: queue -> input ring, and output ring -> queue,
 * besides rh_emit's own copy of a kernel buffer, which rh_emit_reserve
 * avoids on both paths).
 *
 * Where the copying path stays, and why:
 *   - the thread bridge (pump threads, bridge.c): the pump and the kernel
 *     run on different threads, so the ring is the hand-over between them;
 *     holding queue cells across threads would make every claim wait for
 *     the other thread's whole batch;
 *   - process-isolated kernels: the manifest refuses them an inline bridge
 *     (a child that dies holding a claim would stall the queue for good);
 *   - run() kernels: they never get an inline bridge (kernel_build.c), and
 *     a batch they hold between two rh_poll calls may last as long as they
 *     like, which a claim held in the queue must not;
 *   - an answer that must be checked for a repeat (its input was
 *     redelivered or retried, or the output bridge is still recording
 *     answers: bridge.c drop_repeated_answers), an output queue that is
 *     full (its backpressure policy, the bounded block wait and the
 *     undeliverable dead letters are the output bridge's), an output ring
 *     that still holds answers (they go first: order per port is kept), and
 *     any emit outside process(): these go through the output ring as
 *     before, and the accounting line (emitted = sent + refused +
 *     undeliverable + repeated + in output rings) holds for both paths.
 *
 * What holding cells costs others, and the bounds on it: queue_inplace.c.
 * A claim is never held across a batch boundary: a batch is claimed, run
 * and released within one dispatch step, so deactivate, hot swap and
 * restarts (which run at a batch boundary) see no claim held, and a
 * draining kernel takes nothing new from its queue.
 */
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/acks.h"
#include "engine/engine_pvt.h"
#include "queue/queue_pvt.h"

#define IP_BURST_MAX 256 /* as bridge.c's RH_BURST_MAX */

/* ------------------------------------------------------------- input --- */

uint32_t rh__inplace_take(rh_worker *w, uint32_t max, uint32_t *port_out, uint32_t *seen_out)
{
    rh_kinst *k = w->kernel;
    uint32_t np = k->desc->n_inputs;
    *seen_out = 0;
    if (max > IP_BURST_MAX)
        max = IP_BURST_MAX;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t p = (w->next_port + i) % np;
        rh_in_bridge *b = w->inline_in[p];
        if (atomic_load_explicit(&b->ip_held, memory_order_relaxed))
            continue; /* its last run waits for an earlier claim's release */
        rh__in_bridge_begin(b);
        if (rh__queue_is_empty(b->queue))
            continue;
        /* seq_cst RMW as in rh__in_bridge_step: the idleness checks
         * (metrics.c, acks.c) never miss a run claimed but not yet counted. */
        atomic_exchange_explicit(&b->inflight, 1, memory_order_seq_cst);
        uint64_t pos;
        uint32_t got = rh__queue_take_inplace(b->queue, max, &pos);
        if (got == 0) {
            atomic_store_explicit(&b->inflight, 0, memory_order_release);
            continue;
        }
        rh_envelope *envs[IP_BURST_MAX];
        for (uint32_t j = 0; j < got; j++) {
            envs[j] = rh__queue_cell(b->queue, pos + j);
            (void)rh__queue_inplace_len(b->queue, pos + j, b->type->size);
        }
        atomic_store_explicit(&b->ip_pos, pos, memory_order_relaxed);
        b->ip_end = pos + got;
        atomic_store_explicit(&b->ip_held, 1, memory_order_relaxed);
        uint32_t keep = rh__in_bridge_check(b, envs, got);
        uint8_t flags = 0;
        for (uint32_t j = 0; j < keep; j++) {
            w->msgs[j].env = envs[j];
            w->msgs[j].data = envs[j] + 1;
            w->msgs[j].port = p;
            flags |= envs[j]->flags;
        }
        w->ip_redelivered = (flags & (RH_ENV_REDELIVERED | RH_ENV_RETRIED)) != 0;
        *seen_out = got;
        if (keep == 0) { /* every one refused: nothing for the kernel */
            rh__inplace_release(w, p);
            continue;
        }
        w->next_port = (p + 1) % np;
        *port_out = p;
        return keep;
    }
    return 0;
}

/* The run tail waits for is the claim of a bridge of this host that is
 * busy with it (reading it in place, or itself waiting): not a stall. */
static int claim_is_a_busy_peer(const rh_in_bridge *b, uint64_t tail)
{
    const rh_runtime *rt = b->kernel->rt;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        const rh_kinst *k = &rt->kernels[i];
        for (uint32_t j = 0; j < k->n_in_bridges; j++) {
            const rh_in_bridge *o = &k->in_bridges[j];
            if (o != b && o->queue == b->queue &&
                atomic_load_explicit(&o->ip_held, memory_order_relaxed) &&
                atomic_load_explicit(&o->ip_pos, memory_order_relaxed) == tail)
                return 1;
        }
    }
    return 0;
}

static void release_bridge(rh_in_bridge *b)
{
    uint64_t pos = atomic_load_explicit(&b->ip_pos, memory_order_relaxed);
    uint64_t tail;
    int rc = rh__queue_release_inplace(b->queue, pos, b->ip_end, &tail);
    if (rc != 0) {
        atomic_store_explicit(&b->ip_held, 2, memory_order_relaxed);
        /* An earlier claim not released: a peer reading its run (it ends
         * with that peer's batch) or a consumer that died holding it, or
         * a scribbled index, which only time tells apart; then give up as
         * publish() does: the side is marked corrupt (queue.corrupt), the
         * cells stay taken, the messages were the kernel's all the same. */
        if (claim_is_a_busy_peer(b, tail) ||
            !rh__queue_release_stalled(b->queue, tail, pos, &b->ip_since))
            return;
    }
    b->ip_since = 0;
    /* Delivered to the kernel once the cells are given back: until then
     * they are counted queued (depth), like a message in a kernel ring. */
    atomic_fetch_add_explicit(&b->moved, b->ip_end - pos, memory_order_relaxed);
    atomic_store_explicit(&b->ip_held, 0, memory_order_relaxed);
    atomic_store_explicit(&b->inflight, 0, memory_order_release);
    if (b->acks)
        rh__acks_settle(b); /* everything taken may be done now (acks.c) */
}

void rh__inplace_release(rh_worker *w, uint32_t port)
{
    release_bridge(w->inline_in[port]);
}

void rh__inplace_settle(rh_worker *w)
{
    for (uint32_t p = 0; p < w->kernel->desc->n_inputs; p++)
        if (atomic_load_explicit(&w->inline_in[p]->ip_held, memory_order_relaxed) == 2)
            release_bridge(w->inline_in[p]);
}

/* ------------------------------------------------------------ output --- */

/* Publish port's open run: every cell stamped with one enqueue time, one
 * publish, one doorbell.  A producers' side stalled for good refuses the
 * run (counted rejected on the queue and refused by the bridge, as the
 * copying path's send would be). */
static void publish_run(rh_worker *w, uint32_t port)
{
    struct rh_ip_out *o = &w->ip_out[port];
    if (o->n == 0)
        return;
    rh_kinst *k = w->kernel;
    rh_queue *q = k->out_q[port];
    rh_out_bridge *b = &k->out_bridges[port];
    uint64_t now = rh_now_ns();
    for (uint32_t i = 0; i < o->n; i++)
        rh__queue_stamp_inplace(q, o->start + i, now);
    if (rh__queue_publish_inplace(q, o->start, o->start + o->n) == 0) {
        atomic_fetch_add_explicit(&b->sent, o->n, memory_order_relaxed);
    } else {
        rh__queue_count(q, RH_QC_REJECTED, o->n);
        atomic_fetch_add_explicit(&b->refused, o->n, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&w->emitted, o->n, memory_order_relaxed);
    o->n = 0;
}

/* Add the written cell pos to port's open run.  A cell not right after the
 * run means another producer claimed in between and now waits for our
 * run: publish it first.  A run is at most the bridge's burst long, so an
 * answer waits at most that many answers before consumers see it. */
static void append(rh_worker *w, uint32_t port, uint64_t pos)
{
    struct rh_ip_out *o = &w->ip_out[port];
    if (o->n && pos != o->start + o->n)
        publish_run(w, port);
    if (o->n == 0)
        o->start = pos;
    o->n++;
    if (o->n >= w->kernel->out_bridges[port].burst)
        publish_run(w, port);
}

/* Whether an answer on port may go in place now (see the top comment).
 * redelivered: its input (or, for a reservation, any input of the batch)
 * was redelivered or retried. */
static int may_go_inplace(rh_worker *w, uint32_t port, int redelivered)
{
    if (!w->inplace || w->batch_n == 0 || redelivered)
        return 0;
    if (w->out_pending[port] || rh__ring_count(w->out[port]))
        return 0;
    return atomic_load_explicit(&w->kernel->out_bridges[port].recent, memory_order_relaxed) ==
           NULL;
}

/* A cell of port's queue claimed for an answer (1, *pos), or 0 (full).
 * Claims of one queue are published in order, so: no claim while a
 * reservation is open on the queue (of this port or another port wired to
 * the same queue: the claim could not be published before it), and after
 * the claim every other open run on the queue (ours on another port, or
 * ours on this port when another producer claimed in between, who now
 * waits for it) is published first.  At most one run per queue is then
 * open, so the end of a batch publishes them in any order.  What is left:
 * a reservation held open while the output ring on another port of the
 * same queue fills and is flushed (out_slot) waits for that reservation. */
static int claim(rh_worker *w, uint32_t port, uint64_t *pos)
{
    rh_kinst *k = w->kernel;
    rh_queue *q = k->out_q[port];
    uint32_t no = k->desc->n_outputs;
    for (uint32_t p = 0; p < no; p++)
        if (w->ip_out[p].reserved && k->out_q[p] == q)
            return 0;
    if (!rh__queue_claim_inplace(q, pos))
        return 0;
    for (uint32_t p = 0; p < no; p++) {
        struct rh_ip_out *o = &w->ip_out[p];
        if (o->n && k->out_q[p] == q && (p != port || *pos != o->start + o->n))
            publish_run(w, p);
    }
    return 1;
}

int rh__inplace_emit(rh_worker *w, uint32_t port, const rh_msg *in, const void *msg, uint32_t len)
{
    struct rh_ip_out *o = &w->ip_out[port];
    uint64_t pos;
    if (o->reserved) {
        /* An emit between reserve and commit fills the reserved cell, as
         * it fills the reserved ring slot on the copying path; the commit
         * after it then finds nothing reserved (RH_EINVAL). */
        pos = o->res_pos;
        o->reserved = 0;
    } else {
        int redelivered = in && in->env && (in->env->flags & (RH_ENV_REDELIVERED | RH_ENV_RETRIED));
        if (!may_go_inplace(w, port, redelivered) || !claim(w, port, &pos))
            return 0;
    }
    rh_envelope *env = rh__queue_cell(w->kernel->out_q[port], pos);
    rh__worker_fill_env(w, port, env, in, len);
    if (len)
        memcpy(env + 1, msg, len);
    append(w, port, pos);
    return 1;
}

void *rh__inplace_reserve(rh_worker *w, uint32_t port)
{
    struct rh_ip_out *o = &w->ip_out[port];
    if (!o->reserved) {
        /* The input it answers is known only at commit: any redelivered
         * input in the batch sends its reservations through the ring. */
        if (!may_go_inplace(w, port, w->ip_redelivered) || !claim(w, port, &o->res_pos))
            return NULL;
        o->reserved = 1;
    }
    return rh__queue_cell(w->kernel->out_q[port], o->res_pos) + 1;
}

int rh__inplace_commit(rh_worker *w, uint32_t port, const rh_msg *in, uint32_t len)
{
    struct rh_ip_out *o = &w->ip_out[port];
    if (!o->reserved)
        return 0;
    o->reserved = 0;
    rh__worker_fill_env(w, port, rh__queue_cell(w->kernel->out_q[port], o->res_pos), in, len);
    append(w, port, o->res_pos);
    return 1;
}

/* A reservation the kernel never committed by the end of its batch: its
 * cell goes back if nobody claimed after it; else it must be published
 * (claims cannot be skipped), as an empty answer with a fresh id, counted
 * emitted and sent like any other, and logged: the kernel broke the
 * reserve/commit rule (kernel.h). */
static void end_reservation(rh_worker *w, uint32_t port)
{
    struct rh_ip_out *o = &w->ip_out[port];
    o->reserved = 0;
    rh_kinst *k = w->kernel;
    if (rh__queue_unclaim_inplace(k->out_q[port], o->res_pos))
        return;
    rh__log_event(k->rt->log, RH_LOG_WARN, "kernel.reserve_not_committed",
                  "kernel=%s worker=%u port=%s queue=%s sent=empty_message", k->decl->name,
                  w->index, k->desc->outputs[port].name, rh_queue_name(k->out_q[port]));
    rh__worker_fill_env(w, port, rh__queue_cell(k->out_q[port], o->res_pos), NULL, 0);
    append(w, port, o->res_pos);
}

void rh__inplace_publish(rh_worker *w, int end_of_batch)
{
    for (uint32_t p = 0; p < w->kernel->desc->n_outputs; p++) {
        if (end_of_batch && w->ip_out[p].reserved)
            end_reservation(w, p);
        publish_run(w, p);
    }
}
