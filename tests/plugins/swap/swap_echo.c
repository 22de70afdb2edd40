/*
 * swap_echo.c — one echo kernel, built several times for the hot-swap
 * tests (tests/plugins/CMakeLists.txt), each build a replacement of the
 * first that differs by one thing:
 *
 *   SWAP_MARK       the text every answer carries ("v1", "v2"), so a test
 *                   sees which version answered each message
 *   SWAP_VERSION    the descriptor's version text
 *   SWAP_IN_NAME    the input port's name ("in"; "requests" for the build
 *                   whose ports differ)
 *   SWAP_OUT_TYPE   the output port's type (echo.message; bad.message for
 *                   the build whose types differ)
 *   SWAP_FAIL_INIT  init() fails (returns -7) on its Nth call in this copy
 *                   of the plugin: 2 = the second worker's init fails after
 *                   the first one's succeeded
 *
 * Each worker's state is allocated by init() and freed by fini(), so a
 * sanitizer build sees a swap that forgets either; it records the build
 * that made it, and process() fails every message it is handed with
 * another build's state (a swap that let a batch run between switching
 * the state and switching the code), so a test sees the message missing.
 */
#include <stdlib.h>
#include <string.h>

#include "bad_message.h"
#include "echo_message.h"
#include "ringhost/kernel.h"

#ifndef SWAP_MARK
#define SWAP_MARK "v1"
#endif
#ifndef SWAP_VERSION
#define SWAP_VERSION "1.0.0"
#endif
#ifndef SWAP_IN_NAME
#define SWAP_IN_NAME "in"
#endif
#ifndef SWAP_OUT_TYPE
#define SWAP_OUT_TYPE echo_message_type
#endif
#ifndef SWAP_FAIL_INIT
#define SWAP_FAIL_INIT 0
#endif

typedef struct swap_state {
    const char *mark; /* SWAP_MARK of the build whose init() made it */
    unsigned long answered;
} swap_state;

static const rh_port inputs[] = {{.name = SWAP_IN_NAME, .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &SWAP_OUT_TYPE}};

static int inits; /* init() calls in this loaded copy (one thread at a time: launch, swap) */

static int swap_init(rh_ctx *ctx, const char *config_json, void **state)
{
    (void)ctx;
    (void)config_json;
    if (SWAP_FAIL_INIT && ++inits == SWAP_FAIL_INIT)
        return -7;
    swap_state *s = calloc(1, sizeof(swap_state));
    if (!s)
        return -12;
    s->mark = SWAP_MARK;
    *state = s;
    return 0;
}

static void swap_fini(rh_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static int swap_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    swap_state *s = state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        if (strcmp(s->mark, SWAP_MARK) != 0) {
            rh_fail(ctx, in, "swap_echo: handed the state of another build");
            continue;
        }
        echo_message out;
        memcpy(&out, in->data, sizeof out);
        memset(out.text, 0, sizeof out.text);
        strcpy(out.text, SWAP_MARK);
        if (rh_emit(ctx, 0, in, &out, sizeof out) < 0)
            rh_fail(ctx, in, "swap_echo: the answer could not be emitted (host stopping)");
        s->answered++;
    }
    return 0;
}

static const rh_kernel_desc swap_desc = {
    RH_KERNEL_ABI,
    .name = "swap_echo",
    .version = SWAP_VERSION,
    .description = "echo that says which build answered (hot-swap tests)",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .init = swap_init,
    .process = swap_process,
    .fini = swap_fini,
};

RH_KERNEL_EXPORT(swap_desc)
