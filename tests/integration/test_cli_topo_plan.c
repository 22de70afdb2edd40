/*
 * test_cli_topo_plan.c — `ringhost topo MANIFEST` plans without side
 * effects, through the real binary:
 *
 *   - no kernel's init() runs: a kernel whose init() fails on its second
 *     worker is still planned, both workers shown, exit 0;
 *   - no runtime is launched: nothing of a launch (runtime.launch, a
 *     thread's reactor.start) is logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

#define SWAP_DIR RH_TEST_BUILD_DIR "/swap_plugins"

static void test_topo_plans_a_kernel_whose_init_fails_without_running_it(void **state)
{
    (void)state;
    /* a folder holding only the build of swap_echo whose init() fails on
     * its second call */
    const char *only = cli_keep("%s/initf", cli_tmpdir());
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/swap_echo_init_fails.so %s/", only, SWAP_DIR,
             only);
    assert_int_equal(system(cmd), 0);
    const char *m = cli_write(
        "initf.json",
        cli_keep("{\"ringhost\": 1, \"name\": \"%s\", \"plugins\": [\"%s\"],\n"
                 " \"queues\": {\"h.in\": {\"type\": \"echo.message\"},\n"
                 "            \"h.out\": {\"type\": \"echo.message\"}},\n"
                 " \"kernels\": [{\"name\": \"h\", \"plugin\": \"swap_echo\", \"workers\": 2,\n"
                 "   \"inputs\": {\"in\": \"h.in\"}, \"outputs\": {\"out\": \"h.out\"}}]}\n",
                 cli_instance("topo"), only));
    cli_out o;
    cli_exec(&o, NULL, "topo", m, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "planned threads for"), "expected the plan");
    CLI_CHECK(&o, strstr(o.r.out, "dispatch h#0") && strstr(o.r.out, "dispatch h#1"),
              "expected both workers of h planned");
    CLI_CHECK(&o, strstr(o.r.out, "bridge h.in -> h.in") && strstr(o.r.out, "bridge h.out -> h.out"),
              "expected h's bridges planned");
    CLI_CHECK(&o, !strstr(o.r.err, "init()"), "expected no init() to run (it fails on worker 1)");
    CLI_CHECK(&o, !strstr(o.r.err, "runtime.launch") && !strstr(o.r.err, "reactor.start"),
              "expected nothing launched: no runtime, no thread started");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topo_plans_a_kernel_whose_init_fails_without_running_it),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
