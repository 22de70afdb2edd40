/*
 * rh_remote.c — ringhost's remote queues through one local nats-server,
 * measured against the bare C client doing the same JetStream
 * work in the same run (base_nats.c, whose server setup it shares through
 * bench_nats_start()).
 *
 *   rh.remote.pipe.p64  host A exports queue "pipe" (subject rh.rbench.pipe),
 *                       host B imports it (kernels: none).  A sender thread
 *                       (cpu[0]) rh_send_bursts N 64-byte messages into A's
 *                       queue; a receiver thread (cpu[1]) rh_recv_bursts
 *                       them from B's: msgs_per_s = N / (first send .. last
 *                       receive), as the bare pipeline times its first
 *                       publish to its last fetch and ack.  Every message
 *                       must arrive exactly once.
 *   rh.remote.rtt.p64   a client host exports "req" and imports "rep"; a
 *                       kernel host imports "req", runs bench_echo_p64 and
 *                       exports "rep".  The requester (cpu[0]) rh_sends one
 *                       request and rh_recvs its answer: rtt_p50_ns,
 *                       rtt_p99_ns.  Two JetStream hops, as in the bare
 *                       case (request stream, answer stream).  Not a
 *                       target, the explanation of one: last_hop_p50_ns,
 *                       from the client host's import enqueueing the answer
 *                       (its envelope's enqueue_ns) to rh_recv returning it,
 *                       i.e. what the local queue and the requester's
 *                       wake-up add on top of JetStream.
 *
 * Both hosts are runtimes in this process (rh_runtime_launch of a manifest
 * written to the scratch folder), not `ringhost run` children, for three
 * reasons: (1) every piece of the remote path is the one `ringhost run`
 * runs — each runtime has its own link (its own NATS connection, with the
 * client's reader and flusher threads), its own export and import bridge
 * threads and its own queues — and the only thing shared is the address
 * space, which nothing on that path uses; (2) the bare client's publisher
 * and consumer are likewise two connections of one process, so the two
 * figures differ only by what ringhost adds; (3) a child process would add
 * process start, the CLI and an attach to its shared queues, none of which is
 * on the message path, but whose failures would have to be told apart from
 * the remote layer's.  The hosts' threads are not pinned (libnats' and
 * nats-server's are not either): the placement tag describes the sender and
 * receiver threads only, as for the bare cases.
 *
 * Each repetition starts its own nats-server (its folder under work_dir,
 * stopped by pid) and its own two hosts, and checks afterwards that both
 * hosts' accounting balances (rh_runtime_unbalanced): a repetition that
 * lost or repeated a message fails instead of producing a figure.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base_nats.h"
#include "rh_cases.h"
#include "ringhost/ringhost.h"

/* The message: its type's length field (4 bytes), then a sequence number. */
#define SEQ_OFFSET 4
#define BURST 32u
#define RECV_WAIT_MS 200
/* Slots of every queue: the bare pipeline keeps up to 4096 publishes in
 * flight; the exporting queue holds what its bridge has not yet had acked. */
#define QUEUE_CAPACITY 4096

/* One host: a runtime and the log it writes to. */
typedef struct rhost {
    rh_runtime *rt;
    FILE *log;
    char log_path[PATH_MAX];
} rhost;

/* A queue of the manifest: its name, and "export" or "import" of subject. */
typedef struct rqueue {
    const char *name, *dir, *subject;
} rqueue;

static json_t *manifest_json(const bench_env *env, const char *name, const char *url,
                             const rqueue *qs, size_t nq, int echo_kernel)
{
    char plugins[PATH_MAX];
    snprintf(plugins, sizeof plugins, "%s/bench_plugins", env->bench_dir);
    json_t *m = json_object();
    json_object_set_new(m, "ringhost", json_integer(1));
    json_object_set_new(m, "name", json_string(name));
    json_object_set_new(m, "plugins", json_pack("[s]", plugins));
    json_object_set_new(m, "links", json_pack("{s:{s:s, s:s}}", "hub", "nats", url, "stream",
                                              "RHBENCH"));
    json_object_set_new(m, "defaults",
                        json_pack("{s:{s:i, s:s, s:i, s:i}, s:i}", "queue", "capacity",
                                  (json_int_t)QUEUE_CAPACITY, "backpressure", "block",
                                  "block_timeout_ms", (json_int_t)(BENCH_NATS_DEADLINE_S * 1000),
                                  "dedup_window", (json_int_t)QUEUE_CAPACITY, "batch",
                                  (json_int_t)BURST));
    json_t *queues = json_object();
    for (size_t i = 0; i < nq; i++)
        json_object_set_new(queues, qs[i].name,
                            json_pack("{s:s, s:{s:s, s:s}}", "type", "bench.p64", qs[i].dir,
                                      "link", "hub", "subject", qs[i].subject));
    json_object_set_new(m, "queues", queues);
    json_t *kernels = json_array();
    if (echo_kernel)
        json_array_append_new(kernels,
                              json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "name", "echo", "plugin",
                                        "bench_echo_p64", "inputs", "in", "req", "outputs", "out",
                                        "rep"));
    json_object_set_new(m, "kernels", kernels);
    return m;
}

/* Write the manifest of host `role`, launch and activate it.  0, or -1
 * with the reason in err. */
static int host_start(const bench_env *env, const char *role, const char *url, const rqueue *qs,
                      size_t nq, int echo_kernel, rhost *h, char *err, size_t len)
{
    static _Atomic unsigned serial;
    memset(h, 0, sizeof *h);
    char name[64], path[PATH_MAX];
    snprintf(name, sizeof name, "rhbench-%d-r%u%s", (int)getpid(), atomic_fetch_add(&serial, 1),
             role);
    snprintf(path, sizeof path, "%s/%s.json", env->work_dir, name);
    snprintf(h->log_path, sizeof h->log_path, "%s/%s.log", env->work_dir, name);
    json_t *m = manifest_json(env, name, url, qs, nq, echo_kernel);
    int wrc = json_dump_file(m, path, JSON_INDENT(2));
    json_decref(m);
    if (wrc != 0) {
        snprintf(err, len, "cannot write %s", path);
        return -1;
    }
    h->log = fopen(h->log_path, "w+");
    if (!h->log) {
        snprintf(err, len, "cannot write %s", h->log_path);
        return -1;
    }
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.instance = name, .log = h->log);
    rh_error e = {0};
    if (rh_runtime_launch(path, &opts, &h->rt, &e) != 0) {
        snprintf(err, len, "launch %s: %s", path, e.msg);
        return -1;
    }
    if (rh_runtime_activate(h->rt, &e) != 0) {
        snprintf(err, len, "activate %s: %s", path, e.msg);
        return -1;
    }
    return 0;
}

/* The first line of the host's log holding UNBALANCED or UNCONFIRMED (the
 * log is in work_dir, gone when the bench exits: quote it), or "". */
static void unbalanced_line(rhost *h, char *out, size_t len)
{
    char line[512];
    out[0] = '\0';
    fflush(h->log);
    rewind(h->log);
    while (fgets(line, sizeof line, h->log))
        if (strstr(line, "UNBALANCED") || strstr(line, "UNCONFIRMED")) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, len, ": %s", line);
            return;
        }
}

/* Terminate (draining) and destroy.  Fails the repetition (*rc_io = -1,
 * the reason in err_io) when terminate failed or the host's accounting (its
 * queues', its bridges') does not balance; an earlier failure's reason is
 * kept: err_io is written only while *rc_io is 0. */
static void host_stop(rhost *h, const char *what, int *rc_io, char *err_io, size_t len_io)
{
    char err[512];
    size_t len = sizeof err;
    int rc = 0;
    if (h->rt) {
        rh_error e = {0};
        if (rh_runtime_state(h->rt) != RH_STATE_TERMINATED &&
            rh_runtime_terminate(h->rt, 10000, &e) != 0) {
            snprintf(err, len, "%s host: terminate: %s", what, e.msg);
            rc = -1;
        } else if (rh_runtime_unbalanced(h->rt) != 0) {
            char line[400];
            unbalanced_line(h, line, sizeof line);
            snprintf(err, len, "%s host: %d accounting line(s) do not balance%s", what,
                     rh_runtime_unbalanced(h->rt), line);
            rc = -1;
        }
        rh_runtime_destroy(h->rt);
    }
    if (h->log)
        fclose(h->log);
    memset(h, 0, sizeof *h);
    if (rc != 0 && *rc_io == 0) {
        snprintf(err_io, len_io, "%s", err);
        *rc_io = -1;
    }
}

static void fill(unsigned char *m, uint64_t seq)
{
    uint32_t used = 64 - SEQ_OFFSET;
    memcpy(m, &used, sizeof used);
    memcpy(m + SEQ_OFFSET, &seq, sizeof seq);
}

static uint64_t seq_of(const unsigned char *m)
{
    uint64_t seq;
    memcpy(&seq, m + SEQ_OFFSET, sizeof seq);
    return seq;
}

/* ------------------------------------------------------ pipeline ---- */

typedef struct rpipe {
    rh_queue *in, *out;
    uint32_t n, stride;
    atomic_int give_up;
    uint64_t t_start_ns, t_end_ns;
    char send_error[256], recv_error[256];
} rpipe;

static void *pipe_sender(void *arg)
{
    rpipe *p = arg;
    unsigned char buf[BURST * 64];
    p->t_start_ns = bench_now_ns();
    for (uint32_t sent = 0; sent < p->n && !atomic_load(&p->give_up);) {
        uint32_t k = p->n - sent < BURST ? p->n - sent : BURST;
        for (uint32_t i = 0; i < k; i++)
            fill(buf + (size_t)i * 64, sent + i);
        /* block policy: waits for cells while the export bridge awaits acks */
        int rc = rh_send_burst(p->in, NULL, buf, 64, 64, k, NULL);
        if (rc < 0) {
            snprintf(p->send_error, sizeof p->send_error, "rh_send_burst after %u: %s", sent,
                     rh_strerror(rc));
            atomic_store(&p->give_up, 1);
            return NULL;
        }
        sent += (uint32_t)rc;
    }
    return NULL;
}

static void *pipe_receiver(void *arg)
{
    rpipe *p = arg;
    unsigned char *seen = calloc(p->n, 1);
    unsigned char *buf = malloc((size_t)BURST * p->stride);
    if (!seen || !buf) {
        snprintf(p->recv_error, sizeof p->recv_error, "out of memory");
        goto out;
    }
    uint64_t deadline = bench_now_ns() + (uint64_t)(BENCH_NATS_DEADLINE_S * 1e9);
    uint32_t received = 0;
    while (received < p->n && !atomic_load(&p->give_up)) {
        int got = rh_recv_burst(p->out, NULL, buf, p->stride, BURST, RECV_WAIT_MS);
        if (got == RH_ETIMEDOUT || got == RH_EEMPTY) {
            if (bench_now_ns() > deadline) {
                snprintf(p->recv_error, sizeof p->recv_error, "%u of %u messages within %.0f s",
                         received, p->n, BENCH_NATS_DEADLINE_S);
                goto out;
            }
            continue;
        }
        if (got < 0) {
            snprintf(p->recv_error, sizeof p->recv_error, "rh_recv_burst: %s", rh_strerror(got));
            goto out;
        }
        for (int i = 0; i < got; i++) {
            uint64_t seq = seq_of(buf + (size_t)i * p->stride);
            if (seq >= p->n || seen[seq]) {
                snprintf(p->recv_error, sizeof p->recv_error, "message %llu %s",
                         (unsigned long long)seq, seq >= p->n ? "was never sent" : "arrived twice");
                goto out;
            }
            seen[seq] = 1;
        }
        received += (uint32_t)got;
    }
    p->t_end_ns = bench_now_ns();
out:
    if (p->recv_error[0])
        atomic_store(&p->give_up, 1);
    free(seen);
    free(buf);
    return NULL;
}

int rhb_remote_throughput(const bench_env *env, const bench_params *prm, bench_result *out)
{
    (void)prm;
    natsd d;
    char err[1400] = "";
    if (bench_nats_start(env, &d, err, sizeof err) != 0)
        return bench_fail(out, "%s", err);
    rhost a, b;
    const rqueue qa[] = {{"pipe", "export", "rh.rbench.pipe"}};
    const rqueue qb[] = {{"pipe", "import", "rh.rbench.pipe"}};
    rpipe p = {.n = env->quick ? BENCH_NATS_PIPE_MSGS_QUICK : BENCH_NATS_PIPE_MSGS};
    int rc = -1;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (host_start(env, "a", d.url, qa, 1, 0, &a, err, sizeof err) == 0 &&
        host_start(env, "b", d.url, qb, 1, 0, &b, err, sizeof err) == 0) {
        p.in = rh_runtime_queue(a.rt, "pipe");
        p.out = rh_runtime_queue(b.rt, "pipe");
        p.stride = p.out ? rh_queue_payload_size(p.out) : 0;
        pthread_t snd, rcv;
        int trc = !p.in || !p.out ? 1 : bench_thread_start(&rcv, env->cpu[1], pipe_receiver, &p);
        if (trc == 0) {
            trc = bench_thread_start(&snd, env->cpu[0], pipe_sender, &p);
            if (trc == 0)
                pthread_join(snd, NULL);
            else
                atomic_store(&p.give_up, 1);
            pthread_join(rcv, NULL);
        }
        if (trc == 1)
            snprintf(err, sizeof err, "queue pipe missing after launch");
        else if (trc)
            snprintf(err, sizeof err, "thread start: %s", strerror(-trc));
        else if (p.send_error[0])
            snprintf(err, sizeof err, "sender: %s", p.send_error);
        else if (p.recv_error[0])
            snprintf(err, sizeof err, "receiver: %s", p.recv_error);
        else
            rc = 0;
    }
    /* The receiving host first: its import bridge stops pulling, then the
     * exporting one drains (nothing is left in flight after a full run). */
    host_stop(&b, "importing", &rc, err, sizeof err);
    host_stop(&a, "exporting", &rc, err, sizeof err);
    bench_nats_stop(&d);
    if (rc != 0)
        return bench_fail(out, "%s", err);
    uint64_t elapsed = p.t_end_ns - p.t_start_ns;
    bench_put(out, "msgs_per_s", "msg/s", (double)p.n * 1e9 / (double)(elapsed ? elapsed : 1));
    return 0;
}

/* ----------------------------------------------------- round trip ---- */

typedef struct rrtt {
    rh_queue *req, *rep;
    uint32_t samples, stride;
    uint64_t *lat_ns;
    uint64_t *hop_ns; /* the last hop: answer enqueued by the import .. rh_recv returned */
    char error[256];
} rrtt;

static void *rtt_requester(void *arg)
{
    rrtt *r = arg;
    unsigned char msg[64] = {0};
    unsigned char *buf = malloc(r->stride);
    if (!buf) {
        snprintf(r->error, sizeof r->error, "out of memory");
        return NULL;
    }
    uint64_t deadline = bench_now_ns() + (uint64_t)(BENCH_NATS_DEADLINE_S * 1e9);
    for (uint32_t i = 0; i < BENCH_NATS_RTT_WARMUP + r->samples; i++) {
        fill(msg, i);
        uint64_t t0 = bench_now_ns();
        int rc = rh_send(r->req, NULL, msg, sizeof msg, NULL);
        if (rc < 0) {
            snprintf(r->error, sizeof r->error, "rh_send %u: %s", i, rh_strerror(rc));
            break;
        }
        rh_envelope env;
        while ((rc = rh_recv(r->rep, &env, buf, r->stride, RECV_WAIT_MS)) == RH_ETIMEDOUT ||
               rc == RH_EEMPTY) {
            if (bench_now_ns() > deadline)
                break;
        }
        uint64_t t1 = bench_now_ns();
        if (rc < 0) {
            snprintf(r->error, sizeof r->error, "round trip %u: %s", i, rh_strerror(rc));
            break;
        }
        if (seq_of(buf) != i) {
            snprintf(r->error, sizeof r->error, "round trip %u answered %llu", i,
                     (unsigned long long)seq_of(buf));
            break;
        }
        if (i >= BENCH_NATS_RTT_WARMUP) {
            r->lat_ns[i - BENCH_NATS_RTT_WARMUP] = t1 - t0;
            /* enqueue_ns is CLOCK_MONOTONIC, as bench_now_ns() */
            r->hop_ns[i - BENCH_NATS_RTT_WARMUP] = t1 > env.enqueue_ns ? t1 - env.enqueue_ns : 0;
        }
    }
    free(buf);
    return NULL;
}

int rhb_remote_rtt(const bench_env *env, const bench_params *prm, bench_result *out)
{
    (void)prm;
    natsd d;
    char err[1400] = "";
    if (bench_nats_start(env, &d, err, sizeof err) != 0)
        return bench_fail(out, "%s", err);
    rhost client, kernel;
    const rqueue qc[] = {{"req", "export", "rh.rbench.req"}, {"rep", "import", "rh.rbench.rep"}};
    const rqueue qk[] = {{"req", "import", "rh.rbench.req"}, {"rep", "export", "rh.rbench.rep"}};
    rrtt r = {.samples = env->quick ? BENCH_NATS_RTT_SAMPLES_QUICK : BENCH_NATS_RTT_SAMPLES};
    r.lat_ns = calloc(r.samples, sizeof *r.lat_ns);
    r.hop_ns = calloc(r.samples, sizeof *r.hop_ns);
    int rc = -1;
    memset(&client, 0, sizeof client);
    memset(&kernel, 0, sizeof kernel);
    if (!r.lat_ns || !r.hop_ns)
        snprintf(err, sizeof err, "out of memory");
    else if (host_start(env, "c", d.url, qc, 2, 0, &client, err, sizeof err) == 0 &&
             host_start(env, "k", d.url, qk, 2, 1, &kernel, err, sizeof err) == 0) {
        r.req = rh_runtime_queue(client.rt, "req");
        r.rep = rh_runtime_queue(client.rt, "rep");
        r.stride = r.rep ? rh_queue_payload_size(r.rep) : 0;
        pthread_t req;
        int trc = !r.req || !r.rep ? 1 : bench_thread_start(&req, env->cpu[0], rtt_requester, &r);
        if (trc == 0)
            pthread_join(req, NULL);
        if (trc == 1)
            snprintf(err, sizeof err, "queues req/rep missing after launch");
        else if (trc)
            snprintf(err, sizeof err, "thread start: %s", strerror(-trc));
        else if (r.error[0])
            snprintf(err, sizeof err, "requester: %s", r.error);
        else
            rc = 0;
    }
    host_stop(&kernel, "kernel", &rc, err, sizeof err);
    host_stop(&client, "client", &rc, err, sizeof err);
    bench_nats_stop(&d);
    if (rc != 0) {
        free(r.lat_ns);
        free(r.hop_ns);
        return bench_fail(out, "%s", err);
    }
    bench_put(out, "last_hop_p50_ns", "ns", (double)bench_quantile(r.hop_ns, r.samples, 0.5));
    free(r.hop_ns);
    bench_put_latencies(out, r.lat_ns, r.samples);
    return 0;
}
