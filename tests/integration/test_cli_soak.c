/*
 * test_cli_soak.c — launch and terminate release what they took.
 * One serving host (`ringhost run`, an echo kernel); then, with
 * the real binary, SOAK_CYCLES times: `ringhost launch --activate` of a
 * manifest whose kernel "soak" reads a queue only that manifest declares
 * (soak.in) and writes its auto-created soak.out, `ringhost send` one
 * message, `ringhost recv` its answer, `ringhost terminate soak`.  The same
 * kernel name every cycle: a terminated kernel's name is free again.
 *
 * After the cycles the host's threads (/proc/PID/task), open fds
 * (/proc/PID/fd) and the instance's shared-memory objects
 * (/dev/shm/ringhost.<instance>:*) are back to what they were before the
 * first launch, and its mappings (/proc/PID/maps lines) to what they were
 * after the warm-up cycles, exactly: no slack.  The warm-up takes the
 * mappings the first launch makes once for the host's life (malloc's arena
 * for the control thread, libraries the loader maps on first use).  RSS
 * may grow by what malloc keeps of freed memory, within a fixed bound.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_common.h"

/* Sanitizer builds (the whole build, host included, has the flags): their
 * allocators keep freed memory in quarantine and map shadow and size
 * classes as they go, so mappings and RSS say nothing about the host's own
 * frees there; LeakSanitizer checks those at the host's exit instead (the
 * second test).  Threads, fds and shm objects are checked in every build. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOAK_MEMORY_CHECKED 0
#else
#define SOAK_MEMORY_CHECKED 1
#endif

#ifndef SOAK_CYCLES
#define SOAK_CYCLES 200
#endif
#define SOAK_WARMUP 3
/* What malloc may keep of freed memory (arenas, trimmed lazily): a bound,
 * where the leak was ~4.3 MB per cycle (850 MB over 200). */
#define SOAK_RSS_SLACK_KB (16 * 1024)

static const char *host_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"echo.in\": {\"type\": \"echo.message\"},\n"
    "            \"echo.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
    "\"echo.in\"},\n"
    "               \"outputs\": {\"out\": \"echo.out\"}}]}\n";

/* soak.in only in this manifest; soak.out auto-created for the unwired port */
static const char *launched_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"soak.in\": {\"type\": \"echo.message\", \"capacity\": 64}},\n"
    " \"kernels\": [{\"name\": \"soak\", \"plugin\": \"echo\", \"inputs\": {\"in\": "
    "\"soak.in\"}}]}\n";

/* The other shapes a launched kernel takes, each released the same way:
 * in a child process, two inline workers, a run() kernel owning its
 * thread. */
#define SOAK_KIND_CYCLES 20
static const char *kinds[][2] = {
    {"isolated", "\"plugin\": \"echo\", \"isolation\": \"process\""},
    {"inline", "\"plugin\": \"echo\", \"workers\": 2, \"bridge\": \"inline\""},
    {"run", "\"plugin\": \"echo_loop\""},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static struct soak {
    proc host;
    const char *instance;
    const char *launched;
    const char *kind_manifest[N_KINDS];
} S;

static int soak_setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    /* The mapping counts must be the host's own (rings, queue segments),
     * not glibc's caches, which depend on how threads happened to
     * overlap: beside stress-ng one run in 20 ended with 2 mappings more
     * than after the warm-up, the size of one cached thread stack and its
     * guard page, with as many threads and fds as before.  So the host
     * runs here with no thread stack cache, one malloc arena and a fixed
     * mmap threshold (glibc tunables). */
    setenv("GLIBC_TUNABLES", "glibc.pthread.stack_cache_size=0:glibc.malloc.arena_max=1:"
                             "glibc.malloc.mmap_threshold=131072", 1);
    S.instance = cli_instance("soak");
    S.launched = cli_manifest("soak-launched", launched_text);
    for (size_t k = 0; k < N_KINDS; k++)
        S.kind_manifest[k] = cli_manifest(
            cli_keep("soak-%s", kinds[k][0]),
            cli_keep("{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
                     " \"queues\": {\"soak.in\": {\"type\": \"echo.message\", \"capacity\": "
                     "64}},\n"
                     " \"kernels\": [{\"name\": \"soak\", %s, \"inputs\": {\"in\": "
                     "\"soak.in\"}}]}\n",
                     kinds[k][1]));
    return ctl_start_host(&S.host, cli_manifest("soak", host_text), S.instance);
}

static int soak_teardown(void **state)
{
    (void)state;
    ctl_kill_host(&S.host);
    cli_cleanup();
    return 0;
}

/* What a process holds, as /proc and /dev/shm show it. */
typedef struct usage {
    long threads, fds, maps, shm, rss_kb;
    long sockets; /* of fds: the control socket, and each command's connection until the
                   * host has read its end (a moment after the command exits) */
} usage;

/* Sockets among the open fds of pid. */
static long socket_fds(int pid)
{
    char dir[64], path[128], target[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            n += strncmp(target, "socket:", 7) == 0;
        }
    }
    closedir(d);
    return n;
}

static long dir_entries(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *de;
    size_t plen = prefix ? strlen(prefix) : 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && (!prefix || strncmp(de->d_name, prefix, plen) == 0))
            n++;
    closedir(d);
    return n;
}

static usage usage_of(int pid, const char *instance)
{
    usage u = {-1, -1, -1, -1, -1, -1};
    char path[128], line[512];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    u.threads = dir_entries(path, NULL);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    u.fds = dir_entries(path, NULL);
    u.sockets = socket_fds(pid);
    snprintf(path, sizeof path, "ringhost.%s:", instance);
    u.shm = dir_entries("/dev/shm", path);
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        u.maps = 0;
        while (fgets(line, sizeof line, f))
            u.maps += strchr(line, '\n') != NULL;
        fclose(f);
    }
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if ((f = fopen(path, "r"))) {
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "VmRSS:", 6) == 0)
                u.rss_kb = atol(line + 6);
        fclose(f);
    }
    return u;
}

static void print_usage(const char *when, usage u)
{
    print_message("soak: %s: threads %ld, fds %ld (%ld sockets), maps %ld, shm objects %ld, "
                  "rss %ld kB\n", when, u.threads, u.fds, u.sockets, u.maps, u.shm, u.rss_kb);
}

/* One launch of manifest -> send -> recv -> terminate, each command
 * checked. */
static void cycle_of(const char *manifest, int i)
{
    cli_out o;
    cli_exec(&o, NULL, "launch", manifest, "--instance", S.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    char body[64];
    snprintf(body, sizeof body, "{\"seq\": %d}", i);
    cli_exec(&o, NULL, "send", "--instance", S.instance, "soak.in", body, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", S.instance, "soak.out", "-n", "1", "--timeout",
             "10", NULL);
    cli_expect_exit(&o, 0);
    char seq[32];
    snprintf(seq, sizeof seq, "\"seq\": %d,", i);
    CLI_CHECK(&o, strstr(o.r.out, seq), "expected the answer of cycle %d (%s) from soak.out", i,
              seq);
    cli_free(&o);
    cli_exec(&o, NULL, "terminate", "soak", "--instance", S.instance, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

/* Threads, fds and shm objects as they were when the host began serving;
 * mappings and RSS as after the warm-up. */
/* The fds that are not connections: a connection of the last command may
 * still be open in any sample, so connections are only bounded. */
static int same_fds(usage start, usage now)
{
    return now.fds - now.sockets == start.fds - start.sockets && now.sockets <= start.sockets;
}

static int back_to_start(usage serving, usage warm, usage now)
{
    return now.threads == serving.threads && same_fds(serving, now) &&
           now.shm == serving.shm && (!SOAK_MEMORY_CHECKED || now.maps == warm.maps);
}

static void one_cycle(int i)
{
    cycle_of(S.launched, i);
}

static void test_launch_terminate_cycles_return_threads_fds_maps_and_shm_to_their_start(
    void **state)
{
    (void)state;
    int pid = S.host.pid;
    usage serving = usage_of(pid, S.instance);
    print_usage("host serving", serving);
    for (int i = 0; i < SOAK_WARMUP; i++)
        one_cycle(i);
    usage warm = usage_of(pid, S.instance);
    print_usage("after warm-up", warm);
    assert_true(serving.threads > 0 && serving.fds > 0 && warm.maps > 0 && serving.shm >= 0);
    for (int i = 0; i < SOAK_CYCLES; i++)
        one_cycle(SOAK_WARMUP + i);
    usage end = usage_of(pid, S.instance);
    WAIT_UNTIL(15, back_to_start(serving, warm, end = usage_of(pid, S.instance)));
    print_usage(cli_keep("after %d cycles", SOAK_CYCLES), end);
    if (end.threads != serving.threads)
        fail_msg("threads: %ld after %d launch/terminate cycles, %ld before: a terminated "
                 "kernel's threads must be joined", end.threads, SOAK_CYCLES, serving.threads);
    if (!same_fds(serving, end))
        fail_msg("open fds: %ld (%ld sockets) after %d cycles, %ld (%ld sockets) before: a "
                 "terminated kernel's queues, eventfds and shm fds must be closed", end.fds,
                 end.sockets, SOAK_CYCLES, serving.fds, serving.sockets);
    if (end.shm != serving.shm)
        fail_msg("/dev/shm objects of instance %s: %ld after %d cycles, %ld before: queues "
                 "only the terminated kernel used must be unlinked", S.instance, end.shm,
                 SOAK_CYCLES, serving.shm);
    if (!SOAK_MEMORY_CHECKED) {
        print_message("soak: a sanitizer build: mappings and RSS not checked (its allocator "
                      "keeps freed memory); LeakSanitizer checks the host at exit\n");
        return;
    }
    if (end.maps != warm.maps)
        fail_msg("mappings: %ld after %d cycles, %ld after the warm-up: rings and queue "
                 "segments must be unmapped", end.maps, SOAK_CYCLES, warm.maps);
    if (end.rss_kb > warm.rss_kb + SOAK_RSS_SLACK_KB)
        fail_msg("RSS: %ld kB after %d cycles, %ld kB after the warm-up (bound +%d kB): "
                 "memory of terminated kernels must be freed", end.rss_kb, SOAK_CYCLES,
                 warm.rss_kb, SOAK_RSS_SLACK_KB);
}

/* The same for the other shapes of kernel: after one warm-up cycle of each,
 * SOAK_KIND_CYCLES cycles of each leave everything as it was. */
static void test_isolated_inline_and_run_kernels_are_released_the_same_way(void **state)
{
    (void)state;
    int pid = S.host.pid, seq = 100000;
    for (size_t k = 0; k < N_KINDS; k++)
        cycle_of(S.kind_manifest[k], seq++);
    usage start = usage_of(pid, S.instance);
    print_usage("kinds: after a warm-up cycle of each", start);
    for (int i = 0; i < SOAK_KIND_CYCLES; i++)
        for (size_t k = 0; k < N_KINDS; k++)
            cycle_of(S.kind_manifest[k], seq++);
    usage end = usage_of(pid, S.instance);
    WAIT_UNTIL(15, back_to_start(start, start, end = usage_of(pid, S.instance)));
    print_usage(cli_keep("kinds: after %d cycles of each", SOAK_KIND_CYCLES), end);
    if (!back_to_start(start, start, end))
        fail_msg("after %d cycles each of an isolated, an inline two-worker and a run() "
                 "kernel: threads %ld (was %ld), fds %ld (was %ld), shm objects %ld (was %ld), "
                 "mappings %ld (was %ld)", SOAK_KIND_CYCLES, end.threads, start.threads,
                 end.fds, start.fds, end.shm, start.shm, end.maps, start.maps);
}

/* The host stops cleanly after the cycles, every accounting line balanced. */
static void test_host_stops_balanced_after_the_cycles(void **state)
{
    (void)state;
    cli_out o = {0};
    snprintf(o.cmd, sizeof o.cmd, "%s run <soak host>, then SIGTERM", RH_TEST_BINARY);
    assert_int_equal(proc_signal(&S.host, SIGTERM), 0);
    proc_wait(&S.host, 30, &o.r);
    S.host.pid = 0;
    CLI_CHECK(&o, !o.r.timed_out, "expected the host to stop within 30 s of SIGTERM");
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, !strstr(o.r.err, "UNBALANCED"), "expected every accounting line balanced");
    int cycles = SOAK_WARMUP + SOAK_CYCLES + (int)N_KINDS * (1 + SOAK_KIND_CYCLES);
    CLI_CHECK(&o, cli_count(o.r.err, "event=runtime.released ") == (size_t)cycles,
              "expected one runtime.released line per cycle (%d)", cycles);
    CLI_CHECK(&o, !strstr(o.r.err, "LeakSanitizer"), "expected no leak at the host's exit");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest soak[] = {
        cmocka_unit_test(test_launch_terminate_cycles_return_threads_fds_maps_and_shm_to_their_start),
        cmocka_unit_test(test_isolated_inline_and_run_kernels_are_released_the_same_way),
        cmocka_unit_test(test_host_stops_balanced_after_the_cycles),
    };
    return cmocka_run_group_tests_name("cli soak", soak, soak_setup, soak_teardown);
}
