/* bad_no_fingerprint.so: an input type written by hand, with fingerprint 0
 * (what ringhost-gen never produces). */
#include "bad_plugin.h"

static const rh_type unfingerprinted = {
    .struct_size = sizeof(rh_type),
    .name = "bad.unfingerprinted",
    .fingerprint = 0,
    .size = 8,
    .align = 4,
    .schema = "{}",
};

static const rh_port inputs[] = {{.name = "in", .type = &unfingerprinted}};

static const rh_kernel_desc desc = {
    RH_KERNEL_ABI,
    .name = "bad_no_fingerprint",
    .version = "0.0.0",
    .description = "a deliberately broken plugin",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = bad_outputs,
    .n_outputs = 1,
    .process = bad_process,
};

RH_KERNEL_EXPORT(desc)
