/*
 * test_plugin.c — loading kernel .so files: every load check of the design
 * on a deliberately broken plugin (built in RH_TEST_BAD_PLUGIN_DIR), and the
 * good plugins of the build loading with their ports and types.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "plugin/plugin_load.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void expect_refused(const char *file, const char *words)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", RH_TEST_BAD_PLUGIN_DIR, file);
    rh_plugin p;
    rh_error err = {0};
    int rc = rh__plugin_open(path, &p, &err);
    if (rc != RH_EPLUGIN)
        fail_msg("%s: expected RH_EPLUGIN, got %d", file, rc);
    if (!strstr(err.msg, words))
        fail_msg("%s: expected the reason to mention \"%s\", got: %s", file, words, err.msg);
    if (!strstr(err.msg, path))
        fail_msg("%s: expected the reason to name the file, got: %s", file, err.msg);
    assert_null(p.desc);
    assert_null(p.handle);
    assert_string_equal(p.why, err.msg);
}

static void test_missing_entry_symbol_is_refused_with_dlerror_text(void **state)
{
    (void)state;
    expect_refused("bad_no_entry.so", "rh_kernel_entry");
    expect_refused("bad_no_entry.so", "undefined symbol"); /* dlerror()'s words */
}

static void test_undefined_symbol_is_refused_at_load(void **state)
{
    (void)state;
    expect_refused("bad_undefined.so", "undefined symbol: rh_bad_function_nobody_defines");
}

static void test_other_abi_major_is_refused(void **state)
{
    (void)state;
    expect_refused("bad_abi_major.so", "ABI major 2");
}

static void test_newer_abi_minor_is_refused(void **state)
{
    (void)state;
    expect_refused("bad_abi_minor.so", "newer than this host");
}

static void test_too_small_struct_size_is_refused(void **state)
{
    (void)state;
    expect_refused("bad_struct_size.so", "struct_size");
}

static void test_kernel_without_process_or_run_is_refused(void **state)
{
    (void)state;
    expect_refused("bad_null_process.so", "exactly one of process and run");
}

static void test_duplicate_port_names_are_refused(void **state)
{
    (void)state;
    expect_refused("bad_dup_ports.so", "duplicate inputs port name");
}

static void test_type_without_fingerprint_is_refused(void **state)
{
    (void)state;
    expect_refused("bad_no_fingerprint.so", "no fingerprint");
}

static void test_missing_file_is_refused_not_fatal(void **state)
{
    (void)state;
    rh_plugin p;
    rh_error err = {0};
    assert_int_equal(rh__plugin_open("/nonexistent/x.so", &p, &err), RH_EPLUGIN);
    assert_non_null(strstr(err.msg, "No such file"));
}

static void test_good_plugin_loads_with_ports_and_types(void **state)
{
    (void)state;
    rh_plugin p;
    rh_error err = {0};
    if (rh__plugin_open(RH_TEST_PLUGIN_DIR "/vector_add.so", &p, &err) != 0)
        fail_msg("vector_add.so: %s", err.msg);
    assert_string_equal(p.desc->name, "vector_add");
    assert_int_equal(p.desc->n_inputs, 1);
    assert_string_equal(p.desc->inputs[0].name, "requests");
    assert_string_equal(p.desc->inputs[0].type->name, "vector_add.request");
    assert_true(p.desc->inputs[0].type->fingerprint != 0);
    assert_string_equal(p.desc->outputs[0].type->name, "vector_add.response");
    rh__plugin_close(&p);
}

/* A folder with good and bad plugins: each is reported, the good ones load. */
static void test_scan_keeps_going_past_bad_plugins(void **state)
{
    (void)state;
    rh_plugin_set set = {0};
    rh_error err = {0};
    int bad = rh__plugin_scan(&set, RH_TEST_BAD_PLUGIN_DIR, &err);
    int good = rh__plugin_scan(&set, RH_TEST_PLUGIN_DIR, &err);
    assert_true(bad >= 8);
    assert_true(good >= 5);
    assert_int_equal((int)set.n, bad + good);
    int failed = 0;
    for (uint32_t i = 0; i < set.n; i++)
        failed += set.items[i].desc == NULL;
    assert_int_equal(failed, bad);
    assert_non_null(rh__plugin_find(&set, "echo"));
    assert_non_null(rh__plugin_find(&set, "vector_add"));
    assert_null(rh__plugin_find(&set, "bad_undefined")); /* failed ones are never found */
    const char *origin = NULL;
    const rh_type *t = rh__plugin_find_type(&set, "vector.f32", &origin);
    assert_non_null(t);
    assert_non_null(strstr(origin, ".so"));
    assert_null(rh__plugin_find_type(&set, "no.such.type", NULL));
    rh__plugin_set_free(&set);
}

static void test_scan_of_missing_folder_is_an_error(void **state)
{
    (void)state;
    rh_plugin_set set = {0};
    rh_error err = {0};
    assert_int_equal(rh__plugin_scan(&set, "/nonexistent-folder", &err), RH_ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent-folder"));
    assert_int_equal(set.n, 0);
}

/* ------------------------------------------- who may write the code --- */

/* A private copy of a good plugin: <tmp>/dir/echo.so (folder 0755, file
 * 0755), so a test can change modes without touching the build's files. */
static char tmp_root[64], tmp_dir[128], tmp_so[192];

static void copy_echo_plugin(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/rh-plugin-XXXXXX");
    assert_non_null(mkdtemp(tmp_root));
    snprintf(tmp_dir, sizeof tmp_dir, "%s/dir", tmp_root);
    assert_int_equal(mkdir(tmp_dir, 0755), 0);
    snprintf(tmp_so, sizeof tmp_so, "%s/echo.so", tmp_dir);
    FILE *in = fopen(RH_TEST_PLUGIN_DIR "/echo.so", "rb");
    FILE *out = fopen(tmp_so, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(tmp_so, 0755), 0);
    assert_int_equal(chmod(tmp_dir, 0755), 0); /* whatever the umask */
}

static void remove_echo_copy(void)
{
    char link[256];
    snprintf(link, sizeof link, "%s/link.so", tmp_root);
    unlink(link);
    unlink(tmp_so);
    rmdir(tmp_dir);
    rmdir(tmp_root);
}

static int loads(const char *path, rh_error *err)
{
    rh_plugin p;
    int rc = rh__plugin_open(path, &p, err);
    if (rc == 0)
        rh__plugin_close(&p);
    return rc;
}

/* The refusal names the plugin, what is writable, its mode and the fix. */
static void expect_writable_refusal(const char *path, const char *writable, const char *mode)
{
    rh_error err = {0};
    int rc = loads(path, &err);
    if (rc != RH_EPLUGIN)
        fail_msg("%s: expected RH_EPLUGIN while %s has mode %s, got %d", path, writable, mode,
                 rc);
    char fix[300];
    snprintf(fix, sizeof fix, "chmod o-w %s", writable);
    if (!strstr(err.msg, path) || !strstr(err.msg, "world-writable") || !strstr(err.msg, mode) ||
        !strstr(err.msg, fix))
        fail_msg("expected the reason to name %s, say world-writable, mode %s and \"%s\", got: "
                 "%s", path, mode, fix, err.msg);
}

static void test_world_writable_plugin_file_is_refused_before_dlopen(void **state)
{
    (void)state;
    copy_echo_plugin();
    assert_int_equal(chmod(tmp_so, 0757), 0);
    expect_writable_refusal(tmp_so, tmp_so, "0757");
    if (dlopen(tmp_so, RTLD_NOW | RTLD_NOLOAD) != NULL)
        fail_msg("the refused file was loaded (its constructors ran) before being refused");
    rh_error err = {0};
    assert_int_equal(chmod(tmp_so, 0755), 0);
    if (loads(tmp_so, &err) != 0)
        fail_msg("the private copy must load at mode 0755: %s", err.msg);
    assert_int_equal(chmod(tmp_so, 0775), 0); /* group-writable: refused too */
    if (loads(tmp_so, &err) != RH_EPLUGIN || !strstr(err.msg, "group-writable") ||
        !strstr(err.msg, "chmod g-w"))
        fail_msg("a group-writable plugin must be refused with chmod g-w, got: %s", err.msg);
    remove_echo_copy();
}

static void test_plugin_in_a_world_writable_folder_is_refused_even_if_sticky(void **state)
{
    (void)state;
    copy_echo_plugin();
    assert_int_equal(chmod(tmp_dir, 0777), 0);
    expect_writable_refusal(tmp_so, tmp_dir, "0777");
    assert_int_equal(chmod(tmp_dir, 01777), 0); /* like /tmp */
    expect_writable_refusal(tmp_so, tmp_dir, "1777");
    assert_int_equal(chmod(tmp_dir, 0755), 0);
    rh_error err = {0};
    if (loads(tmp_so, &err) != 0)
        fail_msg("loads again once the folder is fixed: %s", err.msg);
    remove_echo_copy();
}

/* A symlink from a safe folder to a file in a world-writable one: the
 * folder the code really lives in is what counts. */
static void test_symlink_into_a_world_writable_folder_is_refused(void **state)
{
    (void)state;
    copy_echo_plugin();
    char link[256];
    snprintf(link, sizeof link, "%s/link.so", tmp_root);
    assert_int_equal(symlink(tmp_so, link), 0);
    rh_error err = {0};
    if (loads(link, &err) != 0)
        fail_msg("the link loads while both folders are safe: %s", err.msg);
    assert_int_equal(chmod(tmp_dir, 0777), 0);
    expect_writable_refusal(link, tmp_dir, "0777");
    assert_int_equal(chmod(tmp_dir, 0755), 0);
    remove_echo_copy();
}

/* A folder scan reports the refused file and keeps going. */
static void test_scan_lists_a_world_writable_plugin_with_its_reason(void **state)
{
    (void)state;
    copy_echo_plugin();
    assert_int_equal(chmod(tmp_so, 0666), 0);
    rh_plugin_set set = {0};
    rh_error err = {0};
    assert_int_equal(rh__plugin_scan(&set, tmp_dir, &err), 1);
    assert_null(set.items[0].desc);
    if (!strstr(set.items[0].why, "world-writable"))
        fail_msg("expected the scan to keep the reason, got: %s", set.items[0].why);
    assert_null(rh__plugin_find(&set, "echo"));
    rh__plugin_set_free(&set);
    remove_echo_copy();
}

static void test_descriptor_checks_reject_null_and_empty(void **state)
{
    (void)state;
    rh_error err = {0};
    assert_int_equal(rh__plugin_check(NULL, "x.so", &err), RH_EPLUGIN);
    assert_non_null(strstr(err.msg, "returned NULL"));
    rh_kernel_desc d = {RH_KERNEL_ABI, .name = "k"};
    d.process = (int (*)(rh_ctx *, void *, const rh_batch *))1;
    assert_int_equal(rh__plugin_check(&d, "x.so", &err), RH_EPLUGIN);
    assert_non_null(strstr(err.msg, "declares no ports"));
    d.name = "";
    assert_int_equal(rh__plugin_check(&d, "x.so", &err), RH_EPLUGIN);
    assert_non_null(strstr(err.msg, "no name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_entry_symbol_is_refused_with_dlerror_text),
        cmocka_unit_test(test_undefined_symbol_is_refused_at_load),
        cmocka_unit_test(test_other_abi_major_is_refused),
        cmocka_unit_test(test_newer_abi_minor_is_refused),
        cmocka_unit_test(test_too_small_struct_size_is_refused),
        cmocka_unit_test(test_kernel_without_process_or_run_is_refused),
        cmocka_unit_test(test_duplicate_port_names_are_refused),
        cmocka_unit_test(test_type_without_fingerprint_is_refused),
        cmocka_unit_test(test_missing_file_is_refused_not_fatal),
        cmocka_unit_test(test_good_plugin_loads_with_ports_and_types),
        cmocka_unit_test(test_scan_keeps_going_past_bad_plugins),
        cmocka_unit_test(test_scan_of_missing_folder_is_an_error),
        cmocka_unit_test(test_descriptor_checks_reject_null_and_empty),
        cmocka_unit_test(test_world_writable_plugin_file_is_refused_before_dlopen),
        cmocka_unit_test(test_plugin_in_a_world_writable_folder_is_refused_even_if_sticky),
        cmocka_unit_test(test_symlink_into_a_world_writable_folder_is_refused),
        cmocka_unit_test(test_scan_lists_a_world_writable_plugin_with_its_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
