/*
 * test_ring_abi.c — ringhost/ring_abi.h read by C11, C++ and CUDA alike.
 *
 * The same file is built three ways (tests/unit/tests.cmake): as C11
 * (test_ring_abi_c), as C++17 (test_ring_abi_cxx, through
 * test_ring_abi.cpp) and, where nvcc is found, compiled as CUDA
 * (test_ring_abi_nvcc: compile only, no GPU needed).  Each compile pins
 * the offsets below with static asserts: the numbers a reader in another
 * language would write down, repeated here on purpose.  The C and C++
 * programs then check that the host library (compiled as C, with its own
 * flags) keeps every word where this compiler puts it, and play each side
 * of a live ring the library made: a consumer of what the library
 * produced, a producer of what the library consumes, through nothing but
 * the public layout.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ringhost/ring_abi.h"

#define PIN(cond) RH_RING_STATIC_ASSERT(cond, #cond)
PIN(sizeof(rh_ring_ctl) == 256);
PIN(offsetof(rh_ring_ctl, head) == 0);
PIN(offsetof(rh_ring_ctl, tail_cache) == 8);
PIN(offsetof(rh_ring_ctl, tail) == 64);
PIN(offsetof(rh_ring_ctl, head_cache) == 72);
PIN(offsetof(rh_ring_ctl, capacity) == 128);
PIN(offsetof(rh_ring_ctl, mask) == 132);
PIN(offsetof(rh_ring_ctl, slot_size) == 136);
PIN(offsetof(rh_ring_ctl, payload_size) == 140);
PIN(offsetof(rh_ring_ctl, slots_offset) == 144);
PIN(offsetof(rh_ring_ctl, abi_version) == 152);
PIN(offsetof(rh_ring_ctl, flow) == 192);
PIN(offsetof(rh_ring_ctl, heartbeat) == 200);
PIN(sizeof(rh_envelope) == 48);
PIN(offsetof(rh_envelope, payload_len) == 40);
PIN(offsetof(rh_envelope, port) == 46);
PIN(RH_RING_SLOT_SIZE(8) == 64 && RH_RING_SLOT_SIZE(24) == 128);

#ifdef __CUDACC__
/* The device side, compiled only: a one-thread consumer over the public
 * layout with system-scope ordering, as a persistent poller would read a
 * ring in mapped host memory. */
#include <cuda/atomic>

__global__ void ring_abi_consume_one(rh_ring_ctl *ctl, uint64_t *out)
{
    cuda::atomic_ref<uint64_t, cuda::thread_scope_system> head(ctl->head);
    cuda::atomic_ref<uint64_t, cuda::thread_scope_system> tail(ctl->tail);
    cuda::atomic_ref<uint32_t, cuda::thread_scope_system> flow(ctl->flow);
    cuda::atomic_ref<uint64_t, cuda::thread_scope_system> beat(ctl->heartbeat);
    uint64_t t = tail.load(cuda::memory_order_relaxed); /* only this side writes tail */
    for (uint64_t round = 0; round < (1u << 20); round++) {
        beat.store(round + 1, cuda::memory_order_release);
        if (flow.load(cuda::memory_order_acquire) == RH_RING_FLOW_STOP)
            return;
        /* Acquire pairs with the producer's release store of head. */
        if (head.load(cuda::memory_order_acquire) == t)
            continue;
        rh_envelope *slot = rh_ring_ctl_slot(ctl, t);
        memcpy(out, rh_ring_ctl_payload(slot), sizeof *out);
        /* Release: the read above happens before the producer reuses it. */
        tail.store(t + 1, cuda::memory_order_release);
        return;
    }
}
#else
#include <stdio.h>

#include "ring_abi_host.h"

static int failures;

#define CHECK(cond, ...)                                       \
    do {                                                       \
        if (!(cond)) {                                         \
            fprintf(stderr, "%s:%d: expected %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                      \
            fputc('\n', stderr);                               \
            failures++;                                        \
        }                                                      \
    } while (0)

#ifdef __cplusplus
#define LANG "C++"
#else
#define LANG "C11"
#endif

static void check_offsets_match_the_library(void)
{
    ring_abi_offsets o;
    ring_abi_host_offsets(&o);
#define SAME(field)                                                                    \
    CHECK(o.field == offsetof(rh_ring_ctl, field), "the library's rh_ring keeps " #field \
          " at %zu, " LANG " at %zu", o.field, offsetof(rh_ring_ctl, field))
    SAME(head);
    SAME(tail_cache);
    SAME(tail);
    SAME(head_cache);
    SAME(capacity);
    SAME(mask);
    SAME(slot_size);
    SAME(payload_size);
    SAME(slots_offset);
    SAME(abi_version);
    SAME(flow);
    SAME(heartbeat);
#undef SAME
    CHECK(o.ctl_size == sizeof(rh_ring_ctl), "library %zu bytes, " LANG " %zu", o.ctl_size,
          sizeof(rh_ring_ctl));
    CHECK(o.ctl_align == 64, "library alignment %zu", o.ctl_align);
}

/* What the library produced, consumed through the layout alone; then the
 * other way. */
static void check_a_library_ring_is_read_and_written_through_the_layout(void)
{
    rh_ring_ctl *ctl = ring_abi_host_ring(8, 24);
    CHECK(ctl != NULL, "a ring");
    if (!ctl)
        return;
    CHECK(ctl->abi_version == RH_RING_ABI_VERSION && ctl->capacity == 8 && ctl->mask == 7 &&
              ctl->payload_size == 24 && ctl->slot_size == RH_RING_SLOT_SIZE(24) &&
              ctl->slots_offset % 64 == 0 && ctl->flow == RH_RING_FLOW_RUN,
          "the control block filled in (version %u, capacity %u, slot %u, offset %llu)",
          ctl->abi_version, ctl->capacity, ctl->slot_size,
          (unsigned long long)ctl->slots_offset);
    for (uint64_t v = 1; v <= 3; v++)
        CHECK(ring_abi_host_push(ctl, v * 11) == 0, "push %llu", (unsigned long long)v);

    /* Consumer: acquire head (pairs with the library's release in
     * rh__ring_commit), read the slots, release tail. */
    uint64_t head = __atomic_load_n(&ctl->head, __ATOMIC_ACQUIRE);
    uint64_t tail = __atomic_load_n(&ctl->tail, __ATOMIC_RELAXED);
    CHECK(head == 3 && tail == 0, "head 3 and tail 0, got %llu and %llu",
          (unsigned long long)head, (unsigned long long)tail);
    for (uint64_t p = 0; p < 2; p++) {
        rh_envelope *slot = rh_ring_ctl_slot(ctl, p);
        uint64_t v;
        memcpy(&v, rh_ring_ctl_payload(slot), sizeof v);
        CHECK(v == (p + 1) * 11 && slot->payload_len == 8 && slot->id.hi == v &&
                  slot->id.lo == ~v,
              "message %llu in slot %llu, got %llu (len %u)", (unsigned long long)(p + 1) * 11,
              (unsigned long long)p, (unsigned long long)v, slot->payload_len);
    }
    __atomic_store_n(&ctl->tail, tail + 2, __ATOMIC_RELEASE);
    uint64_t got = 0;
    CHECK(ring_abi_host_count(ctl) == 1 && ring_abi_host_pop(ctl, &got) == 0 && got == 33,
          "the library to see two taken and pop the third, got %llu", (unsigned long long)got);

    /* Producer: fill the slot at head, then release head; the library's
     * peek acquires it. */
    head = __atomic_load_n(&ctl->head, __ATOMIC_RELAXED);
    rh_envelope *slot = rh_ring_ctl_slot(ctl, head);
    uint64_t v = 4242;
    memset(slot, 0, sizeof *slot);
    slot->id.hi = v;
    slot->id.lo = ~v;
    slot->payload_len = sizeof v;
    memcpy(rh_ring_ctl_payload(slot), &v, sizeof v);
    __atomic_store_n(&ctl->head, head + 1, __ATOMIC_RELEASE);
    got = 0;
    CHECK(ring_abi_host_pop(ctl, &got) == 0 && got == v,
          "the library to pop what " LANG " produced, got %llu", (unsigned long long)got);
    ring_abi_host_destroy(ctl);
}

int main(void)
{
    check_offsets_match_the_library();
    check_a_library_ring_is_read_and_written_through_the_layout();
    if (failures)
        fprintf(stderr, "test_ring_abi (" LANG "): %d failed\n", failures);
    else
        printf("test_ring_abi (" LANG "): ok\n");
    return failures ? 1 : 0;
}
#endif
