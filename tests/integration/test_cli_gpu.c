/*
 * test_cli_gpu.c — the GPU executor ("isolation": "cuda") from the real
 * binary, on whatever machine the suite runs on.
 *
 * Without a GPU (CI): a GPU manifest is refused at launch, exit 2, with an
 * error naming the manifest, the kernel and why ("no CUDA driver", "no CUDA
 * device", ...), and nothing else breaks.  With one: the report's three
 * VectorAdd cases come back from the GPU exactly as from the CPU kernel.
 * On both: a device kernel named with a CPU executor, or a CPU kernel with
 * "cuda", is refused naming the plugin and what to write instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

#define SRC RH_TEST_SOURCE_DIR

/* The answers' bodies and correlations, one per line, ids left out (an
 * answer id is derived from the request's, which `run --send` draws). */
static char *bodies(const cli_out *o)
{
    json_t *lines = cli_lines(o);
    cli_str b = {0};
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        char *body = json_dumps(json_object_get(l, "body"), JSON_SORT_KEYS | JSON_COMPACT);
        cli_str_addf(&b, "%s\n", body ? body : "?");
        free(body);
    }
    json_decref(lines);
    return b.s ? b.s : strdup("");
}

static void test_vector_add_gpu_answers_as_the_cpu_or_is_refused_with_the_reason(void **st)
{
    (void)st;
    cli_out gpu, cpu;
    cli_exec(&gpu, NULL, "run", SRC "/manifests/vector_add_gpu.json", "--plugins",
             RH_TEST_PLUGIN_DIR, "--send", SRC "/manifests/vector_add.requests.jsonl",
             "--timeout", "60", NULL);
    if (gpu.r.exit_code != 0 && getenv("RINGHOST_EXPECT_CUDA"))
        cli_dump(&gpu);
    if (gpu.r.exit_code != 0 && getenv("RINGHOST_EXPECT_CUDA"))
        fail_msg("expected the GPU run to succeed (RINGHOST_EXPECT_CUDA); exit %d",
                 gpu.r.exit_code);
    if (gpu.r.exit_code != 0) {
        /* No GPU here: the refusal, whole. */
        cli_expect_exit(&gpu, 2);
        CLI_CHECK(&gpu,
                  strstr(gpu.r.err, "manifests/vector_add_gpu.json: kernels[0] (vadd): cannot "
                                    "run on"),
                  "expected the refusal to name the manifest and the kernel");
        CLI_CHECK(&gpu,
                  strstr(gpu.r.err, "no CUDA driver") || strstr(gpu.r.err, "no CUDA device") ||
                      strstr(gpu.r.err, "WSL2") || strstr(gpu.r.err, "watchdog") ||
                      strstr(gpu.r.err, "built without the CUDA toolkit"),
                  "expected the refusal to say why");
        print_message("    skipped the GPU half: %s", strstr(gpu.r.err, "ringhost: "));
        cli_free(&gpu);
        return;
    }
    cli_exec(&cpu, NULL, "run", SRC "/manifests/vector_add.json", "--plugins",
             RH_TEST_PLUGIN_DIR, "--send", SRC "/manifests/vector_add.requests.jsonl",
             "--timeout", "60", NULL);
    cli_expect_exit(&cpu, 0);
    char *g = bodies(&gpu), *c = bodies(&cpu);
    CLI_CHECK(&gpu, cli_count(g, "\n") == 3 && strcmp(g, c) == 0,
              "expected the GPU's three answers to be the CPU's:\n%s\nCPU:\n%s", g, c);
    free(g);
    free(c);
    cli_free(&gpu);
    cli_free(&cpu);
}

static const char *kernel_manifest(const char *tag, const char *plugin, const char *isolation)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
             "             \"e.out\": {\"type\": \"echo.message\"}},\n"
             " \"kernels\": [{\"name\": \"e\", \"plugin\": \"%s\", \"isolation\": \"%s\",\n"
             "   \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n",
             plugin, isolation);
    return cli_manifest(tag, text);
}

static void test_a_device_kernel_on_a_cpu_executor_is_refused_naming_cuda(void **st)
{
    (void)st;
    static const char *const cpu_executors[] = {"thread", "process"};
    for (int i = 0; i < 2; i++) {
        const char *m = kernel_manifest("devcpu", "echo_gpu", cpu_executors[i]);
        cli_out o;
        cli_exec(&o, NULL, "run", m, "--timeout", "5", NULL);
        cli_expect_exit(&o, 2);
        CLI_CHECK(&o, strstr(o.r.err, "kernels[0].isolation: expected \"cuda\" for plugin "
                                      "\"echo_gpu\""),
                  "expected the refusal to name the plugin and \"cuda\"");
        cli_free(&o);
    }
}

static void test_a_cpu_kernel_on_the_cuda_executor_is_refused(void **st)
{
    (void)st;
    const char *m = kernel_manifest("cpudev", "echo", "cuda");
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--timeout", "5", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o,
              strstr(o.r.err, "for plugin \"echo\", got \"cuda\" (it has no device code") ||
                  strstr(o.r.err, "built without the CUDA toolkit"),
              "expected the refusal to say the plugin has no device code");
    cli_free(&o);
}

/* Against the CPU stand-in of the driver (tests/fake_cuda, which reads
 * these knobs): a display GPU with a watchdog, and a driver that sees no
 * device, are refused with the reason.  On a real driver: skipped. */
static void test_a_watchdog_gpu_and_no_device_are_refused_with_the_reason(void **st)
{
    (void)st;
    if (!getenv("RINGHOST_EXPECT_CUDA") || !getenv("LD_LIBRARY_PATH") ||
        !strstr(getenv("LD_LIBRARY_PATH"), "fake_cuda")) {
        print_message("    skipped: needs the fake driver (tests/fake_cuda)\n");
        return;
    }
    static const struct {
        const char *knob, *value, *why;
    } cases[] = {
        {"FAKE_CUDA_WATCHDOG", "1", "a display GPU with a kernel watchdog"},
        {"FAKE_CUDA_DEVICES", "0", "no CUDA device"},
    };
    for (int i = 0; i < 2; i++) {
        setenv(cases[i].knob, cases[i].value, 1);
        cli_out o;
        cli_exec(&o, NULL, "run", SRC "/manifests/vector_add_gpu.json", "--plugins",
                 RH_TEST_PLUGIN_DIR, "--timeout", "10", NULL);
        unsetenv(cases[i].knob);
        cli_expect_exit(&o, 2);
        CLI_CHECK(&o, strstr(o.r.err, "kernels[0] (vadd): cannot run on") &&
                          strstr(o.r.err, cases[i].why),
                  "expected the refusal to name the kernel and say \"%s\"", cases[i].why);
        cli_free(&o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_add_gpu_answers_as_the_cpu_or_is_refused_with_the_reason),
        cmocka_unit_test(test_a_device_kernel_on_a_cpu_executor_is_refused_naming_cuda),
        cmocka_unit_test(test_a_cpu_kernel_on_the_cuda_executor_is_refused),
        cmocka_unit_test(test_a_watchdog_gpu_and_no_device_are_refused_with_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
