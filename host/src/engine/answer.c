/*
 * answer.c — what an answer carries: the envelope of an output a kernel
 * emits for an input of the batch it holds (correlation, priority, the id
 * derived from the input's, the redelivered mark), written wherever the
 * answer goes: a slot of the output ring (dispatch.c) or a cell of the
 * output queue (inplace.c).  Its own file so both paths call down to it
 * and neither calls the other back.
 */
#include <string.h>

#include "engine/answer.h"
#include "engine/engine_pvt.h"

/* Index in the held batch of the message in, or -1.  Kernels pass
 * &batch->msgs[j] (found at once); a copy of the rh_msg is found by its
 * envelope. */
int rh__worker_batch_index(const rh_worker *w, const rh_msg *in)
{
    if (!in)
        return -1;
    uintptr_t at = (uintptr_t)in, first = (uintptr_t)w->msgs;
    if (at >= first && at < first + w->batch_n * sizeof *w->msgs &&
        (at - first) % sizeof *w->msgs == 0)
        return (int)((at - first) / sizeof *w->msgs);
    for (uint32_t j = 0; j < w->batch_n; j++)
        if (w->msgs[j].env == in->env)
            return (int)j;
    return -1;
}

/*
 * The envelope of an output on port `port` answering `in`: correlation id,
 * priority, and an id derived from in's id, the port and the output's index
 * among in's answers on that port (base/id.h), so an input processed again
 * after a crash is answered with the same ids.  An input outside the held
 * batch (or none) leaves the id zero: the queue draws a fresh one.  A
 * redelivered or retried input's answers are marked RH_ENV_REDELIVERED, for
 * the output bridge to check (bridge.c).
 */
void rh__worker_fill_env(rh_worker *w, uint32_t port, rh_envelope *env, const rh_msg *in,
                         uint32_t len)
{
    int j = in && in->env && w->emit_counts ? rh__worker_batch_index(w, in) : -1;
    if (j >= 0) {
        rh__answer_env(w, port, (uint32_t)j, in->env, env, len, rh__answer_flags(in->env));
        return;
    }
    memset(env, 0, sizeof *env);
    if (in && in->env) {
        env->correlation_id = in->env->id;
        env->priority = in->env->priority;
        env->flags = RH_ENV_HAS_CORRELATION;
    }
    env->payload_len = len;
}
