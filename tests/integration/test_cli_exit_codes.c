/*
 * test_cli_exit_codes.c — what the real
 * `ringhost` binary answers a new user who types something wrong.
 *
 * A table runs every verb with each class of bad argument (a flag without
 * its value, a non-number, a number with junk "2x", a negative number, one
 * out of range, an unknown option, an instance or queue or kernel that
 * does not exist) against a serving host, and asserts the exit code of
 * docs/OPERATIONS.md "Exit codes" and that stderr names the argument.
 * Then: lifecycle requests (asking for the state a kernel is in exits 0
 * and says "already"; a transition its state refuses exits 2), `plugins`
 * exits 1 when a plugin fails to load, a manifest naming a .so that is not
 * a kernel is told so first, a wrong queue lists the host's queues, `stat`
 * by another user says permission denied, plugin paths print without
 * "//", `make run` prints no stray "\" line, and `bench` without its
 * binary says how to build it rather than blaming packages.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_common.h"

static const char *manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"ex.in\": {\"type\": \"echo.message\"},\n"
    "            \"ex.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"ek\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"ex.in\"},\n"
    "               \"outputs\": {\"out\": \"ex.out\"}}]}\n";

static struct {
    proc host;
    const char *instance, *manifest;
} H;

static int group_setup(void **state)
{
    (void)state;
    memset(&H, 0, sizeof H);
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    unsetenv("RINGHOST_INSTANCE");
    H.instance = cli_instance("exit");
    H.manifest = cli_manifest("exit", manifest_text);
    return ctl_start_host(&H.host, H.manifest, H.instance);
}

static int group_teardown(void **state)
{
    ctl_kill_host(&H.host);
    return cli_group_teardown(state);
}

/* One row: the arguments ("@I@" the host's instance, "@M@" its manifest),
 * the exit code and a text stderr must hold. */
typedef struct row {
    const char *args[10];
    int code;
    const char *needle;
} row;

#define ROW(code, needle, ...) {{__VA_ARGS__, NULL}, code, needle}

static const row table[] = {
    /* run */
    ROW(2, "--timeout: expected a value", "run", "@M@", "--timeout"),
    ROW(2, "--timeout: expected a number of seconds", "run", "@M@", "--timeout", "abc"),
    ROW(2, "got \"2x\"", "run", "@M@", "--timeout", "2x"),
    ROW(2, "got \"-1\"", "run", "@M@", "--timeout", "-1"),
    ROW(2, "got \"1e9\"", "run", "@M@", "--timeout", "1e9"),
    ROW(2, "unknown option \"--bogus\"", "run", "@M@", "--bogus"),
    ROW(2, "--instance: expected a value", "run", "@M@", "--instance"),
    ROW(2, "--send: expected a value", "run", "@M@", "--send"),
    ROW(2, "/nonexistent/m.json", "run", "/nonexistent/m.json", "--send", "/dev/null"),
    /* validate, topo */
    ROW(2, "--plugins: expected a value", "validate", "@M@", "--plugins"),
    ROW(2, "unknown option \"--bogus\"", "validate", "@M@", "--bogus"),
    ROW(2, "unexpected argument \"extra\"", "validate", "@M@", "extra"),
    ROW(2, "/nonexistent/m.json", "validate", "/nonexistent/m.json"),
    ROW(2, "--allow-plugin: expected a value", "topo", "@M@", "--allow-plugin"),
    ROW(2, "unknown option \"--bogus\"", "topo", "--bogus"),
    /* plugins */
    ROW(2, "unknown option \"--bogus\"", "plugins", "--bogus"),
    ROW(2, "unexpected argument \"b\"", "plugins", "a", "b"),
    ROW(2, "/nonexistent/dir", "plugins", "/nonexistent/dir"),
    /* send */
    ROW(2, "--instance: expected a value", "send", "--instance"),
    ROW(2, "--id: expected a value", "send", "--instance", "@I@", "--id"),
    ROW(2, "--id: expected a UUID", "send", "--instance", "@I@", "--id", "2x", "ex.in", "{}"),
    ROW(2, "unknown option \"--bogus\"", "send", "--bogus", "ex.in", "{}"),
    ROW(2, "expected a JSON message body", "send", "--instance", "@I@", "ex.in"),
    ROW(2, "instance \"nope-exit\" has no queues", "send", "--instance", "nope-exit", "ex.in",
        "{}"),
    ROW(2, "the queues of instance", "send", "--instance", "@I@", "ex.nope", "{}"),
    /* recv */
    ROW(2, "-n: expected a value", "recv", "--instance", "@I@", "ex.out", "-n"),
    ROW(2, "-n: expected a whole number from 1", "recv", "--instance", "@I@", "ex.out", "-n",
        "x"),
    ROW(2, "got \"2x\"", "recv", "--instance", "@I@", "ex.out", "-n", "2x"),
    ROW(2, "got \"-1\"", "recv", "--instance", "@I@", "ex.out", "-n", "-1"),
    ROW(2, "got \"0\"", "recv", "--instance", "@I@", "ex.out", "-n", "0"),
    ROW(2, "got \"99999999999\"", "recv", "--instance", "@I@", "ex.out", "-n", "99999999999"),
    ROW(2, "--timeout: expected a value", "recv", "--instance", "@I@", "ex.out", "--timeout"),
    ROW(2, "--timeout: expected a number of seconds", "recv", "--instance", "@I@", "ex.out",
        "--timeout", "abc"),
    ROW(2, "got \"2x\"", "recv", "--instance", "@I@", "ex.out", "--timeout", "2x"),
    ROW(2, "got \"-1\"", "recv", "--instance", "@I@", "ex.out", "--timeout", "-1"),
    ROW(2, "got \"1e9\"", "recv", "--instance", "@I@", "ex.out", "--timeout", "1e9"),
    ROW(2, "got \"inf\"", "recv", "--instance", "@I@", "ex.out", "--timeout", "inf"),
    ROW(2, "unknown option \"--bogus\"", "recv", "--instance", "@I@", "ex.out", "--bogus"),
    ROW(2, "instance \"nope-exit\" has no queues", "recv", "--instance", "nope-exit", "ex.out"),
    ROW(2, "ex.in, ex.out", "recv", "--instance", "@I@", "ex.nope"),
    /* stat */
    ROW(2, "--instance: expected a value", "stat", "--instance"),
    ROW(2, "--watch: expected a number of seconds", "stat", "--instance", "@I@", "--watch",
        "abc"),
    ROW(2, "got \"2x\"", "stat", "--instance", "@I@", "--watch", "2x"),
    ROW(2, "got \"-1\"", "stat", "--instance", "@I@", "--watch", "-1"),
    ROW(2, "got \"0.01\"", "stat", "--instance", "@I@", "--watch", "0.01"),
    ROW(2, "unknown option \"--bogus\"", "stat", "--instance", "@I@", "--bogus"),
    ROW(2, "no shared queues of instance \"nope-exit\"", "stat", "--instance", "nope-exit",
        "--once"),
    /* ps */
    ROW(2, "--instance: expected a value", "ps", "--instance"),
    ROW(2, "unknown option \"--bogus\"", "ps", "--instance", "@I@", "--bogus"),
    ROW(2, "no host running for instance \"nope-exit\"", "ps", "--instance", "nope-exit"),
    /* launch */
    ROW(2, "--instance: expected a value", "launch", "@M@", "--instance"),
    ROW(2, "--plugins: expected a value", "launch", "@M@", "--instance", "@I@", "--plugins"),
    ROW(2, "--allow-plugin: expected the absolute path", "launch", "@M@", "--instance", "@I@",
        "--allow-plugin", "rel.so"),
    ROW(2, "unknown option \"--bogus\"", "launch", "@M@", "--bogus"),
    ROW(2, "/nonexistent/m.json", "launch", "/nonexistent/m.json", "--instance", "@I@"),
    ROW(2, "no host running for instance \"nope-exit\"", "launch", "@M@", "--instance",
        "nope-exit"),
    /* activate, deactivate, reload, terminate */
    ROW(2, "--instance: expected a value", "activate", "ek", "--instance"),
    ROW(2, "unknown option \"--bogus\"", "activate", "ek", "--bogus"),
    ROW(2, "expected the name of a kernel", "activate", "--instance", "@I@"),
    ROW(2, "no host running for instance \"nope-exit\"", "activate", "ek", "--instance",
        "nope-exit"),
    ROW(2, "no kernel \"nope\"", "activate", "nope", "--instance", "@I@"),
    ROW(2, "unknown option \"--timeout-ms\"", "deactivate", "ek", "--instance", "@I@",
        "--timeout-ms", "5"),
    ROW(2, "no host running for instance \"nope-exit\"", "deactivate", "ek", "--instance",
        "nope-exit"),
    ROW(2, "no kernel \"nope\"", "reload", "nope", "--instance", "@I@"),
    ROW(2, "unexpected argument \"b\"", "reload", "ek", "b", "--instance", "@I@"),
    ROW(2, "--timeout-ms: expected a value", "terminate", "ek", "--instance", "@I@",
        "--timeout-ms"),
    ROW(2, "--timeout-ms: expected a whole number", "terminate", "ek", "--instance", "@I@",
        "--timeout-ms", "x"),
    ROW(2, "got \"2x\"", "terminate", "ek", "--instance", "@I@", "--timeout-ms", "2x"),
    ROW(2, "got \"-1\"", "terminate", "ek", "--instance", "@I@", "--timeout-ms", "-1"),
    ROW(2, "got \"99999999999\"", "terminate", "ek", "--instance", "@I@", "--timeout-ms",
        "99999999999"),
    ROW(2, "no host running for instance \"nope-exit\"", "terminate", "ek", "--instance",
        "nope-exit"),
    ROW(2, "no kernel \"nope\"", "terminate", "nope", "--instance", "@I@"),
    /* purge */
    ROW(2, "--instance: expected a value", "purge", "--instance"),
    ROW(2, "unknown option \"--bogus\"", "purge", "--instance", "@I@", "--bogus"),
    ROW(2, "expected a queue name", "purge", "--instance", "@I@"),
    ROW(2, "instance \"nope-exit\" has no queues", "purge", "--instance", "nope-exit", "ex.in"),
    ROW(2, "ex.in, ex.out", "purge", "--instance", "@I@", "ex.nope"),
    /* run --ready-fd, --metrics-listen (ready.c, metrics_http.c) */
    ROW(2, "--ready-fd: expected a value", "run", "@M@", "--ready-fd"),
    ROW(2, "--ready-fd: expected a whole number from 0", "run", "@M@", "--ready-fd", "x"),
    ROW(2, "got \"3x\"", "run", "@M@", "--ready-fd", "3x"),
    ROW(2, "got \"-1\"", "run", "@M@", "--ready-fd", "-1"),
    ROW(2, "got \"99999999999\"", "run", "@M@", "--ready-fd", "99999999999"),
    ROW(2, "--ready-fd 1: expected a descriptor other than", "run", "@M@", "--ready-fd", "1"),
    ROW(2, "--metrics-listen: expected a value", "run", "@M@", "--metrics-listen"),
    ROW(2, "--metrics-listen: expected a whole number from 0 to 65535, got \"x\"", "run", "@M@",
        "--metrics-listen", "x"),
    ROW(2, "got \"80x\"", "run", "@M@", "--metrics-listen", "127.0.0.1:80x"),
    ROW(2, "got \"-1\"", "run", "@M@", "--metrics-listen", "-1"),
    ROW(2, "got \"99999\"", "run", "@M@", "--metrics-listen", "99999"),
    ROW(2, "--metrics-listen: expected [ADDR:]PORT", "run", "@M@", "--metrics-listen",
        "nohost:80"),
    /* wait: a valid instance no host serves is its timeout, 1 (test_cli_ready.c) */
    ROW(2, "--instance: expected a value", "wait", "--instance"),
    ROW(2, "--timeout: expected a value", "wait", "--instance", "@I@", "--timeout"),
    ROW(2, "--timeout: expected a number of seconds", "wait", "--instance", "@I@", "--timeout",
        "abc"),
    ROW(2, "got \"2x\"", "wait", "--instance", "@I@", "--timeout", "2x"),
    ROW(2, "got \"-1\"", "wait", "--instance", "@I@", "--timeout", "-1"),
    ROW(2, "got \"1e9\"", "wait", "--instance", "@I@", "--timeout", "1e9"),
    ROW(2, "got \"inf\"", "wait", "--instance", "@I@", "--timeout", "inf"),
    ROW(2, "unknown option \"--bogus\"", "wait", "--instance", "@I@", "--bogus"),
    ROW(2, "unexpected argument \"x\"", "wait", "--instance", "@I@", "x"),
    ROW(2, "instance name \"no/such\" is invalid", "wait", "--instance", "no/such"),
    ROW(2, "wait: expected --instance I", "wait"),
    /* recv --peek, --reason */
    ROW(2, "--reason: expected a value", "recv", "--instance", "@I@", "ex.out", "--peek",
        "--reason"),
    ROW(2, "--reason: expected one of invalid", "recv", "--instance", "@I@", "ex.out", "--peek",
        "--reason", "bogus"),
    ROW(2, "got \"2x\"", "recv", "--instance", "@I@", "ex.out", "--peek", "-n", "2x"),
    ROW(2, "unknown option \"--peekx\"", "recv", "--instance", "@I@", "ex.out", "--peekx"),
    ROW(2, "instance \"nope-exit\" has no queues", "recv", "--instance", "nope-exit", "ex.out",
        "--peek"),
    /* graph */
    ROW(2, "--instance: expected a value", "graph", "--instance"),
    ROW(2, "-o: expected a value", "graph", "@M@", "-o"),
    ROW(2, "--plugins: expected a value", "graph", "@M@", "--plugins"),
    ROW(2, "--allow-plugin: expected a value", "graph", "@M@", "--allow-plugin"),
    ROW(2, "unknown option \"--bogus\"", "graph", "@M@", "--bogus"),
    ROW(2, "unexpected argument \"b\"", "graph", "@M@", "b"),
    ROW(2, "-o noext: expected a file name", "graph", "@M@", "-o", "noext"),
    ROW(2, "not both", "graph", "@M@", "--instance", "@I@"),
    ROW(2, "/nonexistent/m.json", "graph", "/nonexistent/m.json"),
    ROW(2, "no host running for instance \"nope-exit\"", "graph", "--instance", "nope-exit"),
    /* inspect */
    ROW(2, "--plugins: expected a value", "inspect", "echo", "--plugins"),
    ROW(2, "unknown option \"--bogus\"", "inspect", "echo", "--bogus"),
    ROW(2, "unexpected argument \"b\"", "inspect", "echo", "b"),
    ROW(2, "expected a plugin", "inspect"),
    ROW(2, "no plugin \"nope\"", "inspect", "nope", "--plugins", RH_TEST_PLUGIN_DIR),
    ROW(2, "/nonexistent/dir", "inspect", "echo", "--plugins", "/nonexistent/dir"),
    ROW(2, "/nonexistent/x.so", "inspect", "/nonexistent/x.so"),
    /* methods, save-config */
    ROW(2, "--instance: expected a value", "methods", "--instance"),
    ROW(2, "unknown option \"--bogus\"", "methods", "--instance", "@I@", "--bogus"),
    ROW(2, "unexpected argument \"x\"", "methods", "--instance", "@I@", "x"),
    ROW(2, "no host running for instance \"nope-exit\"", "methods", "--instance", "nope-exit"),
    ROW(2, "--instance: expected a value", "save-config", "--instance"),
    ROW(2, "-o: expected a value", "save-config", "--instance", "@I@", "-o"),
    ROW(2, "unknown option \"--bogus\"", "save-config", "--instance", "@I@", "--bogus"),
    ROW(2, "unexpected argument \"x\"", "save-config", "--instance", "@I@", "x"),
    ROW(2, "no host running for instance \"nope-exit\"", "save-config", "--instance",
        "nope-exit"),
    /* new-kernel, the verb itself */
    ROW(2, "unknown option \"--bogus\"", "new-kernel", "--bogus"),
    ROW(2, "unknown verb \"bogus\"", "bogus"),
};

/* Run one row; argv after substitution. */
static void run_row(const row *r, cli_out *o)
{
    const char *args[12];
    size_t n = 0;
    for (; r->args[n]; n++) {
        const char *a = r->args[n];
        args[n] = !strcmp(a, "@I@") ? H.instance : !strcmp(a, "@M@") ? H.manifest : a;
    }
    args[n] = NULL;
    cli_exec_argv(o, NULL, args);
}

static void test_every_verb_refuses_each_class_of_bad_argument_with_exit_2(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        cli_out o;
        run_row(&table[i], &o);
        CLI_CHECK(&o, o.r.exit_code == table[i].code && !o.r.timed_out,
                  "row %zu: expected exit %d", i, table[i].code);
        CLI_CHECK(&o, strstr(o.r.err, table[i].needle), "row %zu: expected stderr to hold "
                  "\"%s\"", i, table[i].needle);
        cli_free(&o);
    }
    /* A refused command did nothing: every row that named a queue of the
     * host (send with a bad --id among them) left it untouched. */
    assert_int_equal(cli_queue_counter(H.instance, "ex.in", "enqueued"), 0);
    assert_int_equal(cli_queue_counter(H.instance, "ex.out", "dequeued"), 0);
}

/* The bench verb runs ringhost-bench, whose own parser answers; with the
 * benchmark not built the rows are the missing-binary case below. */
static void test_bench_refuses_bad_arguments_with_exit_2(void **state)
{
    (void)state;
    if (access(RH_TEST_BUILD_DIR "/ringhost-bench", X_OK) != 0) {
        print_message("SKIPPED: ringhost-bench is not built in " RH_TEST_BUILD_DIR " (cmake "
                      "--build it with --target ringhost-bench; it needs DPDK and ZeroMQ, "
                      "which bash .ci/deps.sh installs)\n");
        skip();
    }
    static const row bench[] = {
        ROW(2, "--reps", "bench", "--reps"),
        ROW(2, "not 'x'", "bench", "--reps", "x"),
        ROW(2, "not '2x'", "bench", "--reps", "2x"),
        ROW(2, "not '-1'", "bench", "--reps", "-1"),
        ROW(2, "not '100000'", "bench", "--reps", "100000"),
        ROW(2, "'--bogus'", "bench", "--bogus"),
    };
    for (size_t i = 0; i < sizeof bench / sizeof bench[0]; i++) {
        cli_out o;
        run_row(&bench[i], &o);
        CLI_CHECK(&o, o.r.exit_code == bench[i].code, "bench row %zu: expected exit %d", i,
                  bench[i].code);
        CLI_CHECK(&o, strstr(o.r.err, bench[i].needle), "bench row %zu: expected stderr to "
                  "hold \"%s\"", i, bench[i].needle);
        cli_free(&o);
    }
}

/* ---------------------------------------------------------- lifecycle ---- */

static void verb(const char *v, const char *kernel, int code, const char *out_needle,
                 const char *err_needle)
{
    cli_out o;
    cli_exec(&o, NULL, v, kernel, "--instance", H.instance, NULL);
    cli_expect_exit(&o, code);
    if (out_needle)
        CLI_CHECK(&o, strstr(o.r.out, out_needle), "expected %s %s to print \"%s\"", v, kernel,
                  out_needle);
    if (err_needle)
        CLI_CHECK(&o, strstr(o.r.err, err_needle), "expected %s %s to say \"%s\" on stderr", v,
                  kernel, err_needle);
    cli_free(&o);
}

static void test_asking_for_the_state_a_kernel_is_in_exits_0_and_says_already(void **state)
{
    (void)state;
    verb("activate", "ek", 0, "kernel ek: active (already; nothing changed)", NULL);
    verb("deactivate", "ek", 0, "kernel ek: inactive\n", NULL);
    verb("deactivate", "ek", 0, "kernel ek: inactive (already; nothing changed)", NULL);
    verb("activate", "ek", 0, "kernel ek: active\n", NULL);
}

/* Last on the host: its one kernel goes. */
static void test_a_transition_the_state_refuses_exits_2(void **state)
{
    (void)state;
    verb("terminate", "ek", 0, "kernel ek: terminated", NULL);
    verb("terminate", "ek", 2, NULL, "already terminated");
    verb("activate", "ek", 2, NULL, "terminated");
    verb("deactivate", "ek", 2, NULL, "terminated");
}

/* ---------------------------------------------------------- plugins ---- */

/* A folder with the echo kernel and a shared library that is no kernel. */
static const char *mixed_folder(void)
{
    static const char *dir;
    if (dir)
        return dir;
    dir = cli_keep("%s/mixed", cli_tmpdir());
    mkdir(dir, 0755);
    /* any ELF shared object without rh_kernel_entry: libc's math library */
    const char *libs[] = {"/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6",
                          "/lib64/libm.so.6", "/usr/lib/aarch64-linux-gnu/libm.so.6"};
    const char *lib = NULL;
    for (size_t i = 0; i < 4 && !lib; i++)
        if (access(libs[i], R_OK) == 0)
            lib = libs[i];
    assert_non_null(lib);
    char *cp[] = {"/bin/cp", (char *)lib, (char *)cli_keep("%s/notk.so", dir), NULL};
    char *cp2[] = {"/bin/cp", RH_TEST_PLUGIN_DIR "/echo.so", (char *)cli_keep("%s/echo.so", dir),
                   NULL};
    proc_result r;
    assert_int_equal(proc_run(cp, NULL, 10, &r), 0);
    assert_int_equal(r.exit_code, 0);
    proc_result_free(&r);
    assert_int_equal(proc_run(cp2, NULL, 10, &r), 0);
    assert_int_equal(r.exit_code, 0);
    proc_result_free(&r);
    return dir;
}

static void test_plugins_exits_1_when_a_plugin_fails_to_load(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "plugins", mixed_folder(), NULL);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.out, "1 loaded, 1 failed"), "expected the listing to count both");
    CLI_CHECK(&o, strstr(o.r.err, "1 of 2 plugin file(s)") && strstr(o.r.err, "failed to load"),
              "expected stderr to say how many failed");
    cli_free(&o);
    /* all loaded: 0 */
    cli_exec(&o, NULL, "plugins", RH_TEST_PLUGIN_DIR, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void test_plugin_paths_print_without_a_double_slash(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "plugins", cli_keep("%s/", RH_TEST_PLUGIN_DIR), NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, !strstr(o.r.out, "//") && strstr(o.r.out, "/echo.so: kernel echo"),
              "expected \"DIR/echo.so\" paths, never \"DIR//echo.so\"");
    cli_free(&o);
}

static void test_a_manifest_naming_a_non_kernel_so_is_told_its_load_error_first(void **state)
{
    (void)state;
    const char *m = cli_write("notk.json", cli_keep(
        "{\"ringhost\": 1, \"name\": \"notk\", \"plugins\": [\"%s/\"],\n"
        " \"queues\": {\"n.in\": {\"type\": \"notk.request\"}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"notk\", \"inputs\": {\"in\": "
        "\"n.in\"}}]}\n", mixed_folder()));
    cli_out o;
    cli_exec(&o, NULL, "validate", m, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "kernels[0].plugin: plugin \"notk\" failed to load") &&
                      strstr(o.r.err, "rh_kernel_entry"),
              "expected the plugin's load error (no entry symbol rh_kernel_entry)");
    CLI_CHECK(&o, !strstr(o.r.err, ".type: expected a message type"),
              "expected no queue-type error: the plugin that would declare it did not load");
    CLI_CHECK(&o, !strstr(o.r.err, "//"), "expected no \"//\" in the plugin's path");
    cli_free(&o);
}

/* ------------------------------------------------------- make, bench ---- */

static void test_make_run_prints_no_stray_backslash_line(void **state)
{
    (void)state;
    char *argv[] = {"/usr/bin/make", "-n", "-s", "-C", RH_TEST_SOURCE_DIR, "run", NULL};
    proc_result r;
    if (proc_run(argv, NULL, 30, &r) != 0) {
        print_message("SKIPPED: make is not installed\n");
        skip();
    }
    assert_int_equal(r.exit_code, 0);
    const char *run = strstr(r.out, "ringhost run manifests/vector_add.json");
    if (!run)
        fail_msg("expected make -n run to show the demo command:\n%s", r.out);
    const char *eol = strchr(run, '\n');
    size_t len = eol ? (size_t)(eol - run) : strlen(run);
    while (len && run[len - 1] == ' ')
        len--;
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)len, run);
    if (!len || run[len - 1] == '\\' || !strstr(line, "--send"))
        fail_msg("expected the demo command on one line, without a trailing \\:\n%s", r.out);
    proc_result_free(&r);
}

static void test_bench_without_its_binary_says_how_to_build_it(void **state)
{
    (void)state;
    /* A copy of ringhost alone in a folder: no ringhost-bench beside it. */
    const char *dir = cli_keep("%s/lonely", cli_tmpdir());
    mkdir(dir, 0755);
    const char *copy = cli_keep("%s/ringhost", dir);
    char *cp[] = {"/bin/cp", RH_TEST_BINARY, (char *)copy, NULL};
    proc_result r;
    assert_int_equal(proc_run(cp, NULL, 10, &r), 0);
    assert_int_equal(r.exit_code, 0);
    proc_result_free(&r);
    char *argv[] = {(char *)copy, "bench", "--quick", NULL};
    assert_int_equal(proc_run(argv, NULL, 10, &r), 0);
    if (r.exit_code != 1 || !strstr(r.err, "No such file or directory"))
        fail_msg("expected exit 1 naming the missing ringhost-bench, got %d:\n%s", r.exit_code,
                 r.err);
    /* One of the two causes, each with its fix; a build that has
     * ringhost-bench was configured with it, so no package is blamed. */
    int not_built = strstr(r.err, "did not build it yet") != NULL;
    int configured_without = strstr(r.err, "configured without the benchmark") != NULL;
    if (not_built == configured_without || !strstr(r.err, "--target ringhost-bench"))
        fail_msg("expected one cause and the cmake --build line:\n%s", r.err);
    if (not_built && strstr(r.err, "apt-get"))
        fail_msg("expected no package advice when only the target was not built:\n%s", r.err);
    if (access(RH_TEST_BUILD_DIR "/ringhost-bench", X_OK) == 0 && !not_built)
        fail_msg("this build has ringhost-bench: expected \"did not build it yet\":\n%s",
                 r.err);
    proc_result_free(&r);
}

/* ------------------------------------------------- another user's stat ---- */

static void test_stat_by_another_user_says_permission_denied(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIPPED: needs root (it makes a second user with useradd); running as "
                      "uid %u\n", (unsigned)geteuid());
        skip();
    }
    if (access("/usr/sbin/useradd", X_OK) || access("/usr/sbin/userdel", X_OK) ||
        access("/usr/bin/setpriv", X_OK)) {
        print_message("SKIPPED: needs useradd, userdel and setpriv\n");
        skip();
    }
    char user[32];
    snprintf(user, sizeof user, "rh13x%d", (int)(getpid() % 1000000));
    char *add[] = {"/usr/sbin/useradd", "-M", "-N", "-r", "-s", "/usr/sbin/nologin", user, NULL};
    proc_result r;
    assert_int_equal(proc_run(add, NULL, 30, &r), 0);
    assert_int_equal(r.exit_code, 0);
    proc_result_free(&r);
    struct passwd *pw = getpwnam(user);
    char uid[16], gid[16];
    snprintf(uid, sizeof uid, "%u", pw ? (unsigned)pw->pw_uid : 0u);
    snprintf(gid, sizeof gid, "%u", pw ? (unsigned)pw->pw_gid : 0u);
    char *as_user[] = {"/usr/bin/setpriv", "--reuid", uid, "--regid", gid, "--clear-groups",
                       RH_TEST_BINARY, "stat", "--instance", (char *)H.instance, "--once", NULL};
    int ran = pw ? proc_run(as_user, NULL, 30, &r) : -1;
    char *del[] = {"/usr/sbin/userdel", user, NULL};
    proc_result d;
    if (proc_run(del, NULL, 30, &d) != 0 || d.exit_code != 0)
        print_error("userdel %s failed: remove the user by hand\n", user);
    proc_result_free(&d);
    assert_non_null(pw);
    assert_int_equal(ran, 0);
    if (r.exit_code != 1 || !strstr(r.err, "permission denied") ||
        !strstr(r.err, "belongs to uid 0") || strstr(r.err, "is it running") ||
        !strstr(r.err, "exist but cannot be read"))
        fail_msg("expected stat as uid %s to exit 1 saying permission denied (the queues "
                 "belong to uid 0), got %d:\n%s", uid, r.exit_code, r.err);
    proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_verb_refuses_each_class_of_bad_argument_with_exit_2),
        cmocka_unit_test(test_bench_refuses_bad_arguments_with_exit_2),
        cmocka_unit_test(test_stat_by_another_user_says_permission_denied),
        cmocka_unit_test(test_asking_for_the_state_a_kernel_is_in_exits_0_and_says_already),
        cmocka_unit_test(test_a_transition_the_state_refuses_exits_2),
        cmocka_unit_test(test_plugins_exits_1_when_a_plugin_fails_to_load),
        cmocka_unit_test(test_plugin_paths_print_without_a_double_slash),
        cmocka_unit_test(test_a_manifest_naming_a_non_kernel_so_is_told_its_load_error_first),
        cmocka_unit_test(test_make_run_prints_no_stray_backslash_line),
        cmocka_unit_test(test_bench_without_its_binary_says_how_to_build_it),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
