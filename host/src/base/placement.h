/*
 * placement.h — where threads run, with hwloc.
 *
 * One topology per process (loaded once, shared, read-only afterwards).
 * A pin spec is resolved to a cpuset that must lie inside hwloc's allowed
 * cpuset; a thread binds itself to it and can report where it really runs.
 */
#ifndef RH_PLACEMENT_H
#define RH_PLACEMENT_H

#include <stdio.h>

#include <hwloc.h>

#include "ringhost/ringhost.h"

/* Load the topology once (thread-safe).  0 or RH_ESYS. */
int rh__topo_init(rh_error *err);
hwloc_topology_t rh__topo(void);

/*
 * Resolve a pin spec: "core:N", "pu:N", "numa:N", or a comma-separated list
 * of those (the union).  "" gives an empty set (= not pinned).  On an
 * impossible request (no such core, outside the allowed cpuset, bad syntax)
 * returns RH_EPLACE with a message naming what exists.  *out is a new bitmap
 * the caller frees with hwloc_bitmap_free (also on error: NULL).
 */
int rh__pin_resolve(const char *spec, hwloc_bitmap_t *out, rh_error *err);

/*
 * The cpuset a placement policy gives to the index-th thread: "compact"
 * fills cores in order, "scatter" spreads across packages/NUMA nodes, "none"
 * gives an empty set.  RH_EINVAL on an unknown policy.
 */
int rh__policy_cpuset(const char *policy, unsigned index, hwloc_bitmap_t *out, rh_error *err);

/* Bind the calling thread to set (no-op when set is empty).  0 or RH_ESYS. */
int rh__bind_self(hwloc_const_bitmap_t set, rh_error *err);

/* The cpu the calling thread runs on now (sched_getcpu), and its binding
 * as a list string ("0-1") in buf. */
int rh__current_cpu(void);
void rh__binding_string(hwloc_const_bitmap_t set, char *buf, size_t len);
/* (rh__binding_string writes "none" for an empty or NULL set: not pinned.
 * Cpu numbers there are OS indexes, as sched_getcpu reports them; pin specs
 * use hwloc logical indexes, and rh__topo_print shows how the two map.) */

/* Print the topology summary and the allowed cpus (for `ringhost topo`). */
void rh__topo_print(FILE *out);

#endif /* RH_PLACEMENT_H */
