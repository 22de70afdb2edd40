/*
 * faulty — a test kernel that misbehaves when a message asks it to, for the
 * kernel-fault tests (tests/unit/test_watchdog.c,
 * tests/integration/test_cli_faults.c).
 *
 * Input "in", output "out", both echo.message {seq, text, data}.  By the
 * message's text:
 *   "sleep:MS"    stays inside process() for MS milliseconds, then echoes
 *                 (a stalled call that returns)
 *   "fail-batch"  process() returns -1 for its whole batch (nothing emitted)
 *   "inits"       echoed with text "inits=N": N is how many times init() ran
 *                 in this process (a restart runs it again)
 *   "crash"       raises SIGSEGV inside process() (a poison message)
 *   "crash-once:PATH"  crashes the first time (creating the file PATH),
 *                 echoes when PATH exists: a crash that a retry survives
 *   "hang"        never returns from process()
 *   "pid"         echoed with text "pid=N", the process it ran in
 *   anything else echoed back, like the echo kernel
 * Built into ${CMAKE_BINARY_DIR}/test_plugins, never into plugins/.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "echo_message.h"
#include "ringhost/kernel.h"

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &echo_message_type}};

static atomic_int inits;

static int faulty_init(rh_ctx *ctx, const char *config_json, void **state)
{
    (void)ctx;
    (void)config_json;
    *state = NULL;
    atomic_fetch_add(&inits, 1);
    return 0;
}

/* Logged, so a test sees that fini() ran (in a kernel process: that the
 * process was stopped, not killed). */
static void faulty_fini(rh_ctx *ctx, void *state)
{
    (void)state;
    rh_log(ctx, RH_LOG_INFO, "faulty: fini");
}

static int faulty_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++)
        if (strcmp(((const echo_message *)batch->msgs[i].data)->text, "fail-batch") == 0)
            return -1;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        const echo_message *m = in->data;
        if (strncmp(m->text, "sleep:", 6) == 0) {
            long ms = strtol(m->text + 6, NULL, 10);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0)
                ;
        }
        if (strcmp(m->text, "crash") == 0)
            raise(SIGSEGV);
        if (strncmp(m->text, "crash-once:", 11) == 0) {
            int fd = open(m->text + 11, O_CREAT | O_EXCL | O_WRONLY, 0600);
            if (fd >= 0) {
                close(fd);
                raise(SIGSEGV);
            }
        }
        while (strcmp(m->text, "hang") == 0)
            pause();
        if (strcmp(m->text, "inits") == 0 || strcmp(m->text, "pid") == 0) {
            echo_message out = *m;
            if (m->text[0] == 'i')
                snprintf(out.text, sizeof out.text, "inits=%d", atomic_load(&inits));
            else
                snprintf(out.text, sizeof out.text, "pid=%d", (int)getpid());
            if (rh_emit(ctx, 0, in, &out, sizeof out) < 0)
                rh_fail(ctx, in, "faulty: could not emit (host stopping)");
            continue;
        }
        if (rh_emit(ctx, 0, in, in->data, in->env->payload_len) < 0)
            rh_fail(ctx, in, "faulty: could not emit (host stopping)");
    }
    return 0;
}

static const rh_kernel_desc faulty_desc = {
    RH_KERNEL_ABI,
    .name = "faulty",
    .version = "1.0.0",
    .description = "test kernel: stalls, fails or crashes when a message asks it to",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .init = faulty_init,
    .process = faulty_process,
    .fini = faulty_fini,
};

RH_KERNEL_EXPORT(faulty_desc)
