/*
 * control.h — the control socket of a serving host (`ringhost run` without
 * --send), and the one JSON-lines protocol its clients (`ringhost ps`,
 * `launch`, `activate`, ...) speak.
 *
 * Where: one Unix-domain stream socket per instance,
 *   $RINGHOST_RUNTIME_DIR/<instance>.sock   when that variable is set,
 *   else $XDG_RUNTIME_DIR/ringhost/<instance>.sock   when that one names a folder,
 *   else /tmp/ringhost-<uid>/<instance>.sock, or /tmp/ringhost-<uid>-N/ when
 *   another user made /tmp/ringhost-<uid> first (the lowest N whose folder
 *   is this user's, else the lowest free: base/own_name.h; another user's
 *   entry is never used nor removed).
 * The folder is created mode 0700 and must be a real folder (not a link)
 * owned by this user and writable by nobody else, or the host refuses to
 * serve there (and a client refuses to talk there).  The socket is mode
 * 0600, and every connection's peer is checked with SO_PEERCRED: a process
 * of another uid is refused (logged, then disconnected).
 *
 * One host per instance: a second host whose socket would answer, or
 * that cannot take the lock <instance>.lock beside it (flock, held for the
 * host's life), is refused (RH_EEXIST, with the pid of the one serving); a
 * socket file nobody answers (a host that died) is replaced.  The host
 * removes its socket and its lock file when it stops.
 *
 * Protocol: each request is one JSON object on one line (at most
 * RH_CONTROL_LINE_MAX bytes with its '\n'), answered by one JSON object on
 * one line, in order.  A connection may send several.
 *
 * Connections: all are served by one thread that polls them, so none holds
 * up another.  A connection has RH_CONTROL_IDLE_MS from its connect, and
 * again from each answer, to complete its next request line, or it is
 * closed (silent, half-open and byte-a-second clients alike).  Past
 * RH_CONTROL_CLIENTS_MAX connections, or when the process is out of file
 * descriptors, the connection that has waited longest without completing a
 * request is closed to make room: a new client is never refused for what
 * idle ones hold.  Replies carry
 * "ok": true and the fields of the command, or
 *   {"ok": false, "code": -1009, "error": "no kernel \"x\" in instance ..."}
 * with an RH_E* code and a message saying what to do.  A line that is not
 * a JSON object, an unknown "cmd" or a missing argument is answered that
 * way too; a line past the limit is answered and the connection closed.
 *
 *   {"cmd": "ps"}
 *     -> {"ok": true, "instance": I, "pid": N, "kernels": [{"name", "plugin",
 *        "version", "path", "manifest", "state", "workers", "threads",
 *        "cpus", "processed", "failed", "emitted", "batches", "restarts",
 *        "swaps", "busy", "rate", "heartbeat_age_ms", "active_s", "latency"},
 *        ...], "threads": [{"thread", "busy_polls", "idle_polls"}, ...],
 *        "runtimes_released": N, "runtimes_kept": N}
 *        latency: {"recorded", "service": HIST, "busy_ns", "inputs": [{"port",
 *        "queue", "wait": HIST}, ...]} (engine.h rh__kernel_latency_json;
 *        HIST: base/hist.h rh__hist_to_json); absent on tombstones.
 *        threads: every reactor thread's rounds that found work and that
 *        found none.
 *        rate: messages processed per second over the host's last sample
 *        (it samples every RH_CONTROL_SAMPLE_MS ms; 0 before two samples).
 *        Kernels of launched manifests that were released (their kernels
 *        all terminated: rh__control_release_finished) follow, the last
 *        RH_CONTROL_TOMBS of them, "state": "terminated", their last counts,
 *        "threads" and "cpus" "-".  "runtimes_released": launched
 *        manifests released so far; "runtimes_kept": those whose kernels
 *        are all terminated but that are kept (a kernel stuck in process(),
 *        or a queue still holding messages or serving another manifest; the
 *        host logs why: runtime.kept, runtime.queues_kept).
 *   {"cmd": "activate"|"deactivate"|"terminate"|"reload", "kernel": K
 *    [, "timeout_ms": T (terminate: default 5000)]}
 *     -> {"ok": true, "kernel": K, "state": "active"|...}
 *        A released kernel: RH_ESTATE ("already terminated, and released").
 *   {"cmd": "launch", "manifest": ABSOLUTE_PATH [, "activate": true]
 *    [, "allow_plugins": [PATH, ...]] [, "plugins": DIR]}
 *     -> {"ok": true, "manifest": P, "kernels": [K, ...],
 *        "created": [Q, ...], "shared": [Q, ...]}
 *        Adds the manifest's kernels and queues to the host, under its
 *        instance.  A queue the host already has is shared (same type, or
 *        RH_ETYPE); a kernel name the host already has is refused
 *        (RH_EMANIFEST), unless that kernel was released.  Its kernels
 *        start inactive unless "activate".  Plugins are looked up in
 *        "plugins" DIR, then the manifest's "plugins" folders, or, when it
 *        has none, the host's (its --plugins, then its manifest's); its
 *        "name" may be left out.  Its folders join the host's watch (a new
 *        build of a launched kernel is swapped in).
 *   {"cmd": "methods"}
 *     -> {"ok": true, "methods": [{"name", "params": [{"name", "required"}],
 *        "description"}, ...]}: every request of this list (save_config.c,
 *        rh__control_methods; SPDK's rpc_get_methods).
 *   {"cmd": "save_config"}
 *     -> {"ok": true, "manifest": {...}}: the running host as one manifest
 *        that launches the same thing (SPDK's save_config): "name" the
 *        instance, the plugin folders of every manifest launched, every
 *        queue a runtime created with its resolved settings (dead-letter
 *        queues only when a manifest declared them), every kernel not
 *        terminated with each port wired explicitly.  What it does not
 *        carry: a launch's "plugins" folder and "allow_plugins" (give them
 *        to `ringhost run` again), and kernel states (run activates all).
 */
#ifndef RH_CONTROL_H
#define RH_CONTROL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ringhost/ringhost.h"

#define RH_CONTROL_LINE_MAX (64 * 1024) /* bytes of one request line, '\n' included */
#define RH_CONTROL_CLIENTS_MAX 1024     /* connections held; past it the longest idle is closed */
#define RH_CONTROL_IDLE_MS 10000        /* to complete a request after connecting or an answer */
#define RH_CONTROL_SAMPLE_MS 1000       /* how often ps rates are sampled */
/* The runtime folder of the systemd unit (docs/ringhost@.service,
 * RuntimeDirectory=ringhost): clients search it after their own. */
#define RH_CONTROL_SYSTEM_DIR "/run/ringhost"

typedef struct rh_control rh_control;

/*
 * The socket path of an instance into buf (len bytes).  With make_dir the
 * folder is created (mode 0700) when missing.  Either way an existing
 * folder is checked: a folder, not a link, owned by this user, not group-
 * or world-writable.  0, or RH_EINVAL (instance name, path too long for a
 * socket), RH_ESYS (cannot create or stat the folder), RH_EEXIST (the
 * folder is not safe: the message says why and what to do).
 */
int rh__control_socket_path(const char *instance, int make_dir, char *buf, size_t len,
                            rh_error *err);
/* Without make_dir (a client looking for a host) and without
 * RINGHOST_RUNTIME_DIR, a socket of the instance in RH_CONTROL_SYSTEM_DIR
 * is found when the user's own folder has none. */

/* rh_now_ns() of the serving thread's last sampling turn (every
 * RH_CONTROL_SAMPLE_MS while it runs; 0 before it started): the host's
 * heartbeat, which the systemd watchdog pings follow (cli/ready.c). */
uint64_t rh__control_heartbeat_ns(const rh_control *c);

/*
 * Bind the instance's control socket (before anything is launched, so a
 * second host of a live instance stops here).  log: where refused peers and
 * launches are reported (NULL = stderr).  0, or RH_EEXIST (a host serves the
 * instance: its pid is in the message), RH_ESYS, the errors of
 * rh__control_socket_path.
 */
int rh__control_open(const char *instance, FILE *log, rh_control **out, rh_error *err);


/* Make rt (launched from manifest_path) a runtime of the host: its kernels
 * show in ps and take the verbs.  Not thread-safe against the serving
 * thread: call before rh__control_start or from a request.  0 or RH_ENOMEM. */
int rh__control_add_runtime(rh_control *c, rh_runtime *rt, const char *manifest_path);

/* Start the thread that serves the socket.  0, or RH_ESYS. */
int rh__control_start(rh_control *c, rh_error *err);

/* Runtimes of the host, in launch order (the first is `run`'s). */
unsigned rh__control_runtime_count(const rh_control *c);
rh_runtime *rh__control_runtime(const rh_control *c, unsigned i);

/*
 * Answer one request line (without its '\n'): a malloc'ed JSON text
 * without '\n', never NULL.  What the serving thread does for each line;
 * tests call it directly.
 */
char *rh__control_handle(rh_control *c, const char *line, size_t len);

/* Take the ps rate sample now (the serving thread does it every
 * RH_CONTROL_SAMPLE_MS). */
void rh__control_sample(rh_control *c);

/*
 * Release the launched runtimes nothing needs any more (the serving thread
 * does it after each terminate request and every RH_CONTROL_SAMPLE_MS): a
 * runtime other than the first whose kernels were all terminated and
 * finished is terminated (its threads joined, its summary and accounting
 * logged) and its kernels become tombstones in ps (the last
 * RH_CONTROL_TOMBS); their names are free for a new launch.  Once none of
 * the queues it created holds a message or is used by another runtime's
 * kernels, it is destroyed: rings, queues (closed and unlinked), plugins,
 * memory.  A runtime with a stuck kernel is kept, and logged once
 * (runtime.kept).  Returns the number of runtimes destroyed.
 */
unsigned rh__control_release_finished(rh_control *c);

/* Accounting lines of released runtimes that did not balance (the host's
 * exit status counts them with its own). */
int rh__control_released_unbalanced(const rh_control *c);

/*
 * Stop serving: join the thread, close the connections, remove the socket
 * file (so no request arrives while the host shuts down).  The runtimes
 * stay listed: terminate and destroy them in reverse launch order (a later
 * one may share the queues of an earlier one), then rh__control_close.
 */
void rh__control_stop(rh_control *c);

/* rh__control_stop if needed, then free c (not its runtimes).  After the
 * runtimes are terminated: their accounting counts each other's intake
 * through a list c owns. */
void rh__control_close(rh_control *c);

#endif /* RH_CONTROL_H */
