/*
 * fake_cuda.cpp — a CPU stand-in for the CUDA driver (libcuda.so.1), so the
 * GPU executor's whole life runs on a machine without a GPU: CI.
 *
 * It implements the driver calls host/backends/cuda uses, with the
 * symbols cuda.h names (its _v2 macros apply here too).  "Device memory"
 * is host memory: registering is a no-op and a device address is the host
 * address.  A module's functions are the loops of the kernels compiled
 * into this library for the host (echo_gpu, vector_add_gpu,
 * bench_echo_gpu); a launch runs one thread per block, each driving
 * ringhost's device loop on the CPU (rh_dev_step_host, ringhost/device.cuh)
 * until the host writes STOP.  A kernel that faults on purpose
 * (rh_dev_fault) makes the context's error sticky, as an illegal address
 * does on a GPU: every later call returns CUDA_ERROR_ILLEGAL_ADDRESS until
 * cuDevicePrimaryCtxReset, which also ends every block still running.
 *
 * Knobs (environment): FAKE_CUDA_DEVICES (default 1; 0: "no device"),
 * FAKE_CUDA_WATCHDOG=1 (the device reports a kernel execution timeout: a
 * display GPU).
 *
 * Used by the tests labelled gpu-fake (tests/unit/tests.cmake), with this
 * folder first in LD_LIBRARY_PATH.  Never installed.
 */
#include <cuda.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vector>

#include "ringhost/device.cuh"

#include "../../bench/kernels/bench_echo_gpu.cu"
#include "../../kernels/echo_gpu/echo_gpu_device.cu"
#include "../../kernels/vector_add_gpu/vector_add_gpu_device.cu"

namespace {

struct fake_fn {
    const char *name;
    int (*fn)(rh_dev_msg *);
};

const fake_fn functions[] = {
    {"echo_gpu_loop", echo_gpu},
    {"vector_add_gpu_loop", vector_add_gpu},
    {"bench_echo_gpu_loop", bench_echo_gpu},
};

struct fake_block {
    pthread_t thread;
    rh_dev_worker *w;
    int (*fn)(rh_dev_msg *);
    struct fake_stream *stream;
};

struct fake_stream {
    std::vector<fake_block *> blocks;
    int running; /* blocks still in their loop (__atomic) */
};

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
std::vector<fake_stream *> streams;
CUresult sticky = CUDA_SUCCESS; /* under lock */
int kill_all;                   /* __atomic: a reset ends every block */
int ctx_dummy, mod_dummy;

CUresult sticky_now()
{
    pthread_mutex_lock(&lock);
    CUresult rc = sticky;
    pthread_mutex_unlock(&lock);
    return rc;
}

void *block_main(void *arg)
{
    fake_block *fb = (fake_block *)arg;
    rh_dev_block *b = (rh_dev_block *)calloc(1, sizeof *b);
    rh_dev_open(b, fb->w);
    for (;;) {
        if (__atomic_load_n(&kill_all, __ATOMIC_ACQUIRE))
            break;
        int rc = rh_dev_step_host(b, fb->fn);
        if (rc == -1) {
            __atomic_store_n(&fb->w->exited, 1, __ATOMIC_RELEASE);
            break;
        }
        if (rc == -2) { /* the kernel faulted: the context dies */
            pthread_mutex_lock(&lock);
            sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
            pthread_mutex_unlock(&lock);
            __atomic_store_n(&kill_all, 1, __ATOMIC_RELEASE);
            break;
        }
        if (rc == 0) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    free(b);
    __atomic_fetch_sub(&fb->stream->running, 1, __ATOMIC_ACQ_REL);
    return NULL;
}

/* Join every block of s (they were told to end, or have). */
void join_blocks(fake_stream *s)
{
    for (fake_block *fb : s->blocks) {
        pthread_join(fb->thread, NULL);
        delete fb;
    }
    s->blocks.clear();
}

int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

} // namespace

extern "C" {

CUresult CUDAAPI cuInit(unsigned int)
{
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int *v)
{
    *v = 13000;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int *n)
{
    *n = env_int("FAKE_CUDA_DEVICES", 1);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *d, int ordinal)
{
    if (ordinal >= env_int("FAKE_CUDA_DEVICES", 1))
        return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice)
{
    snprintf(name, (size_t)len, "ringhost fake CUDA device (CPU threads)");
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetPCIBusId(char *bus, int len, CUdevice)
{
    snprintf(bus, (size_t)len, "0000:00:00.0");
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice)
{
    *v = a == CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT    ? env_int("FAKE_CUDA_WATCHDOG", 0)
         : a == CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY ? 1
                                                        : 0;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice)
{
    *c = (CUcontext)&ctx_dummy;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice)
{
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxReset(CUdevice)
{
    __atomic_store_n(&kill_all, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&lock);
    std::vector<fake_stream *> all = streams;
    pthread_mutex_unlock(&lock);
    /* A block waiting inside its publish (for the host to take its
     * failures) reads only the flow: a reset ends it as a STOP would. */
    for (fake_stream *s : all)
        for (fake_block *fb : s->blocks)
            __atomic_store_n(&fb->w->flow, RH_DEV_FLOW_STOP, __ATOMIC_RELEASE);
    for (fake_stream *s : all)
        join_blocks(s);
    pthread_mutex_lock(&lock);
    for (fake_stream *s : streams)
        delete s;
    streams.clear();
    sticky = CUDA_SUCCESS;
    pthread_mutex_unlock(&lock);
    __atomic_store_n(&kill_all, 0, __ATOMIC_RELEASE);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext)
{
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void)
{
    pthread_mutex_lock(&lock);
    std::vector<fake_stream *> all = streams;
    pthread_mutex_unlock(&lock);
    for (fake_stream *s : all)
        join_blocks(s);
    return sticky_now();
}

CUresult CUDAAPI cuModuleLoadData(CUmodule *m, const void *image)
{
    if (!image)
        return CUDA_ERROR_INVALID_IMAGE;
    *m = (CUmodule)&mod_dummy;
    return sticky_now();
}

CUresult CUDAAPI cuModuleUnload(CUmodule)
{
    return sticky_now();
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction *f, CUmodule, const char *name)
{
    for (const fake_fn &ff : functions)
        if (strcmp(ff.name, name) == 0) {
            *f = (CUfunction)&ff;
            return CUDA_SUCCESS;
        }
    return CUDA_ERROR_NOT_FOUND;
}

CUresult CUDAAPI cuStreamCreate(CUstream *s, unsigned int)
{
    fake_stream *fs = new fake_stream();
    fs->running = 0;
    pthread_mutex_lock(&lock);
    streams.push_back(fs);
    pthread_mutex_unlock(&lock);
    *s = (CUstream)fs;
    return sticky_now();
}

CUresult CUDAAPI cuStreamDestroy(CUstream s)
{
    fake_stream *fs = (fake_stream *)s;
    join_blocks(fs);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < streams.size(); i++)
        if (streams[i] == fs) {
            streams.erase(streams.begin() + (long)i);
            delete fs;
            break;
        }
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamQuery(CUstream s)
{
    CUresult rc = sticky_now();
    if (rc != CUDA_SUCCESS)
        return rc;
    fake_stream *fs = (fake_stream *)s;
    return __atomic_load_n(&fs->running, __ATOMIC_ACQUIRE) ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int, unsigned int,
                                unsigned int, unsigned int, unsigned int, unsigned int,
                                CUstream s, void **params, void **)
{
    CUresult rc = sticky_now();
    if (rc != CUDA_SUCCESS)
        return rc;
    fake_stream *fs = (fake_stream *)s;
    join_blocks(fs); /* a stream runs one launch after another */
    rh_dev_worker *workers = (rh_dev_worker *)(uintptr_t) * (CUdeviceptr *)params[0];
    __atomic_store_n(&fs->running, (int)gx, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < gx; i++) {
        fake_block *fb = new fake_block();
        fb->w = &workers[i];
        fb->fn = ((const fake_fn *)f)->fn;
        fb->stream = fs;
        fs->blocks.push_back(fb);
        pthread_create(&fb->thread, NULL, block_main, fb);
    }
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostRegister(void *, size_t, unsigned int)
{
    return sticky_now();
}

CUresult CUDAAPI cuMemHostUnregister(void *)
{
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostGetDevicePointer(CUdeviceptr *d, void *p, unsigned int)
{
    *d = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorName(CUresult rc, const char **s)
{
    *s = rc == CUDA_ERROR_ILLEGAL_ADDRESS ? "CUDA_ERROR_ILLEGAL_ADDRESS"
         : rc == CUDA_ERROR_NOT_READY     ? "CUDA_ERROR_NOT_READY"
         : rc == CUDA_ERROR_NOT_FOUND     ? "CUDA_ERROR_NOT_FOUND"
                                          : "CUDA_ERROR_UNKNOWN";
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorString(CUresult rc, const char **s)
{
    *s = rc == CUDA_ERROR_ILLEGAL_ADDRESS ? "an illegal memory access was encountered"
                                          : "an error of the fake CUDA driver";
    return CUDA_SUCCESS;
}

} /* extern "C" */
