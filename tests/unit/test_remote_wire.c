/*
 * test_remote_wire.c — the wire format of a message through JetStream
 * (host/src/remote/wire.h): what is encoded decodes the same, and what is
 * not a message of this version is refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "remote/wire.h"
#include "ringhost/ringhost.h"

static void test_an_encoded_message_decodes_to_the_same_envelope_and_payload(void **s)
{
    (void)s;
    rh_envelope env = {.id = {0x0123456789abcdefull, 0xfedcba9876543210ull},
                       .correlation_id = {7, 9},
                       .priority = 200,
                       .flags = RH_ENV_HAS_CORRELATION | RH_ENV_REDELIVERED};
    const char payload[] = "hello, hub";
    uint8_t buf[RH_WIRE_HEADER + sizeof payload];
    rh__wire_encode(buf, &env, 0x1122334455667788ull, payload, sizeof payload);
    assert_memory_equal(buf, "RH\x01", 3);
    rh_envelope out;
    uint64_t fp;
    const uint8_t *p;
    const char *why = NULL;
    assert_int_equal(rh__wire_decode(buf, sizeof buf, &out, &fp, &p, &why), 0);
    assert_true(rh_id_eq(out.id, env.id));
    assert_true(rh_id_eq(out.correlation_id, env.correlation_id));
    assert_int_equal(out.priority, 200);
    /* redelivered is the receiver's to say, never carried over */
    assert_int_equal(out.flags, RH_ENV_HAS_CORRELATION);
    assert_int_equal(fp, 0x1122334455667788ull);
    assert_int_equal(out.payload_len, sizeof payload);
    assert_memory_equal(p, payload, sizeof payload);
}

static void test_another_version_a_short_or_a_foreign_message_is_refused_with_a_reason(void **s)
{
    (void)s;
    rh_envelope env = {.id = {1, 2}}, out;
    uint8_t buf[RH_WIRE_HEADER + 4];
    uint64_t fp;
    const uint8_t *p;
    const char *why;
    rh__wire_encode(buf, &env, 1, "abcd", 4);
    buf[2] = RH_WIRE_VERSION + 1;
    why = NULL;
    assert_int_equal(rh__wire_decode(buf, sizeof buf, &out, &fp, &p, &why), -1);
    assert_non_null(strstr(why, "version"));
    buf[2] = RH_WIRE_VERSION;
    why = NULL;
    assert_int_equal(rh__wire_decode(buf, sizeof buf - 1, &out, &fp, &p, &why), -1);
    assert_non_null(strstr(why, "length"));
    why = NULL;
    assert_int_equal(rh__wire_decode((const uint8_t *)"{\"op\":1}", 8, &out, &fp, &p, &why), -1);
    assert_non_null(strstr(why, "not a ringhost message"));
}

static void test_the_msg_id_is_32_lowercase_hex_digits_of_the_id(void **s)
{
    (void)s;
    char out[33];
    rh__wire_msg_id((rh_id){0x0123456789abcdefull, 0x00000000000000ffull}, out);
    assert_string_equal(out, "0123456789abcdef00000000000000ff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_encoded_message_decodes_to_the_same_envelope_and_payload),
        cmocka_unit_test(
            test_another_version_a_short_or_a_foreign_message_is_refused_with_a_reason),
        cmocka_unit_test(test_the_msg_id_is_32_lowercase_hex_digits_of_the_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
