/*
 * base_nats.c — the bare NATS C client through JetStream: what
 * ringhost's remote queues are measured against, in the same run.
 *
 * Cases (group "remote", each repetition with a nats-server of its own,
 * base_nats.h):
 *   nats.remote.pipe.p64  a publisher thread (cpu[0], its own connection)
 *                         js_PublishAsync()s N 64-byte messages, each with a
 *                         Nats-Msg-Id, to a file-storage stream; a consumer
 *                         thread (cpu[1], another connection) fetches them
 *                         from a durable pull consumer in batches of
 *                         PIPE_BATCH and acks each (natsMsg_Ack).  Both run
 *                         at once, a pipeline: msgs_per_s = N / (first
 *                         publish .. last message fetched and acked).
 *                         Publish errors reported by the ack handler fail
 *                         the repetition.
 *   nats.remote.rtt.p64   request/response through JetStream: the requester
 *                         (cpu[0]) publishes one request to subject A (stream
 *                         REQ), the responder (cpu[1]) pulls it, acks it and
 *                         publishes the answer to subject B (stream REP), the
 *                         requester pulls and acks that: rtt_p50_ns,
 *                         rtt_p99_ns from its publish to its fetch returning.
 *
 * The client is used the way that makes it fastest here: asynchronous publish
 * with its in-flight limit raised to the pipeline's window, acks without
 * waiting for their replies, and natsOptions_SetSendAsap on every
 * connection.  Without SendAsap libnats leaves each write to its flusher
 * thread, which waits ~1 ms to batch: the round trip's p50 was 2.0 ms with
 * it and 0.35 ms without, and the pipeline was no faster (41-44 k msg/s
 * against 47-54 k msg/s; 2 busy cores, the same run).  A baseline is the best
 * the bare client does, so SendAsap it is (and the remote layer wants it).
 * libnats runs its own reader/flusher threads and nats-server its goroutines,
 * unpinned: the placement tag describes the two threads of ours only.
 */
#include "base_nats.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "bench_pvt.h"

#define PIPE_SUBJECT "rh.bench.pipe"
#define REQ_SUBJECT "rh.bench.req"
#define REP_SUBJECT "rh.bench.rep"
/* Messages per Fetch: modest, libnats 3.4.1 overflows its heap on some large
 * batch fetches (fixed upstream in 2024). */
#define PIPE_BATCH 128
/* Asynchronous publishes in flight (awaiting JetStream's ack), at most: the
 * pipeline's window, like BENCH_ECHO_WINDOW for the local pipelines. */
#define PIPE_MAX_PENDING 4096
/* How long one Fetch waits (ms) before the loop re-checks its deadline. */
#define FETCH_WAIT_MS 500
#define READY_S 30.0
#define STOP_S 10.0

int bench_nats_start(const bench_env *env, natsd *d, char *err, size_t len)
{
    char dir[NATSD_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/nats-XXXXXX", env->work_dir);
    if (!mkdtemp(dir)) {
        snprintf(err, len, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (natsd_init(d, dir, NULL) != 0 || natsd_start(d, READY_S) != 0) {
        snprintf(err, len, "%s (is nats-server installed? .ci/deps.sh installs it)", d->err);
        natsd_kill(d);
        natsd_remove_dir(dir);
        return -1;
    }
    return 0;
}

void bench_nats_stop(natsd *d)
{
    if (natsd_stop(d, STOP_S) < 0)
        fprintf(stderr, "ringhost-bench: %s\n", d->err);
    if (natsd_remove_dir(d->dir) != 0)
        fprintf(stderr, "ringhost-bench: cannot remove %s: %s\n", d->dir, strerror(errno));
}

/* "what: status text (last error)" into err. */
static int nats_err(char *err, size_t len, const char *what, natsStatus st)
{
    const char *last = nats_GetLastError(NULL);
    snprintf(err, len, "%s: %s%s%s", what, natsStatus_GetText(st), last && *last ? ": " : "",
             last ? last : "");
    return -1;
}

static int connect_to(const char *url, natsConnection **nc, char *err, size_t len)
{
    natsOptions *o = NULL;
    natsStatus st = natsOptions_Create(&o);
    if (st == NATS_OK)
        st = natsOptions_SetURL(o, url);
    if (st == NATS_OK)
        st = natsOptions_SetTimeout(o, 5000);
    if (st == NATS_OK)
        st = natsOptions_SetSendAsap(o, true); /* see the top of this file */
    if (st == NATS_OK)
        st = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return st == NATS_OK ? 0 : nats_err(err, len, url, st);
}

static int add_stream(jsCtx *js, const char *name, const char *subject, char *err, size_t len)
{
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = &subject;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_AddStream(&si, js, &cfg, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    return st == NATS_OK ? 0 : nats_err(err, len, "js_AddStream", st);
}

static int pull_sub(jsCtx *js, const char *subject, const char *durable, natsSubscription **sub,
                    char *err, size_t len)
{
    jsErrCode jerr = 0;
    natsStatus st = js_PullSubscribe(sub, js, subject, durable, NULL, NULL, &jerr);
    return st == NATS_OK ? 0 : nats_err(err, len, "js_PullSubscribe", st);
}

/* One client: a connection and its JetStream context. */
typedef struct client {
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;
} client;

static int client_open(client *c, const char *url, jsOptions *jo, char *err, size_t len)
{
    memset(c, 0, sizeof *c);
    if (connect_to(url, &c->nc, err, len) != 0)
        return -1;
    natsStatus st = natsConnection_JetStream(&c->js, c->nc, jo);
    return st == NATS_OK ? 0 : nats_err(err, len, "natsConnection_JetStream", st);
}

static void client_close(client *c)
{
    natsSubscription_Destroy(c->sub);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------ pipeline ---- */

typedef struct npipe {
    const bench_env *env;
    uint32_t n, payload;
    client pub, con;
    atomic_uint_fast64_t pub_errors;   /* from the ack handler (libnats' thread) */
    atomic_uint_fast64_t t_start_ns;   /* the publisher's first publish */
    atomic_int give_up;                /* set by whichever side failed, or by run_pipe */
    uint64_t t_end_ns;                 /* the consumer's last ack */
    uint32_t received;
    char pub_error[256], con_error[256];
} npipe;

static void pub_ack_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)pae;
    npipe *p = closure;
    atomic_fetch_add(&p->pub_errors, 1);
}

static void *pipe_publisher(void *arg)
{
    npipe *p = arg;
    uint8_t data[64];
    memset(data, 0xab, sizeof data);
    uint64_t deadline = bench_now_ns() + (uint64_t)(BENCH_NATS_DEADLINE_S * 1e9);
    atomic_store(&p->t_start_ns, bench_now_ns());
    for (uint32_t i = 0; i < p->n; i++) {
        char id[24];
        snprintf(id, sizeof id, "p%u", i);
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = id;
        natsStatus st;
        /* NATS_TIMEOUT: PIPE_MAX_PENDING in flight for StallWait; again. */
        while ((st = js_PublishAsync(p->pub.js, PIPE_SUBJECT, data, (int)p->payload, &po)) ==
                   NATS_TIMEOUT &&
               bench_now_ns() < deadline) {
        }
        if (st != NATS_OK) {
            nats_err(p->pub_error, sizeof p->pub_error, "js_PublishAsync", st);
            atomic_store(&p->give_up, 1);
            return NULL;
        }
    }
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = (int64_t)(BENCH_NATS_DEADLINE_S * 1000);
    natsStatus st = js_PublishAsyncComplete(p->pub.js, &wait);
    if (st != NATS_OK)
        nats_err(p->pub_error, sizeof p->pub_error, "js_PublishAsyncComplete", st);
    return NULL;
}

static void *pipe_consumer(void *arg)
{
    npipe *p = arg;
    uint64_t deadline = bench_now_ns() + (uint64_t)(BENCH_NATS_DEADLINE_S * 1e9);
    while (p->received < p->n && !atomic_load(&p->give_up)) {
        if (bench_now_ns() > deadline) {
            snprintf(p->con_error, sizeof p->con_error, "%u of %u messages within %.0f s",
                     p->received, p->n, BENCH_NATS_DEADLINE_S);
            return NULL;
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        int batch = p->n - p->received < PIPE_BATCH ? (int)(p->n - p->received) : PIPE_BATCH;
        natsStatus st = natsSubscription_Fetch(&list, p->con.sub, batch, FETCH_WAIT_MS, &jerr);
        if (st == NATS_TIMEOUT)
            continue;
        if (st != NATS_OK) {
            nats_err(p->con_error, sizeof p->con_error, "natsSubscription_Fetch", st);
            return NULL;
        }
        for (int i = 0; i < list.Count; i++) {
            if (natsMsg_GetDataLength(list.Msgs[i]) != (int)p->payload) {
                snprintf(p->con_error, sizeof p->con_error, "message %u: %d bytes, sent %u",
                         p->received, natsMsg_GetDataLength(list.Msgs[i]), p->payload);
                natsMsgList_Destroy(&list);
                return NULL;
            }
            st = natsMsg_Ack(list.Msgs[i], NULL);
            if (st != NATS_OK) {
                nats_err(p->con_error, sizeof p->con_error, "natsMsg_Ack", st);
                natsMsgList_Destroy(&list);
                return NULL;
            }
            p->received++;
        }
        natsMsgList_Destroy(&list);
    }
    p->t_end_ns = bench_now_ns();
    return NULL;
}

static int run_pipe(const bench_env *env, const bench_params *prm, bench_result *out)
{
    natsd d;
    char err[1400];
    if (bench_nats_start(env, &d, err, sizeof err) != 0)
        return bench_fail(out, "%s", err);
    npipe *p = calloc(1, sizeof *p);
    if (!p) {
        bench_nats_stop(&d);
        return bench_fail(out, "out of memory");
    }
    p->env = env;
    p->n = env->quick ? BENCH_NATS_PIPE_MSGS_QUICK : BENCH_NATS_PIPE_MSGS;
    p->payload = prm->payload;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = PIPE_MAX_PENDING;
    jo.PublishAsync.ErrHandler = pub_ack_error;
    jo.PublishAsync.ErrHandlerClosure = p;
    int rc = -1;
    if (client_open(&p->pub, d.url, &jo, err, sizeof err) == 0 &&
        client_open(&p->con, d.url, NULL, err, sizeof err) == 0 &&
        add_stream(p->pub.js, "PIPE", PIPE_SUBJECT, err, sizeof err) == 0 &&
        pull_sub(p->con.js, PIPE_SUBJECT, "bench", &p->con.sub, err, sizeof err) == 0) {
        pthread_t con, pub;
        int trc = bench_thread_start(&con, env->cpu[1], pipe_consumer, p);
        if (trc == 0) {
            trc = bench_thread_start(&pub, env->cpu[0], pipe_publisher, p);
            if (trc == 0)
                pthread_join(pub, NULL);
            else
                atomic_store(&p->give_up, 1); /* nothing will come: let the consumer end */
            pthread_join(con, NULL);
        }
        if (trc)
            snprintf(err, sizeof err, "thread start: %s", strerror(-trc));
        else if (p->pub_error[0])
            snprintf(err, sizeof err, "publisher: %s", p->pub_error);
        else if (p->con_error[0])
            snprintf(err, sizeof err, "consumer: %s", p->con_error);
        else if (atomic_load(&p->pub_errors))
            snprintf(err, sizeof err, "%llu publishes failed (JetStream said so in their acks)",
                     (unsigned long long)atomic_load(&p->pub_errors));
        else
            rc = 0;
    }
    uint64_t elapsed = p->t_end_ns - atomic_load(&p->t_start_ns);
    uint32_t n = p->n;
    client_close(&p->pub);
    client_close(&p->con);
    free(p);
    bench_nats_stop(&d);
    if (rc != 0)
        return bench_fail(out, "%s", err);
    double msgs = (double)n * 1e9 / (double)(elapsed ? elapsed : 1);
    bench_put(out, "msgs_per_s", "msg/s", msgs);
    return 0;
}

/* ----------------------------------------------------- round trip ---- */

typedef struct nrtt {
    uint32_t samples, payload;
    client req, rsp;
    uint64_t *lat_ns;
    char req_error[256], rsp_error[256];
} nrtt;

/* The first 4 bytes of a message: its round-trip number; STOP ends the
 * responder. */
#define RTT_STOP 0xffffffffu

static int publish_one(jsCtx *js, const char *subject, uint32_t seq, char tag, uint32_t payload,
                       char *err, size_t len)
{
    uint8_t data[64] = {0};
    memcpy(data, &seq, sizeof seq);
    char id[24];
    snprintf(id, sizeof id, "%c%u", tag, seq);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    natsStatus st = js_PublishAsync(js, subject, data, (int)payload, &po);
    return st == NATS_OK ? 0 : nats_err(err, len, "js_PublishAsync", st);
}

/* Fetch one message from sub (waiting up to the deadline), ack it, return
 * its number in *seq.  0, or -1 with err. */
static int fetch_one(natsSubscription *sub, uint64_t deadline, uint32_t *seq, char *err,
                     size_t len)
{
    for (;;) {
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus st = natsSubscription_Fetch(&list, sub, 1, FETCH_WAIT_MS, &jerr);
        if (st == NATS_TIMEOUT) {
            if (bench_now_ns() > deadline) {
                snprintf(err, len, "no message within %.0f s", BENCH_NATS_DEADLINE_S);
                return -1;
            }
            continue;
        }
        if (st != NATS_OK)
            return nats_err(err, len, "natsSubscription_Fetch", st);
        int rc = 0;
        if (list.Count != 1 || natsMsg_GetDataLength(list.Msgs[0]) < (int)sizeof *seq) {
            snprintf(err, len, "Fetch of 1 gave %d messages", list.Count);
            rc = -1;
        } else {
            memcpy(seq, natsMsg_GetData(list.Msgs[0]), sizeof *seq);
            st = natsMsg_Ack(list.Msgs[0], NULL);
            if (st != NATS_OK)
                rc = nats_err(err, len, "natsMsg_Ack", st);
        }
        natsMsgList_Destroy(&list);
        return rc;
    }
}

static void *rtt_responder(void *arg)
{
    nrtt *r = arg;
    uint64_t deadline = bench_now_ns() + (uint64_t)(BENCH_NATS_DEADLINE_S * 1e9);
    for (;;) {
        uint32_t seq;
        if (fetch_one(r->rsp.sub, deadline, &seq, r->rsp_error, sizeof r->rsp_error) != 0 ||
            seq == RTT_STOP)
            break;
        if (publish_one(r->rsp.js, REP_SUBJECT, seq, 'a', r->payload, r->rsp_error,
                        sizeof r->rsp_error) != 0)
            break;
    }
    return NULL;
}

static void *rtt_requester(void *arg)
{
    nrtt *r = arg;
    uint64_t deadline = bench_now_ns() + (uint64_t)(BENCH_NATS_DEADLINE_S * 1e9);
    for (uint32_t i = 0; i < BENCH_NATS_RTT_WARMUP + r->samples; i++) {
        uint64_t t0 = bench_now_ns();
        uint32_t seq;
        if (publish_one(r->req.js, REQ_SUBJECT, i, 'q', r->payload, r->req_error,
                        sizeof r->req_error) != 0 ||
            fetch_one(r->req.sub, deadline, &seq, r->req_error, sizeof r->req_error) != 0)
            break;
        if (seq != i) {
            snprintf(r->req_error, sizeof r->req_error, "round trip %u answered %u", i, seq);
            break;
        }
        if (i >= BENCH_NATS_RTT_WARMUP)
            r->lat_ns[i - BENCH_NATS_RTT_WARMUP] = bench_now_ns() - t0;
    }
    /* Whatever happened, release the responder. */
    char ignored[64];
    publish_one(r->req.js, REQ_SUBJECT, RTT_STOP, 'q', r->payload, ignored, sizeof ignored);
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = 10000;
    js_PublishAsyncComplete(r->req.js, &wait);
    return NULL;
}

static int run_rtt(const bench_env *env, const bench_params *prm, bench_result *out)
{
    natsd d;
    char err[1400];
    if (bench_nats_start(env, &d, err, sizeof err) != 0)
        return bench_fail(out, "%s", err);
    nrtt r = {.samples = env->quick ? BENCH_NATS_RTT_SAMPLES_QUICK : BENCH_NATS_RTT_SAMPLES,
              .payload = prm->payload};
    r.lat_ns = calloc(r.samples, sizeof *r.lat_ns);
    int rc = -1;
    if (!r.lat_ns)
        snprintf(err, sizeof err, "out of memory");
    else if (client_open(&r.req, d.url, NULL, err, sizeof err) == 0 &&
             client_open(&r.rsp, d.url, NULL, err, sizeof err) == 0 &&
             add_stream(r.req.js, "REQ", REQ_SUBJECT, err, sizeof err) == 0 &&
             add_stream(r.req.js, "REP", REP_SUBJECT, err, sizeof err) == 0 &&
             pull_sub(r.rsp.js, REQ_SUBJECT, "responder", &r.rsp.sub, err, sizeof err) == 0 &&
             pull_sub(r.req.js, REP_SUBJECT, "requester", &r.req.sub, err, sizeof err) == 0) {
        pthread_t rsp, req;
        int trc = bench_thread_start(&rsp, env->cpu[1], rtt_responder, &r);
        if (trc == 0) {
            trc = bench_thread_start(&req, env->cpu[0], rtt_requester, &r);
            if (trc == 0) {
                pthread_join(req, NULL);
            } else {
                char ignored[64];
                publish_one(r.req.js, REQ_SUBJECT, RTT_STOP, 'q', r.payload, ignored,
                            sizeof ignored);
            }
            pthread_join(rsp, NULL);
        }
        if (trc)
            snprintf(err, sizeof err, "thread start: %s", strerror(-trc));
        else if (r.req_error[0])
            snprintf(err, sizeof err, "requester: %s", r.req_error);
        else if (r.rsp_error[0])
            snprintf(err, sizeof err, "responder: %s", r.rsp_error);
        else
            rc = 0;
    }
    client_close(&r.req);
    client_close(&r.rsp);
    bench_nats_stop(&d);
    if (rc != 0) {
        free(r.lat_ns);
        return bench_fail(out, "%s", err);
    }
    bench_put_latencies(out, r.lat_ns, r.samples);
    return 0;
}

void bench_register_nats(bench_suite *s, const bench_env *env)
{
    (void)env;
    bench_add(s, "remote", "nats.remote.pipe.p64", run_pipe, &(bench_params){.payload = 64});
    bench_add(s, "remote", "nats.remote.rtt.p64", run_rtt, &(bench_params){.payload = 64});
}
