/*
 * base_mutex.c — what a C programmer writes without a runtime: a bounded
 * queue guarded by a mutex with two condition variables, two of them forming
 * an echo pipeline.
 *
 * Cases (group p64):
 *   mutex.echo.b32.p64  the client (cpu[0]) sends bursts of 32 (one lock per
 *                       burst) while fewer than BENCH_ECHO_WINDOW are in
 *                       flight and takes back whatever has come; the echo
 *                       thread (cpu[1]) moves up to 32 per lock from one
 *                       queue to the other.  msg/s counted on receipt.
 *   mutex.rtt.p64       one message out, wait for it to come back.
 *
 * Both sides block on their condition variable when there is nothing to do,
 * as such code does; that wake-up (a futex, ~22 us on these machines) is
 * what this baseline costs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench_pvt.h"

#define QUEUE_SLOTS 4096u
#define RTT_WARMUP 200u

/* ------------------------------------------------- bounded queue --- */

typedef struct mq {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    uint8_t *slots;          /* QUEUE_SLOTS * payload bytes */
    uint32_t payload;
    uint32_t head, count;    /* under mu */
    int closed;              /* under mu: wakes and ends every waiter */
} mq;

static int mq_init(mq *q, uint32_t payload)
{
    memset(q, 0, sizeof *q);
    q->payload = payload;
    q->slots = malloc((size_t)QUEUE_SLOTS * payload);
    if (!q->slots)
        return -ENOMEM;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return 0;
}

static void mq_destroy(mq *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->slots);
}

static void mq_close(mq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

/* Copies n (<= QUEUE_SLOTS) messages in, waiting for room.  0, or -1 when
 * the queue was closed. */
static int mq_push(mq *q, const uint8_t *msgs, uint32_t n)
{
    pthread_mutex_lock(&q->mu);
    while (QUEUE_SLOTS - q->count < n && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot = (q->head + q->count + i) % QUEUE_SLOTS;
        memcpy(q->slots + (size_t)slot * q->payload, msgs + (size_t)i * q->payload, q->payload);
    }
    q->count += n;
    pthread_mutex_unlock(&q->mu);
    pthread_cond_signal(&q->not_empty);
    return 0;
}

/* Copies out up to max messages; with wait, first waits until there is one.
 * Returns how many (0: none, or closed). */
static uint32_t mq_pop(mq *q, uint8_t *msgs, uint32_t max, int wait)
{
    pthread_mutex_lock(&q->mu);
    while (wait && q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    uint32_t n = q->count < max ? q->count : max;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot = (q->head + i) % QUEUE_SLOTS;
        memcpy(msgs + (size_t)i * q->payload, q->slots + (size_t)slot * q->payload, q->payload);
    }
    q->head = (q->head + n) % QUEUE_SLOTS;
    q->count -= n;
    pthread_mutex_unlock(&q->mu);
    if (n)
        pthread_cond_signal(&q->not_full);
    return n;
}

/* ---------------------------------------------------- the pipeline --- */

typedef struct echo_pipe {
    mq to_echo, to_client;
    uint32_t payload, batch;
    const bench_env *env;
    /* client results */
    uint64_t received, elapsed_ns;
    uint64_t *lat_ns;
    uint32_t samples;
} echo_pipe;

static void *echo_main(void *arg)
{
    echo_pipe *p = arg;
    uint8_t *burst = malloc((size_t)p->batch * p->payload);
    for (uint32_t n; burst && (n = mq_pop(&p->to_echo, burst, p->batch, 1)) > 0;)
        if (mq_push(&p->to_client, burst, n) != 0)
            break;
    free(burst);
    return NULL;
}

static void *echo_client(void *arg)
{
    echo_pipe *p = arg;
    uint8_t *burst = calloc(p->batch, p->payload);
    uint8_t *back = malloc((size_t)BENCH_ECHO_WINDOW * p->payload);
    uint64_t deadline = (uint64_t)(p->env->rep_seconds * 1e9);
    uint64_t t0 = bench_now_ns(), now = t0, in_flight = 0, received = 0;
    while (burst && back && (now = bench_now_ns()) - t0 < deadline) {
        int window_full = in_flight + p->batch > BENCH_ECHO_WINDOW;
        if (!window_full) {
            if (mq_push(&p->to_echo, burst, p->batch) != 0)
                break;
            in_flight += p->batch;
        }
        uint32_t n = mq_pop(&p->to_client, back, BENCH_ECHO_WINDOW, window_full);
        in_flight -= n;
        received += n;
    }
    p->received = received;
    p->elapsed_ns = now - t0;
    free(burst);
    free(back);
    return NULL;
}

static void *rtt_client(void *arg)
{
    echo_pipe *p = arg;
    uint8_t msg[64 * 1024];
    memset(msg, 0xab, p->payload);
    for (uint32_t i = 0; i < RTT_WARMUP + p->samples; i++) {
        uint64_t t0 = bench_now_ns();
        if (mq_push(&p->to_echo, msg, 1) != 0 || mq_pop(&p->to_client, msg, 1, 1) != 1)
            break;
        if (i >= RTT_WARMUP)
            p->lat_ns[i - RTT_WARMUP] = bench_now_ns() - t0;
    }
    return NULL;
}

/* Starts the echo thread and the given client, waits for the client, then
 * closes both queues so the echo thread ends. */
static int run_pipe(echo_pipe *p, void *(*client)(void *))
{
    int rc = mq_init(&p->to_echo, p->payload);
    if (rc)
        return rc;
    if ((rc = mq_init(&p->to_client, p->payload)) != 0) {
        mq_destroy(&p->to_echo);
        return rc;
    }
    pthread_t echo, cl;
    rc = bench_thread_start(&echo, p->env->cpu[1], echo_main, p);
    if (rc == 0) {
        rc = bench_thread_start(&cl, p->env->cpu[0], client, p);
        if (rc == 0)
            pthread_join(cl, NULL);
        mq_close(&p->to_echo);
        mq_close(&p->to_client);
        pthread_join(echo, NULL);
    }
    mq_destroy(&p->to_echo);
    mq_destroy(&p->to_client);
    return rc;
}

static int run_echo(const bench_env *env, const bench_params *prm, bench_result *out)
{
    echo_pipe p = {.payload = prm->payload, .batch = prm->batch, .env = env};
    int rc = run_pipe(&p, echo_client);
    if (rc)
        return bench_fail(out, "set-up: %s", strerror(-rc));
    if (p.received == 0 || p.elapsed_ns == 0)
        return bench_fail(out, "no message came back");
    double msgs = (double)p.received * 1e9 / (double)p.elapsed_ns;
    bench_put(out, "msgs_per_s", "msg/s", msgs);
    bench_put(out, "gb_per_s", "GB/s", msgs * prm->payload / 1e9);
    return 0;
}

static int run_rtt(const bench_env *env, const bench_params *prm, bench_result *out)
{
    echo_pipe p = {.payload = prm->payload, .batch = 1, .env = env, .samples = env->rtt_samples};
    p.lat_ns = calloc(p.samples, sizeof *p.lat_ns);
    if (!p.lat_ns)
        return bench_fail(out, "out of memory");
    int rc = run_pipe(&p, rtt_client);
    if (rc) {
        free(p.lat_ns);
        return bench_fail(out, "set-up: %s", strerror(-rc));
    }
    bench_put_latencies(out, p.lat_ns, p.samples);
    return 0;
}

void bench_register_mutex(bench_suite *s, const bench_env *env)
{
    (void)env;
    bench_add(s, "p64", "mutex.echo.b32.p64", run_echo,
              &(bench_params){.payload = 64, .batch = 32});
    bench_add(s, "p64", "mutex.rtt.p64", run_rtt, &(bench_params){.payload = 64, .batch = 1});
}
