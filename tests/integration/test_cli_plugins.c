/*
 * test_cli_plugins.c — a plugin folder holding broken plugins beside good
 * ones: `ringhost plugins DIR` names each broken file with the exact reason
 * it did not load and each good file with its kernel, and a host using that
 * folder still runs (warning about the broken ones) — a bad plugin never
 * takes the host down (the plugin ABI, ringhost/kernel.h).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

/* The deliberately broken plugins the build makes, and what their load
 * error must say. */
static const struct bad_plugin {
    const char *file;
    const char *reason;
} bad_plugins[] = {
    {"bad_no_entry.so", "rh_kernel_entry"},
    {"bad_abi_major.so", "ABI major"},
    {"bad_abi_minor.so", "ABI minor"},
    {"bad_struct_size.so", "struct_size"},
    {"bad_undefined.so", "undefined symbol"},
    {"bad_null_process.so", "process"},
    {"bad_dup_ports.so", "duplicate"},
    {"bad_no_fingerprint.so", "fingerprint"},
};
#define N_BAD (sizeof bad_plugins / sizeof bad_plugins[0])

/* The kernels the build's plugin folder must hold. */
static const char *const good_kernels[] = {"vector_add", "echo", "slow", "scale", "sum"};
#define N_GOOD (sizeof good_kernels / sizeof good_kernels[0])

static const char *mixed_dir; /* good and bad plugins together */

/* Copy every *.so of dir into mixed_dir; returns how many (-1 on error). */
static int copy_plugins(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        if (cli_copy_file(cli_keep("%s/%s", dir, e->d_name),
                      cli_keep("%s/%s", mixed_dir, e->d_name), 0755) != 0) {
            closedir(d);
            return -1;
        }
        n++;
    }
    closedir(d);
    return n;
}

static int group_setup(void **state)
{
    (void)state;
    mixed_dir = cli_keep("%s/plugins-mixed", cli_tmpdir());
    if (mkdir(mixed_dir, 0700) != 0) {
        print_error("cannot create %s\n", mixed_dir);
        return -1;
    }
    int good = copy_plugins(RH_TEST_PLUGIN_DIR, NULL);
    if (good <= 0) {
        print_error("expected kernel plugins (*.so) in %s, the build's plugin folder; found "
                    "none\n", RH_TEST_PLUGIN_DIR);
        return -1;
    }
    for (size_t i = 0; i < N_BAD; i++) {
        const char *from = cli_keep("%s/%s", RH_TEST_BAD_PLUGIN_DIR, bad_plugins[i].file);
        if (cli_copy_file(from, cli_keep("%s/%s", mixed_dir, bad_plugins[i].file), 0755) != 0) {
            print_error("expected the deliberately broken plugin %s (built into %s)\n", from,
                        RH_TEST_BAD_PLUGIN_DIR);
            return -1;
        }
    }
    return 0;
}

/* The line of `ringhost plugins` output that names file, or NULL. */
static const char *line_naming(const char *out, const char *file, char *line, size_t len)
{
    const char *needle = cli_keep("/%s", file);
    const char *p = strstr(out, needle);
    if (!p)
        return NULL;
    const char *start = p;
    while (start > out && start[-1] != '\n')
        start--;
    const char *end = strchr(p, '\n');
    size_t n = end ? (size_t)(end - start) : strlen(start);
    snprintf(line, len, "%.*s", (int)(n < len ? n : len - 1), start);
    return line;
}

static void test_plugins_lists_bad_plugin_with_its_reason(void **state)
{
    const struct bad_plugin *b = *state;
    cli_out o;
    cli_exec(&o, NULL, "plugins", mixed_dir, NULL);
    cli_expect_exit(&o, 1); /* a plugin failed to load (OPERATIONS.md, Exit codes) */
    char line[2048];
    CLI_CHECK(&o, line_naming(o.r.out, b->file, line, sizeof line),
              "expected a line of stdout naming %s", b->file);
    CLI_CHECK(&o, strstr(line, "error"), "expected the line for %s to say error, got: %s",
              b->file, line);
    CLI_CHECK(&o, strstr(line, b->reason), "expected the line for %s to give the reason "
              "\"%s\", got: %s", b->file, b->reason, line);
    /* the host loads the descriptor it checked, /proc/self/fd/N: a name the
     * user never typed, and not one the reason may show */
    CLI_CHECK(&o, !strstr(line, "/proc/self/fd"), "expected the line for %s to name the file, "
              "not the descriptor it was loaded through, got: %s", b->file, line);
    cli_free(&o);
}

static void test_plugins_lists_each_good_plugin_with_its_kernel(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "plugins", mixed_dir, NULL);
    cli_expect_exit(&o, 1); /* a plugin failed to load (OPERATIONS.md, Exit codes) */
    for (size_t i = 0; i < N_GOOD; i++) {
        const char *want = cli_keep("kernel %s ", good_kernels[i]);
        CLI_CHECK(&o, strstr(o.r.out, want), "expected stdout to list \"%s\"", want);
    }
    cli_free(&o);
}

static void test_run_with_bad_plugins_in_its_folder_still_answers_and_warns(void **state)
{
    (void)state;
    json_t *dir = json_string(mixed_dir);
    char *dir_json = json_dumps(dir, JSON_ENCODE_ANY);
    json_decref(dir);
    const char *m = cli_manifest("mixed", cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [%s],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
        "            \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}}]}\n", dir_json));
    free(dir_json);
    const char *req = cli_write("mixed.jsonl", cli_keep(
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 9, \"text\": \"still\"}}\n",
        cli_id(9)));
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", req, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 1 && cli_find_correlated(lines, cli_id(9)),
              "expected the echo reply to %s, got %zu lines", cli_id(9), json_array_size(lines));
    CLI_CHECK(&o, strstr(o.r.err, "warning"), "expected stderr to warn about the bad plugins");
    for (size_t i = 0; i < N_BAD; i++)
        CLI_CHECK(&o, strstr(o.r.err, bad_plugins[i].file),
                  "expected stderr to name the plugin that did not load: %s",
                  bad_plugins[i].file);
    json_decref(lines);
    cli_free(&o);
}

/* A manifest copied away from its plugins (docs/ringhost@.service copies
 * one to /etc/ringhost/): its own folder does not exist there.  Without
 * --plugins that is exit 2 naming the folder; --plugins DIR overrides it:
 * DIR is searched and the missing folder skipped. */
static void test_plugins_option_overrides_a_manifest_folder_that_does_not_exist(void **state)
{
    (void)state;
    const char *m = cli_manifest("moved",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [\"../no-such-plugins\"],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
        "            \"e.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
        "               \"outputs\": {\"out\": \"e.out\"}}]}\n");
    const char *req = cli_write("moved.jsonl", cli_keep(
        "{\"queue\": \"e.in\", \"id\": \"%s\", \"body\": {\"seq\": 4, \"text\": \"moved\"}}\n",
        cli_id(4)));
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--send", req, "--timeout", CLI_RUN_TIMEOUT, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "no-such-plugins"), "expected the missing folder named");
    cli_free(&o);
    cli_exec(&o, NULL, "run", m, "--send", req, "--timeout", CLI_RUN_TIMEOUT, "--plugins",
             RH_TEST_PLUGIN_DIR, NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 1 && cli_find_correlated(lines, cli_id(4)),
              "expected the echo reply to %s through --plugins, got %zu lines", cli_id(4),
              json_array_size(lines));
    json_decref(lines);
    cli_free(&o);
}

int main(void)
{
    static struct CMUnitTest tests[N_BAD + 3];
    static char names[N_BAD][96];
    size_t n = 0;
    for (size_t i = 0; i < N_BAD; i++) {
        char stem[64];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(bad_plugins[i].file) - 3),
                 bad_plugins[i].file);
        snprintf(names[i], sizeof names[i], "test_plugins_lists_%s_with_its_reason", stem);
        tests[n++] = (struct CMUnitTest){names[i], test_plugins_lists_bad_plugin_with_its_reason,
                                         NULL, NULL, (void *)&bad_plugins[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_plugins_lists_each_good_plugin_with_its_kernel);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_run_with_bad_plugins_in_its_folder_still_answers_and_warns);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_plugins_option_overrides_a_manifest_folder_that_does_not_exist);
    return _cmocka_run_group_tests("cli plugins", tests, n, group_setup, cli_group_teardown);
}
