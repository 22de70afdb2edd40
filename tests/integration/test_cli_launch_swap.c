/*
 * test_cli_launch_swap.c — launching into a live host as a new user does
 * (a manifest without name or plugins), through the real binary:
 *
 *   - a manifest launched with `ringhost launch` that has neither "name"
 *     nor "plugins", written in a folder of its own (no ../plugins there),
 *     finds its plugin in the host's plugin folder, and one laid out as
 *     manifests/ beside plugins/ finds its own folder after the host's;
 *   - a new build moved over the file a launched kernel was loaded from is
 *     swapped in (kernel.swap, ps shows the new version, the new build
 *     answers), not announced as a new plugin (plugin.added);
 *   - `launch --plugins DIR` searches DIR first, and DIR is watched: a new
 *     build there is swapped in for the kernel loaded from it;
 *   - a kernel loaded by absolute path under `run --allow-plugin` from a
 *     group-writable folder (which only the waiver admits) is swapped in
 *     when a new build is moved over that file: the swap reloads under the
 *     waiver, and the file's folder is watched for that file.
 *
 * One host for the group; the tests run in order.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_common.h"

#define SWAP_DIR RH_TEST_BUILD_DIR "/swap_plugins"
#define WAIT_S 30.0

static struct {
    proc host;
    const char *instance;
    const char *plugins; /* the host's plugin folder */
    const char *allowed; /* a group-writable folder: only --allow-plugin admits its file */
    const char *extra;   /* a folder given to `launch --plugins` */
    unsigned seq;
} L;

/* `cp BUILD dir/.swap_echo.so.tmp && mv dir/.swap_echo.so.tmp dir/swap_echo.so` */
static void move_build_in(const char *build, const char *dir)
{
    const char *tmp = cli_keep("%s/.swap_echo.so.tmp", dir);
    assert_int_equal(cli_copy_file(cli_keep("%s/%s.so", SWAP_DIR, build), tmp, 0644), 0);
    assert_int_equal(rename(tmp, cli_keep("%s/swap_echo.so", dir)), 0);
}

static size_t host_logged(const char *needle)
{
    return cli_file_count(L.host.err_path, needle);
}

/* Ask over queues <q>.in / <q>.out; the mark of the build that answered. */
static const char *who_answers(const char *q)
{
    cli_out o;
    const char *body = cli_keep("{\"seq\": %u, \"text\": \"ask\"}", ++L.seq);
    cli_exec(&o, NULL, "send", "--instance", L.instance, cli_keep("%s.in", q), body, NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", L.instance, cli_keep("%s.out", q), "-n", "1",
             "--timeout", "10", NULL);
    cli_expect_exit(&o, 0);
    json_t *lines = cli_lines(&o);
    CLI_CHECK(&o, json_array_size(lines) == 1, "expected one answer, got %zu",
              json_array_size(lines));
    json_t *b = json_object_get(json_array_get(lines, 0), "body");
    CLI_CHECK(&o, cli_num(&o, b, "seq") == L.seq, "expected the answer to seq %u", L.seq);
    const char *text = json_string_value(json_object_get(b, "text"));
    const char *mark = cli_keep("%s", text ? text : "");
    json_decref(lines);
    cli_free(&o);
    return mark;
}

/* "plugin@version" ps shows for kernel name. */
static const char *ps_plugin(const char *name)
{
    cli_out o;
    cli_exec(&o, NULL, "ps", "--instance", L.instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *root = json_loads(o.r.out, 0, NULL), *k;
    size_t i;
    const char *got = "(absent)";
    json_array_foreach (json_object_get(root, "kernels"), i, k)
        if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0)
            got = cli_keep("%s@%s", json_string_value(json_object_get(k, "plugin")),
                           json_string_value(json_object_get(k, "version")));
    json_decref(root);
    cli_free(&o);
    return got;
}

/* A manifest of kernel `kernel` (plugin `plugin`) on queues <kernel>.in and
 * <kernel>.out, in folder dir, with no "name" and no "plugins". */
static const char *bare_manifest(const char *dir, const char *kernel, const char *plugin)
{
    const char *path = cli_keep("%s/%s.json", dir, kernel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"ringhost\": 1,\n"
            " \"queues\": {\"%s.in\": {\"type\": \"echo.message\"},\n"
            "            \"%s.out\": {\"type\": \"echo.message\"}},\n"
            " \"kernels\": [{\"name\": \"%s\", \"plugin\": \"%s\",\n"
            "   \"inputs\": {\"in\": \"%s.in\"}, \"outputs\": {\"out\": \"%s.out\"}}]}\n",
            kernel, kernel, kernel, plugin, kernel, kernel);
    fclose(f);
    return path;
}

static int launch_setup(void **state)
{
    (void)state;
    memset(&L, 0, sizeof L);
    setenv("RINGHOST_RUNTIME_DIR", cli_keep("%s/run", cli_tmpdir()), 1);
    L.instance = cli_instance("lsw");
    L.plugins = cli_keep("%s/plugins", cli_tmpdir());
    L.allowed = cli_keep("%s/allowed", cli_tmpdir());
    L.extra = cli_keep("%s/extra", cli_tmpdir());
    const char *own = cli_keep("%s/elsewhere", cli_tmpdir());
    const char *mdir = cli_keep("%s/manifests", cli_tmpdir());
    if (mkdir(L.plugins, 0755) != 0 || mkdir(L.allowed, 0755) != 0 ||
        chmod(L.allowed, 0775) != 0 || mkdir(L.extra, 0755) != 0 || mkdir(own, 0755) != 0 ||
        mkdir(mdir, 0755) != 0 ||
        cli_copy_file(RH_TEST_PLUGIN_DIR "/echo.so", cli_keep("%s/echo.so", L.plugins), 0644) != 0 ||
        cli_copy_file(SWAP_DIR "/swap_echo_v1.so", cli_keep("%s/swap_echo.so", L.plugins), 0644) != 0 ||
        cli_copy_file(SWAP_DIR "/swap_echo_v1.so", cli_keep("%s/swap_echo.so", L.allowed), 0644) != 0 ||
        cli_copy_file(SWAP_DIR "/swap_echo_v1.so", cli_keep("%s/swap_echo.so", L.extra), 0644) != 0) {
        print_error("cannot prepare the plugin folders in %s\n", cli_tmpdir());
        return -1;
    }
    const char *allowed_so = cli_keep("%s/swap_echo.so", L.allowed);
    const char *m = cli_keep("%s/host.json", mdir);
    FILE *f = fopen(m, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"ringhost\": 1, \"name\": \"%s\", \"plugins\": [\"%s\"],\n"
            " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
            "            \"e.out\": {\"type\": \"echo.message\"},\n"
            "            \"a.in\": {\"type\": \"echo.message\"},\n"
            "            \"a.out\": {\"type\": \"echo.message\"}},\n"
            " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\",\n"
            "   \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}},\n"
            "  {\"name\": \"a\", \"plugin\": \"%s\",\n"
            "   \"inputs\": {\"in\": \"a.in\"}, \"outputs\": {\"out\": \"a.out\"}}]}\n",
            L.instance, L.plugins, allowed_so);
    fclose(f);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--allow-plugin", (char *)allowed_so, NULL};
    if (proc_start(&L.host, argv) != 0) {
        print_error("cannot start %s run %s\n", RH_TEST_BINARY, m);
        return -1;
    }
    if (cli_host_logged_within(&L.host, CLI_SERVING, 1, WAIT_S) != 0)
        return -1;
    return 0;
}

static int launch_teardown(void **state)
{
    ctl_kill_host(&L.host);
    return cli_group_teardown(state);
}

static void test_a_bare_manifest_launched_from_its_own_folder_finds_the_hosts_plugins(void **s)
{
    (void)s;
    cli_out o;
    const char *m = bare_manifest(cli_keep("%s/elsewhere", cli_tmpdir()), "h", "swap_echo");
    cli_exec(&o, NULL, "launch", m, "--instance", L.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "kernels: h"), "expected kernel h launched");
    cli_free(&o);
    assert_string_equal(ps_plugin("h"), "swap_echo@1.0.0");
    assert_string_equal(who_answers("h"), "v1");
}

/* A project laid out as manifests/ beside plugins/ keeps working: after
 * the host's folders, <manifest folder>/../plugins is searched when it
 * exists. */
static void test_a_bare_manifest_also_finds_its_own_plugins_folder(void **s)
{
    (void)s;
    const char *proj = cli_keep("%s/proj", cli_tmpdir());
    assert_int_equal(mkdir(proj, 0755), 0);
    assert_int_equal(mkdir(cli_keep("%s/manifests", proj), 0755), 0);
    assert_int_equal(mkdir(cli_keep("%s/plugins", proj), 0755), 0);
    assert_int_equal(cli_copy_file(RH_TEST_BUILD_DIR "/test_plugins/failing.so",
                               cli_keep("%s/plugins/failing.so", proj), 0644), 0);
    cli_out o;
    const char *m = bare_manifest(cli_keep("%s/manifests", proj), "f", "failing");
    cli_exec(&o, NULL, "launch", m, "--instance", L.instance, "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    assert_string_equal(ps_plugin("f"), "failing@1.0.0");
    assert_string_equal(who_answers("f"), "ask"); /* failing echoes what it does not fail */
}

static void test_a_new_build_over_a_launched_kernels_file_is_swapped_in(void **s)
{
    (void)s;
    move_build_in("swap_echo_v2", L.plugins);
    cli_await_log(&L.host, "event=kernel.swap kernel=h", 1, WAIT_S);
    assert_int_equal(host_logged("from=1.0.0 to=2.0.0"), 1);
    assert_string_equal(ps_plugin("h"), "swap_echo@2.0.0");
    assert_string_equal(who_answers("h"), "v2");
    /* it runs: not announced as a plugin nobody runs */
    assert_int_equal(host_logged(cli_keep("event=plugin.added file=%s/swap_echo.so",
                                          L.plugins)), 0);
}

static void test_launch_plugins_dir_is_searched_first_and_watched(void **s)
{
    (void)s;
    cli_out o;
    /* the host's folder holds v2 now; --plugins holds v1 */
    const char *m = bare_manifest(cli_keep("%s/elsewhere", cli_tmpdir()), "x", "swap_echo");
    cli_exec(&o, NULL, "launch", m, "--instance", L.instance, "--plugins", L.extra,
             "--activate", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    assert_string_equal(who_answers("x"), "v1");
    move_build_in("swap_echo_v2", L.extra);
    cli_await_log(&L.host, "event=kernel.swap kernel=x", 1, WAIT_S);
    assert_string_equal(who_answers("x"), "v2");
    assert_string_equal(ps_plugin("x"), "swap_echo@2.0.0");
}

static void test_an_allowed_plugin_is_swapped_in_under_its_waiver(void **s)
{
    (void)s;
    assert_string_equal(who_answers("a"), "v1");
    move_build_in("swap_echo_v2", L.allowed);
    cli_await_log(&L.host, "event=kernel.swap kernel=a", 1, WAIT_S);
    assert_int_equal(host_logged("event=kernel.swap_refused kernel=a"), 0);
    assert_string_equal(who_answers("a"), "v2");
    assert_string_equal(ps_plugin("a"), "swap_echo@2.0.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_bare_manifest_launched_from_its_own_folder_finds_the_hosts_plugins),
        cmocka_unit_test(test_a_bare_manifest_also_finds_its_own_plugins_folder),
        cmocka_unit_test(test_a_new_build_over_a_launched_kernels_file_is_swapped_in),
        cmocka_unit_test(test_launch_plugins_dir_is_searched_first_and_watched),
        cmocka_unit_test(test_an_allowed_plugin_is_swapped_in_under_its_waiver),
    };
    return cmocka_run_group_tests(tests, launch_setup, launch_teardown);
}
