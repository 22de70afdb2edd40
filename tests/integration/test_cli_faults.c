/*
 * test_cli_faults.c — kernel faults through the real binary
 * (docs/RELIABILITY.md, "Kernel faults"), with the "faulty" test kernel
 * (tests/plugins/faulty) beside an echo kernel in the same host:
 *
 *  - a call that stays inside process() past watchdog_ms is reported in the
 *    operator's log while it runs, the kernel is restarted when it returns,
 *    and every message, its own and the other kernel's, is answered;
 *  - a kernel failing batch after batch is restarted, then given up past
 *    restart.max: its failed messages are dead-lettered, what it never took
 *    is counted queued, the other kernel answers throughout, and every
 *    accounting line balances (nothing lost);
 *  - "isolation": "process": a crash on a poison message retries its batch
 *    one message at a time and dead-letters the message that kills the
 *    kernel's process twice; a crash a retry survives is answered; a hung
 *    process is killed by the watchdog; past restart.max it is given up;
 *    the launch refuses a run() kernel or an unshared input queue.  The
 *    host and the other kernel answer throughout, no answer comes twice.
 */
#include <string.h>
#include <strings.h>

#include "cli_common.h"

#define TEST_PLUGINS RH_TEST_BUILD_DIR "/test_plugins"

/* Kernel "f" (faulty, extra keys f_extra) and kernel "e" (echo). */
static const char *manifest(const char *tag, const char *f_extra)
{
    return cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@, \"%s\"],\n"
        " \"queues\": {\"f.in\": {\"type\": \"echo.message\"}, \"f.out\": {\"type\": \"echo.message\"},\n"
        "            \"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"f\", \"plugin\": \"faulty\", \"inputs\": {\"in\": \"f.in\"},\n"
        "               \"outputs\": {\"out\": \"f.out\"}%s},\n"
        "              {\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}}]}\n", TEST_PLUGINS, f_extra));
}

static void add_line(cli_str *b, const char *queue, unsigned seq, const char *text)
{
    cli_str_addf(b, "{\"queue\": \"%s\", \"id\": \"%s\", \"body\": {\"seq\": %u, \"text\": \"%s\"}}\n",
                 queue, cli_id(seq), seq, text);
}

static void test_stalled_kernel_is_reported_restarted_and_every_message_answered(void **state)
{
    (void)state;
    const char *m = manifest("stall", ",\n \"watchdog_ms\": 100, \"restart\": {\"backoff_ms\": 10}");
    cli_str b = {0};
    add_line(&b, "f.in", 1, "sleep:700");
    for (unsigned i = 2; i <= 5; i++)
        add_line(&b, "f.in", i, "fine");
    for (unsigned i = 11; i <= 20; i++)
        add_line(&b, "e.in", i, "alive");
    const char *file = cli_write("stall.jsonl", b.s);
    cli_str_free(&b);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "f.out") == 5 && cli_count_queue(lines, "e.out") == 10,
              "expected 5 answers on f.out and 10 on e.out, got %zu and %zu",
              cli_count_queue(lines, "f.out"), cli_count_queue(lines, "e.out"));
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.stalled kernel=f worker=0") == 1,
              "expected one kernel.stalled event for f in the log");
    /* Seen by the watchdog while the call ran, not only after it returned. */
    const char *stalled = strstr(o.r.err, "event=kernel.stalled kernel=f");
    const char *ended = strstr(o.r.err, "event=kernel.stall_ended kernel=f");
    CLI_CHECK(&o, stalled && ended && stalled < ended && strstr(stalled, "action=\"wait"),
              "expected kernel.stalled (action wait) logged before kernel.stall_ended");
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.restart kernel=f") == 1,
              "expected one kernel.restart event for f");
    CLI_CHECK(&o, cli_summary_get(&o, "kernel", "f", "restarts") == 1 &&
                  cli_summary_get(&o, "kernel", "f", "stalls") == 1,
              "expected the summary to say restarts 1, stalls 1");
    cli_expect_balanced(&o, 6); /* f.in f.out e.in e.out f.dlq e.dlq */
    json_decref(lines);
    cli_free(&o);
}

static void test_kernel_failing_every_batch_is_given_up_while_the_host_answers(void **state)
{
    (void)state;
    const char *m = manifest("giveup", ", \"batch\": 1,\n \"restart\": {\"failed_batches\": 1, "
                                       "\"max\": 2, \"backoff_ms\": 50}");
    cli_str b = {0};
    for (unsigned i = 1; i <= 3; i++)
        add_line(&b, "f.in", i, "fail-batch");
    for (unsigned i = 4; i <= 6; i++)
        add_line(&b, "f.in", i, "never taken");
    for (unsigned i = 11; i <= 20; i++)
        add_line(&b, "e.in", i, "alive");
    const char *file = cli_write("giveup.jsonl", b.s);
    cli_str_free(&b);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "f.dlq") == 3 && cli_count_queue(lines, "f.out") == 0,
              "expected the 3 failed batches dead-lettered and nothing answered by f");
    CLI_CHECK(&o, cli_count_queue(lines, "e.out") == 10, "expected e to answer all 10");
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.given_up kernel=f") == 1,
              "expected one kernel.given_up event for f");
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.restart kernel=f") == 2,
              "expected f restarted twice before it was given up");
    CLI_CHECK(&o, strstr(o.r.err, "restarts 2, stalls 0, given up"),
              "expected the summary of f to say it was given up after 2 restarts");
    CLI_CHECK(&o, strstr(o.r.err, "accounting: queue f.in: accepted 6 = delivered 0 + "
                                  "dead-lettered 3 + dropped 0 + queued 3: balanced"),
              "expected f.in: 3 dead-lettered, 3 queued, nothing lost");
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

/* ------------------------------------------------ "isolation": "process" -- */

/* The dead letter of queue qname whose body.reason starts with prefix, or NULL. */
static json_t *dead_letter(json_t *lines, const char *prefix)
{
    size_t i;
    json_t *l;
    json_array_foreach (lines, i, l) {
        const char *q = json_string_value(json_object_get(l, "queue"));
        const char *r = json_string_value(json_object_get(json_object_get(l, "body"), "reason"));
        if (q && r && !strcmp(q, "f.dlq") && !strncmp(r, prefix, strlen(prefix)))
            return l;
    }
    return NULL;
}

/* f.in: 100 messages, text[i] for those the caller names, "fine" for the rest. */
static const char *isolated_requests(const char *tag, unsigned at1, const char *t1, unsigned at2,
                                     const char *t2)
{
    cli_str b = {0};
    for (unsigned i = 1; i <= 100; i++)
        add_line(&b, "f.in", i, i == at1 ? t1 : i == at2 ? t2 : "fine");
    for (unsigned i = 101; i <= 200; i++)
        add_line(&b, "e.in", i, "alive");
    const char *file = cli_write(cli_keep("%s.jsonl", tag), b.s);
    cli_str_free(&b);
    return file;
}

static void test_isolated_kernel_crashing_on_a_poison_message_dead_letters_it_and_runs_on(
    void **state)
{
    (void)state;
    const char *m = manifest("poison", ",\n \"isolation\": \"process\", "
                                       "\"restart\": {\"backoff_ms\": 10}");
    const char *file = isolated_requests("poison", 50, "crash", 0, NULL);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "f.out") == 99 && cli_count_queue(lines, "e.out") == 100,
              "expected 99 answers on f.out (no duplicate) and 100 on e.out, got %zu and %zu",
              cli_count_queue(lines, "f.out"), cli_count_queue(lines, "e.out"));
    /* "killed by SIGSEGV" (the kernel process resets the fault handlers,
     * AddressSanitizer's too; the check takes any reason after the prefix) */
    json_t *dl = dead_letter(lines, "poison: kernel process ");
    CLI_CHECK(&o, dl && cli_count_queue(lines, "f.dlq") == 1,
              "expected exactly one dead letter, the poison message, with reason \"poison: "
              "kernel process killed by SIGSEGV…\"");
    CLI_CHECK(&o, !strcasecmp(json_string_value(json_object_get(dl, "id")), cli_id(50)),
              "expected the dead letter to be message 50 (%s)", cli_id(50));
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.crashed kernel=f") == 2 &&
                  cli_summary_get(&o, "kernel", "f", "restarts") == 2,
              "expected two crashes (the batch, then the message alone) and two restarts");
    /* The last process (forked by the watchdog thread) was stopped, not killed. */
    CLI_CHECK(&o, cli_count(o.r.err, "faulty: fini") == 1 && !strstr(o.r.err, "process_killed"),
              "expected the last kernel process to run fini() once at terminate");
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

static void test_isolated_kernel_crash_that_a_retry_survives_is_answered(void **state)
{
    (void)state;
    const char *m = manifest("once", ",\n \"isolation\": \"process\", "
                                     "\"restart\": {\"backoff_ms\": 10}");
    const char *marker = cli_keep("%s/crashed-once", cli_tmpdir());
    const char *file = isolated_requests("once", 50, cli_keep("crash-once:%s", marker), 0, NULL);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "f.out") == 100 && cli_count_queue(lines, "f.dlq") == 0,
              "expected all 100 answered and nothing dead-lettered, got %zu and %zu",
              cli_count_queue(lines, "f.out"), cli_count_queue(lines, "f.dlq"));
    CLI_CHECK(&o, cli_find_correlated(lines, cli_id(50)), "expected message 50 answered");
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.crashed kernel=f") == 1 &&
                  cli_summary_get(&o, "kernel", "f", "restarts") == 1,
              "expected one crash and one restart");
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

static void test_hung_kernel_process_is_killed_by_the_watchdog_and_restarted(void **state)
{
    (void)state;
    const char *m = manifest("hang", ",\n \"isolation\": \"process\", \"watchdog_ms\": 200, "
                                     "\"restart\": {\"backoff_ms\": 10}");
    const char *file = isolated_requests("hang", 50, "hang", 0, NULL);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "f.out") == 99 && cli_count_queue(lines, "e.out") == 100,
              "expected 99 answers on f.out and 100 on e.out");
    CLI_CHECK(&o, dead_letter(lines, "poison: kernel process killed by SIGKILL"),
              "expected the hanging message dead-lettered as poison (killed by SIGKILL)");
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.stalled kernel=f") == 2 &&
                  strstr(o.r.err, "action=\"kill (its process)\""),
              "expected two stalls, each killing the process");
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

static void test_isolated_kernel_past_restart_max_is_given_up_while_the_host_answers(
    void **state)
{
    (void)state;
    const char *m = manifest("isomax", ", \"batch\": 1,\n \"isolation\": \"process\", "
                                       "\"restart\": {\"max\": 1, \"backoff_ms\": 10}");
    const char *file = isolated_requests("isomax", 10, "crash", 0, NULL);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "f.out") == 9 && cli_count_queue(lines, "e.out") == 100,
              "expected 9 answers on f.out (before the crash) and 100 on e.out, got %zu, %zu",
              cli_count_queue(lines, "f.out"), cli_count_queue(lines, "e.out"));
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.given_up kernel=f") == 1,
              "expected f given up");
    CLI_CHECK(&o, strstr(o.r.err, "accounting: queue f.in: accepted 100 = delivered 9 + "
                                  "dead-lettered 1 + dropped 0 + queued 90: balanced"),
              "expected f.in: 9 delivered, the poison dead-lettered, 90 queued");
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

static void test_isolation_of_a_run_kernel_is_refused_at_launch(void **state)
{
    (void)state;
    const char *m = cli_manifest("isorun",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"kernels\": [{\"name\": \"l\", \"plugin\": \"echo_loop\", "
        "\"isolation\": \"process\"}]}\n");
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", cli_write("empty.jsonl", ""), NULL);
    CLI_CHECK(&o, o.r.exit_code != 0 && strstr(o.r.err, "kernels[0].isolation") &&
                  strstr(o.r.err, "run() kernel"),
              "expected the launch refused at kernels[0].isolation (a run() kernel)");
    cli_free(&o);
}

static void test_isolation_with_an_unshared_input_queue_is_refused_at_launch(void **state)
{
    (void)state;
    const char *m = cli_manifest("isoshared", cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@, \"%s\"],\n"
        " \"queues\": {\"f.in\": {\"type\": \"echo.message\", \"shared\": false}},\n"
        " \"kernels\": [{\"name\": \"f\", \"plugin\": \"faulty\", \"inputs\": {\"in\": \"f.in\"},\n"
        "               \"isolation\": \"process\"}]}\n", TEST_PLUGINS));
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", cli_write("empty2.jsonl", ""), NULL);
    CLI_CHECK(&o, o.r.exit_code != 0 && strstr(o.r.err, "kernels[0].isolation: queue f.in is "
                                                        "not shared"),
              "expected the launch refused: f.in is not shared");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stalled_kernel_is_reported_restarted_and_every_message_answered),
        cmocka_unit_test(test_kernel_failing_every_batch_is_given_up_while_the_host_answers),
        cmocka_unit_test(
            test_isolated_kernel_crashing_on_a_poison_message_dead_letters_it_and_runs_on),
        cmocka_unit_test(test_isolated_kernel_crash_that_a_retry_survives_is_answered),
        cmocka_unit_test(test_hung_kernel_process_is_killed_by_the_watchdog_and_restarted),
        cmocka_unit_test(
            test_isolated_kernel_past_restart_max_is_given_up_while_the_host_answers),
        cmocka_unit_test(test_isolation_of_a_run_kernel_is_refused_at_launch),
        cmocka_unit_test(test_isolation_with_an_unshared_input_queue_is_refused_at_launch),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
