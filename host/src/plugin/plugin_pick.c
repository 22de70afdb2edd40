/*
 * plugin_pick.c — a host loads only the plugins its manifest names.
 *
 * A launch used to load every .so of its plugin folders into the host and
 * then find each kernel by the name its descriptor gives.  The scanner
 * child catches accidents, not a constructor that lies (it behaves in the
 * child and crashes, exits or hangs in the host: RELIABILITY.md, "Plugins
 * that lie to the scanner"), so one such file beside the plugin a manifest
 * names ended a host that never needed it.  Now a host's set is scanned
 * names-only: every file goes through the trust checks and the scanner
 * child, which says whether it loads and which kernel it holds, and nothing
 * of it runs in the host.  A file is loaded into the host when a kernel of
 * the manifest names it (rh__plugin_pick), or when a queue declares a type
 * only it defines (rh__plugin_pick_type).  The names the scan saw still
 * make the "unknown plugin" message list what the folders hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/plugin.h"
#include "plugin/plugin_scanner.h"

static int only_seen(const rh_plugin *p)
{
    return p->seen && !p->desc && p->error == 0;
}

/* Load an item that was only seen: the scanner child again (its verdict is
 * cached for this build), then the host's own load, on the guard. */
static void load_seen(const rh_plugin_set *set, rh_plugin *p)
{
    char path[sizeof p->path];
    snprintf(path, sizeof path, "%s", p->path);
    rh_plugin_probe *seen = p->seen;
    p->seen = NULL;
    rh_error err;
    if (set->private_copies)
        (void)rh__plugin_open_copy(path, p, &err);
    else
        (void)rh__plugin_open(path, p, &err);
    free(seen);
}

/* "dir/libNAME.so" or "dir/NAME.so" matches NAME (as plugin.c's). */
static int stem_is(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(name);
    if (strncmp(base, "lib", 3) == 0 && strncmp(base + 3, name, n) == 0 &&
        strcmp(base + 3 + n, ".so") == 0)
        return 1;
    return strncmp(base, name, n) == 0 && strcmp(base + n, ".so") == 0;
}

static const char *name_of(const rh_plugin *p)
{
    return p->desc ? p->desc->name : only_seen(p) ? p->seen->name : NULL;
}

/* The first item that matches, by kernel name or else by stem, loaded. */
rh_plugin *rh__plugin_pick(rh_plugin_set *set, const char *name)
{
    for (int by_stem = 0; by_stem < 2; by_stem++)
        for (uint32_t i = 0; i < set->n; i++) {
            rh_plugin *p = &set->items[i];
            const char *has = name_of(p);
            if (!has || !(by_stem ? stem_is(p->path, name) : strcmp(has, name) == 0))
                continue;
            if (only_seen(p))
                load_seen(set, p);
            /* what loads is the file as it is now: another build may hold
             * another kernel, which does not answer to this name */
            if (!p->desc || by_stem || strcmp(p->desc->name, name) == 0)
                return p;
        }
    return NULL;
}

static const rh_type *type_in(const rh_kernel_desc *d, const char *type_name)
{
    for (int dir = 0; dir < 2; dir++) {
        const rh_port *ports = dir ? d->outputs : d->inputs;
        uint32_t np = dir ? d->n_outputs : d->n_inputs;
        for (uint32_t j = 0; j < np; j++)
            if (strcmp(ports[j].type->name, type_name) == 0)
                return ports[j].type;
    }
    return NULL;
}

static int seen_declares(const rh_plugin_probe *seen, const char *type_name)
{
    uint32_t n = seen->n_inputs + seen->n_outputs;
    for (uint32_t j = 0; j < n && j < RH_PROBE_MAX_PORTS; j++)
        if (strncmp(seen->ports[j].type, type_name, sizeof seen->ports[j].type) == 0)
            return 1;
    return 0;
}

const rh_type *rh__plugin_pick_type(rh_plugin_set *set, const char *type_name,
                                    const char **origin)
{
    const rh_type *t = rh__plugin_find_type(set, type_name, origin);
    for (uint32_t i = 0; !t && i < set->n; i++) {
        rh_plugin *p = &set->items[i];
        if (!only_seen(p) || !seen_declares(p->seen, type_name))
            continue;
        load_seen(set, p);
        if (p->desc && (t = type_in(p->desc, type_name)) != NULL && origin)
            *origin = p->path;
    }
    return t;
}

void rh__plugin_names(const rh_plugin_set *set, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < set->n && used + 2 < len; i++) {
        const char *name = name_of(&set->items[i]);
        if (name)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
    }
    if (!used)
        snprintf(buf, len, "none");
}
