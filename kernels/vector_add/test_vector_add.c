/*
 * test_vector_add.c — the vector_add kernel, driven through the kernel harness,
 * and the codec ringhost-gen generated for its message types.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ringhost/testing.h"
#include "vector_add_request.h"
#include "vector_add_response.h"

/* ------------------------------------------------------------ helpers ---- */

static rh_harness *open_kernel(void)
{
    rh_harness *h = rh_harness_new(rh_kernel_entry());
    assert_non_null(h);
    assert_int_equal(rh_harness_init(h, NULL), 0);
    return h;
}

static vector_add_request *request(uint32_t op, const float *a, uint32_t na, const float *b,
                                   uint32_t nb)
{
    vector_add_request *rq = calloc(1, sizeof *rq);
    assert_non_null(rq);
    rq->op = op;
    rq->a_len = na;
    rq->b_len = nb;
    if (na)
        memcpy(rq->a, a, na * sizeof *a);
    if (nb)
        memcpy(rq->b, b, nb * sizeof *b);
    return rq;
}

static rh_id push(rh_harness *h, vector_add_request *rq)
{
    rh_id id = rh_harness_push(h, 0, rq, sizeof *rq);
    free(rq);
    assert_false(id.hi == 0 && id.lo == 0);
    return id;
}

/* Process everything queued; expect exactly one response, well formed,
 * answering `id`, and no failures or API misuse. */
static const vector_add_response *only_response(rh_harness *h, rh_id id)
{
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_failure_count(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 0);
    assert_int_equal(rh_harness_output_count(h), 1);
    const rh_harness_output *o = rh_harness_output_at(h, 0);
    assert_int_equal(o->port, 0);
    assert_int_equal(o->len, sizeof(vector_add_response));
    assert_true(o->has_correlation);
    assert_true(o->correlation_id.hi == id.hi && o->correlation_id.lo == id.lo);
    if (!o->valid)
        fail_msg("response does not validate: %s", o->invalid_why);
    return o->payload;
}

static void assert_result(const vector_add_response *rs, const float *want, uint32_t n)
{
    if (!rs->success)
        fail_msg("expected success, got error \"%s\"", rs->error);
    assert_string_equal(rs->error, "");
    assert_int_equal(rs->result_len, n);
    assert_int_equal(rs->processed_elements, n);
    for (uint32_t i = 0; i < n; i++)
        if (rs->result[i] != want[i])
            fail_msg("result[%u]: expected %g, got %g", i, (double)want[i],
                     (double)rs->result[i]);
}

static const float A4[] = {1, 2, 3, 4};
static const float B4[] = {10, 20, 30, 40};

/* -------------------------------------------------------- the kernel ---- */

static void test_descriptor_declares_requests_and_responses(void **unused)
{
    (void)unused;
    const rh_kernel_desc *d = rh_kernel_entry();
    assert_int_equal(d->abi_major, RH_ABI_MAJOR);
    assert_int_equal(d->struct_size, sizeof(rh_kernel_desc));
    assert_string_equal(d->name, "vector_add");
    assert_non_null(d->process);
    assert_null(d->run);
    assert_int_equal(d->n_inputs, 1);
    assert_string_equal(d->inputs[0].name, "requests");
    assert_ptr_equal(d->inputs[0].type, &vector_add_request_type);
    assert_int_equal(d->n_outputs, 1);
    assert_string_equal(d->outputs[0].name, "responses");
    assert_ptr_equal(d->outputs[0].type, &vector_add_response_type);
}

static void test_add_sums_element_wise(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_ADD, A4, 4, B4, 4));
    const float want[] = {11, 22, 33, 44};
    assert_result(only_response(h, id), want, 4);
    rh_harness_free(h);
}

static void test_sub_subtracts_element_wise(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_SUB, A4, 4, B4, 4));
    const float want[] = {-9, -18, -27, -36};
    assert_result(only_response(h, id), want, 4);
    rh_harness_free(h);
}

static void test_mul_multiplies_element_wise(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_MUL, A4, 4, B4, 4));
    const float want[] = {10, 40, 90, 160};
    assert_result(only_response(h, id), want, 4);
    rh_harness_free(h);
}

static void test_div_divides_element_wise(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_DIV, B4, 4, A4, 4));
    const float want[] = {10, 10, 10, 10};
    assert_result(only_response(h, id), want, 4);
    rh_harness_free(h);
}

static void test_division_by_zero_gives_ieee_infinity_and_success(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    const float a[] = {1, -1, 0, 6};
    const float b[] = {0, 0, 0, 3};
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_DIV, a, 4, b, 4));
    const vector_add_response *rs = only_response(h, id);
    assert_true(rs->success);
    assert_int_equal(rs->result_len, 4);
    assert_true(isinf(rs->result[0]) && rs->result[0] > 0);
    assert_true(isinf(rs->result[1]) && rs->result[1] < 0);
    assert_true(isnan(rs->result[2]));
    assert_true(rs->result[3] == 2.0f);
    /* JSON cannot spell them: the encoding uses strings, which decode back. */
    char *text = rh_harness_output_json(h, 0);
    assert_non_null(text);
    assert_string_equal(text, "{\"result\":[\"inf\",\"-inf\",\"nan\",2.0],\"success\":true,"
                              "\"error\":\"\",\"processed_elements\":4}");
    free(text);
    rh_harness_free(h);
}

static void test_1024_element_vectors_are_added(void **unused)
{
    (void)unused;
    float a[1024], b[1024], want[1024];
    for (int i = 0; i < 1024; i++) {
        a[i] = (float)i;
        b[i] = (float)(2 * i);
        want[i] = (float)(3 * i);
    }
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_ADD, a, 1024, b, 1024));
    assert_result(only_response(h, id), want, 1024);
    rh_harness_free(h);
}

static void test_empty_vectors_succeed_with_no_elements(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_MUL, NULL, 0, NULL, 0));
    assert_result(only_response(h, id), NULL, 0);
    rh_harness_free(h);
}

static void test_length_mismatch_answers_with_an_error_response(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_ADD, A4, 3, B4, 4));
    const vector_add_response *rs = only_response(h, id);
    assert_false(rs->success);
    assert_string_equal(rs->error, "length mismatch: a has 3 elements, b has 4");
    assert_int_equal(rs->result_len, 0);
    assert_int_equal(rs->processed_elements, 0);
    rh_harness_free(h);
}

static void test_unknown_op_answers_with_an_error_response(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    /* Only reachable when the bridge's validation is bypassed, as here. */
    rh_id id = push(h, request(9, A4, 4, B4, 4));
    const vector_add_response *rs = only_response(h, id);
    assert_false(rs->success);
    assert_string_equal(rs->error, "unknown op 9");
    rh_harness_free(h);
}

static void test_every_request_gets_one_response_with_its_correlation_id(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    enum { N = 7 };
    rh_id ids[N];
    for (int i = 0; i < N; i++) {
        float a = (float)i;
        float b = 100;
        ids[i] = push(h, request(VECTOR_ADD_REQUEST_OP_ADD, &a, 1, &b, i == 3 ? 0 : 1));
    }
    assert_int_equal(rh_harness_process(h, 3), 0); /* batches of 3, 3 and 1 */
    assert_int_equal(rh_harness_output_count(h), N);
    assert_int_equal(rh_harness_failure_count(h), 0);
    assert_int_equal(rh_harness_api_errors(h), 0);
    for (uint32_t i = 0; i < N; i++) {
        const rh_harness_output *o = rh_harness_output_at(h, i);
        const vector_add_response *rs = o->payload;
        assert_true(o->has_correlation);
        assert_true(o->correlation_id.hi == ids[i].hi && o->correlation_id.lo == ids[i].lo);
        if (i == 3) {
            assert_false(rs->success);
            assert_string_equal(rs->error, "length mismatch: a has 1 element, b has 0");
        } else {
            assert_true(rs->success);
            assert_true(rs->result[0] == (float)i + 100);
        }
    }
    rh_harness_free(h);
}

static void test_stopping_host_fails_requests_instead_of_dropping_them(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id = push(h, request(VECTOR_ADD_REQUEST_OP_ADD, A4, 4, B4, 4));
    rh_harness_set_stopping(h, 1);
    assert_int_equal(rh_harness_process(h, 0), 0);
    assert_int_equal(rh_harness_output_count(h), 0);
    assert_int_equal(rh_harness_failure_count(h), 1);
    const rh_harness_failure *f = rh_harness_failure_at(h, 0);
    assert_true(f->has_msg && f->id.hi == id.hi && f->id.lo == id.lo);
    assert_non_null(strstr(f->reason, "stopping"));
    rh_harness_free(h);
}

/* ---------------------------------------------- the generated codec ---- */

static void test_request_decoded_from_json_is_added(void **unused)
{
    (void)unused;
    rh_harness *h = open_kernel();
    rh_id id;
    char why[256] = "";
    if (rh_harness_push_json(h, 0, "{\"op\": \"add\", \"a\": [1, 2], \"b\": [3, 4]}", &id, why,
                             sizeof why) != 0)
        fail_msg("push_json: %s", why);
    const float want[] = {4, 6};
    assert_result(only_response(h, id), want, 2);
    char *text = rh_harness_output_json(h, 0);
    assert_string_equal(text, "{\"result\":[4.0,6.0],\"success\":true,\"error\":\"\","
                              "\"processed_elements\":2}");
    free(text);
    rh_harness_free(h);
}

/* Decode text as a vector_add.request; returns decode's result, why filled. */
static int decode_request(const char *text, char *why, size_t why_len)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("test JSON does not parse: %s", jerr.text);
    vector_add_request *rq = malloc(sizeof *rq);
    assert_non_null(rq);
    memset(rq, 0xab, sizeof *rq);
    int rc = vector_add_request_type.decode(j, rq, why, why_len);
    if (rc == 0) {
        assert_int_equal(vector_add_request_type.validate(rq, why, why_len), 0);
    } else {
        /* a failed decode leaves no half-filled message behind */
        static const vector_add_request zero;
        assert_memory_equal(rq, &zero, sizeof zero);
    }
    free(rq);
    json_decref(j);
    return rc;
}

static void expect_decode_error(const char *text, const char *reason)
{
    char why[256] = "";
    assert_int_equal(decode_request(text, why, sizeof why), -1);
    assert_string_equal(why, reason);
}

static void test_decode_names_the_element_of_the_wrong_kind(void **unused)
{
    (void)unused;
    expect_decode_error("{\"op\": \"add\", \"a\": [1, 2, 3, \"x\"]}",
                        "a[3]: expected a number, got \"x\"");
    expect_decode_error("{\"op\": \"add\", \"a\": {\"x\": 1}}",
                        "a: expected an array, got an object");
    expect_decode_error("{\"op\": 1}",
                        "op: expected one of \"add\", \"sub\", \"mul\", \"div\", got 1");
    expect_decode_error("[1, 2]", "vector_add.request: expected a JSON object, got an array of 2 "
                                  "elements");
}

static void test_decode_refuses_more_elements_than_max(void **unused)
{
    (void)unused;
    size_t cap = 1500 * 2 + 48;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "{\"op\": \"add\", \"a\": [");
    for (int i = 0; i < 1500; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s1", i ? "," : "");
    snprintf(text + n, cap - n, "]}");
    expect_decode_error(text, "a: expected at most 1024 elements, got 1500");
    free(text);
}

static void test_decode_refuses_unknown_enum_names_and_keys(void **unused)
{
    (void)unused;
    expect_decode_error("{\"op\": \"pow\"}",
                        "op: expected one of \"add\", \"sub\", \"mul\", \"div\", got \"pow\"");
    expect_decode_error("{\"op\": \"add\", \"c\": [1]}",
                        "c: unknown field (vector_add.request has op, a, b)");
}

static void test_decode_refuses_a_missing_field_by_name(void **unused)
{
    (void)unused;
    /* every field of a request is required: a request without "a" is no
     * request for the sum of nothing */
    json_t *j = json_loads("{\"op\": \"add\", \"b\": [5]}", 0, NULL);
    vector_add_request *rq = malloc(sizeof *rq);
    memset(rq, 0xab, sizeof *rq);
    char why[128] = "";
    assert_int_equal(vector_add_request_decode(j, rq, why, sizeof why), -1);
    assert_string_equal(why, "a: missing (vector_add.request requires op, a, b)");
    static const vector_add_request zero;
    assert_memory_equal(rq, &zero, sizeof zero);
    json_decref(j);
    j = json_loads("{}", 0, NULL);
    assert_int_equal(vector_add_request_decode(j, rq, why, sizeof why), -1);
    assert_string_equal(why, "op: missing (vector_add.request requires op, a, b)");
    free(rq);
    json_decref(j);
}

static void test_validate_refuses_long_arrays_and_unknown_ops(void **unused)
{
    (void)unused;
    vector_add_request *rq = calloc(1, sizeof *rq);
    char why[128];
    assert_int_equal(vector_add_request_validate(rq, why, sizeof why), 0);
    rq->b_len = 1025;
    assert_int_equal(vector_add_request_validate(rq, why, sizeof why), -1);
    assert_string_equal(why, "b: expected at most 1024 elements, got 1025");
    rq->b_len = 0;
    rq->op = 4;
    assert_int_equal(vector_add_request_validate(rq, why, sizeof why), -1);
    assert_string_equal(why, "op: expected an enum value in 0..3, got 4");
    free(rq);

    vector_add_response *rs = calloc(1, sizeof *rs);
    memset(rs->error, 'x', sizeof rs->error);
    assert_int_equal(vector_add_response_validate(rs, why, sizeof why), -1);
    assert_string_equal(why, "error: expected a NUL within its 129 bytes");
    free(rs);
}

static void test_encode_of_an_invalid_message_stays_within_bounds(void **unused)
{
    (void)unused;
    vector_add_request *rq = calloc(1, sizeof *rq);
    rq->op = 77;
    rq->a_len = UINT32_MAX;
    json_t *j = vector_add_request_encode(rq);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "op")), 77);
    assert_int_equal(json_array_size(json_object_get(j, "a")), 1024);
    json_decref(j);
    free(rq);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h;
}

static void test_type_descriptors_describe_the_generated_structs(void **unused)
{
    (void)unused;
    const rh_type *t = &vector_add_request_type;
    assert_int_equal(t->struct_size, sizeof(rh_type));
    assert_string_equal(t->name, "vector_add.request");
    assert_int_equal(t->size, sizeof(vector_add_request));
    assert_int_equal(t->align, _Alignof(vector_add_request));
    assert_true(t->fingerprint == fnv1a64(t->schema));
    assert_true(t->fingerprint == VECTOR_ADD_REQUEST_FINGERPRINT);
    assert_string_equal(t->schema,
                        "{\"fields\":[{\"name\":\"op\",\"type\":\"enum\",\"values\":[\"add\","
                        "\"sub\",\"mul\",\"div\"]},{\"max\":1024,\"name\":\"a\",\"type\":"
                        "\"f32[]\"},{\"max\":1024,\"name\":\"b\",\"type\":\"f32[]\"}],\"name\":"
                        "\"vector_add.request\"}");
    assert_true(vector_add_response_type.fingerprint != t->fingerprint);
    assert_true(vector_add_response_type.fingerprint == fnv1a64(vector_add_response_type.schema));
    assert_int_equal(offsetof(vector_add_request, a), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_declares_requests_and_responses),
        cmocka_unit_test(test_add_sums_element_wise),
        cmocka_unit_test(test_sub_subtracts_element_wise),
        cmocka_unit_test(test_mul_multiplies_element_wise),
        cmocka_unit_test(test_div_divides_element_wise),
        cmocka_unit_test(test_division_by_zero_gives_ieee_infinity_and_success),
        cmocka_unit_test(test_1024_element_vectors_are_added),
        cmocka_unit_test(test_empty_vectors_succeed_with_no_elements),
        cmocka_unit_test(test_length_mismatch_answers_with_an_error_response),
        cmocka_unit_test(test_unknown_op_answers_with_an_error_response),
        cmocka_unit_test(test_every_request_gets_one_response_with_its_correlation_id),
        cmocka_unit_test(test_stopping_host_fails_requests_instead_of_dropping_them),
        cmocka_unit_test(test_request_decoded_from_json_is_added),
        cmocka_unit_test(test_decode_names_the_element_of_the_wrong_kind),
        cmocka_unit_test(test_decode_refuses_more_elements_than_max),
        cmocka_unit_test(test_decode_refuses_unknown_enum_names_and_keys),
        cmocka_unit_test(test_decode_refuses_a_missing_field_by_name),
        cmocka_unit_test(test_validate_refuses_long_arrays_and_unknown_ops),
        cmocka_unit_test(test_encode_of_an_invalid_message_stays_within_bounds),
        cmocka_unit_test(test_type_descriptors_describe_the_generated_structs),
    };
    return cmocka_run_group_tests_name("vector_add", tests, NULL, NULL);
}
