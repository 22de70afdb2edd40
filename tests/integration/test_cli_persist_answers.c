/*
 * test_cli_persist_answers.c — a persist host killed mid-stream answers
 * every message exactly once, through the real
 * `ringhost` binary and the shipped `slow` kernel.
 *
 * p.in (persist) -> slow (2 workers, thread bridge: acks go burst by
 * burst in order, so one worker's answered batches wait behind the other
 * worker's burst still in its ring; the kill waits for answers in p.out
 * beyond what p.in acked) -> p.out (persist).  A client reads part of the
 * answers, the host is killed with SIGKILL by pid while the backlog lasts,
 * a second host of the same instance recovers both queues and is delivered
 * the unacked inputs again; the client reads the rest.  By correlation id,
 * every message sent must have been answered exactly once: the answers to
 * redelivered inputs carry the ids they had the first time (derived from
 * the input's id) and the output bridge drops those p.out already
 * accepted, whether the client had read them or not (counted "repeated" in
 * the relaunched host's accounting, printed).
 *
 * Then two workers of each bridge killed twice mid-stream at default
 * kernel rings with a 1 024-slot p.out, and the launch warning for an
 * output queue too small for full batches ahead of the acks
 * (engine/acks.c).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
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
        "               \"bridge\": \"thread\", \"workers\": 2, \"ring_capacity\": 8,\n"
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

/* Answers p.out accepted beyond the inputs p.in acked, from one `stat
 * --json` (both queues created by this launch: its counters start at 0):
 * p.out enqueued - (p.in dequeued - p.in unacked). */
static long long answered_unacked(const char *inst)
{
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", inst, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *root = json_loads(o.r.out, 0, NULL), *q;
    size_t i;
    long long out_enq = -1, in_deq = -1, in_unacked = -1;
    json_array_foreach (json_object_get(root, "queues"), i, q) {
        const char *name = json_string_value(json_object_get(q, "queue"));
        if (name && !strcmp(name, "p.out"))
            out_enq = (long long)json_integer_value(json_object_get(q, "enqueued"));
        if (name && !strcmp(name, "p.in")) {
            in_deq = (long long)json_integer_value(json_object_get(q, "dequeued"));
            in_unacked = (long long)json_integer_value(json_object_get(q, "unacked"));
        }
    }
    json_decref(root);
    cli_free(&o);
    return out_enq < 0 || in_deq < 0 ? -1 : out_enq - (in_deq - in_unacked);
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

    /* Kill while inputs already answered are unacked: answers in p.out
     * beyond the inputs p.in acked (a thread bridge acks its bursts in
     * order, engine/acks.c: one worker's answered batches wait behind the
     * other worker's burst still in its ring, for about a batch, 80 ms). */
    if (!WAIT_UNTIL_EVERY(READY_WITHIN_S, 5, answered_unacked(inst) >= 4))
        fail_msg("expected answered inputs of p.in unacked (4 or more) within %.0f s",
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
    /* Whether the kill hit answered, unacked inputs (repeated > 0) is up to
     * timing now: acks follow the kernel batch by batch (engine/acks.c),
     * so such inputs exist for about a batch at a time; the figure is
     * printed, not asserted. */
    cli_free(&rest);
    cli_free(&o);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.in", NULL);
    cli_free(&o);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.out", NULL);
    cli_free(&o);
}

/*
 * Two workers, SIGKILLs mid-stream, every answer exactly once (thread and
 * inline bridges).  p.in at its default capacity (4 096), p.out at 1 024,
 * default kernel rings (1 024 slots for echo.message), a kernel of 300 us
 * per message: the rings fill, the client reads p.out as it goes (p.out
 * blocks the host when full), and the host is killed twice, each time once
 * the client has read another KILL_EVERY answers.  Before, two workers left
 * acks behind under that backlog (a thread bridge's 64 marks ran out with
 * two 1 024-slot rings, inline workers waited for both to be outside a
 * batch), so a kill redelivered up to the whole of p.in, answered inputs
 * among them, whose first answers p.out's 1 024 recent ids could no longer
 * all hold: duplicates reached the client.
 */
#define W_MSGS 4000
#define KILL_EVERY 1200

static const char *workers_manifest(const char *tag, const char *bridge)
{
    return cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"p.in\": {\"type\": \"echo.message\", \"persist\": true},\n"
        "            \"p.out\": {\"type\": \"echo.message\", \"persist\": true,\n"
        "                       \"capacity\": 1024}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"slow\", \"workers\": 2,\n"
        "               \"bridge\": \"%s\", \"config\": {\"delay_us\": 300},\n"
        "               \"inputs\": {\"in\": \"p.in\"}, \"outputs\": {\"out\": \"p.out\"}}]}\n",
        bridge));
}

static void send_many(const char *inst, char (*ids)[40], int n_msgs)
{
    for (int base = 0; base < n_msgs; base += 100) {
        const char *args[108] = {"send", "--instance", inst, "p.in"};
        int a = 4, n = n_msgs - base < 100 ? n_msgs - base : 100;
        for (int i = 0; i < n; i++)
            args[a++] = cli_keep("{\"seq\": %d}", base + i);
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

/* Read up to `most` answers of p.out into seen[]; returns how many lines. */
static int read_answers(const char *inst, char (*ids)[40], int n_msgs, int *seen, int *strays,
                        int most, const char *timeout)
{
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", inst, "p.out", "-n", cli_keep("%d", most),
             "--timeout", timeout, NULL);
    CLI_CHECK(&o, o.r.exit_code == 0 || o.r.exit_code == 1, "expected recv to exit 0 or 1");
    json_t *lines = cli_lines(&o);
    size_t j;
    json_t *l;
    json_array_foreach (lines, j, l) {
        const char *c = json_string_value(json_object_get(l, "correlation_id"));
        int found = 0;
        for (int i = 0; c && i < n_msgs && !found; i++)
            if (!strcasecmp(ids[i], c)) {
                seen[i]++;
                found = 1;
            }
        *strays += !found;
    }
    int n = (int)json_array_size(lines);
    json_decref(lines);
    cli_free(&o);
    return n;
}

static void kill_host(proc *host)
{
    assert_int_equal(proc_signal(host, SIGKILL), 0); /* by pid, mid-stream */
    proc_result r;
    proc_wait(host, 30, &r);
    assert_int_equal(r.term_signal, SIGKILL);
    proc_result_free(&r);
}

static void two_workers_killed_twice(const char *bridge)
{
    const char *inst = cli_instance(cli_keep("answers-w2-%s", bridge));
    static char ids[W_MSGS][40];
    static int seen[W_MSGS];
    int strays = 0, read = 0;
    memset(seen, 0, sizeof seen);
    const char *m = workers_manifest(cli_keep("answers-w2-%s", bridge), bridge);
    proc host;
    start_host(&host, m, inst);
    send_many(inst, ids, W_MSGS);
    for (int kill = 0; kill < 2; kill++) {
        int until = read + KILL_EVERY;
        while (read < until) {
            int got = read_answers(inst, ids, W_MSGS, seen, &strays, until - read, "20");
            if (got <= 0)
                fail_msg("expected answers of p.out within 20 s (read %d so far)", read);
            read += got;
        }
        kill_host(&host);
        start_host(&host, m, inst);
    }
    /* The rest: until every message was answered, or nothing came for 3 s
     * after 60 s.  A quiet 3 s alone is no end: beside stress-ng and under
     * ASan a relaunch's recovery was seen to take longer, and 40 of its
     * messages, still queued (the accounting balanced), were then counted
     * never answered. */
    time_t rest_until = time(NULL) + 60;
    for (int rounds = 0; rounds < 200; rounds++) {
        int unseen = 0;
        for (int i = 0; i < W_MSGS; i++)
            unseen += seen[i] == 0;
        if (unseen == 0)
            break;
        int got = read_answers(inst, ids, W_MSGS, seen, &strays, W_MSGS, "3");
        read += got;
        if (got == 0 && time(NULL) > rest_until)
            break;
    }
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s run (relaunched twice after SIGKILL), then SIGTERM",
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
    for (int i = 0; i < W_MSGS; i++) {
        once += seen[i] == 1;
        twice += seen[i] > 1 ? seen[i] - 1 : 0;
        never += seen[i] == 0;
    }
    print_message("persist, 2 workers (%s bridge), 2 SIGKILLs mid-stream: sent %d, answered "
                  "once %d, duplicates %d, lost %d, strays %d; the last relaunch dropped %lld "
                  "repeated answers\n", bridge, W_MSGS, once, twice, never, strays, repeated);
    CLI_CHECK(&o, never == 0, "expected every message answered, %d never were", never);
    CLI_CHECK(&o, twice == 0 && strays == 0,
              "expected every message answered exactly once by correlation id, got %d "
              "duplicate answer(s) (and %d stray)", twice, strays);
    cli_free(&o);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.in", NULL);
    cli_free(&o);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.out", NULL);
    cli_free(&o);
}

static void test_two_thread_bridge_workers_killed_mid_stream_answer_every_message_once(void **s)
{
    (void)s;
    two_workers_killed_twice("thread");
}

static void test_two_inline_workers_killed_mid_stream_answer_every_message_once(void **s)
{
    (void)s;
    two_workers_killed_twice("inline");
}

/* The launch says when the output queue is too small for the workers to take
 * full batches ahead of the acks (engine/acks.c ack_limit), naming the
 * capacity that lifts it; a capacity that suffices says nothing. */
static void launch_with_out_capacity(unsigned cap, cli_out *o)
{
    const char *inst = cli_instance(cli_keep("answers-window-%u", cap));
    const char *m = cli_manifest(cli_keep("answers-window-%u", cap), cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"p.in\": {\"type\": \"echo.message\", \"persist\": true},\n"
        "            \"p.out\": {\"type\": \"echo.message\", \"persist\": true,\n"
        "                       \"capacity\": %u}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"slow\", \"workers\": 2, \"batch\": 32,\n"
        "               \"config\": {\"delay_us\": 0},\n"
        "               \"inputs\": {\"in\": \"p.in\"}, \"outputs\": {\"out\": \"p.out\"}}]}\n",
        cap));
    proc host;
    start_host(&host, m, inst);
    memset(o, 0, sizeof *o);
    snprintf(o->cmd, sizeof o->cmd, "%s run %s (p.out capacity %u), then SIGTERM",
             RH_TEST_BINARY, m, cap);
    assert_int_equal(proc_signal(&host, SIGTERM), 0);
    proc_wait(&host, 30, &o->r);
    cli_expect_exit(o, 0);
    cli_out p;
    cli_exec(&p, NULL, "purge", "--instance", inst, "p.in", NULL);
    cli_free(&p);
    cli_exec(&p, NULL, "purge", "--instance", inst, "p.out", NULL);
    cli_free(&p);
}

static void test_an_output_queue_too_small_for_full_batches_is_warned_at_launch(void **s)
{
    (void)s;
    cli_out o;
    launch_with_out_capacity(64, &o);
    CLI_CHECK(&o, strstr(o.r.err, "event=launch.persist_answers_window kernel=k output=p.out "
                                  "capacity=64 needs=128") != NULL,
              "expected the launch to warn that p.out (64) needs capacity 128 for two workers "
              "of batch 32");
    cli_free(&o);
    launch_with_out_capacity(128, &o);
    CLI_CHECK(&o, strstr(o.r.err, "launch.persist_answers_window") == NULL,
              "expected no warning with p.out at capacity 128");
    cli_free(&o);
}

int main(void)
{
    setenv("RINGHOST_LOG", "info", 1); /* start_host waits for an info event */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_persist_host_killed_mid_stream_answers_every_message_once),
        cmocka_unit_test(test_two_thread_bridge_workers_killed_mid_stream_answer_every_message_once),
        cmocka_unit_test(test_two_inline_workers_killed_mid_stream_answer_every_message_once),
        cmocka_unit_test(test_an_output_queue_too_small_for_full_batches_is_warned_at_launch),
    };
    /* cli_group_teardown removes every queue of this process's instances,
     * persist ones included (they outlive their host by design) */
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
