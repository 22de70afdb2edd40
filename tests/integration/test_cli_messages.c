/*
 * test_cli_messages.c — `ringhost send` and `recv` against a serving host,
 * with the messages a user gets wrong: a message missing a required field
 * is refused (exit 2, naming the field) rather than sent as zeros; a
 * command with one bad message sends none of them; a queue that does not
 * exist is answered with the queues there are.
 */
#include <signal.h>
#include <string.h>

#include "cli_common.h"

static const char *manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"v.in\": {\"type\": \"vector_add.request\"},\n"
    "            \"v.out\": {\"type\": \"vector_add.response\"}},\n"
    " \"kernels\": [{\"name\": \"v\", \"plugin\": \"vector_add\", \"inputs\": {\"requests\": \"v.in\"},\n"
    "               \"outputs\": {\"responses\": \"v.out\"}}]}\n";

static struct {
    proc host;
    const char *instance;
} M;

static int setup(void **state)
{
    (void)state;
    M.instance = cli_instance("msgs");
    const char *m = cli_manifest("msgs", manifest_text);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    if (proc_start(&M.host, argv) != 0)
        return -1;
    return cli_host_logged_within(&M.host, CLI_SERVING, 1, CLI_READY_WITHIN_S);
}

static int teardown(void **state)
{
    (void)state;
    proc_signal(&M.host, SIGTERM);
    proc_result r;
    proc_wait(&M.host, 10.0, &r);
    proc_result_free(&r);
    return cli_group_teardown(state);
}

/* How many messages v.in has taken in so far (enqueued). */
static long long sent_to_v_in(void)
{
    return cli_queue_counter(M.instance, "v.in", "enqueued");
}

static void test_a_message_missing_a_required_field_exits_2_naming_it(void **state)
{
    (void)state;
    long long before = sent_to_v_in();
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", M.instance, "v.in", "{}", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "argument 1: op: missing (vector_add.request requires op, a, "
                                  "b) (type vector_add.request)"),
              "expected stderr to name the missing field op");
    CLI_CHECK(&o, o.r.out[0] == '\0', "expected no id printed (nothing sent)");
    cli_free(&o);
    cli_exec(&o, NULL, "send", "--instance", M.instance, "v.in", "{\"op\": \"add\", \"a\": [1]}",
             NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "argument 1: b: missing"), "expected the missing b named");
    cli_free(&o);
    assert_int_equal(sent_to_v_in(), before);
}

static void test_one_bad_message_of_several_sends_none_and_all_bad_ones_are_named(void **state)
{
    (void)state;
    long long before = sent_to_v_in();
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", M.instance, "v.in",
             "{\"op\": \"add\", \"a\": [1], \"b\": [2]}", "{\"op\": \"add\", \"b\": [2]}",
             "{\"op\": \"pow\", \"a\": [1], \"b\": [2]}", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "argument 2: a: missing") &&
                  strstr(o.r.err, "argument 3: op: expected one of") &&
                  strstr(o.r.err, "2 bad message(s); nothing sent"),
              "expected both bad arguments named and nothing sent");
    CLI_CHECK(&o, !strstr(o.r.err, "argument 1:"), "expected the good argument not reported");
    CLI_CHECK(&o, o.r.out[0] == '\0', "expected no id printed");
    cli_free(&o);
    assert_int_equal(sent_to_v_in(), before);
    /* the same good message alone is sent and answered */
    cli_exec(&o, NULL, "send", "--instance", M.instance, "v.in",
             "{\"op\": \"add\", \"a\": [1], \"b\": [2]}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    assert_int_equal(sent_to_v_in(), before + 1);
    cli_exec(&o, NULL, "recv", "--instance", M.instance, "v.out", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    float want[] = {3};
    cli_check_vadd_result(&o, json_array_get(lines, 0), want, 1);
    json_decref(lines);
    cli_free(&o);
}

static void test_an_unknown_queue_lists_the_queues_there_are(void **state)
{
    (void)state;
    const char *verbs[] = {"send", "recv"};
    for (size_t i = 0; i < 2; i++) {
        cli_out o;
        if (i == 0)
            cli_exec(&o, NULL, "send", "--instance", M.instance, "v.inn", "{}", NULL);
        else
            cli_exec(&o, NULL, "recv", "--instance", M.instance, "v.inn", "--timeout", "1", NULL);
        cli_expect_exit(&o, 2);
        const char *want = cli_keep("ringhost %s: the queues of instance \"%s\" are: v.dlq, "
                                    "v.in, v.out", verbs[i], M.instance);
        CLI_CHECK(&o, strstr(o.r.err, want), "expected \"%s\"", want);
        cli_free(&o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_message_missing_a_required_field_exits_2_naming_it),
        cmocka_unit_test(test_one_bad_message_of_several_sends_none_and_all_bad_ones_are_named),
        cmocka_unit_test(test_an_unknown_queue_lists_the_queues_there_are),
    };
    return cmocka_run_group_tests_name("cli messages", tests, setup, teardown);
}
