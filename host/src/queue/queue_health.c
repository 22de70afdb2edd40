/*
 * queue_health.c — what a named queue knows about the processes around it,
 * all on slow paths: whether a wait on a tail has stalled for good (a claim
 * holder that died, or an index scribbled by another process: the side is
 * then marked corrupt, counted and logged), whether an attached client's
 * host is gone or was replaced (RH_ESTALE), and the creating host's
 * heartbeat in each shared queue's header (so `ringhost stat` can say since
 * when a host is gone).  Nothing here runs per message.
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

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ----------------------------------------------------------- the host --- */

int rh__queue_pid_alive(pid_t pid)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) != 0 && errno != EPERM)
        return 0;
    /* A killed host whose parent has not reaped it yet still answers
     * kill(pid, 0): a zombie runs nothing, so it is gone.  (Measured: a
     * SIGKILLed host under a slow reaper read as running for 1.6 s.) */
    char path[32], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 1; /* no /proc: trust kill() */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')');
    return !(close_paren && close_paren[1] == ' ' &&
             (close_paren[2] == 'Z' || close_paren[2] == 'X'));
}

/* ------------------------------------------------------------ corrupt --- */

uint64_t rh__queue_stall_ns = QUEUE_STALL_NS;

int rh__queue_stalled(rh_queue *q, unsigned side, uint64_t tail, uint64_t claim,
                      uint64_t *since)
{
    queue_header *h = q->h;
    if (queue_side_corrupt(q, side)) {
        atomic_fetch_add_explicit(&h->corrupt, 1, memory_order_relaxed);
        return 1; /* marked already: no second stall of a second for each call */
    }
    uint64_t now = rh_now_ns();
    if (*since == 0) {
        *since = now;
        return 0;
    }
    if (now - *since < rh__queue_stall_ns)
        return 0;
    /* The first waiter to mark this side records what it saw: the values
     * are in the header for `ringhost stat`, and in the log once. */
    uint32_t before = atomic_fetch_or_explicit(&h->corrupt_sides, side, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->corrupt, 1, memory_order_relaxed);
    if (before == 0) {
        atomic_store_explicit(&h->corrupt_tail, tail, memory_order_relaxed);
        atomic_store_explicit(&h->corrupt_claim, claim, memory_order_relaxed);
        atomic_store_explicit(&h->corrupt_ns, realtime_ns(), memory_order_relaxed);
    }
    if ((before & side) == 0)
        rh__log_event(NULL, RH_LOG_ERROR, "queue.corrupt",
                      "queue=%s side=%s tail=%llu claim=%llu waited_ms=%llu pid=%d "
                      "prod_head=%llu prod_tail=%llu cons_head=%llu cons_tail=%llu "
                      "action=%s",
                      q->name, side == CORRUPT_PRODUCERS ? "producers" : "consumers",
                      (unsigned long long)tail, (unsigned long long)claim,
                      (unsigned long long)((now - *since) / RH_NS_PER_MS), (int)getpid(),
                      (unsigned long long)atomic_load(&h->prod_head),
                      (unsigned long long)atomic_load(&h->prod_tail),
                      (unsigned long long)atomic_load(&h->cons_head),
                      (unsigned long long)atomic_load(&h->cons_tail),
                      side == CORRUPT_PRODUCERS
                          ? "sends_fail_with_RH_ECORRUPT_relaunch_the_host_or_purge"
                          : "receives_deliver_what_is_published_then_sends_fail_RH_ECORRUPT");
    return 1;
}

void rh__queue_health_get(const rh_queue *q, rh_queue_health *out)
{
    const queue_header *h = q->h;
    memset(out, 0, sizeof *out);
    out->host_pid = h->creator_pid;
    out->host_running = rh__queue_pid_alive(h->creator_pid);
    out->created_ns = h->created_ns;
    out->heartbeat_ns = atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed);
    out->corrupt = atomic_load_explicit(&h->corrupt, memory_order_relaxed);
    out->corrupt_sides = atomic_load_explicit(&h->corrupt_sides, memory_order_relaxed) & 3u;
    out->corrupt_tail = atomic_load_explicit(&h->corrupt_tail, memory_order_relaxed);
    out->corrupt_claim = atomic_load_explicit(&h->corrupt_claim, memory_order_relaxed);
    out->corrupt_ns = atomic_load_explicit(&h->corrupt_ns, memory_order_relaxed);
}

/* -------------------------------------------------------------- stale --- */

/* Why the attached object is no longer its host's, or NULL. */
static const char *stale_reason(rh_queue *q)
{
    char path[sizeof(SHM_DIR) + sizeof q->shm_name];
    snprintf(path, sizeof path, SHM_DIR "%s", q->shm_name);
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

/* Across a fork (faults/isolation.c's kernel processes): the lock is not
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
        int64_t now = realtime_ns();
        for (size_t i = 0; i < beat_n; i++) {
            atomic_store_explicit(&beat_list[i]->h->heartbeat_ns, now, memory_order_relaxed);
            rh__queue_claims_sweep(beat_list[i]); /* dead loan and peek holders */
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
    atomic_store_explicit(&q->h->heartbeat_ns, realtime_ns(), memory_order_relaxed);
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
