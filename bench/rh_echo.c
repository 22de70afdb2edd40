/*
 * rh_echo.c — ringhost's echo pipeline, measured from a client's side:
 *
 *   client --rh_send_burst--> named queue --bridge--> bench_echo --bridge-->
 *   named queue --rh_recv_burst--> client
 *
 * or, for the ".loans" cases, the client writing loaned cells
 * (rh_send_reserve/commit) and reading answers where they lie
 * (rh_recv_peek/release).
 *
 * The client thread runs on cpu[0], the kernels (and their bridges) on
 * cpu[1], like the producer and consumer of the rte_ring baseline.  The
 * client keeps at most BENCH_ECHO_WINDOW messages in flight (the same
 * window as every baseline's echo pipeline), and checks that every answer
 * comes back in order, once: a benchmark that lost messages would be
 * measuring the wrong thing.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rh_cases.h"
#include "rh_pipeline.h"

/* Each message carries its type's length field (bytes used, 4 bytes) and
 * then a per-chain sequence number, so the client can check the answers. */
#define SEQ_OFFSET 4
#define ECHO_LOAN_MAX 256 /* messages per loan or peek: the largest batch */

typedef struct echo_client {
    const bench_env *env;
    rhb_pipe *pipe;
    uint32_t batch;
    uint32_t payload;
    int spin;              /* RTT: busy-poll instead of rh_recv's adaptive wait */
    int loans;             /* write and read the queues' cells in place (loans, peeks) */
    int unordered;         /* workers on threads of their own answer in any order: count
                            * and sum the sequence numbers instead of checking the order */
    uint64_t sum_sent, sum_got;
    uint64_t first_seq;    /* every chain's first sequence number */
    /* throughput results */
    uint64_t received;     /* in the measured window */
    double elapsed_s;
    /* latency results */
    uint64_t *lat;
    uint32_t n_lat;
    char error[256];
} echo_client;

static void fill_message(unsigned char *m, uint32_t payload, uint64_t seq)
{
    uint32_t used = payload - 4;
    memcpy(m, &used, 4);
    memcpy(m + SEQ_OFFSET, &seq, sizeof seq);
}

static uint64_t seq_of(const unsigned char *m)
{
    uint64_t seq;
    memcpy(&seq, m + SEQ_OFFSET, sizeof seq);
    return seq;
}

static void *aligned_buffer(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (p)
        memset(p, 0x5a, bytes);
    return p;
}

/* Take what is ready from chain c's output, checking order. */
static int take_answers(echo_client *cl, uint32_t c, unsigned char *rbuf, uint64_t *expect,
                        uint64_t *inflight, int timeout_ms)
{
    rhb_pipe *p = cl->pipe;
    rh_msg_view v[ECHO_LOAN_MAX];
    int got = cl->loans ? rh_recv_peek(p->out[c], cl->batch, timeout_ms, v)
                        : rh_recv_burst(p->out[c], NULL, rbuf, p->stride, cl->batch, timeout_ms);
    if (cl->loans && (got == RH_EEMPTY || got == RH_ETIMEDOUT))
        return 0;
    if (got < 0)
        return got;
    for (int i = 0; i < got; i++) {
        uint64_t seq = cl->loans ? seq_of(v[i].payload) : seq_of(rbuf + (size_t)i * p->stride);
        if (cl->unordered) {
            cl->sum_got += seq;
            expect[c]++;
            continue;
        }
        if (seq != expect[c]) {
            snprintf(cl->error, sizeof cl->error,
                     "chain %u: answer %llu arrived where %llu was due (lost, twice or out of order)",
                     c, (unsigned long long)seq, (unsigned long long)expect[c]);
            if (cl->loans)
                rh_recv_release(p->out[c]);
            return RH_EINVAL;
        }
        expect[c]++;
    }
    if (cl->loans)
        rh_recv_release(p->out[c]);
    inflight[c] -= (uint64_t)got;
    return got;
}

/* Up to n messages written straight into loaned cells (only their header:
 * length and sequence number, as iceoryx's client writes only its own):
 * how many were sent (0 when the queue had no room), or an RH_E code. */
static int send_loaned(echo_client *cl, rh_queue *q, uint32_t n, uint64_t seq)
{
    rh_loan loans[ECHO_LOAN_MAX];
    uint32_t lens[ECHO_LOAN_MAX];
    int k = rh_send_reserve(q, n < ECHO_LOAN_MAX ? n : ECHO_LOAN_MAX, loans);
    if (k == RH_EFULL || k == RH_ETIMEDOUT)
        return 0;
    if (k < 0)
        return k;
    for (int i = 0; i < k; i++) {
        fill_message(loans[i].payload, cl->payload, seq + (uint64_t)i);
        lens[i] = cl->payload;
    }
    return rh_send_commit(q, (uint32_t)k, lens, NULL);
}

static void *throughput_client(void *arg)
{
    echo_client *cl = arg;
    rhb_pipe *p = cl->pipe;
    uint32_t chains = p->chains, batch = cl->batch;
    uint64_t window = rhb_bytes_bound(BENCH_ECHO_WINDOW, cl->payload) / chains;
    if (window < batch)
        window = batch;
    unsigned char *sbuf = aligned_buffer((size_t)batch * cl->payload);
    unsigned char *rbuf = aligned_buffer((size_t)batch * p->stride);
    uint64_t *next = calloc(chains, sizeof *next), *expect = calloc(chains, sizeof *expect);
    uint64_t *inflight = calloc(chains, sizeof *inflight);
    if (!sbuf || !rbuf || !next || !expect || !inflight) {
        snprintf(cl->error, sizeof cl->error, "out of memory");
        goto out;
    }
    for (uint32_t c = 0; c < chains; c++)
        next[c] = expect[c] = cl->first_seq;
    /* A short warm-up (caches, the kernel thread leaving its park), then the
     * measured window; the clock is read every 64 rounds only. */
    uint64_t start = bench_now_ns();
    uint64_t measure_from = start + (uint64_t)(cl->env->rep_seconds * 0.2e9);
    uint64_t end = measure_from + (uint64_t)(cl->env->rep_seconds * 1e9);
    uint64_t t0 = 0, received = 0, at_t0 = 0;
    for (uint64_t round = 0;; round++) {
        uint32_t c = (uint32_t)(round % chains);
        if (inflight[c] + batch <= window) {
            int k = cl->loans ? send_loaned(cl, p->in[c], batch, next[c]) : -1;
            if (!cl->loans) {
                for (uint32_t i = 0; i < batch; i++)
                    fill_message(sbuf + (size_t)i * cl->payload, cl->payload, next[c] + i);
                k = rh_send_burst(p->in[c], NULL, sbuf, cl->payload, cl->payload, batch, NULL);
            }
            if (k < 0) {
                snprintf(cl->error, sizeof cl->error, "rh_send_burst: %s", rh_strerror(k));
                goto out;
            }
            for (int i = 0; cl->unordered && i < k; i++)
                cl->sum_sent += next[c] + (uint64_t)i;
            next[c] += (uint64_t)k;
            inflight[c] += (uint64_t)k;
        }
        int got = take_answers(cl, c, rbuf, expect, inflight, 0);
        if (got < 0)
            goto out;
        received += (uint64_t)got;
        if ((round & 63) == 0) {
            uint64_t now = bench_now_ns();
            if (!t0 && now >= measure_from) {
                t0 = now;
                at_t0 = received;
            } else if (t0 && now >= end) {
                cl->received = received - at_t0;
                cl->elapsed_s = (double)(now - t0) / 1e9;
                break;
            }
        }
    }
    /* Everything sent must come back: drain, with a generous deadline. */
    uint64_t drain_end = bench_now_ns() + 5000000000ull;
    for (uint32_t c = 0; c < chains; c++)
        while (inflight[c] && bench_now_ns() < drain_end)
            if (take_answers(cl, c, rbuf, expect, inflight, 100) == RH_EINVAL)
                goto out;
    for (uint32_t c = 0; c < chains; c++)
        if (inflight[c]) {
            snprintf(cl->error, sizeof cl->error, "chain %u: %llu answers never came back", c,
                     (unsigned long long)inflight[c]);
            break;
        }
    if (!cl->error[0] && cl->sum_got != cl->sum_sent)
        snprintf(cl->error, sizeof cl->error, "as many answers as messages, but not the same "
                 "ones (sequence sums %llu sent, %llu back): lost and twice",
                 (unsigned long long)cl->sum_sent, (unsigned long long)cl->sum_got);
out:
    free(sbuf);
    free(rbuf);
    free(next);
    free(expect);
    free(inflight);
    return NULL;
}

static void *rtt_client(void *arg)
{
    echo_client *cl = arg;
    rhb_pipe *p = cl->pipe;
    uint32_t warm = cl->env->rtt_samples / 10 + 100;
    unsigned char *sbuf = aligned_buffer(cl->payload);
    unsigned char *rbuf = aligned_buffer(p->stride);
    cl->lat = malloc(cl->env->rtt_samples * sizeof *cl->lat);
    if (!sbuf || !rbuf || !cl->lat) {
        snprintf(cl->error, sizeof cl->error, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < warm + cl->env->rtt_samples; i++) {
        fill_message(sbuf, cl->payload, i);
        uint64_t t0 = bench_now_ns();
        int rc = rh_send_burst(p->in[0], NULL, sbuf, cl->payload, cl->payload, 1, NULL);
        if (rc != 1) {
            snprintf(cl->error, sizeof cl->error, "send %u: %s", i, rh_strerror(rc < 0 ? rc : RH_EFULL));
            goto out;
        }
        /* spin: poll without waiting; adaptive: rh_recv's own wait (spin,
         * yield, then park on the queue's doorbell). */
        int got;
        do
            got = rh_recv_burst(p->out[0], NULL, rbuf, p->stride, 1, cl->spin ? 0 : 5000);
        while (got == 0);
        uint64_t t1 = bench_now_ns();
        if (got < 0 || seq_of(rbuf) != i) {
            snprintf(cl->error, sizeof cl->error, "round trip %u: %s", i,
                     got < 0 ? rh_strerror(got) : "wrong answer");
            goto out;
        }
        if (i >= warm)
            cl->lat[cl->n_lat++] = t1 - t0;
    }
out:
    free(sbuf);
    free(rbuf);
    return NULL;
}

static int run_client(const bench_env *env, echo_client *cl, void *(*fn)(void *),
                      bench_result *out)
{
    pthread_t t;
    if (bench_thread_start(&t, env->cpu[0], fn, cl) != 0)
        return bench_fail(out, "cannot start the client thread");
    pthread_join(t, NULL);
    if (cl->error[0])
        return bench_fail(out, "%s", cl->error);
    return 0;
}

int rhb_echo_throughput(const bench_env *env, const bench_params *prm, bench_result *out)
{
    rhb_spec s = rhb_spec_from(prm);
    s.batch = prm->batch ? prm->batch : 32;
    rhb_pipe p;
    if (rhb_launch(env, &s, &p, out) != 0)
        return -1;
    echo_client cl = {.env = env, .pipe = &p, .batch = s.batch, .payload = s.payload,
                      .loans = prm->loans, .unordered = s.cores && s.workers > 1};
    int rc = run_client(env, &cl, throughput_client, out);
    if (rhb_close(&p) != 0 && rc == 0)
        rc = bench_fail(out, "terminate reported a problem");
    if (rc != 0)
        return rc;
    double rate = (double)cl.received / cl.elapsed_s;
    bench_put(out, "msgs_per_s", "msg/s", rate);
    bench_put(out, "gb_per_s", "GB/s", rate * s.payload / 1e9);
    if (s.cores) /* the client's cpu and the kernels' */
        bench_put(out, "cpus", "cpus", 1 + rhb_kernel_cpus(env, &s));
    return 0;
}

int rhb_echo_rtt(const bench_env *env, const bench_params *prm, bench_result *out)
{
    rhb_spec s = rhb_spec_from(prm);
    rhb_pipe p;
    if (rhb_launch(env, &s, &p, out) != 0)
        return -1;
    echo_client cl = {.env = env, .pipe = &p, .batch = 1, .payload = s.payload,
                      .spin = prm->wait_spin};
    int rc = run_client(env, &cl, rtt_client, out);
    if (rhb_close(&p) != 0 && rc == 0)
        rc = bench_fail(out, "terminate reported a problem");
    if (rc != 0) {
        free(cl.lat);
        return rc;
    }
    bench_put_latencies(out, cl.lat, cl.n_lat);
    return 0;
}

int rhb_kernels(const bench_env *env, const bench_params *prm, bench_result *out)
{
    rhb_spec s = rhb_spec_from(prm);
    s.spread = 1;
    s.capacity = 256;
    uint32_t before = rhb_thread_count();
    rhb_pipe p;
    if (rhb_launch(env, &s, &p, out) != 0)
        return -1;
    uint32_t threads = rhb_thread_count() - before;

    /* Every kernel must answer: one message to each, then collect. */
    unsigned char msg[64 * 1024];
    unsigned char *rbuf = aligned_buffer(p.stride);
    uint32_t answered = 0;
    for (uint32_t c = 0; c < p.chains; c++) {
        fill_message(msg, s.payload, 0);
        rh_send_burst(p.in[c], NULL, msg, s.payload, s.payload, 1, NULL);
    }
    for (uint32_t c = 0; rbuf && c < p.chains; c++)
        if (rh_recv_burst(p.out[c], NULL, rbuf, p.stride, 1, 2000) == 1 && seq_of(rbuf) == 0)
            answered++;
    free(rbuf);

    /* Then traffic to all of them at once, round robin, sequence 1 on. */
    echo_client cl = {.env = env, .pipe = &p, .batch = 32, .payload = s.payload,
                      .first_seq = 1};
    int rc = run_client(env, &cl, throughput_client, out);
    double launch_ms = p.launch_ms;
    uint64_t t0 = bench_now_ns();
    if (rhb_close(&p) != 0 && rc == 0)
        rc = bench_fail(out, "terminate reported a problem");
    double terminate_ms = (double)(bench_now_ns() - t0) / 1e6;
    if (rc != 0)
        return rc;
    bench_put(out, "launch_ms", "ms", launch_ms);
    bench_put(out, "threads", "threads", threads);
    bench_put(out, "answered_pct", "%", 100.0 * answered / s.chains);
    bench_put(out, "msgs_per_s", "msg/s", (double)cl.received / cl.elapsed_s);
    bench_put(out, "terminate_ms", "ms", terminate_ms);
    return 0;
}
