/*
 * bench_pong.c — the zero-copy answer of the cross-process cases
 * (bench/rh_xproc.c), built for the payloads of bench/kernels/CMakeLists.txt's
 * BENCH_PONG_PAYLOADS with BENCH_PAYLOAD=N, type bench.pN like bench_echo.
 *
 * Each input is answered with a message of the same size whose header —
 * the 4-byte length field and the 8-byte sequence number the client wrote
 * after it — is copied from the input into a reserved slot of the output
 * ring (rh_emit_reserve / rh_emit_commit); the body is not touched.  That
 * is what the iceoryx echo process does with a loaned chunk
 * (bench/base_iceoryx.c), so a round trip of 1 MiB measures the copies
 * ringhost itself makes, not one the kernel chose to make.
 */
#include <string.h>

#include "bench_kernel.h"

#define PONG_HEADER 12u /* bytes_len (4) + the client's sequence number (8) */

static int bench_pong_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        unsigned char *slot = rh_emit_reserve(ctx, 0);
        if (!slot) {
            rh_fail(ctx, in, "bench_pong: host stopping");
            continue;
        }
        memcpy(slot, in->data, PONG_HEADER);
        if (rh_emit_commit(ctx, 0, in, in->env->payload_len) < 0)
            rh_fail(ctx, in, "bench_pong: host stopping");
    }
    return 0;
}

static const rh_kernel_desc bench_pong_desc = {
    RH_KERNEL_ABI,
    .name = BENCH_KERNEL_NAME("bench_pong"),
    .version = "1.0.0",
    .description = "benchmark pong: answers each message with its header, same size",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = bench_pong_process,
};

RH_KERNEL_EXPORT(bench_pong_desc)
