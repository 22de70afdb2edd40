/*
 * launch.h — the launch layer (launch/): checking a manifest against its
 * plugins and wiring every port to a queue (wiring.c: used by launch, and
 * by `ringhost validate` through rh_runtime_validate), then building each
 * kernel's workers, rings, bridges and reactor tasks (kernel_build.c).
 * Used by runtime.c.
 */
#ifndef RH_LAUNCH_H
#define RH_LAUNCH_H

#include <stdio.h>

#include "exec/exec.h"

/* wiring.c: load the manifest and plugins into rt and resolve every kernel, port and
 * queue type.  Errors name the manifest file and JSON path. */
int rh__wiring_plan(rh_runtime *rt, const char *manifest_path, const rh_launch_opts *opts,
                    rh_error *err);

/* Create the planned queues in rt->instance and attach them to the ports. */
int rh__wiring_create_queues(rh_runtime *rt, rh_error *err);

/* Print the plan: kernels, ports, queues and types. */
void rh__wiring_print(rh_runtime *rt, FILE *out);

/* graph.c: the plan of rt (rh__wiring_plan done) as Graphviz DOT statements,
 * the body of a digraph: queues, kernels with their ports, the bridges as
 * edges, each kernel's threads, its dead-letter edge.  live: NULL, or
 * {"queues": {NAME: {"depth", "enq_rate", "deq_rate"}}, "kernels": {NAME:
 * ps object}} to label queues with depths and edges with rates. */
struct json_t;
void rh__graph_print(rh_runtime *rt, FILE *out, const struct json_t *live);

/* kernel_build.c: k's workers, rings, bridges and reactor tasks (threads
 * not started yet).  Errors name the manifest path of what failed. */
int rh__kernel_build(rh_runtime *rt, rh_kinst *k, rh_error *err);

/* kernel_build.c: only where k's threads would go, as rh__kernel_build
 * places them (the same reactors, each with the names of the steps it would
 * run as tasks that have no step), for `ringhost topo`: no ring, bridge or
 * worker state is made, and no plugin code runs. */
int rh__kernel_plan(rh_runtime *rt, rh_kinst *k, rh_error *err);

/* Slots of a kernel ring for a port of type_size bytes: `configured` when
 * the manifest set ring_capacity, else as many as fit in 4 MiB, a power of
 * two from 64 to 1024 (kernel_build.c says why). */
uint32_t rh__kernel_ring_slots(uint32_t configured, uint32_t type_size);

#endif /* RH_LAUNCH_H */
