/*
 * test_kernel_life.c — one kernel's lifecycle inside a live host
 * (rh_runtime_kernel_*), with the real echo plugin: pausing, resuming and
 * terminating one kernel leaves the others running and loses nothing; ops
 * run on the kernel's own thread; what `ps` reads.
 */
#define _GNU_SOURCE /* pthread_getname_np */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rt_fixture.h"
#include "live/live.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* Two independent echo kernels, a and b. */
static const char *TWO_ECHOS =
    "\"queues\": {\"a.in\": {\"type\": \"echo.message\"}, \"a.out\": {\"type\": \"echo.message\"},"
    " \"b.in\": {\"type\": \"echo.message\"}, \"b.out\": {\"type\": \"echo.message\"}},"
    "\"kernels\": ["
    "{\"name\": \"a\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"a.in\"},"
    " \"outputs\": {\"out\": \"a.out\"}},"
    "{\"name\": \"b\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"b.in\"},"
    " \"outputs\": {\"out\": \"b.out\"}}]";

static rh_state kernel_state(rh_runtime *rt, uint32_t index)
{
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    assert_int_equal(rh_runtime_kernel_info(rt, index, &ki), 0);
    return ki.state;
}

static void test_deactivated_kernel_holds_its_messages_while_the_other_answers(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("pause", TWO_ECHOS);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "a", &err), 0);
    assert_int_equal(kernel_state(rt, 0), RH_STATE_INACTIVE);
    assert_int_equal(kernel_state(rt, 1), RH_STATE_ACTIVE);

    rt_send_json(rt, "a.in", "{\"seq\": 1}", NULL);
    rt_send_json(rt, "b.in", "{\"seq\": 2}", NULL);
    rh_envelope env;
    void *buf = NULL;
    assert_true(rt_recv_one(rt, "b.out", &env, &buf, 2000) > 0);
    assert_int_equal(rt_recv_one(rt, "a.out", &env, &buf, 200), RH_ETIMEDOUT);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(rh_runtime_queue(rt, "a.in"), &s);
    assert_int_equal(s.depth, 1); /* waiting in its queue, not lost */

    assert_int_equal(rh_runtime_kernel_activate(rt, "a", &err), 0);
    assert_true(rt_recv_one(rt, "a.out", &env, &buf, 2000) > 0);
    assert_int_equal(kernel_state(rt, 0), RH_STATE_ACTIVE);
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_activating_one_kernel_of_a_launched_host_runs_only_that_one(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("one", TWO_ECHOS);
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_activate(rt, "b", &err), 0);
    assert_int_equal(rh_runtime_state(rt), RH_STATE_ACTIVE);
    assert_int_equal(kernel_state(rt, 0), RH_STATE_LAUNCHED);
    rt_send_json(rt, "a.in", "{\"seq\": 1}", NULL);
    rt_send_json(rt, "b.in", "{\"seq\": 2}", NULL);
    rh_envelope env;
    void *buf = NULL;
    assert_true(rt_recv_one(rt, "b.out", &env, &buf, 2000) > 0);
    assert_int_equal(rt_recv_one(rt, "a.out", &env, &buf, 200), RH_ETIMEDOUT);
    /* the host-wide activate takes the rest along */
    assert_int_equal(rh_runtime_deactivate(rt, &err), 0);
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    assert_true(rt_recv_one(rt, "a.out", &env, &buf, 2000) > 0);
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_terminated_kernel_ran_fini_and_later_messages_stay_queued(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("term", TWO_ECHOS);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    for (int i = 0; i < 50; i++)
        rt_send_json(rt, "a.in", "{\"seq\": 1}", NULL);
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_terminate(rt, "a", 2000, &err), 0);
    rh_kinst *k = rh__runtime_kernel_find(rt, "a");
    assert_non_null(k);
    assert_true(atomic_load(&k->workers[0].finished));
    assert_int_equal(kernel_state(rt, 0), RH_STATE_TERMINATED);

    /* what it had taken was processed; the rest, and what is sent after,
     * stays in the queue, never taken: the host counts itself idle */
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(rh_runtime_queue(rt, "a.in"), &s);
    uint64_t left = s.depth;
    assert_int_equal(rh_runtime_kernel_processed(rt, "a") + (int64_t)left, 50);
    rt_send_json(rt, "a.in", "{\"seq\": 2}", NULL);
    sleep_ms(50); /* a sleep, not a wait: nobody may take it meanwhile */
    rh_queue_stats_get(rh_runtime_queue(rt, "a.in"), &s);
    assert_int_equal(s.depth, left + 1);
    assert_true(rh_runtime_is_idle(rt));

    /* the other kernel still answers */
    rt_send_json(rt, "b.in", "{\"seq\": 3}", NULL);
    rh_envelope env;
    void *buf = NULL;
    assert_true(rt_recv_one(rt, "b.out", &env, &buf, 2000) > 0);

    /* illegal transitions are errors, not no-ops */
    assert_int_equal(rh_runtime_kernel_terminate(rt, "a", 100, &err), RH_ESTATE);
    assert_int_equal(rh_runtime_kernel_activate(rt, "a", &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "terminated"));

    assert_int_equal(rh_runtime_terminate(rt, 2000, &err), 0);
    assert_int_equal(rh_runtime_unbalanced(rt), 0);
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_unknown_kernel_is_refused_naming_the_kernels_there_are(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("unknown", TWO_ECHOS);
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_activate(rt, "c", &err), RH_ENOENT);
    assert_non_null(strstr(err.msg, "\"c\""));
    assert_non_null(strstr(err.msg, "a, b"));
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "a", &err), RH_ESTATE); /* launched */
    rh_runtime_destroy(rt);
}

/*
 * Pausing one kernel waits for its own threads only: kernel b is paused
 * while kernel a, on threads of its own, is still inside a 2 s process()
 * call (before, the pause waited for every thread of the host, a's too,
 * and a call past 5 s made it time out).
 */
static void test_pausing_a_kernel_does_not_wait_for_another_kernels_long_call(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch(
        "own", "\"queues\": {\"a.in\": {\"type\": \"echo.message\"},"
               " \"b.in\": {\"type\": \"echo.message\"}},"
               "\"kernels\": ["
               "{\"name\": \"a\", \"plugin\": \"slow\", \"inputs\": {\"in\": \"a.in\"},"
               " \"config\": {\"delay_us\": 2000000}},"
               "{\"name\": \"b\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"b.in\"}}]");
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rt_send_json(rt, "a.in", "{\"seq\": 1}", NULL);
    rh_kernel_info ka = RH_KERNEL_INFO_INIT;
    /* a enters its long call (2 s) */
    EXPECT_WITHIN(2, (ka = rt_kernel_info(rt, 0)).busy,
                  "expected kernel a inside its 2 s call within 2 s of the send");
    assert_true(ka.busy);
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "b", &err), 0);
    assert_int_equal(rh_runtime_kernel_info(rt, 0, &ka), 0);
    assert_true(ka.busy); /* b's pause did not wait for a's call to end */
    assert_int_equal(rh_runtime_terminate(rt, 5000, &err), 0);
    rh_runtime_destroy(rt);
}

static void record_thread_name(rh_worker *w, void *arg)
{
    (void)w;
    pthread_getname_np(pthread_self(), arg, 16);
}

static void test_worker_op_runs_on_the_kernels_own_thread_even_while_paused(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("op", TWO_ECHOS);
    rh_kinst *k = rh__runtime_kernel_find(rt, "b");
    char name[16] = "";
    rh_worker_op op = {.fn = record_thread_name, .arg = name};
    assert_int_equal(rh__worker_call(&k->workers[0], &op, rh_now_ns() + 2000000000ull), 0);
    assert_string_equal(name, k->workers[0].reactor->name);
    rh_runtime_destroy(rt);
}

static void test_kernel_info_counts_and_names_the_threads(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("info", TWO_ECHOS);
    assert_int_equal(rh_runtime_kernel_count(rt), 2);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    for (int i = 0; i < 10; i++)
        rt_send_json(rt, "b.in", "{\"seq\": 1}", NULL);
    rh_envelope env;
    void *buf = NULL;
    for (int i = 0; i < 10; i++)
        assert_true(rt_recv_one(rt, "b.out", &env, &buf, 2000) > 0);
    /* an answer can arrive before its worker has counted the batch: the
     * counts are final once the host is idle (the worker left process()) */
    EXPECT_WITHIN(10, rh_runtime_is_idle(rt),
                  "expected the host idle within 10 s of the last answer");
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    assert_int_equal(rh_runtime_kernel_info(rt, 1, &ki), 0);
    assert_string_equal(ki.name, "b");
    assert_string_equal(ki.plugin, "echo");
    assert_int_equal(ki.processed, 10);
    assert_int_equal(ki.emitted, 10);
    assert_int_equal(ki.workers, 1);
    assert_true(ki.threads[0] != 0);
    assert_true(ki.cpus[0] != 0);
    assert_non_null(strstr(ki.path, "echo"));
    assert_int_equal(rh_runtime_kernel_info(rt, 2, &ki), RH_ENOENT);
    free(buf);
    rh_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deactivated_kernel_holds_its_messages_while_the_other_answers),
        cmocka_unit_test(test_activating_one_kernel_of_a_launched_host_runs_only_that_one),
        cmocka_unit_test(test_terminated_kernel_ran_fini_and_later_messages_stay_queued),
        cmocka_unit_test(test_unknown_kernel_is_refused_naming_the_kernels_there_are),
        cmocka_unit_test(test_pausing_a_kernel_does_not_wait_for_another_kernels_long_call),
        cmocka_unit_test(test_worker_op_runs_on_the_kernels_own_thread_even_while_paused),
        cmocka_unit_test(test_kernel_info_counts_and_names_the_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
