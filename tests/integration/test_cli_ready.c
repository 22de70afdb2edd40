/*
 * test_cli_ready.c — a serving host says when it is ready:
 * `ringhost run --ready-fd N` writes "READY=1" to N, sd_notify
 * READY=1 reaches $NOTIFY_SOCKET (this test plays systemd: it binds the
 * unix datagram socket), and `ringhost wait` returns once the host serves.
 * "Ready" means every queue of the manifest, its dead-letter queue and
 * the control socket exist: each test checks all three the moment the
 * signal came.  A host that fails before it is ready closes the ready fd
 * without writing; `wait` for a host that never comes exits 1 at its
 * deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_common.h"

static const char *echo_manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
    "            \"e.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
    "               \"outputs\": {\"out\": \"e.out\"}}]}\n";

#define READY_WITHIN_S 20.0

/* Every queue, the dead-letter queue and the control socket exist. */
static void expect_everything_there(const char *instance)
{
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "\"e.in\"") && strstr(o.r.out, "\"e.out\"") &&
                      strstr(o.r.out, "\"e.dlq\""),
              "expected stat to list e.in, e.out and the dead-letter queue e.dlq once ready");
    cli_free(&o);
    cli_exec(&o, NULL, "ps", "--instance", instance, NULL);
    cli_expect_exit(&o, 0); /* the control socket answers */
    cli_free(&o);
}

static void stop_host(proc *host)
{
    proc_signal(host, SIGTERM);
    proc_result r;
    proc_wait(host, 20, &r);
    assert_int_equal(r.exit_code, 0);
    proc_result_free(&r);
}

/* Start `ringhost run m --instance inst --ready-fd 3 3>path` (via sh). */
static void start_with_ready_fd(proc *host, const char *m, const char *inst, const char *path)
{
    char *argv[] = {"/bin/sh", "-c",
                    "exec \"$0\" run \"$1\" --instance \"$2\" --ready-fd 3 3>\"$3\"",
                    RH_TEST_BINARY, (char *)m, (char *)inst, (char *)path, NULL};
    assert_int_equal(proc_start(host, argv), 0);
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static void test_ready_fd_says_ready_when_everything_exists(void **state)
{
    (void)state;
    const char *inst = cli_instance("rfd");
    const char *m = cli_manifest("rfd", echo_manifest_text);
    const char *path = cli_keep("%s/ready-fd.txt", cli_tmpdir());
    proc host;
    start_with_ready_fd(&host, m, inst, path);
    WAIT_UNTIL(READY_WITHIN_S, file_size(path) > 0 || !proc_running(&host));
    assert_true(proc_running(&host));
    expect_everything_there(inst);
    char buf[64] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_string_equal(buf, "READY=1\n");
    stop_host(&host);
}

static void test_ready_fd_closed_unwritten_when_the_host_fails(void **state)
{
    (void)state;
    const char *inst = cli_instance("rfdbad");
    const char *m = cli_manifest(
        "rfdbad", "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
                  " \"queues\": {\"q\": {\"type\": \"echo.message\"}},\n"
                  " \"kernels\": [{\"name\": \"k\", \"plugin\": \"no_such_plugin\","
                  " \"inputs\": {\"in\": \"q\"}}]}\n");
    const char *path = cli_keep("%s/ready-bad.txt", cli_tmpdir());
    proc host;
    start_with_ready_fd(&host, m, inst, path);
    proc_result r;
    proc_wait(&host, CLI_KILL_AFTER_S, &r);
    assert_int_equal(r.timed_out, 0);
    assert_int_equal(r.exit_code, 2);
    assert_int_equal(file_size(path), 0);
    proc_result_free(&r);
}

static void test_ready_fd_must_be_open(void **state)
{
    (void)state;
    const char *m = cli_manifest("rfdusage", echo_manifest_text);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--ready-fd", "57", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--ready-fd 57: not an open file descriptor"),
              "expected the usage error to say fd 57 is not open");
    cli_free(&o);
    cli_exec(&o, NULL, "run", m, "--ready-fd", "x3", NULL);
    cli_expect_exit(&o, 2);
    cli_free(&o);
    /* a --send run never serves: nothing to be ready for */
    const char *file = cli_write("ready-send.jsonl", "");
    cli_exec(&o, NULL, "run", m, "--send", file, "--metrics-listen", "0", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--metrics-listen is for a serving host"),
              "expected --send with --metrics-listen refused");
    cli_free(&o);
}

/* Bind a unix datagram socket at name (abstract when it starts with '@'). */
static int bind_notify(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    memcpy(sa.sun_path, name, n);
    if (name[0] == '@')
        sa.sun_path[0] = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
    return fd;
}

/* The next datagram within s seconds, into buf ("" when none came). */
static void recv_within(int fd, char *buf, size_t len, double s)
{
    buf[0] = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)(s * 1000)) == 1) {
        ssize_t n = recv(fd, buf, len - 1, 0);
        buf[n > 0 ? n : 0] = 0;
    }
}

static void notify_case(const char *tag, const char *sock_name)
{
    const char *inst = cli_instance(tag);
    const char *m = cli_manifest(tag, echo_manifest_text);
    int fd = bind_notify(sock_name);
    setenv("NOTIFY_SOCKET", sock_name, 1);
    proc host;
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--instance", (char *)inst, NULL};
    assert_int_equal(proc_start(&host, argv), 0);
    unsetenv("NOTIFY_SOCKET");
    char buf[512];
    recv_within(fd, buf, sizeof buf, READY_WITHIN_S);
    if (!strstr(buf, "READY=1\n"))
        fail_msg("expected READY=1 on NOTIFY_SOCKET=%s within %.0f s, got \"%s\"", sock_name,
                 READY_WITHIN_S, buf);
    expect_everything_there(inst);
    char pid_line[64];
    snprintf(pid_line, sizeof pid_line, "MAINPID=%ld\n", (long)host.pid);
    if (!strstr(buf, pid_line))
        fail_msg("expected %s in \"%s\"", pid_line, buf);
    proc_signal(&host, SIGTERM);
    recv_within(fd, buf, sizeof buf, READY_WITHIN_S);
    if (!strstr(buf, "STOPPING=1\n"))
        fail_msg("expected STOPPING=1 after SIGTERM, got \"%s\"", buf);
    proc_result r;
    proc_wait(&host, 20, &r);
    assert_int_equal(r.exit_code, 0);
    proc_result_free(&r);
    close(fd);
}

static void test_sd_notify_ready_on_an_abstract_socket(void **state)
{
    (void)state;
    notify_case("sdabs", cli_keep("@rh-notify-test-%ld", (long)getpid()));
}

static void test_sd_notify_ready_on_a_socket_file(void **state)
{
    (void)state;
    notify_case("sdfile", cli_keep("%s/notify.sock", cli_tmpdir()));
}

/* WatchdogSec=: WATCHDOG_USEC=400000 asks for a ping at least every
 * 400 ms; the host pings every 200 ms (half), so three pings come within
 * 2 s of READY=1; a WATCHDOG_PID naming another process gets none. */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void watchdog_case(const char *tag, int for_us)
{
    const char *inst = cli_instance(tag);
    const char *m = cli_manifest(tag, echo_manifest_text);
    const char *name = cli_keep("@rh-notify-wd-%s-%ld", tag, (long)getpid());
    int fd = bind_notify(name);
    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    if (!for_us)
        setenv("WATCHDOG_PID", "1", 1);
    proc host;
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--instance", (char *)inst, NULL};
    assert_int_equal(proc_start(&host, argv), 0);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    char buf[512];
    recv_within(fd, buf, sizeof buf, READY_WITHIN_S);
    if (!strstr(buf, "READY=1\n"))
        fail_msg("expected READY=1 first, got \"%s\"", buf);
    int pings = 0;
    uint64_t until = mono_ns() + 2000000000ull;
    while (mono_ns() < until && pings < 3) {
        recv_within(fd, buf, sizeof buf, 0.5);
        pings += strcmp(buf, "WATCHDOG=1\n") == 0;
    }
    if (for_us && pings < 3)
        fail_msg("expected 3 WATCHDOG=1 within 2 s at WATCHDOG_USEC=400000, got %d", pings);
    if (!for_us && pings)
        fail_msg("expected no WATCHDOG=1 when WATCHDOG_PID names another process, got %d",
                 pings);
    proc_signal(&host, SIGTERM);
    proc_result r;
    proc_wait(&host, 20, &r);
    assert_int_equal(r.exit_code, 0);
    proc_result_free(&r);
    close(fd);
}

static void test_sd_watchdog_pinged_every_half_watchdog_usec(void **state)
{
    (void)state;
    watchdog_case("sdwd", 1);
}

static void test_sd_watchdog_of_another_pid_is_not_pinged(void **state)
{
    (void)state;
    watchdog_case("sdwdpid", 0);
}

static void test_wait_returns_once_the_host_serves(void **state)
{
    (void)state;
    const char *inst = cli_instance("wait");
    const char *m = cli_manifest("wait", echo_manifest_text);
    proc host;
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--instance", (char *)inst, NULL};
    assert_int_equal(proc_start(&host, argv), 0);
    cli_out o;
    cli_exec(&o, NULL, "wait", "--instance", inst, "--timeout", "20", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    expect_everything_there(inst);
    stop_host(&host);
}

static void test_wait_for_no_host_exits_1_at_its_deadline(void **state)
{
    (void)state;
    const char *inst = cli_instance("nohost");
    cli_out o;
    cli_exec(&o, NULL, "wait", "--instance", inst, "--timeout", "0.5", NULL);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, o.r.wall_s >= 0.5 && o.r.wall_s < 5, "expected wait to give up after 0.5 s");
    CLI_CHECK(&o, strstr(o.r.err, "became ready within 0.5 s"),
              "expected the timeout to be said");
    cli_free(&o);
    cli_exec(&o, NULL, "wait", "--instance", inst, "--timeout", "soon", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--timeout: expected a number of seconds"),
              "expected the bad --timeout named");
    cli_free(&o);
    /* a name no host could serve is refused at once, not waited out */
    cli_exec(&o, NULL, "wait", "--instance", "no/such", "--timeout", "20", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, o.r.wall_s < 5 && strstr(o.r.err, "instance name \"no/such\" is invalid"),
              "expected the invalid name refused at once");
    cli_free(&o);
    /* the control socket folder not made yet (no host started) is still
     * something to wait for: 1 at the deadline, not 2 */
    const char *rt = getenv("RINGHOST_RUNTIME_DIR");
    char *saved = rt ? strdup(rt) : NULL;
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/not-made-yet", cli_tmpdir()), 1);
    cli_exec(&o, NULL, "wait", "--instance", inst, "--timeout", "0.2", NULL);
    if (saved)
        setenv("RINGHOST_RUNTIME_DIR", saved, 1);
    else
        unsetenv("RINGHOST_RUNTIME_DIR");
    free(saved);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.err, "became ready within 0.2 s"),
              "expected a missing socket folder waited for like a missing socket");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_fd_says_ready_when_everything_exists),
        cmocka_unit_test(test_ready_fd_closed_unwritten_when_the_host_fails),
        cmocka_unit_test(test_ready_fd_must_be_open),
        cmocka_unit_test(test_sd_notify_ready_on_an_abstract_socket),
        cmocka_unit_test(test_sd_notify_ready_on_a_socket_file),
        cmocka_unit_test(test_sd_watchdog_pinged_every_half_watchdog_usec),
        cmocka_unit_test(test_sd_watchdog_of_another_pid_is_not_pinged),
        cmocka_unit_test(test_wait_returns_once_the_host_serves),
        cmocka_unit_test(test_wait_for_no_host_exits_1_at_its_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
