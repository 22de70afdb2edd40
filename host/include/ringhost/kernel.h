/*
 * ringhost/kernel.h — the plugin ABI: the only header a kernel includes.
 *
 * A kernel lives in a shared object in plugins/ and exports exactly one symbol,
 * RH_KERNEL_ENTRY_SYMBOL, a function returning its descriptor (use
 * RH_KERNEL_EXPORT).  The host dlopen()s the file, calls the entry, checks the
 * descriptor (ABI version, struct_size, required fields, port names, type
 * fingerprints) and only then wires the kernel's ports to named queues.
 *
 * Kernels never call host symbols directly: every host service goes through
 * the function table in rh_ctx (Redis-module style).  That keeps a plugin free
 * of undefined host symbols, lets a cmocka test drive a kernel with a fake
 * context, and lets the host add functions later without breaking old plugins
 * (check rh_host_api.struct_size before using a newer member).
 *
 * Threading: init, process/run and fini of one worker are always called from
 * the same dispatch thread, one call at a time.  Different workers of the
 * same kernel may run concurrently on different threads with their own state.
 */
#ifndef RINGHOST_KERNEL_H
#define RINGHOST_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version.  A plugin whose major differs is refused; a plugin whose
 * minor is newer than the host's is refused (it may rely on host functions
 * this host lacks); an older minor loads. */
#define RH_ABI_MAJOR 1
#define RH_ABI_MINOR 1 /* 1.1: rh_kernel_desc.device (device kernels) */

/* Name of the one symbol a plugin exports. */
#define RH_KERNEL_ENTRY_SYMBOL "rh_kernel_entry"

/*
 * RH_API marks a function (or object) of the host's public API: every
 * declaration of ringhost/ringhost.h and ringhost/testing.h carries it
 * (libuv's UV_EXTERN).  The host's sources are compiled with
 * -fvisibility=hidden, so in libringhost.so exactly what is marked here is
 * exported and everything else the host defines stays internal.  It is
 * defined here, not in ringhost.h, because kernel.h is the one header the
 * other two both include; kernel.h itself declares no host function (a
 * kernel reaches the host only through rh_ctx.api), so for a plugin it
 * changes nothing, and a plugin's entry symbol is exported by
 * RH_KERNEL_EXPORT on its own.  Define RH_API before including a ringhost
 * header to override it (empty, say, for a compiler without the visibility
 * attribute).
 */
#ifndef RH_API
#if defined(__GNUC__) || defined(__clang__)
#define RH_API __attribute__((visibility("default")))
#else
#define RH_API
#endif
#endif

/* ---------------------------------------------------------------- ids ---- */

/* A 128-bit message id (UUID-sized).  All zero means "none". */
typedef struct rh_id {
    uint64_t hi;
    uint64_t lo;
} rh_id;

/* --------------------------------------------------------- envelope ------ */

/* Envelope flags. */
#define RH_ENV_HAS_CORRELATION 0x01u /* correlation_id is meaningful */
/* Host use, readable by kernels: the kernel's process crashed while this
 * message was in its batch ("isolation": "process"); it is being retried
 * alone, and a second crash on it dead-letters it as poison. */
#define RH_ENV_RETRIED 0x02u
/* Host use, readable by kernels: this message may have been processed
 * before (a persist queue delivered it again after its host was killed,
 * for instance), or it answers such a message.  Its answers get the ids they
 * got the first time (see "Answer ids" below), and the output bridge drops
 * those already in the output queue. */
#define RH_ENV_REDELIVERED 0x04u

/*
 * Per-message metadata, stored in front of every payload in every queue and
 * ring slot.  48 bytes.
 *
 * Answer ids: an output emitted for an input `in` (rh_emit or
 * rh_emit_commit with in from the batch the kernel holds) gets an id
 * derived from in's id, the output port and its index among in's outputs
 * on that port (0 for the first, 1 for the second, ... in emit order),
 * (ringhost/answer_id.h: a fixed-key hash of in's high half, port and
 * index, and in's low half): the same input answered again gives the same
 * ids, in any process and any run, so a repeat is a duplicate any dedup
 * window recognises.  An output with no input (in NULL, a run() kernel's
 * emit outside a polled batch, an in from an earlier batch) gets a fresh id.
 */
/* Frozen (ringhost.h, "structs that grow"): it lies in every queue cell and
 * arrays of it go to the burst calls, so its size never changes. */
typedef struct rh_envelope {
    rh_id id;             /* unique message id, generated when the sender gives none */
    rh_id correlation_id; /* for outputs: the id of the input that produced it */
    uint64_t enqueue_ns;  /* CLOCK_MONOTONIC ns when it entered its named queue */
    uint32_t payload_len; /* bytes of payload that follow (<= type size) */
    uint8_t priority;     /* 0..255, informational */
    uint8_t flags;        /* RH_ENV_* */
    uint16_t port;        /* host use: input port index inside a kernel ring */
} rh_envelope;

/* ------------------------------------------------------- message types --- */

struct json_t; /* jansson's json_t; generated codecs use jansson */

/*
 * A message type descriptor.  Generated by ringhost-gen from a JSON schema;
 * never written by hand.  The fingerprint is a 64-bit FNV-1a hash of the
 * canonical schema text: two types with equal fingerprints have the same
 * layout and meaning.
 */
typedef struct rh_type {
    uint32_t struct_size;  /* sizeof(rh_type) the generator was built against */
    const char *name;      /* "vector_add.request" */
    uint64_t fingerprint;  /* never 0 for a valid type */
    uint32_t size;         /* bytes of the C struct (the payload) */
    uint32_t align;        /* alignment of the C struct, bytes */
    const char *schema;    /* canonical schema JSON text */
    /* 0 when msg is well formed; otherwise -1 and a reason in why. */
    int (*validate)(const void *msg, char *why, size_t why_len);
    /* Fill *msg (size bytes) from a JSON object; 0, or -1 and a reason. */
    int (*decode)(const struct json_t *json, void *msg, char *why, size_t why_len);
    /* A new JSON object for msg (caller owns the reference), NULL on ENOMEM. */
    struct json_t *(*encode)(const void *msg);
} rh_type;

/* A named, typed port of a kernel. */
typedef struct rh_port {
    const char *name;    /* unique among the kernel's inputs, and among its outputs */
    const rh_type *type; /* never NULL */
} rh_port;

/* --------------------------------------------------------- messages ------ */

/* One input message, read in place: both pointers point into a ring slot
 * (thread bridge) or, with "bridge": "inline", into the cell of the named
 * queue itself (nothing copied), and are valid only until process()
 * returns.  The bytes past the payload's length read as zeros either way. */
typedef struct rh_msg {
    const rh_envelope *env;
    const void *data;  /* the payload, a struct of the port's type */
    uint32_t port;     /* index into the kernel's inputs */
} rh_msg;

typedef struct rh_batch {
    uint32_t count;
    const rh_msg *msgs;
} rh_batch;

/* ----------------------------------------------------------- context ----- */

typedef struct rh_ctx rh_ctx;

/* Log levels for rh_log(). */
enum { RH_LOG_ERROR = 0, RH_LOG_WARN = 1, RH_LOG_INFO = 2, RH_LOG_DEBUG = 3 };

/*
 * Host services, resolved at load time.  New members are only ever appended;
 * struct_size tells which are present.
 */
typedef struct rh_host_api {
    uint32_t struct_size;
    /* Copy one output message of len bytes to output port `port`.  `in` is the
     * input it answers (its id becomes the output's correlation id, and the
     * output's id derives from it: "Answer ids" above) or NULL.
     * Returns 0, or a negative RH_E code (RH_EINVAL bad port/len, RH_ESTOPPED). */
    int (*emit)(rh_ctx *ctx, uint32_t port, const rh_msg *in, const void *msg, uint32_t len);
    /* Zero-copy emit: a pointer to a slot payload of the port's type size,
     * or NULL when the port is invalid or the host is stopping.  The slot is
     * reused, so it holds an earlier message's bytes: write every field you
     * send.  Exactly one emit_commit must follow before the next reserve on
     * that port, within the same process() call (with "bridge": "inline" the
     * slot is a cell of the output queue itself, and a reservation not
     * committed when process() returns is dropped, or sent empty when
     * another producer claimed a cell after it, logged).  Both emit and
     * emit_reserve wait while the output ring is full (the output bridge
     * empties it). */
    void *(*emit_reserve)(rh_ctx *ctx, uint32_t port);
    /* Publish the reserved slot with len payload bytes; a reader sees the
     * bytes past len as zeros. */
    int (*emit_commit)(rh_ctx *ctx, uint32_t port, const rh_msg *in, uint32_t len);
    /* Report that message `in` (one of the batch being processed) failed,
     * with a reason (NULL: "(no reason)"): the host counts it as failed on
     * its input queue and puts it in the kernel's dead-letter queue
     * `<kernel>.dlq` with the reason and its original envelope.  Each
     * message is dead-lettered once, however often it is failed.  In = NULL,
     * or a message of a batch already returned, is only logged. */
    void (*fail)(rh_ctx *ctx, const rh_msg *in, const char *reason);
    /* For kernels with run(): wait up to timeout_ms (<0: until input or
     * stop) for input, fill *batch with up to max messages (0: the manifest's
     * batch size; valid until the next poll, which also publishes what was
     * emitted for them), return the count, 0 on timeout, or RH_ESTOPPED once
     * the kernel must return (the host is terminating and its rings are
     * empty).  While the host is deactivated it keeps waiting. */
    int (*poll)(rh_ctx *ctx, rh_batch *batch, uint32_t max, int timeout_ms);
    /* Non-zero once run() must return. */
    int (*should_stop)(rh_ctx *ctx);
    /* One log line from the kernel. */
    void (*log)(rh_ctx *ctx, int level, const char *msg);
} rh_host_api;

/* What a kernel sees of its host.  Read-only for the kernel. */
struct rh_ctx {
    const rh_host_api *api;
    const char *kernel_name; /* the manifest's kernel name */
    uint32_t worker;         /* 0 .. workers-1 */
    uint32_t workers;
    void *host;              /* host-private */
};

/* ------------------------------------------------------- descriptor ------ */

/*
 * What the entry symbol returns.  Required: name, at least one port,
 * every port's name and type, and process or run (not both).
 */
typedef struct rh_kernel_desc {
    uint16_t abi_major;      /* RH_ABI_MAJOR */
    uint16_t abi_minor;      /* RH_ABI_MINOR */
    uint32_t struct_size;    /* sizeof(rh_kernel_desc) */
    const char *name;        /* what manifests name in "plugin" */
    const char *version;     /* free text, e.g. "1.0.0" */
    const char *description; /* one line */
    const rh_port *inputs;
    uint32_t n_inputs;
    const rh_port *outputs;
    uint32_t n_outputs;
    /* Optional.  config_json is the manifest's "config" object as compact
     * JSON text ("{}" when absent).  Returns 0, or a negative value to refuse
     * the launch. */
    int (*init)(rh_ctx *ctx, const char *config_json, void **state);
    /* Process one batch (1..batch messages).  Returns 0, or a negative value
     * when the whole batch failed (every message in it is counted failed). */
    int (*process)(rh_ctx *ctx, void *state, const rh_batch *batch);
    /* Alternative to process: own the loop, using rh_poll/rh_should_stop. */
    int (*run)(rh_ctx *ctx, void *state);
    /* Optional.  When fini returns (or, without fini, when the last
     * process/run call of the last worker returns), no code of the plugin
     * may still run: threads the kernel started must be joined, timers and
     * callbacks it registered with other libraries removed.  The host unloads
     * a build once nothing runs it (after a hot swap, after a terminate), and
     * code still running from an unloaded build crashes the host. */
    void (*fini)(rh_ctx *ctx, void *state);
    /* ---- appended after ABI 1.0; read only when struct_size covers it ---- */
    /* Optional (NULL: the kernel declares no config keys).  The keys the
     * manifest's "config" object may hold, as JSON text: an object of
     * key -> {"type": "number"|"integer"|"string"|"boolean"|"object"|"array",
     * "default": V, "minimum": N, "maximum": N, "description": "..."}, every
     * member but "type" optional, e.g.
     *   "{\"factor\": {\"type\": \"number\", \"default\": 2}}".
     * `ringhost inspect` and `ringhost plugins --json` show it; init() still
     * checks the config itself.  A plugin built before this member existed
     * has a smaller struct_size, and the host reads it as NULL
     * (rh__plugin_config_schema), so the ABI minor stays 0: reading it
     * relies on no host function. */
    const char *config_schema;
    /* ---- ABI 1.1 ---- */
    /* Optional (NULL: a CPU kernel).  The kernel's device code
     * (ringhost/device.h): set, the kernel has neither process nor run and
     * runs where the manifest's "isolation" names a device executor
     * ("cuda").  A 1.0 plugin's struct_size does not cover it: read as
     * NULL (rh__plugin_device). */
    const struct rh_device_kernel *device;
} rh_kernel_desc;

typedef const rh_kernel_desc *(*rh_kernel_entry_fn)(void);

/* Define the plugin's entry symbol returning &desc. */
#define RH_KERNEL_EXPORT(desc)                                                         \
    __attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry(void); \
    __attribute__((visibility("default"))) const rh_kernel_desc *rh_kernel_entry(void)  \
    {                                                                                  \
        return &(desc);                                                                \
    }

/* Fill the ABI fields of a descriptor initialiser. */
#define RH_KERNEL_ABI .abi_major = RH_ABI_MAJOR, .abi_minor = RH_ABI_MINOR, \
                      .struct_size = sizeof(rh_kernel_desc)

/* ------------------------------------------------ kernel-side helpers ---- */

/* Error codes a kernel may see (same values as in ringhost.h). */
#ifndef RH_ESTOPPED
#define RH_ESTOPPED (-1007)
#endif

static inline int rh_emit(rh_ctx *ctx, uint32_t port, const rh_msg *in, const void *msg,
                          uint32_t len)
{
    return ctx->api->emit(ctx, port, in, msg, len);
}

static inline void *rh_emit_reserve(rh_ctx *ctx, uint32_t port)
{
    return ctx->api->emit_reserve(ctx, port);
}

static inline int rh_emit_commit(rh_ctx *ctx, uint32_t port, const rh_msg *in, uint32_t len)
{
    return ctx->api->emit_commit(ctx, port, in, len);
}

static inline void rh_fail(rh_ctx *ctx, const rh_msg *in, const char *reason)
{
    (ctx->api->fail)(ctx, in, reason); /* parenthesised: cmocka defines a fail() macro */
}

static inline int rh_poll(rh_ctx *ctx, rh_batch *batch, uint32_t max, int timeout_ms)
{
    return ctx->api->poll(ctx, batch, max, timeout_ms);
}

static inline int rh_should_stop(rh_ctx *ctx)
{
    return ctx->api->should_stop(ctx);
}

static inline void rh_log(rh_ctx *ctx, int level, const char *msg)
{
    ctx->api->log(ctx, level, msg);
}

#ifdef __cplusplus
}
#endif
#endif /* RINGHOST_KERNEL_H */
