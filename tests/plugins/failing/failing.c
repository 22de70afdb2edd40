/*
 * failing — a test kernel that fails messages when asked to, for the
 * dead-letter tests (tests/unit/test_dlq.c, tests/integration/test_cli_dlq.c).
 *
 * Input "in", output "out", both echo.message {seq, text, data}.  By the
 * message's text:
 *   "fail:REASON"  rh_fail(msg, "REASON"), nothing emitted
 *   "fail-twice"   rh_fail twice for the same message (the host counts it once)
 *   "fail-null"    rh_fail(NULL, ...): a failure of no message; echoed
 *   "fail-batch"   process() returns -1 for the whole batch it is in: nothing
 *                  is emitted for that batch, and its "fail:" messages are
 *                  rh_fail'ed first (the host must not count them twice)
 *   anything else  echoed back, like the echo kernel
 * Built into ${CMAKE_BINARY_DIR}/test_plugins, never into plugins/.
 */
#include <string.h>

#include "echo_message.h"
#include "ringhost/kernel.h"

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &echo_message_type}};

static const char *text_of(const rh_msg *in)
{
    return ((const echo_message *)in->data)->text;
}

static int failing_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    int batch_fails = 0;
    for (uint32_t i = 0; i < batch->count; i++)
        batch_fails |= strcmp(text_of(&batch->msgs[i]), "fail-batch") == 0;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        const char *text = text_of(in);
        if (strncmp(text, "fail:", 5) == 0) {
            rh_fail(ctx, in, text + 5);
        } else if (batch_fails) {
            continue;
        } else if (strcmp(text, "fail-twice") == 0) {
            rh_fail(ctx, in, "first");
            rh_fail(ctx, in, "second");
        } else {
            if (strcmp(text, "fail-null") == 0)
                rh_fail(ctx, NULL, "failing: a failure of no message");
            if (rh_emit(ctx, 0, in, in->data, in->env->payload_len) < 0)
                rh_fail(ctx, in, "failing: the copy could not be emitted (host stopping)");
        }
    }
    return batch_fails ? -1 : 0;
}

static const rh_kernel_desc failing_desc = {
    RH_KERNEL_ABI,
    .name = "failing",
    .version = "1.0.0",
    .description = "test kernel: fails the messages whose text asks for it",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = failing_process,
};

RH_KERNEL_EXPORT(failing_desc)
