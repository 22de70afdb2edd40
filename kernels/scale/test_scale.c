/*
 * test_scale.c — the scale kernel: values times config "factor" (default 2).
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
#include "vector_f32.h"

/* Run the kernel configured with config on one vector; check the output is
 * its scaled copy, answering it. */
static void expect_scaled(const char *config, const float *in, uint32_t n, const float *want)
{
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_int_equal(rh_harness_init(h, config), 0);
    vector_f32 *v = calloc(1, sizeof *v);
    v->values_len = n;
    if (n)
        memcpy(v->values, in, n * sizeof *in);
    rh_id id = rh_harness_push(h, 0, v, sizeof *v);
    free(v);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), 1);
    assert_int_equal(rh_harness_failure_count(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 0);
    const rh_harness_output *o = rh_harness_output_at(h, 0);
    assert_true(o->valid);
    assert_true(o->correlation_id.hi == id.hi && o->correlation_id.lo == id.lo);
    const vector_f32 *out = o->payload;
    assert_int_equal(out->values_len, n);
    for (uint32_t i = 0; i < n; i++)
        if (out->values[i] != want[i])
            fail_msg("values[%u]: expected %g, got %g", i, (double)want[i],
                     (double)out->values[i]);
    rh_harness_free(h);
}

static void test_descriptor_declares_vector_f32_in_and_out(void **unused)
{
    (void)unused;
    const rh_kernel_desc *d = rh_kernel_entry();
    assert_string_equal(d->name, "scale");
    assert_string_equal(d->inputs[0].name, "in");
    assert_string_equal(d->outputs[0].name, "out");
    assert_string_equal(d->inputs[0].type->name, "vector.f32");
    assert_ptr_equal(d->outputs[0].type, &vector_f32_type);
}

static void test_default_factor_doubles(void **unused)
{
    (void)unused;
    const float in[] = {1, 2, 3, -4.5f};
    const float want[] = {2, 4, 6, -9};
    expect_scaled(NULL, in, 4, want);
    expect_scaled("{}", in, 4, want);
}

static void test_factor_comes_from_config(void **unused)
{
    (void)unused;
    const float in[] = {1.5f, -2, 0, 10};
    const float times3[] = {4.5f, -6, 0, 30};
    const float half[] = {0.75f, -1, 0, 5};
    const float neg[] = {-1.5f, 2, -0.0f, -10};
    expect_scaled("{\"factor\": 3}", in, 4, times3);
    expect_scaled("{\"factor\": 0.5}", in, 4, half);
    expect_scaled("{\"factor\": -1}", in, 4, neg);
}

static void test_1024_values_and_empty_vectors_are_scaled(void **unused)
{
    (void)unused;
    static float in[1024], want[1024];
    for (int i = 0; i < 1024; i++) {
        in[i] = (float)i;
        want[i] = (float)(i * 2);
    }
    expect_scaled(NULL, in, 1024, want);
    expect_scaled(NULL, NULL, 0, NULL);
}

static void test_bad_config_refuses_the_launch(void **unused)
{
    (void)unused;
    static const char *const bad[] = {"{\"factor\": \"2\"}", "{\"gain\": 2}", "[]", "nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rh_harness *h = rh_harness_new(rh_kernel_entry());
        if (rh_harness_init(h, bad[i]) >= 0)
            fail_msg("config %s was accepted", bad[i]);
        assert_non_null(strstr(rh_harness_last_log(h), "scale: config:"));
        rh_harness_free(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_declares_vector_f32_in_and_out),
        cmocka_unit_test(test_default_factor_doubles),
        cmocka_unit_test(test_factor_comes_from_config),
        cmocka_unit_test(test_1024_values_and_empty_vectors_are_scaled),
        cmocka_unit_test(test_bad_config_refuses_the_launch),
    };
    return cmocka_run_group_tests_name("scale", tests, NULL, NULL);
}
