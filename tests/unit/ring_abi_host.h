/*
 * ring_abi_host.h — the host library's side of test_ring_abi: a real ring
 * (host/src/ring/ring.h, C only) behind functions a C++ program can call,
 * and the offsets the library was compiled with.
 */
#ifndef RH_TEST_RING_ABI_HOST_H
#define RH_TEST_RING_ABI_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/ring_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the library's rh_ring keeps each word of its control block:
 * offsetof(rh_ring, ctl.<word>), so the control block's own offset in
 * rh_ring counts too. */
typedef struct ring_abi_offsets {
    size_t ctl_size, ctl_align;
    size_t head, tail_cache, tail, head_cache;
    size_t capacity, mask, slot_size, payload_size, slots_offset, abi_version;
    size_t flow, heartbeat;
} ring_abi_offsets;

void ring_abi_host_offsets(ring_abi_offsets *o);

/* A heap ring; the pointer is its control block (the ring's first member). */
rh_ring_ctl *ring_abi_host_ring(uint32_t capacity, uint32_t payload_size);
void ring_abi_host_destroy(rh_ring_ctl *ctl);
/* The library as producer: one message, id {v, ~v}, payload the 8 bytes of v. */
int ring_abi_host_push(rh_ring_ctl *ctl, uint64_t v);
/* The library as consumer: 0 and *v, or an RH_E code. */
int ring_abi_host_pop(rh_ring_ctl *ctl, uint64_t *v);
uint32_t ring_abi_host_count(rh_ring_ctl *ctl);

#ifdef __cplusplus
}
#endif

#endif /* RH_TEST_RING_ABI_HOST_H */
