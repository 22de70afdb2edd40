/*
 * kernel_life.c — one kernel's lifecycle inside a live host, and what
 * `ringhost ps` reads of it.
 *
 * A kernel has its own flow (rh_kinst.kflow) on top of the runtime's: every
 * step of the kernel reads the stricter of the two (rh_kernel_flow), so
 * pausing one kernel is one store plus a wait until every reactor has run
 * one full loop past it — the same batch-boundary guarantee the host-wide
 * activate/deactivate give.  Work that must run on the kernel's own thread
 * (fini, init again after a fault or a swap) is handed to it as an
 * rh_worker_op, which the worker's step runs at its next batch boundary even
 * while paused: a kernel only ever sees one thread.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/struct_size.h"
#include "engine/acks.h"
#include "exec/exec.h"
#include "live/live.h"

/* How long activate/deactivate wait for a batch boundary (as the host's). */
#define KERNEL_SYNC_NS (5 * RH_NS_PER_S)

static void nap_us(long us)
{
    struct timespec ts = rh_timespec_of_ns((uint64_t)us * RH_NS_PER_US);
    nanosleep(&ts, NULL);
}

rh_kinst *rh__runtime_kernel_find(rh_runtime *rt, const char *name)
{
    for (uint32_t i = 0; name && i < rt->n_kernels; i++)
        if (strcmp(rt->kernels[i].decl->name, name) == 0)
            return &rt->kernels[i];
    return NULL;
}

/* The kernel called name, or RH_ENOENT naming the ones there are. */
static int find_or_fail(rh_runtime *rt, const char *name, rh_kinst **out, rh_error *err)
{
    if ((*out = rh__runtime_kernel_find(rt, name)))
        return 0;
    char known[512] = "";
    size_t at = 0;
    for (uint32_t i = 0; i < rt->n_kernels && at < sizeof known; i++)
        at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "",
                               rt->kernels[i].decl->name);
    return rh_error_set(err, RH_ENOENT, "no kernel \"%s\" in instance %s (kernels: %s)",
                        name ? name : "", rt->instance, rt->n_kernels ? known : "none");
}

/* Is task argument a (a worker or a bridge) one of kernel k's? */
static int task_of(const void *arg, const rh_kinst *k)
{
    const char *a = arg;
    const char *w0 = (const char *)k->workers, *w1 = (const char *)(k->workers + k->n_workers);
    const char *i0 = (const char *)k->in_bridges,
               *i1 = (const char *)(k->in_bridges + k->n_in_bridges);
    const char *o0 = (const char *)k->out_bridges,
               *o1 = (const char *)(k->out_bridges + k->desc->n_outputs);
    return (a >= w0 && a < w1) || (a >= i0 && a < i1) || (a >= o0 && a < o1);
}

/* Does reactor r run any task of kernel k? */
static int reactor_serves(const rh_reactor *r, const rh_kinst *k)
{
    if (r->run_kernel && r->n_workers && r->workers[0]->kernel == k)
        return 1;
    for (uint32_t t = 0; t < r->n_tasks; t++)
        if (task_of(r->tasks[t].arg, k))
            return 1;
    return 0;
}

/* Does reactor r run kernel k's tasks and nobody else's? */
static int reactor_serves_only(const rh_reactor *r, const rh_kinst *k)
{
    if (!r->n_tasks && !r->n_workers)
        return 0;
    for (uint32_t j = 0; j < r->n_workers; j++)
        if (r->workers[j]->kernel != k)
            return 0;
    for (uint32_t t = 0; t < r->n_tasks; t++)
        if (!task_of(r->tasks[t].arg, k))
            return 0;
    return 1;
}

/*
 * After k was terminated alone and finished (fini() ran on every worker,
 * its rings are empty): the threads that ran only k's steps have nothing
 * left to do, so they are stopped and joined now rather than at the host's
 * end.  A thread shared with another kernel stays.  What they used (rings,
 * task lists) stays allocated until the runtime is destroyed (a launched
 * manifest whose kernels are all terminated is destroyed then:
 * control/runtimes.c).  Returns how many threads were joined.
 */
static unsigned join_private_threads(rh_runtime *rt, rh_kinst *k)
{
    unsigned n = 0;
    int all = 1; /* every thread that ran a step of k is joined */
    for (uint32_t i = 0; i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        if (r->started && reactor_serves_only(r, k) &&
            rh__reactor_stop_join(r, rh_now_ns() + RH_STOP_GRACE_NS) == 0)
            n++;
        all &= !(r->started || r->stuck) || !reactor_serves(r, k);
    }
    /* Persist input queues: the pumps that acked what the kernel finished
     * are gone, so ack it here, as terminate does once its threads are
     * joined (acks.c), rather than at the host's end. */
    for (uint32_t b = 0; all && b < k->n_in_bridges; b++)
        if (k->in_bridges[b].acks)
            rh__acks_settle(&k->in_bridges[b]);
    return n;
}

int rh__kernel_set_flow(rh_kinst *k, int kflow, uint64_t deadline_ns)
{
    rh_runtime *rt = k->rt;
    atomic_store_explicit(&k->kflow, kflow, memory_order_release);
    /* The kernel's tasks may sit on several reactors (dispatch, pumps):
     * every one of them must have passed a batch boundary.  The others
     * never touch this kernel, so a long process() call of another kernel
     * must not hold up (or time out) this one's pause or swap. */
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (reactor_serves(rt->reactors[i], k))
            rh__bell_wake_all(&rt->reactors[i]->bell);
    int rc = 0;
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (reactor_serves(rt->reactors[i], k) &&
            rh__reactor_sync(rt->reactors[i], deadline_ns) != 0)
            rc = RH_ETIMEDOUT;
    /* A worker its executor runs elsewhere (a kernel process) steps on its
     * own: it must have seen it too. */
    if (rh__exec_sync(rt, k, deadline_ns, NULL) != 0)
        rc = RH_ETIMEDOUT;
    return rc;
}

int rh__worker_call(rh_worker *w, rh_worker_op *op, uint64_t deadline_ns)
{
    if (!w->reactor)
        return RH_ESTATE; /* its executor runs its step elsewhere (a child process) */
    atomic_store_explicit(&op->done, 0, memory_order_relaxed);
    rh_worker_op *none = NULL;
    if (!atomic_compare_exchange_strong(&w->op, &none, op))
        return RH_ESTATE; /* another op is pending for this worker */
    while (!atomic_load_explicit(&op->done, memory_order_acquire)) {
        if (rh_now_ns() >= deadline_ns) {
            rh_worker_op *mine = op;
            if (atomic_compare_exchange_strong(&w->op, &mine, NULL))
                return RH_ETIMEDOUT; /* never started: withdrawn */
            /* It started: it refers to op, so it must finish before we
             * return (an init() that never returns keeps us here). */
            while (!atomic_load_explicit(&op->done, memory_order_acquire))
                nap_us(100);
            return 0;
        }
        rh__bell_wake_all(&w->reactor->bell);
        nap_us(50);
    }
    return 0;
}

/* A kernel the watchdog gave up (restart.max reached, fini() ran) is
 * terminated for every lifecycle call: pausing or resuming it would claim
 * a kernel that no longer runs. */
static int refuse_given_up(const rh_kinst *k, const char *verb, rh_error *err)
{
    if (!atomic_load_explicit(&k->given_up, memory_order_acquire))
        return 0;
    return rh_error_set(err, RH_ESTATE,
                        "cannot %s kernel %s: it was given up after %llu restart(s) "
                        "(restart.max; see the kernel.given_up log line), so it is terminated; "
                        "fix its fault and launch it again",
                        verb, k->decl->name,
                        (unsigned long long)atomic_load_explicit(&k->restarts,
                                                                 memory_order_relaxed));
}

static int kernel_activate_locked(rh_runtime *rt, const char *kernel, rh_error *err)
{
    rh_kinst *k;
    int rc = find_or_fail(rt, kernel, &k, err);
    if (rc || (rc = refuse_given_up(k, "activate", err)))
        return rc;
    if (rt->state == RH_STATE_TERMINATED ||
        (k->state != RH_STATE_LAUNCHED && k->state != RH_STATE_INACTIVE))
        return rh_error_set(err, RH_ESTATE, "cannot activate kernel %s: it is %s",
                            k->decl->name,
                            rh_state_name(rt->state == RH_STATE_TERMINATED ? rt->state
                                                                           : k->state));
    uint64_t t0 = rh_now_ns();
    if (!k->activate_ns)
        k->activate_ns = t0;
    if (!rt->activate_ns)
        rt->activate_ns = t0;
    k->state = RH_STATE_ACTIVE;
    atomic_store_explicit(&k->kflow, RH_KFLOW_RUN, memory_order_release);
    /* A launched or inactive host runs again; its other kernels keep their
     * own flow (paused), so only this one moves. */
    rt->state = RH_STATE_ACTIVE;
    atomic_store_explicit(&rt->flow, RH_FLOW_RUNNING, memory_order_release);
    rc = rh__kernel_set_flow(k, RH_KFLOW_RUN, t0 + KERNEL_SYNC_NS);
    rh__log_event(rt->log, RH_LOG_INFO, "kernel.activate", "kernel=%s ms=%.3f synced=%s",
                  k->decl->name, (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS,
                  rc ? "no" : "yes");
    return 0;
}

int rh_runtime_kernel_activate(rh_runtime *rt, const char *kernel, rh_error *err)
{
    pthread_mutex_lock(&rt->life_lock);
    int rc = kernel_activate_locked(rt, kernel, err);
    pthread_mutex_unlock(&rt->life_lock);
    return rc;
}

static int kernel_deactivate_locked(rh_runtime *rt, const char *kernel, rh_error *err)
{
    rh_kinst *k;
    int rc = find_or_fail(rt, kernel, &k, err);
    if (rc || (rc = refuse_given_up(k, "deactivate", err)))
        return rc;
    if (rt->state == RH_STATE_TERMINATED || k->state != RH_STATE_ACTIVE)
        return rh_error_set(err, RH_ESTATE, "cannot deactivate kernel %s: it is %s",
                            k->decl->name,
                            rh_state_name(rt->state == RH_STATE_TERMINATED ? rt->state
                                                                           : k->state));
    uint64_t t0 = rh_now_ns();
    k->state = RH_STATE_INACTIVE;
    rc = rh__kernel_set_flow(k, RH_KFLOW_PAUSED, t0 + KERNEL_SYNC_NS);
    rh__log_event(rt->log, rc ? RH_LOG_WARN : RH_LOG_INFO, "kernel.deactivate",
                  "kernel=%s ms=%.3f synced=%s", k->decl->name,
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS, rc ? "no" : "yes");
    if (rc)
        return rh_error_set(err, RH_ETIMEDOUT,
                            "kernel %s did not reach a batch boundary in 5 s (it is still "
                            "inside process()); the pause applies when it returns",
                            k->decl->name);
    return 0;
}

int rh_runtime_kernel_deactivate(rh_runtime *rt, const char *kernel, rh_error *err)
{
    pthread_mutex_lock(&rt->life_lock);
    int rc = kernel_deactivate_locked(rt, kernel, err);
    pthread_mutex_unlock(&rt->life_lock);
    return rc;
}

/* Every worker of k ran fini() (or the deadline passed). */
static int wait_finished(rh_kinst *k, uint64_t deadline_ns)
{
    for (uint32_t w = 0; w < k->n_workers; w++)
        while (!atomic_load_explicit(&k->workers[w].finished, memory_order_acquire)) {
            if (rh_now_ns() >= deadline_ns)
                return 0;
            if (k->workers[w].reactor) /* none: run elsewhere (a child process) */
                rh__bell_wake_all(&k->workers[w].reactor->bell);
            nap_us(100);
        }
    return 1;
}

/* No answer of k waits in an output ring (each bridge releases its ring
 * slots only once the burst is in its queue or dead-lettered). */
static int outputs_flushed(rh_kinst *k)
{
    for (uint32_t w = 0; w < k->n_workers; w++)
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            if (rh__ring_count(k->workers[w].out[p]))
                return 0;
    return 1;
}

static int kernel_terminate_locked(rh_runtime *rt, const char *kernel, int timeout_ms,
                                   rh_error *err)
{
    rh_kinst *k;
    int rc = find_or_fail(rt, kernel, &k, err);
    if (rc || (rc = refuse_given_up(k, "terminate", err)))
        return rc;
    if (rt->state == RH_STATE_TERMINATED || k->state == RH_STATE_TERMINATED)
        return rh_error_set(err, RH_ESTATE, "cannot terminate kernel %s: it is already "
                                            "terminated", k->decl->name);
    uint64_t t0 = rh_now_ns();
    uint64_t deadline = t0 + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * RH_NS_PER_MS;
    /* Intake stops; what reached the kernel's rings is processed and its
     * outputs flow out (the output bridges run in every flow). */
    rh__kernel_set_flow(k, RH_KFLOW_DRAINING, deadline);
    int drained;
    while (!(drained = rh__kernel_is_quiet(k, 0)) && rh_now_ns() < deadline)
        nap_us(200);
    rh__kernel_set_flow(k, RH_KFLOW_STOPPED, deadline);
    /* An output bridge blocked on a full queue ends its wait once it sees
     * the stop and dead-letters what finds no room (bridge.c, stage
     * "undeliverable"); wait for that, so the kernel's answers are where
     * terminate leaves them when it returns. */
    uint64_t flushed_by = (rh_now_ns() > deadline ? rh_now_ns() : deadline) + RH_STOP_GRACE_NS;
    while (!outputs_flushed(k) && rh_now_ns() < flushed_by)
        nap_us(200);
    int finished = wait_finished(k, (rh_now_ns() > deadline ? rh_now_ns() : deadline) +
                                        RH_STOP_GRACE_NS);
    k->state = RH_STATE_TERMINATED;
    unsigned joined = drained && finished && rh__kernel_is_quiet(k, 0)
                          ? join_private_threads(rt, k) : 0;
    rh__log_event(rt->log, drained && finished ? RH_LOG_INFO : RH_LOG_WARN, "kernel.terminate",
                  "kernel=%s ms=%.3f drained=%s fini=%s threads_joined=%u", k->decl->name,
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS, drained ? "yes" : "no",
                  finished ? "yes" : "no", joined);
    if (!drained || !finished)
        return rh_error_set(err, RH_ETIMEDOUT,
                            "terminate kernel %s: %s within %d ms; it is stopped", k->decl->name,
                            !drained ? "its rings did not drain" : "fini() did not run",
                            timeout_ms);
    return 0;
}

int rh_runtime_kernel_terminate(rh_runtime *rt, const char *kernel, int timeout_ms,
                                rh_error *err)
{
    pthread_mutex_lock(&rt->life_lock);
    int rc = kernel_terminate_locked(rt, kernel, timeout_ms, err);
    pthread_mutex_unlock(&rt->life_lock);
    return rc;
}

uint32_t rh_runtime_kernel_count(const rh_runtime *rt)
{
    return rt->n_kernels;
}

/* rh_runtime_kernel_info into the library's full struct (fill_info), then
 * only the caller's struct_size bytes of it out (base/struct_size.h). */
static void fill_info(rh_runtime *rt, uint32_t index, rh_kernel_info *out);

int rh_runtime_kernel_info(rh_runtime *rt, uint32_t index, rh_kernel_info *caller)
{
    rh_kernel_info full = RH_KERNEL_INFO_INIT;
    int rc = index < rt->n_kernels ? 0 : RH_ENOENT;
    if (rc == 0)
        fill_info(rt, index, &full);
    int out_rc = rh__struct_out(&rh__kind_kernel_info, caller, &full, rt->log);
    return out_rc ? out_rc : rc;
}

static void fill_info(rh_runtime *rt, uint32_t index, rh_kernel_info *out)
{
    rh_kinst *k = &rt->kernels[index];
    uint64_t now = rh_now_ns();
    pthread_mutex_lock(&rt->life_lock); /* desc and plugin change in a swap */
    out->name = k->decl->name;
    out->plugin = k->desc->name;
    out->version = k->desc->version ? k->desc->version : "";
    out->path = k->plugin ? k->plugin->path : "";
    /* given up after restart.max restarts (engine/restart.c): stopped for good */
    out->state = atomic_load_explicit(&k->given_up, memory_order_acquire) ? RH_STATE_TERMINATED
                                                                          : k->state;
    out->workers = k->n_workers;
    out->restarts = atomic_load_explicit(&k->restarts, memory_order_relaxed);
    out->swaps = atomic_load_explicit(&k->swaps, memory_order_relaxed);
    out->swaps_refused = atomic_load_explicit(&k->swaps_refused, memory_order_relaxed);
    out->active_ns = k->activate_ns ? now - k->activate_ns : 0;
    for (uint32_t i = 0; i < k->n_workers; i++) {
        rh_worker *w = &k->workers[i];
        out->processed += atomic_load_explicit(&w->processed, memory_order_relaxed);
        out->failed += atomic_load_explicit(&w->failed, memory_order_relaxed);
        out->emitted += atomic_load_explicit(&w->emitted, memory_order_relaxed);
        out->batches += atomic_load_explicit(&w->batches, memory_order_relaxed);
        out->busy |= atomic_load_explicit(&w->busy, memory_order_relaxed);
        out->stalls += atomic_load_explicit(&w->stalls, memory_order_relaxed);
        uint64_t hb = atomic_load_explicit(&w->heartbeat_ns, memory_order_relaxed);
        if (hb && now > hb && now - hb > out->heartbeat_age_ns)
            out->heartbeat_age_ns = now - hb;
    }
    size_t tn = 0, cn = 0;
    for (uint32_t i = 0; i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        if (!reactor_serves(r, k) || tn >= sizeof out->threads || cn >= sizeof out->cpus)
            continue;
        tn += (size_t)snprintf(out->threads + tn, sizeof out->threads - tn, "%s%s",
                               tn ? "," : "", r->name);
        cn += (size_t)snprintf(out->cpus + cn, sizeof out->cpus - cn, "%s%d", cn ? "," : "",
                               atomic_load_explicit(&r->last_cpu, memory_order_relaxed));
    }
    pthread_mutex_unlock(&rt->life_lock);
}

const char *rh_state_name(rh_state s)
{
    static const char *names[] = {"launched", "active", "inactive", "terminated"};
    return (unsigned)s < 4 ? names[s] : "?";
}
