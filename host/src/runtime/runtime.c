/*
 * runtime.c — from a manifest to running threads, and the lifecycle.
 *
 * launch:  manifest -> plugins -> wiring (ports to queues, types checked by
 *          fingerprint) -> queues -> workers and rings -> bridges -> reactors
 *          (kernel_build.c) -> threads started, kernels inactive, init() run
 *          on their thread.
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

#include "base/clock.h"
#include "base/log.h"
#include "base/placement.h"
#include "base/struct_size.h"
#include "engine/acks.h"
#include "engine/engine.h"
#include "exec/exec.h"
#include "faults/faults.h"
#include "launch/launch.h"
#include "live/live.h"
#include "queue/queue_pvt.h"
#include "queue/type_registry.h"
#include "remote/remote.h"
#include "runtime/runtime.h"

/* ----------------------------------------------------------- launch ---- */

/* Each kernel's dead-letter queue (planned by the wiring, created with the
 * others), and its input types made known to the dead-letter codec so a
 * dead letter shows its payload as JSON (queue/type_registry.h). */
static void attach_dead_letter_queues(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        k->dlq = rt->qplan[k->dlq_plan].queue;
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            rh__type_registry_add(k->desc->inputs[p].type);
        for (uint32_t p = 0; p < k->desc->n_outputs; p++) /* undeliverable answers */
            rh__type_registry_add(k->desc->outputs[p].type);
    }
    rt->dlq_types_known = 1;
}

static void forget_dead_letter_types(rh_runtime *rt)
{
    for (uint32_t i = 0; rt->dlq_types_known && i < rt->n_kernels; i++)
    {
        for (uint32_t p = 0; p < rt->kernels[i].desc->n_inputs; p++)
            rh__type_registry_remove(rt->kernels[i].desc->inputs[p].type);
        for (uint32_t p = 0; p < rt->kernels[i].desc->n_outputs; p++)
            rh__type_registry_remove(rt->kernels[i].desc->outputs[p].type);
    }
    rt->dlq_types_known = 0;
}

static int start_reactors(rh_runtime *rt, rh_error *err)
{
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rh__reactor_start(rt->reactors[i]) != 0)
            return rh_error_set(err, RH_ESYS, "cannot start thread %s", rt->reactors[i]->name);
    for (uint32_t i = 0; i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        while (atomic_load(&r->ready) == 0) {
            struct timespec ts = rh_timespec_of_ns(100 * RH_NS_PER_US);
            nanosleep(&ts, NULL);
        }
        if (r->bind_error[0]) {
            if (rt->m->strict)
                return rh_error_set(err, RH_EPLACE, "thread %s: %s", r->name, r->bind_error);
            rh__log_event(rt->log, RH_LOG_WARN, "reactor.bind_failed",
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

int rh_runtime_launch(const char *manifest_path, const rh_launch_opts *caller_opts,
                      rh_runtime **out, rh_error *err)
{
    rh_error local;
    if (!err)
        err = &local;
    *out = NULL;
    rh_launch_opts full; /* read past the caller's struct_size nowhere below */
    int opts_rc = rh__launch_opts_in(caller_opts, &full, err);
    if (opts_rc != 0)
        return opts_rc;
    const rh_launch_opts *opts = &full;
    rh_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    rt->log = opts && opts->log ? opts->log : stderr;
    pthread_mutex_init(&rt->life_lock, NULL);
    rt->launch_ns = rh_now_ns();
    rt->state = RH_STATE_LAUNCHED;
    atomic_store(&rt->flow, RH_FLOW_PAUSED);
    int rc = rh__wiring_plan(rt, manifest_path, opts, err);
    if (rc == 0)
        rc = rh__wiring_create_queues(rt, err);
    if (rc == 0)
        attach_dead_letter_queues(rt);
    for (uint32_t i = 0; rc == 0 && i < rt->n_kernels; i++)
        rc = rh__kernel_build(rt, &rt->kernels[i], err);
    if (rc == 0)
        rc = start_reactors(rt, err);
    if (rc == 0)
        rc = rh__exec_start(rt, err); /* what an executor starts of its own (kernel processes) */
    if (rc == 0)
        rc = rh__remote_start(rt, err); /* links, streams, export and import bridges */
    if (rc == 0 && rh__watchdog_start(rt) != 0)
        rc = rh_error_set(err, RH_ESYS, "cannot start the watchdog thread: out of memory "
                                        "or threads (see ulimit -u)");
    if (rc != 0) {
        rh__log_event(rt->log, RH_LOG_ERROR, "runtime.launch_failed",
                      "manifest=%s ms=%.3f error=%s", manifest_path,
                      (double)(rh_now_ns() - rt->launch_ns) / (double)RH_NS_PER_MS, err->msg);
        rt->state = RH_STATE_LAUNCHED;
        rh_runtime_destroy(rt);
        return rc;
    }
    rh__log_event(rt->log, RH_LOG_INFO, "runtime.launch",
                  "instance=%s manifest=%s kernels=%u queues=%u threads=%u ms=%.3f",
                  rt->instance, manifest_path, rt->n_kernels, rt->n_queues, rt->n_reactors,
                  (double)(rh_now_ns() - rt->launch_ns) / (double)RH_NS_PER_MS);
    if (opts && opts->watch_plugins && rh__plugin_watch_start(rt, opts, err) != 0)
        rh__log_event(rt->log, RH_LOG_WARN, "plugin.watch_failed", "error=%s running=unwatched",
                      err->msg);
    if (opts && opts->report_bindings) {
        /* let each thread settle on its cpu */
        struct timespec ts = rh_timespec_of_ns(2 * RH_NS_PER_MS);
        nanosleep(&ts, NULL);
        rh_runtime_report_bindings(rt, rt->log);
    }
    *out = rt;
    return 0;
}

/* -------------------------------------------------------- lifecycle ---- */

/* How long activate/deactivate wait for every reactor to pass a batch
 * boundary before saying which one did not. */
#define RH_SYNC_TIMEOUT_NS (5 * RH_NS_PER_S)

static int set_flow(rh_runtime *rt, int flow, uint64_t deadline_ns, rh_error *err)
{
    atomic_store_explicit(&rt->flow, flow, memory_order_release);
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        rh__bell_wake_all(&rt->reactors[i]->bell);
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rh__reactor_sync(rt->reactors[i], deadline_ns) != 0)
            return rh_error_set(err, RH_ETIMEDOUT,
                                "thread %s did not reach a batch boundary in time (a kernel is "
                                "still inside process()); the change applies when it returns",
                                rt->reactors[i]->name);
    const char *who = "";
    if (rh__exec_sync(rt, NULL, deadline_ns, &who) != 0)
        return rh_error_set(err, RH_ETIMEDOUT,
                            "kernel %s did not reach a batch boundary in time where it runs "
                            "(it is still inside process()); the change applies when it returns",
                            who);
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
    rh__log_event(rt->log, rc ? RH_LOG_WARN : RH_LOG_INFO, "runtime.activate",
                  "instance=%s ms=%.3f synced=%s", rt->instance,
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS, rc ? "no" : "yes");
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
    rh__log_event(rt->log, rc ? RH_LOG_WARN : RH_LOG_INFO, "runtime.deactivate",
                  "instance=%s ms=%.3f synced=%s", rt->instance,
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS, rc ? "no" : "yes");
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
    uint64_t deadline = t0 + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * RH_NS_PER_MS;
    rh__remote_stop_imports(rt); /* no more intake from JetStream either */
    set_flow(rt, RH_FLOW_DRAINING, deadline, NULL);
    int drained = 0;
    while (!(drained = rh__runtime_is_quiet(rt, 0)) && rh_now_ns() < deadline) {
        struct timespec ts = rh_timespec_of_ns(200 * RH_NS_PER_US);
        nanosleep(&ts, NULL);
    }
    atomic_store(&rt->flow, RH_FLOW_STOPPED);
    rh__watchdog_stop(rt);
    /* a thread that must still leave process() gets a grace (engine.h) */
    uint64_t join_by = (rh_now_ns() > deadline ? rh_now_ns() : deadline) + RH_STOP_GRACE_NS;
    const char *stuck = NULL;
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rh__reactor_stop_join(rt->reactors[i], join_by) != 0 && !stuck)
            stuck = rt->reactors[i]->name;
    /* The threads are gone: what output rings still hold (their queue
     * full, nobody reading) goes to its queue if it now fits, else to the
     * dead-letter queue as undeliverable, before the accounting counts it
     * and before persist inputs are acked for it. */
    if (!stuck) {
        rh__out_bridges_flush_at_stop(rt);
        rh__in_bridges_ack_finished(rt); /* persist queues: what the drain finished */
    }
    /* What the kernels answered leaves through the exports: published and
     * acked by JetStream within the same deadline (at least a second). */
    rh__remote_stop_exports(rt, deadline > rh_now_ns() + RH_NS_PER_S
                                    ? deadline
                                    : rh_now_ns() + RH_NS_PER_S);
    rt->state = RH_STATE_TERMINATED;
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        rt->kernels[i].state = RH_STATE_TERMINATED;
    rh__log_event(rt->log, stuck || !drained ? RH_LOG_WARN : RH_LOG_INFO, "runtime.terminate",
                  "instance=%s ms=%.3f drained=%s stuck=%s uptime_ms=%.3f", rt->instance,
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS, drained ? "yes" : "no",
                  stuck ? stuck : "-",
                  (double)(rh_now_ns() - rt->launch_ns) / (double)RH_NS_PER_MS);
    rh_runtime_report_summary(rt, rt->log);
    rh__log_flush_suppressed(); /* what the log left out, before the accounting */
    rt->unbalanced = rh_runtime_report_accounting(rt, rt->log);
    rt->unbalanced += rh__remote_report_accounting(rt, rt->log);
    if (stuck)
        return rh_error_set(err, RH_ETIMEDOUT,
                            "terminate: thread %s did not stop within %d ms (a kernel is stuck "
                            "in process()); it was left running and its memory is kept",
                            stuck, timeout_ms);
    if (!drained) {
        uint64_t undeliverable = 0;
        for (uint32_t i = 0; i < rt->n_kernels; i++)
            for (uint32_t p = 0; p < rt->kernels[i].desc->n_outputs; p++)
                undeliverable += atomic_load(&rt->kernels[i].out_bridges[p].undeliverable);
        if (undeliverable)
            return rh_error_set(err, RH_ETIMEDOUT,
                                "terminate: kernel rings not drained within %d ms: an output "
                                "queue stayed full, so %llu answer(s) were dead-lettered as "
                                "undeliverable (see the accounting lines; read the output "
                                "queue, or give it more capacity)",
                                timeout_ms, (unsigned long long)undeliverable);
        return rh_error_set(err, RH_ETIMEDOUT,
                            "terminate: kernel rings not drained within %d ms; see the counts "
                            "above",
                            timeout_ms);
    }
    return 0;
}

int rh_runtime_terminate(rh_runtime *rt, int timeout_ms, rh_error *err)
{
    rh__plugin_watch_stop(rt); /* no swap starts once terminating (it takes the lock) */
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
    rh__plugin_watch_stop(rt); /* no swap may start while we take it down */
    rh__watchdog_stop(rt);
    if (rt->state != RH_STATE_TERMINATED && rt->n_reactors) {
        atomic_store(&rt->flow, RH_FLOW_STOPPED);
        for (uint32_t i = 0; i < rt->n_reactors; i++)
            rh__reactor_stop_join(rt->reactors[i], rh_now_ns() + RH_NS_PER_S);
    }
    rh__remote_free(rt); /* its threads use the queues: gone before they close */
    /* A stuck thread still runs kernel code over our rings, queues and the
     * plugin's text: freeing any of it would turn a hung kernel into a crash.
     * Keep it all (a deliberate leak, once, at shutdown). */
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        if (rt->reactors[i]->stuck) {
            rh__log_event(rt->log, RH_LOG_ERROR, "reactor.stuck",
                          "thread=%s memory=kept", rt->reactors[i]->name);
            for (uint32_t q = 0; q < rt->n_queues; q++)
                if (!rh_runtime_queue_borrowed(rt, q))
                    rh__queue_unlink(rt->queues[q]); /* the names go, the mappings stay */
            return;
        }
    for (uint32_t i = 0; i < rt->n_reactors; i++)
        rh__reactor_free(rt->reactors[i]);
    free(rt->reactors);
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh__kernel_fini(&rt->kernels[i]);
        rh__exec_free(&rt->kernels[i]); /* its workers and its executor's state */
    }
    forget_dead_letter_types(rt); /* before their plugins are unloaded below */
    free(rt->kernels);
    for (uint32_t i = 0; i < rt->n_queues; i++)
        if (!rh_runtime_queue_borrowed(rt, i)) /* another runtime's: it closes it */
            rh_queue_close(rt->queues[i]);
    free(rt->queues);
    free(rt->qplan);
    rh__plugin_set_free(&rt->plugins);
    rh__hotswap_free(rt);
    rh__manifest_free(rt->m);
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

struct json_t *rh__runtime_links_json(rh_runtime *rt)
{
    return rh__remote_stats_json(rt);
}

void rh__runtime_set_peers(rh_runtime *rt, rh_runtime *const *peers)
{
    rt->peers = peers;
}

/* ------------------------------------------------------- releasing ---- */

int rh__runtime_kernels_done(rh_runtime *rt, char *why, size_t len)
{
    int done = 1;
    if (!rt->n_kernels) { /* queues only: they serve whoever launches next */
        snprintf(why, len, "no kernels");
        return 0;
    }
    pthread_mutex_lock(&rt->life_lock);
    for (uint32_t i = 0; done > 0 && i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        const char *name = k->decl->name;
        if (k->state != RH_STATE_TERMINATED) {
            snprintf(why, len, "kernel %s is %s", name, rh_state_name(k->state));
            pthread_mutex_unlock(&rt->life_lock);
            return 0;
        }
        for (uint32_t w = 0; done > 0 && w < k->n_workers; w++)
            if (!atomic_load_explicit(&k->workers[w].finished, memory_order_acquire)) {
                snprintf(why, len, "kernel %s: worker %u did not finish (fini() not run: "
                         "stuck in process()?)", name, w);
                done = -1;
            }
        if (done > 0 && !rh__kernel_is_quiet(k, 0)) {
            snprintf(why, len, "kernel %s: messages left in its rings or a worker inside "
                     "process()", name);
            done = -1;
        }
    }
    pthread_mutex_unlock(&rt->life_lock);
    return done;
}

int rh__runtime_queues_needed(rh_runtime *rt, char *why, size_t len)
{
    for (uint32_t i = 0; i < rt->n_queues; i++) {
        rh_queue *q = rt->queues[i];
        if (rh_runtime_queue_borrowed(rt, i))
            continue; /* another runtime's: it stays with that one */
        rh_queue_stats s = RH_QUEUE_STATS_INIT;
        rh_queue_stats_get(q, &s);
        /* a persist queue keeps its messages when closed: they wait for
         * the next launch, as at shutdown */
        if (s.depth && !rh__queue_is_persist(q)) {
            snprintf(why, len, "queue %s holds %llu message(s)", rh_queue_name(q),
                     (unsigned long long)s.depth);
            return 1;
        }
        for (rh_runtime *const *p = rt->peers; p && *p; p++)
            for (uint32_t j = 0; *p != rt && j < (*p)->n_queues; j++)
                if ((*p)->queues[j] == q) {
                    snprintf(why, len, "queue %s is used by kernels of another manifest (%s)",
                             rh_queue_name(q), (*p)->m ? (*p)->m->path : "?");
                    return 1;
                }
    }
    return 0;
}

void rh__runtime_release(rh_runtime *rt)
{
    rh__runtime_hand_over_intake(rt);
    rh_runtime_destroy(rt);
}
