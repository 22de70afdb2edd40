/*
 * test_cli_logs.c — the operator's log of a real `ringhost run`: with
 * RINGHOST_LOG=debug every reactor thread (the ones pumping the bridges
 * included) logs its start with its binding and its exit with its counts;
 * RINGHOST_LOG=error silences those events but not the summary report; a
 * kernel's own rh_log() lines are events of the same logger.
 */
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

static const char *kernel_manifest(const char *tag, const char *plugin, const char *bridge,
                                   const char *config)
{
    return cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {}, \"e.out\": {}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"%s\", \"bridge\": \"%s\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"},\n"
        "               \"config\": %s}]}\n",
        plugin, bridge, config));
}

static const char *echo_manifest(const char *tag, const char *bridge)
{
    return kernel_manifest(tag, "echo", bridge, "{}");
}

static const char *two_requests(void)
{
    return cli_write("logs.jsonl",
                     "{\"queue\": \"e.in\", \"body\": {\"seq\": 1, \"text\": \"a\"}}\n"
                     "{\"queue\": \"e.in\", \"body\": {\"seq\": 2, \"text\": \"b\"}}\n");
}

static void run_with_log_level_exit(cli_out *o, const char *level, const char *manifest,
                                    int code)
{
    setenv("RINGHOST_LOG", level, 1);
    cli_exec(o, NULL, "run", manifest, "--send", two_requests(), "--timeout", CLI_RUN_TIMEOUT,
             NULL);
    unsetenv("RINGHOST_LOG");
    cli_expect_exit(o, code);
}

static void run_with_log_level(cli_out *o, const char *level, const char *manifest)
{
    run_with_log_level_exit(o, level, manifest, 0);
}

/* The first line of text holding a, and b and c when not NULL: a pointer
 * to its start, or NULL. */
static const char *line_with(const char *text, const char *a, const char *b, const char *c)
{
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char *copy = strndup(line, n);
        int hit = strstr(copy, a) && (!b || strstr(copy, b)) && (!c || strstr(copy, c));
        free(copy);
        if (hit)
            return line;
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The value of key= on the line starting at line ("" when absent). */
static const char *field(const char *line, const char *key)
{
    static char value[128];
    value[0] = '\0';
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char *copy = strndup(line, n);
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(copy, pat);
    if (p) {
        p += strlen(pat);
        size_t len = *p == '"' ? strcspn(p + 1, "\"") + 2 : strcspn(p, " ");
        snprintf(value, sizeof value, "%.*s", (int)len, p);
    }
    free(copy);
    return value;
}

/* Every reactor.start line names its thread, the cpus it asked for, the
 * cpu it runs on and how binding went, and the same thread has a
 * reactor.exit line with its loop count. */
static void expect_every_thread_logs_start_and_exit(const cli_out *o)
{
    const char *launch = line_with(o->r.err, "event=runtime.launch ", NULL, NULL);
    CLI_CHECK(o, launch, "expected an event=runtime.launch line on stderr");
    int threads = atoi(field(launch, "threads"));
    CLI_CHECK(o, threads >= 1, "expected runtime.launch to say threads=N (N >= 1)");
    CLI_CHECK(o, (int)cli_count(o->r.err, "event=reactor.start ") == threads,
              "expected %d reactor.start lines (one per thread)", threads);
    CLI_CHECK(o, (int)cli_count(o->r.err, "event=reactor.exit ") == threads,
              "expected %d reactor.exit lines (one per thread)", threads);
    for (const char *p = o->r.err; (p = strstr(p, "event=reactor.start ")); p++) {
        const char *line = p;
        while (line > o->r.err && line[-1] != '\n')
            line--;
        char thread[128];
        snprintf(thread, sizeof thread, "%s", field(line, "thread"));
        CLI_CHECK(o, thread[0], "expected reactor.start to name its thread=");
        CLI_CHECK(o, field(line, "cpus")[0] && field(line, "cpu")[0] && field(line, "tasks")[0],
                  "expected reactor.start of %s to give cpus=, cpu= and tasks=", thread);
        const char *bind = field(line, "bind");
        CLI_CHECK(o, !strcmp(bind, "ok") || !strcmp(bind, "unpinned") || !strcmp(bind, "failed"),
                  "expected reactor.start of %s to say bind=ok|unpinned|failed, got \"%s\"",
                  thread, bind);
        char key[160];
        snprintf(key, sizeof key, " thread=%s ", thread);
        const char *exit_line = line_with(o->r.err, "event=reactor.exit ", key, " loops=");
        CLI_CHECK(o, exit_line, "expected a reactor.exit line with loops= for thread %s", thread);
        CLI_CHECK(o, atoll(field(exit_line, "loops")) > 0,
                  "expected thread %s to have looped at least once", thread);
    }
}

static void test_debug_logs_each_thread_start_binding_and_exit_with_counts(void **state)
{
    (void)state;
    cli_out o;
    run_with_log_level(&o, "debug", echo_manifest("debug", "thread"));
    expect_every_thread_logs_start_and_exit(&o);
    const char *in = line_with(o.r.err, "event=bridge.exit ", " bridge=in ", " queue=e.in ");
    CLI_CHECK(&o, in && !strcmp(field(in, "moved"), "2"),
              "expected bridge.exit of the pump from e.in with moved=2");
    const char *out = line_with(o.r.err, "event=bridge.exit ", " bridge=out ", " queue=e.out ");
    CLI_CHECK(&o, out && !strcmp(field(out, "sent"), "2") && !strcmp(field(out, "refused"), "0"),
              "expected bridge.exit of the pump to e.out with sent=2 refused=0");
    const char *w = line_with(o.r.err, "event=worker.exit ", " kernel=e ", NULL);
    CLI_CHECK(&o, w && !strcmp(field(w, "processed"), "2") && !strcmp(field(w, "failed"), "0"),
              "expected worker.exit of e#0 with processed=2 failed=0");
    CLI_CHECK(&o, line_with(o.r.err, "level=debug event=task.start ", NULL, NULL),
              "expected task.start lines at debug");
    CLI_CHECK(&o, line_with(o.r.err, "level=debug event=kernel.init ", " kernel=e ", " rc=0 "),
              "expected a kernel.init line with rc=0 at debug");
    CLI_CHECK(&o, line_with(o.r.err, "event=runtime.terminate ", " drained=yes ", " ms="),
              "expected runtime.terminate with drained=yes and its time");
    CLI_CHECK(&o, strstr(o.r.err, "summary: bridge e.in -> e.in: moved 2"),
              "expected the summary report as before");
    cli_free(&o);
}

static void test_an_inline_bridge_logs_its_counts_at_its_workers_exit(void **state)
{
    (void)state;
    cli_out o;
    run_with_log_level(&o, "info", echo_manifest("inline", "inline"));
    expect_every_thread_logs_start_and_exit(&o);
    const char *in = line_with(o.r.err, "event=bridge.exit ", " mode=inline ", " queue=e.in ");
    CLI_CHECK(&o, in && !strcmp(field(in, "moved"), "2"),
              "expected bridge.exit mode=inline of e.in with moved=2");
    CLI_CHECK(&o, !strstr(o.r.err, "level=debug"), "expected no debug lines at info");
    cli_free(&o);
}

static void test_error_level_silences_thread_events_but_not_the_summary(void **state)
{
    (void)state;
    cli_out o;
    run_with_log_level(&o, "error", echo_manifest("error", "thread"));
    CLI_CHECK(&o, !strstr(o.r.err, "event="), "expected no events at RINGHOST_LOG=error");
    CLI_CHECK(&o, strstr(o.r.err, "summary: kernel e: processed 2"),
              "expected the summary report whatever the level");
    cli_free(&o);
}

static void test_an_unknown_level_is_reported_and_means_info(void **state)
{
    (void)state;
    cli_out o;
    run_with_log_level(&o, "loud", echo_manifest("unknown", "thread"));
    CLI_CHECK(&o, line_with(o.r.err, "level=warn event=log.level_unknown ", "RINGHOST_LOG=loud",
                            NULL),
              "expected a warn event naming the unknown RINGHOST_LOG value");
    CLI_CHECK(&o, strstr(o.r.err, "event=reactor.start ") && !strstr(o.r.err, "level=debug"),
              "expected info (reactor.start, no debug lines) for an unknown level");
    cli_free(&o);
}

/* The slow kernel refuses an unknown config key with rh_log(ERROR) and
 * init() -1: its line goes through the same logger (kernel=, worker=,
 * msg=), init's failure is an event, and the refused launch exits 2. */
static void test_a_kernels_own_log_line_and_its_init_failure_are_events(void **state)
{
    (void)state;
    const char *m = kernel_manifest("initfail", "slow", "thread", "{\"bogus\": 1}");
    cli_out o;
    run_with_log_level_exit(&o, "info", m, 2);
    const char *line = line_with(o.r.err, "level=error event=kernel.log ", " kernel=e ",
                                 " worker=0 ");
    CLI_CHECK(&o, line && strstr(field(line, "msg"), "bogus: unknown key"),
              "expected the kernel's rh_log() line as event=kernel.log with msg=\"...\"");
    CLI_CHECK(&o, line_with(o.r.err, "level=error event=kernel.init_failed ", " kernel=e ",
                            " rc=-1 "),
              "expected event=kernel.init_failed with rc=-1");
    cli_free(&o);

    run_with_log_level_exit(&o, "off", m, 2);
    CLI_CHECK(&o, !strstr(o.r.err, "event="), "expected no events at RINGHOST_LOG=off");
    CLI_CHECK(&o, strstr(o.r.err, "init()"), "expected the launch error itself still printed");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_logs_each_thread_start_binding_and_exit_with_counts),
        cmocka_unit_test(test_an_inline_bridge_logs_its_counts_at_its_workers_exit),
        cmocka_unit_test(test_error_level_silences_thread_events_but_not_the_summary),
        cmocka_unit_test(test_an_unknown_level_is_reported_and_means_info),
        cmocka_unit_test(test_a_kernels_own_log_line_and_its_init_failure_are_events),
    };
    return cmocka_run_group_tests_name("cli logs", tests, NULL, cli_group_teardown);
}
