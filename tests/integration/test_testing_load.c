/*
 * test_testing_load.c — ringhost/testing.h as a kernel author outside the tree
 * uses it: load the kernel's .so the way the host does (and be told exactly
 * why the host would refuse it), name ports, feed JSON, and compare what the
 * kernel emitted with expected JSON, with a message that names the first
 * difference.  The kernels are the build's real plugins (RH_TEST_PLUGIN_DIR)
 * and its deliberately broken ones (RH_TEST_BAD_PLUGIN_DIR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ringhost/ringhost.h"
#include "ringhost/testing.h"

static rh_harness *load(const char *dir, const char *file, char *why, size_t why_len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return rh_harness_load(path, why, why_len);
}

static rh_harness *load_echo(void)
{
    char why[1024];
    rh_harness *h = load(RH_TEST_PLUGIN_DIR, "echo.so", why, sizeof why);
    if (!h)
        fail_msg("echo.so did not load: %s", why);
    return h;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("expected \"%s\" in \"%s\"", part, text);
}

/* The echo plugin answers one JSON message: seq 7, text "hi", data [1,2]. */
static rh_harness *echo_answered(void)
{
    rh_harness *h = load_echo();
    char why[256];
    if (rh_harness_push_json(h, 0, "{\"seq\": 7, \"text\": \"hi\", \"data\": [1, 2]}", NULL, why,
                             sizeof why))
        fail_msg("push_json: %s", why);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), 1);
    return h;
}

static void test_load_drives_the_plugin_file_in_process(void **unused)
{
    (void)unused;
    rh_harness *h = load_echo();
    assert_string_equal(rh_harness_desc(h)->name, "echo");
    rh_id id;
    char why[256];
    assert_int_equal(rh_harness_push_json(h, 0, "{\"seq\": 1, \"text\": \"x\"}", &id, why,
                                          sizeof why),
                     0);
    assert_int_equal(rh_harness_process(h, 0), 0);
    const rh_harness_output *o = rh_harness_output_at(h, 0);
    assert_non_null(o);
    assert_true(o->has_correlation);
    assert_true(rh_id_eq(o->correlation_id, id));
    assert_true(o->valid);
    assert_int_equal(rh_harness_api_errors(h), 0);
    rh_harness_free(h);
}

static void test_load_of_a_missing_file_gives_the_dlerror_text(void **unused)
{
    (void)unused;
    char why[1024] = "untouched";
    assert_null(rh_harness_load("/nonexistent/nothing.so", why, sizeof why));
    assert_contains(why, "/nonexistent/nothing.so: dlopen failed: ");
    assert_contains(why, "No such file");
}

static void test_load_refuses_what_the_host_refuses_with_its_reason(void **unused)
{
    (void)unused;
    static const struct {
        const char *file, *reason;
    } cases[] = {
        {"bad_undefined.so", "undefined symbol"},
        {"bad_no_entry.so", "no entry symbol rh_kernel_entry"},
        {"bad_abi_major.so", "ABI major"},
        {"bad_abi_minor.so", "ABI minor"},
        {"bad_struct_size.so", "struct_size"},
        {"bad_null_process.so", "exactly one of process and run"},
        {"bad_dup_ports.so", "duplicate"},
        {"bad_no_fingerprint.so", "fingerprint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[1024] = "";
        assert_null(load(RH_TEST_BAD_PLUGIN_DIR, cases[i].file, why, sizeof why));
        assert_contains(why, cases[i].file);
        assert_contains(why, cases[i].reason);
    }
}

static void test_load_accepts_a_null_reason_buffer(void **unused)
{
    (void)unused;
    assert_null(rh_harness_load("/nonexistent/nothing.so", NULL, 0));
    assert_null(rh_harness_load(NULL, NULL, 0));
    rh_harness_free(NULL);
}

static void test_ports_are_found_by_name(void **unused)
{
    (void)unused;
    rh_harness *h = load_echo();
    assert_int_equal(rh_harness_input_port(h, "in"), 0);
    assert_int_equal(rh_harness_output_port(h, "out"), 0);
    assert_int_equal(rh_harness_input_port(h, "out"), -1);
    assert_int_equal(rh_harness_output_port(h, "nope"), -1);
    assert_int_equal(rh_harness_output_port(h, NULL), -1);
    rh_harness_free(h);
}

static void test_expect_json_accepts_equal_json_in_any_key_order(void **unused)
{
    (void)unused;
    rh_harness *h = echo_answered();
    char why[1024] = "untouched";
    assert_int_equal(rh_harness_expect_json(h, 0, "{\"data\": [1, 2], \"text\": \"hi\", "
                                                  "\"seq\": 7}",
                                            why, sizeof why),
                     0);
    assert_string_equal(why, "");
    /* numbers compare by value: 7.0 is 7 */
    assert_int_equal(rh_harness_expect_json(h, 0, "{\"data\": [1.0, 2], \"text\": \"hi\", "
                                                  "\"seq\": 7.0}",
                                            NULL, 0),
                     0);
    rh_harness_free(h);
}

static void test_expect_json_names_the_first_difference(void **unused)
{
    (void)unused;
    static const struct {
        const char *expected, *message;
    } cases[] = {
        {"{\"seq\": 8, \"text\": \"hi\", \"data\": [1, 2]}", "at .seq: got 7, expected 8"},
        {"{\"seq\": 7, \"text\": \"ho\", \"data\": [1, 2]}",
         "at .text: got \"hi\", expected \"ho\""},
        {"{\"seq\": 7, \"text\": \"hi\", \"data\": [1, 3]}", "at .data[1]: got 2, expected 3"},
        {"{\"seq\": 7, \"text\": \"hi\", \"data\": [1]}",
         "at .data: got 2 elements, expected 1"},
        {"{\"seq\": 7, \"text\": \"hi\"}", "at .data: present, not expected"},
        {"{\"seq\": 7, \"text\": \"hi\", \"data\": [1, 2], \"more\": 1}",
         "at .more: missing, expected it"},
        {"[1]", "at top: got {"},
    };
    rh_harness *h = echo_answered();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[1024] = "";
        assert_int_equal(rh_harness_expect_json(h, 0, cases[i].expected, why, sizeof why), -1);
        assert_contains(why, "output 0 (port \"out\"): ");
        assert_contains(why, cases[i].message);
        assert_contains(why, "; output is {\"seq\":7,\"text\":\"hi\",\"data\":[1,2]}");
    }
    rh_harness_free(h);
}

static void test_expect_json_reports_a_missing_output_and_bad_expected_text(void **unused)
{
    (void)unused;
    rh_harness *h = echo_answered();
    char why[1024];
    assert_int_equal(rh_harness_expect_json(h, 1, "{}", why, sizeof why), -1);
    assert_string_equal(why, "output 1: the kernel emitted 1 output(s)");
    assert_int_equal(rh_harness_expect_json(h, 0, "{\"seq\": ", why, sizeof why), -1);
    assert_contains(why, "output 0: the expected text is not JSON: ");
    rh_harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_drives_the_plugin_file_in_process),
        cmocka_unit_test(test_load_of_a_missing_file_gives_the_dlerror_text),
        cmocka_unit_test(test_load_refuses_what_the_host_refuses_with_its_reason),
        cmocka_unit_test(test_load_accepts_a_null_reason_buffer),
        cmocka_unit_test(test_ports_are_found_by_name),
        cmocka_unit_test(test_expect_json_accepts_equal_json_in_any_key_order),
        cmocka_unit_test(test_expect_json_names_the_first_difference),
        cmocka_unit_test(test_expect_json_reports_a_missing_output_and_bad_expected_text),
    };
    return cmocka_run_group_tests_name("testing_load", tests, NULL, NULL);
}
