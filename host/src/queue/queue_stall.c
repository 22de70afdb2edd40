/*
 * queue_stall.c — a publisher's wait on a tail behind an earlier claim:
 * its nap while the tail has not moved yet, when it has stalled for good,
 * and whether a process is alive: the facts the claim protocol
 * (queue_protocol.h publish_run), the claims table (queue_claims.c), the
 * in-place path (queue_inplace.c) and the health view (queue_health.c)
 * decide on.  A stall is a claim holder that died, or an
 * index scribbled by another process: the side is then marked corrupt,
 * counted and logged once.  Slow paths only: called after 64 polls of a
 * tail that did not move.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_layout.h"

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
        atomic_store_explicit(&h->corrupt_ns, rh__wall_ns(), memory_order_relaxed);
    }
    if ((before & side) == 0 && queue_first_to_log(q, side))
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

/* ---------------------------------------------------------- scribbled --- */

void rh__queue_scribbled(rh_queue *q, const char *what, uint64_t seen)
{
    queue_header *h = q->h;
    /* Halt both sides first: every claim after this claims nothing, so
     * what the indices say is neither replayed nor added to. */
    atomic_store_explicit(&h->prod_halt, 1, memory_order_relaxed);
    atomic_store_explicit(&h->cons_halt, 1, memory_order_relaxed);
    uint32_t before =
        atomic_fetch_or_explicit(&h->corrupt_sides, CORRUPT_INDICES, memory_order_relaxed);
    if (before & CORRUPT_INDICES)
        return; /* marked already: counted and logged once */
    atomic_fetch_add_explicit(&h->corrupt, 1, memory_order_relaxed);
    (void)queue_first_to_log(q, CORRUPT_INDICES);
    if ((before & (CORRUPT_PRODUCERS | CORRUPT_CONSUMERS)) == 0) {
        atomic_store_explicit(&h->corrupt_tail, atomic_load(&h->cons_tail), memory_order_relaxed);
        atomic_store_explicit(&h->corrupt_claim, atomic_load(&h->cons_head), memory_order_relaxed);
        atomic_store_explicit(&h->corrupt_ns, rh__wall_ns(), memory_order_relaxed);
    }
    rh__log_event(NULL, RH_LOG_ERROR, "queue.corrupt",
                  "queue=%s side=indices what=\"%s\" seen=%llu pid=%d prod_head=%llu "
                  "prod_tail=%llu cons_head=%llu cons_tail=%llu "
                  "action=sends_and_receives_refused_RH_ECORRUPT_purge_or_relaunch",
                  q->name, what, (unsigned long long)seen, (int)getpid(),
                  (unsigned long long)atomic_load(&h->prod_head),
                  (unsigned long long)atomic_load(&h->prod_tail),
                  (unsigned long long)atomic_load(&h->cons_head),
                  (unsigned long long)atomic_load(&h->cons_tail));
}

/* Not instrumented by TSan, as queue_peek.c's copy_racy: the fixed fields
 * are written once, before the magic, by the creating host; after that
 * only a scribbler writes them (another process, or a test playing one),
 * and the watch must read whatever is there, as plain loads. */
__attribute__((no_sanitize_thread)) void rh__queue_header_watch(rh_queue *q)
{
    const queue_header *h = q->h;
    const char *what = NULL;
    if (atomic_load_explicit(&h->magic, memory_order_relaxed) != QUEUE_MAGIC)
        what = "magic";
    else if (h->layout_version != QUEUE_LAYOUT_VERSION || h->header_size != sizeof(queue_header))
        what = "layout version or header size";
    else if (h->capacity != q->capacity || h->mask != q->capacity - 1 ||
             h->slot_size != q->slot_size || h->payload_size != q->payload_size)
        what = "geometry (capacity, mask, slot or payload size)";
    else if (h->fingerprint != q->fingerprint)
        what = "type fingerprint";
    else if (memchr(h->name, '\0', sizeof h->name) == NULL || strcmp(h->name, q->name) != 0)
        what = "name";
    if (what) {
        uint32_t before = atomic_fetch_or_explicit(&q->h->corrupt_sides, CORRUPT_HEADER,
                                                   memory_order_relaxed);
        if ((before & CORRUPT_HEADER) == 0)
            atomic_fetch_add_explicit(&q->h->corrupt, 1, memory_order_relaxed);
    }
    /* Marks another process set (a client that found the indices
     * scribbled, or a producers' stall): the host says so once too. */
    uint32_t sides = atomic_load_explicit(&q->h->corrupt_sides, memory_order_relaxed) &
                     (CORRUPT_PRODUCERS | CORRUPT_CONSUMERS | CORRUPT_INDICES);
    for (uint32_t bit = 1; bit <= CORRUPT_INDICES; bit <<= 1)
        if ((sides & bit) && queue_first_to_log(q, bit))
            rh__log_event(NULL, RH_LOG_ERROR, "queue.corrupt",
                          "queue=%s side=%s found_by=another_process pid=%d "
                          "prod_head=%llu prod_tail=%llu cons_head=%llu cons_tail=%llu",
                          q->name,
                          bit == CORRUPT_PRODUCERS   ? "producers"
                          : bit == CORRUPT_CONSUMERS ? "consumers"
                                                     : "indices",
                          (int)getpid(), (unsigned long long)atomic_load(&h->prod_head),
                          (unsigned long long)atomic_load(&h->prod_tail),
                          (unsigned long long)atomic_load(&h->cons_head),
                          (unsigned long long)atomic_load(&h->cons_tail));
    if (!what || !queue_first_to_log(q, CORRUPT_HEADER))
        return;
    rh__log_event(NULL, RH_LOG_ERROR, "queue.corrupt",
                  "queue=%s side=header what=\"%s rewritten\" pid=%d "
                  "action=clients_can_no_longer_attach_relaunch_the_host_or_purge",
                  q->name, what, (int)getpid());
}

/* ---------------------------------------------------------- the nap --- */

/*
 * A publisher behind an earlier claim that is not published yet, past its
 * spin (queue_protocol.h publish_run).  It sleeps on the doorbell every
 * publisher of that tail rings after its publish (not_empty for
 * prod_tail, not_full for cons_tail) rather than yielding, for two
 * reasons measured on this 2-core machine beside `stress-ng --cpu 2`
 * (docs/RELIABILITY.md, "The MPMC convoy"):
 *  - sched_yield leaves the waiter runnable, so the waiters of a chain of
 *    claims take the cores from the one holder that can end the wait;
 *  - the kernel's EEVDF scheduler moves a yielding thread's deadline back
 *    a whole slice, so once the chain reaches it, it waits for the cpu
 *    hogs' slices before it publishes: 4 producers moved ~4,000 messages
 *    a second (test_queue's MPMC test took from 4 s to past 150 s), where
 *    a thread woken from a futex is placed to run soon.
 * The nap is bounded (PUBLISH_NAP_NS): a publish that rings no bell (a
 * void run taken by a receive, a parked run published by a helper) then
 * costs a millisecond, and publish_run's stall checks still run.
 */
void rh__queue_publish_nap(rh_queue *q, unsigned side, _Atomic uint64_t *tail, uint64_t seen)
{
    rh_bell *bell = side == CORRUPT_PRODUCERS ? &q->h->not_empty : &q->h->not_full;
    rh_sleep s;
    rh__sleep_prepare(&s, &bell, 1);
    if (atomic_load_explicit(tail, memory_order_acquire) != seen)
        rh__sleep_cancel(&s);
    else
        (void)rh__sleep_commit(&s, (int64_t)PUBLISH_NAP_NS);
}
