/*
 * answer.h — what an answer's envelope carries, inline for both emit paths
 * (emit_fast.h's common case and answer.c's general one): the id derived
 * from the input's (ringhost/answer_id.h, its high half cached per worker),
 * the correlation, the priority and the redelivered mark.
 */
#ifndef RH_ENGINE_ANSWER_H
#define RH_ENGINE_ANSWER_H

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

#endif /* RH_ENGINE_ANSWER_H */
