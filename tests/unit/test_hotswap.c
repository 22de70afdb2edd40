/*
 * test_hotswap.c — rh_runtime_kernel_reload and the plugin watcher
 * (hotswap.c, plugin_watch.c): a new build of a running kernel's file is
 * swapped in at a batch boundary with every message answered exactly once;
 * a replacement that does not fit is refused with its reason, counted,
 * logged, and the old version keeps answering.
 *
 * The kernels are the builds of tests/plugins/swap/swap_echo.c: each answer
 * carries the mark of the build that made it ("v1", "v2", ...).  Each test
 * has its own plugin folder holding one file, swap_echo.so, which it
 * replaces the way an operator would (a complete file renamed over it, or
 * written over in place).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ringhost/ringhost.h"
#include "rt_fixture.h"

#define SWAP_DIR RH_TEST_BUILD_DIR "/swap_plugins"

/* The echo.message payload (kernels/common/echo_message.json). */
typedef struct echo_message {
    uint64_t seq;
    char text[65];
    uint32_t data_len;
    uint8_t data[256];
} echo_message;

typedef struct swap_fx {
    char dir[64];     /* the plugin folder */
    char file[128];   /* dir/swap_echo.so */
    FILE *log;        /* the runtime's log, read back by log_has */
    rh_runtime *rt;
} swap_fx;

/* ------------------------------------------------------------ files -- */

static void copy_file(const char *from, const char *to, size_t max_bytes)
{
    int in = open(from, O_RDONLY);
    if (in < 0)
        fail_msg("cannot read %s (built by tests/plugins)", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(out >= 0);
    char buf[65536];
    ssize_t n;
    size_t done = 0;
    while (done < max_bytes && (n = read(in, buf, sizeof buf)) > 0) {
        size_t take = (size_t)n < max_bytes - done ? (size_t)n : max_bytes - done;
        assert_int_equal(write(out, buf, take), (ssize_t)take);
        done += take;
    }
    close(in);
    close(out);
}

/* Put build `build` (swap_echo_v2, ...) in place as an operator would with
 * `cp build .tmp && mv .tmp swap_echo.so`: the old file is never written. */
static void install_build(swap_fx *fx, const char *build)
{
    char from[256], tmp[160];
    snprintf(from, sizeof from, "%s/%s.so", SWAP_DIR, build);
    snprintf(tmp, sizeof tmp, "%s/.swap_echo.so.tmp", fx->dir);
    copy_file(from, tmp, SIZE_MAX);
    assert_int_equal(rename(tmp, fx->file), 0);
}

/* Write bytes over swap_echo.so (same file, truncated first, like a plain
 * `cp` over it). */
static void write_over(swap_fx *fx, const char *build, size_t max_bytes)
{
    char from[256];
    snprintf(from, sizeof from, "%s/%s.so", SWAP_DIR, build);
    copy_file(from, fx->file, max_bytes);
}

static void write_garbage(swap_fx *fx)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s/.swap_echo.so.tmp", fx->dir);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc("not an ELF file\n"[i % 16], f);
    fclose(f);
    assert_int_equal(rename(tmp, fx->file), 0);
}

/* ----------------------------------------------------------- runtime -- */

/* A plugin folder holding build v1 as swap_echo.so, and a host running it
 * with `workers` workers between "in" and "out" (1024 slots each, block:
 * a fast sender waits for the kernel instead of running far ahead). */
/* bridge: "" (thread) or kernel keys such as "\"bridge\": \"inline\", ". */
static void launch_bridge(swap_fx *fx, const char *tag, int workers, int watch,
                          const char *bridge)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/rh-swap-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->file, sizeof fx->file, "%s/swap_echo.so", fx->dir);
    install_build(fx, "swap_echo_v1");
    char manifest[128];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", fx->dir);
    FILE *f = fopen(manifest, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"ringhost\": 1, \"name\": \"swap%d-%s\", \"plugins\": [\"%s\"],\n"
            " \"defaults\": {\"queue\": {\"capacity\": 1024, \"backpressure\": \"block\",\n"
            "                          \"block_timeout_ms\": 60000}},\n"
            " \"queues\": {\"in\": {\"type\": \"echo.message\"}, \"out\": {\"type\": "
            "\"echo.message\"}},\n"
            " \"kernels\": [{\"name\": \"swap\", \"plugin\": \"swap_echo\", \"workers\": %d,\n"
            "   %s\"inputs\": {\"in\": \"in\"}, \"outputs\": {\"out\": \"out\"}}]}\n",
            (int)getpid(), tag, fx->dir, workers, bridge);
    fclose(f);
    fx->log = tmpfile();
    assert_non_null(fx->log);
    setvbuf(fx->log, NULL, _IOLBF, 0);
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.log = fx->log, .watch_plugins = watch);
    rh_error err = {0};
    if (rh_runtime_launch(manifest, &opts, &fx->rt, &err) != 0)
        fail_msg("launch failed: %s", err.msg);
    assert_int_equal(rh_runtime_activate(fx->rt, &err), 0);
}

static void launch(swap_fx *fx, const char *tag, int workers, int watch)
{
    launch_bridge(fx, tag, workers, watch, "");
}

/* Terminate (every queue's accounting must balance), destroy, clean up. */
static void finish(swap_fx *fx)
{
    rh_error err = {0};
    assert_int_equal(rh_runtime_terminate(fx->rt, 10000, &err), 0);
    assert_int_equal(rh_runtime_unbalanced(fx->rt), 0);
    rh_runtime_destroy(fx->rt);
    fclose(fx->log);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
}

/* Does the runtime's log hold a line with every one of the needles? */
static int log_has(swap_fx *fx, const char *a, const char *b)
{
    fflush(fx->log);
    rewind(fx->log);
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, fx->log))
        found = strstr(line, a) && (!b || strstr(line, b));
    fseek(fx->log, 0, SEEK_END);
    return found;
}

static rh_kernel_info info_of(swap_fx *fx)
{
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    assert_int_equal(rh_runtime_kernel_info(fx->rt, 0, &ki), 0);
    return ki;
}

static void send_seq(rh_runtime *rt, uint64_t seq)
{
    echo_message m;
    memset(&m, 0, sizeof m);
    m.seq = seq;
    int rc = rh_send(rh_runtime_queue(rt, "in"), NULL, &m, sizeof m, NULL);
    if (rc != 0)
        fail_msg("send %llu: %s", (unsigned long long)seq, rh_strerror(rc));
}

/* One answer: its seq, and the mark of the build that answered. */
static uint64_t recv_answer(rh_runtime *rt, char mark[8])
{
    echo_message m;
    rh_envelope env;
    int rc = rh_recv(rh_runtime_queue(rt, "out"), &env, &m, sizeof m, 10000);
    if (rc < 0)
        fail_msg("no answer within 10 s: %s", rh_strerror(rc));
    snprintf(mark, 8, "%s", m.text);
    return m.seq;
}

/* Send one message and expect it answered by the build marked `mark`. */
static void expect_answer_from(swap_fx *fx, const char *mark)
{
    static uint64_t seq = 1000000;
    send_seq(fx->rt, ++seq);
    char got[8];
    assert_int_equal(recv_answer(fx->rt, got), seq);
    if (strcmp(got, mark) != 0)
        fail_msg("expected the answer from build %s, got it from %s", mark, got);
}

/* Reload, expecting a refusal with code `code` whose reason holds `why`;
 * the old build keeps answering, and the refusal is counted and logged. */
static void expect_refused(swap_fx *fx, int code, const char *why)
{
    rh_error err = {0};
    int rc = rh_runtime_kernel_reload(fx->rt, "swap", &err);
    if (rc != code)
        fail_msg("expected reload to be refused with %s, got %s (%s)", rh_strerror(code),
                 rh_strerror(rc), err.msg);
    if (!strstr(err.msg, why))
        fail_msg("expected the reason to say \"%s\", got: %s", why, err.msg);
    rh_kernel_info ki = info_of(fx);
    assert_int_equal(ki.swaps, 0);
    assert_int_equal(ki.swaps_refused, 1);
    assert_string_equal(ki.version, "1.0.0");
    assert_true(log_has(fx, "event=kernel.swap_refused", "kernel=swap"));
    expect_answer_from(fx, "v1");
}

/* ------------------------------------------------ under traffic -------- */

#define TRAFFIC_N 20000

typedef struct traffic {
    rh_runtime *rt;
    _Atomic uint32_t received;
    uint8_t count[TRAFFIC_N];   /* answers per seq */
    uint8_t version[TRAFFIC_N]; /* 1 or 2: who answered it */
    uint32_t v1_after_v2;       /* answers from v1 received after one from v2 */
    uint32_t first_v2;          /* receive index of the first v2 answer */
    _Atomic int swapped;        /* the reload returned: the sender sends its last quarter */
    char error[256];            /* what a thread saw go wrong, or "" */
} traffic;

/* These two threads record what went wrong (cmocka may fail a test only
 * from the test's own thread); the test reads it after joining them. */
static void *sender_main(void *arg)
{
    traffic *t = arg;
    echo_message m;
    memset(&m, 0, sizeof m);
    for (uint64_t i = 0; i < TRAFFIC_N && !t->error[0]; i++) {
        /* The last quarter waits for the reload: a fast host answers the
         * rest of the traffic in well under a millisecond, before a reload
         * lands (seen in CI: every message answered by v1). */
        if (i == TRAFFIC_N - TRAFFIC_N / 4 &&
            !WAIT_UNTIL_EVERY(30, 1, atomic_load(&t->swapped) != 0)) {
            snprintf(t->error, sizeof t->error, "the reload did not return within 30 s");
            break;
        }
        m.seq = i;
        int rc = rh_send(rh_runtime_queue(t->rt, "in"), NULL, &m, sizeof m, NULL);
        if (rc != 0)
            snprintf(t->error, sizeof t->error, "send %llu: %s", (unsigned long long)i,
                     rh_strerror(rc));
    }
    return NULL;
}

static void *receiver_main(void *arg)
{
    traffic *t = arg;
    int seen_v2 = 0;
    t->first_v2 = UINT32_MAX;
    for (uint32_t n = 0; n < TRAFFIC_N; n++) {
        echo_message m;
        rh_envelope env;
        int rc = rh_recv(rh_runtime_queue(t->rt, "out"), &env, &m, sizeof m, 10000);
        int v = strcmp(m.text, "v2") == 0 ? 2 : strcmp(m.text, "v1") == 0 ? 1 : 0;
        if (rc < 0 || m.seq >= TRAFFIC_N || !v) {
            snprintf(t->error, sizeof t->error, "answer %u: %s, seq %llu, mark \"%.8s\"", n,
                     rc < 0 ? rh_strerror(rc) : "received", (unsigned long long)m.seq, m.text);
            atomic_store(&t->received, TRAFFIC_N); /* let the test go on, and fail */
            return NULL;
        }
        uint64_t seq = m.seq;
        t->count[seq]++;
        t->version[seq] = (uint8_t)v;
        if (v == 2 && !seen_v2) {
            seen_v2 = 1;
            t->first_v2 = n;
        }
        if (v == 1 && seen_v2)
            t->v1_after_v2++;
        atomic_store(&t->received, n + 1);
    }
    return NULL;
}

static void swap_under_traffic(const char *tag, const char *bridge)
{
    swap_fx fx;
    launch_bridge(&fx, tag, 1, 0, bridge);
    traffic *t = calloc(1, sizeof *t);
    t->rt = fx.rt;
    pthread_t snd, rcv;
    pthread_create(&rcv, NULL, receiver_main, t);
    pthread_create(&snd, NULL, sender_main, t);
    /* Swap once a quarter is answered: the bounded queues (1024 slots each
     * way, blocking) keep the sender well short of the end by then. */
    /* polled every 1 ms: the swap must land while the traffic still flows */
    if (!WAIT_UNTIL_EVERY(30, 1, atomic_load(&t->received) >= TRAFFIC_N / 4))
        fail_msg("expected a quarter of %d messages answered within 30 s, got %u", TRAFFIC_N,
                 (unsigned)atomic_load(&t->received));
    install_build(&fx, "swap_echo_v2");
    rh_error err = {0};
    int rc = rh_runtime_kernel_reload(fx.rt, "swap", &err);
    atomic_store(&t->swapped, 1);
    if (rc != 0)
        fail_msg("reload under traffic failed: %s", err.msg);
    pthread_join(rcv, NULL);
    pthread_join(snd, NULL); /* after a receiver error it stops at its next message */
    if (t->error[0])
        fail_msg("%s", t->error);

    uint32_t v1 = 0, v2 = 0;
    for (uint32_t i = 0; i < TRAFFIC_N; i++) {
        if (t->count[i] != 1)
            fail_msg("seq %u answered %u times, expected exactly once", i, t->count[i]);
        v1 += t->version[i] == 1;
        v2 += t->version[i] == 2;
    }
    assert_true(v1 >= TRAFFIC_N / 4);
    assert_true(v2 > 0);
    /* One worker takes its ring in order: v1 answered a prefix, v2 the rest. */
    for (uint32_t i = 0; i < TRAFFIC_N; i++)
        if (t->version[i] != (i < v1 ? 1 : 2))
            fail_msg("seq %u answered by v%u, expected v1 for seq < %u and v2 after", i,
                     t->version[i], v1);
    assert_int_equal(t->v1_after_v2, 0);
    assert_int_equal(t->first_v2, v1);
    rh_kernel_info ki = info_of(&fx);
    assert_int_equal(ki.swaps, 1);
    assert_int_equal(ki.swaps_refused, 0);
    assert_int_equal(ki.processed, TRAFFIC_N);
    assert_string_equal(ki.version, "2.0.0");
    assert_true(log_has(&fx, "event=kernel.swap ", "from=1.0.0 to=2.0.0"));
    free(t);
    finish(&fx);
}

static void test_swap_under_traffic_answers_every_message_once_v1_then_v2(void **unused)
{
    (void)unused;
    swap_under_traffic("traffic", "");
}

/* The same with the kernel reading its batches in the queue's cells
 * (inline bridge, engine/inplace.c): the swap lands between two batches,
 * each claimed, processed and released within one dispatch step, so v1
 * answers a prefix of the messages and v2 the rest, each exactly once. */
static void test_swap_reading_in_place_lands_at_a_batch_boundary(void **unused)
{
    (void)unused;
    swap_under_traffic("trafinl", "\"bridge\": \"inline\", ");
}

static void test_swap_with_two_workers_answers_every_message_once(void **unused)
{
    (void)unused;
    swap_fx fx;
    /* 500 + 500 answers fit in "out" (1024 slots): nobody reads during the
     * swap, and no worker waits inside process() for room to emit (it would
     * never reach a batch boundary, and the swap would time out). */
    launch(&fx, "workers", 2, 0);
    char seen[1000] = {0};
    for (uint64_t i = 0; i < 500; i++)
        send_seq(fx.rt, i);
    install_build(&fx, "swap_echo_v2");
    rh_error err = {0};
    if (rh_runtime_kernel_reload(fx.rt, "swap", &err) != 0)
        fail_msg("reload failed: %s", err.msg);
    for (uint64_t i = 500; i < 1000; i++)
        send_seq(fx.rt, i);
    for (int n = 0; n < 1000; n++) {
        char mark[8];
        uint64_t seq = recv_answer(fx.rt, mark);
        assert_true(seq < 1000);
        seen[seq]++;
        if (seq >= 500 && strcmp(mark, "v2") != 0)
            fail_msg("seq %llu was sent after the swap but answered by %s",
                     (unsigned long long)seq, mark);
    }
    for (int i = 0; i < 1000; i++)
        if (seen[i] != 1)
            fail_msg("seq %d answered %d times, expected once", i, seen[i]);
    assert_int_equal(info_of(&fx).swaps, 1);
    finish(&fx);
}

static void test_swap_back_to_a_file_loaded_before_runs_that_file(void **unused)
{
    (void)unused;
    /* glibc would hand back the first library loaded from this path: each
     * swap must load the file's bytes as they are now. */
    swap_fx fx;
    launch(&fx, "back", 1, 0);
    rh_error err = {0};
    install_build(&fx, "swap_echo_v2");
    assert_int_equal(rh_runtime_kernel_reload(fx.rt, "swap", &err), 0);
    expect_answer_from(&fx, "v2");
    install_build(&fx, "swap_echo_v1");
    assert_int_equal(rh_runtime_kernel_reload(fx.rt, "swap", &err), 0);
    expect_answer_from(&fx, "v1");
    assert_int_equal(info_of(&fx).swaps, 2);
    finish(&fx);
}

/* ------------------------------------------------------- refused ------- */

static void test_swap_refused_when_ports_differ_and_old_keeps_answering(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "ports", 1, 0);
    expect_answer_from(&fx, "v1");
    install_build(&fx, "swap_echo_ports");
    expect_refused(&fx, RH_ETYPE, "\"requests\"");
    finish(&fx);
}

static void test_swap_refused_when_a_port_type_differs_and_old_keeps_answering(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "type", 1, 0);
    install_build(&fx, "swap_echo_type");
    expect_refused(&fx, RH_ETYPE, "bad.message");
    finish(&fx);
}

static void test_swap_refused_when_new_init_fails_and_old_keeps_answering(void **unused)
{
    (void)unused;
    /* Two workers: the first's new init() succeeds, the second's fails;
     * the first's new state is finished (a sanitizer build sees a leak
     * otherwise) and both keep their old one. */
    swap_fx fx;
    launch(&fx, "init", 2, 0);
    install_build(&fx, "swap_echo_init_fails");
    expect_refused(&fx, RH_EPLUGIN, "init() returned -7");
    expect_answer_from(&fx, "v1");
    finish(&fx);
}

static void test_swap_refused_when_the_file_is_garbage_and_old_keeps_answering(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "garbage", 1, 0);
    write_garbage(&fx);
    expect_refused(&fx, RH_EPLUGIN, "dlopen failed");
    finish(&fx);
}

static void test_swap_refused_when_the_file_is_truncated_and_old_keeps_answering(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "truncated", 1, 0);
    write_over(&fx, "swap_echo_v2", 3000);
    expect_refused(&fx, RH_EPLUGIN, "truncated");
    finish(&fx);
}

static void test_reload_of_an_unknown_kernel_is_enoent(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "enoent", 1, 0);
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_reload(fx.rt, "nope", &err), RH_ENOENT);
    assert_non_null(strstr(err.msg, "nope"));
    finish(&fx);
}

static void test_reload_of_a_terminated_kernel_is_refused(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "terminated", 1, 0);
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_terminate(fx.rt, "swap", 5000, &err), 0);
    install_build(&fx, "swap_echo_v2");
    assert_int_equal(rh_runtime_kernel_reload(fx.rt, "swap", &err), RH_ESTATE);
    assert_int_equal(info_of(&fx).swaps, 0);
    finish(&fx);
}

static void test_reload_of_a_run_kernel_is_refused_with_the_reason(void **unused)
{
    (void)unused;
    rh_runtime *rt = rt_launch("runk", "\"kernels\": [{\"name\": \"loop\", \"plugin\": "
                                       "\"echo_loop\"}]");
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_reload(rt, "loop", &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "run()"));
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    assert_int_equal(rh_runtime_kernel_info(rt, 0, &ki), 0);
    assert_int_equal(ki.swaps_refused, 1);
    rh_runtime_destroy(rt);
}

static void test_reload_of_a_process_isolated_kernel_is_refused_with_the_reason(void **unused)
{
    (void)unused;
    rh_runtime *rt = rt_launch("iso", "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\","
                                      " \"isolation\": \"process\"}]");
    rh_error err = {0};
    assert_int_equal(rh_runtime_kernel_reload(rt, "e", &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "child process"));
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    assert_int_equal(rh_runtime_kernel_info(rt, 0, &ki), 0);
    assert_int_equal(ki.swaps_refused, 1);
    rh_runtime_destroy(rt);
}

/* ------------------------------------------------------- watcher ------- */

/* Wait up to 20 s for cond(fx) (the watcher debounces, then swaps). */
static int wait_for(swap_fx *fx, int (*cond)(swap_fx *))
{
    return WAIT_UNTIL(20, cond(fx));
}

static int swapped_once(swap_fx *fx)
{
    return info_of(fx).swaps == 1;
}

static int refused_once(swap_fx *fx)
{
    return info_of(fx).swaps_refused == 1;
}

static int added_logged(swap_fx *fx)
{
    return log_has(fx, "event=plugin.added", "kernel=swap_echo version=2.0.0");
}

static int junk_refused_logged(swap_fx *fx)
{
    return log_has(fx, "event=plugin.refused", "junk.so");
}

static void test_watcher_swaps_a_build_moved_over_the_running_file(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "watch-mv", 1, 1);
    expect_answer_from(&fx, "v1");
    install_build(&fx, "swap_echo_v2");
    if (!wait_for(&fx, swapped_once))
        fail_msg("the watcher did not swap within 20 s");
    expect_answer_from(&fx, "v2");
    assert_true(log_has(&fx, "event=kernel.swap ", "from=1.0.0 to=2.0.0"));
    finish(&fx);
}

static void test_watcher_swaps_a_build_written_over_the_running_file(void **unused)
{
    (void)unused;
    /* A plain `cp` over the file rewrites it in place: the host runs a
     * private copy, so v1 keeps working until v2 is complete and swapped. */
    swap_fx fx;
    launch(&fx, "watch-cp", 1, 1);
    write_over(&fx, "swap_echo_v2", SIZE_MAX);
    if (!wait_for(&fx, swapped_once))
        fail_msg("the watcher did not swap within 20 s");
    expect_answer_from(&fx, "v2");
    finish(&fx);
}

static void test_watcher_refuses_a_broken_build_and_old_keeps_answering(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "watch-bad", 1, 1);
    write_garbage(&fx);
    if (!wait_for(&fx, refused_once))
        fail_msg("the watcher did not refuse the garbage file within 20 s");
    assert_int_equal(info_of(&fx).swaps, 0);
    expect_answer_from(&fx, "v1");
    finish(&fx);
}

static void test_watcher_logs_new_plugins_with_their_kernel_or_their_error(void **unused)
{
    (void)unused;
    swap_fx fx;
    launch(&fx, "watch-new", 1, 1);
    char from[256], to[160];
    snprintf(from, sizeof from, "%s/swap_echo_v2.so", SWAP_DIR);
    snprintf(to, sizeof to, "%s/other.so", fx.dir);
    copy_file(from, to, SIZE_MAX);
    snprintf(to, sizeof to, "%s/junk.so", fx.dir);
    FILE *f = fopen(to, "w");
    assert_non_null(f);
    fputs("junk", f);
    fclose(f);
    if (!wait_for(&fx, added_logged))
        fail_msg("no plugin.added line for other.so within 20 s");
    if (!wait_for(&fx, junk_refused_logged))
        fail_msg("no plugin.refused line for junk.so within 20 s");
    /* Neither is the running kernel's file: nothing swapped. */
    assert_int_equal(info_of(&fx).swaps, 0);
    assert_int_equal(info_of(&fx).swaps_refused, 0);
    expect_answer_from(&fx, "v1");
    finish(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swap_under_traffic_answers_every_message_once_v1_then_v2),
        cmocka_unit_test(test_swap_reading_in_place_lands_at_a_batch_boundary),
        cmocka_unit_test(test_swap_with_two_workers_answers_every_message_once),
        cmocka_unit_test(test_swap_back_to_a_file_loaded_before_runs_that_file),
        cmocka_unit_test(test_swap_refused_when_ports_differ_and_old_keeps_answering),
        cmocka_unit_test(test_swap_refused_when_a_port_type_differs_and_old_keeps_answering),
        cmocka_unit_test(test_swap_refused_when_new_init_fails_and_old_keeps_answering),
        cmocka_unit_test(test_swap_refused_when_the_file_is_garbage_and_old_keeps_answering),
        cmocka_unit_test(test_swap_refused_when_the_file_is_truncated_and_old_keeps_answering),
        cmocka_unit_test(test_reload_of_an_unknown_kernel_is_enoent),
        cmocka_unit_test(test_reload_of_a_terminated_kernel_is_refused),
        cmocka_unit_test(test_reload_of_a_run_kernel_is_refused_with_the_reason),
        cmocka_unit_test(test_reload_of_a_process_isolated_kernel_is_refused_with_the_reason),
        cmocka_unit_test(test_watcher_swaps_a_build_moved_over_the_running_file),
        cmocka_unit_test(test_watcher_swaps_a_build_written_over_the_running_file),
        cmocka_unit_test(test_watcher_refuses_a_broken_build_and_old_keeps_answering),
        cmocka_unit_test(test_watcher_logs_new_plugins_with_their_kernel_or_their_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
