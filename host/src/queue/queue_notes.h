/*
 * queue_notes.h — the producers' notes (queue_layout.h queue_note;
 * queue_notes.c's top comment is the design): the inline steps every
 * producer claim takes on its hot path (take a note, free it), and what a
 * waiter stalled on prod_tail asks when the claim before it is not a loan.
 * Private to the queue layer.
 */
#ifndef RH_QUEUE_NOTES_H
#define RH_QUEUE_NOTES_H

#include "queue/queue_layout.h"

#define NOTE_POS_NONE UINT64_MAX /* a free note's pos: matches no tail */

/* This thread's identity as a note owner (0 until first known), and the
 * note index it tries first (its last one, spread by tid at first). */
extern _Thread_local uint64_t rh__note_self;
extern _Thread_local uint32_t rh__note_hint;
uint64_t rh__note_self_slow(void);
/* The identity of this process (tid 0): owner of in-place runs, which
 * another thread of the host may publish. */
uint64_t rh__note_process(void);
/* The note of `me` in q's table (reuse: its own, kept since its last
 * send; else, for an in-place run, a free one taken), found past the
 * hint: looks through the table, reclaims notes of dead holders that
 * describe no claim in progress, waits for one.  NULL after
 * rh__queue_hold_max_ns with every note held by a live holder (only a
 * scribbled table, or more than QUEUE_NOTES threads sending to one queue
 * at once, gets there). */
queue_note *rh__note_take_slow(rh_queue *q, uint64_t me, int reuse);

/* A free note for a run by owner `me`, freed with note_free when the run
 * is done (in-place runs: one note each). */
static inline queue_note *note_take_as(rh_queue *q, uint64_t me)
{
    queue_note *n = &q->h->notes[rh__note_hint & (QUEUE_NOTES - 1)];
    uint64_t expect = 0;
    /* Acquire: the previous holder's release in note_free. */
    if (atomic_compare_exchange_strong_explicit(&n->owner, &expect, me, memory_order_acquire,
                                                memory_order_relaxed))
        return n;
    return rh__note_take_slow(q, me, 0);
}

/* This thread's note in q, for a copying send.  A thread keeps its note
 * once it has one (it describes one claim at a time: a thread sends one
 * message or burst at a time): the common case is one relaxed load of a
 * line only this thread writes, and the owner word is never written
 * again.  A thread that exits leaves it to be reclaimed (queue_notes.c
 * reclaim_dead: its tid is gone). */
static inline queue_note *note_take(rh_queue *q)
{
    uint64_t me = rh__note_self;
    if (__builtin_expect(me == 0, 0))
        me = rh__note_self_slow();
    queue_note *n = &q->h->notes[rh__note_hint & (QUEUE_NOTES - 1)];
    if (__builtin_expect(atomic_load_explicit(&n->owner, memory_order_relaxed) == me, 1))
        return n;
    return rh__note_take_slow(q, me, 1);
}

/* An in-place run's note once the run is published (or claimed nothing):
 * free.  pos first, so a waiter never sees a new holder with the old run. */
static inline void note_free(queue_note *n)
{
    atomic_store_explicit(&n->pos, NOTE_POS_NONE, memory_order_relaxed);
    atomic_store_explicit(&n->owner, 0, memory_order_release);
}

/* The owner of a run its sender gave up on (publish_run's caller past its
 * deadline behind a live, slow holder: RH_ETIMEDOUT, nothing sent): pid 0,
 * so it reads dead, and the next waiter at its start (or the heartbeat's
 * sweep) publishes it void as a dead sender's. */
#define NOTE_ABANDONED 1ull

/* Give the note's run up (see NOTE_ABANDONED): the thread takes another
 * note at its next send.  0, or -1 when the note was not the caller's. */
static inline int note_abandon(queue_note *n, uint64_t me)
{
    return atomic_compare_exchange_strong_explicit(&n->owner, &me, NOTE_ABANDONED,
                                                   memory_order_acq_rel, memory_order_relaxed)
               ? 0
               : -1;
}

/* queue_notes.c: a producer's wait on prod_tail == tail stalled and no
 * loan starts there.  NOTES_LIVE: a note of a live holder starts at tail
 * (*holder: its pid), wait; NOTES_REPAIRED: the notes there were all of
 * dead holders and the run was published void, look again; NOTES_NONE:
 * no note starts there (no claim of this protocol: a scribbled head);
 * NOTES_UNSURE: only dead holders' notes, which disagree on the run. */
enum { NOTES_NONE, NOTES_LIVE, NOTES_REPAIRED, NOTES_UNSURE };
int rh__queue_notes_stall(rh_queue *q, uint64_t tail, int *holder);

/* queue_notes.c: whether the note owner o names a live thread (or
 * process, tid 0) with the start time it recorded. */
int rh__note_owner_alive(uint64_t o);
static inline int note_owner_pid(uint64_t o)
{
    return (int)(o >> 42);
}

#endif /* RH_QUEUE_NOTES_H */
