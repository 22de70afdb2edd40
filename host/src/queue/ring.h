/*
 * ring.h — a kernel ring: single-producer single-consumer, fixed slots,
 * process-local memory.
 *
 * Each slot is an rh_envelope followed by a payload of payload_size bytes,
 * padded so every slot starts on a 64-byte boundary.  Producer and consumer
 * indices live on separate cache lines and each side caches the other's
 * index, so the common case touches no shared line except the slots.
 *
 * Two call families, as in DPDK: copy (burst enqueue/dequeue, as many as
 * fit) and zero-copy (reserve/commit for the producer, peek/release for the
 * consumer).  The consumer's bell is rung after every publish, so a parked
 * consumer wakes.
 */
#ifndef RH_RING_H
#define RH_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ringhost/kernel.h"
#include "base/wait.h"

typedef struct rh_ring {
    /* producer line */
    _Alignas(64) _Atomic uint64_t head; /* next slot to publish */
    uint64_t tail_cache;                /* producer's view of tail */
    /* consumer line */
    _Alignas(64) _Atomic uint64_t tail; /* next slot to consume */
    uint64_t head_cache;                /* consumer's view of head */
    /* read-only after create */
    _Alignas(64) uint32_t capacity;     /* slots, power of two */
    uint32_t mask;
    uint32_t payload_size;              /* bytes */
    uint32_t slot_size;                 /* bytes, multiple of 64 */
    unsigned char *slots;
    rh_bell not_empty;                  /* rung by the producer */
    rh_bell not_full;                   /* rung by the consumer */
    size_t map_len;                     /* rh__ring_create_shared: bytes mapped; 0 = malloc'd */
} rh_ring;

/* capacity: power of two >= 2.  Returns NULL on bad args or ENOMEM. */
rh_ring *rh__ring_create(uint32_t capacity, uint32_t payload_size);
/* The same in one MAP_SHARED|MAP_ANONYMOUS mapping with shared bells, so a
 * child process fork()ed afterwards produces or consumes it with its parent
 * (exec/exec_process.c).  rh__ring_destroy unmaps it. */
rh_ring *rh__ring_create_shared(uint32_t capacity, uint32_t payload_size);
void rh__ring_destroy(rh_ring *r);

static inline rh_envelope *rh_ring_slot(const rh_ring *r, uint64_t pos)
{
    return (rh_envelope *)(r->slots + (size_t)(pos & r->mask) * r->slot_size);
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
    return atomic_load_explicit(&r->head, memory_order_acquire);
}

static inline uint64_t rh_ring_released(const rh_ring *r)
{
    return atomic_load_explicit(&r->tail, memory_order_acquire);
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
