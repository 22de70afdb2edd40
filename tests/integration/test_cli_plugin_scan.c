/*
 * test_cli_plugin_scan.c — a plugin that crashes, exits or hangs while it
 * is loaded never takes the host with it, through the
 * real binary: each hostile plugin (tests/plugins/CMakeLists.txt,
 * RH_TEST_BUILD_DIR/hostile_plugins) sits in a folder beside a good
 * echo.so; `ringhost plugins` lists it with how the scanner child ended,
 * and `validate` and `run` of a manifest naming echo still work.  And a
 * manifest that is a FIFO or a device, or a FIFO named like a plugin, is
 * refused at once, not waited on.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

#define HOSTILE_DIR RH_TEST_BUILD_DIR "/hostile_plugins"

static const char *requests; /* one echo request for scan.in */

/* <tmp>/<tag>/ holding echo.so and the hostile <bad>.so; returns the folder. */
static const char *folder_with(const char *tag, const char *bad)
{
    const char *dir = cli_keep("%s/%s", cli_tmpdir(), tag);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(cli_copy_file(RH_TEST_PLUGIN_DIR "/echo.so", cli_keep("%s/echo.so", dir), 0644), 0);
    if (cli_copy_file(cli_keep("%s/%s.so", HOSTILE_DIR, bad), cli_keep("%s/%s.so", dir, bad), 0644) != 0)
        fail_msg("cannot copy %s/%s.so (is rh_bad_plugins built?)", HOSTILE_DIR, bad);
    return dir;
}

/* A manifest <tmp>/<tag>.json whose one kernel runs `plugin` from <tmp>/<tag>/. */
static const char *manifest_for(const char *tag, const char *plugin)
{
    return cli_manifest(tag, cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", "
                                      "\"plugins\": [\"%s\"], "
                                      "\"queues\": {\"scan.in\": {}, \"scan.out\": {}}, "
                                      "\"kernels\": [{\"name\": \"k\", \"plugin\": \"%s\", "
                                      "\"inputs\": {\"in\": \"scan.in\"}, "
                                      "\"outputs\": {\"out\": \"scan.out\"}}]}",
                                      tag, plugin));
}

/* The hostile file is listed with `words`, echo beside it still loads,
 * validate and run of a manifest naming echo succeed, and one naming the
 * hostile kernel fails with the same words (exit 2, not a crash). */
static void expect_contained(const char *tag, const char *bad, const char *words)
{
    const char *dir = folder_with(tag, bad);
    cli_out o;
    cli_exec(&o, NULL, "plugins", dir, NULL);
    cli_expect_exit(&o, 1); /* a plugin failed to load (OPERATIONS.md, Exit codes) */
    CLI_CHECK(&o, strstr(o.r.out, cli_keep("%s.so: error", bad)) && strstr(o.r.out, words) &&
                      strstr(o.r.out, "kernel echo") && strstr(o.r.out, "1 loaded, 1 failed"),
              "expected `plugins` to list %s.so refused with \"%s\" and echo.so loaded", bad,
              words);
    cli_free(&o);

    const char *m = manifest_for(tag, "echo");
    cli_exec(&o, NULL, "validate", m, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, ": ok") && strstr(o.r.out, "plugin echo"),
              "expected validate of a manifest naming echo to pass beside %s.so", bad);
    cli_free(&o);

    cli_exec(&o, NULL, "run", m, "--send", requests, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, cli_count(o.r.out, "\"scan.out\"") == 1,
              "expected run to answer the one request beside %s.so", bad);
    cli_free(&o);

    const char *mb = cli_manifest(cli_keep("%s-named", tag),
                      cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [\"%s\"], "
                               "\"queues\": {\"scan.in\": {\"type\": \"bad.message\"}, "
                               "\"scan.out\": {\"type\": \"bad.message\"}}, "
                               "\"kernels\": [{\"name\": \"k\", \"plugin\": \"%s\", "
                               "\"inputs\": {\"in\": \"scan.in\"}, "
                               "\"outputs\": {\"out\": \"scan.out\"}}]}",
                               tag, bad));
    cli_exec(&o, NULL, "validate", mb, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, words), "expected validate naming %s to fail with \"%s\"",
              bad, words);
    cli_free(&o);
}

static void test_a_constructor_that_segfaults_is_reported_and_the_host_goes_on(void **state)
{
    (void)state;
    expect_contained("segv", "bad_ctor_segv", "signal 11 (SIGSEGV)");
}

static void test_a_constructor_that_calls_exit_is_reported_not_a_silent_success(void **state)
{
    (void)state;
    expect_contained("exit", "bad_ctor_exit", "called exit()");
}

static void test_an_entry_returning_a_wild_pointer_is_reported_not_a_crash(void **state)
{
    (void)state;
    expect_contained("wild", "bad_wild_desc", "signal 11 (SIGSEGV)");
}

/* A constructor that never returns: the scanner child is killed at its
 * deadline (by its pid, which the message names, and which is gone). */
static void test_a_constructor_that_hangs_is_killed_at_the_scan_deadline(void **state)
{
    (void)state;
    setenv("RINGHOST_PLUGIN_SCAN_TIMEOUT_MS", "300", 1);
    expect_contained("pause", "bad_ctor_pause", "did not finish loading it within 300 ms");
    cli_out o;
    cli_exec(&o, NULL, "plugins", cli_keep("%s/pause", cli_tmpdir()), NULL);
    const char *at = strstr(o.r.out, "scanner (pid ");
    CLI_CHECK(&o, at, "expected the message to name the scanner's pid");
    int pid = atoi(at + strlen("scanner (pid "));
    CLI_CHECK(&o, pid > 0 && kill(pid, 0) != 0 && errno == ESRCH,
              "expected the hung scanner pid %d to be killed and reaped", pid);
    cli_free(&o);
    unsetenv("RINGHOST_PLUGIN_SCAN_TIMEOUT_MS");
}

/* What the host reads after its own dlopen must be what the child saw. */
static void test_a_plugin_that_differs_the_second_time_it_loads_is_refused(void **state)
{
    (void)state;
    const char *mark = cli_keep("%s/second-load.mark", cli_tmpdir());
    setenv("RH_TEST_SECOND_LOAD_MARK", mark, 1);
    expect_contained("second", "bad_second_load", "differs from what the plugin scanner read");
    unsetenv("RH_TEST_SECOND_LOAD_MARK");
}

/* mkfifo: `validate` and `run` must refuse it at once (a blocking open
 * would wait for a writer until the test's kill). */
static void test_a_manifest_that_is_a_fifo_or_a_device_is_refused_not_waited_on(void **state)
{
    (void)state;
    const char *fifo = cli_keep("%s/manifest.fifo", cli_tmpdir());
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *verbs[] = {"validate", "run"};
    for (size_t i = 0; i < 2; i++) {
        cli_out o;
        cli_exec(&o, NULL, verbs[i], fifo, NULL);
        cli_expect_exit(&o, 2);
        CLI_CHECK(&o, strstr(o.r.err, fifo) && strstr(o.r.err, "a FIFO") &&
                          strstr(o.r.err, "regular JSON file"),
                  "expected %s to refuse the FIFO, naming it", verbs[i]);
        cli_free(&o);
    }
    /* A FIFO named like a plugin, in a plugin folder: listed, not waited on. */
    const char *dir = cli_keep("%s/fifo-plugins", cli_tmpdir());
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(mkfifo(cli_keep("%s/pipe.so", dir), 0644), 0);
    cli_out o;
    cli_exec(&o, NULL, "plugins", dir, NULL);
    cli_expect_exit(&o, 1); /* a plugin failed to load (OPERATIONS.md, Exit codes) */
    CLI_CHECK(&o, strstr(o.r.out, "pipe.so: error") && strstr(o.r.out, "not a regular file"),
              "expected `plugins` to list the FIFO as not a regular file");
    cli_free(&o);
    cli_exec(&o, NULL, "validate", "/dev/zero", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "a character device"),
              "expected validate to refuse /dev/zero as a device");
    cli_free(&o);
    unlink(fifo);
}

static int group_setup(void **state)
{
    (void)state;
    requests = cli_write("scan.jsonl",
                         "{\"queue\": \"scan.in\", \"body\": {\"seq\": 1, \"text\": \"hi\"}}\n");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_constructor_that_segfaults_is_reported_and_the_host_goes_on),
        cmocka_unit_test(test_a_constructor_that_calls_exit_is_reported_not_a_silent_success),
        cmocka_unit_test(test_an_entry_returning_a_wild_pointer_is_reported_not_a_crash),
        cmocka_unit_test(test_a_constructor_that_hangs_is_killed_at_the_scan_deadline),
        cmocka_unit_test(test_a_plugin_that_differs_the_second_time_it_loads_is_refused),
        cmocka_unit_test(test_a_manifest_that_is_a_fifo_or_a_device_is_refused_not_waited_on),
    };
    return cmocka_run_group_tests_name("cli plugin scanner", tests, group_setup,
                                       cli_group_teardown);
}
