/*
 * cmd_new_kernel.c — `ringhost new-kernel NAME [DIR]`: write a ready-to-build
 * kernel folder, DIR (default ./NAME):
 *
 *   CMakeLists.txt        find_package(ringhost), ringhost_add_kernel, its test
 *   NAME.c                the kernel: ports, init (reads "config"), process, fini
 *   NAME_request.json     message type NAME.request (input "in")
 *   NAME_response.json    message type NAME.response (output "out")
 *   test_NAME.c           its cmocka test through ringhost/testing.h
 *   manifest.json         a host running it (plugins from build/plugins)
 *   requests.jsonl        two requests for `ringhost run --send`
 *   README.md, .gitignore
 *
 * The kernel works as written: it builds against the installed package, its
 * test passes, and `ringhost run manifest.json --send requests.jsonl` answers
 * (tests/integration/test_new_kernel.sh checks all three), so an author starts
 * from something that runs and changes it step by step.
 *
 * NAME becomes the plugin file, the C symbols (NAME_process, the generated
 * NAME_request struct), the message type names and the CMake targets NAME,
 * NAME_kernel and test_NAME, so it must be a C identifier that none of those
 * reserve.  DIR must not exist: nothing is ever overwritten.  Exit status 2
 * for a bad NAME, an existing DIR or bad usage; 1 when writing fails (what
 * was written is removed again).
 */
#define _GNU_SOURCE /* asprintf, GLOB_BRACE */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* NAME.in and NAME.response must stay within RH_QUEUE_NAME_MAX (64). */
#define NAME_MAX_LEN 40

/* ---------------------------------------------------------- templates ---- */

/* Each file's text, with @NAME@ standing for the kernel name. */
static const char T_CMAKE[] =
    "# The @NAME@ ring kernel (written by `ringhost new-kernel`; see README.md).\n"
    "#\n"
    "# Against an installed ringhost (make install PREFIX=P in the ringhost tree):\n"
    "#   cmake -S . -B build -DCMAKE_PREFIX_PATH=P\n"
    "#   cmake --build build && (cd build && ctest --output-on-failure)\n"
    "# writes build/plugins/@NAME@.so; set RINGHOST_PLUGIN_OUTPUT_DIR to write it\n"
    "# elsewhere.  Inside the ringhost source tree, move this folder to kernels/\n"
    "# and add_subdirectory(@NAME@) in kernels/CMakeLists.txt instead.\n"
    "cmake_minimum_required(VERSION 3.19)\n"
    "project(@NAME@_kernel LANGUAGES C)\n"
    "\n"
    "if(NOT COMMAND ringhost_add_kernel) # already defined in the ringhost tree\n"
    "  find_package(ringhost 0.1 REQUIRED)\n"
    "endif()\n"
    "enable_testing()\n"
    "add_compile_options(-Wall -Wextra)\n"
    "\n"
    "ringhost_add_kernel(@NAME@\n"
    "  SOURCES @NAME@.c\n"
    "  SCHEMAS @NAME@_request.json @NAME@_response.json)\n"
    "ringhost_add_kernel_test(@NAME@ test_@NAME@.c)\n";

static const char T_KERNEL[] =
    "/*\n"
    " * @NAME@ — a ring kernel, written by `ringhost new-kernel`: make it yours.\n"
    " *\n"
    " * Input \"in\" (@NAME@.request {text, values}), output \"out\" (@NAME@.response\n"
    " * {text, count, sum}): one response per request, correlated with it, holding\n"
    " * the request's text, the number of values and their sum times the \"scale\"\n"
    " * of the manifest's \"config\" (default 1).  A request without values is\n"
    " * failed with a reason (the host counts it), not answered.\n"
    " *\n"
    " * The message types are generated from @NAME@_request.json and\n"
    " * @NAME@_response.json by ringhost-gen: edit a schema, rebuild, and the\n"
    " * structs, validation and JSON codec follow.\n"
    " */\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <jansson.h>\n"
    "\n"
    "#include \"@NAME@_request.h\"\n"
    "#include \"@NAME@_response.h\"\n"
    "#include \"ringhost/kernel.h\"\n"
    "\n"
    "typedef struct @NAME@_state {\n"
    "    double scale;\n"
    "} @NAME@_state;\n"
    "\n"
    "static const rh_port inputs[] = {{.name = \"in\", .type = &@NAME@_request_type}};\n"
    "static const rh_port outputs[] = {{.name = \"out\", .type = &@NAME@_response_type}};\n"
    "\n"
    "/* config_json is the manifest's \"config\" object as JSON text (\"{}\" when\n"
    " * absent).  A negative return refuses the launch. */\n"
    "static int @NAME@_init(rh_ctx *ctx, const char *config_json, void **state)\n"
    "{\n"
    "    json_t *config = json_loads(config_json, 0, NULL);\n"
    "    json_t *scale = json_object_get(config, \"scale\");\n"
    "    if (scale && !json_is_number(scale)) {\n"
    "        rh_log(ctx, RH_LOG_ERROR, \"@NAME@: config.scale: expected a number\");\n"
    "        json_decref(config);\n"
    "        return -1;\n"
    "    }\n"
    "    @NAME@_state *s = malloc(sizeof *s);\n"
    "    if (s)\n"
    "        s->scale = scale ? json_number_value(scale) : 1.0;\n"
    "    json_decref(config);\n"
    "    *state = s;\n"
    "    return s ? 0 : -1;\n"
    "}\n"
    "\n"
    "/* A batch of 1 or more requests, read in place: the pointers are valid until\n"
    " * this returns.  Every request the host hands over was validated against\n"
    " * its schema by the host's input bridge. */\n"
    "static int @NAME@_process(rh_ctx *ctx, void *state, const rh_batch *batch)\n"
    "{\n"
    "    const @NAME@_state *s = state;\n"
    "    for (uint32_t i = 0; i < batch->count; i++) {\n"
    "        const rh_msg *in = &batch->msgs[i];\n"
    "        const @NAME@_request *req = in->data;\n"
    "        if (req->values_len == 0) {\n"
    "            rh_fail(ctx, in, \"@NAME@: no values\");\n"
    "            continue;\n"
    "        }\n"
    "        @NAME@_response res;\n"
    "        memset(&res, 0, sizeof res); /* no stack bytes leave in the padding */\n"
    "        memcpy(res.text, req->text, sizeof res.text); /* both string max 128 */\n"
    "        res.count = req->values_len;\n"
    "        for (uint32_t j = 0; j < req->values_len; j++)\n"
    "            res.sum += req->values[j] * s->scale;\n"
    "        /* `in` makes the response's correlation_id the request's id. */\n"
    "        if (rh_emit(ctx, 0, in, &res, sizeof res) < 0)\n"
    "            rh_fail(ctx, in, \"@NAME@: the response could not be emitted (host stopping)\");\n"
    "    }\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "static void @NAME@_fini(rh_ctx *ctx, void *state)\n"
    "{\n"
    "    (void)ctx;\n"
    "    free(state);\n"
    "}\n"
    "\n"
    "static const rh_kernel_desc @NAME@_desc = {\n"
    "    RH_KERNEL_ABI,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .description = \"count and scaled sum of a request's values\",\n"
    "    .inputs = inputs,\n"
    "    .n_inputs = 1,\n"
    "    .outputs = outputs,\n"
    "    .n_outputs = 1,\n"
    "    .init = @NAME@_init,\n"
    "    .process = @NAME@_process,\n"
    "    .fini = @NAME@_fini,\n"
    "};\n"
    "\n"
    "RH_KERNEL_EXPORT(@NAME@_desc)\n";

static const char T_REQUEST[] =
    "{\n"
    "  \"name\": \"@NAME@.request\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"text\", \"type\": \"string\", \"max\": 128},\n"
    "    {\"name\": \"values\", \"type\": \"f64[]\", \"max\": 64}\n"
    "  ]\n"
    "}\n";

static const char T_RESPONSE[] =
    "{\n"
    "  \"name\": \"@NAME@.response\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"text\", \"type\": \"string\", \"max\": 128},\n"
    "    {\"name\": \"count\", \"type\": \"u32\"},\n"
    "    {\"name\": \"sum\", \"type\": \"f64\"}\n"
    "  ]\n"
    "}\n";

static const char T_TEST[] =
    "/*\n"
    " * test_@NAME@.c — the @NAME@ kernel, driven in-process by ringhost/testing.h\n"
    " * (no host, no threads): requests in as JSON or structs, responses checked as\n"
    " * JSON or structs.  Run it with ctest in the build folder.\n"
    " */\n"
    "#include <setjmp.h>\n"
    "#include <stdarg.h>\n"
    "#include <stddef.h>\n"
    "#include <stdint.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <cmocka.h>\n"
    "\n"
    "#include \"@NAME@_request.h\"\n"
    "#include \"@NAME@_response.h\"\n"
    "#include \"ringhost/testing.h\"\n"
    "\n"
    "/* The kernel linked into this test, initialised with config (JSON text). */\n"
    "static rh_harness *open_kernel(const char *config)\n"
    "{\n"
    "    rh_harness *h = rh_harness_new(rh_kernel_entry());\n"
    "    assert_non_null(h);\n"
    "    assert_int_equal(rh_harness_init(h, config), 0);\n"
    "    return h;\n"
    "}\n"
    "\n"
    "static void push_json(rh_harness *h, const char *json)\n"
    "{\n"
    "    char why[256];\n"
    "    if (rh_harness_push_json(h, 0, json, NULL, why, sizeof why))\n"
    "        fail_msg(\"push_json %s: %s\", json, why);\n"
    "}\n"
    "\n"
    "static void expect_json(rh_harness *h, uint32_t i, const char *json)\n"
    "{\n"
    "    char why[1024];\n"
    "    if (rh_harness_expect_json(h, i, json, why, sizeof why))\n"
    "        fail_msg(\"%s\", why);\n"
    "}\n"
    "\n"
    "static void test_response_counts_and_sums_the_values(void **unused)\n"
    "{\n"
    "    (void)unused;\n"
    "    rh_harness *h = open_kernel(NULL);\n"
    "    push_json(h, \"{\\\"text\\\": \\\"hello\\\", \\\"values\\\": [1, 2, 3.5]}\");\n"
    "    assert_int_equal(rh_harness_process(h, 0), 0);\n"
    "    assert_int_equal(rh_harness_output_count(h), 1);\n"
    "    expect_json(h, 0, \"{\\\"text\\\": \\\"hello\\\", \\\"count\\\": 3, \\\"sum\\\": 6.5}\");\n"
    "    assert_int_equal(rh_harness_failure_count(h), 0);\n"
    "    assert_int_equal(rh_harness_api_errors(h), 0);\n"
    "    rh_harness_free(h);\n"
    "}\n"
    "\n"
    "static void test_response_answers_its_request(void **unused)\n"
    "{\n"
    "    (void)unused;\n"
    "    @NAME@_request req;\n"
    "    memset(&req, 0, sizeof req);\n"
    "    req.values_len = 2;\n"
    "    req.values[0] = 10;\n"
    "    req.values[1] = -4;\n"
    "    rh_harness *h = open_kernel(NULL);\n"
    "    rh_id id = rh_harness_push(h, 0, &req, sizeof req);\n"
    "    assert_int_equal(rh_harness_process(h, 0), 0);\n"
    "    const rh_harness_output *o = rh_harness_output_at(h, 0);\n"
    "    assert_non_null(o);\n"
    "    assert_true(o->valid);\n"
    "    assert_true(o->has_correlation);\n"
    "    assert_true(o->correlation_id.hi == id.hi && o->correlation_id.lo == id.lo);\n"
    "    const @NAME@_response *res = o->payload;\n"
    "    assert_int_equal(res->count, 2);\n"
    "    assert_true(res->sum == 6.0);\n"
    "    rh_harness_free(h);\n"
    "}\n"
    "\n"
    "static void test_config_scale_multiplies_the_sum(void **unused)\n"
    "{\n"
    "    (void)unused;\n"
    "    rh_harness *h = open_kernel(\"{\\\"scale\\\": 2}\");\n"
    "    push_json(h, \"{\\\"text\\\": \\\"x\\\", \\\"values\\\": [1, 2]}\");\n"
    "    assert_int_equal(rh_harness_process(h, 0), 0);\n"
    "    expect_json(h, 0, \"{\\\"text\\\": \\\"x\\\", \\\"count\\\": 2, \\\"sum\\\": 6}\");\n"
    "    rh_harness_free(h);\n"
    "}\n"
    "\n"
    "static void test_config_scale_that_is_not_a_number_refuses_the_launch(void **unused)\n"
    "{\n"
    "    (void)unused;\n"
    "    rh_harness *h = rh_harness_new(rh_kernel_entry());\n"
    "    assert_true(rh_harness_init(h, \"{\\\"scale\\\": \\\"big\\\"}\") < 0);\n"
    "    assert_string_equal(rh_harness_last_log(h), \"@NAME@: config.scale: expected a number\");\n"
    "    rh_harness_free(h);\n"
    "}\n"
    "\n"
    "static void test_request_without_values_is_failed_with_a_reason(void **unused)\n"
    "{\n"
    "    (void)unused;\n"
    "    rh_harness *h = open_kernel(NULL);\n"
    "    push_json(h, \"{\\\"text\\\": \\\"none\\\", \\\"values\\\": []}\");\n"
    "    assert_int_equal(rh_harness_process(h, 0), 0);\n"
    "    assert_int_equal(rh_harness_output_count(h), 0);\n"
    "    assert_int_equal(rh_harness_failure_count(h), 1);\n"
    "    assert_string_equal(rh_harness_failure_at(h, 0)->reason, \"@NAME@: no values\");\n"
    "    rh_harness_free(h);\n"
    "}\n"
    "\n"
    "/* The .so in build/plugins, loaded and checked as the host will load it. */\n"
    "static void test_plugin_file_loads_as_the_host_loads_it(void **unused)\n"
    "{\n"
    "    (void)unused;\n"
    "    char why[1024];\n"
    "    rh_harness *h = rh_harness_load(RH_KERNEL_PLUGIN_PATH, why, sizeof why);\n"
    "    if (!h)\n"
    "        fail_msg(\"%s\", why);\n"
    "    assert_string_equal(rh_harness_desc(h)->name, \"@NAME@\");\n"
    "    push_json(h, \"{\\\"text\\\": \\\"so\\\", \\\"values\\\": [4]}\");\n"
    "    assert_int_equal(rh_harness_process(h, 0), 0);\n"
    "    expect_json(h, 0, \"{\\\"text\\\": \\\"so\\\", \\\"count\\\": 1, \\\"sum\\\": 4}\");\n"
    "    rh_harness_free(h);\n"
    "}\n"
    "\n"
    "int main(void)\n"
    "{\n"
    "    const struct CMUnitTest tests[] = {\n"
    "        cmocka_unit_test(test_response_counts_and_sums_the_values),\n"
    "        cmocka_unit_test(test_response_answers_its_request),\n"
    "        cmocka_unit_test(test_config_scale_multiplies_the_sum),\n"
    "        cmocka_unit_test(test_config_scale_that_is_not_a_number_refuses_the_launch),\n"
    "        cmocka_unit_test(test_request_without_values_is_failed_with_a_reason),\n"
    "        cmocka_unit_test(test_plugin_file_loads_as_the_host_loads_it),\n"
    "    };\n"
    "    return cmocka_run_group_tests_name(\"@NAME@\", tests, NULL, NULL);\n"
    "}\n";

static const char T_MANIFEST[] =
    "{\n"
    "  \"ringhost\": 1,\n"
    "  \"name\": \"@NAME@-demo\",\n"
    "  \"plugins\": [\"build/plugins\"],\n"
    "  \"queues\": {\n"
    "    \"@NAME@.in\": {\"type\": \"@NAME@.request\"},\n"
    "    \"@NAME@.out\": {\"type\": \"@NAME@.response\"}\n"
    "  },\n"
    "  \"kernels\": [\n"
    "    {\"name\": \"@NAME@\", \"plugin\": \"@NAME@\",\n"
    "     \"inputs\": {\"in\": \"@NAME@.in\"}, \"outputs\": {\"out\": \"@NAME@.out\"},\n"
    "     \"config\": {\"scale\": 1}}\n"
    "  ]\n"
    "}\n";

static const char T_REQUESTS[] =
    "{\"queue\": \"@NAME@.in\", \"body\": {\"text\": \"hello\", \"values\": [1, 2, 3.5]}}\n"
    "{\"queue\": \"@NAME@.in\", \"body\": {\"text\": \"again\", \"values\": [10, -4]}}\n";

static const char T_README[] =
    "# @NAME@\n"
    "\n"
    "A ring kernel for ringhost, written by `ringhost new-kernel @NAME@`.\n"
    "\n"
    "- `@NAME@.c`: the kernel: its ports, `init` (reads the manifest's `config`),\n"
    "  `process`, `fini`.\n"
    "- `@NAME@_request.json`, `@NAME@_response.json`: its message types;\n"
    "  `ringhost-gen` turns each into a C struct, validation and a JSON codec at\n"
    "  build time.\n"
    "- `test_@NAME@.c`: its cmocka test, driving the kernel in-process with\n"
    "  `ringhost/testing.h`.\n"
    "- `CMakeLists.txt`: `find_package(ringhost)`, `ringhost_add_kernel`,\n"
    "  `ringhost_add_kernel_test`.\n"
    "- `manifest.json`, `requests.jsonl`: a host running the kernel, and two\n"
    "  requests for it.\n"
    "\n"
    "Build and test it against an installed ringhost (`make install PREFIX=P` in\n"
    "the ringhost tree):\n"
    "\n"
    "```sh\n"
    "cmake -S . -B build -DCMAKE_PREFIX_PATH=P\n"
    "cmake --build build                       # writes build/plugins/@NAME@.so\n"
    "(cd build && ctest --output-on-failure)   # runs test_@NAME@\n"
    "```\n"
    "\n"
    "Run it in the host: `manifest.json` loads plugins from `build/plugins`, feeds\n"
    "the kernel from the queue `@NAME@.in` and prints what it sends to\n"
    "`@NAME@.out`, one line per response, with the id of its request as\n"
    "`correlation_id`:\n"
    "\n"
    "```sh\n"
    "P/bin/ringhost run manifest.json --send requests.jsonl\n"
    "```\n"
    "\n"
    "To run it beside other kernels, copy `build/plugins/@NAME@.so` into that\n"
    "host's `plugins/` folder and add the kernel and its two queues to the\n"
    "manifest.\n";

static const char T_GITIGNORE[] =
    "build/\n";

static const struct template {
    const char *file; /* @NAME@ replaced too */
    const char *what; /* one line for the listing printed afterwards */
    const char *text;
} templates[] = {
    {"CMakeLists.txt", "builds @NAME@.so and its test against the installed ringhost", T_CMAKE},
    {"@NAME@.c", "the kernel: ports, init (reads \"config\"), process, fini", T_KERNEL},
    {"@NAME@_request.json", "message type @NAME@.request (input \"in\")", T_REQUEST},
    {"@NAME@_response.json", "message type @NAME@.response (output \"out\")", T_RESPONSE},
    {"test_@NAME@.c", "its cmocka test (ringhost/testing.h)", T_TEST},
    {"manifest.json", "a host running it: @NAME@.in -> @NAME@ -> @NAME@.out", T_MANIFEST},
    {"requests.jsonl", "two requests for `ringhost run --send`", T_REQUESTS},
    {"README.md", "these steps", T_README},
    {".gitignore", "build/", T_GITIGNORE},
};
#define N_TEMPLATES (sizeof templates / sizeof templates[0])

/* text with every @NAME@ replaced by name; NULL when out of memory. */
static char *expand(const char *text, const char *name)
{
    static const char mark[] = "@NAME@";
    size_t n = 0, name_len = strlen(name);
    for (const char *p = text; (p = strstr(p, mark)); p += sizeof mark - 1)
        n++;
    char *out = malloc(strlen(text) + n * name_len + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text, *q; *p; p = q + sizeof mark - 1) {
        q = strstr(p, mark);
        if (!q) {
            strcpy(o, p);
            return out;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, name, name_len);
        o += name_len;
    }
    *o = '\0';
    return out;
}

/* ------------------------------------------------------------- checks ---- */

/* Identifiers NAME may not be: C keywords and the macros gcc predefines in
 * gnu11 (NAME_process would not compile)... */
static const char *const c_words[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "asm", "typeof", "linux", "unix", "i386",
};
/* ...and the target names CMake reserves, or the ringhost tree uses (the
 * plugin's target is NAME). */
static const char *const cmake_words[] = {
    "all", "clean", "help", "install", "test", "package", "package_source", "edit_cache",
    "rebuild_cache", "depend", "list_install_components", "ringhost",
};

static int among(const char *name, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, words[i]) == 0)
            return 1;
    return 0;
}

/* 0 when name can name a kernel; otherwise -1 and why not in why. */
static int name_problem(const char *name, char *why, size_t why_len)
{
    size_t len = strlen(name);
    size_t bad = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    if (len == 0)
        snprintf(why, why_len, "it is empty");
    else if (len > NAME_MAX_LEN)
        snprintf(why, why_len, "it has %zu characters, at most %d fit the queue names", len,
                 NAME_MAX_LEN);
    else if (name[bad] != '\0')
        snprintf(why, why_len, "'%c' at offset %zu: only letters, digits and '_' can name C "
                               "symbols", name[bad], bad);
    else if (name[0] >= '0' && name[0] <= '9')
        snprintf(why, why_len, "it starts with a digit");
    else if (name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z')))
        snprintf(why, why_len, "names starting with __ or _ and a capital are the compiler's");
    else if (among(name, c_words, sizeof c_words / sizeof c_words[0]))
        snprintf(why, why_len, "it is a C keyword or a macro the compiler predefines");
    else if (among(name, cmake_words, sizeof cmake_words / sizeof cmake_words[0]))
        snprintf(why, why_len, "it is a target name CMake reserves or ringhost uses");
    else
        return 0;
    return -1;
}

/* ------------------------------------------------------------- writing --- */

/* mkdir -p of the folders above path (not path itself). */
static int make_parents(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return -1;
        *q = '/';
    }
    return 0;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wx"); /* x: never replace a file */
    if (!f)
        return -1;
    size_t len = strlen(text);
    int bad = fwrite(text, 1, len, f) != len;
    if (fclose(f) != 0)
        bad = 1;
    return bad ? -1 : 0;
}

/* Write every template into dir (which exists, empty).  0, or -1 with the
 * file that failed in failed_path; the files written so far are removed. */
static int write_all(const char *dir, const char *name, char *failed_path, size_t failed_len)
{
    char *written[N_TEMPLATES];
    size_t n = 0;
    for (size_t i = 0; i < N_TEMPLATES; i++) {
        char *file = expand(templates[i].file, name), *text = expand(templates[i].text, name);
        char *path = NULL;
        int ok = file && text && asprintf(&path, "%s/%s", dir, file) >= 0;
        if (ok && write_text(path, text) == 0) {
            written[n++] = path;
        } else {
            int e = ok ? errno : ENOMEM;
            snprintf(failed_path, failed_len, "%s/%s", dir, file ? file : templates[i].file);
            if (ok)
                remove(path); /* a partly written file */
            free(path);
            free(file);
            free(text);
            while (n > 0) {
                remove(written[--n]);
                free(written[n]);
            }
            errno = e;
            return -1;
        }
        free(file);
        free(text);
    }
    while (n > 0)
        free(written[--n]);
    return 0;
}

/* The prefix this ringhost is installed in (P of P/bin/ringhost, holding
 * the CMake package), or 0 when it runs from a build tree. */
static int installed_prefix(char *exe, size_t exe_len, char *prefix, size_t prefix_len)
{
    ssize_t n = readlink("/proc/self/exe", exe, exe_len - 1);
    if (n <= 0) {
        snprintf(exe, exe_len, "ringhost");
        return 0;
    }
    exe[n] = '\0';
    snprintf(prefix, prefix_len, "%s", exe);
    for (int up = 0; up < 2; up++) { /* P/bin/ringhost -> P */
        char *slash = strrchr(prefix, '/');
        if (!slash)
            return 0;
        *slash = '\0';
    }
    char pattern[PATH_MAX + 64];
    snprintf(pattern, sizeof pattern, "%s/lib*/{,*/}cmake/ringhost/ringhostConfig.cmake", prefix);
    glob_t g;
    int found = glob(pattern, GLOB_BRACE | GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found;
}

/* arg as a shell word: as is when it has no special characters, else in
 * single quotes. */
static void print_word(const char *arg)
{
    if (arg[strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./+=:,@")]
        == '\0') {
        fputs(arg, stdout);
        return;
    }
    putchar('\'');
    for (const char *p = arg; *p; p++)
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    putchar('\'');
}

static void print_next_steps(const char *dir, const char *name)
{
    printf("Wrote kernel \"%s\" in %s/:\n", name, dir);
    int width = 0; /* of the longest file name, once expanded */
    for (size_t i = 0; i < N_TEMPLATES; i++) {
        char *file = expand(templates[i].file, name);
        if (file && (int)strlen(file) > width)
            width = (int)strlen(file);
        free(file);
    }
    for (size_t i = 0; i < N_TEMPLATES; i++) {
        char *file = expand(templates[i].file, name), *what = expand(templates[i].what, name);
        printf("  %-*s  %s\n", width, file ? file : "?", what ? what : "?");
        free(file);
        free(what);
    }
    char exe[PATH_MAX], prefix[PATH_MAX];
    int installed = installed_prefix(exe, sizeof exe, prefix, sizeof prefix);
    printf("\nNext: build it, run its test, run it in the host:\n  cd ");
    print_word(dir);
    printf("\n  cmake -S . -B build -DCMAKE_PREFIX_PATH=");
    if (installed)
        print_word(prefix);
    else
        printf("<ringhost's install prefix>");
    printf("\n  cmake --build build\n"
           "  (cd build && ctest --output-on-failure)\n  ");
    print_word(exe);
    printf(" run manifest.json --send requests.jsonl\n");
    if (!installed)
        printf("\nThis ringhost (%s) runs from a build tree, not an installed prefix:\n"
               "install one first, e.g. `make install PREFIX=$HOME/.local` in the ringhost\n"
               "source tree, and use that prefix above.\n",
               exe);
}

static int usage(FILE *out, int code)
{
    fprintf(out, "usage: ringhost new-kernel NAME [DIR]\n"
                 "  writes a ready-to-build kernel NAME (a C identifier) into DIR, default ./NAME;\n"
                 "  DIR must not exist yet\n");
    return code;
}

int rh_cmd_new_kernel(int argc, char **argv)
{
    const char *args[2] = {NULL, NULL};
    int n_args = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout, RH_EXIT_OK);
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "ringhost new-kernel: unknown option \"%s\"\n", argv[i]);
            return usage(stderr, RH_EXIT_BADINPUT);
        }
        if (n_args == 2) {
            fprintf(stderr, "ringhost new-kernel: unexpected argument \"%s\"\n", argv[i]);
            return usage(stderr, RH_EXIT_BADINPUT);
        }
        args[n_args++] = argv[i];
    }
    if (n_args == 0) {
        fprintf(stderr, "ringhost new-kernel: expected a kernel NAME\n");
        return usage(stderr, RH_EXIT_BADINPUT);
    }
    const char *name = args[0], *dir = args[1] ? args[1] : args[0];
    char problem[256];
    if (name_problem(name, problem, sizeof problem) != 0) {
        fprintf(stderr,
                "ringhost new-kernel: NAME \"%s\": %s; expected a C identifier of 1 to %d "
                "characters, such as my_filter\n",
                name, problem, NAME_MAX_LEN);
        return RH_EXIT_BADINPUT;
    }
    size_t dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--;
    char *folder = strndup(dir, dir_len);
    if (!folder || dir_len == 0) {
        fprintf(stderr, "ringhost new-kernel: DIR is empty\n");
        free(folder);
        return RH_EXIT_BADINPUT;
    }
    int rc = RH_EXIT_OK;
    char failed[PATH_MAX + 64];
    if (make_parents(folder) != 0 || mkdir(folder, 0777) != 0) {
        if (errno == EEXIST) {
            fprintf(stderr,
                    "ringhost new-kernel: %s already exists; nothing was written (choose another "
                    "DIR, or remove it first)\n",
                    folder);
            rc = RH_EXIT_BADINPUT;
        } else {
            fprintf(stderr, "ringhost new-kernel: %s: cannot create the folder: %s\n", folder,
                    strerror(errno));
            rc = RH_EXIT_FAIL;
        }
    } else if (write_all(folder, name, failed, sizeof failed) != 0) {
        fprintf(stderr, "ringhost new-kernel: %s: cannot write: %s; nothing was kept\n", failed,
                strerror(errno));
        rmdir(folder);
        rc = RH_EXIT_FAIL;
    } else {
        print_next_steps(folder, name);
    }
    free(folder);
    return rc;
}
