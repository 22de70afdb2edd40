/*
 * test_cli_bench.c — `ringhost bench` runs the benchmark of the same build:
 * a case runs and lands in --json with its figures and its placement tag,
 * `--pin-sweep` drives a real manifest under each placement and prints a
 * pin block, and bad usage exits 2.  Nothing here asserts a speed (these
 * machines are shared): only that the figures exist and are sane.
 */
#include <string.h>
#include <unistd.h>

#include "cli_common.h"

static void test_bench_runs_a_case_and_writes_its_figures_to_json(void **state)
{
    (void)state;
    const char *json = cli_keep("%s/bench.json", cli_tmpdir());
    cli_out o;
    cli_exec(&o, NULL, "bench", "--quick", "--reps", "1", "--only", "rh.queue.hop.b32",
             "--json", json, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "rh.queue.hop.b32.p64"), "expected the case in the table");
    json_error_t je;
    json_t *root = json_load_file(json, 0, &je);
    CLI_CHECK(&o, root, "expected valid JSON in %s: %s", json, je.text);
    /* Somewhere in it: a figure of our case, msgs_per_s, positive, tagged. */
    char *text = json_dumps(root, JSON_COMPACT);
    CLI_CHECK(&o, text && strstr(text, "\"rh.queue.hop.b32.p64\""), "case missing from --json");
    CLI_CHECK(&o, strstr(text, "msgs_per_s"), "metric msgs_per_s missing from --json");
    CLI_CHECK(&o, strstr(text, "\"near\"") || strstr(text, "\"far\"") || strstr(text, "\"mixed\""),
              "every figure carries its placement tag");
    free(text);
    json_decref(root);
    cli_free(&o);
}

static void test_pin_sweep_prints_every_placement_and_the_best_pin_block(void **state)
{
    (void)state;
    const char *manifest = cli_manifest("sweep",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\"}]}\n");
    cli_out o;
    cli_exec(&o, NULL, "bench", "--pin-sweep", manifest, "--reps", "1", "--quick", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "same-pu") && strstr(o.r.out, "unpinned"),
              "expected the same-pu and unpinned placements in the table");
    CLI_CHECK(&o, strstr(o.r.out, "best: "), "expected the best placement named");
    /* Usually a pin block; "unpinned" may win on a loaded machine, and then
     * the advice is to leave the kernel unpinned. */
    CLI_CHECK(&o, strstr(o.r.out, "e: \"pin\": {\"dispatch\"") ||
                      strstr(o.r.out, "e: no \"pin\""),
              "expected the advice for kernel e: a pin block to paste, or no pin");
    cli_free(&o);
}

static void test_pin_sweep_of_a_missing_manifest_exits_2(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "bench", "--pin-sweep", "/nonexistent/m.json", "--reps", "1", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "/nonexistent/m.json"), "expected the path in the error");
    cli_free(&o);
}

static void test_send_without_pin_sweep_is_a_usage_error(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "bench", "--send", "x.jsonl", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--pin-sweep"), "expected the error to name --pin-sweep");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_runs_a_case_and_writes_its_figures_to_json),
        cmocka_unit_test(test_pin_sweep_prints_every_placement_and_the_best_pin_block),
        cmocka_unit_test(test_pin_sweep_of_a_missing_manifest_exits_2),
        cmocka_unit_test(test_send_without_pin_sweep_is_a_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
