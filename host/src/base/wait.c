/*
 * wait.c — doorbells (event counts on a futex word) and wait strategies.
 *
 * The protocol, in one place (see also wait.h):
 *
 *   sleeper                              waker
 *   -------                              -----
 *   waiters++            (seq_cst)       publish data  (release)
 *   s = seq                              fence         (seq_cst)
 *   re-check the sources                 if waiters != 0:
 *   futex_wait(&seq, s)                      seq++; FUTEX_WAKE
 *   waiters--
 *
 * It is Dekker's pattern: the sleeper's waiters++ and the waker's fence are
 * both sequentially consistent, so either the waker sees waiters != 0 and
 * bumps seq (then the futex wait returns at once, or is woken), or the
 * sleeper's re-check sees the published data and it never sleeps.  A wake-up
 * is never lost, and a waker with nobody parked pays one fence and one load.
 *
 * Sleeping on several bells at once uses futex_waitv (Linux >= 5.16).  Older
 * kernels get a plain futex wait on the first bell with a 1 ms cap, so a ring
 * on any other bell is noticed within a millisecond: correct, just slower.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ringhost/ringhost.h"
#include "base/clock.h"
#include "base/wait.h"

#ifndef __NR_futex_waitv
#define __NR_futex_waitv 449
#endif

/* Adaptive waiting: empty polls spent spinning, then yielding, before the
 * waiter parks.  A futex wake-up costs ~22 us on the target machines (the
 * idle vCPU halts), so parking too early makes every message pay for it;
 * 2000 pause-polls is in the tens of microseconds, about the same cost. */
#define ADAPTIVE_SPIN_POLLS 2000u
#define ADAPTIVE_YIELD_POLLS 200u

/* Without futex_waitv only bells[0] is waited on; this caps each such sleep
 * so rings on the other bells are noticed within 1 ms. */
#define FALLBACK_CAP_NS ((int64_t)RH_NS_PER_MS)

/* Set once futex_waitv returned ENOSYS, so later sleeps skip straight to the
 * fallback.  Relaxed: a stale 0 only costs one more ENOSYS. */
static _Atomic int waitv_missing;

static int futex_private_flag(const rh_bell *b)
{
    /* A private futex is keyed by (mm, address) and skips the shared-memory
     * lookup; a bell in a shared mapping must use the (inode, offset) key so
     * a waker in another process finds the sleeper.  Atomic: in a shared
     * queue another process may write it at any time (wakers wake both
     * keys, so a wrong value costs nothing). */
    return __atomic_load_n(&b->shared, __ATOMIC_RELAXED) ? 0 : FUTEX_PRIVATE_FLAG;
}

void rh__bell_init(rh_bell *b, int shared)
{
    atomic_init(&b->seq, 0);
    atomic_init(&b->waiters, 0);
    b->shared = shared ? 1u : 0u;
    b->pad_ = 0;
}

void rh__bell_wake_all(rh_bell *b)
{
    /* The increment is what a sleeper between prepare and commit observes
     * (its futex value no longer matches); the wake is for those already
     * inside the kernel.  INT_MAX: every sleeper re-checks its own sources,
     * and waking only one could pick a sleeper that is not interested. */
    atomic_fetch_add_explicit(&b->seq, 1, memory_order_seq_cst);
    /* Both futex keys, whatever b->shared says: a bell in a shared queue
     * lives in memory another process can write, and a flipped flag would
     * make sleepers and wakers use different keys, losing every wake-up.
     * The extra wake costs about a microsecond, and only when someone
     * sleeps (a wake-up itself costs ~20 us here). */
    syscall(SYS_futex, (uint32_t *)&b->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    syscall(SYS_futex, (uint32_t *)&b->seq, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL,
            0);
}

void rh__sleep_prepare(rh_sleep *s, rh_bell *const *bells, uint32_t n)
{
    if (n > RH_WAIT_MAX_BELLS)
        n = RH_WAIT_MAX_BELLS;
    s->n = n;
    for (uint32_t i = 0; i < n; i++) {
        s->bells[i] = bells[i];
        /* Announce first, then snapshot: a ring that lands after the
         * announcement either bumps seq after our snapshot (commit returns at
         * once) or happened before it (the caller's re-check sees the data). */
        atomic_fetch_add_explicit(&bells[i]->waiters, 1, memory_order_seq_cst);
    }
    /* Pairs with the fence in rh_bell_ring: orders the announcements above
     * before the caller's re-check loads of its sources.  (Under TSan, which
     * rejects fences, the seq_cst RMWs above are full barriers on x86.) */
#if !defined(__SANITIZE_THREAD__)
    atomic_thread_fence(memory_order_seq_cst);
#endif
    for (uint32_t i = 0; i < n; i++)
        s->seen[i] = atomic_load_explicit(&bells[i]->seq, memory_order_seq_cst);
}

void rh__sleep_cancel(rh_sleep *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        atomic_fetch_sub_explicit(&s->bells[i]->waiters, 1, memory_order_relaxed);
    s->n = 0;
}

/* Old kernels: only bells[0] can be slept on, so sleep on it in slices of
 * at most FALLBACK_CAP_NS and look at every bell's seq between slices.  Same
 * contract as futex_waitv: 0 once any seq moved (or on a signal),
 * RH_ETIMEDOUT at the deadline. */
static int sleep_fallback(rh_sleep *s, int64_t timeout_ns)
{
    uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : rh_now_ns() + (uint64_t)timeout_ns;
    rh_bell *b = s->bells[0];
    for (;;) {
        for (uint32_t i = 0; i < s->n; i++)
            if (atomic_load_explicit(&s->bells[i]->seq, memory_order_acquire) != s->seen[i])
                return 0;
        uint64_t now = rh_now_ns();
        if (now >= deadline)
            return RH_ETIMEDOUT;
        uint64_t left = deadline - now;
        struct timespec rel =
            rh_timespec_of_ns(left < (uint64_t)FALLBACK_CAP_NS ? left : FALLBACK_CAP_NS);
        long rc = syscall(SYS_futex, (uint32_t *)&b->seq, FUTEX_WAIT | futex_private_flag(b),
                          s->seen[0], &rel, NULL, 0);
        if (rc == 0 || errno == EINTR)
            return 0; /* woken on bells[0], or a signal: the caller re-checks */
        /* ETIMEDOUT (a slice ended) or EAGAIN (seq moved): look again */
    }
}

int rh__sleep_commit(rh_sleep *s, int64_t timeout_ns)
{
    int result = 0;
    if (s->n == 0) {
        /* Nothing can ring: a bounded sleep is just a nap, an unbounded one
         * would never end. */
        if (timeout_ns < 0)
            return RH_EINVAL;
        struct timespec rel = rh_timespec_of_ns((uint64_t)timeout_ns);
        nanosleep(&rel, NULL);
        return RH_ETIMEDOUT;
    }
    if (timeout_ns == 0) {
        /* A poll: report a ring that happened since prepare, never sleep. */
        result = RH_ETIMEDOUT;
        for (uint32_t i = 0; i < s->n; i++)
            if (atomic_load_explicit(&s->bells[i]->seq, memory_order_acquire) != s->seen[i])
                result = 0;
        rh__sleep_cancel(s);
        return result;
    }
    if (!atomic_load_explicit(&waitv_missing, memory_order_relaxed)) {
        struct futex_waitv w[RH_WAIT_MAX_BELLS];
        memset(w, 0, sizeof(w[0]) * s->n);
        for (uint32_t i = 0; i < s->n; i++) {
            w[i].val = s->seen[i];
            w[i].uaddr = (uint64_t)(uintptr_t)&s->bells[i]->seq;
            w[i].flags = FUTEX_32 | (uint32_t)futex_private_flag(s->bells[i]);
        }
        struct timespec abs, *absp = NULL;
        if (timeout_ns > 0) {
            /* futex_waitv wants an absolute deadline on the given clock. */
            abs = rh_timespec_of_ns(rh_now_ns() + (uint64_t)timeout_ns);
            absp = &abs;
        }
        long rc = syscall(__NR_futex_waitv, w, s->n, 0, absp, CLOCK_MONOTONIC);
        if (rc >= 0) {
            result = 0; /* index of the bell that woke us */
        } else if (errno == ETIMEDOUT) {
            result = RH_ETIMEDOUT;
        } else if (errno == ENOSYS) {
            atomic_store_explicit(&waitv_missing, 1, memory_order_relaxed);
            result = sleep_fallback(s, timeout_ns);
        } else {
            result = 0; /* EAGAIN: a seq moved since prepare; EINTR: spurious */
        }
    } else {
        result = sleep_fallback(s, timeout_ns);
    }
    rh__sleep_cancel(s);
    return result;
}

/* ------------------------------------------------------ wait strategies -- */

static const char *const wait_names[] = {
    [RH_WAIT_SPIN] = "spin",
    [RH_WAIT_YIELD] = "yield",
    [RH_WAIT_PARK] = "park",
    [RH_WAIT_ADAPTIVE] = "adaptive",
};

const char *rh__wait_name(rh_wait_kind k)
{
    if ((unsigned)k < sizeof(wait_names) / sizeof(wait_names[0]))
        return wait_names[k];
    return "unknown";
}

int rh__wait_parse(const char *name)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < sizeof(wait_names) / sizeof(wait_names[0]); i++)
        if (strcmp(name, wait_names[i]) == 0)
            return (int)i;
    return -1;
}

void rh__waiter_init(rh_waiter *w, rh_wait_kind kind)
{
    w->kind = kind;
    w->idle_polls = 0;
    w->spin_polls = ADAPTIVE_SPIN_POLLS;
    w->yield_polls = ADAPTIVE_YIELD_POLLS;
}

void rh__waiter_idle_step(rh_waiter *w, void (*park)(void *arg), void *arg)
{
    switch (rh__waiter_idle(w)) {
    case RH_IDLE_SPIN:
        rh_cpu_relax();
        break;
    case RH_IDLE_YIELD:
        sched_yield();
        break;
    case RH_IDLE_PARK:
        park(arg);
        break;
    }
}

rh_idle_action rh__waiter_idle(rh_waiter *w)
{
    if (w->idle_polls != UINT32_MAX) /* saturate: a thread idle for days stays parked */
        w->idle_polls++;
    switch (w->kind) {
    case RH_WAIT_SPIN:
        return RH_IDLE_SPIN;
    case RH_WAIT_YIELD:
        return RH_IDLE_YIELD;
    case RH_WAIT_PARK:
        return RH_IDLE_PARK;
    case RH_WAIT_ADAPTIVE:
    default:
        if (w->idle_polls <= w->spin_polls)
            return RH_IDLE_SPIN;
        if (w->idle_polls - w->spin_polls <= w->yield_polls)
            return RH_IDLE_YIELD;
        return RH_IDLE_PARK;
    }
}
