/*
 * ring.c — the kernel ring: single producer, single consumer, fixed slots.
 *
 * Ownership, which is what makes it safe without locks:
 *  - head and tail_cache are written only by the producer thread;
 *  - tail and head_cache are written only by the consumer thread;
 *  - a slot in [tail, head) belongs to the consumer, every other slot to the
 *    producer.
 * Positions are 64-bit and never wrap in practice (2^64 messages), so
 * head - tail is always the fill level and full/empty need no spare slot.
 *
 * Ordering: the producer fills slots, then publishes head with a release
 * store; the consumer loads head with acquire before reading those slots.
 * Symmetrically the consumer releases tail after it is done with slots and
 * the producer acquires tail before overwriting them.  Each side reloads the
 * other's index only when its cached copy says "no room" / "nothing there",
 * so in steady state a burst touches the other side's cache line once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ringhost/ringhost.h"
#include "queue/ring.h"

#define CACHE_LINE 64u

/* Largest capacity accepted: same bound as named queues (2^24 slots). */
#define RING_CAPACITY_MAX (1u << 24)

rh_ring *rh__ring_create(uint32_t capacity, uint32_t payload_size)
{
    if (capacity < 2 || capacity > RING_CAPACITY_MAX || (capacity & (capacity - 1)) != 0)
        return NULL;
    /* Computed in 64 bits so a huge payload_size cannot wrap the slot size. */
    uint64_t slot = ((uint64_t)sizeof(rh_envelope) + payload_size + CACHE_LINE - 1) &
                    ~(uint64_t)(CACHE_LINE - 1);
    if (slot > INT32_MAX) /* rh__ring_pop returns lengths as int */
        return NULL;

    /* rh_ring itself holds _Alignas(64) members, so malloc's 16-byte
     * alignment is not enough. */
    rh_ring *r = aligned_alloc(CACHE_LINE, sizeof(*r));
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    void *slots = NULL;
    if (posix_memalign(&slots, CACHE_LINE, (size_t)slot * capacity) != 0) {
        free(r);
        return NULL;
    }
    /* Zeroed so a reserved slot never leaks an earlier process's bytes and
     * rh_emit_reserve can hand out zeroed payloads from a fresh ring. */
    memset(slots, 0, (size_t)slot * capacity);

    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = 0;
    r->head_cache = 0;
    r->capacity = capacity;
    r->mask = capacity - 1;
    r->payload_size = payload_size;
    r->slot_size = (uint32_t)slot;
    r->slots = slots;
    rh__bell_init(&r->not_empty, 0);
    rh__bell_init(&r->not_full, 0);
    return r;
}

rh_ring *rh__ring_create_shared(uint32_t capacity, uint32_t payload_size)
{
    if (capacity < 2 || capacity > RING_CAPACITY_MAX || (capacity & (capacity - 1)) != 0)
        return NULL;
    uint64_t slot = ((uint64_t)sizeof(rh_envelope) + payload_size + CACHE_LINE - 1) &
                    ~(uint64_t)(CACHE_LINE - 1);
    if (slot > INT32_MAX)
        return NULL;
    /* The header first, the slots after it on the next cache line; a fresh
     * anonymous mapping is zeroed and page aligned. */
    size_t head = (sizeof(rh_ring) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
    size_t len = head + (size_t)slot * capacity;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    rh_ring *r = m;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->capacity = capacity;
    r->mask = capacity - 1;
    r->payload_size = payload_size;
    r->slot_size = (uint32_t)slot;
    r->slots = (unsigned char *)m + head;
    r->map_len = len;
    rh__bell_init(&r->not_empty, 1);
    rh__bell_init(&r->not_full, 1);
    return r;
}

void rh__ring_destroy(rh_ring *r)
{
    if (!r)
        return;
    if (r->map_len) {
        munmap(r, r->map_len);
        return;
    }
    free(r->slots);
    free(r);
}

uint32_t rh__ring_count(const rh_ring *r)
{
    /* tail first: head only grows, so the later head read is >= this tail
     * and the difference cannot underflow. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t n = head - tail;
    return n > r->capacity ? r->capacity : (uint32_t)n;
}

uint32_t rh__ring_free(const rh_ring *r)
{
    return r->capacity - rh__ring_count(r);
}

/* ------------------------------------------------------------ producer -- */

uint32_t rh__ring_reserve(rh_ring *r, uint32_t n, uint64_t *pos)
{
    /* Only this thread writes head: a relaxed load reads its own value. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t room = r->capacity - (head - r->tail_cache);
    if (room < n) {
        /* Acquire pairs with the consumer's release in rh__ring_release: the
         * consumer is done reading the slots it gave back. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        room = r->capacity - (head - r->tail_cache);
    }
    *pos = head;
    return room < n ? (uint32_t)room : n;
}

void rh__ring_commit(rh_ring *r, uint32_t n)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    /* Release: the slot contents written since reserve become visible to a
     * consumer that acquires the new head. */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    rh_bell_ring(&r->not_empty);
}

int rh__ring_push(rh_ring *r, const rh_envelope *env, const void *payload, uint32_t len)
{
    if (len > r->payload_size)
        return RH_ETOOBIG;
    uint64_t pos;
    if (rh__ring_reserve(r, 1, &pos) == 0)
        return RH_EFULL;
    rh_envelope *slot = rh_ring_slot(r, pos);
    if (env)
        *slot = *env;
    else
        memset(slot, 0, sizeof(*slot));
    slot->payload_len = len;
    if (len)
        memcpy(rh_ring_payload(slot), payload, len);
    rh__ring_commit(r, 1);
    return 0;
}

/* ------------------------------------------------------------ consumer -- */

uint32_t rh__ring_peek(rh_ring *r, uint32_t n, uint64_t *pos)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t avail = r->head_cache - tail;
    if (avail < n) {
        /* Acquire pairs with the release in rh__ring_commit. */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->head_cache - tail;
    }
    *pos = tail;
    return avail < n ? (uint32_t)avail : n;
}

void rh__ring_release(rh_ring *r, uint32_t n)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    /* Release: our reads of these slots happen before the producer reuses
     * them. */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    rh_bell_ring(&r->not_full);
}

int rh__ring_pop(rh_ring *r, rh_envelope *env, void *payload, uint32_t cap)
{
    uint64_t pos;
    if (rh__ring_peek(r, 1, &pos) == 0)
        return RH_EEMPTY;
    rh_envelope *slot = rh_ring_slot(r, pos);
    uint32_t len = slot->payload_len;
    if (len > cap)
        return RH_ETOOBIG; /* left in the ring: the caller may retry with more room */
    if (env)
        *env = *slot;
    if (len)
        memcpy(payload, rh_ring_payload(slot), len);
    rh__ring_release(r, 1);
    return (int)len;
}
