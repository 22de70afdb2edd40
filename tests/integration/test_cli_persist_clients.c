/*
 * test_cli_persist_clients.c — clients of a persist queue across SIGKILLs of
 * its host, through the real `ringhost` binary and the shipped `slow`
 * kernel.
 *
 * The take-back: a send that finds its host gone (RH_ESTALE) takes back
 * with rh_recv what it stranded in the dead queue.  On a persist queue
 * nothing is stranded (the queue outlives its host and the next one
 * recovers it), so a stale persist handle gives nothing back: taking the
 * messages with rh_recv would acknowledge, past them, what the dead host's
 * input bridge had taken and not finished, and the relaunch would find
 * nothing to deliver again.
 *
 * Each test prints its figures (sent, answered, duplicates, lost) for
 * docs/RELIABILITY.md.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

#define READY_WITHIN_S 20.0

/* p.in (persist, capacity 64) -> slow (delay_us per message, batch 4,
 * ring 16) -> p.out (persist, room for every answer). */
static const char *manifest(const char *tag, unsigned delay_us)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"queues\": {\"p.in\": {\"type\": \"echo.message\", \"persist\": true,\n"
             "                       \"capacity\": 64},\n"
             "            \"p.out\": {\"type\": \"echo.message\", \"persist\": true,\n"
             "                        \"capacity\": 1024}},\n"
             " \"kernels\": [{\"name\": \"k\", \"plugin\": \"slow\", \"batch\": 4,\n"
             "               \"ring_capacity\": 16, \"config\": {\"delay_us\": %u},\n"
             "               \"inputs\": {\"in\": \"p.in\"}, \"outputs\": {\"out\": \"p.out\"}}]}\n",
             delay_us);
    return cli_manifest(tag, text);
}

/* `ringhost run MANIFEST --instance I`, up once it logs its activation
 * (not `ringhost stat`: the persist queues of the previous host are there
 * before this one has recovered them). */
static void start_host(proc *host, const char *manifest_path, const char *instance)
{
    char *argv[] = {RH_TEST_BINARY, "run", (char *)manifest_path, "--instance",
                    (char *)instance, NULL};
    assert_int_equal(proc_start(host, argv), 0);
    if (cli_host_logged_within(host, "event=runtime.activate", 1, READY_WITHIN_S) != 0)
        fail_msg("expected `ringhost run %s` (instance %s) to serve within %.0f s",
                 manifest_path, instance, READY_WITHIN_S);
}

static void kill_host(proc *host, proc_result *r)
{
    assert_int_equal(proc_signal(host, SIGKILL), 0);
    proc_wait(host, 30, r);
    assert_int_equal(r->term_signal, SIGKILL);
}

/* Stop with SIGTERM: exit 0, every accounting line balanced. */
static void stop_host(proc *host, cli_out *o, const char *what)
{
    snprintf(o->cmd, sizeof o->cmd, "%s run (%s), then SIGTERM", RH_TEST_BINARY, what);
    assert_int_equal(proc_signal(host, SIGTERM), 0);
    proc_wait(host, 30, &o->r);
    CLI_CHECK(o, !o->r.timed_out, "expected the host to stop within 30 s of SIGTERM");
    cli_expect_exit(o, 0);
    size_t lines = cli_count(o->r.err, "accounting: queue ");
    CLI_CHECK(o, lines >= 2 && cli_count(o->r.err, ": balanced") == lines,
              "expected an accounting line per queue, every one balanced (%zu lines)", lines);
}

/* The ids one per line in text (at most max, each < 40 chars); how many. */
static int read_ids(const char *text, char ids[][40], int max)
{
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        size_t len = strcspn(p, "\n");
        if (len > 0 && len < 40)
            snprintf(ids[n++], 40, "%.*s", (int)len, p);
        p += len + (p[len] == '\n');
    }
    return n;
}

/* Receive every answer in p.out until it stays empty for 2 s: how many of
 * ids were answered (at least once), and how many answers in all. */
static void answers(const char *instance, char ids[][40], int n, int *answered, int *total)
{
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", instance, "p.out", "--timeout", "2", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    *total = (int)json_array_size(lines);
    *answered = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < json_array_size(lines) && !seen; j++) {
            const char *c =
                json_string_value(json_object_get(json_array_get(lines, j), "correlation_id"));
            seen = c && strcasecmp(c, ids[i]) == 0;
        }
        *answered += seen;
    }
    json_decref(lines);
    cli_free(&o);
}

static void purge(const char *instance, const char *queue)
{
    cli_out o;
    cli_exec(&o, NULL, "purge", "--instance", instance, queue, NULL);
    cli_free(&o);
}

#define N_TAKEBACK 300

/*
 * The attack's repro: `ringhost send` of 300 bodies blocks on a full
 * persist p.in (64) while the slow kernel holds up to 16 + 4 of them; the
 * host is SIGKILLed, the send finds it gone (RH_ESTALE) and re-attaches to
 * the relaunched host.  Every one of the 300 ids it printed is answered.
 * (Before: the send took back the 64 messages of the dead p.in with
 * rh_recv, which acked past the ones the kernel held; the relaunch
 * recovered 0 and those were never answered.)
 */
static void test_ringhost_send_loses_nothing_when_its_persist_host_is_killed(void **state)
{
    (void)state;
    const char *inst = cli_instance("takeback");
    proc host, sender;
    start_host(&host, manifest("takeback-slow", 20000), inst);

    const char **args = calloc(N_TAKEBACK + 8, sizeof *args);
    int a = 0;
    args[a++] = RH_TEST_BINARY;
    args[a++] = "send";
    args[a++] = "--instance";
    args[a++] = inst;
    args[a++] = "p.in";
    for (int i = 0; i < N_TAKEBACK; i++)
        args[a++] = cli_keep("{\"seq\": %d, \"text\": \"m%d\"}", i, i);
    args[a] = NULL;
    assert_int_equal(proc_start(&sender, (char *const *)args), 0);
    free(args);

    /* Killed mid-backlog: the kernel has answered some, the send is
     * blocked on a full p.in, and p.in holds messages taken, not acked. */
    if (!WAIT_UNTIL_EVERY(READY_WITHIN_S, CLI_POLL_MS,
                          cli_queue_counter(inst, "p.out", "enqueued") >= 8 &&
                              cli_queue_counter(inst, "p.in", "depth") >= 32 &&
                              cli_queue_counter(inst, "p.in", "unacked") > 0))
        fail_msg("expected the slow kernel mid-backlog (8 answers, p.in filling, messages "
                 "taken and not acked) within %.0f s", READY_WITHIN_S);
    proc_result killed;
    kill_host(&host, &killed);
    proc_result_free(&killed);

    start_host(&host, manifest("takeback-fast", 0), inst);
    proc_result sent;
    proc_wait(&sender, 60, &sent);
    cli_out so = {.r = sent};
    snprintf(so.cmd, sizeof so.cmd, "%s send --instance %s p.in <%d bodies>", RH_TEST_BINARY,
             inst, N_TAKEBACK);
    cli_expect_exit(&so, 0);
    static char ids[N_TAKEBACK][40];
    int n_ids = read_ids(so.r.out, ids, N_TAKEBACK);
    CLI_CHECK(&so, n_ids == N_TAKEBACK, "expected %d ids from the send, got %d", N_TAKEBACK,
              n_ids);
    /* everything sent is answered once p.in is empty and acked */
    if (!WAIT_UNTIL_EVERY(READY_WITHIN_S, CLI_POLL_MS,
                          cli_queue_counter(inst, "p.in", "depth") == 0 &&
                              cli_queue_counter(inst, "p.in", "unacked") == 0))
        fail_msg("expected the relaunched host to empty p.in within %.0f s", READY_WITHIN_S);
    int answered, total;
    answers(inst, ids, N_TAKEBACK, &answered, &total);
    cli_out second = {0};
    stop_host(&host, &second, "relaunched after SIGKILL");
    print_message("persist take-back across a SIGKILL: sent %d, answers %d, answered %d, "
                  "duplicates %d, lost %d\n", N_TAKEBACK, total, answered, total - answered,
                  N_TAKEBACK - answered);
    CLI_CHECK(&so, answered == N_TAKEBACK,
              "expected every one of the %d ids `ringhost send` printed to be answered, got %d "
              "(lost %d)", N_TAKEBACK, answered, N_TAKEBACK - answered);
    cli_free(&second);
    cli_free(&so);
    purge(inst, "p.in");
    purge(inst, "p.out");
}

int main(void)
{
    setenv("RINGHOST_LOG", "info", 1); /* start_host waits for an info event */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ringhost_send_loses_nothing_when_its_persist_host_is_killed),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
