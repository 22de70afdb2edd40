/*
 * dedup.c — the dedup window of an input port: "was this message id among
 * the last N the input bridge accepted" (manifest "dedup_window"), so a
 * sender may retry after a timeout without the kernel seeing the message
 * twice.  One window per input port (rh_kinst.dedup), shared by the inline
 * workers' bridges under a lock (bridge.c takes it once per burst).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/dedup.h"

/*
 * Why a hand-written table: we need "was this id among the last N
 * accepted", with N fixed and no allocation per message.  An open-addressing
 * table of 4N slots, each tagged with its acceptance number, answers it:
 * a slot whose number is older than N is stale and reusable, so nothing is
 * ever deleted.  Probing is bounded; with at most N live entries in 4N slots
 * a live entry is always within the bound (the chance of 64 live slots in a
 * row at load <= 1/4 is negligible, and then the worst case is one missed
 * duplicate, never a lost message).
 */
#define RH_DEDUP_PROBES 64

int rh__dedup_init(rh_dedup *d, uint32_t window)
{
    memset(d, 0, sizeof *d);
    d->window = window;
    if (window == 0)
        return 0;
    uint64_t size = 64;
    while (size < (uint64_t)window * 4)
        size <<= 1;
    d->table = calloc(size, sizeof *d->table);
    if (!d->table)
        return RH_ENOMEM;
    d->mask = (uint32_t)(size - 1);
    return 0;
}

void rh__dedup_free(rh_dedup *d)
{
    free(d->table);
    d->table = NULL;
}

static inline uint32_t id_hash(rh_id id)
{
    uint64_t h = id.hi ^ (id.lo * 0x9e3779b97f4a7c15ull);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h ^ (h >> 32));
}

int rh__dedup_seen(const rh_dedup *d, rh_id id)
{
    if (d->window == 0)
        return 0;
    uint64_t oldest_live = d->seq >= d->window ? d->seq - d->window + 1 : 1;
    uint32_t h = id_hash(id);
    for (uint32_t i = 0; i < RH_DEDUP_PROBES; i++) {
        const struct rh_dedup_slot *s = &d->table[(h + i) & d->mask];
        if (s->seq != 0 && s->seq >= oldest_live && rh_id_eq(s->id, id))
            return 1;
        if (s->seq == 0)
            break;
    }
    return 0;
}

int rh__dedup_seen_or_add(rh_dedup *d, rh_id id)
{
    if (d->window == 0)
        return 0;
    uint64_t oldest_live = d->seq >= d->window ? d->seq - d->window + 1 : 1;
    uint32_t h = id_hash(id);
    struct rh_dedup_slot *free_slot = NULL;
    for (uint32_t i = 0; i < RH_DEDUP_PROBES; i++) {
        struct rh_dedup_slot *s = &d->table[(h + i) & d->mask];
        int live = s->seq != 0 && s->seq >= oldest_live;
        if (live && rh_id_eq(s->id, id))
            return 1;
        if (!live && !free_slot)
            free_slot = s;
        if (s->seq == 0)
            break; /* never used: the id cannot be further along */
    }
    if (!free_slot) /* pathological clustering: evict the home slot */
        free_slot = &d->table[h & d->mask];
    free_slot->id = id;
    free_slot->seq = ++d->seq;
    return 0;
}
