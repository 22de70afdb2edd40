/*
 * test_cli_isolation.c — `ringhost terminate KERNEL` on a kernel running in
 * its own process ("isolation": "process") of a serving host, through the
 * real binary and its control socket: the kernel's process runs fini() and
 * exits, the host reaps it (no zombie), `ps` reports the kernel terminated,
 * the other kernel keeps answering, and at SIGTERM every accounting line
 * balances.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_common.h"

#define TEST_PLUGINS RH_TEST_BUILD_DIR "/test_plugins"

static proc host;
static const char *instance;

static int teardown(void **state)
{
    (void)state;
    ctl_kill_host(&host);
    cli_cleanup();
    return 0;
}

/* Send {"seq": 1, "text": text} to queue; the next message of reply_queue's text. */
static const char *ask(const char *queue, const char *text, const char *reply_queue)
{
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", instance, queue,
             cli_keep("{\"seq\": 1, \"text\": \"%s\"}", text), NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", instance, reply_queue, "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    json_t *body = json_object_get(json_array_get(lines, 0), "body");
    const char *t = cli_keep("%s", json_string_value(json_object_get(body, "text")));
    json_decref(lines);
    cli_free(&o);
    return t;
}

static void test_terminate_of_an_isolated_kernel_reaps_its_process_and_the_host_serves_on(
    void **state)
{
    (void)state;
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    instance = cli_instance("isoterm");
    const char *m = cli_manifest("isoterm", cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@, \"%s\"],\n"
        " \"queues\": {\"f.in\": {\"type\": \"echo.message\"}, \"f.out\": {\"type\": \"echo.message\"},\n"
        "            \"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"f\", \"plugin\": \"faulty\", \"inputs\": {\"in\": \"f.in\"},\n"
        "               \"outputs\": {\"out\": \"f.out\"}, \"isolation\": \"process\"},\n"
        "              {\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}}]}\n", TEST_PLUGINS));
    assert_int_equal(ctl_start_host(&host, m, instance), 0);
    const char *t = ask("f.in", "pid", "f.out");
    int pid = strncmp(t, "pid=", 4) == 0 ? atoi(t + 4) : 0;
    if (pid <= 0 || pid == host.pid)
        fail_msg("expected f to answer from a process of its own, got \"%s\"", t);

    cli_out o;
    cli_exec(&o, NULL, "terminate", "f", "--instance", instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "kernel f: terminated"), "expected \"kernel f: terminated\"");
    cli_free(&o);
    WAIT_UNTIL(5, proc_gone(pid));
    if (!proc_gone(pid))
        fail_msg("expected f's process %d reaped by the host after terminate (a zombie?)", pid);
    cli_exec(&o, NULL, "ps", "--instance", instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "terminated"), "expected ps to show f terminated");
    cli_free(&o);
    assert_string_equal(ask("e.in", "alive", "e.out"), "alive");

    snprintf(o.cmd, sizeof o.cmd, "%s run <isolated f, echo e> (f terminated), then SIGTERM",
             RH_TEST_BINARY);
    assert_int_equal(proc_signal(&host, SIGTERM), 0);
    memset(&o.r, 0, sizeof o.r);
    proc_wait(&host, 30, &o.r);
    CLI_CHECK(&o, !o.r.timed_out, "expected the host to stop within 30 s of SIGTERM");
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, cli_count(o.r.err, "faulty: fini") == 1,
              "expected f's process to run fini() once (at its terminate)");
    CLI_CHECK(&o, !strstr(o.r.err, "kernel.crashed") && !strstr(o.r.err, "process_killed"),
              "expected f's process to stop, not crash or be killed");
    CLI_CHECK(&o, cli_count(o.r.err, "accounting: queue ") == 6 &&
                  cli_count(o.r.err, ": balanced") == 6 && !strstr(o.r.err, "UNBALANCED"),
              "expected six accounting lines (with the dead-letter queues), each balanced");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_terminate_of_an_isolated_kernel_reaps_its_process_and_the_host_serves_on,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
