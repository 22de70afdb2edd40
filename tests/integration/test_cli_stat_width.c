/*
 * test_cli_stat_width.c — `ringhost stat` fits the
 * terminal it draws on.  In a real terminal (a detached tmux session of 80
 * and of 120 columns, read back with capture-pane -J, which joins the
 * lines a terminal wrapped) no line is wider than the window, every queue
 * name is shown whole, and the counters are there; without a terminal and
 * without $COLUMNS the table is the wide one it always was, and --json is
 * untouched by $COLUMNS.  tmux comes from .ci/deps.sh.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_common.h"

#define LONG_QUEUE "a.queue.name.longer.than.any.narrow.column"

static const char *manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"" LONG_QUEUE "\": {\"type\": \"echo.message\"},\n"
    "            \"w.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"w\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"" LONG_QUEUE "\"},\n"
    "               \"outputs\": {\"out\": \"w.out\"}}]}\n";

static struct {
    proc host;
    const char *instance;
    char tmux[64]; /* tmux -L socket name, private to this test */
} S;

static int setup(void **state)
{
    (void)state;
    if (system("command -v tmux >/dev/null 2>&1") != 0) {
        print_error("tmux is not installed: run .ci/deps.sh (it installs tmux)\n");
        return -1;
    }
    snprintf(S.tmux, sizeof S.tmux, "rh-stat-%d", (int)getpid());
    S.instance = cli_instance("width");
    const char *m = cli_manifest("width", manifest_text);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    if (proc_start(&S.host, argv) != 0)
        return -1;
    if (cli_host_logged_within(&S.host, CLI_SERVING, 1, 20.0) != 0)
        return -1;
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", S.instance, LONG_QUEUE, "{\"seq\": 1}", NULL);
    int ok = o.r.exit_code == 0;
    cli_free(&o);
    return ok ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tmux -L %s kill-server >/dev/null 2>&1", S.tmux);
    if (system(cmd) != 0) { /* no server left: nothing to stop */
    }
    if (S.host.pid) {
        proc_signal(&S.host, SIGTERM);
        proc_result r;
        proc_wait(&S.host, 20, &r);
        proc_result_free(&r);
    }
    cli_cleanup();
    return 0;
}

/* What the pane shows, wrapped lines joined, into buf. */
static void capture(const char *session, char *buf, size_t len)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -J -t %s 2>/dev/null", S.tmux, session);
    buf[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    size_t n = fread(buf, 1, len - 1, p);
    buf[n] = 0;
    pclose(p);
}

static void check_width(int width)
{
    char session[32], cmd[1024];
    snprintf(session, sizeof session, "w%d", width);
    snprintf(cmd, sizeof cmd,
             "tmux -L %s new-session -d -s %s -x %d -y 50 'TERM=xterm %s stat --instance %s'",
             S.tmux, session, width, RH_TEST_BINARY, S.instance);
    assert_int_equal(system(cmd), 0);
    static char screen[65536];
    /* the second frame has rates: wait for "kernel" (the last table) */
    if (!WAIT_UNTIL_EVERY(10.0, CLI_POLL_MS,
                          (capture(session, screen, sizeof screen), strstr(screen, "\nkernel"))))
        fail_msg("expected stat's table in the %d-column pane within 10 s, got:\n%s", width,
                 screen);
    for (char *line = screen; *line;) {
        size_t n = strcspn(line, "\n");
        if ((int)n > width)
            fail_msg("a line of %zu columns in a %d-column terminal (it wrapped):\n%.*s\n\n%s", n,
                     width, (int)n, line, screen);
        line += n + (line[n] == '\n');
    }
    if (!strstr(screen, LONG_QUEUE) || !strstr(screen, "w.out") ||
        !strstr(screen, "enqueued") || !strstr(screen, "processed"))
        fail_msg("expected the whole queue names and the counters at %d columns:\n%s", width,
                 screen);
    /* The session is left running until teardown's kill-server: killing the
     * last session makes the tmux server exit, and the next test's
     * new-session could reach it while it was exiting ("server exited
     * unexpectedly", seen in CI). */
}

static void test_stat_fits_an_80_column_terminal(void **state)
{
    (void)state;
    check_width(80);
}

static void test_stat_fits_a_120_column_terminal(void **state)
{
    (void)state;
    check_width(120);
}

/* Between the old threshold (164) and the wide table's real width (186):
 * the wide table must not be chosen for a terminal it does not fit. */
static void test_stat_fits_a_170_column_terminal(void **state)
{
    (void)state;
    check_width(170);
}

static void test_stat_without_a_terminal_keeps_the_wide_table_and_json(void **state)
{
    (void)state;
    cli_out o;
    unsetenv("COLUMNS");
    cli_exec(&o, NULL, "stat", "--instance", S.instance, "--once", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "queue ") && strstr(o.r.out, " rejected ") &&
                      strstr(o.r.out, " unacked\n"),
              "expected the wide one-line header when stdout is no terminal");
    cli_free(&o);
    setenv("COLUMNS", "80", 1);
    cli_exec(&o, NULL, "stat", "--instance", S.instance, "--json", NULL);
    unsetenv("COLUMNS");
    cli_expect_exit(&o, 0);
    json_t *doc = json_loads(o.r.out, 0, NULL);
    CLI_CHECK(&o, doc && json_array_size(json_object_get(doc, "queues")) >= 2,
              "expected --json to stay one JSON document with the queues");
    json_decref(doc);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_fits_an_80_column_terminal),
        cmocka_unit_test(test_stat_fits_a_120_column_terminal),
        cmocka_unit_test(test_stat_fits_a_170_column_terminal),
        cmocka_unit_test(test_stat_without_a_terminal_keeps_the_wide_table_and_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
