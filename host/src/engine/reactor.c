/*
 * reactor.c — reactor threads.
 *
 * Threads follow cores, not kernels (the SPDK reactor model): a reactor is
 * one thread with a list of tasks — a worker's dispatch step, a bridge step
 * — that it runs in turn, one batch each.  When a whole round finds no work
 * the thread waits with its wait strategy; when it parks it sleeps on the
 * bells of every source its tasks read from, so any producer wakes it and
 * an idle host burns no core.
 *
 * Each worker's init() runs on its reactor before the first step and fini()
 * after the last, so a kernel only ever sees one thread.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/log.h"
#include "base/placement.h"
#include "engine/engine_pvt.h"
#include "engine/reactor_log.h"

/* ----------------------------------------------------------- reactor -- */

int rh__reactor_add_task(rh_reactor *r, const rh_task *t)
{
    if (rh_grow(&r->tasks, &r->cap_tasks, r->n_tasks + 1, sizeof *r->tasks))
        return RH_ENOMEM;
    rh_task *dst = &r->tasks[r->n_tasks];
    *dst = *t;
    dst->bells = NULL;
    if (t->n_bells) {
        dst->bells = malloc(t->n_bells * sizeof *dst->bells);
        if (!dst->bells)
            return RH_ENOMEM;
        memcpy(dst->bells, t->bells, t->n_bells * sizeof *dst->bells);
    }
    r->n_tasks++;
    r->polled |= t->polled;
    return 0;
}

int rh__reactor_plan_task(rh_reactor *r, const char *what)
{
    char *copy = strdup(what);
    rh_task t = {NULL, NULL, NULL, 0, copy, 0};
    if (!copy || rh__reactor_add_task(r, &t) != 0) {
        free(copy);
        return RH_ENOMEM;
    }
    return 0;
}

static uint32_t run_round(rh_reactor *r)
{
    uint32_t moved = 0;
    for (uint32_t i = 0; i < r->n_tasks; i++)
        moved += r->tasks[i].step(r->tasks[i].arg);
    return moved;
}

/* Park on every bell of every task (and our own); re-check before sleeping
 * so a message published after the empty round is never slept on. */
static void park(rh_reactor *r)
{
    rh_bell *bells[RH_WAIT_MAX_BELLS];
    uint32_t n = 0;
    int overflow = 0;
    bells[n++] = &r->bell;
    for (uint32_t i = 0; i < r->n_tasks && !overflow; i++)
        for (uint32_t j = 0; j < r->tasks[i].n_bells; j++) {
            if (n == RH_WAIT_MAX_BELLS) {
                overflow = 1;
                break;
            }
            bells[n++] = r->tasks[i].bells[j];
        }
    rh_sleep s;
    rh__sleep_prepare(&s, bells, n);
    if (atomic_load(&r->stop) || run_round(r) > 0) {
        rh__sleep_cancel(&s);
        return;
    }
    /* More sources than one futex_waitv can watch: poll every ms instead.
     * The safety timeout otherwise only bounds how stale a missed external
     * wake-up could leave us; it costs ~10 wake-ups a second when idle.  A
     * task that asked for a step at wake_at_ns (a restart whose backoff
     * ends, engine/restart.c) shortens it. */
    int64_t timeout = overflow ? (int64_t)RH_NS_PER_MS : 100 * (int64_t)RH_NS_PER_MS;
    if (r->polled) {
        /* A device answers without a bell: poll, backing off while idle
         * (20 us, doubling to 1 ms: ~1,000 wake-ups a second when idle for
         * long, a first answer after a long idle seen within 1 ms). */
        r->poll_nap_ns = r->poll_nap_ns ? r->poll_nap_ns * 2 : RH_REACTOR_POLL_MIN_NS;
        if (r->poll_nap_ns > RH_REACTOR_POLL_MAX_NS)
            r->poll_nap_ns = RH_REACTOR_POLL_MAX_NS;
        if ((int64_t)r->poll_nap_ns < timeout)
            timeout = (int64_t)r->poll_nap_ns;
    }
    if (r->wake_at_ns) {
        uint64_t now = rh_now_ns();
        int64_t due = r->wake_at_ns > now ? (int64_t)(r->wake_at_ns - now) : 0;
        timeout = due < timeout ? due : timeout;
        r->wake_at_ns = 0;
    }
    rh__sleep_commit(&s, timeout);
}

/* The reactor's park (rh__waiter_idle_step): asleep on every task's
 * bells, then the cpu it woke on noted (stat's binding check). */
static void park_and_note_cpu(void *arg)
{
    rh_reactor *r = arg;
    park(r);
    atomic_store_explicit(&r->last_cpu, rh__current_cpu(), memory_order_relaxed);
}

static void *reactor_main(void *arg)
{
    rh_reactor *r = arg;
    char tname[16];
    snprintf(tname, sizeof tname, "%s", r->name);
    pthread_setname_np(pthread_self(), tname);
    rh_error err = {0};
    if (!hwloc_bitmap_iszero(r->cpuset) && rh__bind_self(r->cpuset, &err) != 0)
        snprintf(r->bind_error, sizeof r->bind_error, "%s", err.msg);
    atomic_store(&r->last_cpu, rh__current_cpu());
    rh__reactor_log_start(r);

    int failed = 0;
    for (uint32_t i = 0; i < r->n_workers; i++) {
        rh_worker *w = r->workers[i];
        uint64_t t0 = rh_now_ns();
        w->init_rc = w->kernel->desc->init
                         ? w->kernel->desc->init(&w->ctx, w->kernel->decl->config_json, &w->state)
                         : 0;
        rh__log_event(r->rt->log, w->init_rc ? RH_LOG_ERROR : RH_LOG_DEBUG,
                      w->init_rc ? "kernel.init_failed" : "kernel.init",
                      "kernel=%s worker=%u thread=%s rc=%d ms=%.3f", w->kernel->decl->name,
                      w->index, r->name, w->init_rc,
                      (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS);
        if (w->init_rc != 0)
            failed = 1;
    }
    atomic_store(&r->ready, failed ? -1 : 1);
    if (failed)
        goto out;

    if (r->run_kernel) {
        /* A run() kernel owns this thread until it returns: it waits in
         * rh_poll() while paused and returns once told to stop. */
        rh_worker *w = r->workers[0];
        int rc = w->kernel->desc->run(&w->ctx, w->state);
        rh__worker_flush_outputs(w);
        rh__worker_release_run_batch(w);
        /* Terminated alone: the runtime goes on.  run() returns as soon as
         * rh_poll sees its rings empty while draining (RH_ESTOPPED), before
         * terminate moves the kernel to STOPPED: nothing else would ever run
         * its fini() (this thread has no task), and terminate would wait
         * for it in vain. */
        int kf = atomic_load(&w->kernel->kflow);
        if (kf == RH_KFLOW_STOPPED || kf == RH_KFLOW_DRAINING)
            rh__worker_finish(w);
        if (rc < 0)
            rh__log_event(r->rt->log, RH_LOG_WARN, "kernel.run_failed",
                          "kernel=%s worker=%u thread=%s rc=%d", w->kernel->decl->name, w->index,
                          r->name, rc);
    }
    rh_waiter wt;
    rh__waiter_init(&wt, r->wait);
    while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
        atomic_fetch_add_explicit(&r->loops, 1, memory_order_release);
        if (run_round(r) > 0) {
            /* own thread's counter: a plain add (latency.c reads it) */
            atomic_store_explicit(&r->busy_polls,
                                  atomic_load_explicit(&r->busy_polls, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            rh_waiter_busy(&wt);
            r->poll_nap_ns = 0;
            continue;
        }
        rh__waiter_idle_step(&wt, park_and_note_cpu, r);
    }
out:
    for (uint32_t i = 0; i < r->n_workers; i++)
        rh__worker_finish(r->workers[i]);
    rh__reactor_log_exit(r, failed);
    return NULL;
}

int rh__reactor_start(rh_reactor *r)
{
    rh__bell_init(&r->bell, 0);
    int rc = pthread_create(&r->thread, NULL, reactor_main, r);
    if (rc != 0)
        return RH_ESYS;
    r->started = 1;
    return 0;
}

int rh__reactor_sync(rh_reactor *r, uint64_t deadline_ns)
{
    if (!r->started || r->run_kernel)
        return 0; /* a run() kernel sees flow changes in rh_poll() itself */
    uint64_t seen = atomic_load_explicit(&r->loops, memory_order_acquire);
    /* Two increments: the loop that may have read the old flag ends, and
     * one more begins and ends with the new one. */
    while (atomic_load_explicit(&r->loops, memory_order_acquire) < seen + 2 &&
           !atomic_load(&r->stop) && atomic_load(&r->ready) == 1) {
        if (rh_now_ns() >= deadline_ns)
            return RH_ETIMEDOUT;
        rh__bell_wake_all(&r->bell);
        struct timespec ts = rh_timespec_of_ns(50 * RH_NS_PER_US);
        nanosleep(&ts, NULL);
    }
    return 0;
}

int rh__reactor_stop_join(rh_reactor *r, uint64_t deadline_ns)
{
    if (!r->started)
        return 0;
    atomic_store_explicit(&r->stop, 1, memory_order_release);
    rh__bell_wake_all(&r->bell);
    /* A kernel stuck in process() must not make terminate hang: join with
     * the deadline, and if the thread is still inside the kernel, leave it
     * (it holds pointers into our rings, so nothing of it is freed). */
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    uint64_t now = rh_now_ns();
    uint64_t wait_ns = deadline_ns > now ? deadline_ns - now : 0;
    /* added as a timespec, not in ns: a far deadline must not wrap */
    struct timespec rel = rh_timespec_of_ns(wait_ns);
    abs.tv_sec += rel.tv_sec;
    abs.tv_nsec += rel.tv_nsec;
    if (abs.tv_nsec >= (long)RH_NS_PER_S) {
        abs.tv_sec++;
        abs.tv_nsec -= (long)RH_NS_PER_S;
    }
    if (pthread_timedjoin_np(r->thread, NULL, &abs) != 0) {
        r->stuck = 1;
        pthread_detach(r->thread);
        r->started = 0;
        return RH_ETIMEDOUT;
    }
    r->started = 0;
    return 0;
}

void rh__reactor_free(rh_reactor *r)
{
    if (!r)
        return;
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
