/*
 * exec_process.c — the process executor, "isolation": "process": a kernel
 * whose crash does not take the host down.
 *
 * The kernel's workers and their input and output rings live in
 * MAP_SHARED|MAP_ANONYMOUS memory (proc_workers_alloc, rh__ring_mem_shared),
 * and so does this executor's own state of each worker (proc_worker: the
 * flow the child follows, its bell, its pid), and each worker's step runs
 * in a child fork()ed from the host after they exist, so parent and child
 * see the same rings, counters, heartbeat and busy flag at the same
 * addresses; the ring bells are shared futexes, so
 * the host's pumps and the child wake each other.  The pumps stay in the
 * host ("bridge": "thread"), and the child runs nothing but the kernel's
 * loop: init(), rh__worker_step() until told to stop, fini().  It writes its
 * log lines to a stream of its own and dead-letters into the shared
 * dead-letter queue, which is why the kernel's input queues and its
 * dead-letter queue must be shared.
 *
 * The watchdog thread supervises (proc_supervise, every 10 ms at
 * most): it mirrors the kernel's flow into the shared flow word (the
 * child's own copy of the runtime is frozen at the fork), reaps a child
 * that died, SIGKILLs one stalled past watchdog_ms, and forks a new one
 * once the restart backoff (engine/restart.c) has passed.  A child that dies
 * inside process() leaves its batch unreleased at the tail of its input
 * ring (batch_n says how many, next_port which ring): each message of it is
 * marked RH_ENV_RETRIED and the next child takes them one at a time (solo);
 * a retried message whose child dies again is poison: dead-lettered with
 * the reason, counted failed, released.  Outputs of a batch that died were
 * not committed (dispatch.c commits after process() returns) unless the
 * output ring filled up within the batch: only then can a retried message
 * be answered twice.
 *
 * Lifecycle calls (deactivate, terminate, activate) do not wait for the
 * supervisor: proc_sync hands the flow to each child, rings its
 * bell and waits until the child read it between batches, so a paused
 * kernel process takes nothing more once deactivate returns.  A child that
 * reaches restart.failed_batches leaves between batches (fini(), status
 * CHILD_EXIT_RESTART: the engine sets leave_for_restart, as
 * restart_by_leaving asks) and the supervisor restarts it like a crashed
 * one, minus the retry (its failed batches were dead-lettered).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "exec/exec.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"


#define INIT_WAIT_NS (10000ull * RH_NS_PER_MS) /* a child's init() at launch */
/* A child's exit status when restart.failed_batches failed batches in a row
 * ask for a restart (it ran fini() first); 3 is an init() that failed. */
#define CHILD_EXIT_RESTART 4

/* This executor's state of one worker, in shared memory beside it
 * (k->exec_state: one per worker, by index).  flow, flow_gen and bell are
 * written by the parent; flow_seen and ready by the child; pid and
 * spawned_batches by the parent. */
typedef struct proc_worker {
    _Atomic int flow;           /* RH_FLOW_* the child follows */
    rh_bell bell;               /* rung when flow changes (shared futex) */
    _Atomic int pid;            /* 0 = no child running */
    _Atomic int ready;          /* 0 starting, 1 init() returned 0, -1 it failed */
    uint64_t spawned_batches;   /* the worker's batches when the child started */
    /* A flow change the parent waits for (proc_sync): it bumps flow_gen
     * after writing flow; the child copies it into flow_seen at the top
     * of its loop, between batches, after reading flow. */
    _Atomic uint32_t flow_gen;
    _Atomic uint32_t flow_seen;
} proc_worker;

static proc_worker *proc_of(const rh_worker *w)
{
    return &((proc_worker *)w->kernel->exec_state)[w->index];
}

/* Serialises what a child is told at its fork with a flow change
 * (proc_sync): the supervisor holds it for a whole pass over a kernel (its
 * mirror of the flow, its forks), so a child forked as a kernel is paused
 * either reads the pause at its fork or is counted by the sync's wait, and
 * the supervisor never writes back an older flow over the sync's. */
static pthread_mutex_t iso_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------ memory -- */

static void *shared_alloc(size_t len)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m; /* zeroed */
}

static rh_worker *proc_workers_alloc(uint32_t n)
{
    return shared_alloc((size_t)n * sizeof(rh_worker));
}

static void proc_workers_free(rh_worker *w, uint32_t n)
{
    munmap(w, (size_t)n * sizeof(rh_worker));
}

/* The launch's checks: what a kernel in a child process needs. */
static int check_isolated(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    for (uint32_t p = 0; p <= k->desc->n_inputs; p++) {
        rh_queue *q = p < k->desc->n_inputs ? k->in_q[p] : k->dlq;
        if (q && !rh_queue_config_of(q)->shared)
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: kernels[%u].isolation: queue %s is not shared, but kernel "
                                "%s runs in a child process that counts and dead-letters into it "
                                "(declare it with \"shared\": true)",
                                rt->m->path, k->index, rh_queue_name(q), k->decl->name);
    }
    return 0;
}

/* Its state beside the workers; on no reactor (its step runs in its own
 * process), restarts by leaving (the supervisor reaps and forks again). */
static int proc_place(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    int rc = check_isolated(rt, k, err);
    if (rc)
        return rc;
    proc_worker *pw = shared_alloc((size_t)k->n_workers * sizeof *pw);
    if (!pw)
        return rh_error_set(err, RH_ENOMEM, "kernel %s: cannot map its process state",
                            k->decl->name);
    for (uint32_t i = 0; i < k->n_workers; i++)
        rh__bell_init(&pw[i].bell, 1);
    k->exec_state = pw;
    k->restart_by_leaving = 1;
    return 0;
}

static int proc_plan(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    (void)rt, (void)k, (void)err;
    return 0; /* no thread of the host: its step runs in a child */
}

static void proc_release(rh_kinst *k)
{
    if (k->exec_state)
        munmap(k->exec_state, (size_t)k->n_workers * sizeof(proc_worker));
    k->exec_state = NULL;
}

/* ------------------------------------------------------------- child -- */

/* The child's stream: a dup of the host's log descriptor (the host stream's
 * lock may have been held by another thread at the fork). */
static FILE *child_log(FILE *host)
{
    int fd = host ? fileno(host) : -1;
    if (fd >= 0) {
        int d = dup(fd);
        FILE *f = d >= 0 ? fdopen(d, "a") : NULL;
        if (f)
            return f;
    }
    return fopen("/dev/null", "w");
}

/* The child: this kernel's loop and nothing else.  Never returns. */
static void child_main(rh_worker *w, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(9); /* the host died before the line above */
    /* A fault kills this process, whatever handler the program embedding
     * the host installed (it would run here, in a copy of that program). */
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        signal(faults[i], SIG_DFL);
    rh_kinst *k = w->kernel;
    proc_worker *pw = proc_of(w);
    rh_runtime *rt = k->rt; /* our copy: only flow and log are used */
    rt->log = child_log(rt->log);
    /* Restarts are the parent's business: this copy of the kernel's
     * settings makes the step never restart in here.  failed_batches stays:
     * rh__worker_after_call counts the row here and sets leave_for_restart
     * (restart_by_leaving), and this loop exits for the parent to restart
     * it. */
    rh_kernel_decl *d = (rh_kernel_decl *)k->decl;
    d->watchdog_ms = 0;
    atomic_store(&k->kflow, RH_KFLOW_RUN);
    w->state = NULL;
    w->init_rc = k->desc->init ? k->desc->init(&w->ctx, d->config_json, &w->state) : 0;
    atomic_store(&pw->ready, w->init_rc ? -1 : 1);
    if (w->init_rc)
        _exit(3);
    int code = 0;
    for (;;) {
        /* A batch boundary: the flow now, and tell the parent we read it. */
        uint32_t gen = atomic_load_explicit(&pw->flow_gen, memory_order_acquire);
        int f = atomic_load_explicit(&pw->flow, memory_order_acquire);
        atomic_store_explicit(&rt->flow, f, memory_order_release);
        atomic_store_explicit(&pw->flow_seen, gen, memory_order_release);
        if (f == RH_FLOW_STOPPED)
            break;
        if (atomic_load_explicit(&w->leave_for_restart, memory_order_relaxed)) {
            code = CHILD_EXIT_RESTART;
            break;
        }
        if (rh__worker_step(w) > 0)
            continue;
        /* Idle: sleep on the input rings and the control bell. */
        rh_bell *bells[RH_MAX_PORTS + 1];
        uint32_t n = 0, queued = 0;
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            bells[n++] = &w->in[p]->not_empty;
        bells[n++] = &pw->bell;
        rh_sleep s;
        rh__sleep_prepare(&s, bells, n);
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            queued += rh__ring_count(w->in[p]);
        if ((queued && f != RH_FLOW_PAUSED) || atomic_load(&pw->flow) != f)
            rh__sleep_cancel(&s);
        else
            rh__sleep_commit(&s, 50 * (int64_t)RH_NS_PER_MS);
    }
    if (k->desc->fini)
        k->desc->fini(&w->ctx, w->state);
    if (!code)
        atomic_store(&w->finished, 1);
    fflush(rt->log);
    _exit(code);
}

/* ------------------------------------------------------------ parent -- */

static int flow_for_child(rh_kinst *k)
{
    return atomic_load(&k->given_up) ? RH_FLOW_STOPPED : rh_kernel_flow(k);
}

static int spawn(rh_worker *w)
{
    rh_kinst *k = w->kernel;
    proc_worker *pw = proc_of(w);
    atomic_store(&pw->ready, 0);
    atomic_store(&w->busy, 0);
    atomic_store(&w->finished, 0);
    atomic_store(&w->leave_for_restart, 0);
    w->batch_n = 0;
    /* What a dead child reserved and filled but never committed is not
     * committed by the next one: those slots are free again. */
    memset(w->out_pending, 0, sizeof w->out_pending);
    w->restart_at_ns = 0;
    pw->spawned_batches = atomic_load(&w->batches);
    atomic_store(&pw->flow, flow_for_child(k));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_main(w, parent);
    if (pid < 0) {
        rh__log_event(k->rt->log, RH_LOG_ERROR, "kernel.process_failed",
                      "kernel=%s worker=%u error=%s", k->decl->name, w->index, strerror(errno));
        return RH_ESYS;
    }
    atomic_store(&pw->pid, pid);
    rh__log_event(k->rt->log, RH_LOG_INFO, "kernel.process_start", "kernel=%s worker=%u pid=%d",
                  k->decl->name, w->index, (int)pid);
    return 0;
}

/* Fork each worker's child and wait for its init(). */
static int proc_start(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    rh__log_fork_safe();
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        proc_worker *pw = proc_of(w);
        if (spawn(w) != 0)
            return rh_error_set(err, RH_ESYS, "kernel %s: cannot fork its process (%s)",
                                k->decl->name, strerror(errno));
        uint64_t deadline = rh_now_ns() + INIT_WAIT_NS;
        int st, ready;
        while ((ready = atomic_load(&pw->ready)) == 0 && rh_now_ns() < deadline) {
            if (waitpid(atomic_load(&pw->pid), &st, WNOHANG) > 0) {
                atomic_store(&pw->pid, 0);
                break;
            }
            struct timespec ts = rh_timespec_of_ns(200 * RH_NS_PER_US);
            nanosleep(&ts, NULL);
        }
        if (ready != 1)
            return rh_error_set(err, RH_EPLUGIN,
                                "%s: kernels[%u]: init() of plugin \"%s\" (worker %u) in its "
                                "process %s with config %s",
                                rt->m->path, k->index, k->desc->name, j,
                                ready == -1 ? "failed" : "did not return or died",
                                k->decl->config_json);
    }
    return 0;
}

/* How the child ended, for the log and the poison reason. */
static void describe_exit(int st, char *out, size_t n)
{
    if (WIFSIGNALED(st))
        snprintf(out, n, "killed by SIG%s", sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st))
                                                                      : "?");
    else
        snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
}

/* A retried message killed its process again: dead-letter it as poison and
 * release it (the child is dead: the parent is the ring's consumer now). */
static void poison(rh_worker *w, uint32_t port, rh_envelope *env, const char *how)
{
    rh_kinst *k = w->kernel;
    char reason[160], id[37];
    snprintf(reason, sizeof reason, "poison: kernel process %s twice with this message in its "
                                    "batch", how);
    rh_id_format(env->id, id);
    rh__log_event(k->rt->log, RH_LOG_ERROR, "kernel.poison", "kernel=%s worker=%u id=%s reason=%s",
                  k->decl->name, w->index, id, reason);
    atomic_fetch_add(&w->processed, 1);
    atomic_fetch_add(&w->failed, 1);
    rh__queue_count(k->in_q[port], RH_QC_FAILED, 1);
    rh__dlq_put(k->dlq, k->in_q[port], k->decl->name, k->desc->inputs[port].type, RH_DLQ_FAILED,
                env, rh_ring_payload(env), reason, k->rt->log);
    rh__ring_release(w->in[port], 1);
}

/* The child of w ended with status st. */
static void reaped(rh_worker *w, int st)
{
    rh_kinst *k = w->kernel;
    char how[64];
    describe_exit(st, how, sizeof how);
    int stopping = flow_for_child(k) == RH_FLOW_STOPPED;
    if (stopping && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return; /* told to stop, and it did */
    if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_EXIT_RESTART) {
        /* restart.failed_batches: it left between batches, after fini();
         * its restart_streak is its own (a good batch in it reset it). */
        atomic_store(&w->busy, 0);
        w->batch_n = 0;
        if (!stopping)
            rh__worker_schedule_restart(w, "failed_batches");
        return;
    }
    uint32_t n = atomic_load(&w->busy) ? w->batch_n : 0;
    rh__log_event(k->rt->log, RH_LOG_ERROR, "kernel.crashed",
                  "kernel=%s worker=%u how=%s in_batch=%u", k->decl->name, w->index, how, n);
    if (n) {
        /* worker_take (dispatch.c) moved next_port one past the batch's port */
        uint32_t np = k->desc->n_inputs;
        uint32_t port = (w->next_port + np - 1) % np;
        rh_ring *r = w->in[port];
        /* The child is dead: we are the ring's consumer now.  Acquire the
         * producer's head ourselves (the child's head_cache would let a
         * peek skip it), so the slots' bytes are those it published. */
        uint64_t head = rh_ring_committed(r); /* acquire: pairs with the producer's commit */
        uint64_t tail = rh_ring_released(r);  /* the child's last release; it is gone */
        if (head - tail < n)
            n = 0; /* cannot happen: the batch was taken from these slots */
        rh_envelope *first = rh_ring_slot(r, tail);
        if (n == 0) {
        } else if (n == 1 && (first->flags & RH_ENV_RETRIED)) {
            poison(w, port, first, how);
        } else {
            for (uint32_t j = 0; j < n; j++)
                rh_ring_slot(r, tail + j)->flags |= RH_ENV_RETRIED;
            atomic_store(&w->solo, n);
        }
    }
    atomic_store(&w->busy, 0);
    w->batch_n = 0;
    if (atomic_load(&w->batches) > proc_of(w)->spawned_batches)
        w->restart_streak = 0; /* it did good work since its last start */
    if (!stopping)
        rh__worker_schedule_restart(w, WIFSIGNALED(st) ? "crashed" : "exited");
}

static void proc_supervise(rh_runtime *rt, rh_kinst *k)
{
    pthread_mutex_lock(&iso_lock);
    int f = flow_for_child(k);
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        proc_worker *pw = proc_of(w);
        if (atomic_load(&pw->flow) != f) {
            atomic_store(&pw->flow, f);
            rh__bell_wake_all(&pw->bell);
        }
        pid_t pid = atomic_load(&pw->pid);
        uint64_t now = rh_now_ns();
        if (pid > 0) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                atomic_store(&pw->pid, 0);
                reaped(w, st);
                continue;
            }
            uint64_t hb = atomic_load(&w->heartbeat_ns);
            if (k->decl->watchdog_ms && atomic_load(&w->busy) && hb && now > hb &&
                now - hb > (uint64_t)k->decl->watchdog_ms * RH_NS_PER_MS &&
                rh__worker_report_stall(w, hb, now - hb, "kill (its process)"))
                kill(pid, SIGKILL);
        } else if (w->restart_at_ns && f != RH_FLOW_STOPPED && !atomic_load(&k->given_up) &&
                   (now >= w->restart_at_ns || f == RH_FLOW_DRAINING)) {
            /* Draining for terminate does not wait out the backoff (as
             * rh__worker_restart_pending for a thread): what waits in
             * the ring is processed, not left to time the terminate out. */
            uint64_t t0 = now;
            int rc = spawn(w);
            rh__log_event(rt->log, rc ? RH_LOG_ERROR : RH_LOG_WARN, "kernel.restart",
                          "kernel=%s worker=%u rc=%d restarts=%llu ms=%.3f", k->decl->name,
                          w->index, rc, (unsigned long long)atomic_load(&k->restarts),
                          (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS);
            if (rc)
                rh__worker_schedule_restart(w, "fork_failed");
        }
    }
    pthread_mutex_unlock(&iso_lock);
}

static int proc_sync(rh_runtime *rt, rh_kinst *k, uint64_t deadline_ns)
{
    (void)rt;
    pthread_mutex_lock(&iso_lock);
    int f = flow_for_child(k);
    for (uint32_t j = 0; j < k->n_workers; j++) {
        proc_worker *pw = proc_of(&k->workers[j]);
        atomic_store_explicit(&pw->flow, f, memory_order_release);
        atomic_fetch_add_explicit(&pw->flow_gen, 1, memory_order_release);
        rh__bell_wake_all(&pw->bell);
    }
    pthread_mutex_unlock(&iso_lock);
    /* Each child reads it at its next batch boundary; one that died meanwhile
     * is reaped by the supervisor (pid 0) and its next one forks with the
     * flow of now. */
    for (uint32_t j = 0; j < k->n_workers; j++) {
        proc_worker *pw = proc_of(&k->workers[j]);
        for (;;) {
            uint32_t gen = atomic_load_explicit(&pw->flow_gen, memory_order_acquire);
            uint32_t seen = atomic_load_explicit(&pw->flow_seen, memory_order_acquire);
            if ((int32_t)(seen - gen) >= 0 || atomic_load(&pw->pid) <= 0)
                break;
            if (rh_now_ns() >= deadline_ns)
                return RH_ETIMEDOUT;
            rh__bell_wake_all(&pw->bell);
            struct timespec ts = rh_timespec_of_ns(100 * RH_NS_PER_US);
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

static void proc_stop(rh_runtime *rt, rh_kinst *k, uint64_t deadline_ns)
{
    if (!k->exec_state)
        return; /* a launch that failed before its place() */
    for (uint32_t j = 0; j < k->n_workers; j++) {
        proc_worker *pw = proc_of(&k->workers[j]);
        atomic_store(&pw->flow, RH_FLOW_STOPPED);
        rh__bell_wake_all(&pw->bell);
    }
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        proc_worker *pw = proc_of(w);
        pid_t pid = atomic_load(&pw->pid);
        if (pid <= 0)
            continue;
        int st;
        while (waitpid(pid, &st, WNOHANG) == 0) {
            if (rh_now_ns() >= deadline_ns) {
                rh__log_event(rt->log, RH_LOG_WARN, "kernel.process_killed",
                              "kernel=%s worker=%u pid=%d why=did_not_stop", k->decl->name,
                              w->index, (int)pid);
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                break;
            }
            struct timespec ts = rh_timespec_of_ns(RH_NS_PER_MS);
            nanosleep(&ts, NULL);
        }
        atomic_store(&pw->pid, 0);
        atomic_store(&w->busy, 0); /* a killed child's flag */
    }
}

static int proc_worker_pid(const rh_worker *w)
{
    return w->kernel->exec_state ? atomic_load(&proc_of(w)->pid) : 0;
}

/* A child process's worker cannot be swapped from the host; its rings are
 * shared with the child (the ring's memory is the executor's choice); a
 * run() kernel owns its loop, which a child cannot take over. */
const rh_exec_ops rh__exec_process = {
    .name = "process",
    .where = "a child process of its own",
    .caps = 0,
    .no_swap_why = "runs in a child process (\"isolation\": \"process\"), whose state the host "
                   "cannot swap; terminate it and launch the new build instead",
    .workers_alloc = proc_workers_alloc,
    .workers_free = proc_workers_free,
    .ring_mem = &rh__ring_mem_shared,
    .place = proc_place,
    .plan = proc_plan,
    .start = proc_start,
    .supervise_ns = 10ull * RH_NS_PER_MS, /* a crashed child is reaped and restarted from here */
    .supervise = proc_supervise,
    .sync = proc_sync,
    .stop = proc_stop,
    .release = proc_release,
    .worker_pid = proc_worker_pid,
};
