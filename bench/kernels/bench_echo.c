/*
 * bench_echo.c — the echo kernel of the benchmark, built once per payload
 * size (bench/kernels/CMakeLists.txt compiles it with BENCH_PAYLOAD=N).
 *
 * Why not kernels/echo: its message type is a fixed 336 bytes, and the
 * benchmark sweeps payloads from 16 B to 64 KiB.  A kernel's ports name
 * their types at build time, so each size is its own small plugin
 * (bench_echo_pN.so) with its own generated type bench.pN, exactly as a
 * user's kernel would be built.  The body is the shipped echo's: each
 * message is copied from its input ring slot into an output ring slot.
 */
#include "bench_kernel.h"

static int bench_echo_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        if (rh_emit(ctx, 0, in, in->data, in->env->payload_len) < 0)
            rh_fail(ctx, in, "bench_echo: host stopping");
    }
    return 0;
}

static const rh_kernel_desc bench_echo_desc = {
    RH_KERNEL_ABI,
    .name = BENCH_KERNEL_NAME("bench_echo"),
    .version = "1.0.0",
    .description = "benchmark echo: emits each message back unchanged",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = bench_echo_process,
};

RH_KERNEL_EXPORT(bench_echo_desc)
