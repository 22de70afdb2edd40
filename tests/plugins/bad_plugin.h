/*
 * bad_plugin.h — what the deliberately broken plugins share: a well-formed
 * message type, ports and a process() that does nothing.  Each bad_*.c is a
 * valid plugin except for the one defect its name says, so a loader test that
 * expects that defect's error cannot pass for another reason.
 */
#ifndef RH_BAD_PLUGIN_H
#define RH_BAD_PLUGIN_H

#include "bad_message.h"
#include "ringhost/kernel.h"

static const rh_port bad_inputs[] = {{.name = "in", .type = &bad_message_type}};
static const rh_port bad_outputs[] = {{.name = "out", .type = &bad_message_type}};

static inline int bad_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)ctx;
    (void)state;
    (void)batch;
    return 0;
}

/* Everything but the ABI fields of a valid descriptor named NAME. */
#define BAD_PLUGIN_BODY(NAME)                                                       \
    .name = NAME, .version = "0.0.0", .description = "a deliberately broken plugin", \
    .inputs = bad_inputs, .n_inputs = 1, .outputs = bad_outputs, .n_outputs = 1

#endif /* RH_BAD_PLUGIN_H */
