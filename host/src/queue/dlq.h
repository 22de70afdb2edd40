/*
 * dlq.h — dead-letter queues: where a message goes when it cannot be
 * delivered, with the reason, instead of vanishing.
 *
 * Every kernel has one, a named queue "<kernel>.dlq" created at launch like
 * any other (shared, so `ringhost recv <kernel>.dlq` reads it from another
 * process).  Three things put a message there, each counted on the queue the
 * message came from (its `dead_lettered` counter, besides `invalid`,
 * `expired` or `failed`):
 *   - the input bridge, for a message that fails its type's validation
 *     (stage "invalid") or is older than the queue's ttl_ms (stage
 *     "expired");
 *   - the kernel, through rh_fail(ctx, msg, reason), or for every message
 *     of a batch whose process() returned < 0 (stage "failed").
 * And one thing puts an output there: the output bridge, for an answer its
 * output queue refused (reject, block after block_timeout_ms, a corrupt
 * queue) or still had no room for when the host or its kernel stopped
 * (stage "undeliverable", source_queue the output queue; a drop_newest
 * queue's drops are only counted, as declared).  That queue never
 * accepted it, so it is counted by the bridge (`undeliverable`, in the
 * kernel's accounting line, metrics.c), not on the queue.
 * Duplicates are not dead-lettered: dropping them is the dedup window's
 * purpose (a sender's retry), so they are only counted.
 *
 * A dead letter is one message of the host-defined type
 * "ringhost.dead_letter": a fixed header (rh_dead_letter) followed by the
 * original payload's bytes.  A kernel's inputs may have several types, so
 * the payload room is the largest of them, rounded up to a size class (a
 * quarter octave: 64, 80, 96, 112, 128, 160, ... bytes).  Each class is one
 * rh_type with its own fingerprint, size, validate, decode and encode: the
 * codec knows the room it may read at compile time, so no length read from
 * shared memory can take it out of bounds.
 */
#ifndef RH_DLQ_H
#define RH_DLQ_H

#include <stdio.h>

#include "ringhost/ringhost.h"

#define RH_DLQ_TYPE_NAME "ringhost.dead_letter"
#define RH_DLQ_SUFFIX ".dlq"          /* "<kernel>.dlq" */
#define RH_DLQ_REASON_MAX 240         /* bytes of reason text, NUL included */
#define RH_DLQ_KERNEL_MAX 64          /* a manifest's kernel name, NUL included */
#define RH_DLQ_QUEUE_MAX 72           /* RH_QUEUE_NAME_MAX + NUL, padded */
#define RH_DLQ_TYPE_MAX 128           /* a message type name, NUL included */
#define RH_DLQ_CAPACITY_DEFAULT 256u  /* slots of a dead-letter queue the manifest does not declare */

/* Why a message was dead-lettered. */
typedef enum rh_dlq_stage {
    RH_DLQ_INVALID = 1, /* failed its type's validate() in the input bridge */
    RH_DLQ_EXPIRED = 2, /* older than the source queue's ttl_ms when the bridge took it */
    RH_DLQ_FAILED = 3,  /* failed by its kernel (rh_fail, or a batch failure) */
    RH_DLQ_UNDELIVERABLE = 4, /* an output its queue had no room for when the host (or its
                               * kernel) stopped: source_queue is the output queue */
} rh_dlq_stage;

/*
 * The payload of a dead letter.  The original message's envelope is kept in
 * the header (the dead letter's own envelope carries the same id and
 * correlation id, so `recv` shows the original id as "id").  Strings are
 * NUL-terminated within their arrays; payload[] holds payload_len bytes of
 * the original message, and the dead letter is sent with exactly
 * RH_DLQ_HEADER_SIZE + payload_len bytes (a receiver sees zeros past them).
 */
typedef struct rh_dead_letter {
    uint32_t stage;               /* rh_dlq_stage */
    uint32_t payload_len;         /* bytes of payload[] that are the original message */
    uint64_t type_fingerprint;    /* of the original message's type */
    rh_id id;                     /* the original envelope ... */
    rh_id correlation_id;
    uint64_t enqueue_ns;          /* CLOCK_MONOTONIC ns it entered source_queue */
    uint64_t dead_letter_ns;      /* CLOCK_MONOTONIC ns it was dead-lettered */
    uint8_t priority;
    uint8_t flags;                /* RH_ENV_* of the original */
    uint16_t port;                /* the kernel's input port index */
    uint32_t reserved;            /* 0 */
    char reason[RH_DLQ_REASON_MAX];
    char kernel[RH_DLQ_KERNEL_MAX];
    char source_queue[RH_DLQ_QUEUE_MAX];
    char type[RH_DLQ_TYPE_MAX];   /* the original message's type name */
    unsigned char payload[];      /* the original payload, up to the class's room */
} rh_dead_letter;

#define RH_DLQ_HEADER_SIZE ((uint32_t)sizeof(rh_dead_letter))

/*
 * The dead-letter type whose payload room is the smallest class of at
 * least payload_max bytes; NULL when payload_max is larger than the largest
 * class (1.75 GiB).  Static descriptors: never freed.
 */
const rh_type *rh__dlq_type_for(uint32_t payload_max);

/* The dead-letter type with this fingerprint, or NULL (how a client that
 * attached to "<kernel>.dlq" binds its type). */
const rh_type *rh__dlq_type_by_fingerprint(uint64_t fingerprint);

/* Non-zero when t is one of the dead-letter types. */
int rh__dlq_is_type(const rh_type *t);

/* Payload room of a dead-letter type (t->size - RH_DLQ_HEADER_SIZE). */
uint32_t rh__dlq_payload_room(const rh_type *t);

/*
 * The configuration of a dead-letter queue: an undeclared one gets
 * RH_DLQ_CAPACITY_DEFAULT slots, drop_oldest, no dedup window and no ttl,
 * and is shared like the manifest's defaults say.  A declared one keeps its
 * declaration, except that "block" becomes drop_oldest: dead-lettering must
 * never stall the bridge or kernel thread that does it.
 */
rh_queue_config rh__dlq_config(const rh_queue_config *defaults, const rh_queue_config *declared);

/*
 * Dead-letter one message into dlq (a queue of a dead-letter type) and count
 * it as dead-lettered on source.  type is the original message's type;
 * env and payload its envelope and bytes (payload_len clamped to the type's
 * size and the class's room); reason a text (cut to 239 bytes; NULL = "").
 * Callable from any thread; no allocation after the first call on a thread.
 * Returns 0, or the code of the dead-letter queue's policy when it refused
 * the message (RH_EFULL with reject, RH_EDROPPED with drop_newest: counted
 * there, and logged to log when not NULL).
 */
int rh__dlq_put(rh_queue *dlq, rh_queue *source, const char *kernel, const rh_type *type,
                rh_dlq_stage stage, const rh_envelope *env, const void *payload,
                const char *reason, FILE *log);

#endif /* RH_DLQ_H */
