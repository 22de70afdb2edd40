/*
 * test_cli_closed_pipe.c — a host whose stdout and stderr go to a pipe
 * whose reader went away (`ringhost run M 2>&1 | head -1`, a tee killed by
 * Ctrl-C) is not killed by SIGPIPE: it keeps serving, stops as on SIGTERM
 * with its usual exit code, writes its summary and accounting lines to the
 * --summary file, and leaves nothing in /dev/shm or its runtime folder.
 * And a later `run` replaces the queues a SIGKILLed host left.
 *
 * The host runs with both streams on the write end of a real pipe(); the
 * test closes the read end itself, as the reader that went away.
 */
#include <dirent.h>
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

static const char *echo_manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
    "            \"e.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
    "               \"outputs\": {\"out\": \"e.out\"}}]}\n";

/* launched into a host of the first: queues its next host does not declare */
static const char *launched_manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"f.in\": {\"type\": \"echo.message\"},\n"
    "            \"f.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"f\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"f.in\"},\n"
    "               \"outputs\": {\"out\": \"f.out\"}}]}\n";

#define WITHIN_S 20.0

static const char *runtime_dir;

static int group_setup(void **state)
{
    (void)state;
    /* the host and every client verb share this folder, the test's own */
    runtime_dir = cli_keep("%s/run", cli_tmpdir());
    mkdir(runtime_dir, 0700);
    setenv("RINGHOST_RUNTIME_DIR", runtime_dir, 1);
    unsetenv("RINGHOST_INSTANCE");
    return 0;
}

/* `ringhost ARGS...` with stdout and stderr on the write end of a new
 * pipe; *rd gets its read end.  The child's SIGPIPE is the default one,
 * whatever the test runner's is: the host must handle it itself. */
static pid_t start_on_pipe(int *rd, char *const argv[])
{
    int p[2];
    EXPECT(pipe(p) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    EXPECT(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *rd = p[0];
    return pid;
}

/* Read rd until needle has been seen (1) or WITHIN_S passed / end of file (0). */
static int read_until(int rd, const char *needle)
{
    char buf[65536];
    size_t len = 0;
    double end = proc_now() + WITHIN_S;
    while (proc_now() < end) {
        struct pollfd pfd = {.fd = rd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        if (len + 1 >= sizeof buf)
            len = 0; /* the needle is a line's start: a long log may wrap */
        ssize_t n = read(rd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = 0;
        if (strstr(buf, needle))
            return 1;
    }
    return 0;
}

/* The child's wait status within WITHIN_S; SIGKILLed (and failed) past it. */
static int wait_status(pid_t pid)
{
    int status = 0;
    if (WAIT_UNTIL(WITHIN_S, waitpid(pid, &status, WNOHANG) == pid))
        return status;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("expected the host (pid %d) to exit within %.0f s", (int)pid, WITHIN_S);
    return status;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = calloc(1, 1 << 20);
    size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return text;
}

/* The names in /dev/shm of instance's queues ("ringhost.<instance>:..." or
 * "ringhost.<instance>." for its dead-letter and side objects). */
static size_t shm_left(const char *instance)
{
    char colon[128], dot[128];
    snprintf(colon, sizeof colon, "ringhost.%s:", instance);
    snprintf(dot, sizeof dot, "ringhost.%s.", instance);
    DIR *d = opendir("/dev/shm");
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += !strncmp(e->d_name, colon, strlen(colon)) || !strncmp(e->d_name, dot, strlen(dot));
    if (d)
        closedir(d);
    return n;
}

/* Entries of the runtime folder naming instance (its socket, its lock). */
static size_t runtime_left(const char *instance)
{
    DIR *d = opendir(runtime_dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, instance, strlen(instance)) == 0;
    if (d)
        closedir(d);
    return n;
}

static void expect_summary_file(const char *path, int code)
{
    char *text = slurp(path);
    EXPECT(text, "expected the --summary file %s to exist", path);
    char last[32];
    snprintf(last, sizeof last, "ringhost: exit %d\n", code);
    int ok = strstr(text, "summary: instance ") && strstr(text, "accounting: queue e.in:") &&
             strstr(text, "accounting: queue e.out:") && strstr(text, last) &&
             !strstr(text, "UNBALANCED");
    if (!ok)
        fprintf(stderr, "--summary file %s:\n%s\n", path, text);
    free(text);
    EXPECT(ok, "expected the --summary file to hold the summary, balanced accounting lines for "
               "e.in and e.out, and \"%s\"", last);
}

static void test_a_serving_host_outlives_its_closed_pipe_and_stops_as_on_sigterm(void **state)
{
    (void)state;
    const char *instance = cli_instance("pipe");
    const char *m = cli_manifest("pipe", echo_manifest_text);
    const char *summary = cli_keep("%s/serve-summary.txt", cli_tmpdir());
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--summary", (char *)summary, NULL};
    int rd;
    pid_t pid = start_on_pipe(&rd, argv);
    int up = read_until(rd, CLI_SERVING);
    close(rd); /* the reader goes away: every later write of the host is EPIPE */
    if (!up) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("expected the host to serve within %.0f s", WITHIN_S);
    }
    /* It keeps serving: a message is taken and answered after the pipe closed. */
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", instance, "e.in", "{\"seq\": 1, \"text\": \"x\"}",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(instance, "e.out", "enqueued") == 1,
                  "expected the answer in e.out after the pipe closed");
    EXPECT(waitpid(pid, NULL, WNOHANG) == 0, "expected the host to be running still");
    kill(pid, SIGTERM);
    int status = wait_status(pid);
    EXPECT(!WIFSIGNALED(status), "expected the host to exit, not die of signal %d",
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT(WEXITSTATUS(status) == 0, "expected exit 0 (SIGTERM of a serving host), got %d",
           WEXITSTATUS(status));
    expect_summary_file(summary, 0);
    EXPECT(shm_left(instance) == 0, "expected none of %s's queues left in /dev/shm, found %zu",
           instance, shm_left(instance));
    EXPECT(runtime_left(instance) == 0, "expected no socket or lock of %s left in %s",
           instance, runtime_dir);
}

static void test_a_send_run_whose_output_pipe_closed_ends_normally(void **state)
{
    (void)state;
    const char *instance = cli_instance("pipesend");
    const char *m = cli_manifest("pipesend", echo_manifest_text);
    const char *summary = cli_keep("%s/send-summary.txt", cli_tmpdir());
    cli_str b = {0};
    for (int i = 1; i <= 200; i++)
        cli_str_addf(&b, "{\"queue\": \"e.in\", \"body\": {\"seq\": %d, \"text\": \"t\"}}\n", i);
    const char *send = cli_write("pipesend.jsonl", b.s);
    cli_str_free(&b);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--send", (char *)send,
                    "--timeout", CLI_RUN_TIMEOUT, "--summary", (char *)summary, NULL};
    int rd;
    pid_t pid = start_on_pipe(&rd, argv);
    close(rd); /* gone before the first answer: every output line is EPIPE */
    int status = wait_status(pid);
    EXPECT(!WIFSIGNALED(status), "expected the run to exit, not die of signal %d",
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT(WEXITSTATUS(status) == 0, "expected exit 0 (every line answered), got %d",
           WEXITSTATUS(status));
    expect_summary_file(summary, 0);
    char *text = slurp(summary);
    int all = text && strstr(text, "accounting: queue e.in: accepted 200 ");
    free(text);
    EXPECT(all, "expected e.in's accounting line to say all 200 accepted");
    EXPECT(shm_left(instance) == 0, "expected none of %s's queues left in /dev/shm", instance);
}

static void test_a_later_run_replaces_the_queues_a_killed_host_left(void **state)
{
    (void)state;
    const char *instance = cli_instance("pipedead");
    const char *m = cli_manifest("pipedead", echo_manifest_text);
    proc host;
    cli_start_host(&host, m, instance);
    /* a launched manifest, its kernel inactive: f.in keeps what is sent */
    cli_out o;
    cli_exec(&o, NULL, "launch", cli_manifest("pipedeadf", launched_manifest_text), "--instance",
             instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "send", "--instance", instance, "f.in", "{\"seq\": 1, \"text\": \"f\"}",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    proc_signal(&host, SIGKILL);
    proc_result r;
    proc_wait(&host, WITHIN_S, &r);
    proc_result_free(&r);
    EXPECT(shm_left(instance) > 0, "expected a SIGKILLed host to leave its queues");
    EXPECT(runtime_left(instance) > 0, "expected a SIGKILLed host to leave its socket");
    /* the later host replaces them (queue.replaced), answers, stops clean */
    cli_start_host(&host, m, instance);
    cli_exec(&o, NULL, "send", "--instance", instance, "e.in", "{\"seq\": 1, \"text\": \"again\"}",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", instance, "e.out", "-n", "1", "--timeout", "10",
             NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "\"again\""), "expected the answer through the replaced queues");
    cli_free(&o);
    proc_signal(&host, SIGTERM);
    EXPECT(proc_wait(&host, WITHIN_S, &r) == 0, "expected the later host to stop on SIGTERM");
    int replaced = (int)cli_count(r.err, "event=queue.replaced");
    /* the launched manifest's queues (and its dead-letter queue) go too */
    int removed = (int)cli_count(r.err, "event=queue.removed");
    const char *f = strstr(r.err, "queue=f.in pid="), *eol = f ? strchr(f, '\n') : NULL;
    const char *lost = f ? strstr(f, " queued_discarded=1 ") : NULL;
    int f_in = f && lost && (!eol || lost < eol); /* the message sent to f.in, said lost */
    int code = r.exit_code;
    if (replaced < 2 || removed != 3 || f_in != 1 || code != 0)
        fprintf(stderr, "the later host's stderr:\n%s\n", r.err);
    proc_result_free(&r);
    EXPECT(replaced >= 2, "expected the later host to replace e.in and e.out (queue.replaced)");
    EXPECT(removed == 3 && f_in, "expected queue.removed for f.in (queued_discarded=1), f.out "
                                 "and f.dlq");
    EXPECT(code == 0, "expected the later host to exit 0 on SIGTERM, got %d", code);
    EXPECT(shm_left(instance) == 0, "expected none of %s's queues left after the later host",
           instance);
    EXPECT(runtime_left(instance) == 0, "expected no socket or lock of %s left", instance);
}

static void test_summary_to_a_folder_that_does_not_exist_exits_2(void **state)
{
    (void)state;
    const char *m = cli_manifest("pipebad", echo_manifest_text);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--summary", "/nonexistent-folder/s.txt", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--summary"), "expected stderr to name --summary");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLI_HOST_TEST(test_a_serving_host_outlives_its_closed_pipe_and_stops_as_on_sigterm),
        CLI_HOST_TEST(test_a_send_run_whose_output_pipe_closed_ends_normally),
        CLI_HOST_TEST(test_a_later_run_replaces_the_queues_a_killed_host_left),
        CLI_HOST_TEST(test_summary_to_a_folder_that_does_not_exist_exits_2),
    };
    return cmocka_run_group_tests(tests, group_setup, cli_group_teardown);
}
