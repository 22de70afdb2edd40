/*
 * exec.c — the executors a manifest can name, and the calls over every
 * kernel of a runtime that go through their ops (exec.h).
 */
#include <string.h>

#include "exec/exec.h"
#include "plugin/plugin_load.h"

/* One line per executor. */
static const rh_exec_ops *const executors[] = {
    &rh__exec_thread,
    &rh__exec_process,
#if RH_HAVE_CUDA
    &rh__exec_cuda,
#endif
};

#define N_EXECUTORS (sizeof executors / sizeof executors[0])

const rh_exec_ops *rh__exec_find(const char *name)
{
    for (size_t i = 0; name && i < N_EXECUTORS; i++)
        if (strcmp(executors[i]->name, name) == 0)
            return executors[i];
    return NULL;
}

int rh__exec_bind(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    const rh_exec_ops *e = rh__exec_find(d->executor);
    if (!e && d->executor && strcmp(d->executor, "cuda") == 0)
        return rh_error_set(err, RH_EPLACE,
                            "%s: kernels[%u].isolation: \"cuda\" is not in this ringhost: it "
                            "was built without the CUDA toolkit (no nvcc or cuda.h at configure "
                            "time)", rt->m->path, k->index);
    if (!e) {
        char names[128] = "";
        for (size_t i = 0; i < N_EXECUTORS; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s\"%s\"",
                     i ? ", " : "", executors[i]->name);
        return rh_error_set(err, RH_EMANIFEST, "%s: kernels[%u].isolation: expected one of %s, "
                            "got \"%s\"", rt->m->path, k->index, names,
                            d->executor ? d->executor : "");
    }
    int device = k->desc && rh__plugin_device(k->desc);
    if (device && !(e->caps & RH_EXEC_POLLED))
        return rh_error_set(err, RH_EMANIFEST,
                            "%s: kernels[%u].isolation: expected \"cuda\" for plugin \"%s\", "
                            "got \"%s\" (a device kernel runs on the GPU; it has no CPU code)",
                            rt->m->path, k->index, k->desc->name, e->name);
    if (k->desc && !device && (e->caps & RH_EXEC_POLLED))
        return rh_error_set(err, RH_EMANIFEST,
                            "%s: kernels[%u].isolation: expected \"thread\" or \"process\" for "
                            "plugin \"%s\", got \"%s\" (it has no device code: "
                            "rh_kernel_desc.device is not set)",
                            rt->m->path, k->index, k->desc->name, e->name);
    if (k->desc && k->desc->run && !(e->caps & RH_EXEC_RUN))
        return rh_error_set(err, RH_EMANIFEST,
                            "%s: kernels[%u].isolation: expected \"thread\" for plugin \"%s\", "
                            "got \"%s\" (a run() kernel owns its loop; only process() kernels "
                            "run in %s)",
                            rt->m->path, k->index, k->desc->name, e->name, e->where);
    if (d->bridge == RH_BRIDGE_INLINE && k->desc && k->desc->process && !(e->caps & RH_EXEC_INPLACE))
        return rh_error_set(err, RH_EMANIFEST,
                            "%s: kernels[%u].isolation: expected \"thread\" with \"bridge\": "
                            "\"inline\", got \"%s\" (a kernel in %s needs its pumps in the host: "
                            "\"bridge\": \"thread\")",
                            rt->m->path, k->index, e->name, e->where);
    k->exec = e;
    return 0;
}

int rh__exec_start(rh_runtime *rt, rh_error *err)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        int rc = k->exec && k->exec->start ? k->exec->start(rt, k, err) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

void rh__exec_supervise(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        if (k->exec && k->exec->supervise && k->workers)
            k->exec->supervise(rt, k);
    }
}

int rh__exec_sync(rh_runtime *rt, rh_kinst *only, uint64_t deadline_ns, const char **who)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        if ((only && k != only) || !k->exec || !k->exec->sync || !k->workers)
            continue;
        if (k->exec->sync(rt, k, deadline_ns) != 0) {
            if (who)
                *who = k->decl->name;
            return RH_ETIMEDOUT;
        }
    }
    return 0;
}

void rh__exec_stop(rh_runtime *rt, uint64_t deadline_ns)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        if (k->exec && k->exec->stop && k->workers)
            k->exec->stop(rt, k, deadline_ns);
    }
}

uint64_t rh__exec_supervise_ns(const rh_runtime *rt)
{
    uint64_t ns = 0;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        const rh_exec_ops *e = rt->kernels[i].exec;
        if (e && e->supervise && e->supervise_ns && (!ns || e->supervise_ns < ns))
            ns = e->supervise_ns;
    }
    return ns;
}

int rh__exec_worker_pid(const rh_worker *w)
{
    const rh_exec_ops *e = w->kernel->exec;
    return e && e->worker_pid ? e->worker_pid(w) : 0;
}

void rh__exec_free(rh_kinst *k)
{
    if (k->exec && k->exec->release)
        k->exec->release(k);
    if (k->workers && k->exec)
        k->exec->workers_free(k->workers, k->n_workers);
    k->workers = NULL;
}
