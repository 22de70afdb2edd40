/*
 * cuda_memory.c — the CUDA executor's memory: page-aligned host memory
 * (mmap, so it outlives any CUDA context) for the rings, registered with
 * the device (cuMemHostRegister, DEVICEMAP) at place() and again after a
 * reset; a registry of what is registered, so the allocator's free
 * unregisters before it unmaps and a context reset forgets it all.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "cuda_exec.h"


pthread_mutex_t rh__cuda_reg_lock = PTHREAD_MUTEX_INITIALIZER;
cuda_reg *rh__cuda_regs;
size_t rh__cuda_n_regs;
static size_t cap_regs;
static const rh_cuda *reg_cu;

void *rh__cuda_page_alloc(size_t len)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m; /* zeroed, page aligned */
}

/* Register [p, p + len) with the current context; its device address, or 0. */
CUdeviceptr rh__cuda_reg_add(const rh_cuda *cu, void *p, size_t len)
{
    CUdeviceptr dev = 0;
    pthread_mutex_lock(&rh__cuda_reg_lock);
    for (size_t i = 0; i < rh__cuda_n_regs; i++)
        if (rh__cuda_regs[i].p == p) {
            dev = rh__cuda_regs[i].dev;
            pthread_mutex_unlock(&rh__cuda_reg_lock);
            return dev;
        }
    if (rh__cuda_n_regs == cap_regs) {
        size_t cap = cap_regs ? cap_regs * 2 : 64;
        cuda_reg *g = realloc(rh__cuda_regs, cap * sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&rh__cuda_reg_lock);
            return 0;
        }
        rh__cuda_regs = g;
        cap_regs = cap;
    }
    if (cu->MemHostRegister(p, len, CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_PORTABLE) ==
            CUDA_SUCCESS &&
        cu->MemHostGetDevicePointer(&dev, p, 0) == CUDA_SUCCESS) {
        rh__cuda_regs[rh__cuda_n_regs++] = (cuda_reg){p, len, dev};
        reg_cu = cu;
    } else {
        dev = 0;
    }
    pthread_mutex_unlock(&rh__cuda_reg_lock);
    return dev;
}

void rh__cuda_reg_drop(void *p)
{
    pthread_mutex_lock(&rh__cuda_reg_lock);
    for (size_t i = 0; i < rh__cuda_n_regs; i++)
        if (rh__cuda_regs[i].p == p) {
            if (reg_cu)
                reg_cu->MemHostUnregister(p);
            rh__cuda_regs[i] = rh__cuda_regs[--rh__cuda_n_regs];
            break;
        }
    pthread_mutex_unlock(&rh__cuda_reg_lock);
}

/* The context was reset: its registrations went with it. */
void rh__cuda_reg_forget_all(void)
{
    pthread_mutex_lock(&rh__cuda_reg_lock);
    rh__cuda_n_regs = 0;
    pthread_mutex_unlock(&rh__cuda_reg_lock);
}

static void *ring_alloc(size_t len, void *ctx)
{
    (void)ctx;
    return rh__cuda_page_alloc(len);
}

static void ring_free(void *p, size_t len, void *ctx)
{
    (void)ctx;
    rh__cuda_reg_drop(p);
    munmap(p, len);
}

/* The rings' memory: page-aligned host memory, registered at place(). */
const rh_ring_mem rh__cuda_ring_mem = {"cuda-mapped", ring_alloc, ring_free, NULL, 0};


CUdeviceptr rh__cuda_reg_dev(const void *p)
{
    CUdeviceptr dev = 0;
    pthread_mutex_lock(&rh__cuda_reg_lock);
    for (size_t i = 0; i < rh__cuda_n_regs; i++)
        if (rh__cuda_regs[i].p == p)
            dev = rh__cuda_regs[i].dev;
    pthread_mutex_unlock(&rh__cuda_reg_lock);
    return dev;
}
