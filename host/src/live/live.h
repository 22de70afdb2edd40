/*
 * live.h — the live layer (live/): what changes a running host one kernel
 * at a time.  kernel_life.c runs one kernel's lifecycle (activate,
 * deactivate, terminate alone) and calls on a worker's own thread;
 * hotswap.c replaces a kernel's plugin by a newer build; plugin_watch.c
 * watches the plugin folders for those builds.  Used by runtime.c.
 */
#ifndef RH_LIVE_H
#define RH_LIVE_H

#include "exec/exec.h"

/* kernel_life.c: the kernel called name, or NULL. */
rh_kinst *rh__runtime_kernel_find(rh_runtime *rt, const char *name);
/* Run op->fn(w, op->arg) on w's own thread at its next batch boundary and
 * wait for it until deadline_ns; 0, or RH_ETIMEDOUT (the thread is inside
 * process(), or gone: the op is withdrawn when it had not started). */
int rh__worker_call(rh_worker *w, rh_worker_op *op, uint64_t deadline_ns);
/* Pause or resume one kernel and wait until every thread passed a batch
 * boundary (so no worker of it is inside process()). */
int rh__kernel_set_flow(rh_kinst *k, int kflow, uint64_t deadline_ns);

/* hotswap.c: unload the plugins swaps loaded (destroy, after every thread
 * that could run their code is gone). */
void rh__hotswap_free(rh_runtime *rt);

/* plugin_watch.c: watch the plugin folders (rh_launch_opts.watch_plugins),
 * and stop watching (joins the thread; before terminate or destroy). */
int rh__plugin_watch_start(rh_runtime *rt, const rh_launch_opts *opts, rh_error *err);
void rh__plugin_watch_stop(rh_runtime *rt);
/* Swap in the new build at path for every kernel of rt that runs the file
 * (not terminated), each logged kernel.swap or kernel.swap_refused.
 * Returns how many kernels of rt run it. */
unsigned rh__plugin_swap_users(rh_runtime *rt, const char *path);
/* A host of several runtimes (ringhost launch, control/): rt's watcher asks
 * users(arg, path) -- which swaps the file's kernels in every runtime of
 * the host and returns how many run it -- instead of looking at rt's own
 * kernels only.  NULL users: rt's own again; returns once no call of the
 * old hook runs, so arg may go then.  No-op when rt is not watched. */
void rh__plugin_watch_set_users(rh_runtime *rt, unsigned (*users)(void *arg, const char *path),
                                void *arg);
/* Watch the plugin folders of one more manifest (a launched one, m), its
 * extra folder (its --plugins, or NULL) and the files its kernels load by
 * absolute path: 0, or RH_ESYS in err.  A folder watched already is not
 * added twice.  No-op when rt is not watched. */
int rh__plugin_watch_add_manifest(rh_runtime *rt, const rh_manifest *m, const char *extra,
                                  rh_error *err);

#endif /* RH_LIVE_H */
