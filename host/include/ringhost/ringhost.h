/*
 * ringhost/ringhost.h — the embedding and client API.
 *
 * Two audiences:
 *  - clients (another process, or the CLI) that attach to a running host's
 *    shared named queues and send/receive messages;
 *  - embedders that launch a manifest inside their own process.
 *
 * Every function that can fail returns 0 (or a count) on success and a
 * negative RH_E* code on failure; functions taking an rh_error* also fill in
 * a human message there (never NULL-checked by the caller: pass NULL if you
 * do not want it).
 */
#ifndef RINGHOST_RINGHOST_H
#define RINGHOST_RINGHOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ringhost/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ errors ---- */

enum {
    RH_OK = 0,
    RH_EINVAL = -1001,    /* bad argument or value */
    RH_ENOMEM = -1002,    /* out of memory (or shared memory) */
    RH_EFULL = -1003,     /* queue full, policy reject */
    RH_EEMPTY = -1004,    /* nothing to receive (timeout 0) */
    RH_ETIMEDOUT = -1005, /* waited the whole timeout */
    RH_EDROPPED = -1006,  /* queue full, policy drop_newest: this message was discarded */
    /* RH_ESTOPPED = -1007 is defined in kernel.h: the host is stopping */
    RH_ETYPE = -1008,     /* message type / fingerprint mismatch */
    RH_ENOENT = -1009,    /* no such queue, kernel, plugin or file */
    RH_EEXIST = -1010,    /* already exists */
    RH_ESYS = -1011,      /* a system call failed (errno text in the message) */
    RH_ESTATE = -1012,    /* illegal lifecycle transition */
    RH_EPLUGIN = -1013,   /* plugin failed to load or is invalid */
    RH_EMANIFEST = -1014, /* manifest invalid */
    RH_EPLACE = -1015,    /* impossible placement request */
    RH_ETOOBIG = -1016,   /* payload larger than the queue's slot */
    RH_EINVALMSG = -1017, /* message failed its type's validation */
    RH_ESTALE = -1018,    /* the queue's host is gone or was replaced: close and attach again */
    RH_ECORRUPT = -1019,  /* the queue's shared indices cannot be true (stalled for good) */
    RH_EBUSY = -1020,     /* every entry of a queue's claims table (loans, peeks) or of its
                           * producers' notes (64 threads sending at once) is held */
    RH_EREMOTE = -1021,   /* a link's NATS server refused or could not be reached */
};

/* Text for an RH_E* code ("queue full (reject)"); never NULL. */
RH_API const char *rh_strerror(int code);

/* A failure with a human message.  msg names the file, the JSON path and
 * the expected value where those apply. */
typedef struct rh_error {
    int code;
    char msg[1024];
} rh_error;

/* Set err (if not NULL) and return code.  printf-style. */
RH_API int rh_error_set(rh_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* -------------------------------------------------- structs that grow --- */

/*
 * The versioning rule.  The structs a caller fills and the library reads
 * (rh_launch_opts, rh_queue_config), and those the library fills in the
 * caller's memory (rh_queue_stats, rh_kernel_info), grow at their end as
 * the library gains features.  Each begins with `uint32_t struct_size`,
 * the sizeof the caller was compiled with, so that a program built against
 * an older ringhost.h runs on a newer libringhost.so.1 (and the reverse):
 *
 *  - Initialise each with its macro, never with {0} or memset:
 *        rh_launch_opts o = RH_LAUNCH_OPTS_INIT(.log = f);
 *        rh_queue_stats s = RH_QUEUE_STATS_INIT;
 *  - Read by the library: only the fields that fit in struct_size are
 *    read; a field past it has its default (zero, the meaning each field's
 *    comment gives to 0 or NULL).
 *  - Written by the library: min(struct_size, the library's sizeof) bytes
 *    and not one more; struct_size is set to that count on return, so
 *    RH_HAS_FIELD(type, ptr, field) says whether a field newer than the
 *    library was filled.
 *  - struct_size 0 (never initialised) or smaller than the struct's first
 *    version (its comment says where that ends) is refused: RH_EINVAL, and
 *    a message naming the struct and its macro (in err where the call
 *    takes one, else as the event api.struct_size on the log).
 *
 * Who changes this header appends fields, never inserts, removes, resizes
 * or reorders one; a new field starts at or after the previous version's
 * sizeof (never in its tail padding, which an older caller leaves
 * undefined); and its zero means what the library did before it existed.
 *
 * Why a size and not an opaque handle with setters (Aeron's context) or a
 * reserved[] tail (libuv): callers build these on the stack in one line with
 * designated initialisers, and a size keeps that with no allocation, no
 * setter per field and no cap on growth; it is also the rule plugins
 * already follow (rh_kernel_desc.struct_size, ringhost/kernel.h).
 *
 * Frozen structs never grow (a new field would mean a new struct and new
 * functions): rh_error, rh_id, rh_envelope (arrays of it go to the burst
 * calls: its size is their stride), rh_loan and rh_msg_view (arrays too).
 * Library-owned structs, reached only through a pointer the library
 * returns and never allocated by a caller, grow at their end with no size
 * to check: rh_queue_config_of()'s config (its struct_size is the
 * library's), rh_harness_output and rh_harness_failure (testing.h).
 */

/* Non-zero when the struct at ptr (of type `type`, its struct_size set)
 * holds the whole of `field`. */
#define RH_HAS_FIELD(type, ptr, field)                                                         \
    ((size_t)(ptr)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ---------------------------------------------------------------- ids --- */

/* A fresh 128-bit id, unique across threads and processes: a random
 * per-thread stream number and a per-thread count (UUID layout, version 8,
 * RFC 9562).  Never all-zero.  Thread-safe; no syscall after the first call
 * on a thread (or in a forked child). */
RH_API rh_id rh_id_new(void);

/* Parse a UUID ("8-4-4-4-12" hex) or 32 hex digits.  0, or RH_EINVAL. */
RH_API int rh_id_parse(const char *text, rh_id *out);

/* Format as a 36-character UUID plus NUL into buf (>= 37 bytes). */
RH_API void rh_id_format(rh_id id, char buf[37]);

static inline int rh_id_is_zero(rh_id id)
{
    return id.hi == 0 && id.lo == 0;
}

static inline int rh_id_eq(rh_id a, rh_id b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

/* CLOCK_MONOTONIC in ns. */
RH_API uint64_t rh_now_ns(void);

/* ------------------------------------------------------- named queues --- */

typedef struct rh_queue rh_queue;

typedef enum rh_backpressure {
    RH_BP_BLOCK = 0,       /* wait up to block_timeout_ms for space, then RH_ETIMEDOUT */
    RH_BP_REJECT = 1,      /* fail at once with RH_EFULL, counted as rejected */
    RH_BP_DROP_OLDEST = 2, /* evict the oldest queued message, count it, accept this one */
    RH_BP_DROP_NEWEST = 3, /* discard this message, count it, return RH_EDROPPED */
} rh_backpressure;

/* Name of a policy as written in manifests ("drop_oldest"), and back
 * (-1 when unknown). */
RH_API const char *rh_backpressure_name(rh_backpressure bp);
RH_API int rh_backpressure_parse(const char *name);

/* Read by rh_queue_create, which grows it by the rule of "structs that
 * grow" above.  First version: struct_size .. shared; persist was
 * appended.  RH_QUEUE_CONFIG_INIT(.capacity = 64, ...) sets struct_size. */
typedef struct rh_queue_config {
    uint32_t struct_size;      /* sizeof(rh_queue_config) the caller was built with */
    uint32_t capacity;         /* slots: power of two, 2 .. 2^24 */
    rh_backpressure backpressure;
    uint32_t block_timeout_ms; /* for RH_BP_BLOCK */
    uint32_t dedup_window;     /* 0 (off) .. capacity*4 ids, applied by the input bridge */
    uint32_t ttl_ms;           /* 0 (off): age after which an undelivered message expires */
    int shared;                /* non-zero: POSIX shm "/ringhost.<instance>:<name>", mode 0600
                                  (":<name>:N" when another user holds that name: see
                                  rh_queue_attach) */
    int persist;               /* non-zero (needs shared): kept at close, recovered at create */
} rh_queue_config;

#define RH_QUEUE_CONFIG_INIT(...) {.struct_size = (uint32_t)sizeof(rh_queue_config), __VA_ARGS__}

#define RH_QUEUE_NAME_MAX 64
#define RH_QUEUE_CAPACITY_MAX (1u << 24)

/* Counters of one queue, as read by rh_queue_stats_get().  All monotonic
 * except depth.  Filled by the library by the rule of "structs that grow"
 * above: declare it `rh_queue_stats s = RH_QUEUE_STATS_INIT;`.  First
 * version: struct_size .. capacity (all of today's fields). */
typedef struct rh_queue_stats {
    uint32_t struct_size;    /* in: sizeof(rh_queue_stats); out: the bytes filled */
    uint64_t enqueued;       /* accepted into the queue */
    uint64_t dequeued;       /* taken out by a consumer */
    uint64_t rejected;       /* refused: full with reject, or block timed out */
    uint64_t dropped_oldest; /* evicted by drop_oldest */
    uint64_t dropped_newest; /* discarded by drop_newest */
    uint64_t duplicates;     /* dropped by the input bridge's dedup window */
    uint64_t expired;        /* older than ttl_ms when the bridge took them */
    uint64_t invalid;        /* failed validation in the input bridge */
    uint64_t failed;         /* failed by the kernel (rh_fail / batch failure) */
    uint64_t dead_lettered;  /* sent to a dead-letter queue */
    uint64_t depth;          /* messages in the queue now */
    uint64_t high_water;     /* highest depth seen */
    uint32_t capacity;
} rh_queue_stats;

#define RH_QUEUE_STATS_INIT {.struct_size = (uint32_t)sizeof(rh_queue_stats)}

/* True when name matches [A-Za-z0-9._-]{1,64}. */
RH_API int rh_queue_name_valid(const char *name);

/*
 * Create a named queue for messages of `type`.  With cfg->shared the queue
 * lives in POSIX shared memory named after instance and name, created with
 * mode 0600 (an existing object of the same name is replaced: it is a
 * leftover of a host that died); type_origin (may be NULL) is stored in the
 * header so clients can find the plugin that defines the type.
 *
 * With cfg->persist (needs cfg->shared, and a policy other than
 * drop_oldest) the queue is not removed by rh_queue_close, and an existing
 * persist queue of that name is taken over with its messages instead of
 * replaced: indices a killed host left are repaired (unpublished sends
 * dropped, messages taken but not acknowledged delivered again).  The
 * handle holds an flock on the object until rh_queue_close.  Clients still
 * attached to it (a host killed under them) do not stop the recovery: it
 * then copies the queue into a new object of the name and leaves theirs to
 * them, and each learns at its next send (RH_ESTALE, see rh_send).
 * Producers reuse a slot only once the message in it is acknowledged;
 * rh_recv and rh_recv_burst acknowledge what they take (so a client must
 * not receive from a queue a kernel consumes).  Not across a reboot.
 *
 * cfg must come from RH_QUEUE_CONFIG_INIT (its struct_size: see "structs
 * that grow"); a field past its struct_size is 0.
 *
 * Errors: RH_EINVAL (struct_size 0 or below the first version; name,
 * capacity not a power of two in 2..2^24,
 * dedup_window > 4*capacity, persist without shared or with drop_oldest;
 * a persist object that is not a queue this build can recover), RH_ETYPE
 * (a persist queue of another type, size or capacity is there), RH_EEXIST
 * (a running host holds it; or, without persist, a persist queue holding
 * messages is there), RH_ENOMEM, RH_ESYS.  Each message says how to
 * discard a refused persist queue (`ringhost purge`).
 */
RH_API int rh_queue_create(const char *instance, const char *name, const rh_type *type,
                           const rh_queue_config *cfg, const char *type_origin, rh_queue **out,
                           rh_error *err);

/* Attach to a shared queue created by a running host.  Its object is the
 * lowest of /dev/shm/ringhost.<instance>:<name>, ...:<name>:1, ...:<name>:2 ...
 * that this process's user owns: another user can create any name in /dev/shm
 * first, so rh_queue_create skips a name another user owns (never opening or
 * removing it) and takes the lowest free one, and attach finds the same
 * object; another user's object is never attached to.  The type descriptor
 * is unknown to the client (rh_queue_type() returns NULL until
 * rh_queue_bind_type()).  The handle holds a read lock on the object until
 * rh_queue_close, so that a host taking it over knows a client may still
 * take back what it sent there (rh_send).  Errors: RH_ENOENT, RH_EINVAL
 * (not a ringhost queue, or a version this build does not know), RH_EEXIST
 * (a queue a new host is recovering or taking over right now: try again),
 * RH_ESYS. */
RH_API int rh_queue_attach(const char *instance, const char *name, rh_queue **out, rh_error *err);

/* Give a type descriptor to an attached queue; RH_ETYPE if its fingerprint
 * differs from the queue's. */
RH_API int rh_queue_bind_type(rh_queue *q, const rh_type *type, rh_error *err);

/* Unmap.  The creator of a shared queue also unlinks its name. */
RH_API void rh_queue_close(rh_queue *q);

RH_API const char *rh_queue_name(const rh_queue *q);
RH_API const char *rh_queue_type_name(const rh_queue *q);
RH_API uint64_t rh_queue_fingerprint(const rh_queue *q);
RH_API const rh_type *rh_queue_type(const rh_queue *q);
RH_API const char *rh_queue_type_origin(const rh_queue *q); /* "" when unknown */
RH_API const rh_queue_config *rh_queue_config_of(const rh_queue *q);
RH_API uint32_t rh_queue_payload_size(const rh_queue *q);   /* bytes of payload per slot */

/*
 * Enqueue one message.  env may be NULL; otherwise its id (all-zero: a new
 * one is generated), correlation_id, priority and flags are used, the rest
 * is filled in.  The assigned id is written to *id_out when not NULL.
 * A full queue follows the queue's policy: RH_ETIMEDOUT (block), RH_EFULL
 * (reject), 0 after evicting the oldest (drop_oldest), RH_EDROPPED
 * (drop_newest); each counted.  RH_ETOOBIG when len exceeds the slot.
 * Lock-free, no allocation; a syscall only to wake a parked consumer or
 * while blocking.
 * RH_ESTALE (an attached client only): the queue's host is gone or another
 * host took the queue over, so what is sent here reaches no host.  Found
 * out two ways: a new host that took the queue over marks it, and every
 * send reads that mark right after it publishes (one load of a line the
 * send has just written), so the send after the one that met it says
 * RH_ESTALE; a host that died and has no successor yet is found on slow
 * paths only (a full queue, a send that would wait: at most every 100 ms),
 * so sends to a dead host's queue that is not full succeed.  Sticky: every
 * later send says RH_ESTALE at once.
 * The one rule of the take-back: rh_recv on a stale handle gives back what
 * reached its queue and no host will ever take, envelopes and ids intact
 * (it says RH_ESTALE once there is no more), and only that:
 *  - a queue that is not persist: everything in it (its next host makes a
 *    new one); rh_queue_stats_get(q).depth says how many;
 *  - a persist queue: nothing while it is not taken over: it outlives its
 *    host and the next host delivers every message in it (including those
 *    the dead host's kernel held, which a receive here would acknowledge,
 *    and so lose); once a new host took it over under this client, exactly
 *    what this client (or another attached one) sent after the takeover.
 * So: take back what rh_recv gives, rh_queue_close, rh_queue_attach again
 * (RH_ENOENT or RH_EEXIST until the new host is up) and resend those and the
 * refused message (with the same ids, so a dedup window drops a copy that
 * did get through); `ringhost send` does all of this itself.
 * A send claims its cell, then waits for the senders that claimed before
 * it to publish theirs (in order).  One that is slow (descheduled, stopped)
 * is waited for, however long, up to the queue's block_timeout_ms (at
 * least 1 s), whatever the policy: then RH_ETIMEDOUT, the message not sent
 * (counted as rejected), nothing marked.  One that died between its claim
 * and its publish is repaired by the waiter (its cells published void)
 * and the send goes on.  RH_EBUSY: more than 64 threads send to this queue
 * at once (each names its claims in the queue's header) and none left its
 * place for 10 s; not sent, retry.
 * RH_ECORRUPT: the queue's indices cannot be true (another process wrote
 * them: a head scribbled ahead of its tail, heads or tails that describe
 * no queue): a wait for an earlier claim no sender holds lasted 1 s and was
 * given up, the indices were found impossible (the queue then halts: every
 * send and receive says RH_ECORRUPT), or the queue is full and its
 * consumers' side is marked so.  The message was not sent (counted as
 * rejected); the host logged queue.corrupt with the values and `ringhost
 * stat` counts it (corrupt).  Every later call on that side says
 * RH_ECORRUPT at once; relaunch the host (a persist queue: `ringhost purge`
 * it) to get a sound queue.
 */
RH_API int rh_send(rh_queue *q, const rh_envelope *env, const void *payload, uint32_t len,
                   rh_id *id_out);

/*
 * Dequeue one message into *env and buf (buf_len bytes).  A payload shorter
 * than the queue's type is zero-extended in buf up to the type's size (or
 * buf_len if smaller), so buf always holds a whole struct.  timeout_ms: 0 =
 * do not wait, <0 = wait forever, else wait up to that long (parked on a
 * futex, no CPU burnt).  Returns the payload length, RH_EEMPTY (timeout 0),
 * RH_ETIMEDOUT, or RH_ETOOBIG (buf too small; the message stays queued).
 * RH_ESTALE (an attached client only; checked when the queue is empty, and
 * every 100 ms of a wait): its host is gone or another host replaced the
 * queue, as in rh_send: close, attach again.  On a handle already stale it
 * gives back only what no host will take (rh_send's take-back rule).  RH_ECORRUPT: the queue is
 * empty and its producers' side is marked corrupt (rh_send), so nothing
 * will ever arrive.  A message taken behind a consumer that never
 * published (the same marks) is still returned: it is the caller's.
 */
RH_API int rh_recv(rh_queue *q, rh_envelope *env, void *buf, uint32_t buf_len, int timeout_ms);

/*
 * Enqueue n messages of len bytes each, the i-th payload at
 * payloads + i*stride (stride >= len; an array of structs passes its
 * sizeof).  envs may be NULL (fresh envelopes) or hold n envelopes used as
 * rh_send uses env; the assigned ids go to ids_out[0..n) when not NULL.
 * The run of messages that fits is enqueued with one claim, one clock read
 * and one doorbell — far cheaper per message than n rh_send calls.  Past
 * that, each message meets the queue's policy as in rh_send: drop_oldest
 * evicts, drop_newest discards it (counted) and goes on, block waits up to
 * block_timeout_ms, reject refuses.  Returns how many messages were dealt
 * with for good (enqueued, or discarded by a drop policy): a return k < n
 * means message k was refused (block timed out or reject; counted as
 * rejected) and k.. were not sent, so the caller may retry from k.
 * RH_EINVAL (bad arguments), RH_ETOOBIG (len exceeds the slot).
 * RH_ESTALE, RH_ECORRUPT, RH_EBUSY, and RH_ETIMEDOUT behind a sender
 * slower than block_timeout_ms: as in rh_send, when not one message was
 * sent (a refusal of message k > 0 for those reasons returns k; the next
 * call on the rest says which).
 */
RH_API int rh_send_burst(rh_queue *q, const rh_envelope *envs, const void *payloads,
                         uint32_t stride, uint32_t len, uint32_t n, rh_id *ids_out);

/*
 * Dequeue up to n messages in one claim: the i-th payload goes to
 * bufs + i*stride, zero-extended to the type's size as rh_recv does, and its
 * envelope to envs[i] (envs may be NULL).  stride must be at least
 * rh_queue_payload_size(q) bytes, so no message is ever cut short.
 * timeout_ms as in rh_recv: waits for at least one message.  Returns how
 * many (0 only when timeout_ms is 0 and the queue is empty), RH_ETIMEDOUT,
 * or RH_EINVAL (NULL queue or bufs, stride smaller than the slot).
 * RH_ESTALE and RH_ECORRUPT as in rh_recv.
 */
RH_API int rh_recv_burst(rh_queue *q, rh_envelope *envs, void *bufs, uint32_t stride, uint32_t n,
                         int timeout_ms);

/* Zero-copy clients (loans and peeks): ringhost/zero_copy.h, included here
 * so that ringhost.h remains the one header an embedder includes. */
#include "ringhost/zero_copy.h"

/* Snapshot of the queue's counters into *out, whose struct_size the caller
 * set (RH_QUEUE_STATS_INIT): min(struct_size, sizeof) bytes are written
 * (see "structs that grow").  0, or RH_EINVAL (NULL, or a struct_size of 0
 * or below the first version: nothing written, logged as api.struct_size
 * on stderr). */
RH_API int rh_queue_stats_get(const rh_queue *q, rh_queue_stats *out);

/*
 * Browse a queue without taking anything: copy the next message waiting
 * after *cursor into *env and buf (buf_len >= rh_queue_payload_size(q); the
 * payload zero-extended to it) and advance *cursor.  Set *cursor to 0 to
 * start at the oldest message waiting; otherwise treat it as opaque.
 * Returns the payload length, RH_EEMPTY when no message waits after the
 * cursor (call again later to see newer ones), RH_EINVAL for bad arguments.
 * No index, counter or bell of the queue changes: consumers and producers
 * are not disturbed.  A snapshot, not a transaction: a message a consumer
 * takes while the browse runs is missed, never returned torn (a copy whose
 * cell a producer may have reused is detected and skipped) and never twice.
 */
RH_API int rh_queue_peek(rh_queue *q, uint64_t *cursor, rh_envelope *env, void *buf,
                         uint32_t buf_len);

/* List the shared queues of an instance: calls fn for each name, once
 * whatever numbered objects it has (rh_queue_attach); returns the count or a
 * negative code. */
RH_API int rh_queue_list(const char *instance, void (*fn)(const char *name, void *arg), void *arg);

/* The runtime (launch a manifest in this process, its lifecycle and
 * counters): ringhost/runtime.h, included here so that ringhost.h remains
 * the one header an embedder includes. */
#include "ringhost/runtime.h"

#ifdef __cplusplus
}
#endif
#endif /* RINGHOST_RINGHOST_H */
