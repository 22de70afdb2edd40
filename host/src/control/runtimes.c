/*
 * runtimes.c — the runtimes a serving host's control socket answers for:
 * the first one `ringhost run` launched and each one a `launch` request
 * added (control_cmd.c), with the last ps sample of each of their kernels
 * (taken by the server's thread every RH_CONTROL_SAMPLE_MS, server.c).
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/grow.h"
#include "control/control_pvt.h"
#include "runtime.h"

int rh__control_add_runtime(rh_control *c, rh_runtime *rt, const char *manifest_path)
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
    /* Every runtime accounts the queues it created with the intake of the
     * kernels of all of them (a later manifest may read them). */
    for (unsigned i = 0; i < c->n_rts; i++)
        c->peers[i] = c->rts[i].rt;
    c->peers[c->n_rts] = NULL;
    for (unsigned i = 0; i < c->n_rts; i++)
        rh__runtime_set_peers(c->rts[i].rt, c->peers);
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
            rh_kernel_info ki;
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

void rh__control_runtimes_free(rh_control *c)
{
    for (unsigned i = 0; i < c->n_rts; i++) {
        free(c->rts[i].manifest);
        free(c->rts[i].samples);
    }
    free(c->rts);
    free(c->peers);
    c->rts = NULL;
    c->peers = NULL;
    c->n_rts = c->cap_rts = 0;
}
