/*
 * xproc.c — children and daemons of the cross-process cases; see xproc.h.
 *
 * The clean-up has to work from a signal handler, so its state is a few
 * sig_atomic_t-sized pids and it calls only async-signal-safe functions
 * (kill, waitpid, nanosleep, unlink in on_killed, _exit/raise).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xproc.h"

#define MAX_CHILDREN 4 /* a case forks at most two */
#define DAEMON_TERM_MS 3000

static volatile pid_t children[MAX_CHILDREN];
static volatile pid_t daemon_pid;
static void (*volatile daemon_on_killed)(void);
static pid_t owner; /* the process that registered: only it cleans up */
static int handlers_installed;

void *bench_shared_alloc(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void bench_shared_free(void *p, size_t n)
{
    if (p)
        munmap(p, n);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms (by the clock: on a loaded machine a 5 ms sleep lasts
 * far longer) for pid to exit, reaping it.  1 reaped, 0 still running. */
static int reap_within(pid_t pid, long ms, int *status)
{
    long long end = now_ms() + ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        if (now_ms() >= end)
            return 0;
        sleep_ms(5);
    }
}

static int stop_daemon(void)
{
    pid_t pid = daemon_pid;
    if (pid <= 0)
        return -1;
    int status = 0, killed = 0;
    kill(pid, SIGTERM);
    if (!reap_within(pid, DAEMON_TERM_MS, &status)) {
        kill(pid, SIGKILL);
        reap_within(pid, DAEMON_TERM_MS, &status);
        killed = 1;
    }
    daemon_pid = 0;
    /* A daemon that did not exit 0 (killed, or it aborted on its way out)
     * may have left its files: on_killed removes them. */
    if ((killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) && daemon_on_killed)
        daemon_on_killed();
    return killed;
}

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        pid_t pid = children[i];
        if (pid > 0) {
            kill(pid, SIGKILL);
            int status;
            waitpid(pid, &status, 0);
            children[i] = 0;
        }
    }
}

static void cleanup_at_exit(void)
{
    if (getpid() != owner)
        return;
    kill_children();
    stop_daemon();
}

static void cleanup_on_signal(int sig)
{
    if (getpid() == owner) {
        kill_children();
        stop_daemon();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_cleanup(void)
{
    if (handlers_installed)
        return;
    handlers_installed = 1;
    owner = getpid();
    atexit(cleanup_at_exit);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = cleanup_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

int bench_proc_start(pid_t *pid, int cpu, int (*fn)(void *), void *arg)
{
    install_cleanup();
    int slot = -1;
    for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
        if (children[i] == 0)
            slot = i;
    if (slot < 0)
        return -EBUSY;
    fflush(NULL); /* nothing buffered is written twice */
    pid_t p = fork();
    if (p < 0)
        return -errno;
    if (p == 0) {
        /* A benchmark killed by SIGKILL runs no clean-up: its children go
         * with it instead of spinning on. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != owner)
            _exit(125);
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            _exit(125);
        _exit(fn(arg) & 0xff);
    }
    children[slot] = p;
    *pid = p;
    return 0;
}

int bench_proc_wait(pid_t pid, int timeout_ms)
{
    int status = 0, rc;
    if (reap_within(pid, timeout_ms, &status)) {
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        rc = -ETIMEDOUT;
    }
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
    return rc;
}

void bench_daemon_register(pid_t pid, void (*on_killed)(void))
{
    install_cleanup();
    daemon_on_killed = on_killed;
    daemon_pid = pid;
}

int bench_daemon_stop(void)
{
    return stop_daemon();
}

uint32_t bench_rtt_samples_for(const bench_env *env, uint32_t payload)
{
    if (payload < 65536)
        return env->rtt_samples;
    uint32_t n = env->rtt_samples / 10;
    return n < 200 ? 200 : n;
}
