/*
 * rh_host.c — costs of the host outside a pipeline: rh_send by itself, and
 * what an idle host burns.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rh_cases.h"
#include "rh_pipeline.h"

/* A 64-byte message type for a queue created straight through the API (no
 * kernel involved, so no generated type is needed; the fingerprint only has
 * to be non-zero). */
static const rh_type raw64 = {
    .struct_size = sizeof(rh_type),
    .name = "bench.raw64",
    .fingerprint = 0x72617736342d6231ull,
    .size = 64,
    .align = 8,
};

#define SENDS_PER_SAMPLE 16u /* clock reads cost ~20-40 ns here: time 16 sends at once */
#define BURST 32u

typedef struct send_job {
    const bench_env *env;
    rh_queue *q;
    uint64_t *single, *burst;
    uint32_t n;
    char error[128];
} send_job;

static void *send_thread(void *arg)
{
    send_job *j = arg;
    unsigned char msg[64] = {0}, rbuf[BURST * 64];
    unsigned char bmsg[BURST * 64] = {0};
    for (uint32_t s = 0; s < j->n + j->n / 10; s++) {
        uint64_t t0 = bench_now_ns();
        for (uint32_t i = 0; i < SENDS_PER_SAMPLE; i++)
            if (rh_send(j->q, NULL, msg, sizeof msg, NULL) != 0) {
                snprintf(j->error, sizeof j->error, "rh_send failed");
                return NULL;
            }
        uint64_t t1 = bench_now_ns();
        if (rh_send_burst(j->q, NULL, bmsg, 64, 64, BURST, NULL) != (int)BURST) {
            snprintf(j->error, sizeof j->error, "rh_send_burst failed");
            return NULL;
        }
        uint64_t t2 = bench_now_ns();
        /* Untimed: empty the queue again so every sample starts alike. */
        while (rh_recv_burst(j->q, NULL, rbuf, 64, BURST, 0) > 0)
            ;
        if (s >= j->n / 10) { /* the first tenth warms caches up */
            j->single[s - j->n / 10] = (t1 - t0) / SENDS_PER_SAMPLE;
            j->burst[s - j->n / 10] = (t2 - t1) / BURST;
        }
    }
    return NULL;
}

int rhb_send_latency(const bench_env *env, const bench_params *p, bench_result *out)
{
    (void)p;
    char instance[64];
    snprintf(instance, sizeof instance, "rhbench-%d-send", (int)getpid());
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 4096, .backpressure = RH_BP_REJECT,
                                               .shared = 1);
    rh_queue *q;
    rh_error err = {0};
    if (rh_queue_create(instance, "send", &raw64, &cfg, NULL, &q, &err) != 0)
        return bench_fail(out, "rh_queue_create: %s", err.msg);
    send_job j = {.env = env, .q = q, .n = env->rtt_samples / 4 + 100};
    j.single = malloc(j.n * sizeof *j.single);
    j.burst = malloc(j.n * sizeof *j.burst);
    int rc = 0;
    pthread_t t;
    if (!j.single || !j.burst)
        rc = bench_fail(out, "out of memory");
    else if (bench_thread_start(&t, env->cpu[0], send_thread, &j) != 0)
        rc = bench_fail(out, "cannot start the sender");
    else {
        pthread_join(t, NULL);
        if (j.error[0])
            rc = bench_fail(out, "%s", j.error);
    }
    if (rc == 0) {
        bench_put(out, "send_p50_ns", "ns", (double)bench_quantile(j.single, j.n, 0.5));
        bench_put(out, "send_p99_ns", "ns", (double)bench_quantile(j.single, j.n, 0.99));
        bench_put(out, "send_burst_p50_ns", "ns", (double)bench_quantile(j.burst, j.n, 0.5));
    }
    free(j.single);
    free(j.burst);
    rh_queue_close(q);
    return rc;
}

static uint64_t process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define IDLE_SECONDS 2.0

int rhb_idle(const bench_env *env, const bench_params *prm, bench_result *out)
{
    rhb_spec s = rhb_spec_from(prm); /* the defaults: thread bridges, adaptive */
    rhb_pipe p;
    if (rhb_launch(env, &s, &p, out) != 0)
        return -1;
    /* Some traffic first, so the threads are warm and then go idle. */
    unsigned char msg[64] = {0}, rbuf[64 * 32];
    uint32_t used = 60;
    memcpy(msg, &used, 4);
    for (int i = 0; i < 100; i++) {
        rh_send_burst(p.in[0], NULL, msg, 64, 64, 1, NULL);
        rh_recv_burst(p.out[0], NULL, rbuf, p.stride, 32, 1000);
    }
    struct timespec settle = {0, 300000000};
    nanosleep(&settle, NULL);
    uint64_t c0 = process_cpu_ns(), t0 = bench_now_ns();
    struct timespec idle = {(time_t)IDLE_SECONDS, 0};
    nanosleep(&idle, NULL);
    uint64_t c1 = process_cpu_ns(), t1 = bench_now_ns();
    int rc = rhb_close(&p) != 0 ? bench_fail(out, "terminate reported a problem") : 0;
    if (rc == 0)
        bench_put(out, "cpu_pct", "%", 100.0 * (double)(c1 - c0) / (double)(t1 - t0));
    return rc;
}

/* ------------------------------------------------- one named-queue hop --- */

/* The named queue alone, as rte_ring.hop measures rte_ring: a producer on
 * cpu[0] sends bursts of 64-byte messages, a consumer on cpu[1] receives
 * them.  No kernel, no bridge: what the queue itself costs. */
typedef struct qhop {
    rh_queue *q;
    uint32_t batch;
    double seconds;
    _Atomic int stop;
    uint64_t received;
    double elapsed_s;
} qhop;

static void *qhop_producer(void *arg)
{
    qhop *h = arg;
    unsigned char msgs[256 * 64];
    memset(msgs, 0, sizeof msgs);
    while (!atomic_load_explicit(&h->stop, memory_order_relaxed))
        rh_send_burst(h->q, NULL, msgs, 64, 64, h->batch, NULL);
    return NULL;
}

static void *qhop_consumer(void *arg)
{
    qhop *h = arg;
    unsigned char bufs[256 * 64];
    uint64_t got = 0, t0 = bench_now_ns(), end = t0 + (uint64_t)(h->seconds * 1e9);
    for (uint64_t round = 1;; round++) {
        int k = rh_recv_burst(h->q, NULL, bufs, 64, h->batch, 0);
        if (k > 0)
            got += (uint64_t)k;
        if ((round & 255) == 0 && bench_now_ns() >= end)
            break;
    }
    h->elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
    h->received = got;
    atomic_store(&h->stop, 1);
    return NULL;
}

int rhb_queue_hop(const bench_env *env, const bench_params *p, bench_result *out)
{
    char instance[64];
    snprintf(instance, sizeof instance, "rhbench-%d-hop", (int)getpid());
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 1024, .backpressure = RH_BP_REJECT,
                                               .shared = 1);
    rh_queue *q;
    rh_error err = {0};
    if (rh_queue_create(instance, "hop", &raw64, &cfg, NULL, &q, &err) != 0)
        return bench_fail(out, "rh_queue_create: %s", err.msg);
    qhop h = {.q = q, .batch = p->batch ? p->batch : 32, .seconds = env->rep_seconds};
    pthread_t pt, ct;
    int rc = 0;
    if (bench_thread_start(&pt, env->cpu[0], qhop_producer, &h) != 0)
        rc = bench_fail(out, "cannot start the producer");
    else if (bench_thread_start(&ct, env->cpu[1], qhop_consumer, &h) != 0) {
        atomic_store(&h.stop, 1);
        pthread_join(pt, NULL);
        rc = bench_fail(out, "cannot start the consumer");
    } else {
        pthread_join(ct, NULL);
        pthread_join(pt, NULL);
        bench_put(out, "msgs_per_s", "msg/s", (double)h.received / h.elapsed_s);
    }
    rh_queue_close(q);
    return rc;
}
