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
 *
 * The words are those of rh_ring_ctl (ringhost/ring_abi.h), plain uint64_t
 * so C++ and CUDA share the layout; every access to head and tail here is an
 * __atomic builtin with the order written beside it, and the other side may
 * be a device poller that keeps the same protocol with system scope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ringhost/ringhost.h"
#include "ring/ring.h"

/* Largest capacity accepted: same bound as named queues (2^24 slots). */
#define RING_CAPACITY_MAX (1u << 24)

/* ------------------------------------------------------------ memory -- */

static void *heap_alloc(size_t len, void *ctx)
{
    (void)ctx;
    /* rh_ring starts with an _Alignas(64) block and the slots are lines:
     * malloc's 16-byte alignment is not enough.  len is a multiple of 64,
     * as aligned_alloc asks. */
    void *p = aligned_alloc(RH_RING_LINE, len);
    if (p)
        memset(p, 0, len);
    return p;
}

static void heap_free(void *p, size_t len, void *ctx)
{
    (void)len;
    (void)ctx;
    free(p);
}

static void *shared_alloc(size_t len, void *ctx)
{
    (void)ctx;
    /* A fresh anonymous mapping is zeroed and page aligned; MAP_SHARED keeps
     * it one memory with a child fork()ed afterwards. */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void shared_free(void *p, size_t len, void *ctx)
{
    (void)ctx;
    munmap(p, len);
}

const rh_ring_mem rh__ring_mem_heap = {"heap", heap_alloc, heap_free, NULL, 0};
const rh_ring_mem rh__ring_mem_shared = {"shared", shared_alloc, shared_free, NULL, 1};

/* ------------------------------------------------------------ lifecycle -- */

rh_ring *rh__ring_create(const rh_ring_mem *mem, uint32_t capacity, uint32_t payload_size)
{
    if (!mem || !mem->alloc || !mem->free)
        return NULL;
    if (capacity < 2 || capacity > RING_CAPACITY_MAX || (capacity & (capacity - 1)) != 0)
        return NULL;
    /* Computed in 64 bits so a huge payload_size cannot wrap the slot size. */
    uint64_t slot = RH_RING_SLOT_SIZE(payload_size);
    if (slot > INT32_MAX) /* rh__ring_pop returns lengths as int */
        return NULL;
    /* The ring first, the slots after it on the next line: one allocation,
     * so slots_offset reaches them from the control block in any process
     * that maps it.  At most 2^24 slots of < 2^31 bytes: fits 64 bits. */
    uint64_t offset = ((uint64_t)sizeof(rh_ring) + RH_RING_LINE - 1) & ~(uint64_t)(RH_RING_LINE - 1);
    uint64_t len = offset + slot * capacity;
#if SIZE_MAX < UINT64_MAX
    if (len > SIZE_MAX)
        return NULL;
#endif
    /* Zeroed by the allocator, so a reserved slot never leaks an earlier
     * process's bytes and rh_emit_reserve hands out zeroed payloads from a
     * fresh ring; head, tail, their caches, flow (RUN) and heartbeat start
     * at 0. */
    rh_ring *r = mem->alloc((size_t)len, mem->ctx);
    if (!r)
        return NULL;
    r->ctl.capacity = capacity;
    r->ctl.mask = capacity - 1;
    r->ctl.slot_size = (uint32_t)slot;
    r->ctl.payload_size = payload_size;
    r->ctl.slots_offset = offset;
    r->ctl.abi_version = RH_RING_ABI_VERSION;
    r->ctl.flow = RH_RING_FLOW_RUN;
    rh__bell_init(&r->not_empty, mem->shared);
    rh__bell_init(&r->not_full, mem->shared);
    r->mem = *mem;
    r->len = (size_t)len;
    /* The ring reaches the threads that use it through whatever hands its
     * pointer over (a thread's start, a worker's publication): no index
     * store here needs ordering of its own. */
    return r;
}

void rh__ring_destroy(rh_ring *r)
{
    if (!r)
        return;
    rh_ring_mem mem = r->mem; /* r is freed by the call */
    mem.free(r, r->len, mem.ctx);
}

uint32_t rh__ring_count(const rh_ring *r)
{
    /* tail first: head only grows, so the later head read is >= this tail
     * and the difference cannot underflow.  The acquires pair with the
     * release stores of rh__ring_release (tail) and rh__ring_commit (head). */
    uint64_t tail = __atomic_load_n(&r->ctl.tail, __ATOMIC_ACQUIRE);
    uint64_t head = __atomic_load_n(&r->ctl.head, __ATOMIC_ACQUIRE);
    uint64_t n = head - tail;
    return n > r->ctl.capacity ? r->ctl.capacity : (uint32_t)n;
}

uint32_t rh__ring_free(const rh_ring *r)
{
    return r->ctl.capacity - rh__ring_count(r);
}

/* ------------------------------------------------------------ producer -- */

uint32_t rh__ring_reserve(rh_ring *r, uint32_t n, uint64_t *pos)
{
    /* Only this thread writes head: a relaxed load reads its own value. */
    uint64_t head = __atomic_load_n(&r->ctl.head, __ATOMIC_RELAXED);
    uint64_t room = r->ctl.capacity - (head - r->ctl.tail_cache);
    if (room < n) {
        /* Acquire pairs with the consumer's release in rh__ring_release: the
         * consumer is done reading the slots it gave back. */
        r->ctl.tail_cache = __atomic_load_n(&r->ctl.tail, __ATOMIC_ACQUIRE);
        room = r->ctl.capacity - (head - r->ctl.tail_cache);
    }
    *pos = head;
    return room < n ? (uint32_t)room : n;
}

void rh__ring_commit(rh_ring *r, uint32_t n)
{
    /* Only this thread writes head (relaxed, as in rh__ring_reserve). */
    uint64_t head = __atomic_load_n(&r->ctl.head, __ATOMIC_RELAXED);
    /* Release: the slot contents written since reserve become visible to a
     * consumer that acquires the new head. */
    __atomic_store_n(&r->ctl.head, head + n, __ATOMIC_RELEASE);
    rh_bell_ring(&r->not_empty);
}

int rh__ring_push(rh_ring *r, const rh_envelope *env, const void *payload, uint32_t len)
{
    if (len > r->ctl.payload_size)
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
    /* Only this thread writes tail: a relaxed load reads its own value. */
    uint64_t tail = __atomic_load_n(&r->ctl.tail, __ATOMIC_RELAXED);
    uint64_t avail = r->ctl.head_cache - tail;
    if (avail < n) {
        /* Acquire pairs with the release in rh__ring_commit. */
        r->ctl.head_cache = __atomic_load_n(&r->ctl.head, __ATOMIC_ACQUIRE);
        avail = r->ctl.head_cache - tail;
    }
    *pos = tail;
    return avail < n ? (uint32_t)avail : n;
}

void rh__ring_release(rh_ring *r, uint32_t n)
{
    /* Only this thread writes tail (relaxed, as in rh__ring_peek). */
    uint64_t tail = __atomic_load_n(&r->ctl.tail, __ATOMIC_RELAXED);
    /* Release: our reads of these slots happen before the producer reuses
     * them. */
    __atomic_store_n(&r->ctl.tail, tail + n, __ATOMIC_RELEASE);
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
