/*
 * xproc.h — the processes of the cross-process cases (rh_xproc.c,
 * base_iceoryx.c): a child forked for one side of a case, memory both
 * processes see, and the processes (children, the iox-roudi daemon) that
 * must not outlive the benchmark, killed on every exit path.
 *
 * Children are forked from the benchmark's main thread while it runs no
 * other thread (every case joins its threads before it returns), so a
 * child is a plain single-threaded copy; it ends with _exit() after fn
 * returns, so the parent's atexit handlers do not run in it (an iceoryx
 * child calls exit() itself, see base_iceoryx.c: every handler checks it
 * runs in the process that registered it).
 */
#ifndef RH_BENCH_XPROC_H
#define RH_BENCH_XPROC_H

#include <stddef.h>
#include <sys/types.h>

#include "bench.h"

/* n bytes of zeroed memory shared with the children forked after this call
 * (MAP_SHARED | MAP_ANONYMOUS); NULL when it cannot be mapped. */
void *bench_shared_alloc(size_t n);
void bench_shared_free(void *p, size_t n);

/* Fork a child pinned to cpu that runs fn(arg) and _exit()s with its
 * return value (0 success).  The child is registered for the clean-up
 * below until bench_proc_wait reaps it.  0 or -errno. */
int bench_proc_start(pid_t *pid, int cpu, int (*fn)(void *), void *arg);

/* Wait up to timeout_ms for the child to exit, then SIGKILL and reap it.
 * Returns its exit status (0..255), 128 + signal when a signal ended it,
 * or -ETIMEDOUT when it had to be killed. */
int bench_proc_wait(pid_t pid, int timeout_ms);

/* A daemon the benchmark started (iox-roudi): stopped with SIGTERM (then
 * SIGKILL after 3 s) by bench_daemon_stop, and by the clean-up on exit or
 * on SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGPIPE (output piped into `head`);
 * when it had to be SIGKILLed or did not exit 0, on_killed (may be NULL;
 * async-signal-safe) then removes what it left behind.  One daemon at a
 * time. */
void bench_daemon_register(pid_t pid, void (*on_killed)(void));
/* Stops the registered daemon now: 0 when it exited by SIGTERM, 1 when it
 * had to be SIGKILLed, -1 when none is registered. */
int bench_daemon_stop(void);

/* Round trips per latency repetition of a cross-process case: the run's
 * rtt_samples up to 4 KiB payloads, a tenth of them (at least 200) from
 * 64 KiB on, where one round trip of the copying path takes up to a
 * millisecond; the same for ringhost and iceoryx. */
uint32_t bench_rtt_samples_for(const bench_env *env, uint32_t payload);

#endif /* RH_BENCH_XPROC_H */
