/*
 * test_cli_proc.c — the harness the CLI tests stand on (tests/support/proc.c),
 * checked against /bin/sh so that a red CLI test is never the harness's
 * fault: outputs captured in full without deadlock, stdin delivered, exit
 * codes and signals reported, a runaway child killed at its timeout, and a
 * background child signalled and waited for.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proc.h"

static void sh(const char *script, const char *stdin_text, double timeout_s, proc_result *r)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    assert_int_equal(proc_run(argv, stdin_text, timeout_s, r), 0);
}

static void test_run_captures_stdout_stderr_and_exit_code(void **state)
{
    (void)state;
    proc_result r;
    sh("echo out; echo err >&2; exit 3", NULL, 10, &r);
    assert_int_equal(r.exit_code, 3);
    assert_int_equal(r.term_signal, 0);
    assert_false(r.timed_out);
    assert_string_equal(r.out, "out\n");
    assert_string_equal(r.err, "err\n");
    proc_result_free(&r);
}

static void test_run_drains_megabytes_on_both_streams_without_deadlock(void **state)
{
    (void)state;
    proc_result r;
    /* 4 MiB to each stream, interleaved: far beyond any pipe buffer */
    sh("i=0; while [ $i -lt 64 ]; do head -c 65536 /dev/zero | tr '\\0' a; "
       "head -c 65536 /dev/zero | tr '\\0' b >&2; i=$((i+1)); done",
       NULL, 60, &r);
    assert_false(r.timed_out);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.out_len, 64 * 65536);
    assert_int_equal(r.err_len, 64 * 65536);
    assert_int_equal(strspn(r.out, "a"), 64 * 65536);
    assert_int_equal(strspn(r.err, "b"), 64 * 65536);
    proc_result_free(&r);
}

static void test_run_feeds_stdin_text_larger_than_a_pipe(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *text = malloc(n + 1);
    assert_non_null(text);
    memset(text, 'x', n);
    text[n] = 0;
    proc_result r;
    sh("cat", text, 30, &r);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.out_len, n);
    assert_memory_equal(r.out, text, n);
    free(text);
    proc_result_free(&r);
}

static void test_run_survives_a_child_that_ignores_its_stdin(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *text = calloc(1, n + 1);
    assert_non_null(text);
    memset(text, 'y', n);
    proc_result r;
    sh("exec 0<&-; echo done", text, 30, &r);
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.out, "done\n");
    free(text);
    proc_result_free(&r);
}

static void test_run_kills_a_child_past_its_timeout_and_says_so(void **state)
{
    (void)state;
    proc_result r;
    double t0 = proc_now();
    sh("echo started; exec sleep 30", NULL, 0.5, &r);
    assert_true(r.timed_out);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_int_equal(r.exit_code, -1);
    assert_true(proc_now() - t0 < 10.0);
    assert_string_equal(r.out, "started\n"); /* what it wrote before is kept */
    proc_result_free(&r);
}

static void test_run_reports_a_signal_that_ended_the_child(void **state)
{
    (void)state;
    proc_result r;
    sh("kill -TERM $$", NULL, 10, &r);
    assert_false(r.timed_out);
    assert_int_equal(r.term_signal, SIGTERM);
    assert_int_equal(r.exit_code, -1);
    proc_result_free(&r);
}

static void test_run_of_a_missing_program_fails_to_start(void **state)
{
    (void)state;
    proc_result r;
    char *argv[] = {"/nonexistent/program", NULL};
    assert_int_equal(proc_run(argv, NULL, 5, &r), -1);
    proc_result_free(&r);
}

static void test_background_child_is_signalled_and_waited_for(void **state)
{
    (void)state;
    proc p;
    char *argv[] = {"/bin/sh", "-c",
                    "trap 'echo bye >&2; exit 7' TERM; echo up; while :; do sleep 0.05; done",
                    NULL};
    assert_int_equal(proc_start(&p, argv), 0);
    /* wait until it is up (its trap installed) */
    double deadline = proc_now() + 10;
    for (;;) {
        FILE *f = fopen(p.out_path, "r");
        char buf[8] = "";
        if (f) {
            if (!fgets(buf, sizeof buf, f))
                buf[0] = 0;
            fclose(f);
        }
        if (strcmp(buf, "up\n") == 0)
            break;
        assert_true(proc_now() < deadline);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    assert_true(proc_running(&p));
    assert_int_equal(proc_signal(&p, SIGTERM), 0);
    proc_result r;
    assert_int_equal(proc_wait(&p, 10, &r), 0);
    assert_false(r.timed_out);
    assert_int_equal(r.exit_code, 7);
    assert_string_equal(r.out, "up\n");
    assert_string_equal(r.err, "bye\n");
    assert_false(proc_running(&p));
    proc_result_free(&r);
}

static void test_background_child_past_its_wait_timeout_is_killed(void **state)
{
    (void)state;
    proc p;
    char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
    assert_int_equal(proc_start(&p, argv), 0);
    proc_result r;
    assert_int_equal(proc_wait(&p, 0.3, &r), 0);
    assert_true(r.timed_out);
    assert_int_equal(r.term_signal, SIGKILL);
    proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_captures_stdout_stderr_and_exit_code),
        cmocka_unit_test(test_run_drains_megabytes_on_both_streams_without_deadlock),
        cmocka_unit_test(test_run_feeds_stdin_text_larger_than_a_pipe),
        cmocka_unit_test(test_run_survives_a_child_that_ignores_its_stdin),
        cmocka_unit_test(test_run_kills_a_child_past_its_timeout_and_says_so),
        cmocka_unit_test(test_run_reports_a_signal_that_ended_the_child),
        cmocka_unit_test(test_run_of_a_missing_program_fails_to_start),
        cmocka_unit_test(test_background_child_is_signalled_and_waited_for),
        cmocka_unit_test(test_background_child_past_its_wait_timeout_is_killed),
    };
    return cmocka_run_group_tests_name("cli harness (proc)", tests, NULL, NULL);
}
