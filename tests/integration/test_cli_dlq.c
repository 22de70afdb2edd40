/*
 * test_cli_dlq.c — dead letters and the accounting lines, through the real
 * binary.
 *
 * `run --send` prints a dead letter like any other output (the dead-letter
 * queue is a queue no kernel reads): a kernel-failed message and expired
 * messages each show up with the reason, the original id and the original
 * payload as JSON, and the accounting lines on stderr balance.  A serving
 * host dead-letters an invalid message sent by a raw client (the CLI would
 * refuse to encode it), `ringhost recv <kernel>.dlq` in another process
 * shows it, and SIGTERM prints the balanced accounting and exits 0.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli_common.h"
#include "ringhost/ringhost.h"

#define TEST_PLUGINS RH_TEST_BUILD_DIR "/test_plugins"

/* The first stdout line of queue qname whose "id" is id, or NULL. */
static json_t *line_with_id(json_t *lines, const char *qname, const char *id)
{
    size_t i;
    json_t *l;
    json_array_foreach (lines, i, l) {
        const char *q = json_string_value(json_object_get(l, "queue"));
        const char *lid = json_string_value(json_object_get(l, "id"));
        if (q && lid && !strcmp(q, qname) && !strcasecmp(lid, id))
            return l;
    }
    return NULL;
}

static const char *body_text(json_t *line, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(line, "body"), key));
    return s ? s : "";
}

/* ------------------------------------------------------------ --send ---- */

static void test_a_kernel_failed_message_is_printed_as_a_dead_letter(void **state)
{
    (void)state;
    const char *m = cli_manifest("failed", cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@, \"%s\"],\n"
        " \"queues\": {\"f.in\": {\"type\": \"echo.message\"},\n"
        "            \"f.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"f\", \"plugin\": \"failing\", \"inputs\": {\"in\": \"f.in\"},\n"
        "               \"outputs\": {\"out\": \"f.out\"}}]}\n", TEST_PLUGINS));
    const char *file = cli_write("failed.jsonl", cli_keep(
        "{\"queue\": \"f.in\", \"id\": \"%s\", \"body\": {\"seq\": 1, \"text\": \"fine\"}}\n"
        "{\"queue\": \"f.in\", \"id\": \"%s\", \"body\": {\"seq\": 2, \"text\": "
        "\"fail:no such customer\"}}\n", cli_id(1), cli_id(2)));
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_find_correlated(lines, cli_id(1)), "expected the answer to %s", cli_id(1));
    json_t *dl = line_with_id(lines, "f.dlq", cli_id(2));
    CLI_CHECK(&o, dl, "expected a line of queue f.dlq with the failed message's id %s",
              cli_id(2));
    CLI_CHECK(&o, !strcmp(body_text(dl, "stage"), "failed"), "expected body.stage \"failed\"");
    CLI_CHECK(&o, !strcmp(body_text(dl, "reason"), "no such customer"),
              "expected the kernel's reason \"no such customer\", got \"%s\"",
              body_text(dl, "reason"));
    CLI_CHECK(&o, !strcmp(body_text(dl, "kernel"), "f") &&
                  !strcmp(body_text(dl, "source_queue"), "f.in") &&
                  !strcmp(body_text(dl, "type"), "echo.message"),
              "expected kernel f, source_queue f.in, type echo.message");
    json_t *payload = json_object_get(json_object_get(dl, "body"), "payload");
    const char *text = json_string_value(json_object_get(payload, "text"));
    CLI_CHECK(&o, text && !strcmp(text, "fail:no such customer") &&
                  cli_num(&o, payload, "seq") == 2,
              "expected the original payload decoded as echo.message");
    CLI_CHECK(&o, cli_count_queue(lines, NULL) == 2, "expected 2 lines: 1 answer, 1 dead letter");
    CLI_CHECK(&o, strstr(o.r.err, "accounting: queue f.in: accepted 2 = delivered 1 + "
                                  "dead-lettered 1 + dropped 0 + queued 0: balanced"),
              "expected the f.in accounting line");
    CLI_CHECK(&o, strstr(o.r.err, "accounting: queue f.dlq: accepted 1 = delivered 1"),
              "expected the dead letter accounted as delivered (printed)");
    cli_expect_balanced(&o, 3);
    long long dl_count = cli_summary_get(&o, "queue", "f.in", "dead_lettered");
    CLI_CHECK(&o, dl_count == 1, "expected f.in dead_lettered 1, got %lld", dl_count);
    json_decref(lines);
    cli_free(&o);
}

/* A slow kernel with a 2-slot ring: what cannot enter the ring waits in
 * its queue past ttl_ms, and the bridge dead-letters it as expired. */
static void test_expired_messages_are_printed_as_dead_letters(void **state)
{
    (void)state;
    const char *m = cli_manifest("expired",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"s.in\": {\"type\": \"echo.message\", \"ttl_ms\": 100},\n"
        "            \"s.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"s\", \"plugin\": \"slow\", \"batch\": 1, \"ring_capacity\": 2,\n"
        "               \"inputs\": {\"in\": \"s.in\"}, \"outputs\": {\"out\": \"s.out\"},\n"
        "               \"config\": {\"delay_us\": 200000}}]}\n");
    cli_str b = {0};
    for (unsigned i = 1; i <= 6; i++)
        cli_str_addf(&b, "{\"queue\": \"s.in\", \"id\": \"%s\", \"body\": {\"seq\": %u}}\n",
                     cli_id(100 + i), i);
    const char *file = cli_write("expired.jsonl", b.s);
    cli_str_free(&b);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    size_t answered = cli_count_queue(lines, "s.out"), dead = cli_count_queue(lines, "s.dlq");
    CLI_CHECK(&o, answered + dead == 6, "expected each of the 6 answered or dead-lettered, got "
              "%zu answers and %zu dead letters", answered, dead);
    /* messages 4..6 reach the ring 200 ms at the earliest: 100 ms too old */
    for (unsigned i = 4; i <= 6; i++) {
        json_t *dl = line_with_id(lines, "s.dlq", cli_id(100 + i));
        CLI_CHECK(&o, dl, "expected message %u (%s) dead-lettered", i, cli_id(100 + i));
        CLI_CHECK(&o, !strcmp(body_text(dl, "stage"), "expired") &&
                      strstr(body_text(dl, "reason"), "ttl_ms 100"),
                  "expected stage expired and the ttl in the reason, got \"%s\"",
                  body_text(dl, "reason"));
    }
    long long expired = cli_summary_get(&o, "queue", "s.in", "expired");
    CLI_CHECK(&o, expired == (long long)dead, "expected s.in expired %zu, got %lld", dead,
              expired);
    cli_expect_balanced(&o, 3);
    json_decref(lines);
    cli_free(&o);
}

/* ------------------------------------------------------- serve mode ---- */

static proc host; /* the serving host, killed by the teardown if a check failed */

static int kill_host(void **state)
{
    (void)state;
    if (host.pid) {
        proc_signal(&host, SIGKILL);
        proc_result r;
        proc_wait(&host, 10, &r);
        proc_result_free(&r);
    }
    return 0;
}

static void test_recv_shows_an_invalid_message_a_serving_host_dead_lettered(void **state)
{
    (void)state;
    const char *instance = cli_instance("serve");
    const char *m = cli_manifest("serve",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"vadd.in\": {\"type\": \"vector_add.request\"},\n"
        "            \"vadd.out\": {\"type\": \"vector_add.response\"}},\n"
        " \"kernels\": [{\"name\": \"vadd\", \"plugin\": \"vector_add\",\n"
        "               \"inputs\": {\"requests\": \"vadd.in\"},\n"
        "               \"outputs\": {\"responses\": \"vadd.out\"}}]}\n");
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    assert_int_equal(proc_start(&host, argv), 0);
    /* Not "vadd.in exists": the host creates vadd.dlq, which recv reads
     * below, after it.  Serving, it has created every queue. */
    cli_await_log(&host, CLI_SERVING, 1, 20);
    rh_queue *in = NULL;
    if (rh_queue_attach(instance, "vadd.in", &in, NULL) != 0)
        fail_msg("expected a serving host's queue vadd.in to exist");
    /* vector_add.request: op (u32), a_len, a[1024], b_len, b[1024]; op 7 is
     * no operation: the host must refuse it, and keep it. */
    uint32_t raw[8204 / 4] = {7, 2};
    rh_id id;
    assert_int_equal(rh_send(in, NULL, raw, sizeof raw, &id), 0);
    rh_queue_close(in);
    char idtext[37];
    rh_id_format(id, idtext);

    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", instance, "vadd.dlq", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    json_t *dl = line_with_id(lines, "vadd.dlq", idtext);
    CLI_CHECK(&o, dl && json_array_size(lines) == 1,
              "expected one line of vadd.dlq with the id sent, %s", idtext);
    CLI_CHECK(&o, !strcmp(body_text(dl, "stage"), "invalid") &&
                  strstr(body_text(dl, "reason"), "op: expected an enum value"),
              "expected stage invalid and validate's reason, got \"%s\"",
              body_text(dl, "reason"));
    CLI_CHECK(&o, !strcmp(body_text(dl, "type"), "vector_add.request") &&
                  !strcmp(body_text(dl, "source_queue"), "vadd.in"),
              "expected type vector_add.request from vadd.in");
    json_t *payload = json_object_get(json_object_get(dl, "body"), "payload");
    CLI_CHECK(&o, cli_num(&o, payload, "op") == 7,
              "expected the payload decoded by its type, showing op 7");
    json_decref(lines);
    cli_free(&o);

    cli_exec(&o, NULL, "send", "--instance", instance, "vadd.in",
             "{\"op\": \"add\", \"a\": [1], \"b\": [2]}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", instance, "vadd.out", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "stat", "--instance", instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "vadd.dlq") && strstr(o.r.out, "ringhost.dead_letter"),
              "expected stat to list vadd.dlq");
    cli_free(&o);

    memset(&o, 0, sizeof o);
    snprintf(o.cmd, sizeof o.cmd, "%s run %s (serving), then SIGTERM", RH_TEST_BINARY, m);
    assert_int_equal(proc_signal(&host, SIGTERM), 0);
    proc_wait(&host, 30, &o.r); /* sets host.pid to 0 */
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.err, "accounting: queue vadd.in: accepted 2 = delivered 1 + "
                                  "dead-lettered 1 + dropped 0 + queued 0: balanced"),
              "expected vadd.in accounted: 1 delivered, 1 dead-lettered");
    CLI_CHECK(&o, strstr(o.r.err, "accounting: queue vadd.dlq: accepted 1 = delivered 1 + "),
              "expected the dead letter accounted as delivered (recv took it)");
    cli_expect_balanced(&o, 3);
    cli_free(&o);
}

/*
 * 200 invalid messages from a raw client (a stream of bad input): each is
 * dead-lettered and counted, but the log says bridge.message_invalid for
 * vadd.in at most 10 times a second, then one log.suppressed line with the
 * count left out (base/log.c); the lines written plus those suppressed are
 * the 200.  Before: 200 lines (38 MB of stderr for 200 000).
 */
#define N_INVALID 200

static void test_a_stream_of_invalid_messages_logs_a_few_lines_and_a_count(void **state)
{
    (void)state;
    const char *instance = cli_instance("flood");
    const char *m = cli_manifest("flood",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"vadd.in\": {\"type\": \"vector_add.request\"},\n"
        "            \"vadd.out\": {\"type\": \"vector_add.response\"}},\n"
        " \"kernels\": [{\"name\": \"vadd\", \"plugin\": \"vector_add\",\n"
        "               \"inputs\": {\"requests\": \"vadd.in\"},\n"
        "               \"outputs\": {\"responses\": \"vadd.out\"}}]}\n");
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    assert_int_equal(proc_start(&host, argv), 0);
    cli_await_log(&host, CLI_SERVING, 1, 20);
    rh_queue *in = NULL;
    if (rh_queue_attach(instance, "vadd.in", &in, NULL) != 0)
        fail_msg("expected a serving host's queue vadd.in to exist");
    static uint32_t raw[8204 / 4] = {7, 2}; /* op 7: no operation */
    for (int i = 0; i < N_INVALID; i++)
        assert_int_equal(rh_send(in, NULL, raw, sizeof raw, NULL), 0);
    rh_queue_close(in);
    EXPECT_WITHIN(20.0, cli_queue_counter(instance, "vadd.in", "invalid") == N_INVALID,
                  "expected the %d invalid messages counted invalid on vadd.in", N_INVALID);

    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s run %s (serving, %d invalid sent), then SIGTERM",
             RH_TEST_BINARY, m, N_INVALID);
    assert_int_equal(proc_signal(&host, SIGTERM), 0);
    proc_wait(&host, 30, &o.r);
    cli_expect_exit(&o, 0);
    size_t lines = cli_count(o.r.err, "event=bridge.message_invalid queue=vadd.in");
    long long suppressed = 0;
    const char *tag = "event=log.suppressed of=bridge.message_invalid queue=vadd.in kernel=vadd "
                      "suppressed=";
    for (const char *p = strstr(o.r.err, tag); p; p = strstr(p + 1, tag))
        suppressed += atoll(p + strlen(tag));
    print_message("%d invalid messages: %zu warn lines, %lld suppressed\n", N_INVALID, lines,
                  suppressed);
    CLI_CHECK(&o, lines >= 10 && lines < 60,
              "expected bridge.message_invalid at most 10 times a second (10 or more, far "
              "fewer than %d), got %zu", N_INVALID, lines);
    CLI_CHECK(&o, (long long)lines + suppressed == N_INVALID,
              "expected the lines written (%zu) and suppressed (%lld) to make the %d",
              lines, suppressed, N_INVALID);
    cli_expect_balanced(&o, 3);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_kernel_failed_message_is_printed_as_a_dead_letter),
        cmocka_unit_test(test_expired_messages_are_printed_as_dead_letters),
        cmocka_unit_test_teardown(test_recv_shows_an_invalid_message_a_serving_host_dead_lettered,
                                  kill_host),
        cmocka_unit_test_teardown(test_a_stream_of_invalid_messages_logs_a_few_lines_and_a_count,
                                  kill_host),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
