/*
 * test_cli_shell_clients.c — `ringhost send` and `recv` as shell tools:
 * `send QUEUE -` reads JSON lines from stdin (a real pipe), sends each good
 * line and names each bad one as <stdin>:LINE, keeps sending when its
 * stdout is closed, and stops at SIGINT while it waits for input; `recv
 * --follow` prints every message exactly once until SIGINT and exits 0;
 * `recv --follow` into a reader that leaves (`| head -n 3`) stops quietly
 * and takes at most one message it could not deliver; and the --json
 * output of every verb that prints parses.
 *
 * The host and every client share the test's own runtime folder.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_common.h"

static const char *manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"v.in\": {\"type\": \"vector_add.request\"},\n"
    "            \"v.out\": {\"type\": \"vector_add.response\"},\n"
    "            \"v.keep\": {\"type\": \"vector_add.request\", \"persist\": true}},\n"
    " \"kernels\": [{\"name\": \"v\", \"plugin\": \"vector_add\", \"inputs\": {\"requests\": "
    "\"v.in\"},\n"
    "               \"outputs\": {\"responses\": \"v.out\"}}]}\n";

#define WITHIN_S 30.0

static struct {
    proc host;
    int host_stopped;
    const char *instance, *manifest;
} M;

static int setup(void **state)
{
    (void)state;
    const char *dir = cli_keep("%s/run", cli_tmpdir());
    mkdir(dir, 0700);
    setenv("RINGHOST_RUNTIME_DIR", dir, 1);
    unsetenv("RINGHOST_INSTANCE");
    M.instance = cli_instance("shell");
    M.manifest = cli_manifest("shell", manifest_text);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)M.manifest, NULL};
    if (proc_start(&M.host, argv) != 0)
        return -1;
    return cli_host_logged_within(&M.host, CLI_SERVING, 1, CLI_READY_WITHIN_S);
}

static void stop_host(void)
{
    if (M.host_stopped)
        return;
    M.host_stopped = 1;
    proc_signal(&M.host, SIGTERM);
    proc_result r;
    proc_wait(&M.host, 20.0, &r);
    proc_result_free(&r);
}

static int teardown(void **state)
{
    stop_host();
    return cli_group_teardown(state);
}

/* ---------------------------------------------------------- helpers ---- */

/* `ringhost ARGS...` (argv NULL-terminated, after the binary) with the
 * given descriptors as its stdin, stdout and stderr, and SIGPIPE at its
 * default: the command must cope with a closed pipe itself.  The test's
 * own descriptors are all close-on-exec: a pipe end the child kept would
 * hide the end of its input, or its reader's leaving. */
static pid_t spawn(int in, int out, int err, const char *const *args)
{
    char *argv[32];
    int n = 0;
    argv[n++] = RH_TEST_BINARY;
    while (*args && n < 31)
        argv[n++] = (char *)*args++;
    argv[n] = NULL;
    pid_t pid = fork();
    EXPECT(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        dup2(in, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* The exit code of pid within WITHIN_S; fails (after SIGKILL) when it did
 * not exit, or was ended by a signal. */
static int exit_code_of(pid_t pid, const char *what)
{
    int status = 0;
    if (!WAIT_UNTIL(WITHIN_S, waitpid(pid, &status, WNOHANG) == pid)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("expected %s (pid %d) to exit within %.0f s", what, (int)pid, WITHIN_S);
    }
    if (!WIFEXITED(status))
        fail_msg("expected %s to exit, it was killed by signal %d", what, WTERMSIG(status));
    return WEXITSTATUS(status);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 1 << 20);
    size_t n = f && text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    if (f)
        fclose(f);
    return text;
}

static int open_out(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT(fd >= 0, "%s: %s", path, strerror(errno));
    return fd;
}

/* n vector_add request bodies, one per line: a = [first + i], b = [1]. */
static void add_bodies(cli_str *b, int first, int n)
{
    for (int i = 0; i < n; i++)
        cli_str_addf(b, "{\"op\": \"add\", \"a\": [%d], \"b\": [1]}\n", first + i);
}

/* `send --json v.in -` with text on stdin; the ids it printed appended to
 * ids (a JSON array of strings).  Expects exit 0. */
static void send_lines(const char *text, json_t *ids)
{
    cli_out o;
    cli_exec(&o, text, "send", "--instance", M.instance, "--json", "v.in", "-", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
        json_array_append(ids, json_object_get(l, "id"));
    json_decref(lines);
    cli_free(&o);
}

/* The correlation ids of the message lines in text (recv's output) added
 * to seen (an object used as a set); fails on one seen before. */
static size_t add_correlations(const char *text, json_t *seen)
{
    size_t n = 0;
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len) {
            json_error_t je;
            json_t *o = json_loadb(p, len, 0, &je);
            EXPECT(o && json_is_object(o), "expected a JSON object per line, got \"%.*s\"",
                   (int)len, p);
            const char *c = json_string_value(json_object_get(o, "correlation_id"));
            EXPECT(c, "expected a correlation_id in \"%.*s\"", (int)len, p);
            EXPECT(!json_object_get(seen, c), "expected each answer once, %s came twice", c);
            json_object_set_new(seen, c, json_true());
            json_decref(o);
            n++;
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* Every id sent has its answer in seen, and seen has nothing else. */
static void expect_answers_exactly(json_t *ids, json_t *seen)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
        EXPECT(json_object_get(seen, json_string_value(id)), "expected the answer to %s",
               json_string_value(id));
    EXPECT(json_object_size(seen) == json_array_size(ids),
           "expected %zu answers, got %zu", json_array_size(ids), json_object_size(seen));
}

/* Take whatever v.out still holds (recv until it stays empty 1 s). */
static void drain_out(json_t *seen)
{
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", M.instance, "v.out", NULL);
    cli_expect_exit(&o, 0);
    add_correlations(o.r.out, seen);
    cli_free(&o);
}

/* ------------------------------------------------------- send - -------- */

static void test_send_dash_sends_each_good_line_and_names_each_bad_one_by_line(void **state)
{
    (void)state;
    long long before = cli_queue_counter(M.instance, "v.in", "enqueued");
    const char *text = "{\"op\": \"add\", \"a\": [1], \"b\": [1]}\n"
                       "\n"
                       "{\"op\": \"add\", \"a\": [2]}\n"
                       "not json\n"
                       "{\"op\": \"add\", \"a\": [3], \"b\": [1]}\r\n";
    cli_out o;
    cli_exec(&o, text, "send", "--instance", M.instance, "--json", "v.in", "-", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "<stdin>:3: b: missing"),
              "expected line 3's missing field b named with its line");
    CLI_CHECK(&o, strstr(o.r.err, "<stdin>:4: expected a JSON object (the message body)"),
              "expected line 4 named as not JSON");
    CLI_CHECK(&o, !strstr(o.r.err, "<stdin>:2:"), "expected the blank line 2 skipped");
    CLI_CHECK(&o, strstr(o.r.err, "2 sent to v.in, 2 bad line(s), 0 refused of 5 line(s) read"),
              "expected the count of sent and bad lines on stderr");
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 2, "expected 2 ids printed, one per good line");
    json_t *ids = json_array();
    for (size_t i = 0; i < 2; i++) {
        json_t *l = json_array_get(lines, i);
        CLI_CHECK(&o, !strcmp(json_string_value(json_object_get(l, "queue")), "v.in"),
                  "expected \"queue\": \"v.in\"");
        CLI_CHECK(&o, json_integer_value(json_object_get(l, "line")) == (i ? 5 : 1),
                  "expected the good lines 1 and 5 named by \"line\"");
        CLI_CHECK(&o, json_string_value(json_object_get(l, "id")), "expected an \"id\"");
        json_array_append(ids, json_object_get(l, "id"));
    }
    json_decref(lines);
    cli_free(&o);
    assert_int_equal(cli_queue_counter(M.instance, "v.in", "enqueued"), before + 2);
    cli_exec(&o, NULL, "recv", "--instance", M.instance, "v.out", "-n", "2", "--timeout", "20",
             NULL);
    cli_expect_exit(&o, 0);
    json_t *seen = json_object();
    add_correlations(o.r.out, seen);
    expect_answers_exactly(ids, seen);
    cli_free(&o);
    json_decref(seen);
    json_decref(ids);
}

static void test_send_dash_from_a_pipe_sends_every_line_when_its_stdout_is_closed(void **state)
{
    (void)state;
    long long before = cli_queue_counter(M.instance, "v.in", "enqueued");
    enum { N = 40 };
    cli_str b = {0};
    add_bodies(&b, 100, N);
    int in[2], out[2];
    EXPECT(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    close(out[0]); /* the reader of its stdout is gone before it starts */
    const char *err_path = cli_keep("%s/send-closed.err", cli_tmpdir());
    int err = open_out(err_path);
    const char *args[] = {"send", "--instance", M.instance, "v.in", "-", NULL};
    pid_t pid = spawn(in[0], out[1], err, args);
    close(in[0]);
    close(out[1]);
    close(err);
    EXPECT(write(in[1], b.s, b.len) == (ssize_t)b.len, "write: %s", strerror(errno));
    close(in[1]);
    int code = exit_code_of(pid, "send - with its stdout closed");
    char *text = slurp(err_path);
    if (code != 0 || !strstr(text, "40 sent to v.in, 0 bad line(s)") ||
        !strstr(text, "ids are no longer printed"))
        fail_msg("expected exit 0, every line sent and the closed stdout said; got exit %d, "
                 "stderr:\n%s", code, text);
    free(text);
    cli_str_free(&b);
    assert_int_equal(cli_queue_counter(M.instance, "v.in", "enqueued"), before + N);
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", M.instance, "v.out", "-n", "40", "--timeout", "20",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void test_send_dash_waiting_for_input_stops_at_sigint_and_exits_0(void **state)
{
    (void)state;
    long long before = cli_queue_counter(M.instance, "v.in", "enqueued");
    int in[2];
    EXPECT(pipe2(in, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    const char *out_path = cli_keep("%s/send-int.out", cli_tmpdir());
    const char *err_path = cli_keep("%s/send-int.err", cli_tmpdir());
    int out = open_out(out_path), err = open_out(err_path);
    const char *args[] = {"send", "--instance", M.instance, "v.in", "-", NULL};
    pid_t pid = spawn(in[0], out, err, args);
    close(in[0]);
    close(out);
    close(err);
    cli_str b = {0};
    add_bodies(&b, 500, 3);
    EXPECT(write(in[1], b.s, b.len) == (ssize_t)b.len, "write: %s", strerror(errno));
    cli_str_free(&b);
    /* the producer stays: its end of the pipe is open, no end of input */
    EXPECT_WITHIN(WITHIN_S, cli_file_count(out_path, "-") >= 3,
                  "expected the 3 ids printed while stdin stays open");
    kill(pid, SIGINT);
    int code = exit_code_of(pid, "send - after SIGINT");
    close(in[1]);
    char *text = slurp(err_path);
    if (code != 0 || !strstr(text, "3 sent to v.in, 0 bad line(s), 0 refused of 3 line(s) read "
                                   "(interrupted)"))
        fail_msg("expected exit 0 and the count, interrupted; got exit %d, stderr:\n%s", code,
                 text);
    free(text);
    assert_int_equal(cli_queue_counter(M.instance, "v.in", "enqueued"), before + 3);
    cli_out o;
    cli_exec(&o, NULL, "recv", "--instance", M.instance, "v.out", "-n", "3", "--timeout", "20",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

/* ---------------------------------------------------- recv --follow ---- */

static void test_recv_follow_prints_each_message_once_until_sigint_and_exits_0(void **state)
{
    (void)state;
    const char *out_path = cli_keep("%s/follow.out", cli_tmpdir());
    const char *err_path = cli_keep("%s/follow.err", cli_tmpdir());
    int out = open_out(out_path), err = open_out(err_path);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const char *args[] = {"recv", "--instance", M.instance, "v.out", "--follow", NULL};
    pid_t pid = spawn(null, out, err, args);
    close(out);
    close(err);
    close(null);
    json_t *ids = json_array();
    long long answered = cli_queue_counter(M.instance, "v.out", "enqueued");
    /* batches while it follows; the last one still in flight at SIGINT */
    for (int batch = 0; batch < 5; batch++) {
        cli_str b = {0};
        add_bodies(&b, 1000 + batch * 20, 20);
        send_lines(b.s, ids);
        cli_str_free(&b);
        if (batch == 1) /* some certainly printed by it before the signal */
            EXPECT_WITHIN(WITHIN_S, cli_file_count(out_path, "\"correlation_id\"") >= 40,
                          "expected recv --follow to print the first 40 answers");
    }
    kill(pid, SIGINT);
    int code = exit_code_of(pid, "recv --follow after SIGINT");
    char *err_text = slurp(err_path);
    if (code != 0 || !strstr(err_text, "stopped by SIGINT"))
        fail_msg("expected exit 0 saying it stopped by SIGINT; got exit %d, stderr:\n%s", code,
                 err_text);
    free(err_text);
    /* what it did not take is still queued: take it once every answer is there */
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(M.instance, "v.out", "enqueued") >= answered + 100,
                  "expected the 100 answers produced");
    json_t *seen = json_object();
    char *followed = slurp(out_path);
    size_t printed = add_correlations(followed, seen);
    free(followed);
    drain_out(seen);
    print_message("recv --follow printed %zu of 100 before SIGINT\n", printed);
    expect_answers_exactly(ids, seen);
    json_decref(seen);
    json_decref(ids);
}

static void test_recv_follow_into_a_reader_that_leaves_stops_quietly_losing_at_most_one(
    void **state)
{
    (void)state;
    json_t *ids = json_array();
    cli_str b = {0};
    add_bodies(&b, 2000, 10);
    send_lines(b.s, ids);
    cli_str_free(&b);
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(M.instance, "v.out", "depth") == 10,
                  "expected the 10 answers queued in v.out");
    int out[2];
    EXPECT(pipe2(out, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    const char *err_path = cli_keep("%s/head.err", cli_tmpdir());
    int err = open_out(err_path);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const char *args[] = {"recv", "--instance", M.instance, "v.out", "--follow", NULL};
    pid_t pid = spawn(null, out[1], err, args);
    close(out[1]);
    close(err);
    close(null);
    /* `head -n 3`: read three lines, then leave */
    char text[65536];
    size_t len = 0;
    double end = proc_now() + WITHIN_S;
    while (cli_count(text, "\n") < 3 && proc_now() < end && len + 1 < sizeof text) {
        text[len] = 0;
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(out[0], text + len, sizeof text - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        text[len] = 0;
    }
    text[len] = 0;
    close(out[0]);
    EXPECT(cli_count(text, "\n") >= 3, "expected 3 lines within %.0f s, got:\n%s", WITHIN_S,
           text);
    int code = exit_code_of(pid, "recv --follow whose reader left");
    char *err_text = slurp(err_path);
    if (code != 0 || err_text[0])
        fail_msg("expected exit 0 and nothing on stderr; got exit %d, stderr:\n%s", code,
                 err_text);
    free(err_text);
    json_t *seen = json_object();
    size_t read_lines = add_correlations(text, seen);
    drain_out(seen);
    size_t lost = json_array_size(ids) - json_object_size(seen);
    print_message("the reader read %zu, %zu left in the queue, %zu lost\n", read_lines,
                  json_object_size(seen) - read_lines, lost);
    EXPECT(read_lines <= 4, "expected recv to keep pace with its reader (at most one line "
           "ahead), it read %zu", read_lines);
    EXPECT(lost <= 1, "expected at most the one message written as the reader left lost, %zu "
           "were", lost);
    size_t i;
    json_t *id;
    size_t found = 0;
    json_array_foreach(ids, i, id)
        found += json_object_get(seen, json_string_value(id)) != NULL;
    EXPECT(found == json_object_size(seen), "expected only answers to what was sent");
    json_decref(seen);
    json_decref(ids);
}

/* -------------------------------------------------------- --json ------- */

/* Run `ringhost ARGS... --json` (args NULL-terminated), expect exit 0, and
 * parse its stdout: one JSON value (lines 0), or one object per line. */
static json_t *json_of(int lines, const char *const *args)
{
    const char *argv[40];
    int n = 0;
    while (*args && n < 38)
        argv[n++] = *args++;
    argv[n++] = "--json";
    argv[n] = NULL;
    cli_out o;
    cli_exec_argv(&o, NULL, argv);
    cli_expect_exit(&o, 0);
    json_t *v;
    if (lines) {
        v = cli_lines(&o);
    } else {
        json_error_t je;
        v = json_loads(o.r.out, 0, &je);
        CLI_CHECK(&o, v, "expected its stdout to be one JSON value: %s", je.text);
    }
    cli_free(&o);
    return v;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *str_at(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    EXPECT(s, "expected a string \"%s\"", key);
    return s;
}

static void test_json_output_of_every_verb_that_prints_parses(void **state)
{
    (void)state;
    const char *I = M.instance;
    json_t *v;

    /* send: {"queue", "id", "argument"} per message */
    v = json_of(1, ARGS("send", "--instance", I, "v.in", "{\"op\": \"add\", \"a\": [7], "
                        "\"b\": [1]}"));
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(str_at(json_array_get(v, 0), "queue"), "v.in");
    str_at(json_array_get(v, 0), "id");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "argument")), 1);
    json_decref(v);

    /* recv: {"queue", "id", "correlation_id", "body"} per message */
    v = json_of(1, ARGS("recv", "--instance", I, "v.out", "-n", "1", "--timeout", "20"));
    assert_int_equal(json_array_size(v), 1);
    assert_true(json_is_object(json_object_get(json_array_get(v, 0), "body")));
    json_decref(v);

    /* stat, ps, methods: one object each */
    v = json_of(0, ARGS("stat", "--instance", I));
    assert_true(json_is_array(json_object_get(v, "queues")));
    json_decref(v);
    v = json_of(0, ARGS("ps", "--instance", I));
    assert_true(json_is_object(v) || json_is_array(v));
    json_decref(v);
    v = json_of(0, ARGS("methods", "--instance", I));
    assert_non_null(v);
    json_decref(v);

    /* the kernel verbs: the control reply */
    v = json_of(0, ARGS("deactivate", "v", "--instance", I));
    assert_true(json_is_true(json_object_get(v, "ok")));
    assert_string_equal(str_at(v, "kernel"), "v");
    str_at(v, "state");
    json_decref(v);
    v = json_of(0, ARGS("activate", "v", "--instance", I));
    assert_string_equal(str_at(v, "state"), "active");
    json_decref(v);

    /* save-config: the manifest */
    v = json_of(0, ARGS("save-config", "--instance", I));
    assert_true(json_is_object(json_object_get(v, "queues")));
    json_decref(v);

    /* plugins, inspect, validate: no host needed */
    v = json_of(0, ARGS("plugins", RH_TEST_PLUGIN_DIR));
    assert_non_null(v);
    json_decref(v);
    v = json_of(0, ARGS("inspect", "vector_add", "--plugins", RH_TEST_PLUGIN_DIR));
    assert_true(json_is_object(v));
    json_decref(v);
    v = json_of(1, ARGS("validate", M.manifest));
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(str_at(json_array_get(v, 0), "manifest"), M.manifest);
    assert_true(json_is_true(json_object_get(json_array_get(v, 0), "ok")));
    json_decref(v);
    const char *bad = cli_write("bad.json", "{\"ringhost\": 1, \"name\": \"x\", \"queues\": 3}");
    cli_out o;
    cli_exec(&o, NULL, "validate", bad, "--json", NULL);
    cli_expect_exit(&o, 2);
    json_error_t je;
    v = json_loads(o.r.out, 0, &je);
    CLI_CHECK(&o, v && json_is_false(json_object_get(v, "ok")) &&
                  json_is_string(json_object_get(v, "error")),
              "expected {\"manifest\", \"ok\": false, \"error\"} for a bad manifest");
    json_decref(v);
    cli_free(&o);

    /* new-kernel: the files it wrote */
    const char *dir = cli_keep("%s/kern", cli_tmpdir());
    v = json_of(0, ARGS("new-kernel", "my_kern", dir));
    assert_string_equal(str_at(v, "kernel"), "my_kern");
    assert_string_equal(str_at(v, "dir"), dir);
    assert_true(json_array_size(json_object_get(v, "files")) > 0);
    str_at(json_array_get(json_object_get(v, "files"), 0), "file");
    json_decref(v);

    /* purge: the persist queue the host leaves once stopped */
    stop_host();
    v = json_of(0, ARGS("purge", "--instance", I, "v.keep"));
    assert_string_equal(str_at(v, "queue"), "v.keep");
    assert_string_equal(str_at(v, "instance"), I);
    assert_true(json_is_true(json_object_get(v, "purged")));
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_dash_sends_each_good_line_and_names_each_bad_one_by_line),
        cmocka_unit_test(test_send_dash_from_a_pipe_sends_every_line_when_its_stdout_is_closed),
        cmocka_unit_test(test_send_dash_waiting_for_input_stops_at_sigint_and_exits_0),
        cmocka_unit_test(test_recv_follow_prints_each_message_once_until_sigint_and_exits_0),
        cmocka_unit_test(
            test_recv_follow_into_a_reader_that_leaves_stops_quietly_losing_at_most_one),
        cmocka_unit_test(test_json_output_of_every_verb_that_prints_parses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
