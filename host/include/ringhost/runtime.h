/*
 * ringhost/runtime.h — the embedding API: launch a manifest in this
 * process, drive its lifecycle (activate, deactivate, terminate), read its
 * kernels' and queues' counters.  Part of the public API of ringhost.h,
 * which includes this header; include ringhost/ringhost.h, or this one,
 * which includes it.
 */
#ifndef RINGHOST_RUNTIME_H
#define RINGHOST_RUNTIME_H

#include "ringhost/ringhost.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ runtime --- */

typedef struct rh_runtime rh_runtime;

typedef enum rh_state {
    RH_STATE_LAUNCHED = 0, /* loaded, queues and threads ready, kernels inactive */
    RH_STATE_ACTIVE = 1,
    RH_STATE_INACTIVE = 2, /* paused at a batch boundary; queues still accept */
    RH_STATE_TERMINATED = 3,
} rh_state;

RH_API const char *rh_state_name(rh_state s);

/* Launch options, read by rh_runtime_launch and rh_runtime_validate by the
 * rule of "structs that grow" above: declare them with
 * RH_LAUNCH_OPTS_INIT(.log = f, ...); opts NULL means every default.  First
 * version: struct_size .. log; the fields after it were appended. */
typedef struct rh_launch_opts {
    uint32_t struct_size;      /* sizeof(rh_launch_opts) the caller was built with */
    const char *instance;      /* shared-memory namespace; NULL = the manifest's name */
    const char *extra_plugins; /* one more plugin folder searched first, or NULL */
    int report_bindings;       /* print where each thread runs once it started */
    FILE *log;                 /* where runtime messages go; NULL = stderr */
    /* Plugin files a manifest may name by absolute path in a kernel's
     * "plugin" (`ringhost run --allow-plugin PATH`): a NULL-terminated
     * array of absolute paths, or NULL for none.  A "plugin" holding a '/'
     * must equal one of them exactly, or the launch fails with
     * RH_EMANIFEST naming the kernel; any other "plugin" is a name looked
     * up in the plugin folders only.  Appended last: zero-initialised
     * options keep their meaning. */
    const char *const *allow_plugins;
    /* Launching into a running host (`ringhost launch`, control/control_cmd.c): the
     * queues that already exist in it.  When not NULL, each queue the
     * manifest plans (declared, wired, automatic or dead-letter) is first
     * looked up with find_queue(find_queue_arg, name); a queue found is
     * shared, not created again (creating a shared queue of a live name
     * would replace it): this runtime reads and writes it, but neither
     * closes nor unlinks it, nor prints its summary or accounting lines (its
     * creator does), and the caller keeps the creator alive until this
     * runtime is destroyed.  Its settings are the creator's.  A queue found
     * whose type differs from the planned one (by fingerprint) fails the
     * launch with RH_ETYPE naming both types.  Appended last: zero keeps
     * the meaning (every queue is created). */
    rh_queue *(*find_queue)(void *arg, const char *name);
    void *find_queue_arg;
    /* Non-zero: watch the plugin folders (the manifest's "plugins" and
     * extra_plugins) while the host runs (`ringhost run` serving does).  A
     * new .so is tried and logged (plugin.added, or plugin.refused with its
     * load error); a new build of a running kernel's file is swapped in
     * with rh_runtime_kernel_reload (kernel.swap, or kernel.swap_refused
     * and the old version keeps running).  When the folders cannot be
     * watched (inotify limits), the host runs unwatched and logs
     * plugin.watch_failed.  The watcher stops at terminate.  (Watched or
     * not, every plugin runs from a private copy of its file, so writing
     * over a loaded .so never changes the code that runs.)  Appended last. */
    int watch_plugins;
    /* Launching into a running host (`ringhost launch`): the host's plugin
     * folders (its --plugins folder, then its manifest's), NULL-terminated.
     * When not NULL, a manifest without "plugins" searches these folders
     * (after extra_plugins) instead of <manifest folder>/../plugins, and
     * may leave out "name" (instance names the host).  A manifest that
     * writes "plugins" keeps its own folders.  Appended last: NULL keeps
     * the meaning. */
    const char *const *host_plugin_dirs;
} rh_launch_opts;

#define RH_LAUNCH_OPTS_INIT(...) {.struct_size = (uint32_t)sizeof(rh_launch_opts), __VA_ARGS__}

/* Load the manifest, load and check plugins, create queues, start threads
 * (kernels inactive).  Errors carry the manifest file and JSON path;
 * RH_EINVAL for opts whose struct_size is 0 or below the first version. */
RH_API int rh_runtime_launch(const char *manifest_path, const rh_launch_opts *opts,
                             rh_runtime **out, rh_error *err);

/* Check a manifest against its plugins (wiring, types, pins) without
 * creating queues or threads; print the plan to plan_out when not NULL. */
RH_API int rh_runtime_validate(const char *manifest_path, const rh_launch_opts *opts,
                               FILE *plan_out, rh_error *err);

/* launched|inactive -> active.  RH_ESTATE otherwise. */
RH_API int rh_runtime_activate(rh_runtime *rt, rh_error *err);

/* active -> inactive: every kernel pauses at a batch boundary before this
 * returns.  RH_ESTATE otherwise; RH_ETIMEDOUT when a kernel stays inside
 * process() for more than 5 s (the pause then applies when it returns). */
RH_API int rh_runtime_deactivate(rh_runtime *rt, rh_error *err);

/* any state but terminated -> terminated: stop intake, drain what is in the
 * kernel rings to the output queues (for up to timeout_ms), join the
 * threads, and print uptime and counts to the log.  RH_ESTATE if already
 * terminated; RH_ETIMEDOUT when the rings did not drain in time, or when a
 * thread stuck inside a kernel did not stop (it is left running, and
 * rh_runtime_destroy then keeps the memory it uses). */
RH_API int rh_runtime_terminate(rh_runtime *rt, int timeout_ms, rh_error *err);

/* Free everything (terminating first if needed), unlink shared queues. */
RH_API void rh_runtime_destroy(rh_runtime *rt);

RH_API rh_state rh_runtime_state(const rh_runtime *rt);

/* The instance name its shared queues live under. */
RH_API const char *rh_runtime_instance(const rh_runtime *rt);

/* The queue called name, or NULL. */
RH_API rh_queue *rh_runtime_queue(rh_runtime *rt, const char *name);

/* Names of the runtime's queues, in creation order (NULL past the end). */
RH_API const char *rh_runtime_queue_name(const rh_runtime *rt, uint32_t index);

/* Non-zero when some kernel reads the index-th queue; the others are the
 * host's outputs (what `ringhost run --send` prints). */
RH_API int rh_runtime_queue_consumed(const rh_runtime *rt, uint32_t index);

/* Write one line per thread: its name, its cpuset and the cpu it last ran
 * on. */
RH_API void rh_runtime_report_bindings(rh_runtime *rt, FILE *out);

/* Write per-kernel and per-queue counts and the uptime. */
RH_API void rh_runtime_report_summary(rh_runtime *rt, FILE *out);

/* Non-zero when no message waits in a kernel's input queue, moves through
 * a bridge, sits in a kernel ring or is inside process(): everything sent so
 * far has been answered (or refused and counted). */
RH_API int rh_runtime_is_idle(rh_runtime *rt);

/* Messages processed by all workers of kernel `name`, or -1 if unknown. */
RH_API int64_t rh_runtime_kernel_processed(rh_runtime *rt, const char *name);

/*
 * One kernel's lifecycle inside a live host, the kernel named as in the
 * manifest ("name").  The host's rh_runtime_activate/deactivate apply to
 * every kernel not terminated alone; these apply to one, and leave the
 * others as they are.  Errors: RH_ENOENT (no kernel of that name), RH_ESTATE
 * (an illegal transition, or the host is terminated).
 *
 * activate:   launched|inactive -> active.  A host that was launched or
 *             inactive becomes active (its other kernels stay paused).
 * deactivate: active -> inactive, at a batch boundary, before it returns
 *             (RH_ETIMEDOUT as rh_runtime_deactivate).  Its input queues keep
 *             accepting by their policy.
 * terminate:  any state but terminated -> terminated: its intake stops, the
 *             messages already in its rings are processed and its outputs
 *             flushed (for up to timeout_ms), then fini() runs on its own
 *             thread.  What waits in its input queues stays there (counted
 *             queued).  RH_ETIMEDOUT when its rings did not drain or fini()
 *             did not run in time; it is then stopped without them.
 */
RH_API int rh_runtime_kernel_activate(rh_runtime *rt, const char *kernel, rh_error *err);
RH_API int rh_runtime_kernel_deactivate(rh_runtime *rt, const char *kernel, rh_error *err);
RH_API int rh_runtime_kernel_terminate(rh_runtime *rt, const char *kernel, int timeout_ms,
                                       rh_error *err);

/*
 * Load the kernel's plugin file again and swap the running kernel to it at
 * a batch boundary (hotswap.c): the new plugin must declare the same ports
 * with the same message types; its init() runs with the kernel's config on
 * each worker's thread, and only when every worker's init() succeeded does
 * the old version's fini() run and the new one take over.  Nothing in the
 * kernel's rings or queues is lost or processed twice.  A replacement that
 * does not load, does not match, or whose init() fails is refused with the
 * reason and the old version keeps running.  Works on an active or
 * inactive kernel (it keeps that state); a swap counts in
 * rh_kernel_info.swaps and logs kernel.swap, a refusal counts in
 * swaps_refused and logs kernel.swap_refused.  Blocks the caller up to
 * 5 s for the batch boundary, plus the new init() calls.  Errors:
 * RH_ENOENT (no such kernel), RH_ESTATE (the kernel is terminated, or
 * provides run(): it has no batch boundary to swap at), RH_EPLUGIN (the
 * file does not load, or the new init() failed: its code is in err),
 * RH_ETYPE (another kernel name, other ports, other message types, or
 * run() instead of process(): err names the first difference),
 * RH_ETIMEDOUT (a worker stayed inside process() for 5 s, for example
 * waiting for room in a full output queue), RH_ENOMEM, RH_ESYS.
 */
RH_API int rh_runtime_kernel_reload(rh_runtime *rt, const char *kernel, rh_error *err);

/* What `ringhost ps` shows of one kernel: a snapshot of its counters.  A
 * kernel given up after restart.max restarts (docs/RELIABILITY.md, "Kernel
 * faults") reads as terminated.  Filled by the library by the rule of
 * "structs that grow" above: declare it `rh_kernel_info ki =
 * RH_KERNEL_INFO_INIT;`.  First version: struct_size .. cpus; stalls and
 * swaps_refused were appended. */
typedef struct rh_kernel_info {
    uint32_t struct_size;      /* in: sizeof(rh_kernel_info); out: the bytes filled */
    const char *name;          /* as in the manifest; valid while the runtime lives */
    const char *plugin;        /* the kernel's own name in its plugin */
    const char *version;       /* the plugin's version text */
    const char *path;          /* the plugin file */
    rh_state state;
    uint32_t workers;
    uint64_t processed;        /* messages handed to the kernel, all workers */
    uint64_t failed;           /* failed by the kernel (rh_fail or a failed batch) */
    uint64_t emitted;          /* outputs committed */
    uint64_t batches;
    uint64_t restarts;         /* init() run again after a fault */
    uint64_t swaps;            /* replaced by a newer plugin while running */
    uint64_t heartbeat_age_ns; /* since the stalest worker last ran its step; 0 = never ran */
    uint64_t active_ns;        /* since its first activation; 0 = never activated */
    int busy;                  /* some worker is inside process() now */
    char threads[192];         /* its threads' names, comma separated */
    char cpus[64];             /* the cpu each of those threads last ran on, same order */
    uint64_t stalls;           /* process() calls longer than its watchdog_ms, all workers */
    uint64_t swaps_refused;    /* replacements refused (reload, the plugin watcher) */
} rh_kernel_info;

#define RH_KERNEL_INFO_INIT {.struct_size = (uint32_t)sizeof(rh_kernel_info)}

/* Number of kernels, and the index-th (manifest order) into *out, whose
 * struct_size the caller set (RH_KERNEL_INFO_INIT): 0, RH_ENOENT past the
 * end (*out then zero but for struct_size), or RH_EINVAL (a struct_size of
 * 0 or below the first version: nothing written, logged as
 * api.struct_size on the runtime's log).  Its name stays valid while the runtime lives; plugin,
 * version and path until the kernel's second hot swap after the call (a
 * build a swap replaced is unloaded at the next swap). */
RH_API uint32_t rh_runtime_kernel_count(const rh_runtime *rt);
RH_API int rh_runtime_kernel_info(rh_runtime *rt, uint32_t index, rh_kernel_info *out);

/*
 * Dead letters and accounting.  Every kernel has a dead-letter queue
 * "<kernel>.dlq" (type "ringhost.dead_letter", created at launch, shared
 * like the others): each message its input bridge refuses as invalid or
 * expired, and each message the kernel fails (rh_fail, or a batch whose
 * process() returned < 0), lands there with the reason, its original
 * envelope and its payload, and is counted dead_lettered on the queue it
 * came from.
 *
 * Write one line per queue saying where every message it accepted went:
 *   accepted = delivered + dead-lettered + dropped + queued
 * accepted: enqueued; delivered: taken by a kernel and not failed (for a
 * queue a kernel reads), else taken by any consumer; dead-lettered: invalid
 * + expired + failed; dropped: dropped_oldest + duplicates; queued: still in
 * the queue or in a kernel ring.  Sends the queue refused (rejected,
 * dropped_newest) were never accepted and are shown apart.  Exact once the
 * runtime is terminated (terminate prints these lines after the summary);
 * while it runs, a snapshot.  Returns the number of lines that do not
 * balance: 0 when every accepted message is accounted for.
 */
RH_API int rh_runtime_report_accounting(rh_runtime *rt, FILE *out);

/* The number of queues whose accounting line did not balance when the
 * runtime terminated (0 before that); `ringhost run` exits 1 when not 0. */
RH_API int rh_runtime_unbalanced(const rh_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif /* RINGHOST_RUNTIME_H */
