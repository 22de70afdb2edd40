/*
 * proc.h — run another program from a test and look at what it did.
 *
 * Two ways:
 *  - proc_run(): run to completion with an optional stdin text, capture
 *    stdout and stderr fully (both pipes are drained together with poll(),
 *    so a child writing megabytes to either never deadlocks against us), and
 *    kill it with SIGKILL if it runs past a timeout (reported in the result);
 *  - proc_start() / proc_signal() / proc_wait(): a background process (a
 *    server) that the test talks to in the meantime; its stdout and stderr go
 *    to temporary files (nobody has to drain a pipe while the test does other
 *    things) and are read back by proc_wait().
 *
 * Children are started with posix_spawn(), inherit the environment, get a
 * default signal disposition and an empty signal mask (whatever the test
 * process blocked), and never inherit the test's other pipes (O_CLOEXEC).
 */
#ifndef RH_TEST_PROC_H
#define RH_TEST_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* What a finished child did.  out and err are NUL-terminated (also when
 * empty) and owned by the result: free them with proc_result_free(). */
typedef struct proc_result {
    int exit_code;   /* its exit status (0..255), or -1 when a signal ended it */
    int term_signal; /* the signal that ended it, 0 when it exited */
    int timed_out;   /* 1: it ran past the timeout and we killed it (SIGKILL) */
    char *out;       /* everything it wrote to stdout */
    size_t out_len;
    char *err;       /* everything it wrote to stderr */
    size_t err_len;
    double wall_s;   /* seconds from spawn to exit */
} proc_result;

/*
 * Run argv[0] (a path; PATH is not searched) with arguments argv (NULL
 * terminated) to completion.  stdin_text (may be NULL: stdin is /dev/null)
 * is written to its stdin, which is then closed.  timeout_s > 0: SIGKILL it
 * after that many seconds and set res->timed_out.
 * Returns 0 with *res filled in, or -1 (errno set) when it could not be
 * started at all; in that case res holds empty strings.
 */
int proc_run(char *const argv[], const char *stdin_text, double timeout_s, proc_result *res);

/* Free what proc_run()/proc_wait() put in res (res itself is the caller's). */
void proc_result_free(proc_result *res);

/* A background child. */
typedef struct proc {
    pid_t pid;           /* 0 once proc_wait() returned */
    int reaped;          /* its status was collected (by proc_running or proc_wait) */
    int status;          /* that status, as waitpid() gives it */
    char out_path[64];   /* temporary files holding its stdout and stderr */
    char err_path[64];
    double started;      /* CLOCK_MONOTONIC seconds at spawn */
} proc;

/* Start argv in the background, stdin /dev/null, stdout and stderr to
 * temporary files.  0, or -1 with errno set. */
int proc_start(proc *p, char *const argv[]);

/* Send sig to a started child.  0, or -1 with errno set. */
int proc_signal(proc *p, int sig);

/* Non-zero while the child has not exited (it is not reaped). */
int proc_running(proc *p);

/*
 * Wait up to timeout_s (<= 0: forever) for the child to exit; past that,
 * SIGKILL it and set res->timed_out.  Fills *res with its status and what it
 * wrote, and removes the temporary files.  0, or -1 when p was not running.
 */
int proc_wait(proc *p, double timeout_s, proc_result *res);

/* Seconds on CLOCK_MONOTONIC. */
double proc_now(void);

/* Non-zero when process pid is gone, not even a zombie left for its parent
 * to reap (/proc/<pid>/stat missing, or its state X). */
int proc_gone(int pid);

#endif /* RH_TEST_PROC_H */
