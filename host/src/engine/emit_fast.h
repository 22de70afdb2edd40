/*
 * emit_fast.h — the answer a kernel emits in the common case, written
 * without leaving its caller (dispatch.c api_emit; answer.c shares the
 * envelope).
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

#include "engine/engine.h"
#include "ringhost/answer_id.h"

/* The high half of the id of answer emit_index on port to an input whose
 * id is (in_hi, in_lo), from the worker's one-entry cache: a burst of one
 * sender's messages answered once each hashes once (ringhost/answer_id.h). */
static inline uint64_t rh__answer_hi(rh_worker *w, uint64_t in_hi, uint64_t in_lo, uint32_t port,
                                     uint32_t emit_index)
{
    struct rh_answer_hi *c = &w->answer_hi;
    /* port < RH_MAX_PORTS: bits 38..60 of where are free for in_lo's top
     * two bits, and bit 61 marks an entry in use (0: none yet) */
    uint64_t key = ((uint64_t)port << 32) | emit_index | (in_lo >> 62 << 62) | (1ull << 61);
    if (c->key != key || c->in_hi != in_hi) {
        c->out_hi = rh_answer_id_hi(in_hi, in_lo, port, emit_index);
        c->in_hi = in_hi;
        c->key = key;
    }
    return c->out_hi;
}

/* The envelope of an answer on port to message j of the held batch, whose
 * envelope is in: every field written (no memset first), the id derived
 * from in's id, the port and the answer's index among j's answers on the
 * port.  flags: RH_ENV_HAS_CORRELATION, with RH_ENV_REDELIVERED when in
 * was redelivered or retried (rh__answer_flags). */
static inline void rh__answer_env(rh_worker *w, uint32_t port, uint32_t j, const rh_envelope *in,
                                  rh_envelope *env, uint32_t len, uint8_t flags)
{
    rh_id id = in->id;
    env->id.hi = rh__answer_hi(w, id.hi, id.lo, port, w->emit_counts[j * w->n_outputs + port]++);
    env->id.lo = rh_answer_id_lo(id.lo);
    env->correlation_id = id;
    env->enqueue_ns = 0;
    env->payload_len = len;
    env->priority = in->priority;
    env->flags = flags;
    env->port = 0;
}

static inline uint8_t rh__answer_flags(const rh_envelope *in)
{
    return (uint8_t)(RH_ENV_HAS_CORRELATION |
                     ((in->flags & (RH_ENV_REDELIVERED | RH_ENV_RETRIED)) ? RH_ENV_REDELIVERED : 0));
}

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
