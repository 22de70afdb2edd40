/*
 * test_slow.c — the slow kernel: an echo that sleeps delay_us per message.
 * Only lower bounds of time are asserted (a sleep never ends early); how fast
 * anything runs is for benchmarks, not unit tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "echo_message.h"
#include "ringhost/testing.h"

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Push n messages, process them, return the elapsed microseconds. */
static uint64_t process_timed(rh_harness *h, int n, rh_id *ids)
{
    for (int i = 0; i < n; i++) {
        echo_message m;
        memset(&m, 0, sizeof m);
        m.seq = (uint64_t)i;
        snprintf(m.text, sizeof m.text, "message %d", i);
        ids[i] = rh_harness_push(h, 0, &m, sizeof m);
    }
    uint64_t t0 = now_us();
    assert_int_equal(rh_harness_process(h, 0), 0);
    return now_us() - t0;
}

static void test_descriptor_matches_echo(void **unused)
{
    (void)unused;
    const rh_kernel_desc *d = rh_kernel_entry();
    assert_string_equal(d->name, "slow");
    assert_string_equal(d->inputs[0].name, "in");
    assert_string_equal(d->outputs[0].name, "out");
    assert_string_equal(d->inputs[0].type->name, "echo.message");
    assert_true(d->inputs[0].type->fingerprint == ECHO_MESSAGE_FINGERPRINT);
    assert_non_null(d->init);
    assert_non_null(d->fini);
}

static void test_default_delay_is_1000_us_per_message(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_int_equal(rh_harness_init(h, NULL), 0);
    rh_id ids[5];
    assert_true(process_timed(h, 5, ids) >= 5 * 1000);
    assert_int_equal(rh_harness_output_count(h), 5);
    rh_harness_free(h);
}

static void test_delay_us_from_config_is_slept_per_message(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_int_equal(rh_harness_init(h, "{\"delay_us\": 4000}"), 0);
    rh_id ids[4];
    assert_true(process_timed(h, 4, ids) >= 4 * 4000);
    rh_harness_free(h);
}

static void test_messages_come_back_unchanged_with_their_ids(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_int_equal(rh_harness_init(h, "{\"delay_us\": 0}"), 0);
    enum { N = 10 };
    rh_id ids[N];
    process_timed(h, N, ids);
    assert_int_equal(rh_harness_output_count(h), N);
    assert_int_equal(rh_harness_failure_count(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 0);
    for (uint32_t i = 0; i < N; i++) {
        const rh_harness_output *o = rh_harness_output_at(h, i);
        const echo_message *m = o->payload;
        char want[64];
        snprintf(want, sizeof want, "message %u", i);
        assert_int_equal(m->seq, i);
        assert_string_equal(m->text, want);
        assert_true(o->correlation_id.hi == ids[i].hi && o->correlation_id.lo == ids[i].lo);
    }
    rh_harness_free(h);
}

static void expect_refused(const char *config, const char *log_part)
{
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_true(rh_harness_init(h, config) < 0);
    assert_int_equal(rh_harness_log_count(h), 1);
    if (!strstr(rh_harness_last_log(h), log_part))
        fail_msg("config %s: expected a log line with \"%s\", got \"%s\"", config, log_part,
                 rh_harness_last_log(h));
    rh_harness_free(h);
}

static void test_bad_config_refuses_the_launch_with_a_reason(void **unused)
{
    (void)unused;
    expect_refused("{\"delay\": 5}", "delay: unknown key (slow knows delay_us)");
    expect_refused("{\"delay_us\": -1}", "delay_us: expected an integer in 0..60000000");
    expect_refused("{\"delay_us\": \"5\"}", "delay_us: expected an integer");
    expect_refused("{\"delay_us\": 1.5}", "delay_us: expected an integer");
    expect_refused("[1]", "expected a JSON object");
    expect_refused("{", "slow: config:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_matches_echo),
        cmocka_unit_test(test_default_delay_is_1000_us_per_message),
        cmocka_unit_test(test_delay_us_from_config_is_slept_per_message),
        cmocka_unit_test(test_messages_come_back_unchanged_with_their_ids),
        cmocka_unit_test(test_bad_config_refuses_the_launch_with_a_reason),
    };
    return cmocka_run_group_tests_name("slow", tests, NULL, NULL);
}
