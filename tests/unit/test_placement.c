/*
 * test_placement.c — pin specs, policies, binding and the topology report.
 *
 * Two groups:
 *  - the real machine: whatever hwloc finds here (on the 2-vCPU CI machines:
 *    1 package, 2 cores, 2 PUs, all allowed);
 *  - a fake machine, 2 packages x 2 cores x 2 PUs with only cpus 0-4
 *    allowed, so the "outside the allowed cpuset" paths and the scatter
 *    order across packages are tested on every machine.  The topology is
 *    loaded once per process, so that group runs in a child process
 *    (this binary re-executed with --fake-topology and HWLOC_XMLFILE naming
 *    an XML export of the fake machine).
 */
#define _GNU_SOURCE

/* Project headers before cmocka.h: cmocka defines a function-like macro
 * `fail`, which would rewrite kernel.h's ctx->api->fail(...) calls. */
#include "base/placement.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------- helpers --- */

#define expect_ok(rc, err, what)                                                              \
    do {                                                                                      \
        if ((rc) != 0)                                                                        \
            fail_msg("%s: expected success, got %d (%s): %s", (what), (rc), rh_strerror(rc),  \
                     (err).msg);                                                              \
    } while (0)

#define expect_contains(haystack, needle)                                                     \
    do {                                                                                      \
        if (strstr((haystack), (needle)) == NULL)                                             \
            fail_msg("expected the message to contain \"%s\", got: %s", (needle), (haystack)); \
    } while (0)

static hwloc_const_bitmap_t allowed_cpus(void)
{
    return hwloc_topology_get_allowed_cpuset(rh__topo());
}

static hwloc_bitmap_t resolve_ok(const char *spec)
{
    rh_error err = {0};
    hwloc_bitmap_t set = NULL;
    int rc = rh__pin_resolve(spec, &set, &err);
    if (rc != 0)
        fail_msg("pin \"%s\": expected success, got %d (%s): %s", spec, rc, rh_strerror(rc),
                 err.msg);
    if (set == NULL)
        fail_msg("pin \"%s\": success but *out is NULL", spec);
    return set;
}

/* Resolve a spec that must fail with RH_EPLACE; returns the message. */
static void resolve_refused(const char *spec, rh_error *err)
{
    hwloc_bitmap_t set = (hwloc_bitmap_t)1; /* must be reset to NULL */
    int rc = rh__pin_resolve(spec, &set, err);
    if (rc != RH_EPLACE)
        fail_msg("pin \"%s\": expected RH_EPLACE (%d), got %d (%s)", spec, RH_EPLACE, rc,
                 rh_strerror(rc));
    if (set != NULL)
        fail_msg("pin \"%s\": on error *out must be NULL", spec);
    if (err->code != RH_EPLACE || err->msg[0] == '\0')
        fail_msg("pin \"%s\": expected an RH_EPLACE message, got code %d msg \"%s\"", spec,
                 err->code, err->msg);
}

static void expect_set(hwloc_const_bitmap_t got, const char *want, const char *what)
{
    char g[256];
    hwloc_bitmap_list_snprintf(g, sizeof g, got);
    if (strcmp(g, want) != 0)
        fail_msg("%s: expected cpus \"%s\", got \"%s\"", what, want, g);
}

/* "cores 0-3" / "only core 0", as placement.c words what exists. */
static void exists_phrase(hwloc_obj_type_t type, const char *one, const char *many, char *buf,
                          size_t len)
{
    int n = hwloc_get_nbobjs_by_type(rh__topo(), type);
    if (n == 1)
        snprintf(buf, len, "this machine has only %s 0", one);
    else
        snprintf(buf, len, "this machine has %s 0-%d", many, n - 1);
}

static int setup_topology(void **state)
{
    (void)state;
    rh_error err = {0};
    int rc = rh__topo_init(&err);
    if (rc != 0) {
        fprintf(stderr, "rh__topo_init failed: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* ----------------------------------------------------------- pin specs --- */

static void test_core0_resolves_to_a_nonempty_set_inside_the_allowed_cpuset(void **state)
{
    (void)state;
    hwloc_bitmap_t set = resolve_ok("core:0");
    if (hwloc_bitmap_iszero(set))
        fail_msg("core:0 resolved to an empty set");
    if (!hwloc_bitmap_isincluded(set, allowed_cpus()))
        fail_msg("core:0 resolved to cpus outside the allowed cpuset");
    hwloc_obj_t core = hwloc_get_obj_by_type(rh__topo(), HWLOC_OBJ_CORE, 0);
    if (!hwloc_bitmap_isequal(set, core->cpuset))
        fail_msg("core:0 must resolve to exactly the first core's cpus");
    hwloc_bitmap_free(set);
}

static void test_pu0_resolves_to_exactly_one_cpu(void **state)
{
    (void)state;
    hwloc_bitmap_t set = resolve_ok("pu:0");
    if (hwloc_bitmap_weight(set) != 1)
        fail_msg("pu:0 must be one cpu, got %d", hwloc_bitmap_weight(set));
    hwloc_obj_t pu = hwloc_get_obj_by_type(rh__topo(), HWLOC_OBJ_PU, 0);
    if (!hwloc_bitmap_isset(set, pu->os_index))
        fail_msg("pu:0 must be the first PU's OS cpu %u", pu->os_index);
    hwloc_bitmap_free(set);
}

static void test_numa0_resolves_to_its_cpus(void **state)
{
    (void)state;
    hwloc_bitmap_t set = resolve_ok("numa:0");
    hwloc_obj_t node = hwloc_get_obj_by_type(rh__topo(), HWLOC_OBJ_NUMANODE, 0);
    if (!hwloc_bitmap_isequal(set, node->cpuset))
        fail_msg("numa:0 must resolve to NUMA node 0's cpus");
    hwloc_bitmap_free(set);
}

static void test_list_of_two_cores_is_their_union(void **state)
{
    (void)state;
    if (hwloc_get_nbobjs_by_type(rh__topo(), HWLOC_OBJ_CORE) < 2) {
        print_message("skipped: this machine has fewer than 2 cores\n");
        skip();
    }
    hwloc_bitmap_t set = resolve_ok("core:0,core:1");
    hwloc_bitmap_t want = hwloc_bitmap_alloc();
    hwloc_bitmap_or(want, hwloc_get_obj_by_type(rh__topo(), HWLOC_OBJ_CORE, 0)->cpuset,
                    hwloc_get_obj_by_type(rh__topo(), HWLOC_OBJ_CORE, 1)->cpuset);
    if (!hwloc_bitmap_isequal(set, want))
        fail_msg("\"core:0,core:1\" must be the union of both cores' cpus");
    hwloc_bitmap_free(want);
    hwloc_bitmap_free(set);
}

static void test_list_tolerates_whitespace_around_items(void **state)
{
    (void)state;
    hwloc_bitmap_t spaced = resolve_ok("  core:0 ,\tpu:0  ");
    hwloc_bitmap_t tight = resolve_ok("core:0,pu:0");
    if (!hwloc_bitmap_isequal(spaced, tight))
        fail_msg("blanks around list items must not change the result");
    hwloc_bitmap_free(spaced);
    hwloc_bitmap_free(tight);
}

static void test_empty_spec_is_an_empty_set_meaning_not_pinned(void **state)
{
    (void)state;
    const char *specs[] = {"", "   ", NULL};
    for (int i = 0; i < 3; i++) {
        hwloc_bitmap_t set = resolve_ok(specs[i]);
        if (!hwloc_bitmap_iszero(set))
            fail_msg("pin \"%s\" must give an empty set", specs[i] ? specs[i] : "(NULL)");
        hwloc_bitmap_free(set);
    }
}

static void test_core_out_of_range_is_refused_naming_the_cores_that_exist(void **state)
{
    (void)state;
    rh_error err = {0};
    char want[128];
    resolve_refused("core:9999", &err);
    expect_contains(err.msg, "pin \"core:9999\": no such core");
    exists_phrase(HWLOC_OBJ_CORE, "core", "cores", want, sizeof want);
    expect_contains(err.msg, want);
    expect_contains(err.msg, "allowed cpus");
}

static void test_pu_out_of_range_is_refused_naming_the_pus_that_exist(void **state)
{
    (void)state;
    rh_error err = {0};
    char want[128];
    resolve_refused("pu:9999", &err);
    expect_contains(err.msg, "pin \"pu:9999\": no such PU");
    exists_phrase(HWLOC_OBJ_PU, "PU", "PUs", want, sizeof want);
    expect_contains(err.msg, want);
}

static void test_numa_out_of_range_is_refused_naming_the_nodes_that_exist(void **state)
{
    (void)state;
    rh_error err = {0};
    char want[128];
    resolve_refused("numa:99", &err);
    expect_contains(err.msg, "pin \"numa:99\": no such NUMA node");
    exists_phrase(HWLOC_OBJ_NUMANODE, "NUMA node", "NUMA nodes", want, sizeof want);
    expect_contains(err.msg, want);
}

static void test_huge_index_is_no_such_core_not_a_wrapped_index(void **state)
{
    (void)state;
    rh_error err = {0};
    resolve_refused("core:18446744073709551616", &err); /* 2^64: would wrap to 0 */
    expect_contains(err.msg, "no such core");
}

static void test_unknown_kind_is_refused_listing_the_known_forms(void **state)
{
    (void)state;
    const char *specs[] = {"cpu:1", "core", "1", "Core:1", ":1"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        rh_error err = {0};
        char want[64];
        resolve_refused(specs[i], &err);
        snprintf(want, sizeof want, "pin \"%s\": expected core:N, pu:N or numa:N", specs[i]);
        expect_contains(err.msg, want);
    }
}

static void test_index_that_is_not_a_plain_decimal_number_is_refused(void **state)
{
    (void)state;
    const char *specs[] = {"core:", "core:x", "core:-1", "core:+1", "core:0x1", "core:1 2",
                           "pu: 0"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        rh_error err = {0};
        resolve_refused(specs[i], &err);
        expect_contains(err.msg, "index; expected ");
        expect_contains(err.msg, "this machine has");
    }
}

static void test_empty_item_in_a_list_is_refused(void **state)
{
    (void)state;
    const char *specs[] = {"core:0,,core:1", "core:0,", ",core:0", " , "};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        rh_error err = {0};
        resolve_refused(specs[i], &err);
        expect_contains(err.msg, "empty item");
    }
}

static void test_error_in_a_list_names_the_bad_item_and_the_list(void **state)
{
    (void)state;
    rh_error err = {0};
    resolve_refused("core:0, core:9999", &err);
    expect_contains(err.msg, "pin \"core:9999\" (in \"core:0, core:9999\"): no such core");
}

/* ------------------------------------------------------------- binding --- */

typedef struct bind_probe {
    unsigned pu;       /* logical index to pin to */
    int rc;            /* of resolve + bind */
    char msg[1024];
    int first_cpu;     /* sched_getcpu right after binding */
    int stray_cpu;     /* a cpu seen while spinning other than the PU's, or -1 */
    int current_cpu;   /* rh__current_cpu at the end */
} bind_probe;

static void *bind_and_spin(void *arg)
{
    bind_probe *p = arg;
    char spec[32];
    rh_error err = {0};
    hwloc_bitmap_t set = NULL;
    snprintf(spec, sizeof spec, "pu:%u", p->pu);
    p->stray_cpu = -1;
    p->rc = rh__pin_resolve(spec, &set, &err);
    if (p->rc == 0)
        p->rc = rh__bind_self(set, &err);
    if (p->rc != 0) {
        snprintf(p->msg, sizeof p->msg, "%s", err.msg);
        hwloc_bitmap_free(set);
        return NULL;
    }
    p->first_cpu = sched_getcpu();
    /* Spin a little, yielding, so the scheduler has chances to move us. */
    volatile uint64_t sink = 0;
    for (int i = 0; i < 2000; i++) {
        for (int j = 0; j < 1000; j++)
            sink += (uint64_t)j;
        if ((i & 63) == 0)
            sched_yield();
        int cpu = sched_getcpu();
        if (!hwloc_bitmap_isset(set, (unsigned)cpu))
            p->stray_cpu = cpu;
    }
    p->current_cpu = rh__current_cpu();
    hwloc_bitmap_free(set);
    return NULL;
}

static void test_thread_bound_to_each_allowed_pu_runs_on_it(void **state)
{
    (void)state;
    hwloc_topology_t t = rh__topo();
    int checked = 0;
    hwloc_obj_t pu = NULL;
    while ((pu = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PU, pu))) {
        if (!hwloc_bitmap_isset(allowed_cpus(), pu->os_index))
            continue;
        bind_probe probe = {.pu = pu->logical_index};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, bind_and_spin, &probe), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        if (probe.rc != 0)
            fail_msg("binding to pu:%u failed: %d %s", pu->logical_index, probe.rc, probe.msg);
        if (probe.first_cpu != (int)pu->os_index)
            fail_msg("bound to pu:%u (cpu %u), but ran on cpu %d right after binding",
                     pu->logical_index, pu->os_index, probe.first_cpu);
        if (probe.stray_cpu != -1)
            fail_msg("bound to pu:%u (cpu %u), but was seen on cpu %d while spinning",
                     pu->logical_index, pu->os_index, probe.stray_cpu);
        if (probe.current_cpu != (int)pu->os_index)
            fail_msg("rh__current_cpu says %d, expected cpu %u", probe.current_cpu,
                     pu->os_index);
        checked++;
    }
    if (checked == 0)
        fail_msg("no allowed PU found to bind to");
}

static void *bind_empty(void *arg)
{
    int *same = arg;
    hwloc_topology_t t = rh__topo();
    hwloc_bitmap_t before = hwloc_bitmap_alloc(), after = hwloc_bitmap_alloc(),
                   empty = hwloc_bitmap_alloc();
    rh_error err = {0};
    hwloc_get_cpubind(t, before, HWLOC_CPUBIND_THREAD);
    int rc = rh__bind_self(empty, &err);
    hwloc_get_cpubind(t, after, HWLOC_CPUBIND_THREAD);
    *same = rc == 0 && hwloc_bitmap_isequal(before, after);
    hwloc_bitmap_free(before);
    hwloc_bitmap_free(after);
    hwloc_bitmap_free(empty);
    return NULL;
}

static void test_binding_to_an_empty_set_leaves_the_thread_unpinned(void **state)
{
    (void)state;
    int same = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bind_empty, &same), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (!same)
        fail_msg("rh__bind_self(empty) must succeed and leave the thread's binding unchanged");
    assert_int_equal(rh__bind_self(NULL, NULL), 0);
}

static void test_binding_string_lists_cpus_and_says_none_when_unpinned(void **state)
{
    (void)state;
    char buf[64];
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    rh__binding_string(set, buf, sizeof buf);
    assert_string_equal(buf, "none");
    hwloc_bitmap_set_range(set, 0, 1);
    hwloc_bitmap_set(set, 3);
    rh__binding_string(set, buf, sizeof buf);
    assert_string_equal(buf, "0-1,3");
    hwloc_bitmap_free(set);
}

/* ------------------------------------------------------------ policies --- */

static hwloc_bitmap_t policy_ok(const char *policy, unsigned index)
{
    rh_error err = {0};
    hwloc_bitmap_t set = NULL;
    int rc = rh__policy_cpuset(policy, index, &set, &err);
    if (rc != 0)
        fail_msg("policy %s[%u]: expected success, got %d: %s", policy, index, rc, err.msg);
    return set;
}

static void test_compact_policy_gives_allowed_cores_in_logical_order_then_wraps(void **state)
{
    (void)state;
    hwloc_topology_t t = rh__topo();
    int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    if (n <= 0) {
        fail_msg("this machine reports no cores");
        return;
    }
    hwloc_obj_t *cores = calloc((size_t)n, sizeof *cores);
    int k = 0;
    for (int i = 0; i < n; i++) {
        hwloc_obj_t c = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, (unsigned)i);
        if (hwloc_bitmap_intersects(c->cpuset, allowed_cpus()))
            cores[k++] = c;
    }
    assert_true(k > 0);
    hwloc_bitmap_t want = hwloc_bitmap_alloc();
    for (unsigned i = 0; i < (unsigned)(2 * k); i++) {
        hwloc_bitmap_t set = policy_ok("compact", i);
        hwloc_bitmap_and(want, cores[i % (unsigned)k]->cpuset, allowed_cpus());
        if (!hwloc_bitmap_isequal(set, want))
            fail_msg("compact[%u] must be allowed core #%u (core:%u)", i, i % (unsigned)k,
                     cores[i % (unsigned)k]->logical_index);
        hwloc_bitmap_free(set);
    }
    hwloc_bitmap_free(want);
    free(cores);
}

static void test_scatter_policy_uses_every_allowed_core_once_before_repeating(void **state)
{
    (void)state;
    hwloc_topology_t t = rh__topo();
    int n = 0;
    for (int i = 0; i < hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE); i++)
        if (hwloc_bitmap_intersects(hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, (unsigned)i)->cpuset,
                                    allowed_cpus()))
            n++;
    hwloc_bitmap_t seen = hwloc_bitmap_alloc();
    for (unsigned i = 0; i < (unsigned)n; i++) {
        hwloc_bitmap_t set = policy_ok("scatter", i);
        if (hwloc_bitmap_iszero(set) || !hwloc_bitmap_isincluded(set, allowed_cpus()))
            fail_msg("scatter[%u] must be a non-empty set inside the allowed cpuset", i);
        if (hwloc_bitmap_intersects(set, seen))
            fail_msg("scatter[%u] repeats a core before every allowed core was used", i);
        hwloc_bitmap_or(seen, seen, set);
        hwloc_bitmap_free(set);
    }
    hwloc_bitmap_t again = policy_ok("scatter", (unsigned)n);
    hwloc_bitmap_t first = policy_ok("scatter", 0);
    if (!hwloc_bitmap_isequal(again, first))
        fail_msg("scatter[%d] must wrap around to scatter[0]", n);
    hwloc_bitmap_free(again);
    hwloc_bitmap_free(first);
    hwloc_bitmap_free(seen);
}

static void test_none_policy_is_not_pinned(void **state)
{
    (void)state;
    hwloc_bitmap_t set = policy_ok("none", 7);
    if (!hwloc_bitmap_iszero(set))
        fail_msg("policy none must give an empty set");
    hwloc_bitmap_free(set);
}

static void test_unknown_policy_is_einval_naming_the_known_ones(void **state)
{
    (void)state;
    const char *policies[] = {"spread", "", "Compact", NULL};
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        rh_error err = {0};
        hwloc_bitmap_t set = (hwloc_bitmap_t)1;
        int rc = rh__policy_cpuset(policies[i], 0, &set, &err);
        if (rc != RH_EINVAL)
            fail_msg("policy \"%s\": expected RH_EINVAL, got %d", policies[i] ? policies[i] : "",
                     rc);
        assert_null(set);
        expect_contains(err.msg, "expected compact, scatter or none");
    }
}

/* ------------------------------------------------------------ printing --- */

static char *topo_print_to_string(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    rh__topo_print(f);
    fclose(f);
    return text;
}

static void test_topo_print_lists_pus_and_the_allowed_cpus(void **state)
{
    (void)state;
    char *text = topo_print_to_string();
    expect_contains(text, "PU");
    expect_contains(text, "allowed cpus: ");
    expect_contains(text, "pu:0 ");
    expect_contains(text, "core:0");
    free(text);
}

/* ------------------------------------------- the fake machine (child) --- */

#define FAKE_SYNTHETIC "pack:2 [numa] core:2 pu:2" /* cpus 0-7, core:N = cpus 2N-2N+1 */
#define FAKE_ALLOWED_LAST 4                        /* cpus 0-4 allowed */

static void test_fake_pu_outside_the_allowed_cpuset_is_refused(void **state)
{
    (void)state;
    rh_error err = {0};
    resolve_refused("pu:5", &err);
    expect_contains(err.msg, "pin \"pu:5\": PU 5 (cpu 5) is outside the allowed cpuset 0-4");
}

static void test_fake_core_partly_outside_the_allowed_cpuset_is_refused(void **state)
{
    (void)state;
    rh_error err = {0};
    resolve_refused("core:2", &err);
    expect_contains(err.msg, "core 2 (cpus 4-5) is only partly inside the allowed cpuset 0-4");
    resolve_refused("numa:1", &err);
    expect_contains(err.msg, "NUMA node 1 (cpus 4-7) is only partly inside");
    resolve_refused("core:0,core:3", &err);
    expect_contains(err.msg, "core 3 (cpus 6-7) is outside the allowed cpuset 0-4");
}

static void test_fake_allowed_objects_resolve(void **state)
{
    (void)state;
    hwloc_bitmap_t set = resolve_ok("core:1, pu:4");
    expect_set(set, "2-4", "core:1, pu:4");
    hwloc_bitmap_free(set);
    set = resolve_ok("numa:0");
    expect_set(set, "0-3", "numa:0");
    hwloc_bitmap_free(set);
}

static void test_fake_no_such_core_names_all_cores_and_the_allowed_cpus(void **state)
{
    (void)state;
    rh_error err = {0};
    resolve_refused("core:7", &err);
    expect_contains(err.msg,
                    "pin \"core:7\": no such core; this machine has cores 0-3 (allowed cpus 0-4)");
}

static void test_fake_compact_fills_allowed_cores_in_order(void **state)
{
    (void)state;
    /* core:3 has no allowed cpu; core:2 contributes only its allowed cpu 4. */
    const char *want[] = {"0-1", "2-3", "4", "0-1"};
    for (unsigned i = 0; i < 4; i++) {
        char what[32];
        hwloc_bitmap_t set = policy_ok("compact", i);
        snprintf(what, sizeof what, "compact[%u]", i);
        expect_set(set, want[i], what);
        hwloc_bitmap_free(set);
    }
}

static void test_fake_scatter_alternates_packages(void **state)
{
    (void)state;
    /* package 0 has cores 0,1; package 1 has core 2 (cpu 4 only) allowed. */
    const char *want[] = {"0-1", "4", "2-3", "0-1"};
    for (unsigned i = 0; i < 4; i++) {
        char what[32];
        hwloc_bitmap_t set = policy_ok("scatter", i);
        snprintf(what, sizeof what, "scatter[%u]", i);
        expect_set(set, want[i], what);
        hwloc_bitmap_free(set);
    }
}

static void test_fake_topo_print_marks_disallowed_pus(void **state)
{
    (void)state;
    char *text = topo_print_to_string();
    expect_contains(text, "machine: 2 packages, 2 NUMA nodes, 4 cores, 8 PUs");
    expect_contains(text, "allowed cpus: 0-4 (5 of 8 PUs; a container or cgroup");
    expect_contains(text, "not allowed");
    free(text);
}

static int run_fake_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_pu_outside_the_allowed_cpuset_is_refused),
        cmocka_unit_test(test_fake_core_partly_outside_the_allowed_cpuset_is_refused),
        cmocka_unit_test(test_fake_allowed_objects_resolve),
        cmocka_unit_test(test_fake_no_such_core_names_all_cores_and_the_allowed_cpus),
        cmocka_unit_test(test_fake_compact_fills_allowed_cores_in_order),
        cmocka_unit_test(test_fake_scatter_alternates_packages),
        cmocka_unit_test(test_fake_topo_print_marks_disallowed_pus),
    };
    return cmocka_run_group_tests_name("placement on a fake machine (" FAKE_SYNTHETIC
                                       ", cpus 0-4 allowed)",
                                       tests, setup_topology, NULL);
}

/* Export the fake machine as hwloc XML into path.  0 or -1. */
static int write_fake_topology(const char *path)
{
    hwloc_topology_t t;
    int rc = -1;
    if (hwloc_topology_init(&t) < 0)
        return -1;
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    hwloc_bitmap_set_range(allowed, 0, FAKE_ALLOWED_LAST);
    if (hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED) == 0 &&
        hwloc_topology_set_synthetic(t, FAKE_SYNTHETIC) == 0 && hwloc_topology_load(t) == 0 &&
        hwloc_topology_allow(t, allowed, NULL, HWLOC_ALLOW_FLAG_CUSTOM) == 0 &&
        hwloc_topology_export_xml(t, path, 0) == 0)
        rc = 0;
    hwloc_bitmap_free(allowed);
    hwloc_topology_destroy(t);
    return rc;
}

static void test_fake_machine_group_passes_in_a_child_process(void **state)
{
    (void)state;
    char path[] = "/tmp/rh_test_placement_XXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    if (write_fake_topology(path) != 0) {
        unlink(path);
        fail_msg("could not export the fake topology to %s", path);
    }

    /* The child's environment: ours plus HWLOC_XMLFILE. */
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    char xml_var[sizeof path + 16];
    snprintf(xml_var, sizeof xml_var, "HWLOC_XMLFILE=%s", path);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "HWLOC_", 6) != 0)
            envp[k++] = environ[i];
    envp[k++] = xml_var;
    envp[k] = NULL;

    char *argv[] = {"test_placement", "--fake-topology", NULL};
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp);
    free(envp);
    if (rc != 0) {
        unlink(path);
        fail_msg("posix_spawn of the fake-topology child failed: %s", strerror(rc));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    unlink(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the fake-machine tests failed in the child process (status 0x%x): "
                 "see its output above",
                 status);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--fake-topology") == 0)
        return run_fake_group();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core0_resolves_to_a_nonempty_set_inside_the_allowed_cpuset),
        cmocka_unit_test(test_pu0_resolves_to_exactly_one_cpu),
        cmocka_unit_test(test_numa0_resolves_to_its_cpus),
        cmocka_unit_test(test_list_of_two_cores_is_their_union),
        cmocka_unit_test(test_list_tolerates_whitespace_around_items),
        cmocka_unit_test(test_empty_spec_is_an_empty_set_meaning_not_pinned),
        cmocka_unit_test(test_core_out_of_range_is_refused_naming_the_cores_that_exist),
        cmocka_unit_test(test_pu_out_of_range_is_refused_naming_the_pus_that_exist),
        cmocka_unit_test(test_numa_out_of_range_is_refused_naming_the_nodes_that_exist),
        cmocka_unit_test(test_huge_index_is_no_such_core_not_a_wrapped_index),
        cmocka_unit_test(test_unknown_kind_is_refused_listing_the_known_forms),
        cmocka_unit_test(test_index_that_is_not_a_plain_decimal_number_is_refused),
        cmocka_unit_test(test_empty_item_in_a_list_is_refused),
        cmocka_unit_test(test_error_in_a_list_names_the_bad_item_and_the_list),
        cmocka_unit_test(test_thread_bound_to_each_allowed_pu_runs_on_it),
        cmocka_unit_test(test_binding_to_an_empty_set_leaves_the_thread_unpinned),
        cmocka_unit_test(test_binding_string_lists_cpus_and_says_none_when_unpinned),
        cmocka_unit_test(test_compact_policy_gives_allowed_cores_in_logical_order_then_wraps),
        cmocka_unit_test(test_scatter_policy_uses_every_allowed_core_once_before_repeating),
        cmocka_unit_test(test_none_policy_is_not_pinned),
        cmocka_unit_test(test_unknown_policy_is_einval_naming_the_known_ones),
        cmocka_unit_test(test_topo_print_lists_pus_and_the_allowed_cpus),
        cmocka_unit_test(test_fake_machine_group_passes_in_a_child_process),
    };
    return cmocka_run_group_tests_name("placement on this machine", tests, setup_topology, NULL);
}
