/*
 * import.c — the import bridge: a thread rh-import-Q that pulls from a
 * DURABLE JetStream consumer on the queue's subject into the local queue.
 * Every host importing the subject binds the same durable (named by
 * "durable", else "rh_" + the subject with dots as underscores), so they
 * are competing consumers: JetStream hands each message to one of them.
 *
 * Backpressure: the pulls outstanding (at most two, each of at most
 * RH_IMPORT_BATCH) never ask for more than the queue's free cells, so what
 * is fetched fits.  What came together is enqueued together (one
 * rh_send_burst: one doorbell for the batch).  A message is acked to
 * JetStream only after the local queue took it; one the queue refused
 * (another producer filled it meanwhile) is nak'd and comes again.
 *
 * Why not natsSubscription_Fetch: libnats 3.4.1's fetch writes past the
 * list it allocated for the batch when messages of an earlier, timed-out
 * request arrive with a later one (ASan caught our read of list.Msgs[64]
 * of a 64-slot list; the fix upstream is from 2024), and its timeouts are
 * not honoured.  So the bridge pulls itself, as the JetStream protocol
 * says: a request {"batch": N, "expires": ns} to
 * $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable> with a reply inbox of its
 * own, read with natsSubscription_NextMsg under its own deadline; a
 * status message (404 no messages, 408 expired, 409) ends a request; a
 * late message of an earlier request is an ordinary delivery.  Acks are
 * the protocol's too: "+ACK", "-NAK", "+TERM" published to the message's
 * reply subject, whose tokens also give the delivery count and the
 * consumer's pending count.
 *
 * Repeats: the import remembers the ids it enqueued (an rh_dedup window
 * of max(dedup_window, 4 x capacity) ids, seeded from the queue's cells at
 * start) and drops, acks and counts a delivery whose id is among them: a
 * redelivery (its ack was lost: a host killed between enqueue and ack, a
 * server restart), or a message JetStream stored twice (a publish whose
 * ack was lost across a server restart is stored again under a new
 * sequence, outside the duplicates window's reach after the restart).  An
 * id is recorded only once the queue took it, so a nak'd one still comes in.
 * A redelivery (NumDelivered > 1) is also marked RH_ENV_REDELIVERED, so a
 * kernel's answers to it are checked against its output queue; they get
 * the same ids as the first time, which the export's Nats-Msg-Id drops at
 * JetStream.  What the window does not cover (a repeat older than its
 * ids) reaches the queue (docs/SCALE-OUT.md says so).
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/dedup.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"
#include "remote/remote_pvt.h"
#include "remote/wire.h"

#define RH_IMPORT_BATCH 64
#define RH_IMPORT_FETCH_MS 100
#define RH_IMPORT_STAGE_BYTES (256u * 1024u)
static void nap(uint64_t ns)
{
    struct timespec ts = rh_timespec_of_ns(ns);
    nanosleep(&ts, NULL);
}

/*
 * A JetStream delivery's reply subject: $JS.ACK.<stream>.<consumer>.
 * <delivered>.<stream seq>.<consumer seq>.<time>.<pending> (9 tokens), or
 * with <domain>.<account hash> after ACK and a token more at the end (12).
 * 0 with the delivery count and pending, or -1 (not a delivery).
 */
static int ack_tokens(const char *reply, uint64_t *delivered, uint64_t *pending)
{
    if (!reply || strncmp(reply, "$JS.ACK.", 8) != 0)
        return -1;
    const char *tok[16];
    int n = 0;
    for (const char *p = reply; p && n < 16; p = strchr(p, '.'), p = p ? p + 1 : NULL)
        tok[n++] = p;
    int d = n == 9 ? 4 : n >= 11 ? 6 : -1;
    if (d < 0)
        return -1;
    *delivered = strtoull(tok[d], NULL, 10);
    *pending = strtoull(tok[d + 4], NULL, 10);
    return 0;
}

/* A batch of deliveries decoded for the queue: what rh_send_burst takes. */
typedef struct rh_import_fetched {
    natsMsg *msg[RH_IMPORT_BATCH];
    rh_envelope env[RH_IMPORT_BATCH];
    uint8_t *payloads;          /* max x the queue's payload size */
    uint32_t n, max;            /* staged; at most (RH_IMPORT_STAGE_BYTES of payloads) */
} fetched;

static void ack(rh_import *m, natsMsg *msg, const char *what)
{
    natsConnection_PublishString(m->link->nc, natsMsg_GetReply(msg), what);
}

/* One fetched message checked and staged into f (or dead-lettered and
 * terminated, or dropped and acked as a repeat).  Not yet enqueued. */
static void stage(rh_import *m, fetched *f, natsMsg *msg)
{
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    size_t n = (size_t)natsMsg_GetDataLength(msg);
    rh_envelope env;
    uint64_t fp = 0;
    const uint8_t *payload = NULL;
    const char *why = NULL;
    uint64_t delivered = 1, pending = 0;
    if (ack_tokens(natsMsg_GetReply(msg), &delivered, &pending) == 0)
        atomic_store_explicit(&m->lag, pending, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->fetched, 1, memory_order_relaxed);
    if (rh__wire_decode(data, n, &env, &fp, &payload, &why) == 0 &&
        fp != rh_queue_fingerprint(m->queue))
        why = "its message type (fingerprint) differs from the importing queue's";
    if (!why && env.payload_len > rh_queue_payload_size(m->queue))
        why = "its payload is larger than the importing queue's slot";
    if (why) {
        /* not ours to read: kept as a dead letter with what fits of it */
        char reason[240];
        snprintf(reason, sizeof reason, "import from %s (link %s): %s",
                 m->decl->import_from.subject, m->link->decl->name, why);
        rh_envelope denv = {0};
        denv.id = rh_id_new();
        rh__dlq_put(m->dlq, m->queue, "import", rh_queue_type(m->queue), RH_DLQ_INVALID, &denv,
                    NULL, reason, m->rt->log);
        atomic_fetch_add_explicit(&m->dead_lettered, 1, memory_order_relaxed);
        ack(m, msg, "+TERM");
        return;
    }
    if (delivered > 1) {
        atomic_fetch_add_explicit(&m->redeliveries, 1, memory_order_relaxed);
        env.flags |= RH_ENV_REDELIVERED;
    }
    /* Every delivery, not only those JetStream counts as redelivered: a
     * publish whose ack was lost across a server restart can be stored
     * twice (two stream sequences, each delivered once).  The ids staged
     * in this batch are not in `seen` yet (an id is recorded only once the
     * queue took it): a copy within the batch is looked for there. */
    int repeat = rh__dedup_seen(&m->seen, env.id);
    for (uint32_t i = 0; !repeat && i < f->n; i++)
        repeat = rh_id_eq(f->env[i].id, env.id);
    if (repeat) {
        atomic_fetch_add_explicit(&m->repeats, 1, memory_order_relaxed);
        ack(m, msg, "+ACK");
        return;
    }
    uint32_t psize = rh_queue_payload_size(m->queue);
    f->env[f->n] = env;
    memcpy(f->payloads + (size_t)f->n * psize, payload, env.payload_len);
    f->msg[f->n++] = msg;
}

/* Enqueue what f staged, runs of one payload length per rh_send_burst (one
 * claim and one doorbell each, so the queue's consumer is woken once per
 * run, not per message), then ack each message the queue took and nak
 * the rest (the first refusal ends the batch: what follows comes again). */
static void enqueue_staged(rh_import *m, fetched *f)
{
    uint32_t psize = rh_queue_payload_size(m->queue);
    uint32_t i = 0;
    while (i < f->n) {
        uint32_t len = f->env[i].payload_len, j = i + 1;
        while (j < f->n && f->env[j].payload_len == len)
            j++;
        int rc = rh_send_burst(m->queue, &f->env[i], f->payloads + (size_t)i * psize, psize, len,
                               j - i, NULL);
        uint32_t took = rc > 0 ? (uint32_t)rc : 0;
        for (uint32_t t = i; t < i + took; t++) {
            rh__dedup_seen_or_add(&m->seen, f->env[t].id);
            ack(m, f->msg[t], "+ACK");
        }
        atomic_fetch_add_explicit(&m->enqueued, took, memory_order_relaxed);
        i += took;
        if (i < j)
            break;
    }
    atomic_fetch_add_explicit(&m->refused, f->n - i, memory_order_relaxed);
    for (; i < f->n; i++)
        ack(m, f->msg[i], "-NAK");
}

/*
 * The pull requests this import has outstanding, oldest first: JetStream
 * serves a consumer's waiting requests in order, so a delivery counts
 * against the oldest, and a status message (404, 408 expired, 409) ends
 * it.  A second request is sent once the first has half a batch or less
 * left, so the server has the next request before the first runs out
 * and the pipe has no gap of a request's round trip per batch.  Together
 * they never ask for more than the queue's free cells, so what comes
 * fits (backpressure).  A request whose status never came (the
 * connection dropped) is forgotten at its own deadline.
 */
#define RH_IMPORT_REQUESTS 2
typedef struct pulls {
    struct {
        uint32_t left;
        uint64_t deadline_ns;
    } req[RH_IMPORT_REQUESTS];
    uint32_t n;
} pulls;

static void pulls_pop(pulls *p)
{
    for (uint32_t i = 1; i < p->n; i++)
        p->req[i - 1] = p->req[i];
    if (p->n)
        p->n--;
}

static uint32_t pulls_outstanding(const pulls *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->n; i++)
        n += p->req[i].left;
    return n;
}

/* Send one more pull request when the queue's free cells and the requests
 * outstanding allow.  0, or -1 when the publish failed. */
static int pulls_ask(rh_import *m, pulls *p, uint32_t cap, uint64_t now)
{
    uint32_t out = pulls_outstanding(p);
    if (p->n == RH_IMPORT_REQUESTS || (p->n && out > RH_IMPORT_BATCH / 2))
        return 0;
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(m->queue, &s);
    uint64_t free_cells = s.depth < cap ? cap - s.depth : 0;
    if (free_cells <= out)
        return 0;
    uint32_t batch = free_cells - out < RH_IMPORT_BATCH ? (uint32_t)(free_cells - out)
                                                        : RH_IMPORT_BATCH;
    /* half a batch at least once one request is out: no trickle of tiny
     * requests while the queue drains */
    if (p->n && batch < RH_IMPORT_BATCH / 2)
        return 0;
    char req[96];
    snprintf(req, sizeof req, "{\"batch\":%u,\"expires\":%lld}", batch,
             (long long)RH_IMPORT_FETCH_MS * 1000000);
    if (natsConnection_PublishRequestString(m->link->nc, m->next_subject, m->inbox, req) !=
        NATS_OK)
        return -1;
    p->req[p->n].left = batch;
    p->req[p->n].deadline_ns = now + (RH_IMPORT_FETCH_MS + 50) * RH_NS_PER_MS;
    p->n++;
    return 0;
}

/* Wait for the next message on the inbox (up to the oldest request's
 * deadline), then take every message already there with it, up to a
 * batch: status messages end requests, deliveries are staged, and the
 * batch is enqueued at once. */
static void receive(rh_import *m, pulls *p, fetched *f, uint64_t now)
{
    natsMsg *msg = NULL;
    int64_t left_ms = (int64_t)((p->req[0].deadline_ns - now) / RH_NS_PER_MS) + 1;
    natsStatus st = natsSubscription_NextMsg(&msg, m->sub, left_ms);
    if (st == NATS_TIMEOUT)
        return;
    if (st != NATS_OK) { /* the connection is down or closing */
        p->n = 0;
        nap(10 * RH_NS_PER_MS);
        return;
    }
    int more = 0;
    natsSubscription_GetPending(m->sub, &more, NULL);
    f->n = 0;
    for (;;) {
        const char *status = NULL;
        if (natsMsg_GetDataLength(msg) == 0 &&
            natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
            pulls_pop(p); /* 404, 408, 409: the oldest request is over */
            natsMsg_Destroy(msg);
        } else if (!natsMsg_GetReply(msg)) {
            natsMsg_Destroy(msg);
        } else {
            if (p->n && --p->req[0].left == 0)
                pulls_pop(p);
            uint32_t before = f->n;
            stage(m, f, msg);
            if (f->n == before)
                natsMsg_Destroy(msg); /* acked, termed: done with */
        }
        if (more-- <= 0 || f->n == f->max ||
            natsSubscription_NextMsg(&msg, m->sub, 0) != NATS_OK)
            break;
    }
    enqueue_staged(m, f);
    for (uint32_t i = 0; i < f->n; i++)
        natsMsg_Destroy(f->msg[i]);
    f->n = 0;
}

static void *import_main(void *arg)
{
    rh_import *m = arg;
    uint32_t cap = rh_queue_config_of(m->queue)->capacity;
    pulls p = {0};
    fetched *f = m->batch;
    while (!atomic_load(&m->stop)) {
        if (!rh__link_ready(m->link, NULL) || !m->sub) {
            p.n = 0; /* a new connection: what the server held for the old one is gone */
            nap(50 * RH_NS_PER_MS);
            if (!m->sub && rh__link_ready(m->link, NULL))
                rh__import_subscribe(m, NULL);
            continue;
        }
        uint64_t now = rh_now_ns();
        while (p.n && now >= p.req[0].deadline_ns)
            pulls_pop(&p);
        if (pulls_ask(m, &p, cap, now) != 0) {
            nap(10 * RH_NS_PER_MS);
            continue;
        }
        if (!p.n) { /* the queue is full */
            nap(RH_NS_PER_MS);
            continue;
        }
        receive(m, &p, f, now);
    }
    return NULL;
}

int rh__import_subscribe(rh_import *m, rh_error *err)
{
    const rh_link_decl *d = m->link->decl;
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = m->durable;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = (int64_t)d->ack_wait_ms * 1000000;
    cc.MaxDeliver = d->max_deliver ? (int64_t)d->max_deliver : -1;
    cc.MaxAckPending = 65536;
    cc.FilterSubject = m->decl->import_from.subject;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    /* the durable the first host made is every host's: bind it, or make it */
    natsStatus st = js_GetConsumerInfo(&ci, m->link->js, d->stream, m->durable, NULL, &jerr);
    if (st == NATS_NOT_FOUND)
        st = js_AddConsumer(&ci, m->link->js, d->stream, &cc, NULL, &jerr);
    if (st != NATS_OK) /* another host made it meanwhile */
        st = js_GetConsumerInfo(&ci, m->link->js, d->stream, m->durable, NULL, &jerr);
    const char *why = NULL;
    if (st != NATS_OK && !(why = nats_GetLastError(NULL)))
        why = "";
    if (st == NATS_OK && ci->Config->FilterSubject &&
        strcmp(ci->Config->FilterSubject, m->decl->import_from.subject) != 0)
        why = "the durable exists with another subject";
    jsConsumerInfo_Destroy(ci);
    if (!why) {
        snprintf(m->next_subject, sizeof m->next_subject, "$JS.API.CONSUMER.MSG.NEXT.%s.%s",
                 d->stream, m->durable);
        if (!m->inbox && natsInbox_Create(&m->inbox) != NATS_OK)
            why = "out of memory";
        else if (natsConnection_SubscribeSync(&m->sub, m->link->nc, m->inbox) != NATS_OK)
            why = "cannot subscribe to its reply inbox";
        else
            natsSubscription_SetPendingLimits(m->sub, -1, -1); /* never a slow consumer */
    }
    if (!why)
        return 0;
    m->sub = NULL;
    if (err)
        return rh_error_set(err, RH_EREMOTE,
                            "%s: %s.import: cannot bind the durable consumer %s on stream %s "
                            "(subject %s): %s", m->rt->m->path, m->decl->json_path, m->durable,
                            d->stream, m->decl->import_from.subject,
                            why[0] ? why : natsStatus_GetText(st));
    return RH_EREMOTE;
}

int rh__import_start(rh_import *m, rh_error *err)
{
    /* The ids this import enqueued: the larger of the queue's dedup window
     * and 4 x its capacity, seeded from its cells (a persist queue that
     * holds messages of an earlier run). */
    const rh_queue_config *qc = rh_queue_config_of(m->queue);
    uint32_t window = qc->dedup_window > 4 * qc->capacity ? qc->dedup_window : 4 * qc->capacity;
    if (rh__dedup_init(&m->seen, window) != 0)
        return rh_error_set(err, RH_ENOMEM, "import of queue %s: out of memory", m->decl->name);
    rh_id *ids = malloc((size_t)qc->capacity * sizeof *ids);
    uint32_t n = ids ? rh__queue_recent_ids(m->queue, ids, qc->capacity) : 0;
    for (uint32_t i = 0; i < n; i++)
        rh__dedup_seen_or_add(&m->seen, ids[i]);
    free(ids);
    /* A batch's payloads are copied next to each other for rh_send_burst:
     * fewer of them at once for a large type (a 1 MiB slot stages one). */
    uint32_t psize = rh_queue_payload_size(m->queue), max = RH_IMPORT_BATCH;
    while (max > 1 && (size_t)max * psize > RH_IMPORT_STAGE_BYTES)
        max /= 2;
    m->batch = calloc(1, sizeof *m->batch);
    if (m->batch) {
        m->batch->max = max;
        m->batch->payloads = malloc((size_t)max * (psize ? psize : 1));
    }
    if (!m->batch || !m->batch->payloads)
        return rh_error_set(err, RH_ENOMEM, "import of queue %s: out of memory", m->decl->name);
    if (m->decl->import_from.durable[0]) {
        snprintf(m->durable, sizeof m->durable, "%s", m->decl->import_from.durable);
    } else {
        snprintf(m->durable, sizeof m->durable, "rh_%s", m->decl->import_from.subject);
        for (char *c = m->durable; *c; c++)
            if (*c == '.')
                *c = '_';
    }
    int rc;
    if (rh__link_ready(m->link, NULL) && (rc = rh__import_subscribe(m, err)) != 0)
        return rc;
    if (pthread_create(&m->thread, NULL, import_main, m) != 0)
        return rh_error_set(err, RH_ESYS, "cannot start thread rh-import-%s", m->decl->name);
    char name[16];
    snprintf(name, sizeof name, "rh-import-%s", m->decl->name);
    pthread_setname_np(m->thread, name);
    m->started = 1;
    return 0;
}

void rh__import_stop(rh_import *m)
{
    if (!m->started)
        return;
    atomic_store(&m->stop, 1);
    pthread_join(m->thread, NULL);
    m->started = 0;
}

void rh__import_free(rh_import *m)
{
    if (m->sub)
        natsSubscription_Destroy(m->sub); /* the inbox's; the durable stays */
    m->sub = NULL;
    natsInbox_Destroy(m->inbox);
    m->inbox = NULL;
    rh__dedup_free(&m->seen);
    if (m->batch)
        free(m->batch->payloads);
    free(m->batch);
    m->batch = NULL;
}
