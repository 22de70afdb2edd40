/*
 * test_cli_hotswap_release.c — old builds are unloaded once nothing runs
 * them.  A serving `ringhost run --no-watch` host runs
 * kernel h from tests/plugins/swap/swap_echo.c; SWAPS times the file is
 * replaced by the other build (v1, v2, v1, ...) and `ringhost reload h`
 * swaps it in, and the answering build is the new one each time.  Each swap
 * loads a private copy (a memfd, "/memfd:ringhost-plugin" in
 * /proc/PID/maps); the host keeps the running build and the one before it
 * (hotswap.c says why), so the mappings of those copies stop growing after
 * the second swap: the same count after SWAPS swaps as after two.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

#define SWAP_DIR RH_TEST_BUILD_DIR "/swap_plugins"
#define WAIT_S 30.0
#define SWAPS 12

static struct {
    proc host;
    const char *instance, *plugins, *file;
    unsigned seq;
} R;

static int release_setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    R.instance = cli_instance("hotrel");
    R.plugins = cli_keep("%s/plugins", cli_tmpdir());
    R.file = cli_keep("%s/swap_echo.so", R.plugins);
    if (mkdir(R.plugins, 0755) != 0 || cli_copy_file(SWAP_DIR "/swap_echo_v1.so", R.file, 0644) != 0) {
        print_error("cannot prepare %s\n", R.file);
        return -1;
    }
    const char *m = cli_write(
        "hotrel.json",
        cli_keep("{\"ringhost\": 1, \"name\": \"%s\", \"plugins\": [\"%s\"],\n"
                 " \"queues\": {\"h.in\": {\"type\": \"echo.message\"},\n"
                 "            \"h.out\": {\"type\": \"echo.message\"}},\n"
                 " \"kernels\": [{\"name\": \"h\", \"plugin\": \"swap_echo\",\n"
                 "   \"inputs\": {\"in\": \"h.in\"}, \"outputs\": {\"out\": \"h.out\"}}]}\n",
                 R.instance, R.plugins));
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--no-watch", NULL};
    if (proc_start(&R.host, argv) != 0 ||
        cli_host_logged_within(&R.host, CLI_SERVING, 1, WAIT_S) != 0) {
        print_error("expected `ringhost run %s --no-watch` to serve within %.0f s\n", m, WAIT_S);
        return -1;
    }
    return 0;
}

static int release_teardown(void **state)
{
    if (R.host.pid) {
        proc_signal(&R.host, SIGKILL);
        proc_result r;
        proc_wait(&R.host, 10, &r);
        proc_result_free(&r);
    }
    return cli_group_teardown(state);
}

/* Lines of /proc/PID/maps mapping a private plugin copy. */
static long plugin_copy_maps(int pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, "memfd:ringhost-plugin") != NULL;
    fclose(f);
    return n;
}

/* The text of the answer to one message: the answering build's mark. */
static const char *who_answers(void)
{
    cli_out o;
    const char *body = cli_keep("{\"seq\": %u, \"text\": \"ask\"}", ++R.seq);
    cli_exec(&o, NULL, "send", "--instance", R.instance, "h.in", body, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", R.instance, "h.out", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    json_t *b = json_object_get(json_array_get(lines, 0), "body");
    CLI_CHECK(&o, b && cli_num(&o, b, "seq") == R.seq, "expected the answer to seq %u", R.seq);
    const char *text = json_string_value(json_object_get(b, "text"));
    const char *mark = cli_keep("%s", text ? text : "");
    json_decref(lines);
    cli_free(&o);
    return mark;
}

/* Replace the file by build v1 or v2 and swap it in with `ringhost reload`. */
static void swap_to(const char *build)
{
    const char *tmp = cli_keep("%s/.swap_echo.so.tmp", R.plugins);
    assert_int_equal(cli_copy_file(cli_keep("%s/swap_echo_%s.so", SWAP_DIR, build), tmp, 0644), 0);
    assert_int_equal(rename(tmp, R.file), 0);
    cli_out o;
    cli_exec(&o, NULL, "reload", "h", "--instance", R.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    const char *mark = who_answers();
    if (strcmp(mark, build) != 0)
        fail_msg("expected build %s to answer after its swap, got \"%s\"", build, mark);
}

static void test_swapped_out_builds_are_unloaded_keeping_at_most_two(void **state)
{
    (void)state;
    int pid = R.host.pid;
    assert_string_equal(who_answers(), "v1");
    long before = plugin_copy_maps(pid);
    swap_to("v2");
    swap_to("v1");
    long after_two = plugin_copy_maps(pid);
    for (int i = 2; i < SWAPS; i++)
        swap_to(i % 2 ? "v1" : "v2");
    long after_all = plugin_copy_maps(pid);
    print_message("hotswap: plugin copy mappings: %ld at start, %ld after 2 swaps, %ld after "
                  "%d\n", before, after_two, after_all, SWAPS);
    assert_true(after_two > before);
    if (after_all != after_two)
        fail_msg("expected the mappings of swapped-in plugin copies to stay at %ld (the running "
                 "build and the one before) after %d swaps, got %ld: old builds are kept",
                 after_two, SWAPS, after_all);
    assert_int_equal(cli_file_count(R.host.err_path, "event=kernel.swap kernel=h"), SWAPS);
}

static void test_host_stops_balanced_after_the_swaps(void **state)
{
    (void)state;
    assert_int_equal(proc_signal(&R.host, SIGTERM), 0);
    proc_result r;
    proc_wait(&R.host, WAIT_S, &r);
    R.host.pid = 0;
    if (r.exit_code != 0 || r.timed_out || strstr(r.err, "UNBALANCED"))
        fail_msg("expected exit 0, balanced, after %d swaps; got exit %d%s:\n%s", SWAPS,
                 r.exit_code, r.timed_out ? " (timed out)" : "", r.err);
    proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swapped_out_builds_are_unloaded_keeping_at_most_two),
        cmocka_unit_test(test_host_stops_balanced_after_the_swaps),
    };
    return cmocka_run_group_tests_name("cli hotswap release", tests, release_setup,
                                       release_teardown);
}
