/*
 * engine.h — the engine layer (engine/): the objects a running host is made
 * of, and what the layers above (faults/, launch/, live/, runtime.c,
 * control/) may call of it.  What only the engine's own files share is in
 * engine_pvt.h.
 *
 * Ownership: rh_runtime owns everything.  A kernel (rh_kinst) has workers;
 * each worker owns one input ring per input port and one output ring per
 * output port.  An input bridge moves one named queue into the input rings
 * of a kernel port (one target ring per worker); an output bridge moves the
 * output rings of one kernel port (one source ring per worker) into a named
 * queue.  Reactors are threads: each runs a list of tasks (a worker's
 * dispatch step, a bridge step) in turn.
 *
 * Who writes what: launch/ builds these objects (wiring.c plans the queues
 * and kernels, kernel_build.c the workers, rings, bridges and reactors)
 * before any thread starts; from then on a worker's and a bridge's fields
 * are their own thread's (each field says when it is shared, and how),
 * runtime.c and live/ change the flows, and each layer above keeps its own
 * state behind an opaque pointer of rh_runtime (watchdog: faults/; swapped,
 * watch: live/).  control/ writes nothing here: it calls runtime.c
 * (runtime.h).
 */
#ifndef RH_ENGINE_H
#define RH_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include <hwloc.h>

#include "ringhost/ringhost.h"
#include "base/hist.h"
#include "base/wait.h"
#include "engine/dedup.h"
#include "manifest/manifest.h"
#include "plugin/plugin.h"
#include "queue/queue_pvt.h"
#include "ring/ring.h"

typedef struct rh_runtime rh_runtime;
typedef struct rh_kinst rh_kinst;
typedef struct rh_worker rh_worker;
typedef struct rh_reactor rh_reactor;

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
    /* messages it took from the queue: moved or refused by its checks (void
     * cells are no message); the queue's dequeued count less every bridge's
     * taken is what clients took from the queue (metrics.c) */
    _Atomic uint64_t taken;
    _Atomic int inflight;  /* between dequeue and ring commit, or holding an in-place run
                            * (for idleness checks) */
    _Atomic int copying;   /* between dequeue and ring commit only: what a persist
                            * queue's acks wait for (acks.c) */
    /* A recovered persist queue: the first messages this bridge takes are
     * the previous run's (taken but not acked, or never taken), marked
     * RH_ENV_REDELIVERED.  Set on its first step (own thread). */
    uint64_t redelivered_left;
    int redelivery_known;
    struct rh_acks *acks;  /* the queue is persist: what the kernel finished is acked
                            * (acks.c); NULL on every other queue */
    uint32_t ack_limit;    /* persist: at most this many of the queue's messages taken and
                            * not acked (rh__acks_room); 0 = no limit.  Set at build */
    /* The in-place path (inplace.c): the run of the queue's cells
     * [ip_pos, ip_end) this bridge's worker holds: ip_held 1 while its
     * kernel reads them, 2 once it is done with them but an earlier claim
     * (another consumer's) is not released yet, 0 when it holds none.
     * Written by the worker's thread; peers read ip_pos and ip_held
     * (relaxed) only to tell a busy peer from a stalled claim. */
    _Atomic uint64_t ip_pos;
    uint64_t ip_end;
    uint32_t ip_voids;     /* void cells in [ip_pos, ip_end): no message, not moved */
    uint32_t ip_refused;   /* messages of it the checks refused (counted duplicate, expired or
                            * invalid by the queue): not moved, as on the copying path */
    _Atomic int ip_held;
    uint64_t ip_since;     /* stall clock of a release that waits (queue_inplace.c) */
} rh_in_bridge;

typedef struct rh_out_bridge {
    rh_kinst *kernel;
    uint32_t port;         /* output port index */
    rh_queue *queue;
    rh_ring **sources;     /* one per worker */
    uint32_t n_sources;
    uint32_t burst;
    int voids;             /* its sources may hold void slots (RH_RING_VOID_LEN): a device
                            * worker's, which fills every input's position.  Set at build */
    _Atomic uint64_t sent;     /* accepted by the queue */
    _Atomic uint64_t refused;  /* dropped by drop_newest, or by the dead-letter queue's
                                * policy (counted there too) */
    _Atomic uint64_t undeliverable; /* refused by the queue (reject, block timed out, corrupt)
                                     * or no room at stop: dead-lettered (stage
                                     * "undeliverable"), never accepted by the queue */
    _Atomic uint64_t duplicates;    /* answers to a redelivered input already in the queue:
                                     * dropped (bridge.c), never accepted by the queue */
    /* The recent ids of the queue an answer to a redelivered input is
     * checked against: NULL until the first such answer, then two windows
     * (bridge.c recent_ids): the ids seeded from the queue's cells
     * (rh__queue_recent_ids), kept as they are, and every answer sent since,
     * until `calm` answers in a row were not redelivered ones.  Inline
     * workers flush their own rings through the same bridge concurrently,
     * so both are used under recent_lock (a spin lock taken only on that
     * slow path); recent is read without it only as a hint. */
    _Atomic(rh_dedup *) recent;
    uint64_t calm;
    _Atomic int recent_lock;
} rh_out_bridge;

/* Work run on a worker's own thread at its next batch boundary, even while
 * its kernel is paused (kernel_life.c): init/fini of a restarted or swapped
 * kernel, so a kernel only ever sees one thread. */
typedef struct rh_worker_op {
    void (*fn)(rh_worker *w, void *arg);
    void *arg;
    _Atomic int done;
} rh_worker_op;

struct rh_worker {
    rh_kinst *kernel;
    uint32_t index;
    rh_ctx ctx;
    void *state;
    int init_rc;                     /* init() result, reported to launch */
    rh_ring *in[RH_MAX_PORTS];
    rh_ring *out[RH_MAX_PORTS];
    uint32_t out_pending[RH_MAX_PORTS]; /* reserved-and-filled, not yet committed */
    /* The copying path's common case (emit_fast.h): ring_room[p] slots of
     * out[p] from ring_pos[p] were free when out_slot last looked (0: not
     * looked since the last commit), out_pending[p] of them written; an
     * answer of at most ring_len_max[p] bytes goes into the next without
     * asking the ring again. */
    uint32_t ring_room[RH_MAX_PORTS];
    uint64_t ring_pos[RH_MAX_PORTS];
    uint32_t ring_len_max[RH_MAX_PORTS];
    /* The in-place path (inplace.c): set at build for an inline bridge
     * (never for a process-isolated kernel, which the manifest keeps on
     * thread bridges, nor a run() kernel, which has no inline bridge).  The
     * kernel then reads its batch in its input queues' cells and writes its
     * answers into cells of its output queues: per output port, the run
     * of cells claimed [start, end), of which [start, start + n) are
     * written and not yet published; the next one, start + n, is what
     * rh_emit_reserve hands out (reserved).  single: claim one cell per
     * answer instead of a run per batch (0 not decided yet, 1 runs, 2
     * single: another producer of the host writes the queue; inplace.c). */
    int inplace;
    struct rh_ip_out {
        uint64_t start, end;
        uint32_t n;
        int reserved;
        int single;
        uint32_t gen;     /* batch_gen of the batch `answered` counts for */
        uint32_t answered; /* answers on this port in that batch */
        int note;          /* the run's producer note in the queue (queue_pvt.h), 0: none */
        /* The emit fast path (emit_fast.h), decided once per batch by
         * rh__inplace_batch_begins: fast while every answer on this port
         * may go in place (no redelivered input in the batch, nothing in
         * the output ring; an answer through the ring clears it), with the
         * queue's cells, the type's size and the burst read then. */
        int fast;
        uint32_t n_general; /* of the n written, how many have no id yet (inplace.c) */
        uint32_t len_max;
        uint32_t burst;
        rh_cell_view cells;
        _Atomic(struct rh_dedup *) *recent; /* &out_bridges[port].recent */
    } ip_out[RH_MAX_PORTS];
    int ip_redelivered;              /* the held batch has a redelivered or retried message */
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
    /* Answer ids (emit_fast.h, ringhost/answer_id.h): how many outputs
     * each message of the held batch has had on each port so far, batch
     * size x n_outputs entries, cleared when a batch is handed out
     * (dispatch.c hold_batch: a few bytes per message, where a generation
     * per entry cost a compare and two stores per answer). */
    uint32_t *emit_counts;
    uint32_t batch_gen;              /* bumped for each batch the kernel is handed */
    uint32_t n_outputs;              /* the kernel's, for emit_counts' rows: set at each batch */
    /* The last answer id's high half (answer.c): a burst of inputs from one
     * sender's stream, answered once each on one port, hashes once. */
    struct rh_answer_hi {
        uint64_t in_hi, key, out_hi; /* key: emit_fast.h rh__answer_hi */
    } answer_hi;
    _Atomic(rh_worker_op *) op;      /* pending op for this thread, or NULL */
    _Atomic int finished;            /* fini() ran (kernel terminated alone) */
    /* Kernel faults (restart.c, faults/watchdog.c).  stall_seen holds the heartbeat_ns of the
     * last call reported stalled, set by a CAS by whichever of the watchdog
     * and the worker sees it first, so each stall is counted once. */
    _Atomic uint64_t stall_seen;
    _Atomic uint64_t stalls;         /* process() calls longer than watchdog_ms */
    uint64_t restart_at_ns;          /* a restart is due at this time; 0 = none (own thread) */
    uint32_t failed_streak;          /* failed batches in a row (own thread) */
    uint32_t restart_streak;         /* restarts since the last good batch: the backoff doubles */
    _Atomic uint32_t solo;           /* take the next N messages one at a time: a batch
                                      * retried after its executor lost the worker (a
                                      * kernel process that died in it, exec_process.c) */
    /* A restart is due and the kernel restarts by leaving
     * (rh_kinst.restart_by_leaving): the worker's loop ends at its next
     * batch boundary and its executor restarts it (restart.c sets it, the
     * executor's loop reads it and clears it at the next start). */
    _Atomic int leave_for_restart;
    /* Latency (latency.c): written by the worker's thread only, read by
     * the control socket's ps (hist.h says how).  latency 0: nothing is
     * recorded (RINGHOST_LATENCY=0, set at init).  wait[p]: how long the
     * messages of input port p waited, from their enqueue to the take of
     * their batch; service: how long process() took for each batch,
     * counted once per message of it; busy_ns: the sum of those times,
     * once per batch (what the kernel costs per message: busy_ns /
     * processed).  Last in the struct: 21 KB the dispatch step never
     * touches but for one bucket of each. */
    int latency;
    _Atomic uint64_t busy_ns;
    rh_hist service;
    rh_hist wait[RH_MAX_PORTS];
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
    rh_worker *workers;              /* from its executor's workers_alloc (exec/) */
    uint32_t n_workers;
    /* Where its workers run (exec/exec.h): set at planning, never changed;
     * exec_state is that executor's own.  restart_by_leaving: set by the
     * executor before any worker runs, when a restart cannot happen on the
     * worker's thread (a child process): restart.c then asks the worker
     * to leave (leave_for_restart) and the executor restarts it. */
    const struct rh_exec_ops *exec;
    void *exec_state;
    int restart_by_leaving;
    rh_in_bridge *in_bridges;        /* n_inputs (thread mode) or n_inputs*workers (inline) */
    uint32_t n_in_bridges;
    rh_out_bridge *out_bridges;      /* n_outputs */
    /* One dedup window per input port, whatever the number of bridges, so
     * a duplicate is caught even when inline workers pull it separately. */
    rh_dedup dedup[RH_MAX_PORTS];
    pthread_mutex_t dedup_lock[RH_MAX_PORTS];
    int dedup_lock_init[RH_MAX_PORTS];
    /* The kernel's own lifecycle (kernel_life.c).  kflow is read by every
     * step of this kernel, with the runtime's flow (rh_kernel_flow); state
     * is what the control path reports, written by it only. */
    _Atomic int kflow;               /* RH_KFLOW_* */
    rh_state state;
    uint64_t activate_ns;            /* first activation, 0 before */
    _Atomic uint64_t restarts;       /* init() run again after a fault */
    _Atomic uint64_t swaps;          /* replaced by a newer plugin */
    _Atomic int given_up;            /* restart.max reached: stopped for good (restart.c) */
    _Atomic uint64_t swaps_refused;  /* a replacement refused (hotswap.c) */
};

/* A unit of work a reactor runs: returns the number of messages moved. */
typedef struct rh_task {
    uint32_t (*step)(void *arg);
    void *arg;
    rh_bell **bells;                 /* what wakes it (owned by the reactor) */
    uint32_t n_bells;
    const char *what;                /* "dispatch vadd#0", "pump in vadd.requests" */
    /* The other side of its rings rings no bell (a worker on a device,
     * exec.h RH_EXEC_POLLED): the reactor running it never parks longer
     * than RH_REACTOR_POLL_MAX_NS, backing off from RH_REACTOR_POLL_MIN_NS
     * while idle. */
    int polled;
} rh_task;

#define RH_REACTOR_POLL_MIN_NS (20ull * 1000)
#define RH_REACTOR_POLL_MAX_NS (1000ull * 1000)

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
    _Atomic uint64_t loops;          /* iterations, for rh__reactor_sync */
    /* Of those, the rounds that found work (some task moved a message);
     * loops - busy_polls found nothing: a spinning thread's idle polls
     * (written by its own thread, latency.c reads them) */
    _Atomic uint64_t busy_polls;
    _Atomic int last_cpu;
    rh_bell bell;                    /* control: stop, state changes */
    char bind_error[256];
    int run_kernel;                  /* a run() kernel owns this thread (its only task) */
    int stuck;                       /* did not stop by its join deadline */
    uint64_t wake_at_ns;             /* a task needs a step by then (a restart's backoff); 0 = none */
    int polled;                      /* a task of it is polled (rh_task.polled) */
    uint64_t poll_nap_ns;            /* its next park's bound while polled and idle (own thread) */
};

/* Lifecycle flags read by every step. */
enum {
    RH_FLOW_PAUSED = 0,   /* launched or deactivated: kernels and input bridges idle */
    RH_FLOW_RUNNING = 1,  /* active */
    RH_FLOW_DRAINING = 2, /* terminating: intake stopped, rings being emptied */
    RH_FLOW_STOPPED = 3,  /* terminating: everything must return */
};

/* A kernel's own flow, on top of the runtime's (kernel_life.c). */
enum {
    RH_KFLOW_RUN = 0,      /* runs whenever the runtime runs */
    RH_KFLOW_PAUSED = 1,   /* launched or deactivated alone: idle at a batch boundary */
    RH_KFLOW_DRAINING = 2, /* terminating alone: no intake, its rings being emptied */
    RH_KFLOW_STOPPED = 3,  /* terminated alone: its steps return at once */
};

struct rh_runtime {
    rh_manifest *m;
    char instance[64];
    char extra_plugins[4096];   /* rh_launch_opts.extra_plugins, "" when none */
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
    struct rh_watchdog *watchdog;    /* faults/watchdog.c; NULL when no kernel has watchdog_ms */
    /* rh_launch_opts.find_queue: queues of the running host this one
     * shares instead of creating (wiring.c) */
    rh_queue *(*find_queue)(void *arg, const char *name);
    void *find_queue_arg;
    /* The runtimes of the same host (NULL-terminated, may hold rt itself;
     * set through rh__runtime_set_peers): their kernels may read the queues rt created, and
     * rt's accounting lines count their intake (metrics.c).  They must
     * outlive rt's last report. */
    rh_runtime *const *peers;
    struct rh_swap_plugin *swapped;  /* plugins loaded by swaps, kept until destroy (hotswap.c) */
    struct rh_plugin_watch *watch;   /* the plugin folder watcher, or NULL (plugin_watch.c) */
    struct rh_remote *remote;        /* links and bridges of remote queues, or NULL (remote/) */
    /* Held by every lifecycle call that changes a flow or a kernel's plugin
     * (activate, deactivate, terminate, the per-kernel ones, reload), so a
     * swap on the watcher's thread never interleaves with them. */
    pthread_mutex_t life_lock;
};

/* What one kernel's steps may do now: the stricter of the runtime's flow
 * and the kernel's own (RH_FLOW_*).  Two acquire loads; a step reads it once
 * per batch. */
static inline int rh_kernel_flow(const rh_kinst *k)
{
    int rf = atomic_load_explicit(&k->rt->flow, memory_order_acquire);
    int kf = atomic_load_explicit(&k->kflow, memory_order_acquire);
    if (rf == RH_FLOW_STOPPED || kf == RH_KFLOW_STOPPED)
        return RH_FLOW_STOPPED;
    if (rf == RH_FLOW_DRAINING || kf == RH_KFLOW_DRAINING)
        return RH_FLOW_DRAINING;
    if (rf == RH_FLOW_PAUSED || kf == RH_KFLOW_PAUSED)
        return RH_FLOW_PAUSED;
    return RH_FLOW_RUNNING;
}

/* A queue the wiring found: declared in "queues" or auto-created for an
 * unwired port ("<kernel>.<port>"). */
typedef struct rh_qplan {
    char name[RH_QUEUE_NAME_MAX + 1];
    rh_queue_config cfg;
    const rh_type *type;   /* NULL until a port or the declaration gives one */
    const char *origin;    /* plugin path defining the type */
    char first_use[128];   /* JSON path that set the type, for error messages */
    rh_queue *queue;       /* once created */
    int borrowed;          /* queue belongs to another runtime of the host: never closed here */
    /* Readers that are gone: a runtime of the host released once its kernels were
     * terminated (rh__runtime_hand_over_intake, metrics.c) leaves its intake here. */
    uint64_t retired_moved;  /* what its input bridges moved into kernel rings */
    uint64_t retired_taken;  /* what they took from the queue (moved or refused) */
    int retired_reader;      /* a released runtime's kernel read it */
    char reader[160];      /* JSON path of the first input port reading it, "" if none */
} rh_qplan;

/* Non-zero when rt->queues[i] is another runtime's (rh_launch_opts.find_queue). */
static inline int rh_runtime_queue_borrowed(const rh_runtime *rt, uint32_t i)
{
    return rt->qplan && i < rt->n_qplan && rt->qplan[i].borrowed;
}

/* ------------------------------------------------- init and fini ------ */

/* worker.c: fill worker `index` of k (its memory is its executor's,
 * zeroed): its context, batch scratch, and one ring per port from mem,
 * slots(configured, type size) slots each.  0, or an error naming k. */
int rh__worker_init(rh_worker *w, rh_kinst *k, uint32_t index, const rh_ring_mem *mem,
                    uint32_t (*slots)(uint32_t configured, uint32_t type_size), rh_error *err);
/* worker.c: its rings and scratch freed (NULL after); idempotent. */
void rh__worker_fini(rh_worker *w);
/* bridge.c: a bridge of k's input port (reading k->in_q[port]) with room
 * for n_targets rings, or of its output port (reading each worker's ring
 * of that port); 0 or RH_ENOMEM.  fini frees what init and the builder
 * gave it (targets, acks; sources, recent ids); idempotent. */
int rh__in_bridge_init(rh_in_bridge *b, rh_kinst *k, uint32_t port, uint32_t n_targets);
void rh__in_bridge_fini(rh_in_bridge *b);
int rh__out_bridge_init(rh_out_bridge *b, rh_kinst *k, uint32_t port);
void rh__out_bridge_fini(rh_out_bridge *b);
/* kernel.c: k's workers' contents, bridges, dedup windows and locks
 * freed; its workers' memory is its executor's (rh__exec_free, after). */
void rh__kernel_fini(rh_kinst *k);
/* reactor.c: a reactor that is not running (never started, or joined)
 * freed with its tasks (their bells and names) and its cpuset. */
void rh__reactor_free(rh_reactor *r);

/* ------------------------------------------ what the engine runs ------ */

/* dispatch.c: one dispatch step of a worker (a reactor task, or the loop of
 * a kernel process, exec/exec_process.c): returns the messages it moved. */
uint32_t rh__worker_step(void *worker);
/* bridge.c: the reactor tasks of the pumps (thread bridge mode). */
uint32_t rh__in_bridge_task(void *bridge);
uint32_t rh__out_bridge_task(void *bridge);
/* bridge.c: after the threads were joined and the kernel processes reaped
 * at terminate (flow STOPPED), hand what is left in every output ring to
 * its queue, or, where the queue has no room, to the kernel's dead-letter
 * queue as undeliverable.  Returns how many were dead-lettered. */
uint64_t rh__out_bridges_flush_at_stop(rh_runtime *rt);
/* bridge.c: how many recent ids of an output queue an answer to a
 * redelivered input is checked against at most (the queue's capacity, up to
 * this); the launch warns where that cannot cover the answers a kill may
 * repeat (launch/kernel_build.c). */
#define RH_RECENT_IDS_MAX (1u << 16)
/* bridge.c: free b's recent ids (NULL afterwards); at teardown, and once
 * the answers to redelivered inputs are over. */
void rh__out_bridge_forget_recent(rh_out_bridge *b);
/* dispatch.c: the host services a kernel calls (kernel.h), as a worker's
 * rh_ctx hands them out. */
extern const rh_host_api rh__host_api_v1;
/* dispatch.c: w takes the in-place path (on) or not: sets w->inplace and
 * the host services its rh_ctx hands out (an emit for each path). */
void rh__worker_set_inplace(rh_worker *w, int on);

/* reactor.c: the threads.  Add a task before the thread starts. */
int rh__reactor_add_task(rh_reactor *r, const rh_task *t);
/* A task of a plan only (`topo`, `validate`): its name (copied), no step. */
int rh__reactor_plan_task(rh_reactor *r, const char *what);
int rh__reactor_start(rh_reactor *r);
/* Wait until the reactor ran one full loop after a flag change, or until
 * deadline_ns (rh_now_ns); 0, or RH_ETIMEDOUT (a kernel is inside a long
 * process() call). */
int rh__reactor_sync(rh_reactor *r, uint64_t deadline_ns);
/* Stop the thread and join it by deadline_ns; RH_ETIMEDOUT leaves it
 * running and marks the reactor stuck (its memory must then never be
 * freed). */
int rh__reactor_stop_join(rh_reactor *r, uint64_t deadline_ns);
/* What a stop grants past its own deadline to threads of ours that were
 * told to stop (a join, an output bridge ending its block wait, a fini):
 * one second.  It is only waited out when a kernel is really stuck in
 * process(); a host thread that is merely not scheduled yet (a loaded
 * 2-cpu machine: stress-ng beside the test suite) was seen to need more
 * than the 100 ms this used to be, and was then reported stuck ("did not
 * stop", reactor.stuck) though it stopped a moment later. */
#define RH_STOP_GRACE_NS (1000ull * 1000 * 1000)

/* ----------------------------------------------- restart policy -------- */

/* restart.c, on the worker's own thread.  Before taking a batch: non-zero
 * while a restart is due but its backoff has not passed (take nothing);
 * runs the restart (fini, init) once it has. */
int rh__worker_restart_pending(rh_worker *w);
/* After process() returned rc for a batch that started at started_ns:
 * counts a stall and failed batches in a row, and schedules a restart (or
 * gives the kernel up) when one is due. */
void rh__worker_after_call(rh_worker *w, int rc, uint64_t started_ns);
/* For the watchdog and a kernel process's supervisor (faults/): count and
 * log a stall once (0 when already reported); schedule a restart after
 * backoff, or give the kernel up. */
int rh__worker_report_stall(rh_worker *w, uint64_t started_ns, uint64_t in_ns, const char *action);
void rh__worker_schedule_restart(rh_worker *w, const char *why);

/* ------------------------------------------------------ metrics -------- */

/* metrics.c: no message in a kernel ring or process(); with queues, none in
 * a kernel's input queue or a bridge either (a kernel terminated alone
 * counts as quiet about its queues: it never takes from them again). */
int rh__kernel_is_quiet(rh_kinst *k, int queues_too);

/* Latency and polls (latency.c).  rh__latency_on: whether workers record
 * latency: yes unless the environment has RINGHOST_LATENCY=0 (or off,
 * false, no), read at each call (a worker's init).
 * rh__kernel_latency_json: kernel k's service time and, per input port,
 * the wait of its queue, as {"recorded", "service": HIST, "busy_ns",
 * "inputs": [{"port", "queue", "wait": HIST}]} (HIST: rh__hist_to_json,
 * every worker's merged); NULL without memory.
 * rh__runtime_polls_json: [{"thread", "busy_polls", "idle_polls"}] of rt's
 * reactor threads. */
int rh__latency_on(void);
struct json_t *rh__kernel_latency_json(rh_kinst *k);
struct json_t *rh__runtime_polls_json(rh_runtime *rt);
int rh__runtime_is_quiet(rh_runtime *rt, int queues_too);

/* metrics.c: rt is about to be destroyed while the other runtimes of its
 * host (rt->peers) live on: what its kernels took from each queue another
 * runtime created is added to that creator's accounting (rh_qplan
 * retired_moved, retired_taken), so the creator's line still balances without rt.  Its
 * kernels must be quiet (nothing left in their rings). */
void rh__runtime_hand_over_intake(rh_runtime *rt);

/*
 * One queue's accounting (metrics.c): where every message it accepted went.
 *   accepted      = enqueued (a send the queue refused, rejected or
 *                   dropped_newest, was never accepted: `refused`)
 *   delivered     = a queue some kernel reads: messages its input bridges put
 *                   into kernel rings that the kernels took and did not fail
 *                   (moved - in kernel rings - failed), plus what clients
 *                   received from it (dequeued - every bridge's taken); any
 *                   other queue: dequeued (taken by a client, the CLI,
 *                   another process)
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
    int impossible;    /* a sum or difference of the counters does not fit: they cannot be
                        * true (a scribbled shared header); never balanced */
    int balanced;
} rh_queue_account;

/* Fill *out from one queue's counters.  kernel_input: some kernel reads the
 * queue; moved: what its input bridges put into kernel rings; in_rings: what
 * is still in those rings.  Returns out->balanced. */
int rh__queue_account_of(const rh_queue_stats *s, int kernel_input, uint64_t moved,
                         uint64_t in_rings, rh_queue_account *out);

#endif /* RH_ENGINE_H */
