/*
 * test_stats.c — the stats kernel, driven in-process by ringhost/testing.h:
 * messages in as JSON or as structs, what it emits checked as JSON or as the
 * struct, and its plugin file loaded as the host would load it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ringhost/testing.h"
#include "stats_samples.h"
#include "stats_summary.h"

/* The linked kernel (ringhost_add_kernel_test links stats_kernel). */
static rh_harness *open_stats(void)
{
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_non_null(h);
    assert_int_equal(rh_harness_init(h, NULL), 0);
    return h;
}

static void push_json(rh_harness *h, const char *json)
{
    char why[256];
    if (rh_harness_push_json(h, rh_harness_input_port(h, "in"), json, NULL, why, sizeof why))
        fail_msg("push_json %s: %s", json, why);
}

static void expect_json(rh_harness *h, uint32_t i, const char *json)
{
    char why[1024];
    if (rh_harness_expect_json(h, i, json, why, sizeof why))
        fail_msg("%s", why);
}

static void test_summary_of_samples_given_as_json(void **unused)
{
    (void)unused;
    rh_harness *h = open_stats();
    push_json(h, "{\"values\": [1, 2, 3, 4]}");
    push_json(h, "{\"values\": [-1.5, 0.5]}");
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), 2);
    expect_json(h, 0, "{\"count\": 4, \"min\": 1, \"max\": 4, \"mean\": 2.5}");
    expect_json(h, 1, "{\"count\": 2, \"min\": -1.5, \"max\": 0.5, \"mean\": -0.5}");
    assert_int_equal(rh_harness_failure_count(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 0);
    rh_harness_free(h);
}

static void test_summary_of_a_struct_answers_its_input(void **unused)
{
    (void)unused;
    stats_samples s;
    memset(&s, 0, sizeof s);
    s.values_len = 3;
    s.values[0] = 10;
    s.values[1] = -20;
    s.values[2] = 40;
    rh_harness *h = open_stats();
    rh_id id = rh_harness_push(h, 0, &s, sizeof s);
    assert_int_equal(rh_harness_process(h, 0), 0);
    const rh_harness_output *o = rh_harness_output_at(h, 0);
    assert_non_null(o);
    assert_int_equal(o->port, rh_harness_output_port(h, "out"));
    assert_true(o->has_correlation);
    assert_true(o->correlation_id.hi == id.hi && o->correlation_id.lo == id.lo);
    assert_true(o->valid);
    const stats_summary *sum = o->payload;
    assert_int_equal(sum->count, 3);
    assert_true(sum->min == -20 && sum->max == 40 && sum->mean == 10);
    rh_harness_free(h);
}

static void test_no_samples_is_failed_with_a_reason(void **unused)
{
    (void)unused;
    rh_harness *h = open_stats();
    push_json(h, "{\"values\": []}");
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), 0);
    assert_int_equal(rh_harness_failure_count(h), 1);
    assert_string_equal(rh_harness_failure_at(h, 0)->reason, "stats: no samples");
    rh_harness_free(h);
}

/* The .so the build wrote: what the host will load from plugins/. */
static void test_plugin_file_loads_as_the_host_loads_it(void **unused)
{
    (void)unused;
    char why[1024];
    rh_harness *h = rh_harness_load(RH_KERNEL_PLUGIN_PATH, why, sizeof why);
    if (!h)
        fail_msg("%s", why);
    assert_string_equal(rh_harness_desc(h)->name, "stats");
    push_json(h, "{\"values\": [7]}");
    assert_int_equal(rh_harness_process(h, 0), 0);
    expect_json(h, 0, "{\"count\": 1, \"min\": 7, \"max\": 7, \"mean\": 7}");
    rh_harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_of_samples_given_as_json),
        cmocka_unit_test(test_summary_of_a_struct_answers_its_input),
        cmocka_unit_test(test_no_samples_is_failed_with_a_reason),
        cmocka_unit_test(test_plugin_file_loads_as_the_host_loads_it),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
