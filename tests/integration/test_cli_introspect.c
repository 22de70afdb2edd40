/*
 * test_cli_introspect.c — the control protocol
 * introspects itself.  `methods` lists every request the host answers,
 * each with its parameters; `save_config` writes the running host (its
 * manifest and one launched into it) as one manifest, and a host run from
 * that file runs the same kernels and queues: its own save_config is the
 * same document (a fixed point), with the settings the first manifests
 * gave (a config value, workers, a capacity).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "control_common.h"

static const char *first_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"p.in\": {\"type\": \"vector.f32\", \"capacity\": 128},\n"
    "            \"p.mid\": {\"type\": \"vector.f32\"}},\n"
    " \"kernels\": [{\"name\": \"sc\", \"plugin\": \"scale\", \"workers\": 2,\n"
    "                \"config\": {\"factor\": 3}, \"inputs\": {\"in\": \"p.in\"},\n"
    "                \"outputs\": {\"out\": \"p.mid\"}}]}\n";

static const char *second_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"p.mid\": {\"type\": \"vector.f32\"}},\n"
    " \"kernels\": [{\"name\": \"su\", \"plugin\": \"sum\", \"bridge\": \"inline\",\n"
    "                \"inputs\": {\"in\": \"p.mid\"}}]}\n";

static json_t *saved(const char *instance)
{
    cli_out o;
    cli_exec(&o, NULL, "save-config", "--instance", instance, NULL);
    cli_expect_exit(&o, 0);
    json_t *m = json_loads(o.r.out, 0, NULL);
    CLI_CHECK(&o, json_is_object(m), "expected save-config to print one JSON manifest");
    cli_free(&o);
    return m;
}

static void test_methods_lists_every_request_with_its_parameters(void **state)
{
    (void)state;
    const char *inst = cli_instance("meth");
    proc host;
    assert_int_equal(ctl_start_host(&host, cli_manifest("meth", first_text), inst), 0);
    cli_out o;
    cli_exec(&o, NULL, "methods", "--instance", inst, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *arr = json_loads(o.r.out, 0, NULL);
    static const char *const want[] = {"ps", "activate", "deactivate", "terminate", "reload",
                                       "launch", "methods", "save_config"};
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        json_t *m, *found = NULL;
        size_t i;
        json_array_foreach (arr, i, m)
            if (!strcmp(json_string_value(json_object_get(m, "name")) ?: "", want[w]))
                found = m;
        CLI_CHECK(&o, found && json_is_array(json_object_get(found, "params")),
                  "expected method %s with its params", want[w]);
    }
    /* launch: manifest required, activate optional */
    json_t *m, *launch = NULL;
    size_t i;
    json_array_foreach (arr, i, m)
        if (!strcmp(json_string_value(json_object_get(m, "name")) ?: "", "launch"))
            launch = m;
    json_t *p0 = json_array_get(json_object_get(launch, "params"), 0);
    json_t *p1 = json_array_get(json_object_get(launch, "params"), 1);
    CLI_CHECK(&o, !strcmp(json_string_value(json_object_get(p0, "name")) ?: "", "manifest") &&
                      json_is_true(json_object_get(p0, "required")) &&
                      !strcmp(json_string_value(json_object_get(p1, "name")) ?: "", "activate") &&
                      json_is_false(json_object_get(p1, "required")),
              "expected launch(manifest, activate?)");
    json_decref(arr);
    cli_free(&o);
    ctl_kill_host(&host);
    cli_forget_killed_host(inst);
}

static void test_save_config_launches_the_same_host(void **state)
{
    (void)state;
    const char *inst = cli_instance("save");
    proc host;
    assert_int_equal(ctl_start_host(&host, cli_manifest("save", first_text), inst), 0);
    cli_out o;
    cli_exec(&o, NULL, "launch", cli_manifest("save2", second_text), "--instance", inst,
             "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    json_t *one = saved(inst);
    json_t *k0 = json_array_get(json_object_get(one, "kernels"), 0);
    json_t *k1 = json_array_get(json_object_get(one, "kernels"), 1);
    CLI_CHECK(&o, json_array_size(json_object_get(one, "kernels")) == 2 &&
                      !strcmp(json_string_value(json_object_get(k1, "name")) ?: "", "su"),
              "expected both manifests' kernels, sc and su");
    CLI_CHECK(&o, json_integer_value(json_object_get(k0, "workers")) == 2 &&
                      json_number_value(json_object_get(json_object_get(k0, "config"),
                                                        "factor")) == 3.0,
              "expected sc's workers and config kept");
    CLI_CHECK(&o, json_integer_value(json_object_get(json_object_get(
                      json_object_get(one, "queues"), "p.in"), "capacity")) == 128,
              "expected p.in's capacity 128 kept");
    CLI_CHECK(&o, json_object_get(json_object_get(one, "queues"), "su.out"),
              "expected su's automatic output queue listed");
    ctl_kill_host(&host);

    /* the saved manifest, run as is: its own save_config is the same */
    char *text = json_dumps(one, JSON_INDENT(2));
    const char *file = cli_write("saved.json", text);
    free(text);
    proc again;
    assert_int_equal(ctl_start_host(&again, file, inst), 0);
    json_t *two = saved(inst);
    if (!json_equal(one, two))
        fail_msg("expected the saved manifest to launch the same host:\nfirst: %s\nagain: %s",
                 json_dumps(one, JSON_COMPACT), json_dumps(two, JSON_COMPACT));
    json_decref(one);
    json_decref(two);
    ctl_kill_host(&again);
    cli_forget_killed_host(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_methods_lists_every_request_with_its_parameters),
        cmocka_unit_test(test_save_config_launches_the_same_host),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
