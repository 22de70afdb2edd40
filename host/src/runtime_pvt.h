/*
 * runtime_pvt.h — the runtime's private structures, shared by runtime.c
 * (lifecycle and wiring), bridge.c (pumps), dispatch.c (reactor threads and
 * the kernel call) and metrics.c (counts and reports).
 *
 * Ownership: rh_runtime owns everything.  A kernel (rh_kinst) has workers;
 * each worker owns one input ring per input port and one output ring per
 * output port.  An input bridge moves one named queue into the input rings
 * of a kernel port (one target ring per worker); an output bridge moves the
 * output rings of one kernel port (one source ring per worker) into a named
 * queue.  Reactors are threads: each runs a list of tasks (a worker's
 * dispatch step, a bridge step) in turn.
 */
#ifndef RH_RUNTIME_PVT_H
#define RH_RUNTIME_PVT_H

#include <pthread.h>
#include <stdatomic.h>

#include <hwloc.h>

#include "manifest.h"
#include "plugin.h"
#include "ring.h"
#include "ringhost/ringhost.h"
#include "wait.h"

typedef struct rh_runtime rh_runtime;
typedef struct rh_kinst rh_kinst;
typedef struct rh_worker rh_worker;
typedef struct rh_reactor rh_reactor;

/* Message ids the input bridge accepted recently (dedup window). */
typedef struct rh_dedup {
    uint32_t window;  /* N: remember the last N accepted ids; 0 = off */
    uint32_t mask;    /* table size - 1 (4N rounded up to a power of two) */
    uint64_t seq;     /* ids accepted so far */
    struct rh_dedup_slot {
        rh_id id;
        uint64_t seq; /* 1-based acceptance number, 0 = never used */
    } *table;
} rh_dedup;

int rh_dedup_init(rh_dedup *d, uint32_t window);
void rh_dedup_free(rh_dedup *d);
/* Non-zero when id is among the last N accepted; otherwise records it. */
int rh_dedup_seen_or_add(rh_dedup *d, rh_id id);

#define RH_ACK_MARKS 64 /* bursts in flight a persist input bridge tracks */
#define RH_ACK_OUTS 64  /* workers x outputs it can watch precisely */

typedef struct rh_in_bridge {
    rh_kinst *kernel;
    uint32_t port;         /* input port index */
    rh_queue *queue;
    const rh_type *type;
    rh_ring **targets;     /* one per worker it feeds */
    uint32_t n_targets;
    uint32_t next;         /* round-robin cursor */
    uint32_t burst;
    uint64_t ttl_ns;       /* 0 = off */
    rh_dedup *dedup;       /* the port's window (rh_kinst.dedup[port]) */
    pthread_mutex_t *dedup_lock; /* non-NULL when several bridges share it (inline workers) */
    _Atomic uint64_t moved; /* messages put into kernel rings (written by its thread) */
    _Atomic int inflight;  /* between dequeue and ring commit (for idleness checks) */
    int ack;               /* the queue is persist: ack what the kernel finished (bridge.c) */
    /* Precise acks (bridge.c): one mark per burst taken, oldest first, and
     * the output ring positions the oldest finished marks wait for.  Only
     * the bridge's own thread touches them. */
    int precise;           /* 0 not decided yet, 1 marks kept, -1 quiescence only */
    int overflow;          /* a burst went unmarked: marks stop until quiescence */
    uint32_t first_mark, n_marks;
    struct rh_ack_mark {
        uint64_t queue_end; /* queue position after the burst */
        uint64_t ring_end;  /* ring position after its messages */
        uint32_t ring;      /* index in targets */
        uint32_t kept;      /* its messages in the ring (ring_end - kept: the first) */
        int exact;          /* none refused: queue and ring positions match one to one */
    } marks[RH_ACK_MARKS];
    int out_wait;          /* pending_end waits for out_need */
    uint64_t pending_end;
    uint64_t out_need[RH_ACK_OUTS];
} rh_in_bridge;

typedef struct rh_out_bridge {
    rh_kinst *kernel;
    uint32_t port;         /* output port index */
    rh_queue *queue;
    rh_ring **sources;     /* one per worker */
    uint32_t n_sources;
    uint32_t burst;
    _Atomic uint64_t sent;     /* accepted by the queue */
    _Atomic uint64_t refused;  /* the queue's policy refused it (counted there too) */
} rh_out_bridge;

/* Move up to one burst; return the number of messages moved. */
uint32_t rh_in_bridge_step(rh_in_bridge *b);
uint32_t rh_out_bridge_step(rh_out_bridge *b);
/* Move from one source ring only (a worker flushing its own outputs inline). */
uint32_t rh_out_bridge_flush_ring(rh_out_bridge *b, rh_ring *src);

struct rh_worker {
    rh_kinst *kernel;
    uint32_t index;
    rh_ctx ctx;
    void *state;
    int init_rc;                     /* init() result, reported to launch */
    rh_ring *in[RH_MAX_PORTS];
    rh_ring *out[RH_MAX_PORTS];
    uint32_t out_pending[RH_MAX_PORTS]; /* reserved-and-filled, not yet committed */
    rh_in_bridge *inline_in[RH_MAX_PORTS];  /* inline mode: this worker pulls itself */
    rh_reactor *reactor;
    uint32_t next_port;              /* round robin over input ports */
    rh_msg *msgs;                    /* batch scratch, kernel batch size */
    _Atomic uint64_t processed;      /* messages handed to the kernel */
    _Atomic uint64_t failed;         /* rh_fail() or batch failures */
    _Atomic uint64_t emitted;        /* outputs committed */
    _Atomic uint64_t batches;
    _Atomic uint64_t heartbeat_ns;   /* last time the dispatch step ran */
    _Atomic int busy;                /* inside process() */
    const rh_msg *run_batch_pending; /* run(): the batch handed out by poll, released next poll */
    uint32_t run_port, run_count;
    /* The batch the kernel holds now (process() or run() between polls), so
     * rh_fail can find a message in it: batch_n messages in msgs[], and a
     * mark per message failed so far (cleared on the first rh_fail of a
     * batch, so a batch nobody fails costs one store). */
    uint32_t batch_n;
    int batch_marked;
    uint8_t *failed_mark;            /* kernel batch size entries */
};

struct rh_kinst {
    rh_runtime *rt;
    uint32_t index;                  /* in the manifest */
    const rh_kernel_decl *decl;
    const rh_plugin *plugin;
    const rh_kernel_desc *desc;
    uint32_t in_plan[RH_MAX_PORTS];  /* wiring: index into rt->qplan per port */
    uint32_t out_plan[RH_MAX_PORTS];
    rh_queue *in_q[RH_MAX_PORTS];    /* set once the queues exist */
    rh_queue *out_q[RH_MAX_PORTS];
    uint32_t dlq_plan;               /* wiring: index into rt->qplan of "<kernel>.dlq" */
    rh_queue *dlq;                   /* its dead-letter queue (dlq.h), once created */
    rh_worker *workers;
    uint32_t n_workers;
    rh_in_bridge *in_bridges;        /* n_inputs (thread mode) or n_inputs*workers (inline) */
    uint32_t n_in_bridges;
    rh_out_bridge *out_bridges;      /* n_outputs */
    /* One dedup window per input port, whatever the number of bridges, so
     * a duplicate is caught even when inline workers pull it separately. */
    rh_dedup dedup[RH_MAX_PORTS];
    pthread_mutex_t dedup_lock[RH_MAX_PORTS];
    int dedup_lock_init[RH_MAX_PORTS];
};

/* A unit of work a reactor runs: returns the number of messages moved. */
typedef struct rh_task {
    uint32_t (*step)(void *arg);
    void *arg;
    rh_bell **bells;                 /* what wakes it (owned by the reactor) */
    uint32_t n_bells;
    const char *what;                /* "dispatch vadd#0", "pump in vadd.requests" */
} rh_task;

struct rh_reactor {
    rh_runtime *rt;
    char name[64];                   /* thread name: "rh-d-core:1" */
    char key[64];                    /* cpuset list, or "" for a private thread */
    hwloc_bitmap_t cpuset;           /* empty = not pinned */
    rh_wait_kind wait;
    rh_task *tasks;
    uint32_t n_tasks, cap_tasks;
    rh_worker **workers;             /* workers whose init/fini run here */
    uint32_t n_workers, cap_workers;
    pthread_t thread;
    int started;                     /* thread created */
    _Atomic int ready;               /* 1 running, -1 failed to start */
    _Atomic int stop;
    _Atomic uint64_t loops;          /* iterations, for rh_reactor_sync */
    _Atomic int last_cpu;
    rh_bell bell;                    /* control: stop, state changes */
    char bind_error[256];
    int run_kernel;                  /* a run() kernel owns this thread (its only task) */
    int stuck;                       /* did not stop by its join deadline */
};

/* Lifecycle flags read by every step. */
enum {
    RH_FLOW_PAUSED = 0,   /* launched or deactivated: kernels and input bridges idle */
    RH_FLOW_RUNNING = 1,  /* active */
    RH_FLOW_DRAINING = 2, /* terminating: intake stopped, rings being emptied */
    RH_FLOW_STOPPED = 3,  /* terminating: everything must return */
};

struct rh_runtime {
    rh_manifest *m;
    char instance[64];
    FILE *log;
    int report_bindings;
    rh_plugin_set plugins;
    rh_state state;
    _Atomic int flow;                /* RH_FLOW_*: what steps may do now */
    uint64_t launch_ns, activate_ns;
    rh_queue **queues;
    uint32_t n_queues;
    rh_kinst *kernels;
    uint32_t n_kernels;
    rh_reactor **reactors;
    uint32_t n_reactors;
    unsigned policy_next;            /* next thread index for the placement policy */
    struct rh_qplan *qplan;          /* wiring: one per queue to create */
    uint32_t n_qplan;
    int dlq_types_known;             /* kernels' input types added to the dead-letter registry */
    int unbalanced;                  /* queues whose accounting line at terminate did not balance */
};

/* A queue the wiring found: declared in "queues" or auto-created for an
 * unwired port ("<kernel>.<port>"). */
typedef struct rh_qplan {
    char name[RH_QUEUE_NAME_MAX + 1];
    rh_queue_config cfg;
    const rh_type *type;   /* NULL until a port or the declaration gives one */
    const char *origin;    /* plugin path defining the type */
    char first_use[128];   /* JSON path that set the type, for error messages */
    rh_queue *queue;       /* once created */
    char reader[160];      /* JSON path of the first input port reading it, "" if none */
} rh_qplan;

/* bridge.c: once every thread is joined, ack on each persist queue what
 * its kernel finished (the threads ack as they go; the last batch of the
 * drain would otherwise be delivered again by the next launch). */
void rh_in_bridges_ack_finished(rh_runtime *rt);
/* The same for one bridge, from its own thread (done by each step; this
 * is for a pump that does not step: paused or draining). */
void rh_in_bridge_ack(rh_in_bridge *b);

/* dispatch.c */
uint32_t rh_worker_step(void *worker);
uint32_t rh_in_bridge_task(void *bridge);
uint32_t rh_out_bridge_task(void *bridge);
extern const rh_host_api rh_host_api_v1;
int rh_reactor_start(rh_reactor *r);
/* Wait until the reactor ran one full loop after a flag change, or until
 * deadline_ns (rh_now_ns); 0, or RH_ETIMEDOUT (a kernel is inside a long
 * process() call). */
int rh_reactor_sync(rh_reactor *r, uint64_t deadline_ns);
/* Stop the thread and join it by deadline_ns; RH_ETIMEDOUT leaves it
 * running and marks the reactor stuck (its memory must then never be
 * freed). */
int rh_reactor_stop_join(rh_reactor *r, uint64_t deadline_ns);
int rh_reactor_add_task(rh_reactor *r, const rh_task *t);
int rh_worker_flush_outputs(rh_worker *w);

/* metrics.c: no message in a kernel ring or process(); with queues, none in
 * a kernel's input queue or a bridge either. */
int rh_runtime_is_quiet(rh_runtime *rt, int queues_too);

/*
 * One queue's accounting (metrics.c): where every message it accepted went.
 *   accepted      = enqueued (a send the queue refused, rejected or
 *                   dropped_newest, was never accepted: `refused`)
 *   delivered     = a queue some kernel reads: messages its input bridges put
 *                   into kernel rings that the kernels took and did not fail
 *                   (moved - in kernel rings - failed); any other queue:
 *                   dequeued (taken by a client, the CLI, another process)
 *   dead_lettered = invalid + expired + failed, each put into the kernel's
 *                   dead-letter queue (the dead_lettered counter)
 *   dropped       = dropped_oldest + duplicates (explicit policies)
 *   queued        = depth + messages in kernel rings not yet processed
 * balanced when accepted == delivered + dead_lettered + dropped + queued.
 */
typedef struct rh_queue_account {
    uint64_t accepted, delivered, dead_lettered, dropped, queued;
    uint64_t refused;  /* rejected + dropped_newest: never accepted, the sender was told */
    int64_t missing;   /* accepted - (delivered + dead_lettered + dropped + queued) */
    int balanced;
} rh_queue_account;

/* Fill *out from one queue's counters.  kernel_input: some kernel reads the
 * queue; moved: what its input bridges put into kernel rings; in_rings: what
 * is still in those rings.  Returns out->balanced. */
int rh_queue_account_of(const rh_queue_stats *s, int kernel_input, uint64_t moved,
                        uint64_t in_rings, rh_queue_account *out);

/* Slots of a kernel ring for a port of type_size bytes: `configured` when
 * the manifest set ring_capacity, else as many as fit in 4 MiB, a power of
 * two from 64 to 1024 (runtime.c says why). */
uint32_t rh_kernel_ring_slots(uint32_t configured, uint32_t type_size);

#endif /* RH_RUNTIME_PVT_H */
