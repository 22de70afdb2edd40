/*
 * restart.c — the restart policy of a kernel ("restart" in the manifest,
 * manifest_faults.c), run on the worker's own thread (its reactor), never
 * on the watchdog's.
 *
 * After a stall (a process() call longer than "watchdog_ms", seen by the
 * watchdog thread of faults/watchdog.c or by the worker when the call
 * returned), or after "failed_batches" failed batches in a row, the worker
 * restarts its kernel on its own thread — fini() on the old state, init()
 * again — after a backoff of backoff_ms, doubled after each restart in a row
 * (a good batch ends the row), up to backoff_max_ms.  While the backoff runs
 * the worker takes nothing: messages wait in its ring and its queue (counted
 * queued), other kernels and threads run on.  Past restart.max restarts (the
 * kernel's total) the kernel is given up: logged at error (kernel.given_up),
 * stopped (fini runs), reported terminated by rh_kernel_info; its input
 * queues keep accepting by their policy and what waits there and in its
 * rings stays counted queued, so the accounting still balances.  A kernel in
 * a process of its own (exec/exec_process.c) gets the same backoff, limit and
 * giving up through rh__worker_schedule_restart.
 *
 * Which thread writes what: restart_at_ns, failed_streak, restart_streak,
 * state and init_rc are the worker's own (its reactor thread); stall_seen
 * and stalls are shared with the watchdog (atomics, rh__worker_report_stall).
 */
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/engine.h"

/*
 * Count and log the stall of the call that began at started_ns, once: the
 * watchdog (while the call runs) and the worker (when it returned) may both
 * see it; whichever moves stall_seen to started_ns first reports it.
 * Heartbeats are distinct per call (each step stamps a fresh time), so a
 * later call is never taken for one already reported.
 */
int rh__worker_report_stall(rh_worker *w, uint64_t started_ns, uint64_t in_ns, const char *action)
{
    uint64_t seen = atomic_load_explicit(&w->stall_seen, memory_order_relaxed);
    if (seen == started_ns ||
        !atomic_compare_exchange_strong(&w->stall_seen, &seen, started_ns))
        return 0;
    atomic_fetch_add_explicit(&w->stalls, 1, memory_order_relaxed);
    rh_kinst *k = w->kernel;
    rh__log_event(k->rt->log, RH_LOG_ERROR, "kernel.stalled",
                  "kernel=%s worker=%u in_process_ms=%.1f watchdog_ms=%u action=%s",
                  k->decl->name, w->index, (double)in_ns / (double)RH_NS_PER_MS,
                  k->decl->watchdog_ms, action);
    return 1;
}

/* restart.max reached: stop the kernel for good.  Its steps read kflow
 * STOPPED (dispatch.c then runs fini once) and its input bridges stop. */
static void give_up(rh_worker *w, const char *why)
{
    rh_kinst *k = w->kernel;
    if (atomic_exchange_explicit(&k->given_up, 1, memory_order_acq_rel))
        return;
    rh__log_event(k->rt->log, RH_LOG_ERROR, "kernel.given_up",
                  "kernel=%s worker=%u reason=%s restarts=%llu max=%u queues=keep_accepting",
                  k->decl->name, w->index, why,
                  (unsigned long long)atomic_load(&k->restarts), k->decl->restart_max);
    atomic_store_explicit(&k->kflow, RH_KFLOW_STOPPED, memory_order_release);
    for (uint32_t i = 0; i < k->rt->n_reactors; i++)
        rh__bell_wake_all(&k->rt->reactors[i]->bell);
}

/* A restart is needed (why): claim one of restart.max and set when it runs,
 * or give the kernel up. */
void rh__worker_schedule_restart(rh_worker *w, const char *why)
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
    w->restart_at_ns = rh_now_ns() + backoff * RH_NS_PER_MS;
    if (!w->restart_at_ns)
        w->restart_at_ns = 1;
    rh__log_event(k->rt->log, RH_LOG_WARN, "kernel.restart_scheduled",
                  "kernel=%s worker=%u reason=%s restart=%llu max=%u backoff_ms=%llu",
                  d->name, w->index, why, (unsigned long long)n + 1, d->restart_max,
                  (unsigned long long)backoff);
}

int rh__worker_restart_pending(rh_worker *w)
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
    rh__log_event(k->rt->log, w->init_rc ? RH_LOG_ERROR : RH_LOG_WARN, "kernel.restart",
                  "kernel=%s worker=%u rc=%d restarts=%llu ms=%.3f", k->decl->name, w->index,
                  w->init_rc, (unsigned long long)atomic_load(&k->restarts),
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS);
    if (w->init_rc == 0)
        return 0;
    rh__worker_schedule_restart(w, "init_failed");
    return 1;
}

void rh__worker_after_call(rh_worker *w, int rc, uint64_t started_ns)
{
    const rh_kernel_decl *d = w->kernel->decl;
    const char *why = NULL;
    if (d->watchdog_ms) {
        uint64_t now = rh_now_ns();
        if (now > started_ns && now - started_ns > (uint64_t)d->watchdog_ms * RH_NS_PER_MS) {
            rh__worker_report_stall(w, started_ns, now - started_ns, "restart");
            rh__log_event(w->kernel->rt->log, RH_LOG_WARN, "kernel.stall_ended",
                          "kernel=%s worker=%u in_process_ms=%.1f", d->name, w->index,
                          (double)(now - started_ns) / (double)RH_NS_PER_MS);
            why = "stalled";
        }
    }
    if (d->restart_failed_batches) {
        if (rc >= 0)
            w->failed_streak = 0;
        else if (++w->failed_streak >= d->restart_failed_batches && !why)
            why = "failed_batches";
    }
    if (why && w->kernel->restart_by_leaving) {
        /* Its executor restarts it (a kernel process, exec_process.c): it
         * leaves at its next batch boundary, the executor reaps it and
         * schedules the restart. */
        w->failed_streak = 0;
        atomic_store_explicit(&w->leave_for_restart, 1, memory_order_relaxed);
    } else if (why) {
        w->failed_streak = 0;
        rh__worker_schedule_restart(w, why);
    } else if (rc >= 0) {
        w->restart_streak = 0;
    }
}
