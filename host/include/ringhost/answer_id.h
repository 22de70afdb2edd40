/*
 * ringhost/answer_id.h — the id ringhost gives an answer: derived from the
 * id of the input it answers, the output port and its index among that
 * input's answers on the port.
 *
 * So an input processed twice (a persist queue's redelivery after a host
 * was killed) is answered twice with the same ids, and the output bridge
 * drops the repeat; the remote queues use it as `Nats-Msg-Id` too.  It is
 * here, public and inline, because every place an answer is made must
 * derive the same id: the host's dispatch (base/id.c), a device kernel's
 * loop (ringhost/device.cuh), and a client that wants to know which answer
 * a request will get.  The key is fixed on purpose (a restarted host, or
 * another host, derives the same ids); it keeps derived ids apart from
 * drawn ones, it is not a secret.  The result is a valid id (version 8
 * and variant bits as rh_id_new's, never all-zero).
 *
 * Plain C11, C++ and CUDA C++ (host and device).
 */
#ifndef RINGHOST_ANSWER_ID_H
#define RINGHOST_ANSWER_ID_H

#include <stdint.h>

#include "ringhost/kernel.h"

#ifdef __CUDACC__
#define RH_ANSWER_ID_FN static inline __host__ __device__
#else
#define RH_ANSWER_ID_FN static inline
#endif

#define RH_ANSWER_KEY_HI 0x72696e67686f7374ull /* "ringhost" */
#define RH_ANSWER_KEY_LO 0x616e737765726964ull /* "answerid" */

/* splitmix64's finaliser: every input bit flips each output bit with
 * probability about 1/2. */
RH_ANSWER_ID_FN uint64_t rh_answer_id_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/*
 * The two halves of an answer's id.  The high half is a hash of the
 * input's high half, the two top bits of its low half, the port and the
 * index; the low half is the input's low half with the variant bits set.
 * So inputs that differ in their low halves (ringhost's own ids are a
 * per-thread stream in the high half and a count in the low one: base/id.c)
 * get answers that differ there too, and a burst of inputs from one
 * stream, answered once each on one port, shares one high half: the host
 * hashes once per burst, not once per message (engine/answer.c caches the
 * last one).  Inputs that differ in their high halves, or ports or indexes
 * that differ, give high halves that differ but for a 2^-60 chance, which
 * is also the chance of an answer meeting an id drawn by another stream.
 * (Until ringhost 0.2 both halves were hashed for every answer; a persist
 * queue carried across that upgrade derives other ids for its
 * redeliveries: docs/RELIABILITY.md.)
 */
RH_ANSWER_ID_FN uint64_t rh_answer_id_hi(uint64_t input_hi, uint64_t input_lo, uint32_t port,
                                         uint32_t emit_index)
{
    uint64_t where = ((uint64_t)port << 32) | emit_index;
    uint64_t a = input_hi ^ RH_ANSWER_KEY_HI;
    uint64_t b = (input_lo >> 62) ^ RH_ANSWER_KEY_LO;
    uint64_t hi = rh_answer_id_mix64(a ^ b * 0x9e3779b97f4a7c15ull ^ where * 0xd6e8feb86659fd93ull);
    return (hi & ~0xf000ull) | 0x8000ull; /* version 8, as rh_id_new */
}

RH_ANSWER_ID_FN uint64_t rh_answer_id_lo(uint64_t input_lo)
{
    /* variant 10, as rh_id_new; the top bit set: never zero */
    return (input_lo & ~0xc000000000000000ull) | 0x8000000000000000ull;
}

/* The id of answer number emit_index (0 for the first) on output port
 * `port` to the input whose id is input_id. */
RH_ANSWER_ID_FN rh_id rh_answer_id(rh_id input_id, uint32_t port, uint32_t emit_index)
{
    rh_id id;
    id.hi = rh_answer_id_hi(input_id.hi, input_id.lo, port, emit_index);
    id.lo = rh_answer_id_lo(input_id.lo);
    return id;
}

#endif /* RINGHOST_ANSWER_ID_H */
