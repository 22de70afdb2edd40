/*
 * watchdog.c — the watchdog thread: it notices a kernel that stalls inside
 * process(), and supervises the kernels that run in a process of their own.
 *
 * A kernel that returns errors already has its messages dead-lettered with
 * the reason (engine/dispatch.c, queue/dlq.c).  This file adds, per kernel,
 * from the manifest (manifest_faults.c):
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
 *    (rh__reactor_stop_join).
 *
 *  - Restarts ("restart"): the worker restarts its kernel on its own
 *    thread after a stall or failed batches in a row, with a backoff, up
 *    to restart.max (engine/restart.c, the policy; this file only sees).
 *
 *  - The same thread runs the executors' supervision (exec/exec.h
 *    supervise): a kernel process (exec_process.c) that stalls is killed
 *    rather than waited for, and one that died is restarted with the same
 *    backoff, limit and giving up (rh__worker_schedule_restart).
 *
 * Which thread writes what: stall_seen and stalls are shared with the
 * worker (atomics, engine/restart.c rh__worker_report_stall); the watchdog
 * writes nothing else of a worker.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "faults/faults.h"

#define PERIOD_MIN_NS (1ull * RH_NS_PER_MS)
#define PERIOD_MAX_NS (250ull * RH_NS_PER_MS)

struct rh_watchdog {
    rh_runtime *rt;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled at stop, so terminate never waits a period */
    int stop;            /* under lock */
    uint64_t period_ns;
};

/* One look at every watched worker. */
static void look(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        /* an executor that supervises its workers watches their stalls */
        if (!k->decl->watchdog_ms || (k->exec && k->exec->supervise) ||
            atomic_load_explicit(&k->given_up, memory_order_relaxed))
            continue;
        uint64_t limit = (uint64_t)k->decl->watchdog_ms * RH_NS_PER_MS;
        for (uint32_t j = 0; j < k->n_workers; j++) {
            rh_worker *w = &k->workers[j];
            /* acquire pairs with the worker's release of busy = 1: the
             * heartbeat read next is this call's start, or a later one */
            if (!atomic_load_explicit(&w->busy, memory_order_acquire))
                continue;
            uint64_t hb = atomic_load_explicit(&w->heartbeat_ns, memory_order_relaxed);
            uint64_t now = rh_now_ns();
            if (hb && now > hb && now - hb > limit)
                rh__worker_report_stall(w, hb, now - hb,
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
        rh__exec_supervise(wd->rt);
        pthread_mutex_lock(&wd->lock);
        if (wd->stop)
            break;
        struct timespec at = rh_timespec_of_ns(rh_now_ns() + wd->period_ns);
        pthread_cond_timedwait(&wd->wake, &wd->lock, &at);
    }
    pthread_mutex_unlock(&wd->lock);
    /* Stop the executors' workers from this thread, before it ends: a
     * kernel process it forked dies with it (PR_SET_PDEATHSIG follows the
     * forking thread), and must first drain and run fini(). */
    rh__exec_stop(wd->rt, rh_now_ns() + 2000ull * RH_NS_PER_MS);
    return NULL;
}

int rh__watchdog_start(rh_runtime *rt)
{
    uint64_t period = 0;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        uint64_t p = (uint64_t)rt->kernels[i].decl->watchdog_ms * RH_NS_PER_MS / 4;
        if (rt->kernels[i].decl->watchdog_ms && (!period || p < period))
            period = p;
    }
    /* An executor's workers are supervised from here: look as often as
     * the most demanding asks. */
    uint64_t sup = rh__exec_supervise_ns(rt);
    if (sup && (!period || period > sup))
        period = sup;
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
    rh__log_event(rt->log, RH_LOG_DEBUG, "watchdog.start", "instance=%s period_ms=%.1f",
                  rt->instance, (double)wd->period_ns / (double)RH_NS_PER_MS);
    return 0;
}

void rh__watchdog_stop(rh_runtime *rt)
{
    struct rh_watchdog *wd = rt->watchdog;
    if (!wd) {
        rh__exec_stop(rt, rh_now_ns() + 2000ull * RH_NS_PER_MS); /* a launch that failed */
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
