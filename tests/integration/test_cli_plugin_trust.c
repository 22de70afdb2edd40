/*
 * test_cli_plugin_trust.c — a root host runs no code another user owns or
 * could swap, through the real binary.
 *
 * The test makes a second user with useradd (removed after); it needs
 * root, and is skipped with the reason when it is not root or useradd is
 * missing.  The plugin tried is bad_ctor_mark.so, whose constructor appends
 * "uid=N pid=P" to $RH_TEST_CTOR_MARK: a refused file must leave no mark
 * (its code never ran, not even in the plugin scanner), and the control
 * case (the same file, root's, in root's folder) leaves one, so the mark
 * can tell.  Every folder is under this test's private temporary folder
 * (root's, 0700, in the sticky /tmp, which is accepted above a folder root
 * owns: plugin_trust.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli_common.h"

#define HOSTILE_DIR RH_TEST_BUILD_DIR "/hostile_plugins"
#define WAIT_S 30.0

static char user[32];      /* the second user */
static uid_t other_uid;
static gid_t other_gid;
static int user_made;
static const char *mark;   /* $RH_TEST_CTOR_MARK */
static const char *requests;

/* Run a program (no shell) and return its exit status, -1 when it could
 * not run. */
static int run_tool(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0) {
            dup2(null_fd, 1);
            dup2(null_fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

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

/* A folder <tmp>/<rel> (mode 0755) owned by uid. */
static const char *folder(const char *rel, uid_t uid, gid_t gid)
{
    const char *dir = cli_keep("%s/%s", cli_tmpdir(), rel);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(chown(dir, uid, gid), 0);
    return dir;
}

/* <dir>/<name> a copy of `from` (mode 0644) owned by uid. */
static const char *plugin_file(const char *dir, const char *name, const char *from, uid_t uid,
                               gid_t gid)
{
    const char *so = cli_keep("%s/%s", dir, name);
    assert_int_equal(cli_copy_file(from, so, 0644), 0);
    assert_int_equal(chown(so, uid, gid), 0);
    return so;
}

static int marked(void)
{
    return access(mark, F_OK) == 0;
}

/* `ringhost plugins dir` lists name refused with every one of the words
 * (NULL-terminated), and its constructor left no mark. */
static void expect_listed_refused(const char *dir, const char *name, ...)
{
    unlink(mark);
    cli_out o;
    cli_exec(&o, NULL, "plugins", dir, NULL);
    cli_expect_exit(&o, 1); /* a plugin failed to load (OPERATIONS.md, Exit codes) */
    CLI_CHECK(&o, strstr(o.r.out, cli_keep("%s: error", name)) && strstr(o.r.out, "refused"),
              "expected `plugins %s` to list %s as refused", dir, name);
    va_list ap;
    va_start(ap, name);
    for (const char *w; (w = va_arg(ap, const char *)) != NULL;)
        CLI_CHECK(&o, strstr(o.r.out, w), "expected the refusal to say \"%s\"", w);
    va_end(ap);
    CLI_CHECK(&o, !marked(), "the refused plugin's constructor ran: %s exists", mark);
    cli_free(&o);
}

/* A manifest <tmp>/<tag>.json with plugin folder `dir` and one kernel
 * running `plugin`. */
static const char *manifest_for(const char *tag, const char *dir, const char *plugin)
{
    return cli_manifest(tag, cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", "
                                      "\"plugins\": [\"%s\"], "
                                      "\"queues\": {\"t.in\": {}, \"t.out\": {}}, "
                                      "\"kernels\": [{\"name\": \"k\", \"plugin\": \"%s\", "
                                      "\"inputs\": {\"in\": \"t.in\"}, "
                                      "\"outputs\": {\"out\": \"t.out\"}}]}",
                                      dir, plugin));
}

static void expect_validate_refuses(const char *dir, const char *words)
{
    unlink(mark);
    cli_out o;
    cli_exec(&o, NULL, "validate", manifest_for("v", dir, "bad_ctor_mark"), NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, words), "expected validate to fail with \"%s\"", words);
    CLI_CHECK(&o, !marked(), "validate ran the refused plugin's constructor");
    cli_free(&o);
}

/* Each test is skipped (with the group setup's reason printed once) when
 * no second user could be made. */
#define NEED_USER()                                                                              \
    do {                                                                                         \
        if (!user_made)                                                                          \
            skip();                                                                              \
    } while (0)

static const char *owned_by_other(void)
{
    return cli_keep("owned by uid %u (%s)", (unsigned)other_uid, user);
}

/* The control case: root's file in root's folder loads, and leaves its
 * mark (in the scanner and in the host), so a missing mark means
 * something. */
static void test_roots_own_plugin_in_roots_folder_loads_and_leaves_its_mark(void **state)
{
    (void)state;
    NEED_USER();
    const char *dir = folder("root-own", 0, 0);
    plugin_file(dir, "bad_ctor_mark.so", HOSTILE_DIR "/bad_ctor_mark.so", 0, 0);
    unlink(mark);
    cli_out o;
    cli_exec(&o, NULL, "plugins", dir, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "kernel bad_ctor_mark"), "expected root's plugin to load");
    CLI_CHECK(&o, marked(), "expected the constructor to leave %s", mark);
    cli_free(&o);
}

static void test_another_users_folder_and_file_are_refused_before_any_code_runs(void **state)
{
    (void)state;
    NEED_USER();
    const char *dir = folder("theirs", other_uid, other_gid);
    plugin_file(dir, "bad_ctor_mark.so", HOSTILE_DIR "/bad_ctor_mark.so", other_uid, other_gid);
    expect_listed_refused(dir, "bad_ctor_mark.so", owned_by_other(), "chown", NULL);
    expect_validate_refuses(dir, owned_by_other());
}

static void test_roots_file_in_another_users_folder_is_refused(void **state)
{
    (void)state;
    NEED_USER();
    const char *dir = folder("theirs-folder", other_uid, other_gid);
    plugin_file(dir, "bad_ctor_mark.so", HOSTILE_DIR "/bad_ctor_mark.so", 0, 0);
    expect_listed_refused(dir, "bad_ctor_mark.so", cli_keep("the folder %s", dir),
                          owned_by_other(), NULL);
}

/* A root symlink to another user's .so, and a root symlink to their folder. */
static void test_symlinks_into_another_users_folder_are_not_followed(void **state)
{
    (void)state;
    NEED_USER();
    const char *theirs = folder("theirs-target", other_uid, other_gid);
    const char *so =
        plugin_file(theirs, "bad_ctor_mark.so", HOSTILE_DIR "/bad_ctor_mark.so", other_uid,
                    other_gid);
    const char *mine = folder("root-links", 0, 0);
    assert_int_equal(symlink(so, cli_keep("%s/bad_ctor_mark.so", mine)), 0);
    expect_listed_refused(mine, "bad_ctor_mark.so", owned_by_other(), NULL);

    const char *link_dir = cli_keep("%s/root-dir-link", cli_tmpdir());
    assert_int_equal(symlink(theirs, link_dir), 0);
    expect_listed_refused(link_dir, "bad_ctor_mark.so", owned_by_other(), NULL);
    expect_validate_refuses(link_dir, owned_by_other());
}

/* <tmp>/parent (theirs)/plugins (root's): they could rename plugins away
 * and put their own in its place, so a folder above counts too. */
static void test_roots_plugins_folder_inside_another_users_folder_is_refused(void **state)
{
    (void)state;
    NEED_USER();
    const char *parent = folder("their-parent", other_uid, other_gid);
    (void)parent;
    const char *dir = folder("their-parent/plugins", 0, 0);
    plugin_file(dir, "bad_ctor_mark.so", HOSTILE_DIR "/bad_ctor_mark.so", 0, 0);
    expect_listed_refused(dir, "bad_ctor_mark.so", cli_keep("the folder %s", parent),
                          owned_by_other(), NULL);
}

/* Group-writable is refused with the fix; once fixed it loads. */
static void test_a_group_writable_folder_is_refused_with_chmod_g_w(void **state)
{
    (void)state;
    NEED_USER();
    const char *dir = folder("group-writable", 0, 0);
    plugin_file(dir, "bad_ctor_mark.so", HOSTILE_DIR "/bad_ctor_mark.so", 0, 0);
    assert_int_equal(chmod(dir, 02775), 0); /* a setgid shared folder */
    expect_listed_refused(dir, "bad_ctor_mark.so", "group-writable", "mode 2775",
                          cli_keep("chmod g-w %s", dir), NULL);
    assert_int_equal(chmod(dir, 0755), 0);
    cli_out o;
    cli_exec(&o, NULL, "plugins", dir, NULL);
    CLI_CHECK(&o, strstr(o.r.out, "kernel bad_ctor_mark"), "expected it to load once fixed");
    cli_free(&o);
}

/* A folder another user may write through a POSIX ACL (u:other:rwx, so
 * the mode's group bits, the ACL mask, read rwx) is refused naming that
 * user and the ACL, not "any member of that group" (the owning group here
 * cannot write).  The ACL is written as the kernel stores it
 * (system.posix_acl_access), so no setfacl is needed. */
static void test_a_folder_writable_through_a_posix_acl_is_refused_naming_who(void **state)
{
    (void)state;
    NEED_USER();
    const char *dir = folder("acl-writable", 0, 0);
    plugin_file(dir, "bad_ctor_mark.so", HOSTILE_DIR "/bad_ctor_mark.so", 0, 0);
    struct {
        uint16_t tag, perm;
        uint32_t id;
    } e[] = {{0x01, 7, UINT32_MAX}, {0x02, 7, (uint32_t)other_uid}, {0x04, 5, UINT32_MAX},
             {0x10, 7, UINT32_MAX}, {0x20, 5, UINT32_MAX}};
    unsigned char raw[4 + sizeof e];
    uint32_t version = 2; /* little-endian on every host this runs on (x86-64, arm64) */
    memcpy(raw, &version, 4);
    memcpy(raw + 4, e, sizeof e);
    if (setxattr(dir, "system.posix_acl_access", raw, sizeof raw, 0) != 0) {
        print_message("skipped: cannot set a POSIX ACL on %s (%s): the file system has no "
                      "ACLs\n", dir, strerror(errno));
        skip();
    }
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(st.st_mode & S_IWGRP); /* the mask shows as the group bits */
    expect_listed_refused(dir, "bad_ctor_mark.so", "POSIX ACL",
                          cli_keep("user uid %u (%s)", (unsigned)other_uid, user),
                          cli_keep("setfacl -b %s", dir), NULL);
    cli_out o;
    cli_exec(&o, NULL, "plugins", dir, NULL);
    CLI_CHECK(&o, !strstr(o.r.out, "any member of that group"),
              "expected the refusal not to blame the owning group");
    cli_free(&o);
    assert_int_equal(removexattr(dir, "system.posix_acl_access"), 0);
}

/* --allow-plugin PATH stays the explicit exception, and it is logged. */
static void test_allow_plugin_loads_another_users_file_with_a_logged_warning(void **state)
{
    (void)state;
    NEED_USER();
    const char *dir = folder("theirs-allowed", other_uid, other_gid);
    const char *so =
        plugin_file(dir, "echo.so", RH_TEST_PLUGIN_DIR "/echo.so", other_uid, other_gid);
    const char *empty = folder("allowed-empty", 0, 0);
    const char *m = cli_manifest("allowed", cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", "
                                                     "\"plugins\": [\"%s\"], "
                                                     "\"queues\": {\"t.in\": {}, \"t.out\": {}}, "
                                                     "\"kernels\": [{\"name\": \"k\", "
                                                     "\"plugin\": \"%s\", "
                                                     "\"inputs\": {\"in\": \"t.in\"}, "
                                                     "\"outputs\": {\"out\": \"t.out\"}}]}",
                                                     empty, so));
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", requests, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--allow-plugin"), "without the option it must be refused");
    cli_free(&o);
    cli_exec(&o, NULL, "run", m, "--allow-plugin", so, "--send", requests, "--timeout",
             CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, cli_count(o.r.out, "\"t.out\"") == 1, "expected the allowed kernel to answer");
    CLI_CHECK(&o, strstr(o.r.err, "event=plugin.allowed") && strstr(o.r.err, owned_by_other()),
              "expected a logged warning naming what was waived");
    cli_free(&o);
}

/* A serving host watching a folder: once another user owns it, what they
 * drop in is refused (logged), and its constructor never runs. */
static void test_a_serving_host_refuses_what_another_user_drops_into_its_folder(void **state)
{
    (void)state;
    NEED_USER();
    const char *dir = folder("watched", 0, 0);
    plugin_file(dir, "echo.so", RH_TEST_PLUGIN_DIR "/echo.so", 0, 0);
    const char *m = manifest_for("watched", dir, "echo");
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, NULL};
    proc host;
    assert_int_equal(proc_start(&host, argv), 0);
    cli_await_log(&host, CLI_SERVING, 1, WAIT_S);
    cli_await_log(&host, "event=plugin.watch ", 1, WAIT_S);
    assert_int_equal(chown(dir, other_uid, other_gid), 0);
    unlink(mark);
    const char *tmp = cli_keep("%s/.drop.tmp", dir);
    assert_int_equal(cli_copy_file(HOSTILE_DIR "/bad_ctor_mark.so", tmp, 0644), 0);
    assert_int_equal(chown(tmp, other_uid, other_gid), 0);
    assert_int_equal(rename(tmp, cli_keep("%s/bad_ctor_mark.so", dir)), 0);
    cli_await_log(&host, "event=plugin.refused", 1, WAIT_S);
    if (cli_file_count(host.err_path, owned_by_other()) < 1)
        fail_msg("expected the refusal to say the folder is %s", owned_by_other());
    if (marked())
        fail_msg("the dropped plugin's constructor ran in the serving host");
    assert_int_equal(proc_signal(&host, SIGTERM), 0);
    proc_result r;
    proc_wait(&host, WAIT_S, &r);
    if (r.exit_code != 0)
        fail_msg("expected the host to stop with exit 0, got %d:\n%s", r.exit_code, r.err);
    proc_result_free(&r);
}

static int group_setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIPPED: test_cli_plugin_trust needs root (it makes a second user with "
                      "useradd and chowns files to it); running as uid %u\n",
                      (unsigned)geteuid());
        return 0;
    }
    const char *useradd = find_tool("useradd");
    if (!useradd || !find_tool("userdel")) {
        print_message("SKIPPED: test_cli_plugin_trust needs useradd and userdel\n");
        return 0;
    }
    snprintf(user, sizeof user, "rh14p%d", (int)(getpid() % 1000000));
    char *argv[] = {(char *)useradd, "-M", "-N", "-r", "-s", "/usr/sbin/nologin", user, NULL};
    if (run_tool(argv) != 0) {
        print_error("useradd %s failed\n", user);
        return -1;
    }
    user_made = 1;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        print_error("useradd made %s but getpwnam cannot find it\n", user);
        return -1;
    }
    other_uid = pw->pw_uid;
    other_gid = pw->pw_gid;
    mark = cli_keep("%s/ctor.mark", cli_tmpdir());
    setenv("RH_TEST_CTOR_MARK", mark, 1);
    requests = cli_write("t.jsonl", "{\"queue\": \"t.in\", \"body\": {\"seq\": 1, \"text\": "
                                    "\"hi\"}}\n");
    return 0;
}

static int group_teardown(void **state)
{
    if (user_made) {
        const char *userdel = find_tool("userdel");
        char *argv[] = {(char *)userdel, user, NULL};
        if (!userdel || run_tool(argv) != 0)
            print_error("userdel %s failed: remove the user by hand\n", user);
    }
    return cli_group_teardown(state);
}

#define TRUST_TEST(f) cmocka_unit_test(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TRUST_TEST(test_roots_own_plugin_in_roots_folder_loads_and_leaves_its_mark),
        TRUST_TEST(test_another_users_folder_and_file_are_refused_before_any_code_runs),
        TRUST_TEST(test_roots_file_in_another_users_folder_is_refused),
        TRUST_TEST(test_symlinks_into_another_users_folder_are_not_followed),
        TRUST_TEST(test_roots_plugins_folder_inside_another_users_folder_is_refused),
        TRUST_TEST(test_a_group_writable_folder_is_refused_with_chmod_g_w),
        TRUST_TEST(test_a_folder_writable_through_a_posix_acl_is_refused_naming_who),
        TRUST_TEST(test_allow_plugin_loads_another_users_file_with_a_logged_warning),
        TRUST_TEST(test_a_serving_host_refuses_what_another_user_drops_into_its_folder),
    };
    return cmocka_run_group_tests_name("cli plugin trust", tests, group_setup, group_teardown);
}
