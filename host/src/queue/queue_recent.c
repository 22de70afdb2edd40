/*
 * queue_recent.c — the ids of the messages a queue accepted last, read
 * from their cells, consumed or not.
 *
 * A cell keeps its message's bytes after a consumer took it, until a
 * producer claims the cell again a full lap later.  So the last
 * min(capacity, published) cells before prod_tail hold the last messages
 * the queue accepted: what an output bridge checks a redelivered input's
 * answers against (bridge.c), including the answers a client already
 * received before the host was killed (a persist queue keeps its cells
 * across the restart).  A slow path, once per redelivery episode.
 *
 * Nothing read here is trusted beyond the mapping: the positions come from
 * a header another process may scribble on, but every cell address is
 * masked by the handle's own capacity (queue_layout.h), so a wrong index
 * yields wrong ids (a missed duplicate at worst), never a wild read.
 */
#include "queue/queue_layout.h"
#include "queue/queue_pvt.h"

uint32_t rh__queue_recent_ids(const rh_queue *q, rh_id *out, uint32_t max)
{
    uint64_t end = atomic_load_explicit(&q->h->prod_tail, memory_order_acquire);
    uint64_t n = end < q->capacity ? end : q->capacity;
    if (n > max)
        n = max;
    for (uint64_t i = 0; i < n; i++) {
        const cell *c =
            (const cell *)(q->cells + (size_t)((end - n + i) & q->mask) * q->slot_size);
        out[i] = c->env.id;
    }
    return (uint32_t)n;
}
