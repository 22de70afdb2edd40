/*
 * kernel_harness.h — a fake host that drives one kernel in-process.
 *
 * A kernel test links the kernel's static library (NAME_kernel, see
 * cmake/RinghostKernel.cmake) and this harness, takes the descriptor from
 * rh_kernel_entry(), and then:
 *
 *     rh_harness *h = rh_harness_new(rh_kernel_entry());
 *     assert_int_equal(rh_harness_init(h, "{\"factor\": 3}"), 0);
 *     rh_id id = rh_harness_push(h, 0, &request, sizeof request);
 *     assert_int_equal(rh_harness_process(h, 0), 0);
 *     const rh_harness_output *out = rh_harness_output_at(h, 0);
 *     ... out->payload, out->correlation_id ...
 *     rh_harness_free(h);
 *
 * There are no threads, queues or dlopen here: rh_ctx.api is a table of
 * functions that record what the kernel emits (port, payload bytes, the id of
 * the input it answered) and fails (input id and reason).  The harness also
 * records every misuse of the API that a real host would refuse or that would
 * lose a message (a bad port, a payload longer than the port's type, a second
 * emit_reserve before emit_commit, a reserved slot never committed), so a
 * test can assert rh_harness_api_errors(h) == 0.
 *
 * Not thread-safe: one harness per test, driven from one thread (like one
 * worker of a real host).
 */
#ifndef RH_KERNEL_HARNESS_H
#define RH_KERNEL_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rh_harness rh_harness;

/* The entry of the one kernel a test links (defined by its RH_KERNEL_EXPORT). */
const rh_kernel_desc *rh_kernel_entry(void);

/* One message the kernel emitted. */
typedef struct rh_harness_output {
    uint32_t port;          /* output port index */
    rh_id correlation_id;   /* id of the `in` the kernel passed; zero when NULL */
    int has_correlation;    /* the kernel passed an `in` */
    uint32_t len;           /* payload bytes emitted (<= the port type's size) */
    const void *payload;    /* the port type's size in bytes, aligned for it,
                             * zero past len; owned by the harness */
    int valid;              /* the port type's validate() accepted the payload */
    char invalid_why[256];  /* its reason when not valid */
} rh_harness_output;

/* One message the kernel failed (rh_fail), or one message of a batch whose
 * process() returned a negative value. */
typedef struct rh_harness_failure {
    rh_id id;          /* id of the failed input; zero when the kernel passed NULL */
    int has_msg;
    char reason[512];  /* the kernel's reason, or "batch failed: process returned N" */
} rh_harness_failure;

/* A harness for desc; the context's kernel_name is desc->name, worker 0 of 1.
 * NULL only when out of memory. */
rh_harness *rh_harness_new(const rh_kernel_desc *desc);

/* Call the kernel's init with config_json (NULL means "{}", as the host passes
 * for an absent config).  Returns init's result (0 when the kernel has no
 * init).  Call at most once; rh_harness_process/run call it with "{}" when a
 * test did not. */
int rh_harness_init(rh_harness *h, const char *config_json);

/* Call fini (when init succeeded) and free everything. */
void rh_harness_free(rh_harness *h);

/* Present the context as worker `worker` of `workers` (before init). */
void rh_harness_set_worker(rh_harness *h, uint32_t worker, uint32_t workers);

/* Make the host look like it is stopping: emit and emit_commit return
 * RH_ESTOPPED, emit_reserve returns NULL, should_stop returns 1. */
void rh_harness_set_stopping(rh_harness *h, int stopping);

/* ------------------------------------------------------------ inputs ---- */

/* Queue an input message for input port `port`: len payload bytes (at most
 * the port type's size) are copied into storage aligned for the type and
 * zero-filled past len.  The envelope gets a fresh non-zero id, priority 0,
 * the current CLOCK_MONOTONIC time.  Returns that id, or a zero id when port
 * or len is invalid (also counted as an API error). */
rh_id rh_harness_push(rh_harness *h, uint32_t port, const void *payload, uint32_t len);

/* Queue an input message given as JSON text, decoded with the port type's
 * decode() and checked with its validate().  0 and the id in *id_out (may be
 * NULL), or -1 with the JSON, decode or validate error in why. */
int rh_harness_push_json(rh_harness *h, uint32_t port, const char *json_text, rh_id *id_out,
                         char *why, size_t why_len);

/* Inputs queued and not yet processed. */
uint32_t rh_harness_pending(const rh_harness *h);

/* The queued inputs as the batch process() would get them, in push order.
 * Valid until the next push, process, run or free.  For tests that call
 * desc->process(rh_harness_ctx(h), rh_harness_state(h), batch) themselves
 * (the inputs stay queued then). */
const rh_batch *rh_harness_batch(rh_harness *h);

/* Call process() on the queued inputs, in batches of at most max_batch
 * messages (0: all of them in one batch), then drop them.  A batch whose
 * process() returns a negative value is recorded as one failure per message.
 * Returns 0, or the first negative process() result; RH_EINVAL (-1001) when
 * the kernel has no process; init's result when the implicit init failed. */
int rh_harness_process(rh_harness *h, uint32_t max_batch);

/* Call run() for kernels that own their loop: each rh_poll() hands out up to
 * its max queued inputs (valid until the next poll); once none are left,
 * rh_should_stop() turns 1 and rh_poll() returns RH_ESTOPPED.  Returns run()'s
 * result; RH_EINVAL when the kernel has no run. */
int rh_harness_run(rh_harness *h);

/* ----------------------------------------------------------- results ---- */

uint32_t rh_harness_output_count(const rh_harness *h);
const rh_harness_output *rh_harness_output_at(const rh_harness *h, uint32_t i);

/* Output i as compact JSON text from its port type's encode(); the caller
 * frees it.  NULL when i is out of range or encode failed. */
char *rh_harness_output_json(const rh_harness *h, uint32_t i);

uint32_t rh_harness_failure_count(const rh_harness *h);
const rh_harness_failure *rh_harness_failure_at(const rh_harness *h, uint32_t i);

/* Misuses of the host API by the kernel, and the text of the last one ("" when
 * none). */
uint32_t rh_harness_api_errors(const rh_harness *h);
const char *rh_harness_last_api_error(const rh_harness *h);

/* Lines the kernel logged with rh_log(), and the last one ("" when none).
 * With RH_HARNESS_LOG set in the environment they are printed to stderr too. */
uint32_t rh_harness_log_count(const rh_harness *h);
const char *rh_harness_last_log(const rh_harness *h);

/* Forget the recorded outputs, failures, API errors and log lines. */
void rh_harness_clear(rh_harness *h);

/* The context and state handed to the kernel. */
rh_ctx *rh_harness_ctx(rh_harness *h);
void *rh_harness_state(const rh_harness *h);

#ifdef __cplusplus
}
#endif
#endif /* RH_KERNEL_HARNESS_H */
