/*
 * probe.c — the placement probe: one cache line bounced between a thread on
 * cpu[0] and a thread on cpu[1].
 *
 * The hypervisor of these 2-vCPU machines places the two vCPUs either near
 * (sharing a cache: a round trip of ~130 ns) or far (~500 ns), and moves them
 * during a run.  Nothing in the guest says which; this round trip does.  The
 * line holds one counter: the pinger writes an odd value, the ponger answers
 * with the next even one, so each round trip is exactly two ownership
 * transfers of the line and nothing else.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

#define PROBE_WARMUP 200u
/* Round trips timed as one sample: the clock read (~20 ns) is then a small
 * part of a sample even in the near placement. */
#define PROBE_PER_SAMPLE 8u

typedef struct probe {
    _Alignas(64) _Atomic uint64_t line;
    _Alignas(64) uint32_t round_trips;  /* a multiple of PROBE_PER_SAMPLE */
    double median_ns;                   /* the pinger's answer */
} probe;

/* Round trip i, pinger side.  acquire/release suffice: each side only waits
 * for the other's last store to the same line. */
static inline void ping_once(probe *pr, uint64_t i)
{
    atomic_store_explicit(&pr->line, 2 * i + 1, memory_order_release);
    while (atomic_load_explicit(&pr->line, memory_order_acquire) != 2 * i + 2)
        bench_cpu_relax();
}

static void *ponger(void *arg)
{
    probe *pr = arg;
    uint64_t total = PROBE_WARMUP + pr->round_trips;
    for (uint64_t i = 0; i < total; i++) {
        while (atomic_load_explicit(&pr->line, memory_order_acquire) != 2 * i + 1)
            bench_cpu_relax();
        atomic_store_explicit(&pr->line, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static void *pinger(void *arg)
{
    probe *pr = arg;
    uint32_t n_samples = pr->round_trips / PROBE_PER_SAMPLE;
    uint64_t *samples = malloc(n_samples * sizeof *samples);
    uint64_t i = 0;
    for (; i < PROBE_WARMUP; i++)
        ping_once(pr, i);
    for (uint32_t k = 0; k < n_samples; k++) {
        uint64_t t0 = bench_now_ns();
        for (uint32_t j = 0; j < PROBE_PER_SAMPLE; j++, i++)
            ping_once(pr, i);
        if (samples)
            samples[k] = bench_now_ns() - t0;
    }
    /* Still played every round trip above, so the ponger ends either way. */
    pr->median_ns = samples ? (double)bench_quantile(samples, n_samples, 0.5) / PROBE_PER_SAMPLE
                            : -ENOMEM;
    free(samples);
    return NULL;
}

double bench_probe_rtt_ns(const int cpu[2], uint32_t round_trips)
{
    probe *pr = aligned_alloc(64, sizeof *pr);
    if (!pr)
        return -ENOMEM;
    atomic_init(&pr->line, 0);
    pr->round_trips = (round_trips + PROBE_PER_SAMPLE - 1) / PROBE_PER_SAMPLE * PROBE_PER_SAMPLE;
    if (pr->round_trips == 0)
        pr->round_trips = PROBE_PER_SAMPLE;
    pr->median_ns = -ENOMEM;

    pthread_t pong, ping;
    int rc = bench_thread_start(&pong, cpu[1], ponger, pr);
    if (rc) {
        free(pr);
        return rc;
    }
    rc = bench_thread_start(&ping, cpu[0], pinger, pr);
    if (rc) {
        /* The ponger is already waiting: play the pinger's part from here
         * (unpinned, the figure is not used) so it can end. */
        for (uint64_t i = 0; i < PROBE_WARMUP + pr->round_trips; i++)
            ping_once(pr, i);
        pthread_join(pong, NULL);
        free(pr);
        return rc;
    }
    pthread_join(ping, NULL);
    pthread_join(pong, NULL);
    double median = pr->median_ns;
    free(pr);
    return median;
}
