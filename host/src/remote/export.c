/*
 * export.c — the export bridge: a thread rh-export-Q that takes the
 * messages of a local queue and publishes them to the queue's subject with
 * js_PublishMsgAsync (Nats-Msg-Id = the message id, 32 hex; payload = the
 * wire format of wire.h).
 *
 * A message leaves the local queue only once JetStream acked it: the
 * bridge holds what it took in a window of W slots (its in-flight
 * messages) and moves the queue's ack forward (rh__queue_ack: on a persist
 * queue the cells stay until then, so a host killed with messages in
 * flight finds them again at its next launch and publishes them again
 * under the same Nats-Msg-Id, which JetStream drops as duplicates).  A
 * publish that fails or gets no ack within RH_EXPORT_ACK_TIMEOUT_MS is
 * published again, with the same id.  While the link is down the bridge
 * takes nothing new: messages wait in the local queue, whose backpressure
 * applies to its producers.  A message bigger than the server's
 * max_payload is dead-lettered (<queue>.dlq) with the reason.
 *
 * Threads: the bridge's own thread owns head, tail and the slots' bytes;
 * the client's ack thread only moves a slot's word from SENT to ACKED or
 * RETRY for the sequence it names (the "Rh-Seq" header), by compare and
 * swap, so an ack that arrives late for a slot since reused changes
 * nothing.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <inttypes.h>
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

enum { RH_SLOT_FREE = 0, RH_SLOT_SENT = 1, RH_SLOT_ACKED = 2, RH_SLOT_RETRY = 3 };
#define WORD(seq, st) ((uint64_t)(seq) << 2 | (uint64_t)(st))
#define RH_EXPORT_BURST 64u
#define RH_EXPORT_WINDOW_MAX 1024u
/* An ack not come within this is a lost publish: the client library times
 * it out (jsPubOptions.MaxWait), which frees its place among the client's
 * MaxPending and calls on_ack with NATS_TIMEOUT, and the slot is published
 * again.  Without MaxWait the library keeps a publish whose ack never comes
 * (one sent to a stream leader that died) pending for ever: once `window`
 * of them pile up, every publish stalls and the export wedges. */
#define RH_EXPORT_ACK_TIMEOUT_MS 5000
/* settle's own sweep, for an ack the library's timer missed: later. */
#define RH_EXPORT_ACK_SWEEP_NS (2 * RH_EXPORT_ACK_TIMEOUT_MS * RH_NS_PER_MS)

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    rh_export *x = closure;
    (void)js;
    const char *v = NULL;
    if (natsMsgHeader_Get(msg, "Rh-Seq", &v) != NATS_OK || !v) {
        natsMsg_Destroy(msg); /* the handler owns it (nats.h, jsPubAckHandler) */
        return;
    }
    uint64_t seq = strtoull(v, NULL, 10);
    rh_export_slot *s = &x->slots[seq % x->window];
    uint64_t want = WORD(seq, RH_SLOT_SENT);
    if (pa && !pae) {
        if (atomic_compare_exchange_strong(&s->word, &want, WORD(seq, RH_SLOT_ACKED)) &&
            pa->Duplicate)
            atomic_fetch_add_explicit(&x->duplicates, 1, memory_order_relaxed);
    } else if (atomic_compare_exchange_strong(&s->word, &want, WORD(seq, RH_SLOT_RETRY))) {
        atomic_store_explicit(&x->retry_pending, 1, memory_order_release);
    }
    /* The slot's word (seq_cst CAS above) before full_wait is read: the
     * bridge sets full_wait, then re-reads the oldest slot before it
     * sleeps, so one of the two sees the other. */
    if (atomic_load(&x->full_wait))
        rh_bell_ring(&x->acked_bell);
    natsMsg_Destroy(msg);
}

/* Publish slot seq (its bytes already in place).  0, or -1: try later. */
static int publish(rh_export *x, uint64_t seq)
{
    rh_export_slot *s = &x->slots[seq % x->window];
    natsMsg *m = NULL;
    char id[33], sq[24];
    rh__wire_msg_id(s->env.id, id);
    snprintf(sq, sizeof sq, "%" PRIu64, seq);
    if (natsMsg_Create(&m, x->decl->export_to.subject, NULL, (const char *)s->buf,
                       (int)s->len) != NATS_OK)
        return -1;
    natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    natsMsgHeader_Set(m, "Rh-Seq", sq);
    /* SENT before the call: the ack may come before it returns */
    atomic_store(&s->word, WORD(seq, RH_SLOT_SENT));
    s->sent_ns = rh_now_ns();
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = RH_EXPORT_ACK_TIMEOUT_MS;
    natsStatus st = js_PublishMsgAsync(x->js, &m, &po);
    natsMsg_Destroy(m);
    if (st != NATS_OK) {
        uint64_t want = WORD(seq, RH_SLOT_SENT);
        atomic_compare_exchange_strong(&s->word, &want, WORD(seq, RH_SLOT_RETRY));
        atomic_store_explicit(&x->retry_pending, 1, memory_order_release);
        return -1;
    }
    atomic_fetch_add_explicit(&x->published, 1, memory_order_relaxed);
    return 0;
}

/* Take what fits the window from the queue into slots, and publish it. */
static uint32_t take(rh_export *x)
{
    uint64_t room = x->window - (x->tail - x->head);
    uint32_t n = room < RH_EXPORT_BURST ? (uint32_t)room : RH_EXPORT_BURST;
    if (!n)
        return 0;
    uint32_t psize = rh_queue_payload_size(x->queue);
    size_t stride = (sizeof(rh_envelope) + psize + 7) & ~(size_t)7;
    rh_envelope *dst[RH_EXPORT_BURST];
    for (uint32_t i = 0; i < n; i++)
        dst[i] = (rh_envelope *)(void *)(x->scratch + i * stride);
    uint32_t got = rh__queue_dequeue_burst(x->queue, dst, n);
    const rh_type *t = rh_queue_type(x->queue);
    int failed = 0;
    for (uint32_t i = 0; i < got; i++) {
        uint64_t seq = x->tail++;
        rh_export_slot *s = &x->slots[seq % x->window];
        const uint8_t *payload = (const uint8_t *)(dst[i] + 1);
        uint32_t len = dst[i]->payload_len <= psize ? dst[i]->payload_len : psize;
        s->env = *dst[i];
        s->len = RH_WIRE_HEADER + len;
        atomic_fetch_add_explicit(&x->taken, 1, memory_order_relaxed);
        if (x->link->max_payload > 0 && (int64_t)s->len > x->link->max_payload) {
            char why[240];
            snprintf(why, sizeof why,
                     "export: the message is %u bytes on the wire, more than the NATS "
                     "server's max_payload of %lld bytes (link %s, subject %s)",
                     s->len, (long long)x->link->max_payload, x->link->decl->name,
                     x->decl->export_to.subject);
            rh__dlq_put(x->dlq, x->queue, "export", t, RH_DLQ_UNDELIVERABLE, dst[i], payload,
                        why, x->rt->log);
            atomic_fetch_add_explicit(&x->dead_lettered, 1, memory_order_relaxed);
            atomic_store(&s->word, WORD(seq, RH_SLOT_ACKED));
            continue;
        }
        rh__wire_encode(s->buf, dst[i], rh_queue_fingerprint(x->queue), payload, len);
        if (!failed) {
            failed = publish(x, seq) != 0;
        } else { /* the client refused one: the rest goes with the retries */
            atomic_store(&s->word, WORD(seq, RH_SLOT_RETRY));
            atomic_store_explicit(&x->retry_pending, 1, memory_order_release);
        }
    }
    return got;
}

/* Publish again what failed or waited too long for its ack; move head
 * (and the queue's ack) past what is done.  Returns how many moved. */
static uint32_t settle(rh_export *x, int connected)
{
    uint64_t now = rh_now_ns();
    uint32_t done = 0;
    /* A scan of the window only when a publish failed, or every 100 ms for
     * acks that never came: not per message. */
    int scan = connected && (atomic_exchange_explicit(&x->retry_pending, 0, memory_order_acquire) ||
                             now - x->last_scan_ns > 100 * RH_NS_PER_MS);
    if (scan)
        x->last_scan_ns = now;
    for (uint64_t seq = x->head; scan && seq < x->tail; seq++) {
        rh_export_slot *s = &x->slots[seq % x->window];
        uint64_t w = atomic_load(&s->word);
        int st = (int)(w & 3);
        if (connected && (st == RH_SLOT_RETRY ||
                          (st == RH_SLOT_SENT && now - s->sent_ns > RH_EXPORT_ACK_SWEEP_NS))) {
            atomic_fetch_add_explicit(&x->republished, 1, memory_order_relaxed);
            if (publish(x, seq) != 0)
                break; /* retry_pending is set again */
        }
    }
    while (x->head < x->tail) {
        rh_export_slot *s = &x->slots[x->head % x->window];
        if ((atomic_load(&s->word) & 3) != RH_SLOT_ACKED)
            break;
        x->head++;
        done++;
    }
    if (done) {
        rh__queue_ack(x->queue, x->base + x->head);
        atomic_fetch_add_explicit(&x->acked, done, memory_order_relaxed);
    }
    return done;
}

static void nap(uint64_t ns)
{
    struct timespec ts = rh_timespec_of_ns(ns);
    nanosleep(&ts, NULL);
}

/*
 * Nothing moved: sleep until there is something to do.  With acks
 * outstanding and room in the window, on the queue's bell, but at most
 * 200 us (acks come on the client's thread and are settled when it
 * wakes): a message sent meanwhile is published at once, not after a
 * nap.  With the window full, on the acked bell too, which the ack
 * handler rings while full_wait is set: the bridge takes more as soon as
 * room comes.  With nothing in flight, on the queue's bell (20 ms, for a
 * stop).
 */
static void idle_wait(rh_export *x)
{
    int full = x->tail - x->head == x->window;
    rh_bell *bells[2] = {rh__queue_not_empty_bell(x->queue), &x->acked_bell};
    rh_sleep sl;
    if (full)
        atomic_store(&x->full_wait, 1);
    rh__sleep_prepare(&sl, bells, full ? 2 : 1);
    /* the re-check: a message sent, the oldest acked, a stop */
    if ((!full && !rh__queue_is_empty(x->queue)) || atomic_load(&x->stop) ||
        atomic_load(&x->retry_pending) ||
        (full && (atomic_load(&x->slots[x->head % x->window].word) & 3) == RH_SLOT_ACKED))
        rh__sleep_cancel(&sl);
    else
        rh__sleep_commit(&sl, x->head != x->tail ? 200 * RH_NS_PER_US : 20 * RH_NS_PER_MS);
    if (full)
        atomic_store(&x->full_wait, 0);
}

static void *export_main(void *arg)
{
    rh_export *x = arg;
    for (;;) {
        int stop = atomic_load(&x->stop);
        if (stop == 2)
            break;
        int ready = rh__link_ready(x->link, NULL);
        uint32_t moved = 0;
        if (ready)
            moved += take(x);
        moved += settle(x, ready);
        if (stop == 1 && x->head == x->tail && rh__queue_is_empty(x->queue))
            break; /* drained: everything taken is acked */
        if (moved)
            continue;
        if (!ready) {
            nap(200 * RH_NS_PER_US);
            continue;
        }
        idle_wait(x);
    }
    atomic_store_explicit(&x->finished, 1, memory_order_release);
    return NULL;
}

int rh__export_start(rh_export *x, rh_error *err)
{
    const rh_queue_config *c = rh_queue_config_of(x->queue);
    x->window = c->capacity < RH_EXPORT_WINDOW_MAX ? c->capacity : RH_EXPORT_WINDOW_MAX;
    uint32_t psize = rh_queue_payload_size(x->queue);
    size_t stride = (sizeof(rh_envelope) + psize + 7) & ~(size_t)7;
    x->slots = calloc(x->window, sizeof *x->slots);
    x->scratch = malloc(stride * RH_EXPORT_BURST);
    if (!x->slots || !x->scratch)
        return rh_error_set(err, RH_ENOMEM, "export of queue %s: out of memory", x->decl->name);
    for (uint32_t i = 0; i < x->window; i++) {
        x->slots[i].buf = malloc(RH_WIRE_HEADER + psize);
        if (!x->slots[i].buf)
            return rh_error_set(err, RH_ENOMEM, "export of queue %s: out of memory",
                                x->decl->name);
        /* slot i is free for its first sequence, i */
        atomic_init(&x->slots[i].word, WORD(i, RH_SLOT_FREE));
    }
    rh__bell_init(&x->acked_bell, 0);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jo.PublishAsync.MaxPending = x->window;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = x;
    jo.PublishAsync.StallWait = 50;
    if (natsConnection_JetStream(&x->js, x->link->nc, &jo) != NATS_OK)
        return rh_error_set(err, RH_EREMOTE, "export of queue %s: cannot open a JetStream "
                            "context", x->decl->name);
    /* one consumer (this bridge), so what it takes runs on from here */
    x->base = rh__queue_taken(x->queue);
    if (pthread_create(&x->thread, NULL, export_main, x) != 0)
        return rh_error_set(err, RH_ESYS, "cannot start thread rh-export-%s", x->decl->name);
    char name[16]; /* the kernel keeps 15 bytes of it */
    snprintf(name, sizeof name, "rh-export-%s", x->decl->name);
    pthread_setname_np(x->thread, name);
    x->started = 1;
    return 0;
}

void rh__export_stop(rh_export *x, uint64_t deadline_ns)
{
    if (!x->started)
        return;
    atomic_store(&x->stop, 1);
    rh__bell_wake_all(rh__queue_not_empty_bell(x->queue));
    while (rh_now_ns() < deadline_ns && !atomic_load_explicit(&x->finished, memory_order_acquire))
        nap(RH_NS_PER_MS);
    atomic_store(&x->stop, 2);
    pthread_join(x->thread, NULL);
    x->started = 0;
}

void rh__export_free(rh_export *x)
{
    if (x->js)
        jsCtx_Destroy(x->js);
    x->js = NULL;
    for (uint32_t i = 0; x->slots && i < x->window; i++)
        free(x->slots[i].buf);
    free(x->slots);
    free(x->scratch);
    x->slots = NULL;
    x->scratch = NULL;
}
