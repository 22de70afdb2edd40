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
 *    accounting line balances (nothing lost).
 */
#include <string.h>

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

/* Every "accounting:" line on stderr balances, one per queue. */
static void expect_balanced(const cli_out *o, size_t queues)
{
    size_t lines = cli_count(o->r.err, "accounting: queue ");
    CLI_CHECK(o, lines == queues, "expected %zu accounting lines on stderr, got %zu", queues,
              lines);
    CLI_CHECK(o, cli_count(o->r.err, ": balanced") == queues && !strstr(o->r.err, "UNBALANCED"),
              "expected every accounting line to balance");
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
    expect_balanced(&o, 6); /* f.in f.out e.in e.out f.dlq e.dlq */
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
    expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stalled_kernel_is_reported_restarted_and_every_message_answered),
        cmocka_unit_test(test_kernel_failing_every_batch_is_given_up_while_the_host_answers),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
