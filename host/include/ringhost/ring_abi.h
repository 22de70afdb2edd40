/*
 * ringhost/ring_abi.h — the kernel ring's shared layout: the bytes a device
 * poller (CUDA) or another language reads and writes to be the producer or
 * the consumer of a ringhost kernel ring.
 *
 * A ring is one control block (rh_ring_ctl, 256 bytes, 64-byte aligned)
 * and `capacity` slots starting `slots_offset` bytes after it.  Slot i
 * holds message position p where i = p & mask; a slot is an rh_envelope
 * (ringhost/kernel.h, 48 bytes) followed by the payload, `slot_size` bytes
 * in all: round_up(48 + payload_size, 64), so every slot starts on its own
 * cache line.  The host library's rings embed this block as the first
 * member of their private struct (host/src/ring/ring.h); every offset here
 * is pinned by the static asserts at the end, and any change to them is a
 * new RH_RING_ABI_VERSION.
 *
 * Positions are 64-bit counters that only grow (2^64 messages never wrap
 * in practice): head - tail is the fill level, so full and empty need no
 * spare slot.  Slots in [tail, head) belong to the consumer, all others to
 * the producer.
 *
 * Who writes which word, and the ordering each side needs:
 *   head       the producer only.  It fills slots [head, head + n), then
 *              stores head + n with release; the consumer loads head with
 *              acquire before it reads those slots.
 *   tail       the consumer only.  It finishes reading slots [tail,
 *              tail + n), then stores tail + n with release; the producer
 *              loads tail with acquire before it overwrites those slots.
 *   tail_cache the producer's private copy of tail (on the producer's line);
 *   head_cache the consumer's private copy of head: each side reloads the
 *              other's index only when its copy says "full" / "empty".  No
 *              one else reads them; a side may keep its copy elsewhere (in a
 *              register) and leave the word alone.
 *   capacity, mask, slot_size, payload_size, slots_offset, abi_version:
 *              written once by the host before the ring is handed to either
 *              side; read-only after.
 *   flow       the host (the ring's owner) only: RH_RING_FLOW_*, what the
 *              consumer should do.  Stored with release, loaded by a device
 *              poller with acquire between batches: RUN polls, PAUSE stops
 *              taking slots but keeps polling flow, STOP returns.
 *   heartbeat  the consumer only: a counter it bumps (release) once per poll
 *              round, full or empty, so the host (acquire) tells a live
 *              poller from a hung one.
 * One writer per word: nothing needs an atomic read-modify-write (PCIe
 * rarely offers one, see hostNativeAtomicSupported), only naturally aligned
 * 64- and 32-bit loads and stores.
 *
 * Scope: between host threads, C11/C++ release/acquire (or the GCC
 * __atomic builtins).  Between a GPU and the host the ring lives in pinned
 * host memory mapped into the device (or device memory the CPU maps), and
 * the device side must use system scope: cuda::atomic_ref<uint64_t,
 * cuda::thread_scope_system> with memory_order_release/acquire, or
 * st.release.sys / ld.acquire.sys, or volatile plus __threadfence_system().
 * A device consumer orders every lane that reads a payload after the
 * poller's acquire of head (a barrier such as __syncthreads(), not a warp
 * shuffle).
 *
 * Not in the block: the host's futex doorbells, which wake a parked host
 * thread (a device poller spins on head and is never parked), and the host's
 * own pointers.
 *
 * This header is plain C11 and C++ (and CUDA C++): fixed-width integers
 * with alignment, no _Atomic, so the same struct is the layout in each.
 */
#ifndef RINGHOST_RING_ABI_H
#define RINGHOST_RING_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/kernel.h"

#ifdef __cplusplus
#define RH_RING_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define RH_RING_ALIGN(n) alignas(n)
#define RH_RING_ALIGNOF(t) alignof(t)
#else
#define RH_RING_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define RH_RING_ALIGN(n) _Alignas(n)
#define RH_RING_ALIGNOF(t) _Alignof(t)
#endif

/* Callable from device code too when compiled by nvcc. */
#ifdef __CUDACC__
#define RH_RING_INLINE static inline __host__ __device__
#else
#define RH_RING_INLINE static inline
#endif

/* Bumped by any change to the layout below; a reader checks abi_version. */
#define RH_RING_ABI_VERSION 1u

/* Every slot and the control block's lines are this many bytes. */
#define RH_RING_LINE 64u

/* What the consumer should do (rh_ring_ctl.flow). */
#define RH_RING_FLOW_RUN 0u   /* take and process slots */
#define RH_RING_FLOW_PAUSE 1u /* take nothing, keep polling flow */
#define RH_RING_FLOW_STOP 2u  /* return: the host is stopping the worker */

/* Bytes of one slot for a payload of payload_size bytes: the envelope and
 * the payload rounded up to a whole line. */
#define RH_RING_SLOT_SIZE(payload_size)                                              \
    (((uint64_t)sizeof(rh_envelope) + (uint64_t)(payload_size) + RH_RING_LINE - 1) & \
     ~(uint64_t)(RH_RING_LINE - 1))

typedef struct rh_ring_ctl {
    /* line 0 (offset 0): the producer's */
    RH_RING_ALIGN(64) uint64_t head; /* next position to publish */
    uint64_t tail_cache;             /* producer's private copy of tail */
    uint64_t producer_reserved_[6];
    /* line 1 (offset 64): the consumer's */
    uint64_t tail;       /* next position to consume */
    uint64_t head_cache; /* consumer's private copy of head */
    uint64_t consumer_reserved_[6];
    /* line 2 (offset 128): read-only after create */
    uint32_t capacity;     /* slots, a power of two >= 2 */
    uint32_t mask;         /* capacity - 1 */
    uint32_t slot_size;    /* bytes, RH_RING_SLOT_SIZE(payload_size) */
    uint32_t payload_size; /* bytes a slot holds after its envelope */
    uint64_t slots_offset; /* bytes from this block to slot 0, a multiple of 64 */
    uint32_t abi_version;  /* RH_RING_ABI_VERSION */
    uint32_t layout_reserved_[9];
    /* line 3 (offset 192): control and liveness, apart from the indices so
     * a heartbeat store never invalidates a line the hot path reads */
    uint32_t flow;      /* RH_RING_FLOW_*, written by the host */
    uint32_t flow_reserved_;
    uint64_t heartbeat; /* bumped by the consumer each poll round */
    uint64_t control_reserved_[6];
} rh_ring_ctl;

/* Slot of position pos (any position: masked here). */
RH_RING_INLINE rh_envelope *rh_ring_ctl_slot(rh_ring_ctl *ctl, uint64_t pos)
{
    return (rh_envelope *)((unsigned char *)ctl + ctl->slots_offset +
                           (size_t)(pos & ctl->mask) * ctl->slot_size);
}

/* The payload of a slot: right after its envelope. */
RH_RING_INLINE void *rh_ring_ctl_payload(rh_envelope *slot)
{
    return (void *)(slot + 1);
}

/* ---------------------------------------------------------- pinned ---- */

/* The envelope every slot starts with (kernel.h): its layout is the ABI of
 * the slot too. */
RH_RING_STATIC_ASSERT(sizeof(rh_envelope) == 48, "rh_envelope is 48 bytes");
RH_RING_STATIC_ASSERT(offsetof(rh_envelope, id) == 0, "rh_envelope.id at 0");
RH_RING_STATIC_ASSERT(offsetof(rh_envelope, correlation_id) == 16,
                      "rh_envelope.correlation_id at 16");
RH_RING_STATIC_ASSERT(offsetof(rh_envelope, enqueue_ns) == 32, "rh_envelope.enqueue_ns at 32");
RH_RING_STATIC_ASSERT(offsetof(rh_envelope, payload_len) == 40, "rh_envelope.payload_len at 40");
RH_RING_STATIC_ASSERT(offsetof(rh_envelope, priority) == 44, "rh_envelope.priority at 44");
RH_RING_STATIC_ASSERT(offsetof(rh_envelope, flags) == 45, "rh_envelope.flags at 45");
RH_RING_STATIC_ASSERT(offsetof(rh_envelope, port) == 46, "rh_envelope.port at 46");

RH_RING_STATIC_ASSERT(sizeof(rh_ring_ctl) == 256, "rh_ring_ctl is four lines");
RH_RING_STATIC_ASSERT(RH_RING_ALIGNOF(rh_ring_ctl) == 64, "rh_ring_ctl starts a line");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, head) == 0, "head at 0");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, tail_cache) == 8, "tail_cache at 8");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, tail) == 64, "tail on its own line, at 64");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, head_cache) == 72, "head_cache at 72");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, capacity) == 128, "capacity at 128");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, mask) == 132, "mask at 132");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, slot_size) == 136, "slot_size at 136");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, payload_size) == 140, "payload_size at 140");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, slots_offset) == 144, "slots_offset at 144");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, abi_version) == 152, "abi_version at 152");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, flow) == 192, "flow on the control line, at 192");
RH_RING_STATIC_ASSERT(offsetof(rh_ring_ctl, heartbeat) == 200, "heartbeat at 200");
RH_RING_STATIC_ASSERT(RH_RING_SLOT_SIZE(0) == 64 && RH_RING_SLOT_SIZE(16) == 64 &&
                          RH_RING_SLOT_SIZE(17) == 128,
                      "a slot is the envelope and payload rounded up to 64 bytes");

#endif /* RINGHOST_RING_ABI_H */
