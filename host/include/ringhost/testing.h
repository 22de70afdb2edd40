/*
 * ringhost/testing.h — drive one kernel in-process, without the host.
 *
 * A fake host for kernel tests: it hands the kernel batches of messages you
 * queue, and records what the kernel emits, fails and logs, so a test (cmocka
 * or any other framework; this header does not depend on one) can assert on
 * it.  There are no threads, queues or pump here: rh_ctx.api is a table of
 * functions that record.
 *
 * Two ways to get the kernel:
 *
 *   - link it: ringhost_add_kernel_test() links the kernel's static library
 *     (NAME_kernel) into the test, so the test takes its descriptor directly:
 *
 *         rh_harness *h = rh_harness_new(rh_kernel_entry());
 *
 *   - load its .so, exactly as the host would (dlopen RTLD_NOW, the entry
 *     symbol, every descriptor check of `ringhost plugins`):
 *
 *         char why[1024];
 *         rh_harness *h = rh_harness_load("build/plugins/vadd.so", why, sizeof why);
 *         if (!h) fail_msg("%s", why);
 *
 * Then feed it and look at what came out:
 *
 *     assert_int_equal(rh_harness_init(h, "{\"factor\": 3}"), 0);
 *     rh_id id = rh_harness_push(h, 0, &request, sizeof request);      // a struct
 *     rh_harness_push_json(h, 0, "{\"a\": [1, 2]}", NULL, why, sizeof why); // JSON
 *     assert_int_equal(rh_harness_process(h, 0), 0);
 *     const rh_harness_output *out = rh_harness_output_at(h, 0);
 *     ... out->port, out->payload (the raw struct), out->correlation_id ...
 *     if (rh_harness_expect_json(h, 0, "{\"sum\": 3}", why, sizeof why)) fail_msg("%s", why);
 *     assert_int_equal(rh_harness_api_errors(h), 0);
 *     rh_harness_free(h);
 *
 * The harness behaves like a strict host, so a test catches what would go
 * wrong in production:
 *   - a slot from rh_emit_reserve() is filled with 0xA5 bytes, as a real
 *     host hands out reused ring slots holding an earlier message: a kernel
 *     that forgets a field sends garbage in its own test, not in production;
 *   - each output is checked with its port type's validate() (see `valid`);
 *   - every misuse of the host API that a real host would refuse, or that
 *     would lose a message, is counted as an API error with its text: a bad
 *     port, a payload longer than the port's type, a second emit_reserve
 *     before emit_commit, a reserved slot never committed, rh_poll() outside
 *     run().
 *
 * Message ids: rh_harness_push() gives each input a fresh non-zero id whose
 * high half spells "HARNESS" in ASCII and whose low half counts from 1, easy
 * to read in a failure message.
 *
 * Linking: the static library ringhost_testing (CMake target
 * ringhost::testing, pkg-config ringhost-testing) needs jansson and libdl;
 * it carries the host's plugin loader and the rh_strerror()/rh_id_*()
 * helpers of ringhost/ringhost.h.
 *
 * Not thread-safe: one harness per test, driven from one thread (like one
 * worker of a real host).  Several harnesses may exist at once.
 */
#ifndef RINGHOST_TESTING_H
#define RINGHOST_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rh_harness rh_harness;

/* The entry of the kernel a test links (defined by the kernel's
 * RH_KERNEL_EXPORT).  Only tests that link a kernel may call it.  No RH_API:
 * the kernel defines it, not libringhost_testing. */
const rh_kernel_desc *rh_kernel_entry(void);

/* One message the kernel emitted.  Library-owned, as rh_harness_failure
 * is: read through the pointer rh_harness_output_at returns, never
 * allocated or copied by value by a test, so it may grow at its end
 * without a struct_size (ringhost.h, "structs that grow"). */
typedef struct rh_harness_output {
    uint32_t port;          /* output port index (see rh_harness_output_port) */
    rh_id correlation_id;   /* id of the `in` the kernel passed; zero when NULL */
    int has_correlation;    /* the kernel passed an `in` */
    uint32_t len;           /* payload bytes emitted (<= the port type's size) */
    const void *payload;    /* the port type's struct: its size in bytes, aligned
                             * for it, zero past len; owned by the harness, valid
                             * until rh_harness_clear or rh_harness_free */
    int valid;              /* the port type's validate() accepted the payload */
    char invalid_why[256];  /* its reason when not valid */
} rh_harness_output;

/* One message the kernel failed (rh_fail), or one message of a batch whose
 * process() returned a negative value. */
typedef struct rh_harness_failure {
    rh_id id;          /* id of the failed input; zero when the kernel passed NULL */
    int has_msg;       /* the kernel passed an `in` */
    char reason[512];  /* the kernel's reason, or "batch failed: process returned N" */
} rh_harness_failure;

/* ----------------------------------------------------------- lifetime ---- */

/*
 * A harness for a kernel linked into the test.  The context's kernel_name is
 * desc->name, worker 0 of 1.  desc is not checked (use rh_harness_load to get
 * the host's checks) and must outlive the harness.
 * Returns NULL only when out of memory.
 */
RH_API rh_harness *rh_harness_new(const rh_kernel_desc *desc);

/*
 * A harness for the kernel in the plugin file so_path, loaded the way the
 * host loads plugins: dlopen(RTLD_NOW | RTLD_LOCAL), the entry symbol
 * RH_KERNEL_ENTRY_SYMBOL, then the descriptor checks (ABI version,
 * struct_size, name, ports and their types, exactly one of process/run).
 * The file stays open until rh_harness_free.
 *
 * Returns NULL when the file cannot be loaded or the host would refuse it,
 * with the host's reason in why (why_len bytes, always NUL-terminated; may be
 * NULL): it names the file and includes dlerror()'s text, e.g.
 * "x.so: dlopen failed: x.so: undefined symbol: helper".
 */
RH_API rh_harness *rh_harness_load(const char *so_path, char *why, size_t why_len);

/*
 * Call the kernel's init with config_json, the text the host would pass for
 * the manifest's "config" object (NULL means "{}", as for an absent config).
 * Returns init's result (0 when the kernel has no init).  Call at most once;
 * a second call returns RH_ESTATE (-1012) and counts an API error.
 * rh_harness_process and rh_harness_run call it with "{}" when a test did not.
 */
RH_API int rh_harness_init(rh_harness *h, const char *config_json);

/* Call fini (when init succeeded), free every input and output, and close the
 * plugin file of rh_harness_load.  NULL is a no-op. */
RH_API void rh_harness_free(rh_harness *h);

/* The descriptor being driven (the one given to rh_harness_new, or the
 * loaded plugin's). */
RH_API const rh_kernel_desc *rh_harness_desc(const rh_harness *h);

/* The index of the input (or output) port called name, or -1 when the kernel
 * has no such port.  For tests that name ports rather than count them. */
RH_API int rh_harness_input_port(const rh_harness *h, const char *name);
RH_API int rh_harness_output_port(const rh_harness *h, const char *name);

/* Present the context as worker `worker` of `workers` (call before init). */
RH_API void rh_harness_set_worker(rh_harness *h, uint32_t worker, uint32_t workers);

/* Make the host look like it is stopping (non-zero) or not (0): emit and
 * emit_commit return RH_ESTOPPED, emit_reserve returns NULL, should_stop
 * returns 1, as a terminating host does. */
RH_API void rh_harness_set_stopping(rh_harness *h, int stopping);

/* ------------------------------------------------------------ inputs ---- */

/*
 * Queue an input message for input port `port` from a struct: len payload
 * bytes (at most the port type's size; a shorter prefix is allowed, as a
 * client may send) are copied into storage aligned for the type and
 * zero-filled past len.  The envelope gets a fresh non-zero id, priority 0,
 * flags 0, the current CLOCK_MONOTONIC time in ns.
 * Returns that id, or a zero id when port or len is invalid (also counted as
 * an API error) or when out of memory.
 */
RH_API rh_id rh_harness_push(rh_harness *h, uint32_t port, const void *payload, uint32_t len);

/*
 * Queue an input message given as JSON text (the "body" of a `ringhost run
 * --send` line), decoded with the port type's decode() and checked with its
 * validate(), as the CLI does.  Returns 0 and the id in *id_out (id_out may
 * be NULL), or -1 with the JSON, decode or validate error in why (why_len
 * bytes; why may be NULL); nothing is queued then.
 */
RH_API int rh_harness_push_json(rh_harness *h, uint32_t port, const char *json_text, rh_id *id_out,
                                char *why, size_t why_len);

/* Inputs queued and not yet processed. */
RH_API uint32_t rh_harness_pending(const rh_harness *h);

/*
 * The queued inputs as the batch process() would get them, in push order.
 * Valid until the next push, process, run or free.  For tests that call
 * desc->process(rh_harness_ctx(h), rh_harness_state(h), batch) themselves
 * (the inputs stay queued then).
 */
RH_API const rh_batch *rh_harness_batch(rh_harness *h);

/*
 * Call process() on the queued inputs, in batches of at most max_batch
 * messages (0: all of them in one batch), then drop them.  A batch whose
 * process() returns a negative value is recorded as one failure per message,
 * and the next batches still run (as in the host).
 * Returns 0, or the first negative process() result; RH_EINVAL (-1001) when
 * the kernel has no process (an API error); init's result when the implicit
 * init failed, RH_ESTATE when an explicit init had failed.
 */
RH_API int rh_harness_process(rh_harness *h, uint32_t max_batch);

/*
 * Call run() for kernels that own their loop: each rh_poll() hands out up to
 * its max (0: all) queued inputs, valid until the next poll; once none are
 * left, rh_should_stop() turns 1 and rh_poll() returns RH_ESTOPPED, so run()
 * returns when the queued inputs are done.  Its timeout is not waited: no
 * input can arrive later.
 * Returns run()'s result; RH_EINVAL when the kernel has no run (an API
 * error); init's result (or RH_ESTATE) as for rh_harness_process.
 */
RH_API int rh_harness_run(rh_harness *h);

/* ----------------------------------------------------------- results ---- */

/* Outputs recorded since the harness was made or last cleared, in emit
 * order, and output i (NULL when i >= the count). */
RH_API uint32_t rh_harness_output_count(const rh_harness *h);
RH_API const rh_harness_output *rh_harness_output_at(const rh_harness *h, uint32_t i);

/* Output i as compact JSON text from its port type's encode() (the "body"
 * `ringhost run` would print); the caller frees it with free().  NULL when i
 * is out of range or encode failed. */
RH_API char *rh_harness_output_json(const rh_harness *h, uint32_t i);

/*
 * Compare output i with the JSON text `expected`.  Objects must have the
 * same keys (in any order), arrays the same length, and numbers the same
 * value (1 and 1.0 are equal; no tolerance: an f32 field holds 0.1 as
 * 0.100000001490116, compare such fields through the struct).
 * Returns 0 when equal; -1 otherwise, with a message in why (why_len bytes;
 * why may be NULL) naming the output, the first JSON path that differs, both
 * values, and the whole output, e.g.
 * "output 0 (port \"out\"): at .sum: got 6.5, expected 7; output is {...}".
 * Also -1 when i is out of range or `expected` is not JSON.
 */
RH_API int rh_harness_expect_json(const rh_harness *h, uint32_t i, const char *expected, char *why,
                                  size_t why_len);

/* Failures recorded (rh_fail, or every message of a failed batch), and
 * failure i (NULL when i >= the count). */
RH_API uint32_t rh_harness_failure_count(const rh_harness *h);
RH_API const rh_harness_failure *rh_harness_failure_at(const rh_harness *h, uint32_t i);

/* Misuses of the host API by the kernel (see the top of this file), and the
 * text of the last one ("" when none).  With RH_HARNESS_LOG set in the
 * environment each is printed to stderr too. */
RH_API uint32_t rh_harness_api_errors(const rh_harness *h);
RH_API const char *rh_harness_last_api_error(const rh_harness *h);

/* Lines the kernel logged with rh_log(), and the last one ("" when none).
 * With RH_HARNESS_LOG set in the environment they are printed to stderr. */
RH_API uint32_t rh_harness_log_count(const rh_harness *h);
RH_API const char *rh_harness_last_log(const rh_harness *h);

/* Forget the recorded outputs, failures, API errors and log lines (queued
 * inputs stay).  Pointers from rh_harness_output_at become invalid. */
RH_API void rh_harness_clear(rh_harness *h);

/* The context and the state (what init stored) handed to the kernel. */
RH_API rh_ctx *rh_harness_ctx(rh_harness *h);
RH_API void *rh_harness_state(const rh_harness *h);

#ifdef __cplusplus
}
#endif
#endif /* RINGHOST_TESTING_H */
