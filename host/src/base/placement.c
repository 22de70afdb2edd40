/*
 * placement.c — where threads run: the hwloc topology, pin specs, placement
 * policies, binding and reporting.
 *
 * Index conventions (the source of most placement confusion, so stated once):
 *  - pin specs name objects by hwloc LOGICAL index: "core:1" is the second
 *    core in topology order, "pu:3" the fourth PU, "numa:0" the first NUMA
 *    node.  Logical indexes are dense and ordered by locality on every
 *    machine, which is what a manifest author reasons about.
 *  - cpusets, sched_getcpu() and `taskset` use OS indexes ("cpu 5").  Every
 *    message and report that prints a cpuset says "cpus" and means OS
 *    indexes; rh__topo_print shows the mapping between the two.
 */
#define _GNU_SOURCE /* sched_getcpu */

#include "base/placement.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/*
 * The process-wide topology and the unit orders of the placement policies.
 * Written once inside pthread_once, read-only afterwards: hwloc allows any
 * number of threads to query (and bind with) a topology that nobody
 * modifies, so no lock is needed after rh__topo_init returned.  It lives
 * until the process exits (it is small, and threads may bind until the end).
 */
static struct {
    pthread_once_t once;
    int status;               /* 0, or the RH_E* code of the failed load */
    char msg[256];            /* the failed load's message */
    hwloc_topology_t topo;
    hwloc_obj_type_t unit;    /* what a policy hands out: cores (PUs if none) */
    hwloc_obj_t *compact;     /* allowed units in logical order */
    hwloc_obj_t *scatter;     /* the same units, spread across the tree */
    unsigned n_units;
} g_place = {.once = PTHREAD_ONCE_INIT};

/* ------------------------------------------------------------ topology --- */

static int cpuset_allowed_part(hwloc_obj_t obj, hwloc_const_bitmap_t allowed)
{
    return obj->cpuset != NULL && hwloc_bitmap_intersects(obj->cpuset, allowed);
}

/*
 * Write into out the allowed units below obj in "spread" order: the first
 * unit of every child, then the second of every child, and so on, applied at
 * every level of the tree.  On 2 packages x 2 cores this gives
 * p0c0, p1c0, p0c1, p1c1: consecutive threads land as far apart as the
 * machine allows (other package, then other NUMA node / L3, then other
 * core), which is what "scatter" promises.  Units outside the allowed cpuset
 * are left out before dealing, so a cgroup that hides half a package does
 * not make the order lopsided.  Returns the count, or -1 without memory.
 */
static int spread_order(hwloc_obj_t obj, hwloc_obj_type_t unit, hwloc_const_bitmap_t allowed,
                        hwloc_obj_t *out)
{
    if (obj->type == unit) {
        if (!cpuset_allowed_part(obj, allowed))
            return 0;
        out[0] = obj;
        return 1;
    }
    if (obj->arity == 0)
        return 0;
    if (obj->arity == 1) /* caches and other single-child levels: nothing to spread */
        return spread_order(obj->children[0], unit, allowed, out);

    /* Each child's own spread order goes into tmp, one after the other;
     * then they are dealt out round-robin into out. */
    int cap = hwloc_get_nbobjs_inside_cpuset_by_type(g_place.topo, obj->cpuset, unit);
    hwloc_obj_t *tmp = calloc(cap > 0 ? (size_t)cap : 1, sizeof *tmp);
    int *first = calloc(obj->arity, sizeof *first);
    int *count = calloc(obj->arity, sizeof *count);
    int total = 0, rc = 0;
    if (!tmp || !first || !count) {
        rc = -1;
        goto done;
    }
    for (unsigned i = 0; i < obj->arity; i++) {
        first[i] = total;
        count[i] = spread_order(obj->children[i], unit, allowed, tmp + total);
        if (count[i] < 0) {
            rc = -1;
            goto done;
        }
        total += count[i];
    }
    for (int round = 0, dealt = 0; dealt < total; round++)
        for (unsigned i = 0; i < obj->arity; i++)
            if (round < count[i])
                out[dealt++] = tmp[first[i] + round];
    rc = total;
done:
    free(tmp);
    free(first);
    free(count);
    return rc;
}

/* Build the compact and scatter orders.  0, or -1 without memory. */
static int build_policy_orders(void)
{
    hwloc_topology_t t = g_place.topo;
    hwloc_const_bitmap_t allowed = hwloc_topology_get_allowed_cpuset(t);

    /* Some platforms expose no Core level; PUs are always there. */
    g_place.unit = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE
                                                                     : HWLOC_OBJ_PU;
    int n = hwloc_get_nbobjs_by_type(t, g_place.unit);
    g_place.compact = calloc(n > 0 ? (size_t)n : 1, sizeof *g_place.compact);
    g_place.scatter = calloc(n > 0 ? (size_t)n : 1, sizeof *g_place.scatter);
    if (!g_place.compact || !g_place.scatter)
        return -1;

    unsigned k = 0;
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t, g_place.unit, (unsigned)i);
        if (cpuset_allowed_part(o, allowed))
            g_place.compact[k++] = o;
    }
    g_place.n_units = k;
    int s = spread_order(hwloc_get_root_obj(t), g_place.unit, allowed, g_place.scatter);
    return s == (int)k ? 0 : -1;
}

static void topo_load_once(void)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) < 0) {
        g_place.status = RH_ESYS;
        snprintf(g_place.msg, sizeof g_place.msg, "hwloc_topology_init: %s", strerror(errno));
        return;
    }
    /*
     * Keep the CPUs that this process may not use (a container's or a
     * cgroup's cpuset excludes them) in the tree.  Without this flag hwloc
     * silently removes them, and "pu:3" on a 4-cpu host inside a 2-cpu
     * container would read "no such PU" instead of the truth: "PU 3 exists
     * but is outside the allowed cpuset".  Every resolution and policy
     * below therefore checks against the allowed cpuset itself.
     */
    hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    if (hwloc_topology_load(t) < 0) {
        g_place.status = RH_ESYS;
        snprintf(g_place.msg, sizeof g_place.msg, "hwloc_topology_load: %s", strerror(errno));
        hwloc_topology_destroy(t);
        return;
    }
    g_place.topo = t;
    if (build_policy_orders() < 0) {
        g_place.status = RH_ENOMEM;
        snprintf(g_place.msg, sizeof g_place.msg, "placement policy tables: out of memory");
    }
}

int rh__topo_init(rh_error *err)
{
    pthread_once(&g_place.once, topo_load_once);
    if (g_place.status != 0)
        return rh_error_set(err, g_place.status, "topology: %s", g_place.msg);
    return 0;
}

hwloc_topology_t rh__topo(void)
{
    return rh__topo_init(NULL) == 0 ? g_place.topo : NULL;
}

/* ----------------------------------------------------------- pin specs --- */

/* The three kinds of object a pin item can name. */
typedef struct pin_kind {
    const char *prefix;   /* "core" as written in specs */
    const char *singular; /* "core" as written in messages */
    const char *plural;
    hwloc_obj_type_t type;
} pin_kind;

static const pin_kind k_pin_kinds[] = {
    {"core", "core", "cores", HWLOC_OBJ_CORE},
    {"pu", "PU", "PUs", HWLOC_OBJ_PU},
    {"numa", "NUMA node", "NUMA nodes", HWLOC_OBJ_NUMANODE},
};

/* Where an error happened: the whole spec, plus the item when the spec is
 * a list, so a message on a 12-item list points at the bad one. */
typedef struct pin_ctx {
    const char *spec;
    const char *item; /* not NUL-terminated */
    int item_len;
    int is_list;
} pin_ctx;

static void pin_where(const pin_ctx *c, char *buf, size_t len)
{
    if (c->is_list)
        snprintf(buf, len, "pin \"%.*s\" (in \"%s\")", c->item_len, c->item, c->spec);
    else
        snprintf(buf, len, "pin \"%.*s\"", c->item_len, c->item);
}

static void list_string(hwloc_const_bitmap_t set, char *buf, size_t len)
{
    if (hwloc_bitmap_list_snprintf(buf, len, set) < 0 && len > 0)
        buf[0] = '\0';
}

/* "this machine has cores 0-3", "... has only NUMA node 0", "... has no cores" */
static void what_exists(const pin_kind *k, char *buf, size_t len)
{
    int n = hwloc_get_nbobjs_by_type(g_place.topo, k->type);
    if (n <= 0)
        snprintf(buf, len, "this machine has no %s", k->plural);
    else if (n == 1)
        snprintf(buf, len, "this machine has only %s 0", k->singular);
    else
        snprintf(buf, len, "this machine has %s 0-%d", k->plural, n - 1);
}

static int pin_error(const pin_ctx *c, const char *detail, rh_error *err)
{
    char where[512];
    pin_where(c, where, sizeof where);
    return rh_error_set(err, RH_EPLACE, "%s: %s", where, detail);
}

/*
 * Resolve one item ("core:3", already trimmed) and add its cpuset to set.
 * The item must be entirely inside the allowed cpuset: binding a thread to a
 * set that is partly outside would either fail in the kernel or be silently
 * narrowed to the allowed part, and the manifest would no longer say where
 * the thread runs.
 */
static int pin_item(const pin_ctx *c, hwloc_bitmap_t set, rh_error *err)
{
    hwloc_topology_t t = g_place.topo;
    hwloc_const_bitmap_t allowed = hwloc_topology_get_allowed_cpuset(t);
    char allowed_s[256], exists[128], detail[640];
    list_string(allowed, allowed_s, sizeof allowed_s);

    const char *colon = memchr(c->item, ':', (size_t)c->item_len);
    const pin_kind *k = NULL;
    for (size_t i = 0; colon && i < sizeof k_pin_kinds / sizeof k_pin_kinds[0]; i++) {
        size_t plen = strlen(k_pin_kinds[i].prefix);
        if ((size_t)(colon - c->item) == plen && memcmp(c->item, k_pin_kinds[i].prefix, plen) == 0)
            k = &k_pin_kinds[i];
    }
    if (!k)
        return pin_error(c, "expected core:N, pu:N or numa:N", err);

    /* The index: decimal digits only.  strtoul would take "-1" as ULONG_MAX,
     * and "+1" and " 1" as 1; a typo must not pin anywhere. */
    const char *num = colon + 1;
    int num_len = c->item_len - (int)(num - c->item);
    what_exists(k, exists, sizeof exists);
    int digits = 0;
    while (digits < num_len && isdigit((unsigned char)num[digits]))
        digits++;
    if (num_len == 0) {
        snprintf(detail, sizeof detail, "missing the %s index; expected %s:N with N a number "
                 "(%s)", k->singular, k->prefix, exists);
        return pin_error(c, detail, err);
    }
    if (digits != num_len) {
        snprintf(detail, sizeof detail, "\"%.*s\" is not a %s index; expected %s:N with N a "
                 "number (%s)", num_len, num, k->singular, k->prefix, exists);
        return pin_error(c, detail, err);
    }
    unsigned long idx = 0;
    for (int i = 0; i < digits && idx <= (unsigned long)INT_MAX; i++)
        idx = idx * 10 + (unsigned long)(num[i] - '0');

    hwloc_obj_t obj = idx <= (unsigned long)INT_MAX
                          ? hwloc_get_obj_by_type(t, k->type, (unsigned)idx)
                          : NULL;
    if (!obj) {
        snprintf(detail, sizeof detail, "no such %s; %s (allowed cpus %s)", k->singular, exists,
                 allowed_s);
        return pin_error(c, detail, err);
    }

    char obj_s[256];
    list_string(obj->cpuset, obj_s, sizeof obj_s);
    if (obj->cpuset == NULL || hwloc_bitmap_iszero(obj->cpuset)) {
        /* A memory-only NUMA node (HBM, CXL, persistent memory). */
        snprintf(detail, sizeof detail, "%s %lu has no cpus to run on (a memory-only node)",
                 k->singular, idx);
        return pin_error(c, detail, err);
    }
    if (!hwloc_bitmap_isincluded(obj->cpuset, allowed)) {
        const char *how = hwloc_bitmap_intersects(obj->cpuset, allowed)
                              ? "is only partly inside"
                              : "is outside";
        if (k->type == HWLOC_OBJ_PU)
            snprintf(detail, sizeof detail, "PU %lu (cpu %u) %s the allowed cpuset %s "
                     "(a container or cgroup limits this process)", idx, obj->os_index, how,
                     allowed_s);
        else
            snprintf(detail, sizeof detail, "%s %lu (cpus %s) %s the allowed cpuset %s "
                     "(a container or cgroup limits this process)", k->singular, idx, obj_s,
                     how, allowed_s);
        return pin_error(c, detail, err);
    }
    hwloc_bitmap_or(set, set, obj->cpuset);
    return 0;
}

int rh__pin_resolve(const char *spec, hwloc_bitmap_t *out, rh_error *err)
{
    if (!out)
        return rh_error_set(err, RH_EINVAL, "rh__pin_resolve: out is NULL");
    *out = NULL;
    if (!spec)
        spec = ""; /* same as "": not pinned */
    int rc = rh__topo_init(err);
    if (rc < 0)
        return rc;

    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return rh_error_set(err, RH_ENOMEM, "pin \"%s\": out of memory", spec);

    /* Blank means "not pinned"; otherwise every comma-separated item, with
     * blanks around it ignored, must resolve (an empty item is a typo, not
     * "nothing": "core:0,,core:1" and "core:0," are refused). */
    if (strspn(spec, " \t\r\n\v\f") == strlen(spec)) {
        *out = set;
        return 0;
    }
    int is_list = strchr(spec, ',') != NULL;
    for (const char *p = spec;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        pin_ctx c = {spec, b, (int)(e - b), is_list};
        if (b == e)
            rc = rh_error_set(err, RH_EPLACE, "pin \"%s\": empty item in the list; expected "
                              "core:N, pu:N or numa:N between the commas", spec);
        else
            rc = pin_item(&c, set, err);
        if (rc < 0) {
            hwloc_bitmap_free(set);
            return rc;
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *out = set;
    return 0;
}

/* ------------------------------------------------------------ policies --- */

int rh__policy_cpuset(const char *policy, unsigned index, hwloc_bitmap_t *out, rh_error *err)
{
    if (!out)
        return rh_error_set(err, RH_EINVAL, "rh__policy_cpuset: out is NULL");
    *out = NULL;
    enum { POLICY_NONE, POLICY_COMPACT, POLICY_SCATTER } which;
    if (policy && strcmp(policy, "none") == 0)
        which = POLICY_NONE;
    else if (policy && strcmp(policy, "compact") == 0)
        which = POLICY_COMPACT;
    else if (policy && strcmp(policy, "scatter") == 0)
        which = POLICY_SCATTER;
    else
        return rh_error_set(err, RH_EINVAL, "placement policy \"%s\": unknown; expected "
                            "compact, scatter or none", policy ? policy : "(null)");
    int rc = rh__topo_init(err);
    if (rc < 0)
        return rc;
    const hwloc_obj_t *order = which == POLICY_COMPACT   ? g_place.compact
                               : which == POLICY_SCATTER ? g_place.scatter
                                                         : NULL;

    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return rh_error_set(err, RH_ENOMEM, "placement policy \"%s\": out of memory", policy);
    if (order == NULL) { /* "none": not pinned */
        *out = set;
        return 0;
    }
    if (g_place.n_units == 0) {
        hwloc_bitmap_free(set);
        return rh_error_set(err, RH_EPLACE, "placement policy \"%s\": no allowed %s to place "
                            "threads on", policy,
                            g_place.unit == HWLOC_OBJ_CORE ? "cores" : "PUs");
    }
    /* More threads than cores wrap around: thread n_units shares core 0 with
     * thread 0, the reactor model's intent (threads follow cores).  Only the
     * allowed part of a core is handed out, so a policy never asks for a cpu
     * the process may not use. */
    hwloc_obj_t unit = order[index % g_place.n_units];
    hwloc_bitmap_and(set, unit->cpuset, hwloc_topology_get_allowed_cpuset(g_place.topo));
    *out = set;
    return 0;
}

/* ------------------------------------------------------------- binding --- */

int rh__bind_self(hwloc_const_bitmap_t set, rh_error *err)
{
    if (set == NULL || hwloc_bitmap_iszero(set))
        return 0; /* not pinned: the scheduler decides */
    int rc = rh__topo_init(err);
    if (rc < 0)
        return rc;
    /*
     * HWLOC_CPUBIND_THREAD binds only the calling thread: the default would
     * bind the whole process, and every thread placed before this one would
     * move.  The kernel migrates the caller before sched_setaffinity
     * returns, so once this returns the thread runs inside set.
     */
    if (hwloc_set_cpubind(g_place.topo, set, HWLOC_CPUBIND_THREAD) < 0) {
        int e = errno;
        char s[256];
        list_string(set, s, sizeof s);
        return rh_error_set(err, RH_ESYS, "binding thread to cpus %s: %s", s, strerror(e));
    }
    return 0;
}

int rh__current_cpu(void)
{
    return sched_getcpu();
}

/* An empty (or NULL) set is written "none": the thread is not pinned. */
void rh__binding_string(hwloc_const_bitmap_t set, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return;
    if (set == NULL || hwloc_bitmap_iszero(set))
        snprintf(buf, len, "none");
    else
        list_string(set, buf, len);
}

/* ------------------------------------------------------------ printing --- */

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* The logical index of the NUMA node whose cpus contain PU os index cpu, or
 * -1 (no NUMA node claims it). */
static int numa_of_cpu(unsigned cpu)
{
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(g_place.topo, HWLOC_OBJ_NUMANODE, node)))
        if (node->cpuset && hwloc_bitmap_isset(node->cpuset, cpu))
            return (int)node->logical_index;
    return -1;
}

void rh__topo_print(FILE *out)
{
    rh_error err;
    if (rh__topo_init(&err) < 0) {
        fprintf(out, "topology unavailable: %s\n", err.msg);
        return;
    }
    hwloc_topology_t t = g_place.topo;
    hwloc_const_bitmap_t allowed = hwloc_topology_get_allowed_cpuset(t);
    int n_pkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
    int n_numa = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    int n_core = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    int n_pu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    char s[256], s2[256];

    fprintf(out, "machine: %d %s, %d %s, %d %s, %d %s\n", n_pkg,
            plural(n_pkg, "package", "packages"), n_numa,
            plural(n_numa, "NUMA node", "NUMA nodes"), n_core, plural(n_core, "core", "cores"),
            n_pu, plural(n_pu, "PU", "PUs"));
    list_string(allowed, s, sizeof s);
    list_string(hwloc_topology_get_complete_cpuset(t), s2, sizeof s2);
    int n_allowed = hwloc_bitmap_weight(allowed);
    fprintf(out, "allowed cpus: %s (%d of %d PUs%s)\n", s, n_allowed, n_pu,
            n_allowed < n_pu ? "; a container or cgroup limits this process" : "");
    /* The process's own affinity (taskset, numactl) can be narrower than the
     * cgroup's allowed set; unpinned threads inherit it, so show both. */
    hwloc_bitmap_t mine = hwloc_bitmap_alloc();
    if (mine && hwloc_topology_is_thissystem(t) &&
        hwloc_get_cpubind(t, mine, HWLOC_CPUBIND_PROCESS) == 0) {
        list_string(mine, s, sizeof s);
        fprintf(out, "this process runs on cpus: %s (unpinned threads inherit this)\n", s);
    }
    hwloc_bitmap_free(mine);
    fprintf(out, "pin specs use logical indexes (core:N, pu:N, numa:N); "
                 "cpus are OS indexes, as in cpusets and sched_getcpu\n");

    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PACKAGE, o))) {
        list_string(o->cpuset, s, sizeof s);
        int cores = hwloc_get_nbobjs_inside_cpuset_by_type(t, o->cpuset, HWLOC_OBJ_CORE);
        fprintf(out, "package %u: %d %s, cpus %s\n", o->logical_index, cores,
                plural(cores, "core", "cores"), s);
    }
    o = NULL;
    while ((o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, o))) {
        list_string(o->cpuset, s, sizeof s);
        fprintf(out, "numa:%-3u cpus %s", o->logical_index, s[0] ? s : "none (memory only)");
        if (o->attr->numanode.local_memory > 0) /* 0: unknown (e.g. an XML topology) */
            fprintf(out, ", %.1f GiB",
                    (double)o->attr->numanode.local_memory / (1024.0 * 1024.0 * 1024.0));
        fputc('\n', out);
    }
    fprintf(out, "PUs:\n");
    o = NULL;
    while ((o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PU, o))) {
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, o);
        hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, o);
        int numa = numa_of_cpu(o->os_index);
        fprintf(out, "  pu:%-4u cpu %-4u", o->logical_index, o->os_index);
        if (core)
            fprintf(out, " core:%-4u", core->logical_index);
        if (pkg)
            fprintf(out, " package %-3u", pkg->logical_index);
        if (numa >= 0)
            fprintf(out, " numa:%-3d", numa);
        fprintf(out, " %s\n", hwloc_bitmap_isset(allowed, o->os_index) ? "allowed"
                                                                        : "not allowed");
    }
}
