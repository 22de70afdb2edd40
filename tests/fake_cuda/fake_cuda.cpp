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
 * Knobs (environment), read when the call that uses them runs:
 *   FAKE_CUDA_DEVICES    devices the driver sees (default 1; 0: "no device")
 *   FAKE_CUDA_WATCHDOG=1 the device reports a kernel execution timeout (a
 *                        display GPU)
 *   FAKE_CUDA_STALL_SEQ=S[,S2...]  a block handed a message whose payload
 *                        starts with the u64 S (echo.message's seq) stops inside
 *                        the kernel's function: no poll, so its heartbeat
 *                        stands still, and no STOP is seen, until the
 *                        context is reset (a device loop that hangs)
 *   FAKE_CUDA_RETURN_SEQ=S[,S2...]  a block handed such a message returns from
 *                        its loop there, unasked, publishing nothing of its
 *                        batch (a loop that ended without being told)
 *   FAKE_CUDA_MISBEHAVE_TIMES=N  how many times the two above happen, per
 *                        seq (default 1; 0: every time, so a retry of the
 *                        message misbehaves again)
 *   FAKE_CUDA_FAIL_LAUNCHES=N  the N launches after the process's first one
 *                        fail (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES); -1: all
 *                        of them (a device that cannot be relaunched)
 * Built with FAKE_CUDA_WITHOUT_STREAM_QUERY (libcuda.so.1 in
 * fake_cuda_old/), it does not export cuStreamQuery: a driver too old for
 * the executor.
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

/* How a block's step ended when it returned -2 (rh_dev_fault). */
enum fake_exit { FAKE_FAULT, FAKE_RETURNED_UNASKED, FAKE_STALL_ENDED };

/* The block thread's own: its kernel function, and why its step ended. */
thread_local int (*block_fn)(rh_dev_msg *);
thread_local fake_exit block_exit;

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

int fn_with_knobs(rh_dev_msg *m);

void *block_main(void *arg)
{
    fake_block *fb = (fake_block *)arg;
    rh_dev_block *b = (rh_dev_block *)calloc(1, sizeof *b);
    rh_dev_open(b, fb->w);
    block_fn = fb->fn;
    for (;;) {
        if (__atomic_load_n(&kill_all, __ATOMIC_ACQUIRE))
            break;
        block_exit = FAKE_FAULT;
        int rc = rh_dev_step_host(b, fn_with_knobs);
        if (rc == -1 || (rc == -2 && block_exit == FAKE_RETURNED_UNASKED)) {
            __atomic_store_n(&fb->w->exited, 1, __ATOMIC_RELEASE);
            break;
        }
        if (rc == -2 && block_exit == FAKE_STALL_ENDED)
            break; /* the reset ended it */
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

int misbehaved[8]; /* __atomic: times each seq a STALL/RETURN knob lists fired */
int launches;      /* __atomic: cuLaunchKernel calls */

/* Whether m is a message the knob (FAKE_CUDA_STALL_SEQ, ..._RETURN_SEQ:
 * "S" or "S1,S2,...", at most 8) names, and it may misbehave once more
 * (FAKE_CUDA_MISBEHAVE_TIMES, counted per seq). */
int knob_fires(const char *knob, const rh_dev_msg *m)
{
    const char *v = getenv(knob);
    uint64_t seq;
    if (!v || !*v || m->lane != 0 || m->len < sizeof seq)
        return 0;
    memcpy(&seq, m->data, sizeof seq);
    int times = env_int("FAKE_CUDA_MISBEHAVE_TIMES", 1);
    for (int i = 0; i < 8 && *v; i++) {
        char *end;
        if (strtoull(v, &end, 10) == seq)
            return __atomic_add_fetch(&misbehaved[i], 1, __ATOMIC_RELAXED) <= times ||
                   times == 0;
        v = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* The kernel's function as the block sees it, with the knobs' misbehaviour
 * in front.  A misbehaving step ends through rh_dev_fault (nothing
 * published), block_exit saying why. */
int fn_with_knobs(rh_dev_msg *m)
{
    if (knob_fires("FAKE_CUDA_STALL_SEQ", m)) {
        while (!__atomic_load_n(&kill_all, __ATOMIC_ACQUIRE)) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        block_exit = FAKE_STALL_ENDED;
        rh_dev_fault(m);
        return -1;
    }
    if (knob_fires("FAKE_CUDA_RETURN_SEQ", m)) {
        block_exit = FAKE_RETURNED_UNASKED;
        rh_dev_fault(m);
        return -1;
    }
    return block_fn(m);
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

#ifndef FAKE_CUDA_WITHOUT_STREAM_QUERY
CUresult CUDAAPI cuStreamQuery(CUstream s)
{
    CUresult rc = sticky_now();
    if (rc != CUDA_SUCCESS)
        return rc;
    fake_stream *fs = (fake_stream *)s;
    return __atomic_load_n(&fs->running, __ATOMIC_ACQUIRE) ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}
#endif

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int, unsigned int,
                                unsigned int, unsigned int, unsigned int, unsigned int,
                                CUstream s, void **params, void **)
{
    CUresult rc = sticky_now();
    if (rc != CUDA_SUCCESS)
        return rc;
    int nth = __atomic_add_fetch(&launches, 1, __ATOMIC_RELAXED);
    int fails = env_int("FAKE_CUDA_FAIL_LAUNCHES", 0);
    if (nth > 1 && (fails < 0 || nth <= 1 + fails))
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
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
         : rc == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES ? "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"
                                          : "CUDA_ERROR_UNKNOWN";
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorString(CUresult rc, const char **s)
{
    *s = rc == CUDA_ERROR_ILLEGAL_ADDRESS ? "an illegal memory access was encountered"
         : rc == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES ? "too many resources requested for launch"
                                          : "an error of the fake CUDA driver";
    return CUDA_SUCCESS;
}

} /* extern "C" */
