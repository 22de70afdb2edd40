/*
 * ringhost/device.cuh — the device side of a ringhost kernel: the API a
 * device function uses (the GPU's rh_ctx), and the persistent loop that
 * ringhost runs on the GPU around it.
 *
 * A kernel author writes one function per message and names it:
 *
 *     __host__ __device__ int echo(rh_dev_msg *m)
 *     {
 *         void *out = rh_dev_emit(m, 0, m->len);   // the answer's payload
 *         if (!out)
 *             return rh_dev_fail(m, "echo: answer too big");
 *         memcpy(out, m->data, m->len);
 *         return 0;
 *     }
 *     RH_DEVICE_KERNEL(echo_gpu_loop, echo)
 *
 * and sets `.device = &(rh_device_kernel){.function = "echo_gpu_loop", ...}`
 * in its descriptor (ringhost/device.h).  The loop — poll, take a batch in
 * place, call the function, write the answers' envelopes, publish, release,
 * follow the host's flow, stop — is ringhost's, not the author's.
 *
 * How a batch runs (one block per worker): thread 0 polls (rh_dev_poll):
 * it reads the flow, acquires the head of an input ring and takes up to
 * block_threads / lanes messages, as many as the output rings have room
 * for.  A barrier.  Each group of `lanes` threads runs the function on one
 * message (rh_dev_run_message), in place in the input ring; lane 0 of the
 * group then writes the envelope of its answer on each output port (or a
 * void slot), or copies the input to the fail ring.  A barrier.  Thread 0
 * publishes (rh_dev_publish): output heads first, then, once the host took
 * the batch's failures, the input ring's tail: the order the host's acks
 * rely on (engine/acks.c).
 *
 * Memory order across PCIe (ringhost/ring_abi.h): one writer per word, no
 * read-modify-write on host memory; thread 0 loads the producer's head
 * with ld.acquire.sys, and every other lane reads slots only after the
 * barrier that follows it; every lane that wrote a slot fences
 * (__threadfence_system) before the barrier that precedes thread 0's
 * st.release.sys of a head or tail.  Thread 0 keeps every index it owns
 * and the other side's last seen index in shared memory, so a poll of an
 * idle ring costs one PCIe read.
 *
 * The same phases run on the CPU (rh_dev_step_host, no CUDA needed) so a
 * kernel's function and the ring protocol are unit-tested without a GPU:
 * compile the function __host__ __device__.
 */
#ifndef RINGHOST_DEVICE_CUH
#define RINGHOST_DEVICE_CUH

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifndef __CUDA_ARCH__
#include <time.h>
#endif

#include "ringhost/answer_id.h"
#include "ringhost/device.h"
#include "ringhost/ring_abi.h"

#ifdef __CUDACC__
#define RH_DEV_FN static inline __host__ __device__
#else
#define RH_DEV_FN static inline
/* A kernel's function is __host__ __device__ so the CPU tests can call it;
 * compiled by a host compiler, the qualifiers mean nothing and
 * RH_DEVICE_KERNEL defines no entry. */
#ifndef __host__
#define __host__
#endif
#ifndef __device__
#define __device__
#endif
#define RH_DEVICE_KERNEL(name, fn)
#endif

/* ------------------------------------------------ loads and stores ---- */

RH_DEV_FN uint64_t rh_dev_acquire64(const uint64_t *p)
{
#ifdef __CUDA_ARCH__
    uint64_t v;
    asm volatile("ld.acquire.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
#else
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
#endif
}

RH_DEV_FN void rh_dev_release64(uint64_t *p, uint64_t v)
{
#ifdef __CUDA_ARCH__
    asm volatile("st.release.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
#else
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
#endif
}

RH_DEV_FN uint32_t rh_dev_acquire32(const uint32_t *p)
{
#ifdef __CUDA_ARCH__
    uint32_t v;
    asm volatile("ld.acquire.sys.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
#else
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
#endif
}

/* A counter or flag of the device's own line: no ordering needed. */
RH_DEV_FN void rh_dev_relaxed64(uint64_t *p, uint64_t v)
{
#ifdef __CUDA_ARCH__
    asm volatile("st.relaxed.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
#else
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
#endif
}

RH_DEV_FN void rh_dev_relaxed32(uint32_t *p, uint32_t v)
{
#ifdef __CUDA_ARCH__
    asm volatile("st.relaxed.sys.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
#else
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
#endif
}

/* ------------------------------------------------------ the block ---- */

/* A ring as thread 0 and the lanes use it: its layout read once. */
typedef struct rh_dev_ring {
    rh_ring_ctl *ctl;
    unsigned char *slots;
    uint32_t mask, slot_size, payload_size, capacity;
    uint64_t pos;   /* the index this side owns: tail of an input, head of an output */
    uint64_t other; /* the other side's index, as last read */
} rh_dev_ring;

/* The most messages one batch holds (block_threads / lanes). */
#define RH_DEV_MAX_BATCH 1024u

/* A worker's state on the device: in shared memory, written by thread 0
 * but for the batch's tallies. */
typedef struct rh_dev_block {
    rh_dev_worker *w;
    rh_dev_ring in[RH_DEV_MAX_PORTS], out[RH_DEV_MAX_PORTS], fail;
    const void *config;
    uint32_t config_size, n_in, n_out, lanes, max_batch, fail_reason_offset;
    uint32_t next_port, flow_gen, flow, stop;
    uint32_t retry_n, retry_port; /* rh_dev_worker's, counted down */
    uint64_t rounds, processed, failed, emitted, batches;
    /* the batch taken by the last poll */
    uint32_t n, port;
    uint64_t in_pos;                     /* its first input position */
    uint64_t out_pos[RH_DEV_MAX_PORTS];  /* where its answers go, port by port */
    uint32_t n_failed, n_emitted;        /* tallies of its lanes */
    uint32_t faulted;                    /* CPU only: rh_dev_fault was called (the step
                                          * stops as a device dies: nothing published) */
} rh_dev_block;

/* The message a lane works on: what the kernel's function sees. */
typedef struct rh_dev_msg {
    const rh_envelope *env; /* its envelope, in place in the input ring */
    const void *data;       /* its payload, in place */
    uint32_t len;           /* payload bytes */
    uint32_t port;          /* input port */
    uint32_t lane, lanes;   /* this thread among those working on it */
    /* ringhost's: what the function asked for */
    rh_dev_block *b_;
    uint32_t i_;            /* index in the batch */
    uint32_t emitted_;      /* bit p: answered on port p */
    uint32_t len_[RH_DEV_MAX_PORTS];
    const char *fail_;
} rh_dev_msg;

/* ------------------------------------------------ the kernel's API ---- */

/* The payload of m's answer on output port `port`, len bytes of it to be
 * written, in place in the output ring; NULL when the port does not exist
 * or len is more than its type holds.  One answer per input and port:
 * calling it again for the same port gives the same slot.  With lanes > 1,
 * every lane of the message calls it with the same arguments. */
RH_DEV_FN void *rh_dev_emit(rh_dev_msg *m, uint32_t port, uint32_t len)
{
    rh_dev_block *b = m->b_;
    if (port >= b->n_out || len > b->out[port].payload_size)
        return NULL;
    m->emitted_ |= 1u << port;
    m->len_[port] = len;
    rh_dev_ring *r = &b->out[port];
    rh_envelope *slot =
        (rh_envelope *)(r->slots + (size_t)((b->out_pos[port] + m->i_) & r->mask) * r->slot_size);
    return (void *)(slot + 1);
}

/* Fail m with a reason (a string that lives as long as the kernel, e.g. a
 * literal): it is dead-lettered by the host like a CPU kernel's rh_fail,
 * and any answer emitted for it is not sent.  Returns -1, so a function
 * can `return rh_dev_fail(m, "why");`. */
RH_DEV_FN int rh_dev_fail(rh_dev_msg *m, const char *reason)
{
    m->fail_ = reason ? reason : "failed by the kernel";
    return -1;
}

/* A device fault, on purpose (tests and demos of the fault path): on the
 * GPU an illegal address, a sticky error that kills the context; driven
 * on the CPU (rh_dev_step_host), the step ends there and publishes
 * nothing, as a dead device would, and reports it (-2). */
RH_DEV_FN void rh_dev_fault(rh_dev_msg *m)
{
#ifdef __CUDA_ARCH__
    (void)m;
    *(volatile int *)(uintptr_t)8 = 1;
#else
    m->b_->faulted = 1;
#endif
}

/* The config the host part's init() gave (rh_device_kernel.config_size
 * bytes of its state), or NULL; *size gets its bytes. */
RH_DEV_FN const void *rh_dev_config(const rh_dev_msg *m, uint32_t *size)
{
    if (size)
        *size = m->b_->config_size;
    return m->b_->config;
}

/* ------------------------------------------------------- the loop ---- */

RH_DEV_FN void rh_dev_ring_open(rh_dev_ring *r, uint64_t addr, int input)
{
    r->ctl = (rh_ring_ctl *)(uintptr_t)addr;
    if (!r->ctl)
        return;
    r->slots = (unsigned char *)r->ctl + r->ctl->slots_offset;
    r->mask = r->ctl->mask;
    r->slot_size = r->ctl->slot_size;
    r->payload_size = r->ctl->payload_size;
    r->capacity = r->ctl->capacity;
    /* The host made the ring before the launch and nothing moved since
     * but what it published: this side's index is where it left it. */
    r->pos = input ? rh_dev_acquire64(&r->ctl->tail) : rh_dev_acquire64(&r->ctl->head);
    r->other = input ? rh_dev_acquire64(&r->ctl->head) : rh_dev_acquire64(&r->ctl->tail);
}

/* Thread 0, once: the worker's layout into the block. */
RH_DEV_FN void rh_dev_open(rh_dev_block *b, rh_dev_worker *w)
{
    memset((void *)b, 0, sizeof *b);
    b->w = w;
    b->n_in = w->n_inputs;
    b->n_out = w->n_outputs;
    b->lanes = w->lanes ? w->lanes : 1;
    b->max_batch = w->block_threads / b->lanes;
    if (b->max_batch > RH_DEV_MAX_BATCH)
        b->max_batch = RH_DEV_MAX_BATCH;
    b->config = (const void *)(uintptr_t)w->config;
    b->config_size = w->config_size;
    b->fail_reason_offset = w->fail_reason_offset;
    b->retry_n = w->retry_n;
    b->retry_port = w->retry_port;
    for (uint32_t p = 0; p < b->n_in; p++)
        rh_dev_ring_open(&b->in[p], w->in[p], 1);
    for (uint32_t p = 0; p < b->n_out; p++)
        rh_dev_ring_open(&b->out[p], w->out[p], 0);
    rh_dev_ring_open(&b->fail, w->fail, 0);
    b->flow_gen = (uint32_t)-1; /* whatever the host wrote is new */
}

/* Room in an output ring for n more slots: from the cached tail, reloaded
 * (acquire: pairs with the host's release of the tail) only when short. */
RH_DEV_FN uint32_t rh_dev_room(rh_dev_ring *r, uint32_t n)
{
    uint64_t room = r->capacity - (r->pos - r->other);
    if (room < n) {
        r->other = rh_dev_acquire64(&r->ctl->tail);
        room = r->capacity - (r->pos - r->other);
    }
    return room < n ? (uint32_t)room : n;
}

/*
 * Thread 0: one poll round.  Follows the host's flow (every round while
 * idle, every 64th while busy), bumps the heartbeat, and takes a batch of
 * b->n messages from the next input port that has some (0: none).  Sets
 * b->stop when the host says stop.
 */
RH_DEV_FN void rh_dev_poll(rh_dev_block *b)
{
    rh_dev_worker *w = b->w;
    b->n = 0;
    b->n_failed = 0;
    b->n_emitted = 0;
    if ((b->rounds & 63) == 0 || b->flow != RH_DEV_FLOW_RUN) {
        uint32_t gen = rh_dev_acquire32(&w->flow_gen);
        /* pairs with the host's release of flow_gen after its flow */
        if (gen != b->flow_gen) {
            b->flow = rh_dev_acquire32(&w->flow);
            b->flow_gen = gen;
            rh_dev_relaxed32(&w->flow_seen, gen);
        }
        rh_dev_relaxed64(&w->heartbeat, b->rounds);
    }
    b->rounds++;
    if (b->flow == RH_DEV_FLOW_STOP) {
        b->stop = 1;
        return;
    }
    if (b->flow != RH_DEV_FLOW_RUN)
        return;
    for (uint32_t k = 0; k < b->n_in; k++) {
        uint32_t p = (b->next_port + k) % b->n_in;
        rh_dev_ring *r = &b->in[p];
        if (r->other == r->pos)
            r->other = rh_dev_acquire64(&r->ctl->head); /* pairs with the host's commit */
        uint64_t ready = r->other - r->pos;
        if (!ready)
            continue;
        uint32_t n = ready < b->max_batch ? (uint32_t)ready : b->max_batch;
        for (uint32_t o = 0; o < b->n_out; o++)
            n = rh_dev_room(&b->out[o], n);
        n = rh_dev_room(&b->fail, n);
        if (!n)
            return; /* the host has not drained: poll again */
        /* A retried input (its batch died with the device) goes alone: if
         * it kills the device again, the host knows it was this one. */
        if (b->retry_n && p == b->retry_port) {
            n = 1;
            b->retry_n--;
        }
        b->n = n;
        b->port = p;
        b->in_pos = r->pos;
        for (uint32_t o = 0; o < b->n_out; o++)
            b->out_pos[o] = b->out[o].pos;
        b->next_port = (p + 1) % b->n_in;
        /* What the host reads if the device dies in this batch. */
        rh_dev_relaxed32(&w->batch_port, p);
        rh_dev_relaxed32(&w->batch_n, n);
        return;
    }
}

/* The envelope of m's answer on port o (answer_id.h, as the host's dispatch
 * writes it: engine/answer.c). */
RH_DEV_FN void rh_dev_answer_env(rh_envelope *dst, const rh_envelope *in, uint32_t o,
                                 uint32_t len)
{
    rh_envelope e;
    memset(&e, 0, sizeof e);
    e.id = rh_answer_id(in->id, o, 0);
    e.correlation_id = in->id;
    e.priority = in->priority;
    e.flags = RH_ENV_HAS_CORRELATION;
    if (in->flags & (RH_ENV_REDELIVERED | RH_ENV_RETRIED))
        e.flags |= RH_ENV_REDELIVERED;
    e.payload_len = len;
    *dst = e;
}

/* Lane 0 of message i: its answers' envelopes (or void slots), or its copy
 * in the fail ring at position fail_pos. */
RH_DEV_FN void rh_dev_finish_message(rh_dev_block *b, const rh_dev_msg *m, uint64_t fail_pos)
{
    for (uint32_t o = 0; o < b->n_out; o++) {
        rh_dev_ring *r = &b->out[o];
        rh_envelope *slot =
            (rh_envelope *)(r->slots + (size_t)((b->out_pos[o] + m->i_) & r->mask) * r->slot_size);
        if (!m->fail_ && (m->emitted_ & (1u << o)))
            rh_dev_answer_env(slot, m->env, o, m->len_[o]);
        else
            slot->payload_len = RH_RING_VOID_LEN;
    }
    if (m->fail_) {
        rh_dev_ring *f = &b->fail;
        rh_envelope *slot = (rh_envelope *)(f->slots + (size_t)(fail_pos & f->mask) * f->slot_size);
        *slot = *m->env;
        slot->payload_len = m->len;
        slot->port = (uint16_t)m->port;
        unsigned char *payload = (unsigned char *)(slot + 1);
        uint32_t cap = b->fail_reason_offset;
        memcpy(payload, m->data, m->len < cap ? m->len : cap);
        char *reason = (char *)payload + b->fail_reason_offset;
        uint32_t k = 0;
        for (; k + 1 < RH_DEV_FAIL_REASON && m->fail_[k]; k++)
            reason[k] = m->fail_[k];
        reason[k] = '\0';
    }
}

/* The message of group g (lane `lane` of it) in the batch b->n holds. */
RH_DEV_FN void rh_dev_msg_of(rh_dev_block *b, uint32_t g, uint32_t lane, rh_dev_msg *m)
{
    rh_dev_ring *r = &b->in[b->port];
    rh_envelope *env =
        (rh_envelope *)(r->slots + (size_t)((b->in_pos + g) & r->mask) * r->slot_size);
    m->env = env;
    m->data = (const void *)(env + 1);
    m->len = env->payload_len <= r->payload_size ? env->payload_len : r->payload_size;
    m->port = b->port;
    m->lane = lane;
    m->lanes = b->lanes;
    m->b_ = b;
    m->i_ = g;
    m->emitted_ = 0;
    m->fail_ = NULL;
}

/*
 * Thread 0, after every lane finished the batch: outputs published, then
 * (once the host took the batch's failures) the inputs released.  Returns
 * 0, or 1 when the host said stop while the loop waited for it: the batch
 * then stays unreleased, and the host finds it in the ring.
 */
RH_DEV_FN int rh_dev_publish(rh_dev_block *b)
{
    rh_dev_worker *w = b->w;
    uint32_t n = b->n;
    for (uint32_t o = 0; o < b->n_out; o++) {
        b->out[o].pos += n;
        rh_dev_release64(&b->out[o].ctl->head, b->out[o].pos); /* pairs with the host's
                                                                   acquire of head */
    }
    if (b->n_failed) {
        b->fail.pos += b->n_failed;
        rh_dev_release64(&b->fail.ctl->head, b->fail.pos);
        /* The inputs go only once the host dead-lettered them (its
         * release of the fail ring's tail). */
        uint64_t spins = 0;
        while (rh_dev_acquire64(&b->fail.ctl->tail) < b->fail.pos) {
            if ((++spins & 1023) == 0 && rh_dev_acquire32(&w->flow) == RH_DEV_FLOW_STOP)
                return 1;
#ifndef __CUDA_ARCH__
            struct timespec nap = {0, 10000}; /* on the CPU: not a core for the wait */
            nanosleep(&nap, NULL);
#endif
        }
        b->fail.other = b->fail.pos;
    }
    rh_dev_ring *in = &b->in[b->port];
    in->pos += n;
    rh_dev_release64(&in->ctl->tail, in->pos); /* pairs with the host's acquire of tail */
    b->processed += n;
    b->failed += b->n_failed;
    b->emitted += b->n_emitted;
    b->batches++;
    rh_dev_relaxed32(&w->batch_n, 0);
    rh_dev_relaxed64(&w->processed, b->processed);
    rh_dev_relaxed64(&w->failed, b->failed);
    rh_dev_relaxed64(&w->emitted, b->emitted);
    rh_dev_relaxed64(&w->batches, b->batches);
    return 0;
}

/* Count m's outcome into the batch's tallies and the fail position it
 * takes; atomic on the GPU (shared memory), plain on the CPU. */
RH_DEV_FN uint64_t rh_dev_tally(rh_dev_block *b, const rh_dev_msg *m)
{
    uint32_t emitted = 0;
    for (uint32_t o = 0; o < b->n_out; o++)
        emitted += !m->fail_ && (m->emitted_ & (1u << o));
#ifdef __CUDA_ARCH__
    if (emitted)
        atomicAdd(&b->n_emitted, emitted);
    return m->fail_ ? b->fail.pos + atomicAdd(&b->n_failed, 1u) : 0;
#else
    b->n_emitted += emitted;
    return m->fail_ ? b->fail.pos + b->n_failed++ : 0;
#endif
}

#ifndef __CUDA_ARCH__
/*
 * The loop's step on the CPU, for unit tests (and the CPU stand-in of the
 * driver, tests/fake_cuda): one poll, every lane of the batch in turn, the
 * publish.  fn is the kernel's function (compiled for the host too).
 * Returns the messages of the batch, 0 when none, -1 when the host said
 * stop, -2 when the function faulted (rh_dev_fault: nothing published).
 */
static inline int rh_dev_step_host(rh_dev_block *b, int (*fn)(rh_dev_msg *m))
{
    rh_dev_poll(b);
    if (b->stop)
        return -1;
    if (!b->n)
        return 0;
    for (uint32_t g = 0; g < b->n; g++) {
        rh_dev_msg lane0;
        memset(&lane0, 0, sizeof lane0);
        for (uint32_t lane = 0; lane < b->lanes; lane++) {
            rh_dev_msg m;
            rh_dev_msg_of(b, g, lane, &m);
            fn(&m);
            if (b->faulted)
                return -2;
            if (lane == 0)
                lane0 = m;
        }
        uint64_t fail_pos = rh_dev_tally(b, &lane0);
        rh_dev_finish_message(b, &lane0, fail_pos);
    }
    if (rh_dev_publish(b))
        return -1;
    return (int)b->n;
}
#endif

#ifdef __CUDACC__
/*
 * The persistent loop, one block per worker (blockIdx.x), blockDim.x =
 * the descriptor's block_threads.  Returns when the host writes
 * RH_DEV_FLOW_STOP; idle, thread 0 backs off with __nanosleep between
 * polls (at most 2 us: a poll is a PCIe round trip anyway).
 */
template <int (*FN)(rh_dev_msg *)>
__device__ void rh_dev_loop(rh_dev_worker *workers)
{
    __shared__ rh_dev_block b;
    const uint32_t t = threadIdx.x;
    if (t == 0)
        rh_dev_open(&b, &workers[blockIdx.x]);
    __syncthreads();
    uint32_t nap = 0;
    for (;;) {
        if (t == 0) {
            rh_dev_poll(&b);
            if (b.n || b.stop)
                nap = 0;
            else if (nap < 2048)
                nap = nap ? nap * 2 : 32;
        }
        __syncthreads(); /* the lanes read the batch after thread 0's acquire */
        if (b.stop)
            break;
        if (b.n == 0) {
            if (t == 0 && nap)
                __nanosleep(nap);
            __syncthreads(); /* every lane read b before thread 0 polls again */
            continue;
        }
        const uint32_t g = t / b.lanes, lane = t % b.lanes;
        if (g < b.n) {
            rh_dev_msg m;
            rh_dev_msg_of(&b, g, lane, &m);
            FN(&m);
            if (lane == 0)
                rh_dev_finish_message(&b, &m, rh_dev_tally(&b, &m));
            __threadfence_system(); /* this lane's slot writes before thread 0's release */
        }
        __syncthreads();
        int stop = 0;
        if (t == 0)
            stop = rh_dev_publish(&b);
        if (t == 0 && stop)
            b.stop = 1;
        __syncthreads(); /* b is thread 0's again */
        if (b.stop)
            break;
    }
    if (t == 0) {
        __threadfence_system();
        rh_dev_relaxed32(&workers[blockIdx.x].exited, 1);
    }
}

/* Define the kernel's entry `name` (what rh_device_kernel.function names)
 * running ringhost's loop around fn. */
#define RH_DEVICE_KERNEL(name, fn)                                   \
    extern "C" __global__ void name(rh_dev_worker *workers)          \
    {                                                                \
        rh_dev_loop<fn>(workers);                                    \
    }
#endif /* __CUDACC__ */

#endif /* RINGHOST_DEVICE_CUH */
