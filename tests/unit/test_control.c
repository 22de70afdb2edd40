/*
 * test_control.c — the control protocol in-process (control.h): requests
 * handled by rh__control_handle against real runtimes, so what a launch
 * into a running host shares can be checked by pointer, and what the
 * launched runtime's destruction leaves can be checked by using it.
 *
 * The tests run in order on one host: the launch test adds the runtime the
 * next ones use.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "control/control.h"
#include "control/control_pvt.h"
#include "expect.h"
#include "rt_fixture.h"

static struct {
    char dir[64];
    char stage2[128];
    rh_runtime *rt1;
    rh_control *c;
} T;

static int setup(void **state)
{
    (void)state;
    snprintf(T.dir, sizeof T.dir, "/tmp/rh-test-control-XXXXXX");
    if (!mkdtemp(T.dir))
        return -1;
    setenv("RINGHOST_RUNTIME_DIR", T.dir, 1);
    T.rt1 = rt_launch("ctl", "\"queues\": {\"pipe.in\": {\"type\": \"vector.f32\"},"
                             " \"pipe.mid\": {\"type\": \"vector.f32\"}},"
                             " \"kernels\": [{\"name\": \"scale\", \"plugin\": \"scale\","
                             " \"inputs\": {\"in\": \"pipe.in\"},"
                             " \"outputs\": {\"out\": \"pipe.mid\"}}]");
    snprintf(T.stage2, sizeof T.stage2, "%s/stage2.json", T.dir);
    FILE *f = fopen(T.stage2, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"ringhost\": 1, \"name\": \"stage2\", \"plugins\": [\"%s\"],"
               " \"queues\": {\"pipe.mid\": {\"type\": \"vector.f32\"}},"
               " \"kernels\": [{\"name\": \"sum\", \"plugin\": \"sum\","
               " \"inputs\": {\"in\": \"pipe.mid\"}}]}\n", RH_TEST_PLUGIN_DIR);
    fclose(f);
    rh_error err = {0};
    if (rh__control_open(rh_runtime_instance(T.rt1), rt_quiet_log(), &T.c, &err) != 0) {
        print_error("rh__control_open: %s\n", err.msg);
        return -1;
    }
    return rh__control_add_runtime(T.c, T.rt1, "ctl.json");
}

static int teardown(void **state)
{
    (void)state;
    rh__control_close(T.c);
    rh_runtime_destroy(T.rt1);
    unlink(T.stage2);
    rmdir(T.dir);
    return 0;
}

/* rh__control_handle(line) as JSON. */
static json_t *handle(const char *line)
{
    char *text = rh__control_handle(T.c, line, strlen(line));
    json_t *j = json_loads(text, 0, NULL);
    EXPECT(j, "expected a JSON reply to %s, got %s", line, text);
    EXPECT(!strchr(text, '\n'), "expected the reply on one line (the server adds the newline)");
    free(text);
    return j;
}

static void expect_error(const char *line, int code, const char *needle)
{
    json_t *j = handle(line);
    const char *msg = json_string_value(json_object_get(j, "error"));
    EXPECT(json_is_false(json_object_get(j, "ok")) &&
               json_integer_value(json_object_get(j, "code")) == code && msg &&
               strstr(msg, needle),
           "expected {ok: false, code: %d, error: ...%s...} for %s, got %s", code, needle, line,
           json_dumps(j, 0));
    json_decref(j);
}

static void test_lines_that_are_not_requests_get_an_error_reply(void **state)
{
    (void)state;
    expect_error("", RH_EINVAL, "expected one JSON object per line");
    expect_error("[]", RH_EINVAL, "got another JSON value");
    expect_error("{\"cmd\": 5}", RH_EINVAL, "expected \"cmd\"");
    expect_error("{\"cmd\": \"ps\", \"cmd\": \"ps\"}", RH_EINVAL, "duplicate");
    expect_error("{\"cmd\": \"terminate\", \"kernel\": \"scale\", \"timeout_ms\": -1}", RH_EINVAL,
                 "timeout_ms");
    char *text = rh__control_handle(T.c, NULL, RH_CONTROL_LINE_MAX);
    EXPECT(strstr(text, "request line longer than"), "expected the overlong line refused: %s",
           text);
    free(text);
}

static void test_ps_names_each_kernel_with_its_state(void **state)
{
    (void)state;
    json_t *j = handle("{\"cmd\": \"ps\"}");
    json_t *k = json_array_get(json_object_get(j, "kernels"), 0);
    EXPECT(json_is_true(json_object_get(j, "ok")) &&
               strcmp(json_string_value(json_object_get(k, "name")), "scale") == 0 &&
               strcmp(json_string_value(json_object_get(k, "state")), "launched") == 0,
           "expected kernel scale, launched, got %s", json_dumps(j, 0));
    json_decref(j);
}

static void test_launch_shares_the_hosts_queue_object_and_starts_inactive(void **state)
{
    (void)state;
    char line[256];
    snprintf(line, sizeof line, "{\"cmd\": \"launch\", \"manifest\": \"%s\"}", T.stage2);
    json_t *j = handle(line);
    EXPECT(json_is_true(json_object_get(j, "ok")), "expected the launch to succeed: %s",
           json_dumps(j, 0));
    json_decref(j);
    EXPECT(rh__control_runtime_count(T.c) == 2, "expected a second runtime in the host");
    rh_runtime *rt2 = rh__control_runtime(T.c, 1);
    EXPECT(strcmp(rh_runtime_instance(rt2), rh_runtime_instance(T.rt1)) == 0,
           "expected the launched runtime under the host's instance, got %s",
           rh_runtime_instance(rt2));
    EXPECT(rh_runtime_queue(rt2, "pipe.mid") == rh_runtime_queue(T.rt1, "pipe.mid"),
           "expected pipe.mid to be the host's queue, not a new one");
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    rh_runtime_kernel_info(rt2, 0, &ki);
    EXPECT(ki.state == RH_STATE_LAUNCHED, "expected sum launched (inactive), got %s",
           rh_state_name(ki.state));
}

static void test_destroying_the_launched_runtime_leaves_the_shared_queue_to_the_host(void **state)
{
    (void)state;
    if (rh__control_runtime_count(T.c) < 2)
        skip();
    rh_runtime *rt2 = rh__control_runtime(T.c, 1);
    rh_runtime_terminate(rt2, 1000, NULL);
    rh_runtime_destroy(rt2);
    /* the host forgets it (as a shutdown would, in reverse order) */
    free(T.c->rts[1].manifest);
    free(T.c->rts[1].samples);
    T.c->n_rts = 1;
    T.c->peers[1] = NULL;
    /* the host's pipeline still moves a message through pipe.mid */
    rh_runtime_activate(T.rt1, NULL);
    rt_send_json(T.rt1, "pipe.in", "{\"values\": [1, 2]}", NULL);
    rh_envelope env;
    void *buf = NULL;
    int rc = rt_recv_one(T.rt1, "pipe.mid", &env, &buf, 5000);
    free(buf);
    EXPECT(rc >= 0, "expected the scaled message in pipe.mid, got %s", rh_strerror(rc));
    rh_queue *q;
    rc = rh_queue_attach(rh_runtime_instance(T.rt1), "pipe.mid", &q, NULL);
    EXPECT(rc == 0, "expected pipe.mid still in shared memory: %s", rh_strerror(rc));
    rh_queue_close(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_that_are_not_requests_get_an_error_reply),
        cmocka_unit_test(test_ps_names_each_kernel_with_its_state),
        cmocka_unit_test(test_launch_shares_the_hosts_queue_object_and_starts_inactive),
        cmocka_unit_test(test_destroying_the_launched_runtime_leaves_the_shared_queue_to_the_host),
    };
    return cmocka_run_group_tests_name("control", tests, setup, teardown);
}
