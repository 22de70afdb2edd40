/*
 * ring_abi_host.c — see ring_abi_host.h.  Compiled as C with the host
 * library's flags, so its offsets are the library's.
 */
#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h"
#include "ring_abi_host.h"

void ring_abi_host_offsets(ring_abi_offsets *o)
{
    o->ctl_size = sizeof(rh_ring_ctl);
    o->ctl_align = _Alignof(rh_ring_ctl);
    o->head = offsetof(rh_ring, ctl.head);
    o->tail_cache = offsetof(rh_ring, ctl.tail_cache);
    o->tail = offsetof(rh_ring, ctl.tail);
    o->head_cache = offsetof(rh_ring, ctl.head_cache);
    o->capacity = offsetof(rh_ring, ctl.capacity);
    o->mask = offsetof(rh_ring, ctl.mask);
    o->slot_size = offsetof(rh_ring, ctl.slot_size);
    o->payload_size = offsetof(rh_ring, ctl.payload_size);
    o->slots_offset = offsetof(rh_ring, ctl.slots_offset);
    o->abi_version = offsetof(rh_ring, ctl.abi_version);
    o->flow = offsetof(rh_ring, ctl.flow);
    o->heartbeat = offsetof(rh_ring, ctl.heartbeat);
}

rh_ring_ctl *ring_abi_host_ring(uint32_t capacity, uint32_t payload_size)
{
    rh_ring *r = rh__ring_create(&rh__ring_mem_heap, capacity, payload_size);
    return r ? &r->ctl : NULL;
}

/* The control block is rh_ring's first member (ring.h asserts it). */
static rh_ring *ring_of(rh_ring_ctl *ctl)
{
    return (rh_ring *)ctl;
}

void ring_abi_host_destroy(rh_ring_ctl *ctl)
{
    rh__ring_destroy(ring_of(ctl));
}

int ring_abi_host_push(rh_ring_ctl *ctl, uint64_t v)
{
    rh_envelope env = {.id = {v, ~v}};
    return rh__ring_push(ring_of(ctl), &env, &v, sizeof v);
}

int ring_abi_host_pop(rh_ring_ctl *ctl, uint64_t *v)
{
    rh_envelope env;
    int rc = rh__ring_pop(ring_of(ctl), &env, v, sizeof *v);
    if (rc < 0)
        return rc;
    return rc == (int)sizeof *v && env.id.hi == *v && env.id.lo == ~*v ? 0 : -1;
}

uint32_t ring_abi_host_count(rh_ring_ctl *ctl)
{
    return rh__ring_count(ring_of(ctl));
}
