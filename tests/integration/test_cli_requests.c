/*
 * test_cli_requests.c — `run --send FILE` checks the whole file before it
 * sends anything: a bad line is bad input (exit 2) reported as FILE:LINE on
 * stderr, every bad line is reported, and nothing of the file is sent.
 */
#include <string.h>

#include "cli_common.h"

static const char *echo_manifest(const char *tag)
{
    return cli_manifest(tag,
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
        "            \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}}]}\n");
}

/* Lines 1 and 3 are good (ids 1 and 3); line 2 is `bad`.  Expect exit 2,
 * "FILE:2" on stderr, and nothing sent: no line answered. */
static void bad_line_case(const char *tag, const char *bad)
{
    const char *file = cli_write(cli_keep("%s.jsonl", tag), cli_keep(
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 1, \"text\": \"one\"}}\n"
        "%s\n"
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 3, \"text\": \"three\"}}\n",
        cli_id(1), bad, cli_id(3)));
    cli_out o;
    cli_exec(&o, NULL, "run", echo_manifest(tag), "--send", file, "--timeout", CLI_RUN_TIMEOUT,
             NULL);
    cli_expect_exit(&o, 2);
    const char *where = cli_keep("%s:2", file);
    CLI_CHECK(&o, strstr(o.r.err, where), "expected stderr to name the bad line as %s", where);
    CLI_CHECK(&o, !strstr(o.r.err, cli_keep("%s:1:", file)) &&
                  !strstr(o.r.err, cli_keep("%s:3:", file)),
              "expected only line 2 reported as bad");
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 0, "expected nothing sent (so nothing answered), "
              "got %zu responses", json_array_size(lines));
    json_decref(lines);
    CLI_CHECK(&o, strstr(o.r.err, "1 bad line(s); nothing sent") &&
                  strstr(o.r.err, "sent 0 message(s)"),
              "expected stderr to say nothing was sent");
    cli_free(&o);
}

static void test_line_for_an_unknown_queue_exits_2_with_file_line_nothing_sent(void **state)
{
    (void)state;
    bad_line_case("unknown-queue",
                  "{\"queue\": \"no.such.queue\", \"body\": {\"seq\": 2, \"text\": \"two\"}}");
}

static void test_line_missing_a_required_field_exits_2_naming_it_nothing_sent(void **state)
{
    (void)state;
    bad_line_case("missing-field", "{\"queue\": \"e.in\", \"body\": {\"text\": \"two\"}}");
}

/* Every bad line is reported with its number and reason, the unknown queue
 * with the queues there are; the good lines between them are not sent. */
static void test_every_bad_line_is_reported_and_nothing_is_sent(void **state)
{
    (void)state;
    const char *file = cli_write("many.jsonl", cli_keep(
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 1}}\n"
        "{\"queue\": \"e.in\", \"body\": {}}\n"
        "# a comment\n"
        "\n"
        "{\"queue\": \"e.nope\", \"body\": {\"seq\": 5}}\n"
        "{\"queue\": \"e.in\", \"body\": {\"seq\": -1}}\n"
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 7}}\n",
        cli_id(1), cli_id(7)));
    cli_out o;
    cli_exec(&o, NULL, "run", echo_manifest("many"), "--send", file, "--timeout", CLI_RUN_TIMEOUT,
             NULL);
    cli_expect_exit(&o, 2);
    const char *want[] = {
        cli_keep("%s:2: body: seq: missing (echo.message requires seq) (type echo.message)",
                 file),
        cli_keep("%s:5: queue: expected a queue of this host (e.in, e.out, e.dlq), got \"e.nope\"",
                 file),
        cli_keep("%s:6: body: seq: expected an integer in 0..18446744073709551615", file),
        "3 bad line(s); nothing sent",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CLI_CHECK(&o, strstr(o.r.err, want[i]), "expected stderr to say \"%s\"", want[i]);
    CLI_CHECK(&o, !strstr(o.r.err, cli_keep("%s:1:", file)) &&
                  !strstr(o.r.err, cli_keep("%s:7:", file)),
              "expected the good lines not reported");
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 0, "expected nothing sent, got %zu responses",
              json_array_size(lines));
    json_decref(lines);
    cli_free(&o);
}

/* A good file is still sent whole: every line answered. */
static void test_a_good_file_is_sent_and_answered(void **state)
{
    (void)state;
    const char *file = cli_write("good.jsonl", cli_keep(
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 1}}\n"
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 2, \"text\": \"b\"}}\n",
        cli_id(1), cli_id(2)));
    cli_out o;
    cli_exec(&o, NULL, "run", echo_manifest("good"), "--send", file, "--timeout", CLI_RUN_TIMEOUT,
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 2 && cli_find_correlated(lines, cli_id(1)) &&
                  cli_find_correlated(lines, cli_id(2)),
              "expected both lines answered, got %zu responses", json_array_size(lines));
    json_decref(lines);
    cli_free(&o);
}

static void test_body_not_matching_the_type_exits_2_with_file_line_nothing_sent(void **state)
{
    (void)state;
    bad_line_case("bad-body", "{\"queue\": \"e.in\", \"body\": {\"seq\": 2, \"text\": 42}}");
}

static void test_text_longer_than_its_max_exits_2_with_file_line_nothing_sent(void **state)
{
    (void)state;
    char text[101];
    memset(text, 'x', 100);
    text[100] = 0;
    bad_line_case("too-long", cli_keep("{\"queue\": \"e.in\", \"body\": {\"seq\": 2, "
                                       "\"text\": \"%s\"}}", text));
}

static void test_line_that_is_not_json_exits_2_with_file_line_nothing_sent(void **state)
{
    (void)state;
    bad_line_case("not-json", "{\"queue\": \"e.in\", \"body\": ");
}

static void test_line_with_a_malformed_id_exits_2_with_file_line_nothing_sent(void **state)
{
    (void)state;
    bad_line_case("bad-id", "{\"queue\": \"e.in\", \"id\": \"not-a-uuid\", \"body\": {\"seq\": 2}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_for_an_unknown_queue_exits_2_with_file_line_nothing_sent),
        cmocka_unit_test(test_body_not_matching_the_type_exits_2_with_file_line_nothing_sent),
        cmocka_unit_test(test_text_longer_than_its_max_exits_2_with_file_line_nothing_sent),
        cmocka_unit_test(test_line_that_is_not_json_exits_2_with_file_line_nothing_sent),
        cmocka_unit_test(test_line_with_a_malformed_id_exits_2_with_file_line_nothing_sent),
        cmocka_unit_test(test_line_missing_a_required_field_exits_2_naming_it_nothing_sent),
        cmocka_unit_test(test_every_bad_line_is_reported_and_nothing_is_sent),
        cmocka_unit_test(test_a_good_file_is_sent_and_answered),
    };
    return cmocka_run_group_tests_name("cli requests", tests, NULL, cli_group_teardown);
}
