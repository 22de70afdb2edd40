/*
 * echo_gpu_device.cu — echo_gpu's device code: each message back
 * unchanged, from a block of 1024 threads on the GPU (one thread per
 * message).  Built by nvcc into the plugin (RinghostCuda.cmake).
 */
#include "echo_gpu.h"
#include "echo_message.h"
#include "ringhost/device.cuh"

/* Wait us microseconds: the GPU's global timer, or the CPU's clock when
 * the loop runs on the CPU (tests). */
__host__ __device__ static void echo_gpu_delay(uint64_t us)
{
#ifdef __CUDA_ARCH__
    uint64_t t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    while (t - t0 < us * 1000);
#else
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
#endif
}

__host__ __device__ int echo_gpu(rh_dev_msg *m)
{
    uint32_t size = 0;
    const echo_gpu_config *c = (const echo_gpu_config *)rh_dev_config(m, &size);
    const echo_message *in = (const echo_message *)m->data;
    if (c && size >= sizeof *c && c->delay_us && m->lane == 0)
        echo_gpu_delay(c->delay_us);
    if (c && size >= sizeof *c && m->len >= sizeof in->seq) {
        if (c->fail_seq && in->seq == c->fail_seq)
            return rh_dev_fail(m, "echo_gpu: failed on purpose (config fail_seq)");
        if (c->trap_seq && in->seq == c->trap_seq) {
            rh_dev_fault(m); /* an illegal address, on purpose */
            return -1;
        }
    }
    void *out = rh_dev_emit(m, 0, m->len);
    if (!out)
        return rh_dev_fail(m, "echo_gpu: the answer does not fit the output type");
    /* 8 bytes at a time where it can: a payload is 8-aligned in its slot */
    const uint64_t *s = (const uint64_t *)m->data;
    uint64_t *d = (uint64_t *)out;
    uint32_t words = m->len / 8;
    for (uint32_t i = 0; i < words; i++)
        d[i] = s[i];
    for (uint32_t i = words * 8; i < m->len; i++)
        ((unsigned char *)out)[i] = ((const unsigned char *)m->data)[i];
    return 0;
}

RH_DEVICE_KERNEL(echo_gpu_loop, echo_gpu)
