/*
 * kernel.c — what a kernel (rh_kinst) gives back at destroy: its workers'
 * contents, its bridges, its dedup windows and their locks.  Its workers'
 * memory and its executor's state are the executor's to free (exec/,
 * rh__exec_free), after this.  Owner: launch/ builds a kernel (wiring.c,
 * kernel_build.c), live/ changes its flow and plugin under rt->life_lock,
 * runtime.c finalises it here once every thread was joined.
 */
#include <stdlib.h>

#include "engine/acks.h"
#include "engine/engine.h"

void rh__kernel_fini(rh_kinst *k)
{
    for (uint32_t w = 0; k->workers && w < k->n_workers; w++)
        rh__worker_fini(&k->workers[w]);
    for (uint32_t b = 0; k->in_bridges && b < k->n_in_bridges; b++)
        rh__in_bridge_fini(&k->in_bridges[b]);
    for (uint32_t p = 0; p < RH_MAX_PORTS; p++) {
        rh__dedup_free(&k->dedup[p]);
        if (k->dedup_lock_init[p])
            pthread_mutex_destroy(&k->dedup_lock[p]);
        k->dedup_lock_init[p] = 0;
    }
    for (uint32_t b = 0; k->out_bridges && k->desc && b < k->desc->n_outputs; b++)
        rh__out_bridge_fini(&k->out_bridges[b]);
    free(k->in_bridges);
    free(k->out_bridges);
    k->in_bridges = NULL;
    k->out_bridges = NULL;
}
