/*
 * worker.c — a worker's life: what it is given when its kernel is built,
 * and what it gives back.  The worker's memory itself (rh_worker) is its
 * executor's (exec/: heap, or shared with a child process); this file
 * fills it and empties it.  Owner: launch/ calls rh__worker_init once,
 * before any thread starts; from then on the worker's fields are its own
 * thread's (engine.h says which are shared and how); rh__worker_fini runs
 * once every thread that used it was joined (runtime.c, at destroy).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int rh__worker_init(rh_worker *w, rh_kinst *k, uint32_t index, const rh_ring_mem *mem,
                    uint32_t (*slots)(uint32_t configured, uint32_t type_size), rh_error *err)
{
    const rh_kernel_decl *d = k->decl;
    const rh_kernel_desc *desc = k->desc;
    w->kernel = k;
    w->index = index;
    w->ctx.api = &rh__host_api_v1;
    w->ctx.kernel_name = d->name;
    w->ctx.worker = index;
    w->ctx.workers = k->n_workers;
    w->ctx.host = w;
    w->latency = rh__latency_on(); /* its histograms start zeroed: the executor's memory is */
    w->msgs = calloc(d->batch, sizeof *w->msgs);
    w->failed_mark = calloc(d->batch, 1); /* rh_fail's marks (dispatch.c) */
    /* answer counts per message and output port (dispatch.c fill_env) */
    w->emit_counts = calloc((size_t)d->batch * (desc->n_outputs ? desc->n_outputs : 1),
                            sizeof *w->emit_counts);
    if (!w->msgs || !w->failed_mark || !w->emit_counts)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    for (uint32_t p = 0; p < desc->n_inputs; p++) {
        uint32_t size = desc->inputs[p].type->size;
        if (!(w->in[p] = rh__ring_create(mem, slots(d->ring_capacity, size), size)))
            return rh_error_set(err, RH_ENOMEM, "kernel %s: cannot allocate its input ring",
                                d->name);
    }
    for (uint32_t p = 0; p < desc->n_outputs; p++) {
        uint32_t size = desc->outputs[p].type->size;
        if (!(w->out[p] = rh__ring_create(mem, slots(d->ring_capacity, size), size)))
            return rh_error_set(err, RH_ENOMEM, "kernel %s: cannot allocate its output ring",
                                d->name);
    }
    return 0;
}

void rh__worker_fini(rh_worker *w)
{
    for (uint32_t p = 0; p < RH_MAX_PORTS; p++) {
        rh__ring_destroy(w->in[p]);
        rh__ring_destroy(w->out[p]);
        w->in[p] = w->out[p] = NULL;
    }
    free(w->msgs);
    free(w->failed_mark);
    free(w->emit_counts);
    w->msgs = NULL;
    w->failed_mark = NULL;
    w->emit_counts = NULL;
}
