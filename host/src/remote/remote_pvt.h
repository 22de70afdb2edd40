/*
 * remote_pvt.h — what the files of the remote layer share: a link
 * (link.c), the export bridge (export.c), the import bridge (import.c),
 * and the set of them a runtime holds (remote.c).
 */
#ifndef RH_REMOTE_PVT_H
#define RH_REMOTE_PVT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <nats/nats.h>

#include "engine/dedup.h"
#include "engine/engine.h"
#include "manifest/manifest.h"

/* One entry of "links": a connection (several servers: a cluster) and its
 * JetStream context.  The counters are written by the client library's
 * callback thread and read anywhere (relaxed). */
typedef struct rh_link {
    const rh_link_decl *decl;
    const char *manifest;       /* the manifest's path, for messages */
    FILE *log;
    natsConnection *nc;
    jsCtx *js;
    int64_t max_payload;        /* the server's, bytes (known once connected) */
    _Atomic int connected;
    _Atomic int closing;
    _Atomic int closed;         /* the client's last callback for it ran */        /* the host is closing it (no link.down then) */
    _Atomic uint64_t reconnects, disconnects;
    /* The stream is checked once per connection life: a launch that waits
     * for its server ("wait": true) checks it when the server comes. */
    pthread_mutex_t lock;
    int stream_ok;              /* under lock */
    char stream_error[512];     /* under lock: why the stream was refused, "" */
    const char *subjects[2 * 64]; /* the manifest's subjects on this link */
    int n_subjects;
} rh_link;

/* Open the link (connect; with "wait": true an unreachable server is waited
 * for in the background).  0, or RH_EREMOTE naming the URL. */
int rh__link_open(rh_link *l, rh_error *err);
/* Non-zero once connected and the stream is there with settings that
 * agree with the manifest (created if missing); a refusal is logged once
 * (remote.stream_refused) and kept in stream_error. */
int rh__link_ready(rh_link *l, rh_error *err);
/* Close the connection (no callback runs after it returns), then free. */
void rh__link_disconnect(rh_link *l);
void rh__link_close(rh_link *l);

/* An export's in-flight window: slot i holds local sequence s with s % W
 * == i; state and sequence in one word, so an ack of an old sequence can
 * never mark the slot's next message (export.c). */
typedef struct rh_export_slot {
    _Atomic uint64_t word;      /* seq << 2 | RH_SLOT_* */
    uint64_t sent_ns;
    uint32_t len;               /* wire bytes in buf */
    rh_envelope env;
    uint8_t *buf;
} rh_export_slot;

typedef struct rh_export {
    rh_runtime *rt;
    rh_link *link;
    const rh_queue_decl *decl;
    rh_queue *queue, *dlq;
    uint32_t window;            /* slots */
    rh_export_slot *slots;
    uint8_t *scratch;           /* a burst dequeued: (envelope + payload) * burst */
    uint64_t base;              /* the queue's taken position when the bridge started */
    uint64_t head, tail;        /* bridge thread: first not done, next to fill */
    uint64_t last_scan_ns;      /* bridge thread: the window last scanned for lost acks */
    jsCtx *js;                  /* its own: the ack handler's closure is this export */
    pthread_t thread;
    int started;
    _Atomic int stop;           /* 1: drain then stop; 2: stop now */
    _Atomic int finished;       /* the thread left its loop */
    _Atomic int retry_pending;  /* a publish failed: scan the window */
    /* Rung by the ack handler while the bridge waits with a full window
     * (full_wait 1): it takes more as soon as the oldest is acked. */
    rh_bell acked_bell;
    _Atomic int full_wait;
    /* counters */
    _Atomic uint64_t taken, published, acked, duplicates, republished, dead_lettered;
} rh_export;

int rh__export_start(rh_export *x, rh_error *err);
/* Ask the thread to stop once its queue is empty and every message is
 * acked (or at deadline_ns), and join it. */
void rh__export_stop(rh_export *x, uint64_t deadline_ns);
void rh__export_free(rh_export *x);

typedef struct rh_import {
    rh_runtime *rt;
    rh_link *link;
    const rh_queue_decl *decl;
    rh_queue *queue, *dlq;
    char durable[64];
    char next_subject[160];     /* $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable> */
    natsInbox *inbox;           /* where pulled messages come */
    natsSubscription *sub;      /* on inbox */
    rh_dedup seen;              /* import thread: ids it enqueued (repeats dropped) */
    struct rh_import_fetched *batch; /* import thread: the batch being enqueued */
    pthread_t thread;
    int started;
    _Atomic int stop;
    _Atomic uint64_t fetched, enqueued, repeats, refused, dead_lettered, redeliveries, lag;
} rh_import;

int rh__import_start(rh_import *m, rh_error *err);
/* Bind the durable pull consumer (created when missing).  0 or RH_EREMOTE
 * (err, when not NULL, names the queue, the consumer and the stream). */
int rh__import_subscribe(rh_import *m, rh_error *err);
void rh__import_stop(rh_import *m);
void rh__import_free(rh_import *m);

typedef struct rh_remote {
    rh_link links[RH_MAX_LINKS];
    uint32_t n_links;
    rh_export *exports;
    uint32_t n_exports;
    rh_import *imports;
    uint32_t n_imports;
} rh_remote;

/* The queue of rt called name, or NULL. */
rh_queue *rh__remote_queue(rh_runtime *rt, const char *name);

#endif /* RH_REMOTE_PVT_H */
