/*
 * emit_fast.h — the answer a kernel emits in the common case, written
 * without leaving its caller (dispatch.c api_emit; answer.c shares the
 * envelope).
 *
 * The envelope itself is answer.h's, shared with the general path.
 *
 * The common case: an inline kernel answers an input of the batch it
 * holds, on a port whose run of output cells (inplace.c) has room, in a
 * batch with no redelivered input and nothing waiting in the port's output
 * ring.  What does not change within a batch is decided once when the
 * batch begins (rh__inplace_batch_begins: ip_out[port].fast, with the
 * cells, the type's size and the burst); per answer there is then one
 * test of the run, the batch index of the input, the envelope, the copy.
 * Everything else (claiming the next run, a reservation, an answer to
 * check for a repeat, a full queue, an input outside the batch) returns 0
 * and takes the general path, which is unchanged.  Measured (callgrind,
 * instructions per message of the kernel's thread, echo): PERFORMANCE.md,
 * "The per-message path".
 */
#ifndef RH_EMIT_FAST_H
#define RH_EMIT_FAST_H

#include <string.h>

#include "engine/answer.h"
#include "engine/engine.h"

/* inplace.c: publish what port's run has written (a burst of answers). */
void rh__inplace_publish_run(rh_worker *w, uint32_t port);

/* rh_emit of len bytes at msg on port answering in, in the common case
 * (above): 1 done, 0 the general path must do it. */
static inline int rh__emit_fast(rh_worker *w, uint32_t port, const rh_msg *in, const void *msg,
                                uint32_t len)
{
    if (port >= RH_MAX_PORTS)
        return 0;
    struct rh_ip_out *o = &w->ip_out[port];
    uint64_t pos = o->start + o->n;
    uintptr_t off = (uintptr_t)in - (uintptr_t)w->msgs;
    if (!o->fast || pos >= o->end || len > o->len_max ||
        off >= (uintptr_t)w->batch_n * sizeof *w->msgs || off % sizeof *w->msgs)
        return 0;
    /* An output bridge that began recording answers (an answer to a
     * redelivered input, another worker's perhaps) is read per answer, as
     * the general path reads it: a hint, relaxed (engine.h). */
    if (atomic_load_explicit(o->recent, memory_order_relaxed))
        return 0;
    rh_envelope *env = rh__cell_env(&o->cells, pos);
    /* no redelivered input in the batch (fast): the flags are known */
    rh__answer_env(w, port, (uint32_t)(off / sizeof *w->msgs), in->env, env, len,
                   RH_ENV_HAS_CORRELATION);
    if (len)
        memcpy(env + 1, msg, len);
    o->n++;
    o->answered++;
    if (o->n >= o->burst)
        rh__inplace_publish_run(w, port);
    return 1;
}

/* The same for the copying path (pump threads, a process-isolated kernel,
 * an inline kernel whose answers on the port go through its ring this
 * batch): the answer into the output ring's next slot that out_slot
 * (dispatch.c) already found free, with no question to the ring.  An
 * inline worker takes it only once its port has answers in the ring
 * (out_pending): before that, the in-place path is the one to try.
 * 1 done, 0 the general path must do it. */
static inline int rh__emit_fast_ring(rh_worker *w, uint32_t port, const rh_msg *in,
                                     const void *msg, uint32_t len)
{
    if (port >= RH_MAX_PORTS)
        return 0;
    uint32_t done = w->out_pending[port];
    uintptr_t off = (uintptr_t)in - (uintptr_t)w->msgs;
    if (done >= w->ring_room[port] || len > w->ring_len_max[port] || (w->inplace && !done) ||
        off >= (uintptr_t)w->batch_n * sizeof *w->msgs || off % sizeof *w->msgs)
        return 0;
    rh_envelope *env = rh_ring_slot(w->out[port], w->ring_pos[port] + done);
    rh__answer_env(w, port, (uint32_t)(off / sizeof *w->msgs), in->env, env, len,
                   rh__answer_flags(in->env));
    if (len)
        memcpy(env + 1, msg, len);
    w->out_pending[port] = done + 1;
    return 1;
}

#endif /* RH_EMIT_FAST_H */
