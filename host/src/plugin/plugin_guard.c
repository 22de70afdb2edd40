/*
 * plugin_guard.c — the host's own loads and unloads of plugin code, on a
 * guarded thread (plugin_guard.h says what is caught and what is not).
 *
 * One thread per call, started for it and joined after: a load is rare
 * (launch, a swap, a command that lists plugins), costs a dlopen already,
 * and a thread of its own is what lets a call be abandoned.  Its state is
 * a job the caller allocates; the caller frees it only when the thread
 * ended normally: a thread parked in a handler, or abandoned at the
 * deadline, may still read it, so then it is kept (once, and the process
 * ends soon after).
 *
 * What the handlers may do is what a signal handler may do: compare the
 * thread id with the job's, one atomic compare-and-swap, one write(2) to
 * the job's eventfd, block every signal, and pause() for good.  Everything
 * else (the message, the log line, the hook) happens on the caller's
 * thread once it has been woken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "plugin/plugin_guard.h"
#include "plugin/plugin_scanner.h"

/* The C++ ABI's exit handlers keyed by a handle (glibc and musl export
 * both): __cxa_finalize(handle) runs and frees the ones registered with
 * it, which is how a handler registered for one call is taken back. */
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso_handle);
extern void __cxa_finalize(void *dso_handle);

enum { JOB_RUNNING = 0, JOB_DONE, JOB_CRASHED, JOB_EXITED, JOB_ABANDONED };

/* Big enough for a handler that only parks, whatever SIGSTKSZ is. */
#define ALTSTACK_BYTES (64 * 1024)

typedef struct guard_job {
    void (*fn)(void *arg);
    void *arg;
    int efd;                 /* written once: the job ended (done, crashed, exited) */
    _Atomic int state;       /* JOB_*: set once from RUNNING, by whoever comes first */
    _Atomic pid_t tid;       /* the guarded thread */
    _Atomic int in_plugin;   /* 1 while fn runs on it */
    volatile sig_atomic_t sig;
    void *altstack;
} guard_job;

static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
#define N_FAULTS (sizeof fault_signals / sizeof fault_signals[0])
/* What was installed before ours; written under the callers' lock before
 * a guarded call, read by the handler. */
static struct sigaction prev_action[N_FAULTS];
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* The job whose thread runs plugin code now (calls are serialised), and
 * that thread's id: a fault handler on any other thread compares the id
 * only, never touching a job that its caller may be freeing. */
static _Atomic(guard_job *) current;
static _Atomic pid_t current_tid;

static pthread_mutex_t wedge_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int wedged;
static char wedge_why[1024];
static void (*wedge_hook)(const char *why);

/* RINGHOST_PLUGIN_LOAD_TIMEOUT_MS, else twice the scanner's deadline: the
 * scanner saw this code load within it, and an honest constructor that is
 * slow on a loaded machine must not be taken for a hang here, where a hang
 * ends the host.  Read once (threads that race compute the same). */
static int load_timeout_ms(void)
{
    static _Atomic int cached;
    int ms = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!ms) {
        const char *v = getenv("RINGHOST_PLUGIN_LOAD_TIMEOUT_MS");
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        ms = v && *v && !*end && n > 0 && n <= 1200000 ? (int)n
                                                        : 2 * rh__plugin_scan_timeout_ms();
        atomic_store_explicit(&cached, ms, memory_order_relaxed);
    }
    return ms;
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* ------------------------------------------------------- handlers ---- */

/* On the guarded thread, in a handler: tell the caller, then never come
 * back (the plugin's frame is below us, the loader's lock is held). */
static void __attribute__((noreturn)) park(guard_job *j, int outcome)
{
    int running = JOB_RUNNING;
    atomic_compare_exchange_strong(&j->state, &running, outcome);
    uint64_t one = 1;
    ssize_t w = write(j->efd, &one, sizeof one);
    (void)w;
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL); /* this thread's mask */
    for (;;)
        pause();
}

static int on_guarded_thread(const guard_job *j)
{
    return j && atomic_load(&j->in_plugin) && atomic_load(&j->tid) == my_tid();
}

/* Not ours: what would have happened without us.  A fault that returns
 * under the default action faults again and ends the process as it
 * would have; a signal someone sent is sent again. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *p = NULL;
    for (size_t i = 0; i < N_FAULTS; i++)
        if (fault_signals[i] == sig)
            p = &prev_action[i];
    if (p && (p->sa_flags & SA_SIGINFO) && p->sa_sigaction) {
        p->sa_sigaction(sig, si, uc);
        return;
    }
    if (p && !(p->sa_flags & SA_SIGINFO) && p->sa_handler == SIG_IGN)
        return;
    if (p && !(p->sa_flags & SA_SIGINFO) && p->sa_handler != SIG_DFL) {
        p->sa_handler(sig);
        return;
    }
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig); /* delivered when this handler returns */
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    guard_job *j = atomic_load(&current_tid) == my_tid() ? atomic_load(&current) : NULL;
    if (on_guarded_thread(j)) {
        j->sig = sig;
        park(j, JOB_CRASHED);
    }
    chain(sig, si, uc);
}

/* exit() called on the guarded thread (registered just before the call:
 * it runs before every exit handler the host has). */
static void on_exit_in_plugin(void *arg)
{
    guard_job *j = arg;
    if (on_guarded_thread(j))
        park(j, JOB_EXITED);
}

/* exit() anywhere once wedged: _dl_fini would wait for the loader's lock,
 * which the parked thread holds, so the process ends here. */
static void on_exit_wedged(int status, void *arg)
{
    (void)arg;
    if (!atomic_load(&wedged))
        return;
    fflush(stdout);
    fflush(stderr);
    _exit(status);
}

static void install_once_per_process(void)
{
    on_exit(on_exit_wedged, NULL);
}

/* Before each call: ours is the handler of each fault signal.  Checked
 * every time, not once: a program may install its own later (cmocka does
 * around each test), and then ours goes first again, chaining to it. */
static void install_handlers(void)
{
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FAULTS; i++) {
        struct sigaction now;
        if (sigaction(fault_signals[i], NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
            now.sa_sigaction == on_fault)
            continue;
        sigaction(fault_signals[i], &sa, &prev_action[i]);
    }
}

/* ------------------------------------------------- guarded thread ---- */

static void *guard_main(void *arg)
{
    guard_job *j = arg;
    stack_t ss = {.ss_sp = j->altstack, .ss_size = ALTSTACK_BYTES};
    sigaltstack(&ss, NULL);
    sigset_t faults;
    sigemptyset(&faults);
    for (size_t i = 0; i < N_FAULTS; i++)
        sigaddset(&faults, fault_signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &faults, NULL); /* a blocked fault kills the process */
    atomic_store(&j->tid, my_tid());
    __cxa_atexit(on_exit_in_plugin, j, j);
    atomic_store(&current, j);
    atomic_store(&j->in_plugin, 1);
    atomic_store(&current_tid, atomic_load(&j->tid));
    j->fn(j->arg);
    atomic_store(&current_tid, 0);
    atomic_store(&j->in_plugin, 0);
    guard_job *me = j;
    atomic_compare_exchange_strong(&current, &me, NULL);
    __cxa_finalize(j); /* our exit handler runs (a no-op now) and its slot is freed */
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    int running = JOB_RUNNING;
    if (atomic_compare_exchange_strong(&j->state, &running, JOB_DONE)) {
        uint64_t one = 1;
        ssize_t w = write(j->efd, &one, sizeof one);
        (void)w;
    }
    /* else abandoned: it came back after the deadline; the caller keeps j */
    return NULL;
}

/* ---------------------------------------------------------- caller ---- */

int rh__plugin_guard_refuse(const char *path, rh_error *err)
{
    if (!atomic_load(&wedged))
        return 0;
    pthread_mutex_lock(&wedge_lock);
    rh_error_set(err, RH_EPLUGIN,
                 "%s: not loaded: the host's plugin loader is held for good by another plugin "
                 "(%s); restart the host",
                 path, wedge_why);
    pthread_mutex_unlock(&wedge_lock);
    return RH_EPLUGIN;
}

static void wedge(const char *path, int unloading, int outcome, int sig, rh_error *err)
{
    const char *doing = unloading ? "unloaded from" : "loaded into";
    char what[256];
    if (outcome == JOB_CRASHED) {
        const char *abbrev = sigabbrev_np(sig);
        snprintf(what, sizeof what, "it crashed with signal %d (SIG%s) while being %s the host",
                 sig, abbrev ? abbrev : "?", doing);
    } else if (outcome == JOB_EXITED) {
        snprintf(what, sizeof what, "it called exit() while being %s the host", doing);
    } else {
        snprintf(what, sizeof what, "it did not return within %d ms while being %s the host",
                 load_timeout_ms(), doing);
    }
    rh_error_set(err, RH_EPLUGIN,
                 "%s: %s (%s); its thread keeps this process's plugin loader for good, so no "
                 "plugin can be loaded or unloaded here again; remove the file",
                 path, what,
                 unloading ? "in a destructor, which the plugin scanner never runs"
                           : "in a constructor, " RH_KERNEL_ENTRY_SYMBOL "() or its descriptor, "
                             "after it loaded cleanly in the plugin scanner: it behaves "
                             "differently in the host");
    void (*hook)(const char *) = NULL;
    pthread_mutex_lock(&wedge_lock);
    if (!atomic_load(&wedged)) {
        snprintf(wedge_why, sizeof wedge_why, "%s: %s", path, what);
        hook = wedge_hook;
        atomic_store(&wedged, 1);
    }
    pthread_mutex_unlock(&wedge_lock);
    rh__log_event(NULL, RH_LOG_ERROR, "plugin.load_fatal", "file=%s outcome=%s reason=%s", path,
                  outcome == JOB_CRASHED ? "crashed" : outcome == JOB_EXITED ? "exit" : "hung",
                  err->msg);
    if (hook)
        hook(err->msg);
}

int rh__plugin_guard_run(const char *path, int unloading, void (*fn)(void *arg), void *arg,
                         rh_error *err)
{
    if (rh__plugin_guard_refuse(path, err))
        return RH_EPLUGIN;
    pthread_once(&install_once, install_once_per_process);
    install_handlers();
    guard_job *j = calloc(1, sizeof *j);
    if (j) {
        j->fn = fn;
        j->arg = arg;
        j->efd = eventfd(0, EFD_CLOEXEC);
        j->altstack = malloc(ALTSTACK_BYTES);
    }
    pthread_t th;
    int crc = j && j->efd >= 0 && j->altstack ? pthread_create(&th, NULL, guard_main, j) : ENOMEM;
    if (crc != 0) {
        if (j && j->efd >= 0)
            close(j->efd);
        if (j)
            free(j->altstack);
        free(j);
        return rh_error_set(err, RH_ESYS, "%s: cannot start a thread to %s it: %s", path,
                            unloading ? "unload" : "load", strerror(crc));
    }
    uint64_t deadline = rh_now_ns() + (uint64_t)load_timeout_ms() * RH_NS_PER_MS;
    for (;;) {
        uint64_t now = rh_now_ns();
        if (atomic_load(&j->state) != JOB_RUNNING || now >= deadline)
            break;
        struct pollfd p = {.fd = j->efd, .events = POLLIN};
        poll(&p, 1, (int)((deadline - now + RH_NS_PER_MS - 1) / RH_NS_PER_MS));
    }
    int running = JOB_RUNNING;
    atomic_compare_exchange_strong(&j->state, &running, JOB_ABANDONED);
    int outcome = atomic_load(&j->state);
    if (outcome == JOB_DONE) {
        pthread_join(th, NULL);
        close(j->efd);
        free(j->altstack);
        free(j);
        return 0;
    }
    /* crashed or exited (parked in a handler) or abandoned: j is kept */
    pthread_detach(th);
    wedge(path, unloading, outcome, (int)j->sig, err);
    return RH_EPLUGIN;
}

int rh__plugin_guard_wedged(char *why, size_t len)
{
    if (!atomic_load(&wedged))
        return 0;
    if (why && len) {
        pthread_mutex_lock(&wedge_lock);
        snprintf(why, len, "%s", wedge_why);
        pthread_mutex_unlock(&wedge_lock);
    }
    return 1;
}

void rh__plugin_guard_on_wedge(void (*hook)(const char *why))
{
    pthread_mutex_lock(&wedge_lock);
    wedge_hook = hook;
    pthread_mutex_unlock(&wedge_lock);
}
