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
 * same rule for `Nats-Msg-Id`).  Different inputs, ports or indexes give
 * different ids but for a 2^-122 chance.  The result is a valid id:
 * version 8 and variant bits as rh_id_new's, never all-zero.
 */
rh_id rh__id_of_answer(rh_id input_id, uint32_t port, uint32_t emit_index);

#endif /* RH_BASE_ID_H */
