/*
 * control_cmd.c — the commands of the control protocol (control.h): one
 * request line in, one reply line out.  ps reads every kernel of every
 * runtime of the host; the verbs find the kernel in whichever runtime holds
 * it; launch adds a runtime to the host that shares the queues the host
 * already has.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/log.h"
#include "control/control.h"
#include "control/control_pvt.h"
#include "engine/engine.h"
#include "runtime/runtime.h"
#include "manifest/manifest.h"

/* The reply as one line with room for the '\n' the server appends. */
static char *reply_text(json_t *o)
{
    char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    if (!text)
        text = strdup("{\"ok\":false,\"code\":-1002,\"error\":\"out of memory\"}");
    char *room = text ? realloc(text, strlen(text) + 2) : NULL;
    return room ? room : text;
}

static char *error_reply(int code, const char *msg)
{
    return reply_text(json_pack("{s:b, s:i, s:s}", "ok", 0, "code", code, "error", msg));
}

static char *error_replyf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *error_replyf(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_reply(code, msg);
}

/* ------------------------------------------------------------- ps ---- */

static json_t *kernel_json(const char *manifest, double rate, const rh_kernel_info *ki)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, "
                     "s:I, s:I, s:I, s:b, s:f, s:f, s:f}",
                     "name", ki->name, "plugin", ki->plugin, "version", ki->version, "path",
                     ki->path, "manifest", manifest, "state", rh_state_name(ki->state),
                     "workers", (int)ki->workers, "threads", ki->threads, "cpus", ki->cpus,
                     "processed", (json_int_t)ki->processed, "failed", (json_int_t)ki->failed,
                     "emitted", (json_int_t)ki->emitted, "batches", (json_int_t)ki->batches,
                     "restarts", (json_int_t)ki->restarts, "swaps", (json_int_t)ki->swaps,
                     "swaps_refused", (json_int_t)ki->swaps_refused, "stalls",
                     (json_int_t)ki->stalls, "busy", ki->busy, "rate", rate, "heartbeat_age_ms",
                     (double)ki->heartbeat_age_ns / (double)RH_NS_PER_MS, "active_s",
                     (double)ki->active_ns / (double)RH_NS_PER_S);
}

static char *cmd_ps(rh_control *c)
{
    json_t *arr = json_array(), *links = json_array(), *threads = json_array();
    for (unsigned r = 0; r < c->n_rts; r++) {
        rh_runtime *rt = c->rts[r].rt;
        if (!c->rts[r].retired) { /* remote queues: each link's counters */
            json_t *l = rh__runtime_links_json(rt);
            json_array_extend(links, l);
            json_decref(l);
        }
        if (!c->rts[r].retired) { /* its threads' busy and idle polls (latency.c) */
            json_t *t = rh__runtime_polls_json(rt);
            json_array_extend(threads, t);
            json_decref(t);
        }
        for (uint32_t k = 0; !c->rts[r].retired && k < rh_runtime_kernel_count(rt); k++) {
            rh_kernel_info ki = RH_KERNEL_INFO_INIT;
            if (rh_runtime_kernel_info(rt, k, &ki) != 0)
                continue;
            json_t *o = kernel_json(c->rts[r].manifest, c->rts[r].samples[k].rate, &ki);
            /* wait per input queue and service time (latency.c) */
            json_object_set_new(o, "latency", rh__kernel_latency_json(&rt->kernels[k]));
            json_array_append_new(arr, o);
        }
    }
    /* the kernels released after their terminate (runtimes.c), oldest first */
    unsigned n = c->n_tombs < RH_CONTROL_TOMBS ? c->n_tombs : RH_CONTROL_TOMBS;
    for (unsigned i = 0; i < n; i++) {
        const rh_control_tomb *t = &c->tombs[(c->n_tombs - n + i) % RH_CONTROL_TOMBS];
        if (t->name[0])
            json_array_append_new(arr, kernel_json(t->manifest, 0.0, &t->ki));
    }
    /* launched manifests released so far, and those whose kernels are all
     * terminated but that are kept (a stuck kernel, or queues still needed) */
    unsigned kept = 0;
    for (unsigned r = 1; r < c->n_rts; r++)
        kept += c->rts[r].retired || c->rts[r].held_by[0];
    return reply_text(json_pack("{s:b, s:s, s:i, s:o, s:o, s:o, s:i, s:i}", "ok", 1,
                                "instance", c->instance, "pid", (int)getpid(), "kernels", arr,
                                "links", links, "threads", threads, "runtimes_released",
                                (int)c->released, "runtimes_kept", (int)kept));
}

/* ------------------------------------------------------------ verbs ---- */

/* The runtime holding kernel name, or NULL with *known listing them all. */
static rh_runtime *runtime_of(rh_control *c, const char *name, char *known, size_t len)
{
    size_t at = 0;
    known[0] = 0;
    for (unsigned r = 0; r < c->n_rts; r++) {
        rh_runtime *rt = c->rts[r].rt;
        for (uint32_t k = 0; !c->rts[r].retired && k < rh_runtime_kernel_count(rt); k++) {
            rh_kernel_info ki = RH_KERNEL_INFO_INIT;
            if (rh_runtime_kernel_info(rt, k, &ki) != 0)
                continue;
            if (strcmp(ki.name, name) == 0)
                return rt;
            if (at < len)
                at += (size_t)snprintf(known + at, len - at, "%s%s", at ? ", " : "", ki.name);
        }
    }
    if (!at)
        snprintf(known, len, "none");
    return NULL;
}

static const char *kernel_state(rh_runtime *rt, const char *name)
{
    for (uint32_t k = 0; k < rh_runtime_kernel_count(rt); k++) {
        rh_kernel_info ki = RH_KERNEL_INFO_INIT;
        if (rh_runtime_kernel_info(rt, k, &ki) == 0 && strcmp(ki.name, name) == 0)
            return rh_state_name(ki.state);
    }
    return "?";
}

static char *cmd_verb(rh_control *c, const char *cmd, json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "kernel"));
    if (!name)
        return error_replyf(RH_EINVAL, "%s: expected \"kernel\": the name of a kernel (as in "
                            "its manifest)", cmd);
    char known[512];
    rh_runtime *rt = runtime_of(c, name, known, sizeof known);
    const rh_control_tomb *tomb = rt ? NULL : rh__control_tomb(c, name);
    if (tomb)
        return error_replyf(RH_ESTATE, "cannot %s kernel %s: it is already terminated, and "
                            "released (its threads, rings and the queues only it used are "
                            "gone); launch %s again to run it", cmd, name, tomb->manifest);
    if (!rt)
        return error_replyf(RH_ENOENT, "no kernel \"%s\" in instance %s (kernels: %s)", name,
                            c->instance, known);
    /* Asking for the state a kernel is in is no transition: it succeeds
     * and says so ("already": true), as `systemctl start` of a running
     * unit does, so a script may repeat it (docs/OPERATIONS.md). */
    const char *now = kernel_state(rt, name);
    if ((!strcmp(cmd, "activate") && !strcmp(now, "active")) ||
        (!strcmp(cmd, "deactivate") && !strcmp(now, "inactive")))
        return reply_text(json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "kernel", name, "state",
                                    now, "already", 1));
    rh_error err = {0};
    int rc;
    if (!strcmp(cmd, "activate"))
        rc = rh_runtime_kernel_activate(rt, name, &err);
    else if (!strcmp(cmd, "deactivate"))
        rc = rh_runtime_kernel_deactivate(rt, name, &err);
    else if (!strcmp(cmd, "reload"))
        rc = rh_runtime_kernel_reload(rt, name, &err);
    else {
        json_t *t = json_object_get(req, "timeout_ms");
        if (t && (!json_is_integer(t) || json_integer_value(t) < 0))
            return error_reply(RH_EINVAL, "terminate: \"timeout_ms\": expected a number of "
                               "milliseconds >= 0");
        rc = rh_runtime_kernel_terminate(rt, name, t ? (int)json_integer_value(t) : 5000, &err);
    }
    if (rc)
        return error_reply(rc, err.msg);
    char *reply = reply_text(json_pack("{s:b, s:s, s:s}", "ok", 1, "kernel", name, "state",
                                       kernel_state(rt, name)));
    if (!strcmp(cmd, "terminate"))
        rh__control_release_finished(c); /* its runtime may go now (rt with it) */
    return reply;
}

/* ----------------------------------------------------------- launch ---- */

/* rh_launch_opts.find_queue: a queue of any runtime of the host. */
static rh_queue *host_queue(void *arg, const char *name)
{
    rh_control *c = arg;
    for (unsigned r = 0; r < c->n_rts; r++) {
        rh_queue *q = rh_runtime_queue(c->rts[r].rt, name);
        if (q)
            return q;
    }
    return NULL;
}

static int kernel_terminated(rh_runtime *rt, const char *name)
{
    return strcmp(kernel_state(rt, name), rh_state_name(RH_STATE_TERMINATED)) == 0;
}

/* "a (active), b (inactive)": rt's kernels not terminated. */
static void living_kernels(rh_runtime *rt, char *out, size_t len)
{
    size_t at = 0;
    out[0] = 0;
    for (uint32_t k = 0; k < rh_runtime_kernel_count(rt) && at < len; k++) {
        rh_kernel_info ki = RH_KERNEL_INFO_INIT;
        if (rh_runtime_kernel_info(rt, k, &ki) == 0 && ki.state != RH_STATE_TERMINATED)
            at += (size_t)snprintf(out + at, len - at, "%s%s (%s)", at ? ", " : "", ki.name,
                                   rh_state_name(ki.state));
    }
}

/* Kernel names are the handles of the verbs: one kernel per name in the
 * host.  0, or an error reply naming the manifest path and the kernel. */
static char *check_kernel_names(rh_control *c, const char *path)
{
    rh_manifest *m;
    rh_error err = {0};
    int rc = rh__manifest_load_as(path, RH_MANIFEST_LAUNCHED, &m, &err);
    if (rc)
        return error_reply(rc, err.msg);
    char *reply = NULL, known[512];
    for (uint32_t i = 0; !reply && i < m->n_kernels; i++) {
        rh_runtime *rt = runtime_of(c, m->kernels[i].name, known, sizeof known);
        const char *from = "?";
        for (unsigned r = 0; rt && r < c->n_rts; r++)
            if (c->rts[r].rt == rt)
                from = c->rts[r].manifest;
        if (rt && rt == c->rts[0].rt && kernel_terminated(rt, m->kernels[i].name)) {
            /* the host's own manifest is never removed while it serves */
            reply = error_replyf(RH_EMANIFEST, "%s: kernels[%u].name: kernel \"%s\" of the "
                                 "host's own manifest %s was terminated; its name stays taken "
                                 "until the host stops; give this kernel another name", path, i,
                                 m->kernels[i].name, from);
        } else if (rt && kernel_terminated(rt, m->kernels[i].name)) {
            /* its manifest still runs others: the name goes with the last */
            char others[256];
            living_kernels(rt, others, sizeof others);
            reply = error_replyf(RH_EMANIFEST, "%s: kernels[%u].name: kernel \"%s\" was "
                                 "terminated, but its manifest %s still runs %s, which keeps "
                                 "the name taken; terminate those too (ringhost terminate "
                                 "KERNEL --instance %s: once all its kernels are terminated "
                                 "the manifest is removed and its names are free), or give "
                                 "this kernel another name", path, i, m->kernels[i].name, from,
                                 others, c->instance);
        } else if (rt) {
            reply = error_replyf(RH_EMANIFEST, "%s: kernels[%u].name: kernel \"%s\" already runs "
                                 "in instance %s (launched from %s); terminate it first "
                                 "(ringhost terminate %s --instance %s), or give it another "
                                 "name", path, i, m->kernels[i].name, c->instance, from,
                                 m->kernels[i].name, c->instance);
        }
    }
    rh__manifest_free(m);
    return reply;
}

static char *cmd_launch(rh_control *c, json_t *req)
{
    const char *path = json_string_value(json_object_get(req, "manifest"));
    if (!path || path[0] != '/')
        return error_reply(RH_EINVAL, "launch: expected \"manifest\": the absolute path of a "
                           "manifest file");
    json_t *allow = json_object_get(req, "allow_plugins"), *v;
    if (allow && !json_is_array(allow))
        return error_reply(RH_EINVAL, "launch: \"allow_plugins\": expected an array of "
                           "absolute plugin paths");
    size_t n_allow = json_array_size(allow), i;
    const char **allowed = calloc(n_allow + 1, sizeof *allowed);
    if (!allowed)
        return error_reply(RH_ENOMEM, "out of memory");
    json_array_foreach (allow, i, v)
        allowed[i] = json_string_value(v) ? json_string_value(v) : "";
    char *reply = check_kernel_names(c, path);
    rh_runtime *rt = NULL;
    rh_error err = {0};
    /* A manifest without "plugins" finds the host's plugins: the folders
     * the host itself searched (its --plugins, then its manifest's). */
    const char *host_dirs[RH_MAX_PLUGIN_DIRS + 2] = {0};
    unsigned n_host_dirs = 0;
    rh_runtime *host = c->n_rts ? c->rts[0].rt : NULL;
    if (host && host->extra_plugins[0])
        host_dirs[n_host_dirs++] = host->extra_plugins;
    for (uint32_t d = 0; host && host->m && d < host->m->n_plugin_dirs; d++)
        host_dirs[n_host_dirs++] = host->m->plugin_dirs[d];
    const char *extra = json_string_value(json_object_get(req, "plugins"));
    if (!reply) {
        rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.instance = c->instance,
                                                  .extra_plugins = extra,
                                                  .log = c->log,
                                                  .allow_plugins = allowed,
                                                  .find_queue = host_queue,
                                                  .find_queue_arg = c,
                                                  .host_plugin_dirs = host_dirs);
        int rc = rh_runtime_launch(path, &opts, &rt, &err);
        if (rc)
            reply = error_reply(rc, err.msg);
    }
    free(allowed);
    if (reply)
        return reply;
    json_t *kernels = json_array(), *created = json_array(), *shared = json_array();
    size_t k;
    for (uint32_t ki_at = 0; ki_at < rh_runtime_kernel_count(rt); ki_at++) {
        rh_kernel_info ki = RH_KERNEL_INFO_INIT;
        rh_runtime_kernel_info(rt, ki_at, &ki);
        json_array_append_new(kernels, json_string(ki.name));
    }
    for (uint32_t q = 0; rh_runtime_queue_name(rt, q); q++) {
        const char *qn = rh_runtime_queue_name(rt, q);
        rh_queue *have = host_queue(c, qn);
        json_array_append_new(have ? shared : created, json_string(qn));
    }
    if (rh__control_add_runtime(c, rt, path) != 0) {
        rh_runtime_terminate(rt, 1000, NULL);
        rh_runtime_destroy(rt);
        json_decref(kernels);
        json_decref(created);
        json_decref(shared);
        return error_reply(RH_ENOMEM, "out of memory");
    }
    json_array_foreach (kernels, k, v) /* a released kernel of that name: ps shows the new one */
        rh__control_tomb_forget(c, json_string_value(v));
    /* a new build dropped into its folders is swapped in like the host's own */
    rh__control_watch_folders(c, rt, extra);
    rh__log_event(c->log, RH_LOG_INFO, "control.launch", "instance=%s manifest=%s kernels=%zu "
                  "created=%zu shared=%zu", c->instance, path, json_array_size(kernels),
                  json_array_size(created), json_array_size(shared));
    json_t *act = json_object_get(req, "activate");
    json_array_foreach (kernels, k, v)
        if (json_is_true(act) && rh_runtime_kernel_activate(rt, json_string_value(v), &err))
            rh__log_event(c->log, RH_LOG_WARN, "control.activate_failed", "kernel=%s error=%s",
                          json_string_value(v), err.msg);
    return reply_text(json_pack("{s:b, s:s, s:o, s:o, s:o}", "ok", 1, "manifest", path,
                                "kernels", kernels, "created", created, "shared", shared));
}

/* ---------------------------------------------------------- request ---- */

char *rh__control_handle(rh_control *c, const char *line, size_t len)
{
    if (!line)
        return error_replyf(RH_EINVAL, "request line longer than %d bytes; expected one JSON "
                            "object per line", RH_CONTROL_LINE_MAX - 1);
    json_error_t je;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(req)) {
        json_decref(req);
        return error_replyf(RH_EINVAL, "expected one JSON object per line, like {\"cmd\": "
                            "\"ps\"}; %s", req ? "got another JSON value" : je.text);
    }
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    char *reply;
    if (!cmd)
        reply = error_reply(RH_EINVAL, "expected \"cmd\": one of ps, launch, activate, "
                            "deactivate, terminate, reload");
    else if (!strcmp(cmd, "ps"))
        reply = cmd_ps(c);
    else if (!strcmp(cmd, "activate") || !strcmp(cmd, "deactivate") ||
             !strcmp(cmd, "terminate") || !strcmp(cmd, "reload"))
        reply = cmd_verb(c, cmd, req);
    else if (!strcmp(cmd, "launch"))
        reply = cmd_launch(c, req);
    else if (!strcmp(cmd, "methods")) /* save_config.c */
        reply = reply_text(json_pack("{s:b, s:o}", "ok", 1, "methods", rh__control_methods_json()));
    else if (!strcmp(cmd, "save_config"))
        reply = reply_text(json_pack("{s:b, s:o}", "ok", 1, "manifest", rh__control_save_config(c)));
    else
        reply = error_replyf(RH_EINVAL, "unknown cmd \"%s\": expected one of ps, launch, "
                             "activate, deactivate, terminate, reload, methods, save_config "
                             "({\"cmd\": \"methods\"} lists them with their parameters)", cmd);
    json_decref(req);
    return reply;
}
