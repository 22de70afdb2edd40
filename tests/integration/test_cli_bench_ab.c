/*
 * test_cli_bench_ab.c — `ringhost bench --ab OTHER` compares two builds:
 * run against this very build, every repetition is measured on both sides
 * in ABBA order, and each comparison (case, metric, tag) counts only the
 * repetitions of its own tag, with a ratio wherever both sides have one.
 * Nothing here asserts a speed: only the report's structure.
 *
 * Registered only where ringhost-bench is built (DPDK and ZeroMQ,
 * tests/integration/tests.cmake); a run that finds no ringhost-bench beside
 * the ringhost it tests skips with a message.
 */
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_common.h"
#include "expect.h"

#define AB_CASE "rh.queue.hop.b32.p64"
#define AB_REPS 2

static int have_bench(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", RH_TEST_BINARY);
    snprintf(path, sizeof path, "%s/ringhost-bench", dirname(dir));
    if (access(path, X_OK) == 0)
        return 1;
    print_message("%s not built (needs libdpdk-dev and libzmq3-dev): skipped\n", path);
    return 0;
}

static int tag_known(const char *t)
{
    return t && (strcmp(t, "near") == 0 || strcmp(t, "far") == 0 || strcmp(t, "mixed") == 0);
}

/* Repetitions of one side with tag t that hold metric. */
static size_t reps_in_tag(json_t *reps, const char *t, const char *metric)
{
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(reps, i, r)
        n += json_is_true(json_object_get(r, "ok")) &&
             strcmp(json_string_value(json_object_get(r, "tag")), t) == 0 &&
             json_object_get(json_object_get(r, "metrics"), metric) != NULL;
    return n;
}

static void test_bench_ab_against_itself_measures_both_sides_and_compares_within_each_tag(
    void **state)
{
    (void)state;
    if (!have_bench())
        return;
    const char *json = cli_keep("%s/ab.json", cli_tmpdir());
    cli_out o;
    char reps[8];
    snprintf(reps, sizeof reps, "%d", AB_REPS);
    cli_exec(&o, NULL, "bench", "--ab", RH_TEST_BINARY, "--quick", "--only", AB_CASE, "--reps",
             reps, "--json", json, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "B/A") && strstr(o.r.out, "paired B/A"),
              "expected the comparison table's header (B/A, paired B/A)");
    CLI_CHECK(&o, strstr(o.r.out, "order: ABBA"), "expected the order said");
    CLI_CHECK(&o, cli_count(o.r.err, " A  ") == AB_REPS && cli_count(o.r.err, " B  ") == AB_REPS,
              "expected %d progress lines per side", AB_REPS);

    json_error_t je;
    json_t *root = json_load_file(json, 0, &je);
    CLI_CHECK(&o, root, "expected valid JSON in %s: %s", json, je.text);
    CLI_CHECK(&o, strcmp(json_string_value(json_object_get(root, "order")), "ABBA") == 0 &&
                      json_integer_value(json_object_get(root, "reps")) == AB_REPS,
              "expected order ABBA and reps %d in --json", AB_REPS);
    json_t *cases = json_object_get(root, "cases");
    CLI_CHECK(&o, json_array_size(cases) == 1, "expected exactly the one selected case");
    json_t *c = json_array_get(cases, 0);
    CLI_CHECK(&o, strcmp(json_string_value(json_object_get(c, "name")), AB_CASE) == 0,
              "expected case %s", AB_CASE);

    /* Both sides measured every repetition, one first and one second in
     * each pair, and the side that goes first alternates (ABBA). */
    json_t *side[2] = {json_object_get(json_object_get(c, "a"), "repetitions"),
                       json_object_get(json_object_get(c, "b"), "repetitions")};
    for (int s = 0; s < 2; s++) {
        CLI_CHECK(&o, json_array_size(side[s]) == AB_REPS, "side %c: expected %d repetitions",
                  "AB"[s], AB_REPS);
        for (size_t k = 0; k < AB_REPS; k++) {
            json_t *r = json_array_get(side[s], k);
            CLI_CHECK(&o, json_is_true(json_object_get(r, "ok")) &&
                              json_number_value(json_object_get(json_object_get(r, "metrics"),
                                                                "msgs_per_s")) > 0,
                      "side %c rep %zu: expected a measured msgs_per_s", "AB"[s], k + 1);
            CLI_CHECK(&o, tag_known(json_string_value(json_object_get(r, "tag"))),
                      "side %c rep %zu: expected a placement tag", "AB"[s], k + 1);
        }
    }
    for (size_t k = 0; k < AB_REPS; k++) {
        json_int_t pa = json_integer_value(json_object_get(json_array_get(side[0], k), "position"));
        json_int_t pb = json_integer_value(json_object_get(json_array_get(side[1], k), "position"));
        CLI_CHECK(&o, pa + pb == 3, "rep %zu: expected one side first and one second", k + 1);
        CLI_CHECK(&o, pa == (k % 2 ? 2 : 1), "rep %zu: expected A %s (ABBA)", k + 1,
                  k % 2 ? "second" : "first");
    }

    /* Each comparison counts the repetitions of its own tag only; a ratio
     * wherever both sides have one, paired ratios from same-tag pairs. */
    json_t *cmps = json_object_get(c, "comparisons"), *cmp;
    size_t i, with_ratio = 0, tags_shared = 0;
    CLI_CHECK(&o, json_array_size(cmps) > 0, "expected comparisons");
    json_array_foreach(cmps, i, cmp) {
        const char *t = json_string_value(json_object_get(cmp, "tag"));
        const char *metric = json_string_value(json_object_get(cmp, "metric"));
        CLI_CHECK(&o, tag_known(t) && metric, "comparison %zu: expected a tag and a metric", i);
        json_int_t na = json_integer_value(json_object_get(json_object_get(cmp, "a"), "n"));
        json_int_t nb = json_integer_value(json_object_get(json_object_get(cmp, "b"), "n"));
        CLI_CHECK(&o, (size_t)na == reps_in_tag(side[0], t, metric) &&
                          (size_t)nb == reps_in_tag(side[1], t, metric),
                  "%s %s: expected A's n and B's n to count that tag's repetitions", metric, t);
        size_t pairs = 0;
        for (size_t k = 0; k < AB_REPS; k++)
            pairs += strcmp(json_string_value(json_object_get(json_array_get(side[0], k), "tag")),
                            t) == 0 &&
                     strcmp(json_string_value(json_object_get(json_array_get(side[1], k), "tag")),
                            t) == 0;
        json_int_t np = json_integer_value(
            json_object_get(json_object_get(cmp, "paired_b_over_a"), "n"));
        CLI_CHECK(&o, (size_t)np == pairs, "%s %s: expected %zu same-tag pairs, got %lld",
                  metric, t, pairs, (long long)np);
        json_t *ratio = json_object_get(cmp, "ratio_b_over_a");
        CLI_CHECK(&o, (na && nb) == json_is_number(ratio),
                  "%s %s: expected a ratio exactly where both sides have a figure", metric, t);
        if (json_is_number(ratio)) {
            with_ratio++;
            CLI_CHECK(&o, json_number_value(ratio) > 0, "%s %s: expected a positive ratio",
                      metric, t);
        }
        tags_shared += na && nb;
    }
    CLI_CHECK(&o, with_ratio == tags_shared && (with_ratio > 0 || tags_shared == 0),
              "expected a ratio for every tag both sides measured");
    if (!with_ratio)
        print_message("the two sides never shared a placement tag: no ratio (legitimate on a "
                      "noisy host)\n");
    json_decref(root);
    cli_free(&o);
}

static void test_bench_ab_with_an_other_build_that_cannot_run_exits_2(void **state)
{
    (void)state;
    if (!have_bench())
        return;
    cli_out o;
    cli_exec(&o, NULL, "bench", "--ab", "/nonexistent/build/ringhost", "--quick", "--only",
             AB_CASE, "--reps", "1", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "/nonexistent/build/ringhost"),
              "expected the other build's path in the error");
    cli_free(&o);
}

static void test_bench_ab_with_plots_is_a_usage_error(void **state)
{
    (void)state;
    if (!have_bench())
        return;
    cli_out o;
    cli_exec(&o, NULL, "bench", "--ab", RH_TEST_BINARY, "--plots", cli_tmpdir(), NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--ab"), "expected the error to name --ab");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_bench_ab_against_itself_measures_both_sides_and_compares_within_each_tag),
        cmocka_unit_test(test_bench_ab_with_an_other_build_that_cannot_run_exits_2),
        cmocka_unit_test(test_bench_ab_with_plots_is_a_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
