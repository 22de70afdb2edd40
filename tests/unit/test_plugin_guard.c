/*
 * test_plugin_guard.c — the host's own loads on a guarded thread
 * (plugin_guard.h), through the plugin layer's API as the host calls it.
 *
 * The liars (tests/plugins/liar_ctor.c, RH_TEST_BUILD_DIR/liar_plugins)
 * pass the scanner (their stdout is /dev/null there) and then crash, call
 * exit(0) or hang in the process that loads them.  A guard that caught
 * one stays wedged for the life of its process, so each case runs in a
 * child of its own, whose stdout is a pipe (never /dev/null: the liar
 * would behave), and reports by its exit status:
 *
 *   - a liar's crash, exit() or hang is an RH_EPLUGIN naming the file and
 *     what it did; the process goes on; every later load is refused
 *     naming the liar;
 *   - a fault anywhere else still does what it did before the guard: the
 *     default action (killed by SIGSEGV), or the program's own handler;
 *   - a good plugin loaded and unloaded 200 times leaves no thread behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "plugin/plugin_guard.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define LIAR_DIR RH_TEST_BUILD_DIR "/liar_plugins"
#define ECHO RH_TEST_PLUGIN_DIR "/echo.so"
#define CHILD_OK 42

/* In the child: fail with a line on stderr and status 1. */
#define CHILD_CHECK(cond, ...)                                                                 \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "child: " __VA_ARGS__);                                            \
            fprintf(stderr, "\n");                                                             \
            _exit(1);                                                                          \
        }                                                                                      \
    } while (0)

/* Run fn in a child (stdout a pipe nobody reads past 64 KiB: fn prints
 * nothing) and return its wait status; the child is SIGKILLed past 20 s. */
static int in_child(void (*fn)(void))
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], STDOUT_FILENO);
        fn();
        _exit(CHILD_OK);
    }
    close(p[1]);
    int status = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 20) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(p[0]);
            fail_msg("the child (pid %d) did not end within 20 s", (int)pid);
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    close(p[0]);
    return status;
}

static void expect_ok(int status, const char *what)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != CHILD_OK)
        fail_msg("%s: expected the child to go on and exit %d; it %s %d", what, CHILD_OK,
                 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* Load liar `name` (refused with `words`), then echo (refused, naming it). */
static void load_liar(const char *name, const char *words)
{
    const char *path = name[0] == '/' ? name : NULL;
    char buf[512];
    if (!path) {
        snprintf(buf, sizeof buf, "%s/%s.so", LIAR_DIR, name);
        path = buf;
    }
    rh_plugin p;
    rh_error err = {0};
    CHILD_CHECK(!rh__plugin_guard_wedged(NULL, 0), "wedged before the load");
    int rc = rh__plugin_open_copy(path, &p, &err);
    CHILD_CHECK(rc == RH_EPLUGIN && strstr(err.msg, path) && strstr(err.msg, words) &&
                    strstr(err.msg, "loaded cleanly in the plugin scanner"),
                "expected %s refused with \"%s\", got %d: %s", path, words, rc, err.msg);
    char why[1024];
    CHILD_CHECK(rh__plugin_guard_wedged(why, sizeof why) && strstr(why, path),
                "expected the guard wedged by %s", path);
    rh__plugin_close(&p);
    rh_plugin e;
    rh_error eerr = {0};
    rc = rh__plugin_open_copy(ECHO, &e, &eerr);
    CHILD_CHECK(rc == RH_EPLUGIN && strstr(eerr.msg, "not loaded") && strstr(eerr.msg, path),
                "expected echo refused, naming %s; got %d: %s", path, rc, eerr.msg);
    rh__plugin_close(&e);
}

static void child_segv(void)
{
    load_liar("liar_segv", "crashed with signal 11 (SIGSEGV) while being loaded into");
}

static void child_exit(void)
{
    load_liar("liar_exit", "called exit() while being loaded into");
}

static void child_hang(void)
{
    setenv("RINGHOST_PLUGIN_LOAD_TIMEOUT_MS", "300", 1); /* the scanner keeps its 5 s */
    load_liar("liar_hang", "did not return within 300 ms while being loaded into");
}

static void test_a_liar_that_segfaults_in_the_load_is_refused_and_the_process_goes_on(void **s)
{
    (void)s;
    expect_ok(in_child(child_segv), "liar_segv");
}

static void test_a_liar_that_exits_in_the_load_is_refused_and_the_process_goes_on(void **s)
{
    (void)s;
    expect_ok(in_child(child_exit), "liar_exit");
}

static void test_a_liar_that_hangs_in_the_load_is_abandoned_at_the_deadline(void **s)
{
    (void)s;
    expect_ok(in_child(child_hang), "liar_hang");
}

/* liar_dtor_segv loads, and crashes when unloaded: the close is skipped
 * past, the guard is wedged. */
static void child_dtor(void)
{
    rh_plugin p;
    rh_error err = {0};
    CHILD_CHECK(rh__plugin_open_copy(LIAR_DIR "/liar_dtor_segv.so", &p, &err) == 0,
                "expected liar_dtor_segv to load: %s", err.msg);
    rh__plugin_close(&p);
    char why[1024];
    CHILD_CHECK(rh__plugin_guard_wedged(why, sizeof why) &&
                    strstr(why, "crashed with signal 11 (SIGSEGV) while being unloaded from"),
                "expected the guard wedged by the destructor's crash, got \"%s\"", why);
}

static void test_a_destructor_that_crashes_is_caught_at_unload(void **s)
{
    (void)s;
    expect_ok(in_child(child_dtor), "liar_dtor_segv");
}

/* ------------------------------------------ faults not in a load ---- */

static void load_echo_once(void)
{
    rh_plugin p;
    rh_error err = {0};
    CHILD_CHECK(rh__plugin_open_copy(ECHO, &p, &err) == 0, "echo: %s", err.msg);
    rh__plugin_close(&p);
}

/* A real fault (not raise()): the handler's return path is what is tested.
 * Not sanitised: UBSan would report the store instead of letting it fault. */
__attribute__((no_sanitize_undefined)) static void crash_here(void)
{
    volatile int *volatile nowhere = 0;
    *nowhere = 1;
}

static void child_fault_default(void)
{
    signal(SIGSEGV, SIG_DFL); /* cmocka's handler, inherited, is not what a host has */
    load_echo_once();         /* the guard's handler is installed now */
    crash_here();
}

static void test_a_fault_elsewhere_still_kills_the_process_by_default(void **s)
{
    (void)s;
    int status = in_child(child_fault_default);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        fail_msg("expected the child killed by SIGSEGV, got status %#x", status);
}

static void own_handler(int sig)
{
    (void)sig;
    _exit(43);
}

static void child_fault_own_handler(void)
{
    signal(SIGSEGV, own_handler);
    load_echo_once();
    crash_here();
}

static void test_a_fault_elsewhere_reaches_the_programs_own_handler(void **s)
{
    (void)s;
    int status = in_child(child_fault_own_handler);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 43)
        fail_msg("expected the program's own handler to end the child with 43, got %#x",
                 status);
}

/* ------------------------------------------------------ the cost ---- */

static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void child_many(void)
{
    load_echo_once(); /* the first load starts nothing that stays either */
    int before = threads_now();
    for (int i = 0; i < 200; i++)
        load_echo_once();
    CHILD_CHECK(threads_now() == before, "threads: %d before, %d after 200 loads", before,
                threads_now());
    CHILD_CHECK(!rh__plugin_guard_wedged(NULL, 0), "a good plugin wedged the guard");
}

static void test_a_good_plugin_loaded_200_times_leaves_no_thread(void **s)
{
    (void)s;
    expect_ok(in_child(child_many), "200 loads");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_liar_that_segfaults_in_the_load_is_refused_and_the_process_goes_on),
        cmocka_unit_test(test_a_liar_that_exits_in_the_load_is_refused_and_the_process_goes_on),
        cmocka_unit_test(test_a_liar_that_hangs_in_the_load_is_abandoned_at_the_deadline),
        cmocka_unit_test(test_a_destructor_that_crashes_is_caught_at_unload),
        cmocka_unit_test(test_a_fault_elsewhere_still_kills_the_process_by_default),
        cmocka_unit_test(test_a_fault_elsewhere_reaches_the_programs_own_handler),
        cmocka_unit_test(test_a_good_plugin_loaded_200_times_leaves_no_thread),
    };
    return cmocka_run_group_tests_name("plugin guard", tests, NULL, NULL);
}
