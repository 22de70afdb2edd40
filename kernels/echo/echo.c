/*
 * echo — sends every message back unchanged.
 *
 * Input "in", output "out", both echo.message {seq, text, data}.  Each output
 * is a byte-for-byte copy of its input's payload with the input as its
 * correlation: the simplest end-to-end check of a wiring.
 */
#include "echo_message.h"
#include "ringhost/kernel.h"

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &echo_message_type}};

static int echo_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        if (rh_emit(ctx, 0, in, in->data, in->env->payload_len) < 0)
            rh_fail(ctx, in, "echo: the copy could not be emitted (host stopping)");
    }
    return 0;
}

static const rh_kernel_desc echo_desc = {
    RH_KERNEL_ABI,
    .name = "echo",
    .version = "1.0.0",
    .description = "emits each message back unchanged",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = echo_process,
    .config_schema = "{}", /* no config keys */
};

RH_KERNEL_EXPORT(echo_desc)
