/*
 * test_answers.c — the envelope of every answer, whichever path wrote it:
 * the fast path of an inline kernel's rh_emit (engine/emit_fast.h), the
 * general in-place path (a copy of the rh_msg, rh_emit_reserve/commit),
 * and the copying path of pump threads ("bridge": "thread").  With the
 * "fanout" test kernel (tests/plugins/fanout): each answer's id must be
 * rh_answer_id(input id, port, index among that input's answers on the
 * port), its correlation the input's id; an output answering nobody gets
 * a drawn id and no correlation; per port, answers keep the inputs' order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_fixture.h"
#include "ringhost/answer_id.h"

enum { N = 600 };

#define FANOUT(bridge, batch)                                                                     \
    "\"queues\": {\"f.in\": {\"capacity\": 1024}, \"f.a\": {\"capacity\": 2048},"              \
    " \"f.b\": {\"capacity\": 2048}},"                                                          \
    "\"kernels\": [{\"name\": \"f\", \"plugin\": \"fanout\", \"bridge\": \"" bridge "\","      \
    " \"batch\": " #batch ", \"inputs\": {\"in\": \"f.in\"},"                                   \
    " \"outputs\": {\"a\": \"f.a\", \"b\": \"f.b\"}}]"

static void check_answers(const char *name, const char *body)
{
    rh_runtime *rt = rt_launch(name, body);
    rh_error err = {0};
    /* queued before the kernel runs: it takes them in whole batches */
    static rh_id ids[N];
    for (int s = 0; s < N; s++) {
        char json[64];
        snprintf(json, sizeof json, "{\"seq\": %d, \"text\": \"m\"}", s);
        rt_send_json(rt, "f.in", json, &ids[s]);
    }
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    /* port a: one answer per input, in order, and an unsolicited one after
     * every input whose seq % 8 == 7 */
    int next = 0, unsolicited = 0;
    void *buf = NULL;
    rh_envelope env;
    for (int got = 0; got < N + N / 8; got++) {
        int rc = rt_recv_one(rt, "f.a", &env, &buf, 5000);
        if (rc < 0)
            fail_msg("%s: f.a: expected %d messages, got %d (rc %d)", name, N + N / 8, got, rc);
        const char *text = (const char *)buf + 8; /* echo.message: seq, then text */
        if (strcmp(text, "unsolicited") == 0) {
            EXPECT(!(env.flags & RH_ENV_HAS_CORRELATION) && !rh_id_is_zero(env.id),
                   "%s: an output answering nobody: expected no correlation and a drawn id",
                   name);
            EXPECT(next > 0 && (next - 1) % 8 == 7, "%s: unsolicited after seq %d", name,
                   next - 1);
            unsolicited++;
            continue;
        }
        EXPECT(next < N, "%s: f.a: more answers than inputs", name);
        rh_id want = rh_answer_id(ids[next], 0, 0);
        EXPECT(rh_id_eq(env.id, want) && rh_id_eq(env.correlation_id, ids[next]) &&
                   (env.flags & RH_ENV_HAS_CORRELATION),
               "%s: f.a answer %d: expected id rh_answer_id(input, 0, 0) and its correlation",
               name, next);
        next++;
    }
    assert_int_equal(next, N);
    assert_int_equal(unsolicited, N / 8);
    /* port b: s % 3 answers to input s, indexes 0 and 1 */
    int b_total = 0;
    for (int s = 0; s < N; s++)
        for (int k = 0; k < s % 3; k++) {
            int rc = rt_recv_one(rt, "f.b", &env, &buf, 5000);
            if (rc < 0)
                fail_msg("%s: f.b: expected answer %d of input %d, got rc %d", name, k, s, rc);
            rh_id want = rh_answer_id(ids[s], 1, (uint32_t)k);
            EXPECT(rh_id_eq(env.id, want) && rh_id_eq(env.correlation_id, ids[s]),
                   "%s: f.b: answer %d of input %d: expected rh_answer_id(input, 1, %d)", name,
                   k, s, k);
            b_total++;
        }
    EXPECT(rt_recv_one(rt, "f.b", &env, &buf, 0) < 0, "%s: f.b: more answers than expected",
           name);
    assert_int_equal(b_total, N / 3 * 3);
    free(buf);
    assert_int_equal(rh_runtime_terminate(rt, 5000, &err), 0);
    rh_runtime_destroy(rt);
}

static void test_inline_answers_carry_the_derived_ids_on_every_emit_path(void **state)
{
    (void)state;
    check_answers("inline", FANOUT("inline", 32));
}

static void test_a_batch_of_one_gives_the_same_ids(void **state)
{
    (void)state;
    check_answers("inline1", FANOUT("inline", 1));
}

static void test_pump_threads_give_the_same_ids(void **state)
{
    (void)state;
    check_answers("thread", FANOUT("thread", 32));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_answers_carry_the_derived_ids_on_every_emit_path),
        cmocka_unit_test(test_a_batch_of_one_gives_the_same_ids),
        cmocka_unit_test(test_pump_threads_give_the_same_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
