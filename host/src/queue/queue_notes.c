/*
 * queue_notes.c — the producers' notes: which thread holds each producer
 * claim in flight, so that slow is never taken for dead.
 *
 * The problem.  A producer claims cells by CAS on prod_head and publishes
 * them by moving prod_tail in claim order (queue_protocol.h).  The producer
 * behind a claim that is not published waits.  Before the notes, a claim
 * that was not a loan carried no name, and the waiter could tell a holder
 * that was descheduled (SCHED_IDLE beside a busy cpu, a VM's steal, a page
 * fault: seen for 1.4 s) from one that died only by time: after 1 s the
 * producers' side was marked corrupt and every send of every client failed
 * until the host was relaunched.
 *
 * The notes (queue_layout.h, QUEUE_NOTES lines in the header).  Every
 * producer claim that is not a loan takes a free note first (one CAS on a
 * line the thread used the last time, so it stays in its cache), writes
 * into it the run its CAS would claim ([pos, end), done = pos: pending),
 * then CASes prod_head, then sets done = end (held for sure), fills and
 * publishes, and frees the note.  Loans keep their claims-table entries
 * (queue_claims.c), which work the same way.  So while prod_tail waits at
 * tail, the claim starting there has a note (or a loan entry) with
 * pos == tail, written before its CAS, which happened before the waiter's
 * own claim: the waiter reads the notes after an acquire of prod_head.
 *
 * The owner word names the holder: pid, tid and the low bits of the
 * thread's start time (/proc/<pid>/task/<tid>/stat), so a pid or tid
 * reused by another process is not taken for the holder (it would need
 * the same start time within 2^20 clock ticks).  In-place runs
 * (queue_inplace.c) are held across a kernel's batch and may be published
 * by another thread of the host: their owner is the process (tid 0).
 *
 * A waiter stalled 64 polls asks rh__queue_notes_stall about the notes
 * with pos == tail (there may be several: a claimer whose CAS lost the
 * race wrote the same pos before trying again):
 *  - any of a live holder: wait.  However long: a live holder publishes
 *    once it runs again, and nothing is ever marked for it.  After 10 ms
 *    the waiter naps 1 ms at a time (queue_claims.c), so a holder starved
 *    of cpu gets it; after 1 s it logs queue.claim_slow once per wait.
 *  - all of dead holders: the claim is repaired as a dead loan's is:
 *    its cells are published void (CELL_VOID_PORT, skipped by every
 *    consumer, counted made void), logged queue.claim_repaired.  The dead
 *    sender never returned 0, so no message was accepted and none is lost.
 *    Which run: the note that says its CAS succeeded (done > pos); else
 *    the pending ones, which must agree on end (one note, or several of
 *    the same length).  A dead holder that did not reach its CAS (or lost
 *    it) and one that did cannot be told apart, but the claim at tail has
 *    a note, so a single pending note there is the claimer's.  Notes of
 *    dead holders that disagree (two senders killed each within the few
 *    instructions around their CAS, at the same position) are NOTES_UNSURE:
 *    the 1-s rule then, as for a scribble.
 *  - none: no claim of this protocol starts at tail: a head scribbled by
 *    another process.  Only then does the 1-s rule mark the side corrupt.
 * The repairer takes the note first (CAS of its owner to its own
 * identity), so one waiter writes the void marks, while the tail still
 * waits at its start (the cells cannot have been reused).
 *
 * What is not covered: notes are in memory any process of the user may
 * write.  Every run is checked against the indices before it is voided
 * (at most capacity, not past prod_head), and a note naming the waiter
 * itself is not believed; a note scribbled with another live thread's
 * identity and start time makes the producers behind it wait, as a
 * stopped holder does.  Consumers (copying receives) are not noted: a
 * consumer descheduled between its claim and its publish still meets the
 * 1-s rule, behind it only other consumers (RELIABILITY.md says so).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_notes.h"

/* ---------------------------------------------------------- identity --- */

_Thread_local uint64_t rh__note_self;
_Thread_local uint32_t rh__note_hint;
static _Atomic uint64_t process_self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

/* A forked child is another process: its threads (the one that forked)
 * learn their identity again. */
static void self_forget(void)
{
    rh__note_self = 0;
    atomic_store_explicit(&process_self, 0, memory_order_relaxed);
}

static void self_register(void)
{
    pthread_atfork(NULL, NULL, self_forget);
}

/* State letter and start time (clock ticks since boot, field 22) of a
 * /proc stat file: 1, -1 when it does not exist (no such process or
 * thread), 0 when it cannot be read (no /proc). */
static int read_stat(const char *path, char *state, uint64_t *start)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? -1 : 0;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return n < 0 && errno == ESRCH ? -1 : 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    if (!p || p[1] != ' ' || !p[2])
        return 0;
    *state = p[2];
    p += 2; /* field 3, the state */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 1;
}

#define ID_PID_SHIFT 42
#define ID_TID_SHIFT 20
#define ID_22 0x3FFFFFull /* pid_max is at most 2^22 (PID_MAX_LIMIT) */
#define ID_START_MASK 0xFFFFFull

static uint64_t identity(pid_t pid, pid_t tid, uint64_t start)
{
    return (((uint64_t)pid & ID_22) << ID_PID_SHIFT) | (((uint64_t)tid & ID_22) << ID_TID_SHIFT) |
           (start & ID_START_MASK);
}

static uint64_t start_of(pid_t pid, pid_t tid)
{
    char path[64], state;
    uint64_t start = 0;
    if (tid)
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    (void)read_stat(path, &state, &start);
    return start;
}

uint64_t rh__note_self_slow(void)
{
    pthread_once(&self_once, self_register);
    pid_t pid = getpid(), tid = gettid();
    rh__note_self = identity(pid, tid, start_of(pid, tid));
    /* Threads spread over the table: each keeps to its own line. */
    rh__note_hint = ((uint32_t)tid * 2654435761u) >> 26;
    return rh__note_self;
}

uint64_t rh__note_process(void)
{
    uint64_t me = atomic_load_explicit(&process_self, memory_order_relaxed);
    if (__builtin_expect(me == 0, 0)) {
        pthread_once(&self_once, self_register);
        pid_t pid = getpid();
        me = identity(pid, 0, start_of(pid, 0));
        atomic_store_explicit(&process_self, me, memory_order_relaxed);
    }
    return me;
}

int rh__note_owner_alive(uint64_t o)
{
    pid_t pid = (pid_t)(o >> ID_PID_SHIFT), tid = (pid_t)((o >> ID_TID_SHIFT) & ID_22);
    if (pid <= 0)
        return 0;
    char path[64], state = 0;
    uint64_t start = 0;
    if (tid)
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int rc = read_stat(path, &state, &start);
    if (rc < 0)
        return 0;
    if (rc == 0) /* no /proc: the pid is all there is to go by */
        return kill(pid, 0) == 0 || errno == EPERM;
    /* A killed process not reaped yet still has its files: a zombie runs
     * nothing.  A start time that differs: the pid (or tid) was reused. */
    return state != 'Z' && state != 'X' && (start & ID_START_MASK) == (o & ID_START_MASK);
}

/* ------------------------------------------------------------ taking --- */

/* Free the notes of dead holders that describe no claim in progress: their
 * run is published (end at or before prod_tail), or nobody claimed its
 * start (prod_head not past it: the CAS failed or never ran).  A dead
 * holder's note the tail has still to reach is left for the waiter that
 * will need it.  1 when it freed one. */
static int reclaim_dead(rh_queue *q, uint64_t me)
{
    queue_header *h = q->h;
    int freed = 0;
    for (unsigned i = 0; i < QUEUE_NOTES; i++) {
        queue_note *n = &h->notes[i];
        uint64_t o = atomic_load_explicit(&n->owner, memory_order_acquire);
        /* Ours (this thread's, found by the caller's scan, or this
         * process's in-place runs), or a live holder's: kept.  A thread
         * keeps its note between sends, so a live thread's idle note is
         * not reclaimed: QUEUE_NOTES threads sending to one queue at once
         * is the table's limit. */
        if (o == 0 || o == me || o == rh__note_process() || rh__note_owner_alive(o))
            continue;
        uint64_t pos = atomic_load_explicit(&n->pos, memory_order_acquire);
        uint64_t end = atomic_load_explicit(&n->end, memory_order_relaxed);
        uint64_t done = atomic_load_explicit(&n->done, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&h->prod_tail, memory_order_acquire);
        uint64_t head = atomic_load_explicit(&h->prod_head, memory_order_acquire);
        int published = (int64_t)(end - tail) <= 0 && (int64_t)(done - tail) <= 0;
        int unclaimed = done == pos && (int64_t)(head - pos) <= 0;
        int garbage = pos != NOTE_POS_NONE && pos - tail > q->capacity && tail - pos > q->capacity;
        if ((pos == NOTE_POS_NONE || published || unclaimed || garbage) &&
            atomic_compare_exchange_strong_explicit(&n->owner, &o, 0, memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            atomic_store_explicit(&n->pos, NOTE_POS_NONE, memory_order_relaxed);
            freed = 1;
        }
    }
    return freed;
}

queue_note *rh__note_take_slow(rh_queue *q, uint64_t me, int reuse)
{
    queue_header *h = q->h;
    uint64_t since = 0;
    for (unsigned round = 0;; round++) {
        /* From the hint on: a thread finds its own note where it took it,
         * the first free one past the hint (or one before it, freed since
         * by a dead holder's reclaim: then it has two, and keeps both). */
        for (unsigned i = 0; i < QUEUE_NOTES; i++) {
            uint32_t j = (rh__note_hint + i) & (QUEUE_NOTES - 1);
            queue_note *n = &h->notes[j];
            uint64_t o = atomic_load_explicit(&n->owner, memory_order_relaxed);
            if (reuse && o == me)
                return n;
            uint64_t expect = 0;
            if (o == 0 && atomic_compare_exchange_strong_explicit(&n->owner, &expect, me,
                                                                  memory_order_acquire,
                                                                  memory_order_relaxed)) {
                if (reuse) {
                    /* a note of ours further on is found first next time */
                    for (unsigned k = i + 1; k < QUEUE_NOTES; k++)
                        if (atomic_load_explicit(&h->notes[(rh__note_hint + k) &
                                                           (QUEUE_NOTES - 1)].owner,
                                                 memory_order_relaxed) == me) {
                            note_free(n);
                            return &h->notes[(rh__note_hint + k) & (QUEUE_NOTES - 1)];
                        }
                }
                return n;
            }
        }
        if (reclaim_dead(q, me))
            continue;
        uint64_t now = rh_now_ns();
        if (since == 0)
            since = now;
        else if (now - since >= rh__queue_hold_max_ns)
            return NULL;
        if (round < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, RH_NS_PER_MS};
            nanosleep(&ts, NULL);
        }
    }
}

/* ---------------------------------------------------------- repairing --- */

/* The claim [tail, end) of note n (owner o, dead; its pos was npos) is
 * published void. */
static int void_noted_run(rh_queue *q, queue_note *n, uint64_t o, uint64_t npos, uint64_t tail,
                          uint64_t end)
{
    queue_header *h = q->h;
    uint64_t me = rh__note_self ? rh__note_self : rh__note_self_slow();
    /* The note is ours while we repair: other waiters see a live holder
     * and wait; one that finds us dead later repairs again (the tail has
     * not moved, so the cells are still nobody else's). */
    if (!atomic_compare_exchange_strong_explicit(&n->owner, &o, me, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return 0;
    uint64_t head = atomic_load_explicit(&h->prod_head, memory_order_acquire);
    if (atomic_load_explicit(&n->pos, memory_order_acquire) != npos || end - tail < 1 ||
        end - tail > q->capacity || end - tail > head - tail) {
        note_free(n); /* scribbled: nothing to repair that we can trust */
        return 0;
    }
    for (uint64_t p = tail; p != end; p++) {
        cell *cl = cell_at(q, p);
        __atomic_store_n(&cl->env.payload_len, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&cl->env.port, (uint16_t)CELL_VOID_PORT, __ATOMIC_RELAXED);
    }
    count(q, C_VOID_MADE, end - tail);
    uint64_t expect = tail;
    /* Release: the void marks are visible to whoever acquires prod_tail. */
    int moved = atomic_compare_exchange_strong_explicit(&h->prod_tail, &expect, end,
                                                        memory_order_acq_rel,
                                                        memory_order_relaxed);
    note_free(n);
    rh_bell_ring(&h->not_empty);
    rh__log_event(NULL, RH_LOG_WARN, "queue.claim_repaired",
                  "queue=%s side=producers holder_pid=%d holder_tid=%d cells=%llu from=%llu "
                  "action=published_void",
                  q->name, note_owner_pid(o), (int)((o >> ID_TID_SHIFT) & ID_22),
                  (unsigned long long)(end - tail), (unsigned long long)tail);
    return moved;
}

int rh__queue_notes_stall(rh_queue *q, uint64_t tail, int *holder)
{
    queue_header *h = q->h;
    /* Acquire: every claim before ours wrote its note before its CAS
     * (release), which this read of prod_head follows. */
    (void)atomic_load_explicit(&h->prod_head, memory_order_acquire);
    uint64_t me = rh__note_self ? rh__note_self : rh__note_self_slow();
    int cands = 0, pending = 0, agree = 1;
    queue_note *confirmed = NULL, *first_pending = NULL;
    uint64_t conf_owner = 0, conf_pos = 0, conf_done = 0, pend_owner = 0, pend_end = 0;
    for (unsigned i = 0; i < QUEUE_NOTES; i++) {
        queue_note *n = &h->notes[i];
        uint64_t pos = atomic_load_explicit(&n->pos, memory_order_acquire);
        if (pos == NOTE_POS_NONE)
            continue;
        uint64_t o = atomic_load_explicit(&n->owner, memory_order_acquire);
        uint64_t done = atomic_load_explicit(&n->done, memory_order_acquire);
        uint64_t end = atomic_load_explicit(&n->end, memory_order_acquire);
        /* A run starting at tail, or one held for sure that contains it (an
         * in-place run published in part: its note moves on after the
         * publish, queue_inplace.c). */
        int at = pos == tail, holds = tail - pos < done - pos;
        if (o == 0 || (!at && !holds) ||
            atomic_load_explicit(&n->pos, memory_order_acquire) != pos ||
            atomic_load_explicit(&n->owner, memory_order_relaxed) != o)
            continue; /* not at tail, free, or taken again meanwhile */
        cands++;
        if (o != me && rh__note_owner_alive(o)) {
            *holder = note_owner_pid(o);
            return NOTES_LIVE;
        }
        if (holds) {
            confirmed = n;
            conf_owner = o;
            conf_pos = pos;
            conf_done = done;
        } else if (pending++ == 0) {
            first_pending = n;
            pend_owner = o;
            pend_end = end;
        } else if (end != pend_end) {
            agree = 0;
        }
    }
    if (cands == 0)
        return NOTES_NONE;
    if (confirmed)
        return void_noted_run(q, confirmed, conf_owner, conf_pos, tail, conf_done)
                   ? NOTES_REPAIRED
                   : NOTES_LIVE;
    if (!agree)
        return NOTES_UNSURE;
    return void_noted_run(q, first_pending, pend_owner, tail, tail, pend_end) ? NOTES_REPAIRED
                                                                              : NOTES_LIVE;
}
