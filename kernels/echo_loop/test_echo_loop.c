/*
 * test_echo_loop.c — the persistent echo kernel, driven through run() by the
 * harness: it answers everything it polled, then returns when told to stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "echo_message.h"
#include "ringhost/testing.h"

static void test_descriptor_provides_run_and_not_process(void **unused)
{
    (void)unused;
    const rh_kernel_desc *d = rh_kernel_entry();
    assert_string_equal(d->name, "echo_loop");
    assert_non_null(d->run);
    assert_null(d->process);
}

static void test_run_answers_every_polled_message_then_returns(void **unused)
{
    (void)unused;
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_non_null(h);
    assert_int_equal(rh_harness_init(h, NULL), 0);
    rh_id ids[5];
    for (int i = 0; i < 5; i++) {
        echo_message m;
        memset(&m, 0, sizeof m);
        m.seq = (uint64_t)i;
        ids[i] = rh_harness_push(h, 0, &m, sizeof m);
    }
    assert_int_equal(rh_harness_run(h), 0);
    assert_int_equal(rh_harness_output_count(h), 5);
    for (uint32_t i = 0; i < 5; i++) {
        const rh_harness_output *o = rh_harness_output_at(h, i);
        assert_true(o->has_correlation);
        assert_true(o->correlation_id.hi == ids[i].hi && o->correlation_id.lo == ids[i].lo);
        assert_int_equal(((const echo_message *)o->payload)->seq, i);
    }
    assert_int_equal(rh_harness_api_errors(h), 0);
    rh_harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_provides_run_and_not_process),
        cmocka_unit_test(test_run_answers_every_polled_message_then_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
