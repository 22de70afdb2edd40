/*
 * test_cli_control_socket.c — the control socket itself: where it lives
 * and with which modes, one host per instance, a stale socket replaced, a
 * folder others may write refused, malformed protocol lines answered while
 * the host keeps serving (and a silent client holding up nobody), and the
 * clients' errors when no host runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control_common.h"
#include "ringhost/ringhost.h"

static const char *echo_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"e.in\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"}}]}\n";

static struct {
    proc host;
    const char *instance, *manifest, *dir;
} H;

static int host_setup(void **state)
{
    (void)state;
    memset(&H, 0, sizeof H);
    H.dir = cli_keep("%s/run", cli_tmpdir());
    setenv("RINGHOST_RUNTIME_DIR", H.dir, 1);
    H.instance = cli_instance("sock");
    H.manifest = cli_manifest("sock", echo_text);
    return ctl_start_host(&H.host, H.manifest, H.instance);
}

static int host_teardown(void **state)
{
    (void)state;
    ctl_kill_host(&H.host);
    return 0;
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fail_msg("expected to connect to %s: %s", path, strerror(errno));
    return fd;
}

/* The next reply line on fd (within 10 s), as JSON; NULL at EOF. */
static json_t *reply_of(int fd)
{
    static char buf[8192];
    static size_t len;
    static int buf_fd = -1;
    if (buf_fd != fd)
        len = 0, buf_fd = fd;
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            json_t *j = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len);
            return j;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 10000) <= 0)
            fail_msg("expected a reply line within 10 s");
        ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
        if (r <= 0)
            return NULL;
        len += (size_t)r;
    }
}

static void send_text(int fd, const char *text, size_t n)
{
    assert_int_equal(send(fd, text, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Fail unless j is {"ok": false, "code": code, "error": "...needle..."}. */
static void expect_error(json_t *j, int code, const char *needle, const char *sent)
{
    const char *msg = json_string_value(json_object_get(j, "error"));
    if (!j || json_is_true(json_object_get(j, "ok")) ||
        json_integer_value(json_object_get(j, "code")) != code || !msg || !strstr(msg, needle))
        fail_msg("expected {\"ok\": false, \"code\": %d, \"error\": \"...%s...\"} for %s, got %s",
                 code, needle, sent, j ? json_dumps(j, 0) : "nothing");
}

static void expect_ps_answers(void)
{
    cli_out o;
    cli_exec(&o, NULL, "ps", "--instance", H.instance, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "echo@"), "expected ps to list kernel e (plugin echo)");
    cli_free(&o);
}

/* ------------------------------------------------------- placement ---- */

static void test_socket_is_0600_in_a_0700_folder_of_this_user(void **state)
{
    (void)state;
    struct stat d, s;
    assert_int_equal(lstat(H.dir, &d), 0);
    const char *sock = cli_keep("%s/%s.sock", H.dir, H.instance);
    if (lstat(sock, &s) != 0)
        fail_msg("expected the control socket at %s", sock);
    assert_true(S_ISDIR(d.st_mode) && S_ISSOCK(s.st_mode));
    if ((d.st_mode & 0777) != 0700 || (s.st_mode & 0777) != 0600)
        fail_msg("expected folder 0700 and socket 0600, got %03o and %03o", d.st_mode & 0777,
                 s.st_mode & 0777);
    assert_int_equal(d.st_uid, geteuid());
    assert_int_equal(s.st_uid, geteuid());
}

static void test_second_run_of_a_live_instance_is_refused_naming_the_host(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "run", H.manifest, NULL);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.err, "is already served by a running host") &&
                      strstr(o.r.err, cli_keep("pid %d", (int)H.host.pid)),
              "expected the refusal to name the running host's pid %d", (int)H.host.pid);
    cli_free(&o);
    expect_ps_answers(); /* the first one still serves, its socket untouched */
}

/* ------------------------------------------------------- protocol ---- */

static void test_malformed_lines_are_answered_and_the_host_keeps_serving(void **state)
{
    (void)state;
    const char *sock = cli_keep("%s/%s.sock", H.dir, H.instance);
    int silent = connect_to(sock); /* says nothing the whole test */
    int fd = connect_to(sock);
    static const struct {
        const char *line, *needle;
        int code;
    } bad[] = {
        {"garbage\n", "expected one JSON object per line", RH_EINVAL},
        {"[1, 2]\n", "got another JSON value", RH_EINVAL},
        {"{\"kernel\": \"e\"}\n", "expected \"cmd\"", RH_EINVAL},
        {"{\"cmd\": \"explode\"}\n", "unknown cmd \"explode\"", RH_EINVAL},
        {"{\"cmd\": \"activate\"}\n", "expected \"kernel\"", RH_EINVAL},
        {"{\"cmd\": \"launch\", \"manifest\": \"relative.json\"}\n", "absolute path",
         RH_EINVAL},
        {"{\"cmd\": \"deactivate\", \"kernel\": \"nope\"}\n", "no kernel \"nope\"", RH_ENOENT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        send_text(fd, bad[i].line, strlen(bad[i].line));
        json_t *j = reply_of(fd);
        expect_error(j, bad[i].code, bad[i].needle, bad[i].line);
        json_decref(j);
    }
    /* the same connection still takes a good request */
    send_text(fd, "{\"cmd\": \"ps\"}\n", 14);
    json_t *j = reply_of(fd);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    /* and another client is served while `silent` says nothing */
    expect_ps_answers();
    close(fd);
    close(silent);
}

static void test_a_line_past_the_limit_is_refused_and_its_connection_closed(void **state)
{
    (void)state;
    int fd = connect_to(cli_keep("%s/%s.sock", H.dir, H.instance));
    size_t n = 70 * 1024; /* past RH_CONTROL_LINE_MAX, no newline */
    char *big = malloc(n);
    memset(big, 'x', n);
    ssize_t sent = send(fd, big, n, MSG_NOSIGNAL); /* may stop short once refused */
    assert_true(sent > 0);
    free(big);
    json_t *j = reply_of(fd);
    expect_error(j, RH_EINVAL, "request line longer than", "a 70 KiB line");
    json_decref(j);
    assert_null(reply_of(fd)); /* closed */
    close(fd);
    expect_ps_answers();
}

/*
 * SO_PEERCRED, alone: the folder and socket modes are opened up so that
 * another user reaches accept(), and the host must still refuse the
 * connection (closed without a reply) and log it.  Needs root to become
 * that other user.
 */
static void test_a_peer_of_another_uid_is_refused_and_logged(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *sock = cli_keep("%s/%s.sock", H.dir, H.instance);
    assert_int_equal(chmod(cli_tmpdir(), 0711), 0); /* mkdtemp made it 0700 */
    assert_int_equal(chmod(H.dir, 0711), 0);
    assert_int_equal(chmod(sock, 0666), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(11); /* the modes kept us out: not what this test is about */
        ssize_t w = send(fd, "{\"cmd\": \"ps\"}\n", 14, MSG_NOSIGNAL);
        (void)w;
        struct pollfd pf = {fd, POLLIN, 0};
        char buf[256];
        if (poll(&pf, 1, 10000) <= 0)
            _exit(12);
        _exit(recv(fd, buf, sizeof buf, 0) > 0 ? 13 : 0); /* 13: it answered */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    chmod(sock, 0600);
    chmod(H.dir, 0700);
    chmod(cli_tmpdir(), 0700);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0)
        fail_msg("expected the connection of uid 65534 closed without a reply, got child exit "
                 "%d (10 setuid, 11 connect, 12 no close, 13 answered)", code);
    /* the host logged the refusal */
    WAIT_UNTIL(10, cli_file_count(H.host.err_path, "event=control.refused") > 0);
    if (cli_file_count(H.host.err_path, "event=control.refused") == 0 ||
        cli_file_count(H.host.err_path, "peer_uid=65534") == 0)
        fail_msg("expected a control.refused event naming peer_uid=65534 in the host's log");
    expect_ps_answers();
}

static void test_sigterm_removes_the_socket(void **state)
{
    (void)state;
    const char *sock = cli_keep("%s/%s.sock", H.dir, H.instance);
    proc_result r;
    assert_int_equal(proc_signal(&H.host, SIGTERM), 0);
    proc_wait(&H.host, 30, &r);
    int code = r.exit_code;
    proc_result_free(&r);
    assert_int_equal(code, 0);
    if (access(sock, F_OK) == 0)
        fail_msg("expected %s removed when the host stopped", sock);
    const char *lock = cli_keep("%s/%s.lock", H.dir, H.instance);
    if (access(lock, F_OK) == 0)
        fail_msg("expected %s removed when the host stopped", lock);
}

/* -------------------------------------------------------- no host ---- */

static void test_ps_and_verbs_without_a_host_say_so_and_exit_2(void **state)
{
    (void)state;
    const char *inst = cli_instance("nohost");
    const char *cmds[][3] = {{"ps", NULL, NULL}, {"activate", "k", NULL},
                             {"terminate", "k", NULL}, {"launch", H.manifest, NULL}};
    for (size_t i = 0; i < 4; i++) {
        cli_out o;
        if (cmds[i][1])
            cli_exec(&o, NULL, cmds[i][0], cmds[i][1], "--instance", inst, NULL);
        else
            cli_exec(&o, NULL, cmds[i][0], "--instance", inst, NULL);
        cli_expect_exit(&o, 2); /* the instance names nothing (OPERATIONS.md, Exit codes) */
        CLI_CHECK(&o, strstr(o.r.err, cli_keep("no host running for instance \"%s\"", inst)),
                  "expected \"no host running for instance\" from %s", cmds[i][0]);
        cli_free(&o);
    }
}

static void test_verbs_without_an_instance_or_kernel_exit_2(void **state)
{
    (void)state;
    unsetenv("RINGHOST_INSTANCE");
    cli_out o;
    cli_exec(&o, NULL, "ps", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "expected --instance"), "expected the missing instance named");
    cli_free(&o);
    cli_exec(&o, NULL, "activate", "--instance", "x", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "usage: ringhost activate KERNEL"), "expected the usage");
    cli_free(&o);
    cli_exec(&o, NULL, "launch", "/nonexistent/m.json", "--instance", "x", NULL);
    cli_expect_exit(&o, 2);
    cli_free(&o);
}

static void test_a_stale_socket_file_is_replaced(void **state)
{
    (void)state;
    const char *inst = cli_instance("stale");
    const char *m = cli_manifest("stale", echo_text);
    const char *sock = cli_keep("%s/%s.sock", H.dir, inst);
    /* a socket nobody listens on: bound, then its process "died" */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    proc host;
    if (ctl_start_host(&host, m, inst) != 0)
        fail_msg("expected a host to start over the stale socket %s", sock);
    ctl_kill_host(&host);
}

/* A host holds <instance>.lock from before it binds until it stops: a
 * second one starting meanwhile (the lock taken, no socket yet) is refused. */
static void test_an_instance_whose_lock_is_held_is_refused(void **state)
{
    (void)state;
    const char *inst = cli_instance("locked");
    int fd = open(cli_keep("%s/%s.lock", H.dir, inst), O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    cli_out o;
    cli_exec(&o, NULL, "run", cli_manifest("locked", echo_text), NULL);
    close(fd);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.err, "is already served by a running host"),
              "expected the instance refused while its lock is held");
    CLI_CHECK(&o, access(cli_keep("%s/%s.lock", H.dir, inst), F_OK) == 0,
              "expected the refused host to leave the lock file of the one holding it");
    cli_free(&o);
}

static void test_a_folder_others_may_write_is_refused(void **state)
{
    (void)state;
    const char *dir = cli_keep("%s/open", cli_tmpdir());
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    setenv("RINGHOST_RUNTIME_DIR", dir, 1);
    cli_out o;
    cli_exec(&o, NULL, "run", cli_manifest("open", echo_text), NULL);
    setenv("RINGHOST_RUNTIME_DIR", H.dir, 1);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.err, "is writable by others (mode 777)"),
              "expected the unsafe folder refused with its mode");
    cli_free(&o);
}

static void test_without_runtime_dir_the_socket_is_under_xdg_runtime_dir(void **state)
{
    (void)state;
    const char *xdg = cli_keep("%s/xdg", cli_tmpdir());
    assert_int_equal(mkdir(xdg, 0700), 0);
    unsetenv("RINGHOST_RUNTIME_DIR");
    setenv("XDG_RUNTIME_DIR", xdg, 1);
    const char *inst = cli_instance("xdg");
    proc host;
    int rc = ctl_start_host(&host, cli_manifest("xdg", echo_text), inst);
    struct stat d, s;
    int dir_ok = lstat(cli_keep("%s/ringhost", xdg), &d) == 0 && (d.st_mode & 0777) == 0700;
    int sock_ok = lstat(cli_keep("%s/ringhost/%s.sock", xdg, inst), &s) == 0;
    if (rc == 0)
        ctl_kill_host(&host);
    setenv("RINGHOST_RUNTIME_DIR", H.dir, 1);
    assert_int_equal(rc, 0);
    if (!dir_ok || !sock_ok)
        fail_msg("expected %s/ringhost (0700) holding %s.sock", xdg, inst);
}

static void test_with_xdg_runtime_dir_naming_nothing_the_socket_is_under_tmp(void **state)
{
    (void)state;
    unsetenv("RINGHOST_RUNTIME_DIR");
    setenv("XDG_RUNTIME_DIR", cli_keep("%s/no-such-folder", cli_tmpdir()), 1);
    const char *inst = cli_instance("tmpdir");
    const char *sock = cli_keep("/tmp/ringhost-%u/%s.sock", (unsigned)geteuid(), inst);
    proc host;
    int rc = ctl_start_host(&host, cli_manifest("tmpdir", echo_text), inst);
    struct stat s;
    int sock_ok = lstat(sock, &s) == 0 && S_ISSOCK(s.st_mode);
    if (rc == 0)
        ctl_kill_host(&host);
    unlink(sock); /* killed: it could not remove it */
    unlink(cli_keep("/tmp/ringhost-%u/%s.lock", (unsigned)geteuid(), inst));
    setenv("RINGHOST_RUNTIME_DIR", H.dir, 1);
    assert_int_equal(rc, 0);
    if (!sock_ok)
        fail_msg("expected the control socket at %s", sock);
}

static int cleanup(void **state)
{
    (void)state;
    cli_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest serving[] = {
        cmocka_unit_test(test_socket_is_0600_in_a_0700_folder_of_this_user),
        cmocka_unit_test(test_second_run_of_a_live_instance_is_refused_naming_the_host),
        cmocka_unit_test(test_malformed_lines_are_answered_and_the_host_keeps_serving),
        cmocka_unit_test(test_a_line_past_the_limit_is_refused_and_its_connection_closed),
        cmocka_unit_test(test_a_peer_of_another_uid_is_refused_and_logged),
        cmocka_unit_test(test_sigterm_removes_the_socket),
    };
    const struct CMUnitTest other[] = {
        cmocka_unit_test(test_ps_and_verbs_without_a_host_say_so_and_exit_2),
        cmocka_unit_test(test_verbs_without_an_instance_or_kernel_exit_2),
        cmocka_unit_test(test_a_stale_socket_file_is_replaced),
        cmocka_unit_test(test_an_instance_whose_lock_is_held_is_refused),
        cmocka_unit_test(test_a_folder_others_may_write_is_refused),
        cmocka_unit_test(test_without_runtime_dir_the_socket_is_under_xdg_runtime_dir),
        cmocka_unit_test(test_with_xdg_runtime_dir_naming_nothing_the_socket_is_under_tmp),
    };
    int failed = cmocka_run_group_tests_name("cli control socket", serving, host_setup,
                                             host_teardown);
    failed += cmocka_run_group_tests_name("cli control, no host", other, NULL, cleanup);
    return failed;
}
