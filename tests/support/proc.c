/*
 * proc.c — spawning the programs a test drives; see proc.h.
 *
 * proc_run() keeps three pipes (stdin, stdout, stderr) non-blocking in one
 * poll() loop: it writes stdin only when the pipe has room and reads both
 * outputs whenever they have data, so the child can never block on a full
 * pipe while we block on another one.  The loop ends when both outputs are
 * at EOF; the child is reaped after that.
 */
#define _GNU_SOURCE /* pipe2, mkostemp */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* After SIGKILL at the timeout, how long we keep draining the pipes (a
 * grandchild could hold them open; we do not wait for it forever). */
#define DRAIN_AFTER_KILL_S 2.0

double proc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growing byte buffer, always NUL-terminated. */
typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static int buf_reserve(buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

/* Read what fd has now; 1 at EOF (or a hard error), else 0. */
static int buf_read(buf *b, int fd)
{
    for (;;) {
        if (buf_reserve(b, 65536) != 0)
            return 1;
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n > 0) {
            b->len += (size_t)n;
            b->data[b->len] = '\0';
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
}

static char *buf_take(buf *b, size_t *len)
{
    if (!b->data && buf_reserve(b, 0) != 0)
        return NULL;
    b->data[b->len] = '\0';
    *len = b->len;
    char *d = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void empty_result(proc_result *res)
{
    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    res->out = calloc(1, 1);
    res->err = calloc(1, 1);
}

static void set_status(proc_result *res, int status)
{
    if (WIFEXITED(status)) {
        res->exit_code = WEXITSTATUS(status);
        res->term_signal = 0;
    } else if (WIFSIGNALED(status)) {
        res->exit_code = -1;
        res->term_signal = WTERMSIG(status);
    }
}

/* Spawn attributes every child gets: default handlers for every signal the
 * test may have changed, and nothing blocked. */
static int spawn_attrs(posix_spawnattr_t *attr)
{
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (posix_spawnattr_init(attr) != 0)
        return -1;
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &all);
    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    return 0;
}

static pid_t waitpid_eintr(pid_t pid, int *status, int flags)
{
    pid_t r;
    do
        r = waitpid(pid, status, flags);
    while (r < 0 && errno == EINTR);
    return r;
}

int proc_run(char *const argv[], const char *stdin_text, double timeout_s, proc_result *res)
{
    empty_result(res);
    int in[2] = {-1, -1}, out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    if (stdin_text && pipe2(in, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        return -1;
    }

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (stdin_text)
        posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    else
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
    posix_spawnattr_t attr;
    spawn_attrs(&attr);

    /* A child that exits before reading all of stdin must not kill us. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ign, &old_pipe);

    double t0 = proc_now();
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out[1]);
    close(err[1]);
    if (stdin_text)
        close(in[0]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        if (stdin_text)
            close(in[1]);
        sigaction(SIGPIPE, &old_pipe, NULL);
        errno = rc;
        return -1;
    }

    set_nonblock(out[0]);
    set_nonblock(err[0]);
    int in_fd = stdin_text ? in[1] : -1;
    size_t in_left = stdin_text ? strlen(stdin_text) : 0;
    const char *in_next = stdin_text;
    if (in_fd >= 0) {
        set_nonblock(in_fd);
        if (in_left == 0) {
            close(in_fd);
            in_fd = -1;
        }
    }

    buf bo = {0}, be = {0};
    int out_open = 1, err_open = 1;
    double deadline = timeout_s > 0 ? t0 + timeout_s : 0;
    while (out_open || err_open) {
        struct pollfd fds[3];
        int nf = 0, io = -1, ie = -1, ii = -1;
        if (out_open) {
            io = nf;
            fds[nf++] = (struct pollfd){.fd = out[0], .events = POLLIN};
        }
        if (err_open) {
            ie = nf;
            fds[nf++] = (struct pollfd){.fd = err[0], .events = POLLIN};
        }
        if (in_fd >= 0) {
            ii = nf;
            fds[nf++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
        }
        int wait_ms = -1;
        if (deadline > 0) {
            double left = deadline - proc_now();
            if (left <= 0) {
                if (!res->timed_out) {
                    kill(pid, SIGKILL);
                    res->timed_out = 1;
                    deadline = proc_now() + DRAIN_AFTER_KILL_S;
                    continue;
                }
                break; /* killed, and the pipes are still held open: give up */
            }
            wait_ms = (int)(left * 1000) + 1;
        }
        int n = poll(fds, (nfds_t)nf, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (io >= 0 && fds[io].revents && buf_read(&bo, out[0]))
            out_open = 0;
        if (ie >= 0 && fds[ie].revents && buf_read(&be, err[0]))
            err_open = 0;
        if (ii >= 0 && fds[ii].revents) {
            int gone = !(fds[ii].revents & POLLOUT); /* POLLERR/POLLHUP: reader closed */
            if (!gone) {
                ssize_t w = write(in_fd, in_next, in_left);
                if (w > 0) {
                    in_next += w;
                    in_left -= (size_t)w;
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    gone = 1;
                }
            }
            if (gone || in_left == 0) {
                close(in_fd); /* done, or the child closed its stdin */
                in_fd = -1;
            }
        }
    }
    if (in_fd >= 0)
        close(in_fd);
    close(out[0]);
    close(err[0]);

    int status = 0;
    if (res->timed_out || deadline == 0) {
        waitpid_eintr(pid, &status, 0);
    } else {
        /* Both pipes closed: it is exiting (or closed them itself).  Keep
         * the timeout for the exit too. */
        while (waitpid_eintr(pid, &status, WNOHANG) == 0) {
            if (proc_now() > deadline) {
                kill(pid, SIGKILL);
                res->timed_out = 1;
                waitpid_eintr(pid, &status, 0);
                break;
            }
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    res->wall_s = proc_now() - t0;
    set_status(res, status);
    sigaction(SIGPIPE, &old_pipe, NULL);
    free(res->out);
    free(res->err);
    res->out = buf_take(&bo, &res->out_len);
    res->err = buf_take(&be, &res->err_len);
    free(bo.data);
    free(be.data);
    return 0;
}

void proc_result_free(proc_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
    res->out_len = res->err_len = 0;
}

/* ------------------------------------------------------ background ---- */

static int temp_file(char *path, size_t len, const char *what)
{
    snprintf(path, len, "/tmp/rh-proc-%s-XXXXXX", what);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd >= 0 ? 0 : -1;
}

/* Every process proc_start() started and nobody reaped yet: at exit the
 * test binary SIGKILLs and reaps them, so a test that failed between
 * proc_start and proc_wait (cmocka jumps past its own stop) leaves no
 * process behind it, whatever helper started it. */
#define PROC_LEFT_MAX 64
static struct {
    pid_t pid;
    char out_path[64], err_path[64];
} left[PROC_LEFT_MAX];

/* Whether pid is still a child of ours nobody reaped (running, or a
 * zombie): WNOWAIT, so the status stays for whoever waits.  A pid some
 * helper reaped with its own waitpid() is no child of ours any more (and
 * may be reused by another process): it must not be killed. */
static int still_our_child(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

static void kill_left(void)
{
    for (int i = 0; i < PROC_LEFT_MAX; i++) {
        if (left[i].pid <= 0)
            continue;
        if (still_our_child(left[i].pid)) {
            if (kill(left[i].pid, SIGKILL) == 0)
                fprintf(stderr, "---- a process the test left running (pid %d): killed ----\n",
                        (int)left[i].pid);
            waitpid_eintr(left[i].pid, NULL, 0);
            unlink(left[i].out_path);
            unlink(left[i].err_path);
        }
        left[i].pid = 0;
    }
}

static void remember(const proc *p)
{
    static int at_exit;
    if (!at_exit)
        at_exit = atexit(kill_left) == 0;
    for (int i = 0; i < PROC_LEFT_MAX; i++)
        if (left[i].pid <= 0 || !still_our_child(left[i].pid)) {
            left[i].pid = p->pid;
            memcpy(left[i].out_path, p->out_path, sizeof left[i].out_path);
            memcpy(left[i].err_path, p->err_path, sizeof left[i].err_path);
            return;
        }
}

static void forget(pid_t pid)
{
    for (int i = 0; i < PROC_LEFT_MAX; i++)
        if (left[i].pid == pid)
            left[i].pid = 0;
}

int proc_start(proc *p, char *const argv[])
{
    memset(p, 0, sizeof *p);
    if (temp_file(p->out_path, sizeof p->out_path, "out") != 0)
        return -1;
    if (temp_file(p->err_path, sizeof p->err_path, "err") != 0) {
        unlink(p->out_path);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, p->out_path, O_WRONLY | O_TRUNC, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, p->err_path, O_WRONLY | O_TRUNC, 0);
    posix_spawnattr_t attr;
    spawn_attrs(&attr);
    p->started = proc_now();
    int rc = posix_spawn(&p->pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        unlink(p->out_path);
        unlink(p->err_path);
        p->pid = 0;
        errno = rc;
        return -1;
    }
    remember(p);
    return 0;
}

int proc_signal(proc *p, int sig)
{
    if (p->pid <= 0 || p->reaped) {
        errno = ESRCH;
        return -1;
    }
    return kill(p->pid, sig);
}

int proc_running(proc *p)
{
    if (p->pid <= 0 || p->reaped)
        return 0;
    int status;
    if (waitpid_eintr(p->pid, &status, WNOHANG) == p->pid) {
        p->reaped = 1;
        p->status = status;
        forget(p->pid);
        return 0;
    }
    return 1;
}

static char *slurp(const char *path, size_t *len)
{
    buf b = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (!buf_read(&b, fd))
            ;
        close(fd);
    }
    return buf_take(&b, len);
}

int proc_wait(proc *p, double timeout_s, proc_result *res)
{
    empty_result(res);
    if (p->pid <= 0)
        return -1;
    double deadline = timeout_s > 0 ? proc_now() + timeout_s : 0;
    while (proc_running(p)) {
        if (deadline > 0 && proc_now() > deadline) {
            kill(p->pid, SIGKILL);
            res->timed_out = 1;
            int status;
            waitpid_eintr(p->pid, &status, 0);
            p->reaped = 1;
            p->status = status;
            forget(p->pid);
            break;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    res->wall_s = proc_now() - p->started;
    set_status(res, p->status);
    free(res->out);
    free(res->err);
    res->out = slurp(p->out_path, &res->out_len);
    res->err = slurp(p->err_path, &res->err_len);
    unlink(p->out_path);
    unlink(p->err_path);
    p->pid = 0;
    return 0;
}

int proc_gone(int pid)
{
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = 0;
    const char *close_paren = strrchr(stat, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'X';
}
