/*
 * test_cli_bench.c — `ringhost bench` runs the benchmark of the same build:
 * a case runs and lands in --json with its figures and its placement tag,
 * `--pin-sweep` drives a real manifest under each placement and prints a
 * pin block, and bad usage exits 2.  Nothing here asserts a speed (these
 * machines are shared): only that the figures exist and are sane.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

static void test_bench_runs_a_case_and_writes_its_figures_to_json(void **state)
{
    (void)state;
    const char *json = cli_keep("%s/bench.json", cli_tmpdir());
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only", "rh.queue.hop.b32",
             "--json", json, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "rh.queue.hop.b32.p64"), "expected the case in the table");
    json_error_t je;
    json_t *root = json_load_file(json, 0, &je);
    CLI_CHECK(&o, root, "expected valid JSON in %s: %s", json, je.text);
    /* Somewhere in it: a figure of our case, msgs_per_s, positive, tagged. */
    char *text = json_dumps(root, JSON_COMPACT);
    CLI_CHECK(&o, text && strstr(text, "\"rh.queue.hop.b32.p64\""), "case missing from --json");
    CLI_CHECK(&o, strstr(text, "msgs_per_s"), "metric msgs_per_s missing from --json");
    CLI_CHECK(&o, strstr(text, "\"near\"") || strstr(text, "\"far\"") || strstr(text, "\"mixed\""),
              "every figure carries its placement tag");
    free(text);
    json_decref(root);
    cli_free(&o);
}

static void test_pin_sweep_prints_every_placement_and_the_best_pin_block(void **state)
{
    (void)state;
    const char *manifest = cli_manifest("sweep",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\"}]}\n");
    cli_out o;
    cli_exec(&o, NULL, "bench", "--pin-sweep", manifest, "--reps", "1", "--quick", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "same-pu") && strstr(o.r.out, "unpinned"),
              "expected the same-pu and unpinned placements in the table");
    CLI_CHECK(&o, strstr(o.r.out, "best: "), "expected the best placement named");
    /* Usually a pin block; "unpinned" may win on a loaded machine, and then
     * the advice is to leave the kernel unpinned. */
    CLI_CHECK(&o, strstr(o.r.out, "e: \"pin\": {\"dispatch\"") ||
                      strstr(o.r.out, "e: no \"pin\""),
              "expected the advice for kernel e: a pin block to paste, or no pin");
    cli_free(&o);
}

static void test_pin_sweep_of_a_missing_manifest_exits_2(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "bench", "--pin-sweep", "/nonexistent/m.json", "--reps", "1", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "/nonexistent/m.json"), "expected the path in the error");
    cli_free(&o);
}

static void test_send_without_pin_sweep_is_a_usage_error(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "bench", "--send", "x.jsonl", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--pin-sweep"), "expected the error to name --pin-sweep");
    cli_free(&o);
}

/* Processes whose command line holds needle in one of its arguments (a
 * nats-server names its config, under the folder the bench was given). */
static size_t processes_with_arg(const char *needle)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[64], cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        cmd[len] = '\0';
        for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
            if (strstr(cmd + i, needle)) {
                n++;
                break;
            }
    }
    closedir(d);
    return n;
}

/* Entries in folder dir (0 when it cannot be read). */
static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Issue 12: the bare NATS C client baseline starts a nats-server of its own
 * for every repetition (in the bench's folder under TMPDIR) and stops it by
 * pid: after the run no server names that folder and nothing is left in it. */
static void test_bench_remote_runs_the_bare_and_ringhost_cases_and_leaves_no_server_or_store(void **state)
{
    (void)state;
    const char *tmp = cli_keep("%s/bench-tmp", cli_tmpdir());
    EXPECT(mkdir(tmp, 0700) == 0, "cannot create %s", tmp);
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", tmp, 1);
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only", "remote", NULL);
    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "nats.remote.pipe.p64") && strstr(o.r.out, "msgs_per_s"),
              "expected the bare client's pipeline figure (nats.remote.pipe.p64, msgs_per_s)");
    CLI_CHECK(&o, strstr(o.r.out, "nats.remote.rtt.p64") && strstr(o.r.out, "rtt_p50_ns"),
              "expected the bare client's round trip figure (nats.remote.rtt.p64, rtt_p50_ns)");
    /* ringhost's own remote cases (bench/rh_remote.c): two hosts through
     * the same kind of server, held against the bare figures of this run */
    CLI_CHECK(&o, strstr(o.r.out, "rh.remote.pipe.p64") && strstr(o.r.out, "rh.remote.rtt.p64"),
              "expected ringhost's remote cases (rh.remote.pipe.p64, rh.remote.rtt.p64)");
    const char *pipe = strstr(o.r.out, "remote pipe vs bare nats client");
    const char *rtt = strstr(o.r.out, "remote rtt p50 vs bare nats client");
    CLI_CHECK(&o, pipe && rtt, "expected both remote targets listed");
    CLI_CHECK(&o, !strstr(o.r.out, "not measured (no rh.remote"),
              "expected every repetition of ringhost's remote cases to give a figure (a failed "
              "one reads \"not measured (no rh.remote...)\")");
    size_t left = processes_with_arg(tmp);
    CLI_CHECK(&o, left == 0, "expected no nats-server left running with a config under %s, "
                             "found %zu", tmp, left);
    size_t files = entries(tmp);
    CLI_CHECK(&o, files == 0, "expected the bench to remove its folder and every store under %s, "
                              "found %zu entries", tmp, files);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_runs_a_case_and_writes_its_figures_to_json),
        cmocka_unit_test(test_pin_sweep_prints_every_placement_and_the_best_pin_block),
        cmocka_unit_test(test_pin_sweep_of_a_missing_manifest_exits_2),
        cmocka_unit_test(test_send_without_pin_sweep_is_a_usage_error),
        cmocka_unit_test(test_bench_remote_runs_the_bare_and_ringhost_cases_and_leaves_no_server_or_store),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
