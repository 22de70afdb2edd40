/*
 * server.c — the control socket of a serving host: where it lives, who may
 * connect, and the thread that serves it (the protocol's commands are
 * control_cmd.c, the runtimes it answers for runtimes.c; the protocol
 * itself is documented in control.h).
 *
 * One thread poll()s the listening socket, a self-pipe and every connected
 * client, so a client that connects and says nothing never holds up the
 * others.  Requests are read into a per-client buffer and answered line by
 * line; replies are small and written without blocking (a client that
 * does not read its replies is disconnected rather than stall the host).
 * Idle connections are closed at a deadline, and past a limit the longest
 * idle one makes room for the new (see "serve" below).
 * Every RH_CONTROL_SAMPLE_MS the thread samples the kernels' counters for
 * the rates `ringhost ps` shows.
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/own_name.h"
#include "control/control.h"
#include "control/control_pvt.h"

/* ------------------------------------------------------------- where ---- */

/* Create dir (0700) when asked and missing, then check it is ours alone:
 * a socket in a folder another user can write could be swapped for theirs. */
static int safe_dir(const char *dir, int make_dir, rh_error *err)
{
    if (make_dir && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return rh_error_set(err, RH_ESYS, "control socket folder %s: cannot create it: %s", dir,
                            strerror(errno));
    struct stat st;
    if (lstat(dir, &st) != 0)
        return rh_error_set(err, errno == ENOENT ? RH_ENOENT : RH_ESYS,
                            "control socket folder %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return rh_error_set(err, RH_EEXIST, "control socket folder %s is not a folder (a link "
                            "or a file); remove it, or set RINGHOST_RUNTIME_DIR to a folder of "
                            "yours", dir);
    if (st.st_uid != geteuid())
        return rh_error_set(err, RH_EEXIST, "control socket folder %s is owned by uid %u, not "
                            "by this user (uid %u); remove it, or set RINGHOST_RUNTIME_DIR to "
                            "a folder of yours", dir, (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 022)
        return rh_error_set(err, RH_EEXIST, "control socket folder %s is writable by others "
                            "(mode %03o); expected 0700: chmod 700 %s", dir,
                            (unsigned)(st.st_mode & 0777), dir);
    return 0;
}

/* dir/<instance>.sock into buf, if a Unix socket can have that path. */
static int socket_in(const char *dir, const char *instance, char *buf, size_t len,
                     rh_error *err)
{
    struct sockaddr_un sa;
    if ((size_t)snprintf(buf, len, "%s/%s.sock", dir, instance) >= len ||
        strlen(buf) >= sizeof sa.sun_path)
        return rh_error_set(err, RH_EINVAL, "control socket path %s/%s.sock is longer than a "
                            "Unix socket allows (%zu bytes); set RINGHOST_RUNTIME_DIR to a "
                            "shorter folder", dir, instance, sizeof sa.sun_path - 1);
    return 0;
}

/*
 * The fallback folder in /tmp, which every user may write: another user
 * may make /tmp/ringhost-<uid> first.  Theirs is skipped, never used nor
 * removed: the folder is the lowest of /tmp/ringhost-<uid>,
 * /tmp/ringhost-<uid>-1, ... that is this user's, and a host that finds
 * none makes the lowest free one (base/own_name.h), so its clients find the
 * same folder.  A name taken between the pick and the mkdir is picked again.
 */
static int tmp_dir_path(const char *instance, int make_dir, char *buf, size_t len,
                        rh_error *err)
{
    char base[32], name[32 + RH_OWN_NAME_SUFFIX], dir[64];
    snprintf(base, sizeof base, "ringhost-%u", (unsigned)geteuid());
    int rc = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        uid_t squatter;
        int ours = rh__own_name("/tmp", base, '-', make_dir, name, sizeof name, &squatter);
        if (ours < 0)
            return rh_error_set(err, RH_ESYS, "control socket folder: cannot list /tmp for a "
                                "folder of this user's (/tmp/%s...): %s; set "
                                "RINGHOST_RUNTIME_DIR to a folder of yours", base,
                                strerror(errno));
        snprintf(dir, sizeof dir, "/tmp/%s", name);
        if (!ours && !make_dir && squatter != (uid_t)-1)
            return rh_error_set(err, RH_ENOENT, "control socket folder: /tmp/%s belongs to uid "
                                "%u, not to this user, and no folder /tmp/%s-N of this user's "
                                "exists", base, (unsigned)squatter, base);
        if (make_dir && squatter != (uid_t)-1 && attempt == 0)
            rh__log_event(NULL, RH_LOG_WARN, "control.folder_taken",
                          "folder=/tmp/%s owner_uid=%u using=%s reason=\"another user's entry "
                          "has the name; it is left alone, and this user's clients find the "
                          "numbered one\"", base, (unsigned)squatter, dir);
        rc = safe_dir(dir, make_dir, err);
        struct stat st;
        if (rc == 0 || !make_dir || lstat(dir, &st) != 0 || st.st_uid == geteuid())
            break;
    }
    if (rc != 0)
        return rc;
    return socket_in(dir, instance, buf, len, err);
}

/*
 * A client that was not told where (no RINGHOST_RUNTIME_DIR) also finds a
 * host of the systemd unit docs/ringhost@.service, whose runtime folder is
 * RH_CONTROL_SYSTEM_DIR: there when the user's own folder holds no socket
 * of the instance and the system folder does, in a folder owned by root or
 * by this user and writable by no one else.  A host never binds there
 * unless told (the unit sets RINGHOST_RUNTIME_DIR).
 */
static int system_socket(const char *instance, char *buf, size_t len)
{
    char path[PATH_MAX];
    rh_error ignored;
    struct stat st;
    if (lstat(RH_CONTROL_SYSTEM_DIR, &st) != 0 || !S_ISDIR(st.st_mode) ||
        (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022))
        return 0;
    if (socket_in(RH_CONTROL_SYSTEM_DIR, instance, path, sizeof path, &ignored) != 0 ||
        lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || strlen(path) >= len)
        return 0;
    memcpy(buf, path, strlen(path) + 1);
    return 1;
}

uint64_t rh__control_heartbeat_ns(const rh_control *c)
{
    return atomic_load_explicit(&((rh_control *)c)->heartbeat_ns, memory_order_relaxed);
}

/* The folder the instance's socket is in when nothing says otherwise. */
static int default_socket_path(const char *instance, int make_dir, char *buf, size_t len,
                               rh_error *err);

int rh__control_socket_path(const char *instance, int make_dir, char *buf, size_t len,
                            rh_error *err)
{
    int rc = default_socket_path(instance, make_dir, buf, len, err);
    const char *own = getenv("RINGHOST_RUNTIME_DIR");
    struct stat st;
    int none_here = rc == RH_ENOENT || (rc == 0 && lstat(buf, &st) != 0);
    if (!make_dir && !(own && own[0] == '/') && none_here && system_socket(instance, buf, len))
        return 0;
    return rc;
}

static int default_socket_path(const char *instance, int make_dir, char *buf, size_t len,
                               rh_error *err)
{
    if (!rh_queue_name_valid(instance))
        return rh_error_set(err, RH_EINVAL, "instance name \"%s\" is invalid: expected 1 to %d "
                            "characters from [A-Za-z0-9._-]", instance ? instance : "",
                            RH_QUEUE_NAME_MAX);
    char dir[PATH_MAX];
    const char *own = getenv("RINGHOST_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat xst;
    int rc;
    if (own && own[0] == '/') {
        snprintf(dir, sizeof dir, "%s", own);
    } else if (xdg && xdg[0] == '/' && stat(xdg, &xst) == 0 && S_ISDIR(xst.st_mode)) {
        /* $XDG_RUNTIME_DIR is the user's own (0700) by its specification;
         * our folder inside it is checked all the same.  A variable naming
         * nothing (su, containers) falls back to /tmp. */
        snprintf(dir, sizeof dir, "%s/ringhost", xdg);
    } else {
        return tmp_dir_path(instance, make_dir, buf, len, err);
    }
    if ((rc = safe_dir(dir, make_dir, err)) != 0)
        return rc;
    return socket_in(dir, instance, buf, len, err);
}

/* ------------------------------------------------------------ open ---- */

/* Connect to path: the fd, or -1 (errno) when nobody answers. */
static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/*
 * Take <instance>.lock: 1 locked, 0 another host holds it, -1 (errno) when
 * it cannot be opened.  The host that stops removes the file while it
 * holds it, so a lock taken on a file already removed (its inode no longer
 * at the path) is not the instance's: open it again.
 */
static int take_lock(rh_control *c)
{
    snprintf(c->lock_path, sizeof c->lock_path, "%.*s.lock", (int)strlen(c->path) - 5, c->path);
    for (int attempt = 0; attempt < 8; attempt++) {
        c->lock_fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (c->lock_fd < 0)
            return -1;
        if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0)
            return 0;
        struct stat held, now;
        if (fstat(c->lock_fd, &held) == 0 && stat(c->lock_path, &now) == 0 &&
            held.st_ino == now.st_ino && held.st_dev == now.st_dev)
            return 1;
        close(c->lock_fd); /* removed under us by a host that stopped */
        c->lock_fd = -1;
    }
    return 0;
}

int rh__control_open(const char *instance, FILE *log, rh_control **out, rh_error *err)
{
    *out = NULL;
    rh_control *c = calloc(1, sizeof *c);
    if (!c)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    c->listen_fd = c->wake[0] = c->wake[1] = c->lock_fd = -1;
    pthread_mutex_init(&c->rts_lock, NULL);
    c->log = log ? log : stderr;
    snprintf(c->instance, sizeof c->instance, "%s", instance ? instance : "");
    int rc = rh__control_socket_path(instance, 1, c->path, sizeof c->path, err);
    if (rc) {
        pthread_mutex_destroy(&c->rts_lock);
        free(c);
        return rc;
    }
    /* The lock beside the socket is held for the host's life: two hosts
     * starting together cannot both find the socket stale and both bind. */
    int locked = take_lock(c);
    if (locked < 0) {
        rc = rh_error_set(err, RH_ESYS, "control lock %s: %s", c->lock_path, strerror(errno));
        rh__control_close(c);
        return rc;
    }
    /* A socket that answers is a live host of this instance: never take it
     * over.  One that does not is a leftover of a host that died. */
    int probe = connect_to(c->path);
    c->owns_lock = locked;
    if (probe >= 0 || !locked) {
        struct ucred cr;
        socklen_t cl = sizeof cr;
        int known = probe >= 0 && getsockopt(probe, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0;
        if (probe >= 0)
            close(probe);
        char who[32] = "still starting";
        if (known)
            snprintf(who, sizeof who, "pid %d", (int)cr.pid);
        rc = rh_error_set(err, RH_EEXIST, "instance %s is already served by a running host "
                          "(%s, control socket %s); stop it first, or run this one under "
                          "another --instance", c->instance, who, c->path);
        rh__control_close(c);
        return rc;
    }
    struct stat st;
    if (lstat(c->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            rc = rh_error_set(err, RH_EEXIST, "%s exists and is not a socket; remove it",
                              c->path);
            rh__control_close(c);
            return rc;
        }
        unlink(c->path); /* stale: its host is gone */
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", c->path);
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        chmod(c->path, 0600) != 0 || listen(c->listen_fd, RH_CONTROL_CLIENTS_MAX) != 0 ||
        pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = rh_error_set(err, RH_ESYS, "control socket %s: %s", c->path, strerror(errno));
        rh__control_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ----------------------------------------------------------- serve ---- */

/*
 * A connection costs the host a descriptor and, while a request is
 * arriving, its buffer: nothing more.  It has RH_CONTROL_IDLE_MS from its
 * connect, and again from each request answered, to complete its next
 * request line; one that does not (silent, half-open, or trickling a line
 * a byte at a time) is closed at that deadline.  Past RH_CONTROL_CLIENTS_MAX
 * connections, or when the process is out of descriptors, the one that has
 * waited longest without completing a request is closed to make room: a new
 * client is never refused for what idle ones hold, and a client that asks
 * (ps answers in milliseconds) is never the one that waited longest.
 */
typedef struct client {
    int fd;
    char *buf;          /* NULL until the first bytes arrive; grows to RH_CONTROL_LINE_MAX */
    size_t len, cap;
    uint64_t since_ns;  /* connected, or last request answered: the idle deadline runs from it */
} client;

typedef struct clients {
    client *v;          /* RH_CONTROL_CLIENTS_MAX */
    unsigned n;
    uint64_t idle_closed, evicted; /* logged when the host stops */
} clients;

/* Send the whole reply and its '\n' without blocking; -1 drops the client. */
static int send_reply(int fd, char *text)
{
    size_t n = strlen(text);
    text[n] = '\n'; /* the handler leaves room: see reply_text in control_cmd.c */
    size_t off = 0;
    while (off < n + 1) {
        ssize_t w = send(fd, text + off, n + 1 - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* Answer every complete line in cl's buffer; -1 when cl must be closed. */
static int serve_lines(rh_control *c, client *cl)
{
    size_t start = 0;
    for (size_t i = 0; i < cl->len; i++) {
        if (cl->buf[i] != '\n')
            continue;
        size_t n = i - start;
        if (n && cl->buf[start + n - 1] == '\r')
            n--;
        cl->buf[start + n] = 0;
        char *reply = rh__control_handle(c, cl->buf + start, n);
        int rc = send_reply(cl->fd, reply);
        free(reply);
        if (rc)
            return -1;
        cl->since_ns = rh_now_ns();
        start = i + 1;
    }
    memmove(cl->buf, cl->buf + start, cl->len - start);
    cl->len -= start;
    if (cl->len >= RH_CONTROL_LINE_MAX) {
        char *reply = rh__control_handle(c, NULL, RH_CONTROL_LINE_MAX);
        send_reply(cl->fd, reply);
        free(reply);
        return -1;
    }
    if (cl->len == 0 && cl->cap > 4096) { /* a big request answered: give its memory back */
        free(cl->buf);
        cl->buf = NULL;
        cl->cap = 0;
    }
    return 0;
}

/* Read what cl sent and answer its complete lines; -1 when cl must be
 * closed (it closed, failed, or broke the protocol). */
static int read_client(rh_control *c, client *cl)
{
    if (cl->len == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 4 : 4096;
        if (cap > RH_CONTROL_LINE_MAX)
            cap = RH_CONTROL_LINE_MAX;
        char *b = realloc(cl->buf, cap);
        if (!b)
            return -1;
        cl->buf = b;
        cl->cap = cap;
    }
    ssize_t r = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (r < 0)
        return 0;
    cl->len += (size_t)r;
    return serve_lines(c, cl);
}

static void drop(clients *cs, unsigned i)
{
    close(cs->v[i].fd);
    free(cs->v[i].buf);
    cs->v[i] = cs->v[--cs->n];
}

/* The connection that has waited longest without completing a request. */
static unsigned oldest(const clients *cs)
{
    unsigned o = 0;
    for (unsigned i = 1; i < cs->n; i++)
        if (cs->v[i].since_ns < cs->v[o].since_ns)
            o = i;
    return o;
}

/* Accept what is waiting (a bounded number per round, so the connected
 * clients are read in between): a peer of another uid is refused and
 * logged.  0, or -1 when the process has no descriptor left and no
 * connection to give one back. */
static int accept_some(rh_control *c, clients *cs)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && cs->n) {
                drop(cs, oldest(cs));
                cs->evicted++;
                continue;
            }
            return errno == EMFILE || errno == ENFILE ? -1 : 0;
        }
        struct ucred cr;
        socklen_t cl = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 || cr.uid != geteuid()) {
            rh__log_event(c->log, RH_LOG_WARN, "control.refused",
                          "socket=%s peer_uid=%d peer_pid=%d reason=%s", c->path,
                          cl == sizeof cr ? (int)cr.uid : -1, cl == sizeof cr ? (int)cr.pid : -1,
                          "not this host's user");
            close(fd);
            continue;
        }
        if (cs->n == RH_CONTROL_CLIENTS_MAX) {
            drop(cs, oldest(cs));
            cs->evicted++;
        }
        cs->v[cs->n++] = (client){.fd = fd, .since_ns = rh_now_ns()};
    }
    return 0;
}

static void *serve_main(void *arg)
{
    rh_control *c = arg;
    clients cs = {calloc(RH_CONTROL_CLIENTS_MAX, sizeof(client)), 0, 0, 0};
    struct pollfd *pf = calloc(2 + RH_CONTROL_CLIENTS_MAX, sizeof *pf);
    if (!cs.v || !pf) {
        rh__log_event(c->log, RH_LOG_ERROR, "control.stopped", "socket=%s reason=out_of_memory",
                      c->path);
        free(cs.v);
        free(pf);
        return NULL;
    }
    const uint64_t idle_ns = (uint64_t)RH_CONTROL_IDLE_MS * RH_NS_PER_MS;
    uint64_t next_sample = 0, listen_again = 0;
    for (;;) {
        uint64_t now = rh_now_ns();
        if (now >= next_sample) {
            atomic_store_explicit(&c->heartbeat_ns, now, memory_order_relaxed);
            rh__control_sample(c);
            rh__control_release_finished(c); /* what waited for a client to drain it */
            next_sample = now + RH_CONTROL_SAMPLE_MS * RH_NS_PER_MS;
        }
        uint64_t wake_at = next_sample;
        for (unsigned i = 0; i < cs.n; i++)
            if (cs.v[i].since_ns + idle_ns < wake_at)
                wake_at = cs.v[i].since_ns + idle_ns;
        /* out of descriptors with none to give back: listen again later
         * rather than spin on a listener that stays readable */
        int listening = now >= listen_again;
        if (!listening && listen_again < wake_at)
            wake_at = listen_again;
        pf[0] = (struct pollfd){c->wake[0], POLLIN, 0};
        pf[1] = (struct pollfd){listening ? c->listen_fd : -1, POLLIN, 0};
        for (unsigned i = 0; i < cs.n; i++)
            pf[2 + i] = (struct pollfd){cs.v[i].fd, POLLIN, 0};
        unsigned polled = cs.n;
        int wait_ms = wake_at > now ? (int)((wake_at - now) / RH_NS_PER_MS) + 1 : 0;
        if (poll(pf, 2 + polled, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents)
            break;
        /* Clients first (their slots move when one is dropped), then new
         * ones.  A client is read before its deadline is looked at: a
         * request that arrived while a long one (a launch, a terminate)
         * was carried out is answered, not dropped with the idle ones. */
        for (unsigned i = polled; i-- > 0;) {
            if (pf[2 + i].revents && read_client(c, &cs.v[i]) != 0) {
                drop(&cs, i);
            } else if (cs.v[i].since_ns + idle_ns <= rh_now_ns()) {
                drop(&cs, i);
                cs.idle_closed++;
            }
        }
        if ((pf[1].revents & POLLIN) && accept_some(c, &cs) != 0)
            listen_again = rh_now_ns() + 100 * RH_NS_PER_MS;
    }
    if (cs.idle_closed || cs.evicted)
        rh__log_event(c->log, RH_LOG_INFO, "control.connections",
                      "socket=%s idle_closed=%llu evicted=%llu", c->path,
                      (unsigned long long)cs.idle_closed, (unsigned long long)cs.evicted);
    while (cs.n)
        drop(&cs, 0);
    free(cs.v);
    free(pf);
    return NULL;
}

int rh__control_start(rh_control *c, rh_error *err)
{
    if (pthread_create(&c->thread, NULL, serve_main, c) != 0)
        return rh_error_set(err, RH_ESYS, "cannot start the control thread");
    c->started = 1;
    rh__log_event(c->log, RH_LOG_INFO, "control.listen", "instance=%s socket=%s", c->instance,
                  c->path);
    return 0;
}

void rh__control_stop(rh_control *c)
{
    if (!c)
        return;
    if (c->started) {
        ssize_t w = write(c->wake[1], "x", 1);
        (void)w;
        pthread_join(c->thread, NULL);
        c->started = 0;
    }
    rh__control_unhook_watch(c);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        c->listen_fd = -1;
        unlink(c->path);
    }
}

void rh__control_close(rh_control *c)
{
    if (!c)
        return;
    rh__control_stop(c);
    for (int i = 0; i < 2; i++)
        if (c->wake[i] >= 0)
            close(c->wake[i]);
    if (c->lock_fd >= 0 && c->owns_lock)
        unlink(c->lock_path); /* still holding it: see take_lock */
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* the instance is free again */
    rh__control_runtimes_free(c);
    pthread_mutex_destroy(&c->rts_lock);
    free(c);
}
