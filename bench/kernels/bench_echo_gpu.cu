/*
 * bench_echo_gpu.cu — the device function of bench_echo_gpu: the payload
 * copied into the answer, 8 bytes at a time (a slot's payload is 8-byte
 * aligned), one thread per message.
 */
#include "ringhost/device.cuh"

__host__ __device__ int bench_echo_gpu(rh_dev_msg *m)
{
    void *out = rh_dev_emit(m, 0, m->len);
    if (!out)
        return rh_dev_fail(m, "bench_echo_gpu: the answer does not fit");
    const uint64_t *s = (const uint64_t *)m->data;
    uint64_t *d = (uint64_t *)out;
    for (uint32_t i = 0; i < m->len / 8; i++)
        d[i] = s[i];
    for (uint32_t i = m->len & ~7u; i < m->len; i++)
        ((unsigned char *)out)[i] = ((const unsigned char *)m->data)[i];
    return 0;
}

RH_DEVICE_KERNEL(bench_echo_gpu_loop, bench_echo_gpu)
