/*
 * rh_xproc.c — ringhost across processes: the host (this process) runs
 * bench_pong on cpu[1], and a client in ANOTHER process (forked, pinned to
 * cpu[0]) attaches to the host's shared queues by instance and name
 * (rh_queue_attach), as `ringhost send/recv` and any C client would:
 *
 *   client process --send--> c0.q0 --bridge--> bench_pong --bridge--> c0.q1
 *                  <--recv--                                           |
 *
 * Cases (group xproc, beside iceoryx's):
 *   rh.xproc.rtt.inline.<spin|adaptive>.p{64,1024,65536,1048576}  round trip
 *   rh.xproc.echo.inline.adaptive.b32.p{64,65536}                 throughput
 *
 * The client forks before the host is launched (the benchmark runs no
 * other thread then, see xproc.h) and waits on a pipe for the go.  Its two
 * calls are one function each, client_send and client_recv: the loan and
 * peek calls (rh_send_reserve/commit, rh_recv_peek/release), so the client
 * writes and reads the shared cells in place, as iceoryx's client does.  Like iceoryx's client it writes the
 * header (length, sequence number) of each message and checks the sequence
 * of each answer; the pong kernel answers with the same header in a
 * reserved output slot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rh_cases.h"
#include "rh_pipeline.h"
#include "xproc.h"

#define SEQ_OFFSET 4        /* after the type's 4-byte length field */
#define GO_MS 30000         /* the client waits this long for the host to launch */
#define CLIENT_MS 120000    /* the longest a client may run before it is killed */
#define RTT_WARMUP_MIN 100u
#define XPROC_BATCH_MAX 256u /* messages per loan or peek: more than any case's burst */

typedef enum xmode { X_RTT, X_ECHO } xmode;

/* Shared between the host process and the client (bench_shared_alloc). */
typedef struct xjob {
    xmode mode;
    uint32_t payload, batch, samples;
    int spin;                /* RTT: poll with timeout 0 instead of rh_recv's wait */
    double rep_seconds;
    char instance[64];       /* written before the go */
    uint64_t received;       /* echo: answers in the measured window */
    double elapsed_s;
    uint32_t n_lat;
    char error[256];
    uint64_t lat[];
} xjob;

/* The client's side of the queues. */
typedef struct xclient {
    xjob *j;
    rh_queue *in, *out;
    uint32_t stride;         /* receive buffer bytes per message */
    unsigned char *sbuf, *rbuf;
} xclient;

/* Sends n messages numbered seq, seq+1, ...: the client's one send call.
 * Returns how many were enqueued, or a negative RH_E code. */
static int client_send(xclient *c, uint32_t n, uint64_t seq)
{
    /* Zero copy: the header is written straight into loaned
     * cells of the shared queue, nothing else of the message is touched. */
    uint32_t payload = c->j->payload, used = payload - 4;
    rh_loan loans[XPROC_BATCH_MAX];
    if (n > XPROC_BATCH_MAX)
        n = XPROC_BATCH_MAX;
    int k = rh_send_reserve(c->in, n, loans);
    if (k <= 0)
        return k == RH_EFULL || k == RH_ETIMEDOUT ? 0 : k;
    for (int i = 0; i < k; i++) {
        unsigned char *m = loans[i].payload;
        uint64_t s = seq + (uint64_t)i;
        memcpy(m, &used, 4);
        memcpy(m + SEQ_OFFSET, &s, sizeof s);
    }
    uint32_t lens[XPROC_BATCH_MAX];
    for (int i = 0; i < k; i++)
        lens[i] = payload;
    return rh_send_commit(c->in, (uint32_t)k, lens, NULL);
}

/* Takes up to max answers, each of which must be *expect (then advanced):
 * the client's one receive call, reading the answers where they lie
 * (rh_recv_peek) and giving the cells back at once.  timeout_ms as
 * rh_recv_burst's.  Returns how many, or a negative RH_E code (RH_EINVAL:
 * an answer out of order). */
static int client_recv(xclient *c, uint32_t max, uint64_t *expect, int timeout_ms)
{
    rh_msg_view v[XPROC_BATCH_MAX];
    if (max > XPROC_BATCH_MAX)
        max = XPROC_BATCH_MAX;
    int got = rh_recv_peek(c->out, max, timeout_ms, v);
    if (got == RH_EEMPTY || got == RH_ETIMEDOUT)
        return 0;
    if (got < 0)
        return got;
    int rc = got;
    for (int i = 0; i < got; i++) {
        uint64_t seq;
        memcpy(&seq, (const unsigned char *)v[i].payload + SEQ_OFFSET, sizeof seq);
        if (seq != *expect) {
            snprintf(c->j->error, sizeof c->j->error,
                     "answer %llu arrived where %llu was due (lost, twice or out of order)",
                     (unsigned long long)seq, (unsigned long long)*expect);
            rc = RH_EINVAL;
            break;
        }
        (*expect)++;
    }
    rh_recv_release(c->out);
    return rc;
}

static int fail_with(xjob *j, const char *what, int rc)
{
    if (!j->error[0])
        snprintf(j->error, sizeof j->error, "%s: %s", what, rh_strerror(rc));
    return 1;
}

static int run_rtt_client(xclient *c)
{
    xjob *j = c->j;
    uint32_t warm = j->samples / 10 + RTT_WARMUP_MIN;
    for (uint32_t i = 0; i < warm + j->samples; i++) {
        uint64_t expect = i, t0 = bench_now_ns();
        int rc = client_send(c, 1, i);
        if (rc != 1)
            return fail_with(j, "send", rc < 0 ? rc : RH_EFULL);
        do
            rc = client_recv(c, 1, &expect, j->spin ? 0 : 5000);
        while (rc == 0 || (j->spin && rc == RH_EEMPTY));
        uint64_t t1 = bench_now_ns();
        if (rc < 0)
            return fail_with(j, "recv", rc);
        if (i >= warm)
            j->lat[j->n_lat++] = t1 - t0;
    }
    return 0;
}

static int run_echo_client(xclient *c)
{
    xjob *j = c->j;
    uint32_t batch = j->batch;
    uint64_t window = rhb_bytes_bound(BENCH_ECHO_WINDOW, j->payload);
    if (window < batch)
        window = batch;
    uint64_t next = 0, expect = 0;
    uint64_t start = bench_now_ns();
    uint64_t measure_from = start + (uint64_t)(j->rep_seconds * 0.2e9);
    uint64_t end = measure_from + (uint64_t)(j->rep_seconds * 1e9);
    uint64_t t0 = 0, at_t0 = 0;
    for (uint64_t round = 0;; round++) {
        if (next - expect + batch <= window) {
            int k = client_send(c, batch, next);
            if (k < 0)
                return fail_with(j, "send", k);
            next += (uint64_t)k;
        }
        int got = client_recv(c, batch, &expect, 0);
        if (got < 0 && got != RH_EEMPTY)
            return fail_with(j, "recv", got);
        if ((round & 63) == 0) {
            uint64_t now = bench_now_ns();
            if (!t0 && now >= measure_from) {
                t0 = now;
                at_t0 = expect;
            } else if (t0 && now >= end) {
                j->received = expect - at_t0;
                j->elapsed_s = (double)(now - t0) / 1e9;
                break;
            }
        }
    }
    /* Everything sent must come back. */
    uint64_t drain_end = bench_now_ns() + 5000000000ull;
    while (expect < next && bench_now_ns() < drain_end) {
        int got = client_recv(c, batch, &expect, 100);
        if (got < 0 && got != RH_ETIMEDOUT && got != RH_EEMPTY)
            return fail_with(j, "recv", got);
    }
    if (expect < next) {
        snprintf(j->error, sizeof j->error, "%llu answers never came back",
                 (unsigned long long)(next - expect));
        return 1;
    }
    return 0;
}

typedef struct xchild {
    xjob *j;
    int go_fd;               /* read end: one byte when the host is up, EOF when not */
} xchild;

static int client_main(void *arg)
{
    xchild *x = arg;
    xjob *j = x->j;
    struct pollfd pfd = {.fd = x->go_fd, .events = POLLIN};
    char go;
    if (poll(&pfd, 1, GO_MS) != 1 || read(x->go_fd, &go, 1) != 1)
        return 2; /* the host did not come up: the parent says why */
    xclient c = {.j = j};
    rh_error err = {0};
    int rc = rh_queue_attach(j->instance, "c0.q0", &c.in, &err);
    if (rc == 0)
        rc = rh_queue_attach(j->instance, "c0.q1", &c.out, &err);
    if (rc != 0) {
        snprintf(j->error, sizeof j->error, "rh_queue_attach(%s): %s", j->instance, err.msg);
        rc = 1;
    } else {
        c.stride = rh_queue_payload_size(c.out);
        uint32_t n = j->mode == X_ECHO ? j->batch : 1;
        c.sbuf = aligned_alloc(64, ((size_t)n * j->payload + 63) & ~(size_t)63);
        c.rbuf = aligned_alloc(64, ((size_t)n * c.stride + 63) & ~(size_t)63);
        if (!c.sbuf || !c.rbuf) {
            snprintf(j->error, sizeof j->error, "out of memory");
            rc = 1;
        } else {
            memset(c.sbuf, 0x5a, (size_t)n * j->payload);
            rc = j->mode == X_RTT ? run_rtt_client(&c) : run_echo_client(&c);
        }
    }
    free(c.sbuf);
    free(c.rbuf);
    if (c.in)
        rh_queue_close(c.in);
    if (c.out)
        rh_queue_close(c.out);
    return rc;
}

static int run_xproc(const bench_env *env, const bench_params *prm, bench_result *out,
                     xmode mode)
{
    uint32_t samples = mode == X_RTT ? bench_rtt_samples_for(env, prm->payload) : 0;
    size_t bytes = sizeof(xjob) + (size_t)samples * sizeof(uint64_t);
    xjob *j = bench_shared_alloc(bytes);
    if (!j)
        return bench_fail(out, "cannot map %zu bytes of shared memory", bytes);
    j->mode = mode;
    j->payload = prm->payload;
    j->batch = prm->batch ? prm->batch : 32;
    j->samples = samples;
    j->spin = prm->wait_spin;
    j->rep_seconds = env->rep_seconds;

    int go[2];
    if (pipe(go) != 0) {
        bench_shared_free(j, bytes);
        return bench_fail(out, "pipe: %s", strerror(errno));
    }
    xchild x = {.j = j, .go_fd = go[0]};
    pid_t client;
    int rc = bench_proc_start(&client, env->cpu[0], client_main, &x);
    close(go[0]);
    if (rc != 0) {
        close(go[1]);
        bench_shared_free(j, bytes);
        return bench_fail(out, "fork: %s", strerror(-rc));
    }

    rhb_spec s = rhb_spec_from(prm);
    s.pong = 1;
    s.batch = j->batch;
    if (mode == X_RTT && s.capacity > 16)
        s.capacity = 16; /* one message in flight: 1 MiB x 16 slots is plenty */
    rhb_pipe p;
    if (rhb_launch(env, &s, &p, out) != 0) {
        close(go[1]); /* EOF: the client gives up */
        bench_proc_wait(client, GO_MS);
        bench_shared_free(j, bytes);
        return -1;
    }
    snprintf(j->instance, sizeof j->instance, "%s", p.instance);
    rc = write(go[1], "g", 1) == 1 ? 0 : -1;
    close(go[1]);
    int crc = bench_proc_wait(client, CLIENT_MS);
    if (rhb_close(&p) != 0)
        rc = bench_fail(out, "terminate reported a problem");
    if (crc != 0)
        rc = bench_fail(out, "client process %s: %s",
                        crc == -ETIMEDOUT ? "timed out and was killed" : "failed",
                        j->error[0] ? j->error : "(no message)");
    else if (rc != 0)
        rc = bench_fail(out, "cannot tell the client to start");
    else if (mode == X_RTT) {
        uint64_t *lat = malloc((size_t)j->n_lat * sizeof *lat);
        if (!lat || !j->n_lat) {
            free(lat);
            rc = bench_fail(out, "no round trip measured");
        } else {
            memcpy(lat, j->lat, (size_t)j->n_lat * sizeof *lat);
            bench_put_latencies(out, lat, j->n_lat);
        }
    } else if (j->elapsed_s <= 0) {
        rc = bench_fail(out, "no answer in the measured window");
    } else {
        double rate = (double)j->received / j->elapsed_s;
        bench_put(out, "msgs_per_s", "msg/s", rate);
        bench_put(out, "gb_per_s", "GB/s", rate * j->payload / 1e9);
    }
    bench_shared_free(j, bytes);
    return rc;
}

int rhb_xproc_rtt(const bench_env *env, const bench_params *p, bench_result *out)
{
    return run_xproc(env, p, out, X_RTT);
}

int rhb_xproc_echo(const bench_env *env, const bench_params *p, bench_result *out)
{
    return run_xproc(env, p, out, X_ECHO);
}
