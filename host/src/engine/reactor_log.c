/*
 * reactor_log.c — what a reactor thread tells the operator's log (log.h)
 * about itself: its start (binding and tasks) and its exit (counts).
 */
#include "engine/reactor_log.h"

#include <stdatomic.h>
#include <stdio.h>

#include "base/log.h"
#include "base/wait.h"

/* "dispatch vadd#0; bridge vadd.in -> vadd.in" : what this thread runs. */
static void tasks_string(const rh_reactor *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (uint32_t t = 0; t < r->n_tasks && len + 1 < cap; t++) {
        int n = snprintf(buf + len, cap - len, "%s%s", t ? "; " : "", r->tasks[t].what);
        len += n > 0 ? (size_t)n : 0;
    }
    if (r->run_kernel && r->n_workers && len + 1 < cap)
        snprintf(buf + len, cap - len, "%srun %s#%u", len ? "; " : "",
                 r->workers[0]->kernel->decl->name, r->workers[0]->index);
}

/* reactor.start: the thread's name, the cpus it asked for, the cpu it runs
 * on, whether binding worked (and why not), and what it runs; then one
 * task.start per task at debug.  Written by the thread itself, once bound,
 * so "reactor.start" in the log means the thread did start. */
void rh__reactor_log_start(const rh_reactor *r)
{
    if (!rh__log_enabled(RH_LOG_INFO))
        return;
    char tasks[512];
    tasks_string(r, tasks, sizeof tasks);
    const char *bind = !r->key[0] ? "unpinned" : r->bind_error[0] ? "failed" : "ok";
    if (r->bind_error[0])
        rh__log_event(r->rt->log, RH_LOG_INFO, "reactor.start",
                      "thread=%s cpus=%s cpu=%d bind=%s bind_error=%s wait=%s tasks=%s",
                      r->name, r->key[0] ? r->key : "any", atomic_load(&r->last_cpu), bind,
                      r->bind_error, rh__wait_name(r->wait), tasks);
    else
        rh__log_event(r->rt->log, RH_LOG_INFO, "reactor.start",
                      "thread=%s cpus=%s cpu=%d bind=%s wait=%s tasks=%s", r->name,
                      r->key[0] ? r->key : "any", atomic_load(&r->last_cpu), bind,
                      rh__wait_name(r->wait), tasks);
    for (uint32_t t = 0; t < r->n_tasks; t++)
        rh__log_event(r->rt->log, RH_LOG_DEBUG, "task.start", "thread=%s task=%s cpu=%d",
                      r->name, r->tasks[t].what, atomic_load(&r->last_cpu));
}

static void log_in_bridge_exit(const rh_reactor *r, const rh_in_bridge *b, const char *mode)
{
    rh__log_event(r->rt->log, RH_LOG_INFO, "bridge.exit",
                  "thread=%s bridge=in mode=%s queue=%s kernel=%s port=%s moved=%llu", r->name,
                  mode, rh_queue_name(b->queue), b->kernel->decl->name,
                  b->kernel->desc->inputs[b->port].name,
                  (unsigned long long)atomic_load(&b->moved));
}

/* reactor.exit with its loop count, then one line per task with its
 * counts: bridge.exit (moved; sent, refused, undeliverable, repeated) and worker.exit
 * (processed, failed, emitted, batches). */
void rh__reactor_log_exit(const rh_reactor *r, int init_failed)
{
    if (!rh__log_enabled(RH_LOG_INFO))
        return;
    FILE *log = r->rt->log;
    rh__log_event(log, RH_LOG_INFO, "reactor.exit", "thread=%s loops=%llu tasks=%u init=%s",
                  r->name, (unsigned long long)atomic_load(&r->loops), r->n_tasks,
                  init_failed ? "failed" : "ok");
    for (uint32_t t = 0; t < r->n_tasks; t++) {
        const rh_task *task = &r->tasks[t];
        if (task->step == rh__in_bridge_task) {
            log_in_bridge_exit(r, task->arg, "thread");
        } else if (task->step == rh__out_bridge_task) {
            const rh_out_bridge *b = task->arg;
            rh__log_event(log, RH_LOG_INFO, "bridge.exit",
                          "thread=%s bridge=out queue=%s kernel=%s port=%s sent=%llu "
                          "refused=%llu undeliverable=%llu repeated=%llu", r->name,
                          rh_queue_name(b->queue), b->kernel->decl->name,
                          b->kernel->desc->outputs[b->port].name,
                          (unsigned long long)atomic_load(&b->sent),
                          (unsigned long long)atomic_load(&b->refused),
                          (unsigned long long)atomic_load(&b->undeliverable),
                          (unsigned long long)atomic_load(&b->duplicates));
        }
    }
    for (uint32_t i = 0; i < r->n_workers; i++) {
        const rh_worker *w = r->workers[i];
        for (uint32_t p = 0; p < RH_MAX_PORTS; p++)
            if (w->inline_in[p])
                log_in_bridge_exit(r, w->inline_in[p], "inline");
        rh__log_event(log, RH_LOG_INFO, "worker.exit",
                      "thread=%s kernel=%s worker=%u processed=%llu failed=%llu emitted=%llu "
                      "batches=%llu", r->name, w->kernel->decl->name, w->index,
                      (unsigned long long)atomic_load(&w->processed),
                      (unsigned long long)atomic_load(&w->failed),
                      (unsigned long long)atomic_load(&w->emitted),
                      (unsigned long long)atomic_load(&w->batches));
    }
}
