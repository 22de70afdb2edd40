/*
 * exec_thread.c — the thread executor, the default ("isolation":
 * "thread"): a worker's dispatch step is a task of a reactor, a host
 * thread, and its workers and rings are plain heap memory.
 *
 * Threads follow cores, not kernels (the SPDK reactor model): every
 * placement naming the same cpuset shares one reactor, which runs each
 * worker's dispatch step and each bridge step placed there in turn.  An
 * unpinned thread (placement "none") is private; a run() kernel always
 * owns its thread.  Nothing here starts a thread: runtime.c does, once
 * every kernel is built.  The reactor placement is also what every
 * executor's bridges use (rh__exec_reactor_for): pumps always run in the
 * host.
 */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/log.h"
#include "base/placement.h"
#include "exec/exec.h"
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

rh_reactor *rh__exec_reactor_for(rh_runtime *rt, const char *pin, const char *jpath,
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

/* The reactor of one worker's dispatch step: a run() kernel always owns
 * its thread, so a shared one is replaced by a private thread on the same
 * cpus. */
static rh_reactor *dispatch_reactor(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    char jpath[96];
    snprintf(jpath, sizeof jpath, "kernels[%u].pin.dispatch", k->index);
    rh_reactor *r = rh__exec_reactor_for(rt, d->pin_dispatch.text, jpath,
                                         k->desc->run ? "run" : "d", d->wait, err);
    if (!r || !k->desc->run)
        return r;
    if (r->n_tasks || r->n_workers) { /* shared: give the kernel its own */
        r = new_reactor(rt, "rh-run", "", hwloc_bitmap_dup(r->cpuset), d->wait);
        if (!r) {
            rh_error_set(err, RH_ENOMEM, "out of memory");
            return NULL;
        }
    }
    r->run_kernel = 1;
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

/* ------------------------------------------------------------ the ops -- */

static rh_worker *thread_workers_alloc(uint32_t n)
{
    return calloc(n, sizeof(rh_worker));
}

static void thread_workers_free(rh_worker *w, uint32_t n)
{
    (void)n;
    free(w);
}

/* Each worker on its reactor; a process() kernel's step becomes a task
 * woken by its input rings' bells (and, with inline bridges, its input
 * queues' bells); a run() kernel's thread runs its run() instead
 * (reactor.c), with no task. */
static int thread_place(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_desc *desc = k->desc;
    for (uint32_t i = 0; i < k->n_workers; i++) {
        rh_reactor *r = dispatch_reactor(rt, k, err);
        if (!r)
            return err->code;
        if (add_worker_to(r, &k->workers[i]) != 0)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < k->n_workers && !desc->run; i++) {
        rh_worker *w = &k->workers[i];
        rh_bell *bells[2 * RH_MAX_PORTS];
        uint32_t n = 0;
        for (uint32_t p = 0; p < desc->n_inputs; p++) {
            bells[n++] = &w->in[p]->not_empty;
            if (w->inline_in[p])
                bells[n++] = rh__queue_not_empty_bell(k->in_q[p]);
        }
        char *what = malloc(96);
        if (!what)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        snprintf(what, 96, "dispatch %s#%u", k->decl->name, i);
        rh_task t = {rh__worker_step, w, bells, n, what, 0};
        if (rh__reactor_add_task(w->reactor, &t) != 0) {
            free(what);
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int thread_plan(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    for (uint32_t i = 0; i < k->decl->workers; i++) {
        rh_reactor *r = dispatch_reactor(rt, k, err);
        if (!r)
            return err->code;
        char what[160];
        snprintf(what, sizeof what, "%s %s#%u", k->desc->run ? "run" : "dispatch", k->decl->name,
                 i);
        if (rh__reactor_plan_task(r, what) != 0)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    return 0;
}

const rh_exec_ops rh__exec_thread = {
    .name = "thread",
    .where = "a thread of the host",
    .caps = RH_EXEC_INPLACE | RH_EXEC_SWAP | RH_EXEC_RUN,
    .workers_alloc = thread_workers_alloc,
    .workers_free = thread_workers_free,
    .ring_mem = &rh__ring_mem_heap,
    .place = thread_place,
    .plan = thread_plan,
    /* Started with the reactors (runtime.c), synchronised by them
     * (rh__reactor_sync), watched by the watchdog's stall check, stopped
     * when they are joined: nothing of its own. */
};
