/*
 * base_zmq.c — the messaging library users reach for: the same echo
 * pipeline over ZeroMQ inproc.
 *
 * Cases (group p64):
 *   zmq.echo.b32.p64  the client (cpu[0]) sends with ZMQ_DONTWAIT in bursts
 *                     of 32 while fewer than BENCH_ECHO_WINDOW are in flight
 *                     and takes back whatever has come (zmq_poll when the
 *                     window is full); the echo thread (cpu[1]) receives up
 *                     to 32 and sends them back.  msg/s counted on receipt.
 *   zmq.rtt.p64       one message out, wait for it to come back.
 *
 * One context with no I/O thread (inproc needs none), one PAIR socket pair
 * carrying both directions; each message is one 64-byte frame.  A zero-length
 * frame tells the echo thread to stop.  The high-water marks (10000) are
 * above the window, so a send only fails if the pipeline is broken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bench_pvt.h"

#define ZMQ_HWM 10000
#define RTT_WARMUP 200u
#define ENDPOINT "inproc://ringhost-bench-echo"
/* Burst buffers live on the threads' stacks: batch * payload fits here. */
#define BURST_BYTES (64u * 1024u)

typedef struct zpipe {
    void *ctx;
    void *client, *echo;     /* PAIR sockets: each used by one thread only */
    uint32_t payload, batch;
    const bench_env *env;
    /* client results */
    uint64_t received, elapsed_ns;
    uint64_t *lat_ns;
    uint32_t samples;
    char error[128];
} zpipe;

static void *echo_main(void *arg)
{
    zpipe *z = arg;
    uint8_t buf[BURST_BYTES];
    for (;;) {
        /* Block for the first, then take what else is already there. */
        int len = zmq_recv(z->echo, buf, z->payload, 0);
        if (len <= 0)
            break; /* the stop frame, or the context ends */
        uint32_t n = 1;
        for (; n < z->batch; n++) {
            len = zmq_recv(z->echo, buf + (size_t)n * z->payload, z->payload, ZMQ_DONTWAIT);
            if (len <= 0)
                break;
        }
        for (uint32_t i = 0; i < n; i++)
            zmq_send(z->echo, buf + (size_t)i * z->payload, z->payload, 0);
        if (len == 0)
            break;
    }
    return NULL;
}

static void *echo_client(void *arg)
{
    zpipe *z = arg;
    uint8_t msg[BURST_BYTES];
    memset(msg, 0xab, z->payload);
    zmq_pollitem_t in = {.socket = z->client, .events = ZMQ_POLLIN};
    uint64_t deadline = (uint64_t)(z->env->rep_seconds * 1e9);
    uint64_t t0 = bench_now_ns(), now = t0, in_flight = 0, received = 0;
    while ((now = bench_now_ns()) - t0 < deadline) {
        for (uint32_t i = 0; i < z->batch && in_flight < BENCH_ECHO_WINDOW; i++) {
            if (zmq_send(z->client, msg, z->payload, ZMQ_DONTWAIT) < 0)
                break;
            in_flight++;
        }
        uint32_t n = 0;
        while (zmq_recv(z->client, msg, z->payload, ZMQ_DONTWAIT) > 0)
            n++;
        if (n == 0 && in_flight >= BENCH_ECHO_WINDOW)
            zmq_poll(&in, 1, 100); /* ms: the loop re-reads the clock */
        in_flight -= n;
        received += n;
    }
    z->received = received;
    z->elapsed_ns = now - t0;
    return NULL;
}

static void *rtt_client(void *arg)
{
    zpipe *z = arg;
    uint8_t msg[BURST_BYTES];
    memset(msg, 0xab, z->payload);
    for (uint32_t i = 0; i < RTT_WARMUP + z->samples; i++) {
        uint64_t t0 = bench_now_ns();
        if (zmq_send(z->client, msg, z->payload, 0) < 0 ||
            zmq_recv(z->client, msg, z->payload, 0) <= 0) {
            snprintf(z->error, sizeof z->error, "round trip %u: %s", i, zmq_strerror(zmq_errno()));
            break;
        }
        if (i >= RTT_WARMUP)
            z->lat_ns[i - RTT_WARMUP] = bench_now_ns() - t0;
    }
    return NULL;
}

static int set_up(zpipe *z)
{
    int hwm = ZMQ_HWM, linger = 0;
    z->ctx = zmq_ctx_new();
    if (!z->ctx || zmq_ctx_set(z->ctx, ZMQ_IO_THREADS, 0) != 0)
        return -1;
    z->client = zmq_socket(z->ctx, ZMQ_PAIR);
    z->echo = zmq_socket(z->ctx, ZMQ_PAIR);
    if (!z->client || !z->echo)
        return -1;
    void *socks[2] = {z->client, z->echo};
    for (int i = 0; i < 2; i++)
        if (zmq_setsockopt(socks[i], ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
            zmq_setsockopt(socks[i], ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
            zmq_setsockopt(socks[i], ZMQ_LINGER, &linger, sizeof linger) != 0)
            return -1;
    if (zmq_bind(z->client, ENDPOINT) != 0 || zmq_connect(z->echo, ENDPOINT) != 0)
        return -1;
    return 0;
}

static void tear_down(zpipe *z)
{
    if (z->client)
        zmq_close(z->client);
    if (z->echo)
        zmq_close(z->echo);
    if (z->ctx)
        zmq_ctx_term(z->ctx);
}

/* Starts the echo thread and the client, waits for the client, sends the
 * stop frame, waits for the echo thread.  0 or -1 with z->error set. */
static int run_pipe(zpipe *z, void *(*client)(void *))
{
    if ((uint64_t)z->batch * z->payload > BURST_BYTES) {
        snprintf(z->error, sizeof z->error, "burst of %u x %u bytes is over %u", z->batch,
                 z->payload, BURST_BYTES);
        return -1;
    }
    if (set_up(z) != 0) {
        snprintf(z->error, sizeof z->error, "zmq set-up: %s", zmq_strerror(zmq_errno()));
        tear_down(z);
        return -1;
    }
    pthread_t echo, cl;
    int rc = bench_thread_start(&echo, z->env->cpu[1], echo_main, z);
    if (rc == 0) {
        rc = bench_thread_start(&cl, z->env->cpu[0], client, z);
        if (rc == 0)
            pthread_join(cl, NULL);
        zmq_send(z->client, "", 0, 0);
        pthread_join(echo, NULL);
    }
    if (rc)
        snprintf(z->error, sizeof z->error, "thread start: %s", strerror(-rc));
    tear_down(z);
    return z->error[0] ? -1 : 0;
}

static int run_echo(const bench_env *env, const bench_params *p, bench_result *out)
{
    zpipe z = {.payload = p->payload, .batch = p->batch, .env = env};
    if (run_pipe(&z, echo_client) != 0)
        return bench_fail(out, "%s", z.error);
    if (z.received == 0 || z.elapsed_ns == 0)
        return bench_fail(out, "no message came back");
    double msgs = (double)z.received * 1e9 / (double)z.elapsed_ns;
    bench_put(out, "msgs_per_s", "msg/s", msgs);
    bench_put(out, "gb_per_s", "GB/s", msgs * p->payload / 1e9);
    return 0;
}

static int run_rtt(const bench_env *env, const bench_params *p, bench_result *out)
{
    zpipe z = {.payload = p->payload, .batch = 1, .env = env, .samples = env->rtt_samples};
    z.lat_ns = calloc(z.samples, sizeof *z.lat_ns);
    if (!z.lat_ns)
        return bench_fail(out, "out of memory");
    if (run_pipe(&z, rtt_client) != 0) {
        free(z.lat_ns);
        return bench_fail(out, "%s", z.error);
    }
    bench_put_latencies(out, z.lat_ns, z.samples);
    return 0;
}

void bench_register_zmq(bench_suite *s, const bench_env *env)
{
    (void)env;
    bench_add(s, "p64", "zmq.echo.b32.p64", run_echo,
              &(bench_params){.payload = 64, .batch = 32});
    bench_add(s, "p64", "zmq.rtt.p64", run_rtt, &(bench_params){.payload = 64, .batch = 1});
}
