/*
 * fanout — a test kernel that answers each input a known number of times
 * on two ports, for the answer-id tests (tests/unit/test_answers.c): the
 * ids every answer path derives must be the ones ringhost/answer_id.h
 * defines, whichever path wrote the answer.
 *
 * Input "in", outputs "a" and "b", all echo.message.  For input seq s:
 *   - on "a": one copy, through rh_emit with &batch->msgs[i] (the common
 *     case: emit_fast.h on an inline bridge);
 *   - on "b": s % 3 copies (0, 1 or 2: answer indexes 0 and 1), every
 *     second one through rh_emit_reserve/commit, the others through
 *     rh_emit with a copy of the rh_msg (found by its envelope);
 *   - when s % 8 == 7, one more message on "a" answering nobody (in NULL:
 *     no correlation, an id drawn by the queue), text "unsolicited".
 * Built into ${CMAKE_BINARY_DIR}/test_plugins, never into plugins/.
 */
#include <string.h>

#include "echo_message.h"
#include "ringhost/kernel.h"

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "a", .type = &echo_message_type},
                                  {.name = "b", .type = &echo_message_type}};

static int fanout_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        const echo_message *m = in->data;
        if (rh_emit(ctx, 0, in, m, sizeof *m) < 0)
            return -1;
        for (uint64_t k = 0; k < m->seq % 3; k++) {
            if (k % 2 == 1) {
                echo_message *out = rh_emit_reserve(ctx, 1);
                if (!out)
                    return -1;
                memcpy(out, m, sizeof *out);
                if (rh_emit_commit(ctx, 1, in, sizeof *out) < 0)
                    return -1;
            } else {
                rh_msg copy = *in;
                if (rh_emit(ctx, 1, &copy, m, sizeof *m) < 0)
                    return -1;
            }
        }
        if (m->seq % 8 == 7) {
            echo_message u;
            memset(&u, 0, sizeof u);
            u.seq = m->seq;
            strcpy(u.text, "unsolicited");
            if (rh_emit(ctx, 0, NULL, &u, sizeof u) < 0)
                return -1;
        }
    }
    return 0;
}

static const rh_kernel_desc fanout_desc = {
    RH_KERNEL_ABI,
    .name = "fanout",
    .version = "1.0.0",
    .description = "answers each input a known number of times on two ports (tests)",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 2,
    .process = fanout_process,
};

RH_KERNEL_EXPORT(fanout_desc)
