/*
 * plugin_watch.c — the plugin folders, watched while the host runs
 * (rh_launch_opts.watch_plugins).
 *
 * One thread per runtime waits on an inotify descriptor for files that
 * were finished in a plugin folder: IN_CLOSE_WRITE (what `cp` leaves) and
 * IN_MOVED_TO (what `mv` and `install` leave).  A file counts once nothing
 * more happened in the folders for DEBOUNCE_MS, so a build that writes
 * several files, or writes one twice, is looked at once, complete.  Then:
 *
 *   - a file some running kernel was loaded from: that kernel is reloaded
 *     (hotswap.c), which logs kernel.swap or kernel.swap_refused;
 *   - any other .so: checked as launch would check it, in the scanner
 *     child only (try_new_plugin), and logged as plugin.added (its kernel
 *     and version) or plugin.refused (its reason), so the operator knows
 *     whether it can be launched.
 *
 * Names starting with '.' are skipped: they are the temporary files of an
 * editor or of `cp x .plugin.so.tmp && mv .plugin.so.tmp plugin.so`.
 *
 * "Some running kernel" means a kernel of any runtime of the host: a host
 * serving manifests added with `ringhost launch` has one runtime each, and
 * only the first (the one `run` started) is watched.  The control layer
 * hands the watcher a users() hook (rh__plugin_watch_set_users) that swaps
 * the file's kernels in every runtime it holds; the folders of a launched
 * manifest are added to the watch (rh__plugin_watch_add_dir).  A kernel
 * loaded by absolute path (--allow-plugin) has its file watched, not the
 * rest of that folder.
 *
 * The thread sleeps in poll() with no timeout while nothing is pending; an
 * eventfd wakes it to stop (terminate, destroy), which joins it before any
 * lifecycle state is torn down.  It touches the runtime only through
 * rh_runtime_kernel_reload and under rt->life_lock.  pw->lock guards the
 * folder list (added to from the control thread) and the hook; it is held
 * while a file is handled, so clearing the hook waits for a running call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/log.h"
#include "live/live.h"
#include "plugin/plugin_scanner.h"

/* Quiet time after the last event before the pending files are handled. */
#define DEBOUNCE_MS 200
/* Files remembered between two quiet moments; more are handled at once. */
#define MAX_PENDING 64

typedef struct rh_plugin_watch rh_plugin_watch;

typedef struct watched_dir {
    int wd;
    char path[4096];
    char only[NAME_MAX + 1]; /* "" = every .so; else this file only (--allow-plugin) */
} watched_dir;

/* The plugin folders of the runtime, a launched manifest's, and the
 * folders of allowed files. */
#define MAX_WATCHED (4 * RH_MAX_PLUGIN_DIRS + 64)

struct rh_plugin_watch {
    rh_runtime *rt;
    int ino;   /* inotify */
    int wake;  /* eventfd: stop */
    pthread_t thread;
    pthread_mutex_t lock; /* dirs, n_dirs, users, users_arg */
    watched_dir dirs[MAX_WATCHED];
    uint32_t n_dirs;
    unsigned (*users)(void *arg, const char *path);
    void *users_arg;
    struct pending {
        uint32_t dir;
        char name[NAME_MAX + 1];
    } pending[MAX_PENDING];
    uint32_t n_pending;
};

static int is_plugin_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".so") == 0;
}

/* Do a and b name the same file (as written, or once resolved)? */
static int same_file(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return 1;
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* A new .so nobody runs: can it be launched?  Asked of the scanner child
 * only (rh__plugin_check_file): a file dropped into a watched folder runs
 * no code in the host until a launch or a swap needs it, so a plugin that
 * behaves while scanned and not in the host cannot take a serving host
 * down by being dropped in. */
static void try_new_plugin(rh_runtime *rt, const char *path)
{
    rh_plugin_probe p;
    rh_error e = {0};
    if (rh__plugin_check_file(path, &p, &e) != 0) {
        rh__log_event(rt->log, RH_LOG_WARN, "plugin.refused", "file=%s reason=%s", path, e.msg);
        return;
    }
    rh__log_event(rt->log, RH_LOG_INFO, "plugin.added", "file=%s kernel=%s version=%s", path,
                  p.name, p.version);
}

unsigned rh__plugin_swap_users(rh_runtime *rt, const char *path)
{
    /* Which kernels run this file (k->plugin changes in a swap: read it
     * under the lock; the names themselves never change). */
    const char *users[64];
    uint32_t n_users = 0;
    pthread_mutex_lock(&rt->life_lock);
    for (uint32_t i = 0; i < rt->n_kernels && n_users < 64; i++) {
        rh_kinst *k = &rt->kernels[i];
        if (k->state != RH_STATE_TERMINATED && k->plugin && same_file(k->plugin->path, path))
            users[n_users++] = k->decl->name;
    }
    pthread_mutex_unlock(&rt->life_lock);
    for (uint32_t i = 0; i < n_users; i++) {
        rh_error e = {0};
        rh_runtime_kernel_reload(rt, users[i], &e); /* logs kernel.swap or swap_refused */
    }
    return n_users;
}

/* Called with pw->lock held. */
static void handle_file(rh_plugin_watch *pw, const char *path)
{
    unsigned n = pw->users ? pw->users(pw->users_arg, path) : rh__plugin_swap_users(pw->rt, path);
    if (!n)
        try_new_plugin(pw->rt, path);
}

/* Called with pw->lock held. */
static void handle_pending(rh_plugin_watch *pw)
{
    for (uint32_t i = 0; i < pw->n_pending; i++) {
        char path[4096 + NAME_MAX + 2];
        const char *dir = pw->dirs[pw->pending[i].dir].path;
        int dl = (int)strlen(dir);
        while (dl > 1 && dir[dl - 1] == '/') /* "plugins/" gives "plugins/x.so" */
            dl--;
        snprintf(path, sizeof path, "%.*s/%s", dl, dir, pw->pending[i].name);
        handle_file(pw, path);
    }
    pw->n_pending = 0;
}

static void add_pending(rh_plugin_watch *pw, int wd, const char *name)
{
    /* the entry of that folder that takes this name (a folder watched for
     * one allowed file has an entry per file) */
    uint32_t d = 0;
    while (d < pw->n_dirs && (pw->dirs[d].wd != wd ||
                              (pw->dirs[d].only[0] && strcmp(pw->dirs[d].only, name) != 0)))
        d++;
    if (d == pw->n_dirs || !is_plugin_name(name))
        return;
    for (uint32_t i = 0; i < pw->n_pending; i++)
        if (pw->pending[i].dir == d && strcmp(pw->pending[i].name, name) == 0)
            return;
    if (pw->n_pending == MAX_PENDING)
        handle_pending(pw);
    pw->pending[pw->n_pending].dir = d;
    snprintf(pw->pending[pw->n_pending].name, sizeof pw->pending[0].name, "%s", name);
    pw->n_pending++;
}

static void read_events(rh_plugin_watch *pw)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(pw->ino, buf, sizeof buf);
    for (ssize_t at = 0; n > 0 && at < n;) {
        const struct inotify_event *ev = (const struct inotify_event *)(buf + at);
        if (ev->len && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)))
            add_pending(pw, ev->wd, ev->name);
        if (ev->mask & IN_Q_OVERFLOW)
            rh__log_event(pw->rt->log, RH_LOG_WARN, "plugin.watch_overflow",
                          "lost=events what=\"copy the file again to have it seen\"");
        at += (ssize_t)(sizeof *ev + ev->len);
    }
}

static void *watch_main(void *arg)
{
    rh_plugin_watch *pw = arg;
    struct pollfd fds[2] = {{.fd = pw->ino, .events = POLLIN}, {.fd = pw->wake, .events = POLLIN}};
    for (;;) {
        int rc = poll(fds, 2, pw->n_pending ? DEBOUNCE_MS : -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || (fds[1].revents & POLLIN))
            break;
        pthread_mutex_lock(&pw->lock);
        if (rc == 0)
            handle_pending(pw);
        else if (fds[0].revents & POLLIN)
            read_events(pw);
        pthread_mutex_unlock(&pw->lock);
    }
    return NULL;
}

/* Called with pw->lock held (or before the thread starts).  only: "" for
 * every .so of dir, else that file's name. */
static int add_dir(rh_plugin_watch *pw, const char *dir, const char *only, rh_error *err)
{
    for (uint32_t i = 0; i < pw->n_dirs; i++)
        if (strcmp(pw->dirs[i].path, dir) == 0 && (!pw->dirs[i].only[0] ||
                                                   strcmp(pw->dirs[i].only, only) == 0))
            return 0;
    if (pw->n_dirs == MAX_WATCHED)
        return rh_error_set(err, RH_ESYS, "cannot watch plugin folder %s: %u folders are "
                            "watched already", dir, (unsigned)MAX_WATCHED);
    int wd = inotify_add_watch(pw->ino, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
    if (wd < 0)
        return rh_error_set(err, RH_ESYS, "cannot watch plugin folder %s: %s%s", dir,
                            strerror(errno),
                            errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
    for (uint32_t i = 0; i < pw->n_dirs; i++)
        if (pw->dirs[i].wd == wd) { /* the same folder (by another name?) */
            if (!only[0])
                pw->dirs[i].only[0] = 0; /* the whole folder now */
            else if (pw->dirs[i].only[0] && strcmp(pw->dirs[i].only, only) != 0)
                break; /* another file of it: one more entry with the same wd */
            return 0;
        }
    watched_dir *d = &pw->dirs[pw->n_dirs];
    d->wd = wd;
    snprintf(d->path, sizeof d->path, "%s", dir);
    snprintf(d->only, sizeof d->only, "%s", only);
    pw->n_dirs++;
    return 0;
}

/* The folder of each kernel's plugin loaded by absolute path. */
static int add_allowed_files(rh_plugin_watch *pw, const rh_manifest *m, rh_error *err)
{
    for (uint32_t i = 0; i < m->n_kernels; i++) {
        const char *p = m->kernels[i].plugin, *slash = strrchr(p, '/');
        if (p[0] != '/' || !slash[1])
            continue;
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash == p ? 1 : (int)(slash - p), p);
        int rc = add_dir(pw, dir, slash + 1, err);
        if (rc)
            return rc;
    }
    return 0;
}

int rh__plugin_watch_start(rh_runtime *rt, const rh_launch_opts *opts, rh_error *err)
{
    rh_plugin_watch *pw = calloc(1, sizeof *pw);
    if (!pw)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    pw->rt = rt;
    pw->wake = -1;
    pw->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    int rc = 0;
    if (pw->ino < 0)
        rc = rh_error_set(err, RH_ESYS, "inotify_init1: %s%s", strerror(errno),
                          errno == EMFILE ? " (raise fs.inotify.max_user_instances)" : "");
    else if ((pw->wake = eventfd(0, EFD_CLOEXEC)) < 0)
        rc = rh_error_set(err, RH_ESYS, "eventfd: %s", strerror(errno));
    pthread_mutex_init(&pw->lock, NULL);
    if (rc == 0 && opts && opts->extra_plugins)
        rc = add_dir(pw, opts->extra_plugins, "", err);
    for (uint32_t i = 0; rc == 0 && i < rt->m->n_plugin_dirs; i++)
        rc = add_dir(pw, rt->m->plugin_dirs[i], "", err);
    if (rc == 0)
        rc = add_allowed_files(pw, rt->m, err);
    if (rc == 0 && pthread_create(&pw->thread, NULL, watch_main, pw) != 0)
        rc = rh_error_set(err, RH_ESYS, "cannot start the plugin watcher thread");
    if (rc != 0) {
        if (pw->ino >= 0)
            close(pw->ino);
        if (pw->wake >= 0)
            close(pw->wake);
        pthread_mutex_destroy(&pw->lock);
        free(pw);
        return rc;
    }
    char dirs[1024] = "";
    size_t at = 0;
    for (uint32_t i = 0; i < pw->n_dirs && at < sizeof dirs; i++)
        at += (size_t)snprintf(dirs + at, sizeof dirs - at, "%s%s%s%s", i ? "," : "",
                               pw->dirs[i].path, pw->dirs[i].only[0] ? "/" : "",
                               pw->dirs[i].only);
    rh__log_event(rt->log, RH_LOG_INFO, "plugin.watch", "dirs=%s", dirs);
    rt->watch = pw;
    return 0;
}

void rh__plugin_watch_stop(rh_runtime *rt)
{
    rh_plugin_watch *pw = rt->watch;
    if (!pw)
        return;
    uint64_t one = 1;
    if (write(pw->wake, &one, sizeof one) != sizeof one)
        rh__log_event(rt->log, RH_LOG_WARN, "plugin.watch_stop", "error=%s", strerror(errno));
    pthread_join(pw->thread, NULL);
    close(pw->ino);
    close(pw->wake);
    pthread_mutex_destroy(&pw->lock);
    free(pw);
    rt->watch = NULL;
}

void rh__plugin_watch_set_users(rh_runtime *rt, unsigned (*users)(void *arg, const char *path),
                                void *arg)
{
    rh_plugin_watch *pw = rt->watch;
    if (!pw)
        return;
    pthread_mutex_lock(&pw->lock);
    pw->users = users;
    pw->users_arg = arg;
    pthread_mutex_unlock(&pw->lock);
}

int rh__plugin_watch_add_manifest(rh_runtime *rt, const rh_manifest *m, const char *extra,
                                  rh_error *err)
{
    rh_plugin_watch *pw = rt->watch;
    if (!pw)
        return 0;
    pthread_mutex_lock(&pw->lock);
    uint32_t before = pw->n_dirs;
    int rc = extra ? add_dir(pw, extra, "", err) : 0;
    for (uint32_t i = 0; rc == 0 && i < m->n_plugin_dirs; i++)
        rc = add_dir(pw, m->plugin_dirs[i], "", err);
    if (rc == 0)
        rc = add_allowed_files(pw, m, err);
    for (uint32_t i = before; i < pw->n_dirs; i++)
        rh__log_event(rt->log, RH_LOG_INFO, "plugin.watch", "added=%s%s%s", pw->dirs[i].path,
                      pw->dirs[i].only[0] ? "/" : "", pw->dirs[i].only);
    pthread_mutex_unlock(&pw->lock);
    return rc;
}
