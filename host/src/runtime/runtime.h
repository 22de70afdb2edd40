/*
 * runtime.h — what the layers above the runtime (control/, cli/) may use of
 * it beyond the public API of ringhost.h.
 */
#ifndef RH_RUNTIME_H
#define RH_RUNTIME_H

#include <stdio.h>

#include "ringhost/ringhost.h"

/* The runtimes of the same host, NULL-terminated (may hold rt itself): their
 * kernels may read the queues rt created, and rt's accounting lines count
 * their intake (engine/metrics.c).  The array and every runtime in it must
 * outlive rt's last report.  Call it before activating a runtime launched
 * into a serving host, from the thread that owns the runtimes. */
void rh__runtime_set_peers(rh_runtime *rt, rh_runtime *const *peers);

/* `ringhost topo MANIFEST`: print the threads a launch of the manifest
 * would start (one "binding: thread NAME pinned to cpus SET wait W: TASKS"
 * line each) without launching: no queue is created, no thread started, no
 * kernel's init() run.  0, or the error launch would report first. */
int rh__runtime_plan_threads(const char *manifest_path, const rh_launch_opts *opts, FILE *out,
                             rh_error *err);

/*
 * Releasing a runtime launched into a serving host once its kernels are
 * terminated (control/runtimes.c), so launch/terminate cycles leave
 * nothing behind.  From the thread that owns the runtimes.
 *
 * rh__runtime_kernels_done: 1 when every kernel of rt was terminated and
 * finished: fini() ran on each worker, nothing is left in its rings, none
 * is inside process().  0 when a kernel is not terminated; -1 when one is
 * terminated but did not finish (stuck in process(): its memory must not
 * be freed under it).  why (len bytes) names the kernel and what holds it.
 */
int rh__runtime_kernels_done(rh_runtime *rt, char *why, size_t len);

/*
 * rh__runtime_queues_needed: non-zero when a queue rt created must outlive
 * it: it still holds messages (they stay queued: a client may still take
 * them), or a kernel of another runtime of the host (the peers) uses it.
 * why names the first such queue.  The messages of a persist queue do not
 * hold rt back: closing it keeps them for the next launch, by design.
 */
int rh__runtime_queues_needed(rh_runtime *rt, char *why, size_t len);

/*
 * rh__runtime_release: destroy a terminated rt while its peers live on:
 * its intake of their queues is handed to their accounting first
 * (engine.h, rh__runtime_hand_over_intake), then its threads' memory,
 * rings, queues (closed and unlinked) and plugins go.  The caller then
 * drops rt from every peers list.
 */
void rh__runtime_release(rh_runtime *rt);

/*
 * rh__runtime_graph: plan manifest_path as rh_runtime_validate does (no
 * queue, thread or shared memory is created) and write the plan to out as
 * Graphviz DOT statements (launch/graph.c: the body of a digraph; live as
 * rh__graph_print takes it, or NULL).  0, or the errors of validate.
 */
struct json_t;
/* The counters of rt's links (remote/remote.h rh__remote_stats_json): a new
 * JSON array, empty when the manifest has none.  For the control socket's
 * ps reply (stat, ps, --prom). */
struct json_t *rh__runtime_links_json(rh_runtime *rt);
int rh__runtime_graph(const char *manifest_path, const rh_launch_opts *opts, FILE *out,
                      const struct json_t *live, rh_error *err);

/* config_check.c: the kernel's "config" (config_json, an object) checked
 * against what its plugin declares (declared: rh_kernel_desc.config_schema,
 * NULL: nothing checked): every key declared, of its type and within its
 * minimum/maximum.  0, or RH_EMANIFEST naming "path: kernels[index].config.KEY"
 * and what was expected.  A declaration that is not a JSON object is a
 * warning on warn.  Calls nothing of the kernel. */
int rh__config_check(const char *declared, const char *config_json, const char *path,
                     uint32_t index, const char *plugin, FILE *warn, rh_error *err);

#endif /* RH_RUNTIME_H */
