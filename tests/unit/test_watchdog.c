/*
 * test_watchdog.c — kernel faults in a live host (host/src/faults/watchdog.c),
 * with the "faulty" test kernel (tests/plugins/faulty): a call that stays
 * inside process() past watchdog_ms is reported while it runs and the
 * kernel is restarted when it returns; failed batches in a row restart it;
 * the backoff doubles up to its max; past restart.max the kernel is given
 * up while the host and its other kernel keep answering, and the accounting
 * still balances.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "rt_fixture.h"
#include "engine/engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* How many times kernel f's init() ran in this process so far (the plugin
 * may stay loaded from an earlier test, so tests compare two readings). */
static int inits_of(rh_runtime *rt)
{
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"inits\"}", NULL);
    const char *t = rt_recv_text(rt, "f.out", 5000);
    if (strncmp(t, "inits=", 6) != 0)
        fail_msg("expected \"inits=N\" from f, got \"%s\"", t);
    return atoi(t + 6);
}

/* Kernel "f" (faulty) with extra keys, and kernel "e" (echo) beside it. */
#define FAULTY_AND_ECHO(f_extra)                                                             \
    "\"queues\": {\"f.in\": {}, \"f.out\": {}, \"e.in\": {}, \"e.out\": {}},"               \
    "\"kernels\": [{\"name\": \"f\", \"plugin\": \"faulty\", \"inputs\": {\"in\": \"f.in\"}," \
    " \"outputs\": {\"out\": \"f.out\"}" f_extra "},"                                       \
    "{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},"               \
    " \"outputs\": {\"out\": \"e.out\"}}]"

static void test_call_past_watchdog_ms_is_reported_while_still_inside_process(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("stall", FAULTY_AND_ECHO(", \"watchdog_ms\": 100"));
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"sleep:3000\"}", NULL);
    /* Reported by the watchdog thread: the call has not returned yet. */
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    /* within the 3 s call: busy must still hold when the stall is seen */
    WAIT_UNTIL(2.5, (ki = rt_kernel_info(rt, 0)).busy && ki.stalls == 1);
    if (!(ki.busy && ki.stalls == 1))
        fail_msg("expected the stall counted while the call runs, got busy=%d stalls=%llu",
                 ki.busy, (unsigned long long)ki.stalls);
    assert_int_equal(rt_log_count("kernel.stalled", "kernel=f worker=0"), 1);
    /* The other kernel answers meanwhile. */
    rt_send_json(rt, "e.in", "{\"seq\": 0, \"text\": \"alive\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "e.out", 5000), "alive");
    /* The call returns: its message is answered, the stall counted once. */
    assert_string_equal(rt_recv_text(rt, "f.out", 10000), "sleep:3000");
    assert_int_equal(rt_kernel_info(rt, 0).stalls, 1);
    assert_int_equal(rt_log_count("kernel.stalled", NULL), 1);
    rt_destroy_logged(rt);
}

static void test_kernel_is_restarted_once_a_stalled_call_returns(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("restart", FAULTY_AND_ECHO(
                                           ", \"watchdog_ms\": 50, \"restart\": {\"backoff_ms\": 10}"));
    int inits = inits_of(rt);
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"sleep:300\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "f.out", 5000), "sleep:300");
    assert_int_equal(inits_of(rt), inits + 1); /* init() ran again */
    assert_int_equal(rt_kernel_info(rt, 0).restarts, 1);
    assert_int_equal(rt_kernel_info(rt, 0).state, RH_STATE_ACTIVE);
    assert_int_equal(rt_log_count("event=kernel.restart ", "rc=0"), 1);
    rt_destroy_logged(rt);
}

static void test_a_fast_kernel_is_neither_reported_nor_restarted(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("fast", FAULTY_AND_ECHO(", \"watchdog_ms\": 1000"));
    for (int i = 0; i < 20; i++) {
        rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"quick\"}", NULL);
        assert_string_equal(rt_recv_text(rt, "f.out", 5000), "quick");
    }
    assert_int_equal(rt_kernel_info(rt, 0).stalls, 0);
    assert_int_equal(rt_kernel_info(rt, 0).restarts, 0);
    rt_destroy_logged(rt);
}

/* Send a failing batch and wait until its message is dead-lettered. */
static void fail_one_batch(rh_runtime *rt, uint64_t dead_so_far)
{
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"fail-batch\"}", NULL);
    EXPECT_WITHIN(10, rt_queue_depth(rt, "f.dlq") >= dead_so_far + 1,
                  "expected f.dlq to hold %llu dead letter(s) within 10 s, it holds %llu",
                  (unsigned long long)dead_so_far + 1,
                  (unsigned long long)rt_queue_depth(rt, "f.dlq"));
    assert_int_equal(rt_queue_depth(rt, "f.dlq"), dead_so_far + 1);
}

static void test_failed_batches_in_a_row_restart_the_kernel(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("failrow", FAULTY_AND_ECHO(
        ", \"restart\": {\"failed_batches\": 2, \"backoff_ms\": 10}"));
    fail_one_batch(rt, 0);
    int inits = inits_of(rt); /* a good batch ends the row */
    assert_int_equal(rt_kernel_info(rt, 0).restarts, 0);
    fail_one_batch(rt, 1);
    fail_one_batch(rt, 2); /* two in a row */
    assert_int_equal(inits_of(rt), inits + 1);
    assert_int_equal(rt_kernel_info(rt, 0).restarts, 1);
    rt_destroy_logged(rt);
}

static void test_backoff_doubles_after_each_restart_in_a_row_up_to_its_max(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("backoff", FAULTY_AND_ECHO(
        ", \"restart\": {\"failed_batches\": 1, \"max\": 10, \"backoff_ms\": 10, "
        "\"backoff_max_ms\": 25}"));
    for (uint64_t i = 0; i < 3; i++)
        fail_one_batch(rt, i);
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=10"), 1);
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=20"), 1);
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=25"), 1);
    /* A good batch ends the row: the next restart waits backoff_ms again. */
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"ok\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "f.out", 5000), "ok");
    fail_one_batch(rt, 3);
    assert_int_equal(rt_log_count("kernel.restart_scheduled", "backoff_ms=10"), 2);
    rt_destroy_logged(rt);
}

/* The second failure finds restart.max used up while a message waits in
 * the kernel's ring (moved there during the backoff): it stays there,
 * counted queued, and terminate does not wait for it. */
static void test_past_restart_max_the_kernel_is_given_up_and_the_host_keeps_running(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch_logged("giveup", FAULTY_AND_ECHO(
        ", \"batch\": 1, \"restart\": {\"failed_batches\": 1, \"max\": 1, \"backoff_ms\": 300}"));
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"fail-batch\"}", NULL);
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"fail-batch\"}", NULL);
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"waits\"}", NULL);
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    EXPECT_WITHIN(10, (ki = rt_kernel_info(rt, 0)).state == RH_STATE_TERMINATED,
                  "expected f given up (terminated) within 10 s, its state is %d", ki.state);
    assert_int_equal(ki.state, RH_STATE_TERMINATED);
    assert_int_equal(ki.restarts, 1);
    assert_int_equal(rt_log_count("kernel.given_up", "kernel=f"), 1);
    assert_int_equal(rt_queue_depth(rt, "f.dlq"), 2);
    /* Its queue keeps accepting (queued, not lost); the other kernel answers. */
    rt_send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"also waits\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "f.out", 300), "");
    rt_send_json(rt, "e.in", "{\"seq\": 0, \"text\": \"alive\"}", NULL);
    assert_string_equal(rt_recv_text(rt, "e.out", 5000), "alive");
    /* It is terminated for the lifecycle calls too: pausing or resuming it
     * is refused, saying why (its fini() ran), and nothing comes back. */
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "f", &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "given up"));
    assert_int_equal(rh_runtime_kernel_activate(rt, "f", &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "given up"));
    assert_string_equal(rt_recv_text(rt, "f.out", 300), "");
    /* the host-wide pause and resume does not bring it back either */
    assert_int_equal(rh_runtime_deactivate(rt, &err), 0);
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    assert_string_equal(rt_recv_text(rt, "f.out", 300), "");
    if (rh_runtime_terminate(rt, 5000, &err) != 0)
        fail_msg("terminate: %s", err.msg);
    assert_int_equal(rh_runtime_unbalanced(rt), 0);
    rt_destroy_logged(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_past_watchdog_ms_is_reported_while_still_inside_process),
        cmocka_unit_test(test_kernel_is_restarted_once_a_stalled_call_returns),
        cmocka_unit_test(test_a_fast_kernel_is_neither_reported_nor_restarted),
        cmocka_unit_test(test_failed_batches_in_a_row_restart_the_kernel),
        cmocka_unit_test(test_backoff_doubles_after_each_restart_in_a_row_up_to_its_max),
        cmocka_unit_test(test_past_restart_max_the_kernel_is_given_up_and_the_host_keeps_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
