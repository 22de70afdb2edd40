/*
 * wait.h — doorbells and wait strategies.
 *
 * A bell is an event count in (possibly shared) memory: a consumer that is
 * about to sleep announces itself in `waiters`, snapshots `seq`, re-checks
 * its sources, then sleeps on `seq` with a futex.  A producer rings the bell
 * after publishing: it pays one fence and one load when nobody waits (no
 * syscall on the hot path) and a seq increment + FUTEX_WAKE when someone
 * does.  A reactor thread with several sources sleeps on all of their bells
 * at once with futex_waitv (Linux >= 5.16), so any of them wakes it.
 */
#ifndef RH_WAIT_H
#define RH_WAIT_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct rh_bell {
    _Atomic uint32_t seq;     /* futex word, bumped by rh_bell_ring when someone waits */
    _Atomic uint32_t waiters; /* sleepers announced on this bell */
    uint32_t shared;          /* non-zero: lives in shared memory (no FUTEX_PRIVATE) */
    uint32_t pad_;
} rh_bell;

void rh__bell_init(rh_bell *b, int shared);

/* Slow path of rh_bell_ring: bump seq and wake every sleeper. */
void rh__bell_wake_all(rh_bell *b);

/* Call after publishing data that a sleeper may wait for. */
static inline void rh_bell_ring(rh_bell *b)
{
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer does not model fences (GCC >= 12 rejects them under
     * -fsanitize=thread); a seq_cst RMW gives the same store->load order. */
    if (atomic_fetch_add_explicit(&b->waiters, 0, memory_order_seq_cst) != 0)
        rh__bell_wake_all(b);
#else
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&b->waiters, memory_order_relaxed) != 0)
        rh__bell_wake_all(b);
#endif
}

#define RH_WAIT_MAX_BELLS 64

/* A sleep over several bells: prepare, re-check the sources, then commit or
 * cancel.  Any ring between prepare and commit makes commit return at once. */
typedef struct rh_sleep {
    rh_bell *bells[RH_WAIT_MAX_BELLS];
    uint32_t seen[RH_WAIT_MAX_BELLS];
    uint32_t n;
} rh_sleep;

/* Announce a sleeper on each bell and snapshot their seqs.  n <= RH_WAIT_MAX_BELLS. */
void rh__sleep_prepare(rh_sleep *s, rh_bell *const *bells, uint32_t n);
/* Sleep until a bell rings or timeout_ns passes (<0: no timeout), then
 * withdraw.  Returns 0 when woken or a seq moved, RH_ETIMEDOUT on timeout. */
int rh__sleep_commit(rh_sleep *s, int64_t timeout_ns);
/* Withdraw without sleeping (the re-check found work). */
void rh__sleep_cancel(rh_sleep *s);

/* How an idle thread waits. */
typedef enum rh_wait_kind {
    RH_WAIT_SPIN = 0,     /* busy-poll: lowest latency, burns a core */
    RH_WAIT_YIELD = 1,    /* sched_yield between polls */
    RH_WAIT_PARK = 2,     /* sleep on the bells at once */
    RH_WAIT_ADAPTIVE = 3, /* spin, then yield, then park (default) */
} rh_wait_kind;

const char *rh__wait_name(rh_wait_kind k);
int rh__wait_parse(const char *name); /* -1 when unknown */

/* Per-thread state of a wait strategy.  Call rh__waiter_idle() after each
 * empty poll and rh_waiter_busy() after each poll that found work. */
typedef struct rh_waiter {
    rh_wait_kind kind;
    uint32_t idle_polls; /* consecutive empty polls */
    uint32_t spin_polls; /* adaptive: empty polls spent spinning before yielding */
    uint32_t yield_polls;/* adaptive: then yielding before parking */
} rh_waiter;

void rh__waiter_init(rh_waiter *w, rh_wait_kind kind);

static inline void rh_waiter_busy(rh_waiter *w)
{
    w->idle_polls = 0;
}

/* What the caller should do after an empty poll. */
typedef enum { RH_IDLE_SPIN, RH_IDLE_YIELD, RH_IDLE_PARK } rh_idle_action;
rh_idle_action rh__waiter_idle(rh_waiter *w);
/* The one idle step every wait takes after an empty poll: a pause, a
 * sched_yield, or park(arg) (the caller's sleep on what wakes it: prepare
 * on its bells, re-check, commit), as the waiter's policy says. */
void rh__waiter_idle_step(rh_waiter *w, void (*park)(void *arg), void *arg);

/* CPU relax hint for spin loops. */
static inline void rh_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* RH_WAIT_H */
