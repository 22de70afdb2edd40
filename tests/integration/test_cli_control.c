/*
 * test_cli_control.c — a live host driven through its control socket with
 * the real `ringhost` binary: ps, deactivate/activate, launch of a second
 * manifest into the running host (a two-stage pipeline across manifests
 * sharing "pipe.mid") and its refusals, terminate, the verbs' errors, stat
 * --json/--prom with the kernels, and SIGTERM stopping every runtime.
 *
 * The tests run in order on one host (each builds on the previous: the
 * second stage exists once launched), like test_cli_serve.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_common.h"
#include "ringhost/ringhost.h"

/* Stage 1, the host's own manifest: scale (x2) from pipe.in to pipe.mid. */
static const char *stage1_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"pipe.in\": {\"type\": \"vector.f32\"},\n"
    "            \"pipe.mid\": {\"type\": \"vector.f32\"}},\n"
    " \"kernels\": [{\"name\": \"scale\", \"plugin\": \"scale\", \"inputs\": {\"in\": "
    "\"pipe.in\"},\n"
    "               \"outputs\": {\"out\": \"pipe.mid\"}, \"config\": {\"factor\": 2.0}}]}\n";

static struct live {
    proc host;
    const char *instance;
    const char *stage2;   /* sum: pipe.mid -> pipe.out, launched into the host */
    int launched;
    int second_reader;    /* scale2 read pipe.in: its accounting needs both intakes */
    int client_took;      /* a client received from pipe.in, scale's input */
} L;

static int live_setup(void **state)
{
    (void)state;
    memset(&L, 0, sizeof L);
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    L.instance = cli_instance("live");
    const char *m = cli_manifest("live", stage1_text);
    L.stage2 = cli_manifest("stage2",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"pipe.mid\": {\"type\": \"vector.f32\"},\n"
        "            \"pipe.out\": {\"type\": \"sum.result\"}},\n"
        " \"kernels\": [{\"name\": \"sum\", \"plugin\": \"sum\", \"inputs\": {\"in\": "
        "\"pipe.mid\"},\n"
        "               \"outputs\": {\"out\": \"pipe.out\"}}]}\n");
    return ctl_start_host(&L.host, m, L.instance);
}

static int live_teardown(void **state)
{
    (void)state;
    ctl_kill_host(&L.host);
    cli_cleanup();
    return 0;
}

/* `ringhost ps --json`: the reply; the kernel called name in it, or NULL. */
static json_t *ps_json(cli_out *o)
{
    cli_exec(o, NULL, "ps", "--instance", L.instance, "--json", NULL);
    cli_expect_exit(o, 0);
    json_error_t je;
    json_t *root = json_loads(o->r.out, 0, &je);
    CLI_CHECK(o, json_is_object(root), "expected one JSON object from ps --json (%s)", je.text);
    return root;
}

static json_t *kernel_in(json_t *ps, const char *name)
{
    json_t *k;
    size_t i;
    json_array_foreach (json_object_get(ps, "kernels"), i, k)
        if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0)
            return k;
    return NULL;
}

static const char *kstate(json_t *ps, const char *name)
{
    json_t *k = kernel_in(ps, name);
    return k ? json_string_value(json_object_get(k, "state")) : "(absent)";
}

/* One queue's counter from `stat --json`. */
static long long queue_counter(const char *queue, const char *counter)
{
    return cli_queue_counter(L.instance, queue, counter);
}

/* Send {"values": [1, 2, 3]} to pipe.in; the id send printed. */
static const char *send_values(void)
{
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", L.instance, "pipe.in", "{\"values\": [1, 2, 3]}",
             NULL);
    cli_expect_exit(&o, 0);
    const char *id = cli_keep("%.*s", (int)strcspn(o.r.out, "\n"), o.r.out);
    cli_free(&o);
    return id;
}

/* ------------------------------------------------------------- ps ---- */

static void test_ps_lists_the_kernel_active_with_its_threads_and_cpus(void **state)
{
    (void)state;
    cli_out o;
    json_t *ps = ps_json(&o);
    json_t *k = kernel_in(ps, "scale");
    CLI_CHECK(&o, k, "expected kernel \"scale\" in ps");
    CLI_CHECK(&o, strcmp(kstate(ps, "scale"), "active") == 0, "expected scale active, got %s",
              kstate(ps, "scale"));
    const char *threads = json_string_value(json_object_get(k, "threads"));
    const char *cpus = json_string_value(json_object_get(k, "cpus"));
    CLI_CHECK(&o, threads && strstr(threads, "rh-"), "expected scale's thread names, got %s",
              threads ? threads : "none");
    CLI_CHECK(&o, cpus && cpus[0], "expected the cpus its threads run on");
    CLI_CHECK(&o, cli_num(&o, k, "workers") == 1, "expected 1 worker");
    CLI_CHECK(&o, json_is_number(json_object_get(k, "rate")), "expected a rate");
    json_decref(ps);
    cli_free(&o);
    /* the table: a header and one row per kernel */
    cli_exec(&o, NULL, "ps", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "KERNEL") && strstr(o.r.out, "RATE/S"),
              "expected the table header");
    CLI_CHECK(&o, strstr(o.r.out, "scale@") && strstr(o.r.out, "active"),
              "expected a row \"scale  scale@VERSION  active ...\"");
    cli_free(&o);
}

/* ------------------------------------------------------- lifecycle ---- */

static void test_deactivated_kernel_leaves_messages_waiting_until_activated(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "deactivate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "kernel scale: inactive"), "expected \"kernel scale: "
              "inactive\"");
    cli_free(&o);
    long long mid_before = queue_counter("pipe.mid", "enqueued");
    const char *id = send_values();
    assert_int_equal(queue_counter("pipe.in", "depth"), 1); /* waits in its queue */
    cli_exec(&o, NULL, "recv", "--instance", L.instance, "pipe.mid", "--timeout", "0.3", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, o.r.out_len == 0, "expected no answer while scale is inactive");
    cli_free(&o);
    assert_int_equal(queue_counter("pipe.mid", "enqueued"), mid_before);

    cli_exec(&o, NULL, "activate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "kernel scale: active"), "expected \"kernel scale: active\"");
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", L.instance, "pipe.mid", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    json_t *ans = cli_find_correlated(lines, id);
    CLI_CHECK(&o, ans, "expected the answer correlated to %s once scale is active", id);
    json_t *values = json_object_get(json_object_get(ans, "body"), "values");
    CLI_CHECK(&o, json_number_value(json_array_get(values, 2)) == 6.0,
              "expected values[2] = 2 * 3 = 6");
    json_decref(lines);
    cli_free(&o);
}

/* Asking for the state a kernel is in is no transition: exit 0, said
 * (docs/OPERATIONS.md, "Exit codes"). */
static void test_deactivate_twice_says_already_and_exits_0(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "deactivate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "deactivate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "kernel scale: inactive (already; nothing changed)"),
              "expected the second deactivate to say the kernel already is inactive");
    cli_free(&o);
    cli_exec(&o, NULL, "activate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

/* ---------------------------------------------------------- launch ---- */

static void test_launch_adds_a_second_stage_sharing_the_hosts_queue(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "launch", L.stage2, "--instance", L.instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *r = json_loads(o.r.out, 0, NULL);
    json_t *shared = json_object_get(r, "shared");
    CLI_CHECK(&o, json_array_size(shared) == 1 &&
                      strcmp(json_string_value(json_array_get(shared, 0)), "pipe.mid") == 0,
              "expected pipe.mid shared with the host (not created again)");
    json_decref(r);
    cli_free(&o);
    L.launched = 1;

    json_t *ps = ps_json(&o);
    CLI_CHECK(&o, strcmp(kstate(ps, "sum"), "launched") == 0,
              "expected sum launched (inactive until activated), got %s", kstate(ps, "sum"));
    json_decref(ps);
    cli_free(&o);
    cli_exec(&o, NULL, "activate", "sum", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);

    /* through both stages: sum(2 * [1, 2, 3]) = 12 */
    const char *id = send_values();
    cli_exec(&o, NULL, "recv", "--instance", L.instance, "pipe.out", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    json_t *body = json_object_get(json_array_get(lines, 0), "body");
    CLI_CHECK(&o, cli_num(&o, body, "sum") == 12.0 && cli_num(&o, body, "count") == 3,
              "expected sum 12 over 3 values (stage 1 scaled what %s carried)", id);
    json_decref(lines);
    cli_free(&o);
}

static void test_launch_activate_starts_the_launched_kernels(void **state)
{
    (void)state;
    const char *m = cli_manifest("third",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e3.in\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e3\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
        "\"e3.in\"}}]}\n");
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", L.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "queues created: e3.in, e3.out"),
              "expected its queues created (none shared)");
    cli_free(&o);
    json_t *ps = ps_json(&o);
    CLI_CHECK(&o, strcmp(kstate(ps, "e3"), "active") == 0, "expected e3 active, got %s",
              kstate(ps, "e3"));
    json_decref(ps);
    cli_free(&o);
    /* it answers */
    cli_exec(&o, NULL, "send", "--instance", L.instance, "e3.in", "{\"seq\": 3}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", L.instance, "e3.out", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void test_launch_refuses_a_kernel_name_the_host_already_has(void **state)
{
    (void)state;
    if (!L.launched)
        skip();
    cli_out o;
    cli_exec(&o, NULL, "launch", L.stage2, "--instance", L.instance, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "kernels[0].name: kernel \"sum\" already runs"),
              "expected the duplicate kernel named with its JSON path");
    cli_free(&o);
}

static void test_launch_refuses_a_shared_queue_of_another_type_naming_both(void **state)
{
    (void)state;
    const char *m = cli_manifest("mismatch",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"pipe.mid\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e2\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
        "\"pipe.mid\"}}]}\n");
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", L.instance, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "carrying vector.f32") && strstr(o.r.err, "needs echo.message"),
              "expected both types named");
    cli_free(&o);
    json_t *ps = ps_json(&o);
    CLI_CHECK(&o, !kernel_in(ps, "e2"), "expected no kernel e2 after the refused launch");
    json_decref(ps);
    cli_free(&o);
    /* the shared queue is still the host's: the pipeline still answers */
    if (L.launched) {
        send_values();
        cli_exec(&o, NULL, "recv", "--instance", L.instance, "pipe.out", "-n", "1", "--timeout",
                 "10", NULL);
        cli_expect_exit(&o, 0);
        cli_free(&o);
    }
}

/*
 * A launched kernel may read a queue the host's own kernel reads: the
 * queue's creator accounts it with the intake of both.  Stage 1 paused,
 * every message goes to scale2; the accounting at SIGTERM (the last test)
 * must still balance for pipe.in.
 */
static void test_a_launched_second_reader_of_a_hosts_input_queue_is_accounted(void **state)
{
    (void)state;
    const char *m = cli_manifest("reader",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"pipe.in\": {\"type\": \"vector.f32\"}},\n"
        " \"kernels\": [{\"name\": \"scale2\", \"plugin\": \"scale\", \"inputs\": {\"in\": "
        "\"pipe.in\"}}]}\n");
    cli_out o;
    cli_exec(&o, NULL, "deactivate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "launch", m, "--instance", L.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    send_values();
    send_values();
    cli_exec(&o, NULL, "recv", "--instance", L.instance, "scale2.out", "-n", "2", "--timeout",
             "10", NULL);
    cli_expect_exit(&o, 0); /* scale2 took both */
    cli_free(&o);
    /* back to one reader, so the next tests see stage 1 alone on pipe.in */
    cli_exec(&o, NULL, "terminate", "scale2", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "activate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    L.second_reader = 1;
}

/*
 * A client may receive from a kernel's input queue too (`ringhost recv` on
 * it, a second consumer): what it takes is delivered to it, and the
 * queue's line at SIGTERM (the last test) balances.  Before, a kernel's
 * input counted only its kernel's intake: "UNBALANCED, 1 message(s)
 * unaccounted for" and exit 1, with nothing lost.
 */
static void test_a_client_receiving_from_a_kernels_input_queue_is_accounted(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "deactivate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    const char *first = send_values();
    const char *second = send_values();
    cli_exec(&o, NULL, "recv", "--instance", L.instance, "pipe.in", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, first), "expected the client to receive %s from pipe.in",
              first);
    cli_free(&o);
    L.client_took = 1;
    cli_exec(&o, NULL, "activate", "scale", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    /* scale takes the one the client left (its answer goes on to pipe.mid,
     * where stage 2 may read it) */
    long long depth = -1;
    if (!WAIT_UNTIL_EVERY(10, CLI_POLL_MS, (depth = queue_counter("pipe.in", "depth")) == 0))
        fail_msg("expected scale to take %s, left in pipe.in by the client, within 10 s; "
                 "depth %lld", second, depth);
}

/* ------------------------------------------------------- terminate ---- */

static void test_terminate_stops_one_kernel_and_the_other_keeps_serving(void **state)
{
    (void)state;
    if (!L.launched)
        skip();
    cli_out o;
    cli_exec(&o, NULL, "terminate", "sum", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "kernel sum: terminated"), "expected \"kernel sum: "
              "terminated\"");
    cli_free(&o);
    json_t *ps = ps_json(&o);
    CLI_CHECK(&o, strcmp(kstate(ps, "sum"), "terminated") == 0, "expected sum terminated");
    CLI_CHECK(&o, strcmp(kstate(ps, "scale"), "active") == 0, "expected scale still active");
    json_decref(ps);
    cli_free(&o);
    /* scale answers into pipe.mid, where the message now stays */
    long long depth = queue_counter("pipe.mid", "depth");
    send_values();
    cli_exec(&o, NULL, "terminate", "sum", "--instance", L.instance, NULL);
    cli_expect_exit(&o, 2); /* already terminated: a transition its state refuses */
    cli_free(&o);
    WAIT_UNTIL_EVERY(10, CLI_POLL_MS, queue_counter("pipe.mid", "depth") != depth);
    assert_int_equal(queue_counter("pipe.mid", "depth"), depth + 1);
}

static void test_verbs_on_an_unknown_kernel_exit_2_naming_the_kernels(void **state)
{
    (void)state;
    const char *verbs[] = {"activate", "deactivate", "terminate", "reload"};
    for (size_t i = 0; i < 4; i++) {
        cli_out o;
        cli_exec(&o, NULL, verbs[i], "nope", "--instance", L.instance, NULL);
        cli_expect_exit(&o, 2);
        CLI_CHECK(&o, strstr(o.r.err, "no kernel \"nope\"") && strstr(o.r.err, "scale"),
                  "expected %s to name the missing kernel and the ones there are", verbs[i]);
        cli_free(&o);
    }
}

/* ------------------------------------------------------------ stat ---- */

static void test_stat_json_adds_the_kernels_of_a_live_host(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", L.instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *root = json_loads(o.r.out, 0, NULL);
    CLI_CHECK(&o, json_array_size(json_object_get(root, "queues")) >= 3, "expected the queues");
    CLI_CHECK(&o, kernel_in(root, "scale"), "expected kernel scale under \"kernels\"");
    json_t *k = kernel_in(root, "scale");
    CLI_CHECK(&o, cli_num(&o, k, "processed") >= 1, "expected scale to have processed");
    json_decref(root);
    cli_free(&o);
}

/* The value of the sample line that starts with prefix ("name{labels} "). */
static long long prom_value(const cli_out *o, const char *prefix)
{
    const char *p = strstr(o->r.out, prefix);
    CLI_CHECK(o, p && (p == o->r.out || p[-1] == '\n'), "expected a sample line %s", prefix);
    return atoll(p + strlen(prefix));
}

static void test_stat_prom_prints_counters_and_gauges_in_the_text_format(void **state)
{
    (void)state;
    long long enq = queue_counter("pipe.in", "enqueued");
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", L.instance, "--prom", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "# TYPE ringhost_queue_enqueued_total counter\n") &&
                      strstr(o.r.out, "# HELP ringhost_queue_enqueued_total "),
              "expected HELP and TYPE of ringhost_queue_enqueued_total");
    CLI_CHECK(&o, strstr(o.r.out, "# TYPE ringhost_queue_depth gauge\n"),
              "expected ringhost_queue_depth as a gauge");
    const char *pfx = cli_keep("ringhost_queue_enqueued_total{instance=\"%s\",queue=\"pipe.in\"} ",
                               L.instance);
    CLI_CHECK(&o, prom_value(&o, pfx) == enq, "expected %s%lld", pfx, enq);
    pfx = cli_keep("ringhost_kernel_processed_total{instance=\"%s\",kernel=\"scale\"} ",
                   L.instance);
    CLI_CHECK(&o, prom_value(&o, pfx) >= 1, "expected scale's processed count");
    pfx = cli_keep("ringhost_kernel_state{instance=\"%s\",kernel=\"scale\",state=\"active\"} ",
                   L.instance);
    CLI_CHECK(&o, prom_value(&o, pfx) == 1, "expected scale's state gauge active = 1");
    /* every line is a comment or "name{labels} number": integers for
     * counts, seconds (a histogram's _sum, busy time) as decimals */
    char *dup = strdup(o.r.out), *save = NULL;
    for (char *line = strtok_r(dup, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *sp = strrchr(line, ' ');
        char *end = NULL;
        CLI_CHECK(&o, sp && strstr(line, "{instance=\"") && sp[-1] == '}',
                  "expected name{labels} value, got: %s", line);
        double v = strtod(sp + 1, &end);
        CLI_CHECK(&o, end && *end == 0 && end != sp + 1 && v >= 0,
                  "expected a number value: %s", line);
        if (!strstr(line, "_seconds"))
            CLI_CHECK(&o, !strchr(sp + 1, '.'), "expected an integer count: %s", line);
    }
    free(dup);
    cli_free(&o);
}

static void test_stat_watch_redraws_each_interval_until_interrupted(void **state)
{
    (void)state;
    proc w;
    char *argv[] = {RH_TEST_BINARY, "stat", "--instance", (char *)L.instance, "--watch", "0.2",
                    NULL};
    assert_int_equal(proc_start(&w, argv), 0);
    /* three frames: the third has rates (the first has none to compare) */
    WAIT_UNTIL(20, cli_file_count(w.out_path, "\033[H\033[2J") >= 3 || !proc_running(&w));
    proc_signal(&w, SIGINT);
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s stat --instance %s --watch 0.2, then SIGINT",
             RH_TEST_BINARY, L.instance);
    proc_wait(&w, 10, &o.r);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, cli_count(o.r.out, "\033[H\033[2J") >= 3,
              "expected the screen cleared and redrawn each interval (3 frames)");
    CLI_CHECK(&o, strstr(o.r.out, "enq/s") && strstr(o.r.out, "pipe.in "),
              "expected each frame to show the queues with their rate");
    cli_free(&o);
}

/* ------------------------------------------------------------ stop ---- */

static void test_sigterm_stops_every_runtime_newest_first_and_removes_the_socket(void **state)
{
    (void)state;
    const char *sock = cli_keep("%s/run/%s.sock", cli_tmpdir(), L.instance);
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s run <stage 1> (serving, stage 2 launched), then SIGTERM",
             RH_TEST_BINARY);
    assert_int_equal(proc_signal(&L.host, SIGTERM), 0);
    proc_wait(&L.host, 30, &o.r);
    CLI_CHECK(&o, !o.r.timed_out, "expected the host to stop within 30 s of SIGTERM");
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, !strstr(o.r.err, "UNBALANCED"), "expected every accounting line balanced");
    const char *in = strstr(o.r.err, "accounting: queue pipe.in:");
    const char *mid = strstr(o.r.err, "accounting: queue pipe.mid:");
    CLI_CHECK(&o, in && mid, "expected the accounting of pipe.in and pipe.mid");
    CLI_CHECK(&o, !L.second_reader || strstr(in, ": balanced"),
              "expected pipe.in balanced with the intake of scale2 (another manifest's kernel)");
    CLI_CHECK(&o, !L.client_took || strstr(in, ": balanced"),
              "expected pipe.in balanced with what a client received from it");
    CLI_CHECK(&o, cli_count(o.r.err, "accounting: queue pipe.mid:") == 1,
              "expected pipe.mid accounted once (by the runtime that created it)");
    if (L.launched) {
        const char *out = strstr(o.r.err, "accounting: queue pipe.out:");
        CLI_CHECK(&o, out && out < in, "expected stage 2 (pipe.out) stopped before stage 1");
    }
    CLI_CHECK(&o, access(sock, F_OK) != 0, "expected the socket %s removed", sock);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_ps_lists_the_kernel_active_with_its_threads_and_cpus),
        cmocka_unit_test(test_deactivated_kernel_leaves_messages_waiting_until_activated),
        cmocka_unit_test(test_deactivate_twice_says_already_and_exits_0),
        cmocka_unit_test(test_launch_adds_a_second_stage_sharing_the_hosts_queue),
        cmocka_unit_test(test_launch_activate_starts_the_launched_kernels),
        cmocka_unit_test(test_launch_refuses_a_kernel_name_the_host_already_has),
        cmocka_unit_test(test_launch_refuses_a_shared_queue_of_another_type_naming_both),
        cmocka_unit_test(test_a_launched_second_reader_of_a_hosts_input_queue_is_accounted),
        cmocka_unit_test(test_a_client_receiving_from_a_kernels_input_queue_is_accounted),
        cmocka_unit_test(test_stat_json_adds_the_kernels_of_a_live_host),
        cmocka_unit_test(test_stat_prom_prints_counters_and_gauges_in_the_text_format),
        cmocka_unit_test(test_stat_watch_redraws_each_interval_until_interrupted),
        cmocka_unit_test(test_terminate_stops_one_kernel_and_the_other_keeps_serving),
        cmocka_unit_test(test_verbs_on_an_unknown_kernel_exit_2_naming_the_kernels),
        cmocka_unit_test(test_sigterm_stops_every_runtime_newest_first_and_removes_the_socket),
    };
    return cmocka_run_group_tests_name("cli control", live, live_setup, live_teardown);
}
