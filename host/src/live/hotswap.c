/*
 * hotswap.c — replacing a running kernel's plugin with a new build of it.
 *
 * The new file is loaded beside the old one (a private copy: plugin.c says
 * why), checked against the running kernel (same name, same ports in the
 * same order, same message types), and swapped in at a batch boundary:
 *
 *   1. the kernel pauses (rh__kernel_set_flow): no worker is inside
 *      process(), and its input bridges stop taking from its queues;
 *   2. the new init() runs on each worker's own thread (rh__worker_call);
 *      if any fails, the new states already made are finished with the new
 *      fini() and the swap is refused: the old version never noticed;
 *   3. on each worker's thread the old fini() runs and the new state takes
 *      its place; the kernel's descriptor and plugin switch; the kernel
 *      resumes in the flow it had.
 *
 * Messages are never touched: what waits in the kernel's rings and queues
 * stays there and is processed by the new version, and what the old
 * version emitted was already in its output rings, which flow in every
 * state.  So nothing is lost or processed twice.
 *
 * Which builds stay loaded.  The build the kernel was launched with stays
 * until the runtime is destroyed: the input bridges' type descriptors and
 * the queues' types point into it (the new types have the same fingerprint,
 * so they describe the same bytes), and other kernels may run it.  A build
 * a swap loaded is referred to by nothing but k->desc and k->plugin (no
 * bridge, queue or registry entry keeps its types: the dead-letter
 * registry switches at the swap), and once replaced no thread runs its
 * code: the old fini() ran on each worker's thread and every step reads
 * k->desc afresh after the resume.  It is unloaded at the kernel's next
 * swap, not at once: rh_runtime_kernel_info hands out its name, version and
 * path strings, which a ps on another thread (the control socket's, while
 * the plugin watcher swaps) may still be copying.  So a kernel holds at
 * most two swap builds, the running one and the one before, however often
 * it is swapped (tests/integration/test_cli_hotswap_release.c).  A plugin
 * that starts threads of its own running its code after fini() breaks
 * this; kernel.h forbids it (the comment on rh_kernel_desc.fini).
 *
 * Threads: reload runs on the caller's thread (the plugin watcher, or the
 * control path) under rt->life_lock, which every other lifecycle call and
 * rh_runtime_kernel_info take too.  The reactors read k->desc only while
 * the kernel runs, after reading its flow (acquire): the switch is
 * published by the release store that resumes it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "live/live.h"
#include "queue/type_registry.h"

/* How long the kernel may take to reach a batch boundary, and each init(). */
#define SWAP_SYNC_NS (5 * RH_NS_PER_S)

/* A plugin loaded by a swap (from its private copy). */
typedef struct rh_swap_plugin {
    rh_plugin p;
    const rh_kinst *kernel;  /* the kernel it was loaded for */
    int replaced;            /* a later swap replaced it: unloaded at the next one */
    struct rh_swap_plugin *next;
} rh_swap_plugin;

static const char *version_of(const rh_kernel_desc *d)
{
    return d && d->version && d->version[0] ? d->version : "?";
}

/* RH_ETYPE naming the first port whose name or type differs, or 0. */
static int ports_match(const char *dir, const rh_port *a, uint32_t na, const rh_port *b,
                       uint32_t nb, rh_error *err)
{
    if (na != nb)
        return rh_error_set(err, RH_ETYPE, "the running version has %u %s port(s), the new "
                                           "one %u", na, dir, nb);
    for (uint32_t i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) != 0)
            return rh_error_set(err, RH_ETYPE, "%s[%u] is \"%s\" in the running version, "
                                               "\"%s\" in the new one", dir, i, a[i].name,
                                b[i].name);
        const rh_type *ta = a[i].type, *tb = b[i].type;
        if (ta->fingerprint != tb->fingerprint || ta->size != tb->size ||
            strcmp(ta->name, tb->name) != 0)
            return rh_error_set(err, RH_ETYPE,
                                "%s port \"%s\": the running version carries %s (fingerprint "
                                "%016llx, %u bytes), the new one %s (fingerprint %016llx, %u "
                                "bytes)", dir, a[i].name, ta->name,
                                (unsigned long long)ta->fingerprint, (unsigned)ta->size,
                                tb->name, (unsigned long long)tb->fingerprint,
                                (unsigned)tb->size);
    }
    return 0;
}

/* Can `now` (running) be replaced by `next` without touching the wiring?
 * The queues, rings and bridges were built for now's ports: every one
 * must mean the same thing to next. */
static int compatible(const rh_kernel_desc *now, const rh_kernel_desc *next, rh_error *err)
{
    if (strcmp(now->name, next->name) != 0)
        return rh_error_set(err, RH_ETYPE, "the new file declares kernel \"%s\", the running "
                                           "one is \"%s\"", next->name, now->name);
    if (!next->process)
        return rh_error_set(err, RH_ETYPE, "the new version provides run() instead of "
                                           "process(); a run() kernel cannot be swapped in");
    int rc = ports_match("inputs", now->inputs, now->n_inputs, next->inputs, next->n_inputs, err);
    if (rc)
        return rc;
    return ports_match("outputs", now->outputs, now->n_outputs, next->outputs, next->n_outputs,
                       err);
}

/* What each worker's thread does, and what it reports back. */
typedef struct swap_job {
    const rh_kernel_desc *next;
    void **states;   /* one new state per worker */
    int *init_rc;    /* one init() result per worker */
} swap_job;

static void run_new_init(rh_worker *w, void *arg)
{
    swap_job *j = arg;
    void *state = NULL;
    j->init_rc[w->index] =
        j->next->init ? j->next->init(&w->ctx, w->kernel->decl->config_json, &state) : 0;
    j->states[w->index] = state;
}

static void run_new_fini(rh_worker *w, void *arg)
{
    swap_job *j = arg;
    if (j->next->fini)
        j->next->fini(&w->ctx, j->states[w->index]);
}

/* The commit on the worker's own thread: the old version's last call, and
 * the new state from here on. */
static void run_commit(rh_worker *w, void *arg)
{
    swap_job *j = arg;
    if (w->init_rc == 0 && w->kernel->desc->fini)
        w->kernel->desc->fini(&w->ctx, w->state);
    w->state = j->states[w->index];
    w->init_rc = 0;
}

/* Count and log a refusal; returns rc (err already says why). */
static int refuse(rh_kinst *k, int rc, rh_error *err)
{
    atomic_fetch_add_explicit(&k->swaps_refused, 1, memory_order_relaxed);
    rh__log_event(k->rt->log, RH_LOG_WARN, "kernel.swap_refused",
                  "kernel=%s file=%s running=%s reason=%s", k->decl->name,
                  k->plugin ? k->plugin->path : "", version_of(k->desc), err->msg);
    return rc;
}

static void drop_plugin(rh_swap_plugin *sp)
{
    rh__plugin_close(&sp->p);
    free(sp);
}

/* After k's swap from `was`: unload k's builds replaced by an earlier swap
 * (nothing runs them, and a ps had a whole swap's time to copy their
 * strings), and mark `was` replaced if a swap loaded it.  Returns how many
 * were unloaded. */
static unsigned unload_replaced(rh_runtime *rt, const rh_kinst *k, const rh_plugin *was)
{
    unsigned n = 0;
    for (rh_swap_plugin **at = &rt->swapped; *at;) {
        rh_swap_plugin *sp = *at;
        if (sp->kernel == k && sp->replaced) {
            *at = sp->next;
            drop_plugin(sp);
            n++;
            continue;
        }
        if (&sp->p == was)
            sp->replaced = 1;
        at = &sp->next;
    }
    return n;
}

/* Run fn on w's thread, however long it takes: once a swap is decided, a
 * worker left out would run one build's process() with the other's state.
 * Another op pending for w (a restart's) is waited out, not skipped. */
static void call_until_done(rh_worker *w, void (*fn)(rh_worker *, void *), swap_job *job)
{
    rh_worker_op op = {fn, job, 0};
    while (rh__worker_call(w, &op, UINT64_MAX) != 0) {
        struct timespec ts = rh_timespec_of_ns(RH_NS_PER_MS);
        nanosleep(&ts, NULL);
    }
}

/* Steps 2 and 3 (the kernel is paused): 0, or the refusal in err. */
static int swap_paused(rh_kinst *k, const rh_kernel_desc *next, rh_error *err)
{
    swap_job job = {next, calloc(k->n_workers, sizeof(void *)),
                    calloc(k->n_workers, sizeof(int))};
    if (!job.states || !job.init_rc) {
        free(job.states);
        free(job.init_rc);
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    uint32_t made = 0;
    int rc = 0;
    for (; made < k->n_workers; made++) {
        rh_worker_op op = {run_new_init, &job, 0};
        int crc = rh__worker_call(&k->workers[made], &op, rh_now_ns() + SWAP_SYNC_NS);
        if (crc != 0) {
            rc = crc == RH_ESTATE
                     ? rh_error_set(err, RH_ESTATE, "worker %u is busy with another operation "
                                                    "(a restart?); try again", made)
                     : rh_error_set(err, RH_ETIMEDOUT, "worker %u did not reach a batch "
                                                       "boundary in 5 s to run the new init()",
                                    made);
            break;
        }
        if (job.init_rc[made] != 0) {
            rc = rh_error_set(err, RH_EPLUGIN, "the new version's init() returned %d on "
                                               "worker %u with config %s", job.init_rc[made],
                              made, k->decl->config_json);
            made++; /* its init ran: no state to finish, but counted as tried */
            break;
        }
    }
    if (rc) {
        /* The old version keeps running: finish what the new one made. */
        for (uint32_t i = 0; i < made; i++)
            if (job.init_rc[i] == 0)
                call_until_done(&k->workers[i], run_new_fini, &job);
    } else {
        /* Every worker has its new state: commit each on its own thread
         * (paused, at a batch boundary: it runs at its next step). */
        for (uint32_t i = 0; i < k->n_workers; i++)
            call_until_done(&k->workers[i], run_commit, &job);
    }
    free(job.states);
    free(job.init_rc);
    return rc;
}

static int reload_locked(rh_runtime *rt, const char *kernel, rh_error *err)
{
    rh_error local;
    if (!err)
        err = &local;
    rh_kinst *k = rh__runtime_kernel_find(rt, kernel);
    if (!k)
        return rh_error_set(err, RH_ENOENT, "no kernel \"%s\" in instance %s", kernel ? kernel : "",
                            rt->instance);
    uint64_t t0 = rh_now_ns();
    if (rt->state == RH_STATE_TERMINATED || k->state == RH_STATE_TERMINATED)
        return refuse(k, rh_error_set(err, RH_ESTATE, "kernel %s is terminated; launch it again "
                                                      "instead", k->decl->name), err);
    if (k->desc->run)
        return refuse(k, rh_error_set(err, RH_ESTATE, "kernel %s provides run(), which owns its "
                                                      "thread and has no batch boundary to swap "
                                                      "at; restart the host to replace it",
                                      k->decl->name), err);
    if (!(k->exec->caps & RH_EXEC_SWAP))
        return refuse(k, rh_error_set(err, RH_ESTATE, "kernel %s %s", k->decl->name,
                                      k->exec->no_swap_why), err);
    rh_swap_plugin *sp = calloc(1, sizeof *sp);
    if (!sp)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    int rc = rh__plugin_reopen_copy(k->plugin, &sp->p, err);
    if (rc == 0)
        rc = compatible(k->desc, sp->p.desc, err);
    if (rc != 0) {
        drop_plugin(sp);
        return refuse(k, rc, err);
    }
    const rh_kernel_desc *old = k->desc, *next = sp->p.desc;

    int prev = atomic_load_explicit(&k->kflow, memory_order_acquire);
    if (rh__kernel_set_flow(k, RH_KFLOW_PAUSED, rh_now_ns() + SWAP_SYNC_NS) != 0) {
        rh__kernel_set_flow(k, prev, rh_now_ns() + SWAP_SYNC_NS);
        drop_plugin(sp);
        return refuse(k, rh_error_set(err, RH_ETIMEDOUT, "kernel %s did not reach a batch "
                                                         "boundary in 5 s (inside process())",
                                      k->decl->name), err);
    }
    if ((rc = swap_paused(k, next, err)) != 0) {
        rh__kernel_set_flow(k, prev, rh_now_ns() + SWAP_SYNC_NS);
        drop_plugin(sp);
        return refuse(k, rc, err);
    }
    /* The dead-letter codec shows payloads with the running version's
     * types (added before the old ones go, so the count never hits 0). */
    for (uint32_t p = 0; rt->dlq_types_known && p < next->n_inputs; p++)
        rh__type_registry_add(next->inputs[p].type);
    for (uint32_t p = 0; rt->dlq_types_known && p < old->n_inputs; p++)
        rh__type_registry_remove(old->inputs[p].type);
    const rh_plugin *was = k->plugin;
    /* Release: a bridge thread reads the pointer without the lock (acks.c). */
    __atomic_store_n(&k->desc, next, __ATOMIC_RELEASE);
    k->plugin = &sp->p;
    sp->kernel = k;
    sp->next = rt->swapped;
    rt->swapped = sp;
    atomic_fetch_add_explicit(&k->swaps, 1, memory_order_relaxed);
    /* Resume: the release store publishes desc and plugin to the steps. */
    rh__kernel_set_flow(k, prev, rh_now_ns() + SWAP_SYNC_NS);
    unsigned unloaded = unload_replaced(rt, k, was);
    rh__log_event(rt->log, RH_LOG_INFO, "kernel.swap",
                  "kernel=%s file=%s from=%s to=%s workers=%u ms=%.3f unloaded=%u",
                  k->decl->name, sp->p.path, version_of(old), version_of(next), k->n_workers,
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS, unloaded);
    return 0;
}

int rh_runtime_kernel_reload(rh_runtime *rt, const char *kernel, rh_error *err)
{
    pthread_mutex_lock(&rt->life_lock);
    int rc = reload_locked(rt, kernel, err);
    pthread_mutex_unlock(&rt->life_lock);
    return rc;
}

void rh__hotswap_free(rh_runtime *rt)
{
    while (rt->swapped) {
        rh_swap_plugin *sp = rt->swapped;
        rt->swapped = sp->next;
        drop_plugin(sp);
    }
}
