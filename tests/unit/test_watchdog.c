/*
 * test_watchdog.c — kernel faults in a live host (host/src/watchdog.c),
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
#include "runtime_pvt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define TEST_PLUGINS RH_TEST_BUILD_DIR "/test_plugins"

static char log_path[128];
static FILE *log_file;

/* Launch "queues"/"kernels" body with the build's and the test plugins,
 * logging to log_path (read back by log_count), and activate it. */
static rh_runtime *launch(const char *name, const char *body)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/rh-test-wd-%d-%s.json", (int)getpid(), name);
    snprintf(log_path, sizeof log_path, "/tmp/rh-test-wd-%d-%s.log", (int)getpid(), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"ringhost\": 1, \"name\": \"wd%d-%s\", \"plugins\": [\"%s\", \"%s\"], %s}\n",
            (int)getpid(), name, RH_TEST_PLUGIN_DIR, TEST_PLUGINS, body);
    fclose(f);
    log_file = fopen(log_path, "w");
    assert_non_null(log_file);
    rh_runtime *rt = NULL;
    rh_error err = {0};
    rh_launch_opts opts = {.log = log_file};
    int rc = rh_runtime_launch(path, &opts, &rt, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("launch of %s failed: %s", name, err.msg);
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    return rt;
}

static void finish(rh_runtime *rt)
{
    rh_runtime_destroy(rt);
    fclose(log_file);
    unlink(log_path);
}

/* Lines of the log so far holding every one of the words (NULL-ended). */
static int log_count(const char *w1, const char *w2)
{
    fflush(log_file);
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, w1) && (!w2 || strstr(line, w2));
    fclose(f);
    return n;
}

/* The "text" of the next message of qname, or "" after timeout_ms. */
static const char *recv_text(rh_runtime *rt, const char *qname, int timeout_ms)
{
    static char text[128];
    rh_envelope env;
    void *buf = NULL;
    text[0] = 0;
    if (rt_recv_one(rt, qname, &env, &buf, timeout_ms) > 0) {
        json_t *j = rh_queue_type(rh_runtime_queue(rt, qname))->encode(buf);
        snprintf(text, sizeof text, "%s", json_string_value(json_object_get(j, "text")));
        json_decref(j);
    }
    free(buf);
    return text;
}

/* How many times kernel f's init() ran in this process so far (the plugin
 * may stay loaded from an earlier test, so tests compare two readings). */
static int inits_of(rh_runtime *rt)
{
    rt_send_json(rt, "f.in", "{\"text\": \"inits\"}", NULL);
    const char *t = recv_text(rt, "f.out", 5000);
    if (strncmp(t, "inits=", 6) != 0)
        fail_msg("expected \"inits=N\" from f, got \"%s\"", t);
    return atoi(t + 6);
}

static rh_kernel_info info_of(rh_runtime *rt, uint32_t index)
{
    rh_kernel_info ki;
    assert_int_equal(rh_runtime_kernel_info(rt, index, &ki), 0);
    return ki;
}

static uint64_t depth_of(rh_runtime *rt, const char *qname)
{
    rh_queue_stats s;
    rh_queue_stats_get(rh_runtime_queue(rt, qname), &s);
    return s.depth;
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
    rh_runtime *rt = launch("stall", FAULTY_AND_ECHO(", \"watchdog_ms\": 100"));
    rt_send_json(rt, "f.in", "{\"text\": \"sleep:3000\"}", NULL);
    /* Reported by the watchdog thread: the call has not returned yet. */
    rh_kernel_info ki = info_of(rt, 0);
    for (int i = 0; i < 250 && !(ki.busy && ki.stalls == 1); i++) {
        rt_sleep_ms(10);
        ki = info_of(rt, 0);
    }
    if (!(ki.busy && ki.stalls == 1))
        fail_msg("expected the stall counted while the call runs, got busy=%d stalls=%llu",
                 ki.busy, (unsigned long long)ki.stalls);
    assert_int_equal(log_count("kernel.stalled", "kernel=f worker=0"), 1);
    /* The other kernel answers meanwhile. */
    rt_send_json(rt, "e.in", "{\"text\": \"alive\"}", NULL);
    assert_string_equal(recv_text(rt, "e.out", 5000), "alive");
    /* The call returns: its message is answered, the stall counted once. */
    assert_string_equal(recv_text(rt, "f.out", 10000), "sleep:3000");
    assert_int_equal(info_of(rt, 0).stalls, 1);
    assert_int_equal(log_count("kernel.stalled", NULL), 1);
    finish(rt);
}

static void test_kernel_is_restarted_once_a_stalled_call_returns(void **state)
{
    (void)state;
    rh_runtime *rt = launch("restart", FAULTY_AND_ECHO(
                                           ", \"watchdog_ms\": 50, \"restart\": {\"backoff_ms\": 10}"));
    int inits = inits_of(rt);
    rt_send_json(rt, "f.in", "{\"text\": \"sleep:300\"}", NULL);
    assert_string_equal(recv_text(rt, "f.out", 5000), "sleep:300");
    assert_int_equal(inits_of(rt), inits + 1); /* init() ran again */
    assert_int_equal(info_of(rt, 0).restarts, 1);
    assert_int_equal(info_of(rt, 0).state, RH_STATE_ACTIVE);
    assert_int_equal(log_count("event=kernel.restart ", "rc=0"), 1);
    finish(rt);
}

static void test_a_fast_kernel_is_neither_reported_nor_restarted(void **state)
{
    (void)state;
    rh_runtime *rt = launch("fast", FAULTY_AND_ECHO(", \"watchdog_ms\": 1000"));
    for (int i = 0; i < 20; i++) {
        rt_send_json(rt, "f.in", "{\"text\": \"quick\"}", NULL);
        assert_string_equal(recv_text(rt, "f.out", 5000), "quick");
    }
    assert_int_equal(info_of(rt, 0).stalls, 0);
    assert_int_equal(info_of(rt, 0).restarts, 0);
    finish(rt);
}

/* Send a failing batch and wait until its message is dead-lettered. */
static void fail_one_batch(rh_runtime *rt, uint64_t dead_so_far)
{
    rt_send_json(rt, "f.in", "{\"text\": \"fail-batch\"}", NULL);
    for (int i = 0; i < 500 && depth_of(rt, "f.dlq") < dead_so_far + 1; i++)
        rt_sleep_ms(10);
    assert_int_equal(depth_of(rt, "f.dlq"), dead_so_far + 1);
}

static void test_failed_batches_in_a_row_restart_the_kernel(void **state)
{
    (void)state;
    rh_runtime *rt = launch("failrow", FAULTY_AND_ECHO(
        ", \"restart\": {\"failed_batches\": 2, \"backoff_ms\": 10}"));
    fail_one_batch(rt, 0);
    int inits = inits_of(rt); /* a good batch ends the row */
    assert_int_equal(info_of(rt, 0).restarts, 0);
    fail_one_batch(rt, 1);
    fail_one_batch(rt, 2); /* two in a row */
    assert_int_equal(inits_of(rt), inits + 1);
    assert_int_equal(info_of(rt, 0).restarts, 1);
    finish(rt);
}

static void test_backoff_doubles_after_each_restart_in_a_row_up_to_its_max(void **state)
{
    (void)state;
    rh_runtime *rt = launch("backoff", FAULTY_AND_ECHO(
        ", \"restart\": {\"failed_batches\": 1, \"max\": 10, \"backoff_ms\": 10, "
        "\"backoff_max_ms\": 25}"));
    for (uint64_t i = 0; i < 3; i++)
        fail_one_batch(rt, i);
    assert_int_equal(log_count("kernel.restart_scheduled", "backoff_ms=10"), 1);
    assert_int_equal(log_count("kernel.restart_scheduled", "backoff_ms=20"), 1);
    assert_int_equal(log_count("kernel.restart_scheduled", "backoff_ms=25"), 1);
    /* A good batch ends the row: the next restart waits backoff_ms again. */
    rt_send_json(rt, "f.in", "{\"text\": \"ok\"}", NULL);
    assert_string_equal(recv_text(rt, "f.out", 5000), "ok");
    fail_one_batch(rt, 3);
    assert_int_equal(log_count("kernel.restart_scheduled", "backoff_ms=10"), 2);
    finish(rt);
}

/* The second failure finds restart.max used up while a message waits in
 * the kernel's ring (moved there during the backoff): it stays there,
 * counted queued, and terminate does not wait for it. */
static void test_past_restart_max_the_kernel_is_given_up_and_the_host_keeps_running(void **state)
{
    (void)state;
    rh_runtime *rt = launch("giveup", FAULTY_AND_ECHO(
        ", \"batch\": 1, \"restart\": {\"failed_batches\": 1, \"max\": 1, \"backoff_ms\": 300}"));
    rt_send_json(rt, "f.in", "{\"text\": \"fail-batch\"}", NULL);
    rt_send_json(rt, "f.in", "{\"text\": \"fail-batch\"}", NULL);
    rt_send_json(rt, "f.in", "{\"text\": \"waits\"}", NULL);
    rh_kernel_info ki = info_of(rt, 0);
    for (int i = 0; i < 500 && ki.state != RH_STATE_TERMINATED; i++) {
        rt_sleep_ms(10);
        ki = info_of(rt, 0);
    }
    assert_int_equal(ki.state, RH_STATE_TERMINATED);
    assert_int_equal(ki.restarts, 1);
    assert_int_equal(log_count("kernel.given_up", "kernel=f"), 1);
    assert_int_equal(depth_of(rt, "f.dlq"), 2);
    /* Its queue keeps accepting (queued, not lost); the other kernel answers. */
    rt_send_json(rt, "f.in", "{\"text\": \"also waits\"}", NULL);
    assert_string_equal(recv_text(rt, "f.out", 300), "");
    rt_send_json(rt, "e.in", "{\"text\": \"alive\"}", NULL);
    assert_string_equal(recv_text(rt, "e.out", 5000), "alive");
    /* It is terminated for the lifecycle calls too: pausing or resuming it
     * is refused, saying why (its fini() ran), and nothing comes back. */
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_deactivate(rt, "f", &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "given up"));
    assert_int_equal(rh_runtime_kernel_activate(rt, "f", &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "given up"));
    assert_string_equal(recv_text(rt, "f.out", 300), "");
    /* the host-wide pause and resume does not bring it back either */
    assert_int_equal(rh_runtime_deactivate(rt, &err), 0);
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    assert_string_equal(recv_text(rt, "f.out", 300), "");
    if (rh_runtime_terminate(rt, 5000, &err) != 0)
        fail_msg("terminate: %s", err.msg);
    assert_int_equal(rh_runtime_unbalanced(rt), 0);
    finish(rt);
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
