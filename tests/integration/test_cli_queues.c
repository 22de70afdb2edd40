/*
 * test_cli_queues.c — named-queue behaviour seen from `ringhost run --send`:
 * the report's queue settings launch, the dedup window drops retried ids,
 * each backpressure policy accounts for every message it refused (a sent
 * message is answered, or counted as refused or dropped: never lost without
 * a trace), and a two-kernel pipeline moves messages kernel to kernel.
 */
#include <string.h>

#include "cli_common.h"

static void run_send(cli_out *o, const char *manifest, const char *requests)
{
    cli_exec(o, NULL, "run", manifest, "--send", requests, "--timeout", CLI_RUN_TIMEOUT, NULL);
}

/* ------------------------------------------------ report's settings ---- */

/* The report's queues: capacity 4096 with a 1024-id dedup window. */
static void test_capacity_4096_with_dedup_window_1024_launches_and_answers(void **state)
{
    (void)state;
    const char *m = cli_manifest("cap4096",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"vadd.in\": {\"type\": \"vector_add.request\", \"capacity\": 4096,\n"
        "                            \"dedup_window\": 1024},\n"
        "            \"vadd.out\": {\"type\": \"vector_add.response\", \"capacity\": 4096,\n"
        "                             \"dedup_window\": 1024}},\n"
        " \"kernels\": [{\"name\": \"vadd\", \"plugin\": \"vector_add\",\n"
        "               \"inputs\": {\"requests\": \"vadd.in\"},\n"
        "               \"outputs\": {\"responses\": \"vadd.out\"}}]}\n");
    static const float a[3] = {1, 2, 3}, b[3] = {1, 1, 1}, want[3] = {2, 3, 4};
    cli_str req = {0};
    cli_vadd_line(&req, "vadd.in", cli_id(1), "add", a, 3, b, 3);
    const char *file = cli_write("cap4096.jsonl", req.s);
    cli_str_free(&req);
    cli_out o;
    run_send(&o, m, file);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    json_t *resp = cli_find_correlated(lines, cli_id(1));
    CLI_CHECK(&o, json_array_size(lines) == 1 && resp,
              "expected exactly 1 response correlated to %s, got %zu lines", cli_id(1),
              json_array_size(lines));
    cli_check_vadd_result(&o, resp, want, 3);
    json_decref(lines);
    cli_free(&o);
}

/* ------------------------------------------------------------ dedup ---- */

/* Three sends of one id through the kernel's bridge ("thread": the pump
 * copies into the kernel's ring; "inline": the kernel reads the queue's
 * cells in place): one answer, two duplicates, and every accounting line
 * balanced (exit 0).  Before, the in-place path counted a refused message
 * both moved and dropped: "UNBALANCED, 1 message(s) counted twice", exit 1. */
static void expect_dedup_answers_once(const char *bridge)
{
    const char *tag = cli_keep("dedup-%s", bridge);
    const char *m = cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 64,\n"
        "                         \"dedup_window\": 16},\n"
        "            \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"bridge\": \"%s\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n",
        bridge));
    cli_str req = {0};
    for (int i = 0; i < 3; i++)
        cli_str_addf(&req, "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": %d, "
                     "\"text\": \"retry\"}}\n", cli_id(42), i + 1);
    const char *file = cli_write(cli_keep("%s.jsonl", tag), req.s);
    cli_str_free(&req);
    cli_out o;
    run_send(&o, m, file);
    cli_expect_exit(&o, 0);
    cli_expect_balanced(&o, 3); /* e.in, e.out and the dead-letter queue e.dlq */
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 1,
              "expected exactly 1 response to 3 sends of id %s (bridge %s), got %zu", cli_id(42),
              bridge, json_array_size(lines));
    CLI_CHECK(&o, cli_find_correlated(lines, cli_id(42)),
              "expected the response to be correlated to %s", cli_id(42));
    long long dups = cli_summary_get(&o, "queue", "e.in", "duplicates");
    CLI_CHECK(&o, dups == 2, "expected \"duplicates 2\" on e.in (bridge %s), got %lld", bridge,
              dups);
    json_decref(lines);
    cli_free(&o);
}

static void test_same_id_sent_3_times_is_answered_once_and_counted_as_2_duplicates(void **state)
{
    (void)state;
    expect_dedup_answers_once("thread");
}

static void test_same_id_sent_3_times_in_place_is_answered_once_and_balanced(void **state)
{
    (void)state;
    expect_dedup_answers_once("inline");
}

/* ----------------------------------------------------- backpressure ---- */

#define BP_SENT 40

/*
 * The slow kernel (20 ms per message, ring of 2, batch 1) behind an input
 * queue of 4 slots with `policy`, fed BP_SENT messages at once: most cannot
 * fit and the policy decides.  Returns the run; *lines gets its output.
 */
static void run_backpressure(cli_out *o, json_t **lines, const char *policy)
{
    const char *tag = cli_keep("bp-%s", policy);
    const char *m = cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"s.in\": {\"capacity\": 4, \"backpressure\": \"%s\",\n"
        "                         \"block_timeout_ms\": 5000},\n"
        "            \"s.out\": {\"capacity\": 4096}},\n"
        " \"kernels\": [{\"name\": \"slow\", \"plugin\": \"slow\", \"inputs\": {\"in\": \"s.in\"},\n"
        "               \"outputs\": {\"out\": \"s.out\"}, \"ring_capacity\": 2, \"batch\": 1,\n"
        "               \"config\": {\"delay_us\": 20000}}]}\n", policy));
    cli_str req = {0};
    for (int i = 1; i <= BP_SENT; i++)
        cli_str_addf(&req, "{\"queue\": \"s.in\", \"body\": {\"seq\": %d, \"text\": \"m%d\"}}\n",
                     i, i);
    const char *file = cli_write(cli_keep("%s.jsonl", tag), req.s);
    cli_str_free(&req);
    run_send(o, m, file);
    CLI_CHECK(o, o->r.term_signal == 0, "expected the host to exit, it was killed by signal %d",
              o->r.term_signal);
    *lines = cli_lines(o);
}

static int has_seq(json_t *lines, long long seq)
{
    size_t i;
    json_t *v;
    json_array_foreach (lines, i, v) {
        json_t *s = json_object_get(json_object_get(v, "body"), "seq");
        if (json_is_number(s) && (long long)json_number_value(s) == seq)
            return 1;
    }
    return 0;
}

static void test_reject_refuses_when_full_and_accounts_for_every_message(void **state)
{
    (void)state;
    cli_out o;
    json_t *lines;
    run_backpressure(&o, &lines, "reject");
    size_t answered = cli_count_queue(lines, "s.out");
    long long rejected = cli_summary_get(&o, "queue", "s.in", "rejected");
    CLI_CHECK(&o, rejected > 0, "expected \"rejected N\" with N > 0 on s.in, got %lld", rejected);
    CLI_CHECK(&o, cli_count(o.r.err, "refused") + cli_count(o.r.err, "rejected") > 0,
              "expected stderr to report the refused sends");
    CLI_CHECK(&o, (long long)answered + rejected == BP_SENT,
              "expected responses + rejected == %d sent, got %zu + %lld", BP_SENT, answered,
              rejected);
    json_decref(lines);
    cli_free(&o);
}

static void test_drop_newest_discards_when_full_and_accounts_for_every_message(void **state)
{
    (void)state;
    cli_out o;
    json_t *lines;
    run_backpressure(&o, &lines, "drop_newest");
    size_t answered = cli_count_queue(lines, "s.out");
    long long dropped = cli_summary_get(&o, "queue", "s.in", "dropped_newest");
    CLI_CHECK(&o, dropped > 0, "expected \"dropped_newest N\" with N > 0 on s.in, got %lld",
              dropped);
    CLI_CHECK(&o, (long long)answered + dropped == BP_SENT,
              "expected responses + dropped_newest == %d sent, got %zu + %lld", BP_SENT,
              answered, dropped);
    json_decref(lines);
    cli_free(&o);
}

static void test_drop_oldest_evicts_when_full_keeps_the_last_and_accounts_for_all(void **state)
{
    (void)state;
    cli_out o;
    json_t *lines;
    run_backpressure(&o, &lines, "drop_oldest");
    size_t answered = cli_count_queue(lines, "s.out");
    long long dropped = cli_summary_get(&o, "queue", "s.in", "dropped_oldest");
    CLI_CHECK(&o, dropped > 0, "expected \"dropped_oldest N\" with N > 0 on s.in, got %lld",
              dropped);
    CLI_CHECK(&o, (long long)answered + dropped == BP_SENT,
              "expected responses + dropped_oldest == %d sent, got %zu + %lld", BP_SENT,
              answered, dropped);
    CLI_CHECK(&o, has_seq(lines, BP_SENT),
              "expected the last message sent (seq %d) among the responses: drop_oldest keeps "
              "the newest", BP_SENT);
    json_decref(lines);
    cli_free(&o);
}

static void test_block_waits_for_room_and_answers_every_message(void **state)
{
    (void)state;
    cli_out o;
    json_t *lines;
    run_backpressure(&o, &lines, "block");
    cli_expect_exit(&o, 0);
    size_t answered = cli_count_queue(lines, "s.out");
    CLI_CHECK(&o, answered == BP_SENT, "expected all %d messages answered, got %zu", BP_SENT,
              answered);
    for (int i = 1; i <= BP_SENT; i++)
        CLI_CHECK(&o, has_seq(lines, i), "expected a response with seq %d", i);
    long long rejected = cli_summary_get(&o, "queue", "s.in", "rejected");
    CLI_CHECK(&o, rejected == 0, "expected \"rejected 0\" on s.in, got %lld", rejected);
    json_decref(lines);
    cli_free(&o);
}

/* --------------------------------------------------------- pipeline ---- */

static void test_shipped_pipeline_scales_by_2_then_sums_1234_to_20(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "run", RH_TEST_SOURCE_DIR "/manifests/pipeline.json", "--send",
             RH_TEST_SOURCE_DIR "/manifests/pipeline.requests.jsonl", "--plugins",
             RH_TEST_PLUGIN_DIR, "--instance", cli_instance("pipeline"), "--timeout",
             CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    /* the file sends (1, 2, 3, 4) twice */
    CLI_CHECK(&o, json_array_size(lines) == 2 && cli_count_queue(lines, "pipe.out") == 2,
              "expected 2 results on pipe.out (and nothing else), got %zu lines",
              json_array_size(lines));
    size_t i;
    json_t *line;
    json_array_foreach (lines, i, line) {
        json_t *body = json_object_get(line, "body");
        double sum = cli_num(&o, body, "sum"), count = cli_num(&o, body, "count");
        CLI_CHECK(&o, sum > 20 - 1e-6 && sum < 20 + 1e-6,
                  "expected (1, 2, 3, 4) * 2 summed = 20, got %g", sum);
        CLI_CHECK(&o, count == 4, "expected count 4, got %g", count);
    }
    json_decref(lines);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_4096_with_dedup_window_1024_launches_and_answers),
        cmocka_unit_test(test_same_id_sent_3_times_is_answered_once_and_counted_as_2_duplicates),
        cmocka_unit_test(test_same_id_sent_3_times_in_place_is_answered_once_and_balanced),
        cmocka_unit_test(test_reject_refuses_when_full_and_accounts_for_every_message),
        cmocka_unit_test(test_drop_newest_discards_when_full_and_accounts_for_every_message),
        cmocka_unit_test(test_drop_oldest_evicts_when_full_keeps_the_last_and_accounts_for_all),
        cmocka_unit_test(test_block_waits_for_room_and_answers_every_message),
        cmocka_unit_test(test_shipped_pipeline_scales_by_2_then_sums_1234_to_20),
    };
    return cmocka_run_group_tests_name("cli queues", tests, NULL, cli_group_teardown);
}
