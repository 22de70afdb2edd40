/*
 * test_cli_gpu_faults.c — the GPU executor's failure paths (docs/GPU.md,
 * "Faults") through the real binary, against the CPU stand-in of the CUDA
 * driver (tests/fake_cuda), whose knobs make the device misbehave:
 *
 *  - a driver that lacks a symbol the executor needs: the launch is
 *    refused, exit 2, naming the kernel and the symbol; CPU manifests run;
 *  - a device loop whose heartbeat stops while input waits (watchdog_ms):
 *    a device fault, the batch retried one message at a time, the loop
 *    relaunched; a message that hangs it twice is dead-lettered as poison;
 *  - a device loop that returns without being told: the same;
 *  - a relaunch that fails: retried after the restart backoff, then the
 *    kernel serves again; one that never succeeds: the kernel is given up
 *    past restart.max, what it holds stays counted queued.
 *
 * Beside the GPU kernel "g" (echo_gpu), a CPU kernel "e" (echo) must answer
 * every message throughout, and every accounting line must balance: each
 * message sent is answered, dead-lettered or still queued, never lost,
 * never answered twice.
 *
 * Registered only where the fake driver is built (tests/CMakeLists.txt,
 * label gpu-fake): its knobs mean nothing to a real driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

#define SENT_G 20u
#define SENT_E 10u

/* Kernel "g" (echo_gpu on the GPU executor, extra keys g_extra, config
 * g_config) and kernel "e" (echo on a host thread). */
static const char *manifest(const char *tag, const char *g_extra, const char *g_config)
{
    return cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"g.in\": {\"type\": \"echo.message\"}, \"g.out\": {\"type\": \"echo.message\"},\n"
        "            \"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"g\", \"plugin\": \"echo_gpu\", \"isolation\": \"cuda\",\n"
        "               \"config\": %s,\n"
        "               \"inputs\": {\"in\": \"g.in\"}, \"outputs\": {\"out\": \"g.out\"}%s},\n"
        "              {\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}}]}\n",
        g_config ? g_config : "{}", g_extra));
}

/* SENT_G messages for g (seq 1..20), SENT_E for e. */
static const char *requests(const char *name)
{
    cli_str b = {0};
    for (unsigned i = 1; i <= SENT_G; i++)
        cli_str_addf(&b, "{\"queue\": \"g.in\", \"id\": \"%s\", \"body\": {\"seq\": %u, "
                         "\"text\": \"gpu\"}}\n", cli_id(i), i);
    for (unsigned i = 101; i < 101 + SENT_E; i++)
        cli_str_addf(&b, "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": %u, "
                         "\"text\": \"cpu\"}}\n", cli_id(i), i);
    const char *file = cli_write(name, b.s);
    cli_str_free(&b);
    return file;
}

/* Set the knobs ("NAME=VALUE", NULL-terminated), run, unset them. */
static void run_with(cli_out *o, const char *m, const char *file, const char *const *knobs)
{
    for (size_t i = 0; knobs[i]; i++)
        putenv((char *)knobs[i]);
    cli_exec(o, NULL, "run", m, "--send", file, "--timeout", CLI_RUN_TIMEOUT, NULL);
    for (size_t i = 0; knobs[i]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(knobs[i], "="), knobs[i]);
        unsetenv(name);
    }
}

/* Answers to request seq on g.out. */
static size_t g_answers(json_t *lines, unsigned seq)
{
    size_t n = 0, k;
    json_t *l;
    json_array_foreach (lines, k, l) {
        const char *q = json_string_value(json_object_get(l, "queue"));
        const char *c = json_string_value(json_object_get(l, "correlation_id"));
        if (q && c && !strcmp(q, "g.out") && !strcmp(c, cli_id(seq)))
            n++;
    }
    return n;
}

/* Each of g's requests answered once, in any order, but except_seq (0:
 * none), never answered. */
static void expect_every_g_answered_once(const cli_out *o, json_t *lines, unsigned except_seq)
{
    for (unsigned i = 1; i <= SENT_G; i++) {
        size_t n = g_answers(lines, i);
        CLI_CHECK(o, n == (i == except_seq ? 0u : 1u),
                  "expected request %u answered %s on g.out, got %zu answers", i,
                  i == except_seq ? "never" : "once", n);
    }
}

/* "accounting: queue q: accepted A = delivered D + dead-lettered L +
 * dropped P + queued Q: balanced" -> its numbers; fails if absent. */
static void accounting(const cli_out *o, const char *q, unsigned long long v[5])
{
    char key[64];
    snprintf(key, sizeof key, "accounting: queue %s: ", q);
    const char *at = strstr(o->r.err, key);
    CLI_CHECK(o, at && sscanf(at + strlen(key),
                              "accepted %llu = delivered %llu + dead-lettered %llu + dropped "
                              "%llu + queued %llu",
                              &v[0], &v[1], &v[2], &v[3], &v[4]) == 5,
              "expected an accounting line for %s", q);
}

static int on_fake_driver(void)
{
    const char *l = getenv("LD_LIBRARY_PATH");
    if (getenv("RINGHOST_EXPECT_CUDA") && l && strstr(l, "fake_cuda"))
        return 1;
    print_message("    skipped: needs the fake CUDA driver (tests/fake_cuda)\n");
    return 0;
}

static void test_a_driver_lacking_a_symbol_is_refused_naming_it_and_cpu_manifests_run(void **st)
{
    (void)st;
    if (!on_fake_driver())
        return;
    char *saved = strdup(getenv("LD_LIBRARY_PATH"));
    setenv("LD_LIBRARY_PATH", RH_TEST_BUILD_DIR "/fake_cuda_old", 1);
    const char *m = manifest("oldrv", "", NULL);
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", requests("oldrv.jsonl"), "--timeout", "10", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "kernels[0] (g): cannot run on the GPU (\"isolation\": "
                                  "\"cuda\"): the CUDA driver lacks cuStreamQuery"),
              "expected the refusal to name the kernel and the missing symbol");
    cli_free(&o);
    /* The same driver on the path: a CPU manifest runs and answers. */
    const char *cpu = cli_manifest("oldrv-cpu",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}}]}\n");
    const char *one = cli_write("oldrv-cpu.jsonl", "{\"queue\": \"e.in\", \"body\": {\"seq\": 1, "
                                                   "\"text\": \"cpu\"}}\n");
    cli_exec(&o, NULL, "run", cpu, "--send", one, "--timeout", "10", NULL);
    setenv("LD_LIBRARY_PATH", saved, 1);
    free(saved);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "e.out") == 1, "expected the CPU kernel to answer");
    json_decref(lines);
    cli_free(&o);
}

static void test_a_stalled_device_heartbeat_is_a_fault_and_every_message_is_answered(void **st)
{
    (void)st;
    if (!on_fake_driver())
        return;
    const char *m = manifest("stall", ", \"watchdog_ms\": 100,\n \"restart\": {\"max\": 5, "
                                      "\"backoff_ms\": 10}", NULL);
    static const char *const knobs[] = {"FAKE_CUDA_STALL_SEQ=5", NULL};
    cli_out o;
    run_with(&o, m, requests("stall.jsonl"), knobs);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    expect_every_g_answered_once(&o, lines, 0);
    CLI_CHECK(&o, cli_count_queue(lines, "e.out") == SENT_E, "expected e to answer all %u",
              SENT_E);
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.stalled kernel=g worker=0") == 1,
              "expected one kernel.stalled event for g");
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.device_fault kernel=g") == 1 &&
                      strstr(o.r.err, "error=\"the device loop stopped polling (watchdog_ms)\""),
              "expected one device fault naming the stopped heartbeat");
    CLI_CHECK(&o, cli_summary_get(&o, "kernel", "g", "restarts") == 1 &&
                      cli_summary_get(&o, "kernel", "g", "stalls") == 1,
              "expected the summary of g to say restarts 1, stalls 1");
    unsigned long long v[5];
    accounting(&o, "g.in", v);
    CLI_CHECK(&o, v[0] == SENT_G && v[1] == SENT_G && v[2] == 0 && v[4] == 0,
              "expected g.in: %u accepted, all delivered, none dead-lettered or queued", SENT_G);
    cli_expect_balanced(&o, 6); /* g.in g.out e.in e.out g.dlq e.dlq */
    json_decref(lines);
    cli_free(&o);
}

static void test_a_message_that_stalls_the_device_twice_is_dead_lettered_as_poison(void **st)
{
    (void)st;
    if (!on_fake_driver())
        return;
    const char *m = manifest("stall2", ", \"watchdog_ms\": 100,\n \"restart\": {\"max\": 5, "
                                       "\"backoff_ms\": 10}", NULL);
    static const char *const knobs[] = {"FAKE_CUDA_STALL_SEQ=5", "FAKE_CUDA_MISBEHAVE_TIMES=0",
                                        NULL};
    cli_out o;
    run_with(&o, m, requests("stall2.jsonl"), knobs);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    expect_every_g_answered_once(&o, lines, 5);
    CLI_CHECK(&o, cli_count_queue(lines, "g.dlq") == 1 &&
                      strstr(o.r.err, "poison: the device faulted twice with this message in its "
                                      "batch (the device loop stopped polling (watchdog_ms))"),
              "expected seq 5 dead-lettered as poison with the fault as its reason");
    CLI_CHECK(&o, cli_count_queue(lines, "e.out") == SENT_E, "expected e to answer all %u",
              SENT_E);
    CLI_CHECK(&o, cli_summary_get(&o, "kernel", "g", "restarts") == 2,
              "expected g restarted after each of its 2 faults");
    unsigned long long v[5];
    accounting(&o, "g.in", v);
    CLI_CHECK(&o, v[0] == SENT_G && v[1] == SENT_G - 1 && v[2] == 1 && v[4] == 0,
              "expected g.in: sent %u = answered %u + dead-lettered 1", SENT_G, SENT_G - 1);
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

static void test_a_loop_that_returns_unasked_is_a_fault_and_every_message_is_answered(void **st)
{
    (void)st;
    if (!on_fake_driver())
        return;
    const char *m = manifest("ret", ", \"restart\": {\"max\": 5, \"backoff_ms\": 10}", NULL);
    static const char *const knobs[] = {"FAKE_CUDA_RETURN_SEQ=5", NULL};
    cli_out o;
    run_with(&o, m, requests("ret.jsonl"), knobs);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    expect_every_g_answered_once(&o, lines, 0);
    CLI_CHECK(&o, cli_count_queue(lines, "e.out") == SENT_E, "expected e to answer all %u",
              SENT_E);
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.device_fault kernel=g") == 1 &&
                      strstr(o.r.err, "error=\"the device loop returned without being told to "
                                      "stop\""),
              "expected one device fault saying the loop returned unasked");
    CLI_CHECK(&o, cli_summary_get(&o, "kernel", "g", "restarts") == 1,
              "expected g restarted once");
    unsigned long long v[5];
    accounting(&o, "g.in", v);
    CLI_CHECK(&o, v[0] == SENT_G && v[1] == SENT_G && v[2] == 0 && v[4] == 0,
              "expected g.in: %u accepted, all delivered", SENT_G);
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

/* Seq 5 ends the loop once; relaunched, the loop retries its batch one
 * message at a time and answers 5 (a good batch) before seq 15 ends it
 * again.  15 is answered, or, when it sat in the batch 5 died in (retried,
 * so alone), dead-lettered as poison: either way nothing is lost. */
static void test_a_good_batch_between_device_faults_ends_the_row_of_backoffs(void **st)
{
    (void)st;
    if (!on_fake_driver())
        return;
    const char *m = manifest("ret2", ", \"restart\": {\"max\": 5, \"backoff_ms\": 10}", NULL);
    static const char *const knobs[] = {"FAKE_CUDA_RETURN_SEQ=5,15", NULL};
    cli_out o;
    run_with(&o, m, requests("ret2.jsonl"), knobs);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    size_t poisoned = cli_count_queue(lines, "g.dlq");
    expect_every_g_answered_once(&o, lines, poisoned ? 15 : 0);
    CLI_CHECK(&o, poisoned <= 1 && (!poisoned || strstr(o.r.err, "poison: the device faulted "
                                                                 "twice")),
              "expected seq 15 answered or dead-lettered as poison, got %zu dead letters",
              poisoned);
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.device_fault kernel=g") == 2,
              "expected two device faults");
    CLI_CHECK(&o, strstr(o.r.err, "reason=device_fault restart=1 max=5 backoff_ms=10") &&
                      strstr(o.r.err, "reason=device_fault restart=2 max=5 backoff_ms=10"),
              "expected both restarts after 10 ms: a good batch between the faults ends the row");
    unsigned long long v[5];
    accounting(&o, "g.in", v);
    CLI_CHECK(&o, v[0] == SENT_G && v[1] + v[2] == SENT_G && v[2] == poisoned && v[4] == 0,
              "expected g.in: sent %u = answered + dead-lettered, nothing queued", SENT_G);
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

static void test_a_relaunch_that_fails_is_retried_after_the_backoff_then_serves(void **st)
{
    (void)st;
    if (!on_fake_driver())
        return;
    const char *m = manifest("relfail", ", \"restart\": {\"max\": 5, \"backoff_ms\": 10}", NULL);
    static const char *const knobs[] = {"FAKE_CUDA_RETURN_SEQ=5", "FAKE_CUDA_FAIL_LAUNCHES=2",
                                        NULL};
    cli_out o;
    run_with(&o, m, requests("relfail.jsonl"), knobs);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    expect_every_g_answered_once(&o, lines, 0);
    CLI_CHECK(&o, cli_count_queue(lines, "e.out") == SENT_E, "expected e to answer all %u",
              SENT_E);
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.restart kernel=g") == 3 &&
                      cli_count(o.r.err, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES") == 2,
              "expected 3 relaunches of g, the first 2 failing with the launch's CUDA error");
    CLI_CHECK(&o, cli_count(o.r.err, "reason=device_start_failed") == 2 &&
                      strstr(o.r.err, "reason=device_fault restart=1 max=5 backoff_ms=10") &&
                      strstr(o.r.err, "reason=device_start_failed restart=2 max=5 backoff_ms=20") &&
                      strstr(o.r.err, "reason=device_start_failed restart=3 max=5 backoff_ms=40"),
              "expected each failed relaunch to schedule the next through the restart policy, "
              "its backoff doubled (10, 20, 40 ms)");
    CLI_CHECK(&o, cli_summary_get(&o, "kernel", "g", "restarts") == 3,
              "expected the summary of g to count the 3 restarts");
    unsigned long long v[5];
    accounting(&o, "g.in", v);
    CLI_CHECK(&o, v[0] == SENT_G && v[1] == SENT_G && v[2] == 0 && v[4] == 0,
              "expected g.in: %u accepted, all delivered", SENT_G);
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

static void test_a_relaunch_that_never_succeeds_gives_the_kernel_up_and_the_host_serves(void **st)
{
    (void)st;
    if (!on_fake_driver())
        return;
    const char *m = manifest("relnever", ", \"restart\": {\"max\": 2, \"backoff_ms\": 10}", NULL);
    static const char *const knobs[] = {"FAKE_CUDA_RETURN_SEQ=5", "FAKE_CUDA_FAIL_LAUNCHES=-1",
                                        NULL};
    cli_out o;
    run_with(&o, m, requests("relnever.jsonl"), knobs);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "e.out") == SENT_E,
              "expected e to answer all %u while g is given up", SENT_E);
    CLI_CHECK(&o, cli_count(o.r.err, "event=kernel.given_up kernel=g") == 1 &&
                      strstr(o.r.err, "reason=device_start_failed"),
              "expected g given up after its relaunches failed");
    CLI_CHECK(&o, cli_count(o.r.err, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES") == 2,
              "expected the 2 relaunches restart.max allows, each failing with the CUDA error");
    unsigned long long v[5];
    accounting(&o, "g.in", v);
    size_t answered = cli_count_queue(lines, "g.out");
    CLI_CHECK(&o, v[0] == SENT_G && v[1] == answered && v[2] == 0 && v[1] + v[4] == SENT_G &&
                      v[4] > 0,
              "expected g.in: sent %u = answered %zu + still queued (seq 5 on), nothing "
              "dead-lettered, nothing lost", SENT_G, answered);
    cli_expect_balanced(&o, 6);
    json_decref(lines);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_driver_lacking_a_symbol_is_refused_naming_it_and_cpu_manifests_run),
        cmocka_unit_test(test_a_stalled_device_heartbeat_is_a_fault_and_every_message_is_answered),
        cmocka_unit_test(test_a_message_that_stalls_the_device_twice_is_dead_lettered_as_poison),
        cmocka_unit_test(test_a_loop_that_returns_unasked_is_a_fault_and_every_message_is_answered),
        cmocka_unit_test(test_a_good_batch_between_device_faults_ends_the_row_of_backoffs),
        cmocka_unit_test(test_a_relaunch_that_fails_is_retried_after_the_backoff_then_serves),
        cmocka_unit_test(test_a_relaunch_that_never_succeeds_gives_the_kernel_up_and_the_host_serves),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
