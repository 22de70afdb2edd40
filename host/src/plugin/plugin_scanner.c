/*
 * plugin_scanner.c — load a plugin in a child first (plugin_scanner.h).
 *
 * The child: default actions for the fatal signals (a host's own handlers,
 * fault isolation's included, must not catch the plugin's crash), nothing
 * blocked, stdin and stdout on /dev/null (a constructor's printf must not
 * land in `ringhost run`'s JSON lines), then the same rh__plugin_load_at the
 * host uses, one record written to the pipe, and _exit: no destructor, no
 * atexit handler and no stdio flush of the host's copy runs.  A plugin that
 * calls exit() meets an atexit handler registered after the host's own
 * (so it runs first): it reports the exit and _exits before any handler of
 * the host's could act on the host's shared state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "plugin/plugin_load.h"
#include "plugin/plugin_scanner.h"

#define SCAN_TIMEOUT_DEFAULT_MS 5000
#define CACHE_SLOTS 64

/* ------------------------------------------------------------ cache ---- */

typedef struct cache_entry {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    rh_plugin_probe probe;
} cache_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CACHE_SLOTS];
static unsigned cache_next; /* round-robin victim */

static int same_key(const cache_entry *c, const char *path, const struct stat *st)
{
    return c->path && strcmp(c->path, path) == 0 && c->dev == st->st_dev &&
           c->ino == st->st_ino && c->size == st->st_size &&
           c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           c->ctime.tv_sec == st->st_ctim.tv_sec && c->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static int cache_get(const char *path, const struct stat *st, rh_plugin_probe *out)
{
    int hit = 0;
    pthread_mutex_lock(&cache_lock);
    for (unsigned i = 0; i < CACHE_SLOTS && !hit; i++)
        if (same_key(&cache[i], path, st)) {
            *out = cache[i].probe;
            hit = 1;
        }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const char *path, const struct stat *st, const rh_plugin_probe *probe)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    pthread_mutex_lock(&cache_lock);
    unsigned slot = CACHE_SLOTS;
    for (unsigned i = 0; i < CACHE_SLOTS && slot == CACHE_SLOTS; i++)
        if (cache[i].path && strcmp(cache[i].path, path) == 0)
            slot = i; /* an older build of the same file */
    if (slot == CACHE_SLOTS)
        slot = cache_next++ % CACHE_SLOTS;
    cache_entry *c = &cache[slot];
    free(c->path);
    *c = (cache_entry){.path = copy, .dev = st->st_dev, .ino = st->st_ino, .size = st->st_size,
                       .mtime = st->st_mtim, .ctime = st->st_ctim, .probe = *probe};
    pthread_mutex_unlock(&cache_lock);
}

/* ------------------------------------------------------------ child ---- */

static rh_plugin_probe child_record; /* the child's; static: the stack may be small */
static int child_pipe = -1;

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        len -= (size_t)w;
    }
}

static void child_exit_called(void)
{
    child_record.state = RH_PROBE_EXITED;
    write_all(child_pipe, &child_record, sizeof child_record);
    _exit(0);
}

static void cut(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static void fill_probe(rh_plugin_probe *r, const rh_kernel_desc *d)
{
    cut(r->name, sizeof r->name, d->name);
    cut(r->version, sizeof r->version, d->version);
    r->n_inputs = d->n_inputs;
    r->n_outputs = d->n_outputs;
    for (uint32_t i = 0; i < d->n_inputs + d->n_outputs && i < RH_PROBE_MAX_PORTS; i++) {
        const rh_port *p = i < d->n_inputs ? &d->inputs[i] : &d->outputs[i - d->n_inputs];
        cut(r->ports[i].name, sizeof r->ports[i].name, p->name);
        cut(r->ports[i].type, sizeof r->ports[i].type, p->type->name);
        r->ports[i].fingerprint = p->type->fingerprint;
        r->ports[i].size = (uint32_t)p->type->size;
    }
}

static void __attribute__((noreturn)) child_scan(int fd, int wfd, const char *path)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP,
                                SIGSYS,  SIGALRM, SIGTERM, SIGINT, SIGHUP, SIGPIPE};
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
    }
    child_pipe = wfd;
    atexit(child_exit_called);

    char load_path[64];
    snprintf(load_path, sizeof load_path, "/proc/self/fd/%d", fd);
    void *h;
    const rh_kernel_desc *d;
    rh_error e = {0};
    if (rh__plugin_load_at(load_path, path, &h, &d, &e) != 0) {
        child_record.state = RH_PROBE_REFUSED;
        cut(child_record.why, sizeof child_record.why, e.msg);
    } else {
        child_record.state = RH_PROBE_LOADED;
        fill_probe(&child_record, d);
    }
    write_all(wfd, &child_record, sizeof child_record);
    _exit(0);
}

/* ----------------------------------------------------------- parent ---- */

int rh__plugin_scan_timeout_ms(void)
{
    /* 0: not read yet; threads that race here compute the same value (the
     * guard's threads read it too, hence atomic) */
    static _Atomic int cached;
    int ms = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!ms) {
        const char *v = getenv("RINGHOST_PLUGIN_SCAN_TIMEOUT_MS");
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        ms = v && *v && !*end && n > 0 && n <= 600000 ? (int)n : SCAN_TIMEOUT_DEFAULT_MS;
        atomic_store_explicit(&cached, ms, memory_order_relaxed);
    }
    return ms;
}

/* Reap pid by deadline_ns (CLOCK_MONOTONIC); 1 when reaped (*status),
 * 0 when it still runs at the deadline.  A pidfd is polled (it becomes
 * readable when the child exits); without one (a kernel older than 5.3)
 * waitpid is polled every millisecond: this is the slow path of a load. */
static int reap_by(pid_t pid, uint64_t deadline_ns, int *status)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            if (pfd >= 0)
                close(pfd);
            return 1;
        }
        uint64_t now = rh_now_ns();
        if (now >= deadline_ns) {
            if (pfd >= 0)
                close(pfd);
            return 0;
        }
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            poll(&p, 1, (int)((deadline_ns - now + 999999) / 1000000));
        } else {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static const char *signal_name(int sig)
{
    const char *s = sigabbrev_np(sig);
    return s ? s : "?";
}

/* One scanner child in flight. */
typedef struct scan_job {
    pid_t pid;      /* 0: could not be started (rec says why) */
    int rfd;        /* the read end of its pipe */
    uint64_t deadline;
    size_t got;     /* bytes of rec read so far */
    rh_plugin_probe rec;
} scan_job;

static void job_refuse(rh_plugin_probe *r, uint32_t state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_refuse(rh_plugin_probe *r, uint32_t state, const char *fmt, ...)
{
    memset(r, 0, sizeof *r);
    r->state = state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static void job_start(scan_job *j, int fd, const char *path, int ms)
{
    memset(j, 0, sizeof *j);
    j->rfd = -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        job_refuse(&j->rec, RH_PROBE_TIMEOUT, "%s: cannot start the plugin scanner: pipe: %s",
                   path, strerror(errno));
        return;
    }
    fflush(NULL); /* nothing buffered is written twice by a child's exit() */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        job_refuse(&j->rec, RH_PROBE_TIMEOUT, "%s: cannot start the plugin scanner: fork: %s",
                   path, strerror(e));
        return;
    }
    if (pid == 0) {
        close(p[0]);
        child_scan(fd, p[1], path);
    }
    close(p[1]);
    j->pid = pid;
    j->rfd = p[0];
    j->deadline = rh_now_ns() + (uint64_t)ms * 1000000u;
}

/* Read the child's record by its deadline, reap it (killing it by its pid
 * when it hangs) and say what it means in j->rec. */
static void job_finish(scan_job *j, const char *path, int ms)
{
    if (!j->pid)
        return; /* job_start said why */
    rh_plugin_probe *out = &j->rec;
    int timed_out = 0;
    while (j->got < sizeof *out) {
        /* Past the deadline a record already written is still read (a
         * batch's later children finished while an earlier one hung). */
        uint64_t now = rh_now_ns();
        int left_ms = now >= j->deadline ? 0 : (int)((j->deadline - now + 999999) / 1000000);
        struct pollfd pfd = {.fd = j->rfd, .events = POLLIN};
        int r = poll(&pfd, 1, left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (r == 0) {
            if (rh_now_ns() >= j->deadline) {
                timed_out = 1;
                break;
            }
            continue;
        }
        ssize_t n = read(j->rfd, (char *)out + j->got, sizeof *out - j->got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EOF: the child is gone */
        j->got += (size_t)n;
    }
    close(j->rfd);
    int status = 0;
    if (timed_out || !reap_by(j->pid, j->deadline, &status)) {
        /* Hung (or wrote its record and then hung): killed by its pid. */
        kill(j->pid, SIGKILL);
        while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (j->got < sizeof *out) {
            job_refuse(out, RH_PROBE_TIMEOUT,
                       "%s: refused: the plugin scanner (pid %d) did not finish loading it "
                       "within %d ms and was killed: a constructor or %s() never returns; fix "
                       "the plugin (or, for a slow constructor, raise "
                       "RINGHOST_PLUGIN_SCAN_TIMEOUT_MS)",
                       path, (int)j->pid, ms, RH_KERNEL_ENTRY_SYMBOL);
            return;
        }
    }
    if (j->got < sizeof *out) {
        if (WIFSIGNALED(status))
            job_refuse(out, RH_PROBE_REFUSED,
                       "%s: refused: it crashed the plugin scanner with signal %d (SIG%s) while "
                       "being loaded (in a constructor, or in %s() or the descriptor it "
                       "returned); it was never loaded into the host",
                       path, WTERMSIG(status), signal_name(WTERMSIG(status)),
                       RH_KERNEL_ENTRY_SYMBOL);
        else
            job_refuse(out, RH_PROBE_REFUSED,
                       "%s: refused: the plugin scanner exited with status %d while loading it "
                       "(a constructor or %s() ended the process); it was never loaded into "
                       "the host",
                       path, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                       RH_KERNEL_ENTRY_SYMBOL);
    } else if (out->state == RH_PROBE_EXITED) {
        job_refuse(out, RH_PROBE_REFUSED,
                   "%s: refused: it called exit() while being loaded in the plugin scanner (a "
                   "constructor or %s() must never end the process); it was never loaded into "
                   "the host",
                   path, RH_KERNEL_ENTRY_SYMBOL);
    } else if (out->state != RH_PROBE_LOADED && out->state != RH_PROBE_REFUSED) {
        job_refuse(out, RH_PROBE_REFUSED,
                   "%s: refused: the plugin scanner wrote back nothing it could have written "
                   "(a constructor wrote on its pipe?)",
                   path);
    }
    out->why[sizeof out->why - 1] = '\0';
}

void rh__plugin_probe_many(uint32_t n, const int *fds, const struct stat *keys,
                           const char *const *paths, rh_plugin_probe *out)
{
    int ms = rh__plugin_scan_timeout_ms();
    scan_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs)
        return; /* each file is then scanned on its own when it is opened */
    for (uint32_t i = 0; i < n; i++)
        job_start(&jobs[i], fds[i], paths[i], ms);
    for (uint32_t i = 0; i < n; i++) {
        job_finish(&jobs[i], paths[i], ms);
        cache_put(paths[i], &keys[i], &jobs[i].rec);
        if (out)
            out[i] = jobs[i].rec;
    }
    free(jobs);
}

int rh__plugin_probe(int fd, const struct stat *key, const char *path, rh_plugin_probe *out,
                     rh_error *err)
{
    if (!cache_get(path, key, out))
        rh__plugin_probe_many(1, &fd, key, &path, out);
    if (out->state == RH_PROBE_LOADED)
        return 0;
    return rh_error_set(err, RH_EPLUGIN, "%s", out->why[0] ? out->why : "plugin scanner failed");
}

int rh__plugin_probe_cached(const char *path, const struct stat *key)
{
    rh_plugin_probe p;
    return cache_get(path, key, &p);
}

/* ---------------------------------------------------- the re-check ---- */

int rh__plugin_probe_matches(const rh_plugin_probe *probe, const rh_kernel_desc *d,
                             const char *path, rh_error *err)
{
    rh_plugin_probe now;
    memset(&now, 0, sizeof now);
    fill_probe(&now, d);
    const char *what = NULL;
    char where[160] = "";
    if (strcmp(now.name, probe->name) != 0)
        what = "kernel name";
    else if (strcmp(now.version, probe->version) != 0)
        what = "version";
    else if (now.n_inputs != probe->n_inputs || now.n_outputs != probe->n_outputs)
        what = "number of ports";
    for (uint32_t i = 0; !what && i < now.n_inputs + now.n_outputs && i < RH_PROBE_MAX_PORTS;
         i++) {
        if (strcmp(now.ports[i].name, probe->ports[i].name) != 0)
            what = "port name";
        else if (strcmp(now.ports[i].type, probe->ports[i].type) != 0)
            what = "port type";
        else if (now.ports[i].fingerprint != probe->ports[i].fingerprint ||
                 now.ports[i].size != probe->ports[i].size)
            what = "type fingerprint or size";
        if (what)
            snprintf(where, sizeof where, " of port \"%s\"", probe->ports[i].name);
    }
    if (!what)
        return 0;
    return rh_error_set(err, RH_EPLUGIN,
                        "%s: refused: its descriptor differs from what the plugin scanner read "
                        "(%s%s: scanner saw kernel \"%s\" %s, the host \"%s\" %s); a plugin must "
                        "describe itself the same way every time it is loaded",
                        path, what, where, probe->name, probe->version, now.name, now.version);
}
