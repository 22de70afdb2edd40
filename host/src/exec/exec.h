/*
 * exec.h — where a kernel's workers run (exec/): one ops table per
 * executor, and the calls the layers above make through them.
 *
 * An executor decides what a worker's memory and rings are made of, where
 * its dispatch step runs (a reactor thread of the host, a child process,
 * next a GPU), how the kernel's flow reaches it, how it is supervised and
 * restarted, and how it stops.  Everything else (the bridges, queues,
 * dedup, dead letters, accounting) is the engine's and the same for all.
 * No file outside exec/ asks how a worker runs: launch/ builds through the
 * ops, faults/ supervises and stops through them, live/ and runtime.c
 * hand flows over through them, control/ reads the executor's name.
 *
 * Adding an executor: a file exec_<name>.c (or a backend folder) defining
 * its rh_exec_ops, and one line in exec.c's table.  libuv's one file per
 * platform behind uv__io_poll is the model.
 *
 * Ownership: k->exec is set once at planning (rh__exec_bind) and never
 * changes; k->exec_state is the executor's own, allocated by its place()
 * and freed by its release(); the engine's objects (rh_worker, rh_kinst)
 * are written by their owners as engine.h says, and an executor writes
 * only the worker fields the engine hands it (init_rc, restart_by_leaving).
 */
#ifndef RH_EXEC_H
#define RH_EXEC_H

#include "engine/engine.h"

/* What an executor can do (rh_exec_ops.caps). */
enum {
    RH_EXEC_INPLACE = 1u << 0, /* an inline bridge may read the queue's cells in place: the
                                * worker runs in the host's address space */
    RH_EXEC_SWAP = 1u << 1,    /* a hot swap may replace the kernel at a batch boundary */
    RH_EXEC_RUN = 1u << 2,     /* run() kernels (which own their loop) can run here */
    RH_EXEC_POLLED = 1u << 3,  /* the worker's side of its rings rings no bell (a device):
                                * the bridges poll them (rh_task.polled), and its output
                                * rings may hold void slots (RH_RING_VOID_LEN) */
};

typedef struct rh_exec_ops {
    const char *name;  /* the manifest's "isolation" value */
    const char *where; /* for plans and `ps`: "a thread of the host", ... */
    unsigned caps;     /* RH_EXEC_* */
    const char *no_swap_why; /* why a hot swap is refused, when RH_EXEC_SWAP is not set */

    /* Memory.  n workers, zeroed, in memory every place the worker runs
     * can reach; freed by workers_free(w, n).  What its rings are allocated from (ring/ring.h). */
    rh_worker *(*workers_alloc)(uint32_t n);
    void (*workers_free)(rh_worker *w, uint32_t n);
    const rh_ring_mem *ring_mem;

    /* Launch.  place: after k's workers and rings exist, before any thread
     * starts: give each worker the place its step runs (a reactor task),
     * or prepare its own (exec_state).  plan: the same, naming the tasks
     * only (`topo`, `validate`: nothing is created).  start: after the
     * reactors started, e.g. a child process forked and its init() waited
     * for; 0, or an error naming the kernel. */
    int (*place)(rh_runtime *rt, rh_kinst *k, rh_error *err);
    int (*plan)(rh_runtime *rt, rh_kinst *k, rh_error *err);
    int (*start)(rh_runtime *rt, rh_kinst *k, rh_error *err);

    /* Running.  supervise: on the watchdog thread, at least every
     * supervise_ns (0: the executor needs no supervision, and the
     * watchdog's stall check, which waits for a thread's call to return,
     * applies to its workers); it mirrors the flow, reaps, restarts.
     * sync: hand k's flow (rh_kernel_flow) to its workers and wait until
     * each saw it at a batch boundary, by deadline_ns (RH_ETIMEDOUT); NULL
     * when the reactor sync already covers it.  stop: tell every worker
     * to stop, and make sure it did by deadline_ns.  release: free
     * exec_state (k's workers and rings are freed by the runtime through
     * workers_free and the rings' destroy). */
    uint64_t supervise_ns;
    void (*supervise)(rh_runtime *rt, rh_kinst *k);
    int (*sync)(rh_runtime *rt, rh_kinst *k, uint64_t deadline_ns);
    void (*stop)(rh_runtime *rt, rh_kinst *k, uint64_t deadline_ns);
    void (*release)(rh_kinst *k);
    /* The process running worker w's step now, when the executor runs it
     * in one of its own: 0 when none runs (or NULL: always in the host). */
    int (*worker_pid)(const rh_worker *w);
} rh_exec_ops;

/* exec.c: the executor named `name`, or NULL. */
const rh_exec_ops *rh__exec_find(const char *name);
/* exec.c: set k->exec from its manifest's "isolation" and check what the
 * kernel needs of it (a run() kernel where run() kernels cannot run);
 * 0, or RH_EMANIFEST naming the file and JSON path. */
int rh__exec_bind(rh_runtime *rt, rh_kinst *k, rh_error *err);

/* exec.c: the calls over every kernel of rt. */
int rh__exec_start(rh_runtime *rt, rh_error *err);
void rh__exec_supervise(rh_runtime *rt);
/* Hand the flow to the workers of `only` (or of every kernel when NULL)
 * whose executor has a sync, and wait until they saw it; 0, or
 * RH_ETIMEDOUT past deadline_ns with the kernel's name in *who. */
int rh__exec_sync(rh_runtime *rt, rh_kinst *only, uint64_t deadline_ns, const char **who);
void rh__exec_stop(rh_runtime *rt, uint64_t deadline_ns);
/* The shortest supervise_ns of rt's kernels' executors, 0 when none needs it. */
uint64_t rh__exec_supervise_ns(const rh_runtime *rt);
/* The process of w's executor running it, 0 when none (exec_ops.worker_pid). */
int rh__exec_worker_pid(const rh_worker *w);
/* k's workers and exec_state freed (rings are freed by the caller first). */
void rh__exec_free(rh_kinst *k);

/* exec_thread.c: the reactor (host thread) for a thread placed by pin spec
 * `pin` at JSON path jpath: every placement naming the same cpuset shares
 * one; an unpinned one (placement "none") is private.  Bridges (pumps)
 * use it for every executor: they always run in the host. */
rh_reactor *rh__exec_reactor_for(rh_runtime *rt, const char *pin, const char *jpath,
                                 const char *role, rh_wait_kind wait, rh_error *err);

extern const rh_exec_ops rh__exec_thread;
extern const rh_exec_ops rh__exec_process;
/* host/backends/cuda/exec_cuda.c, built when the CUDA toolkit is found */
extern const rh_exec_ops rh__exec_cuda;

#endif /* RH_EXEC_H */
