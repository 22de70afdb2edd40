/*
 * test_cli_persist_answers.c — a persist host killed mid-stream answers
 * every message exactly once (issue 14, item 4), through the real
 * `ringhost` binary and the shipped `slow` kernel.
 *
 * p.in (persist) -> slow (2 inline workers reading in place, so acks wait
 * until neither is mid-batch, and answered inputs stay unacked while the
 * other worker reads: the kill waits for that) -> p.out
 * (persist).  A client reads part of the answers, the host is killed with
 * SIGKILL by pid while the backlog lasts, a second host of the same
 * instance recovers both queues and is delivered the unacked inputs again;
 * the client reads the rest.  By correlation id, every message sent must
 * have been answered exactly once: the answers to redelivered inputs carry
 * the ids they had the first time (derived from the input's id) and the
 * output bridge drops those p.out already accepted, whether the client had
 * read them or not.  The relaunched host's accounting shows them as
 * "repeated", so the test also proves the kill hit answered, unacked
 * inputs (without the derived ids, each of them reached the client twice).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli_common.h"

#define N_MSGS 300
#define FIRST_READ 40
#define READY_WITHIN_S 20.0

static const char *manifest(const char *tag, unsigned delay_us)
{
    return cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"p.in\": {\"type\": \"echo.message\", \"persist\": true},\n"
        "            \"p.out\": {\"type\": \"echo.message\", \"persist\": true}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"slow\", \"batch\": 4,\n"
        "               \"bridge\": \"inline\", \"workers\": 2, \"ring_capacity\": 8,\n"
        "               \"config\": {\"delay_us\": %u},\n"
        "               \"inputs\": {\"in\": \"p.in\"}, \"outputs\": {\"out\": \"p.out\"}}]}\n",
        delay_us));
}

/* Not `ringhost stat` to see it is up: no client may use a persist queue
 * while its host recovers it (queue_persist.c). */
static void start_host(proc *host, const char *m, const char *inst)
{
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--instance", (char *)inst, NULL};
    assert_int_equal(proc_start(host, argv), 0);
    if (cli_host_logged_within(host, "event=runtime.activate", 1, READY_WITHIN_S) != 0)
        fail_msg("expected `ringhost run %s` (instance %s) to serve within %.0f s", m, inst,
                 READY_WITHIN_S);
}

/* Send the N_MSGS messages, 100 per `ringhost send` (cli_exec_argv takes
 * up to 126 arguments); their ids into ids. */
static void send_all(const char *inst, char ids[][40])
{
    for (int base = 0; base < N_MSGS; base += 100) {
        const char *args[108] = {"send", "--instance", inst, "p.in"};
        int a = 4, n = N_MSGS - base < 100 ? N_MSGS - base : 100;
        for (int i = 0; i < n; i++)
            args[a++] = cli_keep("{\"seq\": %d, \"text\": \"m%d\"}", base + i, base + i);
        args[a] = NULL;
        cli_out o;
        cli_exec_argv(&o, NULL, args);
        cli_expect_exit(&o, 0);
        const char *p = o.r.out;
        for (int i = 0; i < n; i++) {
            size_t len = strcspn(p, "\n");
            CLI_CHECK(&o, len > 0 && len < 40, "expected %d ids, one per line", n);
            snprintf(ids[base + i], 40, "%.*s", (int)len, p);
            p += len + (p[len] == '\n');
        }
        cli_free(&o);
    }
}

/* Count each answer of `ringhost recv` output o by its correlation id into
 * seen[] (index of ids); answers correlating to no sent id into *strays. */
static void tally(const cli_out *o, char ids[][40], int *seen, int *strays)
{
    json_t *lines = cli_lines(o);
    size_t j;
    json_t *l;
    json_array_foreach (lines, j, l) {
        const char *c = json_string_value(json_object_get(l, "correlation_id"));
        int found = 0;
        for (int i = 0; c && i < N_MSGS && !found; i++)
            if (!strcasecmp(ids[i], c)) {
                seen[i]++;
                found = 1;
            }
        *strays += !found;
    }
    json_decref(lines);
}

static void test_a_persist_host_killed_mid_stream_answers_every_message_once(void **state)
{
    (void)state;
    const char *inst = cli_instance("answers-kill");
    static char ids[N_MSGS][40];
    static int seen[N_MSGS];
    int strays = 0;
    memset(seen, 0, sizeof seen);
    proc host;
    start_host(&host, manifest("answers-slow", 20000), inst);
    send_all(inst, ids);

    /* the client reads the first answers, and lets go of p.out (a persist
     * queue is not recovered while a client holds it) */
    cli_out first;
    cli_exec(&first, NULL, "recv", "--instance", inst, "p.out", "-n",
             cli_keep("%d", FIRST_READ), "--timeout", "20", NULL);
    cli_expect_exit(&first, 0);
    tally(&first, ids, seen, &strays);
    cli_free(&first);

    /* Kill while inputs already answered are unacked: more unacked than
     * the two workers hold in place (2 x batch 4, engine/inplace.c: a
     * batch read in the queue's cells is acked as soon as its answers are
     * out, unless the other worker is mid-batch, so answered-unacked
     * inputs come and go batch by batch). */
    if (!WAIT_UNTIL_EVERY(READY_WITHIN_S, 5, cli_queue_counter(inst, "p.in", "unacked") > 8))
        fail_msg("expected answered inputs of p.in unacked (unacked > 8) within %.0f s",
                 READY_WITHIN_S);
    assert_int_equal(proc_signal(&host, SIGKILL), 0); /* by pid, mid-stream */
    proc_result r;
    proc_wait(&host, 30, &r);
    assert_int_equal(r.term_signal, SIGKILL);
    proc_result_free(&r);

    start_host(&host, manifest("answers-fast", 0), inst);
    cli_out rest;
    cli_exec(&rest, NULL, "recv", "--instance", inst, "p.out", "--timeout", "3", NULL);
    cli_expect_exit(&rest, 0);
    tally(&rest, ids, seen, &strays);

    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s run (relaunched after SIGKILL), then SIGTERM",
             RH_TEST_BINARY);
    assert_int_equal(proc_signal(&host, SIGTERM), 0);
    proc_wait(&host, 30, &o.r);
    CLI_CHECK(&o, !o.r.timed_out, "expected the relaunched host to stop within 30 s");
    cli_expect_exit(&o, 0);
    size_t lines = cli_count(o.r.err, "accounting: queue ");
    CLI_CHECK(&o, lines >= 2 && cli_count(o.r.err, ": balanced") == lines &&
                  !strstr(o.r.err, "UNBALANCED"),
              "expected every accounting line of the relaunched host to balance");
    const char *kl = strstr(o.r.err, "accounting: kernel k: ");
    const char *rep = kl ? strstr(kl, "+ repeated ") : NULL;
    long long repeated = rep ? atoll(rep + 11) : -1;

    int once = 0, twice = 0, never = 0;
    for (int i = 0; i < N_MSGS; i++) {
        once += seen[i] == 1;
        twice += seen[i] > 1 ? seen[i] - 1 : 0;
        never += seen[i] == 0;
    }
    print_message("persist sigkill mid-stream: sent %d, read before the kill %d, answered once "
                  "%d, duplicates %d, lost %d, strays %d; relaunch dropped %lld repeated "
                  "answers\n", N_MSGS, FIRST_READ, once, twice, never, strays, repeated);
    CLI_CHECK(&rest, never == 0, "expected every message answered, %d never were", never);
    CLI_CHECK(&rest, twice == 0 && strays == 0,
              "expected every message answered exactly once by correlation id, got %d "
              "duplicate answer(s) (and %d stray)", twice, strays);
    CLI_CHECK(&o, repeated > 0,
              "expected the relaunch to have dropped repeated answers (the kill must hit "
              "answered, unacked inputs for this test to mean anything), got %lld", repeated);
    cli_free(&rest);
    cli_free(&o);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.in", NULL);
    cli_free(&o);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.out", NULL);
    cli_free(&o);
}

int main(void)
{
    setenv("RINGHOST_LOG", "info", 1); /* start_host waits for an info event */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_persist_host_killed_mid_stream_answers_every_message_once),
    };
    /* cli_group_teardown removes every queue of this process's instances,
     * persist ones included (they outlive their host by design) */
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
