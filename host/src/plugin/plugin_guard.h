/*
 * plugin_guard.h — the host's own dlopen and dlclose of a plugin, on a
 * thread that a misbehaving plugin can take, but not the host with it.
 *
 * The scanner child (plugin_scanner.h) catches a plugin that crashes,
 * exits or hangs while loading by accident.  It cannot catch one that
 * behaves while it is scanned and misbehaves in the host (a constructor
 * that looks at its stdout, its parent, a file, or counts its loads): the
 * scanner and the host are two processes, and a constructor can always
 * tell them apart.  So every piece of plugin code the host itself runs
 * while loading or unloading a plugin (constructors, the entry and the
 * descriptor it returns, destructors) runs on a thread of its own, which
 * the caller waits for up to RINGHOST_PLUGIN_LOAD_TIMEOUT_MS, by default
 * twice the scanner's deadline (the scanner saw it load within one; a slow
 * honest constructor is not a hang):
 *
 *   - a fault on that thread (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
 *     SIGTRAP, SIGSYS) is caught by a handler that parks the thread for
 *     good and tells the caller;
 *   - exit() on that thread meets an exit handler registered just before
 *     the call (so it runs before any other the host has), which parks the
 *     thread the same way: the process does not end;
 *   - a thread still inside the plugin at the deadline is abandoned.
 *
 * In all three the thread stays inside the dynamic loader, holding its
 * lock: no later dlopen or dlclose can ever return in this process.  The
 * guard is then "wedged": every later load is refused at once naming the
 * plugin, every unload is skipped (the process is ending), the event is
 * logged (plugin.load_fatal), the hook set with rh__plugin_guard_on_wedge
 * is called once (ringhost run shuts the host down gracefully: every
 * accounting line written, exit status 1), and a process exit that
 * follows ends with _exit(status) after flushing stdio, since exit()'s
 * unloading of libraries (_dl_fini) would wait for the loader forever.
 *
 * Not caught (in-process there is no way): _exit(), quick_exit(), SIGKILL
 * sent to the host, threads the plugin starts, and memory it scribbles on;
 * a constructor that parks while holding a lock the shutdown needs (the
 * allocator's, a stdio stream's) stops the graceful shutdown too.
 * docs/RELIABILITY.md, "Plugins that lie to the scanner".
 */
#ifndef RH_PLUGIN_GUARD_H
#define RH_PLUGIN_GUARD_H

#include <stddef.h>

#include "ringhost/ringhost.h"

/*
 * Run fn(arg) on a guarded thread and wait for it up to the deadline
 * (RINGHOST_PLUGIN_LOAD_TIMEOUT_MS, default twice the scanner's).  path names the plugin
 * in messages; unloading: 0 while it is being loaded, 1 while unloaded
 * (its destructors).  Returns 0 when fn returned; RH_EPLUGIN with
 * err->msg when the plugin crashed, exited or hung in it (the guard is
 * then wedged), or when the guard was wedged already; RH_ESYS when no
 * thread could be started (fn did not run).  The caller serialises calls
 * (plugin.c load_lock).
 */
int rh__plugin_guard_run(const char *path, int unloading, void (*fn)(void *arg), void *arg,
                         rh_error *err);

/* 0 while the guard is not wedged; else RH_EPLUGIN with err->msg saying
 * that path is not loaded and which plugin holds the loader. */
int rh__plugin_guard_refuse(const char *path, rh_error *err);

/* Non-zero once a plugin crashed, exited or hung in the host's loader;
 * why (when not NULL) gets what happened, naming the plugin. */
int rh__plugin_guard_wedged(char *why, size_t len);

/* hook(why) is called once, on the thread that waited for the load, when
 * the guard becomes wedged (NULL: none).  It may not load or unload
 * plugins. */
void rh__plugin_guard_on_wedge(void (*hook)(const char *why));

#endif /* RH_PLUGIN_GUARD_H */
