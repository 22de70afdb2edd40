/*
 * test_sum.c — the sum kernel: sum (in double) and count of a vector.
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
#include "sum_result.h"
#include "vector_f32.h"

static const sum_result *sum_of(rh_harness *h, const float *in, uint32_t n)
{
    vector_f32 *v = calloc(1, sizeof *v);
    v->values_len = n;
    if (n)
        memcpy(v->values, in, n * sizeof *in);
    rh_id id = rh_harness_push(h, 0, v, sizeof *v);
    free(v);
    rh_harness_clear(h);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), 1);
    assert_int_equal(rh_harness_failure_count(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 0);
    const rh_harness_output *o = rh_harness_output_at(h, 0);
    assert_true(o->valid);
    assert_int_equal(o->len, sizeof(sum_result));
    assert_true(o->correlation_id.hi == id.hi && o->correlation_id.lo == id.lo);
    return o->payload;
}

static void test_descriptor_declares_vector_in_and_result_out(void **unused)
{
    (void)unused;
    const rh_kernel_desc *d = rh_kernel_entry();
    assert_string_equal(d->name, "sum");
    assert_string_equal(d->inputs[0].type->name, "vector.f32");
    assert_string_equal(d->outputs[0].type->name, "sum.result");
    assert_true(d->inputs[0].type->fingerprint == VECTOR_F32_FINGERPRINT);
}

static void test_sum_and_count_of_values(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    const float four[] = {1, 2, 3, 4};
    const sum_result *r = sum_of(h, four, 4);
    assert_true(r->sum == 10.0);
    assert_int_equal(r->count, 4);
    const float mixed[] = {1.5f, -0.25f, 100};
    r = sum_of(h, mixed, 3);
    assert_true(r->sum == 101.25);
    assert_int_equal(r->count, 3);
    rh_harness_free(h);
}

static void test_empty_vector_sums_to_zero(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    const sum_result *r = sum_of(h, NULL, 0);
    assert_true(r->sum == 0.0);
    assert_int_equal(r->count, 0);
    rh_harness_free(h);
}

static void test_1024_values_sum_in_double(void **unused)
{
    (void)unused;
    static float in[1024];
    for (int i = 0; i < 1024; i++)
        in[i] = 16777216.0f + (float)(i % 2 ? 2 : 0); /* 2^24: float alone would lose the 2s */
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    const sum_result *r = sum_of(h, in, 1024);
    assert_true(r->sum == 1024.0 * 16777216.0 + 512 * 2);
    assert_int_equal(r->count, 1024);
    rh_harness_free(h);
}

static void test_json_vector_gives_json_result(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    char why[128] = "";
    if (rh_harness_push_json(h, 0, "{\"values\": [1.5, 2.5, 4]}", NULL, why, sizeof why))
        fail_msg("push_json: %s", why);
    assert_int_equal(rh_harness_process(h, 0), 0);
    char *text = rh_harness_output_json(h, 0);
    assert_string_equal(text, "{\"sum\":8.0,\"count\":3}");
    free(text);
    rh_harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_declares_vector_in_and_result_out),
        cmocka_unit_test(test_sum_and_count_of_values),
        cmocka_unit_test(test_empty_vector_sums_to_zero),
        cmocka_unit_test(test_1024_values_sum_in_double),
        cmocka_unit_test(test_json_vector_gives_json_result),
    };
    return cmocka_run_group_tests_name("sum", tests, NULL, NULL);
}
