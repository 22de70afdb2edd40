/*
 * test_cli_peek.c — browse a queue without consuming, and dead letters by
 * reason, through the real binary and a serving host.
 *
 * The `failing` test kernel serves f.in (ttl_ms 100): "fail:..." messages
 * are dead-lettered as failed, and messages sent while it is deactivated
 * wait past the ttl and are dead-lettered as expired when it is activated
 * again.  f.dlq then holds [failed, expired, expired, failed], and f.out
 * (read by nobody) the answers.  `recv --peek` shows them and takes none
 * (the counters do not move, a later recv gets every one); `--reason`
 * shows or takes only dead letters of that stage, and a recv by reason
 * stops at one of another reason, which stays queued.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

#define TEST_PLUGINS RH_TEST_BUILD_DIR "/test_plugins"
#define WITHIN_S 30.0

static struct {
    proc host;
    const char *instance;
} H;

static void send_echo(unsigned seq, const char *text)
{
    cli_out o;
    char body[128];
    snprintf(body, sizeof body, "{\"seq\": %u, \"text\": \"%s\"}", seq, text);
    cli_exec(&o, NULL, "send", "--instance", H.instance, "--id", cli_id(seq), "f.in", body, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void kernel_verb(const char *verb)
{
    cli_out o;
    cli_exec(&o, NULL, verb, "f", "--instance", H.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static int setup(void **state)
{
    (void)state;
    H.instance = cli_instance("peek");
    const char *m = cli_manifest("peek", cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@, \"%s\"],\n"
        " \"queues\": {\"f.in\": {\"type\": \"echo.message\", \"ttl_ms\": 100},\n"
        "            \"f.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"f\", \"plugin\": \"failing\",\n"
        "               \"inputs\": {\"in\": \"f.in\"},\n"
        "               \"outputs\": {\"out\": \"f.out\"}}]}\n", TEST_PLUGINS));
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    if (proc_start(&H.host, argv) != 0 ||
        cli_host_logged_within(&H.host, CLI_SERVING, 1, WITHIN_S) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (H.host.pid) {
        proc_signal(&H.host, SIGTERM);
        proc_result r;
        proc_wait(&H.host, 20, &r);
        proc_result_free(&r);
    }
    return cli_group_teardown(state);
}

static const char *stage_of(json_t *line)
{
    const char *s = json_string_value(json_object_get(json_object_get(line, "body"), "stage"));
    return s ? s : "";
}

static const char *id_of(json_t *line)
{
    const char *s = json_string_value(json_object_get(line, "id"));
    return s ? s : "";
}

/* The i-th line's id is cli_id(n). */
static int id_is(json_t *lines, size_t i, unsigned n)
{
    return !strcmp(id_of(json_array_get(lines, i)), cli_id(n));
}

/* stdout of `ringhost recv ARGS...` as JSON lines (exit 0 expected). */
static json_t *recv_lines(cli_out *o, const char *const *args)
{
    cli_exec_argv(o, NULL, args);
    cli_expect_exit(o, 0);
    return cli_lines(o);
}

static void test_peek_shows_waiting_messages_and_takes_none(void **state)
{
    (void)state;
    send_echo(1, "one");
    send_echo(2, "two");
    send_echo(3, "three");
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(H.instance, "f.out", "depth") == 3,
                  "expected the 3 answers waiting in f.out");
    cli_out o;
    const char *peek[] = {"recv", "--instance", H.instance, "f.out", "--peek", NULL};
    json_t *lines = recv_lines(&o, peek);
    CLI_CHECK(&o, json_array_size(lines) == 3, "expected --peek to show the 3 answers");
    for (unsigned i = 0; i < 3; i++) {
        const char *corr = json_string_value(json_object_get(json_array_get(lines, i),
                                                             "correlation_id"));
        CLI_CHECK(&o, corr && !strcmp(corr, cli_id(i + 1)),
                  "expected answer %u to be to %s, oldest first", i, cli_id(i + 1));
    }
    CLI_CHECK(&o, strstr(o.r.err, "3 message(s) shown, left in the queue"),
              "expected --peek to say what it showed");
    json_decref(lines);
    cli_free(&o);
    /* nothing taken: the consumers' side did not move */
    assert_int_equal(cli_queue_counter(H.instance, "f.out", "depth"), 3);
    assert_int_equal(cli_queue_counter(H.instance, "f.out", "dequeued"), 0);
    const char *peek2[] = {"recv", "--instance", H.instance, "f.out", "--peek", "-n", "2", NULL};
    lines = recv_lines(&o, peek2);
    CLI_CHECK(&o, json_array_size(lines) == 2, "expected --peek -n 2 to show 2");
    json_decref(lines);
    cli_free(&o);
    /* a consumer still gets every one, in order */
    const char *take[] = {"recv", "--instance", H.instance, "f.out", "-n", "3", NULL};
    lines = recv_lines(&o, take);
    CLI_CHECK(&o, json_array_size(lines) == 3, "expected recv to take the 3 answers peeked at");
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(H.instance, "f.out", "dequeued"), 3);
    lines = recv_lines(&o, peek);
    CLI_CHECK(&o, json_array_size(lines) == 0, "expected an empty queue to peek as nothing");
    json_decref(lines);
    cli_free(&o);
}

/* f.dlq: [failed 11, expired 12, expired 13, failed 14]. */
static void make_dead_letters(void)
{
    send_echo(11, "fail:first");
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(H.instance, "f.dlq", "depth") == 1,
                  "expected the failed message in f.dlq");
    kernel_verb("deactivate");
    send_echo(12, "late");
    send_echo(13, "later");
    /* the behaviour under test: both wait in f.in past its ttl_ms 100 */
    sleep_ms(300);
    kernel_verb("activate");
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(H.instance, "f.dlq", "depth") == 3,
                  "expected the two expired messages in f.dlq");
    send_echo(14, "fail:second");
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(H.instance, "f.dlq", "depth") == 4,
                  "expected the second failed message in f.dlq");
}

static void test_dead_letters_by_reason(void **state)
{
    (void)state;
    make_dead_letters();
    cli_out o;
    const char *all[] = {"recv", "--instance", H.instance, "f.dlq", "--peek", NULL};
    json_t *lines = recv_lines(&o, all);
    CLI_CHECK(&o, json_array_size(lines) == 4 &&
                      !strcmp(stage_of(json_array_get(lines, 0)), "failed") &&
                      !strcmp(stage_of(json_array_get(lines, 1)), "expired") &&
                      !strcmp(stage_of(json_array_get(lines, 2)), "expired") &&
                      !strcmp(stage_of(json_array_get(lines, 3)), "failed"),
              "expected f.dlq to peek as failed, expired, expired, failed");
    json_decref(lines);
    cli_free(&o);

    const char *exp[] = {"recv", "--instance", H.instance, "f.dlq", "--peek", "--reason",
                         "expired", NULL};
    lines = recv_lines(&o, exp);
    CLI_CHECK(&o, json_array_size(lines) == 2 && id_is(lines, 0, 12) &&
                      id_is(lines, 1, 13),
              "expected --peek --reason expired to show 12 and 13 only");
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(H.instance, "f.dlq", "dequeued"), 0);

    /* taking by reason: from the head while it matches */
    const char *tf[] = {"recv", "--instance", H.instance, "f.dlq", "--reason", "failed",
                        "--timeout", "0.2", NULL};
    lines = recv_lines(&o, tf);
    CLI_CHECK(&o, json_array_size(lines) == 1 && id_is(lines, 0, 11),
              "expected recv --reason failed to take 11 and stop at the expired one");
    CLI_CHECK(&o, strstr(o.r.err, "stopped at a dead letter of reason expired (left in the queue)"),
              "expected recv to say where it stopped");
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(H.instance, "f.dlq", "depth"), 3);

    const char *te[] = {"recv", "--instance", H.instance, "f.dlq", "--reason", "expired",
                        "--timeout", "0.2", NULL};
    lines = recv_lines(&o, te);
    CLI_CHECK(&o, json_array_size(lines) == 2, "expected recv --reason expired to take 12, 13");
    json_decref(lines);
    cli_free(&o);

    /* an -n that the head's reason cannot satisfy: exit 1, nothing taken */
    cli_exec(&o, NULL, "recv", "--instance", H.instance, "f.dlq", "--reason", "expired", "-n",
             "1", "--timeout", "0.2", NULL);
    cli_expect_exit(&o, 1);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(H.instance, "f.dlq", "depth"), 1);

    const char *rest[] = {"recv", "--instance", H.instance, "f.dlq", "--timeout", "0.2", NULL};
    lines = recv_lines(&o, rest);
    CLI_CHECK(&o, json_array_size(lines) == 1 && id_is(lines, 0, 14),
              "expected the last dead letter, 14, still there");
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(H.instance, "f.dlq", "dequeued"), 4);
}

static void test_reason_usage_errors(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", H.instance, "f.dlq", "--reason", "bogus", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "expected one of invalid, expired, failed, undeliverable"),
              "expected the stages listed");
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", H.instance, "f.out", "--reason", "failed", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "queue f.out is not a dead-letter queue"),
              "expected --reason refused on an ordinary queue");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peek_shows_waiting_messages_and_takes_none),
        cmocka_unit_test(test_dead_letters_by_reason),
        cmocka_unit_test(test_reason_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
