/*
 * queue_layout.h — the named queue's memory layout, private to queue.c (the
 * hot path, which reads and writes it) and queue_shm.c (the lifecycle, which
 * creates, maps, checks and removes it).  Kept in one header so the two can
 * never disagree about it; nothing outside those two files may depend on
 * it, and a change to the mapping must bump QUEUE_LAYOUT_VERSION.
 *
 * Mapping layout: [queue_header][cell 0][cell 1]...; a cell is the
 * rh_envelope and payload_size bytes, rounded up to 16 bytes.  Cells are
 * packed, not padded to cache lines: only producers write them and only
 * consumers read them (the head/tail protocol at the top of queue.c), so a
 * line shared by two cells costs nothing, and small messages move fewer
 * lines (48 + 16 bytes: one line instead of two).
 */
#ifndef RH_QUEUE_LAYOUT_H
#define RH_QUEUE_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue/queue_pvt.h"

#define QUEUE_MAGIC 0x0045554555514852ull /* "RHQUEUE\0" little-endian */
#define QUEUE_LAYOUT_VERSION 7u /* 2: head/tail indices, packed cells without stamps; 3: persist, acked;
                                   4: created_ns, the health line (heartbeat, corrupt);
                                   5: the claims table of loans and peeks, void cells
                                   (queue_loan.c), orphans and parked in the consumers' line;
                                   6: prod_tail and cons_tail each on a line of its own;
                                   7: moved, beside prod_tail (a persist queue taken over
                                   under attached clients, queue_persist.c); host_acks
                                   beside acked; the replaced line (queue_shm.c); the
                                   producers' notes (queue_notes.c), the halt words
                                   beside prod_head and cons_head */
#define TYPE_NAME_MAX 127                 /* bytes, without the NUL */
#define TYPE_ORIGIN_MAX 512               /* bytes, without the NUL */
#define SHM_DIR "/dev/shm"
#define SHM_PREFIX "ringhost."
#define RH_QUEUE_SHM_SUFFIX 9 /* ":N" (up to 6 digits, rh__queue_shm_name), NUL, one spare */

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
               "shared queues need address-free (lock-free) 64-bit atomics");

/* Slow-path counters, in one array so rh__queue_count is a table lookup. */
enum { C_REJECTED, C_DROPPED_OLDEST, C_DROPPED_NEWEST, C_DUPLICATES, C_EXPIRED,
       C_INVALID, C_FAILED, C_DEAD_LETTERED,
       C_VOID_MADE,  /* cells of a dead holder's reservation published as void (queue_loan.c) */
       C_VOID_TAKEN, /* void cells consumers skipped: both are subtracted from the tails */
       C_COUNT };

/* A cell whose envelope port is CELL_VOID_PORT carries no message: a
 * reservation whose holder died (or that was committed short) was
 * published that way so the producers behind it could go on
 * (queue_loan.c).  Every consumer skips such a cell without delivering or
 * counting it.  The port is the field for it because a queue cell's port
 * is 0 for every real message (fill_cell, rh_send_commit): no sender can
 * make a message look void. */
#define CELL_VOID_PORT RH_QUEUE_VOID_PORT /* queue_pvt.h: the engine skips them too */

/*
 * The claims table (queue_claims.c's top comment is the design): one entry
 * per loan (rh_send_reserve) or peek (rh_recv_peek) in progress, and per
 * consumer run waiting for its turn to publish, so that a waiter stalled
 * behind a claim can tell a live holder from a dead one.  owner is
 * CLAIM_FREE or (holder pid << 8) | kind (CLAIM_K_*, with CLAIM_ACK for a
 * consumer run whose publish also acknowledges it on a persist queue).
 * Positions are the queue's: the claim is [pos, end); next: the first
 * cell of it not yet delivered (a consumer run), upto: the end of what
 * an adopter of an orphaned run holds.  Another process may scribble on
 * all of it: every value is checked against the tails before use.
 */
#define QUEUE_CLAIMS 32
#define CLAIM_FREE 0ull
enum {
    CLAIM_K_RESERVING = 1, /* producer, claim CAS in flight: pos/end are its guess */
    CLAIM_K_RESERVED,      /* producer: [pos, end) is the holder's until commit */
    CLAIM_K_VOIDING,       /* producer: a repairer is publishing a dead holder's run void */
    CLAIM_K_PEEKING,       /* consumer, claim CAS in flight (as RESERVING) */
    CLAIM_K_PEEKED,        /* consumer: the holder reads [next, upto) in place */
    CLAIM_K_ORPHAN,        /* consumer: its holder died; [next, end) waits to be redelivered */
    CLAIM_K_ADOPTING,      /* consumer: an adopter copies [next, upto) out */
    CLAIM_K_DONE,          /* consumer: all read, waits for cons_tail == pos to publish */
    CLAIM_K_PUBLISHING,    /* consumer: a helper is publishing a DONE run */
};
#define CLAIM_KIND_MASK 0x7Full
#define CLAIM_ACK 0x80ull
typedef struct queue_claim {
    _Atomic uint64_t owner;
    _Atomic uint64_t pos, end, next, upto;
} queue_claim;

/*
 * The producers' notes (queue_notes.c's top comment is the design): every
 * producer claim that is not a loan (a copying send, the bridges' copying
 * enqueue, an in-place run) is described by a note taken before its CAS on
 * prod_head and freed once the run is published, so that a waiter stalled
 * behind it can tell a live holder (however slow: wait) from a dead one
 * (repair: the run is published void).  owner: 0 (free) or the holder's
 * identity (queue_notes.c: pid, tid and start time, so that a reused pid
 * is not taken for the holder).  [pos, done) is the holder's for sure,
 * [done, end) is what its CAS in flight would claim.  One line each: a
 * sender writes its own note, nobody else's.
 */
#define QUEUE_NOTES 64
typedef struct queue_note {
    _Alignas(64) _Atomic uint64_t owner;
    _Atomic uint64_t pos, done, end;
} queue_note;

/* The start of the mapping.  Everything above `counters` is written once by
 * the creator before it publishes magic, and never again. */
typedef struct queue_header {
    _Atomic uint64_t magic;          /* QUEUE_MAGIC, stored last (release) */
    uint32_t layout_version;         /* QUEUE_LAYOUT_VERSION */
    uint32_t header_size;            /* sizeof(queue_header): cells start here */
    uint64_t fingerprint;            /* of the message type, never 0 */
    uint32_t payload_size;           /* bytes */
    uint32_t slot_size;              /* bytes per cell, multiple of 16 */
    uint32_t capacity;               /* cells, power of two */
    uint32_t mask;                   /* capacity - 1 */
    uint32_t policy;                 /* rh_backpressure */
    uint32_t block_timeout_ms;
    uint32_t dedup_window;
    uint32_t ttl_ms;
    int32_t creator_pid;
    uint32_t creator_uid;
    uint32_t persist;                /* 1: kept at close, recovered at create (queue_persist.c) */
    uint32_t reserved;
    int64_t created_ns;              /* CLOCK_REALTIME when creator_pid created (or recovered) it */
    char name[RH_QUEUE_NAME_MAX + 1];
    char type_name[TYPE_NAME_MAX + 1];
    char type_origin[TYPE_ORIGIN_MAX + 1]; /* plugin path, "" when unknown */

    /* Each group below on its own line; the counters and bells are
     * touched on slow paths only.  A head and its tail are on two lines:
     * a head only its own side touches (a producer's CAS on prod_head
     * stays in its cache), a tail the other side polls (a consumer waits
     * on prod_tail).  On one line, the poller pulled the line away between
     * the CAS and the store of every burst, one more transfer each way. */
    _Alignas(64) _Atomic uint64_t counters[C_COUNT];
    _Alignas(64) _Atomic uint64_t high_water;
    _Alignas(64) _Atomic uint64_t prod_head; /* next position a producer claims */
    /* Non-zero once the indices were found to describe no queue
     * (CORRUPT_INDICES, queue_stall.c): producers then claim nothing.  In
     * prod_head's line, which every producer's CAS owns anyway, so the
     * check costs no transfer; cons_halt likewise for consumers. */
    _Atomic uint32_t prod_halt;
    _Alignas(64) _Atomic uint64_t prod_tail; /* cells before it are published */
    /* MOVE_NONE, or a dead host's queue that its next host took over
     * while clients still had it attached: a persist one copied into a
     * new object of the name (queue_persist.c, move_under_clients), any
     * other replaced (queue_shm.c, take_over_dead); this one reaches no
     * host.  On prod_tail's line: a client's send reads it right after its
     * publish and its doorbell's fence, from a line it has just written
     * (the fence and the mover's order are there). */
    _Atomic uint32_t moved;
    _Alignas(64) _Atomic uint64_t cons_head; /* next position a consumer claims */
    /* Claims table entries of kind ORPHAN, and of kind DONE (queue_claims.c):
     * consumers read both with a relaxed load on entry (this line is theirs
     * anyway), so the common case, none, costs nothing more. */
    _Atomic uint32_t orphans;
    _Atomic uint32_t parked;
    _Atomic uint32_t cons_halt; /* as prod_halt, for consumers */
    _Alignas(64) _Atomic uint64_t cons_tail; /* cells before it are read (and free, if not
                                              * persist) */
    /* Persist only: cells before it are done with, free again.  Written by
     * consumers once they are finished (a client after its recv; the
     * input bridge's thread once its kernel and output bridges are), by
     * CAS to a larger value with release; read by producers with acquire
     * instead of cons_tail (rh_queue.free_tail).  acked <= cons_tail.
     * On a shared queue that is not persist, the host's input bridge
     * writes it too, as a mark only (producers never read it): the next
     * start counts what a SIGKILL lost in the host from it (queue_shm.c). */
    _Atomic uint64_t acked;
    _Atomic uint32_t host_acks; /* 1 once a host's input bridge acks this queue */
    /* Messages stale client handles took back from it (rh_recv after
     * RH_ESTALE): their claims moved cons_head too, and are not the
     * host's (queue_shm.c take_over_dead subtracts them). */
    _Atomic uint64_t taken_back;
    /* Health, written on slow paths only (queue_health.c).  heartbeat_ns:
     * CLOCK_REALTIME, stored about once a second by the creating host's
     * heartbeat thread, so `ringhost stat` can say since when a host is
     * gone.  corrupt_sides: CORRUPT_PRODUCERS / CORRUPT_CONSUMERS, set
     * once a wait on that side's tail passed QUEUE_STALL_NS (queue.c
     * publish); CORRUPT_INDICES, CORRUPT_HEADER (below); the first such
     * mark's tail, claim and time are kept; corrupt counts the waiters
     * that gave up and the marks. */
    _Alignas(64) _Atomic int64_t heartbeat_ns;
    _Atomic uint64_t corrupt;
    _Atomic uint32_t corrupt_sides;
    _Atomic uint64_t corrupt_tail;   /* the tail that did not move */
    _Atomic uint64_t corrupt_claim;  /* the claim that waited for it */
    _Atomic int64_t corrupt_ns;      /* CLOCK_REALTIME of that stall */
    /* What the previous host's object of this name lost, written by the
     * host that replaced it (queue_shm.c, take_over_dead): the messages
     * its input bridge had taken and its kernel had not finished, and
     * those left queued that no client took back (UINT64_MAX until
     * known: clients still attached to the old object may take theirs). */
    _Alignas(64) _Atomic uint64_t replaced_lost_in_host;
    _Atomic uint64_t replaced_discarded;
    _Alignas(64) queue_claim claims[QUEUE_CLAIMS]; /* loans and peeks (queue_claims.c, queue_loan.c) */
    queue_note notes[QUEUE_NOTES]; /* producers' claims in flight (queue_notes.c) */
    _Alignas(64) rh_bell not_empty; /* consumers sleep here, producers ring */
    _Alignas(64) rh_bell not_full;  /* blocked producers sleep here, consumers ring */
} queue_header;

typedef struct cell {
    rh_envelope env;
    /* payload_size bytes follow */
} cell;
_Static_assert(sizeof(cell) == sizeof(rh_envelope), "a cell is its envelope and payload");

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
    int creator;         /* this handle created (or recovered) the mapping */
    /* What producers wait on for room: &h->cons_tail, or &h->acked on a
     * persist queue (a taken message keeps its cell until it is acked).
     * A pointer, not a branch, so the non-persist send path is unchanged. */
    _Atomic uint64_t *free_tail;
    int persist;         /* cfg.persist, or the header's for an attacher */
    int lock_fd;         /* persist creator: flocked shm fd, held until close; else -1 */
    int recovered;       /* the mapping was a previous run's (queue_persist.c) */
    uint64_t carried;    /* messages it held then */
    rh_queue_stats base; /* its counters then: rh__queue_stats_since_open subtracts them */
    /* This handle's loan and peek (queue_loan.c): at most one of each at a
     * time.  *_slot: the claims table entry + 1, 0 when none; the run is
     * [*_pos, *_pos + *_n); the peek's views point into it. */
    int loan_slot, peek_slot;
    uint64_t loan_pos, peek_pos;
    uint32_t loan_n, peek_n;
    _Atomic uint64_t claims_check_ns; /* the next time an empty receive may scan the table */
    _Atomic uint32_t corrupt_logged; /* CORRUPT_* bits this process logged for this handle */
    dev_t shm_dev;       /* identity of the shm object we created (so close never */
    ino_t shm_ino;       /* unlinks a newer host's queue) or attached to (stale check) */
    int stale;           /* attached: RH_ESTALE once its host was found gone or replaced */
    /* The creator that replaced a dead host's object (queue_shm.c): its
     * header and fd, kept while clients stay attached to it (they take
     * back what they stranded there), then counted once as
     * queue.discarded; NULL / -1 when none or done. */
    queue_header *dead_h;
    int dead_fd;
    uint64_t dead_queued; /* left queued in it at the takeover */
    uint64_t dead_lost, dead_discarded; /* for the new header's replaced line */
    uint64_t stale_next_ns; /* attached: when the next stale check may run (rate limit) */
    rh_queue_config cfg;
    const rh_type *type; /* NULL on an attached queue until bind_type */
    uint64_t fingerprint;
    char shm_name[sizeof("/" SHM_PREFIX) + 2 * RH_QUEUE_NAME_MAX + RH_QUEUE_SHM_SUFFIX];
    char name[RH_QUEUE_NAME_MAX + 1];
    char type_name[TYPE_NAME_MAX + 1];
    char type_origin[TYPE_ORIGIN_MAX + 1];
};

/* ------------------------------------------------------------ cells --- */

/* The cell of position pos, and the slow-path counters: every file of the
 * queue layer that reads or writes cells uses them. */
static inline cell *cell_at(const rh_queue *q, uint64_t pos)
{
    return (cell *)(q->cells + (size_t)(pos & q->mask) * q->slot_size);
}

static inline void count(rh_queue *q, int which, uint64_t n)
{
    atomic_fetch_add_explicit(&q->h->counters[which], n, memory_order_relaxed);
}

/* Whether the cell at pos carries no message (CELL_VOID_PORT, queue_layout.h). */
static inline int cell_is_void(const rh_queue *q, uint64_t pos)
{
    return __atomic_load_n(&cell_at(q, pos)->env.port, __ATOMIC_RELAXED) == CELL_VOID_PORT;
}

/* ------------------------------------------------------ layout rules --- */

static inline uint64_t slot_size_for(uint64_t payload_size)
{
    return (sizeof(cell) + payload_size + 15) & ~(uint64_t)15;
}

static inline int capacity_valid(uint64_t cap)
{
    return cap >= 2 && cap <= RH_QUEUE_CAPACITY_MAX && (cap & (cap - 1)) == 0;
}

/*
 * The shared-memory object name of queue `name` of `instance` into buf:
 * "/ringhost.<instance>:<name>", or, when that name is another user's
 * (/dev/shm is writable by all: anyone may create it first), the numbered
 * "/ringhost.<instance>:<name>:N" that this user's host uses
 * (base/own_name.h: the lowest number that is ours; creating, the lowest
 * free one).  Every path that opens, creates, lists or removes a queue's
 * object computes its name here (queue_info.c).  create 0: 1 when an object
 * of ours exists, 0 when none does (buf then holds the plain name, for the
 * caller's error); create 1: 1 ours exists, 0 buf is free to create.  -1
 * when /dev/shm cannot be listed (buf holds the plain name).  *squatter (may
 * be NULL): the uid owning the plain name when it is another user's, else
 * (uid_t)-1.
 */
int rh__queue_shm_name(const char *instance, const char *name, int create, char *buf,
                       size_t len, uid_t *squatter);

/* Check every header field an attacher relies on (queue_layout.c, for
 * queue_shm.c and queue_persist.c); 0 or RH_EINVAL with what is wrong in
 * err. */
int rh__queue_header_check(const queue_header *h, size_t file_size, const char *name,
                           rh_error *err);

/* At rh_queue_create of a persist queue (queue_persist.c): take over the
 * previous run's object of q->shm_name if there is one.  1: recovered, q is
 * ready; 0: there is none, create it; < 0: refused, with err set. */
int rh__queue_persist_open(rh_queue *q, const rh_type *type, rh_error *err);

/* rh_queue_attach of a persist queue (queue_persist.c): mark the client
 * attached, with a lock on fd kept in q->lock_fd; RH_EEXIST while a host
 * is recovering it. */
int rh__queue_persist_attach(rh_queue *q, int fd, rh_error *err);

/* Before a queue that is not persist replaces an object of its name
 * (queue_persist.c): RH_EEXIST if that is a persist queue holding
 * messages. */
int rh__queue_persist_guard(const rh_queue *q, rh_error *err);

/* queue_wait.c: a client's waiter (adaptive, with a short spin), and one
 * idle step of a bounded wait on `bell` until ready(q) or deadline_ns
 * (UINT64_MAX: forever): 0 to poll again, RH_ETIMEDOUT once the deadline
 * has passed. */
void rh__queue_client_waiter_init(rh_waiter *w);
int rh__queue_wait_step(rh_queue *q, rh_waiter *w, rh_bell *bell,
                        int (*ready)(const rh_queue *), uint64_t deadline_ns);
/* queue_stall.c: one nap of a publisher waiting for `tail` (prod_tail or
 * cons_tail, by side) to move from `seen` to its claim (queue_protocol.h
 * publish_run, past its spin): asleep on the doorbell the earlier claim's
 * publisher rings, at most PUBLISH_NAP_NS. */
#define PUBLISH_NAP_NS (1000ull * 1000)
void rh__queue_publish_nap(rh_queue *q, unsigned side, _Atomic uint64_t *tail, uint64_t seen);

/* queue_stall.c.  A wait on a tail (queue_protocol.h publish_run) that has not moved
 * for QUEUE_STALL_NS is not a claimer that was preempted but one that died
 * or a scribbled index: the waiter gives up (rh__queue_stalled says when)
 * and the side is marked corrupt. */
#define QUEUE_STALL_NS (1000ull * 1000 * 1000)
extern uint64_t rh__queue_stall_ns; /* QUEUE_STALL_NS; fuzz/fuzz_queue.c shortens it */
/* The longest a waiter waits for a claim whose holder lives (a loan or a
 * peek, queue_claims.c): then the side is marked corrupt as for a stall.
 * fuzz/fuzz_queue.c shortens it. */
#define QUEUE_HOLD_MAX_NS (10ull * 1000 * 1000 * 1000)
extern uint64_t rh__queue_hold_max_ns;
/* queue_header.moved.  FENCING: the mover has started (a send that then
 * reads it is the last to reach this object; what it published at or after
 * the mover's copy is given back by rh_recv); DONE: the copy is in the new
 * object, and cons_head, cons_tail and acked here were moved to where it
 * ended, so what rh_recv gives back from here is exactly what reached no
 * host. */
#define MOVE_NONE 0u
#define MOVE_FENCING 1u
#define MOVE_DONE 2u
/* An attached client saw its object moved (or marked stale another way
 * after a send that succeeded): sticky RH_ESTALE, logged once
 * (queue_health.c). */
void rh__queue_mark_moved(rh_queue *q);
/* Whether a stale handle's rh_recv may give messages back (queue_health.c):
 * 0 yes (not persist, or persist and moved: what reached it after the
 * takeover), RH_ESTALE no (persist, not moved: the next host recovers them
 * all).  Waits for a move in progress to end. */
int rh__queue_stale_recv(rh_queue *q);

#define CORRUPT_PRODUCERS 1u
#define CORRUPT_CONSUMERS 2u
/* The indices describe no queue (a head or tail moved back, or further
 * from the others than the capacity: another process wrote them): both
 * sides halt (prod_halt, cons_halt), so nothing is replayed and nothing
 * more accepted.  Set by rh__queue_scribbled. */
#define CORRUPT_INDICES 4u
/* The header's fixed fields (magic, version, geometry, names) no longer
 * match what the creating host wrote: found by its heartbeat
 * (queue_health.c); clients can no longer attach.  Data still moves. */
#define CORRUPT_HEADER 8u
#define CORRUPT_ALL 15u
/* Not a mark: corrupt_logged's bit for "an input bridge of this process
 * said it stops taking from the halted queue" (rh__queue_first_halt_notice). */
#define QUEUE_HALT_NOTICED 16u

/* One poll of a stalled wait in publish(): *since is 0 at the first.
 * Returns 1 when the waiter must give up (its side is already marked, or
 * the stall passed QUEUE_STALL_NS: the side is then marked, counted and
 * logged as queue.corrupt), 0 to wait on. */
int rh__queue_stalled(rh_queue *q, unsigned side, uint64_t tail, uint64_t claim,
                      uint64_t *since);

/* Mark the indices of q scribbled (CORRUPT_INDICES): both sides halt,
 * counted, logged once as queue.corrupt side=indices with what was seen
 * (what: a few words, seen: the value that gave it away).  Slow path. */
void rh__queue_scribbled(rh_queue *q, const char *what, uint64_t seen);

/* From the creating host's heartbeat (about once a second): the fixed
 * header fields still match this handle's copy, else CORRUPT_HEADER is
 * marked, counted and logged once (queue.corrupt side=header).  The host's
 * own handle never reads them again, so data still moves. */
void rh__queue_header_watch(rh_queue *q);

/* 1 the first time this handle is to log corrupt side `bit` (so each
 * process says it once, and the host's heartbeat says what another
 * process found: rh__queue_header_watch). */
static inline int queue_first_to_log(rh_queue *q, uint32_t bit)
{
    return (atomic_fetch_or_explicit(&q->corrupt_logged, bit, memory_order_relaxed) & bit) == 0;
}

/* Whether side (CORRUPT_*) of q was marked corrupt.  Scribbled indices
 * (CORRUPT_INDICES) mark both sides: both halted. */
static inline int queue_side_corrupt(const rh_queue *q, unsigned side)
{
    uint32_t sides = atomic_load_explicit(&q->h->corrupt_sides, memory_order_relaxed);
    if (sides & CORRUPT_INDICES)
        sides |= CORRUPT_PRODUCERS | CORRUPT_CONSUMERS;
    return (sides & side) != 0;
}

/* An attached client's check that its host is still there (queue_health.c):
 * RH_ESTALE when the object was removed or replaced in /dev/shm, or its
 * creator's process is gone; else 0.  At most every STALE_CHECK_NS (it
 * answers from the last check in between), and sticky; 0 at once for the
 * creator's handle and private queues.  Slow paths only. */
#define STALE_CHECK_NS (100ull * 1000 * 1000)
int rh__queue_stale_check(rh_queue *q, uint64_t now_ns);

/* queue_stall.c: whether process pid exists and is not a zombie (a host
 * killed but not yet reaped runs nothing). */
int rh__queue_pid_alive(pid_t pid);

/* queue_takeover.c: once no client is attached to the dead object a creator
 * replaced (q->dead_h), count what is left in it as discarded (logged
 * once, queue.discarded, and kept in the header's replaced line); with
 * final (at close) whatever clients remain.  From the heartbeat. */
void rh__queue_dead_settle(rh_queue *q, int final);
/* queue_takeover.c: the pid of the live process that created the existing
 * object of this name, or 0 when there is none (no object, not a queue,
 * creator gone). */
pid_t rh__queue_live_creator(const char *shm_name);
/* queue_takeover.c: the object of q's name was left by a host that died
 * (st its stat): log what it held and lost (queue.replaced), mark it moved
 * for the clients still attached, keep it for rh__queue_dead_settle while
 * they are. */
struct stat;
void rh__queue_take_over_dead(rh_queue *q, const struct stat *st);

/* queue_health.c: the creating host's heartbeat, for shared queues. */
void rh__queue_heartbeat_start(rh_queue *q);
void rh__queue_heartbeat_stop(rh_queue *q);

/* queue.c: a send (or a reservation, queue_loan.c) found the queue full:
 * apply its policy, calling attempt(q, arg) (0: done, RH_EFULL: still
 * full, else an error) for each retry: block waits on not_full up to
 * block_timeout_ms, reject refuses, drop_newest drops, drop_oldest evicts
 * the oldest waiting message; each counted as rh_send documents.  The one
 * place the policies are written, so a loan keeps the same promises. */
int rh__queue_full_policy(rh_queue *q, int (*attempt)(rh_queue *, void *), void *arg);

/* queue_recv.c: dequeue one message into env/buf (discard, with both NULL:
 * drop it, for drop_oldest).  Returns the payload length, RH_EEMPTY, or
 * RH_ETOOBIG (left queued). */
int rh__queue_try_dequeue(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len,
                          int discard);

/* queue_claims.c, from the creating host's heartbeat (queue_health.c, about
 * once a second): look for claims whose holders died even when nobody
 * waits behind them (a consumer parked on an empty queue would never see
 * a dead peek's messages otherwise): dead peeks become orphans (and the
 * consumers' bell rings), a dead loan at prod_tail is published void.
 * Nothing when the heads equal the tails. */
void rh__queue_claims_sweep(rh_queue *q);

/* queue_claims.c: 1 when the consumer run at cons_tail is in the claims
 * table (a peek, an orphan, a parked run): drop_oldest then refuses at
 * once instead of waiting for cells a peek holds. */
int rh__queue_cons_tail_held(rh_queue *q);

/* queue_loan.c: at rh_queue_close, a loan still held is published void
 * and a peek still held released. */
void rh__queue_loans_close(rh_queue *q);

/* The number of rh_backpressure policies: a header's policy field and a
 * configuration's backpressure must be below it.  queue.c names each one. */
#define BP_COUNT ((unsigned)RH_BP_DROP_NEWEST + 1)

#endif /* RH_QUEUE_LAYOUT_H */
