/*
 * queue_info.c — what the named queue says about itself: its counters (the
 * host-side ones the bridges bump, and the snapshot rh_queue_stats_get
 * derives from the indices), the names of its policies, the rule for queue
 * names, the accessors, and the list of an instance's shared queues (the
 * names in /dev/shm).  None of it is on the message path; that is queue.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/struct_size.h"
#include "base/own_name.h"
#include "queue/queue_layout.h"

/* ----------------------------------------------------------- counters --- */

void rh__queue_count(rh_queue *q, rh_queue_counter which, uint64_t n)
{
    static const int map[] = {
        [RH_QC_DUPLICATES] = C_DUPLICATES, [RH_QC_EXPIRED] = C_EXPIRED,
        [RH_QC_INVALID] = C_INVALID,       [RH_QC_FAILED] = C_FAILED,
        [RH_QC_DEAD_LETTERED] = C_DEAD_LETTERED, [RH_QC_REJECTED] = C_REJECTED,
    };
    if (q && (unsigned)which < sizeof(map) / sizeof(map[0]))
        atomic_fetch_add_explicit(&q->h->counters[map[which]], n, memory_order_relaxed);
}

int rh_queue_stats_get(const rh_queue *q, rh_queue_stats *out)
{
    if (!q || !out)
        return RH_EINVAL;
    rh_queue_stats full = RH_QUEUE_STATS_INIT;
    rh__queue_stats_read(q, &full);
    /* Only the caller's struct_size bytes are written (base/struct_size.h). */
    return rh__struct_out(&rh__kind_queue_stats, out, &full, NULL);
}

void rh__queue_stats_read(const rh_queue *q, rh_queue_stats *out)
{
    queue_header *h = q->h;
    memset(out, 0, sizeof *out);
    out->struct_size = (uint32_t)sizeof *out;
    /* Read order matters: dropped_oldest is bumped after its cons_tail
     * advance and cons_tail never passes prod_tail, so reading them in this
     * order (acquire) keeps dropped <= deq <= enq in the snapshot. */
    uint64_t dropped = atomic_load_explicit(&h->counters[C_DROPPED_OLDEST], memory_order_acquire);
    uint64_t void_taken = atomic_load_explicit(&h->counters[C_VOID_TAKEN], memory_order_acquire);
    uint64_t deq = atomic_load_explicit(&h->cons_tail, memory_order_acquire);
    uint64_t enq = atomic_load_explicit(&h->prod_tail, memory_order_acquire);
    uint64_t void_made = atomic_load_explicit(&h->counters[C_VOID_MADE], memory_order_acquire);
    /* Void cells (a dead holder's reservation, queue_loan.c) pass both
     * tails but carry no message: neither enqueued nor dequeued.  Each is
     * counted around its tail's move, so a snapshot may see one count a
     * little ahead of its tail: clamped, never below zero. */
    enq = enq > void_made ? enq - void_made : 0;
    deq = deq > void_taken ? deq - void_taken : 0;
    if (deq > enq)
        deq = enq;
    if (dropped > deq)
        dropped = deq;
    out->enqueued = enq;
    out->dequeued = deq - dropped;
    out->depth = enq - deq > q->capacity ? q->capacity : enq - deq;
    out->rejected = atomic_load_explicit(&h->counters[C_REJECTED], memory_order_relaxed);
    out->dropped_oldest = dropped;
    out->dropped_newest = atomic_load_explicit(&h->counters[C_DROPPED_NEWEST], memory_order_relaxed);
    out->duplicates = atomic_load_explicit(&h->counters[C_DUPLICATES], memory_order_relaxed);
    out->expired = atomic_load_explicit(&h->counters[C_EXPIRED], memory_order_relaxed);
    out->invalid = atomic_load_explicit(&h->counters[C_INVALID], memory_order_relaxed);
    out->failed = atomic_load_explicit(&h->counters[C_FAILED], memory_order_relaxed);
    out->dead_lettered = atomic_load_explicit(&h->counters[C_DEAD_LETTERED], memory_order_relaxed);
    /* Consumers only raise high_water when they dequeue; include the depth
     * seen now so a queue nobody drained yet still reports its peak. */
    uint64_t hw = atomic_load_explicit(&h->high_water, memory_order_relaxed);
    out->high_water = hw > out->depth ? hw : out->depth;
    out->capacity = q->capacity;
}

/* --------------------------------------------------- names and policies -- */

static const char *const bp_names[] = {
    [RH_BP_BLOCK] = "block",
    [RH_BP_REJECT] = "reject",
    [RH_BP_DROP_OLDEST] = "drop_oldest",
    [RH_BP_DROP_NEWEST] = "drop_newest",
};
_Static_assert(sizeof(bp_names) / sizeof(bp_names[0]) == BP_COUNT,
               "one name per rh_backpressure policy");

const char *rh_backpressure_name(rh_backpressure bp)
{
    return (unsigned)bp < BP_COUNT ? bp_names[bp] : "unknown";
}

int rh_backpressure_parse(const char *name)
{
    for (unsigned i = 0; name && i < BP_COUNT; i++)
        if (strcmp(name, bp_names[i]) == 0)
            return (int)i;
    return -1;
}

int rh_queue_name_valid(const char *name)
{
    if (!name)
        return 0;
    size_t i = 0;
    for (; name[i]; i++) {
        unsigned char ch = (unsigned char)name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok || i >= RH_QUEUE_NAME_MAX)
            return 0;
    }
    return i > 0;
}

const char *rh_queue_name(const rh_queue *q) { return q->name; }
const char *rh_queue_type_name(const rh_queue *q) { return q->type_name; }
uint64_t rh_queue_fingerprint(const rh_queue *q) { return q->fingerprint; }
const rh_type *rh_queue_type(const rh_queue *q) { return q->type; }
const char *rh_queue_type_origin(const rh_queue *q) { return q->type_origin; }
const rh_queue_config *rh_queue_config_of(const rh_queue *q) { return &q->cfg; }
uint32_t rh_queue_payload_size(const rh_queue *q) { return q->payload_size; }
rh_bell *rh__queue_not_empty_bell(rh_queue *q) { return &q->h->not_empty; }

/* ---------------------------------------------------- object names --- */

/* "/ringhost.<instance>:<name>[:N]" (queue_layout.h).  Both parts are
 * checked by the callers, so the result always fits.  ':' is in neither
 * part's alphabet, so no two (instance, queue) pairs share an object name
 * even when both hold dots, and ":N" is never part of a queue's name. */
int rh__queue_shm_name(const char *instance, const char *name, int create, char *buf,
                       size_t len, uid_t *squatter)
{
    char base[sizeof(SHM_PREFIX) + 2 * RH_QUEUE_NAME_MAX + 1];
    snprintf(base, sizeof base, SHM_PREFIX "%s:%s", instance, name);
    buf[0] = '/';
    int rc = rh__own_name(SHM_DIR, base, ':', create, buf + 1, len - 1, squatter);
    if (rc < 0)
        snprintf(buf, len, "/%s", base);
    return rc;
}

/* ------------------------------------------------------- the list --- */

/* Each queue once: "<name>" and its numbered "<name>:N" (another user
 * holding the plain name) are one queue, which rh_queue_attach resolves. */
int rh_queue_list(const char *instance, void (*fn)(const char *name, void *arg), void *arg)
{
    if (!rh_queue_name_valid(instance))
        return RH_EINVAL;
    char prefix[sizeof(SHM_PREFIX) + RH_QUEUE_NAME_MAX + 1];
    snprintf(prefix, sizeof prefix, SHM_PREFIX "%s:", instance);
    size_t plen = strlen(prefix);
    DIR *d = opendir(SHM_DIR);
    if (!d)
        return RH_ESYS;
    char (*seen)[RH_QUEUE_NAME_MAX + 1] = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        char name[RH_QUEUE_NAME_MAX + 1];
        const char *rest = de->d_name + plen, *colon = strchr(rest, ':');
        size_t len = colon ? (size_t)(colon - rest) : strlen(rest);
        if (len > RH_QUEUE_NAME_MAX)
            continue;
        memcpy(name, rest, len);
        name[len] = 0;
        if (!rh_queue_name_valid(name) || (colon && !colon[1]))
            continue;
        size_t i = 0;
        while (i < n && strcmp(seen[i], name) != 0)
            i++;
        if (i < n)
            continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 32;
            void *grown = realloc(seen, c * sizeof *seen);
            if (!grown) {
                rc = RH_ENOMEM;
                break;
            }
            seen = grown;
            cap = c;
        }
        memcpy(seen[n++], name, len + 1);
    }
    closedir(d);
    for (size_t i = 0; rc == 0 && fn && i < n; i++)
        fn(seen[i], arg);
    free(seen);
    return rc ? rc : (int)n;
}
