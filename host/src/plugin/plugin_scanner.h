/*
 * plugin_scanner.h — a plugin is first loaded in a child process.
 *
 * dlopen runs a library's constructors, and its entry runs next: a
 * constructor that segfaults, calls exit() or never returns, or an entry
 * that returns a wild pointer, would take the host down or hang it.  So,
 * as GStreamer's gst-plugin-scanner does, a child fork()ed for the purpose
 * loads the file first, calls its entry, runs the descriptor checks and
 * writes back what it saw (an rh_plugin_probe).  Only a plugin the child
 * loaded cleanly is dlopen()ed by the host, and what the host then reads is
 * compared with what the child saw (rh__plugin_probe_matches), so a
 * plugin that behaves differently the second time is still refused.
 *
 * The child has a deadline (RINGHOST_PLUGIN_SCAN_TIMEOUT_MS, default 5000
 * ms, read once); one that misses it is SIGKILLed by its pid and reaped.
 * Results are cached in memory for the life of the process, keyed by the
 * path and the file's device, inode, size, mtime and ctime, so a host that
 * looks at a file again (a hot-swap watcher, several folders naming one
 * file) forks once per build.  There is no cache file: the scan costs
 * about a fork and a dlopen (~1-2 ms a plugin), and a cache file would be
 * one more file that root must trust.  A timeout is cached too: a plugin
 * that hangs costs its deadline once per build, not at every look.
 *
 * The caller serialises scans with its own dlopen/dlclose calls (plugin.c
 * load_lock), so no thread of this process is inside the loader when the
 * child is forked.
 */
#ifndef RH_PLUGIN_SCANNER_H
#define RH_PLUGIN_SCANNER_H

#include <stdint.h>
#include <sys/stat.h>

#include "ringhost/kernel.h"
#include "ringhost/ringhost.h"

#define RH_PROBE_MAX_PORTS 32

/* What the scanner child saw: names are cut to their field (both sides
 * compare the cut names). */
typedef struct rh_plugin_probe {
    uint32_t state;    /* RH_PROBE_*: what the child wrote back */
    char why[1024];    /* RH_PROBE_REFUSED: the load error, as the host would word it */
    char name[128];
    char version[64];
    uint32_t n_inputs, n_outputs;
    struct {
        char name[64];
        char type[128];
        uint64_t fingerprint;
        uint32_t size;
    } ports[RH_PROBE_MAX_PORTS]; /* inputs, then outputs */
} rh_plugin_probe;

/* RH_PROBE_EXITED is the child's word for exit() called; the parent turns
 * it into RH_PROBE_REFUSED.  RH_PROBE_TIMEOUT: the deadline passed, or no
 * child could be started. */
enum {
    RH_PROBE_NONE = 0,
    RH_PROBE_LOADED = 1,
    RH_PROBE_REFUSED = 2,
    RH_PROBE_EXITED = 3,
    RH_PROBE_TIMEOUT = 4
};

/*
 * Load the file open at fd (its bytes; key: the stat that identifies it in
 * the cache, the source file for a private copy) in a scanner child.
 * path is the name the user knows, used in every message.  Returns 0 when
 * the child loaded it and its descriptor passed rh__plugin_check (*out holds
 * what it saw), or RH_EPLUGIN with err->msg: the child's own load error, or
 * how the child ended (signal, exit status, exit() called, deadline).
 */
int rh__plugin_probe(int fd, const struct stat *key, const char *path, rh_plugin_probe *out,
                     rh_error *err);

/*
 * Scan n files at once, one child each, all started before any is waited
 * for (a folder of plugins costs about one scan, not n); results go to the
 * cache and, when out is not NULL, to out[0..n).  The
 * caller holds its load lock and bounds n (each child is a process).
 */
void rh__plugin_probe_many(uint32_t n, const int *fds, const struct stat *keys,
                           const char *const *paths, rh_plugin_probe *out);

/* The scanner child's deadline in ms (RINGHOST_PLUGIN_SCAN_TIMEOUT_MS,
 * default 5000), also the host's own load's (plugin_guard.h). */
int rh__plugin_scan_timeout_ms(void);

/* Non-zero when a result for this path and build is cached. */
int rh__plugin_probe_cached(const char *path, const struct stat *key);

/* 0 when d (read by the host after its own dlopen) says what the scanner
 * saw; RH_EPLUGIN naming the first difference otherwise. */
int rh__plugin_probe_matches(const rh_plugin_probe *probe, const rh_kernel_desc *d,
                             const char *path, rh_error *err);

#endif /* RH_PLUGIN_SCANNER_H */
