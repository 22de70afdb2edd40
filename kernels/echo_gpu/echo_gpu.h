/*
 * echo_gpu.h — what the host part and the device part of echo_gpu share:
 * its config, as the device reads it (rh_dev_config).
 */
#ifndef ECHO_GPU_H
#define ECHO_GPU_H

#include <stdint.h>

typedef struct echo_gpu_config {
    /* For tests and demos of the failure paths, 0 = off: a message whose
     * seq equals fail_seq is failed (dead-lettered with a reason); one
     * whose seq equals trap_seq makes the device write to an illegal
     * address (a sticky CUDA error: the host resets the device and
     * restarts the kernel). */
    uint64_t fail_seq;
    uint64_t trap_seq;
    /* Each message takes at least this long (a slow kernel, for tests
     * that need one holding messages: a SIGKILL mid-batch), 0 = off. */
    uint64_t delay_us;
} echo_gpu_config;

#endif
