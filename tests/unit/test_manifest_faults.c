/*
 * test_manifest_faults.c — a kernel's "watchdog_ms", "restart" and "isolation" keys
 * (host/src/manifest/manifest_faults.c): defaults when absent, values read when
 * present, and each bad value refused with the file, the JSON path and what
 * was expected.  Manifests are written inline with ' for ".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest/manifest.h"

#include <cmocka.h>

static char tmp_path[64];

/* Load text (' for "): the code, the manifest in *m, the message in err. */
static int load_text(const char *text, rh_manifest **m, rh_error *err)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/rh_manifest_faults_XXXXXX.json");
    int fd = mkstemps(tmp_path, 5);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    for (const char *p = text; *p; p++)
        fputc(*p == '\'' ? '"' : *p, f);
    assert_int_equal(fclose(f), 0);
    memset(err, 0, sizeof *err);
    *m = NULL;
    int rc = rh__manifest_load(tmp_path, m, err);
    unlink(tmp_path);
    return rc;
}

/* A manifest with one kernel "k" whose extra keys are k_extra (", ..."). */
#define MANIFEST(k_extra)                                                                  \
    "{'ringhost': 1, 'name': 't', 'queues': {'q.in': {}, 'q.out': {}}, 'kernels': ["      \
    "{'name': 'k', 'plugin': 'p', 'inputs': {'in': 'q.in'}, 'outputs': {'out': 'q.out'}" \
    k_extra "}]}"

static rh_kernel_decl load_kernel(const char *text)
{
    rh_manifest *m;
    rh_error err;
    if (load_text(text, &m, &err) != 0)
        fail_msg("expected the manifest to load, got: %s", err.msg);
    rh_kernel_decl k = m->kernels[0];
    k.config_json = NULL;
    rh__manifest_free(m);
    return k;
}

/* Refused with RH_EMANIFEST, a message starting "<file>: <path>: " and
 * containing words. */
static void expect_bad(const char *text, const char *path, const char *words)
{
    rh_manifest *m;
    rh_error err;
    int rc = load_text(text, &m, &err);
    if (rc != RH_EMANIFEST)
        fail_msg("expected RH_EMANIFEST, got %d: %s", rc, err.msg);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s: %s: ", tmp_path, path);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("expected the message to start with '%s', got '%s'", prefix, err.msg);
    if (!strstr(err.msg, words))
        fail_msg("expected the message to contain '%s', got '%s'", words, err.msg);
}

static void test_no_watchdog_and_default_restarts_when_absent(void **state)
{
    (void)state;
    rh_kernel_decl k = load_kernel(MANIFEST(""));
    assert_int_equal(k.watchdog_ms, 0);
    assert_int_equal(k.restart_max, 3);
    assert_int_equal(k.restart_backoff_ms, 100);
    assert_int_equal(k.restart_backoff_max_ms, 5000);
    assert_int_equal(k.restart_failed_batches, 0);
}

static void test_watchdog_and_restart_keys_are_read(void **state)
{
    (void)state;
    rh_kernel_decl k = load_kernel(MANIFEST(", 'watchdog_ms': 250, 'restart': {'max': 7, "
                                            "'backoff_ms': 20, 'backoff_max_ms': 80, "
                                            "'failed_batches': 4}"));
    assert_int_equal(k.watchdog_ms, 250);
    assert_int_equal(k.restart_max, 7);
    assert_int_equal(k.restart_backoff_ms, 20);
    assert_int_equal(k.restart_backoff_max_ms, 80);
    assert_int_equal(k.restart_failed_batches, 4);
}

static void test_a_long_first_backoff_raises_the_default_backoff_max(void **state)
{
    (void)state;
    rh_kernel_decl k = load_kernel(MANIFEST(", 'restart': {'backoff_ms': 9000}"));
    assert_int_equal(k.restart_backoff_ms, 9000);
    assert_int_equal(k.restart_backoff_max_ms, 9000);
}

static void test_negative_watchdog_is_rejected(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'watchdog_ms': -1"), "kernels[0].watchdog_ms",
               "expected an integer between 0 and 2147483647 (ms, 0 = off), got -1");
}

static void test_watchdog_as_a_string_is_rejected(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'watchdog_ms': '1s'"), "kernels[0].watchdog_ms", "got \"1s\"");
}

static void test_restart_must_be_an_object(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'restart': 3"), "kernels[0].restart",
               "expected an object with \"max\"");
}

static void test_unknown_restart_key_suggests_the_nearest(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'restart': {'backof_ms': 10}"), "kernels[0].restart",
               "unknown key \"backof_ms\"; did you mean \"backoff_ms\"?");
}

static void test_negative_restart_max_is_rejected(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'restart': {'max': -2}"), "kernels[0].restart.max",
               "expected an integer between 0 and 1000000 (restarts), got -2");
}

static void test_backoff_max_below_backoff_is_rejected(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'restart': {'backoff_ms': 50, 'backoff_max_ms': 10}"),
               "kernels[0].restart.backoff_max_ms",
               "expected an integer between 50 and 2147483647 (ms, at least backoff_ms), got 10");
}

static void test_failed_batches_as_a_real_is_rejected(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'restart': {'failed_batches': 1.5}"),
               "kernels[0].restart.failed_batches", "got 1.5");
}

static void test_misspelt_watchdog_key_suggests_watchdog_ms(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'watchdog_sm': 5"), "kernels[0]",
               "unknown key \"watchdog_sm\"; did you mean \"watchdog_ms\"?");
}

static void test_isolation_is_thread_unless_process_is_asked(void **state)
{
    (void)state;
    assert_string_equal(load_kernel(MANIFEST("")).executor, "thread");
    assert_string_equal(load_kernel(MANIFEST(", 'isolation': 'thread'")).executor, "thread");
    assert_string_equal(load_kernel(MANIFEST(", 'isolation': 'process'")).executor, "process");
}

static void test_unknown_isolation_is_rejected(void **state)
{
    (void)state;
    expect_bad(MANIFEST(", 'isolation': 'container'"), "kernels[0].isolation",
               "got \"container\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_watchdog_and_default_restarts_when_absent),
        cmocka_unit_test(test_watchdog_and_restart_keys_are_read),
        cmocka_unit_test(test_a_long_first_backoff_raises_the_default_backoff_max),
        cmocka_unit_test(test_negative_watchdog_is_rejected),
        cmocka_unit_test(test_watchdog_as_a_string_is_rejected),
        cmocka_unit_test(test_restart_must_be_an_object),
        cmocka_unit_test(test_unknown_restart_key_suggests_the_nearest),
        cmocka_unit_test(test_negative_restart_max_is_rejected),
        cmocka_unit_test(test_backoff_max_below_backoff_is_rejected),
        cmocka_unit_test(test_failed_batches_as_a_real_is_rejected),
        cmocka_unit_test(test_misspelt_watchdog_key_suggests_watchdog_ms),
        cmocka_unit_test(test_isolation_is_thread_unless_process_is_asked),
        cmocka_unit_test(test_unknown_isolation_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
