/*
 * test_cli_manifest_errors.c — every way a manifest can be wrong is bad
 * input: `ringhost validate` (and `ringhost run`, before anything starts)
 * exits 2, and its message names the manifest file and the JSON path of the
 * offending value, plus what makes it wrong.
 *
 * A kernel's config is checked by validate against what its plugin
 * declares (rh_kernel_desc.config_schema): unknown keys, types, ranges.
 *
 * One table row per mistake; each row is its own cmocka test, once through
 * validate and, for the rows marked, once more through run.
 */
#include <string.h>

#include "cli_common.h"

/* The valid parts the rows below start from: an echo kernel wired to
 * e.in / e.out. */
#define HEAD "\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@], "
#define QUEUES "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, " \
               "\"e.out\": {\"type\": \"echo.message\"}}, "
#define PORTS "\"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}"
#define KERNEL "{\"name\": \"e\", \"plugin\": \"echo\", " PORTS "}"
#define KERNELS "\"kernels\": [" KERNEL "]"
/* A whole manifest: HEAD, then members. */
#define M(...) "{" HEAD __VA_ARGS__ "}\n"

typedef struct bad_case {
    const char *tag;       /* what is wrong, as a test name */
    const char *text;      /* the manifest (@NAME@, @PLUGINS@ filled in) */
    const char *json_path; /* must appear in stderr */
    const char *also[3];   /* must appear in stderr too (NULL: nothing more) */
    int via_run;           /* check `ringhost run` too */
} bad_case;

static const bad_case cases[] = {
    {"plugin_missing",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", " PORTS "}]"),
     "kernels[0].plugin", {"nothing"}, 0},
    {"plugin_unknown",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"no_such_kernel\", " PORTS "}]"),
     "kernels[0].plugin", {"no_such_kernel"}, 1},
    {"capacity_not_a_power_of_two",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 1000}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].capacity", {"1000", "power of two"}, 1},
    {"capacity_below_2",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 1}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].capacity", {"1"}, 0},
    {"capacity_above_2_pow_24",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 33554432}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].capacity", {"33554432"}, 0},
    {"capacity_not_a_number",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": \"big\"}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].capacity", {"big"}, 0},
    {"dedup_window_above_4_capacity",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 4, "
       "\"dedup_window\": 17}, \"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].dedup_window", {"17"}, 0},
    {"ttl_negative",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"ttl_ms\": -1}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].ttl_ms", {"-1"}, 0},
    {"block_timeout_not_a_number",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"block_timeout_ms\": \"5s\"}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].block_timeout_ms", {"5s"}, 0},
    {"queue_name_with_a_space",
     M("\"queues\": {\"bad name\": {\"type\": \"echo.message\"}, "
       "\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": \"echo.message\"}}, "
       KERNELS),
     "queues[\"bad name\"]", {0}, 0},
    {"queue_type_unknown",
     M("\"queues\": {\"e.in\": {\"type\": \"nope.type\"}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].type", {"nope.type"}, 0},
    {"queue_wired_to_nothing_without_type",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, "
       "\"e.out\": {\"type\": \"echo.message\"}, \"e.extra\": {\"capacity\": 8}}, " KERNELS),
     "queues[\"e.extra\"].type", {0}, 0},
    {"defaults_backpressure_unknown",
     M("\"defaults\": {\"queue\": {\"backpressure\": \"sometimes\"}}, " QUEUES KERNELS),
     "defaults.queue.backpressure", {"sometimes", "drop_oldest"}, 1},
    {"defaults_queue_key_misspelt",
     M("\"defaults\": {\"queue\": {\"capcity\": 8}}, " QUEUES KERNELS),
     "defaults.queue", {"capcity", "capacity"}, 0},
    {"defaults_batch_zero",
     M("\"defaults\": {\"batch\": 0}, " QUEUES KERNELS),
     "defaults.batch", {"0"}, 0},
    {"top_level_key_misspelt",
     M("\"queus\": {}, " QUEUES KERNELS),
     "queus", {"queues"}, 0},
    {"version_not_1",
     "{\"ringhost\": 2, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@], " QUEUES KERNELS "}\n",
     "ringhost", {"2"}, 0},
    {"name_with_bad_characters",
     "{\"ringhost\": 1, \"name\": \"bad name!\", \"plugins\": [@PLUGINS@], " QUEUES KERNELS
     "}\n",
     "name", {"bad name!"}, 0},
    {"strict_not_a_boolean",
     M("\"strict\": \"yes\", " QUEUES KERNELS),
     "strict", {"yes"}, 0},
    {"placement_unknown",
     M("\"placement\": \"random\", " QUEUES KERNELS),
     "placement", {"random", "scatter"}, 0},
    {"plugin_folder_missing",
     "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [\"/nonexistent/rh-plugins\"], "
     QUEUES KERNELS "}\n",
     "plugins[0]", {"/nonexistent/rh-plugins"}, 0},
    {"kernels_empty",
     M(QUEUES "\"kernels\": []"),
     "kernels", {0}, 0},
    {"kernel_not_an_object",
     M(QUEUES "\"kernels\": [5]"),
     "kernels[0]", {"5"}, 0},
    {"kernel_key_misspelt",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugn\": \"echo\", " PORTS "}]"),
     "kernels[0]", {"plugn", "plugin"}, 0},
    {"kernel_name_used_twice",
     M(QUEUES "\"kernels\": [" KERNEL ", {\"name\": \"e\", \"plugin\": \"echo\"}]"),
     "kernels[1].name", {0}, 0},
    {"input_port_unknown",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", "
       "\"inputs\": {\"inn\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]"),
     "kernels[0].inputs.inn", {"\"in\""}, 1},
    {"input_wired_to_undeclared_queue",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", "
       "\"inputs\": {\"in\": \"nowhere\"}, \"outputs\": {\"out\": \"e.out\"}}]"),
     "kernels[0].inputs.in", {"nowhere"}, 0},
    {"type_mismatch_between_two_kernels",
     M("\"queues\": {\"v.in\": {\"type\": \"vector.f32\"}, \"mid\": {}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, "
       "\"kernels\": [{\"name\": \"s\", \"plugin\": \"scale\", \"inputs\": {\"in\": \"v.in\"}, "
       "\"outputs\": {\"out\": \"mid\"}, \"config\": {\"factor\": 2.0}}, "
       "{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"mid\"}, "
       "\"outputs\": {\"out\": \"e.out\"}}]"),
     "kernels[1].inputs.in", {"vector.f32", "echo.message"}, 1},
    {"output_queue_of_another_type",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, "
       "\"e.out\": {\"type\": \"vector.f32\"}}, " KERNELS),
     "kernels[0].outputs.out", {"vector.f32", "echo.message"}, 0},
    {"pin_on_a_core_that_does_not_exist",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"pin\": {\"dispatch\": \"core:99\"}}]"),
     "kernels[0].pin.dispatch", {"99"}, 1},
    {"pin_syntax_unknown",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"pin\": {\"dispatch\": \"cpu:1\"}}]"),
     "kernels[0].pin.dispatch", {"cpu:1"}, 0},
    {"pin_key_misspelt",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"pin\": {\"dispach\": \"core:0\"}}]"),
     "kernels[0].pin", {"dispach", "dispatch"}, 0},
    {"workers_zero",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"workers\": 0}]"),
     "kernels[0].workers", {"0"}, 0},
    {"ring_capacity_not_a_power_of_two",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"ring_capacity\": 3}]"),
     "kernels[0].ring_capacity", {"3"}, 0},
    {"bridge_mode_unknown",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"bridge\": \"process\"}]"),
     "kernels[0].bridge", {"process", "inline"}, 0},
    {"wait_unknown",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"wait\": \"sleepy\"}]"),
     "kernels[0].wait", {"sleepy", "adaptive"}, 0},
    {"persist_queue_read_by_two_kernels",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"persist\": true}, "
       "\"e.out\": {\"type\": \"echo.message\"}}, \"kernels\": [" KERNEL ", "
       "{\"name\": \"e2\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"}}]"),
     "kernels[1].inputs.in", {"persist", "already read by kernels[0].inputs.in"}, 1},
    {"persist_with_shared_false",
     M("\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"persist\": true, "
       "\"shared\": false}, \"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].shared", {"needs a shared queue"}, 0},
    {"config_not_an_object",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS ", "
       "\"config\": \"x\"}]"),
     "kernels[0].config", {0}, 0},
    /* remote queues: links, export, import */
    {"links_not_an_object",
     M("\"links\": [1], " QUEUES KERNELS),
     "links", {"[1]"}, 0},
    {"link_unknown_key",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\", "
       "\"streem\": \"S\"}}, " QUEUES KERNELS),
     "links.hub", {"streem", "stream"}, 0},
    {"link_url_without_scheme",
     M("\"links\": {\"hub\": {\"nats\": \"127.0.0.1:4222\", \"stream\": \"S\"}}, " QUEUES KERNELS),
     "links.hub.nats", {"nats://"}, 0},
    {"link_url_with_a_password",
     M("\"links\": {\"hub\": {\"nats\": \"nats://u:p@127.0.0.1:4222\", \"stream\": \"S\"}}, "
       QUEUES KERNELS),
     "links.hub.nats", {"credentials"}, 0},
    {"link_second_url_bad",
     M("\"links\": {\"hub\": {\"nats\": [\"nats://127.0.0.1:4222\", 7], \"stream\": \"S\"}}, "
       QUEUES KERNELS),
     "links.hub.nats[1]", {"7"}, 0},
    {"link_stream_with_a_dot",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S.x\"}}, "
       QUEUES KERNELS),
     "links.hub.stream", {"S.x"}, 0},
    {"link_credentials_that_look_like_a_secret",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\", "
       "\"credentials\": \"user:hunter2\"}}, " QUEUES KERNELS),
     "links.hub.credentials", {"env:NAME"}, 0},
    {"link_duplicates_below_2_ack_waits",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\", "
       "\"ack_wait_ms\": 10000, \"duplicates_ms\": 15000}}, " QUEUES KERNELS),
     "links.hub.duplicates_ms", {"20000"}, 0},
    {"export_names_an_unknown_link",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\"}}, "
       "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": "
       "\"echo.message\", \"export\": {\"link\": \"hb\", \"subject\": \"a.b\"}}}, " KERNELS),
     "queues[\"e.out\"].export.link", {"hb", "\"hub\""}, 0},
    {"export_subject_with_a_wildcard",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\"}}, "
       "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": "
       "\"echo.message\", \"export\": {\"link\": \"hub\", \"subject\": \"a.*\"}}}, " KERNELS),
     "queues[\"e.out\"].export.subject", {"a.*", "no wildcards"}, 0},
    {"import_unknown_key",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\"}}, "
       "\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"import\": {\"link\": \"hub\", "
       "\"subjet\": \"a.b\"}}, \"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "queues[\"e.in\"].import", {"subjet", "subject"}, 0},
    {"queue_imports_and_exports_one_subject",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\"}}, "
       "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": "
       "\"echo.message\", \"export\": {\"link\": \"hub\", \"subject\": \"a.b\"}, "
       "\"import\": {\"link\": \"hub\", \"subject\": \"a.b\"}}}, " KERNELS),
     "queues[\"e.out\"].import.subject", {"a.b", "consume what it publishes"}, 0},
    {"exported_queue_read_by_a_kernel",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\"}}, "
       "\"queues\": {\"e.in\": {\"type\": \"echo.message\", \"export\": {\"link\": \"hub\", "
       "\"subject\": \"a.b\"}}, \"e.out\": {\"type\": \"echo.message\"}}, " KERNELS),
     "kernels[0].inputs.in", {"export bridge"}, 1},
    {"export_in_defaults",
     M("\"defaults\": {\"queue\": {\"export\": {\"link\": \"hub\", \"subject\": \"a\"}}}, "
       QUEUES KERNELS),
     "defaults.queue", {"export"}, 0},
    /* a kernel's config, against what its plugin declares (validate only:
     * run leaves the config to the kernel's init()) */
    {"config_key_the_kernel_does_not_declare",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", " PORTS
       ", \"config\": {\"factor\": 3}}]"),
     "kernels[0].config.factor", {"unknown key", "plugin echo declares no config keys"}, 0},
    {"config_key_misspelt",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"slow\", " PORTS
       ", \"config\": {\"delay\": 3}}]"),
     "kernels[0].config.delay", {"unknown key", "plugin slow declares the keys delay_us"}, 0},
    {"config_below_its_minimum",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"slow\", " PORTS
       ", \"config\": {\"delay_us\": -1}}]"),
     "kernels[0].config.delay_us", {"expected an integer in 0..60000000, got -1"}, 0},
    {"config_of_the_wrong_type",
     M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": \"slow\", " PORTS
       ", \"config\": {\"delay_us\": 1.5}}]"),
     "kernels[0].config.delay_us", {"expected an integer in 0..60000000, got 1.5"}, 0},
    {"kernels_empty_without_remote_queues",
     M("\"links\": {\"hub\": {\"nats\": \"nats://127.0.0.1:4222\", \"stream\": \"S\"}}, "
       QUEUES "\"kernels\": []"),
     "kernels", {"gateway"}, 0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Manifest path must be in stderr, then the JSON path, then the rest. */
static void check_report(const cli_out *o, const char *manifest, const bad_case *c)
{
    cli_expect_exit(o, 2);
    const char *file = strstr(o->r.err, manifest);
    CLI_CHECK(o, file, "expected stderr to name the manifest %s", manifest);
    CLI_CHECK(o, strstr(file + strlen(manifest), c->json_path),
              "expected stderr to name the JSON path %s (after the manifest's)", c->json_path);
    for (int i = 0; i < 3 && c->also[i]; i++)
        CLI_CHECK(o, strstr(o->r.err, c->also[i]), "expected stderr to mention %s",
                  c->also[i]);
}

static void test_validate_case(void **state)
{
    const bad_case *c = *state;
    const char *m = cli_manifest(cli_keep("validate-%s", c->tag), c->text);
    cli_out o;
    cli_exec(&o, NULL, "validate", m, NULL);
    check_report(&o, m, c);
    cli_free(&o);
}

static void test_run_case(void **state)
{
    const bad_case *c = *state;
    const char *m = cli_manifest(cli_keep("run-%s", c->tag), c->text);
    const char *req = cli_write(cli_keep("run-%s.jsonl", c->tag),
                                "{\"queue\": \"e.in\", \"body\": {\"seq\": 1, \"text\": \"x\"}}\n");
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", req, "--timeout", "10", NULL);
    check_report(&o, m, c);
    CLI_CHECK(&o, o.r.out_len == 0, "expected nothing on stdout from a manifest that is refused");
    cli_free(&o);
}

/* A JSON syntax error has no JSON path: the file, line and column instead. */
static void test_validate_reports_json_syntax_error_with_file_and_line(void **state)
{
    (void)state;
    const char *m = cli_manifest("syntax", "{\"ringhost\": 1,\n \"name\": \"@NAME@\",\n"
                                           " \"kernels\": [,]}\n");
    cli_out o;
    cli_exec(&o, NULL, "validate", m, NULL);
    cli_expect_exit(&o, 2);
    const char *where = cli_keep("%s:3", m);
    CLI_CHECK(&o, strstr(o.r.err, where), "expected stderr to name %s (file:line)", where);
    cli_free(&o);
}

static void test_validate_accepts_a_good_manifest(void **state)
{
    (void)state;
    const char *m = cli_manifest("good", M(QUEUES KERNELS));
    cli_out o;
    cli_exec(&o, NULL, "validate", m, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    /* a config the kernel declares, in range */
    m = cli_manifest("good-config", M(QUEUES "\"kernels\": [{\"name\": \"e\", \"plugin\": "
                                      "\"slow\", " PORTS ", \"config\": {\"delay_us\": 5}}]"));
    cli_exec(&o, NULL, "validate", m, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void test_validate_of_a_missing_file_is_bad_input(void **state)
{
    (void)state;
    const char *m = cli_keep("%s/does-not-exist.json", cli_tmpdir());
    cli_out o;
    cli_exec(&o, NULL, "validate", m, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, m), "expected stderr to name %s", m);
    cli_free(&o);
}

int main(void)
{
    static struct CMUnitTest tests[2 * N_CASES + 3];
    static char names[2 * N_CASES + 3][128];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_validate_accepts_a_good_manifest);
    for (size_t i = 0; i < N_CASES; i++) {
        snprintf(names[n], sizeof names[n], "test_validate_reports_%s", cases[i].tag);
        tests[n] = (struct CMUnitTest){names[n], test_validate_case, NULL, NULL,
                                       (void *)&cases[i]};
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_validate_reports_json_syntax_error_with_file_and_line);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_validate_of_a_missing_file_is_bad_input);
    for (size_t i = 0; i < N_CASES; i++) {
        if (!cases[i].via_run)
            continue;
        snprintf(names[n], sizeof names[n], "test_run_refuses_%s", cases[i].tag);
        tests[n] = (struct CMUnitTest){names[n], test_run_case, NULL, NULL, (void *)&cases[i]};
        n++;
    }
    return _cmocka_run_group_tests("cli manifest errors", tests, n, NULL, cli_group_teardown);
}
