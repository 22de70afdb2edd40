/*
 * echo_loop — echo as a persistent ring kernel: it owns its loop.
 *
 * Instead of process(), it provides run(): it polls its input with rh_poll()
 * (which waits on the ring's doorbell, so an idle kernel sleeps), answers
 * each message, and returns once rh_poll() says the host is stopping.  The
 * host gives such a kernel a thread of its own.  Same ports and type as echo.
 */
#include "echo_message.h"
#include "ringhost/kernel.h"

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &echo_message_type}};

static int echo_loop_run(rh_ctx *ctx, void *state)
{
    (void)state;
    for (;;) {
        rh_batch batch;
        /* 100 ms: how long one wait may last before we look again */
        int n = rh_poll(ctx, &batch, 0, 100);
        if (n == RH_ESTOPPED)
            return 0;
        if (n < 0)
            return n;
        for (uint32_t i = 0; i < batch.count; i++) {
            const rh_msg *in = &batch.msgs[i];
            if (rh_emit(ctx, 0, in, in->data, in->env->payload_len) < 0)
                rh_fail(ctx, in, "echo_loop: the copy could not be emitted (host stopping)");
        }
    }
}

static const rh_kernel_desc echo_loop_desc = {
    RH_KERNEL_ABI,
    .name = "echo_loop",
    .version = "1.0.0",
    .description = "echo as a persistent kernel that owns its loop (run + rh_poll)",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .run = echo_loop_run,
    .config_schema = "{}", /* no config keys */
};

RH_KERNEL_EXPORT(echo_loop_desc)
