/*
 * queue_pvt.h — what the host's bridges use of a named queue beyond the
 * public API: burst dequeue straight into kernel ring slots, the doorbells,
 * and the counters only the host bumps.
 */
#ifndef RH_QUEUE_PVT_H
#define RH_QUEUE_PVT_H

#include "ringhost/ringhost.h"
#include "base/wait.h"

typedef enum rh_queue_counter {
    RH_QC_DUPLICATES,
    RH_QC_EXPIRED,
    RH_QC_INVALID,
    RH_QC_FAILED,
    RH_QC_DEAD_LETTERED,
    RH_QC_REJECTED, /* a send the host refused for the queue's policy (the output
                     * bridge's own bounded block wait timed out, bridge.c) */
} rh_queue_counter;

/* Add n to one of the host-side counters. */
void rh__queue_count(rh_queue *q, rh_queue_counter which, uint64_t n);

/*
 * Dequeue up to n messages, copying each one's envelope and payload to
 * dst[i] (an rh_envelope followed by at least rh_queue_payload_size() bytes).
 * Returns how many (0 when empty).  Multi-consumer safe; never blocks.
 */
uint32_t rh__queue_dequeue_burst(rh_queue *q, rh_envelope *const *dst, uint32_t n);

/*
 * Enqueue up to n messages straight from kernel ring slots (each an
 * rh_envelope followed by its payload), as many as fit with one claim and
 * no policy: the output bridge applies the policy to the rest itself.  Each
 * message is enqueued as rh_send would (an id if its own is zero, the
 * enqueue time, port 0); the slots themselves are only read.  Returns how
 * many were enqueued.
 */
uint32_t rh__queue_enqueue_burst(rh_queue *q, rh_envelope *const *src, uint32_t n);

/*
 * In place (queue_inplace.c): the inline bridge's kernel reads
 * its batch from the queue's cells and writes its answers into the output
 * queue's cells.  Positions are the queue's (they only grow); a cell is
 * rh__queue_cell(q, pos), its payload right after the envelope.
 *
 * Consumer side (a consumer under the claims-table protocol of
 * queue_protocol.h, as every receive is): rh__queue_consumer_entry first
 * publishes finished runs parked in the claims table and returns 1 when a
 * dead holder's peek waits to be adopted (h->orphans): the caller then
 * takes through the copying rh__queue_dequeue_burst, which adopts it
 * (marked RH_ENV_REDELIVERED), since an adopted run is published as soon
 * as it is taken.  rh__queue_take_inplace claims up to n published cells
 * (returns how many, 0 when empty, after looking for dead peeks; first at
 * *pos; void cells among them, whose port is RH_QUEUE_VOID_PORT, carry no
 * message: the caller delivers none of them, and tells the queue how many
 * it skipped with rh__queue_voids_taken, which counts them); they are the caller's,
 * read and written in place, until rh__queue_release_inplace(q, pos, end)
 * hands them back: 0 done (producers may reuse them, or on a persist queue
 * once acked), 1 when an earlier claim is not released yet (*tail_out:
 * where cons_tail stands): nothing happened, call again later; the caller
 * decides with rh__queue_release_stalled (*since 0 at the first call)
 * whether it is done: 1 when the run was parked in the claims table behind
 * a peek (published later by whoever moves cons_tail there) or the wait on
 * an unrecorded claim has lasted too long (given up, the side marked
 * corrupt as a stalled publish is); 0: call release again later.  rh__queue_inplace_len reads a claimed
 * cell's payload_len once, zero-extends its payload up to room bytes (at
 * most the cell's payload) and returns the length read (unclamped: a
 * larger one is the bridge's "invalid").
 *
 * Producer side: rh__queue_claim_inplace claims up to n free cells (how
 * many, 0 when full; first at *pos) as one run named by a producer note
 * (queue_notes.c) whose index + 1 it keeps in *note (0 on entry: a caller
 * claims again only once its run is all published; the publish and the
 * unclaim below free it when the run is done, and set *note back to 0); the caller writes, into each, its envelope (id zero: a fresh one) and
 * payload_len and payload, then rh__queue_stamp_inplace sets, in each of
 * the run's cells [from, end), what the queue owns (id if zero, enqueue
 * time, port 0, length clamped; time_only: a caller that wrote a non-zero
 * id, port 0 and a length within the payload itself has only the time
 * set), and
 * rh__queue_publish_inplace(q, pos, end) publishes the run [pos, end),
 * waiting for earlier claims as every producer does (0, or RH_ECORRUPT:
 * not published, the producers' side stalled for good).  Claimed cells
 * nothing was written to, [from, end), are given back with
 * rh__queue_unclaim_inplace while end is still the latest claim (1); else
 * (0) they are made void with rh__queue_void_inplace (counted made void;
 * consumers skip them) and published.
 */
rh_envelope *rh__queue_cell(rh_queue *q, uint64_t pos);
/* The cells of q as plain numbers, for a caller that addresses many in a
 * row (the in-place take and the emit fast path): cell pos's envelope is
 * rh__cell_env(&view, pos), as rh__queue_cell(q, pos).  Fixed for the
 * queue's life in this process. */
typedef struct rh_cell_view {
    unsigned char *cells;
    uint64_t mask;
    uint64_t stride;
    uint32_t payload_size; /* bytes of payload a cell holds */
} rh_cell_view;
/* A cell whose envelope's port is this carries no message: every consumer
 * skips it (queue_layout.h CELL_VOID_PORT). */
#define RH_QUEUE_VOID_PORT 0xFFFFu
rh_cell_view rh__queue_cell_view(const rh_queue *q);
static inline rh_envelope *rh__cell_env(const rh_cell_view *v, uint64_t pos)
{
    return (rh_envelope *)(v->cells + (pos & v->mask) * v->stride);
}
int rh__queue_consumer_entry(rh_queue *q);
uint32_t rh__queue_take_inplace(rh_queue *q, uint32_t n, uint64_t *pos);
void rh__queue_voids_taken(rh_queue *q, uint32_t voids);
uint32_t rh__queue_inplace_len(rh_queue *q, uint64_t pos, uint32_t room);
int rh__queue_release_inplace(rh_queue *q, uint64_t pos, uint64_t end, uint64_t *tail_out);
int rh__queue_release_stalled(rh_queue *q, uint64_t tail, uint64_t pos, uint64_t end,
                              uint64_t *since);
uint32_t rh__queue_claim_inplace(rh_queue *q, uint32_t n, uint64_t *pos, int *note);
int rh__queue_unclaim_inplace(rh_queue *q, uint64_t from, uint64_t end, int *note);
void rh__queue_stamp_inplace(rh_queue *q, uint64_t from, uint64_t end, uint64_t enqueue_ns,
                             int time_only);
void rh__queue_void_inplace(rh_queue *q, uint64_t from, uint64_t end);
int rh__queue_publish_inplace(rh_queue *q, uint64_t pos, uint64_t end, int *note);


/* Remove the shared object's name (if this process created it) but keep
 * the mapping: for a runtime that must not unmap memory a stuck thread may
 * still use, yet should not leave names behind in /dev/shm. */
void rh__queue_unlink(rh_queue *q);

/*
 * Persistent queues (queue_persist.c).  On a persist queue a message taken
 * out keeps its cell until it is acknowledged, so a host killed while a
 * kernel held it finds it again at its next launch (at least once).
 * The acks are queue_ack.c's.  rh__queue_ack: cells before position `end`
 * are done with (only grows; a no-op on a queue that is not persist).  rh__queue_taken: the position
 * before which every message has been taken (cons_tail), to ack up to
 * once everything taken has been handled.  rh__queue_acked: the current ack.
 */
void rh__queue_ack(rh_queue *q, uint64_t end);
/* A host's input bridge will ack q as its kernel finishes (acks.c), on a
 * persist queue to free cells, on any other shared one as a mark: the next
 * start counts what a SIGKILL lost in the host from it (queue_shm.c). */
void rh__queue_note_host_acks(rh_queue *q);
uint64_t rh__queue_taken(const rh_queue *q);
uint64_t rh__queue_acked(const rh_queue *q);
/* The position before which every message was claimed by a consumer
 * (cons_head: taken, or being read in place; queue_inplace.c). */
uint64_t rh__queue_claimed(const rh_queue *q);
int rh__queue_is_persist(const rh_queue *q);

/* 1 when rh_queue_create took over a previous run's persist queue, and
 * how many messages it held then (*carried, may be NULL). */
int rh__queue_recovered(const rh_queue *q, uint64_t *carried);

/*
 * rh_queue_stats_get since this handle opened the queue: for a recovered
 * persist queue the previous runs' counts are subtracted, and enqueued
 * includes the messages carried over (they are this run's to account for),
 * so accepted = delivered + dead-lettered + dropped + queued holds for
 * each run.  For any other queue the same as rh_queue_stats_get.
 */
void rh__queue_stats_since_open(const rh_queue *q, rh_queue_stats *out);

/* rh_queue_stats_get's snapshot into the library's own full-size struct
 * (struct_size set to it), unchecked: for the library's callers. */
void rh__queue_stats_read(const rh_queue *q, rh_queue_stats *out);

/* Remove a persist (or any) shared queue of instance and name for good:
 * 0, RH_EEXIST while a running host holds it, RH_ENOENT when there is
 * none, RH_EINVAL (another user's, not a queue). */
int rh__queue_purge(const char *instance, const char *name, rh_error *err);

/* A queue of instance that a host now gone created and that no persist
 * flag keeps (a manifest `launch`ed into that host; its next host does
 * not declare it): unlinked, 0, with what it still held (*queued:
 * published and not yet read, prod_tail - cons_tail) and its creator's
 * pid.  1 when it is kept: gone already,
 * persist, another user's, or a live process holds it. */
int rh__queue_remove_leftover(const char *instance, const char *name, uint64_t *queued,
                              int *pid);

/* The ids of the last messages the queue accepted, consumed or not (their
 * cells still hold them until a producer laps round): at most
 * min(max, capacity), oldest first, into out.  Returns how many
 * (queue_recent.c). */
uint32_t rh__queue_recent_ids(const rh_queue *q, rh_id *out, uint32_t max);

/*
 * What a queue's header says about its host and its indices (queue_health.c),
 * for `ringhost stat` and `ringhost ps`.  Read from memory any process of
 * the user may write: reported, never used as a size.
 */
typedef struct rh_queue_health {
    int host_pid;             /* the creating (or recovering) host's pid */
    int host_running;         /* 1 while that process exists, 0 once it is gone */
    int64_t created_ns;       /* CLOCK_REALTIME when it created the queue; 0 unknown */
    int64_t heartbeat_ns;     /* CLOCK_REALTIME of its last heartbeat (about 1 s apart) */
    uint64_t corrupt;         /* waits on a tail that gave up (queue.corrupt) */
    unsigned corrupt_sides;   /* bits: 1 producers' tail stalled, 2 consumers', 4 indices
                               * scribbled (both halt), 8 fixed header fields rewritten */
    uint64_t corrupt_tail;    /* the first stall: the tail that did not move, */
    uint64_t corrupt_claim;   /* the claim that waited for it, */
    int64_t corrupt_ns;       /* and when (CLOCK_REALTIME) */
    /* What the previous host's object of this name lost when this one
     * replaced it (queue_shm.c): taken by its kernel and not finished, and
     * left queued that no client took back (UINT64_MAX: not known yet). */
    uint64_t replaced_lost_in_host;
    uint64_t replaced_discarded;
} rh_queue_health;
void rh__queue_health_get(const rh_queue *q, rh_queue_health *out);

/* Non-zero when the queue holds no message (a snapshot). */
int rh__queue_is_empty(const rh_queue *q);

/* What a consumer that only polls (the input bridges) can take: 0 messages,
 * RH_QUEUE_NOTHING none (empty), RH_QUEUE_HALTED none ever again (its
 * indices were scribbled: the consumers' side halted, queue_stall.c).  A
 * halted queue is never empty by its indices, and every claim on it takes
 * nothing: polled as a queue with messages, it kept its bridge's thread
 * busy for as long as the host ran.  Read as idle instead, the bridge's
 * thread parks on its bells.  The halt word is on cons_head's line, which
 * the check loads anyway.  rh__queue_first_halt_notice: 1 the first time
 * this handle is asked (the bridge says so once). */
#define RH_QUEUE_NOTHING 1
#define RH_QUEUE_HALTED 2
int rh__queue_to_take(const rh_queue *q);
int rh__queue_first_halt_notice(rh_queue *q);

/* Rung after every enqueue (consumers sleep on it).  In shared memory for
 * shared queues. */
rh_bell *rh__queue_not_empty_bell(rh_queue *q);
/* queue_wait.c: the `block` policy, the one wait of a send that found the
 * queue full (rh_send's, through rh__queue_full_policy, and the output
 * bridge's): attempt(q, arg) until it is not RH_EFULL, waiting with w on
 * the queue's not-full bell in between.  Returns attempt's 0 or error
 * (an error counted rejected), RH_ETIMEDOUT at deadline_ns (counted),
 * RH_ECORRUPT once a side is marked corrupt (counted), RH_ESTALE when an
 * attached client's host is gone, or RH_ESTOPPED once stopped(stop_arg)
 * (when not NULL) says nobody will read in time; with stopped, each park
 * lasts at most 10 ms so a stop is seen even if no bell rings. */
int rh__queue_block(rh_queue *q, int (*attempt)(rh_queue *, void *), void *arg,
                    uint64_t deadline_ns, rh_waiter *w, int (*stopped)(const void *),
                    const void *stop_arg);

#endif /* RH_QUEUE_PVT_H */
