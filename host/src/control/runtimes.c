/*
 * runtimes.c — the runtimes a serving host's control socket answers for:
 * the first one `ringhost run` launched and each one a `launch` request
 * added (control_cmd.c), with the last ps sample of each of their kernels
 * (taken by the server's thread every RH_CONTROL_SAMPLE_MS, server.c), and
 * their release once their kernels are terminated: a launched runtime
 * whose kernels all finished is terminated (threads joined) and shows in
 * ps as tombstones; it is destroyed once no queue it created holds a
 * message or serves another runtime's kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/log.h"
#include "control/control_pvt.h"
#include "engine/engine.h"
#include "live/live.h"
#include "runtime/runtime.h"

/* The first runtime's plugin watcher asks this (live.h): a new build of a
 * file that a kernel of any runtime of the host runs is swapped in there,
 * so a kernel added with `ringhost launch` is swapped like the host's own
 * (tests/integration/test_cli_launch_swap.c).  On the watcher's thread:
 * rts_lock keeps the list still meanwhile (a runtime leaves it before it
 * is destroyed); each runtime's life_lock orders the swap with the verbs. */
static unsigned plugin_users(void *arg, const char *path)
{
    rh_control *c = arg;
    unsigned n = 0;
    pthread_mutex_lock(&c->rts_lock);
    for (unsigned r = 0; r < c->n_rts; r++)
        n += rh__plugin_swap_users(c->rts[r].rt, path);
    pthread_mutex_unlock(&c->rts_lock);
    return n;
}

void rh__control_unhook_watch(rh_control *c)
{
    if (!c->watch_hooked)
        return;
    rh__plugin_watch_set_users(c->rts[0].rt, NULL, NULL); /* waits out a running call */
    c->watch_hooked = 0;
}

void rh__control_watch_folders(rh_control *c, rh_runtime *rt, const char *extra)
{
    if (!c->watch_hooked || !rt->m)
        return;
    rh_error err = {0};
    if (rh__plugin_watch_add_manifest(c->rts[0].rt, rt->m, extra, &err) != 0)
        rh__log_event(c->log, RH_LOG_WARN, "plugin.watch_failed", "manifest=%s error=%s",
                      rt->m->path, err.msg);
}

/* Every runtime accounts the queues it created with the intake of the
 * kernels of all of them (a later manifest may read them). */
static void set_peers(rh_control *c)
{
    for (unsigned i = 0; i < c->n_rts; i++)
        c->peers[i] = c->rts[i].rt;
    c->peers[c->n_rts] = NULL;
    for (unsigned i = 0; i < c->n_rts; i++)
        rh__runtime_set_peers(c->rts[i].rt, c->peers);
}

static int add_locked(rh_control *c, rh_runtime *rt, const char *manifest_path)
{
    if (rh_grow(&c->rts, &c->cap_rts, c->n_rts + 1, sizeof *c->rts))
        return RH_ENOMEM;
    rh_control_rt *e = &c->rts[c->n_rts];
    memset(e, 0, sizeof *e);
    e->rt = rt;
    e->manifest = strdup(manifest_path ? manifest_path : "");
    e->samples = calloc(rh_runtime_kernel_count(rt) + 1, sizeof *e->samples);
    /* the peers list is NULL-terminated: n_rts + 1 runtimes and the NULL */
    int peers_rc = rh_grow(&c->peers, NULL, c->n_rts + 2, sizeof *c->peers);
    if (!e->manifest || !e->samples || peers_rc) {
        free(e->manifest);
        free(e->samples);
        return RH_ENOMEM;
    }
    c->n_rts++;
    set_peers(c);
    return 0;
}

int rh__control_add_runtime(rh_control *c, rh_runtime *rt, const char *manifest_path)
{
    pthread_mutex_lock(&c->rts_lock); /* the plugin watcher may be reading rts */
    int rc = add_locked(c, rt, manifest_path);
    pthread_mutex_unlock(&c->rts_lock);
    if (rc)
        return rc;
    if (c->n_rts == 1 && !c->watch_hooked && rt->watch) {
        rh__plugin_watch_set_users(rt, plugin_users, c);
        c->watch_hooked = 1;
    }
    return 0;
}

unsigned rh__control_runtime_count(const rh_control *c)
{
    return c ? c->n_rts : 0;
}

rh_runtime *rh__control_runtime(const rh_control *c, unsigned i)
{
    return c && i < c->n_rts ? c->rts[i].rt : NULL;
}

void rh__control_sample(rh_control *c)
{
    uint64_t now = rh_now_ns();
    for (unsigned r = 0; r < c->n_rts; r++) {
        rh_runtime *rt = c->rts[r].rt;
        for (uint32_t k = 0; k < rh_runtime_kernel_count(rt); k++) {
            rh_kernel_info ki = RH_KERNEL_INFO_INIT;
            if (rh_runtime_kernel_info(rt, k, &ki) != 0)
                continue;
            struct rh_control_sample *s = &c->rts[r].samples[k];
            if (s->ns && now > s->ns)
                s->rate = (double)(ki.processed - s->processed) * (double)RH_NS_PER_S /
                          (double)(now - s->ns);
            s->processed = ki.processed;
            s->ns = now;
        }
    }
}

/* ------------------------------------------------------- releasing ---- */

const rh_control_tomb *rh__control_tomb(const rh_control *c, const char *name)
{
    unsigned n = c->n_tombs < RH_CONTROL_TOMBS ? c->n_tombs : RH_CONTROL_TOMBS;
    for (unsigned i = 0; c->tombs && i < n; i++)
        if (c->tombs[i].name[0] && strcmp(c->tombs[i].name, name) == 0)
            return &c->tombs[i];
    return NULL;
}

void rh__control_tomb_forget(rh_control *c, const char *name)
{
    unsigned n = c->n_tombs < RH_CONTROL_TOMBS ? c->n_tombs : RH_CONTROL_TOMBS;
    for (unsigned i = 0; c->tombs && i < n; i++)
        if (strcmp(c->tombs[i].name, name) == 0)
            c->tombs[i].name[0] = 0; /* ps skips it */
}

/* Keep the last counters of every kernel of rt (released) for ps. */
static void bury_kernels(rh_control *c, const rh_control_rt *e)
{
    if (!c->tombs && !(c->tombs = calloc(RH_CONTROL_TOMBS, sizeof *c->tombs)))
        return; /* ps then just no longer lists them */
    for (uint32_t k = 0; k < rh_runtime_kernel_count(e->rt); k++) {
        rh_control_tomb *t = &c->tombs[c->n_tombs++ % RH_CONTROL_TOMBS];
        t->ki = (rh_kernel_info)RH_KERNEL_INFO_INIT;
        if (rh_runtime_kernel_info(e->rt, k, &t->ki) != 0) {
            t->name[0] = 0;
            continue;
        }
        snprintf(t->name, sizeof t->name, "%s", t->ki.name);
        snprintf(t->plugin, sizeof t->plugin, "%s", t->ki.plugin);
        snprintf(t->version, sizeof t->version, "%s", t->ki.version);
        snprintf(t->path, sizeof t->path, "%s", t->ki.path);
        snprintf(t->manifest, sizeof t->manifest, "%s", e->manifest);
        t->ki.name = t->name;
        t->ki.plugin = t->plugin;
        t->ki.version = t->version;
        t->ki.path = t->path;
        t->ki.state = RH_STATE_TERMINATED;
        t->ki.busy = 0;
        t->ki.heartbeat_age_ns = t->ki.active_ns = 0;
        snprintf(t->ki.threads, sizeof t->ki.threads, "-");
        snprintf(t->ki.cpus, sizeof t->ki.cpus, "-");
    }
}

/* Log why e is kept, once per reason. */
static void log_kept(rh_control *c, rh_control_rt *e, const char *event, const char *why)
{
    if (strcmp(e->held_by, why) == 0)
        return;
    snprintf(e->held_by, sizeof e->held_by, "%s", why);
    rh__log_event(c->log, RH_LOG_WARN, event, "instance=%s manifest=%s reason=%s", c->instance,
                  e->manifest, why);
}

/* Terminate e once its kernels are done (e->retired; e->stuck too when a
 * thread did not stop). */
static void retire(rh_control *c, rh_control_rt *e)
{
    char why[192];
    int done = rh__runtime_kernels_done(e->rt, why, sizeof why);
    if (done <= 0) {
        if (done < 0) /* terminated, not finished: stuck, its memory must stay */
            log_kept(c, e, "runtime.kept", why);
        return;
    }
    bury_kernels(c, e);
    rh_error err = {0};
    if (rh_runtime_terminate(e->rt, 1000, &err) != 0) {
        /* a thread did not stop: its memory stays for good (runtime.c) */
        e->stuck = 1;
        log_kept(c, e, "runtime.kept", err.msg);
    }
    c->released_unbalanced += rh_runtime_unbalanced(e->rt);
    e->retired = 1;
}

unsigned rh__control_release_finished(rh_control *c)
{
    unsigned destroyed = 0;
    /* Newest first: a later runtime may use the queues of an earlier one,
     * which can go in the same pass once the later one is gone. */
    for (unsigned i = c->n_rts; i-- > 1;) {
        rh_control_rt *e = &c->rts[i];
        if (!e->stuck && !e->retired)
            retire(c, e);
        if (e->stuck || !e->retired)
            continue; /* a kernel still runs, or a thread did not stop: kept */
        char why[192];
        if (rh__runtime_queues_needed(e->rt, why, sizeof why)) {
            log_kept(c, e, "runtime.queues_kept", why);
            continue;
        }
        rh_runtime *rt = e->rt;
        uint64_t t0 = rh_now_ns();
        pthread_mutex_lock(&c->rts_lock); /* the plugin watcher must not see it go */
        rh__runtime_release(rt);
        rh__log_event(c->log, RH_LOG_INFO, "runtime.released", "instance=%s manifest=%s ms=%.3f",
                      c->instance, e->manifest, (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS);
        free(e->manifest);
        free(e->samples);
        memmove(e, e + 1, (c->n_rts - i - 1) * sizeof *e);
        c->n_rts--;
        set_peers(c);
        pthread_mutex_unlock(&c->rts_lock);
        c->released++;
        destroyed++;
    }
    return destroyed;
}

int rh__control_released_unbalanced(const rh_control *c)
{
    return c ? c->released_unbalanced : 0;
}

void rh__control_runtimes_free(rh_control *c)
{
    for (unsigned i = 0; i < c->n_rts; i++) {
        free(c->rts[i].manifest);
        free(c->rts[i].samples);
    }
    free(c->rts);
    free(c->peers);
    free(c->tombs);
    c->tombs = NULL;
    c->rts = NULL;
    c->peers = NULL;
    c->n_rts = c->cap_rts = 0;
}
