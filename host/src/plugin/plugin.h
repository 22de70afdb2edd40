/*
 * plugin.h — loading kernel shared objects.
 *
 * rh__plugin_open() dlopen()s one file (refused first when another user
 * could have written it or any folder above it (plugin_trust.h), or when it
 * is a truncated ELF file; loaded first in a scanner child that may crash
 * in its place (plugin_scanner.h)), resolves RH_KERNEL_ENTRY_SYMBOL and
 * checks the descriptor, on a guarded thread (plugin_guard.h: a plugin
 * that behaved in the scanner and crashes, exits or hangs in the host
 * ends the host gracefully, never silently).  What is loaded is the descriptor that was
 * checked, never the path again.  The runtime loads
 * private copies instead (rh__plugin_open_copy).  Every failure is an RH_EPLUGIN with a reason that
 * says what to do (the dlerror() text included); the host never crashes on a
 * bad plugin, it reports it and goes on.
 */
#ifndef RH_PLUGIN_H
#define RH_PLUGIN_H

#include "ringhost/ringhost.h"

typedef struct rh_plugin {
    char path[4096];
    void *handle;                 /* dlopen handle, NULL when it failed */
    const rh_kernel_desc *desc;   /* NULL when it failed */
    int error;                    /* 0 or RH_EPLUGIN */
    char why[1024];               /* the load error */
    int copied;                   /* loaded from a private copy (rh__plugin_open_copy) */
    int copy_fd;                  /* what was loaded (the checked file or its private copy),
                                     open while the plugin is loaded; -1 when none */
    int waived;                   /* opened under an explicit --allow-plugin waiver: a new
                                     build at its path is reloaded under it (hotswap.c) */
    struct rh_plugin_probe *seen; /* a names-only scan's item (plugin_pick.c): what the
                                     scanner child saw; not loaded while desc is NULL and
                                     error 0 (freed by rh__plugin_close) */
} rh_plugin;

/* Load and check one .so.  Returns 0, or RH_EPLUGIN with err->msg. */
int rh__plugin_open(const char *path, rh_plugin *out, rh_error *err);
void rh__plugin_close(rh_plugin *p);

/* Load and check a private copy of the file at path, with the same checks
 * as rh__plugin_open; out->path is path.  The host then runs code nobody can
 * change under it (a `cp` over a loaded .so rewrites the pages a running
 * kernel executes), and a new build at the same path loads beside the old
 * one (hotswap.c).  rh__plugin_close releases the copy.  Returns 0,
 * RH_EPLUGIN (err->msg says why), or RH_ESYS (no private copy could be
 * made). */
int rh__plugin_open_copy(const char *path, rh_plugin *out, rh_error *err);

/* A new private copy of the file `was` was loaded from, under the waiver
 * `was` had (a kernel allowed with --allow-plugin stays allowed when a new
 * build of it is swapped in; world-writable is still refused). */
int rh__plugin_reopen_copy(const rh_plugin *was, rh_plugin *out, rh_error *err);

/* Would path load?  The checks of rh__plugin_open up to the scanner child
 * (plugin_scanner.h), which loads it and checks its descriptor; nothing of
 * it runs in this process.  0 with *out what the child saw, or RH_EPLUGIN
 * with err->msg. */
struct rh_plugin_probe;
int rh__plugin_check_file(const char *path, struct rh_plugin_probe *out, rh_error *err);

/* A set of plugins from folders. */
typedef struct rh_plugin_set {
    rh_plugin *items;
    uint32_t n;
    int private_copies;           /* load each file from a private copy (rh__plugin_open_copy) */
    int names_only;               /* a scan runs nothing of a file in this process: the
                                     scanner child's verdict only (plugin_pick.c) */
} rh_plugin_set;

/* Try every *.so in dir (sorted by name); failures are kept with their reason.
 * Returns the number found, or RH_ENOENT when dir cannot be read. */
int rh__plugin_scan(rh_plugin_set *set, const char *dir, rh_error *err);
void rh__plugin_set_free(rh_plugin_set *set);

/* Try one file and append it to set, loaded or with its reason (as a scan
 * does).  Returns 0, RH_EPLUGIN (kept, reason in err and in the item), or
 * RH_ENOMEM.  Pointers into set->items move: take them after all adds. */
int rh__plugin_add(rh_plugin_set *set, const char *path, rh_error *err);

/* rh__plugin_add for a file the command line names explicitly
 * (--allow-plugin): its owner and group-writable checks only warn, as a
 * logged plugin.allowed event; a world-writable file or folder is still
 * refused, and it is still loaded from its checked descriptor. */
int rh__plugin_add_allowed(rh_plugin_set *set, const char *path, rh_error *err);

/* The loaded plugin whose kernel name (or file stem, "libNAME.so"/"NAME.so")
 * is name; NULL when none loaded. */
const rh_plugin *rh__plugin_find(const rh_plugin_set *set, const char *name);

/* A message type with that name among the loaded plugins' ports, or NULL;
 * *origin gets the plugin path. */
const rh_type *rh__plugin_find_type(const rh_plugin_set *set, const char *type_name,
                                    const char **origin);

/*
 * plugin_pick.c — a host loads only the plugins its manifest names.
 *
 * A names-only set (names_only) scans its folders in scanner children only:
 * each file is an item with the child's verdict (why, error) or the name
 * its descriptor gives (seen->name), and nothing of it has run in this
 * process (rh__plugin_scan makes such items).  rh__plugin_pick is rh__plugin_find for such a set: the item whose
 * kernel name (loaded or seen) or file stem is name, loaded into this
 * process now if it was only seen; NULL when no item matches, else the
 * item (desc NULL and why set when its load failed).  rh__plugin_pick_type
 * is rh__plugin_find_type: the loaded plugins first, then the first seen
 * one whose ports declare the type, loaded.  rh__plugin_names lists the
 * kernel names the set knows (loaded or seen), "none" for none.
 */
rh_plugin *rh__plugin_pick(rh_plugin_set *set, const char *name);
const rh_type *rh__plugin_pick_type(rh_plugin_set *set, const char *type_name,
                                    const char **origin);
void rh__plugin_names(const rh_plugin_set *set, char *buf, size_t len);

/* The kernel's config_schema (kernel.h), or NULL when it declares none or
 * its descriptor predates the member (struct_size too small to hold it). */
const char *rh__plugin_config_schema(const rh_kernel_desc *d);

#endif /* RH_PLUGIN_H */
