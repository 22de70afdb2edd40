/*
 * base_rte_ring.c — the ceiling for one hop: a bare DPDK rte_ring, single
 * producer on cpu[0], single consumer on cpu[1].
 *
 * Cases:
 *   rte_ring.hop.b{1,8,32,256}.p64   (group p64)  one-way bursts, msg/s
 *   rte_ring.rtt.p64                 (group p64)  ping-pong over two rings
 *   rte_ring.echo.b32.p64[+env48|+env16]  (group p64)  the echo pipeline on two rings
 *   rte_ring.hop.b32.p64+env{48,16}  (group p64)  one hop of 112- / 80-byte elements
 *   rte_ring.hop.b32.p{16..65536}    (group payload; p64 is in group p64)
 *
 * Only librte_ring is used, on memory we allocate: rte_ring_init() needs no
 * EAL (no rte_eal_init, no hugepages, no memzone).  Elements are copied in
 * and out by the _elem API (esize = payload, a multiple of 4; sizes up to
 * 64 KiB work), the same copy-in / copy-out a ringhost queue does, with the
 * element size a compile-time constant (see WITH_CONST_ESIZE).
 *
 * Ring size: 1024 slots (1023 usable: without RING_F_EXACT_SZ one slot is
 * kept free), cut for large payloads so a ring stays at 4 MiB or less
 * (16 KiB: 256 slots, 64 KiB: 64 slots) — always room for two bursts of 32.
 */
#include <errno.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench_pvt.h"

#define RING_SLOTS 1024u
#define RING_MAX_BYTES (4u << 20)
#define RTT_WARMUP 1000u
/* The largest payload of a round trip (its buffers are on the stack). */
#define MAX_PAYLOAD (64u * 1024u)

static struct rte_ring *ring_new(uint32_t esize, uint32_t slots)
{
    ssize_t size = rte_ring_get_memsize_elem(esize, slots);
    if (size < 0)
        return NULL;
    struct rte_ring *r = aligned_alloc(RTE_CACHE_LINE_SIZE,
                                       ((size_t)size + RTE_CACHE_LINE_SIZE - 1) &
                                           ~(size_t)(RTE_CACHE_LINE_SIZE - 1));
    if (!r)
        return NULL;
    if (rte_ring_init(r, "bench", slots, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

static uint32_t slots_for(uint32_t payload)
{
    uint32_t slots = RING_SLOTS;
    while (slots > 64 && (uint64_t)slots * payload > RING_MAX_BYTES)
        slots /= 2;
    return slots;
}

/* ------------------------------------------------------------ hop --- */

typedef struct hop {
    struct rte_ring *ring;
    uint32_t payload, batch;
    uint64_t run_ns;
    pthread_barrier_t start;
    /* Written once, by the consumer.  Relaxed is enough: it only ends the
     * producer's loop; the results are read after pthread_join. */
    _Alignas(64) atomic_int stop;
    _Alignas(64) uint64_t received; /* the consumer's results */
    uint64_t elapsed_ns;
} hop;

/* rte_ring's _elem copy is a loop over 4-byte words; with the element size
 * a compile-time constant (as in a program with one message type) the
 * compiler unrolls and widens it, ~1.5x faster at 64 bytes.  So each loop
 * below is written once, always inlined with a constant esize for every
 * registered payload, and a runtime esize for anything else. */
#define WITH_CONST_ESIZE(payload, call)                                                        \
    switch (payload) {                                                                         \
    case 16: call(16); break;                                                                  \
    case 64: call(64); break;                                                                  \
    case 80: call(80); break;                                                                  \
    case 112: call(112); break;                                                                \
    case 256: call(256); break;                                                                \
    case 1024: call(1024); break;                                                              \
    case 4096: call(4096); break;                                                              \
    case 16384: call(16384); break;                                                            \
    case 65536: call(65536); break;                                                            \
    default: call(payload); break;                                                             \
    }

/* The producer only enqueues: the payload is whatever is in its buffer,
 * so the figure is the ring's ceiling, not the cost of making messages. */
static inline __attribute__((always_inline)) void produce(hop *h, uint8_t *burst, uint32_t esize)
{
    while (!atomic_load_explicit(&h->stop, memory_order_relaxed))
        rte_ring_enqueue_burst_elem(h->ring, burst, esize, h->batch, NULL);
}

/* The consumer keeps the clock: it stops the run once rep_seconds passed,
 * reading the clock every 64 polls so the clock is not what it measures. */
static inline __attribute__((always_inline)) void consume(hop *h, uint8_t *burst, uint32_t esize)
{
    uint64_t t0 = bench_now_ns(), now = t0, n = 0;
    for (uint32_t polls = 0;; polls++) {
        n += rte_ring_dequeue_burst_elem(h->ring, burst, esize, h->batch, NULL);
        if ((polls & 63) == 0 && (now = bench_now_ns()) - t0 >= h->run_ns)
            break;
    }
    atomic_store_explicit(&h->stop, 1, memory_order_relaxed);
    h->received = n;
    h->elapsed_ns = now - t0;
}

static void *hop_producer(void *arg)
{
    hop *h = arg;
    uint8_t *burst = calloc(h->batch, h->payload);
    pthread_barrier_wait(&h->start);
    if (burst) {
#define CALL_PRODUCE(esize) produce(h, burst, esize)
        WITH_CONST_ESIZE(h->payload, CALL_PRODUCE)
#undef CALL_PRODUCE
    }
    free(burst);
    return NULL;
}

static void *hop_consumer(void *arg)
{
    hop *h = arg;
    uint8_t *burst = calloc(h->batch, h->payload);
    pthread_barrier_wait(&h->start);
    if (burst) {
#define CALL_CONSUME(esize) consume(h, burst, esize)
        WITH_CONST_ESIZE(h->payload, CALL_CONSUME)
#undef CALL_CONSUME
    } else {
        atomic_store_explicit(&h->stop, 1, memory_order_relaxed);
    }
    free(burst);
    return NULL;
}

static int run_hop(const bench_env *env, const bench_params *p, bench_result *out)
{
    hop h;
    memset(&h, 0, sizeof h);
    h.payload = p->payload;
    h.batch = p->batch;
    h.run_ns = (uint64_t)(env->rep_seconds * 1e9);
    h.ring = ring_new(p->payload, slots_for(p->payload));
    if (!h.ring)
        return bench_fail(out, "rte_ring of %u-byte elements: cannot create", p->payload);
    pthread_barrier_init(&h.start, NULL, 2);

    pthread_t prod, cons;
    int rc = bench_thread_start(&cons, env->cpu[1], hop_consumer, &h);
    if (rc == 0 && (rc = bench_thread_start(&prod, env->cpu[0], hop_producer, &h)) != 0) {
        /* The consumer waits at the barrier: stand in for the producer. */
        pthread_barrier_wait(&h.start);
        pthread_join(cons, NULL);
    } else if (rc == 0) {
        pthread_join(prod, NULL);
        pthread_join(cons, NULL);
    }
    pthread_barrier_destroy(&h.start);
    free(h.ring);
    if (rc)
        return bench_fail(out, "thread start: %s", strerror(-rc));
    if (h.elapsed_ns == 0 || h.received == 0)
        return bench_fail(out, "no message received");

    double msgs = (double)h.received * 1e9 / (double)h.elapsed_ns;
    bench_put(out, "msgs_per_s", "msg/s", msgs);
    bench_put(out, "gb_per_s", "GB/s", msgs * p->payload / 1e9);
    return 0;
}

/* ------------------------------------------------------------ rtt --- */

typedef struct rtt {
    struct rte_ring *to_echo, *to_client;
    uint32_t payload, samples;
    uint64_t *lat_ns;
    _Alignas(64) atomic_int stop;
} rtt;

static inline __attribute__((always_inline)) void echo_loop(rtt *r, uint8_t *msg, uint32_t esize)
{
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        if (rte_ring_dequeue_burst_elem(r->to_echo, msg, esize, 1, NULL) == 0) {
            bench_cpu_relax();
            continue;
        }
        while (rte_ring_enqueue_burst_elem(r->to_client, msg, esize, 1, NULL) == 0)
            bench_cpu_relax();
    }
}

static inline __attribute__((always_inline)) void client_loop(rtt *r, uint8_t *msg, uint32_t esize)
{
    for (uint32_t i = 0; i < RTT_WARMUP + r->samples; i++) {
        uint64_t t0 = bench_now_ns();
        while (rte_ring_enqueue_burst_elem(r->to_echo, msg, esize, 1, NULL) == 0)
            bench_cpu_relax();
        while (rte_ring_dequeue_burst_elem(r->to_client, msg, esize, 1, NULL) == 0)
            bench_cpu_relax();
        if (i >= RTT_WARMUP)
            r->lat_ns[i - RTT_WARMUP] = bench_now_ns() - t0;
    }
    atomic_store_explicit(&r->stop, 1, memory_order_relaxed);
}

static void *rtt_echo(void *arg)
{
    rtt *r = arg;
    uint8_t msg[MAX_PAYLOAD];
#define CALL_ECHO(esize) echo_loop(r, msg, esize)
    WITH_CONST_ESIZE(r->payload, CALL_ECHO)
#undef CALL_ECHO
    return NULL;
}

static void *rtt_client(void *arg)
{
    rtt *r = arg;
    uint8_t msg[MAX_PAYLOAD];
    memset(msg, 0xab, r->payload);
#define CALL_CLIENT(esize) client_loop(r, msg, esize)
    WITH_CONST_ESIZE(r->payload, CALL_CLIENT)
#undef CALL_CLIENT
    return NULL;
}

static int run_rtt(const bench_env *env, const bench_params *p, bench_result *out)
{
    if (p->payload > MAX_PAYLOAD || p->payload % 4)
        return bench_fail(out, "payload %u: wants a multiple of 4, at most %u", p->payload,
                          MAX_PAYLOAD);
    rtt r;
    memset(&r, 0, sizeof r);
    r.payload = p->payload;
    r.samples = env->rtt_samples;
    r.lat_ns = malloc(r.samples * sizeof *r.lat_ns);
    r.to_echo = ring_new(p->payload, slots_for(p->payload));
    r.to_client = ring_new(p->payload, slots_for(p->payload));
    int rc = -ENOMEM;
    pthread_t echo, client;
    if (r.lat_ns && r.to_echo && r.to_client &&
        (rc = bench_thread_start(&echo, env->cpu[1], rtt_echo, &r)) == 0) {
        rc = bench_thread_start(&client, env->cpu[0], rtt_client, &r);
        if (rc == 0)
            pthread_join(client, NULL);
        atomic_store_explicit(&r.stop, 1, memory_order_relaxed);
        pthread_join(echo, NULL);
    }
    free(r.to_echo);
    free(r.to_client);
    if (rc) {
        free(r.lat_ns);
        return bench_fail(out, "set-up: %s", strerror(-rc));
    }
    bench_put_latencies(out, r.lat_ns, r.samples);
    return 0;
}

/* ----------------------------------------------------------- echo --- */

/*
 * The echo pipeline of the other baselines built from two rte_rings: the
 * client (cpu[0]) sends bursts into one ring while fewer than
 * BENCH_ECHO_WINDOW are in flight and takes back what has come; the echo
 * thread (cpu[1]) moves bursts from one ring to the other.  With 112-byte
 * elements it moves exactly the bytes ringhost's echo moves per 64-byte
 * message (a 48-byte envelope and the payload, into and out of each named
 * queue): the ceiling of any echo pipeline that carries an envelope.
 */
typedef struct echo {
    struct rte_ring *to_echo, *to_client;
    uint32_t esize, batch;
    uint64_t run_ns;
    _Alignas(64) atomic_int stop;
    _Alignas(64) uint64_t received;
    uint64_t elapsed_ns;
} echo;

static inline __attribute__((always_inline)) void echo_move(echo *e, uint8_t *buf, uint32_t esize)
{
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        unsigned n = rte_ring_dequeue_burst_elem(e->to_echo, buf, esize, e->batch, NULL);
        for (unsigned done = 0; done < n;)
            done += rte_ring_enqueue_burst_elem(e->to_client, buf + (size_t)done * esize, esize,
                                                n - done, NULL);
    }
}

static inline __attribute__((always_inline)) void echo_client_loop(echo *e, uint8_t *out,
                                                                   uint8_t *in, uint32_t esize)
{
    uint64_t sent = 0, got = 0, t0 = bench_now_ns(), now = t0;
    for (uint32_t polls = 0;; polls++) {
        if (sent - got + e->batch <= BENCH_ECHO_WINDOW)
            sent += rte_ring_enqueue_burst_elem(e->to_echo, out, esize, e->batch, NULL);
        got += rte_ring_dequeue_burst_elem(e->to_client, in, esize, e->batch, NULL);
        if ((polls & 63) == 0 && (now = bench_now_ns()) - t0 >= e->run_ns)
            break;
    }
    atomic_store_explicit(&e->stop, 1, memory_order_relaxed);
    e->received = got;
    e->elapsed_ns = now - t0;
}

static void *echo_thread(void *arg)
{
    echo *e = arg;
    uint8_t *buf = calloc(e->batch, e->esize);
    if (buf) {
#define CALL_MOVE(esize) echo_move(e, buf, esize)
        WITH_CONST_ESIZE(e->esize, CALL_MOVE)
#undef CALL_MOVE
    }
    free(buf);
    return NULL;
}

static void *echo_client(void *arg)
{
    echo *e = arg;
    uint8_t *out = calloc(e->batch, e->esize), *in = calloc(e->batch, e->esize);
    if (out && in) {
#define CALL_CLIENT_LOOP(esize) echo_client_loop(e, out, in, esize)
        WITH_CONST_ESIZE(e->esize, CALL_CLIENT_LOOP)
#undef CALL_CLIENT_LOOP
    } else {
        atomic_store_explicit(&e->stop, 1, memory_order_relaxed);
    }
    free(out);
    free(in);
    return NULL;
}

static int run_echo(const bench_env *env, const bench_params *p, bench_result *out)
{
    echo e;
    memset(&e, 0, sizeof e);
    /* depth is borrowed to say how many envelope bytes ride with each message */
    e.esize = p->payload + p->depth;
    e.batch = p->batch;
    e.run_ns = (uint64_t)(env->rep_seconds * 1e9);
    e.to_echo = ring_new(e.esize, 4096);
    e.to_client = ring_new(e.esize, 4096);
    int rc = -ENOMEM;
    pthread_t et, ct;
    if (e.to_echo && e.to_client && (rc = bench_thread_start(&et, env->cpu[1], echo_thread, &e)) == 0) {
        rc = bench_thread_start(&ct, env->cpu[0], echo_client, &e);
        if (rc == 0)
            pthread_join(ct, NULL);
        atomic_store_explicit(&e.stop, 1, memory_order_relaxed);
        pthread_join(et, NULL);
    }
    free(e.to_echo);
    free(e.to_client);
    if (rc)
        return bench_fail(out, "set-up: %s", strerror(-rc));
    if (e.elapsed_ns == 0 || e.received == 0)
        return bench_fail(out, "no message came back");
    double msgs = (double)e.received * 1e9 / (double)e.elapsed_ns;
    bench_put(out, "msgs_per_s", "msg/s", msgs);
    return 0;
}

void bench_register_rte_ring(bench_suite *s, const bench_env *env)
{
    (void)env;
    static const uint32_t bursts[] = {1, 8, 32, 256};
    static const uint32_t payloads[] = {16, 256, 1024, 4096, 16384, 65536};
    char name[BENCH_NAME_MAX];
    for (size_t i = 0; i < sizeof bursts / sizeof *bursts; i++) {
        snprintf(name, sizeof name, "rte_ring.hop.b%u.p64", bursts[i]);
        bench_add(s, "p64", name, run_hop, &(bench_params){.payload = 64, .batch = bursts[i]});
    }
    bench_add(s, "p64", "rte_ring.rtt.p64", run_rtt, &(bench_params){.payload = 64, .batch = 1});
    /* The echo pipeline of bare rings: the payload alone, and the payload
     * with a 48-byte envelope (what ringhost carries). */
    bench_add(s, "p64", "rte_ring.echo.b32.p64", run_echo,
              &(bench_params){.payload = 64, .batch = 32});
    bench_add(s, "p64", "rte_ring.echo.b32.p64+env48", run_echo,
              &(bench_params){.payload = 64, .batch = 32, .depth = 48});
    /* The compact-envelope question, measured rather than
     * guessed: the same pipeline and one hop with a 16-byte envelope
     * (enqueue time, length, priority, flags, port: what a queue without
     * dedup, ttl or correlation still needs) against today's 48 bytes. */
    bench_add(s, "p64", "rte_ring.echo.b32.p64+env16", run_echo,
              &(bench_params){.payload = 64, .batch = 32, .depth = 16});
    bench_add(s, "p64", "rte_ring.hop.b32.p64+env48", run_hop,
              &(bench_params){.payload = 64 + 48, .batch = 32});
    bench_add(s, "p64", "rte_ring.hop.b32.p64+env16", run_hop,
              &(bench_params){.payload = 64 + 16, .batch = 32});
    for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
        snprintf(name, sizeof name, "rte_ring.hop.b32.p%u", payloads[i]);
        bench_add(s, "payload", name, run_hop,
                  &(bench_params){.payload = payloads[i], .batch = 32});
    }
}
