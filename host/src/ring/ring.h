/*
 * ring.h — a kernel ring: single-producer single-consumer, fixed slots, in
 * memory from an allocator passed in.
 *
 * Each slot is an rh_envelope followed by a payload of payload_size bytes,
 * padded so every slot starts on a 64-byte boundary.  Producer and consumer
 * indices live on separate cache lines and each side caches the other's
 * index, so the common case touches no shared line except the slots.  That
 * shared part is the public layout of ringhost/ring_abi.h (rh_ring_ctl and
 * the slots after it), so a device poller or another language can be one
 * side of the ring; the host's doorbells and its allocator stay here.
 *
 * Two call families, as in DPDK: copy (burst enqueue/dequeue, as many as
 * fit) and zero-copy (reserve/commit for the producer, peek/release for the
 * consumer).  The consumer's bell is rung after every publish, so a parked
 * consumer wakes.
 */
#ifndef RH_RING_H
#define RH_RING_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/kernel.h"
#include "ringhost/ring_abi.h"
#include "base/wait.h"

/* Where a ring's memory comes from.  alloc returns len bytes, 64-byte
 * aligned and zeroed, or NULL; free gives back exactly what alloc gave.
 * shared: the memory is visible to another process (a child fork()ed after
 * the ring is made), so the ring's bells are shared futexes. */
typedef struct rh_ring_mem {
    const char *name; /* "heap", "shared": for messages */
    void *(*alloc)(size_t len, void *ctx);
    void (*free)(void *p, size_t len, void *ctx);
    void *ctx;
    int shared;
} rh_ring_mem;

/* Process-local memory (aligned_alloc). */
extern const rh_ring_mem rh__ring_mem_heap;
/* One MAP_SHARED|MAP_ANONYMOUS mapping per ring, so a child process
 * fork()ed afterwards produces or consumes it with its parent
 * (isolation.c). */
extern const rh_ring_mem rh__ring_mem_shared;

/* One allocation from mem: the ring (ctl first), then the slots at
 * ctl.slots_offset.  Only this process's threads and the children it forks
 * use the host-only members after ctl. */
typedef struct rh_ring {
    rh_ring_ctl ctl;    /* the shared layout: indices, sizes, flow, heartbeat */
    rh_bell not_empty;  /* rung by the producer */
    rh_bell not_full;   /* rung by the consumer */
    rh_ring_mem mem;    /* what the memory came from, to free it through */
    size_t len;         /* bytes mem.alloc gave */
} rh_ring;

/* The ring's ABI block is its first member: a pointer to the ring is a
 * pointer to its rh_ring_ctl, and the slots' offset is from there. */
_Static_assert(offsetof(rh_ring, ctl) == 0, "rh_ring starts with its rh_ring_ctl");
/* The index words are plain uint64_t in the ABI block (C++ and CUDA read
 * it too); the host reaches them only through the __atomic builtins, which
 * ThreadSanitizer instruments as it does C11 atomics. */
_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
               "64-bit ring indices are lock-free atomics");

/* capacity: power of two >= 2, at most 2^24; payload_size: bytes, a slot
 * of envelope and payload at most INT32_MAX bytes.  Returns NULL on bad
 * args or when mem->alloc fails. */
rh_ring *rh__ring_create(const rh_ring_mem *mem, uint32_t capacity, uint32_t payload_size);
/* Frees through the allocator the ring was made with. */
void rh__ring_destroy(rh_ring *r);

static inline rh_envelope *rh_ring_slot(const rh_ring *r, uint64_t pos)
{
    return rh_ring_ctl_slot((rh_ring_ctl *)&r->ctl, pos);
}

static inline void *rh_ring_payload(rh_envelope *slot)
{
    return (void *)(slot + 1);
}

/* The producer's published position (head) and the consumer's released
 * one (tail), with acquire: what the other side wrote before storing them
 * is visible.  Positions only grow. */
static inline uint64_t rh_ring_committed(const rh_ring *r)
{
    /* Pairs with the release store of head in rh__ring_commit. */
    return __atomic_load_n(&r->ctl.head, __ATOMIC_ACQUIRE);
}

static inline uint64_t rh_ring_released(const rh_ring *r)
{
    /* Pairs with the release store of tail in rh__ring_release. */
    return __atomic_load_n(&r->ctl.tail, __ATOMIC_ACQUIRE);
}

/* Messages in the ring now (approximate under concurrency). */
uint32_t rh__ring_count(const rh_ring *r);
uint32_t rh__ring_free(const rh_ring *r);

/* Producer, zero-copy: up to n free slots starting at *pos (returns how many,
 * 0 when full).  Fill them with rh_ring_slot(r, *pos + i), then publish. */
uint32_t rh__ring_reserve(rh_ring *r, uint32_t n, uint64_t *pos);
/* Publish n reserved slots (in order). */
void rh__ring_commit(rh_ring *r, uint32_t n);

/* Consumer, zero-copy: up to n filled slots starting at *pos. */
uint32_t rh__ring_peek(rh_ring *r, uint32_t n, uint64_t *pos);
/* Give n peeked slots back to the producer. */
void rh__ring_release(rh_ring *r, uint32_t n);

/* Copy one message in (env + payload of len bytes); 0 or RH_EFULL. */
int rh__ring_push(rh_ring *r, const rh_envelope *env, const void *payload, uint32_t len);
/* Copy one message out; payload length, or RH_EEMPTY. */
int rh__ring_pop(rh_ring *r, rh_envelope *env, void *payload, uint32_t cap);

#endif /* RH_RING_H */
