/*
 * test_echo.c — the echo kernel: every message comes back byte for byte,
 * answering its input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "echo_message.h"
#include "ringhost/testing.h"

static rh_harness *open_kernel(void)
{
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_non_null(h);
    assert_int_equal(rh_harness_init(h, NULL), 0);
    return h;
}

static void assert_answers(const rh_harness_output *o, rh_id id)
{
    assert_true(o->has_correlation);
    assert_true(o->correlation_id.hi == id.hi && o->correlation_id.lo == id.lo);
}

static void test_descriptor_declares_in_and_out_of_echo_message(void **unused)
{
    (void)unused;
    const rh_kernel_desc *d = rh_kernel_entry();
    assert_string_equal(d->name, "echo");
    assert_int_equal(d->n_inputs, 1);
    assert_string_equal(d->inputs[0].name, "in");
    assert_int_equal(d->n_outputs, 1);
    assert_string_equal(d->outputs[0].name, "out");
    assert_ptr_equal(d->inputs[0].type, &echo_message_type);
    assert_ptr_equal(d->outputs[0].type, &echo_message_type);
    assert_string_equal(echo_message_type.name, "echo.message");
}

static void test_message_comes_back_byte_for_byte(void **unused)
{
    (void)unused;
    echo_message m;
    memset(&m, 0, sizeof m);
    m.seq = 42;
    strcpy(m.text, "hello, ring");
    m.data_len = ECHO_MESSAGE_DATA_MAX;
    for (int i = 0; i < ECHO_MESSAGE_DATA_MAX; i++)
        m.data[i] = (uint8_t)(255 - i);
    rh_harness *h = open_kernel();
    rh_id id = rh_harness_push(h, 0, &m, sizeof m);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), 1);
    assert_int_equal(rh_harness_failure_count(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 0);
    const rh_harness_output *o = rh_harness_output_at(h, 0);
    assert_int_equal(o->len, sizeof m);
    assert_memory_equal(o->payload, &m, sizeof m);
    assert_true(o->valid);
    assert_answers(o, id);
    rh_harness_free(h);
}

static void test_short_payload_comes_back_with_its_length(void **unused)
{
    (void)unused;
    echo_message m;
    memset(&m, 0, sizeof m);
    m.seq = 7;
    rh_harness *h = open_kernel();
    rh_harness_push(h, 0, &m, offsetof(echo_message, text) + 1);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_at(h, 0)->len, offsetof(echo_message, text) + 1);
    rh_harness_free(h);
}

static void test_many_messages_come_back_in_order_with_their_ids(void **unused)
{
    (void)unused;
    enum { N = 100 };
    rh_id ids[N];
    rh_harness *h = open_kernel();
    for (int i = 0; i < N; i++) {
        echo_message m;
        memset(&m, 0, sizeof m);
        m.seq = (uint64_t)i;
        ids[i] = rh_harness_push(h, 0, &m, sizeof m);
    }
    assert_int_equal(rh_harness_process(h, 32), 0);
    assert_int_equal(rh_harness_output_count(h), N);
    for (uint32_t i = 0; i < N; i++) {
        const rh_harness_output *o = rh_harness_output_at(h, i);
        assert_int_equal(((const echo_message *)o->payload)->seq, i);
        assert_answers(o, ids[i]);
    }
    rh_harness_free(h);
}

static void test_json_message_round_trips(void **unused)
{
    (void)unused;
    static const char *const cases[] = {
        "{\"seq\":7,\"text\":\"h\\u00e9llo\",\"data\":[0,1,255]}",
        /* past INT64_MAX a u64 travels as a decimal string */
        "{\"seq\":\"18446744073709551615\",\"text\":\"\",\"data\":[]}",
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rh_harness *h = open_kernel();
        char why[256] = "";
        if (rh_harness_push_json(h, 0, cases[c], NULL, why, sizeof why) != 0)
            fail_msg("push_json: %s", why);
        assert_int_equal(rh_harness_process(h, 0), 0);
        char *text = rh_harness_output_json(h, 0);
        assert_non_null(text);
        char *want = strdup(cases[c]);
        /* jansson writes é as raw UTF-8 */
        char *esc = strstr(want, "\\u00e9");
        if (esc) {
            esc[0] = (char)0xc3;
            esc[1] = (char)0xa9;
            memmove(esc + 2, esc + 6, strlen(esc + 6) + 1);
        }
        assert_string_equal(text, want);
        free(want);
        free(text);
        rh_harness_free(h);
    }
}

static void test_json_text_longer_than_max_is_refused(void **unused)
{
    (void)unused;
    char text[128 + 64], why[256];
    snprintf(text, sizeof text, "{\"seq\": 0, \"text\": \"%065d\"}", 0);
    rh_harness *h = open_kernel();
    assert_int_equal(rh_harness_push_json(h, 0, text, NULL, why, sizeof why), -1);
    assert_string_equal(why, "text: expected at most 64 bytes, got 65");
    assert_int_equal(rh_harness_push_json(h, 0, "{\"seq\": 0, \"data\": [256]}", NULL, why, sizeof why), -1);
    assert_string_equal(why, "data[0]: expected an integer in 0..255, got 256");
    assert_int_equal(rh_harness_push_json(h, 0, "{\"seq\": -1}", NULL, why, sizeof why), -1);
    assert_string_equal(why, "seq: expected an integer in 0..18446744073709551615, got -1");
    assert_int_equal(rh_harness_pending(h), 0);
    rh_harness_free(h);
}

static void test_validate_refuses_invalid_utf8_text(void **unused)
{
    (void)unused;
    echo_message m;
    memset(&m, 0, sizeof m);
    char why[128];
    m.text[0] = (char)0xc3; /* a lead byte with no continuation */
    assert_int_equal(echo_message_validate(&m, why, sizeof why), -1);
    assert_string_equal(why, "text: expected UTF-8, got an invalid byte at 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_declares_in_and_out_of_echo_message),
        cmocka_unit_test(test_message_comes_back_byte_for_byte),
        cmocka_unit_test(test_short_payload_comes_back_with_its_length),
        cmocka_unit_test(test_many_messages_come_back_in_order_with_their_ids),
        cmocka_unit_test(test_json_message_round_trips),
        cmocka_unit_test(test_json_text_longer_than_max_is_refused),
        cmocka_unit_test(test_validate_refuses_invalid_utf8_text),
    };
    return cmocka_run_group_tests_name("echo", tests, NULL, NULL);
}
