/*
 * ringhost/device.h — device kernels in the plugin ABI: what a kernel .so
 * that carries GPU code declares (rh_device_kernel, in its rh_kernel_desc),
 * and the block the host and the device share for each worker
 * (rh_dev_worker).  The device side of the API, and the loop ringhost runs
 * on the GPU, are in ringhost/device.cuh.
 *
 * A device kernel is still one .so exporting rh_kernel_entry: its
 * descriptor has `device` set and neither process nor run.  The host part
 * (plain C, built by the C compiler) declares the ports and may have
 * init()/fini(), which run on the host: init() checks the manifest's config
 * and returns a state whose first config_size bytes are copied to the
 * device (rh_dev_config); fini() frees it.  The device part is a fatbin
 * that nvcc built from the kernel's .cu file (cmake/RinghostCuda.cmake
 * embeds it), whose persistent loop RH_DEVICE_KERNEL defines.
 *
 * The executor ("isolation": "cuda", host/backends/cuda/) loads the image
 * with the CUDA driver (the host never links CUDA), puts every ring of the
 * kernel's workers in host memory registered with the device, and launches
 * the loop once at start: one block per worker.  Each worker has an input
 * ring per input port and an output ring per output port, with the layout
 * of ringhost/ring_abi.h; the host's bridges fill and drain them exactly as
 * for a worker on a host thread.
 *
 * What a device worker writes into its rings:
 *   output port p: one slot per input of a batch, in the order of the
 *     inputs: the answer (its envelope made by the loop: correlation, the
 *     id of ringhost/answer_id.h, priority, the redelivered mark), or a
 *     void slot (payload_len RH_RING_VOID_LEN) when the kernel emitted
 *     nothing on p for that input.  The host skips void slots.  So a
 *     device kernel emits at most one answer per input per port.
 *   the fail ring: a copy of each input the kernel failed (its envelope,
 *     port = its input port, its payload), and the reason at
 *     fail_reason_offset bytes into the slot's payload.  The loop releases
 *     the batch's input slots only once the host has taken its failures,
 *     so a host killed in between finds the input again (persist queues).
 *
 * Plain C11, C++ and CUDA C++.
 */
#ifndef RINGHOST_DEVICE_H
#define RINGHOST_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/kernel.h"
#include "ringhost/ring_abi.h"

/* rh_device_kernel.platform: the only one so far. */
#define RH_DEVICE_CUDA "cuda"

/* The most input or output ports a device kernel has (the loader's limit). */
#define RH_DEV_MAX_PORTS 16u

/* payload_len of a slot that carries no message: the consumer releases it
 * without reading it.  A device producer fills the position of every input
 * of its batch on every output port, answer or not. */
#define RH_RING_VOID_LEN 0xffffffffu

/* Bytes of a failure's reason in a fail-ring slot (NUL-terminated). */
#define RH_DEV_FAIL_REASON 128u

typedef struct rh_device_kernel {
    uint32_t struct_size;  /* sizeof(rh_device_kernel) */
    uint32_t lanes;        /* threads that work on one message together: 1, or 32 (a warp) */
    const char *platform;  /* RH_DEVICE_CUDA */
    /* The device code: a fatbin (or cubin, or PTX text) the driver loads
     * (cuModuleLoadData), and the persistent loop's name in it, the entry
     * RH_DEVICE_KERNEL defined. */
    const unsigned char *(*image)(size_t *size);
    const char *function;
    /* Threads of the block that runs one worker: a batch is at most
     * block_threads / lanes messages.  A multiple of 32, at most 1024. */
    uint32_t block_threads;
    /* Bytes of init()'s state the device reads as its config
     * (rh_dev_config); 0: none. */
    uint32_t config_size;
} rh_device_kernel;

/* Fill the ABI field of an rh_device_kernel initialiser. */
#define RH_DEVICE_KERNEL_ABI .struct_size = sizeof(rh_device_kernel)

/* rh_dev_worker.flow: what the loop does (the host writes it). */
#define RH_DEV_FLOW_RUN 0u   /* take and process */
#define RH_DEV_FLOW_PAUSE 1u /* take nothing, keep polling flow */
#define RH_DEV_FLOW_STOP 2u  /* return */

#define RH_DEV_WORKER_VERSION 1u

/*
 * One worker's block, in host memory the device maps; the kernel's entry
 * gets the array of them (one per worker, block b runs workers[b]).  One
 * writer per word: the host writes the first three lines before the launch
 * (read-only after) and `flow`/`flow_gen`; the device (thread 0 of the
 * block) writes the last line.  Addresses are device addresses.
 */
typedef struct rh_dev_worker {
    /* line 0: set by the host before the launch */
    RH_RING_ALIGN(64) uint32_t version; /* RH_DEV_WORKER_VERSION */
    uint32_t index;            /* the worker's index in its kernel */
    uint32_t n_inputs, n_outputs;
    uint32_t lanes, block_threads;
    uint32_t config_size;      /* bytes at config */
    uint32_t fail_reason_offset; /* into a fail slot's payload: the reason */
    uint64_t config;           /* device address of the config bytes, 0 if none */
    uint64_t fail;             /* device address of the fail ring's rh_ring_ctl */
    /* Inputs at the tail of input ring retry_port that a launch before
     * this one died with (marked RH_ENV_RETRIED): the loop takes them one
     * at a time, so a message that kills the device twice is known. */
    uint32_t retry_n, retry_port;
    uint64_t host_reserved_;
    /* lines 1-4: device addresses of the rings' rh_ring_ctl */
    uint64_t in[RH_DEV_MAX_PORTS];
    uint64_t out[RH_DEV_MAX_PORTS];
    /* line 5: the host's control words */
    RH_RING_ALIGN(64) uint32_t flow; /* RH_DEV_FLOW_* (release by the host) */
    uint32_t flow_gen;               /* bumped after each flow store */
    uint64_t control_reserved_[7];
    /* line 6: written by the device only */
    RH_RING_ALIGN(64) uint32_t flow_seen; /* the flow_gen it acted on, between batches */
    uint32_t batch_n;          /* inputs of the batch it holds now, 0 between batches */
    uint32_t batch_port;       /* their input port */
    uint32_t exited;           /* 1 once the loop returned */
    uint64_t heartbeat;        /* poll rounds, full or empty */
    uint64_t processed;        /* inputs handed to the kernel's function */
    uint64_t failed;           /* of them, failed (sent to the fail ring) */
    uint64_t emitted;          /* answers written (void slots not counted) */
    uint64_t batches;
} rh_dev_worker;

RH_RING_STATIC_ASSERT(sizeof(rh_dev_worker) == 448, "rh_dev_worker is 7 lines");
RH_RING_STATIC_ASSERT(offsetof(rh_dev_worker, in) == 64, "rh_dev_worker.in at line 1");
RH_RING_STATIC_ASSERT(offsetof(rh_dev_worker, flow) == 320, "rh_dev_worker.flow at line 5");
RH_RING_STATIC_ASSERT(offsetof(rh_dev_worker, flow_seen) == 384,
                      "rh_dev_worker.flow_seen at line 6");

#endif /* RINGHOST_DEVICE_H */
