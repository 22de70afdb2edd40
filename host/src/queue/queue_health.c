/*
 * queue_health.c — what a named queue knows about the processes around it,
 * all on slow paths: its health as `ringhost stat` shows it (the host, the
 * corrupt mark queue_stall.c set), whether an attached client's host is
 * gone or was replaced (RH_ESTALE), and the creating host's heartbeat in
 * each shared queue's header (so `ringhost stat` can say since when a
 * host is gone), which also sweeps the claims table for dead holders.
 * Nothing here runs per message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_layout.h"

void rh__queue_health_get(const rh_queue *q, rh_queue_health *out)
{
    const queue_header *h = q->h;
    memset(out, 0, sizeof *out);
    out->host_pid = h->creator_pid;
    out->host_running = rh__queue_pid_alive(h->creator_pid);
    out->created_ns = h->created_ns;
    out->heartbeat_ns = atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed);
    out->corrupt = atomic_load_explicit(&h->corrupt, memory_order_relaxed);
    out->corrupt_sides = atomic_load_explicit(&h->corrupt_sides, memory_order_relaxed) & CORRUPT_ALL;
    out->corrupt_tail = atomic_load_explicit(&h->corrupt_tail, memory_order_relaxed);
    out->corrupt_claim = atomic_load_explicit(&h->corrupt_claim, memory_order_relaxed);
    out->corrupt_ns = atomic_load_explicit(&h->corrupt_ns, memory_order_relaxed);
    out->replaced_lost_in_host =
        atomic_load_explicit(&h->replaced_lost_in_host, memory_order_relaxed);
    out->replaced_discarded = atomic_load_explicit(&h->replaced_discarded, memory_order_relaxed);
}

/* -------------------------------------------------------------- stale --- */

/* Why the attached object is no longer its host's, or NULL. */
static const char *stale_reason(rh_queue *q)
{
    char path[sizeof(SHM_DIR) + sizeof q->shm_name];
    snprintf(path, sizeof path, SHM_DIR "%s", q->shm_name);
    /* First: a persist queue moved under its attached clients is renamed
     * over only after the move, and must not look merely "host_gone"
     * before that (a stale persist handle then gives nothing back). */
    if (atomic_load_explicit(&q->h->moved, memory_order_acquire) != MOVE_NONE)
        return "taken_over";
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? "removed" : NULL;
    if (st.st_dev != q->shm_dev || st.st_ino != q->shm_ino)
        return "replaced";
    /* The header's pid: the creating host's, or the host that recovered a
     * persist queue (queue_persist.c adopt): a persist queue taken over by
     * a new host is the same object, with the new pid, and not stale. */
    pid_t pid = (pid_t)q->h->creator_pid;
    if (pid > 0 && !rh__queue_pid_alive(pid))
        return "host_gone";
    return NULL;
}

int rh__queue_stale_check(rh_queue *q, uint64_t now_ns)
{
    if (q->creator || !q->cfg.shared)
        return 0;
    if (q->stale || now_ns < q->stale_next_ns)
        return q->stale;
    q->stale_next_ns = now_ns + STALE_CHECK_NS;
    const char *why = stale_reason(q);
    if (why) {
        q->stale = RH_ESTALE;
        rh__log_event(NULL, RH_LOG_WARN, "queue.stale",
                      "queue=%s object=" SHM_DIR "%s reason=%s host_pid=%d action=reattach",
                      q->name, q->shm_name, why, (int)q->h->creator_pid);
    }
    return q->stale;
}

void rh__queue_mark_moved(rh_queue *q)
{
    /* The creator's own queue is never taken over while it lives (its
     * flock, or its pid): a mark there is a scribble, not a successor. */
    if (q->stale || q->creator)
        return;
    q->stale = RH_ESTALE;
    rh__log_event(NULL, RH_LOG_WARN, "queue.stale",
                  "queue=%s object=" SHM_DIR "%s reason=taken_over host_pid=%d action=reattach",
                  q->name, q->shm_name, (int)q->h->creator_pid);
}

/* How long a stale handle's rh_recv waits for a move in progress (the new
 * host copying the queue, queue_persist.c) to end: a copy of at most a
 * queue's capacity of cells, which takes milliseconds. */
#define MOVE_WAIT_NS (5000ull * 1000 * 1000)

/*
 * The one rule of the take-back (ringhost.h, rh_send): a stale handle's
 * rh_recv gives back what reached its object and no host will ever take.
 * On a queue that is not persist, all it holds (its next host replaces
 * it).  On a persist queue, nothing while it is not moved: the queue
 * outlives its host and the next one recovers every message in it,
 * including those the dead host's input bridge had taken and not
 * finished, which a receive here would acknowledge (acked only grows) and
 * so lose.  Once moved (its next host took it over while this client
 * still had it attached), exactly what was published here after the copy:
 * the mover left cons_head, cons_tail and acked where the copy ended.
 */
int rh__queue_stale_recv(rh_queue *q)
{
    if (!q->persist)
        return 0;
    uint64_t until = 0;
    for (;;) {
        uint32_t m = atomic_load_explicit(&q->h->moved, memory_order_acquire);
        if (m == MOVE_DONE)
            return 0;
        if (m != MOVE_FENCING)
            return RH_ESTALE;
        /* A mover that dies before DONE leaves the object named (it renames
         * the copy over it last), and the next launch recovers it whole. */
        uint64_t now = rh_now_ns();
        if (until == 0)
            until = now + MOVE_WAIT_NS;
        else if (now >= until)
            return RH_ESTALE;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---------------------------------------------------------- heartbeat --- */

/* One thread per process, alive while it has created shared queues: every
 * HEARTBEAT_NS it stores the time into each one's header.  It is started by
 * the first rh_queue_create of a shared queue and joined by the close of
 * the last, so a host with no queues has no such thread. */
#define HEARTBEAT_NS (1000ull * 1000 * 1000)

static pthread_mutex_t beat_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t beat_cv;
static pthread_once_t beat_once = PTHREAD_ONCE_INIT;
static rh_queue **beat_list;
static size_t beat_n, beat_cap;
static unsigned beat_gen; /* bumped at each start and stop: a thread of an older one exits */
static int beat_running;
static pthread_t beat_thread;

/* Across a fork (exec/exec_process.c's kernel processes): the lock is not
 * held by the heartbeat thread in the child, and the child, which has no
 * such thread, beats for none of its parent's queues. */
static void beat_prepare(void) { pthread_mutex_lock(&beat_mu); }
static void beat_parent(void) { pthread_mutex_unlock(&beat_mu); }
static void beat_child(void)
{
    beat_n = 0;
    beat_running = 0;
    beat_gen++;
    pthread_mutex_unlock(&beat_mu);
}

static void beat_init(void)
{
    pthread_atfork(beat_prepare, beat_parent, beat_child);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&beat_cv, &a);
    pthread_condattr_destroy(&a);
}

static void *beat_main(void *arg)
{
    unsigned gen = (unsigned)(uintptr_t)arg;
    pthread_mutex_lock(&beat_mu);
    while (beat_gen == gen) {
        int64_t now = rh__wall_ns();
        for (size_t i = 0; i < beat_n; i++) {
            atomic_store_explicit(&beat_list[i]->h->heartbeat_ns, now, memory_order_relaxed);
            rh__queue_claims_sweep(beat_list[i]); /* dead loan and peek holders */
            rh__queue_dead_settle(beat_list[i], 0); /* a replaced object's clients gone? */
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(HEARTBEAT_NS / 1000000000ull);
        pthread_cond_timedwait(&beat_cv, &beat_mu, &ts);
    }
    pthread_mutex_unlock(&beat_mu);
    return NULL;
}

void rh__queue_heartbeat_start(rh_queue *q)
{
    if (!q || !q->cfg.shared)
        return;
    atomic_store_explicit(&q->h->heartbeat_ns, rh__wall_ns(), memory_order_relaxed);
    pthread_once(&beat_once, beat_init);
    pthread_mutex_lock(&beat_mu);
    if (beat_n == beat_cap) {
        size_t cap = beat_cap ? beat_cap * 2 : 16;
        rh_queue **l = realloc(beat_list, cap * sizeof *l);
        if (!l) { /* no heartbeat for this queue: stat then shows its creation time */
            pthread_mutex_unlock(&beat_mu);
            return;
        }
        beat_list = l;
        beat_cap = cap;
    }
    beat_list[beat_n++] = q;
    if (!beat_running) {
        /* The default stack: a small one overflows under ASan (fuzz_queue
         * found it), and only the pages it touches are committed. */
        unsigned gen = ++beat_gen;
        if (pthread_create(&beat_thread, NULL, beat_main, (void *)(uintptr_t)gen) == 0) {
            pthread_setname_np(beat_thread, "rh-heartbeat");
            beat_running = 1;
        }
    }
    pthread_mutex_unlock(&beat_mu);
}

void rh__queue_heartbeat_stop(rh_queue *q)
{
    /* Looked up by pointer whatever the handle's flags say now (a test
     * clears creator before closing, to keep the object): a handle left in
     * the list would be written to after its free. */
    if (!q)
        return;
    pthread_once(&beat_once, beat_init);
    pthread_mutex_lock(&beat_mu);
    size_t i = 0;
    while (i < beat_n && beat_list[i] != q)
        i++;
    if (i == beat_n) {
        pthread_mutex_unlock(&beat_mu);
        return;
    }
    beat_list[i] = beat_list[--beat_n];
    int join = 0;
    pthread_t t;
    if (beat_n == 0 && beat_running) {
        beat_gen++;
        beat_running = 0;
        t = beat_thread;
        join = 1;
        pthread_cond_broadcast(&beat_cv);
    }
    pthread_mutex_unlock(&beat_mu);
    if (join)
        pthread_join(t, NULL);
}
