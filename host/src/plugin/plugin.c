/*
 * plugin.c — loading and checking kernel shared objects.
 *
 * A plugin is untrusted in the sense that it may be stale, half-written or
 * built against another ABI: every check below turns such a file into a
 * reported reason instead of a crash.  A file that another user could have
 * written is refused before dlopen runs any of it (plugin_trust.c), and the
 * descriptor that was checked is what gets loaded; a file that crashes,
 * exits or hangs while loading is caught in a scanner child before the
 * host loads it (plugin_scanner.c).  Loading one file and checking its
 * descriptor is plugin_load.c, the same code the scanner child runs.
 */
#define _GNU_SOURCE /* memfd_create */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/grow.h"
#include "base/log.h"
#include "plugin/plugin.h"
#include "plugin/plugin_guard.h"
#include "plugin/plugin_load.h"
#include "plugin/plugin_scanner.h"
#include "plugin/plugin_trust.h"

/*
 * Every dlopen and dlclose of this layer, and every fork of the plugin
 * scanner, holds this lock: the scanner child is never forked while
 * another thread of ours is inside the loader (its locks would be held
 * forever in the child).
 */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* The host's own part of a load, run on the guard's thread
 * (plugin_guard.h): dlopen, the entry, the checks and the comparison with
 * what the scanner child saw.  Everything it needs is in it, and it is on
 * the heap: a load that crashes, exits or hangs keeps its thread, which
 * may still write here after the caller has gone. */
typedef struct host_load {
    char load_path[64];
    char path[4096];
    rh_plugin_probe probe;
    void *handle;
    const rh_kernel_desc *desc;
    rh_error err;
    int rc;
} host_load;

static void host_load_job(void *arg)
{
    host_load *h = arg;
    h->rc = rh__plugin_load_at(h->load_path, h->path, &h->handle, &h->desc, &h->err);
    if (h->rc == 0 &&
        (h->rc = rh__plugin_probe_matches(&h->probe, h->desc, h->path, &h->err)) != 0) {
        dlclose(h->handle);
        h->handle = NULL;
        h->desc = NULL;
    }
}

/*
 * Load the file open at fd (the checked file or its private copy; key: the
 * stat that names its build), scanner child first, then the host's own
 * dlopen through /proc/<pid>/fd/N and the re-check of what the child saw,
 * on the guard's thread.  Every message names `path`, the file the user
 * knows.  On success fd is kept open in out (the loader's name for the
 * library stays valid); on failure the caller closes it.
 */
static int load_fd(int fd, const struct stat *key, const char *path, rh_plugin *out,
                   rh_error *err)
{
    host_load *h = calloc(1, sizeof *h);
    if (!h)
        return rh_error_set(err, RH_EPLUGIN, "%s: out of memory", path);
    pthread_mutex_lock(&load_lock);
    /* A plugin that took the loader for good: nothing more is scanned (a
     * child forked now would inherit the loader's lock held) or loaded. */
    int rc = rh__plugin_guard_refuse(path, err);
    if (rc == 0)
        rc = rh__plugin_probe(fd, key, path, &h->probe, err);
    int kept = 0; /* by the guard's thread, which crashed, exited or hung in the plugin */
    if (rc == 0) {
        /* /proc/<pid>, not /proc/self: a symbolizer or debugger in another
         * process reads the library by the name the loader recorded. */
        snprintf(h->load_path, sizeof h->load_path, "/proc/%d/fd/%d", (int)getpid(), fd);
        snprintf(h->path, sizeof h->path, "%s", path);
        rc = rh__plugin_guard_run(path, 0, host_load_job, h, err);
        kept = rc == RH_EPLUGIN;
        if (rc == 0 && (rc = h->rc) != 0)
            *err = h->err;
    }
    pthread_mutex_unlock(&load_lock);
    if (rc) {
        if (!kept)
            free(h);
        out->error = RH_EPLUGIN;
        snprintf(out->why, sizeof out->why, "%s", err->msg);
        return RH_EPLUGIN;
    }
    out->handle = h->handle;
    out->desc = h->desc;
    free(h);
    out->copy_fd = fd;
    return 0;
}

/* The checked descriptor of path (plugin_trust.c); waive: an explicit
 * --allow-plugin, whose waived checks are logged. */
static int open_trusted(const char *path, int waive, int *fd, rh_error *err)
{
    char waived[1536];
    int rc = rh__plugin_trusted_open(path, waive, waived, sizeof waived, fd, err);
    if (rc == 0 && waived[0])
        rh__log_event(NULL, RH_LOG_WARN, "plugin.allowed",
                      "file=%s reason=%s note=%s", path,
                      "loaded only because the command line allows it (--allow-plugin)", waived);
    return rc;
}

static int open_direct(const char *path, int waive, rh_plugin *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    out->copy_fd = -1;
    out->waived = waive;
    snprintf(out->path, sizeof out->path, "%s", path);
    rh_error local;
    if (!err)
        err = &local;
    int fd = -1;
    struct stat st;
    if (open_trusted(path, waive, &fd, err) != 0 || rh__plugin_check_extent(fd, path, err) != 0 ||
        fstat(fd, &st) != 0 || load_fd(fd, &st, path, out, err) != 0) {
        if (fd >= 0)
            close(fd);
        out->error = RH_EPLUGIN;
        snprintf(out->why, sizeof out->why, "%s", err->msg);
        return RH_EPLUGIN;
    }
    return 0;
}

int rh__plugin_check_file(const char *path, rh_plugin_probe *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = -1;
    struct stat st;
    int rc = open_trusted(path, 0, &fd, err);
    if (rc == 0)
        rc = rh__plugin_check_extent(fd, path, err);
    if (rc == 0 && fstat(fd, &st) != 0)
        rc = rh_error_set(err, RH_EPLUGIN, "%s: cannot stat: %s", path, strerror(errno));
    if (rc == 0) {
        pthread_mutex_lock(&load_lock);
        rc = rh__plugin_guard_refuse(path, err);
        if (rc == 0)
            rc = rh__plugin_probe(fd, &st, path, out, err);
        pthread_mutex_unlock(&load_lock);
    }
    if (fd >= 0)
        close(fd);
    return rc ? RH_EPLUGIN : 0;
}

int rh__plugin_open(const char *path, rh_plugin *out, rh_error *err)
{
    return open_direct(path, 0, out, err);
}

/*
 * glibc's dlopen hands back the library already loaded when the name, or
 * the file's device and inode, match one it has: loading a new build of a
 * running kernel's file by its name would return the old code.  So the
 * file's bytes are copied into a memfd (an anonymous file: no folder to
 * secure or clean up, no noexec mount to trip on, gone with the process)
 * and that is loaded through /proc/<pid>/fd/N.  The fd stays open as long
 * as the library is loaded: a later copy can then never reuse the same
 * name while this one is known to the loader.  The bytes come from the
 * checked descriptor of the file, so they are the bytes that were judged.
 */
static int open_copy(const char *path, int waive, rh_plugin *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    out->copy_fd = -1;
    out->waived = waive;
    snprintf(out->path, sizeof out->path, "%s", path);
    rh_error local;
    if (!err)
        err = &local;
    int src = -1, fd = -1, rc = RH_EPLUGIN;
    struct stat key;
    if (open_trusted(path, waive, &src, err) != 0)
        goto fail;
    if (fstat(src, &key) != 0) {
        rh_error_set(err, RH_EPLUGIN, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if ((fd = memfd_create("ringhost-plugin", MFD_CLOEXEC)) < 0) {
        rc = rh_error_set(err, RH_ESYS, "%s: memfd_create for a private copy failed: %s", path,
                          strerror(errno));
        goto fail;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = rh_error_set(err, RH_ESYS, "%s: copying into a private copy: %s", path,
                                  strerror(errno));
                goto fail;
            }
            off += w;
        }
    if (n < 0) {
        rh_error_set(err, RH_EPLUGIN, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    close(src);
    src = -1;
    if (rh__plugin_check_extent(fd, path, err) != 0)
        goto fail;
    if (load_fd(fd, &key, path, out, err) != 0) {
        close(fd);
        return RH_EPLUGIN;
    }
    out->copied = 1;
    return 0;
fail:
    if (src >= 0)
        close(src);
    if (fd >= 0)
        close(fd);
    out->error = RH_EPLUGIN;
    snprintf(out->why, sizeof out->why, "%s", err->msg);
    return rc;
}

int rh__plugin_open_copy(const char *path, rh_plugin *out, rh_error *err)
{
    return open_copy(path, 0, out, err);
}

int rh__plugin_reopen_copy(const rh_plugin *was, rh_plugin *out, rh_error *err)
{
    return open_copy(was->path, was->waived, out, err);
}

static void unload_job(void *handle)
{
    dlclose(handle); /* the plugin's destructors run here */
}

void rh__plugin_close(rh_plugin *p)
{
    int unloaded = 1;
    if (p->handle) {
        /* On the guard's thread, as its load was.  Once the guard is
         * wedged nothing is unloaded (dlclose would wait for the loader's
         * lock for ever; the process is ending), and a library left loaded
         * keeps its private copy's descriptor: a later copy must never be
         * loaded under the same /proc/<pid>/fd/N name. */
        rh_error e;
        pthread_mutex_lock(&load_lock);
        unloaded = rh__plugin_guard_refuse(p->path, &e) == 0 &&
                   rh__plugin_guard_run(p->path, 1, unload_job, p->handle, &e) == 0;
        pthread_mutex_unlock(&load_lock);
    }
    free(p->seen);
    p->seen = NULL;
    if ((p->handle || p->copied) && unloaded)
        if (p->copy_fd >= 0)
            close(p->copy_fd);
    p->handle = NULL;
    p->desc = NULL;
    p->copied = 0;
    p->copy_fd = -1;
}

/* One file of a set, from a private copy when the set asks for it. */
static int open_in_set(const rh_plugin_set *set, const char *path, int waive, rh_plugin *out,
                       rh_error *err)
{
    return set->private_copies ? open_copy(path, waive, out, err)
                               : open_direct(path, waive, out, err);
}

static int ends_with_so(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Start the scanner children of a folder's files together, PREFETCH_BATCH
 * at a time, so that the loads that follow find their results cached: a
 * folder of plugins waits about one scan, not one per file.  Only files
 * that pass the trust checks are scanned (the load checks them again and
 * says why for the others); a result it cannot get is left to the load.
 */
#define PREFETCH_BATCH 16

/* A set's item for path, known only by what the scanner child said of it
 * (set->names_only: nothing of the file runs in this process); loaded
 * later only when a kernel names it (plugin_pick.c). */
static void scan_name(rh_plugin *out, const char *path)
{
    memset(out, 0, sizeof *out);
    out->copy_fd = -1;
    snprintf(out->path, sizeof out->path, "%s", path);
    rh_error err;
    rh_plugin_probe *seen = calloc(1, sizeof *seen);
    if (!seen)
        rh_error_set(&err, RH_EPLUGIN, "%s: out of memory", path);
    else if (rh__plugin_check_file(path, seen, &err) == 0) {
        out->seen = seen;
        return;
    }
    free(seen);
    out->error = RH_EPLUGIN;
    snprintf(out->why, sizeof out->why, "%s", err.msg);
}

static void prefetch_scans(const char *dir, char **names, uint32_t n)
{
    if (n < 2)
        return;
    for (uint32_t at = 0; at < n; at += PREFETCH_BATCH) {
        int fds[PREFETCH_BATCH];
        struct stat keys[PREFETCH_BATCH];
        char paths[PREFETCH_BATCH][4096];
        const char *names_of[PREFETCH_BATCH];
        uint32_t k = 0;
        for (uint32_t i = at; i < n && i < at + PREFETCH_BATCH; i++) {
            snprintf(paths[k], sizeof paths[k], "%s/%s", dir, names[i]);
            rh_error e;
            int fd;
            if (rh__plugin_trusted_open(paths[k], 0, NULL, 0, &fd, &e) != 0)
                continue;
            if (fstat(fd, &keys[k]) != 0 || rh__plugin_probe_cached(paths[k], &keys[k]) ||
                rh__plugin_check_extent(fd, paths[k], &e) != 0) {
                close(fd);
                continue;
            }
            fds[k] = fd;
            names_of[k] = paths[k];
            k++;
        }
        if (k) {
            pthread_mutex_lock(&load_lock);
            rh__plugin_probe_many(k, fds, keys, names_of, NULL);
            pthread_mutex_unlock(&load_lock);
        }
        for (uint32_t i = 0; i < k; i++)
            close(fds[i]);
    }
}

int rh__plugin_scan(rh_plugin_set *set, const char *dir_given, rh_error *err)
{
    /* "plugins/" names its files "plugins/x.so", not "plugins//x.so": the
     * paths are printed, logged and compared (drop-in swap, trust). */
    char dir[4096];
    size_t dl = strlen(dir_given);
    while (dl > 1 && dir_given[dl - 1] == '/')
        dl--;
    if (dl >= sizeof dir)
        return rh_error_set(err, RH_EINVAL, "%s: plugin folder path too long", dir_given);
    memcpy(dir, dir_given, dl);
    dir[dl] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return rh_error_set(err, RH_ENOENT, "%s: cannot read plugin folder: %s", dir,
                            strerror(errno));
    char **names = NULL;
    uint32_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with_so(e->d_name))
            continue;
        if (rh_grow(&names, &cap, n + 1, sizeof *names))
            break;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    if (rh_grow(&set->items, NULL, set->n + n, sizeof *set->items)) {
        for (uint32_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rh_error_set(err, RH_ENOMEM, "%s: out of memory", dir);
    }
    prefetch_scans(dir, names, n);
    for (uint32_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (set->names_only)
            scan_name(&set->items[set->n++], path);
        else
            open_in_set(set, path, 0, &set->items[set->n++], NULL);
        free(names[i]);
    }
    free(names);
    return (int)n;
}

int rh__plugin_add(rh_plugin_set *set, const char *path, rh_error *err)
{
    if (rh_grow(&set->items, NULL, set->n + 1, sizeof *set->items))
        return rh_error_set(err, RH_ENOMEM, "%s: out of memory", path);
    return open_in_set(set, path, 0, &set->items[set->n++], err);
}

int rh__plugin_add_allowed(rh_plugin_set *set, const char *path, rh_error *err)
{
    if (rh_grow(&set->items, NULL, set->n + 1, sizeof *set->items))
        return rh_error_set(err, RH_ENOMEM, "%s: out of memory", path);
    return open_in_set(set, path, 1, &set->items[set->n++], err);
}

void rh__plugin_set_free(rh_plugin_set *set)
{
    for (uint32_t i = 0; i < set->n; i++)
        rh__plugin_close(&set->items[i]);
    free(set->items);
    set->items = NULL;
    set->n = 0;
}

/* "dir/libNAME.so" or "dir/NAME.so" matches NAME. */
static int stem_matches(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "lib", 3) == 0 && strncmp(base + 3, name, strlen(name)) == 0 &&
        strcmp(base + 3 + strlen(name), ".so") == 0)
        return 1;
    return strncmp(base, name, strlen(name)) == 0 && strcmp(base + strlen(name), ".so") == 0;
}

const rh_plugin *rh__plugin_find(const rh_plugin_set *set, const char *name)
{
    for (uint32_t i = 0; i < set->n; i++)
        if (set->items[i].desc && strcmp(set->items[i].desc->name, name) == 0)
            return &set->items[i];
    for (uint32_t i = 0; i < set->n; i++)
        if (set->items[i].desc && stem_matches(set->items[i].path, name))
            return &set->items[i];
    return NULL;
}

const rh_type *rh__plugin_find_type(const rh_plugin_set *set, const char *type_name,
                                    const char **origin)
{
    for (uint32_t i = 0; i < set->n; i++) {
        const rh_kernel_desc *d = set->items[i].desc;
        if (!d)
            continue;
        for (int dir = 0; dir < 2; dir++) {
            const rh_port *ports = dir ? d->outputs : d->inputs;
            uint32_t np = dir ? d->n_outputs : d->n_inputs;
            for (uint32_t j = 0; j < np; j++)
                if (strcmp(ports[j].type->name, type_name) == 0) {
                    if (origin)
                        *origin = set->items[i].path;
                    return ports[j].type;
                }
        }
    }
    return NULL;
}

const char *rh__plugin_config_schema(const rh_kernel_desc *d)
{
    size_t end = offsetof(rh_kernel_desc, config_schema) + sizeof d->config_schema;
    return d && d->struct_size >= end ? d->config_schema : NULL;
}
