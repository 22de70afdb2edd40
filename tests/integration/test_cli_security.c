/*
 * test_cli_security.c — who decides what code a host runs (docs/RELIABILITY.md,
 * "Security"), through the real binary:
 *  - a manifest names plugins found in its plugin folders; a plugin outside
 *    them only by an absolute path that `ringhost run --allow-plugin PATH`
 *    allows exactly; relative paths and ".." never;
 *  - a world-writable plugin file is refused, and `ringhost plugins` says
 *    why and how to fix it.
 * The plugin outside the folders is a private copy of echo.so in this
 * test's temporary folder (mode 0700), next to an empty plugin folder.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

static const char *outside_so; /* <tmp>/elsewhere/echo.so */
static const char *empty_dir;  /* <tmp>/empty: the manifests' only plugin folder */
static const char *requests;   /* one echo request */

static int group_setup(void **state)
{
    (void)state;
    const char *elsewhere = cli_keep("%s/elsewhere", cli_tmpdir());
    empty_dir = cli_keep("%s/empty", cli_tmpdir());
    outside_so = cli_keep("%s/echo.so", elsewhere);
    if (mkdir(elsewhere, 0755) != 0 || mkdir(empty_dir, 0755) != 0 ||
        cli_copy_file(RH_TEST_PLUGIN_DIR "/echo.so", outside_so, 0755) != 0) {
        print_error("cannot copy %s/echo.so to %s\n", RH_TEST_PLUGIN_DIR, outside_so);
        return -1;
    }
    requests = cli_write("echo.jsonl",
                         "{\"queue\": \"sec.in\", \"body\": {\"seq\": 7, \"text\": \"hi\"}}\n");
    return 0;
}

/* A manifest whose one kernel's "plugin" is `plugin`, with only the empty
 * folder as its plugin path. */
static const char *manifest_with_plugin(const char *tag, const char *plugin)
{
    return cli_manifest(tag, cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", "
                                      "\"plugins\": [\"empty\"], "
                                      "\"queues\": {\"sec.in\": {}, \"sec.out\": {}}, "
                                      "\"kernels\": [{\"name\": \"echo\", \"plugin\": \"%s\", "
                                      "\"inputs\": {\"in\": \"sec.in\"}, "
                                      "\"outputs\": {\"out\": \"sec.out\"}}]}",
                                      plugin));
}

static void test_run_refuses_a_plugin_path_the_command_line_did_not_allow(void **state)
{
    (void)state;
    const char *m = manifest_with_plugin("notallowed", outside_so);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", requests, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "kernels[0].plugin") && strstr(o.r.err, outside_so) &&
                      strstr(o.r.err, "--allow-plugin"),
              "expected the refusal to name kernels[0].plugin, the path and --allow-plugin");
    CLI_CHECK(&o, o.r.out_len == 0, "nothing may run: expected no output");
    cli_free(&o);

    /* allowing another file does not allow this one */
    cli_exec(&o, NULL, "run", m, "--allow-plugin", cli_keep("%s/other.so", empty_dir), "--send",
             requests, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--allow-plugin"), "expected the same refusal");
    cli_free(&o);
}

static void test_run_loads_a_plugin_path_the_command_line_allows(void **state)
{
    (void)state;
    const char *m = manifest_with_plugin("allowed", outside_so);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--allow-plugin", outside_so, "--send", requests, "--timeout",
             CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "sec.out") == 1,
              "expected the allowed plugin to answer once on sec.out");
    json_decref(lines);
    cli_free(&o);
}

/* validate and topo look at the same manifest run would launch: the same
 * refusal, and the same --allow-plugin to lift it. */
static void test_validate_and_topo_take_allow_plugin_as_run_does(void **state)
{
    (void)state;
    const char *m = manifest_with_plugin("checked", outside_so);
    cli_out o;
    cli_exec(&o, NULL, "validate", m, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--allow-plugin"), "validate must refuse it as run does");
    cli_free(&o);
    cli_exec(&o, NULL, "validate", m, "--allow-plugin", outside_so, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, ": ok"), "expected validate to pass once the path is allowed");
    cli_free(&o);
    cli_exec(&o, NULL, "topo", m, "--allow-plugin", outside_so, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "planned threads"), "expected topo to plan the allowed kernel");
    cli_free(&o);
    cli_exec(&o, NULL, "validate", m, "--allow-plugin", "relative.so", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "absolute path"), "a relative --allow-plugin is bad usage");
    cli_free(&o);
}

static void test_run_refuses_a_relative_plugin_path_even_if_allowed(void **state)
{
    (void)state;
    static const char *const refs[] = {"../elsewhere/echo", "elsewhere/echo.so", ".."};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const char *m = manifest_with_plugin(cli_keep("relative%zu", i), refs[i]);
        cli_out o;
        cli_exec(&o, NULL, "run", m, "--allow-plugin", outside_so, "--send", requests,
                 "--timeout", CLI_RUN_TIMEOUT, NULL);
        cli_expect_exit(&o, 2);
        CLI_CHECK(&o, strstr(o.r.err, "kernels[0].plugin") && strstr(o.r.err, "without"),
                  "expected \"%s\" to be refused at kernels[0].plugin", refs[i]);
        cli_free(&o);
    }
}

static void test_allow_plugin_takes_only_absolute_paths(void **state)
{
    (void)state;
    const char *m = manifest_with_plugin("relflag", outside_so);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--allow-plugin", "elsewhere/echo.so", "--send", requests,
             "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--allow-plugin") && strstr(o.r.err, "absolute"),
              "expected the option to ask for an absolute path");
    cli_free(&o);
}

/* The fix is in the message, and an allowed path gets the same check. */
static void test_world_writable_plugin_is_listed_with_its_fix_and_not_run(void **state)
{
    (void)state;
    const char *dir = cli_keep("%s/writable", cli_tmpdir());
    const char *so = cli_keep("%s/echo.so", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(cli_copy_file(RH_TEST_PLUGIN_DIR "/echo.so", so, 0666), 0);
    cli_out o;
    cli_exec(&o, NULL, "plugins", dir, NULL);
    cli_expect_exit(&o, 1); /* a plugin failed to load (OPERATIONS.md, Exit codes) */
    CLI_CHECK(&o, strstr(o.r.out, "error") && strstr(o.r.out, "world-writable") &&
                      strstr(o.r.out, cli_keep("chmod o-w %s", so)),
              "expected `ringhost plugins` to list the file with its reason and fix");
    cli_free(&o);

    const char *m = manifest_with_plugin("writable", so);
    cli_exec(&o, NULL, "run", m, "--allow-plugin", so, "--send", requests, "--timeout",
             CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "world-writable"), "expected the host to refuse it too");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_refuses_a_plugin_path_the_command_line_did_not_allow),
        cmocka_unit_test(test_run_loads_a_plugin_path_the_command_line_allows),
        cmocka_unit_test(test_validate_and_topo_take_allow_plugin_as_run_does),
        cmocka_unit_test(test_run_refuses_a_relative_plugin_path_even_if_allowed),
        cmocka_unit_test(test_allow_plugin_takes_only_absolute_paths),
        cmocka_unit_test(test_world_writable_plugin_is_listed_with_its_fix_and_not_run),
    };
    return cmocka_run_group_tests_name("cli security", tests, group_setup, cli_group_teardown);
}
