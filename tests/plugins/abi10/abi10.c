/*
 * abi10 — test kernel built as an ABI 1.0 plugin was: its struct_size ends
 * at fini, before config_schema existed.  The member is set here to text a
 * host must never read (a host that ignored struct_size would show the key
 * "must_not_be_read"); `ringhost inspect` must say "not declared".
 */
#include <stddef.h>

#include "echo_message.h"
#include "ringhost/kernel.h"

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &echo_message_type}};

static int abi10_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++)
        rh_emit(ctx, 0, &batch->msgs[i], batch->msgs[i].data, batch->msgs[i].env->payload_len);
    return 0;
}

static const rh_kernel_desc abi10_desc = {
    .abi_major = RH_ABI_MAJOR,
    .abi_minor = 0,
    .struct_size = offsetof(rh_kernel_desc, config_schema),
    .name = "abi10",
    .version = "1.0.0",
    .description = "test kernel: an ABI 1.0 descriptor, without config_schema",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = abi10_process,
    .config_schema = "{\"must_not_be_read\": {\"type\": \"number\"}}",
};

RH_KERNEL_EXPORT(abi10_desc)
