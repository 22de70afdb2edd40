/*
 * natsd.c — one local nats-server process; see natsd.h.
 *
 * fork() + exec() rather than posix_spawn(): the child must ask for
 * PR_SET_PDEATHSIG before exec, so that a parent killed by SIGKILL (a test
 * past its CTest timeout) takes its server with it instead of leaving it
 * serving on a port and a store nobody removes.  Between fork and exec the
 * child only makes async-signal-safe calls (prctl, open, dup2, exec).
 */
#define _GNU_SOURCE /* mkdtemp, nftw flags */
#include "natsd.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What nats-server logs once it accepts clients (JetStream included), and,
 * a cluster member, once it listens for routes: 2.9.10 logs the second
 * after the first, and a route port found taken only then (exiting). */
#define READY_LINE "Server is ready"
#define ROUTES_LINE "Listening for route connections"
/* How often a wait re-checks the log or the process. */
#define POLL_NS 5000000L
/* Standalone first starts that lost their port to another process. */
#define PORT_RETRIES 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(void)
{
    struct timespec ts = {0, POLL_NS};
    nanosleep(&ts, NULL);
}

static int set_err(natsd *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(natsd *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return -1;
}

int natsd_pick_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)(now_s() * 1e6);
    for (int tries = 0; tries < 200; tries++) {
        int port = NATSD_PORT_MIN + (int)(rand_r(&seed) % (NATSD_PORT_MAX - NATSD_PORT_MIN));
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

int natsd_make_dir(char *out, size_t len, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    int n = snprintf(out, len, "%s/rh-nats-%s-%d-XXXXXX", tmp, tag, (int)getpid());
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(out) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc == 0 || errno == ENOENT ? 0 : -1;
}

int natsd_remove_dir(const char *path)
{
    /* FTW_PHYS: never follow a link out of the folder; FTW_DEPTH: children
     * before their folder. */
    int rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (rc != 0 && errno == ENOENT)
        return 0;
    return rc == 0 ? 0 : -1;
}

static int copy_str(natsd *s, char *dst, size_t len, const char *src, const char *what)
{
    if (!src) {
        dst[0] = '\0';
        return 0;
    }
    /* Quoted into the config: refuse what would break the quoting. */
    if (strlen(src) >= len || strpbrk(src, "\"\\\n"))
        return set_err(s, "natsd: %s \"%s\": expected fewer than %zu characters without "
                          "quotes, backslashes or newlines", what, src, len);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static void set_port(natsd *s, int port)
{
    s->port = port;
    snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", port);
}

int natsd_init(natsd *s, const char *dir, const natsd_opts *o)
{
    static const natsd_opts none;
    if (!o)
        o = &none;
    memset(s, 0, sizeof *s);
    s->exit_status = -1;
    if (copy_str(s, s->dir, sizeof s->dir, dir, "folder") != 0)
        return -1;
    snprintf(s->conf, sizeof s->conf, "%s/nats.conf", dir);
    snprintf(s->log, sizeof s->log, "%s/nats.log", dir);
    snprintf(s->store, sizeof s->store, "%s/store", dir);
    if (copy_str(s, s->name, sizeof s->name, o->name, "server name") != 0 ||
        copy_str(s, s->user, sizeof s->user, o->user, "user") != 0 ||
        copy_str(s, s->password, sizeof s->password, o->password, "password") != 0 ||
        copy_str(s, s->cluster_name, sizeof s->cluster_name, o->cluster_name, "cluster name") != 0)
        return -1;
    if (o->n_routes > NATSD_MAX_ROUTES)
        return set_err(s, "natsd: %zu routes: expected at most %d", o->n_routes,
                       NATSD_MAX_ROUTES);
    s->max_payload = o->max_payload;
    s->cluster_port = o->cluster_port;
    s->n_routes = o->n_routes;
    for (size_t i = 0; i < o->n_routes; i++)
        s->route_ports[i] = o->route_ports[i];
    if (s->cluster_name[0] && s->cluster_port <= 0)
        return set_err(s, "natsd: cluster \"%s\": expected a cluster_port", s->cluster_name);
    int port = natsd_pick_port();
    if (port < 0)
        return set_err(s, "natsd: no free loopback port in [%d, %d)", NATSD_PORT_MIN,
                       NATSD_PORT_MAX);
    set_port(s, port);
    return 0;
}

static int write_conf(natsd *s)
{
    FILE *f = fopen(s->conf, "w");
    if (!f)
        return set_err(s, "natsd: %s: cannot write the config: %s", s->conf, strerror(errno));
    char name[64];
    if (s->name[0])
        snprintf(name, sizeof name, "%s", s->name);
    else
        snprintf(name, sizeof name, "rh-%d", s->port);
    fprintf(f, "# written by ringhost natsd.c; rewritten at every start\n");
    fprintf(f, "server_name: \"%s\"\nlisten: \"127.0.0.1:%d\"\n", name, s->port);
    fprintf(f, "jetstream { store_dir: \"%s\" }\n", s->store);
    if (s->max_payload > 0)
        fprintf(f, "max_payload: %ld\n", s->max_payload);
    if (s->user[0])
        fprintf(f, "authorization { user: \"%s\", password: \"%s\" }\n", s->user, s->password);
    if (s->cluster_name[0]) {
        fprintf(f, "cluster {\n  name: \"%s\"\n  listen: \"127.0.0.1:%d\"\n  routes: [",
                s->cluster_name, s->cluster_port);
        for (size_t i = 0; i < s->n_routes; i++)
            fprintf(f, "%s\"nats-route://127.0.0.1:%d\"", i ? ", " : "", s->route_ports[i]);
        fprintf(f, "]\n}\n");
    }
    if (fclose(f) != 0)
        return set_err(s, "natsd: %s: cannot write the config: %s", s->conf, strerror(errno));
    return 0;
}

size_t natsd_log_count(const natsd *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return 0;
    size_t n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

/* The last ~600 bytes of the log, for error messages. */
static void log_tail(const natsd *s, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(s->log, "r");
    if (!f)
        return;
    long want = (long)len - 1 < 600 ? (long)len - 1 : 600;
    if (fseek(f, -want, SEEK_END) != 0)
        rewind(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

static const char *binary(void)
{
    const char *env = getenv("RINGHOST_NATS_SERVER");
    if (env && *env)
        return env;
    return access(NATSD_DEFAULT_BINARY, X_OK) == 0 ? NATSD_DEFAULT_BINARY : "nats-server";
}

static pid_t spawn(natsd *s)
{
    const char *bin = binary();
    char *argv[] = {(char *)bin, "-js", "-c", s->conf, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        set_err(s, "natsd: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* The child: async-signal-safe calls only. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the parent died before prctl took effect */
        int null = open("/dev/null", O_RDONLY);
        int log = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (null < 0 || log < 0)
            _exit(127);
        dup2(null, 0);
        dup2(log, 1);
        dup2(log, 2);
        /* A fresh signal state: the parent may block or ignore some. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        if (strchr(bin, '/'))
            execv(bin, argv);
        else
            execvp(bin, argv);
        static const char msg[] = "natsd: cannot exec the nats-server binary (is it installed? "
                                  "set RINGHOST_NATS_SERVER to its path)\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    return pid;
}

/* Reap the child if it exited; 1 while it runs. */
int natsd_running(natsd *s)
{
    if (s->pid <= 0)
        return 0;
    int status;
    pid_t r;
    do
        r = waitpid(s->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 1;
    s->exit_status = r == s->pid ? status : -1;
    s->pid = 0;
    return 0;
}

/* Wait up to within_s for the child to exit (reaping it); 1 when it did. */
static int wait_exit(natsd *s, double within_s)
{
    double end = now_s() + within_s;
    while (natsd_running(s)) {
        if (now_s() >= end)
            return 0;
        nap();
    }
    return 1;
}

static void describe_exit(int status, char *out, size_t len)
{
    if (status < 0)
        snprintf(out, len, "exited");
    else if (WIFEXITED(status))
        snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, len, "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, len, "stopped");
}

/* One attempt: 0 ready, -1 failed (s->err), -2 failed on a taken port. */
static int start_once(natsd *s, double within_s)
{
    if (write_conf(s) != 0)
        return -1;
    size_t ready_before = natsd_log_count(s, READY_LINE);
    size_t routes_before = natsd_log_count(s, ROUTES_LINE);
    size_t inuse_before = natsd_log_count(s, "address already in use");
    pid_t pid = spawn(s);
    if (pid < 0)
        return -1;
    s->pid = pid;
    double end = now_s() + within_s;
    for (;;) {
        if (natsd_log_count(s, READY_LINE) > ready_before &&
            (!s->cluster_name[0] || natsd_log_count(s, ROUTES_LINE) > routes_before)) {
            s->starts++;
            return 0;
        }
        if (!natsd_running(s))
            break;
        if (now_s() >= end) {
            natsd_kill(s);
            char tail[700];
            log_tail(s, tail, sizeof tail);
            return set_err(s, "natsd: nats-server on 127.0.0.1:%d (config %s) did not log \"%s\" "
                              "within %.1f s; killed; %s ends:\n%s",
                           s->port, s->conf, READY_LINE, within_s, s->log, tail);
        }
        nap();
    }
    char how[64], tail[700];
    describe_exit(s->exit_status, how, sizeof how);
    log_tail(s, tail, sizeof tail);
    set_err(s, "natsd: nats-server on 127.0.0.1:%d (config %s) %s before it was ready; %s ends:\n%s",
            s->port, s->conf, how, s->log, tail);
    return natsd_log_count(s, "address already in use") > inuse_before ? -2 : -1;
}

int natsd_start(natsd *s, double within_s)
{
    if (natsd_running(s))
        return set_err(s, "natsd: nats-server on 127.0.0.1:%d already runs (pid %d)", s->port,
                       (int)s->pid);
    /* Only a standalone server that never ran may move: a restart keeps its
     * port (clients reconnect to it), a cluster member is named in the
     * others' routes. */
    int may_move = s->starts == 0 && !s->cluster_name[0];
    for (int attempt = 0;; attempt++) {
        int rc = start_once(s, within_s);
        s->port_taken = rc == -2;
        if (rc == 0)
            return 0;
        if (rc != -2 || !may_move || attempt >= PORT_RETRIES)
            return -1;
        int port = natsd_pick_port();
        if (port < 0)
            return -1;
        set_port(s, port);
    }
}

int natsd_stop(natsd *s, double within_s)
{
    if (!natsd_running(s))
        return 0;
    if (kill(s->pid, SIGTERM) != 0 && errno != ESRCH)
        return set_err(s, "natsd: kill(%d, SIGTERM): %s", (int)s->pid, strerror(errno));
    if (wait_exit(s, within_s))
        return 0;
    if (natsd_kill(s) != 0)
        return -1;
    return 1;
}

int natsd_kill(natsd *s)
{
    if (!natsd_running(s))
        return 0;
    if (kill(s->pid, SIGKILL) != 0 && errno != ESRCH)
        return set_err(s, "natsd: kill(%d, SIGKILL): %s", (int)s->pid, strerror(errno));
    /* SIGKILL cannot be caught: the wait is bounded by the kernel. */
    if (!wait_exit(s, 30.0))
        return set_err(s, "natsd: pid %d survived SIGKILL for 30 s", (int)s->pid);
    return 0;
}
