/*
 * test_cli_info.c — the verbs that only look: `ringhost topo` shows the
 * topology and the allowed cpus, `topo MANIFEST` the threads the manifest
 * would get (threads follow cores), `validate` prints the wiring plan, and
 * the bare command prints its usage with exit 2.
 */
#include <string.h>
#include <unistd.h>

#include "cli_common.h"

static void test_topo_shows_pus_and_the_allowed_cpuset(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "topo", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "allowed cpus:"), "expected the allowed cpuset");
    CLI_CHECK(&o, strstr(o.r.out, "pu:0"), "expected PU 0 to be listed");
    cli_free(&o);
}

static const char *pinned_manifest(const char *tag)
{
    /* three kernels whose dispatch threads all name core:0: one thread */
    return cli_manifest(tag,
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@], \"kernels\": [\n"
        " {\"name\": \"a\", \"plugin\": \"echo\", \"pin\": {\"dispatch\": \"core:0\", \"pump\": \"core:0\"}},\n"
        " {\"name\": \"b\", \"plugin\": \"echo\", \"pin\": {\"dispatch\": \"core:0\", \"pump\": \"core:0\"}},\n"
        " {\"name\": \"c\", \"plugin\": \"echo\", \"pin\": {\"dispatch\": \"core:0\", \"pump\": \"core:0\"}}]}\n");
}

static void test_topo_of_a_manifest_plans_one_thread_per_pinned_core(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "topo", pinned_manifest("topo3"), NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, cli_count(o.r.out, "binding: thread") == 1,
              "expected the 3 kernels and their 6 bridges on one thread for core:0");
    CLI_CHECK(&o, strstr(o.r.out, "dispatch a#0") && strstr(o.r.out, "dispatch c#0"),
              "expected every kernel on that thread");
    cli_free(&o);
}

static void test_validate_prints_the_wiring_and_ok(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "validate", pinned_manifest("val3"), NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "a.in") && strstr(o.r.out, "echo.message"),
              "expected the automatic queue a.in of type echo.message in the plan");
    CLI_CHECK(&o, strstr(o.r.out, ": ok"), "expected the closing \"ok\"");
    cli_free(&o);
}

static void test_bare_command_prints_usage_with_exit_2(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "usage: ringhost"), "expected the usage on stderr");
    cli_free(&o);
    cli_exec(&o, NULL, "frobnicate", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "unknown verb"), "expected the unknown verb named");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topo_shows_pus_and_the_allowed_cpuset),
        cmocka_unit_test(test_topo_of_a_manifest_plans_one_thread_per_pinned_core),
        cmocka_unit_test(test_validate_prints_the_wiring_and_ok),
        cmocka_unit_test(test_bare_command_prints_usage_with_exit_2),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cli_cleanup();
    return rc;
}
