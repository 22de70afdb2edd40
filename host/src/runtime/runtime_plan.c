/*
 * runtime_plan.c — what a launch would do, without launching: `ringhost
 * validate`, `graph` and `topo`.  A runtime wired by launch's own wiring
 * (launch/wiring.c) and destroyed again: no queue, thread or init().
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"
#include "base/log.h"
#include "base/placement.h"
#include "base/struct_size.h"
#include "engine/acks.h"
#include "engine/engine.h"
#include "exec/exec.h"
#include "faults/faults.h"
#include "launch/launch.h"
#include "live/live.h"
#include "plugin/plugin.h"
#include "queue/queue_pvt.h"
#include "queue/type_registry.h"
#include "remote/remote.h"
#include "runtime/runtime.h"

/* -------------------------------------------- planned, not launched --- */

/* What a launch would do, for `ringhost graph`, `validate` and `topo`: a
 * runtime of manifest_path wired by launch's own wiring and not launched
 * (no queue, thread or init(): test_cli_topo_plan.c), in *out (NULL when
 * not even allocated).  0 or the wiring's error; the caller destroys *out. */
static int plan_only(const char *manifest_path, const rh_launch_opts *caller_opts,
                     rh_runtime **out, rh_error *err)
{
    rh_launch_opts opts;
    *out = NULL;
    int rc = rh__launch_opts_in(caller_opts, &opts, err);
    if (rc != 0)
        return rc;
    rh_runtime *rt = calloc(1, sizeof *rt);
    *out = rt;
    if (!rt)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    rt->log = opts.log ? opts.log : stderr;
    return rh__wiring_plan(rt, manifest_path, &opts, err);
}

int rh__runtime_graph(const char *manifest_path, const rh_launch_opts *opts, FILE *out,
                      const struct json_t *live, rh_error *err)
{
    rh_runtime *rt;
    int rc = plan_only(manifest_path, opts, &rt, err);
    if (!rt)
        return rc;
    if (rc == 0)
        rh__graph_print(rt, out, live);
    rh_runtime_destroy(rt);
    return rc;
}

int rh_runtime_validate(const char *manifest_path, const rh_launch_opts *opts, FILE *plan_out,
                        rh_error *err)
{
    rh_runtime *rt;
    int rc = plan_only(manifest_path, opts, &rt, err);
    if (!rt)
        return rc;
    /* pins must resolve too */
    for (uint32_t i = 0; rc == 0 && i < rt->n_kernels; i++) {
        const rh_kernel_decl *d = rt->kernels[i].decl;
        const char *specs[2] = {d->pin_dispatch.text, d->pin_pump.text};
        for (int s = 0; s < 2 && rc == 0; s++) {
            hwloc_bitmap_t set = NULL;
            rh_error perr;
            if (rh__pin_resolve(specs[s], &set, &perr) != 0) {
                if (rt->m->strict)
                    rc = rh_error_set(err, RH_EPLACE, "%s: kernels[%u].pin.%s: %s", rt->m->path,
                                      i, s ? "pump" : "dispatch", perr.msg);
                else
                    fprintf(rt->log, "ringhost: warning: %s: kernels[%u].pin.%s: %s\n",
                            rt->m->path, i, s ? "pump" : "dispatch", perr.msg);
            }
            if (set)
                hwloc_bitmap_free(set);
        }
    }
    /* each kernel's config, against what its plugin declares (not init():
     * validating starts nothing) */
    for (uint32_t i = 0; rc == 0 && i < rt->n_kernels; i++) {
        const rh_kinst *k = &rt->kernels[i];
        if (k->desc)
            rc = rh__config_check(rh__plugin_config_schema(k->desc), k->decl->config_json,
                                  rt->m->path, i, k->decl->plugin, rt->log, err);
    }
    if (rc == 0 && plan_out)
        rh__wiring_print(rt, plan_out);
    rh_runtime_destroy(rt);
    return rc;
}

int rh__runtime_plan_threads(const char *manifest_path, const rh_launch_opts *opts, FILE *out,
                             rh_error *err)
{
    rh_runtime *rt;
    int rc = plan_only(manifest_path, opts, &rt, err);
    if (!rt)
        return rc;
    for (uint32_t i = 0; rc == 0 && i < rt->n_kernels; i++)
        rc = rh__kernel_plan(rt, &rt->kernels[i], err);
    for (uint32_t i = 0; rc == 0 && i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        char set[64] = "any";
        if (!hwloc_bitmap_iszero(r->cpuset))
            rh__binding_string(r->cpuset, set, sizeof set);
        fprintf(out, "binding: thread %-14s pinned to cpus %-6s wait %s:", r->name, set,
                rh__wait_name(r->wait));
        for (uint32_t t = 0; t < r->n_tasks; t++)
            fprintf(out, "%s %s", t ? ";" : "", r->tasks[t].what);
        fprintf(out, "\n");
    }
    for (uint32_t i = 0; rc == 0 && i < rt->n_kernels; i++)
        if (rt->kernels[i].exec != &rh__exec_thread)
            fprintf(out, "kernel %s runs in %s (\"isolation\": \"%s\")\n",
                    rt->kernels[i].decl->name, rt->kernels[i].exec->where,
                    rt->kernels[i].exec->name);
    rh_runtime_destroy(rt);
    return rc;
}

