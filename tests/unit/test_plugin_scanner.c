/*
 * test_plugin_scanner.c — the plugin scanner's cache and re-check
 * (plugin_scanner.h), in one process: a file is scanned in a child once per
 * build, a changed file is scanned again, and the descriptor the host reads
 * is compared with the child's record.  bad_ctor_mark.so (in
 * RH_TEST_BUILD_DIR/hostile_plugins) appends "uid=N pid=P" to
 * $RH_TEST_CTOR_MARK each time its constructor runs, so the lines of that
 * file count the loads and say in which process each ran.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "plugin/plugin_scanner.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define HOSTILE_DIR RH_TEST_BUILD_DIR "/hostile_plugins"

static char dir[64], so[128], mark[128];

/* Lines of the mark file written by process pid (0: by any). */
static int marks(int pid)
{
    FILE *f = fopen(mark, "r");
    if (!f)
        return 0;
    int n = 0, u, p;
    while (fscanf(f, "uid=%d pid=%d\n", &u, &p) == 2)
        n += !pid || p == pid;
    fclose(f);
    return n;
}

static void copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(to, 0644), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rh-scanner-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(so, sizeof so, "%s/bad_ctor_mark.so", dir);
    snprintf(mark, sizeof mark, "%s/ctor.mark", dir);
    setenv("RH_TEST_CTOR_MARK", mark, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(so);
    unlink(mark);
    rmdir(dir);
    return 0;
}

/* Opened twice from private copies (as the runtime and a hot-swap watcher
 * open files): the scanner child runs once, the host loads it twice; once
 * the file is rewritten (a new build), the child runs again. */
static void test_a_file_is_scanned_once_per_build_within_a_process(void **state)
{
    (void)state;
    copy(HOSTILE_DIR "/bad_ctor_mark.so", so);
    unlink(mark);
    rh_plugin a, b, c;
    rh_error err = {0};
    if (rh__plugin_open_copy(so, &a, &err) != 0)
        fail_msg("expected bad_ctor_mark.so to load: %s", err.msg);
    int me = (int)getpid();
    assert_int_equal(marks(me), 1);       /* the host's own load */
    assert_int_equal(marks(0) - marks(me), 1); /* and one in a scanner child */
    assert_int_equal(rh__plugin_open_copy(so, &b, &err), 0);
    assert_int_equal(marks(me), 2);
    if (marks(0) - marks(me) != 1)
        fail_msg("the second open of the same build forked a scanner again (%d child loads)",
                 marks(0) - marks(me));
    rh__plugin_close(&b);
    rh__plugin_close(&a);

    /* A new build at the same path: rewritten, with an mtime a second
     * later (set, so the test does not depend on the clock's tick). */
    struct stat st;
    assert_int_equal(stat(so, &st), 0);
    unlink(so);
    copy(HOSTILE_DIR "/bad_ctor_mark.so", so);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    times[1].tv_sec += 1;
    assert_int_equal(utimensat(AT_FDCWD, so, times, 0), 0);
    assert_int_equal(rh__plugin_open_copy(so, &c, &err), 0);
    if (marks(0) - marks(me) != 2)
        fail_msg("a rewritten file must be scanned again, child loads: %d",
                 marks(0) - marks(me));
    rh__plugin_close(&c);
}

/* The re-check names the first difference between the child's record and
 * what the host read. */
static void test_a_descriptor_other_than_the_scanners_record_is_refused(void **state)
{
    (void)state;
    copy(HOSTILE_DIR "/bad_ctor_mark.so", so);
    rh_plugin p;
    rh_error err = {0};
    assert_int_equal(rh__plugin_open(so, &p, &err), 0);
    rh_plugin_probe probe;
    memset(&probe, 0, sizeof probe);
    snprintf(probe.name, sizeof probe.name, "%s", p.desc->name);
    snprintf(probe.version, sizeof probe.version, "%s", p.desc->version);
    probe.n_inputs = p.desc->n_inputs;
    probe.n_outputs = p.desc->n_outputs;
    for (uint32_t i = 0; i < probe.n_inputs + probe.n_outputs; i++) {
        const rh_port *port =
            i < probe.n_inputs ? &p.desc->inputs[i] : &p.desc->outputs[i - probe.n_inputs];
        snprintf(probe.ports[i].name, sizeof probe.ports[i].name, "%s", port->name);
        snprintf(probe.ports[i].type, sizeof probe.ports[i].type, "%s", port->type->name);
        probe.ports[i].fingerprint = port->type->fingerprint;
        probe.ports[i].size = (uint32_t)port->type->size;
    }
    assert_int_equal(rh__plugin_probe_matches(&probe, p.desc, so, &err), 0);
    probe.ports[1].fingerprint ^= 1;
    assert_int_equal(rh__plugin_probe_matches(&probe, p.desc, so, &err), RH_EPLUGIN);
    if (!strstr(err.msg, "type fingerprint or size of port \"out\"") || !strstr(err.msg, so))
        fail_msg("expected the refusal to name the port and the file, got: %s", err.msg);
    rh__plugin_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_file_is_scanned_once_per_build_within_a_process),
        cmocka_unit_test(test_a_descriptor_other_than_the_scanners_record_is_refused),
    };
    return cmocka_run_group_tests_name("plugin scanner", tests, setup, teardown);
}
