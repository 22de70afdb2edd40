/*
 * cuda_exec.h — what the CUDA executor's files share (private to
 * host/backends/cuda/): its state of a kernel, its registered memory
 * (cuda_memory.c) and what it does with a worker's fail ring, counters and
 * a batch the device died in (cuda_failures.c).  exec_cuda.c is the ops
 * table and the lifecycle.
 */
#ifndef RH_CUDA_EXEC_H
#define RH_CUDA_EXEC_H

#include <pthread.h>
#include <stddef.h>

#include "cuda_driver.h"
#include "exec/exec.h"
#include "ringhost/device.h"

/* ---- cuda_memory.c ---- */

/* One region registered with the device. */
typedef struct cuda_reg {
    void *p;
    size_t len;
    CUdeviceptr dev;
} cuda_reg;

/* The registry (its lock guards the array and the count). */
extern pthread_mutex_t rh__cuda_reg_lock;
extern cuda_reg *rh__cuda_regs;
extern size_t rh__cuda_n_regs;

void *rh__cuda_page_alloc(size_t len);
/* Register [p, p + len) with the current context: its device address, or 0. */
CUdeviceptr rh__cuda_reg_add(const rh_cuda *cu, void *p, size_t len);
/* Unregister p if registered. */
void rh__cuda_reg_drop(void *p);
/* The context was reset: its registrations went with it. */
void rh__cuda_reg_forget_all(void);
/* The device address of registered p, or 0. */
CUdeviceptr rh__cuda_reg_dev(const void *p);
/* The rings' memory: page-aligned host memory, registered at place(). */
extern const rh_ring_mem rh__cuda_ring_mem;

/* ---- the executor's state of a kernel (k->exec_state) ---- */

/* A worker's counters from launches that ended (a fault, a stop) and from
 * the host (poison): a launch counts from 0 in its rh_dev_worker. */
typedef struct cuda_counts {
    uint64_t processed, failed, emitted, batches;
} cuda_counts;

/* Who writes what: place() and release() alone; after place(), every
 * field but the blocks' host words is read and written under `lock`, by
 * start(), the supervisor (watchdog thread), sync_flow() and stop()
 * (control thread), so a fault, a relaunch, a flow change and a stop
 * never interleave.  A sync waits for the device without it. */
typedef struct cuda_kernel {
    pthread_mutex_t lock;
    const rh_cuda *cu;
    const rh_device_kernel *dev;
    CUdevice device;
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn;
    CUstream stream;
    int launched;              /* the loop was launched and not seen ended */
    int stopping;              /* stop() wrote STOP: an ended loop is no fault */
    int faulted;               /* the context was reset; relaunch when the backoff passed */
    rh_dev_worker *blocks;     /* n_workers, registered */
    size_t blocks_len;
    unsigned char *config;     /* n_workers x config_size, registered */
    size_t config_len;
    rh_ring **fail;            /* per worker */
    uint32_t fail_reason_offset;
    int flow;                  /* the RH_DEV_FLOW_* last written */
    uint64_t *hb_seen, *hb_at; /* per worker: heartbeat seen and when it last moved */
    cuda_counts *base;         /* per worker: what earlier launches and the host counted */
    char name[128], bus[32];
} cuda_kernel;


static inline cuda_kernel *rh__cuda_of(const rh_kinst *k)
{
    return k->exec_state;
}

/* ---- cuda_failures.c ---- */

/* Worker j's failures to the dead-letter queue, then released. */
void rh__cuda_drain_failures(rh_kinst *k, cuda_kernel *ck, uint32_t j);
/* The device's counters, plus the base, into the workers'. */
void rh__cuda_mirror_counters(rh_kinst *k, cuda_kernel *ck);
/* Before a launch: fold each block's counters into the base and zero
 * them (the device is not running: the host may write its words). */
void rh__cuda_fold_counters(rh_kinst *k, cuda_kernel *ck);
/* After a device fault: each worker's batch retried one at a time, or
 * poisoned; restarts scheduled. */
void rh__cuda_after_fault(rh_kinst *k, cuda_kernel *ck, const char *reason);

#endif /* RH_CUDA_EXEC_H */
