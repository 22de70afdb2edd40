/*
 * kernel_build.c — one kernel made real at launch: its workers with their
 * input and output rings (from its executor, exec/), its input and output
 * bridges, and the reactor threads the bridges' steps run on (placed as
 * the thread executor places dispatch steps: threads follow cores,
 * exec_thread.c).  Where the workers' steps run is the executor's
 * (rh_exec_ops.place).  Nothing here starts a thread: runtime.c does, once
 * every kernel is built.
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/log.h"
#include "base/placement.h"
#include "engine/acks.h"
#include "exec/exec.h"
#include "launch/launch.h"
#include "queue/queue_pvt.h"

/* ------------------------------------------------ kernels and bridges -- */

static uint32_t bridge_burst(const rh_kernel_decl *d)
{
    uint32_t b = d->batch < 32 ? 32 : d->batch;
    return b > 256 ? 256 : b;
}

/*
 * Slots of a kernel ring when the manifest does not say: as many as fit in
 * RING_AUTO_BYTES, a power of two between 64 and 1024.  Measured
 * (docs/PERFORMANCE.md): 64 KiB messages through an echo pipeline ran at
 * 2.5 GB/s with 1024-slot rings (64 MiB each: every message a cache miss)
 * and 4.3 GB/s with 64; for small messages 1024 slots fit in cache anyway
 * and the size made no measurable difference.
 */
#define RING_AUTO_BYTES (4u << 20)
#define RING_AUTO_MIN 64u
#define RING_AUTO_MAX 1024u

uint32_t rh__kernel_ring_slots(uint32_t configured, uint32_t type_size)
{
    if (configured)
        return configured;
    uint64_t slot = sizeof(rh_envelope) + (uint64_t)type_size;
    uint32_t n = RING_AUTO_MAX;
    while (n > RING_AUTO_MIN && (uint64_t)n * slot > RING_AUTO_BYTES)
        n /= 2;
    return n;
}


/* The ring slots a persist input bridge's bursts on port p wait in (acks.c
 * marks one per burst): the input rings it feeds and every output ring. */
static uint32_t ack_slots(const rh_kinst *k, uint32_t p, int inline_mode)
{
    uint64_t n = 0;
    for (uint32_t w = 0; w < k->n_workers; w++) {
        if (!inline_mode || w == 0)
            n += k->workers[w].in[p]->ctl.capacity;
        for (uint32_t o = 0; o < k->desc->n_outputs; o++)
            n += k->workers[w].out[o]->ctl.capacity;
    }
    return n > (1u << 24) ? (1u << 24) : (uint32_t)n;
}

/*
 * A kernel with a persist input answers each message once across SIGKILLs
 * only while the answers a kill may repeat fit in the recent ids its output
 * queue checks them against (at most min(capacity, 65 536): engine/acks.c,
 * ack_limit).  The bridges enforce that by taking at most half of it ahead
 * of the acks, whatever the capacity, so no capacity breaks the promise
 * (for a kernel answering each input once per port); a small one makes the
 * workers wait for acks instead of working on full batches.  That is
 * warned here, naming the capacity that lifts it: a launch refused for it
 * would refuse a manifest that keeps its promise.  An output queue other
 * kernels of the manifest also write shares those ids with their answers,
 * which no limit here can bound: warned too.
 */
static uint32_t first_persist_input(const rh_kinst *k)
{
    for (uint32_t p = 0; p < k->desc->n_inputs; p++)
        if (rh__queue_is_persist(k->in_q[p]))
            return p;
    return UINT32_MAX;
}

static void warn_persist_window(rh_runtime *rt, const rh_kinst *k, uint32_t limit)
{
    const rh_kernel_decl *d = k->decl;
    uint32_t inputs = 0;
    for (uint32_t p = 0; p < k->desc->n_inputs; p++)
        inputs += rh__queue_is_persist(k->in_q[p]);
    for (uint32_t p = 0; p < k->desc->n_outputs; p++) {
        rh_queue *q = k->out_q[p];
        const rh_queue_config *c = rh_queue_config_of(q);
        if (!c->persist && !c->dedup_window)
            continue;
        uint64_t want = 2ull * inputs * k->n_workers * d->batch, need = 2;
        while (need < want)
            need <<= 1;
        if (limit < (uint64_t)k->n_workers * d->batch)
            rh__log_event(rt->log, RH_LOG_WARN, "launch.persist_answers_window",
                          "kernel=%s output=%s capacity=%u needs=%llu workers=%u batch=%u "
                          "unacked_limit=%u: answers stay exactly once across a kill, but the "
                          "workers may take only %u inputs ahead of the acks, fewer than a "
                          "batch each; capacity %llu lifts it",
                          d->name, rh_queue_name(q), c->capacity, (unsigned long long)need,
                          k->n_workers, d->batch, limit, limit, (unsigned long long)need);
        for (uint32_t i = 0; i < rt->n_kernels; i++) {
            const rh_kinst *o = &rt->kernels[i];
            if (o == k || !o->desc)
                continue;
            for (uint32_t op = 0; op < RH_MAX_PORTS; op++)
                if (o->out_q[op] == q) {
                    rh__log_event(rt->log, RH_LOG_WARN, "launch.persist_answers_window",
                                  "kernel=%s output=%s also_written_by=%s: the answers to its "
                                  "persist inputs redelivered after a kill are checked against "
                                  "the queue's last %u ids, which %s's messages share; a repeat "
                                  "may get through",
                                  d->name, rh_queue_name(q), o->decl->name,
                                  c->capacity < RH_RECENT_IDS_MAX ? c->capacity
                                                                  : RH_RECENT_IDS_MAX,
                                  o->decl->name);
                    op = RH_MAX_PORTS;
                }
        }
    }
}

int rh__kernel_build(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    const rh_kernel_desc *desc = k->desc;
    int inline_mode = d->bridge == RH_BRIDGE_INLINE && desc->process;
    char jpath[96];

    k->n_workers = d->workers;
    k->workers = k->exec->workers_alloc(k->n_workers); /* shared with a child process, ... */
    k->n_in_bridges = desc->n_inputs * (inline_mode ? k->n_workers : 1);
    k->in_bridges = calloc(k->n_in_bridges ? k->n_in_bridges : 1, sizeof *k->in_bridges);
    k->out_bridges = calloc(desc->n_outputs ? desc->n_outputs : 1, sizeof *k->out_bridges);
    if (!k->workers || !k->in_bridges || !k->out_bridges)
        return rh_error_set(err, RH_ENOMEM, "out of memory");

    for (uint32_t i = 0; i < k->n_workers; i++) {
        /* its rings from the memory its executor names (shared with a child process, ...) */
        int rc = rh__worker_init(&k->workers[i], k, i, k->exec->ring_mem, rh__kernel_ring_slots,
                                 err);
        if (rc)
            return rc;
    }

    /* input bridges */
    for (uint32_t p = 0; p < desc->n_inputs; p++) {
        rh_queue *q = k->in_q[p];
        const rh_queue_config *qc = rh_queue_config_of(q);
        uint32_t nb = inline_mode ? k->n_workers : 1;
        if (rh__dedup_init(&k->dedup[p], qc->dedup_window) != 0)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        int shared_window = nb > 1 && qc->dedup_window > 0;
        if (shared_window) {
            pthread_mutex_init(&k->dedup_lock[p], NULL);
            k->dedup_lock_init[p] = 1;
        }
        for (uint32_t j = 0; j < nb; j++) {
            rh_in_bridge *b = &k->in_bridges[p * nb + j];
            if (rh__in_bridge_init(b, k, p, inline_mode ? 1 : k->n_workers) != 0)
                return rh_error_set(err, RH_ENOMEM, "out of memory");
            b->burst = bridge_burst(d);
            b->ttl_ns = (uint64_t)qc->ttl_ms * RH_NS_PER_MS;
            /* Persist: acks free the cells.  Any other shared queue: acked
             * only marks what the kernel finished, so that the next start
             * can count what a SIGKILL lost in the host (queue_shm.c). */
            if (rh__queue_is_persist(q) || rh_queue_config_of(q)->shared) {
                if (!(b->acks = rh__acks_new(ack_slots(k, p, inline_mode))))
                    return rh_error_set(err, RH_ENOMEM, "out of memory");
                rh__queue_note_host_acks(q);
            }
            /* Only a persist input is held back behind its acks: its
             * answers' repeat check needs them within the output's window. */
            b->ack_limit = rh__queue_is_persist(q) ? rh__acks_limit(k) : 0;
            if (b->ack_limit && p == first_persist_input(k) && j == 0)
                warn_persist_window(rt, k, b->ack_limit);
            b->dedup = &k->dedup[p];
            b->dedup_lock = shared_window ? &k->dedup_lock[p] : NULL;
            for (uint32_t t = 0; t < b->n_targets; t++)
                b->targets[t] = k->workers[inline_mode ? j : t].in[p];
            if (inline_mode) {
                k->workers[j].inline_in[p] = b;
                /* the bridge runs in the kernel's thread: in place (engine/inplace.c;
                 * an executor that cannot is refused "inline" at planning) */
                rh__worker_set_inplace(&k->workers[j], (k->exec->caps & RH_EXEC_INPLACE) != 0);
            }
        }
    }
    for (uint32_t p = 0; p < desc->n_outputs; p++) {
        rh_out_bridge *b = &k->out_bridges[p];
        if (rh__out_bridge_init(b, k, p) != 0)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        b->burst = bridge_burst(d);
    }

    /* where the workers' steps run */
    int rc = k->exec->place(rt, k, err);
    if (rc)
        return rc;
    if (inline_mode)
        return 0;
    snprintf(jpath, sizeof jpath, "kernels[%u].pin.pump", k->index);
    int polled = (k->exec->caps & RH_EXEC_POLLED) != 0;
    rh_reactor *pin = NULL, *pout = NULL;
    if (desc->n_inputs &&
        !(pin = rh__exec_reactor_for(rt, d->pin_pump.text, jpath, "in", d->wait, err)))
        return err->code;
    if (desc->n_outputs &&
        !(pout = rh__exec_reactor_for(rt, d->pin_pump.text, jpath, "out", d->wait, err)))
        return err->code;
    for (uint32_t p = 0; p < k->n_in_bridges; p++) {
        rh_in_bridge *b = &k->in_bridges[p];
        rh_bell **bells = malloc((b->n_targets + 1) * sizeof *bells);
        char *what = malloc(96);
        if (!bells || !what)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        bells[0] = rh__queue_not_empty_bell(b->queue);
        for (uint32_t t = 0; t < b->n_targets; t++)
            bells[t + 1] = &b->targets[t]->not_full;
        snprintf(what, 96, "bridge %s -> %s.%s", rh_queue_name(b->queue), d->name,
                 desc->inputs[b->port].name);
        rh_task t = {rh__in_bridge_task, b, bells, b->n_targets + 1, what, polled};
        int rc = rh__reactor_add_task(pin, &t);
        free(bells);
        if (rc)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    for (uint32_t p = 0; p < desc->n_outputs; p++) {
        rh_out_bridge *b = &k->out_bridges[p];
        rh_bell **bells = malloc(b->n_sources * sizeof *bells);
        char *what = malloc(96);
        if (!bells || !what)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        for (uint32_t t = 0; t < b->n_sources; t++)
            bells[t] = &b->sources[t]->not_empty;
        snprintf(what, 96, "bridge %s.%s -> %s", d->name, desc->outputs[p].name,
                 rh_queue_name(b->queue));
        b->voids = polled; /* a device fills every input's position */
        rh_task t = {rh__out_bridge_task, b, bells, b->n_sources, what, polled};
        int rc = rh__reactor_add_task(pout, &t);
        free(bells);
        if (rc)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    return 0;
}

/* ------------------------------------------------------ plan only ---- */

/* A task of the plan: its name, no step. */
static int plan_task(rh_reactor *r, rh_error *err, const char *fmt, const char *a,
                     const char *b, const char *c)
{
    char what[160];
    snprintf(what, sizeof what, fmt, a, b, c);
    if (rh__reactor_plan_task(r, what) != 0)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    return 0;
}

int rh__kernel_plan(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    const rh_kernel_desc *desc = k->desc;
    int inline_mode = d->bridge == RH_BRIDGE_INLINE && desc->process;
    char jpath[96];
    int rc = k->exec->plan(rt, k, err); /* where the workers' steps run */
    if (rc)
        return rc;
    if (inline_mode)
        return 0;
    snprintf(jpath, sizeof jpath, "kernels[%u].pin.pump", k->index);
    rh_reactor *pin = NULL, *pout = NULL;
    if (desc->n_inputs &&
        !(pin = rh__exec_reactor_for(rt, d->pin_pump.text, jpath, "in", d->wait, err)))
        return err->code;
    if (desc->n_outputs &&
        !(pout = rh__exec_reactor_for(rt, d->pin_pump.text, jpath, "out", d->wait, err)))
        return err->code;
    for (uint32_t p = 0; p < desc->n_inputs; p++) {
        rc = plan_task(pin, err, "bridge %s -> %s.%s", rt->qplan[k->in_plan[p]].name, d->name,
                           desc->inputs[p].name);
        if (rc)
            return rc;
    }
    for (uint32_t p = 0; p < desc->n_outputs; p++) {
        rc = plan_task(pout, err, "bridge %s.%s -> %s", d->name, desc->outputs[p].name,
                           rt->qplan[k->out_plan[p]].name);
        if (rc)
            return rc;
    }
    return 0;
}
