/*
 * id.h — message ids beyond the public rh_id_new / rh_id_parse /
 * rh_id_format (ringhost.h): the id of an answer, derived from the message
 * it answers (id.c).
 */
#ifndef RH_BASE_ID_H
#define RH_BASE_ID_H

#include <stdint.h>

#include "ringhost/ringhost.h"

/*
 * The id of the emit_index-th answer (0, 1, ... in the order the kernel
 * emitted them) on output port `port` to the message whose id is input_id.
 * The same three values always give the same id, in every process and
 * every run (a fixed-key hash, no randomness): so when a persist input is
 * delivered again after a crash, or retried after a kernel process died,
 * its answers carry the ids they had the first time, and a dedup window
 * drops the repeats (bridge.c; the remote queues rely on the
 * same rule for `Nats-Msg-Id`).  How different inputs, ports and indexes
 * give different ids: ringhost/answer_id.h.  The result is a valid id:
 * version 8 and variant bits as rh_id_new's, never all-zero.
 */
rh_id rh__id_of_answer(rh_id input_id, uint32_t port, uint32_t emit_index);

/*
 * n ids of this thread's stream at once, for a burst (one thread-local
 * access, not one per message): the i-th (i < n) is
 * {*stream, rh__id_lo_of_count(*first + i)}, as rh_id_new would have
 * drawn them one by one.
 */
void rh__id_block(uint32_t n, uint64_t *stream, uint64_t *first);
static inline uint64_t rh__id_lo_of_count(uint64_t count)
{
    /* variant bits 10 on top, as rh_id_new: never zero */
    return (count & ~0xc000000000000000ull) | 0x8000000000000000ull;
}

#endif /* RH_BASE_ID_H */
