/*
 * latency.c — reading what the workers record of latency (engine_pvt.h
 * rh__latency_taken / rh__latency_served, into rh_worker's histograms)
 * and what the reactors count of their polls, for the control socket's
 * ps.  Every counter has one writer, its own thread; this file only reads
 * them, with relaxed loads (base/hist.h says what view that gives).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "engine/engine.h"

int rh__latency_on(void)
{
    /* read at each launch (its workers' init), never on a hot path: a
     * program embedding the host may launch with and without it */
    const char *e = getenv("RINGHOST_LATENCY");
    return !(e && (!strcmp(e, "0") || !strcasecmp(e, "off") || !strcasecmp(e, "false") ||
                   !strcasecmp(e, "no")));
}

json_t *rh__kernel_latency_json(rh_kinst *k)
{
    rh_hist_snap *s = calloc(1, sizeof *s), *one = malloc(sizeof *one);
    json_t *inputs = json_array(), *o = NULL;
    if (!s || !one || !inputs)
        goto out;
    uint64_t busy = 0;
    for (uint32_t w = 0; w < k->n_workers; w++) {
        rh__hist_read(&k->workers[w].service, one);
        rh__hist_merge(s, one);
        busy += atomic_load_explicit(&k->workers[w].busy_ns, memory_order_relaxed);
    }
    json_t *service = rh__hist_to_json(s);
    for (uint32_t p = 0; p < k->desc->n_inputs && p < RH_MAX_PORTS && k->in_q[p]; p++) {
        memset(s, 0, sizeof *s);
        for (uint32_t w = 0; w < k->n_workers; w++) {
            rh__hist_read(&k->workers[w].wait[p], one);
            rh__hist_merge(s, one);
        }
        json_array_append_new(inputs, json_pack("{s:s, s:s, s:o*}", "port",
                                                k->desc->inputs[p].name, "queue",
                                                rh_queue_name(k->in_q[p]), "wait",
                                                rh__hist_to_json(s)));
    }
    o = json_pack("{s:b, s:o*, s:I, s:O}", "recorded", k->n_workers && k->workers[0].latency,
                  "service", service, "busy_ns", (json_int_t)busy, "inputs", inputs);
out:
    json_decref(inputs);
    free(s);
    free(one);
    return o;
}

json_t *rh__runtime_polls_json(rh_runtime *rt)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        /* busy first: loops only grows, so idle is never negative */
        uint64_t busy = atomic_load_explicit(&r->busy_polls, memory_order_relaxed);
        uint64_t loops = atomic_load_explicit(&r->loops, memory_order_relaxed);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "thread", r->name, "busy_polls",
                                             (json_int_t)busy, "idle_polls",
                                             (json_int_t)(loops > busy ? loops - busy : 0)));
    }
    return arr;
}
