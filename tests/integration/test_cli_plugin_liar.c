/*
 * test_cli_plugin_liar.c — a plugin that lies to the scanner cannot end a
 * serving host without its accounting, nor wedge it, through the real
 * binary.
 *
 * The liars (tests/plugins/liar_ctor.c, RH_TEST_BUILD_DIR/liar_plugins)
 * are valid plugins while the scanner child loads them (stdout on
 * /dev/null there) and crash, call exit(0) or hang in any other process,
 * in their constructor (liar_dtor_segv: its destructor).  Each test starts
 * a host serving an echo kernel, which answers traffic before and after;
 * then:
 *
 *   - the liars dropped into the watched folder are never run by the host
 *     (they are only scanned): it keeps answering and a SIGTERM ends it
 *     with exit 0 and balanced accounting;
 *   - `ringhost launch` of a manifest naming a liar returns (it does not
 *     hang), and the host ends by itself with exit 1, the liar named, and
 *     every accounting line written and balanced;
 *   - a liar moved over the file the running kernel was loaded from (a hot
 *     swap) does the same;
 *   - a SIGTERM sent while a liar hangs inside the host's load ends the
 *     host within the load's deadline and a few seconds, accounting
 *     written;
 *   - a destructor that crashes when a failed launch unloads its plugin
 *     ends the host the same way.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

#define LIAR_DIR RH_TEST_BUILD_DIR "/liar_plugins"
#define WAIT_S 30.0
/* The host's own load's deadline: what a hung liar costs.  The scanner
 * keeps its default (5 s): a scan forks, which a sanitizer build on a busy
 * machine has been seen to take longer than 1.5 s over. */
#define LOAD_MS 1500

typedef struct served {
    proc host;
    const char *tag;
    const char *instance;
    const char *dir; /* the host's plugin folder */
    unsigned asked;  /* requests answered so far */
} served;

static void copy_in(const char *from, const char *dir, const char *name)
{
    const char *tmp = cli_keep("%s/.%s.tmp", dir, name);
    if (cli_copy_file(from, tmp, 0644) != 0)
        fail_msg("cannot copy %s (is rh_bad_plugins built?)", from);
    assert_int_equal(rename(tmp, cli_keep("%s/%s", dir, name)), 0);
}

/* Send n requests to e.in and read their n answers from e.out. */
static void ask(served *s, unsigned n)
{
    const char *args[64] = {RH_TEST_BINARY, "send", "--instance", s->instance, "e.in"};
    size_t a = 5;
    for (unsigned i = 0; i < n && a < 63; i++)
        args[a++] = cli_keep("{\"seq\": %u, \"text\": \"ask\"}", s->asked + i + 1);
    args[a] = NULL;
    cli_out o;
    cli_exec_argv(&o, NULL, args + 1);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", s->instance, "e.out", "-n", cli_keep("%u", n),
             "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, cli_count(o.r.out, "\"queue\"") == n, "expected %u answers", n);
    cli_free(&o);
    s->asked += n;
}

static const char *const liars[] = {"liar_segv", "liar_exit", "liar_hang", "liar_dtor_segv"};
#define N_LIARS (sizeof liars / sizeof liars[0])

/* A new plugin folder holding echo.so, and every liar when with_liars. */
static const char *echo_folder(const char *name, int with_liars)
{
    const char *dir = cli_keep("%s/%s", cli_tmpdir(), name);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(cli_copy_file(RH_TEST_PLUGIN_DIR "/echo.so", cli_keep("%s/echo.so", dir),
                                   0644), 0);
    for (size_t i = 0; with_liars && i < N_LIARS; i++)
        copy_in(cli_keep("%s/%s.so", LIAR_DIR, liars[i]), dir, cli_keep("%s.so", liars[i]));
    return dir;
}

/* A host serving kernel k (echo) on e.in -> e.out from its own folder
 * (which holds every liar too when with_liars), that has answered 5
 * requests. */
static void serve_echo_beside(served *s, const char *tag, int with_liars)
{
    memset(s, 0, sizeof *s);
    s->tag = tag;
    s->instance = cli_instance(tag);
    s->dir = echo_folder(tag, with_liars);
    const char *m = cli_manifest(tag, cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", "
                                               "\"plugins\": [\"%s\"], "
                                               "\"queues\": {\"e.in\": {}, \"e.out\": {}}, "
                                               "\"kernels\": [{\"name\": \"k\", "
                                               "\"plugin\": \"echo\", "
                                               "\"inputs\": {\"in\": \"e.in\"}, "
                                               "\"outputs\": {\"out\": \"e.out\"}}]}",
                                               s->dir));
    cli_start_host(&s->host, m, s->instance);
    ask(s, 5);
}

static void serve_echo(served *s, const char *tag)
{
    serve_echo_beside(s, tag, 0);
}

/* A manifest for `launch` whose kernel runs `plugin` from a folder holding
 * <plugin>.so and echo.so; inputs: its "inputs" object. */
static const char *liar_manifest(const char *tag, const char *plugin, const char *inputs)
{
    const char *dir = echo_folder(cli_keep("%s-liar", tag), 0); /* echo.so beside it */
    copy_in(cli_keep("%s/%s.so", LIAR_DIR, plugin), dir, cli_keep("%s.so", plugin));
    const char *path = cli_keep("%s/%s-launch.json", cli_tmpdir(), tag);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"ringhost\": 1, \"name\": \"%s-l\", \"plugins\": [\"%s\"],\n"
            " \"queues\": {\"l.in\": {\"type\": \"bad.message\"}, "
            "\"l.out\": {\"type\": \"bad.message\"}},\n"
            " \"kernels\": [{\"name\": \"liar\", \"plugin\": \"%s\", \"inputs\": %s, "
            "\"outputs\": {\"out\": \"l.out\"}}]}\n",
            tag, dir, plugin, inputs);
    fclose(f);
    return path;
}

/* The host ends by itself within within_s: exit 1, the file named as
 * what took the loader (file: its name), the echo kernel's accounting
 * written and balanced (every request asked was accepted and delivered),
 * no sanitizer report (whose exit status would also be 1).
 * by_itself: the host said it shuts down for the plugin (not for a
 * SIGTERM that came first). */
static void expect_host_ends_with_accounting(served *s, const char *file, double within_s,
                                             int by_itself)
{
    double t0 = proc_now();
    int ended = WAIT_UNTIL(within_s, !proc_running(&s->host));
    proc_result r;
    proc_wait(&s->host, 5, &r);
    const char *in_line = cli_keep("accounting: queue e.in: accepted %u = delivered %u + "
                                   "dead-lettered 0 + dropped 0 + queued 0: balanced",
                                   s->asked, s->asked);
    size_t lines = cli_count(r.err, "accounting: queue ");
    if (!ended || r.timed_out || r.exit_code != 1 || !strstr(r.err, in_line) || lines < 2 ||
        cli_count(r.err, ": balanced") < lines || strstr(r.err, "UNBALANCED") ||
        !strstr(r.err, "event=plugin.load_fatal") || strstr(r.err, "Sanitizer") ||
        !strstr(r.err, cli_keep("/%s: it ", file)) ||
        (by_itself && !strstr(r.err, "the host's plugin loader is lost, shutting down")))
    {
        print_error("---- the host's stderr ----\n%s\n", r.err);
        fail_msg("expected the host to end within %.0f s with exit 1, naming %s "
                 "(plugin.load_fatal), and \"%s\" among %zu balanced accounting lines; it %s "
                 "after %.1f s with exit %d (signal %d)",
                 within_s, file, in_line, lines, ended ? "ended" : "did NOT end",
                 proc_now() - t0, r.exit_code, r.term_signal);
    }
    proc_result_free(&r);
}

/* ---------------------------------------------------------------- drop -- */

static void test_liars_dropped_into_the_folder_never_run_in_the_host(void **state)
{
    (void)state;
    served s;
    serve_echo(&s, "drop");
    for (size_t i = 0; i < N_LIARS; i++) {
        copy_in(cli_keep("%s/%s.so", LIAR_DIR, liars[i]), s.dir, cli_keep("%s.so", liars[i]));
        /* the scanner's verdict: it loads (it lies there) */
        const char *added = cli_keep("event=plugin.added file=%s/%s.so kernel=%s", s.dir,
                                     liars[i], liars[i]);
        EXPECT_WITHIN(WAIT_S, cli_file_count(s.host.err_path, added) == 1 ||
                                  !proc_running(&s.host),
                      "expected \"%s\" in the host's log", added);
        if (!proc_running(&s.host)) {
            proc_result r;
            proc_wait(&s.host, 5, &r);
            fail_msg("the host ended (exit %d, signal %d) when %s.so was dropped into its "
                     "folder; stderr:\n%s", r.exit_code, r.term_signal, liars[i], r.err);
        }
        ask(&s, 3);
    }
    assert_int_equal(proc_signal(&s.host, SIGTERM), 0);
    proc_result r;
    proc_wait(&s.host, WAIT_S, &r);
    const char *in_line = cli_keep("accounting: queue e.in: accepted %u = delivered %u + "
                                   "dead-lettered 0 + dropped 0 + queued 0: balanced",
                                   s.asked, s.asked);
    if (r.exit_code != 0 || r.timed_out || !strstr(r.err, in_line) ||
        strstr(r.err, "UNBALANCED") || strstr(r.err, "plugin.load_fatal") ||
        strstr(r.err, "Sanitizer"))
        fail_msg("expected SIGTERM to end the host with exit 0 and \"%s\"; got exit %d "
                 "(signal %d)%s; stderr:\n%s",
                 in_line, r.exit_code, r.term_signal, r.timed_out ? " (timed out)" : "", r.err);
    proc_result_free(&r);
}

/* ------------------------------------------------------------- beside -- */

/* SIGTERM ends s's host with exit 0, e.in's line balanced with every
 * request asked, and also_line (when not NULL) among the balanced lines. */
static void expect_sigterm_ends_cleanly(served *s, const char *also_line)
{
    assert_int_equal(proc_signal(&s->host, SIGTERM), 0);
    proc_result r;
    proc_wait(&s->host, WAIT_S, &r);
    const char *in_line = cli_keep("accounting: queue e.in: accepted %u = delivered %u + "
                                   "dead-lettered 0 + dropped 0 + queued 0: balanced",
                                   s->asked, s->asked);
    if (r.exit_code != 0 || r.timed_out || !strstr(r.err, in_line) ||
        (also_line && !strstr(r.err, also_line)) || strstr(r.err, "UNBALANCED") ||
        strstr(r.err, "plugin.load_fatal") || strstr(r.err, "Sanitizer"))
        fail_msg("expected SIGTERM to end the host with exit 0, \"%s\"%s%s; got exit %d "
                 "(signal %d)%s; stderr:\n%s",
                 in_line, also_line ? " and " : "", also_line ? also_line : "", r.exit_code,
                 r.term_signal, r.timed_out ? " (timed out)" : "", r.err);
    proc_result_free(&r);
}

/* The liars append "pid=P" to the mark file when they misbehave: in a
 * process that is not the scanner.  Nothing may be there. */
static void expect_no_liar_ran(const char *mark)
{
    if (access(mark, F_OK) == 0)
        fail_msg("a liar's constructor ran outside the scanner (%s holds %zu \"pid=\" lines)",
                 mark, cli_file_count(mark, "pid="));
}

/* A manifest naming echo, whose folder also holds every liar: the host
 * loads only what a kernel names, serves, and ends cleanly at SIGTERM. */
static void test_liars_beside_the_named_plugin_never_run_in_the_host(void **state)
{
    (void)state;
    const char *mark = cli_keep("%s/beside.mark", cli_tmpdir());
    setenv("RH_TEST_LIAR_MARK", mark, 1);
    served s;
    serve_echo_beside(&s, "beside", 1);
    unsetenv("RH_TEST_LIAR_MARK");
    ask(&s, 3);
    expect_no_liar_ran(mark);
    expect_sigterm_ends_cleanly(&s, NULL);
    expect_no_liar_ran(mark);
}

/* The same through `ringhost launch` into a serving host: a second echo
 * kernel from a folder holding every liar; both kernels answer. */
static void test_launching_echo_from_a_folder_of_liars_runs_none_of_them(void **state)
{
    (void)state;
    const char *mark = cli_keep("%s/lbeside.mark", cli_tmpdir());
    setenv("RH_TEST_LIAR_MARK", mark, 1);
    served s;
    serve_echo(&s, "lbeside");
    const char *dir = echo_folder("lbeside-more", 1);
    const char *m = cli_keep("%s/lbeside-launch.json", cli_tmpdir());
    FILE *f = fopen(m, "w");
    assert_non_null(f);
    const char *text =
        "{\"ringhost\": 1, \"name\": \"lbeside-l\", \"plugins\": [\"%s\"],\n"
        " \"queues\": {\"f.in\": {}, \"f.out\": {}},\n"
        " \"kernels\": [{\"name\": \"k2\", \"plugin\": \"%s\", "
        "\"inputs\": {\"in\": \"f.in\"}, \"outputs\": {\"out\": \"f.out\"}}]}\n";
    /* an unknown name first: the refusal lists what the folder holds, from
     * the scanner's verdicts, and loads none of it */
    fprintf(f, text, dir, "nope");
    fclose(f);
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", s.instance, NULL);
    CLI_CHECK(&o, o.r.exit_code != 0 && strstr(o.r.err, "got \"nope\"") &&
                      strstr(o.r.err, "they hold: echo, liar_dtor_segv, liar_exit, liar_hang, "
                                      "liar_segv"),
              "expected the launch to fail listing the folder's kernels");
    cli_free(&o);
    if (!proc_running(&s.host))
        fail_msg("expected the host to go on serving after the refused launch");
    f = fopen(m, "w");
    assert_non_null(f);
    fprintf(f, text, dir, "echo");
    fclose(f);
    cli_exec(&o, NULL, "launch", m, "--instance", s.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    unsetenv("RH_TEST_LIAR_MARK");
    cli_exec(&o, NULL, "send", "--instance", s.instance, "f.in", "{\"seq\": 1, \"text\": \"a\"}",
             "{\"seq\": 2, \"text\": \"b\"}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", s.instance, "f.out", "-n", "2", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, cli_count(o.r.out, "\"queue\"") == 2, "expected 2 answers from k2");
    cli_free(&o);
    ask(&s, 3);
    expect_no_liar_ran(mark);
    expect_sigterm_ends_cleanly(&s, "accounting: queue f.in: accepted 2 = delivered 2 + "
                                    "dead-lettered 0 + dropped 0 + queued 0: balanced");
    expect_no_liar_ran(mark);
}

/* -------------------------------------------------------------- launch -- */

static void launch_liar(const char *tag, const char *plugin)
{
    served s;
    serve_echo(&s, tag);
    const char *m = liar_manifest(tag, plugin, "{\"in\": \"l.in\"}");
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", s.instance, NULL); /* fails past 30 s */
    CLI_CHECK(&o, o.r.exit_code != 0 && !o.r.timed_out && o.r.term_signal == 0,
              "expected launch of a manifest naming %s to fail, and return", plugin);
    cli_free(&o);
    expect_host_ends_with_accounting(&s, cli_keep("%s.so", plugin), WAIT_S, 1);
}

static void test_launching_a_liar_that_segfaults_ends_the_host_with_its_accounting(void **state)
{
    (void)state;
    launch_liar("lsegv", "liar_segv");
}

static void test_launching_a_liar_that_exits_ends_the_host_with_its_accounting(void **state)
{
    (void)state;
    launch_liar("lexit", "liar_exit");
}

static void test_launching_a_liar_that_hangs_returns_and_ends_the_host(void **state)
{
    (void)state;
    launch_liar("lhang", "liar_hang");
}

/* A launch that fails after its plugins loaded (a port the kernel does not
 * have) unloads them: liar_dtor_segv crashes in its destructor then. */
static void test_a_destructor_that_crashes_at_unload_ends_the_host_with_its_accounting(
    void **state)
{
    (void)state;
    served s;
    serve_echo(&s, "dtor");
    const char *m = liar_manifest("dtor", "liar_dtor_segv", "{\"nope\": \"l.in\"}");
    cli_out o;
    cli_exec(&o, NULL, "launch", m, "--instance", s.instance, NULL);
    CLI_CHECK(&o, o.r.exit_code != 0 && !o.r.timed_out && o.r.term_signal == 0,
              "expected the launch to fail (kernel liar has no input port \"nope\")");
    cli_free(&o);
    expect_host_ends_with_accounting(&s, "liar_dtor_segv.so", WAIT_S, 1);
}

/* ---------------------------------------------------------------- swap -- */

static void swap_in_liar(const char *tag, const char *plugin)
{
    served s;
    serve_echo(&s, tag);
    copy_in(cli_keep("%s/%s.so", LIAR_DIR, plugin), s.dir, "echo.so"); /* over k's file */
    expect_host_ends_with_accounting(&s, "echo.so", WAIT_S, 1);
}

static void test_a_liar_that_segfaults_swapped_in_ends_the_host_with_its_accounting(void **state)
{
    (void)state;
    swap_in_liar("ssegv", "liar_segv");
}

static void test_a_liar_that_exits_swapped_in_ends_the_host_with_its_accounting(void **state)
{
    (void)state;
    swap_in_liar("sexit", "liar_exit");
}

static void test_a_liar_that_hangs_swapped_in_ends_the_host_with_its_accounting(void **state)
{
    (void)state;
    swap_in_liar("shang", "liar_hang");
}

/* ------------------------------------------------------------- SIGTERM -- */

/* The liar marks the file when the host is inside it; SIGTERM then. */
static void test_sigterm_while_a_liar_hangs_in_the_load_ends_the_host_in_time(void **state)
{
    (void)state;
    const char *mark = cli_keep("%s/hang.mark", cli_tmpdir());
    setenv("RH_TEST_LIAR_MARK", mark, 1);
    served s;
    serve_echo(&s, "term");
    const char *m = liar_manifest("term", "liar_hang", "{\"in\": \"l.in\"}");
    char *argv[] = {RH_TEST_BINARY, "launch", (char *)m, "--instance", (char *)s.instance, NULL};
    proc launch;
    assert_int_equal(proc_start(&launch, argv), 0);
    const char *host_mark = cli_keep("pid=%d", (int)s.host.pid);
    EXPECT_WITHIN(WAIT_S, cli_file_count(mark, host_mark) == 1,
                  "expected the host (pid %d) to be inside liar_hang's constructor",
                  (int)s.host.pid);
    unsetenv("RH_TEST_LIAR_MARK");
    assert_int_equal(proc_signal(&s.host, SIGTERM), 0);
    /* the load's deadline, then a graceful shutdown */
    expect_host_ends_with_accounting(&s, "liar_hang.so", LOAD_MS / 1000.0 + 10, 0);
    proc_result r;
    proc_wait(&launch, WAIT_S, &r);
    if (r.timed_out || r.exit_code == 0)
        fail_msg("expected the launch to fail and return once the host ended; got exit %d%s:\n%s",
                 r.exit_code, r.timed_out ? " (timed out)" : "", r.err);
    proc_result_free(&r);
}

static int group_setup(void **state)
{
    (void)state;
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    setenv("RINGHOST_PLUGIN_LOAD_TIMEOUT_MS", cli_keep("%d", LOAD_MS), 1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLI_HOST_TEST(test_liars_dropped_into_the_folder_never_run_in_the_host),
        CLI_HOST_TEST(test_liars_beside_the_named_plugin_never_run_in_the_host),
        CLI_HOST_TEST(test_launching_echo_from_a_folder_of_liars_runs_none_of_them),
        CLI_HOST_TEST(test_launching_a_liar_that_segfaults_ends_the_host_with_its_accounting),
        CLI_HOST_TEST(test_launching_a_liar_that_exits_ends_the_host_with_its_accounting),
        CLI_HOST_TEST(test_launching_a_liar_that_hangs_returns_and_ends_the_host),
        CLI_HOST_TEST(test_a_destructor_that_crashes_at_unload_ends_the_host_with_its_accounting),
        CLI_HOST_TEST(test_a_liar_that_segfaults_swapped_in_ends_the_host_with_its_accounting),
        CLI_HOST_TEST(test_a_liar_that_exits_swapped_in_ends_the_host_with_its_accounting),
        CLI_HOST_TEST(test_a_liar_that_hangs_swapped_in_ends_the_host_with_its_accounting),
        CLI_HOST_TEST(test_sigterm_while_a_liar_hangs_in_the_load_ends_the_host_in_time),
    };
    return cmocka_run_group_tests_name("cli plugins that lie to the scanner", tests, group_setup,
                                       cli_group_teardown);
}
