/*
 * exec_cuda.c — the CUDA executor, "isolation": "cuda": a kernel whose
 * workers are blocks of a persistent kernel on the GPU (device 0).
 *
 * Memory: every ring of the kernel's workers is host memory (mmap, so it
 * outlives any CUDA context) registered with the device
 * (cuMemHostRegister, DEVICEMAP): the host's bridges fill and drain them as
 * they do a thread worker's, and the device reads and writes them over the
 * bus (ringhost/device.cuh says the order).  Beside them, also registered:
 * one rh_dev_worker block per worker (the flow the device follows, its
 * heartbeat and counters), each worker's fail ring, and its config bytes.
 * Registration lives in the context; the memory does not, so after a
 * device fault the context is reset and the same memory registered again.
 *
 * Lifecycle: place() opens the driver (refusing, with the reason, a host
 * without one, without a device, WSL2 or a display GPU with a watchdog),
 * loads the module eagerly, makes the stream and registers the memory;
 * start() runs init() on the host for each worker (the config the device
 * reads is its state) and launches the loop once: one block per worker.
 * The flow reaches the device through each block's flow word (sync waits
 * until every block acknowledged it between batches); stop() writes STOP
 * and waits for the loop to return, within the deadline, else resets the
 * context.
 *
 * Supervision (the watchdog thread, every 5 ms): mirror the flow, take the
 * fail rings' messages to the dead-letter queue (the device releases a
 * failed input only after that), copy the device's counters into the
 * workers', and watch the stream.  A sticky CUDA error (illegal address,
 * trap), a loop that returned unasked, or a heartbeat that stopped while
 * work waits (watchdog_ms) is a device fault: logged with the CUDA error,
 * the batch each block held marked RH_ENV_RETRIED (retried one at a time
 * by the next launch; one that faults again is dead-lettered as poison
 * with the CUDA error as its reason), the context reset, and the workers
 * relaunched after the restart policy's backoff (engine/restart.c).  The
 * context is the process's primary context of device 0: a fault restarts
 * every CUDA kernel of the host.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "cuda_exec.h"
#include "plugin/plugin_load.h"

#define CUDA_ORDINAL 0
#define FAIL_RING_MIN 64u

static rh_worker *workers_alloc(uint32_t n)
{
    return calloc(n ? n : 1, sizeof(rh_worker));
}

static void workers_free(rh_worker *w, uint32_t n)
{
    (void)n;
    free(w);
}

static const char *cuerr(const cuda_kernel *ck, CUresult rc, char *buf, size_t len)
{
    return rh__cuda_strerror(ck->cu, rc, buf, len);
}

/* The calling thread works in the kernel's context (each thread has its own current one). */
static void use_ctx(const cuda_kernel *ck)
{
    if (ck->ctx)
        ck->cu->CtxSetCurrent(ck->ctx);
}

/* Register every ring, block, fail ring and config area; fill the blocks'
 * addresses.  0, or -1 (a region the driver refused). */
static int register_all(rh_kinst *k, cuda_kernel *ck)
{
    const rh_cuda *cu = ck->cu;
    CUdeviceptr cfg = ck->config ? rh__cuda_reg_add(cu, ck->config, ck->config_len) : 0;
    if (ck->config && !cfg)
        return -1;
    if (!rh__cuda_reg_add(cu, ck->blocks, ck->blocks_len))
        return -1;
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        rh_dev_worker *b = &ck->blocks[j];
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            if (!(b->in[p] = rh__cuda_reg_add(cu, w->in[p], w->in[p]->len)))
                return -1;
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            if (!(b->out[p] = rh__cuda_reg_add(cu, w->out[p], w->out[p]->len)))
                return -1;
        if (!(b->fail = rh__cuda_reg_add(cu, ck->fail[j], ck->fail[j]->len)))
            return -1;
        b->config = cfg ? cfg + (CUdeviceptr)j * ck->dev->config_size : 0;
    }
    return 0;
}

/* Context, module, function, stream and registrations: what a launch
 * needs.  0, or an error naming the kernel. */
static int open_device(rh_runtime *rt, rh_kinst *k, cuda_kernel *ck, rh_error *err)
{
    const rh_cuda *cu = ck->cu;
    char e[200];
    CUresult rc;
    const char *what = "cuDevicePrimaryCtxRetain";
    if ((rc = cu->DevicePrimaryCtxRetain(&ck->ctx, ck->device)) != CUDA_SUCCESS)
        goto fail;
    use_ctx(ck);
    size_t size = 0;
    const unsigned char *image = ck->dev->image(&size);
    what = "cuModuleLoadData (the kernel's device image)";
    if (!image || !size || (rc = cu->ModuleLoadData(&ck->mod, image)) != CUDA_SUCCESS)
        goto fail;
    what = "cuModuleGetFunction";
    if ((rc = cu->ModuleGetFunction(&ck->fn, ck->mod, ck->dev->function)) != CUDA_SUCCESS)
        goto fail;
    what = "cuStreamCreate";
    if ((rc = cu->StreamCreate(&ck->stream, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS)
        goto fail;
    if (register_all(k, ck) != 0)
        return rh_error_set(err, RH_EPLACE,
                            "%s: kernels[%u] (%s): cannot map its rings into %s "
                            "(cuMemHostRegister refused)",
                            rt->m->path, k->index, k->decl->name, ck->name);
    return 0;
fail:
    return rh_error_set(err, RH_EPLACE, "%s: kernels[%u] (%s): %s on %s failed: %s",
                        rt->m->path, k->index, k->decl->name, what, ck->name,
                        rc == CUDA_SUCCESS ? "no device image" : cuerr(ck, rc, e, sizeof e));
}

/* Undo open_device.  reset: the context is dead (a sticky error) or a
 * loop would not stop: reset it, which ends every kernel in it. */
static void close_device(cuda_kernel *ck, int reset)
{
    const rh_cuda *cu = ck->cu;
    if (!ck->ctx)
        return;
    use_ctx(ck);
    if (reset) {
        cu->DevicePrimaryCtxReset(ck->device);
        rh__cuda_reg_forget_all();
    } else {
        cu->CtxSynchronize();
        /* the allocator's free unregisters each ring; blocks and config here */
        rh__cuda_reg_drop(ck->blocks);
        if (ck->config)
            rh__cuda_reg_drop(ck->config);
        if (ck->stream)
            cu->StreamDestroy(ck->stream);
        if (ck->mod)
            cu->ModuleUnload(ck->mod);
    }
    cu->DevicePrimaryCtxRelease(ck->device);
    ck->ctx = NULL;
    ck->mod = NULL;
    ck->fn = NULL;
    ck->stream = NULL;
    ck->launched = 0;
}

static void release(rh_kinst *k)
{
    cuda_kernel *ck = rh__cuda_of(k);
    if (!ck)
        return;
    close_device(ck, 0);
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        if (w->init_rc == 0 && k->desc->fini && !atomic_load(&w->finished)) {
            k->desc->fini(&w->ctx, w->state);
            atomic_store(&w->finished, 1);
        }
        if (ck->fail && ck->fail[j])
            rh__ring_destroy(ck->fail[j]);
    }
    if (ck->blocks)
        munmap(ck->blocks, ck->blocks_len);
    if (ck->config)
        munmap(ck->config, ck->config_len);
    free(ck->fail);
    free(ck->hb_seen);
    free(ck->hb_at);
    free(ck->base);
    pthread_mutex_destroy(&ck->lock);
    free(ck);
    k->exec_state = NULL;
}

static size_t page_round(size_t n)
{
    return (n + 4095) & ~(size_t)4095;
}

static int place(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    const rh_device_kernel *dev = rh__plugin_device(k->desc);
    char why[256] = "", name[128], bus[32];
    const rh_cuda *cu = rh__cuda_open(why, sizeof why);
    if (!cu)
        return rh_error_set(err, RH_EPLACE,
                            "%s: kernels[%u] (%s): cannot run on the GPU (\"isolation\": "
                            "\"cuda\"): %s",
                            rt->m->path, k->index, k->decl->name, why);
    const char *no = rh__cuda_refusal(cu, CUDA_ORDINAL, name, sizeof name, bus, sizeof bus);
    if (no)
        return rh_error_set(err, RH_EPLACE,
                            "%s: kernels[%u] (%s): cannot run on %s (%s): %s", rt->m->path,
                            k->index, k->decl->name, name, bus, no);
    cuda_kernel *ck = calloc(1, sizeof *ck);
    if (!ck)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    pthread_mutex_init(&ck->lock, NULL);
    k->exec_state = ck;
    ck->cu = cu;
    ck->dev = dev;
    snprintf(ck->name, sizeof ck->name, "%s", name);
    snprintf(ck->bus, sizeof ck->bus, "%s", bus);
    cu->DeviceGet(&ck->device, CUDA_ORDINAL);
    uint32_t n = k->n_workers;
    ck->fail = calloc(n, sizeof *ck->fail);
    ck->hb_seen = calloc(n, sizeof *ck->hb_seen);
    ck->hb_at = calloc(n, sizeof *ck->hb_at);
    ck->base = calloc(n ? n : 1, sizeof *ck->base);
    ck->blocks_len = page_round((size_t)n * sizeof(rh_dev_worker));
    ck->blocks = rh__cuda_page_alloc(ck->blocks_len);
    if (dev->config_size) {
        ck->config_len = page_round((size_t)n * dev->config_size);
        ck->config = rh__cuda_page_alloc(ck->config_len);
    }
    if (!ck->fail || !ck->hb_seen || !ck->hb_at || !ck->base || !ck->blocks ||
        (dev->config_size && !ck->config))
        return rh_error_set(err, RH_ENOMEM, "kernel %s: out of memory", k->decl->name);
    /* A fail slot holds the biggest input and the reason after it. */
    uint32_t in_max = 0;
    for (uint32_t p = 0; p < k->desc->n_inputs; p++)
        if (rh_queue_payload_size(k->in_q[p]) > in_max)
            in_max = rh_queue_payload_size(k->in_q[p]);
    ck->fail_reason_offset = (in_max + 7) & ~7u;
    uint32_t batch = dev->block_threads / dev->lanes, cap = FAIL_RING_MIN;
    while (cap < batch)
        cap *= 2;
    for (uint32_t j = 0; j < n; j++) {
        ck->fail[j] = rh__ring_create(&rh__cuda_ring_mem, cap,
                                      ck->fail_reason_offset + RH_DEV_FAIL_REASON);
        if (!ck->fail[j])
            return rh_error_set(err, RH_ENOMEM, "kernel %s: cannot make its fail ring",
                                k->decl->name);
        rh_dev_worker *b = &ck->blocks[j];
        b->version = RH_DEV_WORKER_VERSION;
        b->index = j;
        b->n_inputs = k->desc->n_inputs;
        b->n_outputs = k->desc->n_outputs;
        b->lanes = dev->lanes;
        b->block_threads = dev->block_threads;
        b->config_size = dev->config_size;
        b->fail_reason_offset = ck->fail_reason_offset;
        b->flow = RH_DEV_FLOW_PAUSE;
    }
    ck->flow = RH_DEV_FLOW_PAUSE;
    return open_device(rt, k, ck, err);
}

static int plan(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    (void)rt, (void)k, (void)err;
    return 0; /* no thread of the host: its loop runs on the GPU */
}

/* The device flow for the kernel's flow now. */
static uint32_t dev_flow(rh_kinst *k)
{
    if (atomic_load(&k->given_up))
        return RH_DEV_FLOW_STOP;
    switch (rh_kernel_flow(k)) {
    case RH_FLOW_RUNNING:
    case RH_FLOW_DRAINING:
        return RH_DEV_FLOW_RUN;
    case RH_FLOW_STOPPED:
        return RH_DEV_FLOW_STOP;
    default:
        return RH_DEV_FLOW_PAUSE;
    }
}

/* Tell every block flow f (release: pairs with the device's acquire of
 * flow_gen, then flow). */
static void write_flow(rh_kinst *k, cuda_kernel *ck, uint32_t f)
{
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_dev_worker *b = &ck->blocks[j];
        __atomic_store_n(&b->flow, f, __ATOMIC_RELEASE);
        __atomic_store_n(&b->flow_gen, __atomic_load_n(&b->flow_gen, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELEASE);
    }
    ck->flow = (int)f;
}

static int launch(rh_kinst *k, cuda_kernel *ck, char *e, size_t elen)
{
    CUdeviceptr blocks_dev = rh__cuda_reg_dev(ck->blocks); /* the kernel's one argument */
    void *args[] = {&blocks_dev};
    rh__cuda_fold_counters(k, ck);
    for (uint32_t j = 0; j < k->n_workers; j++) {
        ck->blocks[j].exited = 0;
        ck->hb_at[j] = rh_now_ns();
    }
    use_ctx(ck);
    CUresult rc = ck->cu->LaunchKernel(ck->fn, k->n_workers, 1, 1, ck->dev->block_threads, 1, 1,
                                       0, ck->stream, args, NULL);
    if (rc != CUDA_SUCCESS) {
        cuerr(ck, rc, e, elen);
        return -1;
    }
    ck->launched = 1;
    ck->stopping = 0;
    return 0;
}

static int start(rh_runtime *rt, rh_kinst *k, rh_error *err)
{
    cuda_kernel *ck = rh__cuda_of(k);
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        w->state = NULL;
        w->init_rc = k->desc->init ? k->desc->init(&w->ctx, k->decl->config_json, &w->state) : 0;
        if (w->init_rc)
            return rh_error_set(err, RH_EPLUGIN,
                                "%s: kernels[%u]: init() of plugin \"%s\" (worker %u) failed with "
                                "config %s",
                                rt->m->path, k->index, k->desc->name, j, k->decl->config_json);
        if (ck->config && w->state)
            memcpy(ck->config + (size_t)j * ck->dev->config_size, w->state,
                   ck->dev->config_size);
    }
    char e[200];
    pthread_mutex_lock(&ck->lock);
    write_flow(k, ck, dev_flow(k));
    int rc = launch(k, ck, e, sizeof e);
    pthread_mutex_unlock(&ck->lock);
    if (rc != 0)
        return rh_error_set(err, RH_EPLACE, "%s: kernels[%u] (%s): cannot launch its loop on %s: %s",
                            rt->m->path, k->index, k->decl->name, ck->name, e);
    rh__log_event(rt->log, RH_LOG_INFO, "kernel.device_start",
                  "kernel=%s device=%s bus=%s workers=%u threads=%u", k->decl->name,
                  ck->name, ck->bus, k->n_workers, ck->dev->block_threads);
    return 0;
}

static void fault(rh_runtime *rt, rh_kinst *k, cuda_kernel *ck, const char *reason)
{
    rh__log_event(rt->log, RH_LOG_ERROR, "kernel.device_fault",
                  "kernel=%s device=%s error=%s", k->decl->name, ck->name, reason);
    rh__cuda_mirror_counters(k, ck);
    close_device(ck, 1);
    rh__cuda_after_fault(k, ck, reason);
    rh__cuda_mirror_counters(k, ck);
    ck->faulted = 1;
}

static void relaunch(rh_runtime *rt, rh_kinst *k, cuda_kernel *ck)
{
    rh_error err = {0};
    char e[200] = "";
    uint64_t t0 = rh_now_ns();
    int rc = open_device(rt, k, ck, &err);
    if (rc == 0) {
        write_flow(k, ck, dev_flow(k));
        rc = launch(k, ck, e, sizeof e);
    } else {
        snprintf(e, sizeof e, "%s", err.msg);
    }
    rh__log_event(rt->log, rc ? RH_LOG_ERROR : RH_LOG_WARN, "kernel.restart",
                  "kernel=%s device=%s rc=%d restarts=%llu ms=%.3f error=%s", k->decl->name,
                  ck->name, rc, (unsigned long long)atomic_load(&k->restarts),
                  (double)(rh_now_ns() - t0) / (double)RH_NS_PER_MS, rc ? e : NULL);
    for (uint32_t j = 0; j < k->n_workers; j++)
        k->workers[j].restart_at_ns = 0;
    if (rc) {
        close_device(ck, 1);
        for (uint32_t j = 0; j < k->n_workers; j++)
            rh__worker_schedule_restart(&k->workers[j], "device_start_failed");
        return;
    }
    ck->faulted = 0;
}

/* A heartbeat that did not move for watchdog_ms while input waits. */
static int stalled(rh_kinst *k, cuda_kernel *ck, uint64_t now)
{
    if (!k->decl->watchdog_ms || ck->flow != RH_DEV_FLOW_RUN)
        return 0;
    int any = 0;
    for (uint32_t j = 0; j < k->n_workers; j++) {
        uint64_t hb = __atomic_load_n(&ck->blocks[j].heartbeat, __ATOMIC_RELAXED);
        if (hb != ck->hb_seen[j]) {
            ck->hb_seen[j] = hb;
            ck->hb_at[j] = now;
            continue;
        }
        uint32_t queued = 0;
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            queued += rh__ring_count(k->workers[j].in[p]);
        uint64_t quiet = now - ck->hb_at[j];
        if (queued && quiet > (uint64_t)k->decl->watchdog_ms * RH_NS_PER_MS &&
            rh__worker_report_stall(&k->workers[j], ck->hb_at[j], quiet, "reset the device"))
            any = 1;
    }
    return any;
}

static void supervise_locked(rh_runtime *rt, rh_kinst *k, cuda_kernel *ck)
{
    uint32_t f = dev_flow(k);
    if (ck->faulted) {
        uint64_t now = rh_now_ns(), due = 0;
        for (uint32_t j = 0; j < k->n_workers; j++)
            if (k->workers[j].restart_at_ns > due)
                due = k->workers[j].restart_at_ns;
        /* Draining for terminate does not wait out the backoff (as the
         * process executor): what waits in the ring is processed. */
        if (f != RH_DEV_FLOW_STOP && (now >= due || rh_kernel_flow(k) == RH_FLOW_DRAINING))
            relaunch(rt, k, ck);
        return;
    }
    if (!ck->launched)
        return;
    if ((int)f != ck->flow)
        write_flow(k, ck, f);
    for (uint32_t j = 0; j < k->n_workers; j++)
        rh__cuda_drain_failures(k, ck, j);
    rh__cuda_mirror_counters(k, ck);
    /* A batch done since the launch ends the row of restarts, as a good
     * batch does on a host thread (engine/restart.c): the next fault's
     * backoff starts again at backoff_ms.  The streak is written here and
     * in rh__worker_schedule_restart, both under the kernel's lock. */
    for (uint32_t j = 0; j < k->n_workers; j++)
        if (__atomic_load_n(&ck->blocks[j].batches, __ATOMIC_RELAXED))
            k->workers[j].restart_streak = 0;
    use_ctx(ck);
    CUresult rc = ck->cu->StreamQuery(ck->stream);
    char e[200];
    if (rc == CUDA_ERROR_NOT_READY) {
        if (stalled(k, ck, rh_now_ns()))
            fault(rt, k, ck, "the device loop stopped polling (watchdog_ms)");
    } else if (rc != CUDA_SUCCESS) {
        fault(rt, k, ck, cuerr(ck, rc, e, sizeof e));
    } else if (!ck->stopping && f != RH_DEV_FLOW_STOP) {
        fault(rt, k, ck, "the device loop returned without being told to stop");
    } else {
        ck->launched = 0;
    }
}

static void supervise(rh_runtime *rt, rh_kinst *k)
{
    cuda_kernel *ck = rh__cuda_of(k);
    if (!ck)
        return;
    pthread_mutex_lock(&ck->lock);
    supervise_locked(rt, k, ck);
    pthread_mutex_unlock(&ck->lock);
}

/* Whether the loop runs (a fault or a stop ended it), under the lock. */
static int running(cuda_kernel *ck)
{
    pthread_mutex_lock(&ck->lock);
    int r = ck->launched && !ck->faulted;
    pthread_mutex_unlock(&ck->lock);
    return r;
}

static int sync_flow(rh_runtime *rt, rh_kinst *k, uint64_t deadline_ns)
{
    (void)rt;
    cuda_kernel *ck = rh__cuda_of(k);
    if (!ck)
        return 0;
    pthread_mutex_lock(&ck->lock);
    if (!ck->launched || ck->faulted) {
        pthread_mutex_unlock(&ck->lock);
        return 0; /* a relaunch writes the flow of then */
    }
    write_flow(k, ck, dev_flow(k));
    uint32_t n = k->n_workers;
    uint32_t *gens = malloc((n ? n : 1) * sizeof *gens);
    for (uint32_t j = 0; gens && j < n; j++)
        gens[j] = __atomic_load_n(&ck->blocks[j].flow_gen, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&ck->lock);
    if (!gens)
        return RH_ENOMEM;
    int rc = 0;
    /* Waited for without the lock: the supervisor may see a fault meanwhile. */
    for (uint32_t j = 0; j < n; j++) {
        rh_dev_worker *b = &ck->blocks[j];
        /* the device's flow_seen store follows its acquire of flow_gen */
        while (__atomic_load_n(&b->flow_seen, __ATOMIC_ACQUIRE) != gens[j] &&
               !__atomic_load_n(&b->exited, __ATOMIC_ACQUIRE) && running(ck)) {
            if (rh_now_ns() >= deadline_ns) {
                rc = RH_ETIMEDOUT;
                break;
            }
            struct timespec ts = rh_timespec_of_ns(20 * RH_NS_PER_US);
            nanosleep(&ts, NULL);
        }
    }
    free(gens);
    return rc;
}

static void stop_locked(rh_runtime *rt, rh_kinst *k, cuda_kernel *ck, uint64_t deadline_ns);

/* Under the kernel's lock: the supervisor waits while the loop stops. */
static void stop(rh_runtime *rt, rh_kinst *k, uint64_t deadline_ns)
{
    cuda_kernel *ck = rh__cuda_of(k);
    if (!ck)
        return;
    pthread_mutex_lock(&ck->lock);
    stop_locked(rt, k, ck, deadline_ns);
    pthread_mutex_unlock(&ck->lock);
}

static void stop_locked(rh_runtime *rt, rh_kinst *k, cuda_kernel *ck, uint64_t deadline_ns)
{
    if (!ck->ctx)
        return;
    ck->stopping = 1;
    write_flow(k, ck, RH_DEV_FLOW_STOP);
    use_ctx(ck);
    CUresult rc = CUDA_ERROR_NOT_READY;
    while (ck->launched && (rc = ck->cu->StreamQuery(ck->stream)) == CUDA_ERROR_NOT_READY &&
           rh_now_ns() < deadline_ns) {
        for (uint32_t j = 0; j < k->n_workers; j++)
            rh__cuda_drain_failures(k, ck, j); /* a loop may wait for its failures to be taken */
        struct timespec ts = rh_timespec_of_ns(50 * RH_NS_PER_US);
        nanosleep(&ts, NULL);
    }
    for (uint32_t j = 0; j < k->n_workers; j++)
        rh__cuda_drain_failures(k, ck, j);
    rh__cuda_mirror_counters(k, ck);
    int reset = ck->launched && rc != CUDA_SUCCESS;
    if (reset) {
        char e[200];
        rh__log_event(rt->log, RH_LOG_WARN, "kernel.device_reset",
                      "kernel=%s device=%s why=%s", k->decl->name, ck->name,
                      rc == CUDA_ERROR_NOT_READY ? "did not stop by its deadline"
                                                 : cuerr(ck, rc, e, sizeof e));
    }
    close_device(ck, reset);
    ck->launched = 0;
}

/* A device worker cannot be swapped from the host (its code is a running
 * kernel on the GPU); its rings are host memory the device maps; it owns
 * no run() loop; and it rings no bell: the bridges poll. */
const rh_exec_ops rh__exec_cuda = {
    .name = "cuda",
    .where = "a block of a persistent kernel on the GPU",
    .caps = RH_EXEC_POLLED,
    .no_swap_why = "runs on the GPU (\"isolation\": \"cuda\"), whose running kernel the host "
                   "cannot swap; terminate it and launch the new build instead",
    .workers_alloc = workers_alloc,
    .workers_free = workers_free,
    .ring_mem = &rh__cuda_ring_mem,
    .place = place,
    .plan = plan,
    .start = start,
    .supervise_ns = 5ull * RH_NS_PER_MS, /* fail rings drained, faults seen, from here */
    .supervise = supervise,
    .sync = sync_flow,
    .stop = stop,
    .release = release,
    .worker_pid = NULL,
};
