/*
 * save_config.c — the control protocol's `save_config` (SPDK's save_config):
 * the running host written back as one manifest that launches the same
 * thing, and `methods` (SPDK's rpc_get_methods): every request with its
 * parameters, from the one table the dispatcher's help also names.
 *
 * save_config reads what the host runs, not the files it was launched
 * from (those may have changed since): every live runtime's kernels (not
 * terminated ones), with each port wired explicitly to the queue it uses,
 * and every queue a runtime created, with its resolved settings; the
 * plugin folders of all the manifests, in launch order.  A dead-letter
 * queue is listed only when a manifest declared it (the host makes the
 * others).  From the serving thread, as every request.
 */
#include <pthread.h>
#include <string.h>

#include <jansson.h>

#include "base/wait.h"
#include "control/control.h"
#include "control/control_pvt.h"
#include "engine/engine.h"
#include "manifest/manifest.h"

const rh_control_method rh__control_methods[] = {
    {"ps", "", "the host's kernels with their state and counters"},
    {"activate", "kernel", "start a launched or deactivated kernel"},
    {"deactivate", "kernel", "pause a kernel (its queues keep filling)"},
    {"terminate", "kernel, timeout_ms?", "stop a kernel for good (default 5000 ms)"},
    {"reload", "kernel", "load the kernel's plugin file again (hot swap)"},
    {"launch", "manifest, activate?, allow_plugins?, plugins?",
     "add an absolute-path manifest's kernels and queues"},
    {"methods", "", "this list"},
    {"save_config", "", "the running host as one manifest that launches the same thing"},
    {NULL, NULL, NULL},
};

json_t *rh__control_methods_json(void)
{
    json_t *arr = json_array();
    for (const rh_control_method *m = rh__control_methods; m->name; m++) {
        json_t *params = json_array();
        /* "a, b?" -> [{"name": "a", "required": true}, {"name": "b", "required": false}] */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", m->params);
        for (char *save = NULL, *p = strtok_r(buf, ", ", &save); p;
             p = strtok_r(NULL, ", ", &save)) {
            size_t n = strlen(p);
            int optional = n > 0 && p[n - 1] == '?';
            if (optional)
                p[n - 1] = '\0';
            json_array_append_new(params, json_pack("{s:s, s:b}", "name", p, "required",
                                                    !optional));
        }
        json_array_append_new(arr, json_pack("{s:s, s:o, s:s}", "name", m->name, "params", params,
                                             "description", m->description));
    }
    return arr;
}

static json_t *queue_json(const char *type, const rh_queue_config *cfg)
{
    json_t *o = json_object();
    if (type && type[0])
        json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "capacity", json_integer(cfg->capacity));
    json_object_set_new(o, "backpressure", json_string(rh_backpressure_name(cfg->backpressure)));
    if (cfg->backpressure == RH_BP_BLOCK)
        json_object_set_new(o, "block_timeout_ms", json_integer(cfg->block_timeout_ms));
    json_object_set_new(o, "dedup_window", json_integer(cfg->dedup_window));
    json_object_set_new(o, "ttl_ms", json_integer(cfg->ttl_ms));
    json_object_set_new(o, "shared", json_boolean(cfg->shared));
    json_object_set_new(o, "persist", json_boolean(cfg->persist));
    return o;
}

static json_t *ports_json(const rh_runtime *rt, const rh_port *ports, uint32_t n,
                          const uint32_t *plan)
{
    json_t *o = json_object();
    for (uint32_t p = 0; p < n; p++)
        json_object_set_new(o, ports[p].name, json_string(rt->qplan[plan[p]].name));
    return o;
}

static json_t *kernel_json(const rh_runtime *rt, const rh_kinst *k)
{
    const rh_kernel_decl *d = k->decl;
    json_t *o = json_pack("{s:s, s:s, s:i}", "name", d->name, "plugin", d->plugin, "workers",
                          (int)d->workers);
    json_object_set_new(o, "inputs", ports_json(rt, k->desc->inputs, k->desc->n_inputs,
                                                k->in_plan));
    json_object_set_new(o, "outputs", ports_json(rt, k->desc->outputs, k->desc->n_outputs,
                                                 k->out_plan));
    if (d->pin_dispatch.text[0] || d->pin_pump.text[0]) {
        json_t *pin = json_object();
        if (d->pin_dispatch.text[0])
            json_object_set_new(pin, "dispatch", json_string(d->pin_dispatch.text));
        if (d->pin_pump.text[0])
            json_object_set_new(pin, "pump", json_string(d->pin_pump.text));
        json_object_set_new(o, "pin", pin);
    }
    json_object_set_new(o, "bridge", json_string(d->bridge == RH_BRIDGE_INLINE ? "inline"
                                                                                : "thread"));
    json_object_set_new(o, "wait", json_string(rh__wait_name(d->wait)));
    json_object_set_new(o, "batch", json_integer(d->batch));
    if (d->ring_capacity)
        json_object_set_new(o, "ring_capacity", json_integer(d->ring_capacity));
    json_t *cfg = json_loads(d->config_json ? d->config_json : "{}", 0, NULL);
    json_object_set_new(o, "config", cfg ? cfg : json_object());
    if (d->watchdog_ms)
        json_object_set_new(o, "watchdog_ms", json_integer(d->watchdog_ms));
    json_object_set_new(o, "restart",
                        json_pack("{s:i, s:i, s:i, s:i}", "max", (int)d->restart_max,
                                  "backoff_ms", (int)d->restart_backoff_ms, "backoff_max_ms",
                                  (int)d->restart_backoff_max_ms, "failed_batches",
                                  (int)d->restart_failed_batches));
    if (strcmp(d->executor, "thread") != 0) /* "thread" is the default: left out */
        json_object_set_new(o, "isolation", json_string(d->executor));
    return o;
}

static int is_dlq_of(const rh_runtime *rt, uint32_t q)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        if (rt->kernels[i].dlq_plan == q)
            return 1;
    return 0;
}

json_t *rh__control_save_config(rh_control *c)
{
    json_t *plugins = json_array(), *queues = json_object(), *kernels = json_array();
    const char *placement = "none";
    int strict = 1;
    for (unsigned r = 0; r < c->n_rts; r++) {
        if (c->rts[r].retired)
            continue;
        rh_runtime *rt = c->rts[r].rt;
        const rh_manifest *m = rt->m;
        if (r == 0) {
            placement = m->placement[0] ? m->placement : "none";
            strict = m->strict;
        }
        for (uint32_t i = 0; i < m->n_plugin_dirs; i++) {
            int seen = 0;
            json_t *v;
            size_t j;
            json_array_foreach (plugins, j, v)
                seen |= !strcmp(json_string_value(v), m->plugin_dirs[i]);
            if (!seen)
                json_array_append_new(plugins, json_string(m->plugin_dirs[i]));
        }
        for (uint32_t q = 0; q < rt->n_qplan; q++) {
            const rh_qplan *qp = &rt->qplan[q];
            if (qp->borrowed || json_object_get(queues, qp->name))
                continue; /* another runtime's queue: listed with it */
            if (is_dlq_of(rt, q)) {
                rh_queue_decl *decl = rh__manifest_queue((rh_manifest *)m, qp->name);
                if (decl)
                    json_object_set_new(queues, qp->name, queue_json(decl->type, &decl->cfg));
                continue;
            }
            json_object_set_new(queues, qp->name,
                                queue_json(qp->type ? qp->type->name : NULL, &qp->cfg));
        }
        for (uint32_t k = 0; k < rt->n_kernels; k++) {
            rh_kernel_info ki = RH_KERNEL_INFO_INIT;
            if (rh_runtime_kernel_info(rt, k, &ki) != 0 || ki.state == RH_STATE_TERMINATED)
                continue;
            pthread_mutex_lock(&rt->life_lock); /* desc changes in a swap (kernel_life.c) */
            json_array_append_new(kernels, kernel_json(rt, &rt->kernels[k]));
            pthread_mutex_unlock(&rt->life_lock);
        }
    }
    return json_pack("{s:i, s:s, s:o, s:s, s:b, s:o, s:o}", "ringhost", 1, "name", c->instance,
                     "plugins", plugins, "placement", placement, "strict", strict, "queues",
                     queues, "kernels", kernels);
}
