/*
 * queue.c — the named queue: bounded, multi-producer multi-consumer, fixed
 * slots, optionally in POSIX shared memory so other processes attach by name.
 *
 * Algorithm: Dmitry Vyukov's bounded MPMC queue.  Each cell carries a 64-bit
 * stamp; producers race on enqueue_pos and consumers on dequeue_pos with one
 * CAS each, and a cell's stamp says whose turn it is.  No locks, no
 * allocation, no syscall per message; a futex syscall happens only to wake a
 * sleeper that announced itself on a bell (wait.h), or while waiting.
 *
 * Stamps are stored relative to the lap: for position pos, with
 * base = pos & ~mask (the first position of pos's lap),
 *     stamp == base          the cell is free for the producer of pos
 *     stamp == base + 1      it holds the message of pos
 *     stamp == base + cap    consumed; free for pos + cap (the next lap)
 * This is Vyukov's seq minus the cell index, chosen so that all-zero memory
 * (a fresh ftruncate'd shm object or anonymous mapping) is already a valid
 * empty queue: creating a 2^24-slot queue touches no slot pages.
 *
 * Mapping layout: [queue_header][cell 0][cell 1]...; a cell is the stamp,
 * the rh_envelope and payload_size bytes, rounded up to 64 bytes.
 *
 * Counters: nothing is bumped per message.  enqueued and dequeued are
 * derived from the two positions (which only grow), depth from their
 * difference; only the slow paths (full queue, host-side drops) touch the
 * counter line.  high_water is raised by consumers once per burst, and set
 * to capacity by a producer that finds the queue full.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_pvt.h"

#define QUEUE_MAGIC 0x0045554555514852ull /* "RHQUEUE\0" little-endian */
#define QUEUE_LAYOUT_VERSION 1u
#define TYPE_NAME_MAX 127                 /* bytes, without the NUL */
#define TYPE_ORIGIN_MAX 512               /* bytes, without the NUL */
#define SHM_DIR "/dev/shm"
#define SHM_PREFIX "ringhost."

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
               "shared queues need address-free (lock-free) 64-bit atomics");

/* Slow-path counters, in one array so rh_queue_count is a table lookup. */
enum { C_REJECTED, C_DROPPED_OLDEST, C_DROPPED_NEWEST, C_DUPLICATES, C_EXPIRED,
       C_INVALID, C_FAILED, C_DEAD_LETTERED, C_COUNT };

/* The start of the mapping.  Everything above `counters` is written once by
 * the creator before it publishes magic, and never again. */
typedef struct queue_header {
    _Atomic uint64_t magic;          /* QUEUE_MAGIC, stored last (release) */
    uint32_t layout_version;         /* QUEUE_LAYOUT_VERSION */
    uint32_t header_size;            /* sizeof(queue_header): cells start here */
    uint64_t fingerprint;            /* of the message type, never 0 */
    uint32_t payload_size;           /* bytes */
    uint32_t slot_size;              /* bytes per cell, multiple of 64 */
    uint32_t capacity;               /* cells, power of two */
    uint32_t mask;                   /* capacity - 1 */
    uint32_t policy;                 /* rh_backpressure */
    uint32_t block_timeout_ms;
    uint32_t dedup_window;
    uint32_t ttl_ms;
    int32_t creator_pid;
    uint32_t creator_uid;
    char name[RH_QUEUE_NAME_MAX + 1];
    char type_name[TYPE_NAME_MAX + 1];
    char type_origin[TYPE_ORIGIN_MAX + 1]; /* plugin path, "" when unknown */

    /* Each group below on its own line: producers own enqueue_pos, consumers
     * dequeue_pos; the counters and bells are touched on slow paths only. */
    _Alignas(64) _Atomic uint64_t counters[C_COUNT];
    _Alignas(64) _Atomic uint64_t high_water;
    _Alignas(64) _Atomic uint64_t enqueue_pos;
    _Alignas(64) _Atomic uint64_t dequeue_pos;
    _Alignas(64) rh_bell not_empty; /* consumers sleep here, producers ring */
    _Alignas(64) rh_bell not_full;  /* blocked producers sleep here, consumers ring */
} queue_header;

typedef struct cell {
    _Atomic uint64_t stamp;
    rh_envelope env;
    /* payload_size bytes follow */
} cell;
_Static_assert(sizeof(cell) == 8 + sizeof(rh_envelope), "cell header must be packed");

/* The process-local handle.  Geometry is copied out of the header once and
 * validated, so the hot path never trusts bytes another process can write. */
struct rh_queue {
    queue_header *h;
    unsigned char *cells;
    size_t map_size;
    uint64_t mask;
    uint32_t capacity;
    uint32_t slot_size;
    uint32_t payload_size;
    int creator;         /* this handle created the mapping */
    dev_t shm_dev;       /* identity of the shm object we created, so close */
    ino_t shm_ino;       /* never unlinks a newer host's queue of that name */
    rh_queue_config cfg;
    const rh_type *type; /* NULL on an attached queue until bind_type */
    uint64_t fingerprint;
    char shm_name[sizeof("/" SHM_PREFIX) + 2 * RH_QUEUE_NAME_MAX + 1];
    char name[RH_QUEUE_NAME_MAX + 1];
    char type_name[TYPE_NAME_MAX + 1];
    char type_origin[TYPE_ORIGIN_MAX + 1];
};

/* ------------------------------------------------------------ helpers --- */

static uint64_t slot_size_for(uint64_t payload_size)
{
    return (sizeof(cell) + payload_size + 63) & ~(uint64_t)63;
}

static int capacity_valid(uint64_t cap)
{
    return cap >= 2 && cap <= RH_QUEUE_CAPACITY_MAX && (cap & (cap - 1)) == 0;
}

static inline cell *cell_at(const rh_queue *q, uint64_t pos)
{
    return (cell *)(q->cells + (size_t)(pos & q->mask) * q->slot_size);
}

static inline uint64_t lap_base(const rh_queue *q, uint64_t pos)
{
    return pos & ~q->mask;
}

static inline void count(rh_queue *q, int which, uint64_t n)
{
    atomic_fetch_add_explicit(&q->h->counters[which], n, memory_order_relaxed);
}

/* Raise high_water to depth.  A plain load first: in steady state the value
 * is already higher and the line stays shared, not bounced. */
static void note_depth(rh_queue *q, uint64_t depth)
{
    if (depth > q->capacity)
        depth = q->capacity;
    uint64_t hw = atomic_load_explicit(&q->h->high_water, memory_order_relaxed);
    while (depth > hw && !atomic_compare_exchange_weak_explicit(
                             &q->h->high_water, &hw, depth, memory_order_relaxed,
                             memory_order_relaxed))
        ;
}

/* Bounded spin, then yield: for waits that end when another thread finishes
 * a copy it already started (microseconds, unless it was preempted). */
static void backoff(unsigned tries)
{
    if (tries < 64)
        rh_cpu_relax();
    else
        sched_yield();
}

/* ------------------------------------------------------ the algorithm --- */

/* Claim the cell at the enqueue position and fill it.  0, or RH_EFULL when
 * that cell still holds (or is still being read out of) an older message. */
static int try_enqueue(rh_queue *q, const rh_envelope *e, const void *payload, uint32_t len)
{
    queue_header *h = q->h;
    uint64_t pos = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
    cell *c;
    for (;;) {
        c = cell_at(q, pos);
        /* Acquire pairs with the consumer's release of this cell: its reads
         * of the old message happen before our writes below. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        int64_t diff = (int64_t)(stamp - lap_base(q, pos));
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&h->enqueue_pos, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break; /* the cell is ours until we publish it */
        } else if (diff < 0) {
            return RH_EFULL;
        } else {
            pos = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
        }
    }
    c->env.id = e->id;
    c->env.correlation_id = e->correlation_id;
    c->env.enqueue_ns = e->enqueue_ns;
    c->env.priority = e->priority;
    c->env.flags = e->flags;
    c->env.port = e->port;
    /* Atomic because try_dequeue may peek at it from a consumer that has not
     * claimed the cell (see there); relaxed, since the stamp orders it. */
    __atomic_store_n(&c->env.payload_len, len, __ATOMIC_RELAXED);
    if (len)
        memcpy(c + 1, payload, len);
    /* Release: the message is complete before a consumer sees stamp + 1. */
    atomic_store_explicit(&c->stamp, lap_base(q, pos) + 1, memory_order_release);
    return 0;
}

/* Copy a claimed cell out and give it back to the producers.  Returns the
 * payload length.  The length is clamped to the slot: a shared mapping can be
 * scribbled on by another process, and we never copy past our cell. */
static uint32_t take_cell(rh_queue *q, cell *c, uint64_t pos, rh_envelope *env, void *buf)
{
    uint32_t len = c->env.payload_len;
    if (len > q->payload_size)
        len = q->payload_size;
    if (env) {
        *env = c->env;
        env->payload_len = len;
    }
    if (buf && len)
        memcpy(buf, c + 1, len);
    /* Release: our reads are done before a producer refills the cell. */
    atomic_store_explicit(&c->stamp, lap_base(q, pos) + q->capacity, memory_order_release);
    return len;
}

/* Dequeue one message into env/buf (both NULL: discard it, for drop_oldest).
 * Returns the payload length, RH_EEMPTY, or RH_ETOOBIG (left queued). */
static int try_dequeue(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len, int discard)
{
    queue_header *h = q->h;
    /* Only a buffer smaller than the slot can be too small: skip the peek. */
    int may_not_fit = !discard && buf_len < q->payload_size;
    uint64_t pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
    cell *c;
    for (;;) {
        c = cell_at(q, pos);
        /* Acquire pairs with the producer's release: the message is whole. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        int64_t diff = (int64_t)(stamp - (lap_base(q, pos) + 1));
        if (diff == 0) {
            if (may_not_fit) {
                /* Peek before claiming: a claim cannot be undone, and the
                 * API promises a too-large message stays queued.  If the
                 * CAS below succeeds nobody consumed pos in between, so the
                 * length we read is that of the message we get. */
                uint32_t len = __atomic_load_n(&c->env.payload_len, __ATOMIC_ACQUIRE);
                if (len > buf_len) {
                    /* Seqlock-style: the stamp unchanged after reading len
                     * (ordered by that acquire) means len was pos's. */
                    if (atomic_load_explicit(&c->stamp, memory_order_relaxed) == stamp)
                        return RH_ETOOBIG;
                    pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
                    continue;
                }
            }
            if (atomic_compare_exchange_weak_explicit(&h->dequeue_pos, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return RH_EEMPTY; /* not yet published (or never enqueued) */
        } else {
            pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
        }
    }
    if (!discard)
        note_depth(q, atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed) - pos);
    return (int)take_cell(q, c, pos, discard ? NULL : env, discard ? NULL : buf);
}

/* Whether the next enqueue / dequeue would find its cell ready.  Used as the
 * re-check between rh_sleep_prepare and rh_sleep_commit. */
static int has_room(const rh_queue *q)
{
    uint64_t pos = atomic_load_explicit(&q->h->enqueue_pos, memory_order_acquire);
    uint64_t stamp = atomic_load_explicit(&cell_at(q, pos)->stamp, memory_order_acquire);
    return (int64_t)(stamp - lap_base(q, pos)) >= 0;
}

static int has_message(const rh_queue *q)
{
    uint64_t pos = atomic_load_explicit(&q->h->dequeue_pos, memory_order_acquire);
    uint64_t stamp = atomic_load_explicit(&cell_at(q, pos)->stamp, memory_order_acquire);
    return (int64_t)(stamp - (lap_base(q, pos) + 1)) >= 0;
}

/* rh_recv and a blocked rh_send wait like an adaptive dispatch thread, but
 * spin for less: about as long as a futex wake-up costs (~20 us), the
 * classic bound for spin-then-block.  Their callers are clients, and on an
 * oversubscribed machine a long spin steals the core from the very thread
 * that would end the wait. */
#define CLIENT_SPIN_POLLS 200u
#define CLIENT_YIELD_POLLS 50u

static void client_waiter_init(rh_waiter *w)
{
    rh_waiter_init(w, RH_WAIT_ADAPTIVE);
    w->spin_polls = CLIENT_SPIN_POLLS;
    w->yield_polls = CLIENT_YIELD_POLLS;
}

/* One idle step of a bounded wait on `bell` until ready(q) or deadline_ns
 * (UINT64_MAX: forever).  Spins, then yields, then parks (rh_waiter's
 * adaptive policy), because a futex wake-up costs tens of microseconds.
 * Returns 0 to poll again, RH_ETIMEDOUT once the deadline has passed. */
static int wait_step(rh_queue *q, rh_waiter *w, rh_bell *bell, int (*ready)(const rh_queue *),
                     uint64_t deadline_ns)
{
    uint64_t now = rh_now_ns();
    if (now >= deadline_ns)
        return RH_ETIMEDOUT;
    switch (rh_waiter_idle(w)) {
    case RH_IDLE_SPIN:
        rh_cpu_relax();
        break;
    case RH_IDLE_YIELD:
        sched_yield();
        break;
    case RH_IDLE_PARK: {
        rh_sleep s;
        rh_sleep_prepare(&s, &bell, 1);
        if (ready(q))
            rh_sleep_cancel(&s);
        else
            rh_sleep_commit(&s, deadline_ns == UINT64_MAX ? -1 : (int64_t)(deadline_ns - now));
        break;
    }
    }
    return 0;
}

/* ------------------------------------------------------------ sending --- */

/* The queue was full: apply its policy.  Kept out of rh_send so the fast
 * path stays small. */
static __attribute__((noinline)) int send_full(rh_queue *q, const rh_envelope *e,
                                               const void *payload, uint32_t len)
{
    queue_header *h = q->h;
    note_depth(q, q->capacity);
    switch (q->cfg.backpressure) {
    case RH_BP_REJECT:
        count(q, C_REJECTED, 1);
        return RH_EFULL;
    case RH_BP_DROP_NEWEST:
        count(q, C_DROPPED_NEWEST, 1);
        return RH_EDROPPED;
    case RH_BP_DROP_OLDEST:
        for (unsigned tries = 0;; tries++) {
            if (try_enqueue(q, e, payload, len) == 0)
                return 0;
            /* Evict only when the queue is really full: when depth is below
             * capacity a consumer is mid-way through freeing our cell, and
             * evicting would throw away a message for nothing. */
            uint64_t deq = atomic_load_explicit(&h->dequeue_pos, memory_order_acquire);
            uint64_t enq = atomic_load_explicit(&h->enqueue_pos, memory_order_acquire);
            if (enq - deq >= q->capacity && try_dequeue(q, NULL, NULL, 0, 1) >= 0) {
                count(q, C_DROPPED_OLDEST, 1);
                tries = 0;
                continue;
            }
            backoff(tries);
        }
    case RH_BP_BLOCK:
    default: {
        uint64_t deadline = rh_now_ns() + (uint64_t)q->cfg.block_timeout_ms * 1000000ull;
        rh_waiter w;
        client_waiter_init(&w);
        for (;;) {
            if (try_enqueue(q, e, payload, len) == 0)
                return 0;
            if (wait_step(q, &w, &h->not_full, has_room, deadline) == RH_ETIMEDOUT) {
                count(q, C_REJECTED, 1);
                return RH_ETIMEDOUT;
            }
        }
    }
    }
}

int rh_send(rh_queue *q, const rh_envelope *env, const void *payload, uint32_t len,
            rh_id *id_out)
{
    if (!q || (len && !payload))
        return RH_EINVAL;
    if (len > q->payload_size)
        return RH_ETOOBIG;
    rh_envelope e;
    if (env)
        e = *env;
    else
        memset(&e, 0, sizeof e);
    if (rh_id_is_zero(e.id))
        e.id = rh_id_new();
    e.enqueue_ns = rh_now_ns();
    e.payload_len = len;
    e.port = 0;
    /* Reported even when the send fails, so a caller can retry with the
     * same id and let the dedup window drop a copy that did get through. */
    if (id_out)
        *id_out = e.id;
    int rc = try_enqueue(q, &e, payload, len);
    if (rc != 0)
        rc = send_full(q, &e, payload, len);
    if (rc == 0)
        rh_bell_ring(&q->h->not_empty);
    return rc;
}

/* ---------------------------------------------------------- receiving --- */

int rh_recv(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len, int timeout_ms)
{
    if (!q || (buf_len && !buf))
        return RH_EINVAL;
    uint64_t deadline = 0; /* set on the first empty poll: a hit reads no clock */
    rh_waiter w;
    client_waiter_init(&w);
    for (;;) {
        int rc = try_dequeue(q, env, buf, buf_len, 0);
        if (rc >= 0) {
            rh_bell_ring(&q->h->not_full);
            return rc;
        }
        if (rc != RH_EEMPTY)
            return rc;
        if (timeout_ms == 0)
            return RH_EEMPTY;
        if (deadline == 0)
            deadline = timeout_ms < 0 ? UINT64_MAX
                                      : rh_now_ns() + (uint64_t)timeout_ms * 1000000ull;
        if (wait_step(q, &w, &q->h->not_empty, has_message, deadline) == RH_ETIMEDOUT)
            return RH_ETIMEDOUT;
    }
}

uint32_t rh_queue_dequeue_burst(rh_queue *q, rh_envelope *const *dst, uint32_t n)
{
    queue_header *h = q->h;
    if (n == 0)
        return 0;
    uint64_t pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
    uint32_t k;
    for (;;) {
        /* Count the run of published cells from pos.  A run never exceeds
         * capacity: cell pos + capacity is cell pos, whose stamp is for pos. */
        for (k = 0; k < n; k++) {
            uint64_t p = pos + k;
            uint64_t stamp = atomic_load_explicit(&cell_at(q, p)->stamp, memory_order_acquire);
            if (stamp != lap_base(q, p) + 1) {
                if (k == 0 && (int64_t)(stamp - (lap_base(q, p) + 1)) < 0)
                    return 0; /* empty */
                break;
            }
        }
        if (k == 0) { /* pos was stale: someone consumed it */
            pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
            continue;
        }
        /* One CAS claims the whole run.  Positions only grow, so success
         * means nobody took any of pos..pos+k-1 since we counted them. */
        if (atomic_compare_exchange_weak_explicit(&h->dequeue_pos, &pos, pos + k,
                                                  memory_order_relaxed, memory_order_relaxed))
            break;
    }
    note_depth(q, atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed) - pos);
    for (uint32_t i = 0; i < k; i++)
        take_cell(q, cell_at(q, pos + i), pos + i, dst[i], dst[i] + 1);
    rh_bell_ring(&h->not_full);
    return k;
}

int rh_queue_is_empty(const rh_queue *q)
{
    return !has_message(q);
}

/* ----------------------------------------------------------- counters --- */

void rh_queue_count(rh_queue *q, rh_queue_counter which, uint64_t n)
{
    static const int map[] = {
        [RH_QC_DUPLICATES] = C_DUPLICATES, [RH_QC_EXPIRED] = C_EXPIRED,
        [RH_QC_INVALID] = C_INVALID,       [RH_QC_FAILED] = C_FAILED,
        [RH_QC_DEAD_LETTERED] = C_DEAD_LETTERED,
    };
    if (q && (unsigned)which < sizeof(map) / sizeof(map[0]))
        count(q, map[which], n);
}

void rh_queue_stats_get(const rh_queue *q, rh_queue_stats *out)
{
    queue_header *h = q->h;
    memset(out, 0, sizeof *out);
    /* Read order matters: dropped_oldest is bumped after its dequeue_pos
     * advance and dequeue_pos never passes enqueue_pos, so reading them in
     * this order (acquire) keeps dropped <= deq <= enq in the snapshot. */
    uint64_t dropped = atomic_load_explicit(&h->counters[C_DROPPED_OLDEST], memory_order_acquire);
    uint64_t deq = atomic_load_explicit(&h->dequeue_pos, memory_order_acquire);
    uint64_t enq = atomic_load_explicit(&h->enqueue_pos, memory_order_acquire);
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
#define BP_COUNT (sizeof(bp_names) / sizeof(bp_names[0]))

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
rh_bell *rh_queue_not_empty_bell(rh_queue *q) { return &q->h->not_empty; }
rh_bell *rh_queue_not_full_bell(rh_queue *q) { return &q->h->not_full; }


/* ---------------------------------------------------------- lifecycle --- */

/* "/ringhost.<instance>:<name>".  Both parts are checked by the callers, so
 * the result always fits.  ':' is in neither part's alphabet, so no two
 * (instance, queue) pairs share an object name even when both hold dots. */
static void shm_name_for(char *buf, size_t len, const char *instance, const char *name)
{
    snprintf(buf, len, "/" SHM_PREFIX "%s:%s", instance, name);
}

static int copy_string(char *dst, size_t dst_len, const char *src)
{
    size_t n = strlen(src);
    if (n >= dst_len)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* Everything rh_queue_create refuses, with the expected value in the text. */
static int check_create_args(const char *instance, const char *name, const rh_type *type,
                             const rh_queue_config *cfg, const char *type_origin, rh_error *err)
{
    if (!rh_queue_name_valid(name))
        return rh_error_set(err, RH_EINVAL,
                            "queue name \"%s\" is invalid: expected 1 to %d characters from "
                            "[A-Za-z0-9._-]", name ? name : "(null)", RH_QUEUE_NAME_MAX);
    if (!cfg)
        return rh_error_set(err, RH_EINVAL, "queue \"%s\": no configuration given", name);
    if (cfg->shared && !rh_queue_name_valid(instance))
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": instance name \"%s\" is invalid: expected 1 to %d "
                            "characters from [A-Za-z0-9._-]",
                            name, instance ? instance : "(null)", RH_QUEUE_NAME_MAX);
    if (!type || !type->name)
        return rh_error_set(err, RH_EINVAL, "queue \"%s\": a message type is required", name);
    if (type->fingerprint == 0)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type \"%s\" has fingerprint 0; expected a non-zero "
                            "fingerprint (types come from ringhost-gen)", name, type->name);
    if (strlen(type->name) > TYPE_NAME_MAX)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type name \"%.40s...\" is longer than %d bytes", name,
                            type->name, TYPE_NAME_MAX);
    if (slot_size_for(type->size) > INT32_MAX)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type \"%s\" is %u bytes; expected at most %llu", name,
                            type->name, type->size,
                            (unsigned long long)(INT32_MAX - sizeof(cell) - 63));
    if (!capacity_valid(cfg->capacity))
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": capacity must be a power of two between 2 and %u, "
                            "got %u", name, RH_QUEUE_CAPACITY_MAX, cfg->capacity);
    if ((unsigned)cfg->backpressure >= BP_COUNT)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": backpressure must be one of block, reject, "
                            "drop_oldest, drop_newest, got %d", name, (int)cfg->backpressure);
    if ((uint64_t)cfg->dedup_window > 4ull * cfg->capacity)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": dedup_window must be between 0 and 4*capacity = "
                            "%llu, got %u", name, 4ull * cfg->capacity, cfg->dedup_window);
    if (type_origin && strlen(type_origin) > TYPE_ORIGIN_MAX)
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": type origin is %zu bytes; expected at most %d", name,
                            strlen(type_origin), TYPE_ORIGIN_MAX);
    return 0;
}

/* The pid of the live process that created the existing object of this
 * name, or 0 when there is none (no object, not a queue, creator gone). */
static pid_t live_creator(const char *shm_name)
{
    int fd = shm_open(shm_name, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    struct stat st;
    pid_t pid = 0;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(queue_header)) {
        const queue_header *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
        if (h != MAP_FAILED) {
            if (atomic_load(&h->magic) == QUEUE_MAGIC && h->creator_pid > 0 &&
                h->creator_pid != getpid() &&
                (kill(h->creator_pid, 0) == 0 || errno == EPERM))
                pid = h->creator_pid;
            munmap((void *)h, sizeof *h);
        }
    }
    close(fd);
    return pid;
}

/* Create, size and map the shm object.  An existing object of that name
 * whose creator is gone is a leftover of a host that died, so it is
 * unlinked; one whose creator still runs belongs to a live host and is
 * refused.  O_EXCL then catches two hosts racing for one instance name. */
static int map_shared(rh_queue *q, size_t size, rh_error *err)
{
    pid_t owner = live_creator(q->shm_name);
    if (owner)
        return rh_error_set(err, RH_EEXIST,
                            "queue \"%s\": %s belongs to a running host (pid %d); stop it or "
                            "launch under another instance name (--instance)",
                            q->name, q->shm_name, (int)owner);
    shm_unlink(q->shm_name);
    int fd = shm_open(q->shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0)
        return rh_error_set(err, errno == EEXIST ? RH_EEXIST : RH_ESYS,
                            "queue \"%s\": shm_open(%s): %s", q->name, q->shm_name,
                            strerror(errno));
    /* The umask may have cleared bits; the mode is part of the contract. */
    struct stat st;
    int rc;
    if (fchmod(fd, 0600) != 0 || fstat(fd, &st) != 0) {
        rc = rh_error_set(err, RH_ESYS, "queue \"%s\": %s: %s", q->name, q->shm_name,
                          strerror(errno));
        goto fail;
    }
    q->shm_dev = st.st_dev;
    q->shm_ino = st.st_ino;
    if (ftruncate(fd, (off_t)size) != 0) {
        rc = rh_error_set(err, errno == ENOSPC || errno == EFBIG ? RH_ENOMEM : RH_ESYS,
                          "queue \"%s\": ftruncate(%s, %zu): %s", q->name, q->shm_name, size,
                          strerror(errno));
        goto fail;
    }
    /* tmpfs allocates pages on first touch; a full /dev/shm would then kill
     * us with SIGBUS in the middle of a send.  Reserve them now instead. */
    rc = posix_fallocate(fd, 0, (off_t)size);
    if (rc != 0) {
        rc = rh_error_set(err, rc == ENOSPC || rc == EFBIG ? RH_ENOMEM : RH_ESYS,
                          "queue \"%s\": cannot reserve %zu bytes of shared memory in " SHM_DIR
                          " for %s (posix_fallocate: %s); make /dev/shm larger or the queue "
                          "smaller", q->name, size, q->shm_name, strerror(rc));
        goto fail;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        rc = rh_error_set(err, errno == ENOMEM ? RH_ENOMEM : RH_ESYS,
                          "queue \"%s\": mmap(%s, %zu bytes): %s", q->name, q->shm_name, size,
                          strerror(errno));
        goto fail;
    }
    close(fd);
    q->h = p;
    return 0;
fail:
    close(fd);
    shm_unlink(q->shm_name);
    return rc;
}

int rh_queue_create(const char *instance, const char *name, const rh_type *type,
                    const rh_queue_config *cfg, const char *type_origin, rh_queue **out,
                    rh_error *err)
{
    if (!out)
        return rh_error_set(err, RH_EINVAL, "rh_queue_create: out must not be NULL");
    *out = NULL;
    int rc = check_create_args(instance, name, type, cfg, type_origin, err);
    if (rc != 0)
        return rc;

    rh_queue *q = calloc(1, sizeof *q);
    if (!q)
        return rh_error_set(err, RH_ENOMEM, "queue \"%s\": out of memory", name);
    q->capacity = cfg->capacity;
    q->mask = cfg->capacity - 1;
    q->payload_size = type->size;
    q->slot_size = (uint32_t)slot_size_for(type->size);
    q->map_size = sizeof(queue_header) + (size_t)q->capacity * q->slot_size;
    q->creator = 1;
    q->cfg = *cfg;
    q->cfg.shared = cfg->shared ? 1 : 0;
    q->type = type;
    q->fingerprint = type->fingerprint;
    copy_string(q->name, sizeof q->name, name);
    copy_string(q->type_name, sizeof q->type_name, type->name);
    copy_string(q->type_origin, sizeof q->type_origin, type_origin ? type_origin : "");

    if (q->cfg.shared) {
        shm_name_for(q->shm_name, sizeof q->shm_name, instance, name);
        rc = map_shared(q, q->map_size, err);
        if (rc != 0) {
            free(q);
            return rc;
        }
    } else {
        /* Anonymous pages are zero, which is an empty queue (see the stamp
         * encoding above), and are only committed when touched. */
        void *p = mmap(NULL, q->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED) {
            rc = rh_error_set(err, RH_ENOMEM, "queue \"%s\": cannot map %zu bytes: %s", name,
                              q->map_size, strerror(errno));
            free(q);
            return rc;
        }
        q->h = p;
    }
    q->cells = (unsigned char *)q->h + sizeof(queue_header);

    queue_header *h = q->h;
    h->layout_version = QUEUE_LAYOUT_VERSION;
    h->header_size = sizeof(queue_header);
    h->fingerprint = type->fingerprint;
    h->payload_size = q->payload_size;
    h->slot_size = q->slot_size;
    h->capacity = q->capacity;
    h->mask = (uint32_t)q->mask;
    h->policy = (uint32_t)cfg->backpressure;
    h->block_timeout_ms = cfg->block_timeout_ms;
    h->dedup_window = cfg->dedup_window;
    h->ttl_ms = cfg->ttl_ms;
    h->creator_pid = (int32_t)getpid();
    h->creator_uid = (uint32_t)getuid();
    memcpy(h->name, q->name, sizeof h->name);
    memcpy(h->type_name, q->type_name, sizeof h->type_name);
    memcpy(h->type_origin, q->type_origin, sizeof h->type_origin);
    rh_bell_init(&h->not_empty, q->cfg.shared);
    rh_bell_init(&h->not_full, q->cfg.shared);
    /* Last, with release: an attacher that sees the magic sees the rest. */
    atomic_store_explicit(&h->magic, QUEUE_MAGIC, memory_order_release);
    *out = q;
    return 0;
}

/* memchr-based: a string field of a foreign header must end inside it. */
static int field_terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

/* Check every header field an attacher relies on.  The header is writable
 * by any process of the user, so nothing in it is trusted unchecked. */
static int check_header(const queue_header *h, size_t file_size, const char *name, rh_error *err)
{
    const char *what = NULL;
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != QUEUE_MAGIC)
        what = "bad magic: not a ringhost queue, or still being created";
    else if (h->layout_version != QUEUE_LAYOUT_VERSION)
        what = "unknown layout version";
    else if (h->header_size != sizeof(queue_header))
        what = "header size differs from this build's";
    else if (!capacity_valid(h->capacity) || h->mask != h->capacity - 1)
        what = "capacity is not a power of two in range";
    else if (h->slot_size != slot_size_for(h->payload_size) || h->slot_size > INT32_MAX)
        what = "slot size does not match the payload size";
    else if ((uint64_t)file_size != sizeof(queue_header) + (uint64_t)h->capacity * h->slot_size)
        what = "file size does not match capacity * slot size + header";
    else if (h->policy >= BP_COUNT)
        what = "unknown backpressure policy";
    else if (h->fingerprint == 0)
        what = "type fingerprint is 0";
    else if (!field_terminated(h->name, sizeof h->name) ||
             !field_terminated(h->type_name, sizeof h->type_name) ||
             !field_terminated(h->type_origin, sizeof h->type_origin))
        what = "unterminated name field";
    else if (strcmp(h->name, name) != 0)
        what = "header names a different queue";
    else if (!h->not_empty.shared || !h->not_full.shared)
        what = "doorbells are not marked shared";
    if (what)
        return rh_error_set(err, RH_EINVAL, "queue \"%s\": %s (layout version %u expected)",
                            name, what, QUEUE_LAYOUT_VERSION);
    return 0;
}

int rh_queue_attach(const char *instance, const char *name, rh_queue **out, rh_error *err)
{
    if (!out)
        return rh_error_set(err, RH_EINVAL, "rh_queue_attach: out must not be NULL");
    *out = NULL;
    if (!rh_queue_name_valid(instance) || !rh_queue_name_valid(name))
        return rh_error_set(err, RH_EINVAL,
                            "instance \"%s\" / queue \"%s\": expected 1 to %d characters from "
                            "[A-Za-z0-9._-]", instance ? instance : "(null)",
                            name ? name : "(null)", RH_QUEUE_NAME_MAX);
    rh_queue *q = calloc(1, sizeof *q);
    if (!q)
        return rh_error_set(err, RH_ENOMEM, "queue \"%s\": out of memory", name);
    shm_name_for(q->shm_name, sizeof q->shm_name, instance, name);
    int fd = shm_open(q->shm_name, O_RDWR, 0);
    if (fd < 0) {
        int e = errno;
        free(q);
        if (e == ENOENT)
            return rh_error_set(err, RH_ENOENT,
                                "no shared queue \"%s\" in instance \"%s\" (" SHM_DIR
                                "/" SHM_PREFIX "%s:%s does not exist; is the host running?)",
                                name, instance, instance, name);
        return rh_error_set(err, RH_ESYS, "queue \"%s\": shm_open(/" SHM_PREFIX "%s:%s): %s",
                            name, instance, name, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(queue_header)) {
        close(fd);
        free(q);
        return rh_error_set(err, RH_EINVAL,
                            "queue \"%s\": not a ringhost queue (smaller than its header)", name);
    }
    size_t size = (size_t)st.st_size;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        free(q);
        return rh_error_set(err, RH_ESYS, "queue \"%s\": mmap: %s", name, strerror(e));
    }
    int rc = check_header(p, size, name, err);
    if (rc != 0) {
        munmap(p, size);
        free(q);
        return rc;
    }
    queue_header *h = p;
    q->h = h;
    q->cells = (unsigned char *)h + sizeof(queue_header);
    q->map_size = size;
    q->capacity = h->capacity;
    q->mask = h->capacity - 1;
    q->payload_size = h->payload_size;
    q->slot_size = h->slot_size;
    q->fingerprint = h->fingerprint;
    q->cfg.capacity = h->capacity;
    q->cfg.backpressure = (rh_backpressure)h->policy;
    q->cfg.block_timeout_ms = h->block_timeout_ms;
    q->cfg.dedup_window = h->dedup_window;
    q->cfg.ttl_ms = h->ttl_ms;
    q->cfg.shared = 1;
    /* Copied, so a later scribble on the header cannot unterminate them. */
    memcpy(q->name, h->name, sizeof q->name);
    memcpy(q->type_name, h->type_name, sizeof q->type_name);
    memcpy(q->type_origin, h->type_origin, sizeof q->type_origin);
    *out = q;
    return 0;
}

int rh_queue_bind_type(rh_queue *q, const rh_type *type, rh_error *err)
{
    if (!q || !type || !type->name)
        return rh_error_set(err, RH_EINVAL, "rh_queue_bind_type: queue and type are required");
    if (type->fingerprint != q->fingerprint || type->size != q->payload_size)
        return rh_error_set(err, RH_ETYPE,
                            "queue \"%s\" carries type \"%s\" (fingerprint %016llx, %u bytes), "
                            "not \"%s\" (fingerprint %016llx, %u bytes)",
                            q->name, q->type_name, (unsigned long long)q->fingerprint,
                            q->payload_size, type->name, (unsigned long long)type->fingerprint,
                            type->size);
    q->type = type;
    return 0;
}

void rh_queue_close(rh_queue *q)
{
    if (!q)
        return;
    munmap(q->h, q->map_size);
    if (q->creator && q->cfg.shared) {
        /* Unlink only the object we created: if a newer host replaced it
         * under the same name, that one is not ours to remove. */
        int fd = shm_open(q->shm_name, O_RDONLY, 0);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_dev == q->shm_dev && st.st_ino == q->shm_ino)
                shm_unlink(q->shm_name);
            close(fd);
        }
    }
    free(q);
}

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
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0 || !rh_queue_name_valid(de->d_name + plen))
            continue;
        if (fn)
            fn(de->d_name + plen, arg);
        n++;
    }
    closedir(d);
    return n;
}
