/*
 * test_cli_release.c — what terminate releases, and what it keeps,
 * on one serving host driven with the real binary:
 *
 *   - a launched manifest whose kernels are all terminated is released:
 *     `runtime.released` is logged, its queues' shm objects are gone, ps
 *     shows its kernel terminated, a verb on it says it was released
 *     (exit 1), and the same name may be launched again;
 *   - a queue it created that still holds a message keeps it (and the
 *     message) until a client takes it, then it goes;
 *   - a queue it created that another manifest's kernel uses keeps it until
 *     that kernel is terminated too, then both go;
 *   - a persist queue it created is closed, not unlinked: its messages wait
 *     for the next launch of the manifest;
 *   - a kernel of the host's own manifest terminated beside a running one
 *     gives back the threads only it used;
 *   - a kernel stuck in process() when terminated keeps its runtime
 *     (`runtime.kept`): its memory is never freed under it.
 *
 * The tests run in order on one host (the slow kernel's test last).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_common.h"

#define WAIT_S 20.0

static const char *host_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"echo.in\": {\"type\": \"echo.message\"},\n"
    "            \"echo.out\": {\"type\": \"echo.message\"},\n"
    "            \"spare.in\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
    "\"echo.in\"},\n"
    "               \"outputs\": {\"out\": \"echo.out\"}},\n"
    "              {\"name\": \"spare\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
    "\"spare.in\"}}]}\n";

static struct {
    proc host;
    const char *instance;
} R;

static int release_setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    R.instance = cli_instance("rel");
    return ctl_start_host(&R.host, cli_manifest("rel", host_text), R.instance);
}

static int release_teardown(void **state)
{
    (void)state;
    ctl_kill_host(&R.host);
    cli_cleanup();
    return 0;
}

/* The shm object of queue q of the instance exists. */
static int shm_exists(const char *q)
{
    return access(cli_keep("/dev/shm/ringhost.%s:%s", R.instance, q), F_OK) == 0;
}

static size_t host_logged(const char *needle)
{
    return cli_file_count(R.host.err_path, needle);
}

/* A manifest of kernel name (plugin echo) reading queue in, which it
 * declares when declare_in; its output goes to the auto-created
 * <name>.out. */
static const char *echo_manifest(const char *name, const char *in, int declare_in)
{
    return cli_manifest(
        name, cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
                       " \"queues\": {%s%s%s},\n"
                       " \"kernels\": [{\"name\": \"%s\", \"plugin\": \"echo\", "
                       "\"inputs\": {\"in\": \"%s\"}}]}\n",
                       declare_in ? "\"" : "", declare_in ? in : "",
                       declare_in ? "\": {\"type\": \"echo.message\"}" : "", name, in));
}

static void launch(const char *manifest)
{
    cli_out o;
    cli_exec(&o, NULL, "launch", manifest, "--instance", R.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void send_one(const char *queue, int seq)
{
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", R.instance, queue,
             cli_keep("{\"seq\": %d}", seq), NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void recv_n(const char *queue, const char *n)
{
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", R.instance, queue, "-n", n, "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void terminate(const char *kernel)
{
    cli_out o;
    cli_exec(&o, NULL, "terminate", kernel, "--instance", R.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

/* The state ps gives kernel name, "(absent)" when it lists none. */
static const char *ps_state(const char *name)
{
    cli_out o;
    cli_exec(&o, NULL, "ps", "--instance", R.instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *root = json_loads(o.r.out, 0, NULL), *k;
    size_t i, found = 0;
    const char *state = "(absent)";
    json_array_foreach (json_object_get(root, "kernels"), i, k)
        if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0) {
            state = cli_keep("%s", json_string_value(json_object_get(k, "state")));
            found++;
        }
    CLI_CHECK(&o, found <= 1, "expected kernel %s listed once by ps, got %zu", name, found);
    json_decref(root);
    cli_free(&o);
    return state;
}

/* ps says kernel name is inside process(). */
static int kernel_busy(const char *name)
{
    cli_out o;
    cli_exec(&o, NULL, "ps", "--instance", R.instance, "--json", NULL);
    json_t *root = json_loads(o.r.out, 0, NULL), *k;
    size_t i;
    int busy = 0;
    json_array_foreach (json_object_get(root, "kernels"), i, k)
        if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0)
            busy = json_is_true(json_object_get(k, "busy"));
    json_decref(root);
    cli_free(&o);
    return busy;
}

static void test_terminated_kernel_is_released_and_its_name_free_again(void **state)
{
    (void)state;
    const char *m = echo_manifest("one", "one.in", 1);
    launch(m);
    send_one("one.in", 1);
    recv_n("one.out", "1");
    size_t released = host_logged("event=runtime.released ");
    assert_true(shm_exists("one.in") && shm_exists("one.out") && shm_exists("one.dlq"));
    terminate("one");
    /* released before terminate answered: nothing held it */
    assert_int_equal(host_logged("event=runtime.released "), released + 1);
    if (shm_exists("one.in") || shm_exists("one.out") || shm_exists("one.dlq"))
        fail_msg("expected one.in, one.out and one.dlq unlinked once kernel one was released");
    assert_string_equal(ps_state("one"), "terminated");
    cli_out o;
    cli_exec(&o, NULL, "terminate", "one", "--instance", R.instance, NULL);
    cli_expect_exit(&o, 2); /* a transition its state refuses */
    CLI_CHECK(&o, strstr(o.r.err, "already terminated, and released"),
              "expected terminate of a released kernel to say it was released");
    cli_free(&o);
    /* the name is free: the same manifest again, answering as before */
    launch(m);
    assert_string_equal(ps_state("one"), "active");
    send_one("one.in", 2);
    recv_n("one.out", "1");
    terminate("one");
    assert_int_equal(host_logged("event=runtime.released "), released + 2);
}

static void test_a_queue_still_holding_a_message_keeps_it_until_taken(void **state)
{
    (void)state;
    launch(echo_manifest("two", "two.in", 1));
    send_one("two.in", 1);
    send_one("two.in", 2);
    recv_n("two.out", "1"); /* the second answer stays in two.out */
    size_t released = host_logged("event=runtime.released ");
    terminate("two");
    cli_await_log(&R.host, "event=runtime.queues_kept", 1, WAIT_S);
    assert_int_equal(host_logged("event=runtime.released "), released);
    assert_true(host_logged("queue two.out holds 1 message(s)") == 1);
    assert_true(shm_exists("two.out"));
    assert_string_equal(ps_state("two"), "terminated");
    recv_n("two.out", "1"); /* the answer was kept: a client takes it */
    /* the host checks every RH_CONTROL_SAMPLE_MS (1 s) */
    cli_await_log(&R.host, "event=runtime.released ", released + 1, WAIT_S);
    assert_false(shm_exists("two.out"));
}

static void test_a_queue_another_manifest_uses_keeps_its_creator_until_both_go(void **state)
{
    (void)state;
    launch(echo_manifest("three", "three.in", 1)); /* creates three.in */
    launch(echo_manifest("four", "three.in", 1));  /* declares it too: shares it, reads it */
    size_t released = host_logged("event=runtime.released ");
    terminate("three");
    cli_await_log(&R.host, "queue three.in is used by kernels of another manifest", 1,
                  WAIT_S);
    assert_true(shm_exists("three.in"));
    send_one("three.in", 1); /* four still serves it */
    recv_n("four.out", "1");
    terminate("four");
    /* four goes, then three, in the same pass */
    assert_int_equal(host_logged("event=runtime.released "), released + 2);
    assert_false(shm_exists("three.in"));
}

static void test_a_persist_queue_keeps_its_messages_for_the_next_launch(void **state)
{
    (void)state;
    const char *m = cli_manifest(
        "per", "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
               " \"queues\": {\"per.in\": {\"type\": \"echo.message\", \"persist\": true}},\n"
               " \"kernels\": [{\"name\": \"per\", \"plugin\": \"echo\", \"inputs\": "
               "{\"in\": \"per.in\"}}]}\n");
    size_t released = host_logged("event=runtime.released ");
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", R.instance, NULL); /* inactive */
    cli_expect_exit(&o, 0);
    cli_free(&o);
    send_one("per.in", 1);
    send_one("per.in", 2);
    terminate("per"); /* never activated: both wait in per.in */
    assert_int_equal(host_logged("event=runtime.released "), released + 1);
    assert_true(shm_exists("per.in"));   /* closed, not unlinked */
    assert_false(shm_exists("per.out")); /* not persist: gone */
    launch(m);
    cli_await_log(&R.host, "event=queue.recovered name=per.in messages=2", 1, WAIT_S);
    recv_n("per.out", "2");
    terminate("per");
    assert_int_equal(host_logged("event=runtime.released "), released + 2);
    unlink(cli_keep("/dev/shm/ringhost.%s:per.in", R.instance)); /* empty; persist outlives us */
}

static long host_threads(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)R.host.pid);
    long n = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* A kernel of the host's own manifest, terminated while the other runs:
 * its three threads (dispatch, input and output pump: it is unpinned, so
 * they are its own) are joined at its terminate; echo answers on. */
static void test_a_kernel_terminated_beside_a_running_one_gives_back_its_own_threads(
    void **state)
{
    (void)state;
    send_one("spare.in", 1);
    recv_n("spare.out", "1");
    long before = host_threads();
    size_t joined = host_logged("threads_joined=3");
    terminate("spare");
    assert_int_equal(host_logged("threads_joined=3"), joined + 1); /* its kernel.terminate */
    long after = host_threads();
    if (after != before - 3)
        fail_msg("expected spare's 3 threads joined at its terminate: %ld threads before, %ld "
                 "after", before, after);
    send_one("echo.in", 7);
    recv_n("echo.out", "1");
    assert_string_equal(ps_state("spare"), "terminated");
    assert_string_equal(ps_state("echo"), "active");
}

static void test_a_stuck_kernel_keeps_its_runtime(void **state)
{
    (void)state;
    const char *m = cli_manifest(
        "stuck", "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
                 " \"queues\": {\"stuck.in\": {\"type\": \"echo.message\"}},\n"
                 " \"kernels\": [{\"name\": \"stuck\", \"plugin\": \"slow\", \"inputs\": "
                 "{\"in\": \"stuck.in\"}, \"config\": {\"delay_us\": 4000000}}]}\n");
    launch(m);
    send_one("stuck.in", 1);
    /* inside process() for 4 s: wait until ps says so */
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "ringhost ps --instance %s --json", R.instance);
    CLI_CHECK(&o, WAIT_UNTIL_EVERY(WAIT_S, CLI_POLL_MS, kernel_busy("stuck")),
              "expected kernel stuck inside process() within %.0f s", WAIT_S);
    size_t released = host_logged("event=runtime.released ");
    cli_exec(&o, NULL, "terminate", "stuck", "--instance", R.instance, "--timeout-ms", "100",
             NULL);
    cli_expect_exit(&o, 1); /* did not drain within 100 ms */
    cli_free(&o);
    cli_await_log(&R.host, "event=runtime.kept ", 1, WAIT_S);
    assert_int_equal(host_logged("event=runtime.released "), released);
    assert_true(shm_exists("stuck.in"));
    /* counted: ps says one manifest is kept, and how many were released */
    cli_exec(&o, NULL, "ps", "--instance", R.instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *root = json_loads(o.r.out, 0, NULL);
    CLI_CHECK(&o, json_integer_value(json_object_get(root, "runtimes_kept")) == 1 &&
                      json_integer_value(json_object_get(root, "runtimes_released")) ==
                          (json_int_t)released,
              "expected ps to count 1 runtime kept and %zu released", released);
    json_decref(root);
    cli_free(&o);
}

static void test_host_stops_balanced(void **state)
{
    (void)state;
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s run <rel host>, then SIGTERM", RH_TEST_BINARY);
    assert_int_equal(proc_signal(&R.host, SIGTERM), 0);
    proc_wait(&R.host, 30, &o.r);
    R.host.pid = 0;
    CLI_CHECK(&o, !o.r.timed_out, "expected the host to stop within 30 s of SIGTERM");
    CLI_CHECK(&o, !strstr(o.r.err, "UNBALANCED"), "expected every accounting line balanced");
    CLI_CHECK(&o, !strstr(o.r.err, "Sanitizer"), "expected no sanitizer report from the host");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terminated_kernel_is_released_and_its_name_free_again),
        cmocka_unit_test(test_a_queue_still_holding_a_message_keeps_it_until_taken),
        cmocka_unit_test(test_a_queue_another_manifest_uses_keeps_its_creator_until_both_go),
        cmocka_unit_test(test_a_persist_queue_keeps_its_messages_for_the_next_launch),
        cmocka_unit_test(test_a_kernel_terminated_beside_a_running_one_gives_back_its_own_threads),
        cmocka_unit_test(test_a_stuck_kernel_keeps_its_runtime),
        cmocka_unit_test(test_host_stops_balanced),
    };
    return cmocka_run_group_tests_name("cli release", tests, release_setup, release_teardown);
}
