/*
 * watchdog.c — what the host does when a kernel misbehaves: stalls inside
 * process(), or fails batch after batch.
 *
 * A kernel that returns errors already has its messages dead-lettered with
 * the reason (dispatch.c, dlq.c).  This file adds, per kernel, from the
 * manifest (manifest_faults.c):
 *
 *  - A watchdog ("watchdog_ms"): one thread per runtime, started only when
 *    some kernel has a watchdog, wakes every watchdog_ms/4 (1..250 ms) and
 *    looks at each worker's busy flag and heartbeat (the time its step
 *    began the call).  A worker inside one process() call for longer than
 *    watchdog_ms is stalled: logged at error (kernel.stalled) and counted
 *    (rh_kernel_info.stalls), once per call.  A thread cannot be stopped
 *    safely from outside (it may hold the kernel's locks, or the allocator's),
 *    so the call is left to return; when it does, the worker counts the
 *    stall itself if the watchdog had not seen it yet (a call that returned
 *    between two looks) and restarts the kernel.  A call that never returns
 *    keeps its thread: terminate leaves that thread running and says so
 *    (rh_reactor_stop_join).
 *
 *  - Restarts ("restart"): after a stall, or after "failed_batches" failed
 *    batches in a row, the worker restarts its kernel on its own thread —
 *    fini() on the old state, init() again — after a backoff of backoff_ms,
 *    doubled after each restart in a row (a good batch ends the row), up
 *    to backoff_max_ms.  While the backoff runs the worker takes nothing:
 *    messages wait in its ring and its queue (counted queued), other kernels
 *    and threads run on.  Past restart.max restarts (the kernel's total) the
 *    kernel is given up: logged at error (kernel.given_up), stopped (fini
 *    runs), reported terminated by rh_kernel_info; its input queues keep
 *    accepting by their policy and what waits there and in its rings stays
 *    counted queued, so the accounting still balances.
 *
 *  - The same thread supervises the kernels that run in a process of their
 *    own (isolation.c, rh_isolation_supervise): a stalled one is killed
 *    rather than waited for, and one that died is restarted with the same
 *    backoff, limit and giving up (rh_worker_schedule_restart).
 *
 * Which thread writes what: restart_at_ns, failed_streak, restart_streak,
 * state and init_rc are the worker's own (its reactor thread); stall_seen
 * and stalls are shared with the watchdog (atomics, see report_stall).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "runtime_pvt.h"

#define MS (1000000ull)
#define PERIOD_MIN_NS (1ull * MS)
#define PERIOD_MAX_NS (250ull * MS)
#define ISOLATION_PERIOD_NS (10ull * MS)

struct rh_watchdog {
    rh_runtime *rt;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled at stop, so terminate never waits a period */
    int stop;            /* under lock */
    uint64_t period_ns;
};

/*
 * Count and log the stall of the call that began at started_ns, once: the
 * watchdog (while the call runs) and the worker (when it returned) may both
 * see it; whichever moves stall_seen to started_ns first reports it.
 * Heartbeats are distinct per call (each step stamps a fresh time), so a
 * later call is never taken for one already reported.
 */
int rh_worker_report_stall(rh_worker *w, uint64_t started_ns, uint64_t in_ns, const char *action)
{
    uint64_t seen = atomic_load_explicit(&w->stall_seen, memory_order_relaxed);
    if (seen == started_ns ||
        !atomic_compare_exchange_strong(&w->stall_seen, &seen, started_ns))
        return 0;
    atomic_fetch_add_explicit(&w->stalls, 1, memory_order_relaxed);
    rh_kinst *k = w->kernel;
    rh_log_event(k->rt->log, RH_LOG_ERROR, "kernel.stalled",
                 "kernel=%s worker=%u in_process_ms=%.1f watchdog_ms=%u action=%s",
                 k->decl->name, w->index, (double)in_ns / 1e6, k->decl->watchdog_ms, action);
    return 1;
}

/* One look at every watched worker. */
static void look(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        /* a child process is watched by rh_isolation_supervise */
        if (!k->decl->watchdog_ms || k->decl->isolate_process ||
            atomic_load_explicit(&k->given_up, memory_order_relaxed))
            continue;
        uint64_t limit = (uint64_t)k->decl->watchdog_ms * MS;
        for (uint32_t j = 0; j < k->n_workers; j++) {
            rh_worker *w = &k->workers[j];
            /* acquire pairs with the worker's release of busy = 1: the
             * heartbeat read next is this call's start, or a later one */
            if (!atomic_load_explicit(&w->busy, memory_order_acquire))
                continue;
            uint64_t hb = atomic_load_explicit(&w->heartbeat_ns, memory_order_relaxed);
            uint64_t now = rh_now_ns();
            if (hb && now > hb && now - hb > limit)
                rh_worker_report_stall(w, hb, now - hb,
                             "wait (a thread cannot be stopped safely; the kernel is restarted "
                             "when the call returns)");
        }
    }
}

static void *watchdog_main(void *arg)
{
    struct rh_watchdog *wd = arg;
    pthread_mutex_lock(&wd->lock);
    while (!wd->stop) {
        pthread_mutex_unlock(&wd->lock);
        look(wd->rt);
        rh_isolation_supervise(wd->rt);
        pthread_mutex_lock(&wd->lock);
        if (wd->stop)
            break;
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        uint64_t ns = (uint64_t)at.tv_nsec + wd->period_ns;
        at.tv_sec += (time_t)(ns / 1000000000ull);
        at.tv_nsec = (long)(ns % 1000000000ull);
        pthread_cond_timedwait(&wd->wake, &wd->lock, &at);
    }
    pthread_mutex_unlock(&wd->lock);
    /* Stop the kernel processes from this thread, before it ends: a child
     * it forked dies with it (PR_SET_PDEATHSIG follows the forking thread),
     * and must first drain and run fini(). */
    rh_isolation_stop(wd->rt, rh_now_ns() + 2000ull * MS);
    return NULL;
}

int rh_watchdog_start(rh_runtime *rt)
{
    uint64_t period = 0;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        uint64_t p = (uint64_t)rt->kernels[i].decl->watchdog_ms * MS / 4;
        if (rt->kernels[i].decl->watchdog_ms && (!period || p < period))
            period = p;
    }
    /* A kernel process is reaped and restarted from here: look often. */
    if (rh_isolation_any(rt) && (!period || period > ISOLATION_PERIOD_NS))
        period = ISOLATION_PERIOD_NS;
    if (!period)
        return 0; /* nobody asked for a watchdog: no thread */
    struct rh_watchdog *wd = calloc(1, sizeof *wd);
    if (!wd)
        return RH_ENOMEM;
    wd->rt = rt;
    wd->period_ns = period < PERIOD_MIN_NS ? PERIOD_MIN_NS
                    : period > PERIOD_MAX_NS ? PERIOD_MAX_NS
                                             : period;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd->lock, NULL);
    if (pthread_create(&wd->thread, NULL, watchdog_main, wd) != 0) {
        pthread_cond_destroy(&wd->wake);
        pthread_mutex_destroy(&wd->lock);
        free(wd);
        return RH_ESYS;
    }
    rt->watchdog = wd;
    rh_log_event(rt->log, RH_LOG_DEBUG, "watchdog.start", "instance=%s period_ms=%.1f",
                 rt->instance, (double)wd->period_ns / 1e6);
    return 0;
}

void rh_watchdog_stop(rh_runtime *rt)
{
    struct rh_watchdog *wd = rt->watchdog;
    if (!wd) {
        rh_isolation_stop(rt, rh_now_ns() + 2000ull * MS); /* a launch that failed */
        return;
    }
    pthread_mutex_lock(&wd->lock);
    wd->stop = 1;
    pthread_cond_signal(&wd->wake);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->wake);
    pthread_mutex_destroy(&wd->lock);
    free(wd);
    rt->watchdog = NULL;
}

/* ------------------------------------------------ restarts (own thread) -- */

/* restart.max reached: stop the kernel for good.  Its steps read kflow
 * STOPPED (dispatch.c then runs fini once) and its input bridges stop. */
static void give_up(rh_worker *w, const char *why)
{
    rh_kinst *k = w->kernel;
    if (atomic_exchange_explicit(&k->given_up, 1, memory_order_acq_rel))
        return;
    rh_log_event(k->rt->log, RH_LOG_ERROR, "kernel.given_up",
                 "kernel=%s worker=%u reason=%s restarts=%llu max=%u queues=keep_accepting",
                 k->decl->name, w->index, why,
                 (unsigned long long)atomic_load(&k->restarts), k->decl->restart_max);
    atomic_store_explicit(&k->kflow, RH_KFLOW_STOPPED, memory_order_release);
    for (uint32_t i = 0; i < k->rt->n_reactors; i++)
        rh_bell_wake_all(&k->rt->reactors[i]->bell);
}

/* A restart is needed (why): claim one of restart.max and set when it runs,
 * or give the kernel up. */
void rh_worker_schedule_restart(rh_worker *w, const char *why)
{
    rh_kinst *k = w->kernel;
    const rh_kernel_decl *d = k->decl;
    if (atomic_load_explicit(&k->given_up, memory_order_acquire))
        return;
    uint64_t n = atomic_load(&k->restarts);
    do {
        if (n >= d->restart_max) {
            give_up(w, why);
            return;
        }
    } while (!atomic_compare_exchange_weak(&k->restarts, &n, n + 1));
    uint64_t backoff = d->restart_backoff_ms;
    for (uint32_t i = 0; i < w->restart_streak && backoff < d->restart_backoff_max_ms; i++)
        backoff *= 2;
    if (backoff > d->restart_backoff_max_ms)
        backoff = d->restart_backoff_max_ms;
    w->restart_streak++;
    w->restart_at_ns = rh_now_ns() + backoff * MS;
    if (!w->restart_at_ns)
        w->restart_at_ns = 1;
    rh_log_event(k->rt->log, RH_LOG_WARN, "kernel.restart_scheduled",
                 "kernel=%s worker=%u reason=%s restart=%llu max=%u backoff_ms=%llu",
                 d->name, w->index, why, (unsigned long long)n + 1, d->restart_max,
                 (unsigned long long)backoff);
}

int rh_worker_restart_pending(rh_worker *w)
{
    rh_kinst *k = w->kernel;
    /* A host draining for terminate does not wait out a backoff. */
    if (rh_now_ns() < w->restart_at_ns && rh_kernel_flow(k) == RH_FLOW_RUNNING) {
        /* an idle reactor parks no longer than the backoff (reactor.c park) */
        rh_reactor *r = w->reactor;
        if (r && (!r->wake_at_ns || w->restart_at_ns < r->wake_at_ns))
            r->wake_at_ns = w->restart_at_ns;
        return 1;
    }
    w->restart_at_ns = 0;
    uint64_t t0 = rh_now_ns();
    if (w->init_rc == 0 && k->desc->fini)
        k->desc->fini(&w->ctx, w->state);
    w->state = NULL;
    w->init_rc = k->desc->init ? k->desc->init(&w->ctx, k->decl->config_json, &w->state) : 0;
    rh_log_event(k->rt->log, w->init_rc ? RH_LOG_ERROR : RH_LOG_WARN, "kernel.restart",
                 "kernel=%s worker=%u rc=%d restarts=%llu ms=%.3f", k->decl->name, w->index,
                 w->init_rc, (unsigned long long)atomic_load(&k->restarts),
                 (double)(rh_now_ns() - t0) / 1e6);
    if (w->init_rc == 0)
        return 0;
    rh_worker_schedule_restart(w, "init_failed");
    return 1;
}

void rh_worker_after_call(rh_worker *w, int rc, uint64_t started_ns)
{
    const rh_kernel_decl *d = w->kernel->decl;
    const char *why = NULL;
    if (d->watchdog_ms) {
        uint64_t now = rh_now_ns();
        if (now > started_ns && now - started_ns > (uint64_t)d->watchdog_ms * MS) {
            rh_worker_report_stall(w, started_ns, now - started_ns, "restart");
            rh_log_event(w->kernel->rt->log, RH_LOG_WARN, "kernel.stall_ended",
                         "kernel=%s worker=%u in_process_ms=%.1f", d->name, w->index,
                         (double)(now - started_ns) / 1e6);
            why = "stalled";
        }
    }
    if (d->restart_failed_batches) {
        if (rc >= 0)
            w->failed_streak = 0;
        else if (++w->failed_streak >= d->restart_failed_batches && !why)
            why = "failed_batches";
    }
    if (why && d->isolate_process) {
        /* In a kernel process (isolation.c): it leaves at its next batch
         * boundary, the parent reaps it and schedules the restart. */
        w->failed_streak = 0;
        atomic_store_explicit(&w->child_restart, 1, memory_order_relaxed);
    } else if (why) {
        w->failed_streak = 0;
        rh_worker_schedule_restart(w, why);
    } else if (rc >= 0) {
        w->restart_streak = 0;
    }
}
