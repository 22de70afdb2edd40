/*
 * test_cli_launch_names.c — a terminated kernel's name, as a new user meets
 * it, through the real binary on one serving host:
 *
 *   - a launched kernel terminated alone frees its name: the same manifest
 *     launches again and its kernel answers;
 *   - a kernel terminated while its manifest still runs another one keeps
 *     its name taken: the refusal says it was terminated (not that it
 *     "already runs"), names the kernel that still runs and what to do;
 *     once that one is terminated too the manifest is removed and it
 *     launches again;
 *   - a launch of a kernel that does run says to terminate it first;
 *   - a kernel of the host's own manifest, terminated, keeps its name while
 *     the host serves (that manifest is never removed), and the refusal
 *     says so.
 *
 * The tests run in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_common.h"

#define WAIT_S 20.0

static struct {
    proc host;
    const char *instance;
    unsigned seq;
} N;

static const char *host_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"e.in\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"}}]}\n";

/* Two kernels p then q: p.in -> p -> pq -> q -> q.out. */
static const char *pair_text =
    "{\"ringhost\": 1,\n"
    " \"queues\": {\"p.in\": {\"type\": \"echo.message\"}, \"pq\": {\"type\": \"echo.message\"},\n"
    "            \"q.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"p\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"p.in\"},\n"
    "                \"outputs\": {\"out\": \"pq\"}},\n"
    "               {\"name\": \"q\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"pq\"},\n"
    "                \"outputs\": {\"out\": \"q.out\"}}]}\n";

static const char *one_text =
    "{\"ringhost\": 1,\n"
    " \"queues\": {\"o.in\": {\"type\": \"echo.message\"}, \"o.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"o\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"o.in\"},\n"
    "                \"outputs\": {\"out\": \"o.out\"}}]}\n";

static int names_setup(void **state)
{
    (void)state;
    memset(&N, 0, sizeof N);
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    N.instance = cli_instance("nam");
    return ctl_start_host(&N.host, cli_manifest("nam", host_text), N.instance);
}

static int names_teardown(void **state)
{
    ctl_kill_host(&N.host);
    return cli_group_teardown(state);
}

static void launch_ok(const char *manifest)
{
    cli_out o;
    cli_exec(&o, NULL, "launch", manifest, "--instance", N.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void terminate(const char *kernel)
{
    cli_out o;
    cli_exec(&o, NULL, "terminate", kernel, "--instance", N.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

/* One message in at queue in comes out at queue out. */
static void flows(const char *in, const char *out)
{
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", N.instance, in,
             cli_keep("{\"seq\": %u, \"text\": \"hi\"}", ++N.seq), NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", N.instance, out, "-n", "1", "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 1, "expected one message out of %s", out);
    json_decref(lines);
    cli_free(&o);
}

static void test_a_kernel_terminated_alone_launches_again_under_its_name(void **state)
{
    (void)state;
    const char *m = cli_write("one.json", one_text);
    launch_ok(m);
    flows("o.in", "o.out");
    terminate("o");
    launch_ok(m);
    flows("o.in", "o.out");
}

static void test_a_running_kernels_name_is_refused_with_what_to_do(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "launch", cli_keep("%s/one.json", cli_tmpdir()), "--instance",
             N.instance, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "kernel \"o\" already runs"), "expected o named as running");
    CLI_CHECK(&o, strstr(o.r.err, cli_keep("terminate it first (ringhost terminate o "
                                           "--instance %s)", N.instance)),
              "expected the refusal to say how to free the name");
    cli_free(&o);
}

static void test_a_terminated_kernel_beside_a_running_one_says_what_holds_its_name(void **s)
{
    (void)s;
    const char *m = cli_write("pair.json", pair_text);
    launch_ok(m);
    flows("p.in", "q.out");
    terminate("p");
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", N.instance, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, !strstr(o.r.err, "already runs"),
              "expected no claim that the terminated kernel p runs");
    CLI_CHECK(&o, strstr(o.r.err, "kernel \"p\" was terminated"), "expected p said terminated");
    CLI_CHECK(&o, strstr(o.r.err, "still runs q (active)"), "expected q named as what holds it");
    CLI_CHECK(&o, strstr(o.r.err, "ringhost terminate KERNEL --instance"),
              "expected the command that frees the name");
    cli_free(&o);
    /* as told: terminate q too, and the manifest goes with its names */
    terminate("q");
    launch_ok(m);
    flows("p.in", "q.out");
}

static void test_a_terminated_kernel_of_the_hosts_own_manifest_says_its_name_stays(void **s)
{
    (void)s;
    const char *m = cli_write("e.json", "{\"ringhost\": 1,\n"
                                        " \"queues\": {\"e2.in\": {\"type\": \"echo.message\"}},\n"
                                        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\",\n"
                                        "   \"inputs\": {\"in\": \"e2.in\"}}]}\n");
    terminate("e");
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", N.instance, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "kernel \"e\" of the host's own manifest") &&
                      strstr(o.r.err, "stays taken until the host stops"),
              "expected the refusal to say the host's own names stay taken");
    CLI_CHECK(&o, !strstr(o.r.err, "already runs") && !strstr(o.r.err, "manifest is removed"),
              "expected no claim that e runs or that terminating frees the name");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_kernel_terminated_alone_launches_again_under_its_name),
        cmocka_unit_test(test_a_running_kernels_name_is_refused_with_what_to_do),
        cmocka_unit_test(test_a_terminated_kernel_beside_a_running_one_says_what_holds_its_name),
        cmocka_unit_test(test_a_terminated_kernel_of_the_hosts_own_manifest_says_its_name_stays),
    };
    return cmocka_run_group_tests(tests, names_setup, names_teardown);
}
