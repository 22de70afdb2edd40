/*
 * dispatch.c — the call into the kernel: a worker's dispatch step (take a
 * batch from its input rings, call process(), commit what it emitted,
 * release the batch) and the host services the kernel calls back
 * (rh__host_api_v1: emit, fail, poll, should_stop, log).  The threads that
 * run these steps are reactor.c's.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/id.h"
#include "base/log.h"
#include "engine/acks.h"
#include "engine/emit_fast.h"
#include "engine/engine_pvt.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"

/* ------------------------------------------------------ host services -- */

static rh_worker *worker_of(rh_ctx *ctx)
{
    return (rh_worker *)ctx->host;
}

static int flow(const rh_worker *w)
{
    return rh_kernel_flow(w->kernel);
}

/* fini() of a worker whose kernel was terminated alone, once, on its own
 * thread; the reactor's exit skips it then. */
void rh__worker_finish(rh_worker *w)
{
    if (atomic_load_explicit(&w->finished, memory_order_relaxed))
        return;
    if (w->init_rc == 0 && w->kernel->desc->fini)
        w->kernel->desc->fini(&w->ctx, w->state);
    atomic_store_explicit(&w->finished, 1, memory_order_release);
}

void rh__worker_run_pending_op(rh_worker *w)
{
    rh_worker_op *op = atomic_exchange_explicit(&w->op, NULL, memory_order_acq_rel);
    if (!op)
        return;
    op->fn(w, op->arg);
    atomic_store_explicit(&op->done, 1, memory_order_release);
}

/* Make every filled output slot visible to the output bridge. */
void rh__worker_flush_outputs(rh_worker *w)
{
    const rh_kinst *k = w->kernel;
    for (uint32_t p = 0; p < k->desc->n_outputs; p++) {
        if (w->out_pending[p]) {
            rh__ring_commit(w->out[p], w->out_pending[p]);
            atomic_fetch_add_explicit(&w->emitted, w->out_pending[p], memory_order_relaxed);
            w->out_pending[p] = 0;
        }
        w->ring_room[p] = 0; /* the reserve position moved */
    }
}

/* A free output slot on port p, waiting for the output bridge if the ring is
 * full.  In inline mode this thread is the bridge, so it flushes itself. */
static rh_envelope *out_slot(rh_worker *w, uint32_t p)
{
    rh_ring *r = w->out[p];
    rh_kinst *k = w->kernel;
    w->ip_out[p].fast = 0; /* answers after this one follow it through the ring */
    rh_waiter wt;
    rh__waiter_init(&wt, RH_WAIT_YIELD);
    for (;;) {
        uint64_t pos;
        uint32_t need = w->out_pending[p] + 1, batch = k->decl->batch;
        /* asks for a batch's worth: the answers after this one find their
         * slots without asking (emit_fast.h) */
        uint32_t room = rh__ring_reserve(r, need > batch ? need : batch, &pos);
        if (room >= need) {
            w->ring_room[p] = room;
            w->ring_pos[p] = pos;
            w->ring_len_max[p] = k->desc->outputs[p].type->size;
            return rh_ring_slot(r, pos + w->out_pending[p]);
        }
        rh__worker_flush_outputs(w); /* let the bridge see what we have */
        if (k->decl->bridge == RH_BRIDGE_INLINE) {
            /* Our answers written in place were claimed before anything
             * the flush claims: they must be published first. */
            if (w->inplace)
                rh__inplace_end_queue(w, p);
            rh__out_bridge_flush_ring(&k->out_bridges[p], r);
        }
        else if (flow(w) == RH_FLOW_STOPPED)
            return NULL; /* the output bridge is gone: refuse rather than hang */
        else
            sched_yield();
    }
}

/* Every rh_emit but the common case (emit_fast.h): out of line, so the
 * common case's caller saves no registers for it. */
static __attribute__((noinline)) int emit_general(rh_worker *w, uint32_t port, const rh_msg *in,
                                                  const void *msg, uint32_t len)
{
    if (port >= w->kernel->desc->n_outputs || len > w->kernel->desc->outputs[port].type->size)
        return RH_EINVAL;
    if (w->inplace && rh__inplace_emit(w, port, in, msg, len))
        return 0;
    rh_envelope *env = out_slot(w, port);
    if (!env)
        return RH_ESTOPPED;
    rh__worker_fill_env(w, port, env, in, len);
    memcpy(rh_ring_payload(env), msg, len);
    w->out_pending[port]++;
    return 0;
}

/* Out of line too, for the same reason: the copying path's common case
 * (emit_fast.h), else the general path. */
static __attribute__((noinline)) int emit_through_ring(rh_worker *w, uint32_t port,
                                                       const rh_msg *in, const void *msg,
                                                       uint32_t len)
{
    if (rh__emit_fast_ring(w, port, in, msg, len))
        return 0;
    return emit_general(w, port, in, msg, len);
}

static int api_emit(rh_ctx *ctx, uint32_t port, const rh_msg *in, const void *msg, uint32_t len)
{
    rh_worker *w = worker_of(ctx);
    if (rh__emit_fast_ring(w, port, in, msg, len))
        return 0;
    return emit_general(w, port, in, msg, len);
}

/* rh_emit of a worker on the in-place path (rh__host_api_inplace): its
 * common case inline, the copying one out of line (one emit function per
 * kind of worker, chosen by its API table: each inlines only its own
 * common case, measured 8-15 instructions per answer cheaper than one
 * function with both). */
static int api_emit_inplace(rh_ctx *ctx, uint32_t port, const rh_msg *in, const void *msg,
                            uint32_t len)
{
    rh_worker *w = worker_of(ctx);
    if (rh__emit_fast(w, port, in, msg, len))
        return 0;
    return emit_through_ring(w, port, in, msg, len);
}

static void *api_emit_reserve(rh_ctx *ctx, uint32_t port)
{
    rh_worker *w = worker_of(ctx);
    if (port >= w->kernel->desc->n_outputs)
        return NULL;
    if (w->inplace) {
        void *cell = rh__inplace_reserve(w, port);
        if (cell)
            return cell;
    }
    rh_envelope *env = out_slot(w, port);
    return env ? rh_ring_payload(env) : NULL;
}

static int api_emit_commit(rh_ctx *ctx, uint32_t port, const rh_msg *in, uint32_t len)
{
    rh_worker *w = worker_of(ctx);
    if (port >= w->kernel->desc->n_outputs || len > w->kernel->desc->outputs[port].type->size)
        return RH_EINVAL;
    if (w->inplace && rh__inplace_commit(w, port, in, len))
        return 0;
    /* the slot out_slot() returned is still the next one: nothing moved it */
    uint64_t pos;
    uint32_t need = w->out_pending[port] + 1;
    if (rh__ring_reserve(w->out[port], need, &pos) < need)
        return RH_EINVAL; /* commit without reserve */
    rh_envelope *env = rh_ring_slot(w->out[port], pos + w->out_pending[port]);
    rh__worker_fill_env(w, port, env, in, len);
    w->out_pending[port]++;
    return 0;
}

/* Dead-letter message j of the batch the kernel holds, failed with reason:
 * counted failed on its input queue and on the worker, put into the
 * kernel's dead-letter queue (which counts it dead-lettered there). */
static void fail_message(rh_worker *w, uint32_t j, const char *reason)
{
    rh_kinst *k = w->kernel;
    const rh_msg *m = &w->msgs[j];
    atomic_fetch_add_explicit(&w->failed, 1, memory_order_relaxed);
    rh__queue_count(k->in_q[m->port], RH_QC_FAILED, 1);
    rh__dlq_put(k->dlq, k->in_q[m->port], k->decl->name, k->desc->inputs[m->port].type,
                RH_DLQ_FAILED, m->env, m->data, reason, k->rt->log);
}

/*
 * rh_fail: a message of the batch the kernel holds failed.  It is counted
 * and dead-lettered once, however often the kernel fails it (and a batch
 * failure afterwards skips it).  A message that is not in the held batch (a
 * NULL one, or one from a batch already released, whose slot may hold
 * another message by now) cannot be dead-lettered: that is logged only, and
 * counted nowhere, so the accounting stays exact.
 */
static void api_fail(rh_ctx *ctx, const rh_msg *in, const char *reason)
{
    rh_worker *w = worker_of(ctx);
    rh_kinst *k = w->kernel;
    if (!reason)
        reason = "(no reason)";
    int j = rh__worker_batch_index(w, in);
    if (j < 0) {
        rh__log_event(k->rt->log, RH_LOG_WARN, "kernel.fail_outside_batch",
                      "kernel=%s worker=%u counted=no reason=%s", k->decl->name, w->index,
                      reason);
        return;
    }
    char id[37];
    rh_id_format(w->msgs[j].env->id, id);
    if (!w->batch_marked) {
        memset(w->failed_mark, 0, w->batch_n);
        w->batch_marked = 1;
    }
    if (w->failed_mark[j]) {
        rh__log_event(k->rt->log, RH_LOG_WARN, "kernel.message_failed_again",
                      "kernel=%s worker=%u id=%s counted=once reason=%s", k->decl->name,
                      w->index, id, reason);
        return;
    }
    w->failed_mark[j] = 1;
    rh__log_event(k->rt->log, RH_LOG_WARN, "kernel.message_failed",
                  "kernel=%s worker=%u id=%s reason=%s", k->decl->name, w->index, id, reason);
    fail_message(w, (uint32_t)j, reason);
}

/* The kernel now holds msgs[0..n) (0: none). */
static void hold_batch(rh_worker *w, uint32_t n)
{
    w->batch_n = n;
    w->batch_marked = 0;
    w->batch_gen += n != 0; /* answer counts of the last batch are now stale */
    if (n == 0)
        return; /* the fast paths test batch_n too: none is taken outside a batch */
    w->n_outputs = w->kernel->desc->n_outputs;
    uint32_t counts = n * w->n_outputs;
    if (counts <= 8) /* a batch of a few: no call */
        for (uint32_t i = 0; i < counts; i++)
            w->emit_counts[i] = 0;
    else
        memset(w->emit_counts, 0, (size_t)counts * sizeof *w->emit_counts);
    if (w->inplace)
        rh__inplace_batch_begins(w);
}

/* process() returned rc < 0 for the batch it held: every message of it the
 * kernel did not already fail with rh_fail is failed now, with that reason. */
static void fail_batch(rh_worker *w, int rc)
{
    char reason[96];
    snprintf(reason, sizeof reason, "process() returned %d for its batch of %u", rc, w->batch_n);
    for (uint32_t j = 0; j < w->batch_n; j++)
        if (!w->batch_marked || !w->failed_mark[j])
            fail_message(w, j, reason);
}

static int worker_take(rh_worker *w, uint32_t max, uint32_t *port_out, uint64_t *pos_out);

void rh__worker_release_run_batch(rh_worker *w)
{
    hold_batch(w, 0);
    if (w->run_count) {
        rh__ring_release(w->in[w->run_port], w->run_count);
        w->run_count = 0;
    }
}

static int api_poll(rh_ctx *ctx, rh_batch *batch, uint32_t max, int timeout_ms)
{
    rh_worker *w = worker_of(ctx);
    rh__worker_flush_outputs(w);
    rh__worker_release_run_batch(w);
    batch->count = 0; /* every return but a batch leaves it empty */
    batch->msgs = w->msgs;
    uint32_t cap = w->kernel->decl->batch;
    if (max == 0 || max > cap)
        max = cap;
    uint64_t deadline = rh_deadline_after_ms(timeout_ms);
    for (;;) {
        rh__worker_run_pending_op(w);
        int f = flow(w);
        if (f == RH_FLOW_STOPPED)
            return RH_ESTOPPED;
        uint32_t port;
        uint64_t pos;
        int n = f != RH_FLOW_PAUSED ? worker_take(w, max, &port, &pos) : 0;
        if (n > 0) {
            w->run_port = port;
            w->run_count = (uint32_t)n;
            hold_batch(w, (uint32_t)n);
            if (w->latency) /* a run() kernel: its wait only (no process() to time) */
                rh__latency_taken(w, port, (uint32_t)n, rh_now_ns());
            batch->count = (uint32_t)n;
            batch->msgs = w->msgs;
            atomic_fetch_add_explicit(&w->processed, (uint64_t)n, memory_order_relaxed);
            return n;
        }
        if (f == RH_FLOW_DRAINING)
            return RH_ESTOPPED; /* rings are empty and no more will come */
        if (rh_now_ns() >= deadline)
            return 0;
        rh_bell *bells[RH_MAX_PORTS + 1];
        uint32_t nb = 0;
        for (uint32_t p = 0; p < w->kernel->desc->n_inputs; p++)
            bells[nb++] = &w->in[p]->not_empty;
        bells[nb++] = &w->reactor->bell;
        rh_sleep s;
        rh__sleep_prepare(&s, bells, nb);
        if (worker_take(w, 0, &port, &pos) > 0 || flow(w) != f) {
            rh__sleep_cancel(&s);
            continue;
        }
        rh__sleep_commit(&s, 10 * (int64_t)RH_NS_PER_MS);
    }
}

static int api_should_stop(rh_ctx *ctx)
{
    rh_worker *w = worker_of(ctx);
    return flow(w) == RH_FLOW_STOPPED ||
           (flow(w) == RH_FLOW_DRAINING && worker_take(w, 0, NULL, NULL) == 0);
}

static void api_log(rh_ctx *ctx, int level, const char *msg)
{
    /* A kernel's own line, filtered by the same RINGHOST_LOG threshold
     * (levels outside error..debug are clamped to the nearest one). */
    rh_worker *w = worker_of(ctx);
    int lvl = level < RH_LOG_ERROR ? RH_LOG_ERROR : level > RH_LOG_DEBUG ? RH_LOG_DEBUG : level;
    rh__log_event(w->kernel->rt->log, lvl, "kernel.log", "kernel=%s worker=%u msg=%s",
                  ctx->kernel_name, w->index, msg);
}

/* The host services; the two tables differ in their emit only. */
#define HOST_API(emit_fn)                                                                         \
    {                                                                                             \
        .struct_size = sizeof(rh_host_api), .emit = emit_fn, .emit_reserve = api_emit_reserve,    \
        .emit_commit = api_emit_commit, .fail = api_fail, .poll = api_poll,                       \
        .should_stop = api_should_stop, .log = api_log,                                           \
    }
const rh_host_api rh__host_api_v1 = HOST_API(api_emit);
static const rh_host_api host_api_inplace = HOST_API(api_emit_inplace);

void rh__worker_set_inplace(rh_worker *w, int on)
{
    w->inplace = on;
    w->ctx.api = on ? &host_api_inplace : &rh__host_api_v1;
}

/* ---------------------------------------------------------- dispatch -- */

/*
 * Peek up to max messages of one input port (round robin over ports) and
 * describe them in w->msgs.  max 0: only say whether anything is there.
 */
static int worker_take(rh_worker *w, uint32_t max, uint32_t *port_out, uint64_t *pos_out)
{
    uint32_t np = w->kernel->desc->n_inputs;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t p = (w->next_port + i) % np;
        uint64_t pos;
        if (max == 0) {
            if (rh__ring_count(w->in[p]))
                return 1;
            continue;
        }
        uint32_t n = rh__ring_peek(w->in[p], max, &pos);
        if (!n)
            continue;
        for (uint32_t j = 0; j < n; j++) {
            rh_envelope *env = rh_ring_slot(w->in[p], pos + j);
            w->msgs[j].env = env;
            w->msgs[j].data = rh_ring_payload(env);
            w->msgs[j].port = p;
        }
        w->next_port = (p + 1) % np;
        *port_out = p;
        *pos_out = pos;
        return (int)n;
    }
    return 0;
}

uint32_t rh__worker_step(void *arg)
{
    rh_worker *w = arg;
    rh_kinst *k = w->kernel;
    if (w->inplace) /* whatever the flow: a release that waited for an earlier claim */
        rh__inplace_settle(w);
    if (atomic_load_explicit(&w->op, memory_order_relaxed))
        rh__worker_run_pending_op(w);
    int f = flow(w);
    uint32_t moved = 0;
    if ((f == RH_FLOW_STOPPED &&
         atomic_load_explicit(&k->kflow, memory_order_acquire) == RH_KFLOW_STOPPED) ||
        atomic_load_explicit(&k->given_up, memory_order_relaxed)) {
        rh__worker_finish(w);
        return 0; /* given up (restart.c): whatever the flow says later */
    }
    if (f == RH_FLOW_STOPPED || f == RH_FLOW_PAUSED)
        return 0;
    if (w->restart_at_ns && rh__worker_restart_pending(w))
        return 0; /* restart backoff (restart.c): messages wait in the rings */
    uint64_t started = rh_now_ns();
    atomic_store_explicit(&w->heartbeat_ns, started, memory_order_relaxed);
    if (k->decl->bridge == RH_BRIDGE_INLINE)
        for (uint32_t p = 0; p < k->desc->n_inputs; p++) {
            if (f == RH_FLOW_RUNNING && !w->inplace)
                moved += rh__in_bridge_step(w->inline_in[p]);
            else if (f != RH_FLOW_RUNNING && w->inline_in[p]->acks) /* draining: still ack
                                                                       * what finished */
                rh__acks_settle(w->inline_in[p]);
        }

    uint32_t port;
    uint64_t pos = 0;
    /* solo: messages retried after a kernel process died take one batch each */
    uint32_t solo = atomic_load_explicit(&w->solo, memory_order_relaxed);
    int n;
    int copied = !w->inplace;
    if (w->inplace && rh__inplace_wants_copy(w, f == RH_FLOW_RUNNING)) {
        /* A dead client's peek to adopt (redelivered, marked): this step
         * copies, as a worker without the in-place path does (inplace.c). */
        copied = 1;
        if (f == RH_FLOW_RUNNING)
            for (uint32_t p = 0; p < k->desc->n_inputs; p++)
                moved += rh__in_bridge_step(w->inline_in[p]);
        n = worker_take(w, solo ? 1 : k->decl->batch, &port, &pos);
        w->ip_redelivered = 1; /* reservations through the ring and its repeat check */
    } else if (w->inplace) {
        /* The batch in the input queue's cells (inplace.c); nothing
         * enters this worker's input ring then.  Draining takes nothing. */
        uint32_t seen = 0;
        n = f == RH_FLOW_RUNNING ? (int)rh__inplace_take(w, k->decl->batch, &port, &seen) : 0;
        moved += seen - (uint32_t)n; /* refused ones: work done all the same */
    } else {
        n = worker_take(w, solo ? 1 : k->decl->batch, &port, &pos);
    }
    if (n > 0) {
        rh_batch batch = {(uint32_t)n, w->msgs};
        /* release: the watchdog reading busy sees this call's heartbeat */
        atomic_store_explicit(&w->busy, 1, memory_order_release);
        hold_batch(w, (uint32_t)n);
        /* Latency (engine_pvt.h): one clock read per batch more, when
         * process() returns.  The step's own read (started) stands for
         * the take: a batch's wait ends there, and its service time is
         * the take (a scan of its cells, or the inline copy) and the
         * call, from the same read. */
        if (w->latency)
            rh__latency_taken(w, port, (uint32_t)n, started);
        int rc = k->desc->process(&w->ctx, w->state, &batch);
        /* one read for the service time and the in-place answers' stamp */
        uint64_t returned = w->latency || w->inplace ? rh_now_ns() : 0;
        if (w->latency)
            rh__latency_served(w, (uint32_t)n, returned - started);
        if (rc < 0) {
            fail_batch(w, rc);
            rh__log_event(k->rt->log, RH_LOG_WARN, "kernel.batch_failed",
                          "kernel=%s worker=%u messages=%d rc=%d", k->decl->name, w->index, n,
                          rc);
        }
        hold_batch(w, 0);
        if (w->inplace)
            rh__inplace_publish(w, 1, returned); /* before the ring's: claimed first */
        rh__worker_flush_outputs(w);
        if (copied)
            rh__ring_release(w->in[port], (uint32_t)n);
        atomic_fetch_add_explicit(&w->processed, (uint64_t)n, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->batches, 1, memory_order_relaxed);
        atomic_store_explicit(&w->busy, 0, memory_order_release);
        if (solo)
            atomic_store_explicit(&w->solo, solo - 1, memory_order_relaxed);
        if (k->decl->watchdog_ms || k->decl->restart_failed_batches)
            rh__worker_after_call(w, rc, started);
        moved += (uint32_t)n;
    }
    if (k->decl->bridge == RH_BRIDGE_INLINE)
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            moved += rh__out_bridge_flush_ring(&k->out_bridges[p], w->out[p]);
    /* The input run goes back once its answers are out of the output ring
     * too: a persist queue acks it only then (acks.c). */
    if (!copied && n > 0)
        rh__inplace_release(w, port);
    return moved;
}

uint32_t rh__in_bridge_task(void *arg)
{
    rh_in_bridge *b = arg;
    if (rh_kernel_flow(b->kernel) != RH_FLOW_RUNNING) {
        if (b->acks)
            rh__acks_settle(b); /* what the kernel finishes meanwhile (acks.c) */
        return 0; /* paused or draining: messages wait in the named queue */
    }
    return rh__in_bridge_step(b);
}

uint32_t rh__out_bridge_task(void *arg)
{
    /* Outputs always flow, even paused or draining: nothing is kept back. */
    return rh__out_bridge_step(arg);
}
