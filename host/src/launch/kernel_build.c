/*
 * kernel_build.c — one kernel made real at launch: its workers with their
 * input and output rings, its input and output bridges, and the reactor
 * threads their steps run on.
 *
 * Threads follow cores, not kernels (the SPDK reactor model): every
 * placement naming the same cpuset shares one reactor, which runs each
 * worker's dispatch step and each bridge step placed there in turn.  An
 * unpinned thread (placement "none") is private; a run() kernel always owns
 * its thread.  Nothing here starts a thread: runtime.c does, once every
 * kernel is built.
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/log.h"
#include "base/placement.h"
#include "engine/acks.h"
#include "faults/faults.h"
#include "launch/launch.h"
#include "queue/queue_pvt.h"

/* -------------------------------------------------------- reactors ---- */

static int wait_rank(rh_wait_kind k)
{
    /* which wait wins when kernels sharing a thread ask for different ones:
     * the most responsive */
    switch (k) {
    case RH_WAIT_SPIN: return 3;
    case RH_WAIT_ADAPTIVE: return 2;
    case RH_WAIT_YIELD: return 1;
    default: return 0;
    }
}

static rh_reactor *new_reactor(rh_runtime *rt, const char *name, const char *key,
                               hwloc_bitmap_t set, rh_wait_kind wait)
{
    if (rh_grow(&rt->reactors, NULL, rt->n_reactors + 1, sizeof *rt->reactors))
        return NULL;
    rh_reactor *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rt = rt;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->cpuset = set;
    r->wait = wait;
    rh__bell_init(&r->bell, 0);
    rt->reactors[rt->n_reactors++] = r;
    return r;
}

/*
 * The reactor for a thread placed by pin spec `pin` (JSON path jpath).
 * Threads follow cores: every placement naming the same cpuset shares one
 * reactor.  An unpinned thread (with placement "none") is private.
 */
static rh_reactor *reactor_for(rh_runtime *rt, const char *pin, const char *jpath,
                               const char *role, rh_wait_kind wait, rh_error *err)
{
    hwloc_bitmap_t set = NULL;
    if (rh__pin_resolve(pin, &set, err) != 0) {
        if (rt->m->strict) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            rh_error_set(err, RH_EPLACE, "%s: %s: %s (set \"strict\": false to run unpinned)",
                         rt->m->path, jpath, why);
            return NULL;
        }
        rh__log_event(rt->log, RH_LOG_WARN, "placement.unpinned",
                      "manifest=%s at=%s reason=%s running=unpinned", rt->m->path, jpath,
                      err->msg);
        set = hwloc_bitmap_alloc();
    }
    if (hwloc_bitmap_iszero(set) && strcmp(rt->m->placement, "none") != 0) {
        hwloc_bitmap_free(set);
        if (rh__policy_cpuset(rt->m->placement, rt->policy_next++, &set, err) != 0)
            return NULL;
    }
    char key[64] = "";
    if (!hwloc_bitmap_iszero(set))
        rh__binding_string(set, key, sizeof key);
    for (uint32_t i = 0; key[0] && i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        if (strcmp(r->key, key) == 0 && !r->run_kernel) {
            hwloc_bitmap_free(set);
            if (wait_rank(wait) > wait_rank(r->wait))
                r->wait = wait;
            return r;
        }
    }
    char name[64];
    if (key[0])
        snprintf(name, sizeof name, "rh-cpu%s", key);
    else
        snprintf(name, sizeof name, "rh-%s%u", role, rt->n_reactors);
    rh_reactor *r = new_reactor(rt, name, key, set, wait);
    if (!r) {
        hwloc_bitmap_free(set);
        rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    return r;
}

static int add_worker_to(rh_reactor *r, rh_worker *w)
{
    if (rh_grow(&r->workers, &r->cap_workers, r->n_workers + 1, sizeof *r->workers))
        return RH_ENOMEM;
    r->workers[r->n_workers++] = w;
    w->reactor = r;
    return 0;
}

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

/* A kernel ring: in shared memory when its kernel runs in a child process. */
static rh_ring *ring_create(const rh_kernel_decl *d, uint32_t capacity, uint32_t payload_size)
{
    return rh__ring_create(d->isolate_process ? &rh__ring_mem_shared : &rh__ring_mem_heap,
                           capacity, payload_size);
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
    k->workers = rh__workers_alloc(d, k->n_workers); /* shared when isolated (isolation.c) */
    k->n_in_bridges = desc->n_inputs * (inline_mode ? k->n_workers : 1);
    k->in_bridges = calloc(k->n_in_bridges ? k->n_in_bridges : 1, sizeof *k->in_bridges);
    k->out_bridges = calloc(desc->n_outputs ? desc->n_outputs : 1, sizeof *k->out_bridges);
    if (!k->workers || !k->in_bridges || !k->out_bridges)
        return rh_error_set(err, RH_ENOMEM, "out of memory");

    for (uint32_t i = 0; i < k->n_workers; i++) {
        rh_worker *w = &k->workers[i];
        w->kernel = k;
        w->index = i;
        w->ctx.api = &rh__host_api_v1;
        w->ctx.kernel_name = d->name;
        w->ctx.worker = i;
        w->ctx.workers = k->n_workers;
        w->ctx.host = w;
        w->msgs = calloc(d->batch, sizeof *w->msgs);
        w->failed_mark = calloc(d->batch, 1); /* rh_fail's marks (dispatch.c) */
        /* answer counts per message and output port (dispatch.c fill_env) */
        w->emit_counts = calloc((size_t)d->batch * (desc->n_outputs ? desc->n_outputs : 1),
                                sizeof *w->emit_counts);
        if (!w->msgs || !w->failed_mark || !w->emit_counts)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        for (uint32_t p = 0; p < desc->n_inputs; p++)
            if (!(w->in[p] = ring_create(d, rh__kernel_ring_slots(d->ring_capacity,
                                                        desc->inputs[p].type->size),
                                             desc->inputs[p].type->size)))
                return rh_error_set(err, RH_ENOMEM, "kernel %s: cannot allocate its input ring",
                                    d->name);
        for (uint32_t p = 0; p < desc->n_outputs; p++)
            if (!(w->out[p] = ring_create(d, rh__kernel_ring_slots(d->ring_capacity,
                                                         desc->outputs[p].type->size),
                                              desc->outputs[p].type->size)))
                return rh_error_set(err, RH_ENOMEM, "kernel %s: cannot allocate its output ring",
                                    d->name);
        if (d->isolate_process)
            continue; /* its step runs in its own process (isolation.c), on no reactor */
        /* dispatch placement: a run() kernel always owns its thread */
        snprintf(jpath, sizeof jpath, "kernels[%u].pin.dispatch", k->index);
        rh_reactor *r;
        if (desc->run) {
            hwloc_bitmap_t set = NULL;
            r = reactor_for(rt, d->pin_dispatch.text, jpath, "run", d->wait, err);
            if (!r)
                return err->code;
            if (r->n_tasks || r->n_workers) { /* shared: give the kernel its own */
                set = hwloc_bitmap_dup(r->cpuset);
                r = new_reactor(rt, "rh-run", "", set, d->wait);
                if (!r)
                    return rh_error_set(err, RH_ENOMEM, "out of memory");
            }
            r->run_kernel = 1;
        } else {
            r = reactor_for(rt, d->pin_dispatch.text, jpath, "d", d->wait, err);
            if (!r)
                return err->code;
        }
        if (add_worker_to(r, w) != 0)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
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
            b->kernel = k;
            b->port = p;
            b->queue = q;
            b->type = desc->inputs[p].type;
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
            b->n_targets = inline_mode ? 1 : k->n_workers;
            b->targets = calloc(b->n_targets, sizeof *b->targets);
            if (!b->targets)
                return rh_error_set(err, RH_ENOMEM, "out of memory");
            for (uint32_t t = 0; t < b->n_targets; t++)
                b->targets[t] = k->workers[inline_mode ? j : t].in[p];
            if (inline_mode) {
                k->workers[j].inline_in[p] = b;
                /* the bridge runs in the kernel's thread: in place (engine/inplace.c;
                 * the manifest refuses "inline" to a process-isolated kernel) */
                k->workers[j].inplace = !d->isolate_process;
            }
        }
    }
    for (uint32_t p = 0; p < desc->n_outputs; p++) {
        rh_out_bridge *b = &k->out_bridges[p];
        b->kernel = k;
        b->port = p;
        b->queue = k->out_q[p];
        b->burst = bridge_burst(d);
        b->n_sources = k->n_workers;
        b->sources = calloc(b->n_sources, sizeof *b->sources);
        if (!b->sources)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        for (uint32_t t = 0; t < b->n_sources; t++)
            b->sources[t] = k->workers[t].out[p];
    }

    /* tasks */
    for (uint32_t i = 0; i < k->n_workers && !d->isolate_process; i++) {
        rh_worker *w = &k->workers[i];
        rh_bell *bells[2 * RH_MAX_PORTS];
        uint32_t n = 0;
        for (uint32_t p = 0; p < desc->n_inputs; p++) {
            bells[n++] = &w->in[p]->not_empty;
            if (inline_mode)
                bells[n++] = rh__queue_not_empty_bell(k->in_q[p]);
        }
        char *what = malloc(96);
        if (!what)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        snprintf(what, 96, "dispatch %s#%u", d->name, i);
        rh_task t = {rh__worker_step, w, bells, n, what};
        if (!desc->run && rh__reactor_add_task(w->reactor, &t) != 0)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        if (desc->run)
            free(what);
    }
    if (inline_mode)
        return 0;
    snprintf(jpath, sizeof jpath, "kernels[%u].pin.pump", k->index);
    rh_reactor *pin = NULL, *pout = NULL;
    if (desc->n_inputs && !(pin = reactor_for(rt, d->pin_pump.text, jpath, "in", d->wait, err)))
        return err->code;
    if (desc->n_outputs &&
        !(pout = reactor_for(rt, d->pin_pump.text, jpath, "out", d->wait, err)))
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
        rh_task t = {rh__in_bridge_task, b, bells, b->n_targets + 1, what};
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
        rh_task t = {rh__out_bridge_task, b, bells, b->n_sources, what};
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
    char *what = malloc(160);
    if (!what)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    snprintf(what, 160, fmt, a, b, c);
    rh_task t = {NULL, NULL, NULL, 0, what};
    if (rh__reactor_add_task(r, &t) != 0) {
        free(what);
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    return 0;
}

int rh__kernel_plan(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    const rh_kernel_desc *desc = k->desc;
    int inline_mode = d->bridge == RH_BRIDGE_INLINE && desc->process;
    char jpath[96], idx[16];
    if (d->isolate_process)
        return 0; /* its steps run in its own process (isolation.c), on no reactor */
    snprintf(jpath, sizeof jpath, "kernels[%u].pin.dispatch", k->index);
    for (uint32_t i = 0; i < d->workers; i++) {
        snprintf(idx, sizeof idx, "%u", i);
        rh_reactor *r = reactor_for(rt, d->pin_dispatch.text, jpath, desc->run ? "run" : "d",
                                    d->wait, err);
        if (!r)
            return err->code;
        if (desc->run) { /* a run() kernel always owns its thread (as above) */
            if (r->n_tasks || r->n_workers) {
                r = new_reactor(rt, "rh-run", "", hwloc_bitmap_dup(r->cpuset), d->wait);
                if (!r)
                    return rh_error_set(err, RH_ENOMEM, "out of memory");
            }
            r->run_kernel = 1;
        }
        int rc = plan_task(r, err, "%s %s#%s", desc->run ? "run" : "dispatch", d->name, idx);
        if (rc)
            return rc;
    }
    if (inline_mode) {
        return 0;
    }
    snprintf(jpath, sizeof jpath, "kernels[%u].pin.pump", k->index);
    rh_reactor *pin = NULL, *pout = NULL;
    if (desc->n_inputs && !(pin = reactor_for(rt, d->pin_pump.text, jpath, "in", d->wait, err)))
        return err->code;
    if (desc->n_outputs &&
        !(pout = reactor_for(rt, d->pin_pump.text, jpath, "out", d->wait, err)))
        return err->code;
    for (uint32_t p = 0; p < desc->n_inputs; p++) {
        int rc = plan_task(pin, err, "bridge %s -> %s.%s", rt->qplan[k->in_plan[p]].name, d->name,
                           desc->inputs[p].name);
        if (rc)
            return rc;
    }
    for (uint32_t p = 0; p < desc->n_outputs; p++) {
        int rc = plan_task(pout, err, "bridge %s.%s -> %s", d->name, desc->outputs[p].name,
                           rt->qplan[k->out_plan[p]].name);
        if (rc)
            return rc;
    }
    return 0;
}
