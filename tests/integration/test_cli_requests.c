/*
 * test_cli_requests.c — a bad line in a `run --send` request file is bad
 * input (exit 2) reported as FILE:LINE on stderr, and it costs only itself:
 * every other line is still sent and answered.
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
 * "FILE:2" on stderr, and both good lines answered. */
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
    CLI_CHECK(&o, json_array_size(lines) == 2, "expected the 2 good lines answered, got %zu "
              "responses", json_array_size(lines));
    CLI_CHECK(&o, cli_find_correlated(lines, cli_id(1)) && cli_find_correlated(lines, cli_id(3)),
              "expected responses correlated to lines 1 (%s) and 3 (%s)", cli_id(1), cli_id(3));
    json_decref(lines);
    cli_free(&o);
}

static void test_line_for_an_unknown_queue_exits_2_with_file_line_others_answered(void **state)
{
    (void)state;
    bad_line_case("unknown-queue",
                  "{\"queue\": \"no.such.queue\", \"body\": {\"seq\": 2, \"text\": \"two\"}}");
}

static void test_body_not_matching_the_type_exits_2_with_file_line_others_answered(void **state)
{
    (void)state;
    bad_line_case("bad-body", "{\"queue\": \"e.in\", \"body\": {\"seq\": 2, \"text\": 42}}");
}

static void test_text_longer_than_its_max_exits_2_with_file_line_others_answered(void **state)
{
    (void)state;
    char text[101];
    memset(text, 'x', 100);
    text[100] = 0;
    bad_line_case("too-long", cli_keep("{\"queue\": \"e.in\", \"body\": {\"seq\": 2, "
                                       "\"text\": \"%s\"}}", text));
}

static void test_line_that_is_not_json_exits_2_with_file_line_others_answered(void **state)
{
    (void)state;
    bad_line_case("not-json", "{\"queue\": \"e.in\", \"body\": ");
}

static void test_line_with_a_malformed_id_exits_2_with_file_line_others_answered(void **state)
{
    (void)state;
    bad_line_case("bad-id", "{\"queue\": \"e.in\", \"id\": \"not-a-uuid\", \"body\": {\"seq\": 2}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_for_an_unknown_queue_exits_2_with_file_line_others_answered),
        cmocka_unit_test(test_body_not_matching_the_type_exits_2_with_file_line_others_answered),
        cmocka_unit_test(test_text_longer_than_its_max_exits_2_with_file_line_others_answered),
        cmocka_unit_test(test_line_that_is_not_json_exits_2_with_file_line_others_answered),
        cmocka_unit_test(test_line_with_a_malformed_id_exits_2_with_file_line_others_answered),
    };
    return cmocka_run_group_tests_name("cli requests", tests, NULL, cli_group_teardown);
}
