/*
 * test_cli_bench.c — `ringhost bench` runs the benchmark of the same build:
 * a case runs and lands in --json with its figures and its placement tag,
 * `--pin-sweep` drives a real manifest under each placement and prints a
 * pin block, and bad usage exits 2.  Nothing here asserts a speed (these
 * machines are shared): only that the figures exist and are sane.
 *
 * The iceoryx cases start their own iox-roudi and must stop it, leaving no
 * process and no iceoryx shared memory; without iox-roudi, or while another
 * roudi runs, they are skipped with the reason and the run still exits 0.
 * The cross-process ringhost cases run a client in another process.
 */
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"
#include "expect.h"
#include "proc.h"

#define IOX_MGMT "/dev/shm/iceoryx_mgmt"
#define IOX_SOCKET "/tmp/roudi"

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int have_iox_roudi(char *path, size_t len)
{
    const char *dirs[] = {"/usr/bin", "/usr/local/bin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path, len, "%s/iox-roudi", dirs[i]);
        if (access(path, X_OK) == 0)
            return 1;
    }
    return 0;
}

/* A roudi of the test's own (the "another one runs" case), stopped at exit
 * whatever happens to the test. */
static proc foreign_roudi;

static void stop_foreign_roudi(void)
{
    if (foreign_roudi.pid > 0) {
        proc_signal(&foreign_roudi, SIGTERM);
        proc_result r;
        if (proc_wait(&foreign_roudi, 5, &r) == 0)
            proc_result_free(&r);
    }
}

static void test_bench_iceoryx_starts_and_stops_its_own_roudi(void **state)
{
    (void)state;
    char roudi[256];
    int installed = have_iox_roudi(roudi, sizeof roudi);
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only", "iceoryx", NULL);
    cli_expect_exit(&o, 0);
    if (strstr(o.r.err, "iceoryx: skipped: ")) {
        /* Built without the library, or no daemon: every case says so. */
        CLI_CHECK(&o, !installed || strstr(o.r.err, "without iceoryx"),
                  "iox-roudi is installed (%s): expected the cases to run", roudi);
        CLI_CHECK(&o, cli_count(o.r.err, "SKIPPED") == 5, "expected the 5 iceoryx cases SKIPPED");
        cli_free(&o);
        return;
    }
    const char *started = strstr(o.r.err, "iceoryx: started iox-roudi (pid ");
    CLI_CHECK(&o, started, "expected the benchmark to say it started its own iox-roudi");
    int pid = atoi(started + strlen("iceoryx: started iox-roudi (pid "));
    CLI_CHECK(&o, pid > 0, "expected the pid of iox-roudi in the message");
    CLI_CHECK(&o, strstr(o.r.err, "on its own config "), "expected the config file named");
    char stopped[96];
    snprintf(stopped, sizeof stopped, "iceoryx: iox-roudi (pid %d) stopped", pid);
    CLI_CHECK(&o, strstr(o.r.err, stopped), "expected '%s'", stopped);
    const char *cases[] = {"iceoryx.rtt.p64 ", "iceoryx.rtt.p1024 ", "iceoryx.rtt.p65536 ",
                           "iceoryx.rtt.p1048576 ", "iceoryx.echo.b32.p64 "};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CLI_CHECK(&o, strstr(o.r.out, cases[i]), "expected case %s in the table", cases[i]);
    CLI_CHECK(&o, strstr(o.r.out, "rtt_p50_ns") && strstr(o.r.out, "msgs_per_s"),
              "expected round-trip and throughput figures");
    CLI_CHECK(&o, !strstr(o.r.err, "FAILED"), "expected no failed repetition");
    CLI_CHECK(&o, proc_gone(pid), "iox-roudi (pid %d) is still there after the benchmark", pid);
    CLI_CHECK(&o, !exists(IOX_MGMT) && !exists(IOX_SOCKET),
              "iceoryx left %s or %s behind", IOX_MGMT, IOX_SOCKET);
    cli_free(&o);
}

static void test_bench_iceoryx_without_iox_roudi_is_skipped_with_the_reason(void **state)
{
    (void)state;
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", cli_tmpdir(), 1); /* a folder without iox-roudi */
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only", "iceoryx.rtt.p64", NULL);
    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    }
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.err, "iceoryx: skipped: iox-roudi not found in PATH") ||
                      strstr(o.r.err, "iceoryx: skipped: ringhost-bench was built without"),
              "expected 'iceoryx: skipped: iox-roudi not found in PATH'");
    CLI_CHECK(&o, strstr(o.r.err, "iceoryx.rtt.p64: skipped: "), "expected the case's skip line");
    CLI_CHECK(&o, !strstr(o.r.err, "started iox-roudi"), "expected no roudi started");
    cli_free(&o);
}

static void test_bench_iceoryx_while_another_roudi_runs_skips_and_leaves_it_alone(void **state)
{
    (void)state;
    char roudi[256];
    if (!have_iox_roudi(roudi, sizeof roudi)) {
        print_message("iox-roudi not installed: nothing to run beside\n");
        return;
    }
    const char *cfg = cli_write("roudi.toml", "[general]\nversion = 1\n\n[[segment]]\n\n"
                                              "[[segment.mempool]]\nsize = 128\ncount = 16\n");
    char *argv[] = {roudi, "-c", (char *)cfg, NULL};
    atexit(stop_foreign_roudi);
    EXPECT(proc_start(&foreign_roudi, argv) == 0, "cannot start %s", roudi);
    EXPECT_WITHIN(10, cli_file_count(foreign_roudi.out_path, "RouDi is ready for clients") > 0,
                  "our iox-roudi did not get ready within 10 s");
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only", "iceoryx.rtt.p64", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.err, "iceoryx: skipped: another iox-roudi runs on this machine"),
              "expected the cases skipped because another roudi runs");
    CLI_CHECK(&o, proc_running(&foreign_roudi), "the other iox-roudi must be left running");
    CLI_CHECK(&o, exists(IOX_MGMT), "the other roudi's %s must be left alone", IOX_MGMT);
    cli_free(&o);
    stop_foreign_roudi();
    EXPECT(!exists(IOX_MGMT), "%s still there after our roudi stopped", IOX_MGMT);
}

static void test_bench_round_trip_from_a_client_in_another_process(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only",
             "rh.xproc.rtt.inline.spin.p64", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "rh.xproc.rtt.inline.spin.p64") &&
                      strstr(o.r.out, "rtt_p50_ns"),
              "expected the cross-process round trip's figures");
    CLI_CHECK(&o, !strstr(o.r.err, "FAILED"), "expected no failed repetition");
    cli_free(&o);
}

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

/* `ringhost bench --only gpu` runs the bare GPU baselines through
 * ringhost-bench-gpu: on a machine with a device each case has figures; on
 * one without (or a build without nvcc) each is skipped with the reason,
 * and the run still exits 0. */
static void test_bench_only_gpu_measures_every_gpu_case_or_skips_it_with_the_reason(void **state)
{
    (void)state;
    static const char *const cases[] = {"gpu.pingpong.mapped", "gpu.pingpong.ll64.mapped",
                                        "gpu.stream.mapped", "gpu.copy_launch_sync",
                                        "gpu.graph_replay"};
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only", "gpu", NULL);
    cli_expect_exit(&o, 0);
    int skipped = strstr(o.r.err, "skipped: no CUDA device (") != NULL ||
                  strstr(o.r.err, "skipped: ringhost-bench-gpu not built") != NULL;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CLI_CHECK(&o, strstr(o.r.out, cases[i]), "expected %s in the table", cases[i]);
    CLI_CHECK(&o, !strstr(o.r.err, "FAILED"), "expected no failed repetition");
    if (!skipped) /* a device: every case measured */
        CLI_CHECK(&o, strstr(o.r.out, "msgs_per_s") && strstr(o.r.out, "rtt_p50_ns") &&
                          strstr(o.r.err, "gpu: {\"name\":\"gpu.header\""),
                  "expected figures of the GPU cases and the card's header line");
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

/* Remote: the bare NATS C client baseline starts a nats-server of its own
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

/* /dev/shm files of the benchmark with pid `pid` (its hosts' queues). */
static int bench_shm_count(pid_t pid)
{
    char prefix[64];
    int len = snprintf(prefix, sizeof prefix, "ringhost.rhbench-%d-", (int)pid);
    int n = 0;
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, (size_t)len) == 0;
    if (d)
        closedir(d);
    return n;
}

/* Entries of dir other than . and .. */
static int dir_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/* A benchmark killed mid-run (SIGKILL: no handler of its own runs) leaves
 * neither its hosts' shared queues nor its scratch folder: its janitor
 * process removes both once it is gone (bench/main.c). */
static void test_a_benchmark_killed_mid_run_leaves_no_queues_and_no_scratch_folder(void **state)
{
    (void)state;
    const char *tmp = cli_keep("%s/bench-tmp", cli_tmpdir());
    EXPECT(mkdir(tmp, 0700) == 0 || errno == EEXIST, "cannot create %s: %m", tmp);
    const char *was = getenv("TMPDIR");
    char *saved = was ? strdup(was) : NULL;
    setenv("TMPDIR", tmp, 1);
    char *argv[] = {RH_TEST_BINARY, "bench", "--reps", "50", "--only",
                    "rh.echo.inline.adaptive.b32.p64", NULL};
    proc b;
    int rc = proc_start(&b, argv);
    if (saved)
        setenv("TMPDIR", saved, 1); /* the other tests' TMPDIR, as it was */
    else
        unsetenv("TMPDIR");
    free(saved);
    assert_int_equal(rc, 0);
    pid_t pid = b.pid; /* ringhost execs ringhost-bench: the same pid */
    if (!WAIT_UNTIL_EVERY(30, 10, bench_shm_count(pid) > 0 && dir_entries(tmp) > 0))
        fail_msg("expected the benchmark (pid %d) to launch a host with queues "
                 "/dev/shm/ringhost.rhbench-%d-* and a scratch folder in %s within 30 s",
                 (int)pid, (int)pid, tmp);
    assert_int_equal(proc_signal(&b, SIGKILL), 0);
    proc_result r;
    proc_wait(&b, 10, &r);
    proc_result_free(&r);
    int shm = -1, left = -1;
    if (!WAIT_UNTIL_EVERY(10, 10, (shm = bench_shm_count(pid), left = dir_entries(tmp),
                                   shm == 0 && left == 0)))
        fail_msg("expected the killed benchmark's %d queue(s) in /dev/shm and its scratch "
                 "folder in %s (%d entries) removed within 10 s", shm, tmp, left);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_runs_a_case_and_writes_its_figures_to_json),
        cmocka_unit_test(test_bench_only_gpu_measures_every_gpu_case_or_skips_it_with_the_reason),
        cmocka_unit_test(test_pin_sweep_prints_every_placement_and_the_best_pin_block),
        cmocka_unit_test(test_pin_sweep_of_a_missing_manifest_exits_2),
        cmocka_unit_test(test_send_without_pin_sweep_is_a_usage_error),
        cmocka_unit_test(test_bench_remote_runs_the_bare_and_ringhost_cases_and_leaves_no_server_or_store),
        cmocka_unit_test(test_bench_iceoryx_starts_and_stops_its_own_roudi),
        cmocka_unit_test(test_bench_iceoryx_without_iox_roudi_is_skipped_with_the_reason),
        cmocka_unit_test(test_bench_iceoryx_while_another_roudi_runs_skips_and_leaves_it_alone),
        cmocka_unit_test(test_bench_round_trip_from_a_client_in_another_process),
        cmocka_unit_test(test_a_benchmark_killed_mid_run_leaves_no_queues_and_no_scratch_folder),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
