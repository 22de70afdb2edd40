/*
 * test_cli_squat.c — another local user cannot keep a host from starting
 * by taking its names first (docs/RELIABILITY.md, "Denial of service
 * (round two)"), through the real binary and as that user.
 *
 * A second user (the squatter, made with useradd, removed after) creates,
 * with runuser, what a host of root's or of a third user's (the tenant,
 * run with setpriv) would use: the control socket's fallback folder
 * /tmp/ringhost-<uid> (a world-writable folder, and its -1 as a symlink),
 * and the queues' /dev/shm/ringhost.<instance>:<queue> objects (a file,
 * a FIFO, a numbered one too).  Each host still starts and serves; `ringhost
 * send`, `recv`, `ps` and `stat` reach it; a squatter removing its object
 * while the host runs changes nothing for the clients; and every one of the
 * squatter's entries is left as it was.
 *
 * It runs in a mount namespace of its own with a private tmpfs on /tmp and
 * /dev/shm, so the names it squats (root's own /tmp/ringhost-0 among them)
 * are not those of the other tests running beside it.  It needs root
 * (useradd, a namespace): skipped, saying why, otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_common.h"

static const char *echo_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
    "            \"e.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
    "               \"outputs\": {\"out\": \"e.out\"}}]}\n";

#define WAIT_S 30.0

typedef struct user {
    char name[32];
    uid_t uid;
    gid_t gid;
    int made;
} user;

static user squatter, tenant;
static const char *skip_why; /* set when the group cannot run */
static const char *share;    /* a folder every user may read: the tenant's manifest */

static const char *find_tool(const char *name)
{
    static const char *dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        const char *p = cli_keep("%s/%s", dirs[i], name);
        if (access(p, X_OK) == 0)
            return p;
    }
    return NULL;
}

/* Run argv to completion (no shell): its exit status, -1 when it did not run. */
static int run_argv(char *const argv[], char **err_out)
{
    proc_result r;
    if (proc_run(argv, NULL, WAIT_S, &r) != 0)
        return -1;
    int rc = r.timed_out ? -1 : r.exit_code;
    if (err_out)
        *err_out = strdup(r.err);
    proc_result_free(&r);
    return rc;
}

/* sh -c script as the squatter (runuser): fails the test unless it exits 0. */
static void as_squatter(const char *script)
{
    char *argv[] = {(char *)find_tool("runuser"), "-u", squatter.name, "--", "/bin/sh", "-c",
                    (char *)script, NULL};
    char *err = NULL;
    int rc = run_argv(argv, &err);
    if (rc != 0)
        fail_msg("expected `runuser -u %s -- sh -c '%s'` to exit 0, got %d: %s", squatter.name,
                 script, rc, err ? err : "");
    free(err);
}

static int make_user(user *u, const char *prefix)
{
    snprintf(u->name, sizeof u->name, "%s%d", prefix, (int)(getpid() % 1000000));
    char *argv[] = {(char *)find_tool("useradd"), "-M", "-N", "-r", "-s", "/usr/sbin/nologin",
                    u->name, NULL};
    /* another test (test_cli_plugin_trust) may hold /etc/passwd's lock for
     * its own useradd: try again for a while */
    if (!WAIT_UNTIL_EVERY(20.0, 200, run_argv(argv, NULL) == 0)) {
        print_error("useradd %s failed for 20 s\n", u->name);
        return -1;
    }
    u->made = 1;
    struct passwd *pw = getpwnam(u->name);
    if (!pw) {
        print_error("useradd made %s but getpwnam cannot find it\n", u->name);
        return -1;
    }
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    return 0;
}

static void remove_user(user *u)
{
    if (!u->made)
        return;
    char *argv[] = {(char *)find_tool("userdel"), u->name, NULL};
    if (!WAIT_UNTIL_EVERY(20.0, 200, run_argv(argv, NULL) == 0))
        print_error("userdel %s failed: remove the user by hand\n", u->name);
    u->made = 0;
}

/* A private /tmp and /dev/shm for this process and its children. */
static const char *private_tmp(void)
{
    if (unshare(CLONE_NEWNS) != 0)
        return "unshare(CLONE_NEWNS) failed (a container without CAP_SYS_ADMIN?)";
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return "cannot make the mount namespace private";
    if (mount("rh-squat-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0 ||
        mount("rh-squat-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
        return "cannot mount a tmpfs on /tmp and /dev/shm";
    return NULL;
}

static int group_setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip_why = "needs root (it makes two users with useradd and a mount namespace)";
        return 0;
    }
    if (!find_tool("useradd") || !find_tool("userdel") || !find_tool("runuser") ||
        !find_tool("setpriv")) {
        skip_why = "needs useradd, userdel, runuser and setpriv";
        return 0;
    }
    /* before anything is made in /tmp (cli_tmpdir, proc's files) */
    if ((skip_why = private_tmp()) != NULL)
        return 0;
    unsetenv("XDG_RUNTIME_DIR");      /* the fallback folder in /tmp is the point */
    unsetenv("RINGHOST_RUNTIME_DIR");
    if (make_user(&squatter, "rhsq") != 0 || make_user(&tenant, "rhtn") != 0)
        return -1;
    share = "/tmp/rh-squat-share";
    if (mkdir(share, 0755) != 0 || chmod(share, 0755) != 0) {
        print_error("cannot make %s\n", share);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    remove_user(&squatter);
    remove_user(&tenant);
    return cli_group_teardown(state);
}

#define NEEDS_SETUP()                                                                            \
    do {                                                                                         \
        if (skip_why) {                                                                          \
            print_message("    skipped: %s\n", skip_why);                                        \
            skip();                                                                              \
        }                                                                                        \
    } while (0)

/* ------------------------------------------------- what is squatted ---- */

/* One of the squatter's entries, as it was made. */
typedef struct squat {
    const char *path;
    struct stat st;
} squat;

static void remember(squat *s, const char *path)
{
    s->path = path;
    if (lstat(path, &s->st) != 0)
        fail_msg("expected the squatter's %s to exist: %s", path, strerror(errno));
    if (s->st.st_uid != squatter.uid)
        fail_msg("expected %s to be the squatter's (uid %u), it is uid %u's", path,
                 (unsigned)squatter.uid, (unsigned)s->st.st_uid);
}

static void expect_left_alone(const squat *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct stat now;
        EXPECT(lstat(s[i].path, &now) == 0, "expected the squatter's %s to be left, it is gone",
               s[i].path);
        EXPECT(now.st_ino == s[i].st.st_ino && now.st_uid == squatter.uid &&
                   now.st_mode == s[i].st.st_mode && now.st_size == s[i].st.st_size,
               "expected the squatter's %s to be left as it was", s[i].path);
    }
}

/* Squat every name a host of uid `victim` serving `instance` would take:
 * into s (returns how many). */
static size_t squat_names(uid_t victim, const char *instance, squat *s)
{
    const char *dir = cli_keep("/tmp/ringhost-%u", (unsigned)victim);
    const char *shm = cli_keep("/dev/shm/ringhost.%s", instance);
    as_squatter(cli_keep("mkdir -m 0777 %s && chmod 0777 %s && ln -s %s %s-1 && "
                         "echo squatted > %s:e.in && mkfifo -m 0666 %s:e.out && "
                         "echo squatted > %s:e.out:1 && echo squatted > %s:e.dlq",
                         dir, dir, dir, dir, shm, shm, shm, shm));
    size_t n = 0;
    remember(&s[n++], dir);
    remember(&s[n++], cli_keep("%s-1", dir));
    remember(&s[n++], cli_keep("%s:e.in", shm));
    remember(&s[n++], cli_keep("%s:e.out", shm));
    remember(&s[n++], cli_keep("%s:e.out:1", shm));
    remember(&s[n++], cli_keep("%s:e.dlq", shm));
    return n;
}

/* ------------------------------------------------------ the clients ---- */

/* argv prefix that runs as u (NULL: as this process, root). */
static size_t as_prefix(const user *u, const char **argv)
{
    size_t n = 0;
    if (u) {
        argv[n++] = find_tool("setpriv");
        argv[n++] = cli_keep("--reuid=%u", (unsigned)u->uid);
        argv[n++] = cli_keep("--regid=%u", (unsigned)u->gid);
        argv[n++] = "--clear-groups";
        argv[n++] = "--";
    }
    argv[n++] = RH_TEST_BINARY;
    return n;
}

/* `ringhost <args>` as u: fails unless it exits 0; its stdout (kept). */
static const char *ringhost_as(const user *u, const char *const *args)
{
    const char *argv[32];
    size_t n = as_prefix(u, argv);
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    proc_result r;
    assert_int_equal(proc_run((char *const *)argv, NULL, WAIT_S, &r), 0);
    if (r.exit_code != 0) {
        const char *out = cli_keep("%s", r.err);
        proc_result_free(&r);
        fail_msg("expected `ringhost %s %s %s ...` as %s to exit 0; stderr:\n%s", args[0],
                 args[1], args[2] ? args[2] : "", u ? u->name : "root", out);
    }
    const char *out = cli_keep("%s", r.out);
    proc_result_free(&r);
    return out;
}

/* send, recv, ps and stat reach the host of instance, as u: `n` messages
 * have gone through e.in after this call. */
static void clients_reach(const user *u, const char *instance, int n)
{
    const char *body = cli_keep("{\"seq\": %d, \"text\": \"through the squat\"}", n);
    ringhost_as(u, (const char *[]){"send", "--instance", instance, "e.in", body, NULL});
    const char *got = ringhost_as(u, (const char *[]){"recv", "--instance", instance, "e.out",
                                                       "-n", "1", "--timeout", "20", NULL});
    EXPECT(strstr(got, "through the squat"), "expected recv to give the echo back, got:\n%s",
           got);
    const char *ps = ringhost_as(u, (const char *[]){"ps", "--instance", instance, "--json",
                                                      NULL});
    EXPECT(strstr(ps, "\"name\": \"e\"") || strstr(ps, "\"name\":\"e\""),
           "expected ps to list kernel e, got:\n%s", ps);
    const char *st = ringhost_as(u, (const char *[]){"stat", "--instance", instance, "--json",
                                                      NULL});
    json_t *j = json_loads(st, 0, NULL);
    long long enq = -1;
    size_t i, seen_in = 0;
    json_t *q;
    json_array_foreach (json_object_get(j, "queues"), i, q) {
        if (strcmp(json_string_value(json_object_get(q, "queue")) ?: "", "e.in") == 0) {
            seen_in++;
            enq = json_integer_value(json_object_get(q, "enqueued"));
        }
    }
    json_decref(j);
    EXPECT(seen_in == 1 && enq == n,
           "expected stat to show e.in once with enqueued %d (the host's queue, not the "
           "squatter's object), got %zu row(s), enqueued %lld:\n%s", n, seen_in, enq, st);
}

/* ----------------------------------------------------------- tests ---- */

static proc *running; /* the host a failed assertion would leave: killed by kill_left */

static int kill_left(void **state)
{
    (void)state;
    if (running && running->pid) {
        proc_signal(running, SIGKILL);
        proc_result r;
        proc_wait(running, WAIT_S, &r);
        proc_result_free(&r);
    }
    running = NULL;
    return 0;
}

static void start_as(proc *host, const user *u, const char *manifest, const char *instance)
{
    running = host;
    const char *argv[16];
    size_t n = as_prefix(u, argv);
    argv[n++] = "run";
    argv[n++] = manifest;
    argv[n++] = "--instance";
    argv[n++] = instance;
    argv[n] = NULL;
    assert_int_equal(proc_start(host, (char *const *)argv), 0);
    if (cli_host_logged_within(host, CLI_SERVING, 1, WAIT_S) != 0)
        fail_msg("expected the host of %s to start and serve beside the squatter's names",
                 u ? u->name : "root");
}

static void stop(proc *host)
{
    proc_signal(host, SIGTERM);
    proc_result r;
    proc_wait(host, WAIT_S, &r);
    int code = r.exit_code;
    const char *err = cli_keep("%s", r.err);
    proc_result_free(&r);
    if (code != 0)
        fail_msg("expected the host to stop with exit 0, got %d:\n%s", code, err);
}

static void squatted_host_serves(const user *u)
{
    uid_t uid = u ? u->uid : 0;
    const char *instance = cli_instance(u ? "squat-tenant" : "squat-root");
    squat s[8];
    size_t n = squat_names(uid, instance, s);
    /* a manifest the host's user may read */
    const char *manifest = cli_keep("%s/%s.json", share, instance);
    const char *text = cli_manifest(instance, echo_text);
    assert_int_equal(cli_copy_file(text, manifest, 0644), 0);

    proc host;
    start_as(&host, u, manifest, instance);
    EXPECT(cli_file_count(host.err_path, "event=control.folder_taken") == 1 &&
               cli_file_count(host.err_path, cli_keep("owner_uid=%u", (unsigned)squatter.uid)),
           "expected the host to say it left the squatter's folder and used another");
    EXPECT(cli_file_count(host.err_path, "event=queue.name_taken") == 3,
           "expected the host to say, once for each of e.in, e.out and e.dlq, that it used "
           "another name");
    clients_reach(u, instance, 1);
    /* the squatter removes its e.in: the clients keep finding the host's */
    as_squatter(cli_keep("rm -f %s", s[2].path));
    clients_reach(u, instance, 2);
    stop(&host);
    /* the host removed its own objects and left the squatter's */
    expect_left_alone(s, 2);
    expect_left_alone(s + 3, n - 3);
    /* and a second host starts the same way */
    start_as(&host, u, manifest, instance);
    clients_reach(u, instance, 1);
    stop(&host);
    expect_left_alone(s, 2);
    expect_left_alone(s + 3, n - 3);
}

static void test_a_root_host_starts_and_serves_beside_another_users_squatted_names(void **state)
{
    (void)state;
    NEEDS_SETUP();
    squatted_host_serves(NULL);
}

static void test_a_users_host_starts_and_serves_beside_another_users_squatted_names(void **state)
{
    (void)state;
    NEEDS_SETUP();
    squatted_host_serves(&tenant);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_a_root_host_starts_and_serves_beside_another_users_squatted_names, kill_left),
        cmocka_unit_test_teardown(
            test_a_users_host_starts_and_serves_beside_another_users_squatted_names, kill_left),
    };
    return cmocka_run_group_tests_name("cli squat", tests, group_setup, group_teardown);
}
