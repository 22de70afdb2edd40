/*
 * test_runtime.c — the embedding API driven with the real kernel plugins
 * (echo, slow, scale, sum) from the build's plugin folder: lifecycle,
 * wiring checks, workers, bridge modes, threads following cores, and the
 * input bridge's dedup window.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ringhost/ringhost.h"
#include "rt_fixture.h"
#include "engine/dedup.h"
#include "launch/launch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* ------------------------------------------------------------ helpers -- */

static const char *ECHO_BODY =
    "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": \"echo.message\"}},"
    "\"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},"
    " \"outputs\": {\"out\": \"e.out\"}}]";

/* -------------------------------------------------------------- dedup -- */

static rh_id mkid(uint64_t n)
{
    return (rh_id){0x1234, n};
}

static void test_dedup_remembers_the_last_n_accepted_ids(void **state)
{
    (void)state;
    rh_dedup d;
    assert_int_equal(rh__dedup_init(&d, 4), 0);
    for (uint64_t i = 1; i <= 4; i++)
        assert_false(rh__dedup_seen_or_add(&d, mkid(i)));
    for (uint64_t i = 1; i <= 4; i++)
        assert_true(rh__dedup_seen_or_add(&d, mkid(i)));
    rh__dedup_free(&d);
}

static void test_dedup_forgets_ids_older_than_the_window(void **state)
{
    (void)state;
    rh_dedup d;
    assert_int_equal(rh__dedup_init(&d, 4), 0);
    for (uint64_t i = 1; i <= 8; i++)
        assert_false(rh__dedup_seen_or_add(&d, mkid(i)));
    /* 1..4 were pushed out by 5..8 */
    assert_false(rh__dedup_seen_or_add(&d, mkid(1)));
    assert_true(rh__dedup_seen_or_add(&d, mkid(8)));
    rh__dedup_free(&d);
}

static void test_dedup_window_zero_is_off(void **state)
{
    (void)state;
    rh_dedup d;
    assert_int_equal(rh__dedup_init(&d, 0), 0);
    assert_false(rh__dedup_seen_or_add(&d, mkid(1)));
    assert_false(rh__dedup_seen_or_add(&d, mkid(1)));
    rh__dedup_free(&d);
}

static void test_dedup_large_window_has_no_false_positives(void **state)
{
    (void)state;
    rh_dedup d;
    assert_int_equal(rh__dedup_init(&d, 4096), 0);
    for (int i = 0; i < 100000; i++)
        if (rh__dedup_seen_or_add(&d, rh_id_new()))
            fail_msg("fresh id %d reported as a duplicate", i);
    rh__dedup_free(&d);
}

/* ---------------------------------------------------------- lifecycle -- */

static void test_illegal_transitions_are_errors(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("illegal", ECHO_BODY);
    rh_error err = {0};
    assert_int_equal(rh_runtime_state(rt), RH_STATE_LAUNCHED);
    assert_int_equal(rh_runtime_deactivate(rt, &err), RH_ESTATE);
    assert_non_null(strstr(err.msg, "launched"));
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    assert_int_equal(rh_runtime_activate(rt, &err), RH_ESTATE);
    assert_int_equal(rh_runtime_deactivate(rt, &err), 0);
    assert_int_equal(rh_runtime_deactivate(rt, &err), RH_ESTATE);
    assert_int_equal(rh_runtime_terminate(rt, 1000, &err), 0);
    assert_int_equal(rh_runtime_terminate(rt, 1000, &err), RH_ESTATE);
    assert_int_equal(rh_runtime_activate(rt, &err), RH_ESTATE);
    rh_runtime_destroy(rt);
}

static void test_deactivate_pauses_and_activate_resumes(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("pause", ECHO_BODY);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    assert_int_equal(rh_runtime_deactivate(rt, NULL), 0);
    for (int i = 0; i < 50; i++)
        rt_send_json(rt, "e.in", "{\"seq\": 1, \"text\": \"wait\"}", NULL);
    sleep_ms(200); /* a sleep, not a wait: nothing may be processed while paused */
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 0);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(rh_runtime_queue(rt, "e.in"), &s);
    assert_int_equal(s.depth, 50); /* messages wait in their queue */

    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_envelope env;
    void *buf = NULL;
    for (int i = 0; i < 50; i++)
        if (rt_recv_one(rt, "e.out", &env, &buf, 5000) < 0)
            fail_msg("only %d of 50 answered after activate", i);
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 50);
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_terminate_processes_what_reached_the_kernel_and_reports(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("term", ECHO_BODY);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    for (int i = 0; i < 100; i++)
        rt_send_json(rt, "e.in", "{\"seq\": 7}", NULL);
    EXPECT_WITHIN(20, rh_runtime_is_idle(rt), "expected the host idle within 20 s");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    rt->log = mem;
    assert_int_equal(rh_runtime_terminate(rt, 2000, NULL), 0);
    fclose(mem);
    assert_non_null(strstr(text, "uptime"));
    assert_non_null(strstr(text, "kernel echo: processed 100"));
    assert_non_null(strstr(text, "queue e.out: enqueued 100"));
    assert_non_null(strstr(text, "bridge e.in -> echo.in: moved 100"));
    assert_non_null(strstr(text, "bridge echo.out -> e.out: sent 100, refused by the queue 0"));
    free(text);
    rh_runtime_destroy(rt);
}

/* ------------------------------------------------------------- wiring -- */

static int validate(const char *name, const char *body, rh_error *err)
{
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.log = rt_quiet_log());
    const char *path = rt_write_manifest(name, body);
    int rc = rh_runtime_validate(path, &opts, NULL, err);
    unlink(path);
    return rc;
}

static void test_type_mismatch_names_both_types(void **state)
{
    (void)state;
    rh_error err = {0};
    /* sum reads vector.f32 but is wired to echo's queue */
    int rc = validate("mismatch",
                      "\"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", \"outputs\": "
                      "{\"out\": \"x\"}}, {\"name\": \"sum\", \"plugin\": \"sum\", \"inputs\": "
                      "{\"in\": \"x\"}}], \"queues\": {\"x\": {}}",
                      &err);
    assert_int_equal(rc, RH_ETYPE);
    assert_non_null(strstr(err.msg, "echo.message"));
    assert_non_null(strstr(err.msg, "vector.f32"));
    assert_non_null(strstr(err.msg, "kernels[1].inputs.in"));
}

static void test_unknown_port_lists_the_plugin_ports(void **state)
{
    (void)state;
    rh_error err = {0};
    int rc = validate("port", "\"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", "
                              "\"inputs\": {\"inn\": \"x\"}}], \"queues\": {\"x\": {}}",
                      &err);
    assert_int_equal(rc, RH_EMANIFEST);
    assert_non_null(strstr(err.msg, "kernels[0].inputs.inn"));
    assert_non_null(strstr(err.msg, "\"in\""));
}

static void test_unknown_plugin_lists_loaded_plugins(void **state)
{
    (void)state;
    rh_error err = {0};
    int rc = validate("plugin", "\"kernels\": [{\"name\": \"k\", \"plugin\": \"vector_ad\"}]",
                      &err);
    assert_int_equal(rc, RH_EMANIFEST);
    assert_non_null(strstr(err.msg, "kernels[0].plugin"));
    assert_non_null(strstr(err.msg, "vector_add"));
    assert_non_null(strstr(err.msg, "\"vector_ad\""));
}

static void test_declared_type_must_exist(void **state)
{
    (void)state;
    rh_error err = {0};
    int rc = validate("qtype", "\"queues\": {\"q\": {\"type\": \"no.such\"}}, \"kernels\": "
                               "[{\"name\": \"echo\", \"plugin\": \"echo\"}]",
                      &err);
    assert_int_equal(rc, RH_EMANIFEST);
    assert_non_null(strstr(err.msg, "no.such"));
}

static void test_unwired_ports_get_automatic_queues(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("auto", "\"kernels\": [{\"name\": \"ek\", \"plugin\": \"echo\"}]");
    assert_non_null(rh_runtime_queue(rt, "ek.in"));
    assert_non_null(rh_runtime_queue(rt, "ek.out"));
    rh_runtime_destroy(rt);
}

/* ------------------------------------------------- workers and modes -- */

static void answer_all_with(const char *name, const char *plugin, const char *kernel_extra, int n)
{
    char body[1024];
    snprintf(body, sizeof body,
             "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": "
             "\"echo.message\"}}, \"kernels\": [{\"name\": \"echo\", \"plugin\": \"%s\", "
             "\"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"} %s}]",
             plugin, kernel_extra);
    rh_runtime *rt = rt_launch(name, body);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_id *ids = calloc((size_t)n, sizeof *ids);
    char *seen = calloc((size_t)n, 1);
    void *buf = NULL;
    int got = 0;
    for (int i = 0; i < n; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"seq\": %d}", i);
        rt_send_json(rt, "e.in", json, &ids[i]);
        rh_envelope env;
        while (rt_recv_one(rt, "e.out", &env, &buf, 0) >= 0) {
            uint64_t seq = *(uint64_t *)buf; /* echo.message starts with seq */
            assert_true(seq < (uint64_t)n);
            assert_false(seen[seq]);
            seen[seq] = 1;
            assert_true(rh_id_eq(env.correlation_id, ids[seq]));
            got++;
        }
    }
    while (got < n) {
        rh_envelope env;
        if (rt_recv_one(rt, "e.out", &env, &buf, 5000) < 0)
            fail_msg("%s: %d of %d answered", name, got, n);
        uint64_t seq = *(uint64_t *)buf;
        assert_false(seen[seq]);
        seen[seq] = 1;
        assert_true(rh_id_eq(env.correlation_id, ids[seq]));
        got++;
    }
    rh_envelope env;
    assert_int_equal(rt_recv_one(rt, "e.out", &env, &buf, 50), RH_ETIMEDOUT);
    free(buf);
    free(seen);
    free(ids);
    rh_runtime_destroy(rt);
}

static void answer_all(const char *name, const char *kernel_extra, int n)
{
    answer_all_with(name, "echo", kernel_extra, n);
}

static void test_three_workers_answer_every_message_once(void **state)
{
    (void)state;
    answer_all("workers", ", \"workers\": 3", 3000);
}

static void test_inline_bridge_answers_every_message_once(void **state)
{
    (void)state;
    answer_all("inline", ", \"bridge\": \"inline\"", 3000);
}

static void test_inline_bridge_with_workers_answers_every_message_once(void **state)
{
    (void)state;
    answer_all("inline2", ", \"bridge\": \"inline\", \"workers\": 2, \"batch\": 4", 3000);
}

static void test_spin_wait_answers_every_message_once(void **state)
{
    (void)state;
    answer_all("spin", ", \"wait\": \"spin\", \"batch\": 1", 1000);
}

static void test_run_kernel_owning_its_loop_answers_every_message_once(void **state)
{
    (void)state;
    answer_all_with("loop", "echo_loop", "", 3000);
}

static void test_run_kernel_pauses_resumes_and_stops(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("looplife",
                            "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": "
                            "{\"type\": \"echo.message\"}}, \"kernels\": [{\"name\": \"loop\", "
                            "\"plugin\": \"echo_loop\", \"inputs\": {\"in\": \"e.in\"}, "
                            "\"outputs\": {\"out\": \"e.out\"}}]");
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    assert_int_equal(rh_runtime_deactivate(rt, NULL), 0);
    for (int i = 0; i < 20; i++)
        rt_send_json(rt, "e.in", "{\"seq\": 9}", NULL);
    sleep_ms(150); /* a sleep, not a wait: nothing may be processed while paused */
    assert_int_equal(rh_runtime_kernel_processed(rt, "loop"), 0);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    void *buf = NULL;
    rh_envelope env;
    for (int i = 0; i < 20; i++)
        if (rt_recv_one(rt, "e.out", &env, &buf, 5000) < 0)
            fail_msg("only %d of 20 answered after activate", i);
    uint64_t t0 = rh_now_ns();
    assert_int_equal(rh_runtime_terminate(rt, 2000, NULL), 0);
    if (rh_now_ns() - t0 > 1500000000ull)
        fail_msg("terminate of an idle run() kernel took %.2f s",
                 (double)(rh_now_ns() - t0) / 1e9);
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_threads_follow_cores(void **state)
{
    (void)state;
    /* 6 kernels, all dispatch on core:0 and pumps on core:1: two threads */
    char body[4096] = "\"kernels\": [";
    for (int i = 0; i < 6; i++) {
        char k[256];
        snprintf(k, sizeof k,
                 "%s{\"name\": \"e%d\", \"plugin\": \"echo\", \"pin\": {\"dispatch\": "
                 "\"core:0\", \"pump\": \"%s\"}}",
                 i ? "," : "", i, sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "core:1" : "core:0");
        strcat(body, k);
    }
    strcat(body, "]");
    rh_runtime *rt = rt_launch("reactor", body);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    rh_runtime_report_bindings(rt, mem);
    fclose(mem);
    int lines = 0;
    for (char *p = text; (p = strstr(p, "binding:")); p++)
        lines++;
    assert_int_equal(lines, sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1);
    free(text);
    rh_runtime_destroy(rt);
}

static void test_duplicate_id_is_processed_once(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("dup", "\"queues\": {\"e.in\": {\"type\": \"echo.message\", "
                                   "\"dedup_window\": 16}}, \"kernels\": [{\"name\": \"echo\", "
                                   "\"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"}}]");
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_queue *q = rh_runtime_queue(rt, "e.in");
    const rh_type *t = rh_queue_type(q);
    void *buf = calloc(1, t->size);
    rh_envelope env = {.id = rh_id_new()};
    for (int i = 0; i < 3; i++)
        assert_int_equal(rh_send(q, &env, buf, t->size, NULL), 0);
    EXPECT_WITHIN(20, rh_runtime_is_idle(rt), "expected the host idle within 20 s");
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 1);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    assert_int_equal(s.duplicates, 2);
    free(buf);
    rh_runtime_destroy(rt);
}

/* Inline workers pull from the queue each on its own; the window is the
 * port's, so a duplicate is dropped whichever worker takes it. */
static void test_duplicate_id_is_processed_once_by_inline_workers(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("dupinl", "\"queues\": {\"e.in\": {\"type\": \"echo.message\", "
                                      "\"dedup_window\": 64}}, \"kernels\": [{\"name\": \"echo\", "
                                      "\"plugin\": \"echo\", \"bridge\": \"inline\", \"workers\": 3, "
                                      "\"batch\": 1, \"inputs\": {\"in\": \"e.in\"}}]");
    rh_queue *q = rh_runtime_queue(rt, "e.in");
    const rh_type *t = rh_queue_type(q);
    void *buf = calloc(1, t->size);
    rh_envelope env = {.id = rh_id_new()};
    for (int i = 0; i < 60; i++) /* queued while launched, then taken by 3 workers at once */
        assert_int_equal(rh_send(q, &env, buf, t->size, NULL), 0);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    EXPECT_WITHIN(20, rh_runtime_is_idle(rt), "expected the host idle within 20 s");
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 1);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    assert_int_equal(s.duplicates, 59);
    free(buf);
    rh_runtime_destroy(rt);
}

/* The bridge modes the input checks are run in: the thread bridge copies
 * into the kernel's ring and checks there; the inline bridge checks the
 * queue's own cells and the kernel reads them in place (engine/inplace.c),
 * with one worker or two sharing the queue. */
#define BRIDGE_THREAD ""
#define BRIDGE_INLINE "\"bridge\": \"inline\", "
#define BRIDGE_INLINE2 "\"bridge\": \"inline\", \"workers\": 2, \"batch\": 4, "

/* ECHO_BODY with kernel keys `extra` (one of the BRIDGE_*). */
static const char *echo_body(const char *extra)
{
    static char body[512];
    snprintf(body, sizeof body,
             "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": "
             "\"echo.message\"}}, \"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", "
             "%s\"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]",
             extra);
    return body;
}

static void expired_messages_never_reach_the_kernel(const char *name, const char *extra)
{
    char body[512];
    snprintf(body, sizeof body,
             "\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"ttl_ms\": 1000}}, "
             "\"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", %s"
             "\"inputs\": {\"in\": \"e.in\"}}]", extra);
    rh_runtime *rt = rt_launch(name, body);
    for (int i = 0; i < 5; i++) /* launched, not active: they wait and age */
        rt_send_json(rt, "e.in", "{\"seq\": 1}", NULL);
    /* A sleep, not a wait: they must outlive their ttl.  1 s, not 50 ms: the
     * fresh message below must reach the kernel within it, and beside
     * stress-ng the host was once not scheduled for 50 ms (processed 0). */
    sleep_ms(1100);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rt_send_json(rt, "e.in", "{\"seq\": 2}", NULL); /* fresh: delivered */
    EXPECT_WITHIN(20, rh_runtime_is_idle(rt), "expected the host idle within 20 s");
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 1);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(rh_runtime_queue(rt, "e.in"), &s);
    assert_int_equal(s.expired, 5);
    /* dead-lettered with their reason, from the cell or the ring slot */
    rh_queue_stats_get(rh_runtime_queue(rt, "echo.dlq"), &s);
    assert_int_equal(s.depth, 5);
    rh_runtime_destroy(rt);
}

static void test_expired_messages_never_reach_the_kernel(void **state)
{
    (void)state;
    expired_messages_never_reach_the_kernel("ttl", BRIDGE_THREAD);
}

static void test_expired_messages_never_reach_the_kernel_reading_in_place(void **state)
{
    (void)state;
    expired_messages_never_reach_the_kernel("ttlinl", BRIDGE_INLINE);
    expired_messages_never_reach_the_kernel("ttlinl2", BRIDGE_INLINE2);
}

static void invalid_message_is_refused_before_the_kernel(const char *name, const char *extra)
{
    rh_runtime *rt = rt_launch(name, echo_body(extra));
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_queue *q = rh_runtime_queue(rt, "e.in");
    const rh_type *t = rh_queue_type(q);
    unsigned char *junk = malloc(t->size);
    memset(junk, 0xff, t->size); /* no NUL in text, lengths past their max */
    char why[128];
    assert_int_not_equal(t->validate(junk, why, sizeof why), 0);
    assert_int_equal(rh_send(q, NULL, junk, t->size, NULL), 0);
    rt_send_json(rt, "e.in", "{\"seq\": 3}", NULL);
    EXPECT_WITHIN(20, rh_runtime_is_idle(rt), "expected the host idle within 20 s");
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 1);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    assert_int_equal(s.invalid, 1);
    assert_int_equal(s.dequeued, 2);
    /* dead-lettered with the validator's reason */
    rh_queue *dlq = rh_runtime_queue(rt, "echo.dlq");
    rh_envelope env;
    void *dl = malloc(rh_queue_payload_size(dlq));
    assert_true(rh_recv(dlq, &env, dl, rh_queue_payload_size(dlq), 1000) >= 0);
    json_t *o = rh_queue_type(dlq)->encode(dl);
    const char *reason = json_string_value(json_object_get(o, "reason"));
    if (!reason || !strstr(reason, why))
        fail_msg("%s: expected the dead letter's reason to hold \"%s\", got \"%s\"", name, why,
                 reason ? reason : "(none)");
    json_decref(o);
    free(dl);
    free(junk);
    rh_runtime_destroy(rt);
}

static void test_invalid_message_is_refused_before_the_kernel_and_counted(void **state)
{
    (void)state;
    invalid_message_is_refused_before_the_kernel("invalid", BRIDGE_THREAD);
}

static void test_invalid_message_in_a_cell_is_refused_and_dead_lettered_in_place(void **state)
{
    (void)state;
    invalid_message_is_refused_before_the_kernel("invinl", BRIDGE_INLINE);
    invalid_message_is_refused_before_the_kernel("invinl2", BRIDGE_INLINE2);
}

/* A payload shorter than its type reaches the kernel zero-extended, never
 * with the tail of the message that used the slot before. */
static void short_payload_is_zero_extended(const char *name, const char *body)
{
    rh_runtime *rt = rt_launch(name, body);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    void *buf = NULL;
    rh_envelope env;
    rh_queue *in = rh_runtime_queue(rt, "e.in");
    const rh_type *t = rh_queue_type(in);
    for (int round = 0; round < 2048; round++) { /* every ring and queue slot */
        rt_send_json(rt, "e.in", "{\"seq\": 1, \"text\": \"stale\", \"data\": [1, 2, 3]}", NULL);
        assert_true(rt_recv_one(rt, "e.out", &env, &buf, 5000) >= 0);
        uint64_t seq = 2; /* echo.message starts with seq: send only that */
        assert_int_equal(rh_send(in, NULL, &seq, sizeof seq, NULL), 0);
        assert_true(rt_recv_one(rt, "e.out", &env, &buf, 5000) >= 0);
        json_t *o = t->encode(buf);
        assert_int_equal(json_integer_value(json_object_get(o, "seq")), 2);
        if (strcmp(json_string_value(json_object_get(o, "text")), "") != 0 ||
            json_array_size(json_object_get(o, "data")) != 0)
            fail_msg("%s: round %d: stale tail reached the kernel: %s", name, round,
                     json_string_value(json_object_get(o, "text")));
        json_decref(o);
    }
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_short_payload_is_zero_extended_not_stale(void **state)
{
    (void)state;
    short_payload_is_zero_extended("short", echo_body(BRIDGE_THREAD));
}

/* In place the kernel reads the queue's cell itself: the bridge clears the
 * cell's tail past the payload before the kernel sees it.  vector_add reads
 * its whole struct: a request of 8 bytes (op add, a_len 2) in a cell that
 * last held a full request (a [1, 2], b [3, 4]) must reach it as a [0, 0]
 * and b [] (a length mismatch), never as the old request (a success). */
static void test_short_payload_read_in_place_is_zero_extended_not_stale(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("shortinl",
                               "\"queues\": {\"v.in\": {\"type\": \"vector_add.request\", "
                               "\"capacity\": 8}, \"v.out\": {\"type\": \"vector_add.response\"}}, "
                               "\"kernels\": [{\"name\": \"v\", \"plugin\": \"vector_add\", "
                               BRIDGE_INLINE "\"inputs\": {\"requests\": \"v.in\"}, "
                               "\"outputs\": {\"responses\": \"v.out\"}}]");
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_queue *in = rh_runtime_queue(rt, "v.in");
    const rh_type *t = rh_queue_type(rh_runtime_queue(rt, "v.out"));
    void *buf = NULL;
    rh_envelope env;
    for (int round = 0; round < 32; round++) {
        /* one full request, two in odd rounds: the short ones land in every
         * cell of v.in, each time after a full one used it */
        for (int f = 0; f < 1 + (round & 1); f++) {
            rt_send_json(rt, "v.in", "{\"op\": \"add\", \"a\": [1, 2], \"b\": [3, 4]}",
                         NULL);
            assert_true(rt_recv_one(rt, "v.out", &env, &buf, 5000) >= 0);
        }
        uint32_t head[2] = {0, 2}; /* op add, a_len 2: nothing else sent */
        assert_int_equal(rh_send(in, NULL, head, sizeof head, NULL), 0);
        assert_true(rt_recv_one(rt, "v.out", &env, &buf, 5000) >= 0);
        json_t *o = t->encode(buf);
        if (json_is_true(json_object_get(o, "success")))
            fail_msg("round %d: the kernel read the old request's tail in the cell "
                     "(processed %lld elements)", round,
                     (long long)json_integer_value(json_object_get(o, "processed_elements")));
        json_decref(o);
    }
    free(buf);
    rh_runtime_destroy(rt);
}

/* Output slots are reused: after the ring wrapped, an answer must carry
 * nothing of the earlier answer that used its slot (vector_add writes into
 * reserved slots in place). */
static void reused_output_slots_carry_nothing_stale(const char *name, const char *extra,
                                                   const char *out_capacity)
{
    char body[640];
    snprintf(body, sizeof body,
             "\"queues\": {\"v.in\": {\"type\": \"vector_add.request\"}, "
             "\"v.out\": {\"type\": \"vector_add.response\"%s}}, \"kernels\": "
             "[{\"name\": \"v\", \"plugin\": \"vector_add\", \"ring_capacity\": 8, %s"
             "\"inputs\": {\"requests\": \"v.in\"}, \"outputs\": "
             "{\"responses\": \"v.out\"}}]", out_capacity, extra);
    rh_runtime *rt = rt_launch(name, body);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    const rh_type *t = rh_queue_type(rh_runtime_queue(rt, "v.out"));
    void *buf = NULL;
    rh_envelope env;
    for (int i = 0; i < 64; i++) {
        int bad = i % 3 == 0; /* not a divisor of the ring size: slots see both kinds */
        rt_send_json(rt, "v.in", bad ? "{\"op\": \"add\", \"a\": [1, 2, 3], \"b\": [1]}"
                                  : "{\"op\": \"add\", \"a\": [1, 2], \"b\": [3, 4]}", NULL);
        assert_true(rt_recv_one(rt, "v.out", &env, &buf, 5000) >= 0);
        json_t *o = t->encode(buf);
        int success = json_is_true(json_object_get(o, "success"));
        const char *error = json_string_value(json_object_get(o, "error"));
        json_int_t processed = json_integer_value(json_object_get(o, "processed_elements"));
        size_t results = json_array_size(json_object_get(o, "result"));
        if (bad && (success || processed != 0 || results != 0 || !strstr(error, "mismatch")))
            fail_msg("answer %d (length mismatch) carries stale fields", i);
        if (!bad && (!success || processed != 2 || results != 2 || error[0] != '\0'))
            fail_msg("%s: answer %d (good) carries stale fields: error \"%s\"", name, i, error);
        json_decref(o);
    }
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_reused_output_slots_carry_nothing_stale(void **state)
{
    (void)state;
    reused_output_slots_carry_nothing_stale("reuse", BRIDGE_THREAD, "");
}

/* In place vector_add's rh_emit_reserve hands out a cell of v.out itself,
 * reused once the queue (capacity 8) wrapped. */
static void test_reused_output_cells_carry_nothing_stale(void **state)
{
    (void)state;
    reused_output_slots_carry_nothing_stale("reuseinl", BRIDGE_INLINE, ", \"capacity\": 8");
}


static void test_kernel_init_failure_fails_launch_naming_kernel_and_config(void **state)
{
    (void)state;
    rh_runtime *rt = NULL;
    rh_error err = {0};
    int rc = rt_try_launch("initfail", "\"kernels\": [{\"name\": \"s\", \"plugin\": \"scale\", "
                                    "\"config\": {\"factor\": \"x\"}}]", &rt, &err);
    assert_int_equal(rc, RH_EPLUGIN);
    assert_null(rt);
    assert_non_null(strstr(err.msg, "kernels[0]"));
    assert_non_null(strstr(err.msg, "init()"));
    assert_non_null(strstr(err.msg, "\"factor\""));
}

static void test_impossible_pin_fails_launch_unless_strict_is_false(void **state)
{
    (void)state;
    rh_runtime *rt = NULL;
    rh_error err = {0};
    const char *k = "\"queues\": {\"e.in\": {}, \"e.out\": {}}, "
                    "\"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", \"inputs\": "
                    "{\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}, \"pin\": "
                    "{\"dispatch\": \"core:9999\"}}]";
    char body[512];
    snprintf(body, sizeof body, "%s", k);
    assert_int_equal(rt_try_launch("pin", body, &rt, &err), RH_EPLACE);
    assert_non_null(strstr(err.msg, "kernels[0].pin.dispatch"));
    assert_non_null(strstr(err.msg, "core:9999"));
    snprintf(body, sizeof body, "\"strict\": false, %s", k);
    assert_int_equal(rt_try_launch("pinlax", body, &rt, &err), 0);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rt_send_json(rt, "e.in", "{\"seq\": 4}", NULL);
    void *buf = NULL;
    rh_envelope env;
    assert_true(rt_recv_one(rt, "e.out", &env, &buf, 5000) >= 0); /* runs unpinned */
    free(buf);
    rh_runtime_destroy(rt);
}

static void test_compact_placement_pins_every_thread(void **state)
{
    (void)state;
    rh_runtime *rt = NULL;
    rh_error err = {0};
    int rc = rt_try_launch("compact", "\"placement\": \"compact\", \"kernels\": [{\"name\": "
                                   "\"echo\", \"plugin\": \"echo\"}]", &rt, &err);
    if (rc)
        fail_msg("launch: %s", err.msg);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    rh_runtime_report_bindings(rt, mem);
    fclose(mem);
    assert_non_null(strstr(text, "binding:"));
    if (strstr(text, "pinned to cpus any"))
        fail_msg("compact placement left a thread unpinned:\n%s", text);
    free(text);
    rh_runtime_destroy(rt);
}

/* A kernel stuck in process() must not make terminate hang. */
static void test_terminate_returns_by_its_timeout_while_a_kernel_is_stuck(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("stuck", "\"queues\": {\"s.in\": {\"type\": \"echo.message\"}}, "
                                     "\"kernels\": [{\"name\": \"slow\", \"plugin\": \"slow\", "
                                     "\"batch\": 1, \"inputs\": {\"in\": \"s.in\"}, "
                                     "\"config\": {\"delay_us\": 3000000}}]");
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rt_send_json(rt, "s.in", "{\"seq\": 1}", NULL);
    EXPECT_WITHIN(2, rh_runtime_kernel_processed(rt, "slow") > 0 ||
                         rt->kernels[0].workers[0].busy,
                  "expected the slow kernel inside its 3 s call within 2 s of the send");
    sleep_ms(20); /* a sleep, not a wait: nothing shows its 3 s usleep has begun */
    uint64_t t0 = rh_now_ns();
    rh_error err = {0};
    int rc = rh_runtime_terminate(rt, 200, &err);
    double secs = (double)(rh_now_ns() - t0) / 1e9;
    assert_int_equal(rc, RH_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "did not stop"));
    /* 200 ms, then RH_STOP_GRACE_NS (1 s) for the join; the kernel's call
     * still has more than a second to run then */
    if (secs > 2.5)
        fail_msg("terminate(200 ms) took %.2f s with a stuck kernel", secs);
    assert_int_equal(rh_runtime_state(rt), RH_STATE_TERMINATED);
    char shm[256];
    snprintf(shm, sizeof shm, "/dev/shm/ringhost.%s:s.in", rh_runtime_instance(rt));
    assert_int_equal(access(shm, F_OK), 0);
    rh_runtime_destroy(rt); /* keeps the memory the stuck thread uses */
    if (access(shm, F_OK) == 0)
        fail_msg("%s left behind by a runtime with a stuck thread", shm);
}

static void test_kernel_rings_are_sized_by_type_unless_the_manifest_says(void **state)
{
    (void)state;
    assert_int_equal(rh__kernel_ring_slots(0, 64), 1024);       /* 112 KiB: the cap */
    assert_int_equal(rh__kernel_ring_slots(0, 8192), 256);      /* 8240 B x 256 < 4 MiB */
    assert_int_equal(rh__kernel_ring_slots(0, 16384), 128);
    assert_int_equal(rh__kernel_ring_slots(0, 65536), 64);      /* the floor */
    assert_int_equal(rh__kernel_ring_slots(0, 1u << 24), 64);   /* never below 64 */
    assert_int_equal(rh__kernel_ring_slots(8, 65536), 8);       /* ring_capacity wins */
    assert_int_equal(rh__kernel_ring_slots(4096, 64), 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_remembers_the_last_n_accepted_ids),
        cmocka_unit_test(test_dedup_forgets_ids_older_than_the_window),
        cmocka_unit_test(test_dedup_window_zero_is_off),
        cmocka_unit_test(test_dedup_large_window_has_no_false_positives),
        cmocka_unit_test(test_illegal_transitions_are_errors),
        cmocka_unit_test(test_deactivate_pauses_and_activate_resumes),
        cmocka_unit_test(test_terminate_processes_what_reached_the_kernel_and_reports),
        cmocka_unit_test(test_type_mismatch_names_both_types),
        cmocka_unit_test(test_unknown_port_lists_the_plugin_ports),
        cmocka_unit_test(test_unknown_plugin_lists_loaded_plugins),
        cmocka_unit_test(test_declared_type_must_exist),
        cmocka_unit_test(test_unwired_ports_get_automatic_queues),
        cmocka_unit_test(test_three_workers_answer_every_message_once),
        cmocka_unit_test(test_inline_bridge_answers_every_message_once),
        cmocka_unit_test(test_inline_bridge_with_workers_answers_every_message_once),
        cmocka_unit_test(test_spin_wait_answers_every_message_once),
        cmocka_unit_test(test_run_kernel_owning_its_loop_answers_every_message_once),
        cmocka_unit_test(test_run_kernel_pauses_resumes_and_stops),
        cmocka_unit_test(test_threads_follow_cores),
        cmocka_unit_test(test_duplicate_id_is_processed_once),
        cmocka_unit_test(test_duplicate_id_is_processed_once_by_inline_workers),
        cmocka_unit_test(test_expired_messages_never_reach_the_kernel_reading_in_place),
        cmocka_unit_test(test_invalid_message_in_a_cell_is_refused_and_dead_lettered_in_place),
        cmocka_unit_test(test_short_payload_read_in_place_is_zero_extended_not_stale),
        cmocka_unit_test(test_reused_output_cells_carry_nothing_stale),
        cmocka_unit_test(test_expired_messages_never_reach_the_kernel),
        cmocka_unit_test(test_invalid_message_is_refused_before_the_kernel_and_counted),
        cmocka_unit_test(test_short_payload_is_zero_extended_not_stale),
        cmocka_unit_test(test_reused_output_slots_carry_nothing_stale),
        cmocka_unit_test(test_kernel_init_failure_fails_launch_naming_kernel_and_config),
        cmocka_unit_test(test_impossible_pin_fails_launch_unless_strict_is_false),
        cmocka_unit_test(test_compact_placement_pins_every_thread),
        cmocka_unit_test(test_terminate_returns_by_its_timeout_while_a_kernel_is_stuck),
        cmocka_unit_test(test_kernel_rings_are_sized_by_type_unless_the_manifest_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
