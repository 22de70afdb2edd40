/*
 * wiring.c — a manifest checked against its plugins.
 *
 * Everything that can be wrong about a manifest once plugins are known is
 * found here, before a queue or thread exists, with the manifest file and
 * the JSON path in the message: an unknown plugin (or one that failed to
 * load, with its reason), a port the plugin does not have, a queue whose
 * type differs from a port's (both types named, by fingerprint), a declared
 * type no plugin defines.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/placement.h"
#include "launch/launch.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"

/* The loaded (or failed) plugin whose path is exactly path, or NULL. */
static const rh_plugin *plugin_at(const rh_plugin_set *set, const char *path)
{
    for (uint32_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].path, path) == 0)
            return &set->items[i];
    return NULL;
}

static int path_allowed(const rh_launch_opts *opts, const char *path)
{
    for (const char *const *a = opts ? opts->allow_plugins : NULL; a && *a; a++)
        if ((*a)[0] == '/' && strcmp(*a, path) == 0)
            return 1;
    return 0;
}

/*
 * The plugin path: the command line's folder (--plugins), then the
 * manifest's "plugins" folders.  A kernel may name a plugin outside them
 * only by an absolute path the command line allows exactly
 * (opts->allow_plugins, ringhost run --allow-plugin); the manifest loader
 * already refused relative paths and names with "..".  Such a file is
 * loaded on its own, never its folder.
 */
static int load_plugins(rh_runtime *rt, const rh_launch_opts *opts, rh_error *err)
{
    const rh_manifest *m = rt->m;
    if (opts && opts->extra_plugins && rh__plugin_scan(&rt->plugins, opts->extra_plugins, err) < 0)
        return err->code;
    for (uint32_t i = 0; i < m->n_plugin_dirs; i++)
        if (rh__plugin_scan(&rt->plugins, m->plugin_dirs[i], err) < 0)
            return rh_error_set(err, RH_EMANIFEST, "%s: plugins[%u]: expected a readable folder, "
                                "got \"%s\"", m->path, i, m->plugin_dirs[i]);
    for (uint32_t i = 0; i < m->n_kernels; i++) {
        const char *path = m->kernels[i].plugin;
        if (path[0] != '/')
            continue;
        if (!path_allowed(opts, path))
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: kernels[%u].plugin: \"%s\" is a path outside the plugin "
                                "folders; a manifest may load a plugin by path only when the "
                                "command line allows it: ringhost run %s --allow-plugin %s",
                                m->path, i, path, m->path, path);
        if (!plugin_at(&rt->plugins, path)) {
            rh_error perr;
            if (rh__plugin_add_allowed(&rt->plugins, path, &perr) == RH_ENOMEM)
                return rh_error_set(err, RH_ENOMEM, "%s", perr.msg);
        }
    }
    return 0;
}

/* The plugin for kernels[ki], or an error naming what there is. */
static int resolve_plugin(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    if (d->plugin[0] == '/') { /* allowed and loaded by load_plugins */
        const rh_plugin *p = plugin_at(&rt->plugins, d->plugin);
        if (p && p->desc) {
            k->plugin = p;
            k->desc = p->desc;
            return 0;
        }
        return rh_error_set(err, RH_EPLUGIN, "%s: kernels[%u].plugin: plugin \"%s\" failed to "
                            "load: %s", rt->m->path, k->index, d->plugin,
                            p ? p->why : "not loaded");
    }
    const rh_plugin *p = rh__plugin_pick(&rt->plugins, d->plugin);
    if (p && p->desc) {
        k->plugin = p;
        k->desc = p->desc;
        return 0;
    }
    if (p) /* seen by the scanner, refused in the host */
        return rh_error_set(err, RH_EPLUGIN, "%s: kernels[%u].plugin: plugin \"%s\" failed to "
                            "load: %s", rt->m->path, k->index, d->plugin, p->why);
    /* a file of that name that failed to load: say why */
    char stem[160];
    snprintf(stem, sizeof stem, "/%s.so", d->plugin);
    for (uint32_t i = 0; i < rt->plugins.n; i++) {
        const rh_plugin *b = &rt->plugins.items[i];
        size_t pl = strlen(b->path), sl = strlen(stem);
        if (b->error && pl >= sl && strcmp(b->path + pl - sl, stem) == 0)
            return rh_error_set(err, RH_EPLUGIN, "%s: kernels[%u].plugin: plugin \"%s\" failed "
                                "to load: %s", rt->m->path, k->index, d->plugin, b->why);
    }
    char avail[512];
    rh__plugin_names(&rt->plugins, avail, sizeof avail);
    return rh_error_set(err, RH_EMANIFEST,
                        "%s: kernels[%u].plugin: expected the name of a plugin of the plugin "
                        "folders (they hold: %s), got \"%s\"",
                        rt->m->path, k->index, avail, d->plugin);
}

static rh_qplan *qplan_find(rh_runtime *rt, const char *name)
{
    for (uint32_t i = 0; i < rt->n_qplan; i++)
        if (strcmp(rt->qplan[i].name, name) == 0)
            return &rt->qplan[i];
    return NULL;
}

static rh_qplan *qplan_add(rh_runtime *rt, const char *name, const rh_queue_config *cfg)
{
    rh_qplan *q = &rt->qplan[rt->n_qplan++];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->cfg = *cfg;
    return q;
}

static int port_index(const rh_port *ports, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ports[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void port_names(const rh_port *ports, uint32_t n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < n && used + 4 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s\"%s\"", i ? ", " : "",
                                 ports[i].name);
    if (!n)
        snprintf(buf, len, "none");
}

/* Wire one direction of a kernel: each binding names an existing port;
 * each port gets its queue (the bound one, or "<kernel>.<port>"); the
 * queue's type must be the port's. */
static int wire_ports(rh_runtime *rt, rh_kinst *k, int output, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    const rh_port *ports = output ? k->desc->outputs : k->desc->inputs;
    uint32_t np = output ? k->desc->n_outputs : k->desc->n_inputs;
    const rh_port_binding *bind = output ? d->outputs : d->inputs;
    uint32_t nb = output ? d->n_outputs : d->n_inputs;
    const char *dir = output ? "outputs" : "inputs";

    for (uint32_t b = 0; b < nb; b++)
        if (port_index(ports, np, bind[b].port) < 0) {
            char names[512];
            port_names(ports, np, names, sizeof names);
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: kernels[%u].%s.%s: expected an %s port of plugin \"%s\" "
                                "(it has %s), got \"%s\"",
                                rt->m->path, k->index, dir, bind[b].port,
                                output ? "output" : "input", k->desc->name, names, bind[b].port);
        }
    for (uint32_t p = 0; p < np; p++) {
        char qname[RH_QUEUE_NAME_MAX + 1] = "";
        for (uint32_t b = 0; b < nb; b++)
            if (strcmp(bind[b].port, ports[p].name) == 0)
                snprintf(qname, sizeof qname, "%s", bind[b].queue);
        char jpath[160];
        snprintf(jpath, sizeof jpath, "kernels[%u].%s.%s", k->index, dir, ports[p].name);
        if (!qname[0]) {
            if ((size_t)snprintf(qname, sizeof qname, "%s.%s", d->name, ports[p].name) >=
                sizeof qname)
                return rh_error_set(err, RH_EMANIFEST, "%s: %s: the automatic queue name "
                                    "\"%s.%s\" is longer than 64 characters; wire the port",
                                    rt->m->path, jpath, d->name, ports[p].name);
        }
        rh_qplan *q = qplan_find(rt, qname);
        if (!q) {
            if (rh__manifest_queue(rt->m, qname))
                return rh_error_set(err, RH_EMANIFEST, "%s: %s: internal: queue %s not planned",
                                    rt->m->path, jpath, qname);
            q = qplan_add(rt, qname, &rt->m->queue_defaults);
        }
        const rh_type *t = ports[p].type;
        if (!q->type) {
            q->type = t;
            q->origin = k->plugin->path;
            snprintf(q->first_use, sizeof q->first_use, "%s", jpath);
        } else if (q->type->fingerprint != t->fingerprint) {
            return rh_error_set(err, RH_ETYPE,
                                "%s: %s: queue \"%s\" carries %s (fingerprint %016llx, from %s) "
                                "but port \"%s\" of plugin \"%s\" takes %s (fingerprint "
                                "%016llx); wire it to a queue of type %s",
                                rt->m->path, jpath, qname, q->type->name,
                                (unsigned long long)q->type->fingerprint, q->first_use,
                                ports[p].name, k->desc->name, t->name,
                                (unsigned long long)t->fingerprint, t->name);
        }
        /* A persist queue is acked by the one bridge that reads it once
         * its kernel is done (bridge.c); two readers would ack each
         * other's unfinished messages. */
        if (!output && q->cfg.persist && q->reader[0])
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: %s: queue \"%s\" is persist and already read by %s; "
                                "expected one kernel input per persist queue (it acknowledges "
                                "what that kernel finished), or \"persist\": false",
                                rt->m->path, jpath, qname, q->reader);
        if (!output && !q->reader[0])
            snprintf(q->reader, sizeof q->reader, "%s", jpath);
        (output ? k->out_plan : k->in_plan)[p] = (uint32_t)(q - rt->qplan);
    }
    return 0;
}

/* ------------------------------------------- dead-letter queues (dlq.h) -- */

/*
 * Every kernel gets "<kernel>.dlq": the declaration in "queues" when there
 * is one (its settings kept, except that block becomes drop_oldest), else
 * the dead-letter defaults (rh__dlq_config).  Its type is the dead-letter
 * class that holds the kernel's largest input or output type; the origin is the
 * kernel's plugin, so a client reading the queue can load the types of the
 * payloads it shows.  A port may be wired to it only if it takes that very
 * type.
 */
/*
 * A queue that exports or imports gets "<queue>.dlq" the same
 * way: the export dead-letters a message too big for the NATS server, the
 * import one it cannot read.  An exported queue's one consumer is its
 * export bridge (it acks the queue as JetStream acks it), so no kernel may
 * read it.
 */
static int plan_remote_dead_letter_queues(rh_runtime *rt, rh_error *err)
{
    rh_manifest *m = rt->m;
    for (uint32_t i = 0; i < m->n_queues; i++) {
        const rh_queue_decl *d = &m->queues[i];
        if (!d->export_to.set && !d->import_from.set)
            continue;
        rh_qplan *src = qplan_find(rt, d->name);
        if (d->export_to.set && src->reader[0])
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: %s: expected a queue that no kernel reads (queue \"%s\" "
                                "exports: its export bridge is its one consumer), got %s reading "
                                "it; export another queue, or import it instead",
                                m->path, src->reader, d->name, src->reader);
        if (!src->type)
            continue; /* reported below: wired to nothing, no type */
        const rh_type *t = rh__dlq_type_for(src->type->size);
        char name[RH_QUEUE_NAME_MAX + 1];
        if (!t || (size_t)snprintf(name, sizeof name, "%s" RH_DLQ_SUFFIX, d->name) >= sizeof name)
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: %s: expected a queue name of at most %d characters and a "
                                "type a dead-letter queue holds (its dead letters go to \"<name>"
                                RH_DLQ_SUFFIX "\"), got \"%s\"",
                                m->path, d->json_path, RH_QUEUE_NAME_MAX - 4, d->name);
        rh_qplan *q = qplan_find(rt, name);
        if (!q)
            q = qplan_add(rt, name, &m->queue_defaults);
        else if (q->type && q->type->fingerprint != t->fingerprint)
            return rh_error_set(err, RH_ETYPE,
                                "%s: %s: queue \"%s\" is the dead-letter queue of %s (type "
                                RH_DLQ_TYPE_NAME "), not a queue of %s", m->path, q->first_use,
                                name, d->json_path, q->type->name);
        const rh_queue_decl *decl = rh__manifest_queue(m, name);
        q->cfg = rh__dlq_config(&m->queue_defaults, decl ? &decl->cfg : NULL);
        if (!q->type) {
            q->type = t;
            q->origin = src->origin;
            snprintf(q->first_use, sizeof q->first_use, "%s (its dead letters)", d->json_path);
        }
    }
    return 0;
}

/*
 * An output queue declared `reject` refuses each answer it has no room for
 * at once, and the bridge dead-letters it (stage undeliverable) into the
 * kernel's dead-letter queue.  Left undeclared, that queue holds
 * RH_DLQ_CAPACITY_DEFAULT and evicts the oldest (drop_oldest), which
 * nothing in the manifest says: 228 of 484 refused answers were dropped so.
 * The launch says it, naming the queue to declare; the drop itself is
 * counted, and the accounting line says what it dropped (metrics.c).  A
 * warning, not a larger default: how many refused answers must wait unread
 * is the operator's to size (and a `block` output dead-letters only what
 * waited block_timeout_ms, not warned: it is every manifest's default).
 */
static void warn_reject_into_default_dlq(rh_runtime *rt, const rh_kinst *k, const rh_qplan *dlq)
{
    for (uint32_t p = 0; p < k->desc->n_outputs; p++) {
        const rh_qplan *o = &rt->qplan[k->out_plan[p]];
        if (o->cfg.backpressure != RH_BP_REJECT)
            continue;
        rh__log_event(rt->log, RH_LOG_WARN, "launch.dlq_drops_oldest",
                      "kernel=%s output=%s backpressure=reject dlq=%s dlq_capacity=%u "
                      "dlq_backpressure=drop_oldest: answers %s refuses are dead-lettered into "
                      "%s, which is not declared, so holds %u and then drops the oldest (counted "
                      "dropped); declare \"%s\" in queues with the capacity the refused answers "
                      "need, or read it",
                      k->decl->name, o->name, dlq->name, dlq->cfg.capacity, o->name, dlq->name,
                      dlq->cfg.capacity, dlq->name);
    }
}

static int plan_dead_letter_queues(rh_runtime *rt, rh_error *err)
{
    rh_manifest *m = rt->m;
    int rc;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        uint32_t room = 0;
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            if (k->desc->inputs[p].type->size > room)
                room = k->desc->inputs[p].type->size;
        /* and its outputs: an answer its queue had no room for at shutdown
         * is dead-lettered whole (stage "undeliverable", bridge.c) */
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            if (k->desc->outputs[p].type->size > room)
                room = k->desc->outputs[p].type->size;
        const rh_type *t = rh__dlq_type_for(room);
        if (!t)
            return rh_error_set(err, RH_EMANIFEST, "%s: kernels[%u]: an input type of %u bytes "
                                "is too large for a dead-letter queue", m->path, i, room);
        char name[RH_QUEUE_NAME_MAX + 1];
        if ((size_t)snprintf(name, sizeof name, "%s" RH_DLQ_SUFFIX, k->decl->name) >= sizeof name)
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: kernels[%u].name: expected at most %d characters (its "
                                "dead-letter queue \"<name>" RH_DLQ_SUFFIX "\" is a queue name "
                                "of at most %d), got \"%s\"",
                                m->path, i, RH_QUEUE_NAME_MAX - 4, RH_QUEUE_NAME_MAX,
                                k->decl->name);
        rh_qplan *q = qplan_find(rt, name);
        if (!q)
            q = qplan_add(rt, name, &m->queue_defaults);
        else if (q->type && q->type->fingerprint != t->fingerprint)
            return rh_error_set(err, RH_ETYPE,
                                "%s: %s: queue \"%s\" is the dead-letter queue of kernels[%u] "
                                "(type " RH_DLQ_TYPE_NAME "), not a queue of %s; wire it to "
                                "another queue",
                                m->path, q->first_use, name, i, q->type->name);
        const rh_queue_decl *decl = rh__manifest_queue(m, name);
        q->cfg = rh__dlq_config(&m->queue_defaults, decl ? &decl->cfg : NULL);
        if (!q->type) {
            q->type = t;
            q->origin = k->plugin->path;
            snprintf(q->first_use, sizeof q->first_use, "kernels[%u] (its dead letters)", i);
        }
        k->dlq_plan = (uint32_t)(q - rt->qplan);
        if (!decl)
            warn_reject_into_default_dlq(rt, k, q);
    }
    if ((rc = plan_remote_dead_letter_queues(rt, err)) != 0)
        return rc;
    for (uint32_t i = 0; i < m->n_queues; i++) {
        const rh_qplan *q = qplan_find(rt, m->queues[i].name);
        if (strcmp(m->queues[i].type, RH_DLQ_TYPE_NAME) == 0 && !rh__dlq_is_type(q->type))
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: %s.type: expected a message type declared by a port of "
                                "a loaded plugin, got \"%s\" (the type of a kernel's "
                                "dead-letter queue \"<kernel>" RH_DLQ_SUFFIX "\" only)",
                                m->path, m->queues[i].json_path, m->queues[i].type);
    }
    return 0;
}

int rh__wiring_plan(rh_runtime *rt, const char *manifest_path, const rh_launch_opts *opts,
                    rh_error *err)
{
    const char *const *host_dirs = opts ? opts->host_plugin_dirs : NULL;
    int rc = rh__manifest_load_as(manifest_path, host_dirs ? RH_MANIFEST_LAUNCHED : 0, &rt->m,
                                  err);
    if (rc)
        return rc;
    rh_manifest *m = rt->m;
    snprintf(rt->instance, sizeof rt->instance, "%s",
             opts && opts->instance ? opts->instance : m->name);
    if (!rt->instance[0])
        return rh_error_set(err, RH_EMANIFEST, "%s: name: expected a manifest name (the "
                            "instance it runs in), got nothing; add \"name\", or give the "
                            "instance (--instance I)", m->path);
    snprintf(rt->extra_plugins, sizeof rt->extra_plugins, "%s",
             opts && opts->extra_plugins ? opts->extra_plugins : "");
    if (host_dirs && m->plugins_default) {
        /* launched into a running host: its plugin folders, then
         * <dir>/../plugins only if that folder exists (it is no error when
         * it does not: the manifest never named it) */
        char own[sizeof m->plugin_dirs[0]];
        struct stat st;
        snprintf(own, sizeof own, "%s", m->plugin_dirs[0]);
        int own_exists = stat(own, &st) == 0 && S_ISDIR(st.st_mode);
        m->n_plugin_dirs = 0;
        for (; *host_dirs && m->n_plugin_dirs < RH_MAX_PLUGIN_DIRS; host_dirs++) {
            snprintf(m->plugin_dirs[m->n_plugin_dirs++], sizeof m->plugin_dirs[0], "%s",
                     *host_dirs);
            own_exists &= strcmp(*host_dirs, own) != 0;
        }
        if (own_exists && m->n_plugin_dirs < RH_MAX_PLUGIN_DIRS)
            snprintf(m->plugin_dirs[m->n_plugin_dirs++], sizeof m->plugin_dirs[0], "%s", own);
    }
    /* --plugins overrides: searched first, and a manifest folder that does
     * not exist here (a manifest copied to /etc/ringhost/ without its
     * ../plugins) is dropped, not an error; OPERATIONS.md, "systemd". */
    for (uint32_t i = 0; opts && opts->extra_plugins && i < m->n_plugin_dirs;) {
        struct stat st;
        if (stat(m->plugin_dirs[i], &st) == 0)
            i++;
        else
            memmove(m->plugin_dirs[i], m->plugin_dirs[i + 1],
                    (--m->n_plugin_dirs - i) * sizeof m->plugin_dirs[0]);
    }
    rt->report_bindings = opts ? opts->report_bindings : 0;
    rt->find_queue = opts ? opts->find_queue : NULL;
    rt->find_queue_arg = opts ? opts->find_queue_arg : NULL;
    if ((rc = rh__topo_init(err)) != 0)
        return rc;
    /* The host runs private copies: a `cp` over a loaded file must not
     * rewrite the code a kernel is running, and a reload must find the new
     * bytes (plugin.h). */
    rt->plugins.private_copies = 1;
    rt->plugins.names_only = 1; /* loaded when a kernel names one (plugin_pick.c) */
    if ((rc = load_plugins(rt, opts, err)) != 0)
        return rc;
    for (uint32_t i = 0; i < rt->plugins.n; i++)
        if (rt->plugins.items[i].error)
            fprintf(rt->log, "ringhost: warning: plugin not loaded: %s\n",
                    rt->plugins.items[i].why);

    uint32_t max_q = 2 * m->n_queues; /* and a dead-letter queue per remote one */
    for (uint32_t i = 0; i < m->n_kernels; i++)
        max_q += 2 * RH_MAX_PORTS + 1; /* its ports and its dead-letter queue */
    rt->qplan = calloc(max_q ? max_q : 1, sizeof *rt->qplan);
    rt->kernels = calloc(m->n_kernels ? m->n_kernels : 1, sizeof *rt->kernels);
    if (!rt->qplan || !rt->kernels)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    rt->n_kernels = m->n_kernels;

    /* Every kernel's plugin first: a manifest naming a .so that does not
     * load (or is not a kernel) is told that, not that the types only that
     * plugin declares are unknown. */
    for (uint32_t i = 0; i < m->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        k->rt = rt;
        k->index = i;
        k->decl = &m->kernels[i];
        k->state = RH_STATE_LAUNCHED;
        atomic_init(&k->kflow, RH_KFLOW_PAUSED); /* until activated (kernel_life.c) */
        if ((rc = resolve_plugin(rt, k, err)) != 0 || (rc = rh__exec_bind(rt, k, err)) != 0)
            return rc;
    }
    /* then declared queues: their declared type must be a known one */
    for (uint32_t i = 0; i < m->n_queues; i++) {
        rh_qplan *q = qplan_add(rt, m->queues[i].name, &m->queues[i].cfg);
        /* a dead-letter queue's type is the host's: plan_dead_letter_queues */
        if (m->queues[i].type[0] && strcmp(m->queues[i].type, RH_DLQ_TYPE_NAME) != 0) {
            q->type = rh__plugin_pick_type(&rt->plugins, m->queues[i].type, &q->origin);
            if (!q->type)
                return rh_error_set(err, RH_EMANIFEST,
                                    "%s: %s.type: expected a message type declared by a port of "
                                    "a loaded plugin, got \"%s\"",
                                    m->path, m->queues[i].json_path, m->queues[i].type);
            snprintf(q->first_use, sizeof q->first_use, "%s.type", m->queues[i].json_path);
        }
    }
    for (uint32_t i = 0; i < m->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        if ((rc = wire_ports(rt, k, 0, err)) != 0 || (rc = wire_ports(rt, k, 1, err)) != 0)
            return rc;
    }
    if ((rc = plan_dead_letter_queues(rt, err)) != 0)
        return rc;
    for (uint32_t i = 0; i < rt->n_qplan; i++)
        if (!rt->qplan[i].type)
            return rh_error_set(err, RH_EMANIFEST,
                                "%s: queues[\"%s\"].type: expected a message type (the queue is "
                                "wired to no port), got nothing",
                                m->path, rt->qplan[i].name);
    return 0;
}

/*
 * Launching into a running host: a planned queue the host already has is
 * that queue, shared (creating it again would replace a live queue under
 * its readers and writers).  Its type must be the one planned here.
 */
static int shared_from_host(rh_runtime *rt, rh_qplan *q, rh_error *err)
{
    rh_queue *have = rt->find_queue ? rt->find_queue(rt->find_queue_arg, q->name) : NULL;
    if (!have)
        return 0;
    if (rh_queue_fingerprint(have) != q->type->fingerprint)
        return rh_error_set(err, RH_ETYPE,
                            "%s: %s: queue \"%s\" already runs in instance %s carrying %s "
                            "(fingerprint %016llx), but this manifest needs %s (fingerprint "
                            "%016llx); wire it to a queue of type %s or give it another name",
                            rt->m->path, q->first_use, q->name, rt->instance,
                            rh_queue_type_name(have),
                            (unsigned long long)rh_queue_fingerprint(have), q->type->name,
                            (unsigned long long)q->type->fingerprint, q->type->name);
    q->queue = have;
    q->borrowed = 1;
    return 0;
}

/* A persist queue's refusal (queue_persist.c) comes from the queue layer, which knows the
 * object but not the manifest: prefix the file and the queue's JSON path. */
static int persist_refused(rh_runtime *rt, const rh_qplan *q, int rc, rh_error *err)
{
    if (!err || strncmp(err->msg, "persist queue", 13) != 0)
        return rc;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    const rh_queue_decl *mq = rh__manifest_queue(rt->m, q->name);
    return rh_error_set(err, rc, "%s: %s: %s", rt->m->path,
                        mq ? mq->json_path : "defaults.queue.persist", msg);
}

int rh__wiring_create_queues(rh_runtime *rt, rh_error *err)
{
    rt->queues = calloc(rt->n_qplan ? rt->n_qplan : 1, sizeof *rt->queues);
    if (!rt->queues)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < rt->n_qplan; i++) {
        rh_qplan *q = &rt->qplan[i];
        if (shared_from_host(rt, q, err) != 0)
            return err->code;
        if (q->borrowed) {
            rt->queues[rt->n_queues++] = q->queue;
            continue;
        }
        int rc = rh_queue_create(rt->instance, q->name, q->type, &q->cfg, q->origin, &q->queue,
                                 err);
        if (rc)
            return persist_refused(rt, q, rc, err);
        rt->queues[rt->n_queues++] = q->queue;
        uint64_t carried;
        if (rh__queue_recovered(q->queue, &carried))
            rh__log_event(rt->log, RH_LOG_INFO, "queue.recovered", "name=%s messages=%llu",
                          q->name, (unsigned long long)carried);
    }
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            k->in_q[p] = rt->qplan[k->in_plan[p]].queue;
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            k->out_q[p] = rt->qplan[k->out_plan[p]].queue;
    }
    return 0;
}

void rh__wiring_print(rh_runtime *rt, FILE *out)
{
    fprintf(out, "manifest %s: instance \"%s\", %u kernel(s), %u queue(s)\n", rt->m->path,
            rt->instance, rt->n_kernels, rt->n_qplan);
    for (uint32_t i = 0; i < rt->n_qplan; i++) {
        const rh_qplan *q = &rt->qplan[i];
        fprintf(out, "  queue %-24s %-24s capacity %u, %s, dedup %u, ttl %u ms\n", q->name,
                q->type->name, q->cfg.capacity, rh_backpressure_name(q->cfg.backpressure),
                q->cfg.dedup_window, q->cfg.ttl_ms);
    }
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        const rh_kinst *k = &rt->kernels[i];
        fprintf(out, "  kernel %s: plugin %s %s (%s), %u worker(s), bridge %s, wait %s, batch %u\n",
                k->decl->name, k->desc->name, k->desc->version ? k->desc->version : "",
                k->plugin->path, k->decl->workers,
                k->decl->bridge == RH_BRIDGE_INLINE ? "inline" : "thread",
                rh__wait_name(k->decl->wait), k->decl->batch);
        for (int dir = 0; dir < 2; dir++) {
            const rh_port *ports = dir ? k->desc->outputs : k->desc->inputs;
            uint32_t np = dir ? k->desc->n_outputs : k->desc->n_inputs;
            for (uint32_t p = 0; p < np; p++) {
                const char *qn = rt->qplan[dir ? k->out_plan[p] : k->in_plan[p]].name;
                fprintf(out, "    %s %-12s %-24s %s %s\n", dir ? "out" : "in ", ports[p].name,
                        ports[p].type->name, dir ? "->" : "<-", qn);
            }
        }
        fprintf(out, "    pin dispatch \"%s\", pump \"%s\"\n", k->decl->pin_dispatch.text,
                k->decl->pin_pump.text);
    }
}
