/*
 * test_cli_serve.c — a serving host and the client verbs.
 *
 * Group "serve": `ringhost run MANIFEST` (no --send) is started in the
 * background; the tests then talk to it through its shared queues with
 * `ringhost stat`, `send` and `recv`, in this order (each one's behaviour
 * builds on the previous: the id sent is the one received, the stat counts
 * that one message), and finally stop it with SIGTERM.
 *
 * Group "bindings": `run --report-bindings` says where a pinned thread runs.
 */
#define _GNU_SOURCE /* CPU_COUNT */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_common.h"
#include "ringhost/ringhost.h"

static const char *echo_manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
    "            \"e.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
    "               \"outputs\": {\"out\": \"e.out\"}}]}\n";

/* -------------------------------------------------------- serve mode ---- */

#define READY_WITHIN_S 20.0

static struct serve {
    proc host;
    const char *instance;
    char sent_id[64]; /* what `send` printed, "" until then */
} S;

/* Start the host and wait until it serves: every queue created (not only
 * the first that `ringhost stat` could find), the control socket open. */
static int serve_setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    S.instance = cli_instance("serve");
    const char *m = cli_manifest("serve", echo_manifest_text);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    if (proc_start(&S.host, argv) != 0) {
        print_error("cannot start %s run %s\n", RH_TEST_BINARY, m);
        return -1;
    }
    if (cli_host_logged_within(&S.host, CLI_SERVING, 1, READY_WITHIN_S) != 0) {
        print_error("expected `ringhost run %s` to serve within %.0f s\n", m, READY_WITHIN_S);
        return -1;
    }
    return 0;
}

static int serve_teardown(void **state)
{
    (void)state;
    if (S.host.pid) {
        proc_signal(&S.host, SIGKILL);
        proc_result r;
        proc_wait(&S.host, 10, &r);
        proc_result_free(&r);
    }
    return 0;
}

static void test_stat_lists_the_queues_of_a_serving_host(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", S.instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "e.in") && strstr(o.r.out, "e.out"),
              "expected stat to list e.in and e.out");
    cli_free(&o);
}

static void test_send_prints_the_assigned_id(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", S.instance, "e.in", "{\"seq\": 5, \"text\": \"hi\"}",
             NULL);
    cli_expect_exit(&o, 0);
    char id[64] = "";
    size_t len = strcspn(o.r.out, "\n");
    snprintf(id, sizeof id, "%.*s", (int)(len < sizeof id ? len : sizeof id - 1), o.r.out);
    rh_id parsed;
    CLI_CHECK(&o, rh_id_parse(id, &parsed) == 0 && !rh_id_is_zero(parsed),
              "expected stdout to be the message id (a UUID), got \"%s\"", id);
    CLI_CHECK(&o, o.r.out[len] == '\n' && o.r.out[len + 1] == '\0',
              "expected exactly one line (one id per message sent)");
    snprintf(S.sent_id, sizeof S.sent_id, "%s", id);
    cli_free(&o);
}

static void test_recv_prints_the_reply_correlated_to_the_sent_id(void **state)
{
    (void)state;
    if (!S.sent_id[0])
        skip(); /* the send test failed: nothing to receive */
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", S.instance, "e.out", "-n", "1", "--timeout", "5",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 1, "expected exactly 1 line, got %zu",
              json_array_size(lines));
    json_t *line = json_array_get(lines, 0);
    const char *corr = json_string_value(json_object_get(line, "correlation_id"));
    CLI_CHECK(&o, corr && strcasecmp(corr, S.sent_id) == 0,
              "expected correlation_id %s (the id send printed), got %s", S.sent_id,
              corr ? corr : "none");
    json_t *body = json_object_get(line, "body");
    CLI_CHECK(&o, cli_num(&o, body, "seq") == 5, "expected body.seq 5");
    const char *text = json_string_value(json_object_get(body, "text"));
    CLI_CHECK(&o, text && strcmp(text, "hi") == 0, "expected body.text \"hi\", got %s",
              text ? text : "none");
    json_decref(lines);
    cli_free(&o);
}

static void test_recv_on_an_empty_queue_prints_nothing_and_exits_0(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", S.instance, "e.out", "--timeout", "0.2", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, o.r.out_len == 0, "expected nothing on stdout, got %zu bytes", o.r.out_len);
    CLI_CHECK(&o, o.r.wall_s < 5.0, "expected recv --timeout 0.2 to return promptly, took %.3f s",
              o.r.wall_s);
    cli_free(&o);
}

static void test_stat_json_counts_the_one_message_sent_to_e_in(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", S.instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_error_t je;
    json_t *root = json_loads(o.r.out, 0, &je);
    CLI_CHECK(&o, json_is_object(root), "expected one JSON object on stdout (%s)", je.text);
    json_t *queues = json_object_get(root, "queues"), *q, *in = NULL;
    size_t i;
    json_array_foreach (queues, i, q) {
        const char *name = json_string_value(json_object_get(q, "queue"));
        if (name && strcmp(name, "e.in") == 0)
            in = q;
    }
    CLI_CHECK(&o, in, "expected an entry with \"queue\": \"e.in\" in \"queues\"");
    double enq = cli_num(&o, in, "enqueued");
    CLI_CHECK(&o, enq == 1, "expected e.in enqueued 1, got %g", enq);
    json_decref(root);
    cli_free(&o);
}

static void test_sigterm_stops_the_host_with_exit_0_and_a_summary(void **state)
{
    (void)state;
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s run <manifest> (serving), then SIGTERM", RH_TEST_BINARY);
    assert_int_equal(proc_signal(&S.host, SIGTERM), 0);
    proc_wait(&S.host, 30, &o.r);
    CLI_CHECK(&o, !o.r.timed_out, "expected the host to stop within 30 s of SIGTERM");
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.err, "summary:"), "expected the summary on stderr");
    CLI_CHECK(&o, strstr(o.r.err, "uptime"), "expected the summary to give the uptime");
    long long processed = cli_summary_get(&o, "kernel", "e", "processed");
    CLI_CHECK(&o, processed == 1, "expected kernel e processed 1, got %lld", processed);
    cli_free(&o);
}

/* ---------------------------------------------------------- bindings ---- */

/* Is cpu in a list like "1", "0-3", "0,2-3"? */
static int cpu_in_list(int cpu, const char *list)
{
    const char *p = list;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p)
            return 0;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        if (cpu >= lo && cpu <= hi)
            return 1;
        if (*end != ',')
            return 0;
        p = end + 1;
    }
    return 0;
}

static void test_report_bindings_shows_the_pinned_dispatch_thread_on_its_cpu(void **state)
{
    (void)state;
    cpu_set_t set;
    int ncpu = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    const char *pin = ncpu > 1 ? "core:1" : "core:0";
    const char *m = cli_manifest("bindings", cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
        "            \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}, \"pin\": {\"dispatch\": \"%s\"}}]}\n",
        pin));
    const char *req = cli_write("bindings.jsonl",
                                "{\"queue\": \"e.in\", \"body\": {\"seq\": 1, \"text\": \"b\"}}\n");
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", req, "--report-bindings", "--timeout", CLI_RUN_TIMEOUT,
             NULL);
    cli_expect_exit(&o, 0);
    /* the line of the thread running "dispatch e#0" */
    const char *p = o.r.err, *found = NULL;
    char line[1024];
    while (p && (p = strstr(p, "binding:")) != NULL) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        if (strstr(line, "dispatch e#")) {
            found = line;
            break;
        }
        p += n;
    }
    CLI_CHECK(&o, found, "expected a \"binding:\" line for the thread running dispatch e#0");
    const char *pinned = strstr(found, "pinned to cpus ");
    const char *runs = strstr(found, "runs on cpu ");
    CLI_CHECK(&o, pinned && runs, "expected \"pinned to cpus SET\" and \"runs on cpu N\" in: %s",
              found);
    char cpus[64] = "";
    sscanf(pinned + strlen("pinned to cpus "), "%63s", cpus);
    int cpu = atoi(runs + strlen("runs on cpu "));
    CLI_CHECK(&o, strcmp(cpus, "any") != 0 && strcmp(cpus, "none") != 0,
              "expected the dispatch thread pinned (%s), got cpus \"%s\"", pin, cpus);
    CLI_CHECK(&o, cpu_in_list(cpu, cpus),
              "expected the thread pinned by \"%s\" to run on one of its cpus %s, runs on cpu %d",
              pin, cpus, cpu);
    cli_free(&o);
}

static int cleanup(void **state)
{
    (void)state;
    cli_cleanup();
    return 0;
}

static int serve_group_teardown(void **state)
{
    serve_teardown(state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest serve[] = {
        cmocka_unit_test(test_stat_lists_the_queues_of_a_serving_host),
        cmocka_unit_test(test_send_prints_the_assigned_id),
        cmocka_unit_test(test_recv_prints_the_reply_correlated_to_the_sent_id),
        cmocka_unit_test(test_recv_on_an_empty_queue_prints_nothing_and_exits_0),
        cmocka_unit_test(test_stat_json_counts_the_one_message_sent_to_e_in),
        cmocka_unit_test(test_sigterm_stops_the_host_with_exit_0_and_a_summary),
    };
    const struct CMUnitTest bindings[] = {
        cmocka_unit_test(test_report_bindings_shows_the_pinned_dispatch_thread_on_its_cpu),
    };
    int failed = cmocka_run_group_tests_name("cli serve", serve, serve_setup,
                                             serve_group_teardown);
    failed += cmocka_run_group_tests_name("cli bindings", bindings, NULL, cleanup);
    return failed;
}
