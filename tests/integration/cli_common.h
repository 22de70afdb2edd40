/*
 * cli_common.h — what every command-line integration test needs: a private
 * temporary folder, manifests and request files written into it, the real
 * `ringhost` binary run with a timeout, its JSON-lines output parsed and its
 * summary lines read.
 *
 * Failures say what was expected and then show the command and what it
 * printed (cli_dump), so a red test reads as a bug report.
 */
#ifndef RH_TEST_CLI_COMMON_H
#define RH_TEST_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "expect.h" /* cmocka, EXPECT, WAIT_UNTIL, EXPECT_WITHIN */
#include "proc.h"

/* How long one `ringhost` command may take before the test kills it and
 * fails; --send runs also get "--timeout CLI_RUN_TIMEOUT" so the host
 * gives up first and still prints its summary (healthy runs take well
 * under a second; the margins are for sanitizer builds, and for a loaded
 * machine: `bench --quick` of one case under ASan beside stress-ng and a
 * -j2 run took past 30 s). */
#define CLI_KILL_AFTER_S 60.0
#define CLI_RUN_TIMEOUT "10"

/* How often WAIT_UNTIL_EVERY re-evaluates a condition that runs a
 * `ringhost` command (stat, ps): a command takes milliseconds itself. */
#define CLI_POLL_MS 50

/* One finished `ringhost` command. */
typedef struct cli_out {
    proc_result r;
    char cmd[4096]; /* the command line, for messages */
} cli_out;

/* ---------------------------------------------------------- files ---- */

/* This test program's temporary folder (/tmp/rh-cli-<pid>-XXXXXX), created
 * on first use.  cli_cleanup() removes it and everything in it. */
const char *cli_tmpdir(void);
void cli_cleanup(void);
/* A cmocka group teardown that calls cli_cleanup(). */
int cli_group_teardown(void **state);

/* Lines of the file at path (a background host's stderr, proc.err_path)
 * holding needle so far; 0 when it cannot be read. */
size_t cli_file_count(const char *path, const char *needle);

/* A string that lives until cli_cleanup() (printf-style). */
const char *cli_keep(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy the file from to to (created or truncated), then give it mode
 * (whatever the umask: the plugin trust checks read it).  0, or -1. */
int cli_copy_file(const char *from, const char *to, unsigned mode);

/* After a test SIGKILLed the host of instance: remove the control socket
 * and lock it could not remove itself, from the folder control.h names
 * ($RINGHOST_RUNTIME_DIR, else $XDG_RUNTIME_DIR/ringhost, else
 * /tmp/ringhost-<uid>), so the run leaves nothing behind
 * (test_leaves_nothing_behind). */
void cli_forget_killed_host(const char *instance);

/* "<tag>-<pid>": a manifest name / instance unique to this test process. */
const char *cli_instance(const char *tag);

/* Write text to <tmpdir>/<name>; returns the path. */
const char *cli_write(const char *name, const char *text);

/*
 * Write a manifest <tmpdir>/<tag>.json from text where "@NAME@" becomes
 * cli_instance(tag) and "@PLUGINS@" the JSON string of RH_TEST_PLUGIN_DIR;
 * returns its path.
 */
const char *cli_manifest(const char *tag, const char *text);

/* A growing string. */
typedef struct cli_str {
    char *s;
    size_t len, cap;
} cli_str;
void cli_str_addf(cli_str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_str_free(cli_str *b);

/* Request id number n as a UUID text, unique to this process:
 * "xxxxxxxx-0000-4000-8000-nnnnnnnnnnnn" (pid in the first group). */
const char *cli_id(unsigned n);

/* ------------------------------------------------------- commands ---- */

/* Run RH_TEST_BINARY with the arguments that follow (NULL-terminated),
 * stdin_text (may be NULL) on its stdin.  Fails the test if it cannot be
 * started or runs past CLI_KILL_AFTER_S. */
void cli_exec(cli_out *o, const char *stdin_text, ...) __attribute__((sentinel));
void cli_exec_argv(cli_out *o, const char *stdin_text, const char *const *args);
void cli_free(cli_out *o);

/* Print the command, its exit status and (the tails of) what it wrote. */
void cli_dump(const cli_out *o);

/* Fail with a message (and the dump) unless cond holds. */
#define CLI_CHECK(o, cond, ...)                                                                  \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            cli_dump(o);                                                                         \
            fail_msg(__VA_ARGS__);                                                               \
        }                                                                                        \
    } while (0)

/* Exit status must be `code` (and no signal, no timeout). */
void cli_expect_exit(const cli_out *o, int code);

/* stderr holds `queues` "accounting:" lines, every one balanced. */
void cli_expect_balanced(const cli_out *o, size_t queues);

/* stdout as JSON lines: a new array of the objects, one per line.  Fails if
 * a non-empty line is not a JSON object. */
json_t *cli_lines(const cli_out *o);

/* Count of lines in stdout whose "queue" is qname (NULL: all). */
size_t cli_count_queue(json_t *lines, const char *qname);

/* The first output line whose correlation_id equals id, or NULL. */
json_t *cli_find_correlated(json_t *lines, const char *id);

/*
 * From a summary line "summary: <kind> <name>: ..., <counter> N, ..." on
 * stderr (kind "kernel" or "queue"): 0 and *value, or -1 when there is no
 * such line or counter.  cli_summary_get() fails the test instead.
 */
int cli_summary(const cli_out *o, const char *kind, const char *name, const char *counter,
                long long *value);
long long cli_summary_get(const cli_out *o, const char *kind, const char *name,
                          const char *counter);

/* A counter of queue (a member of its object in `ringhost stat --instance
 * instance --json`: "depth", "enqueued", "unacked", ...).  Fails the test
 * when stat fails or lists no such queue or counter. */
long long cli_queue_counter(const char *instance, const char *queue, const char *counter);

/* Occurrences of needle in hay. */
size_t cli_count(const char *hay, const char *needle);

/* ----------------------------------------------- a serving host ---- */

/* What `ringhost run` (serve mode) writes to stderr once it is fully up:
 * every queue of the manifest created (dead-letter queues included), the
 * kernels active and the control socket answering. */
#define CLI_SERVING "ringhost: serving;"

/* Wait up to within_s for a background host (proc_start) to have written
 * count lines holding needle to its stderr.  0; or -1 after printing what
 * was expected and the host's stderr, when it exited first (it is then
 * reaped) or the deadline passed.  For setup functions. */
int cli_host_logged_within(proc *host, const char *needle, size_t count, double within_s);

/* The same, failing the test instead of returning -1. */
void cli_await_log(proc *host, const char *needle, size_t count, double within_s);

/* How long cli_start_host() gives a host to serve (sanitizer builds). */
#define CLI_READY_WITHIN_S 20.0

/*
 * `ringhost run manifest_path --instance instance` in the background,
 * waiting up to CLI_READY_WITHIN_S until it serves (CLI_SERVING); fails
 * the test (with the host's stderr) when it does not.  The host is
 * remembered until it is waited for (proc_wait): cli_hosts_teardown() and
 * an atexit handler SIGKILL every one left, so a failed assertion (which
 * jumps past the test's own stop) leaves no ringhost process running.
 */
void cli_start_host(proc *host, const char *manifest_path, const char *instance);
/* The same with its own wait (within_s); instance NULL: the manifest's. */
void cli_start_host_within(proc *host, const char *manifest_path, const char *instance,
                           double within_s);

/* stop(h) for every host cli_start_host*() started that was not waited
 * for, then forget them all: for a teardown that stops them its own way
 * (remote_common.c lets them write their accounting lines first). */
void cli_hosts_stop_left(void (*stop)(proc *left));

/* A per-test cmocka teardown: SIGKILL and reap every host cli_start_host()
 * started that was not waited for.  0. */
int cli_hosts_teardown(void **state);
/* A cmocka test entry with that teardown. */
#define CLI_HOST_TEST(f) cmocka_unit_test_teardown(f, cli_hosts_teardown)

/* ------------------------------------------------------- messages ---- */

/* Append one vector_add request line to b (id may be NULL). */
void cli_vadd_line(cli_str *b, const char *queue, const char *id, const char *op, const float *a,
                   size_t na, const float *bv, size_t nb);

/* The numeric value of key in obj (integer or real); fails when absent. */
double cli_num(const cli_out *o, json_t *obj, const char *key);

/* Check a vector_add.response body: success true, processed_elements n,
 * result[i] == want[i] within 1e-3. */
void cli_check_vadd_result(const cli_out *o, json_t *line, const float *want, size_t n);

#endif /* RH_TEST_CLI_COMMON_H */
