/*
 * bench_echo_gpu.c — the benchmark's echo on the GPU, built once per
 * payload size like bench_echo.c: the host part (ports of bench.pN, the
 * device descriptor); bench_echo_gpu.cu is the device function.  The
 * benchmark runs it with "isolation": "cuda" (rh_pipeline.c).
 */
#include "bench_kernel.h"
#include "ringhost/device.h"

const unsigned char *bench_echo_gpu_fatbin_image(size_t *size);

static const rh_device_kernel bench_echo_gpu_device = {
    RH_DEVICE_KERNEL_ABI,
    .lanes = 1,
    .platform = RH_DEVICE_CUDA,
    .image = bench_echo_gpu_fatbin_image,
    .function = "bench_echo_gpu_loop",
    .block_threads = 1024,
};

static const rh_kernel_desc bench_echo_gpu_desc = {
    RH_KERNEL_ABI,
    .name = BENCH_KERNEL_NAME("bench_echo_gpu"),
    .version = "1.0.0",
    .description = "benchmark echo on the GPU: emits each message back unchanged",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .device = &bench_echo_gpu_device,
};

RH_KERNEL_EXPORT(bench_echo_gpu_desc)
