/*
 * test_cli_vector_add.c — the problem report, end to end through the real
 * binary: `ringhost run MANIFEST --send FILE.jsonl` with the vector_add
 * kernel answers every request, correctly, well within the report's 5 s,
 * each response correlated with the request it answers.
 */
#include <string.h>
#include <unistd.h>

#include "cli_common.h"

/* The vector_add wiring every test here uses (no pins: any machine). */
static const char *vadd_manifest(const char *tag)
{
    return cli_manifest(tag,
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"vadd.in\": {\"type\": \"vector_add.request\"},\n"
        "            \"vadd.out\": {\"type\": \"vector_add.response\"}},\n"
        " \"kernels\": [{\"name\": \"vadd\", \"plugin\": \"vector_add\",\n"
        "               \"inputs\": {\"requests\": \"vadd.in\"},\n"
        "               \"outputs\": {\"responses\": \"vadd.out\"}}]}\n");
}

static void run_send(cli_out *o, const char *manifest, const char *requests)
{
    cli_exec(o, NULL, "run", manifest, "--send", requests, "--timeout", CLI_RUN_TIMEOUT, NULL);
}

/* One request of n elements a[i] = i + 1, b = k * a: the response must be
 * (k + 1) * a, with success and processed_elements n, within 5 s. */
static void report_case(const char *tag, size_t n, float k)
{
    float a[100], b[100], want[100];
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)(i + 1);
        b[i] = k * a[i];
        want[i] = (k + 1) * a[i];
    }
    cli_str req = {0};
    cli_vadd_line(&req, "vadd.in", cli_id(1), "add", a, n, b, n);
    const char *file = cli_write(cli_keep("%s.jsonl", tag), req.s);
    cli_str_free(&req);

    cli_out o;
    run_send(&o, vadd_manifest(tag), file);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, cli_count_queue(lines, "vadd.out") == 1,
              "expected exactly 1 response on vadd.out, got %zu",
              cli_count_queue(lines, "vadd.out"));
    json_t *resp = cli_find_correlated(lines, cli_id(1));
    CLI_CHECK(&o, resp, "expected the response's correlation_id to be the request id %s",
              cli_id(1));
    cli_check_vadd_result(&o, resp, want, n);
    CLI_CHECK(&o, o.r.wall_s < 5.0,
              "expected the whole run (launch, 1 message, shutdown) within 5 s, took %.3f s",
              o.r.wall_s);
    json_decref(lines);
    cli_free(&o);
}

static void test_report_case_10_elements_b_equals_2a(void **state)
{
    (void)state;
    report_case("report10", 10, 2.0f);
}

static void test_report_case_25_elements_b_equals_3a(void **state)
{
    (void)state;
    report_case("report25", 25, 3.0f);
}

static void test_report_case_100_elements_b_equals_4a(void **state)
{
    (void)state;
    report_case("report100", 100, 4.0f);
}

/* `make run`: the shipped demo manifest and request file. */
static void test_shipped_demo_gives_exactly_3_correct_responses(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "run", RH_TEST_SOURCE_DIR "/manifests/vector_add.json", "--send",
             RH_TEST_SOURCE_DIR "/manifests/vector_add.requests.jsonl", "--plugins",
             RH_TEST_PLUGIN_DIR, "--instance", cli_instance("demo"), "--timeout",
             CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 3 && cli_count_queue(lines, "vadd.out") == 3,
              "expected exactly 3 responses on vadd.out, got %zu lines (%zu on vadd.out)",
              json_array_size(lines), cli_count_queue(lines, "vadd.out"));
    /* The file's requests: n = 10, 25, 100 with b = 2a, 3a, 4a; a[i] = i + 1.
     * The requests carry no ids: match each response by its length. */
    static const size_t ns[3] = {10, 25, 100};
    for (size_t r = 0; r < 3; r++) {
        float want[100];
        for (size_t i = 0; i < ns[r]; i++)
            want[i] = (float)(r + 3) * (float)(i + 1);
        json_t *match = NULL, *line;
        size_t li;
        json_array_foreach (lines, li, line) {
            json_t *res = json_object_get(json_object_get(line, "body"), "result");
            if (json_array_size(res) == ns[r])
                match = line;
        }
        CLI_CHECK(&o, match, "expected a response with %zu result elements", ns[r]);
        cli_check_vadd_result(&o, match, want, ns[r]);
    }
    CLI_CHECK(&o, o.r.wall_s < 15.0, "expected the demo within 15 s (5 s per message), took %.3f s",
              o.r.wall_s);
    json_decref(lines);
    cli_free(&o);
}

/* ------------------------------------------------------ operations ---- */

static void op_case(const char *op, const float want[4])
{
    static const float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
    cli_str req = {0};
    cli_vadd_line(&req, "vadd.in", cli_id(7), op, a, 4, b, 4);
    const char *file = cli_write(cli_keep("op-%s.jsonl", op), req.s);
    cli_str_free(&req);
    cli_out o;
    run_send(&o, vadd_manifest(cli_keep("op-%s", op)), file);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    json_t *resp = cli_find_correlated(lines, cli_id(7));
    CLI_CHECK(&o, json_array_size(lines) == 1 && resp,
              "expected 1 response correlated to %s, got %zu lines", cli_id(7),
              json_array_size(lines));
    cli_check_vadd_result(&o, resp, want, 4);
    json_decref(lines);
    cli_free(&o);
}

static void test_add_1234_and_10_20_30_40_gives_11_22_33_44(void **state)
{
    (void)state;
    op_case("add", (const float[4]){11, 22, 33, 44});
}

static void test_sub_1234_and_10_20_30_40_gives_minus_9_18_27_36(void **state)
{
    (void)state;
    op_case("sub", (const float[4]){-9, -18, -27, -36});
}

static void test_mul_1234_and_10_20_30_40_gives_10_40_90_160(void **state)
{
    (void)state;
    op_case("mul", (const float[4]){10, 40, 90, 160});
}

static void test_div_1234_by_10_20_30_40_gives_0_1_each(void **state)
{
    (void)state;
    op_case("div", (const float[4]){0.1f, 0.1f, 0.1f, 0.1f});
}

/* ---------------------------------------------------------- errors ---- */

static void test_lengths_that_differ_fail_that_request_and_the_next_is_answered(void **state)
{
    (void)state;
    static const float a5[5] = {1, 2, 3, 4, 5}, b7[7] = {1, 2, 3, 4, 5, 6, 7};
    static const float a2[2] = {1, 2}, b2[2] = {3, 4}, want2[2] = {4, 6};
    cli_str req = {0};
    cli_vadd_line(&req, "vadd.in", cli_id(1), "add", a5, 5, b7, 7);
    cli_vadd_line(&req, "vadd.in", cli_id(2), "add", a2, 2, b2, 2);
    const char *file = cli_write("mismatch.jsonl", req.s);
    cli_str_free(&req);
    cli_out o;
    run_send(&o, vadd_manifest("mismatch"), file);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);

    json_t *bad = cli_find_correlated(lines, cli_id(1));
    CLI_CHECK(&o, bad, "expected a response to the request with lengths 5 and 7 (id %s)",
              cli_id(1));
    json_t *body = json_object_get(bad, "body");
    CLI_CHECK(&o, json_is_false(json_object_get(body, "success")),
              "expected success false for lengths 5 and 7");
    const char *error = json_string_value(json_object_get(body, "error"));
    CLI_CHECK(&o, error && strchr(error, '5') && strchr(error, '7'),
              "expected the error to mention both lengths 5 and 7, got \"%s\"",
              error ? error : "(no error string)");

    json_t *good = cli_find_correlated(lines, cli_id(2));
    CLI_CHECK(&o, good, "expected the next request (id %s) to be answered too", cli_id(2));
    cli_check_vadd_result(&o, good, want2, 2);
    json_decref(lines);
    cli_free(&o);
}

/* ------------------------------------------------------ correlation ---- */

#define MANY 500

static void test_500_requests_with_ids_are_each_answered_exactly_once(void **state)
{
    (void)state;
    cli_str req = {0};
    for (unsigned i = 0; i < MANY; i++) {
        float a = (float)i, b = 1.0f;
        cli_vadd_line(&req, "vadd.in", cli_id(1000 + i), "add", &a, 1, &b, 1);
    }
    const char *file = cli_write("many.jsonl", req.s);
    cli_str_free(&req);
    cli_out o;
    run_send(&o, vadd_manifest("many"), file);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == MANY, "expected exactly %d responses, got %zu", MANY,
              json_array_size(lines));

    static unsigned answered[MANY];
    memset(answered, 0, sizeof answered);
    size_t li;
    json_t *line;
    json_array_foreach (lines, li, line) {
        const char *corr = json_string_value(json_object_get(line, "correlation_id"));
        CLI_CHECK(&o, corr, "expected response %zu to carry a correlation_id", li);
        unsigned pid, n;
        char rest[64];
        int ok = sscanf(corr, "%8x-0000-4000-8000-%12x%63s", &pid, &n, rest) == 2 &&
                 pid == (unsigned)getpid() && n >= 1000 && n < 1000 + MANY;
        CLI_CHECK(&o, ok, "expected correlation_id \"%s\" of response %zu to be one of the "
                  "request ids", corr, li);
        answered[n - 1000]++;
        /* and it answers that request: a = i, b = 1 */
        float want = (float)(n - 1000) + 1.0f;
        cli_check_vadd_result(&o, line, &want, 1);
    }
    for (unsigned i = 0; i < MANY; i++)
        CLI_CHECK(&o, answered[i] == 1, "expected request %s answered exactly once, got %u",
                  cli_id(1000 + i), answered[i]);
    json_decref(lines);
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_case_10_elements_b_equals_2a),
        cmocka_unit_test(test_report_case_25_elements_b_equals_3a),
        cmocka_unit_test(test_report_case_100_elements_b_equals_4a),
        cmocka_unit_test(test_shipped_demo_gives_exactly_3_correct_responses),
        cmocka_unit_test(test_add_1234_and_10_20_30_40_gives_11_22_33_44),
        cmocka_unit_test(test_sub_1234_and_10_20_30_40_gives_minus_9_18_27_36),
        cmocka_unit_test(test_mul_1234_and_10_20_30_40_gives_10_40_90_160),
        cmocka_unit_test(test_div_1234_by_10_20_30_40_gives_0_1_each),
        cmocka_unit_test(test_lengths_that_differ_fail_that_request_and_the_next_is_answered),
        cmocka_unit_test(test_500_requests_with_ids_are_each_answered_exactly_once),
    };
    return cmocka_run_group_tests_name("cli vector_add", tests, NULL, cli_group_teardown);
}
