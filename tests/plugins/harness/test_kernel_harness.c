/*
 * test_kernel_harness.c — the fake host of ringhost/testing.h:
 * run() kernels, batch failures, and the API misuse it must report (each of
 * which would lose a message in a real host).  The kernels are defined here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bad_message.h"
#include "ringhost/testing.h"

static const rh_port ports[] = {{.name = "in", .type = &bad_message_type}};
static const rh_port outs[] = {{.name = "out", .type = &bad_message_type}};

/* A run() kernel: polls two at a time, emits n + 1 for each, until told to stop. */
static int plus_one_run(rh_ctx *ctx, void *state)
{
    (void)state;
    while (!rh_should_stop(ctx)) {
        rh_batch b;
        int n = rh_poll(ctx, &b, 2, 10);
        if (n < 0)
            break;
        for (int i = 0; i < n; i++) {
            bad_message out = {.n = ((const bad_message *)b.msgs[i].data)->n + 1};
            rh_emit(ctx, 0, &b.msgs[i], &out, sizeof out);
        }
    }
    return 0;
}

static const rh_kernel_desc run_desc = {
    RH_KERNEL_ABI,      .name = "plus_one", .inputs = ports, .n_inputs = 1,
    .outputs = outs,    .n_outputs = 1,     .run = plus_one_run,
};

/* A process() kernel whose behaviour the test picks through the message. */
enum { DO_EMIT, DO_FAIL_BATCH, DO_RESERVE_TWICE, DO_COMMIT_ONLY, DO_BAD_PORT, DO_TOO_LONG,
       DO_RESERVE_ONLY, DO_FAIL_ONE };

static int misuse_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        uint32_t what = ((const bad_message *)in->data)->n;
        char big[64] = {0};
        switch (what) {
        case DO_EMIT:
            assert_int_equal(rh_emit(ctx, 0, in, in->data, sizeof(bad_message)), 0);
            break;
        case DO_FAIL_BATCH:
            return -5;
        case DO_RESERVE_TWICE:
            assert_non_null(rh_emit_reserve(ctx, 0));
            assert_null(rh_emit_reserve(ctx, 0));
            assert_int_equal(rh_emit_commit(ctx, 0, in, sizeof(bad_message)), 0);
            break;
        case DO_COMMIT_ONLY:
            assert_true(rh_emit_commit(ctx, 0, in, sizeof(bad_message)) < 0);
            break;
        case DO_BAD_PORT:
            assert_true(rh_emit(ctx, 1, in, in->data, sizeof(bad_message)) < 0);
            assert_null(rh_emit_reserve(ctx, 7));
            break;
        case DO_TOO_LONG:
            assert_true(rh_emit(ctx, 0, in, big, sizeof big) < 0);
            break;
        case DO_RESERVE_ONLY:
            assert_non_null(rh_emit_reserve(ctx, 0));
            break;
        case DO_FAIL_ONE:
            rh_fail(ctx, in, "could not");
            break;
        }
    }
    return 0;
}

static const rh_kernel_desc misuse_desc = {
    RH_KERNEL_ABI,   .name = "misuse",  .inputs = ports,           .n_inputs = 1,
    .outputs = outs, .n_outputs = 1,    .process = misuse_process,
};

static rh_id push_n(rh_harness *h, uint32_t n)
{
    bad_message m = {.n = n};
    return rh_harness_push(h, 0, &m, sizeof m);
}

static void test_run_kernel_polls_every_input_then_stops(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(&run_desc);
    rh_id ids[5];
    for (uint32_t i = 0; i < 5; i++)
        ids[i] = push_n(h, 10 * i);
    assert_int_equal(rh_harness_run(h), 0);
    assert_int_equal(rh_harness_pending(h), 0);
    assert_int_equal(rh_harness_output_count(h), 5);
    for (uint32_t i = 0; i < 5; i++) {
        const rh_harness_output *o = rh_harness_output_at(h, i);
        assert_int_equal(((const bad_message *)o->payload)->n, 10 * i + 1);
        assert_true(o->correlation_id.lo == ids[i].lo && o->correlation_id.hi == ids[i].hi);
    }
    assert_int_equal(rh_harness_api_errors(h), 0);
    assert_int_equal(rh_harness_process(h, 0), -1001); /* no process() */
    rh_harness_free(h);
}

static void test_negative_process_result_fails_every_message_of_the_batch(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(&misuse_desc);
    push_n(h, DO_EMIT);
    rh_id a = push_n(h, DO_FAIL_BATCH);
    rh_id b = push_n(h, DO_EMIT);
    push_n(h, DO_EMIT);
    assert_int_equal(rh_harness_process(h, 2), -5); /* batches {emit, fail}, {emit, emit} */
    assert_int_equal(rh_harness_output_count(h), 3);
    assert_int_equal(rh_harness_failure_count(h), 2);
    assert_string_equal(rh_harness_failure_at(h, 0)->reason, "batch failed: process returned -5");
    assert_true(rh_harness_failure_at(h, 1)->id.lo == a.lo);
    assert_true(b.lo == a.lo + 1);
    rh_harness_free(h);
}

static void test_kernel_failure_is_recorded_with_its_reason(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(&misuse_desc);
    rh_id id = push_n(h, DO_FAIL_ONE);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_failure_count(h), 1);
    const rh_harness_failure *f = rh_harness_failure_at(h, 0);
    assert_true(f->has_msg && f->id.lo == id.lo && f->id.hi == id.hi);
    assert_string_equal(f->reason, "could not");
    rh_harness_free(h);
}

static void expect_misuse(uint32_t what, const char *text, uint32_t outputs)
{
    rh_harness *h = rh_harness_new(&misuse_desc);
    push_n(h, what);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), outputs);
    assert_true(rh_harness_api_errors(h) >= 1);
    if (!strstr(rh_harness_last_api_error(h), text))
        fail_msg("expected an API error with \"%s\", got \"%s\"", text,
                 rh_harness_last_api_error(h));
    rh_harness_clear(h);
    assert_int_equal(rh_harness_api_errors(h), 0);
    rh_harness_free(h);
}

static void test_api_misuse_is_reported(void **unused)
{
    (void)unused;
    expect_misuse(DO_RESERVE_TWICE, "already has a reserved slot", 1);
    expect_misuse(DO_COMMIT_ONLY, "has no reserved slot", 0);
    expect_misuse(DO_BAD_PORT, "port 7, but kernel \"misuse\" has 1 outputs", 0);
    expect_misuse(DO_TOO_LONG, "64 bytes", 0);
    expect_misuse(DO_RESERVE_ONLY, "process returned with a reserved, uncommitted slot", 0);
}

static void test_push_to_a_missing_port_gives_no_id(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(&misuse_desc);
    bad_message m = {.n = 1};
    rh_id id = rh_harness_push(h, 1, &m, sizeof m);
    assert_true(id.hi == 0 && id.lo == 0);
    char big[64] = {0};
    id = rh_harness_push(h, 0, big, sizeof big);
    assert_true(id.hi == 0 && id.lo == 0);
    assert_int_equal(rh_harness_pending(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 2);
    char why[128];
    assert_int_equal(rh_harness_push_json(h, 0, "{\"n\": -1}", NULL, why, sizeof why), -1);
    assert_string_equal(why, "n: expected an integer in 0..4294967295, got -1");
    assert_int_equal(rh_harness_push_json(h, 0, "{", NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "JSON: "));
    rh_harness_free(h);
}

static void test_stopping_host_refuses_emits(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(&misuse_desc);
    rh_harness_set_stopping(h, 1);
    assert_int_equal(rh_harness_init(h, NULL), 0);
    bad_message m = {.n = 0};
    assert_int_equal(rh_emit(rh_harness_ctx(h), 0, NULL, &m, sizeof m), RH_ESTOPPED);
    assert_null(rh_emit_reserve(rh_harness_ctx(h), 0));
    assert_true(rh_should_stop(rh_harness_ctx(h)));
    rh_harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_kernel_polls_every_input_then_stops),
        cmocka_unit_test(test_negative_process_result_fails_every_message_of_the_batch),
        cmocka_unit_test(test_kernel_failure_is_recorded_with_its_reason),
        cmocka_unit_test(test_api_misuse_is_reported),
        cmocka_unit_test(test_push_to_a_missing_port_gives_no_id),
        cmocka_unit_test(test_stopping_host_refuses_emits),
    };
    return cmocka_run_group_tests_name("kernel_harness", tests, NULL, NULL);
}
