/*
 * test_abi_growth.c — "structs that grow" (ringhost/ringhost.h) against the
 * real libringhost.so: a program built against an older ringhost.h hands
 * the library structs of an older, smaller layout (support/old_abi.h), and
 * the library must neither read nor write one byte past them.  Each such
 * struct is placed at the very end of a page followed by a PROT_NONE page,
 * so a read or write past it faults (the test dies) instead of passing
 * unseen.  Also: the fields past a struct_size take their defaults even when
 * the bytes there say otherwise, struct_size 0 or below the first version is
 * refused, and a newer (larger) struct is filled only up to the library's
 * size.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "old_abi.h"
#include "ringhost/ringhost.h"

/* The old layouts are prefixes of today's: same offsets, fields appended
 * only (the header's rule), and no new field in an old tail padding. */
#define SAME_FIELD(OLD, NEW, F)                                                                    \
    _Static_assert(offsetof(OLD, F) == offsetof(NEW, F), #NEW "." #F " moved")
SAME_FIELD(old_launch_opts_v1, rh_launch_opts, struct_size);
SAME_FIELD(old_launch_opts_v1, rh_launch_opts, log);
_Static_assert(sizeof(old_launch_opts_v1) <= offsetof(rh_launch_opts, allow_plugins), "tail");
SAME_FIELD(old_queue_config_v1, rh_queue_config, shared);
_Static_assert(sizeof(old_queue_config_v1) <= offsetof(rh_queue_config, persist), "tail");
SAME_FIELD(old_queue_stats_v1, rh_queue_stats, capacity);
SAME_FIELD(old_kernel_info_v1, rh_kernel_info, busy);
SAME_FIELD(old_kernel_info_v1, rh_kernel_info, cpus);
_Static_assert(sizeof(old_kernel_info_v1) <= offsetof(rh_kernel_info, stalls), "tail");
_Static_assert(sizeof(old_launch_opts_v1) < sizeof(rh_launch_opts), "opts grew since v1");
_Static_assert(sizeof(old_kernel_info_v1) < sizeof(rh_kernel_info), "info grew since v1");

/* ------------------------------------------------------------ helpers -- */

static long page;

/* size bytes ending exactly where a PROT_NONE page begins. */
static void *at_page_end(size_t size)
{
    unsigned char *p = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + page, (size_t)page, PROT_NONE), 0);
    memset(p, 0, (size_t)page);
    return p + page - size;
}

static void page_free(void *at)
{
    unsigned char *base = (unsigned char *)((uintptr_t)at & ~(uintptr_t)(page - 1));
    munmap(base, 2 * (size_t)page);
}

static char manifest[256];
static char instance[64];

static FILE *quiet(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

static int setup(void **state)
{
    (void)state;
    page = sysconf(_SC_PAGESIZE);
    snprintf(instance, sizeof instance, "abi-%d", (int)getpid());
    snprintf(manifest, sizeof manifest, "/tmp/rh-test-abi-%d.json", (int)getpid());
    FILE *f = fopen(manifest, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"ringhost\": 1, \"name\": \"abi-manifest\", \"plugins\": [\"%s\"],"
            " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},"
            "              \"e.out\": {\"type\": \"echo.message\"}},"
            " \"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\","
            "   \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n",
            RH_TEST_PLUGIN_DIR);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(manifest);
    return 0;
}

/* A find_queue an old caller never set: called only if the library read
 * past struct_size into bytes that say it is there. */
static rh_queue *must_not_be_called(void *arg, const char *name)
{
    (void)arg;
    fail_msg("find_queue(\"%s\") called: the library read past struct_size", name);
    return NULL;
}

/* -------------------------------------------------------------- tests -- */

/* The functions under test come from libringhost.so, not a static copy. */
static void test_the_api_is_the_shared_library(void **state)
{
    (void)state;
    Dl_info info;
    assert_true(dladdr((void *)rh_runtime_launch, &info) != 0);
    assert_non_null(strstr(info.dli_fname, "libringhost.so"));
}

static rh_runtime *launch_old(void)
{
    old_launch_opts_v1 *o = at_page_end(sizeof *o);
    o->struct_size = sizeof *o;
    o->instance = instance;
    o->log = quiet();
    rh_runtime *rt = NULL;
    rh_error err = {0};
    int rc = rh_runtime_launch(manifest, (const rh_launch_opts *)o, &rt, &err);
    page_free(o);
    if (rc != 0)
        fail_msg("launch with v1 options: %s", err.msg);
    return rt;
}

static void test_old_launch_opts_are_read_no_further_than_their_size(void **state)
{
    (void)state;
    rh_runtime *rt = launch_old();
    /* what v1 said is used; what came after it has its default: find_queue
     * NULL, so this runtime created its queues itself */
    assert_string_equal(rh_runtime_instance(rt), instance);
    assert_non_null(rh_runtime_queue(rt, "e.in"));
    rh_runtime_destroy(rt);

    old_launch_opts_v1 *o = at_page_end(sizeof *o);
    o->struct_size = sizeof *o;
    o->log = quiet();
    rh_error err = {0};
    assert_int_equal(rh_runtime_validate(manifest, (const rh_launch_opts *)o, NULL, &err), 0);
    page_free(o);
}

/* Bytes past struct_size are never read, whatever they hold. */
static void test_fields_past_struct_size_take_their_defaults(void **state)
{
    (void)state;
    rh_launch_opts *o = calloc(1, sizeof *o);
    *o = (rh_launch_opts)RH_LAUNCH_OPTS_INIT(.instance = instance, .log = quiet(),
                                             .find_queue = must_not_be_called);
    o->struct_size = sizeof(old_launch_opts_v1);
    rh_runtime *rt = NULL;
    rh_error err = {0};
    assert_int_equal(rh_runtime_launch(manifest, o, &rt, &err), 0);
    assert_non_null(rh_runtime_queue(rt, "e.out"));
    rh_runtime_destroy(rt);
    free(o);

    /* persist without shared is refused, but persist is past a v1 size */
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 16, .persist = 1);
    cfg.struct_size = sizeof(old_queue_config_v1);
    rh_queue *q = NULL;
    const rh_type *t = NULL;
    rt = launch_old();
    t = rh_queue_type(rh_runtime_queue(rt, "e.in"));
    assert_int_equal(rh_queue_create(instance, "abi.private", t, &cfg, NULL, &q, &err), 0);
    assert_int_equal(rh_queue_config_of(q)->persist, 0);
    assert_int_equal(rh_queue_config_of(q)->struct_size, sizeof(rh_queue_config));
    rh_queue_close(q);
    cfg.struct_size = sizeof cfg; /* and read when it fits */
    assert_int_equal(rh_queue_create(instance, "abi.private", t, &cfg, NULL, &q, &err), RH_EINVAL);
    rh_runtime_destroy(rt);
}

static void test_old_queue_config_is_read_no_further_than_its_size(void **state)
{
    (void)state;
    rh_runtime *rt = launch_old();
    const rh_type *t = rh_queue_type(rh_runtime_queue(rt, "e.in"));
    old_queue_config_v1 *c = at_page_end(sizeof *c);
    c->struct_size = sizeof *c;
    c->capacity = 8;
    c->backpressure = RH_BP_REJECT;
    rh_queue *q = NULL;
    rh_error err = {0};
    assert_int_equal(rh_queue_create(instance, "abi.old", t, (const rh_queue_config *)c, NULL,
                                     &q, &err), 0);
    page_free(c);
    assert_int_equal(rh_queue_config_of(q)->capacity, 8);
    assert_int_equal(rh_queue_config_of(q)->backpressure, RH_BP_REJECT);
    assert_int_equal(rh_queue_config_of(q)->persist, 0);

    /* and its stats, into a v1 struct at the page end */
    void *msg = calloc(1, rh_queue_payload_size(q));
    assert_int_equal(rh_send(q, NULL, msg, rh_queue_payload_size(q), NULL), 0);
    free(msg);
    old_queue_stats_v1 *s = at_page_end(sizeof *s);
    s->struct_size = sizeof *s;
    assert_int_equal(rh_queue_stats_get(q, (rh_queue_stats *)s), 0);
    assert_int_equal(s->struct_size, sizeof *s);
    assert_int_equal(s->enqueued, 1);
    assert_int_equal(s->depth, 1);
    assert_int_equal(s->capacity, 8);
    page_free(s);
    rh_queue_close(q);
    rh_runtime_destroy(rt);
}

static void test_old_kernel_info_is_written_no_further_than_its_size(void **state)
{
    (void)state;
    rh_runtime *rt = launch_old();
    old_kernel_info_v1 *ki = at_page_end(sizeof *ki);
    ki->struct_size = sizeof *ki;
    assert_int_equal(rh_runtime_kernel_info(rt, 0, (rh_kernel_info *)ki), 0);
    assert_int_equal(ki->struct_size, sizeof *ki); /* what was filled: all of it */
    assert_string_equal(ki->name, "echo");
    assert_string_equal(ki->plugin, "echo");
    assert_int_equal(ki->state, RH_STATE_LAUNCHED);
    assert_true(ki->workers >= 1);
    assert_true(ki->threads[0] != 0);
    /* past the end: still only its size written */
    assert_int_equal(rh_runtime_kernel_info(rt, 1, (rh_kernel_info *)ki), RH_ENOENT);
    assert_int_equal(ki->struct_size, sizeof *ki);
    page_free(ki);
    rh_runtime_destroy(rt);
}

/* A caller newer than the library: only the library's size is written,
 * and struct_size says so. */
static void test_a_larger_struct_is_filled_up_to_the_librarys_size(void **state)
{
    (void)state;
    rh_runtime *rt = launch_old();
    size_t big = sizeof(rh_kernel_info) + 64;
    unsigned char *ki = at_page_end(big);
    memset(ki, 0xAB, big);
    uint32_t sz = (uint32_t)big;
    memcpy(ki, &sz, sizeof sz);
    assert_int_equal(rh_runtime_kernel_info(rt, 0, (rh_kernel_info *)ki), 0);
    assert_int_equal(((rh_kernel_info *)ki)->struct_size, sizeof(rh_kernel_info));
    assert_true(RH_HAS_FIELD(rh_kernel_info, (rh_kernel_info *)ki, swaps_refused));
    for (size_t i = sizeof(rh_kernel_info); i < big; i++)
        assert_int_equal(ki[i], 0xAB);
    page_free(ki);

    big = sizeof(rh_queue_stats) + 64;
    unsigned char *s = at_page_end(big);
    memset(s, 0xAB, big);
    sz = (uint32_t)big;
    memcpy(s, &sz, sizeof sz);
    assert_int_equal(rh_queue_stats_get(rh_runtime_queue(rt, "e.in"), (rh_queue_stats *)s), 0);
    assert_int_equal(((rh_queue_stats *)s)->struct_size, sizeof(rh_queue_stats));
    for (size_t i = sizeof(rh_queue_stats); i < big; i++)
        assert_int_equal(s[i], 0xAB);
    page_free(s);

    /* and larger options are read up to the library's size only */
    big = sizeof(rh_launch_opts) + 64;
    unsigned char *o = at_page_end(big);
    memset(o, 0xAB, big);
    rh_launch_opts now = RH_LAUNCH_OPTS_INIT(.log = quiet());
    memcpy(o, &now, sizeof now);
    sz = (uint32_t)big;
    memcpy(o, &sz, sizeof sz);
    rh_error err = {0};
    assert_int_equal(rh_runtime_validate(manifest, (rh_launch_opts *)o, NULL, &err), 0);
    page_free(o);
    rh_runtime_destroy(rt);
}

static void test_struct_size_zero_or_too_small_is_refused(void **state)
{
    (void)state;
    const uint32_t bad[] = {0, 8};
    for (unsigned b = 0; b < 2; b++) {
        rh_launch_opts o = RH_LAUNCH_OPTS_INIT(.log = quiet());
        o.struct_size = bad[b];
        rh_runtime *rt = (rh_runtime *)&o; /* set to NULL on refusal */
        rh_error err = {0};
        assert_int_equal(rh_runtime_launch(manifest, &o, &rt, &err), RH_EINVAL);
        assert_null(rt);
        assert_non_null(strstr(err.msg, "rh_launch_opts.struct_size is"));
        assert_non_null(strstr(err.msg, "RH_LAUNCH_OPTS_INIT"));
        memset(&err, 0, sizeof err);
        assert_int_equal(rh_runtime_validate(manifest, &o, NULL, &err), RH_EINVAL);
        assert_non_null(strstr(err.msg, "RH_LAUNCH_OPTS_INIT"));
    }

    rh_runtime *rt = launch_old();
    const rh_type *t = rh_queue_type(rh_runtime_queue(rt, "e.in"));
    rh_queue_config cfg = {.capacity = 16}; /* as a caller who forgot the macro writes it */
    rh_queue *q = NULL;
    rh_error err = {0};
    assert_int_equal(rh_queue_create(instance, "abi.zero", t, &cfg, NULL, &q, &err), RH_EINVAL);
    assert_null(q);
    assert_non_null(strstr(err.msg, "queue \"abi.zero\": rh_queue_config.struct_size is 0"));
    assert_non_null(strstr(err.msg, "RH_QUEUE_CONFIG_INIT"));

    rh_queue_stats s;
    memset(&s, 0x5A, sizeof s);
    s.struct_size = 0;
    assert_int_equal(rh_queue_stats_get(rh_runtime_queue(rt, "e.in"), &s), RH_EINVAL);
    assert_int_equal(s.struct_size, 0);
    assert_int_equal(s.capacity, 0x5A5A5A5A); /* nothing written */

    rh_kernel_info ki;
    memset(&ki, 0x5A, sizeof ki);
    ki.struct_size = 8;
    assert_int_equal(rh_runtime_kernel_info(rt, 0, &ki), RH_EINVAL);
    assert_int_equal(ki.struct_size, 8);
    assert_int_equal(ki.workers, 0x5A5A5A5A);
    rh_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_api_is_the_shared_library),
        cmocka_unit_test(test_old_launch_opts_are_read_no_further_than_their_size),
        cmocka_unit_test(test_fields_past_struct_size_take_their_defaults),
        cmocka_unit_test(test_old_queue_config_is_read_no_further_than_its_size),
        cmocka_unit_test(test_old_kernel_info_is_written_no_further_than_its_size),
        cmocka_unit_test(test_a_larger_struct_is_filled_up_to_the_librarys_size),
        cmocka_unit_test(test_struct_size_zero_or_too_small_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
