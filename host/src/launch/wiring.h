/*
 * wiring.h — checking a manifest against its plugins: which plugin each
 * kernel is, which queue each port is wired to, and whether the types agree.
 * Used by launch (then the queues are created) and by `ringhost validate`.
 */
#ifndef RH_WIRING_H
#define RH_WIRING_H

#include "engine/runtime_pvt.h"

/* Load the manifest and plugins into rt and resolve every kernel, port and
 * queue type.  Errors name the manifest file and JSON path. */
int rh_wiring_plan(rh_runtime *rt, const char *manifest_path, const rh_launch_opts *opts,
                   rh_error *err);

/* Create the planned queues in rt->instance and attach them to the ports. */
int rh_wiring_create_queues(rh_runtime *rt, rh_error *err);

/* Print the plan: kernels, ports, queues and types. */
void rh_wiring_print(rh_runtime *rt, FILE *out);

#endif /* RH_WIRING_H */
