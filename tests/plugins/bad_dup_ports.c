/* bad_dup_ports.so: two input ports named "in". */
#include "bad_plugin.h"

static const rh_port dup_inputs[] = {
    {.name = "in", .type = &bad_message_type},
    {.name = "in", .type = &bad_message_type},
};

static const rh_kernel_desc desc = {
    RH_KERNEL_ABI,
    .name = "bad_dup_ports",
    .version = "0.0.0",
    .description = "a deliberately broken plugin",
    .inputs = dup_inputs,
    .n_inputs = 2,
    .outputs = bad_outputs,
    .n_outputs = 1,
    .process = bad_process,
};

RH_KERNEL_EXPORT(desc)
