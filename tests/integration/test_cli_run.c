/*
 * test_cli_run.c — the life of one `ringhost run --send` invocation: it ends
 * as soon as everything sent is answered, with exit 0, every time; and when
 * --timeout does run out it says so, exits 1 and still prints the summary.
 */
#include <string.h>

#include "cli_common.h"

static const char *echo_manifest(const char *tag, const char *kernel_plugin,
                                 const char *config)
{
    return cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {}, \"e.out\": {}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"%s\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}, \"config\": %s}]}\n",
        kernel_plugin, config));
}

#define QUICK_RUNS 200

/*
 * A host answers two messages in milliseconds; the run must then end with
 * exit 0.  Repeated because the failure this guards against was a race: the
 * CLI decided "idle" to stop waiting, then asked again and reported "timed
 * out after S s" (exit 1) without having waited at all.
 */
static void test_quick_runs_each_exit_0_and_never_claim_a_timeout(void **state)
{
    (void)state;
    const char *m = echo_manifest("quick", "echo", "{}");
    const char *req = cli_write("quick.jsonl",
        "{\"queue\": \"e.in\", \"body\": {\"seq\": 1, \"text\": \"a\"}}\n"
        "{\"queue\": \"e.in\", \"body\": {\"seq\": 2, \"text\": \"b\"}}\n");
    for (int i = 0; i < QUICK_RUNS; i++) {
        cli_out o;
        cli_exec(&o, NULL, "run", m, "--send", req, "--timeout", CLI_RUN_TIMEOUT, NULL);
        CLI_CHECK(&o, !strstr(o.r.err, "timed out"),
                  "run %d of %d: expected no timeout for 2 echo messages (answered in "
                  "milliseconds), the run took %.3f s", i + 1, QUICK_RUNS, o.r.wall_s);
        cli_expect_exit(&o, 0);
        CLI_CHECK(&o, cli_count(o.r.out, "\"queue\": \"e.out\"") == 2,
                  "run %d of %d: expected 2 replies", i + 1, QUICK_RUNS);
        cli_free(&o);
    }
}

static void test_run_past_its_timeout_exits_1_says_so_and_prints_the_summary(void **state)
{
    (void)state;
    /* one message that the slow kernel holds for 2 s, against --timeout 0.3 */
    const char *m = echo_manifest("overtime", "slow", "{\"delay_us\": 2000000}");
    const char *req = cli_write("overtime.jsonl",
        "{\"queue\": \"e.in\", \"body\": {\"seq\": 1, \"text\": \"late\"}}\n");
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", req, "--timeout", "0.3", NULL);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.err, "timed out"), "expected stderr to say the run timed out");
    CLI_CHECK(&o, strstr(o.r.err, "summary: queue e.in:"),
              "expected the summary (with queue e.in) on stderr after the timeout");
    cli_free(&o);
}

/*
 * Every queue no kernel reads is printed, however many there are: 70 echo
 * kernels give 140 such queues (70 outputs, then 70 dead-letter queues),
 * more than one futex wait can watch, and the last kernel's answer must
 * still appear.
 */
#define MANY_KERNELS 70

static void test_outputs_of_more_than_64_sink_queues_are_all_printed(void **state)
{
    (void)state;
    cli_str m = {0}, req = {0};
    cli_str_addf(&m, "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
                     " \"kernels\": [");
    for (int i = 0; i < MANY_KERNELS; i++) {
        cli_str_addf(&m, "%s{\"name\": \"e%d\", \"plugin\": \"echo\", \"bridge\": \"inline\","
                         " \"pin\": {\"dispatch\": \"pu:0\"}}", i ? ",\n  " : "", i);
        cli_str_addf(&req, "{\"queue\": \"e%d.in\", \"body\": {\"seq\": %d}}\n", i, i);
    }
    cli_str_addf(&m, "]}\n");
    const char *manifest = cli_manifest("many", m.s);
    const char *requests = cli_write("many.jsonl", req.s);
    cli_out o;
    cli_exec(&o, NULL, "run", manifest, "--send", requests, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    for (int i = 0; i < MANY_KERNELS; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"queue\": \"e%d.out\"", i);
        CLI_CHECK(&o, cli_count(o.r.out, want) == 1,
                  "expected one answer printed from e%d.out (output queue %d of %d)", i,
                  i + 1, MANY_KERNELS);
    }
    cli_free(&o);
    cli_str_free(&m);
    cli_str_free(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_runs_each_exit_0_and_never_claim_a_timeout),
        cmocka_unit_test(test_run_past_its_timeout_exits_1_says_so_and_prints_the_summary),
        cmocka_unit_test(test_outputs_of_more_than_64_sink_queues_are_all_printed),
    };
    return cmocka_run_group_tests_name("cli run", tests, NULL, cli_group_teardown);
}
