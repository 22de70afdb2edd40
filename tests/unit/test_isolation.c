/*
 * test_isolation.c — the lifecycle of a kernel in its own process
 * ("isolation": "process", host/src/exec/exec_process.c) in a live host, with the
 * "faulty" test kernel (tests/plugins/faulty) beside an echo kernel:
 *
 *  - deactivate returns once the kernel's process has paused at a batch
 *    boundary: nothing more is processed or taken until activate;
 *  - terminating that kernel alone drains its ring, runs fini() in its
 *    process, which exits and is reaped, while the host and the other
 *    kernel run on;
 *  - with "workers": 2 each worker has a process of its own, and a poison
 *    message (one that hangs its process: a crash would run cmocka's
 *    SIGSEGV handler, inherited by the fork) is dead-lettered while the
 *    rest is answered;
 *  - restart.failed_batches restarts the process (a good batch ends the
 *    row), and past restart.max gives the kernel up.
 * Every host ends with its accounting balanced.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ring/ring.h"
#include "proc.h"
#include "rt_fixture.h"
#include "live/live.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* Terminate the host: every accounting line must balance. */
static void finish(rh_runtime *rt)
{
    rh_error err = {0};
    if (rh_runtime_terminate(rt, 5000, &err) != 0)
        fail_msg("terminate: %s", err.msg);
    assert_int_equal(rh_runtime_unbalanced(rt), 0);
    rt_destroy_logged(rt);
}

/* The process f's next batch runs in (its answer to "pid"). */
static int pid_of_f(rh_runtime *rt)
{
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"pid\"}", NULL);
    const char *t = rt_recv_text(rt, "f.out", 5000);
    if (strncmp(t, "pid=", 4) != 0)
        fail_msg("expected \"pid=N\" from f, got \"%s\"", t);
    return atoi(t + 4);
}

/* Kernel "f" (faulty) in its own process with extra keys, "e" (echo). */
#define ISOLATED_AND_ECHO(f_extra)                                                           \
    "\"queues\": {\"f.in\": {}, \"f.out\": {}, \"e.in\": {}, \"e.out\": {}},"               \
    "\"kernels\": [{\"name\": \"f\", \"plugin\": \"faulty\", \"inputs\": {\"in\": \"f.in\"}," \
    " \"outputs\": {\"out\": \"f.out\"}, \"isolation\": \"process\"" f_extra "},"           \
    "{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},"               \
    " \"outputs\": {\"out\": \"e.out\"}}]"

/* ---------------------------------------------------------- planning -- */

/* What the process executor cannot do is refused at planning, naming the
 * file and the JSON path: `validate` says it, and no launch starts. */
static void test_process_isolation_with_an_inline_bridge_is_refused_at_planning(void **state)
{
    (void)state;
    const char *path = rt_write_manifest(
        "inline", "\"queues\": {\"e.in\": {}, \"e.out\": {}},"
                  "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
                  "\"e.in\"}, \"outputs\": {\"out\": \"e.out\"}, \"bridge\": \"inline\","
                  " \"isolation\": \"process\"}]");
    char file[4096];
    snprintf(file, sizeof file, "%s", path);
    rh_error err = {0};
    assert_int_equal(rh_runtime_validate(file, NULL, NULL, &err), RH_EMANIFEST);
    unlink(file);
    assert_non_null(strstr(err.msg, file));
    assert_non_null(strstr(err.msg, "kernels[0].isolation: expected \"thread\" with \"bridge\": "
                                    "\"inline\", got \"process\""));
    rh_runtime *rt = NULL;
    assert_int_equal(rt_try_launch("inline2", "\"queues\": {\"e.in\": {}, \"e.out\": {}},"
                     "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
                     "\"e.in\"}, \"outputs\": {\"out\": \"e.out\"}, \"bridge\": \"inline\","
                     " \"isolation\": \"process\"}]", &rt, &err), RH_EMANIFEST);
    assert_null(rt);
}

/* ---------------------------------------------------------------- pause -- */

static void test_deactivate_returns_once_the_kernel_process_paused_at_a_batch_boundary(
    void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("pause", ISOLATED_AND_ECHO(", \"batch\": 1"));
    rh_kinst *k = rh__runtime_kernel_find(rt, "f");
    enum { N = 100 };
    for (int i = 0; i < N; i++)
        rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"sleep:5\"}", NULL);
    EXPECT_WITHIN(10, rt_kernel_info(rt, 0).processed >= 5,
                  "expected f to process 5 batches within 10 s");
    rh_error err = {0};
    uint64_t t0 = rh_now_ns();
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "f", &err), 0);
    print_message("deactivate of f (inside 5 ms calls) returned after %.3f ms\n",
                  (double)(rh_now_ns() - t0) / 1e6);
    rh_kernel_info a = rt_kernel_info(rt, 0);
    uint64_t ring = rh__ring_count(k->workers[0].in[0]), queued = rt_queue_depth(rt, "f.in");
    assert_true(a.processed < N);
    assert_false(a.busy);
    sleep_ms(300); /* a sleep, not a wait: nothing may happen while paused */
    rh_kernel_info b = rt_kernel_info(rt, 0);
    assert_int_equal(b.processed, a.processed); /* not one batch more */
    assert_int_equal(b.emitted, a.emitted);
    assert_int_equal(rh__ring_count(k->workers[0].in[0]), ring); /* nothing taken */
    assert_int_equal(rt_queue_depth(rt, "f.in"), queued);
    /* The other kernel answers meanwhile. */
    rt_send_json(rt, "e.in", "{\"seq\": 0, \"text\": \"alive\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "e.out", 5000), "alive");
    /* Resumed: every message answered, once. */
    assert_int_equal(rh_runtime_kernel_activate(rt, "f", &err), 0);
    for (int i = 0; i < N; i++)
        assert_string_equal(rt_recv_text(rt, "f.out", 5000), "sleep:5");
    assert_string_equal(rt_recv_text(rt, "f.out", 200), "");
    assert_int_equal(rt_kernel_info(rt, 0).processed, N);
    /* Idle, its process sleeps on its bells: the pause rings one. */
    t0 = rh_now_ns();
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "f", &err), 0);
    print_message("deactivate of f (idle) returned after %.3f ms\n",
                  (double)(rh_now_ns() - t0) / 1e6);
    assert_int_equal(rh_runtime_kernel_activate(rt, "f", &err), 0);
    finish(rt);
}

/* The host-wide deactivate waits for the kernel processes too. */
static void test_host_deactivate_waits_for_the_kernel_process_to_pause(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("hostpause", ISOLATED_AND_ECHO(", \"batch\": 1"));
    enum { N = 60 };
    for (int i = 0; i < N; i++)
        rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"sleep:5\"}", NULL);
    EXPECT_WITHIN(10, rt_kernel_info(rt, 0).processed >= 5,
                  "expected f to process 5 batches within 10 s");
    rh_error err = {0};
    assert_int_equal(rh_runtime_deactivate(rt, &err), 0);
    uint64_t p = rt_kernel_info(rt, 0).processed;
    sleep_ms(300); /* a sleep, not a wait: nothing may happen while paused */
    assert_int_equal(rt_kernel_info(rt, 0).processed, p);
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    for (int i = 0; i < N; i++)
        assert_string_equal(rt_recv_text(rt, "f.out", 5000), "sleep:5");
    finish(rt);
}

/* A process that never leaves process() never reaches a batch boundary:
 * deactivate gives up after 5 s, as for a thread, and says so. */
static void test_deactivate_of_a_kernel_process_stuck_in_process_times_out(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("stuck", ISOLATED_AND_ECHO(", \"batch\": 1"));
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"hang\"}", NULL);
    EXPECT_WITHIN(10, rt_kernel_info(rt, 0).busy,
                  "expected f inside its hanging call within 10 s");
    assert_true(rt_kernel_info(rt, 0).busy);
    rh_error err = {0};
    uint64_t t0 = rh_now_ns();
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "f", &err), RH_ETIMEDOUT);
    assert_true(rh_now_ns() - t0 >= 4900000000ull);
    assert_non_null(strstr(err.msg, "did not reach a batch boundary"));
    /* The other kernel answers; terminate kills the stuck process. */
    rt_send_json(rt, "e.in", "{\"seq\": 0, \"text\": \"alive\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "e.out", 5000), "alive");
    rh_runtime_terminate(rt, 500, &err);
    assert_int_equal(rt_log_count("kernel.process_killed", "kernel=f"), 1);
    rt_destroy_logged(rt);
}

/* ------------------------------------------------------------ terminate -- */

static void test_terminating_an_isolated_kernel_alone_drains_it_and_reaps_its_process(
    void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("term", ISOLATED_AND_ECHO(", \"batch\": 1"));
    int pid = pid_of_f(rt);
    assert_true(pid > 0 && pid != getpid());
    enum { N = 30 };
    for (int i = 0; i < N; i++)
        rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"sleep:3\"}", NULL);
    rh_error err = {0};
    if (rh_runtime_kernel_terminate(rt, "f", 5000, &err) != 0)
        fail_msg("terminate f: %s", err.msg);
    assert_int_equal(rt_kernel_info(rt, 0).state, RH_STATE_TERMINATED);
    /* What reached its ring was answered; the rest waits in f.in. */
    uint64_t left = rt_queue_depth(rt, "f.in");
    uint64_t answered = 0;
    while (strcmp(rt_recv_text(rt, "f.out", 300), "sleep:3") == 0)
        answered++;
    assert_int_equal(answered + left, N);
    assert_int_equal(rt_kernel_info(rt, 0).processed, 1 + answered);
    /* fini() ran in its process, which exited and was reaped: no zombie. */
    assert_int_equal(rt_log_count("faulty: fini", NULL), 1);
    EXPECT_WITHIN(10, proc_gone(pid),
                  "expected f's process %d reaped within 10 s of terminate", pid);
    assert_true(proc_gone(pid));
    assert_int_equal(rh__exec_worker_pid(&rh__runtime_kernel_find(rt, "f")->workers[0]), 0);
    assert_int_equal(rt_log_count("kernel.crashed", NULL), 0);
    assert_int_equal(rt_log_count("kernel.restart", NULL), 0);
    /* The host and the other kernel run on; f takes nothing more. */
    rt_send_json(rt, "e.in", "{\"seq\": 0, \"text\": \"alive\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "e.out", 5000), "alive");
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"waits\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "f.out", 300), "");
    assert_int_equal(rh_runtime_kernel_activate(rt, "f", &err), RH_ESTATE);
    finish(rt);
}

/* A kernel process killed (a hang past watchdog_ms) waits out a long
 * backoff before the next one forks; terminating the kernel then forks it
 * at once to drain (as a thread skips its backoff when draining): the hang,
 * retried alone, is killed again and dead-lettered, the rest answered. */
static void test_terminating_an_isolated_kernel_in_its_restart_backoff_does_not_wait_it_out(
    void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("termbackoff", ISOLATED_AND_ECHO(
        ", \"batch\": 1, \"watchdog_ms\": 100, \"restart\": {\"backoff_ms\": 4000}"));
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"hang\"}", NULL);
    EXPECT_WITHIN(10, rt_log_count("kernel.restart_scheduled", "kernel=f") >= 1,
                  "expected kernel.restart_scheduled logged for f within 10 s");
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "kernel=f"), 1);
    for (int i = 0; i < 5; i++)
        rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"ok\"}", NULL);
    /* into its ring: the host's pump runs during the backoff */
    EXPECT_WITHIN(3, rt_queue_depth(rt, "f.in") == 0,
                  "expected the 5 messages moved from f.in into f's ring within the 4 s backoff, "
                  "%llu left", (unsigned long long)rt_queue_depth(rt, "f.in"));
    rh_error err = {0};
    if (rh_runtime_kernel_terminate(rt, "f", 3000, &err) != 0)
        fail_msg("terminate f: %s", err.msg);
    for (int i = 0; i < 5; i++)
        assert_string_equal(rt_recv_text(rt, "f.out", 5000), "ok");
    assert_int_equal(rt_queue_depth(rt, "f.dlq"), 1);
    assert_int_equal(rt_log_count("kernel.poison", "kernel=f"), 1);
    assert_int_equal(rt_kernel_info(rt, 0).state, RH_STATE_TERMINATED);
    finish(rt);
}

/* -------------------------------------------------------------- workers -- */

static void test_two_isolated_workers_run_in_two_processes_and_poison_is_dead_lettered(
    void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("two", ISOLATED_AND_ECHO(
        ", \"workers\": 2, \"watchdog_ms\": 200, \"restart\": {\"backoff_ms\": 10}"));
    rh_kinst *k = rh__runtime_kernel_find(rt, "f");
    assert_int_equal(k->n_workers, 2);
    int p0 = rh__exec_worker_pid(&k->workers[0]), p1 = rh__exec_worker_pid(&k->workers[1]);
    assert_true(p0 > 0 && p1 > 0 && p0 != p1 && p0 != getpid() && p1 != getpid());
    for (int i = 0; i < 20; i++) {
        int p = pid_of_f(rt);
        assert_true(p == p0 || p == p1);
    }
    enum { N = 200 };
    for (int i = 0; i < N; i++)
        rt_send_json(rt, "f.in", i == N / 2 ? "{\"seq\": 0, \"text\": \"hang\"}" : "{\"seq\": 0, \"text\": \"ok\"}",
                     NULL);
    for (int i = 0; i < N - 1; i++)
        assert_string_equal(rt_recv_text(rt, "f.out", 5000), "ok");
    assert_string_equal(rt_recv_text(rt, "f.out", 300), ""); /* none twice */
    EXPECT_WITHIN(10, rt_queue_depth(rt, "f.dlq") >= 1,
                  "expected the poison message in f.dlq within 10 s");
    assert_int_equal(rt_queue_depth(rt, "f.dlq"), 1);
    assert_int_equal(rt_log_count("kernel.poison", "kernel=f"), 1);
    assert_int_equal(rt_log_count("kernel.stalled", "kernel=f"), 2); /* killed, twice */
    assert_int_equal(rt_log_count("kernel.crashed", "kernel=f"), 2);
    rt_send_json(rt, "e.in", "{\"seq\": 0, \"text\": \"alive\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "e.out", 5000), "alive");
    /* Both processes stop at terminate (fini() in each), none killed. */
    rh_error err = {0};
    if (rh_runtime_terminate(rt, 5000, &err) != 0)
        fail_msg("terminate: %s", err.msg);
    assert_int_equal(rt_log_count("faulty: fini", NULL), 2);
    assert_int_equal(rt_log_count("process_killed", NULL), 0);
    assert_int_equal(rh_runtime_unbalanced(rt), 0);
    rt_destroy_logged(rt);
}

/* cmocka catches SIGSEGV in this program; the kernel process must die of
 * it all the same (a crash handled as a crash), twice, then poison. */
static void test_a_crash_kills_the_kernel_process_whatever_handler_the_host_program_has(
    void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("crash", ISOLATED_AND_ECHO(", \"restart\": {\"backoff_ms\": 10}"));
    for (int i = 0; i < 20; i++)
        rt_send_json(rt, "f.in", i == 10 ? "{\"seq\": 0, \"text\": \"crash\"}" : "{\"seq\": 0, \"text\": \"ok\"}",
                     NULL);
    for (int i = 0; i < 19; i++)
        assert_string_equal(rt_recv_text(rt, "f.out", 5000), "ok");
    EXPECT_WITHIN(10, rt_queue_depth(rt, "f.dlq") >= 1,
                  "expected the poison message in f.dlq within 10 s");
    assert_int_equal(rt_queue_depth(rt, "f.dlq"), 1);
    assert_int_equal(rt_log_count("kernel.crashed", "killed by SIGSEGV"), 2);
    assert_int_equal(rt_log_count("kernel.poison", "killed by SIGSEGV twice"), 1);
    finish(rt);
}

/* ------------------------------------------------------- failed batches -- */

/* Send a "fail-batch" and wait until it is dead-lettered. */
static void fail_one_batch(rh_runtime *rt, uint64_t dead_so_far)
{
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"fail-batch\"}", NULL);
    EXPECT_WITHIN(10, rt_queue_depth(rt, "f.dlq") >= dead_so_far + 1,
                  "expected f.dlq to hold %llu dead letter(s) within 10 s, it holds %llu",
                  (unsigned long long)dead_so_far + 1,
                  (unsigned long long)rt_queue_depth(rt, "f.dlq"));
    assert_int_equal(rt_queue_depth(rt, "f.dlq"), dead_so_far + 1);
}

static void test_failed_batches_in_a_row_restart_the_kernel_process(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("failrow", ISOLATED_AND_ECHO(
        ", \"restart\": {\"failed_batches\": 2, \"backoff_ms\": 10}"));
    int pid = pid_of_f(rt);
    fail_one_batch(rt, 0);
    assert_int_equal(pid_of_f(rt), pid); /* a good batch ends the row */
    fail_one_batch(rt, 1);
    fail_one_batch(rt, 2); /* two in a row */
    int pid2 = pid_of_f(rt);
    assert_true(pid2 > 0 && pid2 != pid);
    assert_int_equal(rt_kernel_info(rt, 0).restarts, 1);
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "reason=failed_batches"), 1);
    assert_int_equal(rt_log_count("faulty: fini", NULL), 1); /* the old process's */
    assert_int_equal(rt_log_count("kernel.crashed", NULL), 0);
    finish(rt);
}

/* The failed batches count as batches, yet they do not end the row: the
 * backoff doubles as for a thread; a good batch in the process ends it. */
static void test_failed_batches_restarts_of_a_kernel_process_double_the_backoff(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("backoff", ISOLATED_AND_ECHO(
        ", \"restart\": {\"failed_batches\": 1, \"max\": 10, \"backoff_ms\": 10, "
        "\"backoff_max_ms\": 25}"));
    for (uint64_t i = 0; i < 3; i++)
        fail_one_batch(rt, i);
    EXPECT_WITHIN(10, rt_log_count("kernel.restart_scheduled", NULL) >= 3,
                  "expected 3 kernel.restart_scheduled lines within 10 s");
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=10"), 1);
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=20"), 1);
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=25"), 1);
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"ok\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "f.out", 5000), "ok");
    fail_one_batch(rt, 3);
    EXPECT_WITHIN(10, rt_log_count("kernel.restart_scheduled", NULL) >= 4,
                  "expected 4 kernel.restart_scheduled lines within 10 s");
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=10"), 2);
    finish(rt);
}

static void test_isolated_kernel_failing_every_batch_is_given_up_past_restart_max(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("giveup", ISOLATED_AND_ECHO(
        ", \"batch\": 1, \"restart\": {\"failed_batches\": 1, \"max\": 1, \"backoff_ms\": 10}"));
    fail_one_batch(rt, 0);
    fail_one_batch(rt, 1);
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    EXPECT_WITHIN(10, (ki = rt_kernel_info(rt, 0)).state == RH_STATE_TERMINATED,
                  "expected f given up (terminated) within 10 s, its state is %d", ki.state);
    assert_int_equal(ki.state, RH_STATE_TERMINATED);
    assert_int_equal(ki.restarts, 1);
    assert_int_equal(rt_log_count("kernel.given_up", "kernel=f"), 1);
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"waits\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "f.out", 300), "");
    rt_send_json(rt, "e.in", "{\"seq\": 0, \"text\": \"alive\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "e.out", 5000), "alive");
    finish(rt);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_deactivate_returns_once_the_kernel_process_paused_at_a_batch_boundary),
        cmocka_unit_test(test_host_deactivate_waits_for_the_kernel_process_to_pause),
        cmocka_unit_test(test_process_isolation_with_an_inline_bridge_is_refused_at_planning),
        cmocka_unit_test(test_deactivate_of_a_kernel_process_stuck_in_process_times_out),
        cmocka_unit_test(
            test_terminating_an_isolated_kernel_alone_drains_it_and_reaps_its_process),
        cmocka_unit_test(
            test_terminating_an_isolated_kernel_in_its_restart_backoff_does_not_wait_it_out),
        cmocka_unit_test(
            test_two_isolated_workers_run_in_two_processes_and_poison_is_dead_lettered),
        cmocka_unit_test(
            test_a_crash_kills_the_kernel_process_whatever_handler_the_host_program_has),
        cmocka_unit_test(test_failed_batches_in_a_row_restart_the_kernel_process),
        cmocka_unit_test(test_failed_batches_restarts_of_a_kernel_process_double_the_backoff),
        cmocka_unit_test(test_isolated_kernel_failing_every_batch_is_given_up_past_restart_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
