/*
 * test_cli_hotswap.c — drop-in while running: a serving `ringhost run`
 * watches its plugin folder, and a new build of the running kernel's file
 * is swapped in; a broken one is refused and the running build keeps
 * answering.
 *
 * One host for the whole group, in order: it starts with build v1 of
 * tests/plugins/swap/swap_echo.c as plugins/swap_echo.so (each answer's
 * text says which build made it); each test replaces that file as an
 * operator would, waits for the host's log line on stderr, and asks with
 * `ringhost send` / `recv` who answers now.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_common.h"

#define SWAP_DIR RH_TEST_BUILD_DIR "/swap_plugins"
#define WAIT_S 30.0

static struct hot {
    proc host;
    const char *instance;
    const char *plugins; /* the watched folder */
    const char *file;    /* plugins/swap_echo.so */
    unsigned seq;
} H;

/* `cp build .tmp && mv .tmp swap_echo.so` */
static void move_build_in(const char *build)
{
    const char *tmp = cli_keep("%s/.swap_echo.so.tmp", H.plugins);
    assert_int_equal(cli_copy_file(cli_keep("%s/%s.so", SWAP_DIR, build), tmp, 0644), 0);
    assert_int_equal(rename(tmp, H.file), 0);
}

/* Lines holding needle in what the group's host wrote to stderr so far. */
static size_t host_log_count(const char *needle)
{
    return cli_file_count(H.host.err_path, needle);
}

/* Wait for the count-th line holding needle; fail with the log if none. */
static void wait_for_log(const char *needle, size_t count)
{
    cli_await_log(&H.host, needle, count, WAIT_S);
}

/* Send one message with `ringhost send`, receive its answer with `ringhost
 * recv`, and return the answering build's mark (kept until cleanup). */
static const char *who_answers_in(const char *instance, unsigned *seq)
{
    cli_out o;
    const char *body = cli_keep("{\"seq\": %u, \"text\": \"ask\"}", ++*seq);
    cli_exec(&o, NULL, "send", "--instance", instance, "h.in", body, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", instance, "h.out", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 1, "expected one answer, got %zu",
              json_array_size(lines));
    json_t *b = json_object_get(json_array_get(lines, 0), "body");
    CLI_CHECK(&o, cli_num(&o, b, "seq") == *seq, "expected the answer to seq %u", *seq);
    const char *text = json_string_value(json_object_get(b, "text"));
    const char *mark = cli_keep("%s", text ? text : "");
    json_decref(lines);
    cli_free(&o);
    return mark;
}

static const char *who_answers(void)
{
    return who_answers_in(H.instance, &H.seq);
}

/* The manifest of a host serving kernel h (plugin swap_echo) from the
 * folder plugins, queues h.in and h.out. */
static const char *hot_manifest(const char *file, const char *instance, const char *plugins)
{
    return cli_write(
        file,
        cli_keep("{\"ringhost\": 1, \"name\": \"%s\", \"plugins\": [\"%s\"],\n"
                 " \"queues\": {\"h.in\": {\"type\": \"echo.message\"},\n"
                 "            \"h.out\": {\"type\": \"echo.message\"}},\n"
                 " \"kernels\": [{\"name\": \"h\", \"plugin\": \"swap_echo\",\n"
                 "   \"inputs\": {\"in\": \"h.in\"}, \"outputs\": {\"out\": \"h.out\"}}]}\n",
                 instance, plugins));
}

static int hot_setup(void **state)
{
    (void)state;
    memset(&H, 0, sizeof H);
    H.instance = cli_instance("hot");
    H.plugins = cli_keep("%s/plugins", cli_tmpdir());
    H.file = cli_keep("%s/swap_echo.so", H.plugins);
    if (mkdir(H.plugins, 0755) != 0 ||
        cli_copy_file(SWAP_DIR "/swap_echo_v1.so", H.file, 0644) != 0) {
        print_error("cannot prepare %s\n", H.file);
        return -1;
    }
    const char *m = hot_manifest("hot.json", H.instance, H.plugins);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    if (proc_start(&H.host, argv) != 0) {
        print_error("cannot start %s run %s\n", RH_TEST_BINARY, m);
        return -1;
    }
    if (cli_host_logged_within(&H.host, "event=plugin.watch ", 1, WAIT_S) != 0 ||
        cli_host_logged_within(&H.host, CLI_SERVING, 1, WAIT_S) != 0) {
        print_error("expected the host to serve and watch %s within %.0f s\n", H.plugins,
                    WAIT_S);
        return -1;
    }
    return 0;
}

static int hot_teardown(void **state)
{
    if (H.host.pid) {
        proc_signal(&H.host, SIGKILL);
        proc_result r;
        proc_wait(&H.host, 10, &r);
        proc_result_free(&r);
    }
    return cli_group_teardown(state);
}

static void test_serving_host_answers_with_the_build_it_started_with(void **state)
{
    (void)state;
    assert_string_equal(who_answers(), "v1");
}

static void test_a_build_moved_over_the_running_file_is_swapped_in(void **state)
{
    (void)state;
    move_build_in("swap_echo_v2");
    wait_for_log("event=kernel.swap kernel=h", 1);
    assert_int_equal(host_log_count("from=1.0.0 to=2.0.0"), 1);
    assert_string_equal(who_answers(), "v2");
}

static void test_a_broken_build_is_refused_and_the_running_one_keeps_answering(void **state)
{
    (void)state;
    FILE *f = fopen(H.file, "w"); /* a plain cp of garbage over the file */
    assert_non_null(f);
    fputs("this is not a shared object\n", f);
    fclose(f);
    wait_for_log("event=kernel.swap_refused kernel=h", 1);
    assert_true(host_log_count("dlopen failed") >= 1);
    /* `ringhost send` decodes JSON with the codec of the file the queue's
     * type came from, which is garbage now: the next test asks, once a
     * loadable file is back. */
    assert_true(proc_running(&H.host));
}

static void test_a_build_with_other_ports_is_refused_and_v2_kept_answering(void **state)
{
    (void)state;
    move_build_in("swap_echo_ports");
    wait_for_log("event=kernel.swap_refused kernel=h", 2);
    assert_true(host_log_count("\\\"requests\\\"") >= 1);
    assert_string_equal(who_answers(), "v2");
}

static void test_a_build_copied_over_the_file_in_place_is_swapped_in(void **state)
{
    (void)state;
    assert_int_equal(cli_copy_file(SWAP_DIR "/swap_echo_v1.so", H.file, 0644), 0);
    wait_for_log("event=kernel.swap kernel=h", 2);
    assert_int_equal(host_log_count("from=2.0.0 to=1.0.0"), 1);
    assert_string_equal(who_answers(), "v1");
}

/* The control socket's verb: swap to the file on disk now (here the same
 * build again), and `ps` counts every swap and refusal so far. */
static void test_reload_verb_swaps_and_ps_counts_swaps_and_refusals(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "reload", "h", "--instance", H.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    wait_for_log("event=kernel.swap kernel=h", 3);
    assert_string_equal(who_answers(), "v1");
    cli_exec(&o, NULL, "ps", "--instance", H.instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *reply = json_loads(o.r.out, 0, NULL);
    json_t *k = json_array_get(json_object_get(reply, "kernels"), 0);
    CLI_CHECK(&o, k && cli_num(&o, k, "swaps") == 3 && cli_num(&o, k, "swaps_refused") == 2,
              "expected ps to count 3 swaps and 2 refused replacements of kernel h");
    json_decref(reply);
    cli_free(&o);
}

static void test_sigterm_after_swaps_exits_0_with_balanced_accounts(void **state)
{
    (void)state;
    assert_int_equal(proc_signal(&H.host, SIGTERM), 0);
    proc_result r;
    proc_wait(&H.host, WAIT_S, &r);
    /* Every message asked across the swaps was answered once, by one build. */
    const char *in_line = cli_keep("accounting: queue h.in: accepted %u = delivered %u + "
                                   "dead-lettered 0 + dropped 0 + queued 0: balanced",
                                   H.seq, H.seq);
    if (r.exit_code != 0 || r.timed_out || strstr(r.err, "UNBALANCED") ||
        !strstr(r.err, in_line))
        fail_msg("expected exit 0 and \"%s\", got exit %d%s; stderr:\n%s", in_line,
                 r.exit_code, r.timed_out ? " (timed out)" : "", r.err);
    proc_result_free(&r);
}

/*
 * `run --no-watch`: a second host, on a folder of its own, does not swap
 * when its plugin file is replaced (the operator wants a deploy step, not a
 * drop-in); `ringhost reload` then swaps it on request.
 */
static void test_no_watch_host_keeps_its_build_until_reload_is_asked(void **state)
{
    (void)state;
    const char *instance = cli_instance("nowatch");
    const char *plugins = cli_keep("%s/plugins-nowatch", cli_tmpdir());
    const char *file = cli_keep("%s/swap_echo.so", plugins);
    assert_int_equal(mkdir(plugins, 0755), 0);
    assert_int_equal(cli_copy_file(SWAP_DIR "/swap_echo_v1.so", file, 0644), 0);
    const char *m = hot_manifest("nowatch.json", instance, plugins);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--no-watch", NULL};
    proc host;
    assert_int_equal(proc_start(&host, argv), 0);
    cli_await_log(&host, CLI_SERVING, 1, WAIT_S);
    unsigned seq = 0;
    assert_string_equal(who_answers_in(instance, &seq), "v1");
    const char *tmp = cli_keep("%s/.swap_echo.so.tmp", plugins);
    assert_int_equal(cli_copy_file(SWAP_DIR "/swap_echo_v2.so", tmp, 0644), 0);
    assert_int_equal(rename(tmp, file), 0);
    /* a sleep, not a wait: no swap may come; a watching host swaps within ~200 ms */
    sleep_ms(1000);
    assert_int_equal(cli_file_count(host.err_path, "event=plugin.watch "), 0);
    assert_int_equal(cli_file_count(host.err_path, "event=kernel.swap"), 0);
    assert_string_equal(who_answers_in(instance, &seq), "v1");
    cli_out o;
    cli_exec(&o, NULL, "reload", "h", "--instance", instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    assert_int_equal(cli_file_count(host.err_path, "event=kernel.swap kernel=h"), 1);
    assert_string_equal(who_answers_in(instance, &seq), "v2");
    assert_int_equal(proc_signal(&host, SIGTERM), 0);
    proc_result r;
    proc_wait(&host, WAIT_S, &r);
    if (r.exit_code != 0 || strstr(r.err, "UNBALANCED"))
        fail_msg("expected the --no-watch host to stop with exit 0, balanced; got exit %d:\n%s",
                 r.exit_code, r.err);
    proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serving_host_answers_with_the_build_it_started_with),
        cmocka_unit_test(test_a_build_moved_over_the_running_file_is_swapped_in),
        cmocka_unit_test(test_a_broken_build_is_refused_and_the_running_one_keeps_answering),
        cmocka_unit_test(test_a_build_with_other_ports_is_refused_and_v2_kept_answering),
        cmocka_unit_test(test_a_build_copied_over_the_file_in_place_is_swapped_in),
        cmocka_unit_test(test_reload_verb_swaps_and_ps_counts_swaps_and_refusals),
        cmocka_unit_test(test_sigterm_after_swaps_exits_0_with_balanced_accounts),
        cmocka_unit_test(test_no_watch_host_keeps_its_build_until_reload_is_asked),
    };
    return cmocka_run_group_tests(tests, hot_setup, hot_teardown);
}
