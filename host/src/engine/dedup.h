/*
 * dedup.h — the dedup window of an input port (dedup.c): the ids the input
 * bridge accepted recently.  Owned by one kernel port; not thread-safe (the
 * bridges that share one hold rh_kinst.dedup_lock around it).
 */
#ifndef RH_ENGINE_DEDUP_H
#define RH_ENGINE_DEDUP_H

#include <stdint.h>

#include "ringhost/ringhost.h"

/* Message ids the input bridge accepted recently (dedup window). */
typedef struct rh_dedup {
    uint32_t window;  /* N: remember the last N accepted ids; 0 = off */
    uint32_t mask;    /* table size - 1 (4N rounded up to a power of two) */
    uint64_t seq;     /* ids accepted so far */
    struct rh_dedup_slot {
        rh_id id;
        uint64_t seq; /* 1-based acceptance number, 0 = never used */
    } *table;
} rh_dedup;

/* A window of the last `window` ids (0 = off: nothing is ever a
 * duplicate).  0, or RH_ENOMEM. */
int rh__dedup_init(rh_dedup *d, uint32_t window);
void rh__dedup_free(rh_dedup *d);
/* Non-zero when id is among the last N accepted; otherwise records it. */
int rh__dedup_seen_or_add(rh_dedup *d, rh_id id);
/* Non-zero when id is among the last N accepted; records nothing (for a
 * caller that records an id only once the message is accepted: remote/import.c). */
int rh__dedup_seen(const rh_dedup *d, rh_id id);

#endif /* RH_ENGINE_DEDUP_H */
