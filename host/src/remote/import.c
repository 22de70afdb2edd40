/*
 * import.c — the import bridge: a thread rh-import-Q that pulls from a
 * DURABLE JetStream consumer on the queue's subject into the local queue.
 * Every host importing the subject binds the same durable (named by
 * "durable", else "rh_" + the subject with dots as underscores), so they
 * are competing consumers: JetStream hands each message to one of them.
 *
 * Backpressure: each fetch asks for at most the queue's free cells (and at
 * most RH_IMPORT_BATCH: the 3.4.1 client's batch fetch is where its known
 * heap overflow lives, so batches stay small), so what is fetched fits.
 * A message is acked to JetStream only after rh_send put it in the local
 * queue; one the queue refused (another producer filled it meanwhile) is
 * nak'd and comes again.  The fetch timeout is short and the loop checks
 * its stop flag between fetches, so a stop never waits on the client.
 *
 * Repeats: a message JetStream delivers again (its ack was lost: the host
 * was killed between enqueue and ack, or the ack timed out) carries
 * NumDelivered > 1.  It is marked RH_ENV_REDELIVERED; if the local queue
 * already holds or recently held its id (rh__queue_recent_ids: the same
 * window the output bridge uses) it is dropped, counted as a repeat, and
 * acked.  Otherwise it is enqueued, and a kernel's input bridge drops it
 * by the queue's dedup_window if it had taken it already; its answers get
 * the same ids as the first time, which the export's Nats-Msg-Id drops at
 * JetStream.  A gateway (no kernel) has only the recent-ids check, which
 * covers what its queue still remembers (its capacity): a repeat older
 * than that reaches the client (docs/SCALE-OUT.md says so).
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"
#include "remote/remote_pvt.h"
#include "remote/wire.h"

#define RH_IMPORT_BATCH 64
#define RH_IMPORT_FETCH_MS 100
/* A redelivery's id is looked for among the queue's last `capacity`
 * accepted ids: all that its cells remember. */

static void nap(uint64_t ns)
{
    struct timespec ts = rh_timespec_of_ns(ns);
    nanosleep(&ts, NULL);
}

/* Non-zero when id is among the last ids the queue accepted. */
static int recently_accepted(rh_queue *q, rh_id id, rh_id *scratch)
{
    uint32_t n = rh__queue_recent_ids(q, scratch, rh_queue_config_of(q)->capacity);
    for (uint32_t i = 0; i < n; i++)
        if (rh_id_eq(scratch[i], id))
            return 1;
    return 0;
}

/* One fetched message into the queue.  Acks, naks or dead-letters it. */
static void deliver(rh_import *m, natsMsg *msg, rh_id *recent)
{
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    size_t n = (size_t)natsMsg_GetDataLength(msg);
    rh_envelope env;
    uint64_t fp = 0;
    const uint8_t *payload = NULL;
    const char *why = NULL;
    jsMsgMetaData *meta = NULL;
    uint64_t delivered = 1;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        delivered = meta->NumDelivered;
        atomic_store_explicit(&m->lag, meta->NumPending, memory_order_relaxed);
        jsMsgMetaData_Destroy(meta);
    }
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
        natsMsg_Term(msg, NULL);
        return;
    }
    if (delivered > 1) {
        atomic_fetch_add_explicit(&m->redeliveries, 1, memory_order_relaxed);
        env.flags |= RH_ENV_REDELIVERED;
        if (recently_accepted(m->queue, env.id, recent)) {
            atomic_fetch_add_explicit(&m->repeats, 1, memory_order_relaxed);
            natsMsg_Ack(msg, NULL);
            return;
        }
    }
    int rc = rh_send(m->queue, &env, payload, env.payload_len, NULL);
    if (rc == 0) {
        atomic_fetch_add_explicit(&m->enqueued, 1, memory_order_relaxed);
        natsMsg_Ack(msg, NULL);
    } else {
        atomic_fetch_add_explicit(&m->refused, 1, memory_order_relaxed);
        natsMsg_Nak(msg, NULL);
    }
}

static void *import_main(void *arg)
{
    rh_import *m = arg;
    uint32_t cap = rh_queue_config_of(m->queue)->capacity;
    rh_id *recent = malloc(cap * sizeof *recent);
    while (!atomic_load(&m->stop)) {
        if (!recent || !rh__link_ready(m->link, NULL) || !m->sub) {
            nap(50 * RH_NS_PER_MS);
            if (recent && !m->sub && rh__link_ready(m->link, NULL))
                rh__import_subscribe(m, NULL);
            continue;
        }
        rh_queue_stats s;
        rh_queue_stats_get(m->queue, &s);
        uint64_t free_cells = s.depth < cap ? cap - s.depth : 0;
        if (free_cells == 0) {
            nap(RH_NS_PER_MS);
            continue;
        }
        int batch = free_cells < RH_IMPORT_BATCH ? (int)free_cells : RH_IMPORT_BATCH;
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus st = natsSubscription_Fetch(&list, m->sub, batch, RH_IMPORT_FETCH_MS, &jerr);
        if (st != NATS_OK && st != NATS_TIMEOUT) {
            natsMsgList_Destroy(&list);
            nap(10 * RH_NS_PER_MS);
            continue;
        }
        for (int i = 0; i < list.Count; i++)
            deliver(m, list.Msgs[i], recent);
        natsMsgList_Destroy(&list);
    }
    free(recent);
    return NULL;
}

int rh__import_subscribe(rh_import *m, rh_error *err)
{
    const rh_link_decl *d = m->link->decl;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = d->stream;
    so.Config.Durable = m->durable;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = (int64_t)d->ack_wait_ms * 1000000;
    so.Config.MaxDeliver = d->max_deliver ? (int64_t)d->max_deliver : -1;
    so.Config.MaxAckPending = 65536;
    so.Config.FilterSubject = m->decl->import_from.subject;
    jsErrCode jerr = 0;
    natsStatus st = js_PullSubscribe(&m->sub, m->link->js, m->decl->import_from.subject,
                                     m->durable, NULL, &so, &jerr);
    if (st == NATS_OK)
        return 0;
    m->sub = NULL;
    const char *last = nats_GetLastError(NULL);
    if (err)
        return rh_error_set(err, RH_EREMOTE,
                            "%s: %s.import: cannot bind the durable consumer %s on stream %s "
                            "(subject %s): %s", m->rt->m->path, m->decl->json_path, m->durable,
                            d->stream, m->decl->import_from.subject,
                            last && last[0] ? last : natsStatus_GetText(st));
    return RH_EREMOTE;
}

int rh__import_start(rh_import *m, rh_error *err)
{
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
        natsSubscription_Destroy(m->sub); /* not Unsubscribe: the durable stays */
    m->sub = NULL;
}
