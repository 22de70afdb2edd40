/*
 * test_cli_loans.c — zero-copy clients against a running `ringhost run`
 * host: a client process SIGKILLed holding a loan of the host's
 * input queue does not wedge it (`ringhost send` goes on, the kernel
 * answers, the host's accounting balances at terminate, nothing counted
 * as lost or corrupt); one SIGKILLed holding a peek leaves the message to
 * the next reader: `ringhost recv`, or the host's own input bridge.
 * The clients are forked children using the C API (rh_queue_attach,
 * rh_send_reserve, rh_recv_peek); every other step is the real binary.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_common.h"
#include "ringhost/ringhost.h"

/* e.in -> echo -> e.out; x.q read by nobody.  bridge "inline": the kernel
 * reads e.in in place (engine/inplace.c), "thread": through its pump. */
static const char *manifest_bridge(const char *tag, const char *bridge)
{
    char text[1024];
    snprintf(text, sizeof text,
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 16,\n"
        "                       \"block_timeout_ms\": 2000},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 64},\n"
        "            \"x.q\": {\"type\": \"echo.message\", \"capacity\": 16}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\", \"bridge\": \"%s\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n",
        bridge);
    return cli_manifest(tag, text);
}

/* The fixture of every test: host, a serving `ringhost run` of
 * manifest_bridge(tag, bridge) as instance cli_instance(tag), started by
 * cli_start_host (killed by cli_hosts_teardown when a test fails). */
static const char *start_host_bridge(proc *host, const char *tag, const char *bridge)
{
    const char *inst = cli_instance(tag);
    cli_start_host(host, manifest_bridge(tag, bridge), inst);
    return inst;
}

/* SIGTERM the host and check its accounting: every queue's line balanced. */
static void stop_host_balanced(proc *host)
{
    proc_signal(host, SIGTERM);
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "ringhost run (background host, SIGTERM)");
    proc_wait(host, 30, &o.r);
    size_t lines = cli_count(o.r.err, "accounting: queue ");
    CLI_CHECK(&o, lines >= 3 && cli_count(o.r.err, ": balanced") == lines &&
                      !strstr(o.r.err, "UNBALANCED"),
              "expected every queue's accounting line balanced at terminate (%zu lines)", lines);
    cli_free(&o);
}

typedef enum { HOLD_LOAN, HOLD_PEEK } hold_kind;

/* Fork a client that attaches to instance's queue, takes a loan or a peek
 * of one cell and holds it; returns its pid once it holds it, with the id
 * of the peeked message in *peeked (for HOLD_PEEK). */
static pid_t client_holding(const char *instance, const char *qname, hold_kind kind,
                            rh_id *peeked)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        rh_queue *q;
        rh_error err = {0};
        if (rh_queue_attach(instance, qname, &q, &err) != 0)
            _exit(2);
        rh_id id = {0, 0};
        if (kind == HOLD_LOAN) {
            rh_loan l;
            if (rh_send_reserve(q, 1, &l) != 1)
                _exit(3);
            memset(l.payload, 0x5a, rh_queue_payload_size(q)); /* written, never committed */
        } else {
            rh_msg_view v;
            if (rh_recv_peek(q, 1, 5000, &v) != 1)
                _exit(4);
            id = v.env->id;
        }
        if (write(p[1], &id, sizeof id) != (ssize_t)sizeof id)
            _exit(5);
        for (;;)
            pause();
    }
    close(p[1]);
    rh_id id;
    EXPECT(read(p[0], &id, sizeof id) == (ssize_t)sizeof id,
           "expected the client to report that it holds its %s",
           kind == HOLD_LOAN ? "loan" : "peek");
    close(p[0]);
    if (peeked)
        *peeked = id;
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
}

static void test_a_client_killed_holding_a_loan_wedges_neither_the_queue_nor_the_host(void **s)
{
    (void)s;
    proc host;
    const char *inst = start_host_bridge(&host, "loan", "thread");
    kill_and_reap(client_holding(inst, "e.in", HOLD_LOAN, NULL));

    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 1}", "{\"seq\": 2}", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, o.r.wall_s < 5.0, "expected the sends behind the dead loan through at once");
    char ids[2][37] = {"", ""};
    CLI_CHECK(&o, sscanf(o.r.out, "%36s %36s", ids[0], ids[1]) == 2, "expected two ids");
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "2", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    for (int i = 0; i < 2; i++)
        CLI_CHECK(&o, cli_find_correlated(lines, ids[i]) != NULL,
                  "expected the kernel's answer to %s", ids[i]);
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(inst, "e.in", "corrupt"), 0);
    assert_int_equal(cli_queue_counter(inst, "e.in", "enqueued"), 2);
    assert_int_equal(cli_queue_counter(inst, "e.in", "rejected"), 0);
    stop_host_balanced(&host);
}

static void test_a_client_killed_holding_a_peek_leaves_the_message_to_ringhost_recv(void **s)
{
    (void)s;
    proc host;
    const char *inst = start_host_bridge(&host, "peek", "thread");
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "x.q", "{\"seq\": 3}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    rh_id id;
    kill_and_reap(client_holding(inst, "x.q", HOLD_PEEK, &id));
    char want[37];
    rh_id_format(id, want);
    cli_exec(&o, NULL, "recv", "--instance", inst, "x.q", "-n", "1", "--timeout", "5", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, want) && strstr(o.r.out, "\"seq\": 3"),
              "expected the message the dead client peeked (id %s) delivered again", want);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(inst, "x.q", "depth"), 0);
    stop_host_balanced(&host);
}

static void test_the_hosts_input_bridge_takes_over_a_peek_whose_client_died(void **s)
{
    (void)s;
    proc host;
    const char *inst = start_host_bridge(&host, "bridge", "thread");
    cli_out o;
    cli_exec(&o, NULL, "deactivate", "k", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 9}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    rh_id id;
    kill_and_reap(client_holding(inst, "e.in", HOLD_PEEK, &id));
    char want[37];
    rh_id_format(id, want);
    cli_exec(&o, NULL, "activate", "k", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "1", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_find_correlated(lines, want) != NULL,
              "expected the kernel's answer to the message the dead client peeked (%s)", want);
    json_decref(lines);
    cli_free(&o);
    stop_host_balanced(&host);
}

/* The in-place path (inline bridge): a loan whose client died leaves a void
 * cell in the queue the kernel reads in place; the kernel skips it (no
 * delivery, nothing counted), answers the messages behind it, and every
 * queue balances at terminate. */
static void test_void_cells_of_a_dead_loan_are_skipped_by_a_kernel_reading_in_place(void **s)
{
    (void)s;
    proc host;
    const char *inst = start_host_bridge(&host, "ipvoid", "inline");
    kill_and_reap(client_holding(inst, "e.in", HOLD_LOAN, NULL));
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 1}", "{\"seq\": 2}",
             "{\"seq\": 3}", NULL);
    cli_expect_exit(&o, 0);
    char ids[3][37] = {"", "", ""};
    CLI_CHECK(&o, sscanf(o.r.out, "%36s %36s %36s", ids[0], ids[1], ids[2]) == 3,
              "expected three ids");
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "3", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 3, "expected exactly three answers, got %zu",
              json_array_size(lines));
    for (int i = 0; i < 3; i++)
        CLI_CHECK(&o, cli_find_correlated(lines, ids[i]) != NULL,
                  "expected the in-place kernel's answer to %s", ids[i]);
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(inst, "e.in", "corrupt"), 0);
    assert_int_equal(cli_queue_counter(inst, "e.in", "enqueued"), 3);
    assert_int_equal(cli_queue_counter(inst, "e.in", "depth"), 0);
    assert_int_equal(cli_queue_counter(inst, "e.out", "enqueued"), 3);
    stop_host_balanced(&host);
}

/* A client holding a live peek in front of the run an inline kernel reads
 * in place: the kernel answers the messages behind it, its release is
 * parked behind the peek (never the 1-s stall rule: e.in is not marked
 * corrupt however long the peek is held); once the client is killed, the
 * kernel takes the peeked message over (redelivered) and answers it, the
 * parked run is published (e.in empty), the host goes on answering and
 * every line balances. */
static void test_a_peek_held_in_front_of_a_kernel_reading_in_place_marks_nothing_and_is_taken_over(void **s)
{
    (void)s;
    proc host;
    const char *inst = start_host_bridge(&host, "iplive", "inline");
    cli_out o;
    cli_exec(&o, NULL, "deactivate", "k", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 1}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    rh_id held;
    pid_t client = client_holding(inst, "e.in", HOLD_PEEK, &held);
    char held_id[37];
    rh_id_format(held, held_id);
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 2}", "{\"seq\": 3}", NULL);
    cli_expect_exit(&o, 0);
    char ids[2][37] = {"", ""};
    CLI_CHECK(&o, sscanf(o.r.out, "%36s %36s", ids[0], ids[1]) == 2, "expected two ids");
    cli_free(&o);
    cli_exec(&o, NULL, "activate", "k", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "2", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    for (int i = 0; i < 2; i++)
        CLI_CHECK(&o, cli_find_correlated(lines, ids[i]) != NULL,
                  "expected the answer to %s, behind the live peek", ids[i]);
    json_decref(lines);
    cli_free(&o);
    /* An observation window past the consumers' stall time (1 s): with the
     * 1-s rule applied to the peek, e.in would be marked corrupt in it. */
    int marked = WAIT_UNTIL_EVERY(2.0, CLI_POLL_MS, cli_queue_counter(inst, "e.in", "corrupt") != 0);
    assert_false(marked);
    kill_and_reap(client);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "1", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    lines = cli_lines(&o);
    CLI_CHECK(&o, cli_find_correlated(lines, held_id) != NULL,
              "expected the answer to the message the killed client held (%s)", held_id);
    json_decref(lines);
    cli_free(&o);
    EXPECT_WITHIN(10.0, cli_queue_counter(inst, "e.in", "depth") == 0,
                  "expected e.in empty once the dead peek is taken over (the parked run published)");
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 4}", NULL);
    cli_expect_exit(&o, 0);
    char id4[37] = "";
    CLI_CHECK(&o, sscanf(o.r.out, "%36s", id4) == 1, "expected an id");
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "1", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    lines = cli_lines(&o);
    CLI_CHECK(&o, cli_find_correlated(lines, id4) != NULL, "expected the answer to %s", id4);
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(inst, "e.in", "corrupt"), 0);
    stop_host_balanced(&host);
}

/* A client dies holding a peek of the queue an inline kernel reads in
 * place: the kernel takes the message over (adopted, marked redelivered)
 * and answers it. */
static void test_an_in_place_kernel_takes_over_a_peek_whose_client_died(void **s)
{
    (void)s;
    proc host;
    const char *inst = start_host_bridge(&host, "ipdead", "inline");
    cli_out o;
    cli_exec(&o, NULL, "deactivate", "k", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 9}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    rh_id id;
    kill_and_reap(client_holding(inst, "e.in", HOLD_PEEK, &id));
    char want[37];
    rh_id_format(id, want);
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 10}", NULL);
    cli_expect_exit(&o, 0);
    char behind[37] = "";
    CLI_CHECK(&o, sscanf(o.r.out, "%36s", behind) == 1, "expected an id");
    cli_free(&o);
    cli_exec(&o, NULL, "activate", "k", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "2", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_find_correlated(lines, want) != NULL,
              "expected the in-place kernel's answer to the message the dead client peeked (%s)",
              want);
    CLI_CHECK(&o, cli_find_correlated(lines, behind) != NULL,
              "expected the answer to the message behind it (%s)", behind);
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(inst, "e.in", "corrupt"), 0);
    assert_int_equal(cli_queue_counter(inst, "e.in", "depth"), 0);
    stop_host_balanced(&host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLI_HOST_TEST(test_a_client_killed_holding_a_loan_wedges_neither_the_queue_nor_the_host),
        CLI_HOST_TEST(test_a_client_killed_holding_a_peek_leaves_the_message_to_ringhost_recv),
        CLI_HOST_TEST(test_the_hosts_input_bridge_takes_over_a_peek_whose_client_died),
        CLI_HOST_TEST(test_void_cells_of_a_dead_loan_are_skipped_by_a_kernel_reading_in_place),
        CLI_HOST_TEST(test_a_peek_held_in_front_of_a_kernel_reading_in_place_marks_nothing_and_is_taken_over),
        CLI_HOST_TEST(test_an_in_place_kernel_takes_over_a_peek_whose_client_died),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
