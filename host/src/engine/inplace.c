/*
 * inplace.c — the in-place path of an inline bridge.
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
 *           copying path, answer.c), and the batch's run of cells
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

int rh__inplace_wants_copy(rh_worker *w, int running)
{
    uint32_t np = w->kernel->desc->n_inputs;
    int orphans = 0;
    for (uint32_t p = 0; p < np; p++) {
        rh_in_bridge *b = w->inline_in[p];
        if (rh__ring_count(w->in[p]))
            return 1; /* what an earlier copying step left in the ring goes first */
        if (atomic_load_explicit(&b->ip_held, memory_order_relaxed))
            return 0; /* a copying claim after ours would wait for our release */
        if (running && rh__queue_consumer_entry(b->queue))
            orphans = 1;
    }
    return orphans;
}

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
        if (rh__in_bridge_idle(b))
            continue;
        /* seq_cst RMW as in rh__in_bridge_step: the idleness checks
         * (metrics.c, acks.c) never miss a run claimed but not yet counted. */
        atomic_exchange_explicit(&b->inflight, 1, memory_order_seq_cst);
        uint64_t pos;
        uint32_t room = b->acks ? rh__acks_room(b, max) : max; /* acks.c: ack_limit */
        uint32_t got = room ? rh__queue_take_inplace(b->queue, room, &pos) : 0;
        if (got == 0) {
            atomic_store_explicit(&b->inflight, 0, memory_order_release);
            continue;
        }
        /* Void cells (a dead client's loan, a run's unused answer cells:
         * queue_loan.c, end_run below) carry no message: none reaches the
         * kernel or the bridge's counts; the queue counted them skipped. */
        rh_cell_view v = rh__queue_cell_view(b->queue);
        uint32_t size = b->type->size, fill = size < v.payload_size ? size : v.payload_size;
        int plain = rh__in_bridge_plain(b);
        /* read once, not per message: the stores below may alias them */
        int (*validate)(const void *, char *, size_t) = b->type->validate;
        rh_msg *out = w->msgs;
        atomic_store_explicit(&b->ip_pos, pos, memory_order_relaxed);
        b->ip_end = pos + got;
        atomic_store_explicit(&b->ip_held, 1, memory_order_relaxed);
        rh_envelope *envs[IP_BURST_MAX];
        uint32_t msgs = 0, keep = 0;
        uint8_t flags = 0;
        for (uint32_t j = 0; j < got; j++) {
            rh_envelope *env = rh__cell_env(&v, pos + j);
            if (__builtin_expect(__atomic_load_n(&env->port, __ATOMIC_RELAXED) ==
                                     RH_QUEUE_VOID_PORT, 0))
                continue;
            msgs++;
            /* Read once: another process may scribble on the cell.  The
             * reader sees a whole struct, never an older message's tail. */
            uint32_t len = __atomic_load_n(&env->payload_len, __ATOMIC_RELAXED);
            if (len < fill)
                memset((char *)(env + 1) + len, 0, fill - len);
            if (!plain) {
                envs[keep++] = env; /* checked below, all together */
                continue;
            }
            /* A queue with no dedup window, no TTL and no redeliveries to
             * mark: the length and the type's own check are all there is
             * (rh__in_bridge_check does them for a message refused here,
             * and refuses it with its reason). */
            if (__builtin_expect(len > size || (validate && !rh__in_bridge_valid(validate, env)),
                                 0) &&
                rh__in_bridge_check(b, &env, 1) == 0)
                continue;
            if (env->port != p) /* not stored when it is so: the line stays clean */
                env->port = (uint16_t)p;
            out[keep].env = env;
            out[keep].data = env + 1;
            out[keep].port = p;
            flags |= env->flags;
            keep++;
        }
        b->ip_voids = got - msgs;
        if (__builtin_expect(got != msgs, 0))
            rh__queue_voids_taken(b->queue, got - msgs);
        if (!plain) {
            keep = keep ? rh__in_bridge_check(b, envs, keep) : 0;
            for (uint32_t j = 0; j < keep; j++) {
                w->msgs[j].env = envs[j];
                w->msgs[j].data = envs[j] + 1;
                w->msgs[j].port = p;
                flags |= envs[j]->flags;
            }
        }
        b->ip_refused = msgs - keep;
        w->ip_redelivered = (flags & (RH_ENV_REDELIVERED | RH_ENV_RETRIED)) != 0;
        *seen_out = msgs;
        if (keep == 0) { /* every one refused (or void): nothing for the kernel */
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
        if (claim_is_a_busy_peer(b, tail)) {
            b->ip_since = 0; /* not a stall: the peer's batch ends its claim */
            return;
        }
        /* A client's peek in front (claims table): waited for while it
         * lives, our run parked there as finished (1); an unrecorded claim
         * past the stall time: given up, marked corrupt (1). */
        if (!rh__queue_release_stalled(b->queue, tail, pos, b->ip_end, &b->ip_since))
            return;
    }
    b->ip_since = 0;
    /* Delivered to the kernel once the cells are given back: until then
     * they are counted queued (depth), like a message in a kernel ring. */
    atomic_fetch_add_explicit(&b->taken, b->ip_end - pos - b->ip_voids, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->moved, b->ip_end - pos - b->ip_voids - b->ip_refused,
                              memory_order_relaxed);
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
    /* Not k->desc: this runs before the step looks at the flow, while a
     * hot swap may be replacing desc (inline_in is fixed at build). */
    for (uint32_t p = 0; p < RH_MAX_PORTS && w->inline_in[p]; p++)
        if (atomic_load_explicit(&w->inline_in[p]->ip_held, memory_order_relaxed) == 2)
            release_bridge(w->inline_in[p]);
}

/* ------------------------------------------------------------ output --- */

/*
 * Claiming: a run per batch, or a cell per answer (measured: one
 * claim per answer is a CAS on prod_head, whose cache line the queue's
 * consumer keeps reading for prod_tail, so each answer paid a cache-line
 * transfer; the echo pipeline at burst 32 ran at ~0.55x of the copying
 * path that way, and above it with a run per batch).  A run is sized to
 * the inputs of the batch not yet answered on the port (exact for a kernel
 * answering each input once), at most the bridge's burst.  Cells a run
 * did not use go back at the end of the batch (rh__queue_unclaim_inplace),
 * which only works while nobody claimed after the run: hence runs only
 * where this worker is its runtime's only producer of the queue (decided at
 * its first answer, `single`), and a cell per answer elsewhere (inline
 * workers sharing an output queue, two ports or kernels writing one, a
 * queue another runtime of the host created).  A producer outside the
 * runtime's kernels (a client sending into a kernel's output queue, a
 * runtime launched later into the host writing it) that claims behind a
 * run with unused cells leaves them impossible to give back: they are
 * then published void (CELL_VOID_PORT, as a dead client's loan:
 * queue_loan.c), which every consumer skips without a delivery or a count,
 * and the port claims a cell per answer from then on.  (Before the claims
 * table, consumers could not skip a cell, and such cells went out as
 * empty messages logged kernel.inplace_filler; that message is gone.)
 */

/* Whether the worker is the only producer of port's queue among the
 * kernels of its runtime, which created the queue.  Not the host's other
 * runtimes (rt->peers): the control thread rewrites that list under its
 * own lock, so a worker may not read it; a queue another runtime created
 * (borrowed) may have producers there, and gets a cell per answer. */
static int sole_producer(const rh_worker *w, uint32_t port)
{
    const rh_queue *q = w->kernel->out_q[port];
    const rh_runtime *rt = w->kernel->rt;
    for (uint32_t i = 0; i < rt->n_queues; i++)
        if (rt->queues[i] == q && rh_runtime_queue_borrowed(rt, i))
            return 0;
    uint32_t writers = 0;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        const rh_kinst *k = &rt->kernels[i];
        /* out_q, fixed at build, not desc, which a swap of that kernel may
         * be replacing now (NULL past its ports: calloc'ed) */
        for (uint32_t p = 0; p < RH_MAX_PORTS; p++)
            if (k->out_q[p] == q)
                writers += k->n_workers;
    }
    return writers == 1;
}

/* Publish port's written cells [start, start + n): stamped with one
 * enqueue time, one publish, one doorbell; the claimed cells after them
 * stay claimed.  A producers' side stalled for good refuses them: counted
 * rejected on the queue and dead-lettered from the cells they were written
 * to (stage "undeliverable"), as the copying path's flush does.
 * now: the enqueue time to stamp, 0 to read the clock here (the end of a
 * batch passes the step's read when process() returned: one read for both
 * its service time and its answers' stamp). */
static void publish_run_at(rh_worker *w, uint32_t port, uint64_t now)
{
    struct rh_ip_out *o = &w->ip_out[port];
    if (o->n == 0)
        return;
    rh_kinst *k = w->kernel;
    rh_queue *q = k->out_q[port];
    rh_out_bridge *b = &k->out_bridges[port];
    if (!now)
        now = rh_now_ns();
    /* Answers of the fast path (emit_fast.h) carry their id, port 0 and a
     * length within the type: only the enqueue time is the queue's then. */
    rh__queue_stamp_inplace(q, o->start, o->start + o->n, now, o->n_general == 0);
    o->n_general = 0;
    int rc = rh__queue_publish_inplace(q, o->start, o->start + o->n, &o->note);
    if (rc == 0) {
        atomic_fetch_add_explicit(&b->sent, o->n, memory_order_relaxed);
    } else {
        /* RH_ETIMEDOUT: given up at the deadline behind a live, slow
         * sender's claim (the queue is sound); else the side is marked */
        rh__undeliverable_why why =
            rc == RH_ETIMEDOUT ? RH__UNDELIVERABLE_GAVE_UP : RH__UNDELIVERABLE_CORRUPT;
        rh__queue_count(q, RH_QC_REJECTED, o->n);
        uint64_t dead = 0;
        for (uint32_t i = 0; i < o->n; i++) {
            const rh_envelope *env = rh__queue_cell(q, o->start + i);
            dead += rh__out_bridge_dead_letter(b, env, env + 1, why) == 0;
        }
        rh__out_bridge_count_refusals(b, dead, o->n - dead, why);
    }
    atomic_fetch_add_explicit(&w->emitted, o->n, memory_order_relaxed);
    o->start += o->n;
    o->n = 0;
}

static void publish_run(rh_worker *w, uint32_t port)
{
    publish_run_at(w, port, 0);
}

void rh__inplace_publish_run(rh_worker *w, uint32_t port)
{
    publish_run(w, port);
}

/* The claimed cells nothing was written to, at the end of a batch: back
 * to the queue, or (see above) published as empty messages. */
static void end_run(rh_worker *w, uint32_t port, uint64_t now)
{
    struct rh_ip_out *o = &w->ip_out[port];
    publish_run_at(w, port, now);
    o->reserved = 0; /* a reservation never committed ends with its batch */
    if (o->start == o->end)
        return;
    rh_kinst *k = w->kernel;
    rh_queue *q = k->out_q[port];
    if (!rh__queue_unclaim_inplace(q, o->start, o->end, &o->note)) {
        /* Another producer claimed after the run: its unused cells are
         * published void, which every consumer skips (queue_protocol.h
         * cell_is_void): no message, nothing counted emitted or sent; the
         * queue counts them made void.  The port claims a cell per answer
         * from then on. */
        rh__queue_void_inplace(q, o->start, o->end);
        (void)rh__queue_publish_inplace(q, o->start, o->end, &o->note);
        o->single = 2;
    }
    o->start = o->end = 0;
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

/* The next cell of port's run for an answer (1, *pos), claiming more when
 * the run is used up, or 0 (full: the copying path).  Claims of one queue
 * are published in order, so: no claim while another port wired to the
 * same queue holds a reservation or a run (such ports claim one cell per
 * answer and publish at once whatever the other port has written), and a
 * new claim that does not follow the run (another producer claimed in
 * between, and now waits for us) publishes the run first. */
static int next_cell(rh_worker *w, uint32_t port, uint64_t *pos)
{
    rh_kinst *k = w->kernel;
    rh_queue *q = k->out_q[port];
    struct rh_ip_out *o = &w->ip_out[port];
    if (o->start + o->n < o->end) {
        *pos = o->start + o->n;
        return 1;
    }
    uint32_t no = k->desc->n_outputs;
    for (uint32_t p = 0; p < no; p++)
        if (p != port && k->out_q[p] == q && w->ip_out[p].reserved)
            return 0;
    if (o->single == 0)
        o->single = sole_producer(w, port) ? 1 : 2;
    uint32_t want = 1;
    if (o->single == 1) {
        if (o->gen != w->batch_gen) {
            o->gen = w->batch_gen;
            o->answered = 0;
        }
        uint32_t burst = k->out_bridges[port].burst;
        want = w->batch_n > o->answered ? w->batch_n - o->answered : 1;
        want = want < burst ? want : burst;
    }
    /* The run is used up (every cell written): published before the next
     * claim, so each claim is one run under one producer note, which a
     * producer waiting behind it finds (queue_notes.c).  (It used to be
     * extended when the next claim followed it: one publish fewer for a
     * kernel that answers an input more than once.) */
    if (o->n)
        publish_run(w, port);
    uint64_t at;
    uint32_t got = rh__queue_claim_inplace(q, want, &at, &o->note);
    if (got == 0)
        return 0;
    for (uint32_t p = 0; p < no; p++)
        if (p != port && k->out_q[p] == q)
            publish_run(w, p);
    o->start = at;
    o->end = at + got;
    *pos = at;
    return 1;
}

/* The answer in cell pos (the run's next), whose envelope is env, is
 * written (rh__worker_fill_env). */
static void written(rh_worker *w, uint32_t port, const rh_envelope *env)
{
    struct rh_ip_out *o = &w->ip_out[port];
    o->n++;
    o->answered++;
    /* An answer outside the batch has no id yet: the queue's whole stamp
     * draws one (port 0 and the length, checked by rh_emit, are right). */
    o->n_general += rh_id_is_zero(env->id);
    if (o->n >= w->kernel->out_bridges[port].burst)
        publish_run(w, port);
}

int rh__inplace_emit(rh_worker *w, uint32_t port, const rh_msg *in, const void *msg, uint32_t len)
{
    struct rh_ip_out *o = &w->ip_out[port];
    uint64_t pos;
    if (o->reserved) {
        /* An emit between reserve and commit fills the reserved cell, as
         * it fills the reserved ring slot on the copying path; the commit
         * after it then finds nothing reserved (RH_EINVAL). */
        pos = o->start + o->n;
        o->reserved = 0;
    } else {
        int redelivered =
            in && in->env && (in->env->flags & (RH_ENV_REDELIVERED | RH_ENV_RETRIED));
        if (!may_go_inplace(w, port, redelivered) || !next_cell(w, port, &pos))
            return 0;
    }
    rh_envelope *env = rh__queue_cell(w->kernel->out_q[port], pos);
    rh__worker_fill_env(w, port, env, in, len);
    if (len)
        memcpy(env + 1, msg, len);
    written(w, port, env);
    return 1;
}

void *rh__inplace_reserve(rh_worker *w, uint32_t port)
{
    struct rh_ip_out *o = &w->ip_out[port];
    if (!o->reserved) {
        /* The input it answers is known only at commit: any redelivered
         * input in the batch sends its reservations through the ring. */
        uint64_t pos;
        if (!may_go_inplace(w, port, w->ip_redelivered) || !next_cell(w, port, &pos))
            return NULL;
        o->reserved = 1;
        o->fast = 0; /* an emit now fills the reserved cell: the general path's */
    }
    return rh__queue_cell(w->kernel->out_q[port], o->start + o->n) + 1;
}

int rh__inplace_commit(rh_worker *w, uint32_t port, const rh_msg *in, uint32_t len)
{
    struct rh_ip_out *o = &w->ip_out[port];
    if (!o->reserved)
        return 0;
    o->reserved = 0;
    rh_envelope *env = rh__queue_cell(w->kernel->out_q[port], o->start + o->n);
    rh__worker_fill_env(w, port, env, in, len);
    written(w, port, env);
    return 1;
}

void rh__inplace_batch_begins(rh_worker *w)
{
    rh_kinst *k = w->kernel;
    uint32_t no = k->desc->n_outputs;
    for (uint32_t p = 0; p < no; p++) {
        struct rh_ip_out *o = &w->ip_out[p];
        /* may_go_inplace's tests that hold for a whole batch; an answer
         * through the ring (out_pending) clears fast (dispatch.c) */
        o->fast = !w->ip_redelivered && !w->out_pending[p] && !rh__ring_count(w->out[p]);
        if (!o->fast)
            continue;
        if (o->gen != w->batch_gen) {
            o->gen = w->batch_gen;
            o->answered = 0;
        }
        if (__builtin_expect(!o->cells.cells, 0)) {
            /* Once: the queue, its bridge and the port's type (a hot swap
             * keeps the ports' types: live/hotswap.c) do not change. */
            o->cells = rh__queue_cell_view(k->out_q[p]);
            uint32_t size = k->desc->outputs[p].type->size;
            o->len_max = size < o->cells.payload_size ? size : o->cells.payload_size;
            o->burst = k->out_bridges[p].burst;
            o->recent = &k->out_bridges[p].recent;
        }
    }
}

void rh__inplace_publish(rh_worker *w, int end_of_batch, uint64_t now)
{
    for (uint32_t p = 0; p < w->kernel->desc->n_outputs; p++) {
        if (end_of_batch)
            end_run(w, p, now);
        else
            publish_run(w, p);
    }
}

void rh__inplace_end_queue(rh_worker *w, uint32_t port)
{
    const rh_queue *q = w->kernel->out_q[port];
    for (uint32_t p = 0; p < w->kernel->desc->n_outputs; p++)
        if (w->kernel->out_q[p] == q)
            end_run(w, p, 0);
}
