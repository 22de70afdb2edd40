/*
 * test_manifest.c — the manifest loader: the shipped manifests load with
 * their defaults applied, and every kind of mistake is refused with a
 * message naming the file, the JSON path and what was expected.
 *
 * Bad manifests are written inline with ' for " (write_manifest() swaps
 * them) so that each reads as the JSON a user would write.  Set
 * RH_TEST_VERBOSE=1 to see every error message as it prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Before cmocka.h: its fail() macro would rewrite kernel.h's api->fail(). */
#include <jansson.h>

#include "manifest/manifest.h"

#include <cmocka.h>

#define MANIFESTS RH_TEST_SOURCE_DIR "/manifests"

/* ------------------------------------------------------------ helpers --- */

static char tmp_path[64];

/* Write text (with ' standing for ") to a fresh file; path in tmp_path. */
static void write_manifest(const char *text)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/rh_manifest_XXXXXX.json");
    int fd = mkstemps(tmp_path, 5);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    for (const char *p = text; *p; p++)
        fputc(*p == '\'' ? '"' : *p, f);
    assert_int_equal(fclose(f), 0);
}

/* Load text; return the code and leave the message in err. */
static int load_text(const char *text, rh_manifest **m, rh_error *err)
{
    write_manifest(text);
    memset(err, 0, sizeof *err);
    *m = NULL;
    int rc = rh__manifest_load(tmp_path, m, err);
    unlink(tmp_path);
    if (getenv("RH_TEST_VERBOSE") && rc)
        print_message("    %s\n", err->msg);
    return rc;
}

static rh_manifest *load_good_text(const char *text)
{
    rh_manifest *m;
    rh_error err;
    int rc = load_text(text, &m, &err);
    if (rc != 0)
        fail_msg("expected the manifest to load, got %d: %s", rc, err.msg);
    return m;
}

/*
 * The manifest must be refused with RH_EMANIFEST and a message that starts
 * "<file>: <json_path>: " and contains each of the words (NULL-ended).
 */
static void expect_bad_v(const char *text, const char *json_path, va_list ap)
{
    rh_manifest *m;
    rh_error err;
    int rc = load_text(text, &m, &err);
    if (rc != RH_EMANIFEST)
        fail_msg("expected RH_EMANIFEST, got %d (%s): %s", rc, rh_strerror(rc), err.msg);
    assert_null(m);
    assert_int_equal(err.code, RH_EMANIFEST);

    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s: %s: ", tmp_path, json_path);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("expected the message to start with '%s', got '%s'", prefix, err.msg);
    for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
        if (!strstr(err.msg, w))
            fail_msg("expected the message to contain '%s', got '%s'", w, err.msg);
}

static void expect_bad_(const char *text, const char *json_path, ...)
{
    va_list ap;
    va_start(ap, json_path);
    expect_bad_v(text, json_path, ap);
    va_end(ap);
}
#define expect_bad(text, json_path, ...) \
    expect_bad_(text, json_path, __VA_ARGS__, (const char *)NULL)

/* A valid manifest with pieces to vary.  q_in: settings of queue "q.in";
 * k_extra: more keys of kernel "k" (starting with ", "); top_extra: more
 * top-level keys (starting with ", "). */
#define TOP "'ringhost': 1, 'name': 't'"
#define QUEUES(q_in) "'queues': {'q.in': {" q_in "}, 'q.out': {}}"
#define KERNEL(k_extra) \
    "{'name': 'k', 'plugin': 'p', 'inputs': {'in': 'q.in'}, 'outputs': {'out': 'q.out'}" k_extra "}"
#define MANIFEST_FULL(top_extra, q_in, k_extra) \
    "{" TOP top_extra ", " QUEUES(q_in) ", 'kernels': [" KERNEL(k_extra) "]}"
#define WITH_TOP(top_extra) MANIFEST_FULL(top_extra, "", "")
#define WITH_QUEUE(q_in) MANIFEST_FULL("", q_in, "")
#define WITH_KERNEL(k_extra) MANIFEST_FULL("", "", k_extra)

#define Q_IN "queues[\"q.in\"]"
#define NAME_64 "a.23456789012345678901234567890123456789012345678901234567890123"

/* realpath() of joined when it exists, else joined: how plugin folders are stored. */
static void expected_dir(char *out, size_t n, const char *joined)
{
    char *r = realpath(joined, NULL);
    snprintf(out, n, "%s", r ? r : joined);
    free(r);
}

/* ------------------------------------------------- shipped manifests --- */

static void test_vector_add_manifest_loads_with_defaults_applied(void **state)
{
    (void)state;
    rh_manifest *m = NULL;
    rh_error err = {0};
    int rc = rh__manifest_load(MANIFESTS "/vector_add.json", &m, &err);
    if (rc)
        fail_msg("expected vector_add.json to load: %s", err.msg);

    assert_string_equal(m->path, MANIFESTS "/vector_add.json");
    assert_string_equal(m->name, "vector-add-demo");
    char dir[4096];
    expected_dir(dir, sizeof dir, MANIFESTS "/../plugins");
    assert_int_equal(m->n_plugin_dirs, 1);
    assert_string_equal(m->plugin_dirs[0], dir);
    assert_string_equal(m->placement, "none");
    assert_int_equal(m->strict, 1);

    assert_int_equal(m->queue_defaults.capacity, 4096);
    assert_int_equal(m->queue_defaults.dedup_window, 1024);
    assert_int_equal(m->queue_defaults.backpressure, RH_BP_BLOCK);
    assert_int_equal(m->queue_defaults.block_timeout_ms, 5000);
    assert_int_equal(m->queue_defaults.ttl_ms, 0);
    assert_int_equal(m->queue_defaults.shared, 1);
    assert_int_equal(m->wait_default, RH_WAIT_ADAPTIVE);
    assert_int_equal(m->batch_default, 32);
    assert_int_equal(m->ring_capacity_default, 0); /* auto: sized by type at launch */

    assert_int_equal(m->n_queues, 2);
    rh_queue_decl *in = rh__manifest_queue(m, "vadd.in");
    rh_queue_decl *out = rh__manifest_queue(m, "vadd.out");
    assert_non_null(in);
    assert_non_null(out);
    assert_string_equal(in->type, "vector_add.request");
    assert_string_equal(out->type, "vector_add.response");
    assert_string_equal(in->json_path, "queues[\"vadd.in\"]");
    assert_int_equal(in->cfg.capacity, 4096);
    assert_int_equal(in->cfg.dedup_window, 1024);
    assert_int_equal(in->cfg.backpressure, RH_BP_BLOCK);
    assert_int_equal(in->cfg.block_timeout_ms, 5000);
    assert_int_equal(in->cfg.shared, 1);
    assert_null(rh__manifest_queue(m, "vadd.nope"));

    assert_int_equal(m->n_kernels, 1);
    rh_kernel_decl *k = &m->kernels[0];
    assert_string_equal(k->name, "vadd");
    assert_string_equal(k->plugin, "vector_add");
    assert_int_equal(k->workers, 1);
    assert_int_equal(k->n_inputs, 1);
    assert_string_equal(k->inputs[0].port, "requests");
    assert_string_equal(k->inputs[0].queue, "vadd.in");
    assert_int_equal(k->n_outputs, 1);
    assert_string_equal(k->outputs[0].port, "responses");
    assert_string_equal(k->outputs[0].queue, "vadd.out");
    assert_string_equal(k->pin_dispatch.text, "core:1");
    assert_string_equal(k->pin_pump.text, "core:0");
    assert_int_equal(k->bridge, RH_BRIDGE_THREAD);
    assert_int_equal(k->wait, RH_WAIT_ADAPTIVE);
    assert_int_equal(k->batch, 32);
    assert_int_equal(k->ring_capacity, 0); /* auto */
    assert_string_equal(k->config_json, "{}");
    rh__manifest_free(m);
}

static void test_pipeline_manifest_chains_two_kernels_through_one_queue(void **state)
{
    (void)state;
    rh_manifest *m = NULL;
    rh_error err = {0};
    int rc = rh__manifest_load(MANIFESTS "/pipeline.json", &m, &err);
    if (rc)
        fail_msg("expected pipeline.json to load: %s", err.msg);

    /* No "defaults": the built-in ones. */
    assert_int_equal(m->queue_defaults.capacity, 4096);
    assert_int_equal(m->queue_defaults.dedup_window, 0);
    assert_int_equal(m->queue_defaults.backpressure, RH_BP_BLOCK);
    assert_int_equal(m->queue_defaults.block_timeout_ms, 5000);
    assert_int_equal(m->queue_defaults.ttl_ms, 0);
    assert_int_equal(m->queue_defaults.shared, 1);

    assert_int_equal(m->n_queues, 3);
    assert_string_equal(rh__manifest_queue(m, "pipe.in")->type, "vector.f32");
    assert_string_equal(rh__manifest_queue(m, "pipe.mid")->type, "vector.f32");
    assert_string_equal(rh__manifest_queue(m, "pipe.out")->type, "sum.result");

    assert_int_equal(m->n_kernels, 2);
    rh_kernel_decl *scale = &m->kernels[0], *sum = &m->kernels[1];
    assert_string_equal(scale->name, "scale");
    assert_string_equal(scale->plugin, "scale");
    assert_string_equal(scale->inputs[0].port, "in");
    assert_string_equal(scale->inputs[0].queue, "pipe.in");
    assert_string_equal(scale->outputs[0].port, "out");
    assert_string_equal(scale->outputs[0].queue, "pipe.mid");
    assert_string_equal(scale->config_json, "{\"factor\":2.0}");
    assert_string_equal(scale->pin_dispatch.text, "");
    assert_string_equal(scale->pin_pump.text, "");
    assert_string_equal(sum->name, "sum");
    assert_string_equal(sum->inputs[0].queue, "pipe.mid");
    assert_string_equal(sum->outputs[0].queue, "pipe.out");
    assert_string_equal(sum->config_json, "{}");
    assert_int_equal(sum->workers, 1);
    assert_int_equal(sum->wait, RH_WAIT_ADAPTIVE);
    assert_int_equal(sum->batch, 32);
    assert_int_equal(sum->ring_capacity, 0); /* auto */
    rh__manifest_free(m);
}

static void test_echo_manifest_loads(void **state)
{
    (void)state;
    rh_manifest *m = NULL;
    rh_error err = {0};
    int rc = rh__manifest_load(MANIFESTS "/echo.json", &m, &err);
    if (rc)
        fail_msg("expected echo.json to load: %s", err.msg);
    assert_int_equal(m->n_kernels, 1);
    assert_string_equal(m->kernels[0].name, "echo");
    assert_string_equal(m->kernels[0].plugin, "echo");
    assert_string_equal(m->kernels[0].inputs[0].queue, "echo.in");
    assert_string_equal(m->kernels[0].outputs[0].queue, "echo.out");
    assert_string_equal(rh__manifest_queue(m, "echo.in")->type, "echo.message");
    assert_string_equal(rh__manifest_queue(m, "echo.out")->type, "echo.message");
    rh__manifest_free(m);
}

/* Each line of a .jsonl file, parsed; the count is returned. */
static size_t load_lines(const char *path, json_t **lines, size_t max)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[8192];
    size_t n = 0;
    while (fgets(buf, sizeof buf, f)) {
        json_error_t je;
        assert_true(n < max);
        lines[n] = json_loads(buf, 0, &je);
        if (!lines[n])
            fail_msg("%s line %zu: %s", path, n + 1, je.text);
        n++;
    }
    fclose(f);
    return n;
}

static void test_vector_add_requests_are_the_three_cases_of_the_report(void **state)
{
    (void)state;
    json_t *lines[8];
    size_t n = load_lines(MANIFESTS "/vector_add.requests.jsonl", lines, 8);
    assert_int_equal(n, 3);
    static const size_t lens[] = {10, 25, 100};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(json_string_value(json_object_get(lines[i], "queue")), "vadd.in");
        json_t *body = json_object_get(lines[i], "body");
        assert_string_equal(json_string_value(json_object_get(body, "op")), "add");
        json_t *a = json_object_get(body, "a"), *b = json_object_get(body, "b");
        assert_int_equal(json_array_size(a), lens[i]);
        assert_int_equal(json_array_size(b), lens[i]);
        for (size_t j = 0; j < lens[i]; j++) {
            double x = json_number_value(json_array_get(a, j));
            assert_true(x == (double)(j + 1));
            assert_true(json_number_value(json_array_get(b, j)) == (double)(i + 2) * x);
        }
        json_decref(lines[i]);
    }
}

static void test_pipeline_requests_feed_pipe_in(void **state)
{
    (void)state;
    json_t *lines[8];
    size_t n = load_lines(MANIFESTS "/pipeline.requests.jsonl", lines, 8);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(json_string_value(json_object_get(lines[i], "queue")), "pipe.in");
        json_t *values = json_object_get(json_object_get(lines[i], "body"), "values");
        assert_int_equal(json_array_size(values), 4);
        json_decref(lines[i]);
    }
}

static void test_schema_is_json_schema_2020_12(void **state)
{
    (void)state;
    json_error_t je;
    json_t *s = json_load_file(MANIFESTS "/manifest.schema.json", JSON_REJECT_DUPLICATES, &je);
    if (!s)
        fail_msg("manifest.schema.json:%d:%d: %s", je.line, je.column, je.text);
    assert_string_equal(json_string_value(json_object_get(s, "$schema")),
                        "https://json-schema.org/draft/2020-12/schema");
    json_decref(s);
}

/* ----------------------------------------------------- good variations --- */

static void test_defaults_block_applies_to_queues_and_kernels(void **state)
{
    (void)state;
    rh_manifest *m = load_good_text(
        "{" TOP ", 'defaults': {'queue': {'capacity': 64, 'backpressure': 'reject', 'ttl_ms': 100,"
        " 'shared': false, 'dedup_window': 256, 'block_timeout_ms': 7},"
        " 'wait': 'park', 'batch': 8, 'ring_capacity': 256},"
        " 'queues': {'a': {'capacity': 128, 'backpressure': 'drop_oldest'}, 'b': {}},"
        " 'kernels': [{'name': 'k1', 'plugin': 'p',"
        "              'inputs': {'in': 'a'}, 'outputs': {'out': 'b'}},"
        "             {'name': 'k2', 'plugin': 'p', 'wait': 'spin', 'batch': 1, 'ring_capacity': 2,"
        "              'bridge': 'inline', 'workers': 256}]}");
    rh_queue_decl *a = rh__manifest_queue(m, "a"), *b = rh__manifest_queue(m, "b");
    assert_int_equal(a->cfg.capacity, 128);
    assert_int_equal(a->cfg.backpressure, RH_BP_DROP_OLDEST);
    assert_int_equal(a->cfg.ttl_ms, 100);
    assert_int_equal(a->cfg.shared, 0);
    assert_int_equal(a->cfg.dedup_window, 256);
    assert_int_equal(a->cfg.block_timeout_ms, 7);
    assert_string_equal(a->type, "");
    assert_int_equal(b->cfg.capacity, 64);
    assert_int_equal(b->cfg.backpressure, RH_BP_REJECT);
    assert_int_equal(m->kernels[0].wait, RH_WAIT_PARK);
    assert_int_equal(m->kernels[0].batch, 8);
    assert_int_equal(m->kernels[0].ring_capacity, 256);
    assert_int_equal(m->kernels[0].bridge, RH_BRIDGE_THREAD);
    assert_int_equal(m->kernels[1].wait, RH_WAIT_SPIN);
    assert_int_equal(m->kernels[1].batch, 1);
    assert_int_equal(m->kernels[1].ring_capacity, 2);
    assert_int_equal(m->kernels[1].bridge, RH_BRIDGE_INLINE);
    assert_int_equal(m->kernels[1].workers, 256);
    rh__manifest_free(m);
}

static void test_pin_list_is_joined_with_commas(void **state)
{
    (void)state;
    rh_manifest *m = load_good_text(
        WITH_KERNEL(", 'pin': {'dispatch': ['core:0', 'core:1'], 'pump': 'numa:0'}"));
    assert_string_equal(m->kernels[0].pin_dispatch.text, "core:0,core:1");
    assert_string_equal(m->kernels[0].pin_pump.text, "numa:0");
    rh__manifest_free(m);
}

static void test_placement_policy_and_strict_are_read(void **state)
{
    (void)state;
    rh_manifest *m = load_good_text(WITH_TOP(", 'placement': 'scatter', 'strict': false"));
    assert_string_equal(m->placement, "scatter");
    assert_int_equal(m->strict, 0);
    rh__manifest_free(m);
}

static void test_plugin_folders_are_relative_to_the_manifest(void **state)
{
    (void)state;
    rh_manifest *m = load_good_text(WITH_TOP(", 'plugins': ['/opt/rh/plugins', 'no/such/dir']"));
    assert_int_equal(m->n_plugin_dirs, 2);
    assert_string_equal(m->plugin_dirs[0], "/opt/rh/plugins");
    assert_string_equal(m->plugin_dirs[1], "/tmp/no/such/dir");
    rh__manifest_free(m);

    m = load_good_text(WITH_TOP(""));
    char dir[4096];
    expected_dir(dir, sizeof dir, "/tmp/../plugins");
    assert_int_equal(m->n_plugin_dirs, 1);
    assert_string_equal(m->plugin_dirs[0], dir);
    rh__manifest_free(m);
}

static void test_manifest_given_by_a_bare_file_name_finds_its_plugins(void **state)
{
    (void)state;
    char cwd[4096], dir[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(MANIFESTS), 0);
    rh_manifest *m = NULL;
    rh_error err = {0};
    int rc = rh__manifest_load("echo.json", &m, &err);
    assert_int_equal(chdir(cwd), 0);
    if (rc)
        fail_msg("expected echo.json to load: %s", err.msg);
    expected_dir(dir, sizeof dir, MANIFESTS "/../plugins");
    assert_string_equal(m->path, "echo.json");
    assert_string_equal(m->plugin_dirs[0], dir);
    rh__manifest_free(m);
}

static void test_longest_queue_name_keeps_its_whole_json_path(void **state)
{
    (void)state;
    rh_manifest *m = load_good_text(
        "{" TOP ", 'queues': {'" NAME_64 "': {}},"
        " 'kernels': [{'name': 'k', 'plugin': 'p'}]}");
    assert_int_equal(m->n_queues, 1);
    assert_int_equal(strlen(m->queues[0].name), RH_QUEUE_NAME_MAX);
    assert_string_equal(m->queues[0].json_path,
                        "queues[\"" NAME_64 "\"]");
    rh__manifest_free(m);
}

static void test_unwired_ports_and_config_object_are_accepted(void **state)
{
    (void)state;
    rh_manifest *m = load_good_text(
        "{" TOP ", 'kernels': [{'name': 'lonely', 'plugin': 'p',"
        " 'config': {'n': [1, 2], 's': 'x'}}]}");
    assert_int_equal(m->n_queues, 0);
    assert_int_equal(m->kernels[0].n_inputs, 0);
    assert_int_equal(m->kernels[0].n_outputs, 0);
    assert_string_equal(m->kernels[0].config_json, "{\"n\":[1,2],\"s\":\"x\"}");
    rh__manifest_free(m);
}

static void test_path_key_brackets_keys_with_dots(void **state)
{
    (void)state;
    char p[128];
    rh__manifest_path_key(p, sizeof p, "kernels[0].inputs", "requests");
    assert_string_equal(p, "kernels[0].inputs.requests");
    rh__manifest_path_key(p, sizeof p, "queues", "vadd.in");
    assert_string_equal(p, "queues[\"vadd.in\"]");
    rh__manifest_path_key(p, sizeof p, "", "name");
    assert_string_equal(p, "name");
    rh__manifest_path_key(p, sizeof p, "queues", "a \"b\"");
    assert_string_equal(p, "queues[\"a \\\"b\\\"\"]");
}

/* ------------------------------------------------------ file and JSON --- */

static void test_missing_file_is_enoent(void **state)
{
    (void)state;
    rh_manifest *m = NULL;
    rh_error err = {0};
    int rc = rh__manifest_load("/nonexistent/ringhost/m.json", &m, &err);
    assert_int_equal(rc, RH_ENOENT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "/nonexistent/ringhost/m.json: "));
    assert_non_null(strstr(err.msg, "No such file"));
}

static void test_directory_is_not_a_manifest(void **state)
{
    (void)state;
    rh_manifest *m = NULL;
    rh_error err = {0};
    assert_int_equal(rh__manifest_load(MANIFESTS, &m, &err), RH_EMANIFEST);
    assert_null(m);
    assert_string_equal(err.msg, MANIFESTS ": cannot open the manifest: Is a directory");
}

static void test_json_syntax_error_names_line_and_column(void **state)
{
    (void)state;
    rh_manifest *m;
    rh_error err;
    int rc = load_text("{\n  'ringhost': 1,\n  'name': 't'\n  'kernels': []\n}\n", &m, &err);
    assert_int_equal(rc, RH_EMANIFEST);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s:4:", tmp_path);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("expected the message to start with '%s', got '%s'", prefix, err.msg);
    assert_non_null(strstr(err.msg, "invalid JSON: '}' expected near"));
}

static void test_duplicate_json_key_is_rejected(void **state)
{
    (void)state;
    rh_manifest *m;
    rh_error err;
    int rc = load_text("{'ringhost': 1,\n 'name': 'a',\n 'name': 'b'}", &m, &err);
    assert_int_equal(rc, RH_EMANIFEST);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s:3:", tmp_path);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("expected the message to start with '%s', got '%s'", prefix, err.msg);
    assert_non_null(strstr(err.msg, "duplicate object key"));
}

static void test_top_level_must_be_an_object(void **state)
{
    (void)state;
    expect_bad("[1, 2]", "top level", "expected an object", "got [1,2]");
}

/* ---------------------------------------------------------- top level --- */

static void test_missing_ringhost_version_is_rejected(void **state)
{
    (void)state;
    expect_bad("{'name': 't', 'kernels': [{'name': 'k', 'plugin': 'p'}]}", "ringhost",
               "expected 1 (the manifest format version", "got nothing");
}

static void test_unknown_ringhost_version_is_rejected(void **state)
{
    (void)state;
    expect_bad("{'ringhost': 2, 'name': 't', 'kernels': [{'name': 'k', 'plugin': 'p'}]}",
               "ringhost", "expected 1", "got 2");
}

static void test_missing_name_is_rejected(void **state)
{
    (void)state;
    expect_bad("{'ringhost': 1, 'kernels': [{'name': 'k', 'plugin': 'p'}]}", "name",
               "expected a manifest name of 1 to 63 characters", "got nothing",
               "only a manifest launched into a running host", "ringhost launch");
}

static void test_unknown_top_level_key_suggests_nearest(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'defualts': {}"), "top level",
               "unknown key \"defualts\"; did you mean \"defaults\"?");
}

static void test_unknown_key_far_from_all_lists_known_keys(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'colour': 'blue'"), "top level", "unknown key \"colour\"",
               "known keys are \"ringhost\", \"name\"", "\"queues\" or \"kernels\"");
}

static void test_plugins_must_be_an_array(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'plugins': '../plugins'"), "plugins",
               "expected an array of 1 to 8 plugin folders", "got \"../plugins\"");
}

/* Found by fuzz_manifest: an empty list loaded, with no folder to find a
 * kernel in. */
static void test_plugins_must_name_at_least_one_folder(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'plugins': []"), "plugins", "expected an array of 1 to 8 plugin folders",
               "got []");
}

static void test_plugin_folder_must_be_a_non_empty_string(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'plugins': ['a', '']"), "plugins[1]", "expected a folder name",
               "got \"\"");
}

static void test_more_than_eight_plugin_folders_are_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'plugins': ['1','2','3','4','5','6','7','8','9']"), "plugins",
               "an array of 1 to 8");
}

static void test_unknown_placement_policy_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'placement': 'random'"), "placement",
               "expected one of \"none\", \"compact\" or \"scatter\"", "got \"random\"");
}

static void test_strict_must_be_a_boolean(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'strict': 1"), "strict", "expected true or false", "got 1");
}

/* ----------------------------------------------------------- defaults --- */

static void test_unknown_backpressure_policy_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'defaults': {'queue': {'backpressure': 'drop_random'}}"),
               "defaults.queue.backpressure",
               "expected one of \"block\", \"reject\", \"drop_oldest\" or \"drop_newest\"",
               "got \"drop_random\"");
}

static void test_defaults_queue_takes_no_type(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'defaults': {'queue': {'type': 'x'}}"), "defaults.queue",
               "unknown key \"type\"");
}

static void test_default_batch_must_be_an_integer(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'defaults': {'batch': 2.5}"), "defaults.batch",
               "expected an integer between 1 and 4096", "got 2.5");
}

static void test_default_wait_must_be_known(void **state)
{
    (void)state;
    expect_bad(WITH_TOP(", 'defaults': {'wait': 'nap'}"), "defaults.wait",
               "expected one of \"spin\", \"yield\", \"park\" or \"adaptive\"", "got \"nap\"");
}

/* ------------------------------------------------------------- queues --- */

static void test_capacity_not_a_power_of_two_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'capacity': 1000"), Q_IN ".capacity",
               "expected a power of two between 2 and 16777216 (slots)", "got 1000");
}

static void test_capacity_zero_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'capacity': 0"), Q_IN ".capacity",
               "expected a power of two between 2 and 16777216", "got 0");
}

static void test_capacity_above_2_pow_24_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'capacity': 33554432"), Q_IN ".capacity",
               "expected a power of two between 2 and 16777216", "got 33554432");
}

static void test_capacity_written_as_a_real_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'capacity': 4096.0"), Q_IN ".capacity", "expected a power of two",
               "got 4096.0");
}

static void test_dedup_window_above_four_capacities_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'capacity': 8, 'dedup_window': 33"), Q_IN ".dedup_window",
               "expected an integer between 0 and 4 * capacity = 32", "got 33");
}

static void test_inherited_dedup_window_blames_the_small_capacity(void **state)
{
    (void)state;
    expect_bad(MANIFEST_FULL(", 'defaults': {'queue': {'dedup_window': 1024}}",
                             "'capacity': 128", ""),
               Q_IN ".capacity", "expected a power of two between 256 and 16777216",
               "dedup_window 1024 from defaults.queue", "got 128");
}

static void test_negative_ttl_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'ttl_ms': -1"), Q_IN ".ttl_ms",
               "expected an integer between 0 and 2147483647 (milliseconds", "got -1");
}

static void test_block_timeout_must_be_a_number(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'block_timeout_ms': '5s'"), Q_IN ".block_timeout_ms",
               "expected an integer between 0 and 2147483647", "got \"5s\"");
}

static void test_shared_must_be_a_boolean(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'shared': 'yes'"), Q_IN ".shared", "expected true or false",
               "got \"yes\"");
}

static void test_persist_must_be_a_boolean(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'persist': 1"), Q_IN ".persist", "expected true or false", "got 1");
}

static void test_persist_with_shared_false_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'shared': false, 'persist': true"), Q_IN ".shared",
               "expected true (\"persist\": true needs a shared queue", "got false");
}

static void test_persist_inherited_blames_the_queues_shared_false(void **state)
{
    (void)state;
    expect_bad(MANIFEST_FULL(", 'defaults': {'queue': {'persist': true}}", "'shared': false", ""),
               Q_IN ".shared", "needs a shared queue", "got false");
}

static void test_persist_in_a_private_default_queue_is_rejected(void **state)
{
    (void)state;
    expect_bad(MANIFEST_FULL(", 'defaults': {'queue': {'shared': false, 'persist': true}}", "",
                             ""),
               "defaults.queue.shared", "needs a shared queue", "got false");
}

static void test_persist_with_drop_oldest_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'persist': true, 'backpressure': 'drop_oldest'"),
               Q_IN ".backpressure", "expected block, reject or drop_newest",
               "got \"drop_oldest\"");
}

static void test_persist_is_read_from_queues_and_defaults(void **state)
{
    (void)state;
    rh_manifest *m;
    rh_error err;
    int rc = load_text(MANIFEST_FULL(", 'defaults': {'queue': {'persist': true}}",
                                     "'persist': false", ""),
                       &m, &err);
    if (rc != 0)
        fail_msg("expected the manifest to load, got %d: %s", rc, err.msg);
    assert_int_equal(m->queue_defaults.persist, 1);
    assert_int_equal(m->queues[0].cfg.persist, 0);
    rh__manifest_free(m);
}

static void test_unknown_queue_key_suggests_capacity(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'capactiy': 64"), Q_IN,
               "unknown key \"capactiy\"; did you mean \"capacity\"?");
}

static void test_bad_queue_name_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'queues': {'a b': {}}, 'kernels': [{'name': 'k', 'plugin': 'p'}]}",
               "queues[\"a b\"]", "expected a queue name of 1 to 64 characters from [A-Za-z0-9._-]",
               "got \"a b\"");
}

static void test_queue_name_of_65_characters_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'queues': {'" NAME_64 "4': {}},"
               " 'kernels': [{'name': 'k', 'plugin': 'p'}]}",
               "queues[\"" NAME_64 "4\"]", "expected a queue name of 1 to 64 characters");
}

static void test_queue_settings_must_be_an_object(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'queues': {'q': 4096}, 'kernels': [{'name': 'k', 'plugin': 'p'}]}",
               "queues.q", "expected an object of queue settings", "got 4096");
}

static void test_queue_type_must_be_a_type_name(void **state)
{
    (void)state;
    expect_bad(WITH_QUEUE("'type': 7"), Q_IN ".type", "expected a message type name",
               "got 7");
}

/* ------------------------------------------------------------ kernels --- */

static void test_missing_kernels_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP "}", "kernels", "expected a non-empty array of kernels", "got nothing");
}

static void test_empty_kernels_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'kernels': []}", "kernels", "expected a non-empty array of kernels",
               "got []");
}

static void test_unknown_kernel_key_suggests_plugin(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'kernels': [{'name': 'k', 'plugn': 'p'}]}", "kernels[0]",
               "unknown key \"plugn\"; did you mean \"plugin\"?");
}

static void test_missing_plugin_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'kernels': [{'name': 'k'}]}", "kernels[0].plugin",
               "expected a plugin name", "got nothing");
}

/* A "plugin" that could reach outside the plugin folders: a relative path
 * or a name with "..".  Refused by the loader whatever the command line
 * allows; the message says what is accepted, --allow-plugin included. */
static void test_plugin_as_a_relative_path_or_with_dot_dot_is_rejected(void **state)
{
    (void)state;
    static const char *const refs[] = {"../plugins/echo", "sub/echo", "./echo.so", "..",
                                       "echo..so", "..echo"};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{" TOP ", 'kernels': [{'name': 'k', 'plugin': '%s'}]}",
                 refs[i]);
        expect_bad(text, "kernels[0].plugin", "without \"..\"", "--allow-plugin", refs[i]);
    }
}

/* An absolute path is kept as written: only the runtime, told by the
 * command line (rh_launch_opts.allow_plugins), may load it. */
static void test_plugin_as_an_absolute_path_is_kept_for_the_command_line_to_allow(void **state)
{
    (void)state;
    rh_manifest *m = load_good_text(
        "{" TOP ", 'kernels': [{'name': 'k', 'plugin': '/opt/kernels/my echo.so'}]}");
    assert_string_equal(m->kernels[0].plugin, "/opt/kernels/my echo.so");
    rh__manifest_free(m);
    rh_manifest *m2;
    rh_error err;
    /* a control character is no path a user wrote */
    assert_int_equal(load_text("{" TOP ", 'kernels': [{'name': 'k', 'plugin': '/a\\u0001b.so'}]}",
                               &m2, &err),
                     RH_EMANIFEST);
}

static void test_duplicate_kernel_name_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'kernels': [{'name': 'k', 'plugin': 'p'}, {'name': 'k', 'plugin': 'p'}]}",
               "kernels[1].name", "expected a kernel name not already used by kernels[0]",
               "got \"k\"");
}

static void test_kernel_name_with_a_dot_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", 'kernels': [{'name': 'a.b', 'plugin': 'p'}]}", "kernels[0].name",
               "expected a kernel name of 1 to 63 characters from [A-Za-z0-9_-]", "got \"a.b\"");
}

static void test_zero_workers_are_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'workers': 0"), "kernels[0].workers",
               "expected an integer between 1 and 256", "got 0");
}

static void test_too_many_workers_are_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'workers': 1000"), "kernels[0].workers",
               "expected an integer between 1 and 256", "got 1000");
}

static void test_batch_zero_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'batch': 0"), "kernels[0].batch",
               "expected an integer between 1 and 4096", "got 0");
}

static void test_batch_as_string_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'batch': '32'"), "kernels[0].batch",
               "expected an integer between 1 and 4096", "got \"32\"");
}

static void test_ring_capacity_not_a_power_of_two_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'ring_capacity': 100"), "kernels[0].ring_capacity",
               "expected a power of two between 2 and 65536", "got 100");
}

static void test_port_bound_to_undeclared_queue_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", " QUEUES("") ", 'kernels': [{'name': 'k', 'plugin': 'p',"
               " 'inputs': {'requests': 'q.inn'}}]}",
               "kernels[0].inputs.requests",
               "expected the name of a queue declared in \"queues\"", "got \"q.inn\"");
}

static void test_port_bound_in_inputs_and_outputs_is_rejected(void **state)
{
    (void)state;
    expect_bad("{" TOP ", " QUEUES("") ", 'kernels': [{'name': 'k', 'plugin': 'p',"
               " 'inputs': {'x': 'q.in'}, 'outputs': {'x': 'q.out'}}]}",
               "kernels[0].outputs.x",
               "expected a port name not already bound in kernels[0].inputs");
}

static void test_inputs_must_be_an_object(void **state)
{
    (void)state;
    expect_bad("{" TOP ", " QUEUES("") ", 'kernels': [{'name': 'k', 'plugin': 'p',"
               " 'inputs': ['q.in']}]}",
               "kernels[0].inputs", "expected an object mapping port names to queue names",
               "got [\"q.in\"]");
}

static void test_pin_with_unknown_kind_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'pin': {'dispatch': 'cpu:1'}"), "kernels[0].pin.dispatch",
               "expected a placement \"core:N\", \"pu:N\" or \"numa:N\"", "got \"cpu:1\"");
}

static void test_pin_with_negative_index_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'pin': {'pump': 'core:-1'}"), "kernels[0].pin.pump",
               "(N a non-negative integer)", "got \"core:-1\"");
}

static void test_pin_list_names_the_bad_element(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'pin': {'pump': ['core:0', 'core:x']}"), "kernels[0].pin.pump[1]",
               "expected a placement", "got \"core:x\"");
}

static void test_pin_empty_list_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'pin': {'dispatch': []}"), "kernels[0].pin.dispatch",
               "non-empty list", "got []");
}

static void test_unknown_pin_key_suggests_dispatch(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'pin': {'dispatcher': 'core:0'}"), "kernels[0].pin",
               "unknown key \"dispatcher\"; did you mean \"dispatch\"?");
}

static void test_unknown_bridge_mode_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'bridge': 'process'"), "kernels[0].bridge",
               "expected \"thread\" or \"inline\"", "got \"process\"");
}

static void test_unknown_wait_strategy_is_rejected(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'wait': 'sleep'"), "kernels[0].wait",
               "expected one of \"spin\", \"yield\", \"park\" or \"adaptive\"", "got \"sleep\"");
}

static void test_config_must_be_an_object(void **state)
{
    (void)state;
    expect_bad(WITH_KERNEL(", 'config': [1, 2]"), "kernels[0].config", "expected an object",
               "got [1,2]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_add_manifest_loads_with_defaults_applied),
        cmocka_unit_test(test_pipeline_manifest_chains_two_kernels_through_one_queue),
        cmocka_unit_test(test_echo_manifest_loads),
        cmocka_unit_test(test_vector_add_requests_are_the_three_cases_of_the_report),
        cmocka_unit_test(test_pipeline_requests_feed_pipe_in),
        cmocka_unit_test(test_schema_is_json_schema_2020_12),
        cmocka_unit_test(test_defaults_block_applies_to_queues_and_kernels),
        cmocka_unit_test(test_pin_list_is_joined_with_commas),
        cmocka_unit_test(test_placement_policy_and_strict_are_read),
        cmocka_unit_test(test_plugin_folders_are_relative_to_the_manifest),
        cmocka_unit_test(test_manifest_given_by_a_bare_file_name_finds_its_plugins),
        cmocka_unit_test(test_longest_queue_name_keeps_its_whole_json_path),
        cmocka_unit_test(test_unwired_ports_and_config_object_are_accepted),
        cmocka_unit_test(test_path_key_brackets_keys_with_dots),

        cmocka_unit_test(test_missing_file_is_enoent),
        cmocka_unit_test(test_directory_is_not_a_manifest),
        cmocka_unit_test(test_json_syntax_error_names_line_and_column),
        cmocka_unit_test(test_duplicate_json_key_is_rejected),
        cmocka_unit_test(test_top_level_must_be_an_object),

        cmocka_unit_test(test_missing_ringhost_version_is_rejected),
        cmocka_unit_test(test_unknown_ringhost_version_is_rejected),
        cmocka_unit_test(test_missing_name_is_rejected),
        cmocka_unit_test(test_unknown_top_level_key_suggests_nearest),
        cmocka_unit_test(test_unknown_key_far_from_all_lists_known_keys),
        cmocka_unit_test(test_plugins_must_be_an_array),
        cmocka_unit_test(test_plugins_must_name_at_least_one_folder),
        cmocka_unit_test(test_plugin_folder_must_be_a_non_empty_string),
        cmocka_unit_test(test_more_than_eight_plugin_folders_are_rejected),
        cmocka_unit_test(test_unknown_placement_policy_is_rejected),
        cmocka_unit_test(test_strict_must_be_a_boolean),

        cmocka_unit_test(test_unknown_backpressure_policy_is_rejected),
        cmocka_unit_test(test_defaults_queue_takes_no_type),
        cmocka_unit_test(test_default_batch_must_be_an_integer),
        cmocka_unit_test(test_default_wait_must_be_known),

        cmocka_unit_test(test_capacity_not_a_power_of_two_is_rejected),
        cmocka_unit_test(test_capacity_zero_is_rejected),
        cmocka_unit_test(test_capacity_above_2_pow_24_is_rejected),
        cmocka_unit_test(test_capacity_written_as_a_real_is_rejected),
        cmocka_unit_test(test_dedup_window_above_four_capacities_is_rejected),
        cmocka_unit_test(test_inherited_dedup_window_blames_the_small_capacity),
        cmocka_unit_test(test_negative_ttl_is_rejected),
        cmocka_unit_test(test_block_timeout_must_be_a_number),
        cmocka_unit_test(test_shared_must_be_a_boolean),
        cmocka_unit_test(test_persist_must_be_a_boolean),
        cmocka_unit_test(test_persist_with_shared_false_is_rejected),
        cmocka_unit_test(test_persist_inherited_blames_the_queues_shared_false),
        cmocka_unit_test(test_persist_in_a_private_default_queue_is_rejected),
        cmocka_unit_test(test_persist_with_drop_oldest_is_rejected),
        cmocka_unit_test(test_persist_is_read_from_queues_and_defaults),
        cmocka_unit_test(test_unknown_queue_key_suggests_capacity),
        cmocka_unit_test(test_bad_queue_name_is_rejected),
        cmocka_unit_test(test_queue_name_of_65_characters_is_rejected),
        cmocka_unit_test(test_queue_settings_must_be_an_object),
        cmocka_unit_test(test_queue_type_must_be_a_type_name),

        cmocka_unit_test(test_missing_kernels_is_rejected),
        cmocka_unit_test(test_empty_kernels_is_rejected),
        cmocka_unit_test(test_unknown_kernel_key_suggests_plugin),
        cmocka_unit_test(test_missing_plugin_is_rejected),
        cmocka_unit_test(test_plugin_as_a_relative_path_or_with_dot_dot_is_rejected),
        cmocka_unit_test(test_plugin_as_an_absolute_path_is_kept_for_the_command_line_to_allow),
        cmocka_unit_test(test_duplicate_kernel_name_is_rejected),
        cmocka_unit_test(test_kernel_name_with_a_dot_is_rejected),
        cmocka_unit_test(test_zero_workers_are_rejected),
        cmocka_unit_test(test_too_many_workers_are_rejected),
        cmocka_unit_test(test_batch_zero_is_rejected),
        cmocka_unit_test(test_batch_as_string_is_rejected),
        cmocka_unit_test(test_ring_capacity_not_a_power_of_two_is_rejected),
        cmocka_unit_test(test_port_bound_to_undeclared_queue_is_rejected),
        cmocka_unit_test(test_port_bound_in_inputs_and_outputs_is_rejected),
        cmocka_unit_test(test_inputs_must_be_an_object),
        cmocka_unit_test(test_pin_with_unknown_kind_is_rejected),
        cmocka_unit_test(test_pin_with_negative_index_is_rejected),
        cmocka_unit_test(test_pin_list_names_the_bad_element),
        cmocka_unit_test(test_pin_empty_list_is_rejected),
        cmocka_unit_test(test_unknown_pin_key_suggests_dispatch),
        cmocka_unit_test(test_unknown_bridge_mode_is_rejected),
        cmocka_unit_test(test_unknown_wait_strategy_is_rejected),
        cmocka_unit_test(test_config_must_be_an_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
