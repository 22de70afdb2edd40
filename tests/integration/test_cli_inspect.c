/*
 * test_cli_inspect.c — what a plugin takes and gives is
 * readable without its source.  `ringhost inspect PLUGIN` prints every
 * port's message fields and the kernel's config keys, `ringhost plugins
 * --json` carries the same, a plugin built before config_schema existed
 * (ABI 1.0 struct_size) loads and shows "not declared", and `ringhost-gen
 * --help` lists every field type of the schema language.
 */
#include <string.h>

#include "cli_common.h"

static void test_inspect_prints_each_ports_fields_and_the_config_keys(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "inspect", "vector_add", "--plugins", RH_TEST_PLUGIN_DIR, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "requests: vector_add.request"), "expected the input port");
    CLI_CHECK(&o, strstr(o.r.out, "enum add|sub|mul|div"), "expected the enum field and values");
    CLI_CHECK(&o, strstr(o.r.out, "f32[] max 1024 elements"), "expected the array fields");
    CLI_CHECK(&o, strstr(o.r.out, "string max 128 bytes"), "expected the string field");
    CLI_CHECK(&o, strstr(o.r.out, "processed_elements"), "expected the last response field");
    CLI_CHECK(&o, strstr(o.r.out, "(none: the kernel takes no config)"),
              "expected vector_add to declare no config keys");
    cli_free(&o);

    cli_exec(&o, NULL, "inspect", "slow", "--plugins", RH_TEST_PLUGIN_DIR, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "delay_us") && strstr(o.r.out, "default 1000") &&
                      strstr(o.r.out, "range 0..60000000"),
              "expected slow's config key delay_us with its default and range");
    cli_free(&o);
}

static void test_inspect_of_an_unknown_plugin_names_those_there(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "inspect", "scael", "--plugins", RH_TEST_PLUGIN_DIR, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "no plugin \"scael\"") && strstr(o.r.err, " scale"),
              "expected the unknown name and the plugins the folder has");
    cli_free(&o);
}

static json_t *plugin_named(json_t *doc, const char *kernel)
{
    json_t *p;
    size_t i;
    json_array_foreach (json_object_get(doc, "plugins"), i, p)
        if (json_string_value(json_object_get(p, "kernel")) &&
            !strcmp(json_string_value(json_object_get(p, "kernel")), kernel))
            return p;
    return NULL;
}

static void test_plugins_json_carries_fields_and_config_keys(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "plugins", RH_TEST_PLUGIN_DIR, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *doc = json_loads(o.r.out, 0, NULL);
    CLI_CHECK(&o, doc, "expected one JSON document on stdout");
    json_t *va = plugin_named(doc, "vector_add");
    CLI_CHECK(&o, va, "expected vector_add among the plugins");
    json_t *in = json_array_get(json_object_get(va, "inputs"), 0);
    json_t *fields = json_object_get(in, "fields");
    CLI_CHECK(&o, json_array_size(fields) == 3, "expected the request's 3 fields");
    json_t *op = json_array_get(fields, 0);
    CLI_CHECK(&o, !strcmp(json_string_value(json_object_get(op, "type")), "enum") &&
                      json_array_size(json_object_get(op, "values")) == 4,
              "expected field op: an enum of 4 values");
    CLI_CHECK(&o, json_integer_value(json_object_get(json_array_get(fields, 1), "max")) == 1024,
              "expected field a's max 1024");
    CLI_CHECK(&o, json_is_string(json_object_get(in, "fingerprint")) &&
                      strlen(json_string_value(json_object_get(in, "fingerprint"))) == 16,
              "expected the fingerprint as 16 hex digits");
    json_t *cfg = json_object_get(plugin_named(doc, "scale"), "config");
    CLI_CHECK(&o, !strcmp(json_string_value(json_object_get(json_object_get(cfg, "factor"),
                                                             "type")) ?: "", "number"),
              "expected scale's config key factor, a number");
    json_decref(doc);
    cli_free(&o);
}

static void test_a_plugin_built_before_config_schema_loads_as_not_declared(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "inspect", "abi10", "--plugins", RH_TEST_BUILD_DIR "/abi10_plugins",
             NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "(not declared"), "expected no config declaration");
    CLI_CHECK(&o, !strstr(o.r.out, "must_not_be_read"),
              "the host read config_schema past the descriptor's struct_size");
    cli_free(&o);
    cli_exec(&o, NULL, "plugins", RH_TEST_BUILD_DIR "/abi10_plugins", "--json", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "\"config\": null") && !strstr(o.r.out, "must_not_be_read"),
              "expected config null for the ABI 1.0 descriptor");
    cli_free(&o);
}

static void test_gen_help_lists_every_field_type(void **state)
{
    (void)state;
    char *argv[] = {RH_TEST_BUILD_DIR "/ringhost-gen", "--help", NULL};
    proc_result r;
    assert_int_equal(proc_run(argv, NULL, 30, &r), 0);
    assert_int_equal(r.exit_code, 0);
    static const char *const types[] = {"bool", "i8", "u8", "i16", "u16", "i32", "u32", "i64",
                                        "u64", "f32", "f64", "enum", "string", "T[]", "\"max\"",
                                        "docs/SCHEMA.md"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char want[32];
        snprintf(want, sizeof want, "\n  %s ", types[i]);
        if (!strstr(r.out, types[i][0] == '"' || types[i][0] == 'd' ? types[i] : want))
            fail_msg("ringhost-gen --help does not list %s:\n%s", types[i], r.out);
    }
    proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_prints_each_ports_fields_and_the_config_keys),
        cmocka_unit_test(test_inspect_of_an_unknown_plugin_names_those_there),
        cmocka_unit_test(test_plugins_json_carries_fields_and_config_keys),
        cmocka_unit_test(test_a_plugin_built_before_config_schema_loads_as_not_declared),
        cmocka_unit_test(test_gen_help_lists_every_field_type),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cli_cleanup();
    return rc;
}
