/*
 * queue_claims.c — the claims table of a named queue: who holds which
 * loan or peek (queue_loan.c), so that a client dying with one neither
 * wedges the queue nor loses a message.
 *
 * The claims table (queue_layout.h, QUEUE_CLAIMS entries in the header)
 * records each loan and peek: its holder's pid and its run [pos, end).
 * An entry is written before the claim's CAS (pos/end as the run the CAS
 * would take, kind *_RESERVING / *_PEEKING) and becomes *_RESERVED /
 * *_PEEKED after it.  A waiter in publish_run that stalls (64 polls) asks
 * rh__queue_claim_stall about the tail it waits on:
 *
 *  - No entry starts at that tail: on the producers' side the producers'
 *    notes say who holds it (queue_notes.c: live, wait up to the caller's
 *    deadline; dead, publish it void; no note, a scribbled head: the 1-s
 *    rule); on the consumers' side an unrecorded claim (a copying
 *    receive), so the 1-s rule as before.
 *  - The holder is alive: wait, and the 1-s rule does not apply; after
 *    10 ms in naps of 1 ms instead of yields, and `queue.claim_held` is
 *    logged once per wait past 1 s naming the pid.  The bound is
 *    QUEUE_HOLD_MAX_NS (10 s): a wait that long on a live holder ends as
 *    an unrecorded stall does (the side marked corrupt), because the
 *    table is in memory any process of the user may write, and an entry
 *    scribbled with a live pid must not make a call wait for ever.  What
 *    a long-held loan costs:
 *    every producer behind it waits (rh_send with any policy: its cell is
 *    claimed and must be published in order), and consumers see nothing
 *    past it.  What a long-held peek costs: its cells are not freed, so
 *    producers meet the queue's policy once it is full; consumers behind it
 *    do NOT wait: a consumer run that stalls behind a peek is parked (see
 *    below) and the receive returns its messages.  Hold loans for
 *    microseconds; peeks as long as needed (a peek past 10 s only costs
 *    something once the table is full and a receive has to wait behind
 *    it), bounded by what the queue's capacity and policy allow the
 *    producers.
 *  - The holder is dead (kill(pid, 0) fails or it is a zombie:
 *    rh__queue_pid_alive) and the entry is past its CAS (or still before
 *    it after half of QUEUE_STALL_NS: a holder killed in the two
 *    instructions between its entry and its CAS leaves a run the CAS may
 *    or may not have taken, and a live claimer of that run would have
 *    published it within that time):
 *      a loan: the waiter writes each of its cells void (CELL_VOID_PORT,
 *      payload 0 bytes), publishes the run (CAS prod_tail from its start
 *      to its end) and frees the entry.  Void cells are skipped by every
 *      consumer, never delivered and never counted as messages (the
 *      stats subtract them): the dead sender never got a commit, so no
 *      message was accepted and none is lost.
 *      a peek: the entry becomes an ORPHAN (h->orphans counts them).
 *      Every receive looks at h->orphans first (a relaxed load of the
 *      consumers' own line) and adopts an orphan: it takes its messages
 *      from [next, end), marked RH_ENV_REDELIVERED, copying (rh_recv,
 *      rh_recv_burst, the input bridge) or in place (rh_recv_peek, which
 *      then holds the entry as its own peek), and publishes the run once
 *      all of it is taken.  An adopter that dies leaves an orphan again
 *      (next only moves once its messages are delivered): at least once.
 *    A receive that finds the queue empty while consumers hold claims
 *    (cons_head != cons_tail) also looks for dead peek holders, at most
 *    every 10 ms (rh__queue_claims_recover), so the next reader gets a
 *    dead peek's messages even when nothing else arrives.
 *
 * Parking: a consumer run stalled behind a peek (live, orphaned, being
 * adopted) or behind a parked run, with a free entry, is written to the
 * table as DONE (its messages are the receiver's; CLAIM_ACK when the
 * receive acknowledges on a persist queue) and the receive returns.
 * Whoever moves cons_tail to a DONE run's start publishes it too
 * (rh__queue_help_parked: CAS cons_tail start -> end, so it happens
 * once), and so on down the chain; every receive also helps on entry
 * when h->parked is not 0, so a publish that raced with a park (neither
 * saw the other: the fast path has no fence for it) is finished by the
 * next receive.  A helper that dies mid-publish leaves a PUBLISHING entry
 * of a dead pid, taken up again as DONE.  With no free entry the run
 * waits as before (never marked corrupt behind a live holder).
 *
 * Order: a peek's messages redelivered after its holder died come after
 * what the queue delivered meanwhile; consumers behind a peek publish out
 * of claim order only through parking, which keeps cons_tail in order.
 *
 * Everything in the table is written by processes of the user and may be
 * scribbled on: each run is checked against the tails (at most capacity
 * long, starting within capacity of its tail) before anything uses it;
 * a peek's views are computed from positions masked into the ring and
 * lengths clamped to the slot, so no scribble makes a read leave the
 * mapping (fuzz/fuzz_queue.c).  Slow paths only, except the two relaxed
 * loads on a receive's entry and a load of h->parked after a consumer's
 * publish.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_claims.h"
#include "queue/queue_notes.h"

/* -------------------------------------------------------- the entries --- */

#define CLAIM_POS_NONE UINT64_MAX /* a free entry's pos: matches no tail */
#define RECOVER_EVERY_NS (10 * RH_NS_PER_MS)

uint64_t rh__queue_hold_max_ns = QUEUE_HOLD_MAX_NS;
#define HELD_NAP_AFTER_NS (10 * RH_NS_PER_MS)

/* This process's pid, cached: getpid() is a system call in glibc >= 2.25,
 * and a loan plus a peek stamp an owner four times (measured: 530 ns a
 * 64-byte round trip with the calls, docs/PERFORMANCE.md).  A forked
 * child starts with 0 again (pthread_atfork), so it records its own. */
static _Atomic pid_t self_pid;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_forget(void)
{
    atomic_store_explicit(&self_pid, 0, memory_order_relaxed);
}

static void self_register(void)
{
    pthread_atfork(NULL, NULL, self_forget);
}

static pid_t self(void)
{
    pid_t p = atomic_load_explicit(&self_pid, memory_order_relaxed);
    if (__builtin_expect(p == 0, 0)) {
        pthread_once(&self_once, self_register);
        p = getpid();
        atomic_store_explicit(&self_pid, p, memory_order_relaxed);
    }
    return p;
}

uint64_t rh__claims_owner(unsigned kind, uint64_t flags)
{
    return ((uint64_t)(uint32_t)self() << 8) | kind | flags;
}

static inline pid_t pid_of(uint64_t owner)
{
    return (pid_t)(uint32_t)(owner >> 8);
}

static inline int kind_is_consumer(unsigned k)
{
    return k >= CLAIM_K_PEEKING && k <= CLAIM_K_PUBLISHING;
}

/* Take a free entry for kind; its index, or -1 when all are in use. */
int rh__claims_take(rh_queue *q, unsigned kind, uint64_t flags)
{
    for (int i = 0; i < QUEUE_CLAIMS; i++) {
        uint64_t expect = CLAIM_FREE;
        if (atomic_load_explicit(&q->h->claims[i].owner, memory_order_relaxed) == CLAIM_FREE &&
            atomic_compare_exchange_strong_explicit(&q->h->claims[i].owner, &expect,
                                                    rh__claims_owner(kind, flags), memory_order_acq_rel,
                                                    memory_order_relaxed))
            return i;
    }
    return -1;
}

void rh__claims_free(rh_queue *q, int i)
{
    queue_claim *c = &q->h->claims[i];
    atomic_store_explicit(&c->pos, CLAIM_POS_NONE, memory_order_relaxed);
    atomic_store_explicit(&c->owner, CLAIM_FREE, memory_order_release);
}

int rh__claims_run_sane(const rh_queue *q, uint64_t pos, uint64_t next, uint64_t end)
{
    uint64_t tail = atomic_load_explicit(&q->h->cons_tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&q->h->cons_head, memory_order_acquire);
    return end - pos >= 1 && end - pos <= q->capacity && next - pos <= end - pos &&
           pos - tail <= q->capacity && end - tail <= head - tail;
}

/* ------------------------------------------------------------ parking --- */

int rh__queue_help_parked(rh_queue *q)
{
    queue_header *h = q->h;
    int progress = 0;
    for (unsigned rounds = 0; rounds <= QUEUE_CLAIMS; rounds++) {
        uint64_t tail = atomic_load_explicit(&h->cons_tail, memory_order_acquire);
        int found = 0;
        for (int i = 0; i < QUEUE_CLAIMS && !found; i++) {
            queue_claim *c = &h->claims[i];
            uint64_t o = atomic_load_explicit(&c->owner, memory_order_acquire);
            unsigned k = rh__claims_kind_of(o);
            if (k != CLAIM_K_DONE && k != CLAIM_K_PUBLISHING)
                continue;
            uint64_t pos = atomic_load_explicit(&c->pos, memory_order_acquire);
            uint64_t end = atomic_load_explicit(&c->end, memory_order_relaxed);
            if (pos != tail) {
                /* A DONE run the tail has passed (published by a helper
                 * that died before freeing it), or a scribble: inert. */
                if (k == CLAIM_K_DONE && (int64_t)(end - tail) <= 0 &&
                    atomic_compare_exchange_strong_explicit(&c->owner, &o, rh__claims_owner(
                        CLAIM_K_PUBLISHING, 0), memory_order_acq_rel, memory_order_relaxed)) {
                    rh__claims_free(q, i);
                    rh__claims_sat_dec(&h->parked);
                }
                continue;
            }
            if (k == CLAIM_K_PUBLISHING && rh__queue_pid_alive(pid_of(o)))
                continue; /* being published (or parked) right now */
            if (!atomic_compare_exchange_strong_explicit(
                    &c->owner, &o, rh__claims_owner(CLAIM_K_PUBLISHING, o & CLAIM_ACK),
                    memory_order_acq_rel, memory_order_relaxed))
                continue;
            end = atomic_load_explicit(&c->end, memory_order_acquire);
            uint64_t head = atomic_load_explicit(&h->cons_head, memory_order_acquire);
            /* A run inside what consumers claimed: a scribbled end must not
             * move the tail past cons_head (cells nobody read). */
            if (end - tail >= 1 && end - tail <= q->capacity && end - tail <= head - tail) {
                uint64_t expect = tail;
                /* Release: the parked receiver's reads of those cells
                 * happen before a producer that acquires cons_tail reuses
                 * them (its park stored owner with seq_cst after them). */
                if (atomic_compare_exchange_strong_explicit(&h->cons_tail, &expect, end,
                                                            memory_order_acq_rel,
                                                            memory_order_relaxed)) {
                    if ((o & CLAIM_ACK) && q->persist)
                        rh__queue_ack(q, end);
                    rh_bell_ring(&h->not_full);
                    found = 1;
                }
            }
            rh__claims_free(q, i);
            rh__claims_sat_dec(&h->parked);
        }
        if (!found)
            break;
        progress = 1;
    }
    return progress;
}

/* Hand the finished consumer run [pos, end) to the table: 1 when parked. */
static int park_run(rh_queue *q, uint64_t pos, uint64_t end, unsigned park)
{
    int i = rh__claims_take(q, CLAIM_K_PUBLISHING, 0);
    if (i < 0)
        return 0;
    queue_claim *c = &q->h->claims[i];
    atomic_store_explicit(&c->end, end, memory_order_relaxed);
    atomic_store_explicit(&c->next, end, memory_order_relaxed);
    atomic_store_explicit(&c->upto, end, memory_order_relaxed);
    atomic_store_explicit(&c->pos, pos, memory_order_release);
    /* seq_cst: against a publisher that moved cons_tail to pos meanwhile
     * and read h->parked before this (then the help below sees the tail). */
    atomic_store_explicit(&c->owner, CLAIM_K_DONE | (park == PARK_ACK ? CLAIM_ACK : 0),
                          memory_order_seq_cst);
    atomic_fetch_add_explicit(&q->h->parked, 1, memory_order_seq_cst);
    rh__queue_help_parked(q);
    return 1;
}

/* ---------------------------------------------------------- repairing --- */

/* The loan in entry i (owner o) starts at prod_tail == tail and its holder
 * is dead: publish its cells void. */
static void void_run(rh_queue *q, int i, uint64_t o, uint64_t tail)
{
    queue_header *h = q->h;
    queue_claim *c = &h->claims[i];
    if (!atomic_compare_exchange_strong_explicit(&c->owner, &o, rh__claims_owner(CLAIM_K_VOIDING, 0),
                                                 memory_order_acq_rel, memory_order_relaxed))
        return;
    uint64_t end = atomic_load_explicit(&c->end, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&h->prod_head, memory_order_acquire);
    if (atomic_load_explicit(&c->pos, memory_order_acquire) != tail || end - tail < 1 ||
        end - tail > q->capacity || end - tail > head - tail) {
        rh__claims_free(q, i); /* scribbled: nothing to repair that we can trust */
        return;
    }
    for (uint64_t p = tail; p != end; p++) {
        cell *cl = cell_at(q, p);
        __atomic_store_n(&cl->env.payload_len, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&cl->env.port, (uint16_t)CELL_VOID_PORT, __ATOMIC_RELAXED);
    }
    count(q, C_VOID_MADE, end - tail);
    uint64_t expect = tail;
    /* Release: the void marks are visible to whoever acquires prod_tail. */
    atomic_compare_exchange_strong_explicit(&h->prod_tail, &expect, end, memory_order_acq_rel,
                                            memory_order_relaxed);
    rh__claims_free(q, i);
    rh_bell_ring(&h->not_empty);
    rh__log_event(NULL, RH_LOG_WARN, "queue.loan_repaired",
                  "queue=%s holder_pid=%d cells=%llu from=%llu action=published_void",
                  q->name, (int)pid_of(o), (unsigned long long)(end - tail),
                  (unsigned long long)tail);
}

/* The peek in entry i (owner o) belongs to a dead holder: an orphan. */
static int orphan_run(rh_queue *q, int i, uint64_t o)
{
    queue_claim *c = &q->h->claims[i];
    if (!atomic_compare_exchange_strong_explicit(&c->owner, &o, CLAIM_K_ORPHAN,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return 0;
    atomic_fetch_add_explicit(&q->h->orphans, 1, memory_order_release);
    rh_bell_ring(&q->h->not_empty); /* a parked consumer: there is work again */
    rh__log_event(NULL, RH_LOG_WARN, "queue.peek_orphaned",
                  "queue=%s holder_pid=%d from=%llu cells=%llu action=redeliver", q->name,
                  (int)pid_of(o), (unsigned long long)atomic_load(&c->next),
                  (unsigned long long)(atomic_load(&c->end) - atomic_load(&c->next)));
    return 1;
}

/* Dead holders of consumer entries: peeks become orphans, helpers that
 * died publishing are replaced.  1 when it found one. */
static int sweep_consumers(rh_queue *q)
{
    queue_header *h = q->h;
    int found = 0;
    for (int i = 0; i < QUEUE_CLAIMS; i++) {
        uint64_t o = atomic_load_explicit(&h->claims[i].owner, memory_order_acquire);
        unsigned k = rh__claims_kind_of(o);
        if (k != CLAIM_K_PEEKED && k != CLAIM_K_ADOPTING && k != CLAIM_K_PUBLISHING)
            continue;
        if (rh__queue_pid_alive(pid_of(o)))
            continue;
        if (k == CLAIM_K_PUBLISHING)
            found |= rh__queue_help_parked(q);
        else
            found |= orphan_run(q, i, o);
    }
    return found;
}

int rh__queue_claims_recover(rh_queue *q)
{
    queue_header *h = q->h;
    if (atomic_load_explicit(&h->cons_head, memory_order_relaxed) ==
        atomic_load_explicit(&h->cons_tail, memory_order_relaxed))
        return 0;
    /* Relaxed: threads sharing the handle may both scan once, harmless. */
    uint64_t now = rh_now_ns();
    if (now < atomic_load_explicit(&q->claims_check_ns, memory_order_relaxed))
        return 0;
    atomic_store_explicit(&q->claims_check_ns, now + RECOVER_EVERY_NS, memory_order_relaxed);
    return sweep_consumers(q);
}

void rh__queue_claims_sweep(rh_queue *q)
{
    queue_header *h = q->h;
    rh__queue_header_watch(q); /* the heartbeat's once-a-second look (queue_stall.c) */
    if (atomic_load_explicit(&h->cons_head, memory_order_relaxed) !=
        atomic_load_explicit(&h->cons_tail, memory_order_relaxed)) {
        sweep_consumers(q);
        if (atomic_load_explicit(&h->parked, memory_order_relaxed))
            rh__queue_help_parked(q);
    }
    uint64_t tail = atomic_load_explicit(&h->prod_tail, memory_order_acquire);
    if (atomic_load_explicit(&h->prod_head, memory_order_relaxed) == tail)
        return;
    /* A dead sender's claim at prod_tail (queue_notes.c): published void
     * now, not when the next send waits behind it. */
    int holder;
    (void)rh__queue_notes_stall(q, tail, &holder);
    /* A dead holder's loan at prod_tail (past its CAS: one still before it
     * is left to a waiter's stall, which can time it) blocks every producer
     * behind it: published void now, not at the next send. */
    for (int i = 0; i < QUEUE_CLAIMS; i++) {
        uint64_t o = atomic_load_explicit(&h->claims[i].owner, memory_order_acquire);
        unsigned k = rh__claims_kind_of(o);
        if ((k == CLAIM_K_RESERVED || k == CLAIM_K_VOIDING) &&
            atomic_load_explicit(&h->claims[i].pos, memory_order_acquire) == tail &&
            !rh__queue_pid_alive(pid_of(o)))
            void_run(q, i, o, tail);
    }
}

/* A producers' wait on tail, where no loan starts: the notes say who holds
 * the claim (queue_notes.c).  A live holder is waited for, however long,
 * and nothing is marked; a dead one's run is published void; only a
 * claim without a note (a scribbled head), or dead holders' notes that
 * disagree, fall under the 1-s rule. */
static int notes_stall(rh_queue *q, uint64_t tail, uint64_t pos, uint64_t *since)
{
    int holder = 0;
    switch (rh__queue_notes_stall(q, tail, &holder)) {
    case NOTES_REPAIRED:
        *since = 0;
        return STALL_WAIT;
    case NOTES_LIVE: {
        /* since counts this wait on a live holder, for the log and the naps */
        uint64_t now = rh_now_ns();
        if (*since == 0)
            *since = now;
        uint64_t waited = now - *since;
        static _Thread_local uint64_t logged_for;
        if (waited >= rh__queue_stall_ns && logged_for != *since) {
            logged_for = *since;
            rh__log_event(NULL, RH_LOG_WARN, "queue.claim_slow",
                          "queue=%s side=producers holder_pid=%d tail=%llu waited_ms=%llu "
                          "action=waiting_for_live_holder",
                          q->name, holder, (unsigned long long)tail,
                          (unsigned long long)(waited / RH_NS_PER_MS));
        }
        /* The caller's own deadline: block_timeout_ms, and never less
         * than the stall rule (1 s), so a holder preempted for a moment is
         * not given up on.  Past it the caller gives its own run up
         * (RH_ETIMEDOUT, nothing sent, nothing marked). */
        uint64_t deadline = (uint64_t)q->cfg.block_timeout_ms * RH_NS_PER_MS;
        if (deadline < rh__queue_stall_ns)
            deadline = rh__queue_stall_ns;
        if (waited >= deadline)
            return STALL_ABANDON;
        if (waited >= HELD_NAP_AFTER_NS) {
            struct timespec ts = {0, RH_NS_PER_MS};
            nanosleep(&ts, NULL);
        }
        return STALL_WAIT;
    }
    default: /* NOTES_NONE, NOTES_UNSURE */
        return rh__queue_stalled(q, CORRUPT_PRODUCERS, tail, pos, since) ? STALL_GIVE_UP
                                                                        : STALL_WAIT;
    }
}

int rh__queue_claim_stall(rh_queue *q, unsigned side, uint64_t tail, uint64_t pos, uint64_t end,
                          unsigned park, uint64_t *since)
{
    queue_header *h = q->h;
    uint64_t now = rh_now_ns();
    if (*since == 0)
        *since = now;
    if (side == CORRUPT_CONSUMERS && rh__queue_help_parked(q))
        return STALL_WAIT; /* the tail moved: look again */
    int i = 0;
    uint64_t o = 0;
    for (; i < QUEUE_CLAIMS; i++) {
        o = atomic_load_explicit(&h->claims[i].owner, memory_order_acquire);
        unsigned k = rh__claims_kind_of(o);
        int mine = side == CORRUPT_PRODUCERS ? (k >= CLAIM_K_RESERVING && k <= CLAIM_K_VOIDING)
                                             : kind_is_consumer(k);
        if (mine && atomic_load_explicit(&h->claims[i].pos, memory_order_acquire) == tail)
            break;
    }
    if (i == QUEUE_CLAIMS) {
        if (side == CORRUPT_PRODUCERS)
            return notes_stall(q, tail, pos, since);
        return rh__queue_stalled(q, side, tail, pos, since) ? STALL_GIVE_UP : STALL_WAIT;
    }
    unsigned k = rh__claims_kind_of(o);
    int has_pid = k != CLAIM_K_ORPHAN && k != CLAIM_K_DONE;
    int dead = has_pid && !rh__queue_pid_alive(pid_of(o));
    int pending = k == CLAIM_K_RESERVING || k == CLAIM_K_PEEKING;
    if (dead && (!pending || now - *since >= rh__queue_stall_ns / 2)) {
        if (side == CORRUPT_PRODUCERS) {
            void_run(q, i, o, tail);
            *since = 0;
            return STALL_WAIT;
        }
        if (k == CLAIM_K_PUBLISHING)
            rh__queue_help_parked(q);
        else if (orphan_run(q, i, o))
            k = CLAIM_K_ORPHAN;
    }
    if (side == CORRUPT_CONSUMERS && park != PARK_NONE && k != CLAIM_K_DONE &&
        k != CLAIM_K_PUBLISHING && park_run(q, pos, end, park))
        return STALL_PARKED;
    /* A holder that lives (or one not yet known dead): wait, and the 1-s
     * rule does not apply, up to rh__queue_hold_max_ns.  Past that the
     * entry is no longer believed (a holder stuck for good, or an entry
     * another process scribbled with a live pid: no call may wait for ever
     * on what the header says) and the wait ends as an unrecorded stall
     * does: the side is marked corrupt (a since of 1 is a stall long past). */
    uint64_t waited = now - *since;
    if (waited >= rh__queue_hold_max_ns) {
        uint64_t long_ago = 1;
        return rh__queue_stalled(q, side, tail, pos, &long_ago) ? STALL_GIVE_UP : STALL_WAIT;
    }
    static _Thread_local uint64_t logged_for; /* the wait (its since) this thread logged */
    if (waited >= rh__queue_stall_ns && logged_for != *since) {
        logged_for = *since;
        rh__log_event(NULL, RH_LOG_WARN, "queue.claim_held",
                      "queue=%s side=%s holder_pid=%d tail=%llu waited_ms=%llu "
                      "gives_up_after_ms=%llu action=waiting_for_holder",
                      q->name, side == CORRUPT_PRODUCERS ? "producers" : "consumers",
                      has_pid ? (int)pid_of(o) : 0, (unsigned long long)tail,
                      (unsigned long long)(waited / RH_NS_PER_MS),
                      (unsigned long long)(rh__queue_hold_max_ns / RH_NS_PER_MS));
    }
    if (waited >= HELD_NAP_AFTER_NS) {
        struct timespec ts = {0, RH_NS_PER_MS};
        nanosleep(&ts, NULL);
    }
    return STALL_WAIT;
}

int rh__queue_cons_tail_held(rh_queue *q)
{
    queue_header *h = q->h;
    uint64_t tail = atomic_load_explicit(&h->cons_tail, memory_order_acquire);
    if (atomic_load_explicit(&h->cons_head, memory_order_relaxed) == tail)
        return 0;
    for (int i = 0; i < QUEUE_CLAIMS; i++) {
        unsigned k = rh__claims_kind_of(atomic_load_explicit(&h->claims[i].owner, memory_order_acquire));
        if (kind_is_consumer(k) &&
            atomic_load_explicit(&h->claims[i].pos, memory_order_acquire) == tail)
            return 1;
    }
    return 0;
}
