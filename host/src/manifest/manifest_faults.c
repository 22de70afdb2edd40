/*
 * manifest_faults.c — the manifest keys that say what the host does when a
 * kernel misbehaves (engine/restart.c and faults/ do it):
 *
 *   "watchdog_ms": 500          a worker inside one process() call for longer
 *                               is stalled: reported, and restarted once the
 *                               call returns; 0 (the default) = off
 *   "restart": {"max": 3,       restarts of the kernel (all workers) before it
 *                               is given up (stopped, its queue keeps
 *                               accepting by its policy)
 *               "backoff_ms": 100,      wait before a restart, doubled after
 *               "backoff_max_ms": 5000, each restart in a row, up to this
 *               "failed_batches": 0}    restart after this many failed
 *                                       batches in a row; 0 (default) = off
 *   "isolation": "thread"       the kernel runs on a host thread (default), or
 *                "process"      in a child process of its own on the same
 *                               shared rings (exec/exec_process.c): a crash restarts
 *                               it and the host runs on; needs "bridge":
 *                               "thread" (its pumps stay in the host)
 *                "cuda"         on the GPU: a device kernel's loop, one block
 *                               per worker (host/backends/cuda/exec_cuda.c)
 *
 * Kept apart from manifest_kernels.c (the rest of a kernel) because they are one
 * concept with its own defaults; the form of every error is the same.
 */
#include <string.h>

#include <jansson.h>

#include "manifest/manifest_pvt.h"

#define MS_MAX 2147483647 /* ms fit an int */
#define RESTART_MAX 1000000

/* Defaults when the manifest says nothing (README, docs/RELIABILITY.md). */
#define DEFAULT_RESTART_MAX 3
#define DEFAULT_BACKOFF_MS 100
#define DEFAULT_BACKOFF_MAX_MS 5000

static const char *const isolation_names[] = {"thread", "process", "cuda"};
static const char *const restart_keys[] = {"max", "backoff_ms", "backoff_max_ms",
                                           "failed_batches"};

int rh__manifest_parse_faults(const rh_json_doc *L, const json_t *kv, const char *kp,
                              rh_kernel_decl *k)
{
    char p[RH_JSON_PATH_LEN];
    int rc;
    k->watchdog_ms = 0;
    k->restart_max = DEFAULT_RESTART_MAX;
    k->restart_backoff_ms = DEFAULT_BACKOFF_MS;
    k->restart_backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    k->restart_failed_batches = 0;
    int iso = 0;
    if ((rc = rh__json_opt_uint(L, kv, kp, "watchdog_ms", 0, MS_MAX, 0, "ms, 0 = off",
                                &k->watchdog_ms)) ||
        (rc = rh__json_opt_enum(L, kv, kp, "isolation", isolation_names,
                                COUNT(isolation_names), &iso)))
        return rc;
    /* What each executor allows (an inline bridge, a run() kernel) is
     * checked where the executors are known, once the plugin is
     * (exec/exec.c rh__exec_bind, at planning: `validate` says it too). */
    k->executor = isolation_names[iso];
    const json_t *r = json_object_get(kv, "restart");
    if (!r)
        return 0;
    rh__manifest_path_key(p, sizeof p, kp, "restart");
    if (!json_is_object(r))
        return rh__json_fail(L, p, r, "an object with \"max\", \"backoff_ms\", "
                                     "\"backoff_max_ms\" and/or \"failed_batches\"");
    if ((rc = rh__json_check_keys(L, r, p, restart_keys, COUNT(restart_keys))) ||
        (rc = rh__json_opt_uint(L, r, p, "max", 0, RESTART_MAX, 0, "restarts", &k->restart_max)) ||
        (rc = rh__json_opt_uint(L, r, p, "backoff_ms", 0, MS_MAX, 0, "ms",
                                &k->restart_backoff_ms)))
        return rc;
    /* backoff_max_ms defaults to at least backoff_ms, so a long first
     * backoff alone is not an error. */
    if (!json_object_get(r, "backoff_max_ms") && k->restart_backoff_max_ms < k->restart_backoff_ms)
        k->restart_backoff_max_ms = k->restart_backoff_ms;
    if ((rc = rh__json_opt_uint(L, r, p, "backoff_max_ms", k->restart_backoff_ms, MS_MAX, 0,
                                "ms, at least backoff_ms", &k->restart_backoff_max_ms)) ||
        (rc = rh__json_opt_uint(L, r, p, "failed_batches", 0, RESTART_MAX, 0, "batches, 0 = off",
                                &k->restart_failed_batches)))
        return rc;
    return 0;
}
