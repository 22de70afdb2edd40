/*
 * base_cores.c — the bare rte_ring side of the "cores" group: the same
 * shapes as ringhost's scaling cases (rh_cases.c), with every piece of
 * ringhost taken out, over the same cpus.
 *
 * Cases (64-byte elements, bursts of 32, one client thread on cpus[0]):
 *   rte_ring.cores.echo.w<W>.b32.p64   W independent ring pairs (to the
 *       mover, back to the client), one mover thread per pair: the shape of
 *       one echo kernel with "workers": W, each worker with its own input
 *       ring; the client deals its bursts round robin over the pairs.
 *   rte_ring.cores.chain.d<D>.b32.p64  D movers in a row over D+1 rings:
 *       the shape of a pipeline of D echo kernels.
 *
 * Why this is the fair baseline: ringhost's cases have one client and W
 * (or D) kernel threads, so this has one client and W (or D) movers, on the
 * same cpus, with the same window of BENCH_ECHO_WINDOW messages in flight.
 * W free-running producer/consumer pairs (2W threads, each producer
 * enqueueing whatever is in its buffer) would scale with no client at all,
 * and would compare twice ringhost's threads against an echo that must
 * bring every message back.  Where cpus run short the placement follows
 * ringhost's too: workers are threads of their own (so W movers share
 * cpus by time), while kernels pinned to one cpu share one reactor thread
 * (so a chain's movers on one cpu are one thread serving its stages in
 * turn).
 *
 * Movers go on cpus[1], cpus[2], ..., wrapping around when there are fewer
 * cpus than movers; each repetition reports "cpus", how many it used.
 */
#include <errno.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench_pvt.h"

#define ESIZE 64u
#define BATCH 32u
#define SLOTS 4096u
#define MAX_LANES 64u

typedef struct cores_run cores_run;

/* A thread moving bursts from in[i] to out[i] for each of its stages. */
typedef struct mover {
    cores_run *run;
    struct rte_ring *in[MAX_LANES], *out[MAX_LANES];
    uint32_t n;
    int cpu;
    pthread_t t;
} mover;

struct cores_run {
    /* lane i: the client sends into to[i] and takes back from from[i] */
    struct rte_ring *to[MAX_LANES], *from[MAX_LANES];
    uint32_t lanes;
    mover movers[MAX_LANES];
    uint32_t n_movers;
    uint64_t run_ns;
    /* Movers that have entered their loop: the client starts its clock once
     * all have (a mover not yet scheduled would be timed as a slow one).
     * Relaxed, like stop: they order no data, only when loops start and
     * end; the results are read after pthread_join. */
    _Alignas(64) atomic_uint ready;
    _Alignas(64) atomic_int stop;
    _Alignas(64) uint64_t received;
    uint64_t elapsed_ns;
};

static struct rte_ring *ring_new(void)
{
    ssize_t size = rte_ring_get_memsize_elem(ESIZE, SLOTS);
    if (size < 0)
        return NULL;
    struct rte_ring *r = aligned_alloc(RTE_CACHE_LINE_SIZE, ((size_t)size + 63) & ~(size_t)63);
    if (r && rte_ring_init(r, "cores", SLOTS, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
        free(r);
        r = NULL;
    }
    return r;
}

static void *mover_main(void *arg)
{
    mover *m = arg;
    cores_run *run = m->run;
    uint8_t buf[BATCH * ESIZE];
    atomic_fetch_add_explicit(&run->ready, 1, memory_order_relaxed);
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed))
        for (uint32_t i = 0; i < m->n; i++) {
            unsigned n = rte_ring_dequeue_burst_elem(m->in[i], buf, ESIZE, BATCH, NULL);
            for (unsigned done = 0; done < n &&
                                    !atomic_load_explicit(&run->stop, memory_order_relaxed);)
                done += rte_ring_enqueue_burst_elem(m->out[i], buf + (size_t)done * ESIZE,
                                                    ESIZE, n - done, NULL);
        }
    return NULL;
}

/* The client: bursts dealt round robin over the lanes, at most
 * BENCH_ECHO_WINDOW messages in flight in all (shared evenly), the clock
 * read every 64 rounds. */
static void client_loop(cores_run *run)
{
    uint8_t out[BATCH * ESIZE], in[BATCH * ESIZE];
    memset(out, 0x5a, sizeof out);
    uint64_t sent[MAX_LANES] = {0}, got[MAX_LANES] = {0}, total = 0;
    uint64_t window = BENCH_ECHO_WINDOW / run->lanes;
    if (window < BATCH)
        window = BATCH;
    while (atomic_load_explicit(&run->ready, memory_order_relaxed) < run->n_movers)
        bench_cpu_relax();
    uint64_t t0 = bench_now_ns(), now = t0;
    for (uint32_t round = 0;; round++) {
        uint32_t i = round % run->lanes;
        if (sent[i] - got[i] + BATCH <= window)
            sent[i] += rte_ring_enqueue_burst_elem(run->to[i], out, ESIZE, BATCH, NULL);
        unsigned n = rte_ring_dequeue_burst_elem(run->from[i], in, ESIZE, BATCH, NULL);
        got[i] += n;
        total += n;
        if ((round & 63) == 0 && (now = bench_now_ns()) - t0 >= run->run_ns)
            break;
    }
    atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
    run->received = total;
    run->elapsed_ns = now - t0;
}

static void *client_main(void *arg)
{
    client_loop(arg);
    return NULL;
}

static int kernel_cpu(const bench_env *env, uint32_t i)
{
    return env->cpus[1 + i % (uint32_t)(env->n_cpus - 1)];
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* p->workers > 0: W lanes, a mover each; else p->depth movers in a row. */
static int run_cores(const bench_env *env, const bench_params *p, bench_result *out)
{
    uint32_t kcpus = (uint32_t)env->n_cpus - 1;
    uint32_t w = p->workers, d = p->depth;
    if ((w ? w : d) > MAX_LANES || (!w && !d))
        return bench_fail(out, "at most %u movers", MAX_LANES);
    cores_run *run = calloc(1, sizeof *run);
    if (!run)
        return bench_fail(out, "out of memory");
    run->run_ns = (uint64_t)(env->rep_seconds * 1e9);
    struct rte_ring *rings[2 * MAX_LANES + 1] = {0};
    uint32_t n_rings = w ? 2 * w : d + 1;
    int ok = 1;
    for (uint32_t i = 0; i < n_rings; i++)
        ok &= (rings[i] = ring_new()) != NULL;
    if (w) {
        run->lanes = w;
        run->n_movers = w;
        for (uint32_t i = 0; i < w; i++) {
            run->to[i] = rings[2 * i];
            run->from[i] = rings[2 * i + 1];
            mover *m = &run->movers[i];
            m->in[0] = rings[2 * i];
            m->out[0] = rings[2 * i + 1];
            m->n = 1;
            m->cpu = kernel_cpu(env, i);
        }
    } else {
        run->lanes = 1;
        run->to[0] = rings[0];
        run->from[0] = rings[d];
        run->n_movers = min_u32(d, kcpus);
        for (uint32_t s = 0; s < d; s++) { /* stage s on the mover of its cpu */
            mover *m = &run->movers[s % kcpus];
            m->in[m->n] = rings[s];
            m->out[m->n++] = rings[s + 1];
            m->cpu = kernel_cpu(env, s);
        }
    }
    int rc = ok ? 0 : -ENOMEM;
    uint32_t started = 0;
    for (; rc == 0 && started < run->n_movers; started++) {
        run->movers[started].run = run;
        rc = bench_thread_start(&run->movers[started].t, run->movers[started].cpu, mover_main,
                                &run->movers[started]);
        if (rc)
            break;
    }
    pthread_t client;
    if (rc == 0 && (rc = bench_thread_start(&client, env->cpu[0], client_main, run)) == 0)
        pthread_join(client, NULL);
    atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
    for (uint32_t i = 0; i < started; i++)
        pthread_join(run->movers[i].t, NULL);
    for (uint32_t i = 0; i < n_rings; i++)
        free(rings[i]);
    uint64_t received = run->received, elapsed = run->elapsed_ns;
    free(run);
    if (rc)
        return bench_fail(out, "set-up: %s", strerror(-rc));
    if (!elapsed || !received)
        return bench_fail(out, "no message came back");
    double msgs = (double)received * 1e9 / (double)elapsed;
    bench_put(out, "msgs_per_s", "msg/s", msgs);
    bench_put(out, "gb_per_s", "GB/s", msgs * ESIZE / 1e9);
    bench_put(out, "cpus", "cpus", 1 + min_u32(w ? w : d, kcpus));
    return 0;
}

void bench_register_cores(bench_suite *s, const bench_env *env)
{
    (void)env;
    static const uint32_t workers[] = {1, 2, 4, 8};
    static const uint32_t depths[] = {2, 4};
    char name[BENCH_NAME_MAX];
    for (size_t i = 0; i < sizeof workers / sizeof *workers; i++) {
        snprintf(name, sizeof name, "rte_ring.cores.echo.w%u.b32.p64", workers[i]);
        bench_add(s, "cores", name, run_cores,
                  &(bench_params){.payload = ESIZE, .batch = BATCH, .workers = workers[i]});
    }
    for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
        snprintf(name, sizeof name, "rte_ring.cores.chain.d%u.b32.p64", depths[i]);
        bench_add(s, "cores", name, run_cores,
                  &(bench_params){.payload = ESIZE, .batch = BATCH, .depth = depths[i]});
    }
}
