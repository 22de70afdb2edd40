/*
 * runtime.c — from a manifest to running threads, and the lifecycle.
 *
 * launch:  manifest -> plugins -> wiring (ports to queues, types checked by
 *          fingerprint) -> queues -> workers and rings -> bridges -> reactors
 *          (threads started, kernels inactive, init() run on their thread).
 * activate / deactivate: flip the flow flag every step reads, then wait one
 *          full loop of every reactor so the change has taken effect at a
 *          batch boundary before we return.
 * terminate: stop intake, let the kernels empty their input rings and the
 *          output bridges empty the output rings (bounded by a timeout),
 *          stop and join the threads, report: the summary, then one
 *          accounting line per queue (metrics.c) that must balance.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlq.h"
#include "log.h"
#include "placement.h"
#include "queue_pvt.h"
#include "runtime_pvt.h"
#include "wiring.h"

const char *rh_state_name(rh_state s)
{
    static const char *names[] = {"launched", "active", "inactive", "terminated"};
    return (unsigned)s < 4 ? names[s] : "?";
}

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
    rh_reactor **nr = realloc(rt->reactors, (rt->n_reactors + 1) * sizeof *nr);
    if (!nr)
        return NULL;
    rt->reactors = nr;
    rh_reactor *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rt = rt;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->cpuset = set;
    r->wait = wait;
    rh_bell_init(&r->bell, 0);
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
    if (rh_pin_resolve(pin, &set, err) != 0) {
        if (rt->m->strict) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            rh_error_set(err, RH_EPLACE, "%s: %s: %s (set \"strict\": false to run unpinned)",
                         rt->m->path, jpath, why);
            return NULL;
        }
        rh_log_event(rt->log, RH_LOG_WARN, "placement.unpinned",
                     "manifest=%s at=%s reason=%s running=unpinned", rt->m->path, jpath,
                     err->msg);
        set = hwloc_bitmap_alloc();
    }
    if (hwloc_bitmap_iszero(set) && strcmp(rt->m->placement, "none") != 0) {
        hwloc_bitmap_free(set);
        if (rh_policy_cpuset(rt->m->placement, rt->policy_next++, &set, err) != 0)
            return NULL;
    }
    char key[64] = "";
    if (!hwloc_bitmap_iszero(set))
        rh_binding_string(set, key, sizeof key);
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
    if (r->n_workers == r->cap_workers) {
        uint32_t cap = r->cap_workers ? r->cap_workers * 2 : 4;
        rh_worker **nw = realloc(r->workers, cap * sizeof *nw);
        if (!nw)
            return RH_ENOMEM;
        r->workers = nw;
        r->cap_workers = cap;
    }
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

uint32_t rh_kernel_ring_slots(uint32_t configured, uint32_t type_size)
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
    return d->isolate_process ? rh_ring_create_shared(capacity, payload_size)
                              : rh_ring_create(capacity, payload_size);
}

static int build_kernel(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    const rh_kernel_desc *desc = k->desc;
    int inline_mode = d->bridge == RH_BRIDGE_INLINE && desc->process;
    char jpath[96];

    k->n_workers = d->workers;
    k->workers = rh_workers_alloc(d, k->n_workers); /* shared when isolated (isolation.c) */
    k->n_in_bridges = desc->n_inputs * (inline_mode ? k->n_workers : 1);
    k->in_bridges = calloc(k->n_in_bridges ? k->n_in_bridges : 1, sizeof *k->in_bridges);
    k->out_bridges = calloc(desc->n_outputs ? desc->n_outputs : 1, sizeof *k->out_bridges);
    if (!k->workers || !k->in_bridges || !k->out_bridges)
        return rh_error_set(err, RH_ENOMEM, "out of memory");

    for (uint32_t i = 0; i < k->n_workers; i++) {
        rh_worker *w = &k->workers[i];
        w->kernel = k;
        w->index = i;
        w->ctx.api = &rh_host_api_v1;
        w->ctx.kernel_name = d->name;
        w->ctx.worker = i;
        w->ctx.workers = k->n_workers;
        w->ctx.host = w;
        w->msgs = calloc(d->batch, sizeof *w->msgs);
        w->failed_mark = calloc(d->batch, 1); /* rh_fail's marks (dispatch.c) */
        if (!w->msgs || !w->failed_mark)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        for (uint32_t p = 0; p < desc->n_inputs; p++)
            if (!(w->in[p] = ring_create(d, rh_kernel_ring_slots(d->ring_capacity,
                                                        desc->inputs[p].type->size),
                                             desc->inputs[p].type->size)))
                return rh_error_set(err, RH_ENOMEM, "kernel %s: cannot allocate its input ring",
                                    d->name);
        for (uint32_t p = 0; p < desc->n_outputs; p++)
            if (!(w->out[p] = ring_create(d, rh_kernel_ring_slots(d->ring_capacity,
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
        if (rh_dedup_init(&k->dedup[p], qc->dedup_window) != 0)
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
            b->ttl_ns = (uint64_t)qc->ttl_ms * 1000000ull;
            b->ack = rh_queue_is_persist(q);
            b->dedup = &k->dedup[p];
            b->dedup_lock = shared_window ? &k->dedup_lock[p] : NULL;
            b->n_targets = inline_mode ? 1 : k->n_workers;
            b->targets = calloc(b->n_targets, sizeof *b->targets);
            if (!b->targets)
                return rh_error_set(err, RH_ENOMEM, "out of memory");
            for (uint32_t t = 0; t < b->n_targets; t++)
                b->targets[t] = k->workers[inline_mode ? j : t].in[p];
            if (inline_mode)
                k->workers[j].inline_in[p] = b;
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
                bells[n++] = rh_queue_not_empty_bell(k->in_q[p]);
        }
        char *what = malloc(96);
        if (!what)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        snprintf(what, 96, "dispatch %s#%u", d->name, i);
        rh_task t = {rh_worker_step, w, bells, n, what};
        if (!desc->run && rh_reactor_add_task(w->reactor, &t) != 0)
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
        bells[0] = rh_queue_not_empty_bell(b->queue);
        for (uint32_t t = 0; t < b->n_targets; t++)
            bells[t + 1] = &b->targets[t]->not_full;
        snprintf(what, 96, "bridge %s -> %s.%s", rh_queue_name(b->queue), d->name,
                 desc->inputs[b->port].name);
        rh_task t = {rh_in_bridge_task, b, bells, b->n_targets + 1, what};
        int rc = rh_reactor_add_task(pin, &t);
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
        rh_task t = {rh_out_bridge_task, b, bells, b->n_sources, what};
        int rc = rh_reactor_add_task(pout, &t);
        free(bells);
        if (rc)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    return 0;
}

/* ----------------------------------------------------------- launch ---- */

/* Each kernel's dead-letter queue (planned by the wiring, created with the
 * others), and its input types made known to the dead-letter codec so a
 * dead letter shows its payload as JSON (dlq.h). */
static void attach_dead_letter_queues(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        k->dlq = rt->qplan[k->dlq_plan].queue;
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            rh_dlq_known_type_add(k->desc->inputs[p].type);
    }
    rt->dlq_types_known = 1;
}

static void forget_dead_letter_types(rh_runtime *rt)
{
    for (uint32_t i = 0; rt->dlq_types_known && i < rt->n_kernels; i++)
        for (uint32_t p = 0; p < rt->kernels[i].desc->n_inputs; p++)
            rh_dlq_known_type_remove(rt->kernels[i].desc->inputs[p].type);
    rt->dlq_types_known = 0;
}

static int start_reactors(rh_runtime *rt, rh_error *err)
{
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rh_reactor_start(rt->reactors[i]) != 0)
            return rh_error_set(err, RH_ESYS, "cannot start thread %s", rt->reactors[i]->name);
    for (uint32_t i = 0; i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        while (atomic_load(&r->ready) == 0) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        if (r->bind_error[0]) {
            if (rt->m->strict)
                return rh_error_set(err, RH_EPLACE, "thread %s: %s", r->name, r->bind_error);
            rh_log_event(rt->log, RH_LOG_WARN, "reactor.bind_failed",
                         "thread=%s cpus=%s error=%s running=unpinned", r->name, r->key,
                         r->bind_error);
        }
        for (uint32_t j = 0; j < r->n_workers; j++) {
            rh_worker *w = r->workers[j];
            if (w->init_rc != 0)
                return rh_error_set(err, RH_EPLUGIN,
                                    "%s: kernels[%u]: init() of plugin \"%s\" (worker %u) "
                                    "returned %d with config %s",
                                    rt->m->path, w->kernel->index, w->kernel->desc->name,
                                    w->index, w->init_rc, w->kernel->decl->config_json);
        }
    }
    return 0;
}

int rh_runtime_launch(const char *manifest_path, const rh_launch_opts *opts, rh_runtime **out,
                      rh_error *err)
{
    rh_error local;
    if (!err)
        err = &local;
    *out = NULL;
    rh_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    rt->log = opts && opts->log ? opts->log : stderr;
    pthread_mutex_init(&rt->life_lock, NULL);
    rt->launch_ns = rh_now_ns();
    rt->state = RH_STATE_LAUNCHED;
    atomic_store(&rt->flow, RH_FLOW_PAUSED);
    int rc = rh_wiring_plan(rt, manifest_path, opts, err);
    if (rc == 0)
        rc = rh_wiring_create_queues(rt, err);
    if (rc == 0)
        attach_dead_letter_queues(rt);
    for (uint32_t i = 0; rc == 0 && i < rt->n_kernels; i++)
        rc = build_kernel(rt, &rt->kernels[i], err);
    if (rc == 0)
        rc = start_reactors(rt, err);
    if (rc == 0)
        rc = rh_isolation_start(rt, err);
    if (rc == 0 && rh_watchdog_start(rt) != 0)
        rc = rh_error_set(err, RH_ESYS, "cannot start the watchdog thread: out of memory "
                                        "or threads (see ulimit -u)");
    if (rc != 0) {
        rh_log_event(rt->log, RH_LOG_ERROR, "runtime.launch_failed",
                     "manifest=%s ms=%.3f error=%s", manifest_path,
                     (double)(rh_now_ns() - rt->launch_ns) / 1e6, err->msg);
        rt->state = RH_STATE_LAUNCHED;
        rh_runtime_destroy(rt);
        return rc;
    }
    rh_log_event(rt->log, RH_LOG_INFO, "runtime.launch",
                 "instance=%s manifest=%s kernels=%u queues=%u threads=%u ms=%.3f",
                 rt->instance, manifest_path, rt->n_kernels, rt->n_queues, rt->n_reactors,
                 (double)(rh_now_ns() - rt->launch_ns) / 1e6);
    if (opts && opts->watch_plugins && rh_plugin_watch_start(rt, opts, err) != 0)
        rh_log_event(rt->log, RH_LOG_WARN, "plugin.watch_failed", "error=%s running=unwatched",
                     err->msg);
    if (opts && opts->report_bindings) {
        struct timespec ts = {0, 2000000}; /* let each thread settle on its cpu */
        nanosleep(&ts, NULL);
        rh_runtime_report_bindings(rt, rt->log);
    }
    *out = rt;
    return 0;
}

/* -------------------------------------------------------- lifecycle ---- */

/* How long activate/deactivate wait for every reactor to pass a batch
 * boundary before saying which one did not. */
#define RH_SYNC_TIMEOUT_NS (5ull * 1000000000ull)

static int set_flow(rh_runtime *rt, int flow, uint64_t deadline_ns, rh_error *err)
{
    atomic_store_explicit(&rt->flow, flow, memory_order_release);
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        rh_bell_wake_all(&rt->reactors[i]->bell);
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rh_reactor_sync(rt->reactors[i], deadline_ns) != 0)
            return rh_error_set(err, RH_ETIMEDOUT,
                                "thread %s did not reach a batch boundary in time (a kernel is "
                                "still inside process()); the change applies when it returns",
                                rt->reactors[i]->name);
    return 0;
}

static int activate_locked(rh_runtime *rt, rh_error *err)
{
    if (rt->state != RH_STATE_LAUNCHED && rt->state != RH_STATE_INACTIVE)
        return rh_error_set(err, RH_ESTATE, "cannot activate: the host is %s",
                            rh_state_name(rt->state));
    uint64_t t0 = rh_now_ns();
    if (rt->state == RH_STATE_LAUNCHED)
        rt->activate_ns = t0;
    rt->state = RH_STATE_ACTIVE;
    /* every kernel not terminated alone runs with the host */
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        if (k->state == RH_STATE_TERMINATED)
            continue;
        if (!k->activate_ns)
            k->activate_ns = t0;
        k->state = RH_STATE_ACTIVE;
        atomic_store_explicit(&k->kflow, RH_KFLOW_RUN, memory_order_release);
    }
    int rc = set_flow(rt, RH_FLOW_RUNNING, t0 + RH_SYNC_TIMEOUT_NS, err);
    rh_log_event(rt->log, rc ? RH_LOG_WARN : RH_LOG_INFO, "runtime.activate",
                 "instance=%s ms=%.3f synced=%s", rt->instance,
                 (double)(rh_now_ns() - t0) / 1e6, rc ? "no" : "yes");
    return rc;
}

int rh_runtime_activate(rh_runtime *rt, rh_error *err)
{
    pthread_mutex_lock(&rt->life_lock);
    int rc = activate_locked(rt, err);
    pthread_mutex_unlock(&rt->life_lock);
    return rc;
}

static int deactivate_locked(rh_runtime *rt, rh_error *err)
{
    if (rt->state != RH_STATE_ACTIVE)
        return rh_error_set(err, RH_ESTATE, "cannot deactivate: the host is %s",
                            rh_state_name(rt->state));
    uint64_t t0 = rh_now_ns();
    rt->state = RH_STATE_INACTIVE;
    int rc = set_flow(rt, RH_FLOW_PAUSED, t0 + RH_SYNC_TIMEOUT_NS, err);
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        if (k->state == RH_STATE_TERMINATED)
            continue;
        k->state = RH_STATE_INACTIVE;
        atomic_store_explicit(&k->kflow, RH_KFLOW_PAUSED, memory_order_release);
    }
    rh_log_event(rt->log, rc ? RH_LOG_WARN : RH_LOG_INFO, "runtime.deactivate",
                 "instance=%s ms=%.3f synced=%s", rt->instance,
                 (double)(rh_now_ns() - t0) / 1e6, rc ? "no" : "yes");
    return rc;
}

int rh_runtime_deactivate(rh_runtime *rt, rh_error *err)
{
    pthread_mutex_lock(&rt->life_lock);
    int rc = deactivate_locked(rt, err);
    pthread_mutex_unlock(&rt->life_lock);
    return rc;
}

static int terminate_locked(rh_runtime *rt, int timeout_ms, rh_error *err)
{
    if (rt->state == RH_STATE_TERMINATED)
        return rh_error_set(err, RH_ESTATE, "cannot terminate: the host is already terminated");
    /* Intake stops; kernels finish what reached their rings; outputs flow.
     * Everything below, joins included, shares one deadline. */
    uint64_t t0 = rh_now_ns();
    uint64_t deadline = t0 + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ull;
    set_flow(rt, RH_FLOW_DRAINING, deadline, NULL);
    int drained = 0;
    while (!(drained = rh_runtime_is_quiet(rt, 0)) && rh_now_ns() < deadline) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&rt->flow, RH_FLOW_STOPPED);
    rh_watchdog_stop(rt);
    /* a thread that must still leave process() gets a short grace */
    uint64_t join_by = (rh_now_ns() > deadline ? rh_now_ns() : deadline) + 100000000ull;
    const char *stuck = NULL;
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rh_reactor_stop_join(rt->reactors[i], join_by) != 0 && !stuck)
            stuck = rt->reactors[i]->name;
    if (!stuck)
        rh_in_bridges_ack_finished(rt); /* persist queues: what the drain finished */
    rt->state = RH_STATE_TERMINATED;
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        rt->kernels[i].state = RH_STATE_TERMINATED;
    rh_log_event(rt->log, stuck || !drained ? RH_LOG_WARN : RH_LOG_INFO, "runtime.terminate",
                 "instance=%s ms=%.3f drained=%s stuck=%s uptime_ms=%.3f", rt->instance,
                 (double)(rh_now_ns() - t0) / 1e6, drained ? "yes" : "no", stuck ? stuck : "-",
                 (double)(rh_now_ns() - rt->launch_ns) / 1e6);
    rh_runtime_report_summary(rt, rt->log);
    rt->unbalanced = rh_runtime_report_accounting(rt, rt->log);
    if (stuck)
        return rh_error_set(err, RH_ETIMEDOUT,
                            "terminate: thread %s did not stop within %d ms (a kernel is stuck "
                            "in process()); it was left running and its memory is kept",
                            stuck, timeout_ms);
    if (!drained)
        return rh_error_set(err, RH_ETIMEDOUT,
                            "terminate: kernel rings not drained within %d ms; see the counts "
                            "above",
                            timeout_ms);
    return 0;
}

int rh_runtime_terminate(rh_runtime *rt, int timeout_ms, rh_error *err)
{
    rh_plugin_watch_stop(rt); /* no swap starts once terminating (it takes the lock) */
    pthread_mutex_lock(&rt->life_lock);
    int rc = terminate_locked(rt, timeout_ms, err);
    pthread_mutex_unlock(&rt->life_lock);
    return rc;
}

rh_state rh_runtime_state(const rh_runtime *rt)
{
    return rt->state;
}

const char *rh_runtime_instance(const rh_runtime *rt)
{
    return rt->instance;
}

void rh_runtime_destroy(rh_runtime *rt)
{
    if (!rt)
        return;
    rh_plugin_watch_stop(rt); /* no swap may start while we take it down */
    rh_watchdog_stop(rt);
    if (rt->state != RH_STATE_TERMINATED && rt->n_reactors) {
        atomic_store(&rt->flow, RH_FLOW_STOPPED);
        for (uint32_t i = 0; i < rt->n_reactors; i++)
            rh_reactor_stop_join(rt->reactors[i], rh_now_ns() + 1000000000ull);
    }
    /* A stuck thread still runs kernel code over our rings, queues and the
     * plugin's text: freeing any of it would turn a hung kernel into a crash.
     * Keep it all (a deliberate leak, once, at shutdown). */
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rt->reactors[i]->stuck) {
            rh_log_event(rt->log, RH_LOG_ERROR, "reactor.stuck",
                         "thread=%s memory=kept", rt->reactors[i]->name);
            for (uint32_t q = 0; q < rt->n_queues; q++)
                if (!rh_runtime_queue_borrowed(rt, q))
                    rh_queue_unlink(rt->queues[q]); /* the names go, the mappings stay */
            return;
        }
    for (uint32_t i = 0; i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        for (uint32_t t = 0; t < r->n_tasks; t++) {
            free(r->tasks[t].bells);
            free((char *)r->tasks[t].what);
        }
        free(r->tasks);
        free(r->workers);
        if (r->cpuset)
            hwloc_bitmap_free(r->cpuset);
        free(r);
    }
    free(rt->reactors);
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        for (uint32_t w = 0; k->workers && w < k->n_workers; w++) {
            for (uint32_t p = 0; p < RH_MAX_PORTS; p++) {
                rh_ring_destroy(k->workers[w].in[p]);
                rh_ring_destroy(k->workers[w].out[p]);
            }
            free(k->workers[w].msgs);
            free(k->workers[w].failed_mark);
        }
        for (uint32_t b = 0; k->in_bridges && b < k->n_in_bridges; b++)
            free(k->in_bridges[b].targets);
        for (uint32_t p = 0; p < RH_MAX_PORTS; p++) {
            rh_dedup_free(&k->dedup[p]);
            if (k->dedup_lock_init[p])
                pthread_mutex_destroy(&k->dedup_lock[p]);
        }
        for (uint32_t b = 0; k->out_bridges && k->desc && b < k->desc->n_outputs; b++)
            free(k->out_bridges[b].sources);
        rh_workers_free(k);
        free(k->in_bridges);
        free(k->out_bridges);
    }
    forget_dead_letter_types(rt); /* before their plugins are unloaded below */
    free(rt->kernels);
    for (uint32_t i = 0; i < rt->n_queues; i++)
        if (!rh_runtime_queue_borrowed(rt, i)) /* another runtime's: it closes it */
            rh_queue_close(rt->queues[i]);
    free(rt->queues);
    free(rt->qplan);
    rh_plugin_set_free(&rt->plugins);
    rh_hotswap_free(rt);
    rh_manifest_free(rt->m);
    free(rt);
}

rh_queue *rh_runtime_queue(rh_runtime *rt, const char *name)
{
    for (uint32_t i = 0; i < rt->n_queues; i++)
        if (strcmp(rh_queue_name(rt->queues[i]), name) == 0)
            return rt->queues[i];
    return NULL;
}

const char *rh_runtime_queue_name(const rh_runtime *rt, uint32_t index)
{
    return index < rt->n_queues ? rh_queue_name(rt->queues[index]) : NULL;
}

int64_t rh_runtime_kernel_processed(rh_runtime *rt, const char *name)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        if (strcmp(k->decl->name, name) != 0)
            continue;
        int64_t sum = 0;
        for (uint32_t w = 0; w < k->n_workers; w++)
            sum += (int64_t)atomic_load(&k->workers[w].processed);
        return sum;
    }
    return -1;
}

int rh_runtime_queue_consumed(const rh_runtime *rt, uint32_t index)
{
    if (index >= rt->n_queues)
        return 0;
    /* in_q, set at launch, and not desc, which a swap replaces on the
     * plugin watcher's thread: unused ports' entries are NULL. */
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        for (uint32_t p = 0; p < RH_MAX_PORTS; p++)
            if (rt->kernels[i].in_q[p] == rt->queues[index])
                return 1;
    return 0;
}
