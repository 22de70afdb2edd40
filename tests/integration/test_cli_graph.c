/*
 * test_cli_graph.c — `ringhost graph` draws the wiring.
 * A manifest gives a DOT digraph with every kernel (its ports), queue,
 * bridge edge, dead-letter edge and thread note; -o X.svg renders it with
 * Graphviz into an SVG file; a live host's graph labels its queues with
 * their depth and its edges with rates, and names the threads the host
 * placed.  Graphviz comes from .ci/deps.sh: without `dot` the SVG test
 * fails, saying so.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

static const char *pipeline_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"p.in\": {\"type\": \"vector.f32\"}, \"p.mid\": {\"capacity\": 64},\n"
    "            \"p.out\": {\"type\": \"sum.result\"}},\n"
    " \"kernels\": [{\"name\": \"sc\", \"plugin\": \"scale\", \"inputs\": {\"in\": \"p.in\"},\n"
    "                \"outputs\": {\"out\": \"p.mid\"}, \"workers\": 2},\n"
    "               {\"name\": \"su\", \"plugin\": \"sum\", \"inputs\": {\"in\": \"p.mid\"},\n"
    "                \"outputs\": {\"out\": \"p.out\"}, \"bridge\": \"inline\"}]}\n";

static void test_graph_of_a_manifest_is_a_dot_digraph_of_the_wiring(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "graph", cli_manifest("gplan", pipeline_text), NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strncmp(o.r.out, "digraph ", 8) == 0 && strstr(o.r.out, "\n}\n"),
              "expected one DOT digraph on stdout");
    CLI_CHECK(&o, strstr(o.r.out, "\"q:p.in\" -> \"k:sc\":i0") &&
                      strstr(o.r.out, "\"k:sc\":o0 -> \"q:p.mid\"") &&
                      strstr(o.r.out, "\"q:p.mid\" -> \"k:su\":i0") &&
                      strstr(o.r.out, "\"k:su\":o0 -> \"q:p.out\""),
              "expected the four bridge edges p.in -> sc -> p.mid -> su -> p.out");
    CLI_CHECK(&o, strstr(o.r.out, "\"k:sc\" -> \"q:sc.dlq\"") &&
                      strstr(o.r.out, "\"k:su\" -> \"q:su.dlq\""),
              "expected each kernel's dead-letter edge");
    CLI_CHECK(&o, strstr(o.r.out, "64 slots") && strstr(o.r.out, "vector.f32"),
              "expected p.mid's capacity and type on its node");
    CLI_CHECK(&o, strstr(o.r.out, "dispatch x2") && strstr(o.r.out, "bridges inline") &&
                      strstr(o.r.out, "pump thread"),
              "expected the threads: sc's 2 dispatch workers and pump, su's inline bridges");
    cli_free(&o);
    /* only planned: the manifest's instance has no queue in shared memory */
    cli_exec(&o, NULL, "stat", "--instance", cli_instance("gplan"), "--json", NULL);
    cli_expect_exit(&o, 2); /* names no instance: exit 2 (docs/OPERATIONS.md "Exit codes") */
    CLI_CHECK(&o, strstr(o.r.err, "no shared queues"), "expected graph to create no queue");
    cli_free(&o);
}

static void test_graph_dash_o_svg_renders_it_with_graphviz(void **state)
{
    (void)state;
    if (system("command -v dot >/dev/null 2>&1") != 0)
        fail_msg("Graphviz's dot is not installed: run .ci/deps.sh (it installs graphviz)");
    char svg[4200];
    snprintf(svg, sizeof svg, "%s/graph.svg", cli_tmpdir());
    cli_out o;
    cli_exec(&o, NULL, "graph", cli_manifest("gsvg", pipeline_text), "-o", svg, NULL);
    cli_expect_exit(&o, 0);
    FILE *f = fopen(svg, "r");
    CLI_CHECK(&o, f, "expected %s to be written", svg);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    CLI_CHECK(&o, strstr(buf, "<svg") && strstr(buf, "</svg>") && strstr(buf, "p.mid") &&
                      strstr(buf, "dead letters"),
              "expected an SVG document naming the queues, got:\n%.400s", buf);
    cli_free(&o);

    cli_exec(&o, NULL, "graph", cli_manifest("gbad", pipeline_text), "-o", "graph", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "extension"), "expected -o without a format to be refused");
    cli_free(&o);
}

static void test_graph_needs_a_manifest_or_an_instance(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "graph", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "expected a manifest file or --instance"),
              "expected the usage error to say what graph takes");
    cli_free(&o);
    /* a manifest that cannot be planned: its error, and no half a graph */
    cli_exec(&o, NULL, "graph",
             cli_manifest("gnope", "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": "
                                   "[@PLUGINS@], \"kernels\": [{\"name\": \"a\", "
                                   "\"plugin\": \"ecko\"}]}\n"),
             NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "ecko") && o.r.out[0] == 0,
              "expected the unknown plugin named on stderr and nothing on stdout");
    cli_free(&o);
}

static void test_graph_of_a_live_host_labels_depths_rates_and_threads(void **state)
{
    (void)state;
    const char *m = cli_manifest("glive", pipeline_text);
    const char *inst = cli_instance("glive");
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    proc host;
    assert_int_equal(proc_start(&host, argv), 0);
    cli_await_log(&host, CLI_SERVING, 1, 20.0);
    /* p.out has no reader: the one answer stays there, depth 1 */
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "p.in", "{\"values\": [1, 2]}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    if (!WAIT_UNTIL_EVERY(10.0, CLI_POLL_MS, cli_queue_counter(inst, "p.out", "depth") == 1))
        fail_msg("expected the answer in p.out within 10 s");
    cli_exec(&o, NULL, "graph", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "p.out\\nsum.result\\ndepth 1/"),
              "expected p.out's node to say depth 1");
    CLI_CHECK(&o, strstr(o.r.out, "depth 0/64"), "expected p.mid empty, of 64 slots");
    /* the one message passed: its wait and the kernel's service time too */
    CLI_CHECK(&o, strstr(o.r.out, "\"q:p.in\" -> \"k:sc\":i0 "
                                  "[label=\"pump 0.0/s\\nwait p50 "),
              "expected the idle input edge labelled with its rate and its queue's wait");
    CLI_CHECK(&o, strstr(o.r.out, "\"k:sc\":o0 -> \"q:p.mid\" "
                                  "[label=\"pump 0.0/s\\nservice p50 "),
              "expected sc's output edge labelled with its rate and sc's service time");
    CLI_CHECK(&o, strstr(o.r.out, "threads ") && strstr(o.r.out, "msg/s") &&
                      strstr(o.r.out, "(active)"),
              "expected the host's threads, kernel rates and states");
    cli_free(&o);

    /* traffic while graph samples: the edges say a rate above zero */
    char *gargv[] = {RH_TEST_BINARY, "graph", "--instance", (char *)inst, NULL};
    proc g;
    assert_int_equal(proc_start(&g, gargv), 0);
    int sent = 0;
    while (proc_running(&g) && sent < 1000) {
        cli_exec(&o, NULL, "send", "--instance", inst, "p.in", "{\"values\": [3]}", NULL);
        cli_expect_exit(&o, 0);
        cli_free(&o);
        sent++;
    }
    proc_result gr;
    assert_int_equal(proc_wait(&g, 30, &gr), 0);
    if (gr.exit_code != 0 || !strstr(gr.out, "\"q:p.in\" -> \"k:sc\":i0 [label=\"pump ") ||
        strstr(gr.out, "\"q:p.in\" -> \"k:sc\":i0 [label=\"pump 0.0/s\"]"))
        fail_msg("expected p.in's edge to carry a rate above 0 after %d sends during the "
                 "sample; got:\n%s\n%s", sent, gr.out, gr.err);
    proc_result_free(&gr);
    proc_signal(&host, SIGTERM);
    proc_result r;
    proc_wait(&host, 20, &r);
    proc_result_free(&r);
}

static void test_graph_of_a_live_host_draws_a_bare_launched_manifest(void **state)
{
    (void)state;
    const char *inst = cli_instance("gbare");
    char *argv[] = {RH_TEST_BINARY, "run", (char *)cli_manifest("gbare", pipeline_text), NULL};
    proc host;
    assert_int_equal(proc_start(&host, argv), 0);
    cli_await_log(&host, CLI_SERVING, 1, 20.0);
    /* no name, no plugins: it runs with the host's folders */
    const char *bare = cli_write("bare.json", "{\"ringhost\": 1, \"kernels\": [{\"name\": "
                                              "\"e2\", \"plugin\": \"echo\"}]}\n");
    cli_out o;
    cli_exec(&o, NULL, "launch", bare, "--instance", inst, "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "graph", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "\"q:e2.in\" -> \"k:e2\":i0") &&
                      strstr(o.r.out, "\"q:p.in\" -> \"k:sc\":i0"),
              "expected the host's kernels and the launched e2 in one graph");
    cli_free(&o);
    proc_signal(&host, SIGTERM);
    proc_result r;
    proc_wait(&host, 20, &r);
    proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_of_a_manifest_is_a_dot_digraph_of_the_wiring),
        cmocka_unit_test(test_graph_dash_o_svg_renders_it_with_graphviz),
        cmocka_unit_test(test_graph_needs_a_manifest_or_an_instance),
        cmocka_unit_test(test_graph_of_a_live_host_labels_depths_rates_and_threads),
        cmocka_unit_test(test_graph_of_a_live_host_draws_a_bare_launched_manifest),
    };
    int rc = cmocka_run_group_tests(tests, NULL, cli_group_teardown);
    cli_cleanup();
    return rc;
}
